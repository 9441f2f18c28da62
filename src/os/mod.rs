//! The OS layer: raw Linux system calls (futex, thread ids, mappings, the GS base, time,
//! stderr) and the goroutine stack allocator built on them.
//!
//! Contract: everything in `linux.rs` is async-signal-safe — no allocation, no locks, no
//! panics — so signal handlers and the preemption path may use any of it. Calls go to the
//! kernel (or the vDSO) directly or through libc functions the runtime never interposes.

mod linux;
pub(crate) mod persistent;
pub(crate) mod stack;
pub(crate) use linux::*;
