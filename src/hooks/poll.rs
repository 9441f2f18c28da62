//! poll, ppoll, select, pselect, epoll_wait, epoll_pwait: from a goroutine, park until one of
//! the fds is ready or the timeout passes (their fortify forms are in fortify.rs).
//!
//! Each is a check (the real call with a zero timeout, by raw syscall) inside
//! `netpoll::wait_until` over the fds the call names, so the answer is always the kernel's own
//! (revents, POLLNVAL, the fd_sets, the epoll events). A zero timeout never parks (the real
//! call); neither does a plain thread (the real call). An epoll fd is itself pollable: an
//! event loop's epoll_wait parks on its epoll fd's readiness.
//!
//! - Fds per wait: up to 64 `(fd, events)` pairs are built on the goroutine's stack (no
//!   allocation); a call naming more fds takes the syscall path (the real call, P handed off
//!   when it blocks), as does one whose fds the netpoller refuses.
//! - Closed while waiting (Err(EBADF) from the netpoller): the next check reports it as the
//!   kernel does (POLLNVAL, EBADF).
//! - Signal masks: ppoll, pselect and epoll_pwait with a non-NULL mask take the syscall path:
//!   their point is to swap the thread's mask atomically with blocking (the race-free signal
//!   wait), which a parked goroutine could not give (it has no thread of its own while it
//!   waits). With a NULL mask they park like poll/select/epoll_wait.
//! - Signals do not interrupt a parked goroutine (Go's rule): no EINTR from a park.
//! - select's timeout is updated to the time not slept, as Linux does; pselect's is not.

use super::real::real;
use super::{goroutine, keep_errno, res, ret, syscall_path, Res};
use crate::netpoll::{self, POLLIN, POLLOUT};
use crate::time::Deadline;
use libc::{c_int, fd_set, nfds_t, pollfd, sigset_t, timespec, timeval};

/// Fds per wait built on the stack (module note).
const MAX_FDS: usize = 64;

/// Netpoll events for poll(2) events (POLLPRI counts as POLLIN).
fn ev(events: i16) -> u32 {
    let mut e = 0;
    if events & (libc::POLLIN | libc::POLLPRI | libc::POLLRDNORM | libc::POLLRDBAND) != 0 {
        e |= POLLIN;
    }
    if events & (libc::POLLOUT | libc::POLLWRNORM | libc::POLLWRBAND) != 0 {
        e |= POLLOUT;
    }
    e
}

/// Wait on `fds` until `check` answers or `deadline`; `None` if the fds cannot be waited on
/// here (too many, refused): the caller takes the syscall path.
fn park_on(
    fds: &[(i32, u32)],
    deadline: Deadline,
    mut check: impl FnMut() -> Option<Res>,
    timeout: impl FnOnce() -> Res,
) -> Option<Res> {
    let ok = |r: &Option<Res>| matches!(r, Some((n, _)) if *n >= 0);
    keep_errno(ok, || {
        match netpoll::wait_until(fds, deadline, &mut check) {
            Ok(r) => Some(r),
            Err(libc::ETIMEDOUT) => Some(timeout()),
            // Closed while waiting: the kernel's answer for it now.
            Err(libc::EBADF) => Some(check().unwrap_or_else(timeout)),
            Err(_) => None,
        }
    })
}

fn ms_deadline(timeout: c_int) -> Deadline {
    if timeout < 0 {
        Deadline::NEVER
    } else {
        Deadline::after(timeout as i64 * 1_000_000)
    }
}

fn ts_deadline(ts: *const timespec) -> Option<Deadline> {
    if ts.is_null() {
        return Some(Deadline::NEVER);
    }
    // SAFETY: the caller's timespec, read only.
    let t = unsafe { *ts };
    if t.tv_sec < 0 || !(0..1_000_000_000).contains(&t.tv_nsec) {
        return None; // let libc answer EINVAL
    }
    Some(Deadline::after(
        t.tv_sec
            .saturating_mul(1_000_000_000)
            .saturating_add(t.tv_nsec),
    ))
}

fn is_zero(d: Deadline) -> bool {
    d != Deadline::NEVER && d.passed()
}

/// poll/ppoll's goroutine path. None: take the syscall path.
fn poll_park(fds: *mut pollfd, n: nfds_t, deadline: Deadline) -> Option<isize> {
    let n = n as usize;
    if n > MAX_FDS {
        return None;
    }
    let mut set = [(0i32, 0u32); MAX_FDS];
    let mut k = 0;
    for i in 0..n {
        // SAFETY: i < n: the caller's array.
        let p = unsafe { *fds.add(i) };
        if p.fd >= 0 {
            set[k] = (p.fd, ev(p.events));
            k += 1;
        }
    }
    let zero = timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    let check = || {
        // SAFETY: the caller's array; a zero timeout, no mask.
        let r = res(unsafe {
            libc::syscall(
                libc::SYS_ppoll,
                fds,
                n,
                &zero as *const timespec,
                0usize,
                8usize,
            )
        } as isize);
        (r.0 != 0).then_some(r)
    };
    park_on(&set[..k], deadline, check, || (0, 0)).map(ret)
}

#[no_mangle]
pub unsafe extern "C" fn poll(fds: *mut pollfd, n: nfds_t, timeout: c_int) -> c_int {
    let plain = || real!(Poll: fn(*mut pollfd, nfds_t, c_int) -> c_int; fds, n, timeout);
    if timeout == 0 || !goroutine() {
        return plain();
    }
    let deadline = ms_deadline(timeout);
    poll_park(fds, n, deadline).map_or_else(|| syscall_path(plain), |r| r as c_int)
}

#[no_mangle]
pub unsafe extern "C" fn ppoll(
    fds: *mut pollfd,
    n: nfds_t,
    ts: *const timespec,
    mask: *const sigset_t,
) -> c_int {
    let plain = || real!(Ppoll: fn(*mut pollfd, nfds_t, *const timespec, *const sigset_t) -> c_int; fds, n, ts, mask);
    if !goroutine() {
        return plain();
    }
    if !mask.is_null() {
        return syscall_path(plain);
    }
    let Some(deadline) = ts_deadline(ts) else {
        return plain();
    };
    if is_zero(deadline) {
        return plain();
    }
    poll_park(fds, n, deadline).map_or_else(|| syscall_path(plain), |r| r as c_int)
}

/// select/pselect's goroutine path: checks on copies of the sets, results copied back.
/// None: take the syscall path.
unsafe fn select_park(
    nfds: c_int,
    r: *mut fd_set,
    w: *mut fd_set,
    e: *mut fd_set,
    deadline: Deadline,
) -> Option<isize> {
    if !(0..=libc::FD_SETSIZE as c_int).contains(&nfds) {
        return None;
    }
    let mut set = [(0i32, 0u32); MAX_FDS];
    let mut k = 0;
    let isset = |s: *mut fd_set, fd: c_int| {
        // SAFETY: s is the caller's set (non-null) and fd < FD_SETSIZE.
        !s.is_null() && unsafe { libc::FD_ISSET(fd, s) }
    };
    for fd in 0..nfds {
        let mut evs = 0;
        if isset(r, fd) || isset(e, fd) {
            evs |= POLLIN;
        }
        if isset(w, fd) {
            evs |= POLLOUT;
        }
        if evs != 0 {
            if k == MAX_FDS {
                return None;
            }
            set[k] = (fd, evs);
            k += 1;
        }
    }
    // SAFETY: fd_set is plain data; copies of the caller's sets (or zero where it gave none).
    let orig: [fd_set; 3] =
        unsafe { [r, w, e].map(|s| if s.is_null() { core::mem::zeroed() } else { *s }) };
    let check = || {
        let mut c = orig;
        let ptr = |i: usize, s: *mut fd_set, c: &mut [fd_set; 3]| {
            if s.is_null() {
                core::ptr::null_mut()
            } else {
                &mut c[i] as *mut fd_set
            }
        };
        let (pr, pw, pe) = (ptr(0, r, &mut c), ptr(1, w, &mut c), ptr(2, e, &mut c));
        let zero = timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: copies of the caller's sets; a zero timeout, no mask.
        let n = res(unsafe {
            libc::syscall(
                libc::SYS_pselect6,
                nfds,
                pr,
                pw,
                pe,
                &zero as *const timespec,
                0usize,
            )
        } as isize);
        if n.0 == 0 {
            return None;
        }
        if n.0 > 0 {
            for (i, s) in [r, w, e].into_iter().enumerate() {
                if !s.is_null() {
                    // SAFETY: the caller's set.
                    unsafe { *s = c[i] };
                }
            }
        }
        Some(n)
    };
    let timeout = || {
        for s in [r, w, e] {
            if !s.is_null() {
                // SAFETY: the caller's set: nothing ready.
                unsafe { libc::FD_ZERO(s) };
            }
        }
        (0, 0)
    };
    park_on(&set[..k], deadline, check, timeout).map(ret)
}

#[no_mangle]
pub unsafe extern "C" fn select(
    nfds: c_int,
    r: *mut fd_set,
    w: *mut fd_set,
    e: *mut fd_set,
    tv: *mut timeval,
) -> c_int {
    let plain = || real!(Select: fn(c_int, *mut fd_set, *mut fd_set, *mut fd_set, *mut timeval) -> c_int; nfds, r, w, e, tv);
    if !goroutine() {
        return plain();
    }
    let deadline = if tv.is_null() {
        Deadline::NEVER
    } else {
        // SAFETY: the caller's timeval.
        let t = unsafe { *tv };
        if t.tv_sec < 0 || t.tv_usec < 0 || (t.tv_sec == 0 && t.tv_usec == 0) {
            return plain();
        }
        Deadline::after(super::fd::timeval_ns(&t))
    };
    // SAFETY: the caller's sets.
    let Some(n) = (unsafe { select_park(nfds, r, w, e, deadline) }) else {
        return syscall_path(plain);
    };
    if !tv.is_null() {
        let left = deadline.remaining();
        // SAFETY: the caller's timeval: the time not slept (Linux).
        unsafe {
            (*tv).tv_sec = left / 1_000_000_000;
            (*tv).tv_usec = (left % 1_000_000_000) / 1000;
        }
    }
    n as c_int
}

#[no_mangle]
pub unsafe extern "C" fn pselect(
    nfds: c_int,
    r: *mut fd_set,
    w: *mut fd_set,
    e: *mut fd_set,
    ts: *const timespec,
    mask: *const sigset_t,
) -> c_int {
    let plain = || real!(Pselect: fn(c_int, *mut fd_set, *mut fd_set, *mut fd_set, *const timespec, *const sigset_t) -> c_int; nfds, r, w, e, ts, mask);
    if !goroutine() {
        return plain();
    }
    if !mask.is_null() {
        return syscall_path(plain);
    }
    let Some(deadline) = ts_deadline(ts) else {
        return plain();
    };
    if is_zero(deadline) {
        return plain();
    }
    // SAFETY: the caller's sets.
    match unsafe { select_park(nfds, r, w, e, deadline) } {
        Some(n) => n as c_int,
        None => syscall_path(plain),
    }
}

fn epoll_park(
    epfd: c_int,
    events: *mut libc::epoll_event,
    max: c_int,
    deadline: Deadline,
) -> Option<isize> {
    let check = || {
        // SAFETY: the caller's buffer of `max` events; zero timeout, no mask.
        let r = res(unsafe {
            libc::syscall(libc::SYS_epoll_pwait, epfd, events, max, 0, 0usize, 8usize)
        } as isize);
        (r.0 != 0).then_some(r)
    };
    park_on(&[(epfd, POLLIN)], deadline, check, || (0, 0)).map(ret)
}

#[no_mangle]
pub unsafe extern "C" fn epoll_wait(
    epfd: c_int,
    events: *mut libc::epoll_event,
    max: c_int,
    timeout: c_int,
) -> c_int {
    let plain = || real!(EpollWait: fn(c_int, *mut libc::epoll_event, c_int, c_int) -> c_int; epfd, events, max, timeout);
    if timeout == 0 || max <= 0 || !goroutine() {
        return plain();
    }
    epoll_park(epfd, events, max, ms_deadline(timeout))
        .map_or_else(|| syscall_path(plain), |r| r as c_int)
}

#[no_mangle]
pub unsafe extern "C" fn epoll_pwait(
    epfd: c_int,
    events: *mut libc::epoll_event,
    max: c_int,
    timeout: c_int,
    mask: *const sigset_t,
) -> c_int {
    let plain = || real!(EpollPwait: fn(c_int, *mut libc::epoll_event, c_int, c_int, *const sigset_t) -> c_int; epfd, events, max, timeout, mask);
    if timeout == 0 || max <= 0 || !goroutine() {
        return plain();
    }
    if !mask.is_null() {
        return syscall_path(plain);
    }
    epoll_park(epfd, events, max, ms_deadline(timeout))
        .map_or_else(|| syscall_path(plain), |r| r as c_int)
}
