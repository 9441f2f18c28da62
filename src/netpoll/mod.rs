//! The netpoller (Go's netpoll.go and netpoll_epoll.go): goroutines park on fd readiness
//! instead of blocking their thread.
//!
//! - One epoll instance (epoll.rs) plus an eventfd that breaks a blocking wait. Each fd is
//!   registered once, edge-triggered for both directions (`EPOLLIN|EPOLLOUT|EPOLLRDHUP|
//!   EPOLLPRI|EPOLLET`), and never modified: readiness is tracked in its poll descriptor
//!   (pd.rs), which records events that come while nobody waits.
//! - Poll descriptors are per fd number, type-stable, never freed; an event's data carries
//!   the fd and its registration sequence, so stale events after a close (and the reuse of
//!   the number) are dropped.
//! - Waiting (wait.rs): a goroutine tries the call, and on EAGAIN parks; the park callback
//!   commits the wait, so a wake-up between the attempt and the park is never lost, and no
//!   lock is held across the park. Deadlines are the goroutine's timer (time/).
//! - Who polls (sched/proc.rs, find_runnable): an M that finds no work polls without
//!   blocking when anyone waits; the last M to go idle blocks in epoll_wait — exactly one
//!   at a time (`LASTPOLL` = 0 while it does) — until the earliest timer of any P
//!   (`POLL_UNTIL`); a timer added earlier than that breaks its wait (`wake_netpoller`).
//!   sysmon polls if nobody has for 10 ms.
//!
//! Everything here uses raw system calls: libgmp exports `read`, `write`, `close`,
//! `epoll_wait`... (hooks/), and the runtime must not reach its own interposers.

pub(crate) mod epoll;
pub(crate) mod fdtab;
pub(crate) mod pd;
pub(crate) mod slot;
pub(crate) mod wait;

use crate::netpoll::pd::TABLE;
use crate::sched::g::GQueue;
use crate::time::Deadline;
use core::sync::atomic::{AtomicI32, AtomicI64, AtomicU32, Ordering::*};

/// Readiness asked for, as poll(2) bits.
pub(crate) const POLLIN: u32 = libc::POLLIN as u32;
pub(crate) const POLLOUT: u32 = libc::POLLOUT as u32;

/// 0 = not yet, 1 = being created, 2 = ready.
static INIT: AtomicU32 = AtomicU32::new(0);
/// Goroutines parked in a netpoll wait (wait.rs counts them around the park). Read by
/// find_runnable to decide whether a non-blocking poll is worth it.
pub(crate) static NWAITERS: AtomicU32 = AtomicU32::new(0);
/// When the netpoller was last polled (nanotime); 0 while an M blocks in it. An M takes the
/// blocking role by swapping it to 0.
pub(crate) static LASTPOLL: AtomicI64 = AtomicI64::new(0);
/// When the blocked poller will wake by itself (0 = never / nobody blocked).
pub(crate) static POLL_UNTIL: AtomicI64 = AtomicI64::new(0);
/// The highest fd number ever registered (close_range looks no further).
static MAX_FD: AtomicI32 = AtomicI32::new(-1);

#[inline]
pub(crate) fn inited() -> bool {
    INIT.load(Acquire) == 2
}

/// Create the poller if need be. Err(errno) when it cannot be (out of fds); a later call tries
/// again.
pub(crate) fn ensure_init() -> Result<(), i32> {
    loop {
        match INIT.load(Acquire) {
            2 => return Ok(()),
            0 => {
                if INIT.compare_exchange(0, 1, Acquire, Relaxed).is_err() {
                    continue;
                }
                let r = epoll::init();
                if r.is_ok() {
                    LASTPOLL.store(crate::os::nanotime(), Relaxed);
                }
                INIT.store(if r.is_ok() { 2 } else { 0 }, Release);
                return r;
            }
            _ => crate::os::osyield(),
        }
    }
}

/// Go's netpoll(delay): the goroutines made runnable by fd events, waiting up to `delay_ns`
/// (< 0: until an event or a break). The Gs are Waiting and this caller owns their wake-up:
/// make them runnable with `proc::inject_list` (or run one).
pub(crate) fn netpoll(delay_ns: i64) -> GQueue {
    let mut q = GQueue::new();
    if !inited() {
        return q;
    }
    let mut buf = [libc::epoll_event { events: 0, u64: 0 }; 128];
    epoll::wait(delay_ns, &mut buf, |tag, ev| {
        let fd = tag as u32 as i32;
        let seq = (tag >> 32) as u32;
        let Some(pd) = TABLE.peek(fd) else { return };
        if pd.fdseq.load(Acquire) != seq {
            return; // for a file since closed
        }
        let hup = ev & (libc::EPOLLHUP | libc::EPOLLERR) as u32 != 0;
        let r = hup || ev & (libc::EPOLLIN | libc::EPOLLRDHUP | libc::EPOLLPRI) as u32 != 0;
        let w = hup || ev & libc::EPOLLOUT as u32 != 0;
        // SAFETY: the Gs handed out are Waiting and ours (pd.rs): nobody else queues them.
        pd.ready([r, w], &mut |gp| unsafe { q.push_back(gp) });
    });
    q
}

/// A non-blocking poll, if anyone waits and nobody else is polling; the result as `netpoll`.
pub(crate) fn poll_ready() -> GQueue {
    if inited() && NWAITERS.load(Relaxed) > 0 && LASTPOLL.load(Relaxed) != 0 {
        return netpoll(0);
    }
    GQueue::new()
}

/// A timer now due at `when` was added or moved earlier (Go's wakeNetPoller): make sure some
/// M will run it in time — break the blocked poller's wait if it would sleep past `when`, or,
/// if nobody is blocked in the poller, wake an idle M (it will block there until `when`).
pub(crate) fn wake_netpoller(when: i64) {
    if ensure_init().is_err() {
        return; // sysmon runs late timers
    }
    if LASTPOLL.load(SeqCst) == 0 {
        let until = POLL_UNTIL.load(SeqCst);
        if until == 0 || until > when {
            epoll::netpoll_break();
        }
    } else {
        crate::sched::proc::wakep();
    }
}

/// Whether `fd` can be waited on, registering it. See wait_until for the errors. For fds the
/// hooks have not seen: asks epoll afresh (a cached answer may be about an earlier file with
/// this number, closed behind the hooks' back), as an operation in flight (a concurrent
/// close waits for it, so its registration cannot outlive that close).
pub(crate) fn pollable(fd: i32) -> Result<(), i32> {
    if fd < 0 {
        return Err(libc::EBADF);
    }
    ensure_init().map_err(|_| libc::EPERM)?;
    let pd = TABLE.get(fd).ok_or(libc::EPERM)?;
    MAX_FD.fetch_max(fd, Relaxed);
    // An operation in flight, waiting out a close in progress (we hold no other).
    pd.close.begin_op(crate::sched::proc::gosched);
    let r = pd.register(fd, true);
    pd.close.end_op();
    r
}

/// A hooked call just made `fd` name a new file (socket, pipe, accept, dup...): forget any
/// registration of an earlier file with this number that was closed behind the hooks' back
/// (a raw close, glibc's own closes in pclose): epoll dropped that file's interest, and a
/// cached registration would leave the new file's waiters unwoken.
pub(crate) fn fd_new(fd: i32) {
    if let Some(pd) = TABLE.peek(fd) {
        if pd.reg.load(Acquire) != 0 && pd.close.quiet() {
            pd.reset();
        }
    }
}

/// Park the calling goroutine until `check()` returns `Some(r)`: `check` is tried first, and
/// again after each readiness event on any of `fds` ((fd, poll(2) event bits) pairs), so a
/// non-blocking attempt of the real call belongs in it (it returns None on EAGAIN). Returns
/// `Ok(r)`, `Err(ETIMEDOUT)` once `deadline` passes (checked after `check`), `Err(EBADF)` if
/// one of the fds is closed (close/dup2/dup3/close_range through the hooks) while waiting,
/// `Err(EPERM)` (before calling `check`) if an fd is not pollable (see `pollable`), `Err(EPERM)`
/// too when the caller is not a goroutine that may park.
///
/// While it runs, each fd counts as having an operation in flight: its close waits for it.
pub(crate) fn wait_until<R>(
    fds: &[(i32, u32)],
    deadline: Deadline,
    check: impl FnMut() -> Option<R>,
) -> Result<R, i32> {
    for &(fd, _) in fds {
        if fd >= 0 {
            MAX_FD.fetch_max(fd, Relaxed);
        }
    }
    wait::wait_until(fds, deadline, false, check)
}

/// Go's close protocol for an fd number that is about to stop naming its open file
/// (close, dup2/dup3 onto it, close_range): goroutines waiting on it wake with `EBADF`, it
/// leaves the epoll set (EPOLL_CTL_DEL before the close: epoll interest follows the open file
/// description, which may live on in a dup or a child), operations in flight finish, then `f`
/// (the real close) runs, and the number's poll descriptor is fresh for its next use. Calls
/// that start on the fd while this runs wait for it to finish. In a fork child, only `f` runs.
pub(crate) fn close_with<R>(fd: i32, f: impl FnOnce() -> R) -> R {
    if fd < 0 {
        return f();
    }
    close_range_with(fd as u32, fd as u32, f)
}

/// `close_with` for every fd in `lo..=hi` at once (close_range).
pub(crate) fn close_range_with<R>(lo: u32, hi: u32, f: impl FnOnce() -> R) -> R {
    if crate::sched::fork::in_child() || !inited() {
        return f();
    }
    let max = MAX_FD.load(Relaxed);
    if max < 0 || lo > max as u32 {
        return f();
    }
    let hi = hi.min(max as u32);
    // Begin: mark closing (waiting out a concurrent close of the same number) and wake.
    let mut woken = GQueue::new();
    for fd in lo..=hi {
        let Some(pd) = TABLE.peek(fd as i32) else {
            continue;
        };
        loop {
            let mut l = pd.lock_lists();
            if pd.close.start_close() {
                // SAFETY: the Gs handed out are Waiting and ours.
                pd.wake_all(&mut l, &mut |gp| unsafe { woken.push_back(gp) });
                break;
            }
            drop(l);
            crate::sched::proc::gosched();
        }
    }
    crate::sched::proc::inject_list(woken);
    for fd in lo..=hi {
        let Some(pd) = TABLE.peek(fd as i32) else {
            continue;
        };
        while pd.close.ops_in_flight() {
            crate::sched::proc::gosched();
        }
        if pd.registered() {
            epoll::ctl_del(fd as i32);
        }
    }
    let r = f();
    // f's errno is the caller's result: the lock below may sleep on a futex, which sets it.
    let errno = crate::os::errno_ptr();
    // SAFETY: this thread's errno (no switch happens below).
    let saved = unsafe { *errno };
    for fd in lo..=hi {
        let Some(pd) = TABLE.peek(fd as i32) else {
            continue;
        };
        pd.reset();
        let _l = pd.lock_lists();
        pd.close.end_close();
    }
    // SAFETY: as above.
    unsafe { *errno = saved };
    r
}

/// One poll(2) of `fd` for `events`, waiting up to `timeout_ns` (< 0: no limit; the thread
/// blocks), by raw system call. Ok(revents) (0 on timeout); Err(EBADF) for a closed fd.
fn poll_raw(fd: i32, events: u32, timeout_ns: i64) -> Result<u32, i32> {
    let mut p = libc::pollfd {
        fd,
        events: events as i16,
        revents: 0,
    };
    let ts = libc::timespec {
        tv_sec: (timeout_ns.max(0) / 1_000_000_000) as libc::time_t,
        tv_nsec: (timeout_ns.max(0) % 1_000_000_000) as libc::c_long,
    };
    let tsp = if timeout_ns < 0 {
        core::ptr::null()
    } else {
        &ts as *const libc::timespec
    };
    // SAFETY: one valid pollfd; ts valid or null; no signal mask.
    let r = unsafe {
        libc::syscall(
            libc::SYS_ppoll,
            &mut p as *mut libc::pollfd,
            1usize,
            tsp,
            0usize,
            8usize,
        )
    };
    if r < 0 {
        // SAFETY: this thread's errno.
        return Err(unsafe { *crate::os::errno_ptr() });
    }
    if p.revents as i32 & libc::POLLNVAL as i32 != 0 {
        return Err(libc::EBADF);
    }
    Ok(p.revents as u16 as u32)
}

/// gmp_wait_fd: wait until `fd` is ready for `events` (POLLIN/POLLOUT) or `deadline`. A
/// goroutine parks (a file epoll refuses, such as a regular file, is always ready); a plain
/// thread blocks in poll(2). Ok(ready events, > 0: those asked for, or POLLERR/POLLHUP);
/// Err(ETIMEDOUT), Err(EBADF) (also when the fd is closed while waiting), Err(EINVAL).
pub(crate) fn wait_fd(fd: i32, events: u32, deadline: Deadline) -> Result<u32, i32> {
    if events == 0 || events & !(POLLIN | POLLOUT) != 0 {
        return Err(libc::EINVAL);
    }
    if fd < 0 {
        return Err(libc::EBADF);
    }
    let mut err = 0;
    MAX_FD.fetch_max(fd, Relaxed);
    let r = wait::wait_until(&[(fd, events)], deadline, true, || {
        match poll_raw(fd, events, 0) {
            Ok(0) => None,
            Ok(ev) => Some(ev),
            Err(e) => {
                err = e;
                Some(0)
            }
        }
    });
    match r {
        Ok(0) => return Err(err),
        Ok(ev) => return Ok(ev),
        Err(libc::EPERM) => {}
        Err(e) => return Err(e),
    }
    // Not a goroutine that may park, or not pollable: poll(2) on this thread.
    loop {
        let left = if deadline == Deadline::NEVER {
            -1
        } else {
            deadline.remaining()
        };
        match poll_raw(fd, events, left) {
            Ok(0) if deadline.passed() => return Err(libc::ETIMEDOUT),
            Ok(0) | Err(libc::EINTR) => continue,
            Ok(ev) => return Ok(ev),
            Err(e) => return Err(e),
        }
    }
}
