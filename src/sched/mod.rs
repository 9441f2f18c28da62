//! The scheduler core: Go's proc.go and runtime2.go, flat and mutually recursive as Go's one
//! package is, with Go's names. Design notes, by title:
//! - "Goroutine scheduler", "Worker thread parking/unparking", "Locked goroutines": proc.rs
//!   (schedule, find_runnable, stealing, startm/stopm/handoffp, wakep, and the mechanisms the
//!   C face uses: newproc, gopark, ready, gosched, goexit, lockOSThread, preemptone, gomain);
//! - "Goroutine statuses": g.rs; "P statuses" and "Processors and procresize": p.rs; the one
//!   gate for both: status.rs;
//! - "Threads and the g register": m.rs;
//! - "Run queue": runq.rs (Go's lock-free per-P ring, exhaustively tested and model-checked);
//! - idle/spinning accounting (npidle, nmspinning, the lock-free halves of wakep and the
//!   spinning transitions): idle.rs (model-checked);
//! - the global state under sched.lock (run queue, idle lists, free Gs, procresize): sched.rs;
//! - "C++ exception state travels with the goroutine": cxa.rs (saved and restored with errno);
//! - syscalls and threads blocked in the kernel: syscall.rs; sysmon: sysmon.rs; the only
//!   creator of Ms: template.rs; deadlock detection: checkdead.rs; start-up and
//!   GOMAXPROCS: schedinit.rs; "The child has no runtime" (fork()): fork.rs.
//!
//! Subsystems reach the core through gopark/ready and G queues; the core reaches preemption
//! through `preempt::asyncpreempt::preempt_m`. Nothing here imports the C face (ffi/).

pub(crate) mod checkdead;
pub(crate) mod cxa;
pub(crate) mod fork;
pub(crate) mod g;
pub(crate) mod idle;
pub(crate) mod m;
pub(crate) mod p;
pub(crate) mod proc;
pub(crate) mod runq;
#[allow(clippy::module_inception)]
pub(crate) mod sched;
pub(crate) mod schedinit;
pub(crate) mod status;
pub(crate) mod syscall;
pub(crate) mod sysmon;
pub(crate) mod template;
