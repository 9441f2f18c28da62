//! Interposed libc functions: `libgmp.so` exports them under libc's own names, so the dynamic
//! linker binds the program's (and every other library's) calls to them — with `-lgmp` (libgmp
//! comes before libc in the search order) and with `LD_PRELOAD` alike — and each forwards to
//! the real function, found once with `dlsym(RTLD_NEXT)` (`real.rs`).
//!
//! - `pthread.rs`: the pthread mutex, rwlock and spinlock lock/unlock functions, which count
//!   the locks a goroutine holds for lock-holder-aware preemption (preempt/lockhold.rs).
//! - The blocking calls (api.md, "Interposed blocking libc calls"): `fd.rs` (the hooks' view
//!   of each fd: kind, who made it non-blocking, the user's O_NONBLOCK, emulated SO_*TIMEO),
//!   `wait.rs` (the one engine every fd operation runs through: park on the netpoller, or the
//!   syscall path, or a plain thread's blocking emulation), `io.rs` (read/write/recv/send
//!   families), `conn.rs` (accept, connect), `poll.rs` (poll, ppoll, select, pselect,
//!   epoll_wait, epoll_pwait), `fortify.rs` (the `__*_chk` forms), `sleep.rs`, `fdops.rs`
//!   (fd creation, close/dup/fclose/close_range, fdopen, fcntl, ioctl, setsockopt) and
//!   `net.rs` (name resolution on the syscall path).
//!
//! Why a folder of its own and not `ffi/`: these are not the C API. They must not appear in
//! `gmp.h` (cbindgen reads only `ffi/`), they keep libc's names and signatures rather than
//! `gmp_*` ones, and `c-tests/check_exports.sh` lists them as INTERPOSED. The rule of `ffi/`
//! holds here too: argument translation only, the work is elsewhere.
//!
//! The runtime itself never needs these functions: its locks are futexes (lock/), Rust's std
//! locks on Linux are futexes too, and glibc calls its internal lock functions directly (so
//! `pthread_create`, `dlsym`, `malloc` never come back here). A call that does arrive from
//! runtime code runs on g0 or a plain thread and is forwarded without counting. The runtime's
//! own I/O (os::write_err, the netpoller's epoll calls) is raw syscalls.
//!
//! # Who gets which behaviour
//! `goroutine()` is the one test: a goroutine of a started runtime, not in a fork child, with
//! hooks on (`GMP_DEBUG=hooks=0` turns them off), whose status is Running (inside the user's
//! own `gmp_entersyscall` bracket it is Syscall: the call then passes through, blocking the
//! thread the user already announced). Everything else — plain threads, g0, a fork child, a
//! program that never started the runtime — gets libc's behaviour; the only work done for it
//! is bookkeeping of fds (fd.rs) and, on an fd the runtime made non-blocking, the emulation
//! of the blocking call the user expects (wait.rs).

pub(crate) mod real;

pub(crate) mod pthread;

pub(crate) mod conn;
pub(crate) mod fd;
pub(crate) mod fdops;
pub(crate) mod fortify;
pub(crate) mod io;
pub(crate) mod net;
pub(crate) mod poll;
pub(crate) mod sleep;
pub(crate) mod wait;

use crate::debug::knobs::HOOKS_OFF;
use crate::sched::g::GStatus;
use crate::sched::m::{ctx, Ctx};
use crate::sched::{fork, schedinit, syscall};
use core::sync::atomic::Ordering::{Acquire, Relaxed};

/// GMP_DEBUG=hooks=0: forward everything to libc, keep no state.
#[inline(always)]
pub(crate) fn off() -> bool {
    // Relaxed: written once by parse_gmp_debug before any M exists (see its note).
    HOOKS_OFF.load(Relaxed)
}

/// The caller is a goroutine that may park here (see "Who gets which behaviour").
#[inline]
pub(crate) fn goroutine() -> bool {
    if fork::in_child() || !schedinit::started() || off() {
        return false;
    }
    match ctx() {
        // SAFETY: gp is the goroutine running on this thread; its status is its own to read.
        Ctx::G(mp, gp) => match unsafe { (*gp).status.load(Relaxed) } {
            GStatus::Running => true,
            // sysmon took its P while its thread was blocked in an earlier unhooked call (a raw
            // syscall): get it back now, at this runtime entry (syscall.rs, "Blocked threads"),
            // rather than run the real call on the syscall path, where the SIGURG that would
            // hand the P back can cut it short with EINTR.
            GStatus::Syscall
                // SAFETY: mp is this thread's M; take is atomic.
                if unsafe { (*mp).take.load(Acquire) } == crate::sched::m::Take::Taken =>
            {
                let c = crate::sched::syscall::enter();
                crate::sched::syscall::leave(c);
                // SAFETY: as above (enter kept us on this M).
                (unsafe { (*gp).status.load(Relaxed) }) == GStatus::Running
            }
            _ => false,
        },
        _ => false,
    }
}

/// The runtime may have watchers on fds (close_with is needed): started, and this is the
/// process it started in (a fork child must not touch the parent's epoll set).
#[inline]
pub(crate) fn runtime_here() -> bool {
    !fork::in_child() && schedinit::started() && !off()
}

#[inline(always)]
pub(crate) fn errno() -> i32 {
    // SAFETY: this thread's errno slot.
    unsafe { *crate::os::errno_ptr() }
}

#[inline(always)]
pub(crate) fn set_errno(e: i32) {
    // SAFETY: this thread's errno slot.
    unsafe { *crate::os::errno_ptr() = e }
}

/// Run a hook's body keeping libc's errno contract: a call that succeeds (per `ok`) leaves
/// errno as the caller had it — libc's wrappers write errno only on failure, while the hooks'
/// own work (EAGAIN tries before a park, fstat/getsockopt of a classification, the netpoller's
/// epoll_ctl in a close) may have written it, on this thread or on the one the goroutine left.
#[inline]
pub(crate) fn keep_errno<R>(ok: impl FnOnce(&R) -> bool, f: impl FnOnce() -> R) -> R {
    let e0 = errno();
    let r = f();
    if ok(&r) {
        set_errno(e0);
    }
    r
}

/// A call's return value and errno, carried across switches (the goroutine may finish on
/// another thread: errno is set on that one, at the end).
pub(crate) type Res = (isize, i32);

/// Run `f` (a real call that may block in the kernel) bracketed by entersyscall/exitsyscall,
/// so the P is handed off if it blocks. Only for a `goroutine()` caller (status Running: the
/// bracket is ours to close). Errno is `f`'s, whatever exitsyscall does.
pub(crate) fn syscall_path<R>(f: impl FnOnce() -> R) -> R {
    syscall::entersyscall();
    let r = f();
    let e = errno();
    syscall::exitsyscall();
    set_errno(e);
    r
}

/// Finish a call: set errno if it failed, return its value.
#[inline]
pub(crate) fn ret((r, e): Res) -> isize {
    if r < 0 {
        set_errno(e);
    }
    r
}

/// `r` with errno when negative (a libc-style return just made on this thread).
#[inline]
pub(crate) fn res(r: isize) -> Res {
    (r, if r < 0 { errno() } else { 0 })
}
