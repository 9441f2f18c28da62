//! The C API (`include/gmp.h` is generated from this file by cbindgen; the doc comments
//! become the header's). Argument checks and translation only: the work is in proc.rs.
//!
//! Every function first finds out where it is called from (`ctx`): a goroutine, the
//! scheduler's own stack (g0: inside a gmp_park unlock function), or a plain thread. Functions
//! that touch a P from a goroutine raise `m.locks` for the duration (`acquirem`), so the
//! asynchronous preemption of the next issue never stops an M inside the runtime; they drop
//! it before any switch.
#![allow(non_camel_case_types)]

use crate::arch::{self, getg};
use crate::g::{self, G};
use crate::m::M;
use crate::p::{bump, MAX_PROCS};
use crate::proc;
use crate::sched::SCHED;
use crate::sys;
use core::ptr::null_mut;
use core::sync::atomic::{AtomicU32, Ordering::*};
use libc::{c_int, c_void};

/// An opaque goroutine.
pub struct gmp_g {
    _private: [u8; 0],
}

/// A goroutine's function.
pub type gmp_fn = Option<unsafe extern "C" fn(arg: *mut c_void)>;

/// gmp_park's unlock function: called on the scheduler's stack once the goroutine has been
/// switched out; returning false resumes the goroutine at once.
pub type gmp_unlock_fn = Option<unsafe extern "C" fn(g: *mut gmp_g, lock: *mut c_void) -> bool>;

/// Runtime settings for gmp_init.
#[repr(C)]
pub struct gmp_config {
    /// Number of Ps (GOMAXPROCS); 0 = GMP_MAXPROCS or the CPU count.
    pub procs: u32,
    /// Default goroutine stack size in bytes; 0 = GMP_STACK_SIZE or 256 KiB.
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

// ---------------------------------------------------------------------------------------------
// Where are we called from?

pub(crate) enum Ctx {
    /// A plain thread (never set up by the runtime, or one that inherited an M's GS base).
    Thread,
    /// A goroutine `gp` running on M `mp`.
    G(*mut M, *mut G),
    /// The scheduler stack of `mp` (a gmp_park unlock function).
    G0(*mut M),
}

/// Classify the calling thread (m::this_m says whether it is an M). Never starts the runtime.
pub(crate) fn ctx() -> Ctx {
    let Some(mp) = crate::m::this_m() else { return Ctx::Thread };
    let gp = getg();
    // SAFETY: mp is this thread's M (never freed).
    if gp == unsafe { (*mp).g0 } {
        Ctx::G0(mp)
    } else {
        Ctx::G(mp, gp)
    }
}

#[inline]
fn acquirem(mp: *mut M) {
    // SAFETY: mp is the calling thread's M. Relaxed: only this thread and its own signal
    // handler read the counter, and a signal sees program order.
    unsafe { (*mp).locks.fetch_add(1, Relaxed) };
}

#[inline]
fn releasem(mp: *mut M) {
    // SAFETY: as acquirem.
    unsafe { (*mp).locks.fetch_sub(1, Relaxed) };
}

// ---------------------------------------------------------------------------------------------
// Start-up

const NOT_STARTED: u32 = 0;
const STARTING: u32 = 1;
const STARTED: u32 = 2;
/// Acquire loads pair with the Release store of STARTED: the settings and Ps are visible.
static STATE: AtomicU32 = AtomicU32::new(NOT_STARTED);

const MIN_STACK: usize = 16 << 10;
const MAX_STACK: usize = 1 << 30;

fn parse_size(s: &str) -> Option<usize> {
    let s = s.trim();
    let (num, mul) = match s.as_bytes().last()? {
        b'k' | b'K' => (&s[..s.len() - 1], 1usize << 10),
        b'm' | b'M' => (&s[..s.len() - 1], 1 << 20),
        _ => (s, 1),
    };
    num.trim().parse::<usize>().ok()?.checked_mul(mul)
}

fn ncpu() -> u32 {
    // SAFETY: set is a valid out-parameter of the right size.
    unsafe {
        let mut set: libc::cpu_set_t = core::mem::zeroed();
        if libc::sched_getaffinity(0, core::mem::size_of::<libc::cpu_set_t>(), &mut set) == 0 {
            return (libc::CPU_COUNT(&set) as u32).max(1);
        }
    }
    1
}

/// Start the runtime once. `Err(-EBUSY)` if it was already started (by another caller: when
/// `explicit`), `Err(-EAGAIN)` if no thread could be made.
fn start(cfg: Option<&gmp_config>, explicit: bool) -> Result<(), c_int> {
    loop {
        match STATE.compare_exchange(NOT_STARTED, STARTING, Acquire, Acquire) {
            Ok(_) => break,
            Err(STARTED) => return if explicit { Err(-libc::EBUSY) } else { Ok(()) },
            Err(_) => sys::osyield(), // another thread is starting it
        }
    }
    let mut procs = cfg.map_or(0, |c| c.procs);
    if procs == 0 {
        procs = std::env::var("GMP_MAXPROCS").ok().and_then(|v| v.trim().parse().ok()).unwrap_or(0);
    }
    if procs == 0 {
        procs = ncpu();
    }
    let procs = procs.min(MAX_PROCS as u32);
    let mut stack = cfg.map_or(0, |c| c.stack_size);
    if stack == 0 {
        stack = std::env::var("GMP_STACK_SIZE")
            .ok()
            .and_then(|v| parse_size(&v))
            .filter(|&n| (MIN_STACK..=MAX_STACK).contains(&n))
            .unwrap_or(256 << 10);
    }
    stack = (stack + crate::stack::PAGE - 1) & !(crate::stack::PAGE - 1);
    SCHED.stack_size.store(stack, Relaxed);
    if let Ok(d) = std::env::var("GMP_DEBUG") {
        crate::debug::parse_gmp_debug(&d);
    }
    // SAFETY: no M exists yet.
    unsafe { SCHED.save_sigmask() };
    let now = sys::nanotime();
    SCHED.start_time.store(now, Relaxed);
    SCHED.now.store(now, Relaxed);
    SCHED.locked().procresize(procs);
    crate::preempt::init();
    crate::signal::init();
    // One idle M from the start, so the first goroutine never waits on thread creation; and
    // sysmon.
    if !crate::m::newm(null_mut(), false) || !crate::m::newm_sysmon() {
        STATE.store(NOT_STARTED, Release);
        return Err(-libc::EAGAIN);
    }
    STATE.store(STARTED, Release);
    Ok(())
}

#[inline]
fn ensure_started() -> Result<(), c_int> {
    if STATE.load(Acquire) == STARTED {
        return Ok(());
    }
    start(None, false)
}

// ---------------------------------------------------------------------------------------------
// Lifecycle

/// Start the runtime with `cfg` (NULL = environment defaults). 0; -EBUSY if already started
/// (settings unchanged); -EINVAL for a bad value.
#[no_mangle]
pub unsafe extern "C" fn gmp_init(cfg: *const gmp_config) -> c_int {
    // SAFETY: a non-null cfg points at a gmp_config (the caller's contract).
    let cfg = unsafe { cfg.as_ref() };
    if STATE.load(Acquire) != NOT_STARTED {
        return -libc::EBUSY;
    }
    if let Some(c) = cfg {
        if c.procs as usize > MAX_PROCS || (c.stack_size != 0 && !(MIN_STACK..=MAX_STACK).contains(&c.stack_size)) {
            return -libc::EINVAL;
        }
    }
    match start(cfg, true) {
        Ok(()) => 0,
        Err(e) => e,
    }
}

struct MainArgs {
    f: unsafe extern "C" fn(*mut c_void),
    arg: *mut c_void,
}

/// Run `fn(arg)` as the main goroutine and return 0 when it returns (other goroutines keep
/// running). Thread context only: -EPERM from a goroutine; -EINVAL if `fn` is NULL. May be
/// called again later. If every goroutine is blocked with nothing that could wake one (no
/// syscall in progress, and no thread outside the runtime other than this one has ever called
/// into it), prints `gmp: fatal error: all goroutines are asleep - deadlock!` and returns
/// -EDEADLK.
#[no_mangle]
pub unsafe extern "C" fn gmp_main(f: gmp_fn, arg: *mut c_void) -> c_int {
    let Some(f) = f else { return -libc::EINVAL };
    if !matches!(ctx(), Ctx::Thread) {
        return -libc::EPERM;
    }
    if let Err(e) = ensure_started() {
        return e;
    }
    let done = AtomicU32::new(0);
    let args = MainArgs { f, arg };
    unsafe extern "C" fn main_trampoline(a: *mut c_void) {
        // SAFETY: a points at gmp_main's MainArgs, alive until the main goroutine is done.
        let a = unsafe { &*(a as *const MainArgs) };
        // SAFETY: calling the user's function with the user's argument.
        unsafe { (a.f)(a.arg) };
    }
    // SAFETY: thread context: no P is owned, so pass null.
    let Some(gp) = (unsafe { proc::newproc1(null_mut(), main_trampoline as *const () as usize, &args as *const _ as usize, &done) })
    else {
        return -libc::ENOMEM;
    };
    SCHED.note_external_caller();
    proc::inject(gp);
    // Registered after the main G is queued: checkdead then sees it as runnable, not dead.
    if !SCHED.ext_many.load(Relaxed) {
        SCHED.main_done.store(&done as *const AtomicU32 as *mut AtomicU32, Release);
        // Every M may have gone idle before the registration (checkdead runs as an M goes
        // idle): check once now.
        proc::checkdead(&mut SCHED.locked());
    }
    // Acquire pairs with goexit0's (1 = done) and checkdead's (2 = deadlock) Release stores.
    loop {
        match done.load(Acquire) {
            0 => sys::futex_wait(&done, 0, -1),
            1 => break,
            _ => {
                sys::write_err(b"gmp: fatal error: all goroutines are asleep - deadlock!\n");
                return -libc::EDEADLK;
            }
        }
    }
    let _ = SCHED.main_done.compare_exchange(&done as *const AtomicU32 as *mut AtomicU32, null_mut(), AcqRel, Relaxed);
    0
}

// ---------------------------------------------------------------------------------------------
// Goroutines

/// `go fn(arg)`. Returns the new goroutine's id (> 0, unique for the life of the process);
/// -EINVAL if `fn` is NULL; -ENOMEM/-EAGAIN when no stack or thread can be had. Any context.
/// The goroutine ends when `fn` returns.
#[no_mangle]
pub unsafe extern "C" fn gmp_spawn(f: gmp_fn, arg: *mut c_void) -> i64 {
    let Some(f) = f else { return -libc::EINVAL as i64 };
    if let Err(e) = ensure_started() {
        return e as i64;
    }
    let c = ctx();
    let (mp, pp) = match c {
        // SAFETY: mp is this thread's M.
        Ctx::G(mp, _) | Ctx::G0(mp) if !unsafe { (*mp).p }.is_null() => (mp, unsafe { (*mp).p }),
        _ => (null_mut(), null_mut()),
    };
    if pp.is_null() {
        if matches!(c, Ctx::Thread) {
            SCHED.note_external_caller();
        }
        // SAFETY: no P is owned in thread context.
        return match unsafe { proc::newproc1(null_mut(), f as usize, arg as usize, core::ptr::null()) } {
            Some(gp) => {
                // SAFETY: gp is ours until queued.
                let id = unsafe { (*gp).goid };
                proc::inject(gp);
                id
            }
            None => -libc::ENOMEM as i64,
        };
    }
    acquirem(mp);
    // SAFETY: with m.locks raised, mp keeps its P for the duration; we own it.
    let r = unsafe {
        match proc::newproc1(pp, f as usize, arg as usize, core::ptr::null()) {
            Some(gp) => {
                let id = (*gp).goid;
                proc::runqput(pp, gp, true);
                proc::wakep();
                id
            }
            None => -libc::ENOMEM as i64,
        }
    };
    releasem(mp);
    r
}

/// Yield the processor (runtime.Gosched): the goroutine goes to the global run queue. In
/// thread context: sched_yield().
#[no_mangle]
pub extern "C" fn gmp_gosched() {
    match ctx() {
        Ctx::G(mp, _) => {
            // SAFETY: mp is our M and holds a P while a goroutine runs; mcall saves us and
            // gosched_m never returns to this frame until we are rescheduled.
            unsafe {
                bump(&(*(*mp).p).stats.yields, 1);
                arch::gmp_mcall(proc::gosched_m);
            }
        }
        _ => sys::osyield(),
    }
}

/// End the calling goroutine now (runtime.Goexit); does not return in goroutine context;
/// -EPERM in thread context.
#[no_mangle]
pub extern "C" fn gmp_exit() -> c_int {
    match ctx() {
        Ctx::G(..) => {
            // SAFETY: goexit0 ends this goroutine; nothing on its stack is used again.
            unsafe { arch::gmp_mcall(proc::goexit0) };
            throw!("gmp_exit: goexit0 returned")
        }
        _ => -libc::EPERM,
    }
}

/// The calling goroutine; NULL in thread context.
#[no_mangle]
pub extern "C" fn gmp_self() -> *mut gmp_g {
    match ctx() {
        Ctx::G(_, gp) => gp as *mut gmp_g,
        _ => null_mut(),
    }
}

/// Id of `g` (NULL = the calling goroutine); 0 for NULL in thread context.
#[no_mangle]
pub unsafe extern "C" fn gmp_goid(g: *const gmp_g) -> i64 {
    let gp = if g.is_null() {
        match ctx() {
            Ctx::G(_, gp) => gp,
            _ => return 0,
        }
    } else {
        g as *mut G
    };
    // SAFETY: a non-null g is a goroutine handle from this runtime (Gs are never freed).
    unsafe { (*gp).goid }
}

// ---------------------------------------------------------------------------------------------
// Park and ready

/// Block the calling goroutine. Once it has been switched out, the runtime calls
/// `unlockf(g, lock)` on the scheduler's stack (if `unlockf` is not NULL); if that returns
/// false the goroutine resumes at once. Returns 0 after it has been readied (or after
/// `unlockf` returned false); -EPERM in thread context. `unlockf` must not block, park or call
/// gmp_* functions other than gmp_ready. Publishing `g` to a waker inside `unlockf` (e.g.
/// releasing the lock that guards a wait list) is how a wake-up can never be lost.
#[no_mangle]
pub unsafe extern "C" fn gmp_park(unlockf: gmp_unlock_fn, lock: *mut c_void) -> c_int {
    match ctx() {
        Ctx::G(mp, _) => {
            // SAFETY: mp is our M; park_m reads these on this M's g0 right after the switch.
            unsafe {
                (*mp).waitunlockf = unlockf;
                (*mp).waitlock = lock;
                arch::gmp_mcall(proc::park_m);
            }
            0
        }
        _ => -libc::EPERM,
    }
}

/// Make a goroutine that is parked in gmp_park runnable; called from a goroutine it runs next
/// on the caller's processor. 0; -EINVAL if `g` is NULL or not parked. Any context.
#[no_mangle]
pub unsafe extern "C" fn gmp_ready(g: *mut gmp_g) -> c_int {
    let gp = g as *mut G;
    if gp.is_null() || STATE.load(Acquire) != STARTED {
        return -libc::EINVAL;
    }
    // Exactly one caller wins WAITING -> RUNNABLE and owns the G (see g.rs).
    // SAFETY: gp is a goroutine handle from this runtime (Gs are never freed).
    if unsafe { &(*gp).status }.compare_exchange(g::WAITING, g::RUNNABLE, AcqRel, Relaxed).is_err() {
        return -libc::EINVAL;
    }
    let c = ctx();
    match c {
        // SAFETY: reading our own M's P.
        Ctx::G(mp, _) | Ctx::G0(mp) if !unsafe { (*mp).p }.is_null() => {
            acquirem(mp);
            // SAFETY: with m.locks raised we keep our P; we own gp.
            unsafe {
                proc::runqput((*mp).p, gp, true);
            }
            proc::wakep();
            releasem(mp);
        }
        _ => {
            if matches!(c, Ctx::Thread) {
                SCHED.note_external_caller();
            }
            proc::inject(gp)
        }
    }
    0
}

// ---------------------------------------------------------------------------------------------
// Blocking outside the scheduler

/// Bracket a call that may block in the kernel: meanwhile the processor may be handed to
/// another thread (after ~20 µs). No-op in thread context. Must be paired with
/// gmp_exitsyscall on the same goroutine, not nested.
#[no_mangle]
pub extern "C" fn gmp_entersyscall() {
    if let Ctx::G(mp, gp) = ctx() {
        // SAFETY: gp is the running goroutine on mp.
        if unsafe { (*gp).status.load(Relaxed) } != g::RUNNING {
            return; // nested: ignore
        }
        acquirem(mp);
        // SAFETY: with m.locks raised we own mp.p for the duration.
        unsafe { crate::syscall::entersyscall(mp, gp) };
        releasem(mp);
    }
}

/// End a gmp_entersyscall bracket: get a processor back (waiting for one if need be). No-op
/// in thread context.
#[no_mangle]
pub extern "C" fn gmp_exitsyscall() {
    if let Ctx::G(mp, gp) = ctx() {
        // SAFETY: gp is the running goroutine on mp.
        if unsafe { (*gp).status.load(Relaxed) } != g::SYSCALL {
            return; // not in a bracket: ignore
        }
        // SAFETY: gp is in SYSCALL on mp.
        unsafe { crate::syscall::exitsyscall(mp, gp) };
    }
}

// ---------------------------------------------------------------------------------------------
// Threads and processors

/// LockOSThread: while locked (calls nest and are counted) the goroutine runs only on its
/// current thread and that thread runs nothing else. 0; -EPERM in thread context.
#[no_mangle]
pub extern "C" fn gmp_lock_thread() -> c_int {
    match ctx() {
        Ctx::G(mp, gp) => {
            // SAFETY: gp is the running goroutine and mp its M; both fields are written only by
            // the goroutine itself while running.
            unsafe {
                (*gp).lock_depth += 1;
                (*gp).lockedm = mp;
                (*mp).lockedg = gp;
            }
            0
        }
        _ => -libc::EPERM,
    }
}

/// UnlockOSThread: undo one gmp_lock_thread. 0; -EPERM in thread context; -EINVAL without a
/// matching lock.
#[no_mangle]
pub extern "C" fn gmp_unlock_thread() -> c_int {
    match ctx() {
        Ctx::G(mp, gp) => {
            // SAFETY: as gmp_lock_thread.
            unsafe {
                if (*gp).lock_depth == 0 {
                    return -libc::EINVAL;
                }
                (*gp).lock_depth -= 1;
                if (*gp).lock_depth == 0 {
                    (*gp).lockedm = null_mut();
                    (*mp).lockedg = null_mut();
                }
            }
            0
        }
        _ => -libc::EPERM,
    }
}

/// GOMAXPROCS: set the number of Ps (n ≥ 1; more than 1024 is taken as 1024) and return the
/// previous number; n < 1 only returns the current number. When shrinking, it returns once no
/// goroutine runs on a surplus P any more (their goroutines are preempted, as Go's stop-the-
/// world does; with GMP_DEBUG=asyncpreemptoff=1 a goroutine that never yields delays it).
#[no_mangle]
pub extern "C" fn gmp_set_procs(n: c_int) -> c_int {
    if let Err(e) = ensure_started() {
        return e;
    }
    if n < 1 {
        return SCHED.gomaxprocs.load(Relaxed) as c_int;
    }
    let n = (n as usize).min(MAX_PROCS) as u32;
    let old = SCHED.locked().procresize(n);
    // New Ps may have work waiting in the global queue.
    for _ in old..n {
        proc::wakep();
    }
    if n < old {
        wait_retired(n);
    }
    old as c_int
}

/// Wait until no P with id ≥ n runs a goroutine: each retires at its M's next schedule point,
/// which preemption brings about. A P in a syscall runs no goroutine code of ours; sysmon or
/// exitsyscall retires it later.
fn wait_retired(n: u32) {
    loop {
        let mut busy = false;
        for i in n..SCHED.nallp.load(Acquire) {
            let pp = SCHED.p(i);
            // SAFETY: Ps are never freed; status is atomic.
            if unsafe { (*pp).status.load(Acquire) } == crate::p::RUNNING {
                busy = true;
                crate::sysmon::preemptone(pp);
            }
        }
        if !busy {
            return;
        }
        match ctx() {
            // Our own P may be one of them: yielding retires it.
            Ctx::G(..) => gmp_gosched(),
            _ => sys::usleep(50),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Introspection

/// A snapshot of the scheduler's counters. -EINVAL for NULL.
#[no_mangle]
pub unsafe extern "C" fn gmp_stats_read(out: *mut gmp_stats) -> c_int {
    if out.is_null() {
        return -libc::EINVAL;
    }
    if let Err(e) = ensure_started() {
        return e;
    }
    let mut st = gmp_stats {
        goroutines: 0,
        procs: SCHED.gomaxprocs.load(Relaxed),
        threads: SCHED.mcount.load(Relaxed),
        idle_threads: SCHED.locked().nmidle,
        spinning_threads: SCHED.nmspinning.load(Relaxed),
        global_runq: SCHED.runqsize.load(Relaxed),
        spawned: SCHED.spawned_nop.load(Relaxed),
        schedules: 0,
        steals: 0,
        yields: 0,
        preemptions: SCHED.preemptions.load(Relaxed),
        syscall_retakes: SCHED.syscall_retakes.load(Relaxed),
    };
    let mut ended = 0u64;
    for i in 0..SCHED.nallp.load(Acquire) {
        // SAFETY: Ps below nallp are live forever; the counters are atomics.
        let s = unsafe { &(*SCHED.p(i)).stats };
        st.spawned += s.spawned.load(Relaxed);
        ended += s.ended.load(Relaxed);
        st.schedules += s.schedules.load(Relaxed);
        st.steals += s.steals.load(Relaxed);
        st.yields += s.yields.load(Relaxed);
    }
    st.goroutines = st.spawned.saturating_sub(ended);
    // SAFETY: out is non-null and points at a gmp_stats (the caller's contract).
    unsafe { out.write(st) };
    0
}
