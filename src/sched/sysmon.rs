//! sysmon: a dedicated M without a P (Go's sysmon), watching the Ps.
//!
//! Each round it (1) refreshes the coarse clock `sched.now`, (2) watches the Ms: one whose P
//! it took while its thread was blocked (syscall.rs, "Blocked threads") and whose thread runs
//! again gets SIGURG to take a P back; a preemption signal lost for 20 ms is forgotten, (3)
//! retakes Ps: a P in a syscall for a whole tick is handed off (handoffp) so its queued
//! goroutines run; so is a P whose thread is blocked in the kernel outside any bracket
//! (`retake_blocked`); a G that has run for over 10 ms while something else waits for its P
//! is preempted (`preemptone`: SIGURG, see preempt/), (4) starts an M for work that waits
//! beside idle Ps with nobody looking (after a failed thread creation) and asks the template
//! thread for a spare M, (5) confirms a deadlock that checkdead suspected, (6) prints
//! schedtrace (debug/schedtrace.rs).
//!
//! sysmon never allocates, creates threads or takes a lock a goroutine can hold (template.rs
//! says why): everything here is atomics, sched.lock and raw system calls. (So the C++
//! runtime lookup after a late dlopen, which takes the loader's lock, is the template thread's:
//! sysmon only nudges it, cxa.rs.)
//!
//! Sleep: 20 µs, doubling after 50 rounds in which nothing was retaken, up to 10 ms (Go's
//! numbers) — but at most 1 ms while any P runs, because time slices are stamped from the
//! coarse clock: that bounds the error of "ran over 10 ms" to 1 ms, measured from when the G
//! started rather than from when sysmon first noticed it (Go preempts at 10-20 ms). When every
//! P is idle it sleeps on `sched.sysmon_note` until an M takes a P (acquirep wakes it).
//!
//! Rejected: stamping each slice with a clock read in `execute` (rdtsc costs ~22 ns and
//! clock_gettime ~48 ns on this VM, against ~45 ns for a whole gosched).

use crate::debug::knobs::{SCHEDDETAIL, SCHEDTRACE_MS};
use crate::debug::schedtrace::schedtrace;
use crate::netpoll;
use crate::os;
use crate::preempt::asyncpreempt;
use crate::sched::checkdead::{confirm_dead, DEADLOCK_GRACE_NS};
use crate::sched::cxa;
use crate::sched::g::GStatus;
use crate::sched::m::{MKind, Take, M};
use crate::sched::p::{PStatus, MAX_PROCS, P};
use crate::sched::proc::{self, preemptone};
use crate::sched::sched::SCHED;
use crate::sched::template;
use core::ptr::null_mut;
use core::sync::atomic::Ordering::*;

/// A G that has run this long is preempted (Go's forcePreemptNS).
pub(crate) const FORCE_PREEMPT_NS: i64 = 10_000_000;
/// How often sysmon nudges the template thread to look for a C++ runtime loaded since start
/// (cxa.rs), while it is not found and any P runs.
const CXA_POLL_NS: i64 = 100_000_000;
/// Poll the network if nobody has for this long (Go's 10 ms).
const NETPOLL_MAX_NS: i64 = 10_000_000;
/// Run a P's timers from sysmon once they are this late.
const TIMER_LATE_NS: i64 = 1_000_000;
/// Longest sleep while some P runs: the coarse clock's resolution.
const BUSY_MAX_DELAY_US: u32 = 1000;

/// A P whose goroutine has not changed for this long, and whose thread used under a quarter
/// of the last CPU window, is checked for being blocked in the kernel (its /proc stat state).
const BLOCKED_CHECK_NS: i64 = 500_000;
/// The shortest window over which a thread's CPU clock is judged (sampled at most this often).
const CPU_WINDOW_NS: i64 = 200_000;
/// CPU time within a window that shows a thread executes code. Absolute, not a share of the
/// window: on an oversubscribed machine a CPU-bound thread may get a small share, while a
/// thread woken in the kernel that has not been given a CPU yet has used none.
const CPU_RAN_NS: i64 = 50_000;
/// A sample older than this says nothing about now: start a new window.
const CPU_STALE_NS: i64 = 2_000_000;

/// What a thread did over sysmon's last window (see cpu_state).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Cpu {
    /// No window yet.
    Unknown = 0,
    /// Ran at least `CPU_RAN_NS` of it: executing code, not (only) sleeping in the kernel.
    Busy = 1,
    /// Ran under a quarter of it: sleeping (or waiting for a CPU).
    Stalled = 2,
    /// In between.
    Mixed = 3,
}

/// Whether mp's thread executes code, from its CPU clock over the last window. "Running" in
/// /proc is not enough to signal a thread safely: a thread just woken in a timed-out poll or
/// nanosleep is runnable but still inside the call — under CPU contention for milliseconds —
/// and a signal then turns its result into EINTR. A thread that ran for a while in the window
/// is executing code; the calls that a signal would cut short (poll, nanosleep, select,
/// epoll_wait: not restarted by SA_RESTART) sleep instead, and finish in microseconds once
/// they get a CPU.
fn cpu_state(mp: *mut M, now: i64) -> Cpu {
    // SAFETY: Ms are never freed; these fields are sysmon's own.
    let m = unsafe { &*mp };
    let at = m.cpu_at.load(Relaxed);
    if now - at < CPU_WINDOW_NS {
        return match m.cpu_verdict.load(Relaxed) {
            1 => Cpu::Busy,
            2 => Cpu::Stalled,
            3 => Cpu::Mixed,
            _ => Cpu::Unknown,
        };
    }
    let t = os::thread_cputime(m.procid.load(Relaxed));
    let verdict = if at == 0 || now - at > CPU_STALE_NS {
        Cpu::Unknown
    } else {
        let (used, win) = (t - m.cpu_t.load(Relaxed), now - at);
        if used >= CPU_RAN_NS {
            Cpu::Busy
        } else if used * 4 < win {
            Cpu::Stalled
        } else {
            Cpu::Mixed
        }
    };
    m.cpu_t.store(t, Relaxed);
    m.cpu_at.store(now, Relaxed);
    m.cpu_verdict.store(verdict as u32, Relaxed);
    verdict
}

/// sysmon's own record of each P (Go's sysmontick): only sysmon touches it.
#[derive(Clone, Copy)]
struct PTick {
    syscalltick: u32,
    syscallwhen: i64,
    schedtick: u32,
    schedwhen: i64,
}

const PTICK0: PTick = PTick {
    syscalltick: 0,
    syscallwhen: 0,
    schedtick: 0,
    schedwhen: 0,
};

/// sysmon's records (only the sysmon thread touches them: a static, not an allocation).
struct Ticks(core::cell::UnsafeCell<[PTick; MAX_PROCS]>);
// SAFETY: only the one sysmon thread ever reaches the cell.
unsafe impl Sync for Ticks {}
static TICKS: Ticks = Ticks(core::cell::UnsafeCell::new([PTICK0; MAX_PROCS]));

/// sysmon's loop. Runs forever on its own M, which never holds a P.
/// # Safety
/// On the g0 of `_mp`, a sysmon M.
pub(crate) unsafe fn sysmon(_mp: *mut M) -> ! {
    // SAFETY: sysmon is the only user of TICKS, and there is one sysmon.
    let ticks = unsafe { &mut *TICKS.0.get() };
    let mut idle = 0u32;
    let mut ntaken = 0u32;
    let mut last_cxa = 0i64;
    let mut delay = 20u32;
    let mut last_trace = os::nanotime();
    let mut starve = (0usize, 0i64);
    loop {
        if idle == 0 {
            delay = 20;
        } else if idle > 50 {
            delay = (delay * 2).min(10_000);
        }
        let procs = SCHED.gomaxprocs.load(Relaxed);
        if SCHED.idle.npidle() < procs || ntaken > 0 {
            delay = delay.min(BUSY_MAX_DELAY_US);
        }
        let trace_ms = SCHEDTRACE_MS.load(Relaxed);
        SCHED.sysmon_note.tsleep(delay as i64 * 1000);
        SCHED.sysmon_note.clear();
        let mut now = os::nanotime();
        SCHED.now.store(now, Relaxed);

        // Everything idle: sleep until an M takes a P (or the next schedtrace line is due).
        if SCHED.idle.npidle() == SCHED.gomaxprocs.load(SeqCst) && no_syscalls() && ntaken == 0 {
            SCHED.sysmonwait.store(true, SeqCst);
            if SCHED.idle.npidle() == SCHED.gomaxprocs.load(SeqCst)
                && SCHED.runqsize.load(SeqCst) == 0
            {
                let mut wait = if trace_ms > 0 {
                    trace_ms * 1_000_000
                } else {
                    -1
                };
                let since = SCHED.dead_since.load(Relaxed);
                if since != 0 {
                    // A deadlock candidate: wake when its grace period ends.
                    let left = (since + DEADLOCK_GRACE_NS - now).max(0);
                    wait = if wait < 0 { left } else { wait.min(left) };
                }
                SCHED.sysmon_note.tsleep(wait);
                SCHED.sysmon_note.clear();
                idle = 0;
                delay = 20;
            }
            SCHED.sysmonwait.store(false, SeqCst);
            now = os::nanotime();
            SCHED.now.store(now, Relaxed);
        }

        ntaken = watch_ms(now);
        if cxa::unresolved() && now - last_cxa >= CXA_POLL_NS {
            last_cxa = now;
            template::nudge();
        }
        confirm_dead(now);
        if retake(now, ticks) != 0 {
            idle = 0;
        } else {
            idle += 1;
        }
        // Work beside idle Ps with nobody looking: a thread creation failed, or its M is
        // still starting. (wakep only uses an idle M or asks the template thread.)
        if SCHED.runqsize.load(SeqCst) != 0
            && SCHED.idle.npidle() > 0
            && SCHED.idle.nmspinning() == 0
        {
            proc::wakep();
        }
        poll_and_timers(now);
        starving_runq(now, &mut starve);
        template::spare_check();
        if trace_ms > 0 && now - last_trace >= trace_ms * 1_000_000 {
            last_trace = now;
            schedtrace(SCHEDDETAIL.load(Relaxed));
        }
    }
}

/// Go's sysmon: poll the network if nobody has for 10 ms (every M busy, or none idle long
/// enough to poll), and run timers that are over 1 ms late on Ps that no M runs (in a
/// syscall, retired, or idle with no M woken for them): their goroutines go to the global
/// queue (sysmon has no P). A running P's timers wait for its next schedule, which
/// preemption brings within a slice (worth_preempting counts them; gopreempt_m runs them
/// into the P's runnext). Run here instead, their goroutines would queue behind the global
/// queue's preempted goroutines (a sleeper beside two CPU-bound goroutines at 1 P was never
/// run again: t_no_eintr phase 2).
fn poll_and_timers(now: i64) {
    let last = netpoll::LASTPOLL.load(Relaxed);
    if netpoll::inited()
        && last != 0
        && now - last > NETPOLL_MAX_NS
        && netpoll::LASTPOLL
            .compare_exchange(last, now, Relaxed, Relaxed)
            .is_ok()
    {
        proc::inject_list(netpoll::netpoll(0));
    }
    for i in 0..SCHED.nallp.load(Acquire) {
        // SAFETY: Ps below nallp are live forever.
        let pp = SCHED.p(i);
        // SAFETY: as above.
        let (ts, running) = unsafe {
            (
                &(*pp).timers,
                (*pp).status.load(Relaxed) == PStatus::Running,
            )
        };
        let w = ts.wake_time();
        if w != 0 && now - w > TIMER_LATE_NS && !running {
            ts.check(now);
        }
    }
}

/// The global run queue's head has waited this long with no idle M: allow a spare M over
/// the budget (template::grow_for_starving).
pub(crate) const STARVE_NS: i64 = 100_000_000;

/// Watch the global run queue's head (`last`: the head seen and since when).
fn starving_runq(now: i64, last: &mut (usize, i64)) {
    if SCHED.runqsize.load(Relaxed) == 0 || SCHED.nmidle_hint.load(Relaxed) != 0 {
        *last = (0, 0);
        return;
    }
    let head = SCHED.locked().runq.head as usize;
    if head == 0 || head != last.0 {
        *last = (head, now);
        return;
    }
    if now - last.1 >= STARVE_NS {
        last.1 = now;
        template::grow_for_starving();
    }
}

fn no_syscalls() -> bool {
    (0..SCHED.nallp.load(Acquire)).all(|i| {
        // SAFETY: allp entries below nallp are live forever.
        let st = unsafe { (*SCHED.p(i)).status.load(Relaxed) };
        st != PStatus::Syscall
    })
}

/// Walk the worker Ms: count those in syscalls (for the template thread's budget), forget
/// preemption signals that were never handled, and signal an M whose P was taken while its
/// thread was blocked once that thread runs again (it then gets a P back: syscall.rs).
/// Returns how many Ms are in that last state.
fn watch_ms(now: i64) -> u32 {
    let mut ntaken = 0;
    let mut nsyscall = 0;
    let mut mp = SCHED.allm.load(Acquire);
    while !mp.is_null() {
        // SAFETY: Ms are never freed; allm is push-only (Acquire pairs with allm_push). curg
        // is read racily (a G is never freed): the count is a hint.
        unsafe {
            if (*mp).kind == MKind::Worker {
                let gp = (*mp).curg();
                if !gp.is_null() && (*gp).status.load(Relaxed) == GStatus::Syscall {
                    nsyscall += 1;
                }
                asyncpreempt::unstick_signal(mp, now);
                if (*mp).take.load(Acquire) == Take::Taken {
                    ntaken += 1;
                    if on_cpu(mp, now) {
                        asyncpreempt::preempt_m(mp);
                    }
                }
            }
            mp = (*mp).alllink;
        }
    }
    SCHED.nmsyscall_hint.store(nsyscall, Relaxed);
    ntaken
}

/// May mp's thread be signalled: it executed code in the last window and is not asleep in the
/// kernel now (see cpu_state).
fn on_cpu(mp: *mut M, now: i64) -> bool {
    // SAFETY: Ms are never freed; statfd is atomic.
    cpu_state(mp, now) == Cpu::Busy && os::thread_awake_now(unsafe { (*mp).statfd.load(Relaxed) })
}

/// Is it worth preempting pp's goroutine: does something else wait for the P, and can the P
/// go to it without creating a thread (see "The thread budget" in preempt/mod.rs)? A hint:
/// the preemption path decides under sched.lock.
fn worth_preempting(pp: *mut P) -> bool {
    // SAFETY: Ps are never freed; the fields read are atomics.
    let (local, retiring) = unsafe { (!(*pp).runq.is_empty(), (*pp).retiring()) };
    if retiring {
        return true;
    }
    // A due timer is a goroutine waiting for this P (gopreempt_m runs it first).
    // SAFETY: as above.
    let w = unsafe { (*pp).timers.wake_time() };
    let timer = w != 0 && w <= SCHED.now.load(Relaxed);
    if !local && !timer && SCHED.runqsize.load(Relaxed) == 0 {
        return false;
    }
    if SCHED.preemptqsize.load(Relaxed) != 0 {
        return true;
    }
    crate::sched::sched::preempt_room() && SCHED.nmidle_hint.load(Relaxed) > 0
}

/// retake_blocked: pp's M runs a goroutine whose thread is blocked in the kernel: take the P
/// as if the goroutine had called entersyscall, and hand it off ("Blocked threads" in
/// syscall.rs has the hand-shake). True if taken.
fn retake_blocked(pp: *mut P, mp: *mut M) -> bool {
    // SAFETY: Ps, Ms and Gs are never freed. Until we win Free -> Taking the reads are racy
    // hints; after it, the thread cannot touch its P, G or M fields without waiting for us,
    // and we check it is still blocked outside the runtime before writing them.
    unsafe {
        let gp = (*mp).curg();
        if gp.is_null() || gp == (*mp).gregs.g0 || (*mp).locks.load(Relaxed) != 0 {
            return false;
        }
        let fd = (*mp).statfd.load(Relaxed);
        if os::thread_blocked(fd) != Some(true) || !(*mp).take.try_cas(Take::Free, Take::Taking) {
            return false;
        }
        let still = os::thread_blocked(fd) == Some(true)
            && (*mp).locks.load(Relaxed) == 0
            && (*mp).curg() == gp
            && (*gp).status.load(Acquire) == GStatus::Running
            && (*mp).p() == pp
            && (*pp).m() == mp
            && (*pp).status.load(Acquire) == PStatus::Running;
        if !still {
            (*mp).take.set(Take::Taking, Take::Free);
            return false;
        }
        // entersyscall on the goroutine's behalf (its thread sleeps in the kernel and waits
        // for our decision before touching any of this), then retake the P.
        (*gp).status.set(GStatus::Running, GStatus::Syscall);
        let t = (*pp).syscalltick.load(Relaxed);
        (*pp).syscalltick.store(t.wrapping_add(1), Relaxed);
        (*pp).m.store(null_mut(), Relaxed);
        (*mp).oldp = null_mut();
        (*mp).p.store(null_mut(), Relaxed);
        (*pp).status.set(PStatus::Running, PStatus::Idle);
        // Release: the thread's Acquire load of Taken sees all of the above.
        (*mp).take.set(Take::Taking, Take::Taken);
        SCHED.syscall_retakes.fetch_add(1, Relaxed);
        proc::handoffp(pp);
        true
    }
}

/// retake: hand off Ps stuck in syscalls and preempt long-running Gs. Returns how many Ps
/// were handed off.
fn retake(now: i64, ticks: &mut [PTick]) -> u32 {
    let mut n = 0;
    let takes = asyncpreempt::enabled();
    for i in 0..SCHED.nallp.load(Acquire) {
        let pp = SCHED.p(i);
        // SAFETY: Ps are never freed; every field read here is atomic.
        let (status, pd) = unsafe { ((*pp).status.load(Acquire), &mut ticks[i as usize]) };
        match status {
            PStatus::Running => {
                // SAFETY: as above.
                let (st, mp) = unsafe { ((*pp).schedtick.load(Relaxed), (*pp).m()) };
                if pd.schedtick != st {
                    pd.schedtick = st;
                    pd.schedwhen = now;
                } else if takes
                    && !mp.is_null()
                    && now - pd.schedwhen >= BLOCKED_CHECK_NS
                    && cpu_state(mp, now) == Cpu::Stalled
                    && retake_blocked(pp, mp)
                {
                    n += 1;
                    continue;
                }
                // SAFETY: as above.
                let start = unsafe { (*pp).slice_start.load(Relaxed) };
                // SAFETY: as above.
                let retiring = unsafe { (*pp).retiring() };
                // A preemption is not counted (Go's retake counts only syscall hand-offs): it
                // must not keep sysmon at its 20 µs period for the next 50 rounds — a pair of
                // goroutines readying each other shares one slice and is preempted every
                // 10 ms while anything else is runnable, and sysmon waking 5,000 times a
                // second then costs the workers their CPU on a 2-vCPU machine.
                if (now - start >= FORCE_PREEMPT_NS || retiring)
                    && worth_preempting(pp)
                    && !mp.is_null()
                    && cpu_state(mp, now) == Cpu::Busy
                {
                    preemptone(pp, mp, st);
                }
            }
            PStatus::Syscall => {
                // SAFETY: as above.
                let t = unsafe { (*pp).syscalltick.load(Relaxed) };
                if pd.syscalltick != t {
                    // A new syscall since we last looked: give it one tick.
                    pd.syscalltick = t;
                    pd.syscallwhen = now;
                    continue;
                }
                // Nothing to run and other Ms are free to pick up new work: leave the P where
                // it is for up to 10 ms (a quick syscall then gets it back on the fast path).
                // SAFETY: as above.
                let empty = unsafe { (*pp).runq.is_empty() } && SCHED.runqsize.load(Relaxed) == 0;
                // (A P that gmp_set_procs retired is taken at once, so it can be retired.)
                // SAFETY: as above.
                let retired = unsafe { (*pp).retiring() };
                if empty
                    && !retired
                    && SCHED.idle.nmspinning() + SCHED.idle.npidle() > 0
                    && pd.syscallwhen + 10_000_000 > now
                {
                    continue;
                }
                // Whoever wins this CAS owns the P: us, or exitsyscall's fast path.
                // SAFETY: as above.
                if unsafe { (*pp).status.try_cas(PStatus::Syscall, PStatus::Idle) } {
                    // SAFETY: as above.
                    unsafe { (*pp).syscalltick.fetch_add(1, Relaxed) };
                    SCHED.syscall_retakes.fetch_add(1, Relaxed);
                    n += 1;
                    // SAFETY: we own pp now (no M holds it: entersyscall cleared p.m).
                    unsafe { proc::handoffp(pp) };
                }
            }
            _ => {}
        }
    }
    n
}
