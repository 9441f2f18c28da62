//! The fortify variants (glibc's -D_FORTIFY_SOURCE calls these instead of read, recv,
//! recvfrom, pread, pread64, poll, ppoll, and FD_SET/FD_ISSET's __fdelt_chk): the buffer-size
//! check glibc makes (`__chk_fail`, which aborts, when the buffer is too small), then the
//! hook of the plain function.

use super::io::{pread, pread64, read, recv, recvfrom};
use super::poll::{poll, ppoll};
use super::real::real;
use libc::{
    c_int, c_void, nfds_t, pollfd, sigset_t, size_t, sockaddr, socklen_t, ssize_t, timespec,
};

pub(crate) fn chk_fail() -> ! {
    real!(ChkFail: fn() -> (););
    // __chk_fail does not return.
    // SAFETY: abort has no preconditions.
    unsafe { libc::abort() }
}

#[no_mangle]
pub unsafe extern "C" fn __read_chk(
    fd: c_int,
    buf: *mut c_void,
    n: size_t,
    buflen: size_t,
) -> ssize_t {
    if n > buflen {
        chk_fail();
    }
    // SAFETY: the caller's arguments, checked as glibc checks them.
    unsafe { read(fd, buf, n) }
}

#[no_mangle]
pub unsafe extern "C" fn __recv_chk(
    fd: c_int,
    buf: *mut c_void,
    n: size_t,
    buflen: size_t,
    flags: c_int,
) -> ssize_t {
    if n > buflen {
        chk_fail();
    }
    // SAFETY: as above.
    unsafe { recv(fd, buf, n, flags) }
}

#[no_mangle]
pub unsafe extern "C" fn __recvfrom_chk(
    fd: c_int,
    buf: *mut c_void,
    n: size_t,
    buflen: size_t,
    flags: c_int,
    addr: *mut sockaddr,
    alen: *mut socklen_t,
) -> ssize_t {
    if n > buflen {
        chk_fail();
    }
    // SAFETY: as above.
    unsafe { recvfrom(fd, buf, n, flags, addr, alen) }
}

#[no_mangle]
pub unsafe extern "C" fn __pread_chk(
    fd: c_int,
    buf: *mut c_void,
    n: size_t,
    off: libc::off_t,
    buflen: size_t,
) -> ssize_t {
    if n > buflen {
        chk_fail();
    }
    // SAFETY: as above.
    unsafe { pread(fd, buf, n, off) }
}

#[no_mangle]
pub unsafe extern "C" fn __pread64_chk(
    fd: c_int,
    buf: *mut c_void,
    n: size_t,
    off: libc::off64_t,
    buflen: size_t,
) -> ssize_t {
    if n > buflen {
        chk_fail();
    }
    // SAFETY: as above.
    unsafe { pread64(fd, buf, n, off) }
}

#[no_mangle]
pub unsafe extern "C" fn __poll_chk(
    fds: *mut pollfd,
    n: nfds_t,
    timeout: c_int,
    fdslen: usize,
) -> c_int {
    if fdslen / core::mem::size_of::<pollfd>() < n as usize {
        chk_fail();
    }
    // SAFETY: the caller's arguments, checked as glibc checks them.
    unsafe { poll(fds, n, timeout) }
}

#[no_mangle]
pub unsafe extern "C" fn __ppoll_chk(
    fds: *mut pollfd,
    n: nfds_t,
    ts: *const timespec,
    mask: *const sigset_t,
    fdslen: usize,
) -> c_int {
    if fdslen / core::mem::size_of::<pollfd>() < n as usize {
        chk_fail();
    }
    // SAFETY: as above.
    unsafe { ppoll(fds, n, ts, mask) }
}

/// glibc's FD_SET/FD_ISSET check under _FORTIFY_SOURCE: the word index of `d`, or
/// __chk_fail for an fd outside an fd_set. Not blocking; exported with the other fortify
/// forms so a fortified select program sees one consistent set of them.
#[no_mangle]
pub extern "C" fn __fdelt_chk(d: libc::c_long) -> libc::c_long {
    if d < 0 || d >= libc::FD_SETSIZE as libc::c_long {
        chk_fail();
    }
    d / (8 * core::mem::size_of::<libc::c_ulong>() as libc::c_long)
}
