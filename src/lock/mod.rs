//! Runtime locks (Go's lock_futex.go) and notes (`note.rs`).
//!
//! # The lock
//! A futex word with three states: 0 = unlocked, 1 = locked, 2 = locked with possible
//! sleepers. `lock` tries a CAS, spins a little (critical sections here are a few dozen
//! instructions, and a futex sleep/wake pair costs 13-22 µs across vCPUs on this machine),
//! then sleeps on the futex. `unlock` wakes one sleeper only when the state says someone may
//! sleep.
//!
//! # The lock rule: no goroutine is preempted holding a runtime lock
//! Taking any runtime lock on an M raises `m.locks` until the guard drops (Go's lock2/unlock2),
//! and asynchronous preemption never stops an M whose `m.locks` is non-zero. This holds by
//! construction: `Guard` is the only way to the data, and only `lock` makes one. (Before it
//! did, a goroutine preempted inside `gmp_set_procs` while holding sched.lock deadlocked its
//! M on itself: the preemption path takes sched.lock too.) No runtime lock is held across a
//! goroutine switch either; debug builds check both at the switch and in the signal handler.
//!
//! # Lock order
//! A lock may be taken only while every runtime lock the M holds has a lower rank (Go's
//! lockrank). Debug builds track each M's held ranks and throw on a violation, including
//! taking a lock twice.
//!
//! | rank | lock | taken while holding |
//! |---|---|---|
//! | `PollDesc` | a poll descriptor's lock (netpoll/pd.rs): its list waiters, closing | nothing |
//! | `Chan` | a channel's lock (sync/chan.rs), several at once in address order (select) | other channels' locks, lower addresses first |
//! | `Sema` | a semtable bucket's lock (sync/semtable.rs): its waiters | nothing |
//! | `Sched` | `sched.lock` (sched/sched.rs): global run queue, idle P and M lists | nothing |
//! | `GFree` | `sched.gfree`: the global free-G lists | `sched.lock` (a retiring P's free Gs) |
//! | `Timers` | a P's timer heap (time/heap.rs) | nothing |
//! | `Timer` | one timer's state (time/timer.rs) | its heap's lock (`Timers`) |
//! | `StackArena` | `os::stack::ARENA`: the stack arena's carve cursor | nothing |
//! | `Persistent` | `os::persistent::PERSISTENT`: the record allocator's carve cursor | nothing |
//!
//! Plain threads (no M) take runtime locks too (thread-context API calls); they cannot be
//! preempted and are not rank-checked.

pub(crate) mod note;
mod raw;

pub(crate) use raw::RawLock;

use crate::os;
use crate::sched::m::{this_m, M};
use core::cell::UnsafeCell;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicU32, Ordering::*};

/// Lock ranks, lowest first (see the table in the module note).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u32)]
pub(crate) enum Rank {
    /// 0: a poll descriptor's lock lives in zeroed memory (netpoll/pd.rs), so its rank must
    /// be the all-zero value.
    PollDesc = 0,
    /// Held while arming a goroutine's timer (Timers, Timer) before the park commits.
    Chan = 1,
    /// As Chan.
    Sema = 2,
    Sched = 3,
    GFree = 4,
    Timers = 5,
    Timer = 6,
    StackArena = 7,
    Persistent = 8,
}

pub(crate) struct Mutex<T> {
    /// The futex word. Acquire on lock pairs with Release on unlock: the critical sections of
    /// successive holders are ordered.
    state: AtomicU32,
    rank: Rank,
    data: UnsafeCell<T>,
}

// SAFETY: the data is only reached through a guard, and the futex protocol admits one guard
// at a time.
unsafe impl<T: Send> Sync for Mutex<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Send for Mutex<T> {}

pub(crate) struct Guard<'a, T> {
    lock: &'a Mutex<T>,
    /// The M whose `locks` this guard raised (null on a plain thread).
    mp: *mut M,
}

const SPIN: u32 = 100;

/// The contended path of both lock types (lock_futex.go's lock2): spin, yield once, then
/// sleep on the futex having announced a sleeper (2), so whoever unlocks wakes one. On two
/// vCPUs the holder is often a thread the host or the kernel just descheduled: the yield lets
/// it finish its few instructions here, where a futex sleep costs a 13-22 µs wake-up.
#[cold]
pub(crate) fn lock_slow(state: &AtomicU32) {
    for _ in 0..SPIN {
        if state.load(Relaxed) == 0 && state.compare_exchange(0, 1, Acquire, Relaxed).is_ok() {
            return;
        }
        core::hint::spin_loop();
    }
    os::osyield();
    if state.load(Relaxed) == 0 && state.compare_exchange(0, 1, Acquire, Relaxed).is_ok() {
        return;
    }
    while state.swap(2, Acquire) != 0 {
        // Not in a child of fork, where the holder may not exist (sched/fork.rs).
        crate::sched::fork::sleep_check();
        os::futex_wait(state, 2, -1);
    }
}

impl<T> Mutex<T> {
    pub(crate) const fn new(rank: Rank, v: T) -> Self {
        Mutex {
            state: AtomicU32::new(0),
            rank,
            data: UnsafeCell::new(v),
        }
    }

    /// lock2: raise `m.locks` (the lock rule), then take the lock.
    #[inline]
    pub(crate) fn lock(&self) -> Guard<'_, T> {
        let mp = this_m().unwrap_or(core::ptr::null_mut());
        if !mp.is_null() {
            // SAFETY: mp is the calling thread's M (never freed).
            unsafe { (*mp).acquire_rank(self.rank) };
        }
        if self.state.compare_exchange(0, 1, Acquire, Relaxed).is_err() {
            self.lock_slow();
        }
        Guard { lock: self, mp }
    }

    #[cold]
    #[inline(never)]
    fn lock_slow(&self) {
        lock_slow(&self.state);
    }
}

impl<T> Deref for Guard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: a Guard exists only while the lock is held by its owner.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T> DerefMut for Guard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as deref; the guard is unique.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T> Drop for Guard<'_, T> {
    /// unlock2: release the lock, then lower `m.locks`.
    fn drop(&mut self) {
        if self.lock.state.swap(0, Release) == 2 {
            os::futex_wake(&self.lock.state, 1);
        }
        if !self.mp.is_null() {
            // SAFETY: the guard raised this M's count in lock(), on this same thread (guards
            // never cross a goroutine switch).
            unsafe { (*self.mp).release_rank(self.lock.rank) };
        }
    }
}
