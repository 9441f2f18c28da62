//! One timer (Go 1.23's `timer`): a lock of its own, and lazy removal and modification —
//! stopping or moving a timer that sits in some P's heap only marks it (`ZOMBIE`,
//! `MODIFIED`); the heap's owner fixes its position when it next looks at it (heap.rs). So
//! stopping or resetting a timer never takes the heap's lock, and never another P's.
//!
//! Timers are embedded in type-stable records (a G, a poll descriptor) and never freed.

use crate::lock::{Mutex, Rank};
use crate::sched::m::this_m;
use crate::sched::sched::SCHED;
use crate::time::heap::Timers;
use core::ptr::null;
use core::sync::atomic::{AtomicU8, Ordering::*};

/// What a timer runs when it fires: `f(arg, seq)`, on whatever M runs the heap (a P's M in
/// the scheduler, or sysmon), with no runtime lock held. It must not block.
pub(crate) type TimerFn = unsafe fn(arg: usize, seq: usize);

/// In a heap (`ts` is set).
pub(crate) const HEAPED: u8 = 1;
/// `when` changed since the heap entry was written: the heap entry's `when` is stale.
pub(crate) const MODIFIED: u8 = 2;
/// Stopped while heaped: to be removed by the heap's owner.
pub(crate) const ZOMBIE: u8 = 4;

pub(crate) struct TimerState {
    /// When it fires (nanotime); 0 = not armed.
    pub when: i64,
    pub state: u8,
    /// The heap it is in while HEAPED.
    pub ts: *const Timers,
    pub f: Option<TimerFn>,
    pub arg: usize,
    pub seq: usize,
}

// SAFETY: the raw pointer is to a P's heap (Ps are never freed); guarded by the timer's lock.
unsafe impl Send for TimerState {}

pub(crate) struct Timer {
    /// Protects the state (rank Timer: taken after a heap's lock, never before one).
    pub mu: Mutex<TimerState>,
    /// A copy of `state`, written under `mu`, read without it by the heap's owner to skip
    /// locking timers that need no adjustment (Go's astate). Release store after `when`/state
    /// changes pairs with the owner's Acquire load; a stale read only costs a lock (see
    /// heap.rs `adjust` for why no update is lost).
    pub astate: AtomicU8,
}

impl Timer {
    pub(crate) const fn new() -> Self {
        Timer {
            mu: Mutex::new(
                Rank::Timer,
                TimerState {
                    when: 0,
                    state: 0,
                    ts: null(),
                    f: None,
                    arg: 0,
                    seq: 0,
                },
            ),
            astate: AtomicU8::new(0),
        }
    }

    /// Arm (or re-arm) the timer to run `f(arg, seq)` at `when` (> 0). True if it was armed.
    /// A timer not yet in a heap goes into the calling M's P's heap (P 0's without one).
    pub(crate) fn modify(&self, when: i64, f: TimerFn, arg: usize, seq: usize) -> bool {
        debug_assert!(when > 0);
        let mut t = self.mu.lock();
        let pending = t.when > 0;
        t.when = when;
        t.f = Some(f);
        t.arg = arg;
        t.seq = seq;
        let mut wake = false;
        if t.state & HEAPED != 0 {
            t.state |= MODIFIED;
            if t.state & ZOMBIE != 0 {
                // Stopped but still in the heap: it runs again.
                // SAFETY: ts is the heap it is in (HEAPED), a live P's.
                unsafe { (*t.ts).zombies.fetch_sub(1, Relaxed) };
                t.state &= !ZOMBIE;
            }
            // SAFETY: as above.
            let ts = unsafe { &*t.ts };
            let min = ts.min_when_modified.load(Relaxed);
            if min == 0 || when < min {
                wake = true;
                // MODIFIED must be visible in astate before min_when_modified changes (adjust
                // clears min_when_modified and then scans astate: see heap.rs).
                self.astate.store(t.state, Release);
                ts.update_min_when_modified(when);
            }
            self.astate.store(t.state, Release);
            drop(t);
        } else {
            drop(t);
            wake = self.maybe_add();
        }
        if wake {
            crate::netpoll::wake_netpoller(when);
        }
        pending
    }

    /// Disarm. True if it was armed (it will not run now, unless it is running already).
    pub(crate) fn stop(&self) -> bool {
        let mut t = self.mu.lock();
        let pending = t.when > 0;
        t.when = 0;
        if t.state & HEAPED != 0 {
            t.state |= MODIFIED;
            if t.state & ZOMBIE == 0 {
                t.state |= ZOMBIE;
                // SAFETY: ts is the heap it is in (HEAPED).
                unsafe { (*t.ts).zombies.fetch_add(1, Relaxed) };
            }
            self.astate.store(t.state, Release);
        }
        pending
    }

    /// Put an armed, unheaped timer into this M's P's heap. True if it became the heap's
    /// earliest (the poller may have to wake earlier).
    fn maybe_add(&self) -> bool {
        let pp = match this_m() {
            // SAFETY: our own M; its P (if any) cannot change while we are in the runtime
            // (callers hold a runtime entry or run on g0).
            Some(mp) if !unsafe { (*mp).p() }.is_null() => unsafe { (*mp).p() },
            _ => SCHED.p(0),
        };
        // SAFETY: Ps are never freed.
        let ts = unsafe { &(*pp).timers };
        let mut h = ts.lock();
        ts.clean_head(&mut h);
        let mut t = self.mu.lock();
        let mut wake = false;
        if t.state & HEAPED == 0 && t.when > 0 {
            t.state |= HEAPED;
            t.ts = ts;
            let wt = ts.wake_time();
            wake = wt == 0 || t.when < wt;
            if !ts.add_heap(&mut h, self, t.when) {
                // Out of memory for the heap: fire at once rather than never (callers
                // re-check their condition on wake-up).
                t.state &= !HEAPED;
                t.ts = null();
                let (f, arg, seq) = (t.f, t.arg, t.seq);
                t.when = 0;
                self.astate.store(t.state, Release);
                drop(t);
                drop(h);
                if let Some(f) = f {
                    // SAFETY: the callback contract (TimerFn).
                    unsafe { f(arg, seq) };
                }
                return false;
            }
            self.astate.store(t.state, Release);
        }
        wake
    }
}
