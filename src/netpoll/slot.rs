//! The netpoller's lock-free protocols, on their own words, so that `slot/loom_tests.rs` can
//! model-check the very code the runtime runs (the atomics come from `crate::loom`, as in
//! sched/idle.rs). pd.rs and wait.rs hold everything around them: the descriptor table, the
//! waiter lists under the descriptor lock, the park callbacks, the timers.
//!
//! - `Slot`: a wait slot (Go's rg/wg) — the single-waiter protocol of pd.rs: NIL -> WAIT (or
//!   consume READY), the park callback's WAIT -> G commit, the event's / timeout's / close's
//!   take-out, the waiter's withdrawal of its WAIT or consumption of a READY after it.
//! - `ListGate`: a direction's event generation and list-waiter count — the Dekker pair that
//!   decides whether an event must take the descriptor lock to look at the waiter list.
//! - `CloseGate`: `closing` and `ops` — the close protocol's Dekker pair: a closer never runs
//!   the real close while an operation that did not see `closing` is in flight.
//! - the token functions (`win`, `start_parking`, `end_parking`...): a goroutine's
//!   `pollwait` word, by which exactly one waker readies a list-waiting goroutine, and none
//!   while its park callback is still linking its nodes (the "parking" phase of wait.rs).
//!
//! # The Dekker pairs and loom
//! Three of these are Dekker's pattern (each side stores, then loads what the other side
//! stores): slot WAIT vs `closing` (waiter) against `closing` vs slot (closer); `nwait` vs
//! `gen` (waiter) against `gen` vs `nwait` (event); `ops` vs `closing` (operation) against
//! `closing` vs `ops` (closer). Every access in them is SeqCst, and C++20's single total order
//! S over SeqCst operations gives the StoreLoad ordering with no fence. Loom does not model S,
//! so each side calls `crate::loom::seqcst_storeload` between its store and its load with the
//! two orderings: nothing in the runtime, a SeqCst fence in the model only while both are
//! SeqCst.

use crate::loom::{seqcst_storeload, AtomicBool, AtomicU32, AtomicU64, AtomicUsize};
use core::sync::atomic::Ordering::*;

/// Slot states besides a parked G's address (Gs are 8-byte aligned: their low 3 bits are 0).
pub(crate) const PD_NIL: usize = 0;
/// An event came while nobody waited.
pub(crate) const PD_READY: usize = 1;
/// The bit of a WAIT: `G | PD_WAIT` — goroutine G is about to park (its park callback has
/// not committed yet). The WAIT names its goroutine: the deadline timer, armed before the
/// commit, clears only its own goroutine's WAIT (an anonymous WAIT let a stale timer clear
/// another goroutine's, whose slot the first goroutine then committed on: loom,
/// `two_waiters_deadline`).
pub(crate) const PD_WAIT: usize = 2;

/// Goroutine `gp`'s WAIT.
#[inline]
pub(crate) fn wait_of(gp: usize) -> usize {
    gp | PD_WAIT
}

/// A wait slot: `PD_NIL`, `PD_READY`, a `wait_of(G)`, or the parked G's address. All-zero is NIL
/// (descriptors are zeroed memory). Every transition is a SeqCst CAS/swap: they pair with
/// each other on this one word (an event's take-out against the waiter's commit decides who
/// owns the wake-up), and the waiter's NIL -> WAIT is also one side of the slot/closing
/// Dekker pair (`begin_wait`, `CloseGate::start_close`).
#[repr(transparent)]
pub(crate) struct Slot(AtomicUsize);

/// What `Slot::begin_wait` found.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Attempt {
    /// An event came since the last attempt (READY consumed): try the call again.
    Ready,
    /// NIL -> WAIT done and no close began before it: park, committing with `commit`.
    Park,
    /// NIL -> WAIT done but a close began: do not park (`withdraw` the WAIT).
    Closed,
    /// WAIT or a G: another goroutine's slot (use a list wait).
    Busy,
}

impl Slot {
    #[cfg(loom)]
    pub(crate) fn new() -> Self {
        Slot(AtomicUsize::new(PD_NIL))
    }

    /// Go's netpollblock prepare: an old READY says nothing about the attempt about to be
    /// made. (SeqCst: as every transition; no pairing beyond the word itself.)
    pub(crate) fn prepare(&self) {
        let _ = self.0.compare_exchange(PD_READY, PD_NIL, SeqCst, Relaxed);
    }

    /// The waiter, after an attempt at the call failed: consume a READY, or move NIL -> WAIT
    /// and check `closing` (a close that set `closing` before our WAIT is seen here; one after
    /// it finds WAIT or our G in `unblock` and takes it out, so the commit fails or the G is
    /// readied).
    pub(crate) fn begin_wait(&self, close: &CloseGate, gp: usize) -> Attempt {
        loop {
            if self
                .0
                .compare_exchange(PD_READY, PD_NIL, SeqCst, Relaxed)
                .is_ok()
            {
                return Attempt::Ready;
            }
            if self
                .0
                .compare_exchange(PD_NIL, wait_of(gp), SeqCst, Relaxed)
                .is_ok()
            {
                break;
            }
            let v = self.0.load(SeqCst);
            if v != PD_READY && v != PD_NIL {
                return Attempt::Busy;
            }
        }
        // Dekker: our WAIT (SeqCst CAS) before our load of `closing` (SeqCst, in
        // `is_closing`); pairs with `start_close` (store `closing`, then `unblock`'s load).
        seqcst_storeload(SeqCst, SeqCst);
        if close.is_closing() {
            Attempt::Closed
        } else {
            Attempt::Park
        }
    }

    /// The park callback (Go's netpollblockcommit): WAIT -> `gp`. False if a waker took the
    /// WAIT out since `begin_wait` (the goroutine must not park). SeqCst: against `unblock`'s
    /// CAS on the same word.
    pub(crate) fn commit(&self, gp: usize) -> bool {
        self.0
            .compare_exchange(wait_of(gp), gp, SeqCst, Relaxed)
            .is_ok()
    }

    /// Go's netpollunblock: take the waiting G out (0 if none). `ioready`: an event (the slot
    /// becomes READY if nobody waits); otherwise a timeout or close (the slot becomes NIL; a
    /// NIL or READY is left alone). The load is SeqCst: for a close it is the load side of
    /// the slot/closing Dekker pair (see `begin_wait`); the CAS pairs with the waiter's.
    pub(crate) fn unblock(&self, ioready: bool) -> usize {
        loop {
            let old = self.0.load(SeqCst);
            if old == PD_READY {
                return 0;
            }
            if old == PD_NIL && !ioready {
                return 0;
            }
            let new = if ioready { PD_READY } else { PD_NIL };
            if self.0.compare_exchange(old, new, SeqCst, Relaxed).is_ok() {
                return if old & PD_WAIT != 0 || old == PD_NIL {
                    0
                } else {
                    old
                };
            }
        }
    }

    /// The deadline timer of a slot wait by `gp` (the token matched). It is armed before the
    /// commit, so it may find our WAIT: clear it (the commit fails and the goroutine, not
    /// parking, sees its deadline passed; false). Else take `gp` out: true, the caller readies
    /// it. SeqCst: against the commit's, the event's and the close's CAS.
    pub(crate) fn timeout(&self, gp: usize) -> bool {
        if self
            .0
            .compare_exchange(wait_of(gp), PD_NIL, SeqCst, Relaxed)
            .is_ok()
        {
            return false;
        }
        self.0.compare_exchange(gp, PD_NIL, SeqCst, Relaxed).is_ok()
    }

    /// The waiter after a wait it parked for (woken, or its commit failed): only a READY (an
    /// event while it was waking) is its own to consume. A NIL, or another goroutine's WAIT or
    /// G (it took the slot since our wake-up), must be left alone.
    pub(crate) fn finish_woken(&self) {
        let _ = self.0.compare_exchange(PD_READY, PD_NIL, SeqCst, Relaxed);
    }

    /// The waiter that saw `closing` after its NIL -> WAIT (`Attempt::Closed`): withdraw the
    /// WAIT (the close may have cleared it already; then the slot is left alone).
    pub(crate) fn withdraw(&self, gp: usize) {
        let _ = self
            .0
            .compare_exchange(wait_of(gp), PD_NIL, SeqCst, Relaxed);
    }

    /// After the real close, with no operation in flight: fresh for the next file. Relaxed:
    /// the close protocol's `ops`/`closing` hand-over orders it for the next users.
    #[cfg_attr(loom, allow(dead_code))] // not modeled
    pub(crate) fn reset(&self) {
        self.0.store(PD_NIL, Relaxed);
    }
}

/// A direction's event generation and list-waiter count. All-zero is fresh.
///
/// Dekker's pattern: an event bumps `gen` and then reads `nwait` (`event`); a list waiter,
/// under the descriptor lock, bumps `nwait` and then compares `gen` with the value it read
/// before its last attempt at the call (`enlist`). If the event read `nwait` = 0, the waiter's
/// load sees the bump and it does not park; otherwise the event takes the lock and finds the
/// waiter's node (or, locking first, makes the waiter's later load see the bump).
pub(crate) struct ListGate {
    /// Bumped by each event and close (SeqCst: the store side of the event, the load side of
    /// the waiter).
    gen: AtomicU32,
    /// List waiters counted (SeqCst: the store side of the waiter, the load side of the
    /// event).
    nwait: AtomicU32,
}

impl ListGate {
    #[cfg(loom)]
    pub(crate) fn new() -> Self {
        ListGate {
            gen: AtomicU32::new(0),
            nwait: AtomicU32::new(0),
        }
    }

    /// The waiter, before an attempt at the call. SeqCst for uniformity (any load would do:
    /// an event that the attempt missed happens after it, through the kernel, and after this).
    pub(crate) fn snapshot(&self) -> u32 {
        self.gen.load(SeqCst)
    }

    /// An event: bump the generation; true if a list waiter may be linked (take the lock and
    /// the list).
    pub(crate) fn event(&self) -> bool {
        self.gen.fetch_add(1, SeqCst);
        // Dekker: pairs with `enlist` (see the type).
        seqcst_storeload(SeqCst, SeqCst);
        self.nwait.load(SeqCst) > 0
    }

    /// A close (holding the lock, about to take the whole list): bump the generation, so a
    /// waiter between its snapshot and its `enlist` does not park.
    pub(crate) fn bump(&self) {
        self.gen.fetch_add(1, SeqCst);
    }

    /// The park callback, under the descriptor lock: count a waiter, then true if no close
    /// began and no event came since `snap` (link the node and park) — false: do not park
    /// (the waiter stays counted: `delist` it after). `closing` needs no Dekker here: it
    /// changes only under the lock we hold.
    pub(crate) fn enlist(&self, snap: u32, close: &CloseGate) -> bool {
        self.nwait.fetch_add(1, SeqCst);
        // Dekker: pairs with `event` (see the type).
        seqcst_storeload(SeqCst, SeqCst);
        !close.is_closing() && self.gen.load(SeqCst) == snap
    }

    /// Uncount a waiter counted by `enlist` (under the lock, with its node unlinked).
    pub(crate) fn delist(&self) {
        self.nwait.fetch_sub(1, SeqCst);
    }
}

/// The close protocol's words. All-zero is fresh (not closing, no operation).
///
/// Dekker's pattern: an operation counts itself in `ops` and then reads `closing`
/// (`begin_op`); a closer sets `closing` and then reads `ops` (`start_close`, then
/// `ops_in_flight`). So either the operation sees the close (and waits it out) or the closer
/// sees the operation (and waits for its `end_op`, whose Release its load acquires: the
/// operation's use of the fd happens before the real close).
pub(crate) struct CloseGate {
    /// Set and cleared under the descriptor lock by a closer; read by anyone. SeqCst: the
    /// store side of the closer's two Dekker pairs (against `ops`, and against the slots),
    /// the load side of the operation's and the slot waiter's.
    closing: AtomicBool,
    /// Operations in flight. SeqCst increment: the store side of `begin_op`; the closer's
    /// load is SeqCst (the load side of its pair; Acquire of `end_op`'s Release).
    ops: AtomicU32,
}

impl CloseGate {
    #[cfg(loom)]
    pub(crate) fn new() -> Self {
        CloseGate {
            closing: AtomicBool::new(false),
            ops: AtomicU32::new(0),
        }
    }

    /// Count an operation in flight, unless a close is in progress (false: not counted; wait
    /// it out with `wait_closed` before trying again).
    pub(crate) fn try_begin_op(&self) -> bool {
        self.ops.fetch_add(1, SeqCst);
        // Dekker: pairs with `start_close` + `ops_in_flight` (see the type).
        seqcst_storeload(SeqCst, SeqCst);
        if !self.closing.load(SeqCst) {
            return true;
        }
        self.ops.fetch_sub(1, SeqCst);
        false
    }

    /// Wait out a close in progress (`yield_` between looks: the runtime's gosched).
    /// Acquire: pairs with `end_close`'s store, so what the closer did (the real close, the
    /// descriptor's reset) happens before the caller's retry.
    pub(crate) fn wait_closed(&self, mut yield_: impl FnMut()) {
        while self.closing.load(Acquire) {
            yield_();
        }
    }

    /// Count an operation in flight, waiting out a close in progress. The caller holds no
    /// other operation (the closer may be waiting for it).
    pub(crate) fn begin_op(&self, mut yield_: impl FnMut()) {
        while !self.try_begin_op() {
            self.wait_closed(&mut yield_);
        }
    }

    /// fd_new (mod.rs): no operation in flight and no close in progress — a heuristic
    /// snapshot (Acquire loads: what the last operation or close did is visible).
    #[cfg_attr(loom, allow(dead_code))] // not modeled
    pub(crate) fn quiet(&self) -> bool {
        self.ops.load(Acquire) == 0 && !self.closing.load(Acquire)
    }

    /// The operation is over. Release: pairs with the closer's load in `ops_in_flight`.
    pub(crate) fn end_op(&self) {
        self.ops.fetch_sub(1, Release);
    }

    /// Whether a close began. SeqCst: the load side of the waiters' Dekker pairs
    /// (`Slot::begin_wait`; under the lock in the list waiter's callback it needs no more).
    pub(crate) fn is_closing(&self) -> bool {
        self.closing.load(SeqCst)
    }

    /// The closer, under the descriptor lock: mark closing. False if another close of the
    /// number is in progress (the caller drops the lock and retries). The caller then wakes
    /// every waiter (`Slot::unblock(false)`, `ListGate::bump`, the lists) and waits for
    /// `ops_in_flight` to turn false.
    pub(crate) fn start_close(&self) -> bool {
        // Relaxed: `closing` changes only under the lock, which we hold.
        if self.closing.load(Relaxed) {
            return false;
        }
        self.closing.store(true, SeqCst);
        // Dekker: our store before the loads that follow — the slots' in `Slot::unblock`
        // (pairs with `Slot::begin_wait`) and `ops` in `ops_in_flight` (pairs with
        // `begin_op`).
        seqcst_storeload(SeqCst, SeqCst);
        true
    }

    /// The closer: is an operation that did not see `closing` still in flight? SeqCst: the
    /// load side of the pair with `begin_op` (and Acquire of `end_op`).
    pub(crate) fn ops_in_flight(&self) -> bool {
        self.ops.load(SeqCst) != 0
    }

    /// The closer, under the lock, after the real close and the reset: done. SeqCst (Release
    /// would do: pairs with `begin_op`'s Acquire wait).
    pub(crate) fn end_close(&self) {
        self.closing.store(false, SeqCst);
    }
}

/// Bit 0 of a list wait's token while its park callback still links its nodes.
pub(crate) const PARKING: u64 = 1;
/// The token word after a waker came during the parking phase.
pub(crate) const FIRED: u64 = 1;

// The token protocol (a goroutine's `pollwait`): 0 when not waiting; a slot wait's token
// (even, non-zero); a list wait's token | PARKING while its callback links its nodes, then
// the token. A waker that finds the token takes it (-> 0) and readies the goroutine; one that
// finds token | PARKING only marks FIRED, and the callback, finding FIRED at its end, does not
// park. Every change is a CAS or a store of the goroutine itself; the Acquire/Release pairs
// order the goroutine's set-up (its nodes, its timer) before a waker's use of them.

/// Win a wait `token` (a waker: event, close, timeout). True: the caller owns the wake-up
/// and readies the goroutine. AcqRel CAS: against the other wakers' and `end_parking`'s.
pub(crate) fn win(w: &AtomicU64, token: u64) -> bool {
    loop {
        // Acquire: pairs with `start_parking`/`arm`/`end_parking`.
        let v = w.load(Acquire);
        if v == token {
            if w.compare_exchange(token, 0, AcqRel, Relaxed).is_ok() {
                return true;
            }
        } else if v == token | PARKING {
            if w.compare_exchange(v, FIRED, AcqRel, Relaxed).is_ok() {
                return false;
            }
        } else {
            return false;
        }
    }
}

/// A slot wait's token (the timer checks it; nobody wins it). Release: the goroutine's
/// `pollslot` before it, for the timer's Acquire load.
pub(crate) fn arm(w: &AtomicU64, token: u64) {
    w.store(token, Release);
}

/// A list wait begins its parking phase (before its park callback). Release: pairs with
/// `win`'s Acquire.
pub(crate) fn start_parking(w: &AtomicU64, token: u64) {
    w.store(token | PARKING, Release);
}

/// The park callback, after linking every node: end the parking phase. True: park (a
/// waker will win the token); false: a waker fired meanwhile — do not park (the word is 0).
/// AcqRel CAS: against `win`'s.
pub(crate) fn end_parking(w: &AtomicU64, token: u64) -> bool {
    if w.compare_exchange(token | PARKING, token, AcqRel, Acquire)
        .is_ok()
    {
        return true;
    }
    clear(w);
    false
}

/// The wait is over (or aborted in its callback): no token to win. Release: a late waker's
/// Acquire load finds 0 (it ignores it either way).
pub(crate) fn clear(w: &AtomicU64) {
    w.store(0, Release);
}

#[cfg(all(test, loom))]
mod loom_tests;
