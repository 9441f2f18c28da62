//! Loom model checks of the netpoller's lock-free protocols (slot.rs), driving the very
//! functions pd.rs and wait.rs call, in the order they call them. The rest is stand-ins:
//!
//! - the goroutine (`Gor`): its status under a loom Mutex + Condvar. `park(commit)` is gopark:
//!   the status becomes Waiting, the park callback runs, and on true the goroutine blocks
//!   until readied (on false it runs on). `ready` is proc::ready: it asserts the status is
//!   Waiting (the runtime throws "woke a goroutine that was not parked"), so a double ready
//!   fails the model; a lost wake-up leaves the waiter blocked forever, which loom reports as
//!   a deadlock.
//! - the kernel's view of the fd (`data`): a loom Mutex<bool>. The waiter's attempt at the
//!   call locks it and reads; an event's source sets it under it before the event is
//!   delivered. The socket lock does that in the kernel: an attempt that found nothing
//!   happens before the write that the event reports.
//! - the descriptor lock and a waiter list of one node: a loom Mutex.
//! - the deadline timer: a thread that, if the wait armed it (a flag the park callback sets,
//!   as `timer.modify` does), marks the deadline passed and runs wait.rs's `timeout` steps.
//! - the fd itself for the close protocol: a loom UnsafeCell that operations read and the
//!   real close writes, so an operation's use unordered with the close is a data race, which
//!   loom reports.
//!
//! Proved, under every interleaving up to the preemption bound (LOOM_MAX_PREEMPTIONS, 3 in
//! `make test-loom`), per protocol:
//! 1. Slot (Go's rg/wg), `slot_*`: no lost wake-up (an event after the waiter's attempt makes
//!    its commit fail or readies it: the waiter always returns, with the data), no double
//!    ready (event, timeout and close: at most one readies a committed G), a close is always
//!    seen (the waiter returns `Closed`, or the data if the event won).
//! 2. The waiter-list Dekker (`ListGate`), `list_*`: no lost wake-up for a list waiter.
//! 3. The token protocol, `list_*` too (every list wait goes through it): at most one waker
//!    readies the G; a waker during the parking phase never readies it (asserted) and the
//!    callback then does not park; a waker after it readies it (else: deadlock).
//! 4. The close protocol (`CloseGate`), `close_ops`: the real close never runs while an
//!    operation that did not see `closing` is in flight.
//!
//! Mutations tried (each made the named models fail; see the report in the commit):
//! - 1: `Slot::commit` as a plain store (the WAIT -> G CAS gone): lost wake-up (slot_event).
//!   `unblock(true)` leaving a NIL alone (no READY for an event before the WAIT): lost
//!   wake-up (slot_event). No `closing` check in `begin_wait`: close not seen (slot_close).
//!   The closer's store or the waiter's WAIT weakened from SeqCst (with
//!   `seqcst_storeload`'s argument): close not seen (slot_close).
//! - 2: no `gen` re-check in `enlist`; `event` not looking at `nwait` (never taking the
//!   lock); `event`'s bump or load, or `enlist`'s count or load, weakened from SeqCst: lost
//!   wake-up (list_event).
//! - 3: `win` taking a `token | PARKING` as its own: ready during parking (list_*).
//!   `end_parking` ignoring FIRED: lost wake-up (list_event_timer). No parking phase
//!   (`start_parking` storing the bare token): ready during parking (list_*).
//! - 4: no `closing` check in `begin_op`; `begin_op`'s increment or `start_close`'s store
//!   weakened from SeqCst: data race on the fd (close_ops). `end_op` Relaxed: data race.
//!
//! Not covered: the lists' linking code itself (pd.rs link/unlink/take_list, plain pointer
//! work under the lock); more than one waiter per slot or list; the epoll side (sequence
//! numbers); waits on several fds (each (fd, direction) is the same protocol, and the
//! parking phase covers the whole callback).

use super::*;
use loom::cell::UnsafeCell;
use loom::sync::{Arc, Condvar, Mutex};
use loom::thread;

/// The goroutine's address as a slot holds it (any value other than NIL/READY/WAIT).
const G: usize = 0x1000;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Status {
    Running,
    /// In its park callback's parking phase (list waits): nobody may ready it.
    Parking,
    Waiting,
    Runnable,
}

/// A goroutine: its status and its `pollwait` token word.
struct Gor {
    status: Mutex<Status>,
    cv: Condvar,
    pollwait: AtomicU64,
}

impl Gor {
    fn new() -> Self {
        Gor {
            status: Mutex::new(Status::Running),
            cv: Condvar::new(),
            pollwait: AtomicU64::new(0),
        }
    }

    /// gopark: the status becomes `status` (Waiting, as park_m does; Parking for a list wait,
    /// whose callback sets Waiting at the end of its parking phase), then the park callback
    /// runs; block until readied if it returns true. Returns whether it parked.
    fn park(&self, status: Status, commit: impl FnOnce() -> bool) -> bool {
        *self.status.lock().unwrap() = status;
        if !commit() {
            let mut s = self.status.lock().unwrap();
            assert_eq!(*s, Status::Waiting, "readied although its callback did not park");
            *s = Status::Running;
            return false;
        }
        let mut s = self.status.lock().unwrap();
        while *s != Status::Runnable {
            s = self.cv.wait(s).unwrap();
        }
        *s = Status::Running;
        true
    }

    /// proc::ready: the caller won the wake-up.
    fn ready(&self) {
        let mut s = self.status.lock().unwrap();
        assert_eq!(*s, Status::Waiting, "readied a goroutine that was not parked");
        *s = Status::Runnable;
        self.cv.notify_one();
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Out {
    Data,
    Closed,
    Timeout,
}

// ---------------------------------------------------------------------------------------
// 1. The wait slot.

struct SlotWorld {
    slot: Slot,
    close: CloseGate,
    g: Gor,
    /// The kernel: data to read.
    data: Mutex<bool>,
    /// The descriptor lock (a closer holds it while it marks closing and wakes).
    lists: Mutex<()>,
    /// The deadline timer was armed (by the park callback) for this token.
    armed: AtomicU64,
    /// The deadline passed (the timer sets it before it fires).
    expired: AtomicBool,
}

impl SlotWorld {
    fn new(slot_ready: bool) -> Arc<Self> {
        let w = SlotWorld {
            slot: Slot::new(),
            close: CloseGate::new(),
            g: Gor::new(),
            data: Mutex::new(false),
            lists: Mutex::new(()),
            armed: AtomicU64::new(0),
            expired: AtomicBool::new(false),
        };
        if slot_ready {
            // A READY left by an old event whose data was consumed: prepare drops it.
            w.slot.unblock(true);
        }
        Arc::new(w)
    }

    /// wait.rs's wait_loop for one fd in one direction (a slot wait), with a deadline.
    fn waiter(&self) -> Out {
        self.slot.prepare();
        let mut token = 0;
        loop {
            if *self.data.lock().unwrap() {
                return Out::Data;
            }
            if self.close.is_closing() {
                return Out::Closed;
            }
            if self.expired.load(Relaxed) {
                return Out::Timeout;
            }
            match self.slot.begin_wait(&self.close) {
                Attempt::Ready => continue,
                Attempt::Busy => unreachable!("one waiter"),
                Attempt::Closed => {}
                Attempt::Park => {
                    token += 2;
                    arm(&self.g.pollwait, token);
                    self.g.park(Status::Waiting, || {
                        // commit_slot: the CAS, then arm the timer.
                        if !self.slot.commit(G) {
                            return false;
                        }
                        self.armed.store(token, Release);
                        true
                    });
                    clear(&self.g.pollwait);
                }
            }
            self.slot.finish();
        }
    }

    /// An event: the data arrives, then netpoll's pd.ready for this direction.
    fn event(&self) {
        *self.data.lock().unwrap() = true;
        if self.slot.unblock(true) == G {
            self.g.ready();
        }
    }

    /// A close: close_range_with's first part (mark closing, wake the slot's waiter).
    fn closer(&self) {
        let _l = self.lists.lock().unwrap();
        assert!(self.close.start_close());
        if self.slot.unblock(false) == G {
            self.g.ready();
        }
    }

    /// The deadline timer, if the wait armed it: wait.rs's `timeout` for a slot wait.
    fn timer(&self) {
        let token = self.armed.load(Acquire);
        if token == 0 {
            return; // not armed (yet): this run's timer never fires
        }
        self.expired.store(true, Relaxed);
        if self.g.pollwait.load(Acquire) != token {
            return; // stale
        }
        if self.slot.take(G) {
            self.g.ready();
        }
    }
}

/// Waiter vs an event (after an old READY or not): the waiter always gets the data.
fn slot_event(slot_ready: bool) {
    loom::model(move || {
        let w = SlotWorld::new(slot_ready);
        let w2 = w.clone();
        let ev = thread::spawn(move || w2.event());
        assert_eq!(w.waiter(), Out::Data);
        ev.join().unwrap();
    });
}

#[test]
fn loom_netpoll_slot_event() {
    slot_event(false);
}

#[test]
fn loom_netpoll_slot_event_after_ready() {
    slot_event(true);
}

/// Waiter vs an event vs its deadline timer: exactly one of them readies a committed G (a
/// double ready throws), and the waiter returns.
#[test]
fn loom_netpoll_slot_event_timeout() {
    loom::model(|| {
        let w = SlotWorld::new(false);
        let (w2, w3) = (w.clone(), w.clone());
        let ev = thread::spawn(move || w2.event());
        let tm = thread::spawn(move || w3.timer());
        let r = w.waiter();
        assert!(r == Out::Data || r == Out::Timeout);
        ev.join().unwrap();
        tm.join().unwrap();
    });
}

/// Waiter vs a close (no event): the close is always seen.
#[test]
fn loom_netpoll_slot_close() {
    loom::model(|| {
        let w = SlotWorld::new(false);
        let w2 = w.clone();
        let cl = thread::spawn(move || w2.closer());
        assert_eq!(w.waiter(), Out::Closed);
        cl.join().unwrap();
    });
}

/// Waiter vs an event vs a close: one readies, the waiter returns the data or closed.
#[test]
fn loom_netpoll_slot_event_close() {
    loom::model(|| {
        let w = SlotWorld::new(false);
        let (w2, w3) = (w.clone(), w.clone());
        let ev = thread::spawn(move || w2.event());
        let cl = thread::spawn(move || w3.closer());
        let r = w.waiter();
        assert!(r == Out::Data || r == Out::Closed);
        ev.join().unwrap();
        cl.join().unwrap();
    });
}

// ---------------------------------------------------------------------------------------
// 2 + 3. The waiter list and the token protocol.

struct ListWorld {
    gate: ListGate,
    close: CloseGate,
    g: Gor,
    data: Mutex<bool>,
    /// The descriptor lock and its list of (at most) one node: the waiter's token.
    list: Mutex<Option<u64>>,
    armed: AtomicU64,
    expired: AtomicBool,
}

impl ListWorld {
    fn new() -> Arc<Self> {
        Arc::new(ListWorld {
            gate: ListGate::new(),
            close: CloseGate::new(),
            g: Gor::new(),
            data: Mutex::new(false),
            list: Mutex::new(None),
            armed: AtomicU64::new(0),
            expired: AtomicBool::new(false),
        })
    }

    /// wait.rs's wait_loop + block_list + commit_list for one (fd, direction).
    fn waiter(&self) -> Out {
        let mut token = 0;
        loop {
            let snap = self.gate.snapshot();
            if *self.data.lock().unwrap() {
                return Out::Data;
            }
            if self.close.is_closing() {
                return Out::Closed;
            }
            if self.expired.load(Relaxed) {
                return Out::Timeout;
            }
            token += 2;
            start_parking(&self.g.pollwait, token);
            let mut counted = false;
            // commit_list: the parking phase (no waker may ready us) runs to end_parking.
            self.g.park(Status::Parking, || {
                let mut l = self.list.lock().unwrap();
                let park = self.gate.enlist(snap, &self.close);
                counted = true;
                if !park {
                    drop(l);
                    clear(&self.g.pollwait);
                    *self.g.status.lock().unwrap() = Status::Waiting;
                    return false;
                }
                *l = Some(token);
                drop(l);
                self.armed.store(token, Release); // the deadline timer
                // End of the parking phase: the status goes back to Waiting with the CAS, so
                // that a ready during the phase is caught and one after it is not.
                let mut s = self.g.status.lock().unwrap();
                let r = end_parking(&self.g.pollwait, token);
                *s = Status::Waiting;
                r
            });
            clear(&self.g.pollwait);
            if counted {
                let mut l = self.list.lock().unwrap();
                if *l == Some(token) {
                    *l = None; // unlink
                }
                self.gate.delist();
            }
        }
    }

    /// take_list: unlink the node and win its token.
    fn take_list(&self, l: &mut Option<u64>) {
        if let Some(token) = l.take() {
            if win(&self.g.pollwait, token) {
                self.g.ready();
            }
        }
    }

    /// An event: the data arrives, then pd.ready's list part.
    fn event(&self) {
        *self.data.lock().unwrap() = true;
        if self.gate.event() {
            let mut l = self.list.lock().unwrap();
            self.take_list(&mut l);
        }
    }

    /// A close: mark closing and wake_all's list part.
    fn closer(&self) {
        let mut l = self.list.lock().unwrap();
        assert!(self.close.start_close());
        self.gate.bump();
        self.take_list(&mut l);
    }

    /// The deadline timer of a list wait: `timeout` wins the token.
    fn timer(&self) {
        let token = self.armed.load(Acquire);
        if token == 0 {
            return;
        }
        self.expired.store(true, Relaxed);
        if win(&self.g.pollwait, token) {
            self.g.ready();
        }
    }
}

/// Waiter vs an event: no lost wake-up (the Dekker pair and the token).
#[test]
fn loom_netpoll_list_event() {
    loom::model(|| {
        let w = ListWorld::new();
        let w2 = w.clone();
        let ev = thread::spawn(move || w2.event());
        assert_eq!(w.waiter(), Out::Data);
        ev.join().unwrap();
    });
}

/// Waiter vs an event vs its timer: two wakers on one token (the timer can fire during the
/// parking phase: it is armed before its end).
#[test]
fn loom_netpoll_list_event_timer() {
    loom::model(|| {
        let w = ListWorld::new();
        let (w2, w3) = (w.clone(), w.clone());
        let ev = thread::spawn(move || w2.event());
        let tm = thread::spawn(move || w3.timer());
        let r = w.waiter();
        assert!(r == Out::Data || r == Out::Timeout);
        ev.join().unwrap();
        tm.join().unwrap();
    });
}

/// Waiter vs an event vs a close.
#[test]
fn loom_netpoll_list_event_close() {
    loom::model(|| {
        let w = ListWorld::new();
        let (w2, w3) = (w.clone(), w.clone());
        let ev = thread::spawn(move || w2.event());
        let cl = thread::spawn(move || w3.closer());
        let r = w.waiter();
        assert!(r == Out::Data || r == Out::Closed);
        ev.join().unwrap();
        cl.join().unwrap();
    });
}

// ---------------------------------------------------------------------------------------
// 4. The close protocol's ops/closing pair.

/// An operation (wait_until's begin/end around its use of the fd) vs a close
/// (close_range_with: mark closing, wait for ops, the real close, reset, end).
#[test]
fn loom_netpoll_close_ops() {
    loom::model(|| {
        struct W {
            close: CloseGate,
            lists: Mutex<()>,
            /// The open file the fd names: 0 = the old one, 1 = closed (the real close).
            file: UnsafeCell<u32>,
        }
        let w = Arc::new(W {
            close: CloseGate::new(),
            lists: Mutex::new(()),
            file: UnsafeCell::new(0),
        });
        let w2 = w.clone();
        let op = thread::spawn(move || {
            w2.close.begin_op(thread::yield_now);
            // The operation's use of the fd: unordered with the real close it is a race.
            let f = w2.file.with(|f| {
                // SAFETY: loom checks that this read is ordered with the close's write.
                unsafe { *f }
            });
            w2.close.end_op();
            f
        });
        {
            let l = w.lists.lock().unwrap();
            assert!(w.close.start_close());
            drop(l);
        }
        while w.close.ops_in_flight() {
            thread::yield_now();
        }
        w.file.with_mut(|f| {
            // SAFETY: loom checks that no operation's read is concurrent with this write.
            unsafe { *f = 1 }
        });
        {
            let _l = w.lists.lock().unwrap();
            w.close.end_close();
        }
        // An operation that saw the close waited it out: it uses the fd afterwards.
        let _ = op.join().unwrap();
    });
}
