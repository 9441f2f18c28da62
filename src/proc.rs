//! # Goroutine scheduler
//! (Go's proc.go, whose vocabulary this file keeps.)
//!
//! G = goroutine, M = OS thread, P = processor: the resource an M needs to run goroutines.
//! An M must hold a P to run goroutines; it may be without one while idle or (next issue) in a
//! syscall. Each P has a lock-free local run queue (runq.rs) plus a `runnext` slot; there is a
//! global run queue under sched.lock. `schedule()` runs on the M's g0 stack: it finds a
//! runnable G (`find_runnable`) and switches to it (`execute`); a goroutine comes back to g0
//! through `mcall` when it parks, yields or exits.
//!
//! Where a G goes when it becomes runnable (Go's choices):
//! - spawned or readied by a goroutine: the caller's P's `runnext` (it runs next, inheriting
//!   the time slice; the previous runnext moves to the ring);
//! - spawned or readied from a plain thread: the global queue, and an idle P is started
//!   under the same lock (Go's injectglist), so such a wake-up cannot be lost;
//! - yielded (`gmp_gosched`): the global queue.
//!
//! Every 61st schedule takes from the global queue first, so it cannot starve.
//!
//! # Worker thread parking/unparking
//! Keep enough Ms running to use the available parallelism, and park the rest — without
//! losing wake-ups and without burning CPU. Rejected (as in Go): (1) centralized state, which
//! would not scale; (2) handing a G straight to a P on readying, which causes thread state
//! thrashing; (3) unparking an extra M whenever a G is readied, which thrashes likewise.
//! The protocol:
//! 1. A spinning M (`m.spinning`, counted in `sched.nmspinning`) is one that has found no local
//!    work and is looking in other Ps' queues and the global queue. At most half the busy Ps
//!    have one.
//! 2. When a G is readied, if there is an idle P and no spinning M, `wakep` makes an M spin.
//! 3. A spinning M that finds work stops spinning and, if it was the last, calls `wakep` (there
//!    may be more work).
//! 4. A spinning M that finds nothing drops its P, decrements nmspinning (SeqCst), and then
//!    re-checks every P's queue once more before sleeping (the "delicate dance"): a producer
//!    that saw nmspinning > 0 before the decrement relied on this M to find its G.
//!
//! Idle Ms sleep on their note (a futex, after a brief spin): an idle runtime uses no CPU.
//!
//! # Locked goroutines (gmp_lock_thread, Go's lockedm)
//! A locked G runs only on its M, and that M runs nothing else. When the locked G blocks,
//! its M hands off its P and sleeps (`stop_locked_m`); when another M's scheduler picks the
//! G, it hands its own P to the locked M and wakes it (`start_locked_m`). Asynchronous
//! preemption (next issue) reuses this: a preempted G is locked to its M until resumed.

use crate::api::gmp_g;
use crate::arch::{self, getm};
use crate::g::{self, cas_status, set_status, G};
use crate::m::{self, M};
use crate::p::{self, bump, P};
use crate::sched::{gfget, gfput, SCHED};
use crate::stack;
use crate::sys;
use core::ptr::null_mut;
use core::sync::atomic::{fence, AtomicU32, Ordering::*};

/// Goroutines-per-global-check fairness tick (Go's 61).
const GLOBAL_TICK: u32 = 61;
const STEAL_TRIES: u32 = 4;

// ---------------------------------------------------------------------------------------------
// M lifecycle

/// After mstart set up the thread: take the P we were started for (or go idle) and schedule.
/// # Safety
/// On the M's g0, with the g register set.
pub(crate) unsafe fn mstart1(mp: *mut M) -> ! {
    // SAFETY: mp is this thread's M.
    unsafe {
        let pp = (*mp).nextp;
        if pp.is_null() {
            stopm(mp);
        } else {
            (*mp).nextp = null_mut();
            acquirep(mp, pp);
        }
        schedule()
    }
}

/// # Safety
/// mp is the calling M and holds no P.
pub(crate) unsafe fn acquirep(mp: *mut M, pp: *mut P) {
    // SAFETY: pp was handed to us (idle list or nextp), so we own it now.
    unsafe {
        if !(*mp).p.is_null() || !(*pp).m.is_null() {
            throw!("acquirep: invalid p state");
        }
        (*mp).p = pp;
        (*pp).m = mp;
        (*pp).status.store(p::RUNNING, Relaxed);
    }
    // A P is busy again: wake sysmon if it sleeps with every P idle (SeqCst pairs with its
    // store of sysmonwait before its re-check of npidle). Refresh the coarse clock first: the
    // slices about to start are stamped from it.
    if SCHED.sysmonwait.load(SeqCst) && SCHED.sysmonwait.swap(false, SeqCst) {
        SCHED.now.store(sys::nanotime(), Relaxed);
        SCHED.sysmon_note.wake_any();
    }
}

/// # Safety
/// mp is the calling M and holds a P.
unsafe fn releasep(mp: *mut M) -> *mut P {
    // SAFETY: we own mp.p until we clear it here.
    unsafe {
        let pp = (*mp).p;
        if pp.is_null() || (*pp).m != mp {
            throw!("releasep: invalid p state");
        }
        (*pp).m = null_mut();
        (*pp).status.store(p::IDLE, Relaxed);
        (*mp).p = null_mut();
        pp
    }
}

/// stopm: put the calling M on the idle list and sleep until startm hands it a P.
unsafe fn stopm(mp: *mut M) {
    // SAFETY: mp is the calling M, holding no P.
    unsafe {
        if !(*mp).p.is_null() {
            throw!("stopm: holding p");
        }
        if (*mp).spinning {
            throw!("stopm: spinning");
        }
        {
            let mut s = SCHED.locked();
            s.mput(mp);
            checkdead(&mut s);
        }
        (*mp).park.sleep();
        (*mp).park.clear();
        let pp = (*mp).nextp;
        (*mp).nextp = null_mut();
        acquirep(mp, pp);
    }
}

/// startm: run some M on pp (an idle P if null). With `spinning`, the caller has already
/// counted the new M in nmspinning (wakep) and the M starts spinning. Without `create_ok`
/// (the preemption path: this thread may hold libc locks) a missing M is requested from
/// sysmon instead of created here.
pub(crate) fn startm(mut pp: *mut P, spinning: bool, create_ok: bool) {
    let mut s = SCHED.locked();
    if pp.is_null() {
        pp = s.pidleget();
        if pp.is_null() {
            drop(s);
            if spinning {
                SCHED.nmspinning.fetch_sub(1, SeqCst);
            }
            return;
        }
    }
    let nmp = s.mget();
    if nmp.is_null() && !create_ok {
        // SAFETY: pp is ours (taken above or handed to us); the pending list owns it now.
        unsafe { (*pp).link = s.newm_pending };
        s.newm_pending = pp;
        drop(s);
        if spinning {
            SCHED.nmspinning.fetch_sub(1, SeqCst);
        }
        SCHED.sysmon_note.wake_any();
        return;
    }
    drop(s);
    if nmp.is_null() {
        if !m::newm(pp, spinning) {
            SCHED.locked().pidleput(pp);
            if spinning {
                SCHED.nmspinning.fetch_sub(1, SeqCst);
            }
        }
        return;
    }
    // SAFETY: nmp came off the idle list: it sleeps on its note and reads these after waking.
    unsafe {
        (*nmp).spinning = spinning;
        (*nmp).nextp = pp;
        (*nmp).park.wakeup();
    }
}

/// handoffp: the calling M gives up pp (it is about to block). Start an M for it if there is
/// work, else make it idle. `create_ok` as for startm.
pub(crate) unsafe fn handoffp(pp: *mut P, create_ok: bool) {
    // SAFETY: the caller released pp; we decide where it goes.
    unsafe {
        if !(*pp).runq.is_empty() || SCHED.runqsize.load(Relaxed) != 0 {
            startm(pp, false, create_ok);
            return;
        }
    }
    // No local work: let it spin if nobody is looking for work.
    if SCHED.nmspinning.load(SeqCst) + SCHED.npidle.load(SeqCst) == 0
        && SCHED.nmspinning.compare_exchange(0, 1, SeqCst, SeqCst).is_ok()
    {
        startm(pp, true, create_ok);
        return;
    }
    let mut s = SCHED.locked();
    if s.runq.len != 0 {
        drop(s);
        startm(pp, false, create_ok);
        return;
    }
    s.pidleput(pp);
}

/// wakep: try to add one more spinning M (when there is an idle P and nobody spins).
pub(crate) fn wakep() {
    if SCHED.npidle.load(SeqCst) == 0 {
        return;
    }
    if SCHED.nmspinning.load(SeqCst) != 0 || SCHED.nmspinning.compare_exchange(0, 1, SeqCst, SeqCst).is_err() {
        return;
    }
    startm(null_mut(), true, true);
}

unsafe fn reset_spinning(mp: *mut M) {
    // SAFETY: mp is the calling M.
    unsafe { (*mp).spinning = false };
    let n = SCHED.nmspinning.fetch_sub(1, SeqCst);
    if n == 0 {
        throw!("resetspinning: negative nmspinning");
    }
    // We were perhaps the last spinner and found work: there may be more (step 3).
    wakep();
}

/// stop_locked_m: the calling M's locked G is not runnable; give away the P and sleep until
/// start_locked_m hands it back a P with the G runnable.
unsafe fn stop_locked_m(mp: *mut M) {
    // SAFETY: mp is the calling M.
    unsafe {
        if (*mp).lockedg.is_null() || (*(*mp).lockedg).lockedm != mp {
            throw!("stoplockedm: inconsistent locking");
        }
        // A G locked by preemption: this thread may hold libc locks, so it must not create an
        // M itself (see preempt.rs).
        let create_ok = !(*(*mp).lockedg).preempt_locked;
        if !(*mp).p.is_null() {
            let pp = releasep(mp);
            handoffp(pp, create_ok);
        }
        {
            // Count ourselves idle-locked — unless a waker already handed us a P (our G was
            // published before we got here). The waker takes us off the count (Go's
            // incidlelocked(-1) in startlockedm): from then on the G is in transit on this M.
            let mut s = SCHED.locked();
            if (*mp).locked_woken {
                (*mp).locked_woken = false;
            } else {
                s.nmidlelocked += 1;
                (*mp).idlelocked = true;
                checkdead(&mut s);
            }
        }
        (*mp).park.sleep();
        (*mp).park.clear();
        let pp = (*mp).nextp;
        (*mp).nextp = null_mut();
        acquirep(mp, pp);
    }
}

/// start_locked_m: gp (runnable) is locked to another M: give that M our P and wake it, then
/// stop the calling M.
unsafe fn start_locked_m(mp: *mut M, gp: *mut G) {
    // SAFETY: we own gp (taken from a run queue) and our P.
    unsafe {
        let mp2 = (*gp).lockedm;
        if mp2 == mp {
            throw!("startlockedm: locked to me");
        }
        let pp = releasep(mp);
        hand_p_to_locked(&mut SCHED.locked(), mp2, pp);
        stopm(mp);
    }
}

/// Give pp to mp2, which waits (or is about to wait) in stop_locked_m for its runnable G.
/// # Safety
/// The caller owns pp and took mp2's locked G off the run queues.
unsafe fn hand_p_to_locked(s: &mut crate::sched::SchedLocked, mp2: *mut M, pp: *mut P) {
    // SAFETY: per the contract; idlelocked/locked_woken are under sched.lock (s).
    unsafe {
        if (*mp2).idlelocked {
            s.nmidlelocked -= 1;
            (*mp2).idlelocked = false;
        } else {
            (*mp2).locked_woken = true; // it has not counted itself yet: tell it not to
        }
        (*mp2).nextp = pp;
        (*mp2).park.wakeup();
    }
}

// ---------------------------------------------------------------------------------------------
// The scheduler loop

/// schedule: one round of the scheduler: find a runnable goroutine and run it. Never returns.
/// # Safety
/// On g0 of the calling M.
pub(crate) unsafe fn schedule() -> ! {
    let mp = getm();
    // SAFETY: mp is the calling M; everything below runs on its g0.
    unsafe {
        if !(*mp).curg.is_null() {
            throw!("schedule: holding a goroutine");
        }
        if !(*mp).lockedg.is_null() {
            stop_locked_m(mp);
            execute(mp, (*mp).lockedg, false);
        }
        loop {
            let (gp, inherit) = find_runnable(mp);
            // find_runnable checks for retirement only at its top: if procresize retired our P
            // while we looked, run nothing on it (at most gomaxprocs Gs run at once).
            if (*(*mp).p).id >= SCHED.gomaxprocs.load(Relaxed) {
                SCHED.locked().globrunqput(gp);
                continue;
            }
            if (*mp).spinning {
                reset_spinning(mp);
            }
            if !(*gp).lockedm.is_null() {
                // Hands off our P and stops this M; we come back with a new P.
                start_locked_m(mp, gp);
                continue;
            }
            execute(mp, gp, inherit);
        }
    }
}

/// With no P (and no G): wait for a P — or, if a G is locked to us, for that G — and
/// schedule.
/// # Safety
/// On g0 of the calling M, which holds no P and no G.
pub(crate) unsafe fn schedule_without_p(mp: *mut M) -> ! {
    // SAFETY: per the contract.
    unsafe {
        if (*mp).lockedg.is_null() {
            stopm(mp);
        }
        schedule()
    }
}

/// execute: run gp on the calling M. With `inherit`, gp takes over the current time slice
/// (it came from runnext) and the schedtick is not advanced.
pub(crate) unsafe fn execute(mp: *mut M, gp: *mut G, inherit: bool) -> ! {
    // SAFETY: we own gp (RUNNABLE, taken off a queue) and mp.p.
    unsafe {
        let pp = (*mp).p;
        (*mp).curg = gp;
        (*gp).m = mp;
        set_status(gp, g::RUNNABLE, g::RUNNING);
        if !inherit {
            // A new time slice. Owner-only counters: load+store, no RMW.
            let t = (*pp).schedtick.load(Relaxed);
            (*pp).schedtick.store(t.wrapping_add(1), Relaxed);
            (*pp).slice_start.store(SCHED.now.load(Relaxed), Relaxed);
        }
        bump(&(*pp).stats.schedules, 1);
        *(*mp).errno_addr = (*gp).errno;
        arch::gmp_gogo(gp)
    }
}

/// find_runnable: a runnable goroutine for the calling M, blocking (the M goes idle) until
/// there is one. Returns it and whether it inherits the time slice.
unsafe fn find_runnable(mp: *mut M) -> (*mut G, bool) {
    // SAFETY: mp is the calling M; its P is ours; every P and G reached is live.
    unsafe {
        'top: loop {
            let pp = (*mp).p;
            // A P beyond gomaxprocs retires at this schedule point (see p.rs).
            if (*pp).id >= SCHED.gomaxprocs.load(Relaxed) {
                let mut s = SCHED.locked();
                if (*pp).id >= SCHED.gomaxprocs.load(Relaxed) {
                    releasep(mp);
                    s.pidleput(pp); // retires it: its queued Gs move to the global queue
                    // Those Gs need an M: start one on an idle P (as injectglist does).
                    let pp2 = if s.runq.len != 0 { s.pidleget() } else { null_mut() };
                    drop(s);
                    if !pp2.is_null() {
                        startm(pp2, false, true);
                    }
                    if (*mp).spinning && stop_spinning(mp) {
                        continue 'top;
                    }
                    stopm(mp);
                    continue 'top;
                }
            }

            // Fairness: now and then look at the global queue first.
            if (*pp).schedtick.load(Relaxed).is_multiple_of(GLOBAL_TICK) && SCHED.runqsize.load(Relaxed) > 0 {
                let gp = SCHED.locked().globrunqget(pp, 1);
                if !gp.is_null() {
                    return (gp, false);
                }
            }

            if let Some(r) = (*pp).runq.get() {
                return r;
            }

            if SCHED.runqsize.load(Relaxed) != 0 {
                let gp = SCHED.locked().globrunqget(pp, 0);
                if !gp.is_null() {
                    return (gp, false);
                }
            }

            // Steal, if spinning is allowed: at most half the busy Ps have a spinning M.
            let procs = SCHED.gomaxprocs.load(Relaxed);
            if (*mp).spinning || 2 * SCHED.nmspinning.load(SeqCst) < procs.saturating_sub(SCHED.npidle.load(SeqCst)) {
                if !(*mp).spinning {
                    (*mp).spinning = true;
                    SCHED.nmspinning.fetch_add(1, SeqCst);
                }
                let gp = steal_work(mp, pp);
                if !gp.is_null() {
                    return (gp, false);
                }
            }

            // Nothing: give up the P. Re-check the global queue under the lock first.
            let mut s = SCHED.locked();
            if s.runq.len != 0 {
                let gp = s.globrunqget(pp, 0);
                return (gp, false);
            }
            releasep(mp);
            s.pidleput(pp);
            drop(s);

            if (*mp).spinning && stop_spinning(mp) {
                continue 'top;
            }
            // The last M to go idle gives back surplus stack memory: never while work runs
            // (the madvise would cost the busy Ms TLB shootdowns and fresh page faults).
            if SCHED.npidle.load(Relaxed) == SCHED.gomaxprocs.load(Relaxed) {
                crate::sched::scavenge_stacks();
            }
            stopm(mp);
        }
    }
}

/// The delicate dance (step 4 of the parking protocol): a spinning M that holds no P stops
/// spinning, then looks at every queue once more. True if it found work and took an idle P
/// (spinning again): go back to the top of find_runnable.
unsafe fn stop_spinning(mp: *mut M) -> bool {
    // SAFETY: mp is the calling M; Ps are never freed.
    unsafe {
        (*mp).spinning = false;
        // SeqCst RMW + fence: the decrement is ordered before the loads below.
        if SCHED.nmspinning.fetch_sub(1, SeqCst) == 0 {
            throw!("findrunnable: negative nmspinning");
        }
        fence(SeqCst);
        let work = SCHED.runqsize.load(Relaxed) != 0
            || (0..SCHED.nallp.load(Acquire)).any(|i| {
                let p2 = SCHED.p(i);
                (*p2).status.load(Relaxed) != p::DEAD && !(*p2).runq.is_empty()
            });
        if work {
            let pp2 = SCHED.locked().pidleget();
            if !pp2.is_null() {
                acquirep(mp, pp2);
                (*mp).spinning = true;
                SCHED.nmspinning.fetch_add(1, SeqCst);
                return true;
            }
        }
        false
    }
}

/// steal_work: up to 4 rounds over all Ps in random order, taking half of a victim's queue;
/// runnext only in the last round.
unsafe fn steal_work(mp: *mut M, pp: *mut P) -> *mut G {
    // SAFETY: we own pp; victims are live Ps (never freed).
    unsafe {
        let n = SCHED.nallp.load(Acquire);
        if n <= 1 {
            return null_mut();
        }
        for round in 0..STEAL_TRIES {
            let steal_next = round == STEAL_TRIES - 1;
            // Random order: a random start and a stride coprime with n visit every P once.
            let start = (*mp).fastrand() % n;
            let mut stride = (*mp).fastrand() % n;
            while gcd(stride, n) != 1 {
                stride = (stride + 1) % n;
            }
            let mut i = start;
            for _ in 0..n {
                let p2 = SCHED.p(i);
                i = (i + stride) % n;
                // Any live P may hold runnable Gs: one in a syscall, or one released and on its
                // way to a new M (still IDLE while that thread starts). Ps on the idle list
                // have empty queues, which the steal sees at once.
                if p2 == pp || (*p2).status.load(Relaxed) == p::DEAD {
                    continue;
                }
                let running = || (*p2).status.load(Relaxed) == p::RUNNING && !(*p2).m.is_null();
                if let Some((gp, k)) = (*pp).runq.steal(&(*p2).runq, steal_next, &running) {
                    bump(&(*pp).stats.steals, k as u64);
                    return gp;
                }
            }
            if SCHED.runqsize.load(Relaxed) != 0 {
                let gp = SCHED.locked().globrunqget(pp, 0);
                if !gp.is_null() {
                    return gp;
                }
            }
        }
        null_mut()
    }
}

fn gcd(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

// ---------------------------------------------------------------------------------------------
// Goroutine transitions, on g0 (entered through gmp_mcall)

/// Put a runnable G on pp's local queue (runnext with `next`); overflow goes global.
/// # Safety
/// The caller owns pp and gp.
pub(crate) unsafe fn runqput(pp: *mut P, gp: *mut G, next: bool) {
    // SAFETY: per the contract.
    unsafe {
        (*pp).runq.put(gp, next, &mut |batch| {
            let mut s = SCHED.locked();
            for &g1 in batch {
                s.globrunqput(g1);
            }
        })
    }
}

/// Drop the association between the calling M and its current G.
pub(crate) unsafe fn dropg(mp: *mut M, gp: *mut G) {
    // SAFETY: mp is the calling M and gp its curg.
    unsafe {
        (*gp).errno = *(*mp).errno_addr;
        (*gp).m = null_mut();
        (*mp).curg = null_mut();
    }
}

/// park_m: gp parks (gmp_park). Runs on g0 after gp's context was saved.
pub(crate) unsafe extern "C" fn park_m(gp: *mut G) -> ! {
    let mp = getm();
    // SAFETY: mp is the calling M; gp was its curg and its context is saved.
    unsafe {
        dropg(mp, gp);
        cas_status(gp, g::RUNNING, g::WAITING);
        if let Some(f) = (*mp).waitunlockf.take() {
            let lock = (*mp).waitlock;
            (*mp).waitlock = null_mut();
            if !f(gp as *mut gmp_g, lock) {
                // Not parked after all: resume at once — unless a waker already readied it,
                // in which case it is on a run queue and will run from there.
                if (*gp).status.compare_exchange(g::WAITING, g::RUNNABLE, AcqRel, Acquire).is_ok() {
                    execute(mp, gp, true);
                }
            }
        }
        schedule()
    }
}

/// gosched_m: gp yields (gmp_gosched): to the back of the global queue.
pub(crate) unsafe extern "C" fn gosched_m(gp: *mut G) -> ! {
    let mp = getm();
    // SAFETY: as park_m.
    unsafe {
        dropg(mp, gp);
        set_status(gp, g::RUNNING, g::RUNNABLE);
        yield_global(mp, gp, true)
    }
}

/// The calling M's G, switched out and RUNNABLE, goes to the back of the global queue (a yield
/// or a preemption). With nothing local, find_runnable would take from the global queue
/// next, so take the head under this same lock (one G, not a batch: the next yield pays for
/// the lock anyway, and a batch would cost a run-queue CAS per G), and:
/// - if this M may run it (it is unlocked and so is the M, or it is the M's own locked G —
///   the yielding G itself when nothing else is runnable), run it;
/// - if it is locked to another M, give that M the P directly (one wake-up; through
///   schedule() it would take two: an M to find the G, then the G's M).
///
/// Otherwise, or on a retiring P, go through schedule(). Without `create_ok` (the preemption
/// path: this thread may hold libc locks) no M is started here.
/// # Safety
/// On g0 of mp, which holds a P; gp was its curg and is now RUNNABLE on no queue.
pub(crate) unsafe fn yield_global(mp: *mut M, gp: *mut G, create_ok: bool) -> ! {
    // SAFETY: per the contract; Gs on the global queue are live and owned by it.
    unsafe {
        let pp = (*mp).p;
        let mut s = SCHED.locked();
        s.globrunqput(gp);
        if (*pp).runq.is_empty() && (*pp).id < SCHED.gomaxprocs.load(Relaxed) {
            let next = s.runq.head;
            let mp2 = (*next).lockedm;
            let here = (*mp).lockedg;
            if (mp2.is_null() && here.is_null()) || (mp2 == mp && next == here) {
                let next = s.globrunqget(pp, 1);
                drop(s);
                if create_ok {
                    wakep();
                }
                execute(mp, next, false);
            }
            if !mp2.is_null() && mp2 != mp {
                let next = s.globrunqget(pp, 1);
                debug_assert!((*next).lockedm == mp2);
                releasep(mp);
                hand_p_to_locked(&mut s, mp2, pp);
                drop(s);
                schedule_without_p(mp);
            }
        }
        drop(s);
        if create_ok {
            wakep();
        }
        schedule()
    }
}

/// goexit0: gp has finished (returned or gmp_exit). Its G and stack go to the free list.
pub(crate) unsafe extern "C" fn goexit0(gp: *mut G) -> ! {
    let mp = getm();
    // SAFETY: as park_m; after gfput we no longer touch gp.
    unsafe {
        dropg(mp, gp);
        set_status(gp, g::RUNNING, g::DEAD);
        if !(*gp).lockedm.is_null() {
            // Go kills a thread whose goroutine exits locked; Ms here are never destroyed, so
            // the lock simply ends with the goroutine.
            (*gp).lockedm = null_mut();
            (*gp).lock_depth = 0;
            (*mp).lockedg = null_mut();
        }
        let done = (*gp).main_done;
        let pp = (*mp).p;
        gfput(pp, gp);
        bump(&(*pp).stats.ended, 1);
        if !done.is_null() {
            // Withdraw it from checkdead first (this M is about to go idle), then report.
            // Release pairs with gmp_main's Acquire load: the main goroutine's effects are
            // visible when gmp_main returns.
            let _ = SCHED.main_done.compare_exchange(done as *mut AtomicU32, null_mut(), AcqRel, Relaxed);
            (*done).store(1, Release);
            sys::futex_wake(&*done, 1);
        }
        schedule()
    }
}

/// Called by asm/gostart.S when a goroutine's function returns.
/// cbindgen:ignore
#[no_mangle]
pub unsafe extern "C" fn gmp_goexit1() -> ! {
    // SAFETY: we are on a goroutine stack that is done; goexit0 never returns.
    unsafe { arch::gmp_mcall(goexit0) };
    throw!("goexit1: returned")
}

// ---------------------------------------------------------------------------------------------
// Creating and readying goroutines

/// newproc1: a G ready to start `f(arg)`, with a fresh id, RUNNABLE and on no queue.
/// `pp` is the caller's P (null in thread context). None if no stack can be had.
/// # Safety
/// The caller owns pp (if non-null).
pub(crate) unsafe fn newproc1(pp: *mut P, f: usize, arg: usize, main_done: *const AtomicU32) -> Option<*mut G> {
    // SAFETY: per the contract; a G from the free list is dead and ours.
    unsafe {
        let mut gp = gfget(pp);
        if gp.is_null() {
            let st = stack::stack_alloc(SCHED.stack_size.load(Relaxed))?;
            gp = G::new_boxed(st);
            SCHED.allgs_push(gp);
            cas_status(gp, g::IDLE, g::DEAD);
        }
        (*gp).prepare(f, arg);
        (*gp).main_done = main_done;
        (*gp).goid = if pp.is_null() {
            SCHED.goidgen.fetch_add(1, Relaxed) + 1
        } else {
            (*pp).next_goid()
        };
        if pp.is_null() {
            SCHED.spawned_nop.fetch_add(1, Relaxed);
        } else {
            bump(&(*pp).stats.spawned, 1);
        }
        cas_status(gp, g::DEAD, g::RUNNABLE);
        Some(gp)
    }
}

/// Make a RUNNABLE G run from thread context (or with no P): global queue, and start an idle
/// P for it under the same lock (Go's injectglist), so the G cannot be stranded.
pub(crate) fn inject(gp: *mut G) {
    let mut s = SCHED.locked();
    s.globrunqput(gp);
    let pp = s.pidleget();
    drop(s);
    if !pp.is_null() {
        startm(pp, false, true);
    }
}

/// How long every goroutine must stay asleep before gmp_main reports a deadlock.
pub(crate) const DEADLOCK_GRACE_NS: i64 = 100_000_000;

/// checkdead (Go's): called as an M goes idle. If no M is running goroutine code — every M
/// idle, idle-locked or sysmon, none in a syscall — and nothing is runnable, no goroutine can
/// wake unless a plain thread calls in. api.md counts only threads that have called in (a
/// second one turns detection off), but a thread that a goroutine has just created and that is
/// about to call gmp_ready has not called yet. So this only records the moment (`dead_since`)
/// and wakes sysmon; sysmon (`confirm_dead`) fails gmp_main if the state still holds after
/// DEADLOCK_GRACE_NS. Any M waking in between breaks the state; when it is reached again the
/// moment is recorded afresh.
pub(crate) fn checkdead(s: &mut crate::sched::SchedLocked) {
    if is_dead(s) {
        SCHED.dead_since.store(sys::nanotime(), Relaxed);
        SCHED.sysmon_note.wake_any();
    }
}

/// sysmon's half of checkdead: report the deadlock if it has lasted the grace period.
pub(crate) fn confirm_dead(now: i64) {
    let since = SCHED.dead_since.load(Relaxed);
    if since == 0 || now - since < DEADLOCK_GRACE_NS {
        return;
    }
    let s = SCHED.locked();
    if !is_dead(&s) {
        SCHED.dead_since.store(0, Relaxed);
        return;
    }
    if SCHED.dead_since.load(Relaxed) != since {
        return; // re-established meanwhile: wait for its own grace period
    }
    let main = SCHED.main_done.load(Acquire);
    drop(s);
    SCHED.dead_since.store(0, Relaxed);
    // Deadlock. Release pairs with gmp_main's Acquire: 2 = deadlock (1 = done).
    if SCHED.main_done.compare_exchange(main, null_mut(), AcqRel, Relaxed).is_ok() {
        // SAFETY: gmp_main keeps the word alive until it has seen it change.
        unsafe {
            (*main).store(2, Release);
            sys::futex_wake(&*main, 1);
        }
    }
}

/// Every M asleep, nothing runnable, a gmp_main waiting, no second outside thread.
fn is_dead(s: &crate::sched::SchedLocked) -> bool {
    if SCHED.ext_many.load(Relaxed) || SCHED.main_done.load(Acquire).is_null() {
        return false;
    }
    let run = SCHED.mcount.load(Relaxed) as i64
        - s.nmidle as i64
        - s.nmidlelocked as i64
        - SCHED.nmsys.load(Relaxed) as i64;
    if run != 0 || s.runq.len != 0 || !s.newm_pending.is_null() {
        return false;
    }
    // SAFETY: Ps below nallp are live forever.
    (0..SCHED.nallp.load(Acquire)).all(|i| unsafe { (*SCHED.p(i)).runq.is_empty() })
}
