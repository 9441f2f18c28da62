//! Waiting for time and for file descriptors: gmp_sleep, gmp_wait_fd.

use crate::time::{self, Deadline};
use libc::c_int;

/// Park the calling goroutine for at least `ns` nanoseconds (Go's time.Sleep); `ns <= 0`
/// yields (gmp_gosched). Returns 0. In thread context it sleeps the thread. The goroutine may
/// continue on another thread afterwards.
#[no_mangle]
pub extern "C" fn gmp_sleep(ns: i64) -> c_int {
    if ns <= 0 {
        crate::sched::proc::gosched();
        return 0;
    }
    let d = Deadline::after(ns);
    if time::sleep_until(d).is_err() {
        // A plain thread (or a goroutine inside a gmp_entersyscall bracket).
        while !d.passed() {
            crate::os::sleep_ns(d.remaining());
        }
    }
    0
}

/// Park the calling goroutine until `fd` is ready for `events` (POLLIN and/or POLLOUT) or
/// `timeout_ns` nanoseconds pass (`< 0`: no timeout). Returns the ready events (> 0: those
/// asked for that are ready, plus POLLERR/POLLHUP if they occurred), -ETIMEDOUT, -EBADF (`fd`
/// not open, or closed while waiting), or -EINVAL (`events` empty or other bits). A file that
/// is always ready (a regular file) returns at once. In thread context it blocks the thread
/// in poll(2).
#[no_mangle]
pub extern "C" fn gmp_wait_fd(fd: c_int, events: u32, timeout_ns: i64) -> c_int {
    match crate::netpoll::wait_fd(fd, events, Deadline::after(timeout_ns)) {
        Ok(ev) => ev as c_int,
        Err(e) => -e,
    }
}
