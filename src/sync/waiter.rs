//! Who waits, and the queues they wait in: brpc's butex idea with Go's sudog.
//!
//! # A waiter is a goroutine or a thread
//! `Waiter` lives on the waiting stack for the length of one wait. A goroutine parks; a thread
//! (or a goroutine inside a syscall bracket, which has no P to give up) sleeps on `word`, a
//! futex in its own record. Either way it is woken the same way: a waker **claims** it, writes
//! the outcome into `param`, and only then wakes it (`wake`). The claim is a CAS, so exactly
//! one party wakes a waiter even when several race for it — wakers on different channels of
//! one select, a waker and the waiter's own deadline:
//! - goroutine: CAS on `G.sync_token` from the wait's token to token|1. The deadline timer
//!   claims the same way, with the token it was armed with, so a timer that fires late, after
//!   its wait has ended, finds another token and does nothing; the G record is never freed,
//!   so touching it is always safe.
//! - thread: CAS on `word` from WAITING to CLAIMED; the claimer stores WOKEN after writing
//!   `param` and then futex-wakes. A thread whose deadline passes claims itself; if it loses,
//!   a waker owns the record and is about to write to it, so it keeps waiting for WOKEN (its
//!   record is still in use) — the wake then counts, not the timeout.
//!
//! # When a goroutine may be woken
//! Its wait is enqueued under the object's lock (a channel's, a semtable bucket's) and the
//! lock is held across the park (`proc::gopark_holding`); the park callback, on g0 once the
//! goroutine is switched out and Waiting, arms the deadline timer and only then releases the
//! lock. Wakers need that lock to find the wait, so no wake can come before the park. After
//! the callback's last unlock the goroutine may already run elsewhere: the callback touches
//! nothing on the goroutine's stack after it.
//!
//! # Sudogs and queues
//! A `Sudog` is one entry in one queue (a select has one per case); it points to its
//! `Waiter`. `WaitQ` is a doubly linked FIFO of sudogs, owned by the lock of whatever holds it.
//! Everything here is on the waiters' stacks: a sudog is unlinked, under its queue's lock,
//! before its waiter returns.

use super::claim::{claim_token, ThreadWord};
use crate::sched::g::G;
use crate::sched::m::{Ctx, M};
use crate::sched::proc;
use crate::time::Deadline;
use core::cell::Cell;
use core::ptr::null_mut;
use core::sync::atomic::Ordering::*;

/// `param` of a waiter nobody claimed (its deadline passed).
pub(crate) const TIMED_OUT: usize = 0;

pub(crate) struct Waiter {
    /// The parking goroutine and its M; null for a thread that sleeps on `word`.
    pub(crate) gp: *mut G,
    pub(crate) mp: *mut M,
    /// A goroutine's token for this wait (see G.sync_token).
    token: u64,
    /// A thread's state (claim.rs).
    word: ThreadWord,
    /// Written by the claimer before it wakes the waiter, read by the waiter after: the
    /// sudog that won, or TIMED_OUT (nobody claimed it; the default).
    pub(crate) param: Cell<usize>,
    /// The deadline, for the park callback to arm.
    pub(crate) deadline: Deadline,
    /// Several parties may race to claim it (a select's cases, a deadline). If not, its only
    /// claimer is the one waker that unlinks its single sudog under the queue's lock, and the
    /// claim needs no CAS (Go's chansend/chanrecv do none either).
    contested: bool,
}

impl Waiter {
    /// A waiter for the caller in context `c` (from `syscall::enter`): a goroutine that holds
    /// its P parks; anything else sleeps its thread.
    pub(crate) fn new(c: Ctx, deadline: Deadline) -> Waiter {
        let (gp, mp, token) = match proc::running(c) {
            Some((mp, gp)) => {
                // SAFETY: our own G; sync_seq is the G's own.
                let token = unsafe {
                    (*gp).sync_seq = (*gp).sync_seq.wrapping_add(1);
                    let t = ((*gp).sync_seq << 1).max(2);
                    // Relaxed: published to wakers by the lock they take to find the wait,
                    // and to the timer by the timer's own lock (armed in the park callback).
                    (*gp).sync_token.store(t, Relaxed);
                    t
                };
                (gp, mp, token)
            }
            None => (null_mut(), null_mut(), 0),
        };
        Waiter {
            gp,
            mp,
            token,
            word: ThreadWord::new(),
            param: Cell::new(TIMED_OUT),
            deadline,
            contested: deadline != Deadline::NEVER,
        }
    }

    /// A select: its sudogs on several queues race for it.
    pub(crate) fn set_contested(&mut self) {
        self.contested = true;
    }

    #[inline]
    pub(crate) fn is_goroutine(&self) -> bool {
        !self.gp.is_null()
    }

    /// Win the right to wake this waiter (see the module note). The caller holds the lock of
    /// a queue the waiter is in, so the record is alive.
    #[inline]
    pub(crate) fn claim(&self) -> bool {
        if !self.contested {
            return true;
        }
        if self.gp.is_null() {
            self.word.claim()
        } else {
            // SAFETY: G records are never freed.
            unsafe { claim_g(self.gp, self.token) }
        }
    }

    /// Wake a waiter this caller claimed, with `param` (its sudog's address). Call it after
    /// releasing the queue's lock (ready may take sched.lock), inside the caller's runtime
    /// entry `c` (`syscall::enter`).
    /// # Safety
    /// `w` was claimed by the caller and not woken yet: it is alive until this returns (a
    /// thread waits for WOKEN; a goroutine for the ready).
    pub(crate) unsafe fn wake(w: *const Waiter, param: usize, c: Ctx) {
        // SAFETY: per the contract.
        unsafe {
            (*w).param.set(param);
            let gp = (*w).gp;
            if gp.is_null() {
                // The thread sees param (and any value we copied into its memory) once it
                // sees the wake (claim.rs).
                (*w).word.wake();
            } else if proc::ready_in(c, gp).is_err() {
                throw!("sync: a claimed goroutine was not parked");
            }
        }
    }

    /// A thread's sleep, once its wait is enqueued and the lock released: until claimed and
    /// woken (true), or until its deadline passes and it claims itself (false).
    pub(crate) fn sleep_thread(&self) -> bool {
        self.word.sleep(|| {
            crate::sched::fork::sleep_check();
            match self.deadline.remaining() {
                i64::MAX => -1,
                ns => ns,
            }
        })
    }

    /// Park callback step: arm the goroutine's deadline timer (before the callback releases
    /// its last lock: see the module note).
    pub(crate) fn arm(&self) {
        if !self.gp.is_null() && self.deadline != Deadline::NEVER {
            // SAFETY: gp is parked (Waiting) and ours until a claim; its timer is its own.
            unsafe {
                (*self.gp)
                    .timer
                    .modify(self.deadline.0.max(1), timeout, self.gp as usize, self.token as usize)
            };
        }
    }

    /// The goroutine resumed: stop its timer, end the token. Returns param.
    pub(crate) fn finish(&self) -> usize {
        if !self.gp.is_null() {
            // SAFETY: our own G.
            unsafe {
                if self.deadline != Deadline::NEVER {
                    (*self.gp).timer.stop();
                }
                (*self.gp).sync_token.store(0, Relaxed);
            }
        }
        self.param.get()
    }
}

/// # Safety
/// gp is a G record.
#[inline]
unsafe fn claim_g(gp: *mut G, token: u64) -> bool {
    // SAFETY: per the contract.
    claim_token(unsafe { &(*gp).sync_token }, token)
}

/// A wait's deadline passed: claim the goroutine (if its wait with this token is still on)
/// and ready it with param TIMED_OUT (the default: nothing on its stack is touched).
unsafe fn timeout(arg: usize, seq: usize) {
    let gp = arg as *mut G;
    // SAFETY: arg is a G record (never freed).
    if unsafe { claim_g(gp, seq as u64) } {
        // SAFETY: claimed: the G is parked and nobody else readies it.
        if unsafe { proc::ready(gp) }.is_err() {
            throw!("sync: a timed-out goroutine was not parked");
        }
    }
}

/// One entry of one wait queue.
pub(crate) struct Sudog {
    pub(crate) next: *mut Sudog,
    pub(crate) prev: *mut Sudog,
    pub(crate) waiter: *const Waiter,
    /// The semtable key (the object's address) or, in a channel queue, unused.
    pub(crate) key: usize,
    /// A channel wait's value: where to copy from (send) or to (receive; null: discard).
    pub(crate) elem: *mut u8,
    /// A channel wait: true if a value was passed, false if the channel was closed. A sema
    /// wait: the permit was handed over with the wake.
    pub(crate) success: Cell<bool>,
    /// In a queue now (its queue's lock).
    pub(crate) linked: Cell<bool>,
    /// A select's case index.
    pub(crate) case: u32,
}

impl Sudog {
    pub(crate) fn new(waiter: *const Waiter, key: usize, elem: *mut u8, case: u32) -> Sudog {
        Sudog {
            next: null_mut(),
            prev: null_mut(),
            waiter,
            key,
            elem,
            success: Cell::new(false),
            linked: Cell::new(false),
            case,
        }
    }
}

/// A FIFO of sudogs, under its owner's lock.
pub(crate) struct WaitQ {
    pub(crate) head: *mut Sudog,
    tail: *mut Sudog,
}

impl WaitQ {
    pub(crate) const fn new() -> Self {
        WaitQ {
            head: null_mut(),
            tail: null_mut(),
        }
    }

    /// # Safety
    /// s is unlinked and outlives its time in the queue; the caller holds the queue's lock.
    pub(crate) unsafe fn push_back(&mut self, s: *mut Sudog) {
        // SAFETY: per the contract; linked sudogs are alive.
        unsafe {
            (*s).next = null_mut();
            (*s).prev = self.tail;
            if self.tail.is_null() {
                self.head = s;
            } else {
                (*self.tail).next = s;
            }
            self.tail = s;
            (*s).linked.set(true);
        }
    }

    /// # Safety
    /// As push_back.
    pub(crate) unsafe fn push_front(&mut self, s: *mut Sudog) {
        // SAFETY: per the contract.
        unsafe {
            (*s).prev = null_mut();
            (*s).next = self.head;
            if self.head.is_null() {
                self.tail = s;
            } else {
                (*self.head).prev = s;
            }
            self.head = s;
            (*s).linked.set(true);
        }
    }

    /// # Safety
    /// s is linked in this queue; the caller holds its lock.
    pub(crate) unsafe fn remove(&mut self, s: *mut Sudog) {
        // SAFETY: per the contract.
        unsafe {
            let (p, n) = ((*s).prev, (*s).next);
            if p.is_null() {
                self.head = n;
            } else {
                (*p).next = n;
            }
            if n.is_null() {
                self.tail = p;
            } else {
                (*n).prev = p;
            }
            (*s).next = null_mut();
            (*s).prev = null_mut();
            (*s).linked.set(false);
        }
    }

    /// Go's dequeue: unlink sudogs from the front until one whose waiter this caller claims
    /// (a select's other case may have won it, or its deadline). Null if none.
    /// # Safety
    /// The caller holds the queue's lock.
    pub(crate) unsafe fn dequeue(&mut self) -> *mut Sudog {
        // SAFETY: per the contract; linked sudogs and their waiters are alive.
        unsafe {
            while !self.head.is_null() {
                let s = self.head;
                self.remove(s);
                if (*(*s).waiter).claim() {
                    return s;
                }
            }
        }
        null_mut()
    }
}

/// Sudogs claimed under a queue's lock, to wake after it is released (in FIFO order).
pub(crate) struct Claimed {
    head: *mut Sudog,
    tail: *mut Sudog,
}

impl Claimed {
    pub(crate) fn new() -> Self {
        Claimed {
            head: null_mut(),
            tail: null_mut(),
        }
    }

    /// The first claimed.
    pub(crate) fn first(&self) -> Option<*mut Sudog> {
        (!self.head.is_null()).then_some(self.head)
    }

    /// Add a claimed, unlinked sudog (its `next` is ours to use until the wake).
    pub(crate) fn push(&mut self, s: *mut Sudog) {
        // SAFETY: per the contract.
        unsafe {
            (*s).next = null_mut();
            if self.tail.is_null() {
                self.head = s;
            } else {
                (*self.tail).next = s;
            }
        }
        self.tail = s;
    }

    /// Wake them all, oldest first, each with its sudog as param, inside the caller's runtime
    /// entry `c`; returns how many.
    pub(crate) fn wake_all(self, c: Ctx) -> u32 {
        let mut s = self.head;
        let mut n = 0;
        while !s.is_null() {
            // SAFETY: claimed sudogs are alive until their waiter is woken; read next first.
            unsafe {
                let next = (*s).next;
                Waiter::wake((*s).waiter, s as usize, c);
                s = next;
            }
            n += 1;
        }
        n
    }
}
