//! The netpoller (Go's netpoll.go / netpoll_epoll.go). SKELETON: the API the hooks and the C
//! API use; the implementation below is a stand-in (gosched loop) until the epoll poller lands.

pub(crate) mod fdtab;

use crate::time::Deadline;

/// Readiness asked for, as poll(2) bits (only POLLIN and POLLOUT are meaningful; POLLPRI
/// counts as POLLIN).
pub(crate) const POLLIN: u32 = libc::POLLIN as u32;
pub(crate) const POLLOUT: u32 = libc::POLLOUT as u32;

/// Whether `fd` can be waited on by the netpoller, registering it (once) if so. `Err(EPERM)`:
/// epoll refuses it (regular files, directories: treat as always ready, use the syscall
/// path); `Err(EBADF)`: not open; `Err(ENOMEM)`/`Err(ENOSPC)`: out of memory or epoll watches
/// (treat as not pollable).
pub(crate) fn pollable(fd: i32) -> Result<(), i32> {
    let _ = fd;
    Ok(())
}

/// Park the calling goroutine until `check()` returns `Some(r)`: `check` is tried first, and
/// again after each readiness event on any of `fds` ((fd, POLLIN|POLLOUT bits) pairs), so a
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
    mut check: impl FnMut() -> Option<R>,
) -> Result<R, i32> {
    for &(fd, _) in fds {
        pollable(fd)?;
    }
    loop {
        if let Some(r) = check() {
            return Ok(r);
        }
        if deadline.passed() {
            return Err(libc::ETIMEDOUT);
        }
        crate::sched::proc::gosched();
    }
}

/// Go's close protocol for an fd number that is about to stop naming its open file
/// (close, dup2/dup3 onto it, close_range): goroutines waiting on it wake with `EBADF`, it
/// leaves the epoll set (EPOLL_CTL_DEL before the close: epoll interest follows the open file
/// description, which may live on in a dup or a child), operations in flight finish, then `f`
/// (the real close) runs, and the number's poll descriptor is fresh for its next use. Calls
/// that start on the fd while this runs wait for it to finish. In a fork child, only `f` runs.
pub(crate) fn close_with<R>(fd: i32, f: impl FnOnce() -> R) -> R {
    let _ = fd;
    f()
}

/// `close_with` for every watched fd in `lo..=hi` at once (close_range).
pub(crate) fn close_range_with<R>(lo: u32, hi: u32, f: impl FnOnce() -> R) -> R {
    let _ = (lo, hi);
    f()
}
