//! fork: what is left of the runtime in a child of `fork()`.
//!
//! # The child has no runtime
//! `fork()` copies the address space but only the calling thread. In a child of a process whose
//! runtime has started, every other M, the idle Ms and sysmon are gone while their state is
//! copied: idle Ms on a list that no thread will ever wake, Ps held by threads that do not
//! exist, runtime locks (sched.lock, the free-G list, the stack arena) that a vanished thread
//! may have held at the moment of the fork, goroutines in run queues. Whatever the runtime does
//! in the child may wait for ever (a park waits for an M to run it; a lock is never released)
//! or, worse, run the parent's goroutines a second time in the child (measured: `gmp_park` or
//! a goroutine return in the child ran a goroutine queued in the parent). Go never meets this:
//! its children run only raw syscalls between fork and exec. C code keeps running after fork,
//! so api.md rules: the child must not use the runtime; its calls that can fail return -EPERM
//! and the others do nothing; fork+exec, system(), popen() and posix_spawn() keep working.
//!
//! What each call does in the child (the ffi/ entry points check first, before their
//! arguments):
//! - the child's threads are in thread context: `gmp_self()` is NULL and `gmp_goid(NULL)` 0 —
//!   so code that picks between a goroutine path and a thread path (`gmp_self() != NULL`)
//!   takes the thread path, the one that still works in a single-threaded process; a handle
//!   taken before the fork still reads its goroutine's id (`gmp_goid(g)`: a read of the
//!   child's copy);
//! - `gmp_gosched` is `sched_yield()` (as in thread context), `gmp_entersyscall` and
//!   `gmp_exitsyscall` do nothing (also when the fork happened inside a bracket);
//! - every function returning `int`/`int64_t` returns -EPERM, whatever its arguments:
//!   `gmp_spawn`, `gmp_main`, `gmp_init`, `gmp_set_procs`, `gmp_stats_read` (it writes nothing:
//!   it would take sched.lock, which a vanished thread may hold), `gmp_park`, `gmp_ready`,
//!   `gmp_lock_thread`, `gmp_unlock_thread`, and `gmp_exit` (api.md's rule, and thread
//!   context's answer; the caller carries on); `gmp_version` still answers (no runtime in it);
//! - the goroutine function that called fork returning in the child (into `goexit`, below)
//!   ends the child with `exit(0)`: what glibc does when the start routine of a process's last
//!   thread returns. The child's only thread has nothing to go back to; atexit handlers run and
//!   stdio is flushed, as for that thread (call `_exit` in the child to avoid both);
//! - a SIGURG in the child (the program's own: sysmon's are sent to the parent's thread ids)
//!   is not taken for a preemption request: the thread is no M any more.
//!
//! # Detection
//! 1. A `pthread_atfork` child handler, registered when the runtime starts (before its state
//!    leaves NotStarted, so no fork can slip between), sets `FORKED` in the child if the runtime
//!    had started (or was starting) in the parent. Every exported function that would use the
//!    runtime loads it first: a Relaxed load of a word the parent never writes (it stays in
//!    every core's cache). A child of a process that never started the runtime may start its
//!    own.
//! 2. glibc runs atfork handlers for `fork()` only — not for `vfork()`, `posix_spawn()` (which
//!    `system()` and `popen()` use), `_Fork()` or a raw `clone` (measured, glibc 2.36). The
//!    fallback compares `getpid()` with the pid the runtime started in (`RUNTIME_PID`). It is a
//!    syscall (~100 ns here, twice a whole gmp_gosched), so it runs only where that is noise:
//!    the SIGURG handler, the rare entry points (gmp_init, gmp_main, gmp_set_procs,
//!    gmp_stats_read; -EPERM there as well), the wait for a concurrent start, and right before
//!    the runtime sleeps on a futex (`sleep_check`: runtime locks and notes), where a child
//!    that slipped past the flag would otherwise hang: there it is a fatal error.
//!
//! `vfork()` and `posix_spawn()` children (CLONE_VM) share the parent's memory, so nothing
//! here writes when it finds itself in a child: `FORKED` is written only by the atfork handler,
//! which runs only in a `fork()` child, on its own copy. A vfork child may only exec or _exit
//! (POSIX); posix_spawn's child makes no call libgmp sees, and glibc blocks every signal in it
//! until it has reset the handlers, so the SIGURG handler never runs there.
//!
//! # Preemption inside fork()
//! glibc's fork() takes the stdio list lock and every malloc arena lock around the clone
//! (after the atfork prepare handlers; released before the parent handlers), and the clone
//! copies the page tables: ~0.1-1 ms here, more for big processes. A goroutine preempted
//! inside that window keeps its M and all those locks; when its P then needs a new M, sysmon
//! makes one, and `newm` allocates: sysmon blocks on an arena lock, and at GMP_MAXPROCS=1
//! nothing runs again (measured: t_fork hung in 1 run of 20, and in 2 of 5, at GMP_MAXPROCS=1).
//! So, as Go's runtime_BeforeFork/AfterFork do, the atfork prepare handler raises the forking
//! M's `locks`, which asynchronous preemption respects, and the parent handler lowers it: the
//! window is glibc's own (plus the atfork handlers registered before the runtime started:
//! prepare handlers run in reverse order of registration, parent handlers in order).
//!
//! What remains is the preemption path's hazard, not fork's: a goroutine preempted while it
//! holds a libc lock keeps it until it gets a processor back. If fork() then waits for that
//! lock (malloc's, stdio's) on the only P, nothing preempts it to hand the P over (measured:
//! 3 hangs in ~900 runs of t_fork at GMP_MAXPROCS=1 before its workers bracketed their
//! popen/system calls); and a P hand-off that waits for sysmon's `newm` hangs if the lock is
//! one thread creation needs (malloc's; the loader's TLS lock, held inside pthread_create).
//! design.md's "if no M is free, skip the preemption" removes the second. Rejected here:
//! starting a new time slice at fork instead (the forking goroutine stays preemptible):
//! t_fork hung in 2 runs of 7 on this loaded machine, sysmon blocked on an arena lock; treating
//! fork() as a syscall (entersyscall in the prepare handler): the parent handler then waits
//! for a P while glibc holds its atfork lock, which any other goroutine calling fork() on a
//! P waits for (a deadlock with GMP_DEBUG=asyncpreemptoff=1).
//!
//! Signals: an M's mask is the program's mask at runtime start minus SIGURG/SIGSEGV/SIGBUS,
//! which the runtime never blocks; so a goroutine's fork (and exec) inherits the program's own
//! mask, and exec resets the runtime's handlers. Only `newm` blocks every signal, around
//! `pthread_create` inside the runtime, where no user code can fork.

use crate::sched::m::{ctx, Ctx};
use core::sync::atomic::{AtomicBool, AtomicI32, Ordering::*};

/// Set by the atfork child handler in a child of fork() of a started runtime; never set in the
/// process that runs the runtime. Relaxed everywhere: it is written by the child's only thread
/// before fork() returns there, and read by that thread or threads it creates afterwards
/// (pthread_create orders the creator's writes before the new thread).
static FORKED: AtomicBool = AtomicBool::new(false);

/// The pid the runtime started in (0 = not started here). Written by the starter before any M
/// or signal handler exists (pthread_create and sigaction publish it to both); read Relaxed.
static RUNTIME_PID: AtomicI32 = AtomicI32::new(0);

/// The atfork handler is registered (once per process; its copy in a child keeps it so).
/// Relaxed: only the swap's atomicity matters (one registration); it publishes nothing.
static REGISTERED: AtomicBool = AtomicBool::new(false);

/// Register the atfork child handler, once. Called by `schedinit` before the runtime's state
/// can leave NotStarted.
pub(crate) fn register() {
    if REGISTERED.load(Relaxed) || REGISTERED.swap(true, Relaxed) {
        return;
    }
    // SAFETY: the handlers are valid for the life of the process (libgmp is never unloaded
    // while a runtime runs: its threads execute its code). On failure (ENOMEM) only the pid
    // fallback remains, and forks may be preempted.
    unsafe {
        libc::pthread_atfork(
            Some(atfork_prepare),
            Some(atfork_parent),
            Some(atfork_child),
        )
    };
}

/// Record the runtime's pid: called by the thread that won the start, before it makes any M.
pub(crate) fn set_runtime_pid() {
    // SAFETY: getpid cannot fail.
    RUNTIME_PID.store(unsafe { libc::getpid() }, Relaxed);
}

/// The forking goroutine is not preempted until fork() returns (see "Preemption inside
/// fork()"): raise its M's `locks`, as a runtime call does.
extern "C" fn atfork_prepare() {
    if let Ctx::G(mp, _) = ctx() {
        // SAFETY: mp is this thread's M; the same thread lowers it in atfork_parent (a goroutine
        // cannot move to another M while its M's locks are raised: no preemption, and fork()
        // has no switch point).
        unsafe { (*mp).acquirem() };
    }
}

extern "C" fn atfork_parent() {
    if let Ctx::G(mp, _) = ctx() {
        // SAFETY: as in atfork_prepare, on the same thread.
        unsafe { (*mp).releasem() };
    }
}

/// In the child, on its own copy of memory: the runtime is gone (the M's `locks`, raised by
/// atfork_prepare, stays raised in that copy, where nothing reads it).
extern "C" fn atfork_child() {
    if crate::sched::schedinit::start_attempted() {
        FORKED.store(true, Relaxed);
    }
}

/// In a child of fork(): the fast check of every exported function (no syscall).
#[inline(always)]
pub(crate) fn in_child() -> bool {
    FORKED.load(Relaxed)
}

/// In a child of fork(), or in any other process that has the runtime's memory but is not the
/// process it started in (vfork, posix_spawn, _Fork, raw clone). Costs a getpid syscall unless
/// the flag is set. Signal-safe; writes nothing.
#[inline]
pub(crate) fn in_child_checked() -> bool {
    in_child() || {
        let pid = RUNTIME_PID.load(Relaxed);
        // SAFETY: getpid cannot fail.
        pid != 0 && pid != unsafe { libc::getpid() }
    }
}

/// gmp_gosched in a child: as in thread context.
pub(crate) fn yield_thread() {
    crate::os::osyield()
}

/// Before the runtime sleeps on a futex (a runtime lock, a note): in a process that is not the
/// runtime's, the thread that would wake it does not exist. A fatal error instead of a silent
/// hang; raw syscalls only (a vfork child shares libc's memory with its parent).
#[inline]
pub(crate) fn sleep_check() {
    if in_child_checked() {
        foreign_child();
    }
}

#[cold]
#[inline(never)]
fn foreign_child() -> ! {
    crate::os::write_err(
        b"gmp: fatal error: the runtime was used in a child process that fork() did not make \
          (vfork, posix_spawn, _Fork, clone): the runtime's threads are not there\n",
    );
    // The kernel's struct sigaction, all zero: SIG_DFL, no flags, an empty mask.
    let dfl = [0u64; 4];
    // SAFETY: raw syscalls on this process only: SIGABRT back to its default action (a vfork
    // child has its own copy of the actions), then sent to this thread; exit_group if that
    // somehow returns.
    unsafe {
        libc::syscall(
            libc::SYS_rt_sigaction,
            libc::SIGABRT,
            dfl.as_ptr(),
            0usize,
            8usize,
        );
        libc::syscall(
            libc::SYS_tgkill,
            libc::getpid(),
            crate::os::gettid(),
            libc::SIGABRT,
        );
        libc::syscall(libc::SYS_exit_group, 134);
    }
    loop {
        core::hint::spin_loop(); // exit_group does not return
    }
}

/// Where a goroutine's function returns to (asm/gostart.S calls it through r13): in a child of
/// fork the goroutine that forked has nothing to go back to, so the child process ends, as
/// when the last thread's start routine returns (glibc: exit(0)); otherwise proc::goexit1.
pub(crate) unsafe extern "C" fn goexit() -> ! {
    if in_child() {
        // SAFETY: exit has no preconditions; we are on a live stack (the goroutine's).
        unsafe { libc::exit(0) }
    }
    // SAFETY: called where goexit1 would be (a goroutine stack that is done).
    unsafe { crate::sched::proc::goexit1() }
}
