//! Blocking outside the scheduler: gmp_entersyscall / gmp_exitsyscall.

use crate::sched::{fork, syscall};

/// Bracket a call that may block in the kernel: meanwhile the processor may be handed to
/// another thread (after ~20 µs). No-op in thread context and in a child of fork(). Must be
/// paired with gmp_exitsyscall on the same goroutine, not nested.
#[no_mangle]
pub extern "C" fn gmp_entersyscall() {
    if fork::in_child() {
        return;
    }
    syscall::entersyscall()
}

/// End a gmp_entersyscall bracket: get a processor back (waiting for one if need be). No-op
/// in thread context, and in a child of fork() (also one forked inside the bracket).
#[no_mangle]
pub extern "C" fn gmp_exitsyscall() {
    if fork::in_child() {
        return;
    }
    syscall::exitsyscall()
}
