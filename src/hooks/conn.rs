//! accept, accept4, connect: argument translation into `wait::run` (accept) and Go's
//! netFD.connect protocol (connect).
//!
//! accept on a listening socket the program made (owned) flips it non-blocking for good at
//! the first wait (wait.rs, step 5); on an inherited listener it runs on the syscall path.
//! The accepted fd is recorded as owned and is not flipped (Linux does not pass O_NONBLOCK on
//! to it): its data calls use MSG_DONTWAIT.

use super::fd::{self, Kind};
use super::io::{fail, op_in, record};
use super::real::real;
use super::wait::{self, again, Op};
use super::{goroutine, keep_errno, off, res, ret, set_errno, syscall_path};
use crate::netpoll::{self, POLLOUT};
use crate::time::Deadline;
use libc::{c_int, sockaddr, socklen_t};

/// accept/accept4: the new fd is owned (fd.rs); it does not inherit the listener's
/// O_NONBLOCK (Linux), so its kernel flag is the user's (SOCK_NONBLOCK).
unsafe fn accept_common(
    fd: c_int,
    addr: *mut sockaddr,
    alen: *mut socklen_t,
    flags: c_int,
    mut plain: impl FnMut() -> isize,
) -> c_int {
    if off() {
        return plain() as c_int;
    }
    let ty = record(fd).map_or(libc::SOCK_STREAM, |s| s.sock_type());
    let note = |r: isize| {
        if r >= 0 {
            fd::created(r as c_int, Kind::Sock, ty);
        }
        r
    };
    let plain = || note(plain());
    let attempt = |_dw: bool| {
        // SAFETY: the caller's address out-pointers.
        let r = res(unsafe { libc::syscall(libc::SYS_accept4, fd, addr, alen, flags) } as isize);
        again(r).map(|(r, e)| (note(r), e))
    };
    let op = Op {
        dontwait: false,
        ..op_in(fd, 0)
    };
    wait::run(&op, plain, attempt, fail) as c_int
}

#[no_mangle]
pub unsafe extern "C" fn accept(fd: c_int, addr: *mut sockaddr, alen: *mut socklen_t) -> c_int {
    let plain = || {
        real!(Accept: fn(c_int, *mut sockaddr, *mut socklen_t) -> c_int; fd, addr, alen) as isize
    };
    // SAFETY: the caller's arguments.
    unsafe { accept_common(fd, addr, alen, 0, plain) }
}

#[no_mangle]
pub unsafe extern "C" fn accept4(
    fd: c_int,
    addr: *mut sockaddr,
    alen: *mut socklen_t,
    flags: c_int,
) -> c_int {
    let plain = || {
        real!(Accept4: fn(c_int, *mut sockaddr, *mut socklen_t, c_int) -> c_int; fd, addr, alen, flags)
            as isize
    };
    // SAFETY: the caller's arguments.
    unsafe { accept_common(fd, addr, alen, flags, plain) }
}

/// connect (Go's netFD.connect): on a non-blocking socket, EINPROGRESS, wait for POLLOUT,
/// then SO_ERROR is the result; SO_SNDTIMEO's expiry gives EINPROGRESS, as the kernel does.
/// An owned socket the user keeps blocking is made non-blocking for this call only (so a
/// connected socket keeps the user's mode); any other goes through the syscall path.
#[no_mangle]
pub unsafe extern "C" fn connect(fd: c_int, addr: *const sockaddr, alen: socklen_t) -> c_int {
    let plain = || real!(Connect: fn(c_int, *const sockaddr, socklen_t) -> c_int; fd, addr, alen);
    if off() {
        return plain();
    }
    keep_errno(|r| *r == 0, || connect1(fd, plain))
}

fn connect1(fd: c_int, plain: impl FnOnce() -> c_int) -> c_int {
    if !goroutine() {
        return match fd::known(fd) {
            Some(s) if s.rt_nb() && !s.user_nb() => connect_wait(&s, false, plain),
            _ => plain(),
        };
    }
    let Some(s) = record(fd) else {
        return syscall_path(plain);
    };
    if s.kind() != Kind::Sock {
        return syscall_path(plain);
    }
    if s.rt_nb() {
        if s.user_nb() {
            return plain();
        }
        return connect_wait(&s, true, plain);
    }
    if !s.owned() || s.no_flip() {
        return syscall_path(plain);
    }
    match fd::getfl(fd) {
        Some(fl) if fl & libc::O_NONBLOCK != 0 => return plain(),
        Some(_) if fd::set_kernel_nb(fd, true) => {}
        _ => return syscall_path(plain),
    }
    let r = connect_wait(&s, true, plain);
    let e = super::errno();
    // Closed while it waited (EBADF): the number may name someone else's file by now.
    if r == 0 || e != libc::EBADF {
        fd::set_kernel_nb(fd, false);
    }
    set_errno(e);
    r
}

fn connect_wait(s: &fd::State, park: bool, plain: impl FnOnce() -> c_int) -> c_int {
    let fd = s.fd;
    let r = plain();
    if r == 0 || super::errno() != libc::EINPROGRESS {
        return r;
    }
    let deadline = match s.timeout(true) {
        0 => Deadline::NEVER,
        ns => Deadline::after(ns),
    };
    let writable = || {
        let mut p = libc::pollfd {
            fd,
            events: libc::POLLOUT,
            revents: 0,
        };
        // SAFETY: one valid pollfd, zero timeout.
        (unsafe { libc::syscall(libc::SYS_poll, &mut p as *mut libc::pollfd, 1, 0) } > 0)
            .then_some(())
    };
    let mut w = if park {
        netpoll::wait_until(&[(fd, POLLOUT)], deadline, writable)
    } else {
        wait::thread_wait(fd, POLLOUT, deadline, writable)
    };
    if w == Err(libc::EPERM) && park {
        w = syscall_path(|| wait::thread_wait(fd, POLLOUT, deadline, writable));
    }
    match w {
        Ok(()) => {
            let mut err: c_int = 0;
            let mut len = core::mem::size_of::<c_int>() as socklen_t;
            // SAFETY: err and len are valid out-pointers of the sizes given.
            let r = unsafe {
                libc::syscall(
                    libc::SYS_getsockopt,
                    fd,
                    libc::SOL_SOCKET,
                    libc::SO_ERROR,
                    &mut err as *mut c_int,
                    &mut len as *mut socklen_t,
                )
            };
            if r < 0 {
                return -1;
            }
            if err == 0 {
                0
            } else {
                ret((-1, err)) as c_int
            }
        }
        Err(libc::ETIMEDOUT) => ret((-1, libc::EINPROGRESS)) as c_int,
        Err(e) => ret((-1, e)) as c_int,
    }
}
