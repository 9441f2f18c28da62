//! Timers (Go 1.23's time.go): per-P heaps (heap.rs) of timers that each have their own lock
//! (timer.rs), with lazy removal and modification, and an atomic "when is the next one" per P
//! that the scheduler reads without locking.
//!
//! Who runs them: the P's own M at each schedule (find_runnable, before looking for work);
//! an M that finds no work runs other Ps' due timers (their Ms may be busy for a whole time
//! slice); the one M that blocks in the network poller sleeps only until the earliest timer
//! of any P (netpoll/); sysmon runs timers that are late (every M busy in long slices). A
//! timer's function readies its goroutine on the P that ran it (runnext), so a sleeper
//! wakes promptly even beside busy goroutines. An idle runtime with no timers sleeps without
//! a deadline: it uses no CPU.
//!
//! A goroutine's sleep (`sleep_until`) is Go's timeSleep: the G's own timer, armed in the
//! park callback (`reset_for_sleep`) so it cannot fire before the goroutine has parked.

pub(crate) mod heap;
pub(crate) mod timer;

use crate::os;
use crate::sched::g::{GStatus, G};
use crate::sched::m::{ctx, Ctx};
use core::ffi::c_void;
use core::sync::atomic::Ordering::*;

/// An absolute point on the monotonic clock (`os::nanotime`), or never.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub(crate) struct Deadline(pub i64);

impl Deadline {
    pub(crate) const NEVER: Deadline = Deadline(i64::MAX);

    /// `ns` from now (saturating; `ns < 0` means never).
    pub(crate) fn after(ns: i64) -> Deadline {
        if ns < 0 {
            Deadline::NEVER
        } else {
            Deadline(os::nanotime().saturating_add(ns))
        }
    }

    pub(crate) fn passed(self) -> bool {
        self != Deadline::NEVER && os::nanotime() >= self.0
    }

    /// Nanoseconds left (0 once passed; i64::MAX for never).
    pub(crate) fn remaining(self) -> i64 {
        if self == Deadline::NEVER {
            i64::MAX
        } else {
            (self.0 - os::nanotime()).max(0)
        }
    }
}

/// Park the calling goroutine until `d` (gmp_sleep, the sleep hooks). `Err(EPERM)` when the
/// caller is not a goroutine that may park (the caller then sleeps its thread).
pub(crate) fn sleep_until(d: Deadline) -> Result<(), i32> {
    let gp = match ctx() {
        // SAFETY: our own G's status.
        Ctx::G(_, gp) if unsafe { (*gp).status.load(Relaxed) } == GStatus::Running => gp,
        _ => return Err(libc::EPERM),
    };
    while !d.passed() {
        // SAFETY: our own G; the callback reads it on this M's g0 after the switch.
        unsafe { (*gp).sleep_when = d.0 };
        crate::sched::proc::gopark(
            Some(reset_for_sleep),
            core::ptr::null_mut(),
            crate::debug::waitreason::WaitReason::Sleep,
        )?;
    }
    Ok(())
}

/// Park callback of a sleep: arm the G's timer now that it has parked.
unsafe extern "C" fn reset_for_sleep(gp: *mut G, _: *mut c_void) -> bool {
    // SAFETY: gp is the parked G (never freed); sleep_when was set by it before parking.
    unsafe {
        // A sleep of "never" still arms a timer (Go's maxWhen): a sleeping goroutine is not
        // a deadlock.
        let when = (*gp).sleep_when;
        (*gp).timer.modify(when.max(1), sleep_ready, gp as usize, 0);
    }
    true
}

/// A sleep's timer fired: ready its goroutine.
unsafe fn sleep_ready(arg: usize, _seq: usize) {
    // SAFETY: arg is the sleeping G, parked until this runs (its timer fires once per park).
    if unsafe { crate::sched::proc::ready(arg as *mut G) }.is_err() {
        throw!("time: a sleeping goroutine was not parked");
    }
}
