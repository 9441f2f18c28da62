//! sysmon: a dedicated M without a P (Go's sysmon), watching the Ps.
//!
//! Each round it (1) refreshes the coarse clock `sched.now`, (2) retakes Ps: a P in a syscall
//! for a whole tick is handed off (handoffp) so its queued goroutines run; a G that has run
//! for over 10 ms is preempted (`preemptone`: SIGURG, see preempt.rs), (3) creates the Ms
//! that the preemption path asked for (Go's newmHandoff: that path may run while its thread
//! holds libc locks, so it must not call pthread_create), (4) prints schedtrace.
//!
//! Sleep: 20 µs, doubling after 50 rounds in which nothing was retaken, up to 10 ms (Go's
//! numbers) — but at most 1 ms while any P runs, because time slices are stamped from the
//! coarse clock: that bounds the error of "ran over 10 ms" to 1 ms, measured from when the G
//! started rather than from when sysmon first noticed it (Go preempts at 10-20 ms). When every
//! P is idle it sleeps on `sched.sysmon_note` until an M takes a P (acquirep wakes it).
//!
//! Rejected: stamping each slice with a clock read in `execute` (rdtsc costs ~22 ns and
//! clock_gettime ~48 ns on this VM, against ~45 ns for a whole gosched).

use crate::debug::{SCHEDDETAIL, SCHEDTRACE_MS};
use crate::g::{self, G};
use crate::m::M;
use crate::p::{self, P, MAX_PROCS};
use crate::proc;
use crate::sched::SCHED;
use crate::sys;
use core::fmt::Write;
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
pub(crate) unsafe fn sysmon(mp: *mut M) -> ! {
    let _ = mp;
    let mut ticks = vec![PTick::default(); MAX_PROCS];
    let mut idle = 0u32;
    let mut delay = 20u32;
    let mut last_trace = sys::nanotime();
    loop {
        if idle == 0 {
            delay = 20;
        } else if idle > 50 {
            delay = (delay * 2).min(10_000);
        }
        let procs = SCHED.gomaxprocs.load(Relaxed);
        if SCHED.npidle.load(SeqCst) < procs {
            delay = delay.min(BUSY_MAX_DELAY_US);
        }
        let trace_ms = SCHEDTRACE_MS.load(Relaxed);
        SCHED.sysmon_note.tsleep(delay as i64 * 1000);
        SCHED.sysmon_note.clear();
        let mut now = sys::nanotime();
        SCHED.now.store(now, Relaxed);

        // Everything idle: sleep until an M takes a P (or the next schedtrace line is due).
        if SCHED.npidle.load(SeqCst) == SCHED.gomaxprocs.load(SeqCst) && no_syscalls() {
            SCHED.sysmonwait.store(true, SeqCst);
            if SCHED.npidle.load(SeqCst) == SCHED.gomaxprocs.load(SeqCst) && SCHED.locked().newm_pending.is_null() {
                let mut wait = if trace_ms > 0 { trace_ms * 1_000_000 } else { -1 };
                let since = SCHED.dead_since.load(Relaxed);
                if since != 0 {
                    // A deadlock candidate: wake when its grace period ends.
                    let left = (since + proc::DEADLOCK_GRACE_NS - now).max(0);
                    wait = if wait < 0 { left } else { wait.min(left) };
                }
                SCHED.sysmon_note.tsleep(wait);
                SCHED.sysmon_note.clear();
                idle = 0;
                delay = 20;
            }
            SCHED.sysmonwait.store(false, SeqCst);
            now = sys::nanotime();
            SCHED.now.store(now, Relaxed);
        }

        newm_handoff();
        proc::confirm_dead(now);
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
        st != p::SYSCALL
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
        proc::startm(pp, false, true);
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
            p::RUNNING => {
                // SAFETY: as above.
                let start = unsafe { (*pp).slice_start.load(Relaxed) };
                if now - start >= FORCE_PREEMPT_NS && preemptone(pp) {
                    n += 1;
                }
            }
            p::SYSCALL => {
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
                let retired = unsafe { (*pp).id } >= SCHED.gomaxprocs.load(Relaxed);
                if empty
                    && !retired
                    && SCHED.nmspinning.load(SeqCst) + SCHED.npidle.load(SeqCst) > 0
                    && pd.syscallwhen + 10_000_000 > now
                {
                    continue;
                }
                // Whoever wins this CAS owns the P: us, or exitsyscall's fast path.
                // SAFETY: as above.
                if unsafe { (*pp).status.compare_exchange(p::SYSCALL, p::IDLE, AcqRel, Relaxed) }.is_ok() {
                    // SAFETY: as above.
                    unsafe { (*pp).syscalltick.fetch_add(1, Relaxed) };
                    SCHED.syscall_retakes.fetch_add(1, Relaxed);
                    n += 1;
                    // SAFETY: we own pp now (no M holds it: entersyscall cleared p.m).
                    unsafe { proc::handoffp(pp, true) };
                }
            }
            _ => {}
        }
    }
    n
}

/// preemptone: ask the M running pp's G to preempt it. True if a request was made.
pub(crate) fn preemptone(pp: *mut P) -> bool {
    // SAFETY: pp is live; its m and that M's curg are read racily (Go does the same): a stale
    // read at worst preempts the G that replaced it, which is harmless.
    unsafe {
        let mp = (*pp).m;
        if mp.is_null() {
            return false;
        }
        let gp = (*mp).curg;
        if gp.is_null() || gp == (*mp).g0 {
            return false;
        }
        (*gp).preempt.store(true, Release);
        crate::preempt::preempt_m(mp);
        true
    }
}

/// A stack buffer for trace lines: sysmon holds no locks of the program's, but a fixed buffer
/// and one write(2) keep lines whole when other threads print too.
struct Line {
    buf: [u8; 512],
    len: usize,
}

impl Write for Line {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let b = s.as_bytes();
        let n = b.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&b[..n]);
        self.len += n;
        Ok(())
    }
}

impl Line {
    fn new() -> Self {
        Line { buf: [0; 512], len: 0 }
    }
    fn flush(&mut self) {
        if self.len == self.buf.len() {
            self.buf[self.len - 1] = b'\n';
        }
        sys::write_err(&self.buf[..self.len]);
        self.len = 0;
    }
}

/// GMP_DEBUG=schedtrace=MS: Go's summary line, and with scheddetail=1 one line per P, M, G.
pub(crate) fn schedtrace(detail: bool) {
    let ms = (sys::nanotime() - SCHED.start_time.load(Relaxed)) / 1_000_000;
    let nallp = SCHED.nallp.load(Acquire);
    let procs = SCHED.gomaxprocs.load(Relaxed);
    let (nmidle, global) = {
        let s = SCHED.locked();
        (s.nmidle, s.runq.len)
    };
    let mut l = Line::new();
    let _ = write!(
        l,
        "SCHED {}ms: gomaxprocs={} idleprocs={} threads={} spinningthreads={} idlethreads={} runqueue={}",
        ms,
        procs,
        SCHED.npidle.load(Relaxed),
        SCHED.mcount.load(Relaxed),
        SCHED.nmspinning.load(Relaxed),
        nmidle,
        global
    );
    if !detail {
        let _ = l.write_str(" [");
        for i in 0..nallp.min(procs) {
            // SAFETY: Ps below nallp are live forever.
            let q = unsafe { (*SCHED.p(i)).runq.len() };
            let _ = write!(l, "{}{}", if i == 0 { "" } else { " " }, q);
            if l.len > 480 {
                let _ = l.write_str(" ...");
                break;
            }
        }
        let _ = l.write_str("]\n");
        l.flush();
        return;
    }
    let _ = l.write_str("\n");
    l.flush();
    for i in 0..nallp {
        // SAFETY: as above; the fields are read racily for display only.
        unsafe {
            let pp = SCHED.p(i);
            let mp = (*pp).m;
            let _ = writeln!(
                l,
                "  P{}: status={} schedtick={} syscalltick={} m={} runqsize={} gfreecnt={}",
                i,
                (*pp).status.load(Relaxed),
                (*pp).schedtick.load(Relaxed),
                (*pp).syscalltick.load(Relaxed),
                if mp.is_null() { -1 } else { (*mp).id },
                (*pp).runq.len(),
                (*pp).gfree.len
            );
        }
        l.flush();
    }
    let mut mp = SCHED.allm.load(Acquire);
    while !mp.is_null() {
        // SAFETY: Ms are never freed; display-only racy reads.
        unsafe {
            let pp = (*mp).p;
            let gid = |g: *mut G| if g.is_null() { -1 } else { (*g).goid };
            let _ = writeln!(
                l,
                "  M{}: p={} curg={} locks={} spinning={} lockedg={} tid={}",
                (*mp).id,
                if pp.is_null() { -1 } else { (*pp).id as i64 },
                gid((*mp).curg),
                (*mp).locks.load(Relaxed),
                (*mp).spinning,
                gid((*mp).lockedg),
                (*mp).procid.load(Relaxed)
            );
            l.flush();
            mp = (*mp).alllink;
        }
    }
    let mut gp = SCHED.allgs.load(Acquire);
    while !gp.is_null() {
        // SAFETY: Gs are never freed; display-only racy reads.
        unsafe {
            let st = (*gp).status.load(Relaxed);
            if st != g::DEAD {
                let m = (*gp).m;
                let lm = (*gp).lockedm;
                let _ = writeln!(
                    l,
                    "  G{}: status={}({}) m={} lockedm={}",
                    (*gp).goid,
                    st,
                    g::status_name(st),
                    if m.is_null() { -1 } else { (*m).id },
                    if lm.is_null() { -1 } else { (*lm).id }
                );
                l.flush();
            }
            gp = (*gp).alllink;
        }
    }
}
