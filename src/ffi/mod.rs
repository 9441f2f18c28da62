//! The C face: the only `extern "C"` exports, one small file per area, doing argument checks
//! and translation only — the work is in sched/ under Go's names. cbindgen writes
//! `include/gmp.h` from these files (their doc comments become the header's).
//!
//! Conventions (api.md, rustls-ffi's): names are `gmp_<noun>_<verb>`; output parameters last;
//! failures are negative errnos, never partial success; NULL and out-of-range arguments are
//! checked here, so a bad argument is never fatal. Panics cannot cross into C: every profile
//! builds with `panic = "abort"`.
//!
//! Nothing in the runtime imports this module.
#![allow(non_camel_case_types)]

// In the header's order.
pub mod goroutine;
pub mod io;
pub mod runtime;
pub mod syscall;
pub mod chan;
pub mod sync;
pub mod local;

/// An engine error (a positive errno) as the C face returns it.
#[inline]
fn neg(r: Result<(), i32>) -> libc::c_int {
    match r {
        Ok(()) => 0,
        Err(e) => -e,
    }
}
