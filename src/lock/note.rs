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

use crate::os;
use core::sync::atomic::{AtomicU32, Ordering::*};

const CLEAR: u32 = 0;
const WOKEN: u32 = 1;
const SLEEPING: u32 = 2;

/// Iterations of the pre-sleep spin (tens of µs: about one futex round trip).
const SPIN: u32 = 1000;

pub(crate) struct Note {
    /// Acquire in the sleeper pairs with the Release swap in `note_wakeup`: what the waker
    /// wrote before waking (e.g. `m.nextp`) is visible to the sleeper.
    key: AtomicU32,
}

impl Note {
    pub(crate) const fn new() -> Self {
        Note { key: AtomicU32::new(CLEAR) }
    }

    pub(crate) fn wakeup(&self) {
        match self.key.swap(WOKEN, Release) {
            CLEAR => {}
            SLEEPING => os::futex_wake(&self.key, 1),
            _ => throw!("Note::wakeup: double wakeup"),
        }
    }

    /// Wake the sleeper; unlike `wakeup`, several wakers may race (sysmon's note: any M that
    /// finds work, or needs an M made, wakes it). Extra wake-ups before the sleeper clears the
    /// note are absorbed.
    pub(crate) fn wake_any(&self) {
        if self.key.swap(WOKEN, Release) == SLEEPING {
            os::futex_wake(&self.key, 1);
        }
    }

    /// Sleep until woken, spinning briefly first (an idle M is often handed work right back).
    pub(crate) fn sleep(&self) {
        for _ in 0..SPIN {
            if self.key.load(Acquire) == WOKEN {
                return;
            }
            core::hint::spin_loop();
        }
        self.tsleep(-1);
    }

    /// Sleep until woken or `ns` nanoseconds pass (`ns < 0`: no limit), without spinning (a
    /// timed sleeper such as sysmon expects to sleep). True if woken.
    pub(crate) fn tsleep(&self, ns: i64) -> bool {
        let deadline = if ns >= 0 { os::nanotime() + ns } else { 0 };
        loop {
            match self.key.compare_exchange(CLEAR, SLEEPING, Acquire, Acquire) {
                Ok(_) | Err(SLEEPING) => {}
                Err(_) => return true, // WOKEN
            }
            let wait = if ns >= 0 {
                let left = deadline - os::nanotime();
                if left <= 0 {
                    // Withdraw the sleeper mark unless a wakeup got in first.
                    return self.key.compare_exchange(SLEEPING, CLEAR, Acquire, Acquire).is_err();
                }
                left
            } else {
                -1
            };
            os::futex_wait(&self.key, SLEEPING, wait);
            if self.key.load(Acquire) == WOKEN {
                return true;
            }
        }
    }

    /// Re-arm. Only the sleeper calls it, after it woke and before it can be woken again.
    pub(crate) fn clear(&self) {
        self.key.store(CLEAR, Relaxed);
    }
}
