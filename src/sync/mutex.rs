//! gmp_mutex: Go's sync.Mutex (mutex.go), for goroutines and threads alike.
//!
//! `state`: bit 0 locked, bit 1 a woken waiter is on its way (so Unlock need not wake
//! another), bit 2 starving, the rest the number of waiters. Normal mode: waiters queue FIFO
//! on `sema` but a woken waiter competes with newcomers (who win often: they are on a CPU),
//! and a waiter that lost goes back to the front of the queue. A waiter that has waited over
//! 1 ms switches the mutex to starvation mode: Unlock then hands the lock straight to the
//! first waiter and newcomers queue at the back. The last waiter, or one that waited under
//! 1 ms, switches it back. Before queueing, a locker spins briefly when that can pay off.
//!
//! Unlike Go, unlocking an unlocked mutex is an error (-EPERM), not a crash, so Unlock uses a
//! CAS loop (nothing changes on the error) instead of an add.

use crate::debug::waitreason::WaitReason;
use super::sema;
use crate::os;
use crate::sched::m::{ctx, Ctx};
use crate::sched::sched::SCHED;
use core::sync::atomic::{AtomicI32, AtomicU32, Ordering::*};

const LOCKED: i32 = 1;
const WOKEN: i32 = 2;
const STARVING: i32 = 4;
const WAITER_SHIFT: u32 = 3;
const STARVATION_NS: i64 = 1_000_000;

#[repr(C)]
pub(crate) struct Mutex {
    /// Acquire on the CAS that locks pairs with Release on the CAS that unlocks.
    state: AtomicI32,
    sema: AtomicU32,
}

impl Mutex {
    #[inline]
    pub(crate) fn lock(&self) -> Result<(), i32> {
        self.lock_for(WaitReason::MutexLock)
    }

    /// lock, showing `reason` while it waits (an RWMutex's writer waits on its mutex).
    #[inline]
    pub(crate) fn lock_for(&self, reason: WaitReason) -> Result<(), i32> {
        if self
            .state
            .compare_exchange(0, LOCKED, Acquire, Relaxed)
            .is_err()
        {
            self.lock_slow(reason);
        }
        Ok(())
    }

    pub(crate) fn try_lock(&self) -> Result<(), i32> {
        let old = self.state.load(Relaxed);
        if old & (LOCKED | STARVING) != 0
            || self
                .state
                .compare_exchange(old, old | LOCKED, Acquire, Relaxed)
                .is_err()
        {
            return Err(libc::EBUSY);
        }
        Ok(())
    }

    pub(crate) fn is_locked(&self) -> bool {
        self.state.load(Relaxed) & LOCKED != 0
    }

    #[cold]
    fn lock_slow(&self, reason: WaitReason) {
        let mut wait_start = 0i64;
        let mut starving = false;
        let mut awoke = false;
        let mut iter = 0;
        let mut old = self.state.load(Relaxed);
        loop {
            // Spin while it is locked (not starving) and spinning can pay off.
            if old & (LOCKED | STARVING) == LOCKED && can_spin(iter) {
                // Tell Unlock not to wake another waiter while we spin.
                if !awoke
                    && old & WOKEN == 0
                    && old >> WAITER_SHIFT != 0
                    && self
                        .state
                        .compare_exchange(old, old | WOKEN, Relaxed, Relaxed)
                        .is_ok()
                {
                    awoke = true;
                }
                for _ in 0..30 {
                    core::hint::spin_loop();
                }
                iter += 1;
                old = self.state.load(Relaxed);
                continue;
            }
            let mut new = old;
            // Don't try to take a starving mutex: newcomers queue.
            if old & STARVING == 0 {
                new |= LOCKED;
            }
            if old & (LOCKED | STARVING) != 0 {
                new += 1 << WAITER_SHIFT;
            }
            // Switch to starvation mode, unless it was just unlocked.
            if starving && old & LOCKED != 0 {
                new |= STARVING;
            }
            if awoke {
                if new & WOKEN == 0 {
                    throw!("sync: inconsistent mutex state");
                }
                new &= !WOKEN;
            }
            if self
                .state
                .compare_exchange(old, new, Acquire, Relaxed)
                .is_ok()
            {
                if old & (LOCKED | STARVING) == 0 {
                    return; // locked with the CAS
                }
                let lifo = wait_start != 0;
                if wait_start == 0 {
                    wait_start = os::nanotime();
                }
                sema::acquire(&self.sema, lifo, reason);
                starving = starving || os::nanotime() - wait_start > STARVATION_NS;
                old = self.state.load(Relaxed);
                if old & STARVING != 0 {
                    // Handed to us: fix the state (it is not locked, and we are still counted
                    // as a waiter).
                    if old & (LOCKED | WOKEN) != 0 || old >> WAITER_SHIFT == 0 {
                        throw!("sync: inconsistent mutex state");
                    }
                    let mut delta = LOCKED - (1 << WAITER_SHIFT);
                    if !starving || old >> WAITER_SHIFT == 1 {
                        delta -= STARVING;
                    }
                    // Acquire: we own the lock now; pairs with the unlocker's Release.
                    self.state.fetch_add(delta, Acquire);
                    return;
                }
                awoke = true;
                iter = 0;
            } else {
                old = self.state.load(Relaxed);
            }
        }
    }

    #[inline]
    pub(crate) fn unlock(&self) -> Result<(), i32> {
        // First guess the uncontended state (locked, nobody waiting): one RMW moves the cache
        // line once, where a load and then a CAS would move it twice under contention.
        let mut old = LOCKED;
        loop {
            if old & LOCKED == 0 {
                return Err(libc::EPERM);
            }
            // Release: pairs with the next locker's Acquire.
            match self
                .state
                .compare_exchange_weak(old, old - LOCKED, Release, Relaxed)
            {
                Ok(_) => break,
                Err(v) => old = v,
            }
        }
        let new = old - LOCKED;
        if new != 0 {
            self.unlock_slow(new);
        }
        Ok(())
    }

    #[cold]
    fn unlock_slow(&self, new: i32) {
        if new & STARVING == 0 {
            let mut old = new;
            loop {
                // No waiters, or one is already woken or has the lock: nothing to do.
                if old >> WAITER_SHIFT == 0 || old & (LOCKED | WOKEN | STARVING) != 0 {
                    return;
                }
                let new = (old - (1 << WAITER_SHIFT)) | WOKEN;
                match self.state.compare_exchange(old, new, Relaxed, Relaxed) {
                    Ok(_) => {
                        sema::release(&self.sema, false);
                        return;
                    }
                    Err(v) => old = v,
                }
            }
        } else {
            // Starving: hand the lock to the first waiter (it sets LOCKED itself).
            sema::release(&self.sema, true);
        }
    }
}

/// sync_runtime_canSpin: spin only a few times, on a multiprocessor, when other Ps are
/// running (the holder may be one of them) and, for a goroutine, nothing waits in its P's
/// run queue.
fn can_spin(iter: u32) -> bool {
    if iter >= 4 {
        return false;
    }
    match ctx() {
        Ctx::G(mp, _) => {
            let procs = SCHED.gomaxprocs.load(Relaxed);
            if procs <= SCHED.idle.npidle() + SCHED.idle.nmspinning() + 1 {
                return false;
            }
            // SAFETY: our own M; its P (if any) is ours while we run.
            let pp = unsafe { (*mp).p() };
            // SAFETY: Ps are never freed.
            pp.is_null() || unsafe { (*pp).runq.is_empty() }
        }
        _ => multicore(),
    }
}

/// More than one CPU to run on (cached: sched_getaffinity is a syscall).
fn multicore() -> bool {
    static NCPU: AtomicU32 = AtomicU32::new(0);
    // Relaxed: a cached value; racing callers compute the same.
    let mut n = NCPU.load(Relaxed);
    if n == 0 {
        n = crate::sched::schedinit::ncpu();
        NCPU.store(n, Relaxed);
    }
    n > 1
}
