//! Fatal errors and the GMP_DEBUG knobs.
//!
//! `throw!("fn: what")` prints `gmp: fatal error: fn: what` and aborts: a broken runtime
//! invariant. It never allocates (it may run where malloc's lock is held) and never unwinds.

#[cfg(not(loom))]
use core::sync::atomic::{AtomicBool, AtomicI64, Ordering::Relaxed};

macro_rules! throw {
    ($msg:expr) => {
        $crate::debug::throw_str($msg)
    };
}

#[cold]
#[inline(never)]
pub(crate) fn throw_str(msg: &str) -> ! {
    fatal(msg.as_bytes())
}

#[cold]
pub(crate) fn fatal(msg: &[u8]) -> ! {
    #[cfg(not(loom))]
    {
        crate::sys::write_err(b"gmp: fatal error: ");
        crate::sys::write_err(msg);
        crate::sys::write_err(b"\n");
        // SAFETY: abort has no preconditions.
        unsafe { libc::abort() }
    }
    #[cfg(loom)]
    panic!("gmp: fatal error: {}", core::str::from_utf8(msg).unwrap_or("?"));
}

/// GMP_DEBUG=schedtrace=MS: milliseconds between summary lines (0 = off).
#[cfg(not(loom))]
pub(crate) static SCHEDTRACE_MS: AtomicI64 = AtomicI64::new(0);
/// GMP_DEBUG=scheddetail=1.
#[cfg(not(loom))]
pub(crate) static SCHEDDETAIL: AtomicBool = AtomicBool::new(false);
/// GMP_DEBUG=asyncpreemptoff=1.
#[cfg(not(loom))]
pub(crate) static ASYNCPREEMPTOFF: AtomicBool = AtomicBool::new(false);

/// Parse `name=val,name=val` (GODEBUG's syntax). Unknown names are ignored, as Go does.
/// Relaxed stores: read once at start-up, before any other thread exists that reads them.
#[cfg(not(loom))]
pub(crate) fn parse_gmp_debug(s: &str) {
    for kv in s.split(',') {
        let mut it = kv.splitn(2, '=');
        let (k, v) = (it.next().unwrap_or("").trim(), it.next().unwrap_or("").trim());
        let n: i64 = v.parse().unwrap_or(0);
        match k {
            "schedtrace" => SCHEDTRACE_MS.store(n.max(0), Relaxed),
            "scheddetail" => SCHEDDETAIL.store(n != 0, Relaxed),
            "asyncpreemptoff" => ASYNCPREEMPTOFF.store(n != 0, Relaxed),
            _ => {}
        }
    }
}
