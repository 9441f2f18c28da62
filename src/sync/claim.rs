//! The claim protocol of a waiter (waiter.rs), on its own words so that loom can model it
//! (claim/loom_tests.rs): a waiter is woken by exactly one party, the one whose CAS wins.
//!
//! - A goroutine's claim: `G.sync_token` from the wait's token (even) to token|1.
//! - A thread's word: WAITING -> CLAIMED (a waker's CAS, or the thread's own once its
//!   deadline passed) -> WOKEN (the winning waker, after writing the outcome, then a futex
//!   wake). A thread that loses its own claim waits for WOKEN: the record is in use.

#[cfg(all(test, loom))]
mod loom_tests;

use crate::loom::{futex_wait, futex_wake, AtomicU32, AtomicU64};
use core::sync::atomic::Ordering::*;

const WAITING: u32 = 0;
const CLAIMED: u32 = 1;
const WOKEN: u32 = 2;

/// Claim a goroutine's wait with this token.
#[inline]
pub(crate) fn claim_token(t: &AtomicU64, token: u64) -> bool {
    // AcqRel: the winner's later writes (the outcome, values) are ordered after its win, and
    // it sees what earlier claimers of earlier waits did; pairs with other claimers' CAS.
    t.compare_exchange(token, token | 1, AcqRel, Relaxed).is_ok()
}

/// A sleeping thread's word.
pub(crate) struct ThreadWord {
    word: AtomicU32,
}

impl ThreadWord {
    pub(crate) fn new() -> Self {
        ThreadWord {
            word: AtomicU32::new(WAITING),
        }
    }

    /// A waker's claim.
    #[inline]
    pub(crate) fn claim(&self) -> bool {
        // AcqRel: as claim_token.
        self.word
            .compare_exchange(WAITING, CLAIMED, AcqRel, Relaxed)
            .is_ok()
    }

    /// The winner wakes the thread, after writing the outcome. The record may be gone once
    /// the store is seen: the futex wake only uses the address.
    #[inline]
    pub(crate) fn wake(&self) {
        // Release: the thread's Acquire load of WOKEN sees the outcome the winner wrote.
        self.word.store(WOKEN, Release);
        futex_wake(&self.word, 1);
    }

    /// Sleep until claimed and woken (true), or until `left()` says the deadline passed
    /// (returns 0) and the thread wins its own claim (false). `left` gives the nanoseconds
    /// to wait (-1: no deadline).
    pub(crate) fn sleep(&self, mut left: impl FnMut() -> i64) -> bool {
        loop {
            // Acquire: pairs with wake's Release.
            match self.word.load(Acquire) {
                WOKEN => return true,
                WAITING => {
                    let ns = left();
                    if ns == 0 {
                        if self
                            .word
                            .compare_exchange(WAITING, CLAIMED, AcqRel, Acquire)
                            .is_ok()
                        {
                            return false;
                        }
                        continue; // a waker won: wait for its WOKEN
                    }
                    futex_wait(&self.word, WAITING, ns);
                }
                _ => futex_wait(&self.word, CLAIMED, -1),
            }
        }
    }
}
