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
//!
//! # Blocked threads: implicit syscalls (beyond Go: Go's code always brackets its syscalls)
//! C code blocks in the kernel without telling us (`usleep`, `poll`, `syscall(2)`, a contended
//! pthread mutex). Signalling such a thread to preempt it would make its call fail with EINTR
//! (nanosleep and poll are never restarted), and leaving it alone would strand its P. So
//! sysmon treats a goroutine whose thread is blocked in the kernel — its CPU clock stopped,
//! then its /proc stat state sleeping — as if it had called entersyscall, and retakes its P
//! (`retake_blocked` in sysmon.rs, Go's retake of `_Psyscall`). Signals go only to threads
//! that run user code.
//!
//! The hand-shake, through `m.take` (Free -> Taking -> Taken): sysmon moves the M to Taking,
//! then checks the thread is still blocked and outside the runtime (`m.locks == 0`, the G
//! still its curg and Running), and only then moves the P and the G as entersyscall would and
//! sets Taken; otherwise it goes back to Free. The thread, at every runtime entry (`enter`),
//! raises m.locks and then reads m.take: Taking, it waits for sysmon's decision; Taken, it
//! gets a P back (exitsyscall, keeping its M: the code it runs may have cached a thread-local
//! address) before anything else. The thread's store and load need no fence between them:
//! sysmon only takes after it has seen the thread blocked in the kernel *after* its own CAS
//! (so the thread's earlier stores, m.locks included, are visible — entering the kernel to
//! sleep orders them — and its next user-mode load sees the CAS).
//!
//! When the blocking call returns, the goroutine runs on without a P until sysmon sees its
//! thread on a CPU again — at most one tick (≤ 1 ms while any M is Taken) — and sends it
//! SIGURG; the handler injects the same trampoline as a preemption, and `async_preempt2`
//! finds Taken and gets a P back. Code that calls into the runtime first gets its P there.

use crate::arch::getm;
use crate::sched::g::{GStatus, G};
use crate::sched::m::{ctx, Ctx, Take, M};
use crate::sched::p::PStatus;
use crate::sched::proc::{self, mcall};
use crate::sched::sched::SCHED;
use core::ptr::null_mut;
use core::sync::atomic::Ordering::*;

/// enter: the calling code enters the runtime (Go's acquirem). On an M, m.locks is raised
/// until `leave` (or, for a goroutine that switches out, until mcall's dropg). A goroutine
/// whose P sysmon took while its thread was blocked first gets one back (see "Blocked
/// threads"), so that on return `m.p` is its own.
#[inline]
pub(crate) fn enter() -> Ctx {
    let c = ctx();
    match c {
        // SAFETY: mp is this thread's M and gp its running goroutine.
        Ctx::G(mp, gp) => unsafe {
            enter_g(mp, gp);
        },
        // SAFETY: as above.
        Ctx::G0(mp) => unsafe { (*mp).acquirem() },
        Ctx::Thread => {}
    }
    c
}

/// The goroutine half of `enter`: raise m.locks, then resolve a take by sysmon. True if one
/// was resolved (the goroutine had lost its P and got one back).
/// # Safety
/// gp is the goroutine running on mp, the calling M.
#[inline]
pub(crate) unsafe fn enter_g(mp: *mut M, gp: *mut G) -> bool {
    // SAFETY: per the contract.
    unsafe {
        (*mp).acquirem();
        // Compiler order only (see "Blocked threads" for why the CPU needs no fence).
        core::sync::atomic::compiler_fence(SeqCst);
        if (*mp).take.load(Acquire) == Take::Free {
            return false;
        }
        exitsyscall_blocked(mp, gp);
        true
    }
}

/// leave: end a runtime entry made by `enter` (on the M the caller now runs on).
#[inline]
pub(crate) fn leave(c: Ctx) {
    if !matches!(c, Ctx::Thread) {
        // SAFETY: getm() is this thread's M, whose locks this thread raised in enter (a
        // goroutine that moved raised them again on its new M: exitsyscall1).
        unsafe { (*getm()).releasem() };
    }
}

/// The calling goroutine found `m.take` not Free at a runtime entry (m.locks raised): wait for
/// sysmon's decision, and if it took our P, get one back as exitsyscall does — locked to this
/// M meanwhile, so the goroutine resumes on this thread.
/// # Safety
/// gp is the goroutine running on mp, the calling M, inside `enter`.
pub(crate) unsafe fn exitsyscall_blocked(mp: *mut M, gp: *mut G) {
    // SAFETY: per the contract; while Taken, sysmon no longer touches mp, gp or their P.
    unsafe {
        let mut t = (*mp).take.load(Acquire);
        while t == Take::Taking {
            // sysmon decides in a few microseconds (two reads of our state), never blocking.
            core::hint::spin_loop();
            t = (*mp).take.load(Acquire);
        }
        if t == Take::Free {
            return;
        }
        // Acquire above pairs with sysmon's Release store of Taken: its writes to our G, M
        // and old P are visible.
        (*mp).take.set(Take::Taken, Take::Free);
        let lock_here = (*mp).lockedg().is_null();
        if lock_here {
            (*gp).preempt_locked = true;
            (*gp).lockedm.store(mp, Relaxed);
            (*mp).lockedg.store(gp, Relaxed);
        }
        exitsyscall1(mp, gp);
        // Resumed on mp (the lock guarantees it).
        if lock_here {
            (*gp).preempt_locked = false;
            (*gp).lockedm.store(null_mut(), Relaxed);
            (*mp).lockedg.store(null_mut(), Relaxed);
        }
    }
}

/// entersyscall: the calling goroutine is about to make a call that may block in the kernel.
pub(crate) fn entersyscall() {
    let c = enter();
    let Ctx::G(mp, gp) = c else {
        leave(c);
        return;
    };
    // SAFETY: gp is the running goroutine on mp; inside the runtime we own mp.p throughout.
    unsafe {
        if (*gp).status.load(Relaxed) != GStatus::Running {
            leave(c);
            return; // nested: ignore
        }
        let pp = (*mp).p();
        (*gp).status.set(GStatus::Running, GStatus::Syscall);
        let t = (*pp).syscalltick.load(Relaxed);
        (*pp).syscalltick.store(t.wrapping_add(1), Relaxed);
        (*pp).m.store(null_mut(), Relaxed);
        (*mp).oldp = pp;
        (*mp).p.store(null_mut(), Relaxed);
        // Release: publishes the P's state to whoever wins it out of Syscall.
        (*pp).status.set(PStatus::Running, PStatus::Syscall);
    }
    leave(c);
}

/// exitsyscall: the call returned; get a P back (waiting for one if need be).
pub(crate) fn exitsyscall() {
    let c = enter();
    if let Ctx::G(mp, gp) = c {
        // SAFETY: gp is the running goroutine on mp (checked to be in Syscall).
        unsafe {
            if (*gp).status.load(Relaxed) == GStatus::Syscall {
                exitsyscall1(mp, gp);
            }
        }
    }
    leave(c);
}

/// Get a P for gp, in Syscall on mp (the calling M, inside the runtime: m.locks raised once).
/// Returns Running, inside the runtime on the M it now runs on (another M if it was queued and
/// is not locked to mp).
/// # Safety
/// gp is the calling goroutine, in Syscall, on mp, which holds no P.
pub(crate) unsafe fn exitsyscall1(mp: *mut M, gp: *mut G) {
    // SAFETY: per exitsyscall.
    unsafe {
        let oldp = (*mp).oldp;
        (*mp).oldp = null_mut();
        // Fast path: our P is still ours to take — unless gomaxprocs retired it meanwhile
        // (then sysmon's retake hands it off, and pidleput retires it).
        if !oldp.is_null()
            && !(*oldp).retiring()
            && (*oldp).status.try_cas(PStatus::Syscall, PStatus::Idle)
        {
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
        // mcall ends the runtime entry; resumed, we enter again on whatever M we run on.
        mcall(mp, exitsyscall0);
        // (Taken again in the instant between resuming and entering, a page fault, is
        // resolved here too.)
        enter_g(getm(), gp);
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
