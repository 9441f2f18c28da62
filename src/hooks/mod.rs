//! Interposed libc functions: `libgmp.so` exports them under libc's own names, so the dynamic
//! linker binds the program's (and every other library's) calls to them — with `-lgmp` (libgmp
//! comes before libc in the search order) and with `LD_PRELOAD` alike — and each forwards to
//! the real function, found once with `dlsym(RTLD_NEXT)` (`real.rs`).
//!
//! - `pthread.rs`: the pthread mutex, rwlock and spinlock lock/unlock functions, which count
//!   the locks a goroutine holds for lock-holder-aware preemption (preempt/lockhold.rs).
//!
//! Why a folder of its own and not `ffi/`: these are not the C API. They must not appear in
//! `gmp.h` (cbindgen reads only `ffi/`), they keep libc's names and signatures rather than
//! `gmp_*` ones, and `c-tests/check_exports.sh` lists them as INTERPOSED. The rule of `ffi/`
//! holds here too: argument translation only, the work is elsewhere.
//!
//! The runtime itself never needs these functions: its locks are futexes (lock/), Rust's std
//! locks on Linux are futexes too, and glibc calls its internal lock functions directly (so
//! `pthread_create`, `dlsym`, `malloc` never come back here). A call that does arrive from
//! runtime code runs on g0 or a plain thread and is forwarded without counting.

pub(crate) mod pthread;
pub(crate) mod real;
