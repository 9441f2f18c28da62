//! The engine every fd operation runs through (io.rs): decide, from the caller and the fd's
//! record (fd.rs), how a call that would block waits, and make it return what libc would.
//!
//! For a `goroutine()` caller:
//! 1. `File` kind (regular files, directories, anything epoll refuses): the syscall path
//!    (entersyscall, the real call, exitsyscall).
//! 2. The user asked not to block (MSG_DONTWAIT in the flags, USER_NB on an RT_NB fd): the real
//!    call, once.
//! 3. An RT_NB fd (the runtime's O_NONBLOCK is on): try, park on EAGAIN, retry (Go's
//!    fd.Read loop over pollDesc.waitRead).
//! 4. A socket data call (read/write(v) and recv*/send* on a socket): the same loop, each try
//!    with MSG_DONTWAIT — the description's mode is never touched; the first EAGAIN reads the
//!    kernel's O_NONBLOCK (the user's, there) to decide between EAGAIN and parking.
//! 5. An owned fd and a call with no per-call form (accept on a listener, pipe I/O): flip it
//!    (fd::flip), then 3 — unless stdio has it (fdopen: NO_FLIP).
//! 6. Anything else (stdin, inherited pipes, ttys, inherited listeners): the syscall path.
//!
//! A plain thread (and g0, a fork child, hooks=0) gets the real call — except on an RT_NB fd
//! whose user did not ask for O_NONBLOCK, where it gets the blocking call it expects,
//! emulated: try, then the real poll(2) (a raw syscall: a plain thread has nothing to park),
//! retry. The same emulation serves a goroutine whose fd the netpoller refuses (EPERM from
//! wait_until), inside the syscall path.
//!
//! Timeouts: the fd's recorded SO_RCVTIMEO/SO_SNDTIMEO become the wait's deadline; on expiry
//! the call reports what the kernel does (EAGAIN; connect: EINPROGRESS) — or the progress made
//! so far (a blocking write that times out after writing some bytes returns their count).
//!
//! Signals (Go's EINTR rule): a parked goroutine is not interrupted — the netpoller does not
//! see signals, and the tries are non-blocking. In the plain-thread emulation the real poll
//! may fail with EINTR: the kernel would have restarted the blocking call only under
//! SA_RESTART, so the emulation retries if every installed handler has SA_RESTART, and reports
//! EINTR otherwise (it cannot know which signal came).

use super::fd::{self, Kind, State};
use super::{goroutine, keep_errno, off, ret, syscall_path, Res};
use crate::netpoll::{self, POLLIN, POLLOUT};
use crate::time::Deadline;

/// What kind of call runs through `run`.
pub(crate) struct Op {
    pub(crate) fd: i32,
    /// Waits for POLLOUT and uses SO_SNDTIMEO (else POLLIN, SO_RCVTIMEO).
    pub(crate) out: bool,
    /// The call's own flags hold MSG_DONTWAIT.
    pub(crate) user_dontwait: bool,
    /// On a socket, `attempt(true)` is the call with MSG_DONTWAIT (no flip needed).
    pub(crate) dontwait: bool,
    /// An owned fd may be flipped for this call.
    pub(crate) may_flip: bool,
    /// errno on timeout: EAGAIN, or EINPROGRESS for connect.
    pub(crate) timeout_errno: i32,
}

/// `None` for EAGAIN (wait and retry), else the result.
#[inline]
pub(crate) fn again(r: Res) -> Option<Res> {
    if r.0 < 0 && (r.1 == libc::EAGAIN || r.1 == libc::EWOULDBLOCK) {
        None
    } else {
        Some(r)
    }
}

/// Run one call. `plain()`: the call as the user made it (the real libc function).
/// `attempt(dontwait)`: non-blocking tries until done or EAGAIN — `Some(result)`, or `None` to
/// wait; a call that makes progress in parts (a stream write) keeps it in its captures.
/// `finish(errno)`: the result when the wait stops for `errno` (timeout, close, EINTR, the
/// user's O_NONBLOCK) — -1 and that errno, or the progress made so far.
pub(crate) fn run(
    op: &Op,
    mut plain: impl FnMut() -> isize,
    attempt: impl FnMut(bool) -> Option<Res>,
    finish: impl Fn(i32) -> Res,
) -> isize {
    if off() {
        return plain();
    }
    keep_errno(|r| *r >= 0, || run1(op, plain, attempt, finish))
}

fn run1(
    op: &Op,
    mut plain: impl FnMut() -> isize,
    mut attempt: impl FnMut(bool) -> Option<Res>,
    finish: impl Fn(i32) -> Res,
) -> isize {
    if !goroutine() {
        // Only an fd the runtime made non-blocking needs more than the real call; such an fd
        // is known already, so plain threads never classify (no fstat, no allocation).
        return match fd::known(op.fd) {
            Some(s) if s.rt_nb() && !op.user_dontwait && !s.user_nb() => block(
                op,
                &s,
                false,
                false,
                false,
                &mut plain,
                &mut attempt,
                &finish,
            ),
            _ => plain(),
        };
    }
    for _ in 0..2 {
        let Some(s) = fd::state(op.fd) else {
            return syscall_path(plain);
        };
        if s.kind() == Kind::File {
            return syscall_path(plain);
        }
        if op.user_dontwait || (s.rt_nb() && s.user_nb()) {
            return plain();
        }
        if s.rt_nb() {
            return block(
                op,
                &s,
                true,
                false,
                false,
                &mut plain,
                &mut attempt,
                &finish,
            );
        }
        if op.dontwait && s.kind() == Kind::Sock {
            let r = block(op, &s, true, true, true, &mut plain, &mut attempt, &finish);
            if r < 0 && super::errno() == libc::ENOTSOCK {
                fd::reclassify(op.fd); // a stale record: the number is no socket now
                continue;
            }
            return r;
        }
        if op.may_flip && s.owned() && !s.no_flip() {
            if let Some(s) = fd::flip(&s) {
                if s.user_nb() {
                    return plain();
                }
                return block(
                    op,
                    &s,
                    true,
                    false,
                    false,
                    &mut plain,
                    &mut attempt,
                    &finish,
                );
            }
        }
        return syscall_path(plain);
    }
    syscall_path(plain)
}

/// Steps 3 and 4 of the module note, parking (`park`) or emulated on a plain thread.
/// `check_user_nb`: on the first EAGAIN, the kernel's O_NONBLOCK decides (step 4).
#[allow(clippy::too_many_arguments)]
fn block(
    op: &Op,
    s: &State,
    park: bool,
    dontwait: bool,
    check_user_nb: bool,
    plain: &mut dyn FnMut() -> isize,
    attempt: &mut dyn FnMut(bool) -> Option<Res>,
    finish: &dyn Fn(i32) -> Res,
) -> isize {
    let deadline = match s.timeout(op.out) {
        0 => Deadline::NEVER,
        ns => Deadline::after(ns),
    };
    let ev = if op.out { POLLOUT } else { POLLIN };
    let r = {
        let mut user_nb: Option<bool> = (!check_user_nb).then_some(false);
        let step = || match attempt(dontwait) {
            Some(r) => Some(Ok(r)),
            None if *user_nb.get_or_insert_with(|| s.user_nonblocking()) => Some(Err(libc::EAGAIN)),
            None => None,
        };
        if park {
            netpoll::wait_until(&[(op.fd, ev)], deadline, step)
        } else {
            thread_wait(op.fd, ev, deadline, step)
        }
    };
    match r {
        Ok(Ok(res)) => ret(res),
        Ok(Err(e)) => ret(finish(e)),
        Err(libc::ETIMEDOUT) => ret(finish(op.timeout_errno)),
        // The netpoller refuses the fd: the thread waits in the kernel, P handed off.
        Err(libc::EPERM) if park => {
            if dontwait {
                syscall_path(plain)
            } else {
                syscall_path(|| block(op, s, false, false, false, plain, attempt, finish))
            }
        }
        Err(e) => ret(finish(e)),
    }
}

/// `netpoll::wait_until` for a thread that cannot park: the real poll(2) between tries.
/// `Err(ETIMEDOUT)` at the deadline, `Err(EINTR)` for a signal the kernel would not have
/// restarted the call for (module note), other poll errors as they come.
pub(crate) fn thread_wait<R>(
    fd: i32,
    ev: u32,
    deadline: Deadline,
    mut step: impl FnMut() -> Option<R>,
) -> Result<R, i32> {
    loop {
        if let Some(r) = step() {
            return Ok(r);
        }
        if deadline.passed() {
            return Err(libc::ETIMEDOUT);
        }
        let mut pfd = libc::pollfd {
            fd,
            events: ev as i16,
            revents: 0,
        };
        let ms = poll_ms(deadline);
        // SAFETY: one valid pollfd.
        if unsafe { libc::syscall(libc::SYS_poll, &mut pfd as *mut libc::pollfd, 1, ms) } < 0 {
            let e = super::errno();
            if e == libc::EINTR && restartable() {
                continue;
            }
            return Err(e);
        }
    }
}

/// A deadline as poll(2)'s timeout: -1 for never, else milliseconds rounded up.
pub(crate) fn poll_ms(d: Deadline) -> i32 {
    if d == Deadline::NEVER {
        -1
    } else {
        let ns = d.remaining();
        ((ns + 999_999) / 1_000_000).min(i32::MAX as i64) as i32
    }
}

/// Whether the kernel would have restarted a blocking call after the signal that just
/// interrupted us: true if every caught signal's handler has SA_RESTART (raw rt_sigaction
/// reads; this runs only after an EINTR).
fn restartable() -> bool {
    /// The kernel's struct sigaction on x86-64.
    #[repr(C)]
    struct KSigaction {
        handler: usize,
        flags: u64,
        restorer: usize,
        mask: u64,
    }
    for sig in 1..=64 {
        let mut old = KSigaction {
            handler: 0,
            flags: 0,
            restorer: 0,
            mask: 0,
        };
        // SAFETY: a query (no new action) into a struct of the kernel's layout and size.
        let r = unsafe {
            libc::syscall(
                libc::SYS_rt_sigaction,
                sig,
                core::ptr::null::<KSigaction>(),
                &mut old as *mut KSigaction,
                8usize,
            )
        };
        let caught = old.handler != libc::SIG_DFL && old.handler != libc::SIG_IGN;
        if r == 0 && caught && old.flags & libc::SA_RESTART as u64 == 0 {
            return false;
        }
    }
    true
}
