//! The epoll half of the netpoller (Go's netpoll_epoll.go): one epoll instance, and an
//! eventfd in it that breaks a blocking wait (`netpoll_break`), coalesced by `WAKE_SIG` so a
//! burst of breaks costs one write. All raw system calls: libgmp exports `read`, `write`,
//! `close`, `epoll_wait`... and the runtime must not reach its own interposers.

use core::sync::atomic::{AtomicI32, AtomicU32, Ordering::*};

/// The epoll fd and the eventfd (-1 until `init`).
pub(crate) static EPFD: AtomicI32 = AtomicI32::new(-1);
pub(crate) static EVENTFD: AtomicI32 = AtomicI32::new(-1);
/// 1 while a break is pending: set by `netpoll_break` (CAS 0 -> 1, then the write), cleared
/// by the blocking poller after it read the eventfd, so the next break writes again.
static WAKE_SIG: AtomicU32 = AtomicU32::new(0);

/// The `data` of the eventfd's epoll event (no poll descriptor has this tag: see pd.rs).
pub(crate) const BREAK_TAG: u64 = u64::MAX;

fn errno() -> i32 {
    // SAFETY: this thread's errno.
    unsafe { *crate::os::errno_ptr() }
}

/// Create the epoll fd and the eventfd. Err(errno) when out of fds or memory.
pub(crate) fn init() -> Result<(), i32> {
    // SAFETY: raw syscalls with valid arguments.
    unsafe {
        let ep = libc::syscall(libc::SYS_epoll_create1, libc::EPOLL_CLOEXEC) as i32;
        if ep < 0 {
            return Err(errno());
        }
        let ev = libc::syscall(
            libc::SYS_eventfd2,
            0,
            libc::EFD_CLOEXEC | libc::EFD_NONBLOCK,
        ) as i32;
        if ev < 0 {
            let e = errno();
            libc::syscall(libc::SYS_close, ep);
            return Err(e);
        }
        let mut e = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: BREAK_TAG,
        };
        if libc::syscall(libc::SYS_epoll_ctl, ep, libc::EPOLL_CTL_ADD, ev, &mut e) < 0 {
            let e = errno();
            libc::syscall(libc::SYS_close, ev);
            libc::syscall(libc::SYS_close, ep);
            return Err(e);
        }
        EVENTFD.store(ev, Relaxed);
        EPFD.store(ep, Release);
    }
    Ok(())
}

/// Register `fd` once, edge-triggered for both directions, with `tag` as its event data.
/// Err(errno): EPERM for files epoll does not support (regular files, directories), EBADF,
/// ENOMEM, ENOSPC (max_user_watches), EEXIST (already in the set).
pub(crate) fn ctl_add(fd: i32, tag: u64) -> Result<(), i32> {
    let mut e = libc::epoll_event {
        events: (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLPRI | libc::EPOLLET)
            as u32,
        u64: tag,
    };
    // SAFETY: e is a valid event; epfd is ours.
    let r = unsafe {
        libc::syscall(
            libc::SYS_epoll_ctl,
            EPFD.load(Acquire),
            libc::EPOLL_CTL_ADD,
            fd,
            &mut e,
        )
    };
    if r < 0 {
        Err(errno())
    } else {
        Ok(())
    }
}

/// Remove `fd` from the set (before it is closed). Errors are ignored: the fd may not be in
/// the set, or already closed by a raw syscall; errno is preserved.
pub(crate) fn ctl_del(fd: i32) {
    let saved = errno();
    let mut e = libc::epoll_event { events: 0, u64: 0 };
    // SAFETY: as ctl_add.
    unsafe {
        libc::syscall(
            libc::SYS_epoll_ctl,
            EPFD.load(Acquire),
            libc::EPOLL_CTL_DEL,
            fd,
            &mut e,
        )
    };
    // SAFETY: this thread's errno.
    unsafe { *crate::os::errno_ptr() = saved };
}

/// Wake the M blocked in `wait`, if any (Go's netpollBreak).
pub(crate) fn netpoll_break() {
    if WAKE_SIG.compare_exchange(0, 1, AcqRel, Relaxed).is_err() {
        return;
    }
    let one: u64 = 1;
    let saved = errno();
    // SAFETY: writes 8 bytes from a valid buffer to our eventfd. EAGAIN (counter full) means
    // a wake-up is pending anyway.
    unsafe {
        libc::syscall(
            libc::SYS_write,
            EVENTFD.load(Relaxed),
            &one as *const u64,
            8,
        )
    };
    // SAFETY: this thread's errno.
    unsafe { *crate::os::errno_ptr() = saved };
}

/// The break was consumed by a blocking wait: read the eventfd and allow the next break.
fn consume_break() {
    let mut v: u64 = 0;
    // SAFETY: reads 8 bytes into v from our (non-blocking) eventfd.
    unsafe { libc::syscall(libc::SYS_read, EVENTFD.load(Relaxed), &mut v as *mut u64, 8) };
    WAKE_SIG.store(0, Release);
}

/// Wait for events: `delay_ns` < 0 blocks, 0 polls, > 0 waits at most that long (with
/// nanosecond precision: epoll_pwait2, or milliseconds rounded up before Linux 5.11). Calls
/// `f(tag, events)` for each event but the break. Returns the number of events passed on.
pub(crate) fn wait(
    delay_ns: i64,
    buf: &mut [libc::epoll_event],
    mut f: impl FnMut(u64, u32),
) -> usize {
    let ep = EPFD.load(Acquire);
    let saved = errno();
    let n = loop {
        let n = wait_raw(ep, delay_ns, buf);
        if n >= 0 {
            break n as usize;
        }
        if errno() != libc::EINTR || delay_ns > 0 {
            // EINTR with a timeout: return, the caller recomputes the timeout (Go's rule).
            break 0;
        }
    };
    // SAFETY: this thread's errno.
    unsafe { *crate::os::errno_ptr() = saved };
    let mut passed = 0;
    for e in &buf[..n] {
        let (tag, ev) = (e.u64, e.events);
        if tag == BREAK_TAG {
            // Only a blocking wait consumes a break: a non-blocking poll leaves it for the
            // blocked poller it was meant for.
            if delay_ns != 0 {
                consume_break();
            }
            continue;
        }
        f(tag, ev);
        passed += 1;
    }
    passed
}

/// 0 = unknown, 1 = epoll_pwait2 works, 2 = it does not (ENOSYS: Linux before 5.11).
static PWAIT2: AtomicU32 = AtomicU32::new(0);

fn wait_raw(ep: i32, delay_ns: i64, buf: &mut [libc::epoll_event]) -> i64 {
    let len = buf.len() as i32;
    let p = buf.as_mut_ptr();
    if delay_ns > 0 && PWAIT2.load(Relaxed) != 2 {
        let ts = libc::timespec {
            tv_sec: (delay_ns / 1_000_000_000) as libc::time_t,
            tv_nsec: (delay_ns % 1_000_000_000) as libc::c_long,
        };
        // SAFETY: buf is valid for len events; ts is a valid timespec; no signal mask.
        let r = unsafe {
            libc::syscall(
                libc::SYS_epoll_pwait2,
                ep,
                p,
                len,
                &ts as *const libc::timespec,
                0usize,
                8usize,
            )
        };
        if r >= 0 || errno() != libc::ENOSYS {
            PWAIT2.store(1, Relaxed);
            return r;
        }
        PWAIT2.store(2, Relaxed);
    }
    let ms: i64 = if delay_ns < 0 {
        -1
    } else if delay_ns == 0 {
        0
    } else {
        // Round up: waking early would spin; at most ~11.5 days per wait.
        ((delay_ns + 999_999) / 1_000_000).min(1_000_000_000)
    };
    // SAFETY: as above.
    unsafe { libc::syscall(libc::SYS_epoll_pwait, ep, p, len, ms as i32, 0usize, 8usize) }
}
