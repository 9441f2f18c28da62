//! select (Go's selectgo, select.go), for goroutines and threads alike.
//!
//! 1. A random poll order over the cases (so among ready cases each is chosen uniformly) and
//!    a lock order: the cases sorted by channel address; every distinct channel is locked
//!    once, in that order (so two selects can never deadlock on each other's locks).
//! 2. Pass 1, in poll order: the first case that can proceed now does, under the locks.
//!    Nothing ready and a zero timeout: -EAGAIN (Go's default).
//! 3. Pass 2: one sudog per case, enqueued on its channel in lock order, all with the same
//!    waiter; park with the unlocks in the park callback (chan.rs `park_commit`), or, for a
//!    thread, unlock and sleep. Wakers claim the waiter (waiter.rs: a CAS on the goroutine's
//!    token, or on the thread's word — Go's selectDone), so exactly one case wins, or the
//!    deadline does; the winner records its sudog in the waiter's `param`.
//! 4. Pass 3: lock all again, unlink the losing sudogs (a waker that lost the claim may have
//!    unlinked some already), unlock. The winning case is the one `param` names.

use crate::debug::waitreason::WaitReason;
use super::chan::{park_commit, Chan, Done, ParkArg};
use super::waiter::{Claimed, Sudog, Waiter, TIMED_OUT};
use crate::sched::m::Ctx;
use crate::sched::proc;
use crate::sched::syscall::{enter, leave};
use crate::time::Deadline;
use core::ffi::c_void;
use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicU64, Ordering::*};

pub(crate) const MAX_CASES: usize = 65536;

/// gmp_case's twin (ffi/chan.rs checks the layout).
#[repr(C)]
pub(crate) struct Case {
    pub chan: *mut Chan,
    pub dir: i32,
    pub elem: *mut u8,
    pub ok: bool,
}

const SEND: i32 = 1;

/// Up to this many cases, select's bookkeeping lives on the stack.
const INLINE: usize = 8;

/// n values of T: inline for small n, else malloc'd.
struct Scratch<T> {
    inline: [MaybeUninit<T>; INLINE],
    heap: *mut T,
}

impl<T> Scratch<T> {
    fn new(n: usize) -> Result<Self, i32> {
        let mut s = Scratch {
            inline: [const { MaybeUninit::uninit() }; INLINE],
            heap: core::ptr::null_mut(),
        };
        if n > INLINE {
            // SAFETY: malloc has no preconditions; null is handled. n <= MAX_CASES: no overflow.
            s.heap = unsafe { libc::malloc(n * core::mem::size_of::<T>()) } as *mut T;
            if s.heap.is_null() {
                return Err(libc::ENOMEM);
            }
        }
        Ok(s)
    }
    fn ptr(&mut self) -> *mut T {
        if self.heap.is_null() {
            self.inline.as_mut_ptr() as *mut T
        } else {
            self.heap
        }
    }
}

impl<T> Drop for Scratch<T> {
    fn drop(&mut self) {
        if !self.heap.is_null() {
            // SAFETY: our own block (T needs no drop here: u32, pointers, Sudog).
            unsafe { libc::free(self.heap as *mut c_void) };
        }
    }
}

/// A random number below n (n > 0): the M's generator for a goroutine, else a shared one.
fn randn(c: Ctx, n: u32) -> u32 {
    let r = match c {
        // SAFETY: our own M (inside `enter`: we keep it).
        Ctx::G(mp, _) | Ctx::G0(mp) => unsafe { (*mp).fastrand() },
        Ctx::Thread => {
            static STATE: AtomicU64 = AtomicU64::new(0x853c_49e6_748f_ea9b);
            // Relaxed: only randomness is wanted (wyrand step).
            let s = STATE.fetch_add(0xa076_1d64_78bd_642f, Relaxed);
            let m = (s as u128).wrapping_mul((s ^ 0xe703_7ed1_a0b4_28db) as u128);
            ((m >> 64) ^ m) as u32
        }
    };
    ((r as u64 * n as u64) >> 32) as u32
}

/// `deadline`: None is Go's default (do not block), Some(NEVER) blocks for good.
pub(crate) fn select(cases: &mut [Case], deadline: Option<Deadline>) -> Result<usize, i32> {
    let n = cases.len();
    let mut poll = Scratch::<u32>::new(n)?;
    let mut order = Scratch::<u32>::new(n)?;
    let mut locks = Scratch::<*const Chan>::new(n)?;
    let mut sgs = Scratch::<Sudog>::new(n)?;
    let c = enter();
    if matches!(c, Ctx::Thread) {
        crate::sched::sched::SCHED.note_thread();
    }
    // SAFETY: each Scratch holds n slots; we write before reading.
    let (poll, order, locks) = unsafe {
        let poll = core::slice::from_raw_parts_mut(poll.ptr(), n);
        let order = core::slice::from_raw_parts_mut(order.ptr(), n);
        // Poll order (Go's: a random permutation of the cases with a channel).
        // (Slot np is written before it is read: j == np puts i there directly.)
        let mut np = 0;
        for (i, cs) in cases.iter().enumerate() {
            if cs.chan.is_null() {
                continue;
            }
            let j = randn(c, np as u32 + 1) as usize;
            poll[np] = if j == np { i as u32 } else { poll[j] };
            poll[j] = i as u32;
            np += 1;
        }
        // Lock order: by channel address (a channel's cases end up adjacent).
        let mut no = 0;
        for (i, cs) in cases.iter().enumerate() {
            if !cs.chan.is_null() {
                order[no] = i as u32;
                no += 1;
            }
        }
        order[..no].sort_unstable_by_key(|&i| cases[i as usize].chan as usize);
        let lp = locks.ptr();
        let mut nl = 0;
        for &i in &order[..no] {
            let ch = cases[i as usize].chan as *const Chan;
            if nl == 0 || *lp.add(nl - 1) != ch {
                *lp.add(nl) = ch;
                nl += 1;
            }
        }
        (
            &poll[..np],
            &order[..no],
            core::slice::from_raw_parts(lp as *const *const Chan, nl),
        )
    };
    let lock_all = |mp| {
        for &ch in locks {
            // SAFETY: the user's live channels.
            unsafe { (*ch).lock.lock_on(mp) };
        }
    };
    let unlock_all = |mp| {
        for &ch in locks {
            // SAFETY: as above; we hold them.
            unsafe { (*ch).lock.unlock_on(mp) };
        }
    };

    // Pass 1.
    let mp = c.m();
    lock_all(mp);
    let mut wake = Claimed::new();
    for &i in poll {
        let cs = &mut cases[i as usize];
        // SAFETY: the user's live channel; we hold its lock (try_* need it).
        let ch = unsafe { &*cs.chan };
        // SAFETY: as above.
        let r = unsafe {
            if cs.dir == SEND {
                ch.try_send(cs.elem, &mut wake)
            } else {
                ch.try_recv(cs.elem, &mut wake)
            }
        };
        match r {
            Done::Blocked => continue,
            Done::Closed => {
                unlock_all(mp);
                leave(c);
                return Err(libc::EPIPE);
            }
            Done::Ok(ok) => {
                unlock_all(mp);
                wake.wake_all(c);
                leave(c);
                if cs.dir != SEND {
                    cs.ok = ok;
                }
                return Ok(i as usize);
            }
        }
    }
    let Some(deadline) = deadline else {
        unlock_all(mp);
        leave(c);
        return Err(libc::EAGAIN);
    };

    // Pass 2.
    let mut w = Waiter::new(c, deadline);
    w.set_contested();
    let sgp = sgs.ptr();
    for (k, &i) in order.iter().enumerate() {
        let cs = &cases[i as usize];
        // SAFETY: slot k of n; the sudogs outlive their time in the queues (pass 3 unlinks
        // what the wakers did not); we hold the channel's lock.
        unsafe {
            let s = sgp.add(k);
            s.write(Sudog::new(&w, 0, cs.elem, i));
            let ch = &*cs.chan;
            let st = ch.st();
            if cs.dir == SEND {
                st.sendq.push_back(s);
            } else {
                st.recvq.push_back(s);
            }
            ch.enqueued();
        }
    }
    if w.is_goroutine() {
        let arg = ParkArg { w: &w, locks };
        // SAFETY: a goroutine waiter from `c`, holding locks.len() RawLocks that park_commit
        // releases.
        unsafe {
            proc::gopark_holding(
                w.mp,
                park_commit,
                &arg as *const ParkArg as *mut c_void,
                locks.len() as u32,
                WaitReason::Select,
            )
        };
        w.finish();
    } else {
        unlock_all(mp);
        leave(c);
        w.sleep_thread();
    }

    // Pass 3 (a goroutine may be on another M now: look it up again).
    let winner = w.param.get() as *mut Sudog;
    let c = enter();
    let mp = c.m();
    lock_all(mp);
    for (k, &i) in order.iter().enumerate() {
        // SAFETY: the sudogs of pass 2; we hold every lock.
        unsafe {
            let s = sgp.add(k);
            let ch = &*cases[i as usize].chan;
            if (*s).linked.get() {
                let st = ch.st();
                if cases[i as usize].dir == SEND {
                    st.sendq.remove(s);
                } else {
                    st.recvq.remove(s);
                }
            }
            ch.released();
        }
    }
    unlock_all(mp);
    leave(c);
    if winner as usize == TIMED_OUT {
        return Err(libc::ETIMEDOUT);
    }
    // SAFETY: the winner is one of our sudogs.
    let (i, ok) = unsafe { ((*winner).case as usize, (*winner).success.get()) };
    let cs = &mut cases[i];
    if cs.dir == SEND {
        if !ok {
            return Err(libc::EPIPE);
        }
    } else {
        cs.ok = ok;
    }
    Ok(i)
}
