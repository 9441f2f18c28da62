//! Idle and spinning accounting: Go's `sched.npidle` and `sched.nmspinning`, and the lock-free
//! halves of wakep, handoffp, resetspinning and the spinning -> non-spinning transition (the
//! "delicate dance"), which proc.rs calls. See "Worker thread parking/unparking" in proc.rs
//! for the protocol; this file holds the part of it that needs no lock, so that
//! `idle/loom_tests.rs` can model-check the very code the runtime runs (its atomics and
//! fences come from `crate::loom`).
//!
//! # Why both sides need a StoreLoad barrier
//! The dance is Dekker's pattern. A producer publishes a G (a run-queue store) and then reads
//! the counters (wakep); a spinner that found nothing decrements nmspinning (after its P's
//! pidleput incremented npidle) and then reads the run queues. Work is stranded (an idle P
//! and a runnable G, nobody looking) if both read the other's old value. Each side therefore
//! needs its store ordered before its loads:
//! - the spinner: its SeqCst RMW on nmspinning, then `fence(SeqCst)` (`stop_spinning`);
//! - the producer, publishing to a P's queue: the publishing store is SeqCst (the runnext
//!   swap, the ring's tail store: RunQ::put/steal) and wakep's loads are SeqCst. In the
//!   C++20/Rust model a SeqCst store sequenced before a SeqCst load precedes it in the single
//!   order S; the load reads an nmspinning older than the spinner's decrement, so it precedes
//!   that RMW in S, which precedes the spinner's fence; a SeqCst store that precedes a SeqCst
//!   fence in S is visible to every load after the fence. So one of the two sees the other.
//!   (Go's atomics are all sequentially consistent; its runqtail StoreRel is an XCHG on amd64.
//!   On x86 a SeqCst store is an XCHG, and the runnext swap was one already.)
//! - the producer, publishing to the global queue: nothing extra. The spinner re-checks the
//!   global queue under sched.lock after its decrement (Go's findRunnable does the same): if
//!   its critical section comes after the producer's, it sees the G; if before, its decrement
//!   happens-before the producer's load in wakep, which then sees it.
//!
//! An earlier version fenced at the top of wakep instead: correct, but it cost gosched ~10-15
//! ns (a locked instruction per yield on top of the lock's XCHG). Loom cannot check the
//! SeqCst-store argument (loom 0.7 treats SeqCst loads and stores as Acquire/Release, see
//! idle/loom_tests.rs): under `cfg(loom)` wakep keeps that fence, which stands for the S order
//! the model cannot express; with neither the fence nor SeqCst the models find the stranding.

use crate::loom::{fence, AtomicU32};
use core::sync::atomic::Ordering::*;

pub(crate) struct Idle {
    /// Idle Ps: the length of sched.pidle. Changed (SeqCst RMWs) only under sched.lock, by
    /// `pidleput`/`pidleget`; read without the lock by wakep, handoffp, find_runnable, sysmon
    /// and exitsyscall. SeqCst: a spinner's increment (releasing its P) is ordered before its
    /// re-check of the run queues by the SeqCst fence in `stop_spinning`, and pairs with the
    /// producer's SeqCst publication + SeqCst load in `wakep`.
    npidle: AtomicU32,
    /// Ms spinning in find_runnable (m.spinning set). SeqCst: the spinner's decrement in
    /// `stop_spinning` is ordered before its re-check of the run queues (RMW + fence), against
    /// the producer's SeqCst run-queue store before its SeqCst load here in `wakep`; the
    /// CAS(0, 1) in wakep/handoffp pairs with every other RMW so that at most one waker
    /// claims the "nobody spins" slot.
    nmspinning: AtomicU32,
}

impl Idle {
    #[cfg(not(loom))]
    pub(crate) const fn new() -> Self {
        Idle {
            npidle: AtomicU32::new(0),
            nmspinning: AtomicU32::new(0),
        }
    }

    #[cfg(loom)]
    pub(crate) fn new() -> Self {
        Idle {
            npidle: AtomicU32::new(0),
            nmspinning: AtomicU32::new(0),
        }
    }

    /// sched.npidle (a racy snapshot unless sched.lock is held). SeqCst: see the field.
    pub(crate) fn npidle(&self) -> u32 {
        self.npidle.load(SeqCst)
    }

    /// sched.nmspinning (a racy snapshot). SeqCst: see the field.
    pub(crate) fn nmspinning(&self) -> u32 {
        self.nmspinning.load(SeqCst)
    }

    /// pidleput's count: `n` more idle Ps. Call under sched.lock, with the list updated.
    pub(crate) fn pidleput(&self, n: u32) {
        // SeqCst: see the field (a releasing spinner's increment precedes its re-check).
        self.npidle.fetch_add(n, SeqCst);
    }

    /// pidleget's count: one idle P fewer. Call under sched.lock, with the list updated.
    pub(crate) fn pidleget(&self) {
        // SeqCst: see the field.
        self.npidle.fetch_sub(1, SeqCst);
    }

    /// wakep's lock-free half: true if there is an idle P and nobody spins, and the caller
    /// won the right to start the one spinning M (now counted in nmspinning): it must call
    /// `startm(null, Spin::Counted)`, which uncounts it if no P is left.
    pub(crate) fn wakep(&self) -> bool {
        // StoreLoad: the caller's SeqCst publication of work precedes these SeqCst loads in S;
        // pairs with the fence in `stop_spinning` (see "Why both sides need a StoreLoad
        // barrier"). Loom cannot express that order: the model uses a fence in its place.
        #[cfg(loom)]
        fence(SeqCst);
        if self.npidle.load(SeqCst) == 0 {
            return false;
        }
        // SeqCst load then CAS: pairs with the spinner's decrement (see the field).
        self.nmspinning.load(SeqCst) == 0
            && self
                .nmspinning
                .compare_exchange(0, 1, SeqCst, SeqCst)
                .is_ok()
    }

    /// handoffp's lock-free half (for a P with no work): true if nobody is looking for work
    /// (no spinning M, no idle P) and the caller won the right to start a spinning M on the
    /// P (now counted): it must call `startm(pp, Spin::Counted)`.
    #[cfg_attr(loom, allow(dead_code))] // not modeled
    pub(crate) fn handoffp(&self) -> bool {
        // SeqCst loads and CAS: see the fields.
        self.nmspinning.load(SeqCst) + self.npidle.load(SeqCst) == 0
            && self
                .nmspinning
                .compare_exchange(0, 1, SeqCst, SeqCst)
                .is_ok()
    }

    /// find_runnable: may a non-spinning M start spinning? At most half the busy Ps have a
    /// spinning M.
    #[cfg_attr(loom, allow(dead_code))] // not modeled
    pub(crate) fn may_spin(&self, procs: u32) -> bool {
        // SeqCst loads: a heuristic; any snapshot is fine.
        2 * self.nmspinning.load(SeqCst) < procs.saturating_sub(self.npidle.load(SeqCst))
    }

    /// The calling M starts spinning (m.spinning was just set): find_runnable, or a spinner
    /// that found work during the dance and took an idle P.
    pub(crate) fn start_spinning(&self) {
        // SeqCst: see the field.
        self.nmspinning.fetch_add(1, SeqCst);
    }

    /// resetspinning's decrement: the calling spinner found work (m.spinning was just
    /// cleared). The caller then calls wakep (it may have been the last spinner).
    #[cfg_attr(loom, allow(dead_code))] // not modeled
    pub(crate) fn resetspinning(&self) {
        // SeqCst: see the field.
        if self.nmspinning.fetch_sub(1, SeqCst) == 0 {
            throw!("resetspinning: negative nmspinning");
        }
    }

    /// The delicate dance (step 4 of the parking protocol): the calling spinner holds no P
    /// (it released its P with pidleput) and found nothing. Stop spinning, then run `recheck`
    /// (look at every queue once more) and return what it says: a producer that saw us
    /// still spinning relied on us to find its G.
    pub(crate) fn stop_spinning(&self, recheck: impl FnOnce() -> bool) -> bool {
        // SeqCst RMW + fence: the decrement (and the pidleput before it) is ordered before
        // the loads in `recheck`. Pairs with the producer's SeqCst publication and loads.
        if self.nmspinning.fetch_sub(1, SeqCst) == 0 {
            throw!("stop_spinning: negative nmspinning");
        }
        fence(SeqCst);
        recheck()
    }

    /// startm could not start the spinning M that wakep/handoffp counted (no idle P, or no
    /// thread).
    pub(crate) fn uncount_spinning(&self) {
        // SeqCst: see the field.
        self.nmspinning.fetch_sub(1, SeqCst);
    }
}

#[cfg(all(test, loom))]
mod loom_tests;
