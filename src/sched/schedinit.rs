//! schedinit: starting the runtime (once, on the first call that needs it, or by gmp_init),
//! and changing the number of Ps afterwards (Go's GOMAXPROCS).
//!
//! Start-up, in order: settings (explicit, else the environment, else defaults: see
//! debug/knobs.rs), the signal mask new Ms inherit, the Ps (procresize), preemption and signal
//! handlers, the C++ runtime's `__cxa_get_globals` (cxa.rs), then one idle M (so the first
//! goroutine never waits on thread creation) and sysmon. Concurrent first callers wait for the
//! one that starts it. The pthread_atfork handler that tells a child of fork it has no
//! runtime goes in first (sched/fork.rs).

use crate::debug::knobs;
use crate::os;
use crate::os::stack::PAGE;
use crate::sched::fork;
use crate::sched::m::{self, ctx, Ctx};
use crate::sched::p::{PStatus, MAX_PROCS};
use crate::sched::proc;
use crate::sched::sched::SCHED;
use crate::sched::syscall::{enter, leave};
use core::sync::atomic::{AtomicU32, Ordering::*};

/// Explicit settings (gmp_init); 0 = from the environment, else the default.
#[derive(Clone, Copy, Default)]
pub(crate) struct Config {
    pub procs: u32,
    pub stack_size: usize,
}

#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
enum State {
    NotStarted = 0,
    Starting = 1,
    Started = 2,
}

/// Acquire loads pair with the Release store of Started: the settings and Ps are visible.
static STATE: AtomicU32 = AtomicU32::new(State::NotStarted as u32);

pub(crate) fn started() -> bool {
    STATE.load(Acquire) == State::Started as u32
}

/// Whether `schedinit` ran (or is running): gmp_init's -EBUSY.
pub(crate) fn start_attempted() -> bool {
    STATE.load(Acquire) != State::NotStarted as u32
}

/// Start the runtime if nobody has; `Err(EAGAIN)` if no thread could be made.
#[inline]
pub(crate) fn ensure_started() -> Result<(), i32> {
    if started() {
        return Ok(());
    }
    schedinit(None).or_else(|e| if e == libc::EBUSY { Ok(()) } else { Err(e) })
}

pub(crate) fn ncpu() -> u32 {
    // SAFETY: set is a valid out-parameter of the right size.
    unsafe {
        let mut set: libc::cpu_set_t = core::mem::zeroed();
        if libc::sched_getaffinity(0, core::mem::size_of::<libc::cpu_set_t>(), &mut set) == 0 {
            return (libc::CPU_COUNT(&set) as u32).clamp(1, MAX_PROCS as u32);
        }
    }
    1
}

/// schedinit: start the runtime once. `Err(EBUSY)` if it was already started (or is being
/// started by another caller, which this one waits for), `Err(EAGAIN)` if no thread could be
/// made (the runtime is then not started).
pub(crate) fn schedinit(cfg: Option<Config>) -> Result<(), i32> {
    // Before the state can leave NotStarted: a child forked from here on knows it is one.
    fork::register();
    loop {
        match STATE.compare_exchange(
            State::NotStarted as u32,
            State::Starting as u32,
            Acquire,
            Acquire,
        ) {
            Ok(_) => break,
            Err(s) if s == State::Started as u32 => return Err(libc::EBUSY),
            // A child forked while another thread was starting the runtime waits for nobody.
            Err(_) if fork::in_child_checked() => return Err(libc::EPERM),
            Err(_) => os::osyield(), // another thread is starting it
        }
    }
    fork::set_runtime_pid();
    let cfg = cfg.unwrap_or_default();
    let procs = match cfg.procs {
        0 => knobs::env_procs(MAX_PROCS as u32).unwrap_or_else(ncpu),
        n => n,
    };
    let stack = match cfg.stack_size {
        0 => knobs::env_stack_size().unwrap_or(knobs::DEFAULT_STACK),
        n => n,
    };
    SCHED
        .stack_size
        .store((stack + PAGE - 1) & !(PAGE - 1), Relaxed);
    knobs::parse_gmp_debug();
    // SAFETY: no M exists yet.
    unsafe { SCHED.save_sigmask() };
    let now = os::nanotime();
    SCHED.start_time.store(now, Relaxed);
    SCHED.now.store(now, Relaxed);
    if let Err(e) = crate::sched::sched::allocp(procs) {
        STATE.store(State::NotStarted as u32, Release);
        return Err(e);
    }
    SCHED.locked().procresize(procs);
    crate::preempt::asyncpreempt::init();
    crate::preempt::signal::init();
    crate::sched::cxa::init();
    // The template thread makes every later M (template.rs); the first one is made here so
    // the first goroutine never waits for it. The runtime runs on these two alone if need be
    // (the template thread is retried later: template::ensure).
    if !m::newm() || !m::newm_sysmon() {
        STATE.store(State::NotStarted as u32, Release);
        return Err(libc::EAGAIN);
    }
    crate::sched::template::start();
    STATE.store(State::Started as u32, Release);
    Ok(())
}

/// The number of Ps now.
pub(crate) fn procs() -> u32 {
    SCHED.gomaxprocs.load(Relaxed)
}

/// GOMAXPROCS: set the number of Ps to `n` (≥ 1, capped at MAX_PROCS) and return the previous
/// number. When shrinking, returns once no goroutine runs on a surplus P any more.
pub(crate) fn gomaxprocs(n: u32) -> Result<u32, i32> {
    ensure_started()?;
    let n = n.clamp(1, MAX_PROCS as u32);
    crate::sched::sched::allocp(n)?;
    // A goroutine does this inside the runtime: no preemption until done (the lock rule covers
    // sched.lock; this covers the rest).
    let c = enter();
    let old = SCHED.locked().procresize(n);
    // New Ps may have work waiting in the global queue: one spinning M looks, and wakes more
    // as it finds work (Go's startTheWorld).
    if n > old {
        proc::wakep();
    }
    leave(c);
    if n < old {
        wait_retired(n);
    }
    Ok(old)
}

/// Wait until no P with id ≥ n runs a goroutine: each retires at its M's next schedule point,
/// which preemption brings about. A P in a syscall runs no goroutine code of ours; sysmon or
/// exitsyscall retires it later.
///
/// Only Ps that are still surplus count: if another gmp_set_procs raised the count again
/// meanwhile, the Ps below the new count are live and may run goroutines for good — the
/// caller's own among them (found by t_storm: two goroutine setters, each on a P the other's
/// later call had revived, waited for each other's P forever).
fn wait_retired(n: u32) {
    loop {
        let mut busy = false;
        // Relaxed: re-read every round; a stale count costs at most one more round.
        let from = n.max(SCHED.gomaxprocs.load(Relaxed));
        for i in from..SCHED.nallp.load(Acquire) {
            let pp = SCHED.p(i);
            // sysmon preempts it (or retakes it if its thread sleeps in the kernel): it
            // signals only threads that execute code (no EINTR for a goroutine in poll).
            // SAFETY: Ps are never freed; status is atomic.
            if unsafe { (*pp).status.load(Acquire) } == PStatus::Running {
                busy = true;
            }
        }
        if !busy {
            return;
        }
        match ctx() {
            // Our own P may be one of them: yielding retires it.
            Ctx::G(..) => proc::gosched(),
            _ => os::usleep(50),
        }
    }
}
