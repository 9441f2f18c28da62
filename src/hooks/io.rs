//! read/write and recv/send families (pread/pwrite too): argument translation into
//! `wait::run` (see its note for what each caller gets). accept/connect are in conn.rs, the
//! fortify forms in fortify.rs.
//!
//! Each call gives `run` three forms of itself: `plain` (the real libc function, as called),
//! `attempt` (non-blocking tries by raw syscall: with MSG_DONTWAIT on a socket — `read`
//! becomes `recvfrom(.., MSG_DONTWAIT, NULL, NULL)`, `write` `sendto(.., MSG_DONTWAIT)`, the
//! kernel's own equivalents, plus MSG_EOR on a SOCK_SEQPACKET write as sock_write_iter adds —
//! or the plain syscall on an fd the runtime made non-blocking) and `finish`.
//!
//! What libc would return, exactly: a blocking write or send on a byte stream (stream socket,
//! pipe) writes everything unless a signal or timeout stops it (then the count so far), so the
//! tries continue after a partial write, sending only the rest (writev/sendmsg: the remaining
//! iovecs, 64 at a time, from a window on the stack; ancillary data goes with the first part
//! only). recv/recvfrom with MSG_WAITALL on a stream socket likewise keep reading until the
//! buffer is full, EOF or an error. Reads return what is there, as blocking reads do.
//! sendmmsg/recvmmsg loop over the messages as the kernel does (recvmmsg's own timeout is a
//! deadline checked between tries, MSG_WAITFORONE honoured; the timeout argument is not
//! updated).
//!
//! pread/pwrite (and the fortify pread forms) have no non-blocking form and act on files:
//! the syscall path from a goroutine, the real call otherwise (on a pipe or socket the kernel
//! answers ESPIPE at once).

use super::fd::{self, Kind};
use super::real::real;
use super::wait::{self, again, Op};
use super::{goroutine, off, res, syscall_path, Res};
use crate::time::Deadline;
use core::cell::Cell;
use libc::{c_int, c_uint, c_void, iovec, mmsghdr, msghdr, size_t, sockaddr, socklen_t, ssize_t};

const DW: c_int = libc::MSG_DONTWAIT;

pub(crate) fn op_in(fd: c_int, flags: c_int) -> Op {
    Op {
        fd,
        out: false,
        user_dontwait: flags & DW != 0,
        dontwait: true,
        may_flip: true,
        timeout_errno: libc::EAGAIN,
    }
}

fn op_out(fd: c_int, flags: c_int) -> Op {
    Op {
        out: true,
        ..op_in(fd, flags)
    }
}

/// `finish` for calls without progress: -1 and the errno.
pub(crate) fn fail(e: i32) -> Res {
    (-1, e)
}

/// `finish` for calls with progress in `done`.
fn partial(done: &Cell<usize>, e: i32) -> Res {
    match done.get() {
        0 => (-1, e),
        n => (n as isize, 0),
    }
}

/// One try of a write that may go in parts (a stream write returns short): count the `k`
/// bytes it took after `off`. `None`: try the rest at once; `Some(x)`: the attempt's answer
/// (`x` None = wait for the fd, else the result, with any progress made so far).
fn write_step(
    r: Res,
    off: usize,
    total: usize,
    stream: bool,
    done: &Cell<usize>,
) -> Option<Option<Res>> {
    match r {
        (k, _) if k >= 0 => {
            done.set(off + k as usize);
            if stream && k > 0 && done.get() < total {
                return None;
            }
            Some(Some((done.get() as isize, 0)))
        }
        (_, e) if e == libc::EAGAIN || e == libc::EWOULDBLOCK => Some(None),
        (_, e) => Some(Some(partial(done, e))),
    }
}

/// The fd's record as far as this caller needs it: classified for a goroutine (it decides how
/// the call waits), only if already known for anyone else (a plain thread never pays an
/// fstat; RT_NB records are known).
pub(crate) fn record(fd: c_int) -> Option<fd::State> {
    if goroutine() {
        fd::state(fd)
    } else {
        fd::known(fd)
    }
}

/// The flags a socket write adds by itself (sock_write_iter: MSG_EOR on SOCK_SEQPACKET).
fn write_flags(fd: c_int) -> c_int {
    match record(fd) {
        Some(s) if s.kind() == Kind::Sock && s.sock_type() == libc::SOCK_SEQPACKET => libc::MSG_EOR,
        _ => 0,
    }
}

fn is_stream(fd: c_int) -> bool {
    record(fd).is_some_and(|s| s.stream())
}

// ---------------------------------------------------------------------------------------------
// Single-buffer reads and writes.

/// Reads into one buffer: `read`, `recv`, `recvfrom` (MSG_WAITALL on a stream: module note).
#[allow(clippy::too_many_arguments)]
unsafe fn recv_common(
    fd: c_int,
    buf: *mut c_void,
    n: size_t,
    flags: c_int,
    addr: *mut sockaddr,
    alen: *mut socklen_t,
    is_read: bool,
    plain: impl FnMut() -> isize,
) -> isize {
    let waitall = !is_read && flags & libc::MSG_WAITALL != 0 && is_stream(fd);
    let done = Cell::new(0usize);
    let attempt = |dw: bool| loop {
        let off = done.get();
        // SAFETY: the caller's buffer and address out-pointers, as it passed them; `off` stays
        // within the buffer (the sum of what the kernel wrote).
        let r = res(unsafe {
            if dw || !is_read {
                let f = if dw { flags | DW } else { flags };
                libc::syscall(libc::SYS_recvfrom, fd, buf.add(off), n - off, f, addr, alen)
            } else {
                libc::syscall(libc::SYS_read, fd, buf, n)
            }
        } as isize);
        if !waitall {
            return again(r);
        }
        match r {
            (k, _) if k > 0 => {
                done.set(off + k as usize);
                if done.get() < n {
                    continue;
                }
                return Some((done.get() as isize, 0));
            }
            (0, _) => return Some((off as isize, 0)),
            (_, e) if off > 0 && e != libc::EAGAIN => return Some((off as isize, 0)),
            r => return again(r),
        }
    };
    wait::run(&op_in(fd, flags), plain, attempt, |e| partial(&done, e))
}

/// Writes from one buffer: `write`, `send`, `sendto`.
#[allow(clippy::too_many_arguments)]
unsafe fn send_common(
    fd: c_int,
    buf: *const c_void,
    n: size_t,
    flags: c_int,
    addr: *const sockaddr,
    alen: socklen_t,
    is_write: bool,
    plain: impl FnMut() -> isize,
) -> isize {
    if off() {
        let mut plain = plain;
        return plain();
    }
    let stream = is_stream(fd);
    let extra = if is_write { write_flags(fd) } else { 0 };
    let done = Cell::new(0usize);
    let attempt = |dw: bool| loop {
        let off = done.get();
        // SAFETY: the caller's buffer, from `off` (bytes already written) to its end.
        let r = res(unsafe {
            if dw || !is_write {
                let f = if dw { flags | extra | DW } else { flags };
                libc::syscall(libc::SYS_sendto, fd, buf.add(off), n - off, f, addr, alen)
            } else {
                libc::syscall(libc::SYS_write, fd, buf.add(off), n - off)
            }
        } as isize);
        match write_step(r, off, n, stream, &done) {
            None => continue,
            Some(x) => return x,
        }
    };
    wait::run(&op_out(fd, flags), plain, attempt, |e| partial(&done, e))
}

#[no_mangle]
pub unsafe extern "C" fn read(fd: c_int, buf: *mut c_void, n: size_t) -> ssize_t {
    let plain = || real!(Read: fn(c_int, *mut c_void, size_t) -> ssize_t; fd, buf, n);
    // SAFETY: the caller's arguments, as libc's read takes them.
    unsafe {
        recv_common(
            fd,
            buf,
            n,
            0,
            core::ptr::null_mut(),
            core::ptr::null_mut(),
            true,
            plain,
        )
    }
}

#[no_mangle]
pub unsafe extern "C" fn write(fd: c_int, buf: *const c_void, n: size_t) -> ssize_t {
    let plain = || real!(Write: fn(c_int, *const c_void, size_t) -> ssize_t; fd, buf, n);
    // SAFETY: the caller's arguments, as libc's write takes them.
    unsafe { send_common(fd, buf, n, 0, core::ptr::null(), 0, true, plain) }
}

#[no_mangle]
pub unsafe extern "C" fn recv(fd: c_int, buf: *mut c_void, n: size_t, flags: c_int) -> ssize_t {
    let plain = || real!(Recv: fn(c_int, *mut c_void, size_t, c_int) -> ssize_t; fd, buf, n, flags);
    // SAFETY: the caller's arguments, as libc's recv takes them.
    unsafe {
        recv_common(
            fd,
            buf,
            n,
            flags,
            core::ptr::null_mut(),
            core::ptr::null_mut(),
            false,
            plain,
        )
    }
}

#[no_mangle]
pub unsafe extern "C" fn recvfrom(
    fd: c_int,
    buf: *mut c_void,
    n: size_t,
    flags: c_int,
    addr: *mut sockaddr,
    alen: *mut socklen_t,
) -> ssize_t {
    let plain = || real!(Recvfrom: fn(c_int, *mut c_void, size_t, c_int, *mut sockaddr, *mut socklen_t) -> ssize_t; fd, buf, n, flags, addr, alen);
    // SAFETY: the caller's arguments, as libc's recvfrom takes them.
    unsafe { recv_common(fd, buf, n, flags, addr, alen, false, plain) }
}

#[no_mangle]
pub unsafe extern "C" fn send(fd: c_int, buf: *const c_void, n: size_t, flags: c_int) -> ssize_t {
    let plain =
        || real!(Send: fn(c_int, *const c_void, size_t, c_int) -> ssize_t; fd, buf, n, flags);
    // SAFETY: the caller's arguments, as libc's send takes them.
    unsafe { send_common(fd, buf, n, flags, core::ptr::null(), 0, false, plain) }
}

#[no_mangle]
pub unsafe extern "C" fn sendto(
    fd: c_int,
    buf: *const c_void,
    n: size_t,
    flags: c_int,
    addr: *const sockaddr,
    alen: socklen_t,
) -> ssize_t {
    let plain = || real!(Sendto: fn(c_int, *const c_void, size_t, c_int, *const sockaddr, socklen_t) -> ssize_t; fd, buf, n, flags, addr, alen);
    // SAFETY: the caller's arguments, as libc's sendto takes them.
    unsafe { send_common(fd, buf, n, flags, addr, alen, false, plain) }
}

// ---------------------------------------------------------------------------------------------
// Vectored reads and writes.

/// Iovecs per try after a partial write (a window on the stack).
const WINDOW: usize = 64;

/// The part of `iov[..cnt]` after its first `done` bytes, at most WINDOW entries, in `out`.
/// Returns how many entries were filled.
/// # Safety
/// `iov` points at `cnt` iovecs.
unsafe fn iov_window(
    iov: *const iovec,
    cnt: usize,
    done: usize,
    out: &mut [iovec; WINDOW],
) -> usize {
    let mut skip = done;
    let mut n = 0;
    for i in 0..cnt {
        // SAFETY: i < cnt.
        let v = unsafe { *iov.add(i) };
        if skip >= v.iov_len {
            skip -= v.iov_len;
            continue;
        }
        out[n] = iovec {
            // SAFETY: skip < iov_len: inside the caller's buffer.
            iov_base: unsafe { (v.iov_base as *mut u8).add(skip) } as *mut c_void,
            iov_len: v.iov_len - skip,
        };
        skip = 0;
        n += 1;
        if n == WINDOW {
            break;
        }
    }
    n
}

/// readv, recvmsg: one try, no progress to keep (reads return what is there).
unsafe fn recvmsg_common(
    fd: c_int,
    msg: *mut msghdr,
    flags: c_int,
    plain: impl FnMut() -> isize,
) -> isize {
    let attempt = |dw: bool| {
        let f = if dw { flags | DW } else { flags };
        // SAFETY: the caller's msghdr, as it passed it.
        again(res(
            unsafe { libc::syscall(libc::SYS_recvmsg, fd, msg, f) } as isize
        ))
    };
    wait::run(&op_in(fd, flags), plain, attempt, fail)
}

/// writev, sendmsg: tries continue after a partial write on a stream (module note).
unsafe fn sendmsg_common(
    fd: c_int,
    msg: *const msghdr,
    flags: c_int,
    extra: c_int,
    plain: impl FnMut() -> isize,
) -> isize {
    if off() {
        let mut plain = plain;
        return plain();
    }
    let stream = is_stream(fd);
    let done = Cell::new(0usize);
    // SAFETY: the caller's msghdr, read only.
    let (iov, cnt) = unsafe { ((*msg).msg_iov, (*msg).msg_iovlen) };
    let total: usize = (0..cnt)
        // SAFETY: i < msg_iovlen: the caller's iovecs.
        .map(|i| unsafe { (*iov.add(i)).iov_len })
        .fold(0usize, |a, b| a.saturating_add(b));
    let attempt = |dw: bool| loop {
        let off = done.get();
        let f = if dw { flags | extra | DW } else { flags };
        let r = if off == 0 {
            // SAFETY: the caller's msghdr, as it passed it.
            res(unsafe { libc::syscall(libc::SYS_sendmsg, fd, msg, f) } as isize)
        } else {
            let mut win = [iovec {
                iov_base: core::ptr::null_mut(),
                iov_len: 0,
            }; WINDOW];
            // SAFETY: the caller's iov array of cnt entries.
            let n = unsafe { iov_window(iov, cnt, off, &mut win) };
            // SAFETY: a copy of the caller's msghdr; the rest of its data, without the
            // ancillary data that went with the first part.
            let mut m: msghdr = unsafe { *msg };
            m.msg_iov = win.as_mut_ptr();
            m.msg_iovlen = n;
            m.msg_control = core::ptr::null_mut();
            m.msg_controllen = 0;
            // SAFETY: m and win live across the call.
            res(unsafe { libc::syscall(libc::SYS_sendmsg, fd, &m as *const msghdr, f) } as isize)
        };
        match write_step(r, off, total, stream, &done) {
            None => continue,
            Some(x) => return x,
        }
    };
    wait::run(&op_out(fd, flags), plain, attempt, |e| partial(&done, e))
}

fn iov_msg(iov: *const iovec, cnt: c_int) -> msghdr {
    // SAFETY: an all-zero msghdr is valid (no name, no control).
    let mut m: msghdr = unsafe { core::mem::zeroed() };
    m.msg_iov = iov as *mut iovec;
    m.msg_iovlen = cnt.max(0) as usize;
    m
}

#[no_mangle]
pub unsafe extern "C" fn readv(fd: c_int, iov: *const iovec, cnt: c_int) -> ssize_t {
    let plain = || real!(Readv: fn(c_int, *const iovec, c_int) -> ssize_t; fd, iov, cnt);
    if cnt < 0 || off() || !record(fd).is_some_and(|s| s.kind() == Kind::Sock) {
        // Not a socket: recvmsg is not its non-blocking form; the plain readv goes through
        // the engine (flip or syscall path) with no MSG_DONTWAIT form.
        let attempt = |_dw: bool| {
            // SAFETY: the caller's arguments.
            again(res(
                unsafe { libc::syscall(libc::SYS_readv, fd, iov, cnt) } as isize
            ))
        };
        let op = Op {
            dontwait: false,
            ..op_in(fd, 0)
        };
        return wait::run(&op, plain, attempt, fail);
    }
    let mut m = iov_msg(iov, cnt);
    // SAFETY: m describes the caller's iovecs.
    unsafe { recvmsg_common(fd, &mut m, 0, plain) }
}

#[no_mangle]
pub unsafe extern "C" fn writev(fd: c_int, iov: *const iovec, cnt: c_int) -> ssize_t {
    let plain = || real!(Writev: fn(c_int, *const iovec, c_int) -> ssize_t; fd, iov, cnt);
    let m = iov_msg(iov, cnt);
    if cnt < 0 || off() || !record(fd).is_some_and(|s| s.kind() == Kind::Sock) {
        // A pipe: writev's own syscall, with the same progress rule, on a flipped fd.
        let stream = true;
        let done = Cell::new(0usize);
        let total: usize = (0..cnt.max(0) as usize)
            // SAFETY: i < cnt: the caller's iovecs.
            .map(|i| unsafe { (*iov.add(i)).iov_len })
            .fold(0usize, |a, b| a.saturating_add(b));
        let attempt = |_dw: bool| loop {
            let off = done.get();
            let mut win = [iovec {
                iov_base: core::ptr::null_mut(),
                iov_len: 0,
            }; WINDOW];
            let r = if off == 0 {
                // SAFETY: the caller's arguments.
                res(unsafe { libc::syscall(libc::SYS_writev, fd, iov, cnt) } as isize)
            } else {
                // SAFETY: the caller's iov array.
                let n = unsafe { iov_window(iov, cnt as usize, off, &mut win) };
                // SAFETY: win lives across the call.
                res(unsafe { libc::syscall(libc::SYS_writev, fd, win.as_ptr(), n) } as isize)
            };
            match write_step(r, off, total, stream, &done) {
                None => continue,
                Some(x) => return x,
            }
        };
        let op = Op {
            dontwait: false,
            ..op_out(fd, 0)
        };
        return wait::run(&op, plain, attempt, |e| partial(&done, e));
    }
    let extra = write_flags(fd);
    // SAFETY: m describes the caller's iovecs.
    unsafe { sendmsg_common(fd, &m, 0, extra, plain) }
}

#[no_mangle]
pub unsafe extern "C" fn recvmsg(fd: c_int, msg: *mut msghdr, flags: c_int) -> ssize_t {
    let plain = || real!(Recvmsg: fn(c_int, *mut msghdr, c_int) -> ssize_t; fd, msg, flags);
    // SAFETY: the caller's arguments.
    unsafe { recvmsg_common(fd, msg, flags, plain) }
}

#[no_mangle]
pub unsafe extern "C" fn sendmsg(fd: c_int, msg: *const msghdr, flags: c_int) -> ssize_t {
    let plain = || real!(Sendmsg: fn(c_int, *const msghdr, c_int) -> ssize_t; fd, msg, flags);
    if msg.is_null() {
        return plain(); // EFAULT from libc
    }
    // SAFETY: the caller's arguments.
    unsafe { sendmsg_common(fd, msg, flags, 0, plain) }
}

#[no_mangle]
pub unsafe extern "C" fn recvmmsg(
    fd: c_int,
    vec: *mut mmsghdr,
    vlen: c_uint,
    flags: c_int,
    timeout: *mut libc::timespec,
) -> c_int {
    let plain = || {
        real!(Recvmmsg: fn(c_int, *mut mmsghdr, c_uint, c_int, *mut libc::timespec) -> c_int; fd, vec, vlen, flags, timeout)
            as isize
    };
    let deadline = if timeout.is_null() {
        Deadline::NEVER
    } else {
        // SAFETY: the caller's timespec (read only).
        let t = unsafe { *timeout };
        if t.tv_sec < 0 || !(0..1_000_000_000).contains(&t.tv_nsec) {
            return plain() as c_int; // EINVAL from libc
        }
        Deadline::after(
            t.tv_sec
                .saturating_mul(1_000_000_000)
                .saturating_add(t.tv_nsec),
        )
    };
    let got = Cell::new(0u32);
    let attempt = |dw: bool| loop {
        let k = got.get();
        if k > 0 && (flags & libc::MSG_WAITFORONE != 0 || deadline.passed()) {
            return Some((k as isize, 0));
        }
        let f = if dw || k > 0 { flags | DW } else { flags };
        // SAFETY: the caller's array, from the first message not yet filled.
        let r = res(unsafe {
            libc::syscall(
                libc::SYS_recvmmsg,
                fd,
                vec.add(k as usize),
                vlen - k,
                f,
                0usize,
            )
        } as isize);
        match r {
            (n, _) if n > 0 => {
                got.set(k + n as u32);
                if got.get() >= vlen {
                    return Some((got.get() as isize, 0));
                }
            }
            (0, _) => return Some((k as isize, 0)),
            (_, e) if e == libc::EAGAIN => return None,
            (_, e) if k > 0 => {
                let _ = e;
                return Some((k as isize, 0));
            }
            r => return Some(r),
        }
    };
    let finish = |e| match got.get() {
        0 => (-1, e),
        k => (k as isize, 0),
    };
    if vlen == 0 {
        return plain() as c_int;
    }
    wait::run(&op_in(fd, flags), plain, attempt, finish) as c_int
}

#[no_mangle]
pub unsafe extern "C" fn sendmmsg(
    fd: c_int,
    vec: *mut mmsghdr,
    vlen: c_uint,
    flags: c_int,
) -> c_int {
    let plain = || {
        real!(Sendmmsg: fn(c_int, *mut mmsghdr, c_uint, c_int) -> c_int; fd, vec, vlen, flags)
            as isize
    };
    if vlen == 0 {
        return plain() as c_int;
    }
    let sent = Cell::new(0u32);
    let attempt =
        |dw: bool| loop {
            let k = sent.get();
            let f = if dw { flags | DW } else { flags };
            // SAFETY: the caller's array, from the first message not yet sent.
            let r = res(unsafe {
                libc::syscall(libc::SYS_sendmmsg, fd, vec.add(k as usize), vlen - k, f)
            } as isize);
            match r {
                (n, _) if n > 0 => {
                    sent.set(k + n as u32);
                    if sent.get() >= vlen {
                        return Some((sent.get() as isize, 0));
                    }
                }
                (_, e) if e == libc::EAGAIN => return None,
                (_, _) if k > 0 => return Some((k as isize, 0)),
                r => return Some(r),
            }
        };
    let finish = |e| match sent.get() {
        0 => (-1, e),
        k => (k as isize, 0),
    };
    wait::run(&op_out(fd, flags), plain, attempt, finish) as c_int
}

// ---------------------------------------------------------------------------------------------
// pread/pwrite: files.

fn file_call(mut f: impl FnMut() -> isize) -> isize {
    if goroutine() {
        syscall_path(f)
    } else {
        f()
    }
}

#[no_mangle]
pub unsafe extern "C" fn pread(
    fd: c_int,
    buf: *mut c_void,
    n: size_t,
    off: libc::off_t,
) -> ssize_t {
    file_call(
        || real!(Pread: fn(c_int, *mut c_void, size_t, libc::off_t) -> ssize_t; fd, buf, n, off),
    )
}

#[no_mangle]
pub unsafe extern "C" fn pread64(
    fd: c_int,
    buf: *mut c_void,
    n: size_t,
    off: libc::off64_t,
) -> ssize_t {
    file_call(
        || real!(Pread64: fn(c_int, *mut c_void, size_t, libc::off64_t) -> ssize_t; fd, buf, n, off),
    )
}

#[no_mangle]
pub unsafe extern "C" fn pwrite(
    fd: c_int,
    buf: *const c_void,
    n: size_t,
    off: libc::off_t,
) -> ssize_t {
    file_call(
        || real!(Pwrite: fn(c_int, *const c_void, size_t, libc::off_t) -> ssize_t; fd, buf, n, off),
    )
}

#[no_mangle]
pub unsafe extern "C" fn pwrite64(
    fd: c_int,
    buf: *const c_void,
    n: size_t,
    off: libc::off64_t,
) -> ssize_t {
    file_call(
        || real!(Pwrite64: fn(c_int, *const c_void, size_t, libc::off64_t) -> ssize_t; fd, buf, n, off),
    )
}
