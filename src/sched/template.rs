//! The template thread (Go's templateThread and newmHandoff): once the runtime runs, the only
//! place Ms are created.
//!
//! Why a thread of its own: `pthread_create` takes glibc's and the loader's locks and
//! allocates; a goroutine preempted while it holds one of those (inside malloc, dlopen, ...)
//! sleeps until some M gives it a P. If the M that has to give it that P were itself blocked
//! creating a thread, the process would stop for good at 0% CPU (measured: sysmon blocked in
//! malloc creating an M while every other M waited for the P it was about to hand out; 6
//! runs in 18 of a malloc storm at 1 P). Here the creator blocks alone: a P never waits for a
//! thread to be made — with no idle M it stays idle with its work on the global queue
//! (proc::startm) — and the preemption path only uses Ms that already exist.
//!
//! What it creates:
//! - on request (`newm_request`): an M for work that found no idle M. The new M looks for
//!   work itself when it starts, under wakep's spinning rules (proc::mstart1), so a request
//!   that went stale costs one idle M;
//! - a spare: while fewer than `thread_budget()` Ms exist it keeps one idle M ready, so that a
//!   preemption — which may not create one — finds one.
//!
//! Running out of threads or memory is never fatal: a failed creation is forgotten (its M
//! record kept for the next try), spares are retried after `RETRY_NS`, and sysmon asks again
//! while runnable work waits beside idle Ps with no M to take them. The work stays queued for
//! the Ms that exist.

use crate::debug::knobs::PREEMPT_THREADS;
use crate::lock::note::Note;
use crate::os;
use crate::sched::m::{self, M};
use crate::sched::sched::SCHED;
use core::sync::atomic::{AtomicU32, Ordering::*};

/// Ms asked for since the template thread last looked (coalesced).
static WANT: AtomicU32 = AtomicU32::new(0);
/// The template thread: 0 = not running, 1 = being created, 2 = running. It is made at start
/// when a thread can be had; if not, the runtime runs on the threads it has, and an M about
/// to go idle — holding no P and no goroutine, so that blocking stalls nothing — tries again
/// when an M is wanted (`ensure`).
static STATE: AtomicU32 = AtomicU32::new(0);
/// Where the template thread sleeps.
static NOTE: Note = Note::new();
/// After a failed creation, spares are not retried for this long.
const RETRY_NS: i64 = 10_000_000;

/// Ms that may hold a preempted goroutine at once (Go has no such bound: it moves preempted
/// goroutines instead; see "The thread budget" in preempt/mod.rs). `GMP_DEBUG=preemptthreads=N`
/// sets it; by default 3 × gomaxprocs + 3.
pub(crate) fn preempt_budget() -> u32 {
    match PREEMPT_THREADS.load(Relaxed) {
        0 => 3 * SCHED.gomaxprocs.load(Relaxed) + 3,
        n => n,
    }
}

/// Ms the runtime keeps for CPU-bound work: one per P, the preemption budget, sysmon, this
/// thread and one spare — 4 × gomaxprocs + 6 by default, which leaves two for Ms that
/// `newm_request` makes while others are still starting, under the 4 × gomaxprocs + 8 the
/// README promises. Threads beyond it are made only for goroutines blocked in the kernel (as
/// Go does), or when preempted goroutines starve the rest.
pub(crate) fn thread_budget() -> u32 {
    SCHED.gomaxprocs.load(Relaxed) + preempt_budget() + 3
}

/// Start the template thread (schedinit, or `ensure`). False if no thread could be had.
pub(crate) fn start() -> bool {
    // Acquire/Release: one creator at a time; the running state publishes nothing else.
    if STATE.compare_exchange(0, 1, Acquire, Relaxed).is_err() {
        return false;
    }
    let ok = m::newm_template();
    STATE.store(if ok { 2 } else { 0 }, Release);
    ok
}

/// An M about to go idle (proc::stopm; it holds no P, no goroutine and no lock): if the
/// template thread could not be made and an M is wanted, try again.
#[inline]
pub(crate) fn ensure() {
    // Not while the runtime starts: schedinit makes sysmon first (a thread limit may leave
    // room for just the first M and sysmon).
    if STATE.load(Relaxed) == 0
        && crate::sched::schedinit::started()
        && (WANT.load(Relaxed) != 0 || spare_wanted())
    {
        start();
    }
}

/// Ms asked for by `newm_request` and not started yet (made, or given up).
static PENDING: AtomicU32 = AtomicU32::new(0);

/// Ask for one more M (no idle M was there for runnable work). Never blocks. Requests beyond
/// one per idle P are dropped: a new M runs only if it finds an idle P, and every spawn or
/// wake-up while Ms are still being created would otherwise ask again.
pub(crate) fn newm_request() {
    let cap = SCHED.idle.npidle().max(1);
    // Relaxed: a count; the Release below publishes the request.
    if PENDING
        .fetch_update(Relaxed, Relaxed, |p| (p < cap).then_some(p + 1))
        .is_err()
    {
        return;
    }
    // Release: pairs with the template thread's Acquire swap (nothing else is published).
    WANT.fetch_add(1, Release);
    NOTE.wake_any();
}

/// A requested M has started (proc::mstart1), or could not be made.
pub(crate) fn request_done(n: u32) {
    let _ = PENDING.fetch_update(Relaxed, Relaxed, |p| Some(p.saturating_sub(n)));
}

/// Wake the template thread for its other chores (cxa.rs: looking for a C++ runtime loaded
/// since). Never blocks.
pub(crate) fn nudge() {
    NOTE.wake_any();
}

/// An idle M was just taken: make a spare if there is room (see thread_budget). Never blocks.
pub(crate) fn spare_check() {
    if spare_wanted() {
        NOTE.wake_any();
    }
}

/// No idle M, and room in the budget — which does not count Ms whose goroutine is blocked in
/// a syscall: those are the threads Go too makes per blocked goroutine.
/// Ms allowed beyond the budget because goroutines on the global run queue went unserved
/// (`grow_for_starving`). Only grows: each step needs `sysmon::STARVE_NS` of starvation.
static EXTRA: AtomicU32 = AtomicU32::new(0);

/// sysmon saw the global run queue's oldest goroutine wait for `STARVE_NS` with no idle M:
/// every M is running a goroutine, pinned by a preempted one, or blocked (a preempted
/// goroutine holding a libc lock others wait for in the kernel) — allow one more spare, so
/// the next preemption can hand a P to the waiting work (preempt/mod.rs, "The thread budget":
/// otherwise the rotation among preempted goroutines can leave fresh ones waiting for good).
pub(crate) fn grow_for_starving() {
    EXTRA.fetch_add(1, Relaxed);
    NOTE.wake_any();
}

fn spare_wanted() -> bool {
    let ms = SCHED
        .mcount
        .load(Relaxed)
        .saturating_sub(SCHED.nmsyscall_hint.load(Relaxed));
    SCHED.nmidle_hint.load(Relaxed) == 0
        && SCHED.mstarting.load(Relaxed) == 0
        && ms < thread_budget() + SCHED.nlong.load(Relaxed) + EXTRA.load(Relaxed)
}

/// The template thread's loop. Never holds a P or a runtime lock across pthread_create.
/// # Safety
/// On the g0 of `_mp`, a template M.
pub(crate) unsafe fn template_thread(_mp: *mut M) -> ! {
    let mut retry_at = 0i64;
    loop {
        crate::sched::cxa::poll();
        let mut want = WANT.swap(0, Acquire);
        if want == 0 && spare_wanted() && os::nanotime() >= retry_at {
            want = 1;
        }
        if want == 0 {
            if retry_at != 0 && spare_wanted() {
                NOTE.tsleep((retry_at - os::nanotime()).max(0));
            } else {
                NOTE.sleep();
            }
            NOTE.clear();
            continue;
        }
        for i in 0..want {
            if !m::newm() {
                // Forget the rest: whoever still needs an M asks again (sysmon does while
                // work waits with idle Ps).
                request_done(want - i);
                retry_at = os::nanotime() + RETRY_NS;
                break;
            }
            retry_at = 0;
        }
    }
}
