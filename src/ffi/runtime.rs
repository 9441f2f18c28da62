//! The runtime: start-up, gmp_main, the number of Ps, statistics, and the library version.

use super::goroutine::gmp_fn;
use super::neg;
use crate::debug::knobs::{MAX_STACK, MIN_STACK};
use crate::sched::fork;
use crate::sched::p::MAX_PROCS;
use crate::sched::proc;
use crate::sched::sched::read_stats;
use crate::sched::schedinit::{self, Config};
use libc::{c_int, c_void};

/// The library's version (also `gmp_version()`): major.minor.patch, as in Cargo.toml. The
/// shared library's SONAME is `libgmp.so.<major>`.
pub const GMP_VERSION_MAJOR: u32 = 0;
pub const GMP_VERSION_MINOR: u32 = 1;
pub const GMP_VERSION_PATCH: u32 = 0;
/// (major << 16) | (minor << 8) | patch, the value gmp_version() returns.
pub const GMP_VERSION: u32 =
    (GMP_VERSION_MAJOR << 16) | (GMP_VERSION_MINOR << 8) | GMP_VERSION_PATCH;

/// Runtime settings for gmp_init.
#[repr(C)]
pub struct gmp_config {
    /// Number of Ps (GOMAXPROCS), at most 1024; 0 = GMP_MAXPROCS or the CPU count.
    pub procs: u32,
    /// Default goroutine stack size in bytes, 16 KiB to 1 GiB; 0 = GMP_STACK_SIZE or 256 KiB.
    /// Each stack also reserves a 64 KiB guard region below it (address space only).
    pub stack_size: usize,
}

/// A snapshot of the scheduler (gmp_stats_read).
#[repr(C)]
pub struct gmp_stats {
    /// Live (not yet ended) goroutines.
    pub goroutines: u64,
    /// Ps.
    pub procs: u32,
    /// Ms, sysmon included.
    pub threads: u32,
    /// Ms asleep with nothing to do.
    pub idle_threads: u32,
    /// Ms looking for work.
    pub spinning_threads: u32,
    /// Gs in the global run queue.
    pub global_runq: u64,
    /// Cumulative: goroutines created.
    pub spawned: u64,
    /// Cumulative: Gs started or resumed by schedule().
    pub schedules: u64,
    /// Cumulative: Gs taken from another P's queue.
    pub steals: u64,
    /// Cumulative: gmp_gosched calls in goroutines.
    pub yields: u64,
    /// Cumulative: asynchronous preemptions.
    pub preemptions: u64,
    /// Cumulative: Ps taken from Ms in syscalls.
    pub syscall_retakes: u64,
}

/// The version of the loaded library, as GMP_VERSION encodes it: compare it with the
/// GMP_VERSION the program was compiled with.
#[no_mangle]
pub extern "C" fn gmp_version() -> u32 {
    GMP_VERSION
}

/// Start the runtime with `cfg` (NULL = environment defaults). 0; -EBUSY if already started
/// (settings unchanged); -EINVAL for a bad value; -EAGAIN if no thread could be made; -EPERM in
/// a child of fork() of a process whose runtime had started.
#[no_mangle]
pub unsafe extern "C" fn gmp_init(cfg: *const gmp_config) -> c_int {
    if fork::in_child_checked() {
        return -libc::EPERM;
    }
    // SAFETY: a non-null cfg points at a gmp_config (the caller's contract).
    let cfg = unsafe { cfg.as_ref() };
    if schedinit::start_attempted() {
        return -libc::EBUSY;
    }
    let cfg = match cfg {
        None => None,
        Some(c) if c.procs as usize > MAX_PROCS => return -libc::EINVAL,
        Some(c) if c.stack_size != 0 && !(MIN_STACK..=MAX_STACK).contains(&c.stack_size) => {
            return -libc::EINVAL
        }
        Some(c) => Some(Config {
            procs: c.procs,
            stack_size: c.stack_size,
        }),
    };
    neg(schedinit::schedinit(cfg))
}

/// Run `fn(arg)` as the main goroutine and return 0 when it returns (other goroutines keep
/// running). Thread context only: -EPERM from a goroutine; -EINVAL if `fn` is NULL. May be
/// called again later. If every goroutine is blocked with nothing that could wake one (no
/// syscall in progress, and no thread outside the runtime other than this one has ever called
/// into it), prints `gmp: fatal error: all goroutines are asleep - deadlock!` and returns
/// -EDEADLK. -EPERM in a child of fork().
#[no_mangle]
pub unsafe extern "C" fn gmp_main(f: gmp_fn, arg: *mut c_void) -> c_int {
    if fork::in_child_checked() {
        return -libc::EPERM;
    }
    let Some(f) = f else { return -libc::EINVAL };
    neg(proc::gomain(f, arg))
}

/// GOMAXPROCS: set the number of Ps (n ≥ 1; more than 1024 is taken as 1024) and return the
/// previous number; n < 1 only returns the current number. When shrinking, it returns once no
/// goroutine runs on a surplus P any more (their goroutines are preempted, as Go's stop-the-
/// world does; with GMP_DEBUG=asyncpreemptoff=1 a goroutine that never yields delays it). A P
/// that another call made live again meanwhile is not surplus.
/// -EPERM in a child of fork() (also for n < 1).
#[no_mangle]
pub extern "C" fn gmp_set_procs(n: c_int) -> c_int {
    if fork::in_child_checked() {
        return -libc::EPERM;
    }
    if let Err(e) = schedinit::ensure_started() {
        return -e;
    }
    if n < 1 {
        return schedinit::procs() as c_int;
    }
    match schedinit::gomaxprocs(n as u32) {
        Ok(old) => old as c_int,
        Err(e) => -e,
    }
}

/// A snapshot of the scheduler's counters. -EINVAL for NULL. -EPERM in a child of fork()
/// (`out` is not written: the counters are the parent's, and reading them takes a lock that a
/// thread the child does not have may hold).
#[no_mangle]
pub unsafe extern "C" fn gmp_stats_read(out: *mut gmp_stats) -> c_int {
    if fork::in_child_checked() {
        return -libc::EPERM;
    }
    if out.is_null() {
        return -libc::EINVAL;
    }
    if let Err(e) = schedinit::ensure_started() {
        return -e;
    }
    let s = read_stats();
    let st = gmp_stats {
        goroutines: s.goroutines,
        procs: s.procs,
        threads: s.threads,
        idle_threads: s.idle_threads,
        spinning_threads: s.spinning_threads,
        global_runq: s.global_runq,
        spawned: s.spawned,
        schedules: s.schedules,
        steals: s.steals,
        yields: s.yields,
        preemptions: s.preemptions,
        syscall_retakes: s.syscall_retakes,
    };
    // SAFETY: out is non-null and points at a gmp_stats (the caller's contract).
    unsafe { out.write(st) };
    0
}

#[cfg(test)]
mod tests {
    #[test]
    fn version_matches_cargo() {
        let v = format!(
            "{}.{}.{}",
            super::GMP_VERSION_MAJOR,
            super::GMP_VERSION_MINOR,
            super::GMP_VERSION_PATCH
        );
        assert_eq!(v, env!("CARGO_PKG_VERSION"));
    }
}
