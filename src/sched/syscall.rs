//! Syscalls: entersyscall / exitsyscall (Go's reentersyscall / exitsyscall).
//!
//! Entering, the G goes to Syscall and its P to Syscall, still remembered by the M (`oldp`)
//! but owned by nobody: sysmon's retake may take it (`try_cas(Syscall, Idle)`) and hand it
//! off after one tick, so the P's other goroutines keep running while this thread blocks in
//! the kernel.
//! Exiting: (1) fast path — win the old P back with the same CAS (nobody took it); (2) any
//! idle P; (3) slow path, on g0 — queue the G globally and stop the M (or, if the G is locked
//! to this M, wait for it here).
//!
//! Both are no-ops outside a goroutine, and for a goroutine not in the matching state (nested
//! or unpaired calls are ignored rather than fatal: they are the program's mistake).

use crate::arch::getm;
use crate::sched::g::{GStatus, G};
use crate::sched::m::{ctx, Ctx, M};
use crate::sched::p::PStatus;
use crate::sched::proc::{self, mcall};
use crate::sched::sched::SCHED;
use core::ptr::null_mut;
use core::sync::atomic::Ordering::*;

/// entersyscall: the calling goroutine is about to make a call that may block in the kernel.
pub(crate) fn entersyscall() {
    let Ctx::G(mp, gp) = ctx() else { return };
    // SAFETY: gp is the running goroutine on mp; with m.locks raised we own mp.p throughout.
    unsafe {
        if (*gp).status.load(Relaxed) != GStatus::Running {
            return; // nested: ignore
        }
        (*mp).acquirem();
        let pp = (*mp).p();
        (*gp).status.set(GStatus::Running, GStatus::Syscall);
        let t = (*pp).syscalltick.load(Relaxed);
        (*pp).syscalltick.store(t.wrapping_add(1), Relaxed);
        (*pp).m.store(null_mut(), Relaxed);
        (*mp).oldp = pp;
        (*mp).p.store(null_mut(), Relaxed);
        // Release: publishes the P's state to whoever wins it out of Syscall.
        (*pp).status.set(PStatus::Running, PStatus::Syscall);
        (*mp).releasem();
    }
}

/// exitsyscall: the call returned; get a P back (waiting for one if need be).
pub(crate) fn exitsyscall() {
    let Ctx::G(mp, gp) = ctx() else { return };
    // SAFETY: gp is the running goroutine on mp (checked to be in Syscall below). While gp is
    // in Syscall it is never preempted, so mp.locks need not be raised.
    unsafe {
        if (*gp).status.load(Relaxed) != GStatus::Syscall {
            return; // not in a bracket: ignore
        }
        exitsyscall1(mp, gp)
    }
}

unsafe fn exitsyscall1(mp: *mut M, gp: *mut G) {
    // SAFETY: per exitsyscall.
    unsafe {
        let oldp = (*mp).oldp;
        (*mp).oldp = null_mut();
        // Fast path: our P is still ours to take — unless gomaxprocs retired it meanwhile
        // (then sysmon's retake hands it off, and pidleput retires it).
        if !oldp.is_null() && !(*oldp).retiring() && (*oldp).status.try_cas(PStatus::Syscall, PStatus::Idle) {
            proc::acquirep(mp, oldp);
            (*gp).status.set(GStatus::Syscall, GStatus::Running);
            return;
        }
        // Any idle P.
        if SCHED.idle.npidle() > 0 {
            let pp = SCHED.locked().pidleget();
            if !pp.is_null() {
                proc::acquirep(mp, pp);
                (*gp).status.set(GStatus::Syscall, GStatus::Running);
                return;
            }
        }
        // Slow path: no P. (The G may resume on another M: nothing after this uses mp.)
        mcall(mp, exitsyscall0);
    }
}

/// exitsyscall0: on g0, with no P: run gp at once if an idle P appeared, else queue it.
unsafe extern "C" fn exitsyscall0(gp: *mut G) -> ! {
    let mp = getm();
    // SAFETY: mp is this M and gp its curg (context saved by mcall).
    unsafe {
        proc::dropg(mp, gp);
        (*gp).status.set(GStatus::Syscall, GStatus::Runnable);
        let pp = {
            let mut s = SCHED.locked();
            let pp = s.pidleget();
            if pp.is_null() {
                s.globrunqput(gp);
            }
            pp
        };
        if !pp.is_null() {
            proc::acquirep(mp, pp);
            proc::execute(mp, gp, proc::Slice::New);
        }
        // Queued: schedule() waits for it here if it is locked to us (stoplockedm), else
        // this M goes idle (find_runnable finds no P: stopm).
        proc::schedule_without_p(mp)
    }
}
