//! Notes: Go's one-shot sleep/wakeup events (lock_futex.go), used to park Ms.
//!
//! `note_sleep` blocks until `note_wakeup`; a wakeup that comes first is not lost. A note is
//! re-armed with `note_clear`, only by its sleeper, only after it woke. States of `key`:
//! 0 = clear, 1 = woken, 2 = a sleeper is (about to be) in futex_wait.
//!
//! The sleeper spins briefly before the futex: a futex wake across vCPUs costs 13-22 µs here
//! while a spinning hand-off costs ~120 ns, and an M that just ran out of work is often handed
//! some straight back. The waker issues FUTEX_WAKE only when state 2 says someone sleeps
//! (a FUTEX_WAKE with no waiter still costs ~150 ns).
//!
//! A timed sleep (`tsleep`) that times out withdraws its sleeper mark (SLEEPING -> CLEAR) with
//! a CAS that races the waker's swap: if the wakeup got in first the CAS fails and the sleep
//! counts as woken; otherwise the note is clear again, so a wakeup that comes later is not
//! lost: it leaves the note WOKEN for the next sleep, which returns at once.
//!
//! The atomics, the futex and the clock come from `crate::loom`: `note/loom_tests.rs`
//! model-checks this code (the spin shrinks to 2 rounds there).

use crate::loom::{futex_wait, futex_wake, nanotime, AtomicU32};
use core::sync::atomic::Ordering::*;

const CLEAR: u32 = 0;
const WOKEN: u32 = 1;
const SLEEPING: u32 = 2;

/// Iterations of the pre-sleep spin (tens of µs: about one futex round trip).
#[cfg(not(loom))]
const SPIN: u32 = 1000;
#[cfg(loom)]
const SPIN: u32 = 2;

pub(crate) struct Note {
    /// Every Acquire in the sleeper (the spin's load, the CLEAR -> SLEEPING CAS, the failed
    /// withdrawal CAS, the load after futex_wait) pairs with the Release swap in `wakeup` /
    /// `wake_any`: what the waker wrote before waking (e.g. `m.nextp`) is visible to the
    /// sleeper once it sees WOKEN.
    key: AtomicU32,
}

impl Note {
    #[cfg(not(loom))]
    pub(crate) const fn new() -> Self {
        Note {
            key: AtomicU32::new(CLEAR),
        }
    }

    #[cfg(loom)]
    pub(crate) fn new() -> Self {
        Note {
            key: AtomicU32::new(CLEAR),
        }
    }

    /// Wake the sleeper. One wakeup per clear: a second one throws.
    pub(crate) fn wakeup(&self) {
        // Release: pairs with the sleeper's Acquire loads/CASes of `key` (see the field).
        match self.key.swap(WOKEN, Release) {
            CLEAR => {}
            SLEEPING => futex_wake(&self.key, 1),
            _ => throw!("Note::wakeup: double wakeup"),
        }
    }

    /// Wake the sleeper; unlike `wakeup`, several wakers may race (sysmon's note: any M that
    /// finds work, or needs an M made, wakes it). Extra wake-ups before the sleeper clears the
    /// note are absorbed.
    pub(crate) fn wake_any(&self) {
        // Release: as in `wakeup`.
        if self.key.swap(WOKEN, Release) == SLEEPING {
            futex_wake(&self.key, 1);
        }
    }

    /// Sleep until woken, spinning briefly first (an idle M is often handed work right back).
    pub(crate) fn sleep(&self) {
        for _ in 0..SPIN {
            // Acquire: pairs with the waker's Release swap.
            if self.key.load(Acquire) == WOKEN {
                return;
            }
            core::hint::spin_loop();
        }
        self.tsleep(-1);
    }

    /// Sleep until woken or `ns` nanoseconds pass (`ns < 0`: no limit), without spinning (a
    /// timed sleeper such as sysmon expects to sleep). True if woken; false if the time ran
    /// out first, and then the note is clear (a wakeup still to come stays pending: the next
    /// sleep returns at once).
    pub(crate) fn tsleep(&self, ns: i64) -> bool {
        let deadline = if ns >= 0 { nanotime() + ns } else { 0 };
        loop {
            // Acquire (both outcomes): pairs with the waker's Release swap when we see WOKEN.
            match self.key.compare_exchange(CLEAR, SLEEPING, Acquire, Acquire) {
                Ok(_) | Err(SLEEPING) => {}
                Err(_) => return true, // WOKEN
            }
            let wait = if ns >= 0 {
                let left = deadline - nanotime();
                if left <= 0 {
                    // Withdraw the sleeper mark unless a wakeup got in first. Acquire on
                    // failure (WOKEN): pairs with the waker's Release swap.
                    return self
                        .key
                        .compare_exchange(SLEEPING, CLEAR, Acquire, Acquire)
                        .is_err();
                }
                left
            } else {
                -1
            };
            // Not in a child of fork, where the waker may not exist (sched/fork.rs).
            #[cfg(not(loom))]
            crate::sched::fork::sleep_check();
            futex_wait(&self.key, SLEEPING, wait);
            // Acquire: pairs with the waker's Release swap.
            if self.key.load(Acquire) == WOKEN {
                return true;
            }
        }
    }

    /// Re-arm. Only the sleeper calls it, after it woke and before it can be woken again.
    /// Relaxed: nothing is published by clearing; the next wakeup's Release swap is ordered
    /// after this store because the waker only wakes a note it learned (through other
    /// synchronization) was re-armed, e.g. an M it took off the idle list under sched.lock.
    pub(crate) fn clear(&self) {
        self.key.store(CLEAR, Relaxed);
    }
}

#[cfg(all(test, loom))]
mod loom_tests;
