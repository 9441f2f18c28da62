//! Loom model of the hand-shake by which sysmon retakes the P of a thread blocked in the kernel
//! ("Blocked threads" in syscall.rs). The protocol's words are modelled one for one — `take`
//! (Free/Taking/Taken), `m.locks`, and the P's owner — and the kernel's part, which the real
//! code observes through /proc and the thread's CPU clock, as a flag `blocked` that the thread
//! sets when it goes to sleep in the kernel and clears when it wakes, under a lock that the
//! observer takes too: the kernel orders a task's wake-up after an observation that found it
//! asleep (its run-queue lock; reading a thread's CPU clock takes it). Loom models SeqCst as
//! AcqRel, so the barriers of the real argument ("Blocked threads") are given as that lock.
//!
//! The goroutine's thread: enters the runtime twice (store m.locks, then load take, as
//! `enter` does, with no fence between), using its P inside; between the two entries it blocks
//! in the kernel once. sysmon: once, if it sees the thread blocked and outside the runtime,
//! CASes Free -> Taking, checks again, and either takes the P (Taken) or backs out (Free).
//! Proved under every interleaving: the thread never uses the P while sysmon owns it; a
//! thread that finds Taken gets a P back through exitsyscall (modelled: the P returns to it)
//! and a thread that finds Taking waits for the decision.
//!
//! Found: without the re-check of `blocked` after the CAS, loom finds the thread using its P
//! after sysmon took it (the first check saw an old sleep).

use loom::sync::atomic::{AtomicU32, Ordering::*};
use loom::sync::{Arc, Mutex};
use loom::thread;

const FREE: u32 = 0;
const TAKING: u32 = 1;
const TAKEN: u32 = 2;

/// Who owns the P: the thread (1) or sysmon (2).
const THREAD: u32 = 1;
const SYSMON: u32 = 2;

struct World {
    take: AtomicU32,
    locks: AtomicU32,
    blocked: Mutex<bool>,
    owner: AtomicU32,
}

fn enter(w: &World) {
    w.locks.store(1, Relaxed);
    let mut t = w.take.load(Acquire);
    while t == TAKING {
        thread::yield_now();
        t = w.take.load(Acquire);
    }
    if t == TAKEN {
        // exitsyscall_blocked: back to Free, and get a P (here: the same one, from sysmon).
        assert_eq!(w.owner.load(Acquire), SYSMON);
        w.take.store(FREE, Relaxed);
        w.owner.store(THREAD, Release);
    }
    // Using the P: it must be ours.
    assert_eq!(
        w.owner.load(Acquire),
        THREAD,
        "the thread uses a P sysmon took"
    );
    w.locks.store(0, Relaxed);
}

fn block(w: &World) {
    *w.blocked.lock().unwrap() = true; // asleep in the kernel
    *w.blocked.lock().unwrap() = false; // woken, back to user code
}

fn sysmon(w: &World, recheck: bool) {
    if !*w.blocked.lock().unwrap() || w.locks.load(Relaxed) != 0 {
        return;
    }
    if w.take
        .compare_exchange(FREE, TAKING, SeqCst, Relaxed)
        .is_err()
    {
        return;
    }
    let still = !recheck || (*w.blocked.lock().unwrap() && w.locks.load(Relaxed) == 0);
    if still {
        w.owner.store(SYSMON, Relaxed);
        w.take.store(TAKEN, Release);
    } else {
        w.take.store(FREE, Release);
    }
}

fn model(recheck: bool) {
    loom::model(move || {
        let w = Arc::new(World {
            take: AtomicU32::new(FREE),
            locks: AtomicU32::new(0),
            blocked: Mutex::new(false),
            owner: AtomicU32::new(THREAD),
        });
        let w2 = w.clone();
        let s = thread::spawn(move || sysmon(&w2, recheck));
        enter(&w);
        block(&w);
        enter(&w);
        s.join().unwrap();
    });
}

#[test]
fn take_handshake() {
    model(true);
}

#[test]
#[should_panic]
fn take_handshake_without_recheck_fails() {
    model(false);
}
