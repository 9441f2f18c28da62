//! # Goroutine scheduler
//! (Go's proc.go, whose vocabulary this file keeps.)
//!
//! G = goroutine, M = OS thread, P = processor: the resource an M needs to run goroutines.
//! An M must hold a P to run goroutines; it may be without one while idle or in a syscall. Each P has a lock-free local run queue (runq.rs) plus a `runnext` slot; there is a
//! global run queue under sched.lock. `schedule()` runs on the M's g0 stack: it finds a
//! runnable G (`find_runnable`) and switches to it (`execute`); a goroutine comes back to g0
//! through `mcall` when it parks (`gopark`), yields (`gosched`), exits (`goexit`) or is
//! preempted.
//!
//! Where a G goes when it becomes runnable (Go's choices):
//! - spawned or readied by a goroutine: the caller's P's `runnext` (it runs next, inheriting
//!   the time slice; the previous runnext moves to the ring);
//! - spawned or readied from a plain thread: the global queue, and an idle P is started
//!   under the same lock (Go's injectglist), so such a wake-up cannot be lost;
//! - yielded (`gosched`) or preempted: the global queue.
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
//!    The producer's queue store is ordered before its reads of npidle/nmspinning by a
//!    StoreLoad barrier (`fence(SeqCst)` in `Idle::wakep`; Go's is runqput's XCHG).
//! 3. A spinning M that finds work stops spinning and, if it was the last, calls `wakep` (there
//!    may be more work).
//! 4. A spinning M that finds nothing drops its P, decrements nmspinning (SeqCst), and then,
//!    after a StoreLoad barrier, re-checks every P's queue once more before sleeping (the
//!    "delicate dance"): a producer that saw nmspinning > 0 before the decrement relied on
//!    this M to find its G. With barriers on both sides, either the producer sees the
//!    decrement (and wakes a spinner) or the spinner sees the G.
//!
//! The counters and the lock-free halves of steps 2-4 live in sched/idle.rs, model-checked
//! with loom against the real run queue (idle/loom_tests.rs).
//!
//! Idle Ms sleep on their note (a futex, after a brief spin): an idle runtime uses no CPU.
//!
//! # Locked goroutines (lockOSThread, Go's lockedm)
//! A locked G runs only on its M, and that M runs nothing else. When the locked G blocks,
//! its M hands off its P and sleeps (`stoplockedm`); when another M's scheduler picks the
//! G, it hands its own P to the locked M and wakes it (`startlockedm`). Asynchronous
//! preemption reuses this: a preempted G is locked to its M until resumed (preempt/).

use crate::arch::{self, getm};
use crate::debug::knobs::RANDOMSCHED;
use crate::debug::waitreason::WaitReason;
use crate::sched::runq::RUNQ_SIZE;
use crate::netpoll;
use crate::os;
use crate::os::stack;
use crate::sched::checkdead::{checkdead, MainState, MainWait};
use crate::sched::cxa;
use crate::sched::g::{GQueue, GStatus, G};
use crate::sched::m::{ctx, Ctx, LockedWait, UnlockFn, M};
use crate::sched::p::{bump, PStatus, P};
use crate::sched::sched::{gfget, gfput, SchedLocked, SCHED};
use crate::sched::schedinit::ensure_started;
use crate::sched::syscall::{enter, leave};
use core::ptr::null_mut;
use core::sync::atomic::Ordering::*;
use libc::c_void;

/// Goroutines-per-global-check fairness tick (Go's 61).
const GLOBAL_TICK: u32 = 61;
const STEAL_TRIES: u32 = 4;

/// Whether an M that startm starts spins.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Spin {
    No,
    /// It spins, and the caller has already counted it in nmspinning (wakep, handoffp).
    Counted,
}

/// Whether a G about to run takes over the current time slice (it came from runnext) or
/// starts a new one.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Slice {
    Inherit,
    New,
}

// ---------------------------------------------------------------------------------------------
// M lifecycle

/// mstart1: after mstart set up the thread: look for work as a spinning M woken by wakep
/// would (the template thread made us because work found no idle M, or as a spare), else go
/// idle; then schedule.
/// # Safety
/// On the M's g0, with the g register set.
pub(crate) unsafe fn mstart1(mp: *mut M) -> ! {
    // SAFETY: mp is this thread's M.
    unsafe {
        if (*mp).kind == crate::sched::m::MKind::Worker {
            SCHED.mstarting.fetch_sub(1, Relaxed);
        }
        let pp = (*mp).nextp;
        if !pp.is_null() {
            (*mp).nextp = null_mut();
            acquirep(mp, pp);
            schedule()
        }
        crate::sched::template::request_done(1);
        if SCHED.idle.wakep() {
            // Counted as the one spinning M (wakep's rules).
            let pp = SCHED.locked().pidleget();
            if !pp.is_null() {
                acquirep(mp, pp);
                (*mp).spinning.store(true, Relaxed);
                schedule()
            }
            SCHED.idle.uncount_spinning();
        }
        stopm(mp);
        schedule()
    }
}

/// acquirep: the calling M takes pp, which was handed to it (idle list, nextp, a won CAS).
/// # Safety
/// mp is the calling M and holds no P; the caller owns pp.
pub(crate) unsafe fn acquirep(mp: *mut M, pp: *mut P) {
    // SAFETY: per the contract.
    unsafe {
        if !(*mp).p().is_null() || !(*pp).m().is_null() {
            throw!("acquirep: invalid p state");
        }
        (*mp).p.store(pp, Relaxed);
        (*pp).m.store(mp, Relaxed);
        (*pp).status.set(PStatus::Idle, PStatus::Running);
    }
    // A P is busy again: wake sysmon if it sleeps with every P idle (SeqCst pairs with its
    // store of sysmonwait before its re-check of npidle). Refresh the coarse clock first: the
    // slices about to start are stamped from it.
    if SCHED.sysmonwait.load(SeqCst) && SCHED.sysmonwait.swap(false, SeqCst) {
        SCHED.now.store(os::nanotime(), Relaxed);
        SCHED.sysmon_note.wake_any();
    }
}

/// releasep: the calling M gives up its P, which becomes Idle and owned by the caller.
/// # Safety
/// mp is the calling M and holds a P.
pub(crate) unsafe fn releasep(mp: *mut M) -> *mut P {
    // SAFETY: we own mp.p until we clear it here.
    unsafe {
        let pp = (*mp).p();
        if pp.is_null() || (*pp).m() != mp {
            throw!("releasep: invalid p state");
        }
        (*pp).m.store(null_mut(), Relaxed);
        (*pp).status.set(PStatus::Running, PStatus::Idle);
        (*mp).p.store(null_mut(), Relaxed);
        pp
    }
}

/// stopm: put the calling M on the idle list and sleep until startm hands it a P.
unsafe fn stopm(mp: *mut M) {
    // SAFETY: mp is the calling M, holding no P.
    unsafe {
        if !(*mp).p().is_null() {
            throw!("stopm: holding p");
        }
        if (*mp).spinning() {
            throw!("stopm: spinning");
        }
        crate::sched::template::ensure();
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

/// startm: run some M on pp (an idle P if null). With `Spin::Counted` the M starts spinning
/// (the caller counted it).
///
/// Never creates a thread here (see template.rs): with no idle M, pp goes to the M of a
/// runnable goroutine locked to it — preempted, or back from a blocking call — if one waits
/// (that needs no new thread; the goroutine might hold the lock that thread creation waits
/// for), else pp goes idle with
/// its queued Gs moved to the global queue, and the template thread is asked for an M. The
/// work then waits for an M (new or existing) to take an idle P; it is never stranded on pp.
pub(crate) fn startm(mut pp: *mut P, spin: Spin) {
    let mut s = SCHED.locked();
    if pp.is_null() {
        pp = s.pidleget();
        if pp.is_null() {
            drop(s);
            uncount_spinning(spin);
            return;
        }
    }
    let nmp = s.mget();
    if nmp.is_null() {
        let gp = s.lockedgget();
        // SAFETY: pp is ours (taken above or handed to us); a preempted G is locked to its M,
        // which waits for it in stoplockedm (or is about to).
        unsafe {
            if !gp.is_null() {
                handoff_to_locked(&mut s, (*gp).lockedm(), pp);
            } else {
                s.runq_to_global(pp);
                s.pidleput(pp);
            }
        }
        drop(s);
        uncount_spinning(spin);
        if gp.is_null() {
            crate::sched::template::newm_request();
        }
        return;
    }
    drop(s);
    crate::sched::template::spare_check();
    // SAFETY: nmp came off the idle list: it sleeps on its note and reads these after waking.
    unsafe {
        (*nmp).spinning.store(spin == Spin::Counted, Relaxed);
        (*nmp).nextp = pp;
        (*nmp).park.wakeup();
    }
}

/// A spinning M that startm counted for could not be started.
fn uncount_spinning(spin: Spin) {
    if spin == Spin::Counted {
        SCHED.idle.uncount_spinning();
    }
}

/// handoffp: the calling M gives up pp (it is about to block). Start an M for it if there is
/// work, else make it idle.
/// # Safety
/// The caller owns pp (Idle, released).
pub(crate) unsafe fn handoffp(pp: *mut P) {
    // SAFETY: the caller released pp; we decide where it goes.
    unsafe {
        if !(*pp).runq.is_empty() || SCHED.runqsize.load(Relaxed) != 0 {
            startm(pp, Spin::No);
            return;
        }
    }
    // No local work: let it spin if nobody is looking for work.
    if SCHED.idle.handoffp() {
        startm(pp, Spin::Counted);
        return;
    }
    let mut s = SCHED.locked();
    if s.runq_len() != 0 {
        drop(s);
        startm(pp, Spin::No);
        return;
    }
    s.pidleput(pp);
}

/// wakep: try to add one more spinning M (when there is an idle P and nobody spins). The
/// caller has just published work (step 2); `Idle::wakep` orders that before its checks.
pub(crate) fn wakep() {
    if SCHED.idle.wakep() {
        startm(null_mut(), Spin::Counted);
    }
}

/// resetspinning: the calling M found work while spinning.
unsafe fn resetspinning(mp: *mut M) {
    // SAFETY: mp is the calling M.
    unsafe { (*mp).spinning.store(false, Relaxed) };
    SCHED.idle.resetspinning();
    // We were perhaps the last spinner and found work: there may be more (step 3).
    wakep();
}

/// stoplockedm: the calling M's locked G is not runnable; give away the P and sleep until
/// startlockedm hands it back a P with the G runnable.
unsafe fn stoplockedm(mp: *mut M) {
    // SAFETY: mp is the calling M.
    unsafe {
        let gp = (*mp).lockedg();
        if gp.is_null() || (*gp).lockedm() != mp {
            throw!("stoplockedm: inconsistent locking");
        }
        if !(*mp).p().is_null() {
            let pp = releasep(mp);
            handoffp(pp);
        }
        {
            // Count ourselves idle-locked — unless a waker already handed us a P (our G was
            // published before we got here). The waker takes us off the count (Go's
            // incidlelocked(-1) in startlockedm): from then on the G is in transit on this M.
            let mut s = SCHED.locked();
            let st = (*mp).locked(&mut s).lockedwait;
            match st {
                LockedWait::Woken => (*mp).locked(&mut s).lockedwait = LockedWait::No,
                LockedWait::No => {
                    s.nmidlelocked += 1;
                    (*mp).locked(&mut s).lockedwait = LockedWait::Counted;
                    checkdead(&mut s);
                }
                LockedWait::Counted => throw!("stoplockedm: already counted idle"),
            }
        }
        (*mp).park.sleep();
        (*mp).park.clear();
        let pp = (*mp).nextp;
        (*mp).nextp = null_mut();
        acquirep(mp, pp);
    }
}

/// startlockedm: gp (runnable) is locked to another M: give that M our P and wake it, then
/// stop the calling M.
unsafe fn startlockedm(mp: *mut M, gp: *mut G) {
    // SAFETY: we own gp (taken from a run queue) and our P.
    unsafe {
        let mp2 = (*gp).lockedm();
        if mp2 == mp {
            throw!("startlockedm: locked to me");
        }
        let pp = releasep(mp);
        handoff_to_locked(&mut SCHED.locked(), mp2, pp);
        stopm(mp);
    }
}

/// Give pp to mp2, which waits (or is about to wait) in stoplockedm for its runnable G.
/// # Safety
/// The caller owns pp and took mp2's locked G off the run queues.
pub(crate) unsafe fn handoff_to_locked(s: &mut SchedLocked, mp2: *mut M, pp: *mut P) {
    // SAFETY: per the contract; lockedwait is under sched.lock (s).
    unsafe {
        let l = (*mp2).locked(s);
        match l.lockedwait {
            LockedWait::Counted => {
                l.lockedwait = LockedWait::No;
                s.nmidlelocked -= 1;
            }
            // It has not counted itself yet: tell it not to.
            LockedWait::No => l.lockedwait = LockedWait::Woken,
            LockedWait::Woken => throw!("handoff_to_locked: woken twice"),
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
        if !(*mp).curg().is_null() {
            throw!("schedule: holding a goroutine");
        }
        if !(*mp).lockedg().is_null() {
            stoplockedm(mp);
            execute(mp, (*mp).lockedg(), Slice::New);
        }
        loop {
            let (gp, slice) = find_runnable(mp);
            // find_runnable checks for retirement only at its top: if procresize retired our P
            // while we looked, run nothing on it (at most gomaxprocs Gs run at once).
            if (*(*mp).p()).retiring() {
                SCHED.locked().globrunqput(gp);
                continue;
            }
            if (*mp).spinning() {
                resetspinning(mp);
            }
            if !(*gp).lockedm().is_null() {
                // Hands off our P and stops this M; we come back with a new P.
                startlockedm(mp, gp);
                continue;
            }
            execute(mp, gp, slice);
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
        if (*mp).lockedg().is_null() {
            stopm(mp);
        }
        schedule()
    }
}

/// execute: run gp on the calling M.
/// # Safety
/// On g0 of mp, which holds a P; the caller owns gp (Runnable, on no queue).
pub(crate) unsafe fn execute(mp: *mut M, gp: *mut G, slice: Slice) -> ! {
    // SAFETY: per the contract.
    unsafe {
        // Until gp's own code runs, this M is in the runtime: sysmon must not mistake a page
        // fault here for gp blocked in the kernel (see "Blocked threads" in syscall.rs).
        (*mp).acquirem();
        let pp = (*mp).p();
        (*mp).curg.store(gp, Relaxed);
        (*gp).m.store(mp, Relaxed);
        (*gp).status.set(GStatus::Runnable, GStatus::Running);
        if slice == Slice::New {
            // A new time slice. Owner-only counters: load+store, no RMW.
            let t = (*pp).schedtick.load(Relaxed);
            (*pp).schedtick.store(t.wrapping_add(1), Relaxed);
            (*pp).slice_start.store(SCHED.now.load(Relaxed), Relaxed);
        }
        bump(&(*pp).stats.schedules, 1);
        *(*mp).errno_addr = (*gp).errno;
        cxa::restore(mp, gp);
        (*mp).releasem();
        arch::gmp_gogo(gp)
    }
}

/// find_runnable: a runnable goroutine for the calling M, blocking (the M goes idle) until
/// there is one.
unsafe fn find_runnable(mp: *mut M) -> (*mut G, Slice) {
    // SAFETY: mp is the calling M; its P is ours; every P and G reached is live.
    unsafe {
        'top: loop {
            let pp = (*mp).p();
            // A P beyond gomaxprocs retires at this schedule point (see p.rs).
            if (*pp).retiring() {
                let mut s = SCHED.locked();
                if (*pp).retiring() {
                    releasep(mp);
                    s.pidleput(pp); // retires it: its queued Gs move to the global queue
                                    // Those Gs need an M: start one on an idle P (as injectglist does).
                    let pp2 = if s.runq_len() != 0 {
                        s.pidleget()
                    } else {
                        null_mut()
                    };
                    drop(s);
                    if !pp2.is_null() {
                        startm(pp2, Spin::No);
                    }
                    if (*mp).spinning() && stop_spinning(mp) {
                        continue 'top;
                    }
                    stopm(mp);
                    continue 'top;
                }
            }

            // This P's due timers (they ready their goroutines into our runnext).
            (*pp).timers.check(0);

            // Fairness: now and then look at the global queue first.
            if (*pp).schedtick.load(Relaxed).is_multiple_of(GLOBAL_TICK)
                && SCHED.runqsize.load(Relaxed) > 0
            {
                let gp = SCHED.locked().globrunqget(pp, 1);
                if !gp.is_null() {
                    return (gp, Slice::New);
                }
            }

            if let Some((gp, inherit)) = (*pp).runq.get() {
                return (gp, if inherit { Slice::Inherit } else { Slice::New });
            }

            if SCHED.runqsize.load(Relaxed) != 0 {
                let gp = SCHED.locked().globrunqget(pp, 0);
                if !gp.is_null() {
                    return (gp, Slice::New);
                }
            }

            // The network, without blocking, if anyone waits (Go polls before stealing).
            let mut q = netpoll::poll_ready();
            let gp = q.pop();
            if !gp.is_null() {
                inject_list(q);
                make_runnable(gp);
                return (gp, Slice::New);
            }

            // Other Ps' due timers: their Ms may be busy for a whole slice (Go steals timers
            // in stealWork's last round; here always, so a non-spinning M runs them too).
            if run_other_timers(pp) {
                if let Some((gp, inherit)) = (*pp).runq.get() {
                    return (gp, if inherit { Slice::Inherit } else { Slice::New });
                }
            }

            // Steal, if spinning is allowed: at most half the busy Ps have a spinning M.
            let procs = SCHED.gomaxprocs.load(Relaxed);
            if (*mp).spinning() || SCHED.idle.may_spin(procs) {
                if !(*mp).spinning() {
                    (*mp).spinning.store(true, Relaxed);
                    SCHED.idle.start_spinning();
                }
                let gp = steal_work(mp, pp);
                if !gp.is_null() {
                    return (gp, Slice::New);
                }
            }

            // Nothing: give up the P. Re-check the global queue under the lock first.
            let mut s = SCHED.locked();
            if s.runq_len() != 0 {
                let gp = s.globrunqget(pp, 0);
                return (gp, Slice::New);
            }
            releasep(mp);
            s.pidleput(pp);
            drop(s);

            if (*mp).spinning() && stop_spinning(mp) {
                continue 'top;
            }
            // The last M to go idle gives back surplus stack memory: never while work runs
            // (the madvise would cost the busy Ms TLB shootdowns and fresh page faults).
            if SCHED.idle.npidle() == SCHED.gomaxprocs.load(Relaxed) {
                crate::sched::sched::scavenge_stacks();
            }
            // Block in the network poller until the earliest timer, if someone must (one M).
            if let Some(gp) = poll_blocking(mp) {
                return (gp, Slice::New);
            }
            if !(*mp).p().is_null() {
                continue 'top;
            }
            stopm(mp);
        }
    }
}

/// The earliest timer of any P (0 = none). Every P ever made: a retired P keeps its timers.
fn next_timer() -> i64 {
    let mut next = 0i64;
    for i in 0..SCHED.nallp.load(Acquire) {
        // SAFETY: Ps below nallp are live forever.
        let w = unsafe { (*SCHED.p(i)).timers.wake_time() };
        if w != 0 && (next == 0 || w < next) {
            next = w;
        }
    }
    next
}

/// Run the due timers of the Ps other than pp (whose Ms may be busy, or which are idle or
/// retired). Their goroutines come to pp's run queue. True if any ran.
unsafe fn run_other_timers(pp: *mut P) -> bool {
    let mut ran = false;
    let mut now = 0;
    for i in 0..SCHED.nallp.load(Acquire) {
        let p2 = SCHED.p(i);
        // SAFETY: Ps below nallp are live forever.
        let w = unsafe { (*p2).timers.wake_time() };
        if p2 == pp || w == 0 {
            continue;
        }
        if now == 0 {
            now = os::nanotime();
        }
        if w <= now {
            // SAFETY: as above.
            ran |= unsafe { (*p2).timers.check(now) }.2;
        }
    }
    ran
}

/// Go's findRunnable tail: an M with no P and no work blocks in the network poller until the
/// earliest timer — if anyone waits on an fd or a timer exists, and no other M already does
/// (then, if that one would sleep past our timer, break its wait). Returns a goroutine to
/// run (the M holds a P then); or none, with a P (look again) or without one (sleep).
unsafe fn poll_blocking(mp: *mut M) -> Option<*mut G> {
    if !netpoll::inited() {
        return None;
    }
    let until = next_timer();
    if netpoll::NWAITERS.load(SeqCst) == 0 && until == 0 {
        return None;
    }
    if netpoll::LASTPOLL.swap(0, SeqCst) == 0 {
        // Another M polls: make sure it wakes in time for our timer.
        let pu = netpoll::POLL_UNTIL.load(SeqCst);
        if until != 0 && (pu == 0 || pu > until) {
            netpoll::epoll::netpoll_break();
        }
        return None;
    }
    netpoll::POLL_UNTIL.store(until, SeqCst);
    let delay = if until == 0 {
        -1
    } else {
        (until - os::nanotime()).max(0)
    };
    let mut q = netpoll::netpoll(delay);
    netpoll::POLL_UNTIL.store(0, SeqCst);
    netpoll::LASTPOLL.store(os::nanotime(), SeqCst);
    let pp = SCHED.locked().pidleget();
    if pp.is_null() {
        inject_list(q);
        return None;
    }
    // SAFETY: pp came off the idle list: ours.
    unsafe { acquirep(mp, pp) };
    let gp = q.pop();
    if gp.is_null() {
        return None;
    }
    inject_list(q);
    make_runnable(gp);
    Some(gp)
}

/// A G whose netpoll wait or timer this M won (Waiting, ours) becomes Runnable.
fn make_runnable(gp: *mut G) {
    // SAFETY: gp is a G of this runtime; we own its wake-up.
    if !unsafe { (*gp).status.try_cas(GStatus::Waiting, GStatus::Runnable) } {
        throw!("netpoll: readied a goroutine that was not parked");
    }
}

/// Go's injectglist for a batch of Gs whose wake-up the caller owns (Waiting): with a P, onto
/// its run queue, waking a spinning M to share them; without one, onto the global queue, with
/// an idle P started for each as far as there are.
pub(crate) fn inject_list(mut q: GQueue) {
    if q.len == 0 {
        return;
    }
    let c = enter();
    let pp = match c {
        // SAFETY: our own M.
        Ctx::G(mp, _) | Ctx::G0(mp) => unsafe { (*mp).p() },
        Ctx::Thread => null_mut(),
    };
    if !pp.is_null() {
        loop {
            let gp = q.pop();
            if gp.is_null() {
                break;
            }
            make_runnable(gp);
            // SAFETY: inside the runtime we keep our P; we own gp.
            unsafe { runqput(pp, gp, false) };
        }
        wakep();
    } else {
        let mut n = q.len;
        let mut s = SCHED.locked();
        loop {
            let gp = q.pop();
            if gp.is_null() {
                break;
            }
            make_runnable(gp);
            s.globrunqput(gp);
        }
        let mut ps = [null_mut::<P>(); 8];
        let mut k = 0;
        while n > 0 && k < ps.len() {
            let p2 = s.pidleget();
            if p2.is_null() {
                break;
            }
            ps[k] = p2;
            k += 1;
            n -= 1;
        }
        drop(s);
        for &p2 in &ps[..k] {
            startm(p2, Spin::No);
        }
    }
    leave(c);
}

/// The delicate dance (step 4 of the parking protocol): a spinning M that holds no P stops
/// spinning, then looks at every queue once more. True if it found work and took an idle P
/// (spinning again): go back to the top of find_runnable.
unsafe fn stop_spinning(mp: *mut M) -> bool {
    // SAFETY: mp is the calling M; Ps are never freed.
    unsafe {
        (*mp).spinning.store(false, Relaxed);
        // Decrement, fence, then look again (see Idle::stop_spinning): the global queue under
        // sched.lock (so a producer's put there needs no barrier of its own), each P's queue
        // lock-free.
        let work = SCHED.idle.stop_spinning(|| {
            SCHED.locked().runq_len() != 0
                || (0..SCHED.nallp.load(Acquire)).any(|i| {
                    let p2 = SCHED.p(i);
                    (*p2).status.load(Relaxed) != PStatus::Dead && !(*p2).runq.is_empty()
                })
        });
        if work {
            let pp2 = SCHED.locked().pidleget();
            if !pp2.is_null() {
                acquirep(mp, pp2);
                (*mp).spinning.store(true, Relaxed);
                SCHED.idle.start_spinning();
                return true;
            }
        }
        false
    }
}

/// stealWork: up to 4 rounds over all Ps in random order, taking half of a victim's queue;
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
                // way to a new M (still Idle while that thread starts). Ps on the idle list
                // have empty queues, which the steal sees at once.
                if p2 == pp || (*p2).status.load(Relaxed) == PStatus::Dead {
                    continue;
                }
                let running =
                    || (*p2).status.load(Relaxed) == PStatus::Running && !(*p2).m().is_null();
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
// Goroutine transitions, on g0 (entered through mcall)

/// runqput: put a runnable G on pp's local queue (runnext with `next`); overflow goes global.
/// # Safety
/// The caller owns pp and gp.
pub(crate) unsafe fn runqput(pp: *mut P, gp: *mut G, mut next: bool) {
    let random = RANDOMSCHED.load(Relaxed);
    if random && next {
        // SAFETY: the owner of pp runs on its own M.
        next = unsafe { (*getm()).fastrand() } % 2 == 0;
    }
    // SAFETY: per the contract.
    unsafe {
        (*pp).runq.put(gp, next, &mut |batch| {
            let mut shuffled = [null_mut(); RUNQ_SIZE as usize / 2 + 1];
            let batch = if random {
                // Go's runqputslow under randomizeScheduler: a Fisher-Yates shuffle.
                let b = &mut shuffled[..batch.len()];
                b.copy_from_slice(batch);
                let mp = getm();
                for i in 1..b.len() {
                    b.swap(i, (*mp).fastrand() as usize % (i + 1));
                }
                &*b
            } else {
                batch
            };
            let mut s = SCHED.locked();
            for &g1 in batch {
                s.globrunqput(g1);
            }
        })
    }
}

/// mcall: switch the running goroutine gp out to g0 and call `f(gp)` there. No runtime lock
/// may be held across the switch (the lock rule, lock/mod.rs). The caller entered the runtime
/// (`syscall::enter`: m.locks raised once); `f` starts with `dropg`, which lowers it.
/// # Safety
/// Called by the goroutine running on mp; `f` never returns.
pub(crate) unsafe fn mcall(mp: *mut M, f: unsafe extern "C" fn(*mut G) -> !) {
    // SAFETY: per the contract.
    unsafe { mcall_holding(mp, f, 0) }
}

/// mcall with `held` RawLocks (lock/raw.rs) held across the switch, which `f`'s park callback
/// releases on g0 (Go's gopark with a held lock: the goroutine cannot be woken before it has
/// parked, because its wakers need the lock).
/// # Safety
/// As mcall.
pub(crate) unsafe fn mcall_holding(mp: *mut M, f: unsafe extern "C" fn(*mut G) -> !, held: u32) {
    // SAFETY: per the contract.
    unsafe {
        (*mp).assert_no_locks_held("mcall: runtime lock held across a goroutine switch");
        if cfg!(debug_assertions) && (*mp).locks.load(Relaxed) != 1 + held as i32 {
            throw!("mcall: not entered through syscall::enter (m.locks != 1)");
        }
        arch::gmp_mcall(f)
    }
}

/// dropg: drop the association between the calling M and its current G, and end the runtime
/// entry that led to the switch (mcall): from here on the M runs no goroutine, so sysmon
/// cannot mistake it for one blocked in the kernel.
/// # Safety
/// mp is the calling M and gp its curg, switched out.
#[inline(always)]
pub(crate) unsafe fn dropg(mp: *mut M, gp: *mut G) {
    // SAFETY: per the contract.
    unsafe {
        (*gp).errno = *(*mp).errno_addr;
        cxa::save(mp, gp);
        (*gp).m.store(null_mut(), Relaxed);
        (*mp).curg.store(null_mut(), Relaxed);
        (*mp).releasem();
    }
}

/// park_m: gp parks (gopark). Runs on g0 after gp's context was saved.
unsafe extern "C" fn park_m(gp: *mut G) -> ! {
    let mp = getm();
    // SAFETY: mp is the calling M; gp was its curg and its context is saved.
    unsafe {
        dropg(mp, gp);
        (*gp).status.cas(GStatus::Running, GStatus::Waiting);
        if let Some(f) = (*mp).waitunlockf.take() {
            let lock = (*mp).waitlock;
            (*mp).waitlock = null_mut();
            // Not parked after all: resume at once — unless a waker already readied it, in
            // which case it is on a run queue and will run from there.
            if !f(gp, lock) && (*gp).status.try_cas(GStatus::Waiting, GStatus::Runnable) {
                execute(mp, gp, Slice::Inherit);
            }
        }
        schedule()
    }
}

/// gosched_m: gp yields: to the back of the global queue.
unsafe extern "C" fn gosched_m(gp: *mut G) -> ! {
    let mp = getm();
    // SAFETY: as park_m.
    unsafe {
        dropg(mp, gp);
        (*gp).status.set(GStatus::Running, GStatus::Runnable);
        yield_global(mp, gp)
    }
}

/// The calling M's G, switched out and Runnable, goes to the back of the global queue (a
/// yield). With nothing local, find_runnable would take from the global queues next, so take
/// their next G under this same lock (one G, not a batch: the next yield pays for the lock
/// anyway, and a batch would cost a run-queue CAS per G), and:
/// - if this M may run it (it is unlocked and so is the M, or it is the M's own locked G —
///   the yielding G itself when nothing else is runnable), run it;
/// - if it is locked to another M (a preempted G, say), give that M the P directly (one
///   wake-up; through schedule() it would take two: an M to find the G, then the G's M).
///
/// Otherwise, or on a retiring P, go through schedule().
/// # Safety
/// On g0 of mp, which holds a P; gp was its curg and is now Runnable on no queue.
pub(crate) unsafe fn yield_global(mp: *mut M, gp: *mut G) -> ! {
    // SAFETY: per the contract; Gs on the global queues are live and owned by them.
    unsafe {
        let pp = (*mp).p();
        // Due timers first (this path skips find_runnable): their goroutines go to our
        // runnext, ahead of the yielder, which goes behind everything runnable.
        (*pp).timers.check(0);
        let mut s = SCHED.locked();
        s.globrunqput(gp);
        if (*pp).runq.is_empty() && !(*pp).retiring() {
            let next = s.globrunq_head();
            let mp2 = (*next).lockedm();
            let here = (*mp).lockedg();
            if (mp2.is_null() && here.is_null()) || (mp2 == mp && next == here) {
                let got = s.globrunqget(pp, 1);
                debug_assert!(got == next);
                drop(s);
                wakep();
                execute(mp, next, Slice::New);
            }
            if !mp2.is_null() && mp2 != mp {
                let got = s.globrunqget(pp, 1);
                debug_assert!(got == next);
                releasep(mp);
                handoff_to_locked(&mut s, mp2, pp);
                drop(s);
                schedule_without_p(mp);
            }
        }
        drop(s);
        wakep();
        schedule()
    }
}

/// goexit0: gp has finished (returned or goexit). Its G and stack go to the free list.
unsafe extern "C" fn goexit0(gp: *mut G) -> ! {
    let mp = getm();
    // SAFETY: as park_m; after gfput we no longer touch gp.
    unsafe {
        dropg(mp, gp);
        (*gp).status.set(GStatus::Running, GStatus::Dead);
        if !(*gp).lockedm().is_null() {
            // Go kills a thread whose goroutine exits locked; Ms here are never destroyed, so
            // the lock simply ends with the goroutine.
            (*gp).lockedm.store(null_mut(), Relaxed);
            (*gp).lock_depth = 0;
            (*mp).lockedg.store(null_mut(), Relaxed);
        }
        let main_wait = (*gp).main_wait;
        let pp = (*mp).p();
        gfput(pp, gp);
        bump(&(*pp).stats.ended, 1);
        if !main_wait.is_null() {
            // SAFETY: gmp_main keeps its wait alive until it is reported.
            (*main_wait).done();
        }
        schedule()
    }
}

/// goexit1: where a goroutine's function returns to (asm/gostart.S calls it through r13).
pub(crate) unsafe extern "C" fn goexit1() -> ! {
    match goexit() {
        Err(_) => throw!("goexit1: not on a goroutine"),
    }
}

// ---------------------------------------------------------------------------------------------
// Go's mechanisms as the C face uses them (ffi/ translates arguments and errors only)

/// newproc1: a G ready to start `f(arg)`, with a fresh id, Runnable and on no queue.
/// `pp` is the caller's P (null in thread context). None if no stack can be had.
/// # Safety
/// The caller owns pp (if non-null).
unsafe fn newproc1(
    pp: *mut P,
    f: usize,
    arg: usize,
    main_wait: *const MainWait,
    creator: Creator,
) -> Option<*mut G> {
    // SAFETY: per the contract; a G from the free list is dead and ours.
    unsafe {
        let mut gp = gfget(pp);
        if gp.is_null() {
            let st = stack::stack_alloc(SCHED.stack_size.load(Relaxed))?;
            gp = G::new_record(st)?;
            SCHED.allgs_push(gp);
            (*gp).status.set(GStatus::Idle, GStatus::Dead);
        }
        (*gp).prepare(f, arg);
        (*gp).main_wait = main_wait;
        (*gp).parent_goid = creator.goid;
        (*gp).gopc = creator.pc;
        let goid = if pp.is_null() {
            SCHED.goidgen.fetch_add(1, Relaxed) + 1
        } else {
            (*pp).next_goid()
        };
        (*gp).goid.store(goid, Relaxed);
        if pp.is_null() {
            SCHED.spawned_nop.fetch_add(1, Relaxed);
        } else {
            bump(&(*pp).stats.spawned, 1);
        }
        (*gp).status.set(GStatus::Dead, GStatus::Runnable);
        Some(gp)
    }
}

/// Who runs a `go` statement, for dumps: the creating goroutine (0: a thread) and the pc of
/// the call (Go's `gopc`).
#[derive(Clone, Copy)]
struct Creator {
    goid: i64,
    pc: usize,
}

/// newproc: `go f(arg)` from any context; `pc` is where the caller called gmp_spawn (dumps'
/// "created by"). Returns the new goroutine's id; `Err(ENOMEM)` when no stack can be had (or
/// the runtime's start error).
pub(crate) fn newproc(
    f: unsafe extern "C" fn(*mut c_void),
    arg: *mut c_void,
    pc: usize,
) -> Result<i64, i32> {
    newproc_main(f, arg, core::ptr::null(), pc)
}

fn newproc_main(
    f: unsafe extern "C" fn(*mut c_void),
    arg: *mut c_void,
    main_wait: *const MainWait,
    pc: usize,
) -> Result<i64, i32> {
    ensure_started()?;
    let (f, arg) = (f as usize, arg as usize);
    let c = enter();
    let creator = Creator {
        // SAFETY: gp is the calling goroutine (its id is its own).
        goid: match c {
            Ctx::G(_, gp) => unsafe { (*gp).goid() },
            _ => 0,
        },
        pc,
    };
    let r = match c {
        // SAFETY: mp is this thread's M.
        Ctx::G(mp, _) | Ctx::G0(mp) if !unsafe { (*mp).p() }.is_null() => {
            // SAFETY: inside the runtime (enter), mp keeps its P for the duration; we own it.
            unsafe {
                let pp = (*mp).p();
                match newproc1(pp, f, arg, main_wait, creator) {
                    Some(gp) => {
                        let id = (*gp).goid();
                        runqput(pp, gp, true);
                        wakep();
                        Ok(id)
                    }
                    None => Err(libc::ENOMEM),
                }
            }
        }
        _ => {
            if matches!(c, Ctx::Thread) {
                SCHED.note_external_caller();
            }
            // SAFETY: no P is owned here.
            match unsafe { newproc1(null_mut(), f, arg, main_wait, creator) } {
                Some(gp) => {
                    // SAFETY: gp is ours until queued.
                    let id = unsafe { (*gp).goid() };
                    injectglist(gp);
                    Ok(id)
                }
                None => Err(libc::ENOMEM),
            }
        }
    };
    leave(c);
    r
}

/// injectglist: make a Runnable G run from thread context (or with no P): global queue, and
/// start an idle P for it under the same lock, so the G cannot be stranded.
fn injectglist(gp: *mut G) {
    let mut s = SCHED.locked();
    s.globrunqput(gp);
    let pp = s.pidleget();
    drop(s);
    if !pp.is_null() {
        startm(pp, Spin::No);
    }
}

/// Go's runtime.main, for gmp_main: run `f(arg)` as the main goroutine and wait for it (thread
/// context only). `Err(EDEADLK)` if checkdead finds every goroutine asleep for good.
pub(crate) fn gomain(f: unsafe extern "C" fn(*mut c_void), arg: *mut c_void) -> Result<(), i32> {
    if !matches!(ctx(), Ctx::Thread) {
        return Err(libc::EPERM);
    }
    ensure_started()?;
    let wait = MainWait::new();
    newproc_main(f, arg, &wait, 0)?;
    // Registered after the main G is queued: checkdead then sees it as runnable, not dead.
    if !SCHED.ext_many.load(Relaxed) {
        wait.register();
    }
    let st = wait.wait();
    wait.unregister();
    match st {
        MainState::Deadlock => {
            os::write_err(b"gmp: fatal error: all goroutines are asleep - deadlock!\n");
            Err(libc::EDEADLK)
        }
        _ => Ok(()),
    }
}

/// gopark: park the calling goroutine; `unlockf(gp, lock)` runs on g0 once it is switched
/// out (false: resume at once). `reason` is what dumps show. `Err(EPERM)` outside a goroutine.
pub(crate) fn gopark(unlockf: Option<UnlockFn>, lock: *mut c_void, reason: WaitReason) -> Result<(), i32> {
    let c = enter();
    let Some((mp, gp)) = running(c) else {
        leave(c);
        return Err(libc::EPERM);
    };
    // SAFETY: mp is our M and gp our G; park_m reads these on this M's g0 right after the
    // switch (mcall ends the runtime entry).
    unsafe {
        set_waitreason(gp, reason);
        (*mp).waitunlockf = unlockf;
        (*mp).waitlock = lock;
        mcall(mp, park_m);
    }
    Ok(())
}

/// gopark for a goroutine that entered the runtime itself (`enter`, then a `running` check)
/// and holds `held` RawLocks that `unlockf` releases on g0 (sync/).
/// # Safety
/// mp is the calling goroutine's M, inside `enter`; `unlockf` releases exactly those locks.
pub(crate) unsafe fn gopark_holding(
    mp: *mut M,
    unlockf: UnlockFn,
    lock: *mut c_void,
    held: u32,
    reason: WaitReason,
) {
    // SAFETY: per the contract (curg is the caller); park_m reads these on this M's g0 right
    // after the switch.
    unsafe {
        set_waitreason((*mp).curg(), reason);
        (*mp).waitunlockf = Some(unlockf);
        (*mp).waitlock = lock;
        mcall_holding(mp, park_m, held);
    }
}

/// Record why and since when `gp` (the caller's own G, about to park) waits. Relaxed: dumps
/// read them racily, and the park's status change publishes them to anyone who needs order.
/// # Safety
/// gp is the calling goroutine's G.
#[inline]
unsafe fn set_waitreason(gp: *mut G, reason: WaitReason) {
    // SAFETY: per the contract.
    unsafe {
        (*gp).waitreason.store(reason as u8, Relaxed);
        (*gp).waitsince.store(SCHED.now.load(Relaxed), Relaxed);
    }
}

/// gmp_park: gopark, marked as a park that gmp_ready may end (`ready_user`).
pub(crate) fn gopark_user(unlockf: Option<UnlockFn>, lock: *mut c_void) -> Result<(), i32> {
    let gp = match ctx() {
        Ctx::G(_, gp) => gp,
        _ => return Err(libc::EPERM),
    };
    // SAFETY: our own G. Release/Acquire: a waker that sees the flag sees the park's setup.
    unsafe { (*gp).user_park.store(true, Release) };
    let r = gopark(unlockf, lock, WaitReason::Park);
    // SAFETY: as above.
    unsafe { (*gp).user_park.store(false, Relaxed) };
    r
}

/// gmp_ready: `ready`, for a goroutine parked in gmp_park only (`Err(EINVAL)` for one that
/// sleeps or waits on an fd: its own timer or event would wake it a second time).
/// # Safety
/// As ready.
pub(crate) unsafe fn ready_user(gp: *mut G) -> Result<(), i32> {
    // SAFETY: per the contract.
    if !unsafe { (*gp).user_park.load(Acquire) } {
        return Err(libc::EINVAL);
    }
    // SAFETY: per the contract.
    unsafe { ready(gp) }
}

/// The running goroutine and its M, if `c` is a goroutine that holds a P (not inside a syscall
/// bracket, where it has none).
pub(crate) fn running(c: Ctx) -> Option<(*mut M, *mut G)> {
    match c {
        // SAFETY: gp is the calling goroutine; its status is its own to read.
        Ctx::G(mp, gp) if unsafe { (*gp).status.load(Relaxed) } == GStatus::Running => {
            Some((mp, gp))
        }
        _ => None,
    }
}

/// ready (goready): make a parked G runnable — in the caller's runnext when called on an M
/// with a P, else through the global queue. `Err(EINVAL)` if gp is not parked.
/// # Safety
/// gp is a G of this runtime (Gs are never freed).
pub(crate) unsafe fn ready(gp: *mut G) -> Result<(), i32> {
    if !crate::sched::schedinit::started() {
        return Err(libc::EINVAL);
    }
    let c = enter();
    // SAFETY: per the contract; we entered the runtime.
    let r = unsafe { ready_in(c, gp) };
    leave(c);
    r
}

/// `ready` for a caller that has entered the runtime (`enter`) as `c` — one context lookup
/// fewer on the hot paths of sync/ (a `rdgsbase` costs ~11 ns on this machine).
/// # Safety
/// As ready; the runtime has started (a parked G exists); `c` is the caller's entry.
pub(crate) unsafe fn ready_in(c: Ctx, gp: *mut G) -> Result<(), i32> {
    // Exactly one caller wins Waiting -> Runnable and owns the G (see g.rs).
    // SAFETY: per the contract.
    if !unsafe { (*gp).status.try_cas(GStatus::Waiting, GStatus::Runnable) } {
        return Err(libc::EINVAL);
    }
    match c {
        // SAFETY: reading our own M's P.
        Ctx::G(mp, _) | Ctx::G0(mp) if !unsafe { (*mp).p() }.is_null() => {
            // SAFETY: inside the runtime (enter) we keep our P; we own gp.
            unsafe {
                runqput((*mp).p(), gp, true);
                wakep();
            }
        }
        _ => {
            if matches!(c, Ctx::Thread) {
                SCHED.note_thread();
            }
            injectglist(gp)
        }
    }
    Ok(())
}

/// gosched: the calling goroutine yields (runtime.Gosched); a plain thread sched_yields.
pub(crate) fn gosched() {
    let c = enter();
    match running(c) {
        Some((mp, _)) => {
            // SAFETY: mp is our M and holds a P while its goroutine runs; mcall saves us (and
            // ends the runtime entry) and gosched_m never returns to this frame until we are
            // rescheduled.
            unsafe {
                bump(&(*(*mp).p()).stats.yields, 1);
                mcall(mp, gosched_m);
            }
        }
        None => {
            leave(c);
            os::osyield()
        }
    }
}

/// goexit: end the calling goroutine (runtime.Goexit). `Err(EPERM)` outside a goroutine.
pub(crate) fn goexit() -> Result<core::convert::Infallible, i32> {
    // Goroutine-local storage destructors run as goroutine code, before the runtime entry.
    crate::sync::keys::goroutine_exit();
    let c = enter();
    let Ctx::G(mut mp, gp) = c else {
        leave(c);
        return Err(libc::EPERM);
    };
    // SAFETY: gp is the calling goroutine on mp. A goroutine that ends inside a syscall bracket
    // (its exitsyscall forgotten) gets a P back first, as exitsyscall would.
    unsafe {
        if (*gp).status.load(Relaxed) == GStatus::Syscall {
            crate::sched::syscall::exitsyscall1(mp, gp);
            mp = getm();
        }
        // goexit0 ends this goroutine; nothing on its stack is used again.
        mcall(mp, goexit0)
    };
    throw!("goexit: goexit0 returned")
}

/// lockOSThread: pin the calling goroutine to its M (nesting counted). `Err(EPERM)` outside a
/// goroutine.
pub(crate) fn lock_os_thread() -> Result<(), i32> {
    let c = enter();
    let Ctx::G(mp, gp) = c else {
        leave(c);
        return Err(libc::EPERM);
    };
    // SAFETY: gp is the running goroutine and mp its M; these fields are written only by the
    // goroutine itself while running.
    unsafe {
        (*gp).lock_depth += 1;
        (*gp).lockedm.store(mp, Relaxed);
        (*mp).lockedg.store(gp, Relaxed);
    }
    leave(c);
    Ok(())
}

/// unlockOSThread: undo one lockOSThread. `Err(EPERM)` outside a goroutine, `Err(EINVAL)`
/// without a matching lock.
pub(crate) fn unlock_os_thread() -> Result<(), i32> {
    let c = enter();
    let Ctx::G(mp, gp) = c else {
        leave(c);
        return Err(libc::EPERM);
    };
    // SAFETY: as lock_os_thread.
    let r = unsafe {
        if (*gp).lock_depth == 0 {
            Err(libc::EINVAL)
        } else {
            (*gp).lock_depth -= 1;
            if (*gp).lock_depth == 0 {
                (*gp).lockedm.store(null_mut(), Relaxed);
                (*mp).lockedg.store(null_mut(), Relaxed);
            }
            Ok(())
        }
    };
    leave(c);
    r
}

/// preemptone: ask mp, running pp's goroutine in the time slice `schedtick`, to preempt it
/// (sysmon). True if a request was made. The signal goes only to a thread that runs user code
/// — checked last, just before it is sent, with the P, M and goroutine unchanged around the
/// check: a goroutine that replaced the one sysmon judged may be asleep in poll, and a signal
/// would cut the call short with EINTR.
pub(crate) fn preemptone(pp: *mut P, mp: *mut M, schedtick: u32) -> bool {
    // SAFETY: pp, mp and their G are live (never freed); the fields are read racily, and the
    // re-check around the thread-state read is what makes a stale read harmless.
    unsafe {
        let same = |gp: *mut G| {
            (*pp).m() == mp && (*pp).schedtick.load(Relaxed) == schedtick && (*mp).curg() == gp
        };
        let gp = (*mp).curg();
        if gp.is_null() || gp == (*mp).gregs.g0 || !same(gp) {
            return false;
        }
        // A lock holder's deferred preemption waits for its unlock (preempt/lockhold.rs).
        if crate::preempt::lockhold::defers_signal(pp, gp) {
            return false;
        }
        if !os::thread_awake_now((*mp).statfd.load(Relaxed)) || !same(gp) {
            return false;
        }
        (*gp).preempt.store(true, Release);
        crate::preempt::asyncpreempt::preempt_m(mp);
        true
    }
}
