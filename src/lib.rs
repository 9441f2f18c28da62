//! libgmp: Go's G-M-P scheduler (proc.go, runtime2.go, lock_futex.go) rebuilt for C programs.
//!
//! Design notes, by title, and where they live:
//! - "Goroutine scheduler" and "Worker thread parking/unparking": `proc.rs`.
//! - "Run queue": `runq.rs` (Go's lock-free per-P ring, model-checked under loom).
//! - "Threads and the g register": `m.rs` (every M is a full glibc thread; `%gs:0` is its g).
//! - "Context switch": `asm/switch.S`, `asm/gostart.S`, `arch/`.
//! - "Goroutine statuses": `g.rs`. "Processors and procresize": `p.rs`.
//! - "Stacks": `stack.rs`. "Locks and notes": `lock.rs`, `note.rs`.
//! - "Asynchronous preemption of C code" and "A preempted goroutine keeps its M":
//!   `preempt.rs`, `asm/preempt.S`; signal handlers: `signal.rs`.
//! - sysmon (retake, preemption requests, schedtrace): `sysmon.rs`; syscalls: `syscall.rs`.
//! - The C face and its argument checks: `api.rs` (cbindgen writes `include/gmp.h` from it).
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]
#![allow(clippy::missing_safety_doc)]

#[macro_use]
pub(crate) mod debug;
pub(crate) mod loom;
pub(crate) mod runq;

#[cfg(not(loom))]
mod api;
#[cfg(not(loom))]
pub(crate) mod arch;
#[cfg(not(loom))]
pub(crate) mod g;
#[cfg(not(loom))]
pub(crate) mod lock;
#[cfg(not(loom))]
pub(crate) mod m;
#[cfg(not(loom))]
pub(crate) mod note;
#[cfg(not(loom))]
pub(crate) mod p;
#[cfg(not(loom))]
pub(crate) mod preempt;
#[cfg(not(loom))]
pub(crate) mod proc;
#[cfg(not(loom))]
pub(crate) mod sched;
#[cfg(not(loom))]
pub(crate) mod signal;
#[cfg(not(loom))]
pub(crate) mod stack;
#[cfg(not(loom))]
pub(crate) mod sys;
#[cfg(not(loom))]
pub(crate) mod syscall;
#[cfg(not(loom))]
pub(crate) mod sysmon;

#[cfg(not(loom))]
pub use api::*;
