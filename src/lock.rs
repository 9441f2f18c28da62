//! Runtime mutex (Go's lock_futex.go): a futex word with three states.
//!
//! 0 = unlocked, 1 = locked, 2 = locked with possible sleepers. `lock` tries a CAS, spins a
//! little (critical sections here are a few dozen instructions: a futex sleep/wake pair costs
//! 13-22 µs across vCPUs on this machine), then sleeps on the futex. `unlock` wakes one sleeper
//! only when the state says someone may sleep.
//!
//! Runtime locks are held only on g0, in thread context, or in a goroutine whose M has
//! `locks > 0` (the API raises it): never across a goroutine switch. That is what keeps a
//! preempted or parked goroutine from holding one.
//!
//! Lock order (acquire left before right): `sched.lock` < `stack pool lock`. No other runtime
//! lock is held while taking `sched.lock`.

use crate::sys;
use core::cell::UnsafeCell;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicU32, Ordering::*};

pub(crate) struct Mutex<T> {
    /// The futex word. Acquire on lock pairs with Release on unlock: the critical sections of
    /// successive holders are ordered.
    state: AtomicU32,
    data: UnsafeCell<T>,
}

// SAFETY: the data is only reached through a guard, and the futex protocol admits one guard
// at a time.
unsafe impl<T: Send> Sync for Mutex<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Send for Mutex<T> {}

pub(crate) struct Guard<'a, T> {
    m: &'a Mutex<T>,
}

const SPIN: u32 = 100;

impl<T> Mutex<T> {
    pub(crate) const fn new(v: T) -> Self {
        Mutex { state: AtomicU32::new(0), data: UnsafeCell::new(v) }
    }

    #[inline]
    pub(crate) fn lock(&self) -> Guard<'_, T> {
        if self.state.compare_exchange(0, 1, Acquire, Relaxed).is_err() {
            self.lock_slow();
        }
        Guard { m: self }
    }

    #[cold]
    #[inline(never)]
    fn lock_slow(&self) {
        for _ in 0..SPIN {
            if self.state.load(Relaxed) == 0 && self.state.compare_exchange(0, 1, Acquire, Relaxed).is_ok() {
                return;
            }
            core::hint::spin_loop();
        }
        // Announce a sleeper (2) before sleeping; whoever unlocks then wakes one.
        while self.state.swap(2, Acquire) != 0 {
            sys::futex_wait(&self.state, 2, -1);
        }
    }

    fn unlock(&self) {
        if self.state.swap(0, Release) == 2 {
            sys::futex_wake(&self.state, 1);
        }
    }
}

impl<T> Deref for Guard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: a Guard exists only while the lock is held by its owner.
        unsafe { &*self.m.data.get() }
    }
}

impl<T> DerefMut for Guard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as deref; the guard is unique.
        unsafe { &mut *self.m.data.get() }
    }
}

impl<T> Drop for Guard<'_, T> {
    fn drop(&mut self) {
        self.m.unlock();
    }
}
