//! Blocking outside the scheduler: gmp_entersyscall / gmp_exitsyscall.

use crate::sched::syscall;

/// Bracket a call that may block in the kernel: meanwhile the processor may be handed to
/// another thread (after ~20 µs). No-op in thread context. Must be paired with
/// gmp_exitsyscall on the same goroutine, not nested.
#[no_mangle]
pub extern "C" fn gmp_entersyscall() {
    syscall::entersyscall()
}

/// End a gmp_entersyscall bracket: get a processor back (waiting for one if need be). No-op
/// in thread context.
#[no_mangle]
pub extern "C" fn gmp_exitsyscall() {
    syscall::exitsyscall()
}
