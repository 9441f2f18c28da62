//! sysmon: a dedicated M without a P (Go's sysmon), watching the Ps.
//!
//! Each round it (1) refreshes the coarse clock `sched.now`, (2) retakes Ps: a P in a syscall
//! for a whole tick is handed off (handoffp) so its queued goroutines run; a G that has run
//! for over 10 ms is preempted (`preemptone`: SIGURG, see preempt/), (3) creates the Ms
//! that the preemption path asked for (Go's newmHandoff: that path may run while its thread
//! holds libc locks, so it must not call pthread_create), (4) confirms a deadlock that
//! checkdead suspected, (5) prints schedtrace (debug/schedtrace.rs), (6) until a C++ runtime
//! is found, looks for one loaded since (cxa.rs).
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
use crate::os;
use crate::sched::checkdead::{confirm_dead, DEADLOCK_GRACE_NS};
use crate::sched::cxa;
use crate::sched::m::M;
use crate::sched::p::{PStatus, MAX_PROCS};
use crate::sched::proc::{self, preemptone, NewM, Spin};
use crate::sched::sched::SCHED;
use core::sync::atomic::Ordering::*;

/// A G that has run this long is preempted (Go's forcePreemptNS).
pub(crate) const FORCE_PREEMPT_NS: i64 = 10_000_000;
/// Longest sleep while some P runs: the coarse clock's resolution.
const BUSY_MAX_DELAY_US: u32 = 1000;

/// sysmon's own record of each P (Go's sysmontick): only sysmon touches it.
#[derive(Clone, Copy, Default)]
struct PTick {
    syscalltick: u32,
    syscallwhen: i64,
}

/// sysmon's loop. Runs forever on its own M, which never holds a P.
/// # Safety
/// On the g0 of `_mp`, a sysmon M.
pub(crate) unsafe fn sysmon(_mp: *mut M) -> ! {
    let mut ticks = vec![PTick::default(); MAX_PROCS];
    let mut idle = 0u32;
    let mut delay = 20u32;
    let mut last_trace = os::nanotime();
    loop {
        if idle == 0 {
            delay = 20;
        } else if idle > 50 {
            delay = (delay * 2).min(10_000);
        }
        let procs = SCHED.gomaxprocs.load(Relaxed);
        if SCHED.idle.npidle() < procs {
            delay = delay.min(BUSY_MAX_DELAY_US);
        }
        let trace_ms = SCHEDTRACE_MS.load(Relaxed);
        SCHED.sysmon_note.tsleep(delay as i64 * 1000);
        SCHED.sysmon_note.clear();
        let mut now = os::nanotime();
        SCHED.now.store(now, Relaxed);

        // Everything idle: sleep until an M takes a P (or the next schedtrace line is due).
        if SCHED.idle.npidle() == SCHED.gomaxprocs.load(SeqCst) && no_syscalls() {
            SCHED.sysmonwait.store(true, SeqCst);
            if SCHED.idle.npidle() == SCHED.gomaxprocs.load(SeqCst) && SCHED.locked().newm_pending.is_null() {
                let mut wait = if trace_ms > 0 { trace_ms * 1_000_000 } else { -1 };
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

        newm_handoff();
        cxa::sysmon_poll();
        confirm_dead(now);
        if retake(now, &mut ticks) != 0 {
            idle = 0;
        } else {
            idle += 1;
        }
        if trace_ms > 0 && now - last_trace >= trace_ms * 1_000_000 {
            last_trace = now;
            schedtrace(SCHEDDETAIL.load(Relaxed));
        }
    }
}

fn no_syscalls() -> bool {
    (0..SCHED.nallp.load(Acquire)).all(|i| {
        // SAFETY: allp entries below nallp are live forever.
        let st = unsafe { (*SCHED.p(i)).status.load(Relaxed) };
        st != PStatus::Syscall
    })
}

/// Create the Ms the preemption path could not (Go's newmHandoff).
fn newm_handoff() {
    loop {
        let pp = {
            let mut s = SCHED.locked();
            let pp = s.newm_pending;
            if !pp.is_null() {
                // SAFETY: pending Ps are owned by the pending list (sched.lock).
                s.newm_pending = unsafe { (*pp).link };
            }
            pp
        };
        if pp.is_null() {
            return;
        }
        proc::startm(pp, Spin::No, NewM::Here);
    }
}

/// retake: hand off Ps stuck in syscalls and preempt long-running Gs. Returns how many.
fn retake(now: i64, ticks: &mut [PTick]) -> u32 {
    let mut n = 0;
    for i in 0..SCHED.nallp.load(Acquire) {
        let pp = SCHED.p(i);
        // SAFETY: Ps are never freed; every field read here is atomic.
        let (status, pd) = unsafe { ((*pp).status.load(Acquire), &mut ticks[i as usize]) };
        match status {
            PStatus::Running => {
                // SAFETY: as above.
                let start = unsafe { (*pp).slice_start.load(Relaxed) };
                if now - start >= FORCE_PREEMPT_NS && preemptone(pp) {
                    n += 1;
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
                    unsafe { proc::handoffp(pp, NewM::Here) };
                }
            }
            _ => {}
        }
    }
    n
}

