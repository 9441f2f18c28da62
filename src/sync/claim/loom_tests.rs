//! Loom models of the claim protocol (claim.rs) as waiter.rs, chan.rs, select.rs and
//! semtable.rs use it. Under `cfg(loom)` only claim.rs of sync/ is built, so the models drive
//! its real functions — `claim_token`, `ThreadWord::{claim, wake, sleep}` — and replicate the
//! steps of the rest, in their order and under their locks. Stand-ins:
//!
//! - a channel: a loom Mutex around `closed` and a FIFO receive queue of sudogs (`Sg`); a
//!   sudog is linked while it is in the queue (Sudog.linked lives under the same lock).
//! - a wait's record (`Rec`): what waiter.rs keeps on the waiting stack — `param`, each
//!   sudog's `success` and receive slot — as loom UnsafeCells that the winner writes and the
//!   waiter reads, so an outcome read that is not ordered after its write is a reported race.
//!   The waiter initialises them in pass 2 under the channel locks (Waiter::new,
//!   Sudog::new) and ends the frame when it returns (`die`: it writes every cell); each
//!   claimer reads the frame right after its claim (`touch`). So a claim or a write by any
//!   party that does not happen before the waiter's return is a reported race: the record
//!   outlives every use of it.
//! - the goroutine (`Gor`, as in netpoll/slot/loom_tests.rs): its status under a Mutex +
//!   Condvar. `park` sets Waiting, runs the park callback (chan.rs park_commit: arm the
//!   timer, release the channel locks in lock order) — on the goroutine's own thread here —
//!   and blocks until readied; `ready` asserts Waiting, as proc::ready throws, so a double
//!   ready fails the model, and a lost one leaves the waiter blocked: a loom deadlock. Its
//!   `sync_token` is a loom AtomicU64 claimed with the real `claim_token`: stored (Relaxed)
//!   in pass 2 under the locks, ended by Waiter::finish (store 0).
//! - the goroutine's deadline timer: a thread that the park callback spawns when it arms it
//!   (the spawn orders the arming before it, as timer.modify's lock does), so it may fire at
//!   any point after; it runs waiter.rs `timeout` (claim with the token it was armed with,
//!   then ready; param stays TIMED_OUT). It is never stopped: every timer here is a late
//!   one, still firing after its wait ended.
//! - a thread: sleeps in the real `ThreadWord::sleep` on the emulated futex (src/loom.rs:
//!   timed waits return at once), its `left` a deadline two mock-clock steps away (one timed
//!   wait, then 0) or -1 for none.
//! - wakers: a non-blocking sender (a select with a default case: chan.rs try_send's
//!   hand-off — unlink under the lock, claim, on failure skip to the next sudog; on success
//!   write the value and success, unlock, then Waiter::wake: param, then WOKEN or ready) and
//!   a close (claims every receiver under the lock, zeroes its value, success false; wakes
//!   them after the unlock, oldest first).
//! - the waiter: select.rs's passes — 1 (a closed channel is ready), 2 (token, sudogs linked
//!   in lock order, park, or unlock and sleep), 3 (lock all again, unlink what is still
//!   linked). A wait in one queue has chan.rs op's shape (no deadline, no pass 3: it reads
//!   its outcome right after the wake, taking no lock) or, with a deadline, semtable.rs
//!   wait's (relock and unlink after a timeout only).
//!
//! Proved, under every interleaving (the models marked * exhaustively, the others within
//! LOOM_MAX_PREEMPTIONS, 3 in `make test-loom`):
//! 1. Exactly one party wins each wait that blocked — wins are counted over every claimer
//!    (wakers, the timer, the thread itself) and checked after the joins — and none a wait
//!    that returned in pass 1; the goroutine is readied once (no double wake) and every
//!    waiter returns (no lost wake).
//! 2. The winner's writes (param, the value, success) happen before the waiter reads them,
//!    on every path: a thread woken through WOKEN that takes no lock after it (thread_recv*,
//!    thread_sema_deadline*), a select's pass 3, a goroutine's ready.
//! 3. A thread whose deadline passed and that lost its own claim waits for the winner's
//!    WOKEN and returns woken, with the outcome, its record alive until the winner is done
//!    (thread_sema_deadline*, thread_select_deadline; the path is counted and asserted to
//!    occur).
//! 4. The value goes to exactly the receiver whose claim the sender won, or to nobody (the
//!    sender says which); a receiver never gets it and also reports a close or a timeout.
//! 5. A select on two channels woken by a sender on one and a close of the other (and by its
//!    deadline: the thread's own claim, or the goroutine's timer) gets exactly one outcome,
//!    and pass 3 leaves no sudog linked (checked in pass 3 and after the joins):
//!    thread_select, thread_select_deadline, goroutine_select, goroutine_select_timer.
//! 6. A dequeue that loses a claim skips to the next sudog and claims that one
//!    (skip_to_next: a thread's select and a goroutine's receive in one queue; the path is
//!    counted and asserted to occur).
//! 7. A late timer of an earlier wait never wins a later one (stale_timer: the goroutine's
//!    second wait, without a deadline, always ends closed).
//!
//! Executions and times at LOOM_MAX_PREEMPTIONS=3 (release build, a loaded 2-vCPU machine):
//! thread_recv* 63,887, 4.6 s; thread_sema_deadline* 611, 0.1 s; thread_select 5,625,
//! 0.3 s; thread_select_deadline 3,303, 0.2 s; goroutine_select 3,189, 0.2 s;
//! goroutine_select_timer 41,657, 3.4 s; skip_to_next 129,987, 12 s; stale_timer 2,584,
//! 0.2 s; park_commit_arg_read_first* 0.01 s: about 20 s together. Unbounded, the others
//! pass too: goroutine_select (108,830 executions, 7 s), stale_timer (405,325, 23 s),
//! thread_select_deadline (3.3 M, 3 minutes) and thread_select (4.6 M, 6 minutes);
//! goroutine_select_timer and skip_to_next were not tried to the end (the former did not
//! finish in 15 minutes).
//!
//! Mutations tried, each alone against every model (then restored); each made the named
//! models fail:
//! - claim.rs, `ThreadWord::claim` a plain store (every waker wins): races on the record (two
//!   winners write it) in thread_select, thread_select_deadline, thread_sema_deadline and
//!   skip_to_next. Not thread_recv: with one sudog and no deadline the unlink under the lock
//!   already keeps a second waker out; the CAS is for a select's other cases and deadlines.
//! - `claim_token` a plain store: a double ready ("a claimed goroutine was not parked") in
//!   goroutine_select_timer and stale_timer; a race in goroutine_select.
//! - `claim_token` ignoring the token (claiming whatever wait is on: `fetch_or(1)`): the
//!   stale timer readies the second wait (double ready) in stale_timer and
//!   goroutine_select_timer; in goroutine_select a loser's claim, after finish ended the
//!   token with 0, wins and writes into the dead frame (a race).
//! - `wake`'s Release on WOKEN weakened to Relaxed, or `sleep`'s Acquire load to Relaxed: a
//!   race on the outcome in all five thread models (thread_recv, thread_sema_deadline,
//!   thread_select, thread_select_deadline, skip_to_next).
//! - `sleep` not waiting for WOKEN after losing its own claim: returning woken at once, a
//!   race on the outcome; returning timed out, "a thread's sleep and its param disagree"
//!   (its failed CAS read WOKEN, so no race): both in thread_sema_deadline and
//!   thread_select_deadline. The thread's own claim as a plain store (it always "wins"): a
//!   race, in the same two. `sleep` returning on CLAIMED instead of waiting on the futex: a
//!   race in all five thread models.
//! - The stand-ins' copies of waiter.rs/select.rs steps: the token stored after the locks
//!   are released (in the park callback, after the unlocks): deadlock (a waker's claim fails
//!   against the old token: lost wake) in goroutine_select, goroutine_select_timer,
//!   skip_to_next and stale_timer. Both waits of stale_timer with one token (no `sync_seq`
//!   step), or the timer claiming the current token rather than its own: the second wait is
//!   woken without a winner, in stale_timer. `param` written after the wake: a race in all
//!   eight models; the sender's value and success written after the wake: a race in the
//!   seven with a sender. No pass 3 (sudogs left linked): a later waker's claim touches the
//!   returned waiter's frame, a race, in all but thread_recv; a one-queue wait that timed
//!   out not unlinking its sudog: the same in thread_sema_deadline and stale_timer.
//!
//! Redundant (every model passes without it): the AcqRel of the wakers' claims
//! (`claim_token` and `ThreadWord::claim`, both made Relaxed) and that of the thread's own
//! claim (made Relaxed/Relaxed), each tried alone: every waker claims under the lock of a queue the waiter is in (and the
//! timer after the arm), and the outcome travels by WOKEN's Release/Acquire or by ready, so
//! no party relies on what a claim publishes. And Waiter::finish's `sync_token.store(0)`:
//! tokens are unique per wait, so an ended wait's token|1 refuses every later claim anyway
//! (it matters only if claims ignore the token, above).
//!
//! Found and fixed (chan.rs, not claim.rs): `park_commit` read `a.locks` after `a.w.arm()`. Once
//! armed, the timer may fire at once (an M runs other Ps' due timers: proc.rs), ready the
//! goroutine, and run it on that M while this M's g0 is still in the callback: `finish`, the
//! end of `arg`'s scope, then pass 3's `lock_all`, which blocks on the first lock the
//! callback still holds. The callback's reads of `a.locks` (pointer and length, from `arg`
//! on the goroutine's stack) then race with whatever reuses that slot. Its note "The
//! goroutine may be woken as soon as the first is released" holds for wakers, not for the
//! timer (only a select with a deadline arms one; a channel operation's callback is safe). loom reports it in `park_commit_arg` (ignored: a report, not a check), a model with
//! the callback on its own thread (g0), the timer and the goroutine's frame as an
//! UnsafeCell. Fixed: chan.rs reads `locks` and `n` before `arm()` (as semtable.rs's callback
//! already did); `park_commit_arg_read_first` checks that order. The window is a
//! few instructions against a timer steal, a ready and a schedule, and the slot may never be
//! reused, but it is a data race in the language's terms.
//!
//! Not covered: blocked senders (sendq; a receiver taking from a waiting sender runs the same
//! unlink/claim/wake steps, mirrored), buffered channels, select's random poll order, more
//! than two channels or waiters, refs and Chan::free, the real futex, RawLock and timer
//! heap, proc::ready's run queues (the Gor's mutex gives the edge that ready and the
//! schedule give), the goroutine running while g0 is still in its park callback (only in
//! park_commit_arg; the other models run the callback on the goroutine's thread),
//! semtable's `nwait` Dekker pair and cond's release of the user mutex (not the claim
//! protocol), and `timer.stop` (every timer here fires late). Loom never lets a load read a
//! store that comes later in its execution (no load buffering).

use super::{claim_token, ThreadWord};
use crate::loom::nanotime;
use core::sync::atomic::Ordering::*;
use loom::cell::UnsafeCell;
use loom::sync::atomic::AtomicU64;
use loom::sync::{Arc, Condvar, Mutex, MutexGuard};
use loom::thread;
use std::sync::atomic::AtomicUsize as StdCount;

/// `param` of a waiter nobody claimed (waiter.rs).
const TIMED_OUT: usize = 0;
/// What the sender sends.
const VALUE: u32 = 42;
/// What a waiter's receive slot holds before anyone writes it (stack garbage).
const GARBAGE: u32 = 7;

/// Read a cell of a record (or of `arg`).
fn rd<T: Copy>(c: &UnsafeCell<T>) -> T {
    // SAFETY: loom checks the access against every other one to the cell, and fails the
    // model on one that is not ordered with it (that is what these cells are for).
    c.with(|p| unsafe { *p })
}

/// Write a cell of a record (or of `arg`).
fn wr<T>(c: &UnsafeCell<T>, v: T) {
    // SAFETY: as rd.
    c.with_mut(|p| unsafe { *p = v })
}

// ---------------------------------------------------------------------------------------
// The goroutine (proc.rs's park/ready), as in netpoll/slot/loom_tests.rs.

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Status {
    Running,
    Waiting,
    Runnable,
}

/// A goroutine: its status and its `sync_token` (G's fields).
struct Gor {
    status: Mutex<Status>,
    cv: Condvar,
    sync_token: AtomicU64,
}

impl Gor {
    fn new() -> Self {
        Gor {
            status: Mutex::new(Status::Running),
            cv: Condvar::new(),
            sync_token: AtomicU64::new(0),
        }
    }

    /// gopark_holding: the status becomes Waiting (park_m), the park callback runs (on g0: here
    /// on the goroutine's own thread), then block until readied.
    fn park(&self, commit: impl FnOnce()) {
        *self.status.lock().unwrap() = Status::Waiting;
        commit();
        let mut s = self.status.lock().unwrap();
        while *s != Status::Runnable {
            s = self.cv.wait(s).unwrap();
        }
        *s = Status::Running;
    }

    /// proc::ready: the caller won the claim. Throws (here: fails the model) unless the
    /// goroutine is parked, so a double ready is caught.
    fn ready(&self) {
        let mut s = self.status.lock().unwrap();
        assert_eq!(
            *s,
            Status::Waiting,
            "sync: a claimed goroutine was not parked"
        );
        *s = Status::Runnable;
        self.cv.notify_one();
    }
}

// ---------------------------------------------------------------------------------------
// The waiter (waiter.rs's Waiter and its sudogs' stack fields).

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    /// A thread: sleeps on its ThreadWord.
    Thread,
    /// The goroutine `World::g`: parks; claimed on its sync_token.
    Goroutine,
}

/// One wait's record: what waiter.rs keeps on the waiting stack (the Waiter and the sudogs'
/// `success`/`elem` target). Every field a waker touches is a loom UnsafeCell, and the
/// waiter ends the frame (`die`) when it returns, so loom reports any access that does not
/// happen before the frame's end, or a read of the outcome not after its write.
struct Rec {
    kind: Kind,
    /// The goroutine's token for this wait (Waiter.token).
    token: u64,
    /// A thread's word (Waiter.word).
    word: ThreadWord,
    /// Waiter.param: the winning sudog (case + 1) or TIMED_OUT.
    param: UnsafeCell<usize>,
    /// Sudog.success, per case.
    success: [UnsafeCell<bool>; 2],
    /// The receive slots (Sudog.elem's target), per case.
    value: [UnsafeCell<u32>; 2],
    /// The rest of the frame (Waiter.gp/token, Sudog.waiter/elem): read by every party that
    /// touches the record (`touch`), written when the waiter returns.
    frame: UnsafeCell<u32>,
    /// Claims won on this wait, by anyone (checked after the joins; a plain counter, not a
    /// loom atomic, so that it adds no interleavings).
    wins: StdCount,
}

impl Rec {
    fn new(kind: Kind, token: u64) -> Self {
        Rec {
            kind,
            token,
            word: ThreadWord::new(),
            param: UnsafeCell::new(GARBAGE as usize),
            success: [UnsafeCell::new(true), UnsafeCell::new(true)],
            value: [UnsafeCell::new(GARBAGE), UnsafeCell::new(GARBAGE)],
            frame: UnsafeCell::new(0),
            wins: StdCount::new(0),
        }
    }

    /// Waiter::new and Sudog::new in pass 2 (under the channel locks): the frame's fields.
    fn init(&self) {
        wr(&self.frame, 1);
        wr(&self.param, TIMED_OUT);
        for s in &self.success {
            wr(s, false);
        }
    }

    /// A party other than the waiter used the record (read its frame).
    fn touch(&self) {
        let f = rd(&self.frame);
        assert_eq!(f, 1, "a waiter's record touched outside its wait");
    }

    /// The waiter returned: its frame is reused.
    fn die(&self) {
        wr(&self.frame, 2);
        wr(&self.param, usize::MAX);
        for s in &self.success {
            wr(s, true);
        }
        for v in &self.value {
            wr(v, GARBAGE);
        }
    }
}

/// One entry of a channel's receive queue: waiter `w`'s sudog of case `k`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Sg {
    w: usize,
    k: usize,
}

/// A channel's state under its lock (chan.rs State; only what the models use: receivers).
struct ChanSt {
    closed: bool,
    /// recvq, FIFO; a sudog is `linked` while it is in here.
    recvq: Vec<Sg>,
}

/// How a receive (or a select of receives) ended.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum End {
    /// Case k received VALUE from a sender.
    Value(usize),
    /// Case k's channel was closed, seen in pass 1 (no wait).
    ClosedAtOnce(usize),
    /// Case k's channel was closed while it waited.
    Closed(usize),
    TimedOut,
}

/// A model's shared state: the channels, the waits' records, the goroutine and its timer.
struct World {
    chans: Vec<Mutex<ChanSt>>,
    recs: Vec<Rec>,
    g: Gor,
    /// The goroutine's deadline timer, once a park callback armed it (`timer.modify`: here
    /// a thread spawned then, which orders the arming before it as the timer's lock does).
    timer: std::sync::Mutex<Option<thread::JoinHandle<()>>>,
    /// Paths taken (for the tallies): a dequeue skipped a sudog whose claim it lost; it then
    /// claimed the next; a thread's deadline passed, it lost its own claim, returned woken.
    skipped: StdCount,
    skipped_then_won: StdCount,
    lost_own_claim: StdCount,
}

// SAFETY: the records' cells are accessed as waiter.rs does; loom checks each access.
unsafe impl Sync for World {}

impl World {
    fn new(nchans: usize, recs: Vec<Rec>) -> Arc<Self> {
        Arc::new(World {
            chans: (0..nchans)
                .map(|_| {
                    Mutex::new(ChanSt {
                        closed: false,
                        recvq: Vec::new(),
                    })
                })
                .collect(),
            recs,
            g: Gor::new(),
            timer: std::sync::Mutex::new(None),
            skipped: StdCount::new(0),
            skipped_then_won: StdCount::new(0),
            lost_own_claim: StdCount::new(0),
        })
    }

    /// Waiter::claim: the caller holds the lock of a queue the waiter was in.
    fn claim(&self, s: Sg) -> bool {
        let r = &self.recs[s.w];
        let won = match r.kind {
            Kind::Thread => r.word.claim(),
            Kind::Goroutine => claim_token(&self.g.sync_token, r.token),
        };
        r.touch();
        if won {
            r.wins.fetch_add(1, Relaxed);
        }
        won
    }

    /// WaitQ::dequeue: unlink from the front until a sudog whose waiter this caller claims.
    fn dequeue(&self, q: &mut Vec<Sg>) -> Option<Sg> {
        let mut skipped = false;
        while !q.is_empty() {
            let s = q.remove(0);
            if self.claim(s) {
                if skipped {
                    self.skipped_then_won.fetch_add(1, Relaxed);
                }
                return Some(s);
            }
            skipped = true;
            self.skipped.fetch_add(1, Relaxed);
        }
        None
    }

    /// Waiter::wake, after the channel lock is released: param, then the wake.
    fn wake(&self, s: Sg) {
        let r = &self.recs[s.w];
        wr(&r.param, s.k + 1);
        match r.kind {
            Kind::Thread => r.word.wake(),
            Kind::Goroutine => self.g.ready(),
        }
    }

    /// A send that does not block (a select with a default case: pass 1 only): chan.rs
    /// try_send's hand-off to a waiting receiver, then the wake. Returns the receiver.
    fn try_send(&self, c: usize) -> Option<Sg> {
        let mut st = self.chans[c].lock().unwrap();
        if st.closed {
            return None; // -EPIPE
        }
        let s = self.dequeue(&mut st.recvq)?;
        let r = &self.recs[s.w];
        wr(&r.value[s.k], VALUE);
        wr(&r.success[s.k], true);
        drop(st);
        self.wake(s);
        Some(s)
    }

    /// chan.rs close: claim every receiver under the lock (zero its value, success false),
    /// wake them after the unlock, in FIFO order.
    fn close(&self, c: usize) {
        let mut claimed = Vec::new();
        let mut st = self.chans[c].lock().unwrap();
        assert!(!st.closed);
        st.closed = true;
        while let Some(s) = self.dequeue(&mut st.recvq) {
            let r = &self.recs[s.w];
            wr(&r.value[s.k], 0);
            wr(&r.success[s.k], false);
            claimed.push(s);
        }
        drop(st);
        for s in claimed {
            self.wake(s);
        }
    }

    fn lock_all(&self, chans: &[usize]) -> Vec<MutexGuard<'_, ChanSt>> {
        chans
            .iter()
            .map(|&c| self.chans[c].lock().unwrap())
            .collect()
    }

    /// select.rs's select of receives on `chans` (distinct, in lock order) by waiter `w`,
    /// blocking, with a deadline or not. On one channel it is a wait in one queue, shaped as
    /// chan.rs's receive (`op`; no deadline) and semtable.rs's `wait` (with one): the same
    /// but for pass 3, which becomes an unlink after a timeout only.
    fn select(this: &Arc<Self>, w: usize, chans: &[usize], deadline: bool) -> End {
        let r = &this.recs[w];
        // Pass 1: a closed channel is ready (no senders wait in these models).
        let mut locked = this.lock_all(chans);
        for (k, st) in locked.iter().enumerate() {
            if st.closed {
                drop(locked);
                return End::ClosedAtOnce(k);
            }
        }
        // Pass 2: the waiter, its sudogs linked in lock order.
        r.init();
        if r.kind == Kind::Goroutine {
            // Waiter::new's Relaxed store: wakers see it through the lock, the timer
            // through its own.
            this.g.sync_token.store(r.token, Relaxed);
        }
        for (k, st) in locked.iter_mut().enumerate() {
            st.recvq.push(Sg { w, k });
        }
        match r.kind {
            Kind::Goroutine => {
                // park_commit: arm the timer, then release the locks in lock order.
                this.g.park(|| {
                    if deadline {
                        let (me, token) = (this.clone(), r.token);
                        let t = thread::spawn(move || me.timer(token));
                        *this.timer.lock().unwrap() = Some(t);
                    }
                    drop(locked);
                });
                // Waiter::finish: (stop the timer: too late for one that fires now) end the
                // token.
                this.g.sync_token.store(0, Relaxed);
            }
            Kind::Thread => {
                drop(locked);
                // sleep_thread with the deadline two clock steps away.
                let dl = nanotime() + 2;
                let mut passed = false;
                let woke = r.word.sleep(|| {
                    if !deadline {
                        return -1;
                    }
                    let ns = (dl - nanotime()).max(0);
                    passed |= ns == 0;
                    ns
                });
                if !woke {
                    // Its own claim: counted like any other.
                    r.wins.fetch_add(1, Relaxed);
                } else if passed {
                    // Its deadline passed but a waker won: it waited for the WOKEN.
                    this.lost_own_claim.fetch_add(1, Relaxed);
                }
                assert_eq!(
                    woke,
                    rd(&r.param) != TIMED_OUT,
                    "a thread's sleep and its param disagree"
                );
            }
        }
        let winner = rd(&r.param);
        if chans.len() == 1 && winner != TIMED_OUT {
            // A wait in one queue (chan.rs op, semtable.rs wait), woken: its waker unlinked
            // the sudog; it reads `success` and the value at once, taking no lock.
            assert_eq!(winner, 1);
        } else {
            // A select's pass 3, or a one-queue wait that timed out (semtable.rs wait; a
            // channel receive has no deadline): unlink what is still linked, under the
            // lock(s) again.
            assert!(chans.len() > 1 || deadline, "a wait woken without a winner");
            let mut locked = World::lock_all(this, chans);
            for (k, st) in locked.iter_mut().enumerate() {
                if let Some(i) = st.recvq.iter().position(|&s| s == Sg { w, k }) {
                    assert!(winner != k + 1, "the winning sudog is still linked");
                    st.recvq.remove(i);
                }
            }
            drop(locked);
        }
        if winner == TIMED_OUT {
            assert!(deadline, "timed out without a deadline");
            return End::TimedOut;
        }
        let k = winner - 1;
        assert!(k < chans.len());
        let ok = rd(&r.success[k]);
        let v = rd(&r.value[k]);
        if ok {
            assert_eq!(v, VALUE);
            End::Value(k)
        } else {
            assert_eq!(v, 0, "a closed channel's receiver gets a zeroed value");
            End::Closed(k)
        }
    }

    /// The waiter's whole wait, then the frame's end.
    fn wait(this: &Arc<Self>, w: usize, chans: &[usize], deadline: bool) -> End {
        let o = World::select(this, w, chans, deadline);
        this.recs[w].die();
        o
    }

    /// The goroutine's deadline timer (waiter.rs `timeout`), started when the park callback
    /// arms it (it may fire at once): claim with the token it was armed with and ready the
    /// goroutine (param stays TIMED_OUT). It never sees a `stop`: it is the timer that fires
    /// late, just as its wait ends or after.
    fn timer(&self, token: u64) {
        if claim_token(&self.g.sync_token, token) {
            let r = self.recs.iter().find(|r| r.token == token).unwrap();
            r.wins.fetch_add(1, Relaxed);
            self.g.ready();
        }
    }

    /// Join the timer, if a wait armed it.
    fn join_timer(&self) {
        if let Some(t) = self.timer.lock().unwrap().take() {
            t.join().unwrap();
        }
    }

    /// After the joins: one winner per wait that blocked, and nothing linked.
    fn check_end(&self, blocked: &[bool]) {
        for (r, &b) in self.recs.iter().zip(blocked) {
            assert_eq!(r.wins.load(Relaxed), b as usize, "claims won on one wait");
        }
        for c in &self.chans {
            assert!(c.lock().unwrap().recvq.is_empty(), "a sudog left linked");
        }
    }
}

// ---------------------------------------------------------------------------------------
// Models.

/// Run a model with no preemption bound (whatever LOOM_MAX_PREEMPTIONS says), for the models
/// small enough to explore every interleaving in seconds.
fn exhaustive(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    b.preemption_bound = None;
    b.check(f);
}

/// How many executions of a model ended each way, and in how many each rare path was taken
/// (kept outside loom, to assert afterwards that the model reached them).
#[derive(Clone, Default)]
struct Tally(std::sync::Arc<std::sync::Mutex<std::collections::BTreeMap<String, usize>>>);

impl Tally {
    fn add(&self, key: &str) {
        *self.0.lock().unwrap().entry(key.to_string()).or_insert(0) += 1;
    }
    /// Count the execution's outcome and the paths its world took.
    fn end(&self, outcome: String, w: &World) {
        self.add(&outcome);
        self.add("executions");
        for (key, n) in [
            ("path: a dequeue skipped a lost sudog", &w.skipped),
            ("path: ... then claimed the next", &w.skipped_then_won),
            ("path: a thread lost its own claim", &w.lost_own_claim),
        ] {
            if n.load(Relaxed) > 0 {
                self.add(key);
            }
        }
    }
    fn get(&self, key: &str) -> usize {
        self.0.lock().unwrap().get(key).copied().unwrap_or(0)
    }
    fn print(&self, name: &str) {
        eprintln!("{name}: {:?}", self.0.lock().unwrap());
    }
}

/// A wait that returned in pass 1 was never claimed; any other, exactly once.
fn blocked(o: End) -> bool {
    !matches!(o, End::ClosedAtOnce(_))
}

/// A select of receives on ch0 and ch1 by one waiter (the main thread), against a
/// non-blocking sender on ch0 and a close of ch1 (and, for a goroutine with a deadline, its
/// timer): exactly one of them wins; the waiter gets the value iff the sender says it gave
/// it; nothing stays linked.
fn select_send_close(kind: Kind, deadline: bool) -> Tally {
    let t = Tally::default();
    let t2 = t.clone();
    loom::model(move || {
        let w = World::new(2, vec![Rec::new(kind, 2)]);
        let (ws, wc) = (w.clone(), w.clone());
        let snd = thread::spawn(move || ws.try_send(0));
        let cls = thread::spawn(move || wc.close(1));
        let o = World::wait(&w, 0, &[0, 1], deadline);
        let sent = snd.join().unwrap();
        cls.join().unwrap();
        w.join_timer();
        assert_eq!(sent.is_some(), o == End::Value(0), "{o:?} {sent:?}");
        assert!(
            !matches!(o, End::Closed(0) | End::ClosedAtOnce(0) | End::Value(1)),
            "{o:?}"
        );
        w.check_end(&[blocked(o)]);
        t2.end(format!("{o:?}"), &w);
    });
    for o in ["Value(0)", "Closed(1)", "ClosedAtOnce(1)"] {
        assert!(t.get(o) > 0, "{o} never occurred");
    }
    assert_eq!(t.get("TimedOut") > 0, deadline);
    assert!(t.get("path: a dequeue skipped a lost sudog") > 0);
    t
}

/// A thread's receive (chan.rs op: no deadline, no pass 3) on ch0 against a non-blocking
/// sender and a close of ch0: it gets the value or the close, the outcome seen through the
/// WOKEN alone (no lock is taken after the wake).
#[test]
fn loom_sync_claim_thread_recv() {
    let t = Tally::default();
    let t2 = t.clone();
    exhaustive(move || {
        let w = World::new(1, vec![Rec::new(Kind::Thread, 0)]);
        let (ws, wc) = (w.clone(), w.clone());
        let snd = thread::spawn(move || ws.try_send(0));
        let cls = thread::spawn(move || wc.close(0));
        let o = World::wait(&w, 0, &[0], false);
        let sent = snd.join().unwrap();
        cls.join().unwrap();
        assert_eq!(sent.is_some(), o == End::Value(0), "{o:?} {sent:?}");
        assert!(
            matches!(o, End::Value(0) | End::Closed(0) | End::ClosedAtOnce(0)),
            "{o:?}"
        );
        w.check_end(&[blocked(o)]);
        t2.end(format!("{o:?}"), &w);
    });
    t.print("thread_recv");
    for o in ["Value(0)", "Closed(0)", "ClosedAtOnce(0)"] {
        assert!(t.get(o) > 0, "{o} never occurred");
    }
}

/// A thread's wait in one queue with a deadline (semtable.rs wait: relock and unlink only
/// after a timeout) against a waker that dequeues it (semrelease: unlink, claim, hand over,
/// wake): the waker's claim and the thread's own race. If the thread loses its own claim it
/// waits for the WOKEN and returns woken, with the hand-over visible.
#[test]
fn loom_sync_claim_thread_sema_deadline() {
    let t = Tally::default();
    let t2 = t.clone();
    exhaustive(move || {
        let w = World::new(1, vec![Rec::new(Kind::Thread, 0)]);
        let ws = w.clone();
        let snd = thread::spawn(move || ws.try_send(0));
        let o = World::wait(&w, 0, &[0], true);
        let sent = snd.join().unwrap();
        assert_eq!(sent.is_some(), o == End::Value(0), "{o:?} {sent:?}");
        assert!(matches!(o, End::Value(0) | End::TimedOut), "{o:?}");
        w.check_end(&[true]);
        t2.end(format!("{o:?}"), &w);
    });
    t.print("thread_sema_deadline");
    for o in ["Value(0)", "TimedOut", "path: a thread lost its own claim"] {
        assert!(t.get(o) > 0, "{o} never occurred");
    }
}

#[test]
fn loom_sync_claim_thread_select() {
    select_send_close(Kind::Thread, false).print("thread_select");
}

/// The thread's own claim against the sender's and the close's.
#[test]
fn loom_sync_claim_thread_select_deadline() {
    let t = select_send_close(Kind::Thread, true);
    t.print("thread_select_deadline");
    assert!(t.get("path: a thread lost its own claim") > 0);
}

#[test]
fn loom_sync_claim_goroutine_select() {
    select_send_close(Kind::Goroutine, false).print("goroutine_select");
}

/// The timer's claim against the sender's and the close's.
#[test]
fn loom_sync_claim_goroutine_select_timer() {
    select_send_close(Kind::Goroutine, true).print("goroutine_select_timer");
}

/// Two waiters in ch0's queue: a thread selecting on ch0 and ch1 (rec 0, the main thread) and
/// the goroutine receiving on ch0 alone (rec 1); a non-blocking sender on ch0 and a close of
/// ch1; once the select is done, a close of ch0 releases the goroutine if it still waits.
/// The sender that finds the selector's sudog claimed by the close skips to the goroutine's;
/// the value goes to exactly the receiver the sender claimed.
#[test]
fn loom_sync_claim_skip_to_next() {
    let t = Tally::default();
    let t2 = t.clone();
    loom::model(move || {
        let w = World::new(
            2,
            vec![Rec::new(Kind::Thread, 0), Rec::new(Kind::Goroutine, 2)],
        );
        let (ws, wc, wg) = (w.clone(), w.clone(), w.clone());
        let snd = thread::spawn(move || ws.try_send(0));
        let cls = thread::spawn(move || wc.close(1));
        let g = thread::spawn(move || World::wait(&wg, 1, &[0], false));
        let o = World::wait(&w, 0, &[0, 1], false);
        let sent = snd.join().unwrap();
        cls.join().unwrap();
        w.close(0);
        let og = g.join().unwrap();
        let got = (o == End::Value(0), og == End::Value(0));
        match sent {
            Some(Sg { w: 0, k: 0 }) => assert_eq!(got, (true, false), "{o:?} {og:?}"),
            Some(Sg { w: 1, k: 0 }) => assert_eq!(got, (false, true), "{o:?} {og:?}"),
            None => assert_eq!(got, (false, false), "{o:?} {og:?}"),
            Some(s) => panic!("{s:?}"),
        }
        assert!(
            matches!(o, End::Value(0) | End::Closed(1) | End::ClosedAtOnce(1)),
            "{o:?}"
        );
        assert!(
            matches!(og, End::Value(0) | End::Closed(0) | End::ClosedAtOnce(0)),
            "{og:?}"
        );
        w.check_end(&[blocked(o), blocked(og)]);
        t2.end(format!("{o:?}/{og:?}"), &w);
    });
    t.print("skip_to_next");
    assert!(t.get("path: ... then claimed the next") > 0);
}

/// The late timer of an earlier wait: the goroutine waits in ch0's queue with a deadline
/// (token 2; its timer is never stopped in time), then in ch1's without one (token 4);
/// another thread closes ch0, then ch1. The timer may win the first wait, never the second:
/// the second always ends closed (a ready by the stale timer would end it without a winner,
/// or ready a goroutine that is not parked).
#[test]
fn loom_sync_claim_stale_timer() {
    let t = Tally::default();
    let t2 = t.clone();
    loom::model(move || {
        let w = World::new(
            2,
            vec![Rec::new(Kind::Goroutine, 2), Rec::new(Kind::Goroutine, 4)],
        );
        let wc = w.clone();
        let cls = thread::spawn(move || {
            wc.close(0);
            wc.close(1);
        });
        let o1 = World::wait(&w, 0, &[0], true);
        let o2 = World::wait(&w, 1, &[1], false);
        cls.join().unwrap();
        w.join_timer();
        assert!(
            matches!(o1, End::Closed(0) | End::ClosedAtOnce(0) | End::TimedOut),
            "{o1:?}"
        );
        assert!(
            matches!(o2, End::Closed(0) | End::ClosedAtOnce(0)),
            "{o2:?}"
        );
        w.check_end(&[blocked(o1), blocked(o2)]);
        t2.end(format!("{o1:?}/{o2:?}"), &w);
    });
    t.print("stale_timer");
    // Among them: the close won the first wait and the timer fired during the second.
    assert!(t.get("Closed(0)/Closed(0)") > 0);
}

// ---------------------------------------------------------------------------------------
// The park callback on g0 (chan.rs park_commit), concurrent with the goroutine it parked.

/// A RawLock that any thread may release (the park callback runs on g0, not on the G).
struct RawLock {
    held: Mutex<bool>,
    cv: Condvar,
}

impl RawLock {
    fn lock(&self) {
        let mut h = self.held.lock().unwrap();
        while *h {
            h = self.cv.wait(h).unwrap();
        }
        *h = true;
    }
    fn unlock(&self) {
        *self.held.lock().unwrap() = false;
        self.cv.notify_all();
    }
}

struct ParkWorld {
    /// The channel's lock.
    lock: RawLock,
    g: Gor,
    /// The select frame's `arg` (ParkArg: `w` and `locks`), which park_commit reads; after
    /// `gopark_holding` returns, its scope ends and its slot may hold another local.
    arg: UnsafeCell<usize>,
}

// SAFETY: `arg` is accessed as select.rs and park_commit do; loom checks each access.
unsafe impl Sync for ParkWorld {}

/// A goroutine's select with a deadline (one case), its park callback on g0 and its timer:
/// `arm_first` is park_commit's order (arm, then read `a.locks`, then unlock); otherwise the
/// locks are read before the arm.
fn park_commit_arg(arm_first: bool) {
    exhaustive(move || {
        let w = Arc::new(ParkWorld {
            lock: RawLock {
                held: Mutex::new(false),
                cv: Condvar::new(),
            },
            g: Gor::new(),
            arg: UnsafeCell::new(0),
        });
        // Passes 1 and 2, under the lock: the token, then `let arg = ParkArg { .. }`.
        w.lock.lock();
        w.g.sync_token.store(2, Relaxed);
        wr(&w.arg, 1);
        // gopark_holding: Waiting, then the callback on g0.
        *w.g.status.lock().unwrap() = Status::Waiting;
        let wg0 = w.clone();
        let g0 = thread::spawn(move || {
            let arm = || {
                let wt = wg0.clone();
                thread::spawn(move || {
                    if claim_token(&wt.g.sync_token, 2) {
                        wt.g.ready();
                    }
                })
            };
            let (t, locks) = if arm_first {
                let t = arm();
                (t, rd(&wg0.arg))
            } else {
                let l = rd(&wg0.arg);
                (arm(), l)
            };
            assert_eq!(locks, 1);
            wg0.lock.unlock();
            t
        });
        {
            let mut s = w.g.status.lock().unwrap();
            while *s != Status::Runnable {
                s = w.g.cv.wait(s).unwrap();
            }
            *s = Status::Running;
        }
        // finish, then the end of `arg`'s scope: its slot reused (`winner`, say).
        w.g.sync_token.store(0, Relaxed);
        wr(&w.arg, 0);
        // Pass 3.
        w.lock.lock();
        w.lock.unlock();
        g0.join().unwrap().join().unwrap();
    });
}

/// park_commit as it was before the fix (arm, then read the lock list): loom reports the g0's
/// read of `arg` concurrent with the goroutine's reuse of its slot (the timer readied it
/// between the arm and the read). Ignored: it shows the race the fix removed (chan.rs now reads
/// first: `loom_sync_claim_park_commit_arg_read_first`).
#[test]
#[ignore]
fn loom_sync_claim_park_commit_arg() {
    park_commit_arg(true);
}

/// The order the fix proposes (everything read from `arg` before the arm): no race.
#[test]
fn loom_sync_claim_park_commit_arg_read_first() {
    park_commit_arg(false);
}
