//! Channels (Go's chan.go), for goroutines and threads alike.
//!
//! One lock per channel guards everything but `qcount`'s racy readers. A sender that finds a
//! waiting receiver copies its value straight into the receiver's memory and then wakes it
//! (the wake carries the value: no "wake, then retry", which a competing select could
//! overtake); a receiver that finds a waiting sender takes its value (unbuffered) or the
//! buffer's head, refilling the buffer from the sender (full buffer: FIFO is kept). Waiters
//! queue in `recvq`/`sendq` as sudogs (waiter.rs) and are claimed before anything is copied,
//! so a select's other cases and its deadline lose cleanly. `close` claims every waiter
//! under the lock and wakes them after dropping it: receivers get a zeroed value and
//! `success = false`, senders -EPIPE; receivers drain the buffer first.
//!
//! Lifetime: the channel is one calloc'd block (header, then the buffer). `free` refuses
//! while anyone is blocked on it: while a queue holds a sudog, or `refs`, the selects blocked
//! on it, is non-zero — a select woken by another channel comes back to this one in its pass 3
//! even if a waker that lost its claim already unlinked its sudog here. A single send or
//! receive never touches the channel again once its waker unlinked it.

use crate::debug::waitreason::WaitReason;
use super::waiter::{Claimed, Sudog, WaitQ, Waiter};
use crate::lock::{Rank, RawLock};
use crate::sched::g::G;
use crate::sched::proc;
use crate::sched::sched::SCHED;
use crate::sched::syscall::{enter, leave};
use crate::time::Deadline;
use core::cell::UnsafeCell;
use core::ffi::c_void;
use core::ptr::{copy_nonoverlapping, write_bytes};
use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering::*};

pub(crate) const MAX_ELEM: usize = 65536;

pub(crate) struct Chan {
    pub(crate) lock: RawLock,
    elem_size: usize,
    cap: usize,
    /// Elements buffered. Written under the lock; Relaxed reads without it (gmp_chan_len).
    qcount: AtomicUsize,
    /// Selects blocked on it (see the module note). Raised under the lock; dropped by the
    /// select when it no longer touches the channel (Release, pairs with free's Acquire).
    refs: AtomicU32,
    /// Under `lock`.
    st: UnsafeCell<State>,
}

pub(crate) struct State {
    sendx: usize,
    recvx: usize,
    pub(crate) closed: bool,
    pub(crate) recvq: WaitQ,
    pub(crate) sendq: WaitQ,
}

// SAFETY: `st` is only reached under `lock`; the rest is atomic or immutable.
unsafe impl Sync for Chan {}

/// What an attempt under the lock did.
pub(crate) enum Done {
    /// Sent, or received (with `ok`: false for a closed, drained channel).
    Ok(bool),
    /// A send on a closed channel.
    Closed,
    /// Would block.
    Blocked,
}

impl Chan {
    pub(crate) fn new(elem_size: usize, cap: usize) -> Result<*mut Chan, i32> {
        if elem_size > MAX_ELEM {
            return Err(libc::EINVAL);
        }
        let bytes = elem_size
            .checked_mul(cap)
            .and_then(|b| b.checked_add(core::mem::size_of::<Chan>()))
            .filter(|&b| b <= isize::MAX as usize)
            .ok_or(libc::EINVAL)?;
        // SAFETY: calloc has no preconditions; a null result is handled.
        let p = unsafe { libc::calloc(1, bytes) } as *mut Chan;
        if p.is_null() {
            return Err(libc::ENOMEM);
        }
        // SAFETY: p is a fresh block of at least size_of::<Chan>() bytes, aligned by malloc.
        unsafe {
            p.write(Chan {
                lock: RawLock::new(Rank::Chan),
                elem_size,
                cap,
                qcount: AtomicUsize::new(0),
                refs: AtomicU32::new(0),
                st: UnsafeCell::new(State {
                    sendx: 0,
                    recvx: 0,
                    closed: false,
                    recvq: WaitQ::new(),
                    sendq: WaitQ::new(),
                }),
            })
        };
        Ok(p)
    }

    /// # Safety
    /// c is a live channel of `new`; nobody uses it after a successful free.
    pub(crate) unsafe fn free(c: *mut Chan) -> Result<(), i32> {
        // SAFETY: per the contract.
        unsafe {
            (*c).lock.lock();
            // Acquire: pairs with the Release decrement of the last blocked select.
            let st = (*c).st();
            let busy =
                (*c).refs.load(Acquire) != 0 || !st.recvq.head.is_null() || !st.sendq.head.is_null();
            (*c).lock.unlock();
            if busy {
                return Err(libc::EBUSY);
            }
            libc::free(c as *mut c_void);
        }
        Ok(())
    }

    pub(crate) fn elem_size(&self) -> usize {
        self.elem_size
    }
    pub(crate) fn len(&self) -> usize {
        self.qcount.load(Relaxed)
    }
    pub(crate) fn cap(&self) -> usize {
        self.cap
    }

    /// The state; the caller holds the lock.
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn st(&self) -> &mut State {
        // SAFETY: per the contract.
        unsafe { &mut *self.st.get() }
    }

    fn slot(&self, i: usize) -> *mut u8 {
        // SAFETY: the buffer follows the header in the same block; i < cap.
        unsafe { (self as *const Chan as *mut u8).add(core::mem::size_of::<Chan>() + i * self.elem_size) }
    }

    #[inline]
    fn copy(&self, from: *const u8, to: *mut u8) {
        if to.is_null() {
            return;
        }
        // SAFETY: both are elem_size-byte values (the user's memory, a waiter's, or a buffer
        // slot), distinct, with no alignment promised. Word-sized elements (the common case)
        // are copied inline rather than through a memmove call.
        unsafe {
            match self.elem_size {
                0 => {}
                8 => to.cast::<u64>().write_unaligned(from.cast::<u64>().read_unaligned()),
                4 => to.cast::<u32>().write_unaligned(from.cast::<u32>().read_unaligned()),
                n => copy_nonoverlapping(from, to, n),
            }
        }
    }

    fn zero(&self, to: *mut u8) {
        if self.elem_size > 0 && !to.is_null() {
            // SAFETY: as copy.
            unsafe { write_bytes(to, 0, self.elem_size) };
        }
    }

    /// Try a send under the lock (Go's chansend up to the block). A receiver found is
    /// claimed, given the value and pushed onto `wake`.
    /// # Safety
    /// The caller holds the lock.
    pub(crate) unsafe fn try_send(&self, elem: *const u8, wake: &mut Claimed) -> Done {
        // SAFETY: per the contract.
        let st = unsafe { self.st() };
        if st.closed {
            return Done::Closed;
        }
        // SAFETY: under the lock; a claimed sudog is ours until its wake.
        unsafe {
            let sg = st.recvq.dequeue();
            if !sg.is_null() {
                self.copy(elem, (*sg).elem);
                (*sg).success.set(true);
                wake.push(sg);
                return Done::Ok(true);
            }
        }
        let q = self.qcount.load(Relaxed);
        if q < self.cap {
            self.copy(elem, self.slot(st.sendx));
            st.sendx = if st.sendx + 1 == self.cap { 0 } else { st.sendx + 1 };
            self.qcount.store(q + 1, Relaxed);
            return Done::Ok(true);
        }
        Done::Blocked
    }

    /// Try a receive under the lock (Go's chanrecv up to the block).
    /// # Safety
    /// The caller holds the lock.
    pub(crate) unsafe fn try_recv(&self, elem: *mut u8, wake: &mut Claimed) -> Done {
        // SAFETY: per the contract.
        let st = unsafe { self.st() };
        let q = self.qcount.load(Relaxed);
        if st.closed && q == 0 {
            self.zero(elem);
            return Done::Ok(false);
        }
        // SAFETY: under the lock; a claimed sudog is ours until its wake.
        unsafe {
            let sg = st.sendq.dequeue();
            if !sg.is_null() {
                if self.cap == 0 {
                    self.copy((*sg).elem, elem);
                } else {
                    // Full buffer: take its head, put the sender's value at its tail (the
                    // same slot, as the ring is full).
                    let slot = self.slot(st.recvx);
                    self.copy(slot, elem);
                    self.copy((*sg).elem, slot);
                    st.recvx = if st.recvx + 1 == self.cap { 0 } else { st.recvx + 1 };
                    st.sendx = st.recvx;
                }
                (*sg).success.set(true);
                wake.push(sg);
                return Done::Ok(true);
            }
        }
        if q > 0 {
            let slot = self.slot(st.recvx);
            self.copy(slot, elem);
            st.recvx = if st.recvx + 1 == self.cap { 0 } else { st.recvx + 1 };
            self.qcount.store(q - 1, Relaxed);
            return Done::Ok(true);
        }
        Done::Blocked
    }

    /// A select enqueued on it (under the lock).
    pub(crate) fn enqueued(&self) {
        self.refs.fetch_add(1, Relaxed);
    }

    /// A select no longer touches the channel.
    pub(crate) fn released(&self) {
        // Release: pairs with free's Acquire (our last accesses happen before the free).
        self.refs.fetch_sub(1, Release);
    }

    pub(crate) fn send(&self, elem: *const u8) -> Result<(), i32> {
        match self.op(true, elem as *mut u8) {
            Done::Ok(_) => Ok(()),
            _ => Err(libc::EPIPE),
        }
    }

    pub(crate) fn recv(&self, elem: *mut u8) -> Result<bool, i32> {
        match self.op(false, elem) {
            Done::Ok(ok) => Ok(ok),
            _ => Err(libc::EPIPE), // unreachable: a receive never sees Closed
        }
    }

    /// Enter the runtime (one context lookup for the whole operation: see lock_on) and take
    /// the lock; a plain thread is noted for deadlock detection. Returns the entry and the M.
    fn enter_locked(&self) -> (crate::sched::m::Ctx, *mut crate::sched::m::M) {
        let c = enter();
        let mp = c.m();
        if mp.is_null() {
            SCHED.note_thread();
        }
        self.lock.lock_on(mp);
        (c, mp)
    }

    /// A blocking send or receive.
    fn op(&self, send: bool, elem: *mut u8) -> Done {
        let (c, mp) = self.enter_locked();
        let mut wake = Claimed::new();
        // SAFETY: we hold the lock.
        let r = unsafe {
            if send {
                self.try_send(elem, &mut wake)
            } else {
                self.try_recv(elem, &mut wake)
            }
        };
        if !matches!(r, Done::Blocked) {
            self.lock.unlock_on(mp);
            wake.wake_all(c);
            leave(c);
            return r;
        }
        let w = Waiter::new(c, Deadline::NEVER);
        let mut sg = Sudog::new(&w, 0, elem, 0);
        // SAFETY: we hold the lock; sg lives on this frame until a waker unlinks it (a
        // waiter without a deadline is only woken by a waker, which unlinks first).
        unsafe {
            let st = self.st();
            if send {
                st.sendq.push_back(&mut sg);
            } else {
                st.recvq.push_back(&mut sg);
            }
        }
        if w.is_goroutine() {
            let locks = [self as *const Chan];
            let arg = ParkArg { w: &w, locks: &locks };
            // SAFETY: a goroutine waiter from `c`; one RawLock held, released by the callback.
            let reason = if send { WaitReason::ChanSend } else { WaitReason::ChanReceive };
            unsafe { proc::gopark_holding(w.mp, park_commit, &arg as *const ParkArg as *mut c_void, 1, reason) };
            w.finish();
        } else {
            self.lock.unlock_on(mp);
            leave(c);
            w.sleep_thread();
        }
        let ok = sg.success.get();
        if send {
            if ok {
                Done::Ok(true)
            } else {
                Done::Closed
            }
        } else {
            // A closed channel's closer zeroed our value.
            Done::Ok(ok)
        }
    }

    pub(crate) fn close(&self) -> Result<(), i32> {
        let (c, mp) = self.enter_locked();
        let mut wake = Claimed::new();
        // SAFETY: we hold the lock; claimed sudogs are ours until their wake.
        unsafe {
            let st = self.st();
            if st.closed {
                self.lock.unlock_on(mp);
                leave(c);
                return Err(libc::EPIPE);
            }
            st.closed = true;
            // Receivers get a zeroed value (a sender's elem is its own: left alone).
            for (q, zero) in [(&mut st.recvq, true), (&mut st.sendq, false)] {
                loop {
                    let sg = q.dequeue();
                    if sg.is_null() {
                        break;
                    }
                    if zero {
                        self.zero((*sg).elem);
                    }
                    (*sg).success.set(false);
                    wake.push(sg);
                }
            }
        }
        self.lock.unlock_on(mp);
        wake.wake_all(c);
        leave(c);
        Ok(())
    }
}

/// What a channel park callback needs: the waiter (to arm its deadline) and the distinct
/// channels whose locks it holds, in lock order. Both on the parked goroutine's stack.
pub(crate) struct ParkArg<'a> {
    pub(crate) w: &'a Waiter,
    pub(crate) locks: &'a [*const Chan],
}

/// The park callback of a channel operation or a select: arm the deadline, then release the
/// locks in lock order. A waker may wake the goroutine as soon as the first is released, and
/// the deadline timer as soon as it is armed, but the goroutine cannot get past the next lock
/// we hold (pass 3 of select takes them all in the same order), so the lock list (on its
/// stack, in a scope it leaves when woken) is read before arming and each entry before its
/// predecessor's unlock (waiter.rs, "When a goroutine may be woken").
pub(crate) unsafe extern "C" fn park_commit(_gp: *mut G, arg: *mut c_void) -> bool {
    // SAFETY: arg is a ParkArg on the parked goroutine's stack, alive until our last unlock
    // (see above).
    unsafe {
        let a = &*(arg as *const ParkArg);
        // Read the lock list before arming: the armed timer may fire at once on another M
        // (run_other_timers) and ready the goroutine, which leaves `arg`'s scope before it
        // blocks on the first lock we still hold (loom: park_commit_arg).
        let mp = crate::arch::getm();
        let locks = a.locks.as_ptr();
        let n = a.locks.len();
        a.w.arm();
        for i in 0..n {
            let c = *locks.add(i);
            (*c).lock.unlock_on(mp);
        }
    }
    true
}
