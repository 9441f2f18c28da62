//! A runtime lock without a guard, for the locks a select takes several of and a park
//! callback releases (sync/chan.rs, sync/select.rs): the same futex protocol and the same lock
//! rule as `Mutex` (taking it raises `m.locks`, so no goroutine is preempted holding one), but
//! `lock` and `unlock` are separate calls made by the same M.
//!
//! Its rank (`Rank::Chan`, `Rank::Sema`) may be held several times at once: a select takes
//! its channels' locks in address order, which is what makes that safe, so debug builds check
//! only that no higher rank is held when one is taken. It may be held across a park
//! (`proc::gopark_holding`), whose callback releases it on the same M's g0.

use super::Rank;
use crate::os;
use crate::sched::m::{this_m, M};
use core::ptr::null_mut;
use core::sync::atomic::{AtomicU32, Ordering::*};

pub(crate) struct RawLock {
    /// 0 = unlocked, 1 = locked, 2 = locked with possible sleepers. Acquire on lock pairs with
    /// Release on unlock: successive critical sections are ordered.
    state: AtomicU32,
    rank: Rank,
}

impl RawLock {
    pub(crate) const fn new(rank: Rank) -> Self {
        RawLock {
            state: AtomicU32::new(0),
            rank,
        }
    }

    #[inline]
    pub(crate) fn lock(&self) {
        self.lock_on(this_m().unwrap_or(null_mut()));
    }

    /// lock, for a caller that knows its M (`mp`: the calling thread's, or null on a plain
    /// thread) — the hot paths of sync/ look it up once.
    #[inline]
    pub(crate) fn lock_on(&self, mp: *mut M) {
        if !mp.is_null() {
            // SAFETY: our own M (never freed).
            unsafe { (*mp).acquire_rank_shared(self.rank) };
        }
        if self.state.compare_exchange(0, 1, Acquire, Relaxed).is_err() {
            super::lock_slow(&self.state);
        }
    }

    /// Release; the caller took it on this same thread.
    #[inline]
    pub(crate) fn unlock(&self) {
        self.unlock_on(this_m().unwrap_or(null_mut()));
    }

    /// unlock, with the caller's M as in lock_on.
    #[inline]
    pub(crate) fn unlock_on(&self, mp: *mut M) {
        if self.state.swap(0, Release) == 2 {
            os::futex_wake(&self.state, 1);
        }
        if !mp.is_null() {
            // SAFETY: as in lock_on.
            unsafe { (*mp).releasem() };
        }
    }
}
