//! Syscalls: gmp_entersyscall / gmp_exitsyscall (Go's reentersyscall / exitsyscall).
//!
//! Entering, the G goes to SYSCALL and its P to SYSCALL, still remembered by the M (`oldp`)
//! but owned by nobody: sysmon's retake may CAS it to IDLE and hand it off after one tick, so
//! the P's other goroutines keep running while this thread blocks in the kernel.
//! Exiting: (1) fast path — CAS the old P back from SYSCALL (nobody took it); (2) any idle P;
//! (3) slow path, on g0 — queue the G globally and stop the M (or, if the G is locked to this
//! M, wait for it here).

use crate::arch::{self, getm};
use crate::g::{self, set_status, G};
use crate::m::M;
use crate::p;
use crate::proc;
use crate::sched::SCHED;
use core::ptr::null_mut;
use core::sync::atomic::Ordering::*;

/// # Safety
/// Called by the running goroutine gp on its M mp (with mp.locks raised), holding a P.
pub(crate) unsafe fn entersyscall(mp: *mut M, gp: *mut G) {
    // SAFETY: per the contract we own gp, mp and mp.p.
    unsafe {
        let pp = (*mp).p;
        set_status(gp, g::RUNNING, g::SYSCALL);
        let t = (*pp).syscalltick.load(Relaxed);
        (*pp).syscalltick.store(t.wrapping_add(1), Relaxed);
        (*pp).m = null_mut();
        (*mp).oldp = pp;
        (*mp).p = null_mut();
        // Release: publishes the P's state to whoever CASes it out of SYSCALL.
        (*pp).status.store(p::SYSCALL, Release);
    }
}

/// # Safety
/// Called by gp, in SYSCALL, on its M mp. While gp is in SYSCALL it is never preempted, so
/// mp.locks need not be raised.
pub(crate) unsafe fn exitsyscall(mp: *mut M, gp: *mut G) {
    // SAFETY: per the contract.
    unsafe {
        let oldp = (*mp).oldp;
        (*mp).oldp = null_mut();
        // Fast path: our P is still ours to take — unless gmp_set_procs retired it meanwhile
        // (then sysmon's retake hands it off, and pidleput retires it).
        if !oldp.is_null()
            && (*oldp).id < SCHED.gomaxprocs.load(Relaxed)
            && (*oldp).status.compare_exchange(p::SYSCALL, p::IDLE, AcqRel, Relaxed).is_ok()
        {
            proc::acquirep(mp, oldp);
            set_status(gp, g::SYSCALL, g::RUNNING);
            return;
        }
        // Any idle P.
        if SCHED.npidle.load(SeqCst) > 0 {
            let pp = SCHED.locked().pidleget();
            if !pp.is_null() {
                proc::acquirep(mp, pp);
                set_status(gp, g::SYSCALL, g::RUNNING);
                return;
            }
        }
        // Slow path: no P. (The G may resume on another M: nothing after this uses mp.)
        arch::gmp_mcall(exitsyscall0);
    }
}

/// exitsyscall0: on g0, with no P: run gp at once if an idle P appeared, else queue it.
unsafe extern "C" fn exitsyscall0(gp: *mut G) -> ! {
    let mp = getm();
    // SAFETY: mp is this M and gp its curg (context saved by mcall).
    unsafe {
        proc::dropg(mp, gp);
        set_status(gp, g::SYSCALL, g::RUNNABLE);
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
            proc::execute(mp, gp, false);
        }
        // Queued: schedule() waits for it here if it is locked to us (stop_locked_m), else
        // this M goes idle (find_runnable finds no P: stopm).
        proc::schedule_without_p(mp)
    }
}
