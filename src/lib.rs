//! libgmp: Go's G-M-P scheduler (proc.go, runtime2.go, lock_futex.go, preempt.go) rebuilt for
//! C programs. Layers, from the C face down (each folder opens with its design note):
//!
//! | folder | owns |
//! |---|---|
//! | `ffi/` | the only `extern "C"` exports (cbindgen writes `include/gmp.h` from them): argument checks and translation |
//! | `hooks/` | libc functions exported under libc's names (interposed; not in gmp.h) and the table of the real ones |
//! | `sched/` | the scheduler core: G, M, P, sched, proc, runq, syscall, sysmon, checkdead, schedinit, cxa |
//! | `sync/` | channels, select, the sync package's locks, the futex primitive, goroutine-local storage: for goroutines and threads alike |
//! | `time/` | timers (per-P heaps) and goroutine sleeps |
//! | `netpoll/` | the epoll netpoller: poll descriptors, fd waits, the close protocol |
//! | `preempt/` | asynchronous preemption and the signal handlers ("Signal-safe:" code only here) |
//! | `lock/` | the runtime lock (raises `m.locks`, ranked) and notes |
//! | `debug/` | throw, the GMP_* knobs, schedtrace |
//! | `arch/` | the Gobuf and g-register block, asm entry points, offsets checked against `asm/` |
//! | `os/` | raw Linux syscalls and the goroutine stack allocator |
//!
//! Design notes by title: "Goroutine scheduler", "Worker thread parking/unparking", "Locked
//! goroutines" (sched/proc.rs); "Goroutine statuses" (sched/g.rs); "P statuses", "Processors
//! and procresize" (sched/p.rs); "Threads and the g register" (sched/m.rs); "Run queue"
//! (sched/runq.rs); checkdead (sched/checkdead.rs); sysmon (sched/sysmon.rs); syscalls
//! (sched/syscall.rs); "C++ exception state travels with the goroutine" (sched/cxa.rs);
//! "Asynchronous preemption of C code", "A preempted goroutine keeps its M", "The thread
//! budget" (preempt/mod.rs); "Lock-holder-aware preemption" (preempt/lockhold.rs); resolution
//! of the real functions (hooks/real.rs); "The lock rule", "Lock order" (lock/mod.rs); notes
//! (lock/note.rs); "A waiter is a goroutine or a thread", "When a goroutine may be woken"
//! (sync/waiter.rs); the semtable (sync/semtable.rs); stacks (os/stack.rs); the context switch (arch/x86_64.rs, asm/switch.S); "The child has
//! no runtime", "Preemption inside fork()" (sched/fork.rs).
//!
//! The rule between layers: nothing below `ffi/` and `hooks/` imports them.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]
#![allow(clippy::missing_safety_doc)]
// A loom build is only for its model tests; without them the modeled pieces go unused.
#![cfg_attr(all(loom, not(test)), allow(dead_code))]

#[macro_use]
pub(crate) mod debug;
pub(crate) mod loom;

#[cfg(not(loom))]
pub(crate) mod arch;
#[cfg(not(loom))]
mod ffi;
#[cfg(not(loom))]
mod hooks;
#[cfg(not(loom))]
pub(crate) mod lock;
#[cfg(not(loom))]
pub(crate) mod netpoll;
#[cfg(not(loom))]
pub(crate) mod os;
#[cfg(not(loom))]
pub(crate) mod preempt;
#[cfg(not(loom))]
pub(crate) mod sched;
#[cfg(not(loom))]
pub(crate) mod sync;
#[cfg(not(loom))]
pub(crate) mod time;
/// Under loom only the lock-free protocols are built, from their own files.
#[cfg(loom)]
pub(crate) mod lock {
    pub(crate) mod note;
}
#[cfg(loom)]
pub(crate) mod netpoll {
    pub(crate) mod slot;
}
#[cfg(loom)]
pub(crate) mod sync {
    pub(crate) mod claim;
}
#[cfg(loom)]
pub(crate) mod sched {
    pub(crate) mod idle;
    pub(crate) mod runq;
    /// The blocked-thread hand-shake (syscall.rs) is modelled on its own words only.
    pub(crate) mod syscall {
        #[cfg(test)]
        mod loom_tests;
    }
}

#[cfg(not(loom))]
pub use ffi::io::*;
#[cfg(not(loom))]
pub use ffi::{chan::*, goroutine::*, local::*, runtime::*, sync::*, syscall::*};
