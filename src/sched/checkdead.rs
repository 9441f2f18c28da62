//! checkdead: Go's deadlock detection, and the wait of gmp_main that it fails.
//!
//! # When is the program dead?
//! When no M is running goroutine code — every M idle, idle-locked or sysmon, none in a
//! syscall — nothing is runnable, a gmp_main is waiting, and no second plain thread has ever
//! called into the runtime (api.md: a thread outside the runtime could wake a goroutine).
//!
//! Protocol:
//! 1. `checkdead` runs under sched.lock whenever an M goes idle. If the program looks dead it
//!    records the moment (`sched.dead_since`) and wakes sysmon.
//! 2. sysmon's `confirm_dead` declares the deadlock only if the state still holds
//!    `DEADLOCK_GRACE_NS` later: a thread that a goroutine has just created and that is about to
//!    call gmp_ready has not called in yet, so "has ever called" cannot see it in time. Any M
//!    waking in between breaks the state; when it is reached again the moment is recorded
//!    afresh.
//! 3. The main goroutine's `MainWait` moves once, Running -> Done (goexit0) or Running ->
//!    Deadlock (confirm_dead): a CAS, so exactly one report wins. confirm_dead touches the wait
//!    only under sched.lock while it is registered, and gmp_main unregisters it under
//!    sched.lock before returning, so the wait (on gmp_main's stack) outlives every use.

use crate::os;
use crate::sched::sched::{SchedLocked, SCHED};
use core::ptr::null_mut;
use core::sync::atomic::{AtomicU32, Ordering::*};

/// How long every goroutine must stay asleep before gmp_main reports a deadlock.
pub(crate) const DEADLOCK_GRACE_NS: i64 = 100_000_000;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u32)]
pub(crate) enum MainState {
    /// The main goroutine runs (or waits).
    Running = 0,
    /// It returned: set by goexit0.
    Done = 1,
    /// Every goroutine is asleep for good: set by confirm_dead.
    Deadlock = 2,
}

/// What gmp_main waits on (a futex word holding a `MainState`).
pub(crate) struct MainWait {
    /// Release CAS by the reporter pairs with the Acquire load in `wait`: the main goroutine's
    /// effects are visible when gmp_main returns.
    word: AtomicU32,
}

impl MainWait {
    pub(crate) const fn new() -> Self {
        MainWait {
            word: AtomicU32::new(MainState::Running as u32),
        }
    }

    /// Move Running -> `to` and wake gmp_main; false if another report won.
    fn report(&self, to: MainState) -> bool {
        let won = self
            .word
            .compare_exchange(MainState::Running as u32, to as u32, Release, Relaxed)
            .is_ok();
        if won {
            os::futex_wake(&self.word, 1);
        }
        won
    }

    /// goexit0 of the main goroutine.
    pub(crate) fn done(&self) {
        self.report(MainState::Done);
    }

    fn running(&self) -> bool {
        self.word.load(Relaxed) == MainState::Running as u32
    }

    /// gmp_main: sleep until reported.
    pub(crate) fn wait(&self) -> MainState {
        loop {
            match self.word.load(Acquire) {
                0 => os::futex_wait(&self.word, 0, -1),
                1 => return MainState::Done,
                _ => return MainState::Deadlock,
            }
        }
    }

    /// Let checkdead fail this wait (gmp_main, after queueing the main goroutine).
    pub(crate) fn register(&self) {
        let mut s = SCHED.locked();
        SCHED
            .main_wait
            .store(self as *const MainWait as *mut MainWait, Release);
        // Every M may have gone idle before the registration: check once now.
        checkdead(&mut s);
    }

    /// Withdraw from checkdead (gmp_main, before returning).
    pub(crate) fn unregister(&self) {
        let _s = SCHED.locked();
        let _ = SCHED.main_wait.compare_exchange(
            self as *const MainWait as *mut MainWait,
            null_mut(),
            AcqRel,
            Relaxed,
        );
    }
}

/// checkdead (Go's): called under sched.lock as an M goes idle. See the module note.
pub(crate) fn checkdead(s: &mut SchedLocked) {
    if is_dead(s) {
        SCHED.dead_since.store(os::nanotime(), Relaxed);
        SCHED.sysmon_note.wake_any();
    }
}

/// sysmon's half of checkdead: report the deadlock if it has lasted the grace period.
pub(crate) fn confirm_dead(now: i64) {
    let since = SCHED.dead_since.load(Relaxed);
    if since == 0 || now - since < DEADLOCK_GRACE_NS {
        return;
    }
    let s = SCHED.locked();
    if !is_dead(&s) {
        SCHED.dead_since.store(0, Relaxed);
        return;
    }
    if SCHED.dead_since.load(Relaxed) != since {
        return; // re-established meanwhile: wait for its own grace period
    }
    SCHED.dead_since.store(0, Relaxed);
    let mw = SCHED.main_wait.load(Acquire);
    // SAFETY: registered (non-null) under sched.lock, which we hold: gmp_main cannot
    // unregister and return meanwhile.
    unsafe { (*mw).report(MainState::Deadlock) };
    drop(s);
}

/// Every M asleep, nothing runnable, a gmp_main waiting, no second outside thread.
fn is_dead(s: &SchedLocked) -> bool {
    let mw = SCHED.main_wait.load(Acquire);
    // SAFETY: a registered wait is alive while registered (we hold sched.lock).
    if SCHED.ext_many.load(Relaxed) || mw.is_null() || !unsafe { (*mw).running() } {
        return false;
    }
    let run = SCHED.mcount.load(Relaxed) as i64
        - s.nmidle as i64
        - s.nmidlelocked as i64
        - SCHED.nmsys.load(Relaxed) as i64;
    if run != 0 || s.runq_len() != 0 {
        return false;
    }
    // SAFETY: Ps below nallp are live forever.
    (0..SCHED.nallp.load(Acquire)).all(|i| unsafe { (*SCHED.p(i)).runq.is_empty() })
}
