//! The environment: `GMP_MAXPROCS`, `GMP_STACK_SIZE` and the `GMP_DEBUG` knobs (GODEBUG's
//! `name=val,name=val` syntax). Read once, by schedinit, before any M exists.
//!
//! An invalid value is never fatal: it prints one line to stderr
//! (`gmp: ignoring GMP_STACK_SIZE=1t: not a size (bytes, with an optional k, m or g suffix)`)
//! and the default applies. Unknown GMP_DEBUG names are reported the same way.

use core::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, Ordering::Relaxed};

/// GMP_DEBUG=schedtrace=MS: milliseconds between summary lines (0 = off).
pub(crate) static SCHEDTRACE_MS: AtomicI64 = AtomicI64::new(0);
/// GMP_DEBUG=scheddetail=1.
pub(crate) static SCHEDDETAIL: AtomicBool = AtomicBool::new(false);
/// GMP_DEBUG=asyncpreemptoff=1.
pub(crate) static ASYNCPREEMPTOFF: AtomicBool = AtomicBool::new(false);
/// GMP_DEBUG=hooks=0: every interposed libc call (src/hooks/) forwards straight to libc.
/// Read by the hooks only once the runtime has started (before, no goroutine exists and the
/// hooks' goroutine paths are never taken), i.e. after parse_gmp_debug wrote it.
pub(crate) static HOOKS_OFF: AtomicBool = AtomicBool::new(false);
/// GMP_DEBUG=preemptthreads=N: Ms that may hold a preempted goroutine at once (0 = the
/// default, see sched/template.rs).
pub(crate) static PREEMPT_THREADS: AtomicU32 = AtomicU32::new(0);
/// GMP_DEBUG=sigquit=1: SIGQUIT dumps every goroutine to stderr, then takes the program's
/// previous disposition (Go's behaviour; off by default, since a C program may use SIGQUIT).
pub(crate) static SIGQUIT_DUMP: AtomicBool = AtomicBool::new(false);
/// GMP_DEBUG=randomsched=1: Go's `randomizeScheduler` (its race-detector builds): runnext is
/// skipped at random and queue overflow batches are shuffled, so tests shake out order
/// assumptions (sched/proc.rs, runqput).
pub(crate) static RANDOMSCHED: AtomicBool = AtomicBool::new(false);

/// A per-run seed for the Ms' fastrand under randomsched (0 otherwise): the kernel's 16
/// random bytes for this exec (AT_RANDOM), so every run shakes differently.
pub(crate) fn random_seed() -> u64 {
    if !RANDOMSCHED.load(Relaxed) {
        return 0;
    }
    // SAFETY: AT_RANDOM, when present, points at 16 bytes the kernel placed on the initial
    // stack for the life of the process; read unaligned.
    unsafe {
        let p = libc::getauxval(libc::AT_RANDOM) as *const u64;
        if p.is_null() {
            0
        } else {
            p.read_unaligned()
        }
    }
}

/// Goroutine stack sizes accepted from GMP_STACK_SIZE and gmp_init.
pub(crate) const MIN_STACK: usize = 16 << 10;
pub(crate) const MAX_STACK: usize = 1 << 30;
/// The default goroutine stack size.
pub(crate) const DEFAULT_STACK: usize = 256 << 10;

/// `what` is `NAME=value`, or `GMP_DEBUG entry name=value`.
fn ignoring(what: &str, why: &str) {
    let line = format!("gmp: ignoring {what}: {why}\n");
    crate::os::write_err(line.as_bytes());
}

/// A byte count with an optional k, m or g suffix (powers of 1024).
pub(crate) fn parse_size(s: &str) -> Option<usize> {
    let s = s.trim();
    let (num, mul) = match s.as_bytes().last()? {
        b'k' | b'K' => (&s[..s.len() - 1], 1usize << 10),
        b'm' | b'M' => (&s[..s.len() - 1], 1 << 20),
        b'g' | b'G' => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    num.trim().parse::<usize>().ok()?.checked_mul(mul)
}

/// GMP_MAXPROCS, if set to a valid number of Ps (1..=max).
pub(crate) fn env_procs(max: u32) -> Option<u32> {
    let v = std::env::var("GMP_MAXPROCS").ok()?;
    match v.trim().parse::<u32>() {
        Ok(n) if (1..=max).contains(&n) => Some(n),
        Ok(_) => {
            ignoring(
                &format!("GMP_MAXPROCS={v}"),
                &format!("out of range (1 to {max})"),
            );
            None
        }
        Err(_) => {
            ignoring(&format!("GMP_MAXPROCS={v}"), "not a number");
            None
        }
    }
}

/// GMP_STACK_SIZE, if set to a valid size.
pub(crate) fn env_stack_size() -> Option<usize> {
    let v = std::env::var("GMP_STACK_SIZE").ok()?;
    match parse_size(&v) {
        Some(n) if (MIN_STACK..=MAX_STACK).contains(&n) => Some(n),
        Some(_) => {
            ignoring(&format!("GMP_STACK_SIZE={v}"), "out of range (16k to 1g)");
            None
        }
        None => {
            ignoring(
                &format!("GMP_STACK_SIZE={v}"),
                "not a size (bytes, with an optional k, m or g suffix)",
            );
            None
        }
    }
}

/// Parse GMP_DEBUG. Relaxed stores: read at start-up, before any thread exists that reads them.
pub(crate) fn parse_gmp_debug() {
    let Ok(s) = std::env::var("GMP_DEBUG") else {
        return;
    };
    for kv in s.split(',').map(str::trim).filter(|kv| !kv.is_empty()) {
        let (k, v) = kv
            .split_once('=')
            .map_or((kv, ""), |(k, v)| (k.trim(), v.trim()));
        let Ok(n) = v.parse::<i64>() else {
            ignoring(&format!("GMP_DEBUG entry {kv}"), "not name=number");
            continue;
        };
        match k {
            "schedtrace" if n >= 0 => SCHEDTRACE_MS.store(n, Relaxed),
            "scheddetail" => SCHEDDETAIL.store(n != 0, Relaxed),
            "asyncpreemptoff" => ASYNCPREEMPTOFF.store(n != 0, Relaxed),
            "hooks" => HOOKS_OFF.store(n == 0, Relaxed),
            "sigquit" => SIGQUIT_DUMP.store(n != 0, Relaxed),
            "randomsched" => RANDOMSCHED.store(n != 0, Relaxed),
            "preemptthreads" if (1..=100_000).contains(&n) => {
                PREEMPT_THREADS.store(n as u32, Relaxed)
            }
            "schedtrace" => ignoring(&format!("GMP_DEBUG entry {kv}"), "negative"),
            "preemptthreads" => ignoring(
                &format!("GMP_DEBUG entry {kv}"),
                "out of range (1 to 100000)",
            ),
            _ => ignoring(
                &format!("GMP_DEBUG entry {kv}"),
                "unknown name (known: schedtrace, scheddetail, asyncpreemptoff, hooks, preemptthreads, sigquit, randomsched)",
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("65536"), Some(65536));
        assert_eq!(parse_size("64k"), Some(64 << 10));
        assert_eq!(parse_size(" 2M "), Some(2 << 20));
        assert_eq!(parse_size("1g"), Some(1 << 30));
        assert_eq!(parse_size("1t"), None);
        assert_eq!(parse_size("k"), None);
        assert_eq!(parse_size(""), None);
        assert_eq!(parse_size("-1k"), None);
        assert_eq!(parse_size("99999999999999999999g"), None);
    }
}
