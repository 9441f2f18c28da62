//! Channels and select (Go's chan.go, select.go): argument checks; the work is in sync/.

use crate::sync::chan::{self, Chan};
use crate::sync::select::{self, Case};
use crate::time::Deadline;
use libc::{c_int, c_void};

/// An opaque channel (gmp_chan_new).
pub struct gmp_chan {
    _private: [u8; 0],
}

/// gmp_case.dir: a send case.
pub const GMP_SEND: c_int = 1;
/// gmp_case.dir: a receive case.
pub const GMP_RECV: c_int = 2;

/// One case of gmp_select.
#[repr(C)]
pub struct gmp_case {
    /// The channel; NULL: never ready (Go's nil channel).
    pub chan: *mut gmp_chan,
    /// GMP_SEND or GMP_RECV.
    pub dir: c_int,
    /// The value to send, or where to store the received value (NULL: discard it).
    pub elem: *mut c_void,
    /// Out, for the chosen receive: false if it saw a closed, drained channel.
    pub ok: bool,
}

const _: () = {
    assert!(core::mem::size_of::<gmp_case>() == core::mem::size_of::<Case>());
    assert!(core::mem::offset_of!(gmp_case, chan) == core::mem::offset_of!(Case, chan));
    assert!(core::mem::offset_of!(gmp_case, dir) == core::mem::offset_of!(Case, dir));
    assert!(core::mem::offset_of!(gmp_case, elem) == core::mem::offset_of!(Case, elem));
    assert!(core::mem::offset_of!(gmp_case, ok) == core::mem::offset_of!(Case, ok));
};

/// The largest element size (bytes).
pub const GMP_CHAN_MAX_ELEM: usize = chan::MAX_ELEM;

/// A channel of `elem_size`-byte elements (0 = signal-only, Go's `chan struct{}`; at most
/// GMP_CHAN_MAX_ELEM) with a buffer of `cap` elements (0 = unbuffered: a send completes only
/// when a receiver takes it). Any context. 0 and `*out` set; -EINVAL for NULL `out`,
/// `elem_size` > GMP_CHAN_MAX_ELEM or `elem_size` x `cap` overflowing; -ENOMEM when the buffer
/// cannot be allocated. Release it with gmp_chan_free.
#[no_mangle]
pub unsafe extern "C" fn gmp_chan_new(elem_size: usize, cap: usize, out: *mut *mut gmp_chan) -> c_int {
    if out.is_null() {
        return -libc::EINVAL;
    }
    match Chan::new(elem_size, cap) {
        Ok(c) => {
            // SAFETY: out is non-null; the caller promises it is writable.
            unsafe { *out = c as *mut gmp_chan };
            0
        }
        Err(e) => -e,
    }
}

/// Send: copy `elem_size` bytes from `elem` into the channel, blocking while no receiver is
/// there (unbuffered) or the buffer is full: a goroutine parks, a thread sleeps. 0; -EPIPE if
/// the channel is closed, or gets closed while the sender waits (Go panics); -EINVAL for NULL
/// `c`, or NULL `elem` with `elem_size` > 0. Any context.
#[no_mangle]
pub unsafe extern "C" fn gmp_chan_send(c: *mut gmp_chan, elem: *const c_void) -> c_int {
    let Some(c) = chan_ref(c) else {
        return -libc::EINVAL;
    };
    if elem.is_null() && c.elem_size() > 0 {
        return -libc::EINVAL;
    }
    super::neg(c.send(elem as *const u8))
}

/// Receive (`v, ok := <-c`): 1 with a value copied to `elem`; 0 once the channel is closed
/// and drained (`elem` zero-filled). `elem` may be NULL (the value is dropped). Blocks while
/// the channel is empty and open. -EINVAL for NULL `c`. Any context.
#[no_mangle]
pub unsafe extern "C" fn gmp_chan_recv(c: *mut gmp_chan, elem: *mut c_void) -> c_int {
    let Some(c) = chan_ref(c) else {
        return -libc::EINVAL;
    };
    match c.recv(elem as *mut u8) {
        Ok(true) => 1,
        Ok(false) => 0,
        Err(e) => -e,
    }
}

/// Close: receivers drain what is buffered, then get 0; blocked senders get -EPIPE, as do
/// later sends. 0; -EPIPE if already closed; -EINVAL for NULL.
#[no_mangle]
pub unsafe extern "C" fn gmp_chan_close(c: *mut gmp_chan) -> c_int {
    let Some(c) = chan_ref(c) else {
        return -libc::EINVAL;
    };
    super::neg(c.close())
}

/// Release the channel (and its buffered values). 0; -EBUSY while anyone is blocked on it
/// (in a send, a receive or a select); -EINVAL for NULL.
#[no_mangle]
pub unsafe extern "C" fn gmp_chan_free(c: *mut gmp_chan) -> c_int {
    if c.is_null() {
        return -libc::EINVAL;
    }
    // SAFETY: a channel made by gmp_chan_new and not yet freed (the caller's promise).
    super::neg(unsafe { Chan::free(c as *mut Chan) })
}

/// Elements buffered now; -EINVAL for NULL.
#[no_mangle]
pub unsafe extern "C" fn gmp_chan_len(c: *const gmp_chan) -> i64 {
    match chan_ref(c as *mut gmp_chan) {
        Some(c) => c.len() as i64,
        None => -libc::EINVAL as i64,
    }
}

/// The buffer's capacity (0 for an unbuffered channel); -EINVAL for NULL.
#[no_mangle]
pub unsafe extern "C" fn gmp_chan_cap(c: *const gmp_chan) -> i64 {
    match chan_ref(c as *mut gmp_chan) {
        Some(c) => c.cap() as i64,
        None => -libc::EINVAL as i64,
    }
}

/// Go's select: wait until one of the `n` cases can proceed, do it, return its index. Among
/// several ready cases one is chosen uniformly at random. `timeout_ns` < 0: no timeout; 0: Go's
/// `default` (-EAGAIN if none is ready now); > 0: -ETIMEDOUT after that long. A receive case on
/// a closed, drained channel is ready: it zero-fills `elem` and sets `ok = false` (`ok` is set
/// for the chosen receive case only). A case with a NULL channel is never ready; the same
/// channel may appear in several cases. -EPIPE if the chosen case is a send on a closed channel
/// (including one closed while the select waited). -EINVAL for NULL `cases` with `n` > 0, a
/// `dir` other than GMP_SEND/GMP_RECV (even on a NULL channel), NULL `elem` in a send case whose
/// channel has elements, `n` > 65536, or `n` == 0 with `timeout_ns` < 0 (`n` == 0 with a timeout
/// >= 0 waits that long as if no case is ever ready). Any context.
#[no_mangle]
pub unsafe extern "C" fn gmp_select(cases: *mut gmp_case, n: usize, timeout_ns: i64) -> c_int {
    if (cases.is_null() && n > 0) || n > select::MAX_CASES || (n == 0 && timeout_ns < 0) {
        return -libc::EINVAL;
    }
    let cs: &mut [Case] = if n == 0 {
        &mut []
    } else {
        // SAFETY: n > 0 cases at `cases` (the caller's promise); Case has gmp_case's layout.
        unsafe { core::slice::from_raw_parts_mut(cases as *mut Case, n) }
    };
    for c in cs.iter() {
        if c.dir != GMP_SEND && c.dir != GMP_RECV {
            return -libc::EINVAL;
        }
        // SAFETY: a non-null channel is one of gmp_chan_new's (the caller's promise).
        if c.dir == GMP_SEND && c.elem.is_null() && !c.chan.is_null() && unsafe { (*c.chan).elem_size() } > 0 {
            return -libc::EINVAL;
        }
    }
    let d = if timeout_ns == 0 { None } else { Some(Deadline::after(timeout_ns)) };
    match select::select(cs, d) {
        Ok(i) => i as c_int,
        Err(e) => -e,
    }
}

fn chan_ref<'a>(c: *mut gmp_chan) -> Option<&'a Chan> {
    // SAFETY: a non-null channel is one of gmp_chan_new's, not yet freed (the caller's
    // promise; Chan's methods take &self and synchronise internally).
    (!c.is_null()).then(|| unsafe { &*(c as *const Chan) })
}
