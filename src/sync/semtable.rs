//! The semtable (Go's sema.go): wait queues for objects that hold no pointers, found by the
//! object's address. A fixed table of buckets, each a lock, a FIFO of the sudogs of every
//! address that hashes there, and `nwait`, how many are linked — so a release or wake that
//! finds it zero skips the lock (the Dekker pair below). Go keeps a treap of addresses per
//! bucket; with 1024 buckets a scan of the bucket's queue is as fast for the numbers of
//! distinct addresses waited on at once that programs have (a collision costs a scan step).
//!
//! Ordering: a waiter raises `nwait` and then checks the object's state (SeqCst both, or a
//! SeqCst fence); a waker changes the state and then reads `nwait` (after a SeqCst fence). One
//! of them sees the other: no waiter is left behind by a waker that saw nobody.

use crate::debug::waitreason::WaitReason;
use super::mutex::Mutex;
use super::waiter::{Claimed, Sudog, WaitQ, Waiter};
use crate::lock::{Rank, RawLock};
use crate::sched::m::{Ctx, M};
use crate::sched::proc;
use crate::sched::syscall::{enter, leave};
use core::cell::UnsafeCell;
use core::ffi::c_void;
use core::sync::atomic::{AtomicU32, Ordering::*};

const BUCKETS: usize = 1024;

#[repr(align(64))]
pub(crate) struct Bucket {
    lock: RawLock,
    /// Sudogs linked in `q`. Changed under the lock; read without it by wakers (see the
    /// module note).
    pub(crate) nwait: AtomicU32,
    /// Under `lock`.
    q: UnsafeCell<WaitQ>,
}

// SAFETY: q is only reached under lock.
unsafe impl Sync for Bucket {}

static TABLE: [Bucket; BUCKETS] = [const {
    Bucket {
        lock: RawLock::new(Rank::Sema),
        nwait: AtomicU32::new(0),
        q: UnsafeCell::new(WaitQ::new()),
    }
}; BUCKETS];

/// The bucket of `addr`.
pub(crate) fn bucket(addr: usize) -> &'static Bucket {
    // Go's semroot: (addr >> 3) % size; a multiplicative mix spreads neighbouring fields.
    let h = (addr >> 2).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 54;
    &TABLE[h % BUCKETS]
}

/// The bucket, locked (see `Bucket::lock`) by the M `mp` (null: a plain thread).
pub(crate) struct Locked {
    b: &'static Bucket,
    mp: *mut M,
}

impl Bucket {
    /// Lock it, for a caller in runtime entry `c`.
    pub(crate) fn lock(&'static self, c: Ctx) -> Locked {
        let mp = c.m();
        self.lock.lock_on(mp);
        Locked { b: self, mp }
    }
}

impl Locked {
    fn q(&mut self) -> &mut WaitQ {
        // SAFETY: we hold the lock.
        unsafe { &mut *self.b.q.get() }
    }

    /// Link `s` (at the back, or the front for `lifo`).
    /// # Safety
    /// s is unlinked and lives until it is unlinked again (under this lock).
    pub(crate) unsafe fn enqueue(&mut self, s: *mut Sudog, lifo: bool) {
        // SAFETY: per the contract.
        unsafe {
            if lifo {
                self.q().push_front(s)
            } else {
                self.q().push_back(s)
            }
        };
        // SeqCst: the waiter's half of the Dekker pair (module note); callers that check the
        // object's state after this read it SeqCst or after a SeqCst fence.
        self.b.nwait.fetch_add(1, SeqCst);
    }

    /// Unlink `s` if it still is (a waiter giving up: timeout).
    /// # Safety
    /// s was enqueued in this bucket.
    pub(crate) unsafe fn unlink(&mut self, s: *mut Sudog) {
        // SAFETY: per the contract; linked says whether it is still in our queue.
        unsafe {
            if (*s).linked.get() {
                self.q().remove(s);
                self.b.nwait.fetch_sub(1, Relaxed);
            }
        }
    }

    /// Unlink the first waiters of `key` (FIFO), up to `n`, that this caller claims; a
    /// waiter whose claim fails (its deadline won) is unlinked and skipped. The claimed ones
    /// are pushed onto `out` through their `next` field (wake them after `unlock`).
    pub(crate) fn dequeue(&mut self, key: usize, n: u32, out: &mut Claimed) -> u32 {
        let mut got = 0;
        // SAFETY: linked sudogs and their waiters are alive while we hold the lock.
        unsafe {
            let mut s = self.q().head;
            while !s.is_null() && got < n {
                let next = (*s).next;
                if (*s).key == key {
                    self.q().remove(s);
                    self.b.nwait.fetch_sub(1, Relaxed);
                    if (*(*s).waiter).claim() {
                        out.push(s);
                        got += 1;
                    }
                }
                s = next;
            }
        }
        got
    }

    pub(crate) fn unlock(self) {
        let (b, mp) = (self.b, self.mp);
        core::mem::forget(self);
        b.lock.unlock_on(mp);
    }

    /// Park the calling goroutine (waiter `w`, whose sudog is enqueued) and release the lock
    /// in the park callback, after arming its deadline. Returns when woken or timed out.
    /// # Safety
    /// `w` is a goroutine waiter in `c`'s context (from `enter`); its sudog is linked here.
    pub(crate) unsafe fn park(self, w: &Waiter, release: *const Mutex, reason: WaitReason) {
        let b = self.b;
        core::mem::forget(self);
        let arg = ParkArg { b, w, release };
        // SAFETY: per the contract: one RawLock held (the bucket's), released by the callback.
        unsafe {
            proc::gopark_holding(w.mp, park_commit, &arg as *const ParkArg as *mut c_void, 1, reason)
        };
    }
}

impl Drop for Locked {
    fn drop(&mut self) {
        self.b.lock.unlock_on(self.mp);
    }
}

struct ParkArg<'a> {
    b: &'static Bucket,
    w: &'a Waiter,
    release: *const Mutex,
}

/// The park callback: arm the deadline, then release the bucket — the last touch of the
/// goroutine's stack (waiter.rs, "When a goroutine may be woken") — then the user's mutex of
/// a cond wait (user memory, not the stack).
unsafe extern "C" fn park_commit(_gp: *mut crate::sched::g::G, arg: *mut c_void) -> bool {
    // SAFETY: arg is the ParkArg on the parked goroutine's stack, alive until the unlock.
    let (b, w, release) = unsafe {
        let a = &*(arg as *const ParkArg);
        (a.b, a.w, a.release)
    };
    w.arm();
    b.lock.unlock_on(crate::arch::getm());
    if !release.is_null() {
        // SAFETY: the cond's mutex, locked by the waiter (checked before it enqueued); user
        // memory that outlives the wait. An unlock only wakes (never blocks or parks).
        let _ = unsafe { (*release).unlock() };
    }
    true
}

/// Wake up to `n` waiters of `key`, oldest first; `before` sees the claimed ones (still
/// asleep, so their records are the caller's to write) between the bucket unlock and the
/// wakes. Returns how many were woken. The waker's half of the Dekker pair: the caller has
/// changed the object's state before.
pub(crate) fn wake(key: usize, n: u32, before: impl FnOnce(&Claimed)) -> u32 {
    let b = bucket(key);
    // SeqCst: pairs with the waiter's nwait increment and state check (module note).
    core::sync::atomic::fence(SeqCst);
    if n == 0 || b.nwait.load(SeqCst) == 0 {
        return 0;
    }
    let c = enter();
    let mut l = b.lock(c);
    let mut woken = Claimed::new();
    l.dequeue(key, n, &mut woken);
    l.unlock();
    before(&woken);
    let n = woken.wake_all(c);
    leave(c);
    n
}

/// Block the caller on `key` once `check` (run under the bucket lock, after the waiter is
/// counted in `nwait`) says to: the common shape of every semtable wait. `check` returns
/// true to wait, false to return at once (`None`). Otherwise returns the waiter's param
/// (`waiter::TIMED_OUT` if its deadline passed) and whether the sudog's `success` was set.
/// `release` (cond: the user's mutex, or null) is unlocked once the waiter is enqueued and
/// the bucket released: by a goroutine's park callback, by a thread before it sleeps.
/// Ends the runtime entry `c` (from `enter`).
pub(crate) fn wait(
    c: Ctx,
    key: usize,
    deadline: crate::time::Deadline,
    lifo: bool,
    release: *const Mutex,
    reason: WaitReason,
    check: impl FnOnce() -> bool,
) -> Option<(usize, bool)> {
    let w = Waiter::new(c, deadline);
    let mut s = Sudog::new(&w, key, core::ptr::null_mut(), 0);
    let sp = &mut s as *mut Sudog;
    let b = bucket(key);
    let mut l = b.lock(c);
    // Counted first (enqueue raises nwait), then checked: the Dekker pair.
    // SAFETY: s lives on this frame until it is unlinked below or by a waker.
    unsafe { l.enqueue(sp, lifo) };
    core::sync::atomic::fence(SeqCst);
    if !check() {
        // SAFETY: linked just above, under this lock.
        unsafe { l.unlink(sp) };
        l.unlock();
        leave(c);
        return None;
    }
    let woke = if w.is_goroutine() {
        // SAFETY: a goroutine waiter from `c`; sp is linked here.
        unsafe { l.park(&w, release, reason) };
        w.finish() != super::waiter::TIMED_OUT
    } else {
        l.unlock();
        leave(c);
        if !release.is_null() {
            // SAFETY: as in park_commit.
            let _ = unsafe { (*release).unlock() };
        }
        w.sleep_thread()
    };
    if !woke {
        // Timed out: we claimed ourselves, so no waker touches s; take it out if it is
        // still linked (a goroutine may be on another M now: a fresh entry).
        let c = enter();
        let mut l = b.lock(c);
        // SAFETY: s was enqueued in this bucket.
        unsafe { l.unlink(sp) };
        l.unlock();
        leave(c);
    }
    // (A goroutine's park ended its runtime entry: dropg.)
    Some((w.param.get(), s.success.get()))
}
