//! Preemption and signal handling. Everything reachable from a signal handler lives here and is
//! marked "Signal-safe:" — atomics, plain memory and raw syscalls only: no allocation, no
//! locks, no panics (the interrupted thread may hold any libc lock).
//! - `asyncpreempt.rs`: the safe-point check, the injected call, and parking the preempted G;
//! - `signal.rs`: installing the SIGURG and SIGSEGV handlers, chaining to the program's own, and
//!   the goroutine stack-overflow report;
//! - `lockhold.rs`: deferring the preemption of a goroutine that holds a pthread lock to its
//!   outermost unlock, within 50 ms ("Lock-holder-aware preemption").
//!
//! # Asynchronous preemption of C code (beyond Go: Go never preempts C code)
//! sysmon marks a G that has run over 10 ms (`g.preempt`) and calls `preempt_m`, which sends
//! SIGURG to its M (merged: at most one in flight per M, `m.signal_pending`; one the kernel
//! lost is re-sent after 20 ms) — only if the thread executes code: a thread asleep in the
//! kernel would get EINTR from nanosleep or poll, so sysmon treats it as being in a syscall
//! and retakes its P instead ("Blocked threads" in sched/syscall.rs). The handler
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
//! sched/proc.rs) for the duration, and `gopreempt_m` decides where the P goes: the M sleeps
//! holding the G (stoplockedm) until some M hands it a P back. To C code a preemption is then
//! exactly the OS descheduling the thread: a G stopped inside malloc, holding a mutex, or with
//! `&errno` or a `__thread` address in a register is still correct.
//!
//! Because the preempted thread may hold libc locks (malloc's, stdio's, the loader's), nothing
//! that this goroutine's resumption depends on may take them: no malloc (runtime records come
//! from os/persistent.rs), no pthread_create (only the template thread creates Ms,
//! sched/template.rs), no dl* call. The preemption path itself only uses Ms that exist.
//!
//! # The thread budget
//! Each preempted goroutine pins a thread, so preempting freely makes one thread per
//! CPU-bound goroutine (1000 goroutines of 11 ms made 902 threads). The policy:
//! 1. Preempt only when something else waits for the P (sysmon's `worth_preempting`;
//!    `Plan::Carry` when the check raced): a lone CPU-bound goroutine per P runs on.
//! 2. Preempted goroutines wait on their own queue (`sched.preemptq`), served oldest first
//!    with the run queue — but first of all once half the budget is in use: resuming them
//!    before starting new goroutines keeps the number of pinned threads down.
//! 3. The P goes to the oldest preempted goroutine's M when that queue has priority (a swap:
//!    the number of pinned threads does not change), else to an idle M while fewer than
//!    `preempt_budget()` Ms (3 × gomaxprocs + 3; `GMP_DEBUG=preemptthreads=N`) hold preempted
//!    goroutines; with neither, the goroutine carries on (`Plan::Skip`) and sysmon asks again
//!    next tick, while the template thread makes a spare M if the budget has room.
//! 4. Starvation: if the oldest preempted goroutine has used 50 ms of CPU in preempted slices
//!    while others wait, the preempted ones are goroutines that do not end, rotating among
//!    themselves; then the budget gives way one M at a time (`SchedLocked::starving`).
//!
//! Total: gomaxprocs running + the budget + sysmon, the template thread and a spare stay
//! within 4 × gomaxprocs + 8 for CPU-bound work (threads for goroutines blocked in the kernel
//! come on top, as in Go). The trade-off: beyond the budget, goroutines are time-sliced only
//! among the budget's worth plus one per P — the others wait their turn in FIFO order (a
//! readied goroutine still gets a P within a slice or two: the budget keeps half its threads
//! for that); and more than about 3 × gomaxprocs goroutines that never end can take turns only
//! by growing the thread count, slowly (rule 4). Go has no such bound because it moves a
//! preempted goroutine to any thread; that would break C code that cached a thread-local
//! address.
//!
//! Rejected: Go's pushCall (no red-zone skip: a red-zone variable was clobbered, and without
//! `ret $128` C code crashed, measured on this machine); FXSAVE (loses AVX-512 upper halves:
//! wrong results, measured); moving the preempted G to another M (breaks C code that cached a
//! thread-local address).

pub(crate) mod asyncpreempt;
pub(crate) mod lockhold;
pub(crate) mod signal;
