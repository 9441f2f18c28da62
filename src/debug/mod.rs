//! Debugging: fatal errors (`throw!`), the GMP_* environment knobs (`knobs.rs`) and the
//! scheduler trace (`schedtrace.rs`).
//!
//! `throw!("fn: what")` prints `gmp: fatal error: fn: what` and aborts: a broken runtime
//! invariant. The string names the function it is in (Go's convention), so grepping a crash
//! message lands on the code. It never allocates (it may run where malloc's lock is held) and
//! never unwinds.

#[cfg(not(loom))]
pub(crate) mod knobs;
#[cfg(not(loom))]
pub(crate) mod schedtrace;
pub(crate) mod waitreason;

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
        crate::os::write_err(b"gmp: fatal error: ");
        crate::os::write_err(msg);
        crate::os::write_err(b"\n");
        // SAFETY: abort has no preconditions.
        unsafe { libc::abort() }
    }
    #[cfg(loom)]
    panic!(
        "gmp: fatal error: {}",
        core::str::from_utf8(msg).unwrap_or("?")
    );
}
