//! Preemption and signal handling. Everything reachable from a signal handler lives here and is
//! marked "Signal-safe:" — atomics, plain memory and raw syscalls only: no allocation, no
//! locks, no panics (the interrupted thread may hold any libc lock).
//! - `asyncpreempt.rs`: the safe-point check, the injected call, and parking the preempted G;
//! - `signal.rs`: installing the SIGURG and SIGSEGV handlers, chaining to the program's own, and
//!   the goroutine stack-overflow report.
//!
//! # Asynchronous preemption of C code (beyond Go: Go never preempts C code)
//! sysmon marks a G that has run over 10 ms (`g.preempt`) and calls `preempt_m`, which sends
//! SIGURG to its M (merged: at most one in flight per M, `m.signal_pending`). The handler
//! (`sig_preempt`, on the M's alternate stack) checks that the interrupted point is a safe
//! point:
//! 1. the thread is an M and runs the goroutine sysmon marked (`getg() == m.curg`, RUNNING),
//!    not g0 and not a goroutine inside a syscall bracket;
//! 2. the M is not inside the runtime (`m.locks == 0`: exported functions raise it) and the pc
//!    is not in libgmp's own text (context switches, trampolines);
//! 3. the goroutine's stack has room for the trampoline's frame (4 KiB + the XSAVE area) and
//!    the interrupted sp is inside that stack (C code may be running on a stack of its own).
//!
//! Then it injects a call to `gmp_async_preempt` (asm/preempt.S) that steps over the red zone.
//! `m.locks` is the lock rule's half here: every runtime lock raises it (lock/mod.rs), so a
//! goroutine is never stopped holding one. It is also raised across glibc's fork(), which holds
//! every malloc lock around the clone; and the handler does nothing in a child of fork, vfork
//! or posix_spawn, whose thread still looks like an M (both: sched/fork.rs).
//!
//! # A preempted goroutine keeps its M
//! The trampoline calls `async_preempt2`, which locks the G to its M (Go's lockedm, see
//! sched/proc.rs) for the duration and yields through the global queue: the M sleeps holding the G,
//! its P is handed to another M, and when some M picks the G it hands its P to this M, which
//! resumes the G. To C code a preemption is then exactly the OS descheduling the thread: a G
//! stopped inside malloc, holding a mutex, or with `&errno` or a `__thread` address in a
//! register is still correct. This is also what makes progress possible when a G blocks on a
//! lock held by a preempted G (the blocked one is preempted too; the holder resumes).
//!
//! Because the preempted thread may hold libc locks (malloc's, stdio's, the loader's), nothing
//! on this path may call into libc beyond raw syscalls: no malloc, no pthread_create. When the
//! P needs a new M, the request goes to sysmon (`newm_pending`), which holds no user locks.
//!
//! Rejected: Go's pushCall (no red-zone skip: a red-zone variable was clobbered, and without
//! `ret $128` C code crashed, measured on this machine); FXSAVE (loses AVX-512 upper halves:
//! wrong results, measured); moving the preempted G to another M (breaks C code that cached a
//! thread-local address).


pub(crate) mod asyncpreempt;
pub(crate) mod signal;
