//! Calls that create, copy, close or configure fds: they keep the fd records (fd.rs) true and
//! run Go's close protocol. None of them parks.
//!
//! - Creators (`socket`, `socketpair`, `pipe`, `pipe2`; `accept*` are in io.rs): the real
//!   call, then the new fds are recorded as owned (fd.rs, "Owned"). Any context: a socket made
//!   on the main thread before the runtime starts is owned too. Nothing is flipped here.
//! - `close`, `dup2`/`dup3` onto an open number, `close_range`, `fclose`: through
//!   `netpoll::close_with`/`close_range_with` while the runtime runs in this process
//!   (goroutines waiting on the fd wake with EBADF, EPOLL_CTL_DEL before the real close, the
//!   close waits for operations in flight); the record is cleared inside, right before the
//!   real call (clearing after it could wipe the record of a new fd another thread just got
//!   under the same number). In a fork child or before the runtime starts: clear and forward.
//!   fclose: the fd is `fileno(f)` (-1 for memory streams: no fd to evict).
//! - `dup`, `dup2`, `dup3`, `fcntl(F_DUPFD*)`: the record is copied to the new number.
//! - `fdopen`: stdio takes the fd, which must then block as the user set it (fd.rs, NO_FLIP).
//! - `fcntl`/`fcntl64`(F_GETFL/F_SETFL) and `ioctl(FIONBIO)` on an fd the runtime made
//!   non-blocking (RT_NB): the user's O_NONBLOCK is recorded (USER_NB) and shown by F_GETFL;
//!   the kernel's flag stays on. Everything else passes through.
//! - `setsockopt(SOL_SOCKET, SO_RCVTIMEO/SO_SNDTIMEO[_NEW])`: passed to the kernel (so
//!   getsockopt shows it and blocking calls on the syscall path use it) and recorded for the
//!   emulation.
//!
//! # Variadic fcntl and ioctl
//! They are defined here with a fixed third argument (`usize`), which is ABI-compatible on
//! x86-64 (the only architecture libgmp supports: asm/, arch/x86_64.rs): the SysV ABI passes a
//! variadic call's integer and pointer arguments in the same registers as a fixed-argument
//! call's (`%rdx` here) and only adds `%al`, which a fixed-argument callee ignores; a command
//! without an argument leaves a meaningless `%rdx` that is never used. glibc's own fcntl
//! reads its va_arg from the same register. This needs no C shim (and no Rust C-variadic
//! definitions, which are unstable); the real functions are called through variadic
//! pointer types (real_fn!), as C does.

use super::fd::{self, Kind};
use super::real::real;
use super::{keep_errno, off, runtime_here};
use crate::netpoll;
use libc::{c_int, c_uint, c_ulong, c_void, socklen_t, FILE};

// ---------------------------------------------------------------------------------------------
// Creators.

#[no_mangle]
pub unsafe extern "C" fn socket(domain: c_int, ty: c_int, proto: c_int) -> c_int {
    let r = real!(Socket: fn(c_int, c_int, c_int) -> c_int; domain, ty, proto);
    if r >= 0 && !off() {
        fd::created(r, Kind::Sock, ty & 0xf);
    }
    r
}

#[no_mangle]
pub unsafe extern "C" fn socketpair(
    domain: c_int,
    ty: c_int,
    proto: c_int,
    sv: *mut c_int,
) -> c_int {
    let r = real!(Socketpair: fn(c_int, c_int, c_int, *mut c_int) -> c_int; domain, ty, proto, sv);
    if r == 0 && !off() {
        // SAFETY: the real call filled the caller's two-element array.
        let (a, b) = unsafe { (*sv, *sv.add(1)) };
        fd::created(a, Kind::Sock, ty & 0xf);
        fd::created(b, Kind::Sock, ty & 0xf);
    }
    r
}

fn pipe_created(r: c_int, fds: *const c_int) {
    if r == 0 && !off() {
        // SAFETY: the real call filled the caller's two-element array.
        let (a, b) = unsafe { (*fds, *fds.add(1)) };
        fd::created(a, Kind::Pipe, 0);
        fd::created(b, Kind::Pipe, 0);
    }
}

#[no_mangle]
pub unsafe extern "C" fn pipe(fds: *mut c_int) -> c_int {
    let r = real!(Pipe: fn(*mut c_int) -> c_int; fds);
    pipe_created(r, fds);
    r
}

#[no_mangle]
pub unsafe extern "C" fn pipe2(fds: *mut c_int, flags: c_int) -> c_int {
    let r = real!(Pipe2: fn(*mut c_int, c_int) -> c_int; fds, flags);
    pipe_created(r, fds);
    r
}

// ---------------------------------------------------------------------------------------------
// Closing.

/// Close protocol around `f` for `fd` (module note).
fn closing(fd: c_int, f: impl FnOnce() -> c_int) -> c_int {
    if off() {
        return f();
    }
    keep_errno(|r| *r >= 0, || closing1(fd, f))
}

fn closing1(fd: c_int, f: impl FnOnce() -> c_int) -> c_int {
    if runtime_here() {
        netpoll::close_with(fd, || {
            fd::forget(fd);
            f()
        })
    } else {
        fd::forget(fd);
        f()
    }
}

#[no_mangle]
pub unsafe extern "C" fn close(fd: c_int) -> c_int {
    closing(fd, || real!(Close: fn(c_int) -> c_int; fd))
}

#[no_mangle]
pub unsafe extern "C" fn fclose(f: *mut FILE) -> c_int {
    let real = || real!(Fclose: fn(*mut FILE) -> c_int; f);
    if f.is_null() || off() {
        return real();
    }
    // SAFETY: the caller's open stream (fileno only reads it).
    let fd = unsafe { libc::fileno(f) };
    if fd < 0 {
        return real();
    }
    closing(fd, real)
}

#[no_mangle]
pub unsafe extern "C" fn close_range(lo: c_uint, hi: c_uint, flags: c_int) -> c_int {
    let real = || real!(CloseRange: fn(c_uint, c_uint, c_int) -> c_int; lo, hi, flags);
    if off() || lo > hi || flags & libc::CLOSE_RANGE_CLOEXEC as c_int != 0 {
        return real(); // nothing closed now (or EINVAL)
    }
    let clear_and_close = || {
        fd::forget_range(lo, hi);
        real()
    };
    keep_errno(
        |r| *r >= 0,
        || {
            if runtime_here() {
                netpoll::close_range_with(lo, hi, clear_and_close)
            } else {
                clear_and_close()
            }
        },
    )
}

/// fdopen: stdio takes the fd; it must block as the user set it (fd.rs, "NO_FLIP").
#[no_mangle]
pub unsafe extern "C" fn fdopen(fd: c_int, mode: *const libc::c_char) -> *mut FILE {
    let f = real!(Fdopen: fn(c_int, *const libc::c_char) -> *mut FILE; fd, mode);
    if !f.is_null() && !off() {
        keep_errno(|_| true, || fd::stdio_took(fd));
    }
    f
}

// ---------------------------------------------------------------------------------------------
// Copies.

#[no_mangle]
pub unsafe extern "C" fn dup(old: c_int) -> c_int {
    let r = real!(Dup: fn(c_int) -> c_int; old);
    if r >= 0 && !off() {
        fd::copy(old, r);
    }
    r
}

/// dup2/dup3: `new` stops naming what it named (close protocol), then names `old`'s
/// description. dup2(fd, fd) closes nothing.
fn dup_onto(old: c_int, new: c_int, f: impl FnOnce() -> c_int) -> c_int {
    if off() || old == new || new < 0 {
        return f();
    }
    closing(new, || {
        let r = f();
        if r >= 0 {
            fd::copy(old, r);
        }
        r
    })
}

#[no_mangle]
pub unsafe extern "C" fn dup2(old: c_int, new: c_int) -> c_int {
    dup_onto(
        old,
        new,
        || real!(Dup2: fn(c_int, c_int) -> c_int; old, new),
    )
}

#[no_mangle]
pub unsafe extern "C" fn dup3(old: c_int, new: c_int, flags: c_int) -> c_int {
    dup_onto(
        old,
        new,
        || real!(Dup3: fn(c_int, c_int, c_int) -> c_int; old, new, flags),
    )
}

// ---------------------------------------------------------------------------------------------
// fcntl, ioctl.

fn fcntl_common(fd: c_int, cmd: c_int, arg: usize, real: impl Fn(usize) -> c_int) -> c_int {
    if off() {
        return real(arg);
    }
    match cmd {
        libc::F_GETFL => {
            let r = real(arg);
            match fd::known(fd) {
                Some(s) if r >= 0 && s.rt_nb() && !s.user_nb() => r & !libc::O_NONBLOCK,
                _ => r,
            }
        }
        libc::F_SETFL => match fd::known(fd) {
            Some(s) if s.rt_nb() => {
                let r = real(arg | libc::O_NONBLOCK as usize);
                if r >= 0 {
                    fd::set_user_nb(&s, arg as c_int & libc::O_NONBLOCK != 0);
                }
                r
            }
            _ => real(arg),
        },
        libc::F_DUPFD | libc::F_DUPFD_CLOEXEC => {
            let r = real(arg);
            if r >= 0 {
                fd::copy(fd, r);
            }
            r
        }
        _ => real(arg),
    }
}

/// fcntl (see "Variadic fcntl and ioctl").
#[no_mangle]
pub unsafe extern "C" fn fcntl(fd: c_int, cmd: c_int, arg: usize) -> c_int {
    fcntl_common(
        fd,
        cmd,
        arg,
        |a| real!(Fcntl: vfn(c_int, c_int) -> c_int; fd, cmd, a),
    )
}

/// fcntl64 (glibc 2.28+; what `fcntl` is under _FILE_OFFSET_BITS=64 and _TIME_BITS=64).
#[no_mangle]
pub unsafe extern "C" fn fcntl64(fd: c_int, cmd: c_int, arg: usize) -> c_int {
    fcntl_common(
        fd,
        cmd,
        arg,
        |a| real!(Fcntl64: vfn(c_int, c_int) -> c_int; fd, cmd, a),
    )
}

/// ioctl (see "Variadic fcntl and ioctl"). FIONBIO on an RT_NB fd: setting it is forwarded (it
/// is on already), clearing it is recorded and not forwarded (the kernel's flag stays on).
#[no_mangle]
pub unsafe extern "C" fn ioctl(fd: c_int, req: c_ulong, arg: usize) -> c_int {
    let real = || real!(Ioctl: vfn(c_int, c_ulong) -> c_int; fd, req, arg);
    if off() || req != libc::FIONBIO || arg == 0 {
        return real();
    }
    match fd::known(fd) {
        Some(s) if s.rt_nb() => {
            // SAFETY: FIONBIO's argument is a pointer to int (checked non-null above).
            let on = unsafe { *(arg as *const c_int) } != 0;
            let r = if on { real() } else { 0 };
            if r == 0 {
                fd::set_user_nb(&s, on);
            }
            r
        }
        _ => real(),
    }
}

// ---------------------------------------------------------------------------------------------
// setsockopt.

const SO_RCVTIMEO_NEW: c_int = 66;
const SO_SNDTIMEO_NEW: c_int = 67;

#[no_mangle]
pub unsafe extern "C" fn setsockopt(
    fd: c_int,
    level: c_int,
    name: c_int,
    val: *const c_void,
    len: socklen_t,
) -> c_int {
    let r = real!(Setsockopt: fn(c_int, c_int, c_int, *const c_void, socklen_t) -> c_int; fd, level, name, val, len);
    if r != 0 || off() || level != libc::SOL_SOCKET || val.is_null() {
        return r;
    }
    let out = match name {
        libc::SO_RCVTIMEO | SO_RCVTIMEO_NEW => false,
        libc::SO_SNDTIMEO | SO_SNDTIMEO_NEW => true,
        _ => return r,
    };
    if (len as usize) < core::mem::size_of::<libc::timeval>() {
        return r;
    }
    // SAFETY: the kernel accepted it as a timeval (the _NEW form has the same layout on
    // x86-64: two 64-bit fields).
    let tv = unsafe { *(val as *const libc::timeval) };
    keep_errno(|_| true, || fd::set_timeout(fd, out, fd::timeval_ns(&tv)));
    r
}
