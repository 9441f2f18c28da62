//! sleep, usleep, nanosleep, clock_nanosleep: from a goroutine, park on a timer
//! (`time::sleep_until`) instead of sleeping the thread.
//!
//! Results as libc documents them: a parked goroutine is not interrupted by signals (Go's
//! rule), so these return success — 0, and `sleep` 0 seconds left — and never write the
//! remaining time (it is written only on EINTR). Invalid arguments (a NULL or out-of-range
//! timespec, an unsupported clock) go to the real function, which reports them.
//! clock_nanosleep supports CLOCK_MONOTONIC and CLOCK_REALTIME, relative or TIMER_ABSTIME
//! (an absolute CLOCK_REALTIME time is converted to a monotonic deadline when the call starts:
//! a clock step while it sleeps is not followed); other clocks get the real call, on the
//! syscall path. It returns an error number, not -1/errno, as libc's does. A plain thread, or
//! a goroutine the timer cannot park (sleep_until's EPERM), gets the real call.

use super::goroutine;
use super::real::real;
use crate::time::{sleep_until, Deadline};
use libc::{c_int, c_uint, clockid_t, timespec};

/// Park for `ns`; false if the caller must sleep its thread instead.
fn park(d: Deadline) -> bool {
    goroutine() && super::keep_errno(|ok| *ok, || sleep_until(d).is_ok())
}

fn ts_ns(ts: *const timespec) -> Option<i64> {
    if ts.is_null() {
        return None;
    }
    // SAFETY: the caller's timespec, read only.
    let t = unsafe { *ts };
    if t.tv_sec < 0 || !(0..1_000_000_000).contains(&t.tv_nsec) {
        return None;
    }
    Some(
        t.tv_sec
            .saturating_mul(1_000_000_000)
            .saturating_add(t.tv_nsec),
    )
}

#[no_mangle]
pub unsafe extern "C" fn nanosleep(req: *const timespec, rem: *mut timespec) -> c_int {
    if let Some(ns) = ts_ns(req) {
        if park(Deadline::after(ns)) {
            return 0;
        }
    }
    real!(Nanosleep: fn(*const timespec, *mut timespec) -> c_int; req, rem)
}

#[no_mangle]
pub unsafe extern "C" fn clock_nanosleep(
    clk: clockid_t,
    flags: c_int,
    req: *const timespec,
    rem: *mut timespec,
) -> c_int {
    let plain = || real!(ClockNanosleep: fn(clockid_t, c_int, *const timespec, *mut timespec) -> c_int; clk, flags, req, rem);
    let Some(ns) = ts_ns(req) else { return plain() };
    if !goroutine() {
        return plain();
    }
    let abs = flags & libc::TIMER_ABSTIME != 0;
    let d = match clk {
        libc::CLOCK_MONOTONIC if abs => Deadline(ns),
        libc::CLOCK_REALTIME if abs => {
            let mut now = timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            // SAFETY: a valid out-pointer; CLOCK_REALTIME exists (vDSO).
            unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut now) };
            Deadline::after((ns - (now.tv_sec * 1_000_000_000 + now.tv_nsec)).max(0))
        }
        libc::CLOCK_MONOTONIC | libc::CLOCK_REALTIME => Deadline::after(ns),
        // Other clocks (CPU-time clocks, BOOTTIME, TAI): the thread sleeps, its P handed off.
        _ => {
            let e = super::errno();
            let r = super::syscall_path(plain);
            super::set_errno(e); // clock_nanosleep reports through its return value only
            return r;
        }
    };
    if super::keep_errno(|ok| *ok, || sleep_until(d).is_ok()) {
        0
    } else {
        plain()
    }
}

#[no_mangle]
pub unsafe extern "C" fn usleep(us: libc::useconds_t) -> c_int {
    if park(Deadline::after(us as i64 * 1000)) {
        return 0;
    }
    real!(Usleep: fn(libc::useconds_t) -> c_int; us)
}

#[no_mangle]
pub unsafe extern "C" fn sleep(secs: c_uint) -> c_uint {
    if park(Deadline::after(secs as i64 * 1_000_000_000)) {
        return 0;
    }
    real!(Sleep: fn(c_uint) -> c_uint; secs)
}
