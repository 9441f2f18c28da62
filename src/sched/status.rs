//! One gate for G and P statuses (Go's casgstatus, marl's changeFiberState).
//!
//! A status is an enum stored in an atomic word; the only ways to change it are:
//! - `set(from, to)`: by the status's owner (see each enum's table), when no other thread can
//!   write it. Checked: anything but `from` is a broken invariant. A Release store: the new
//!   status publishes what the owner wrote before it.
//! - `try_cas(from, to)`: the one transition that races (a G's WAITING -> RUNNABLE, where a
//!   waker and the parking M's unlock path compete; a P's SYSCALL -> IDLE, where sysmon and
//!   exitsyscall compete). Exactly one caller wins and then owns the G or P.
//! - `cas(from, to)`: a read-modify-write that throws on anything but `from`, where a racing
//!   `try_cas` must see either the old or the new status in one piece.
//!
//! `GStatus` and `PStatus` are distinct types, so a G status cannot be stored into a P.

use core::marker::PhantomData;
use core::sync::atomic::{AtomicU32, Ordering, Ordering::*};

/// A status enum: `repr(u32)` values and the function names for throw messages.
pub(crate) trait Status: Copy + Eq {
    fn from_u32(v: u32) -> Self;
    fn to_u32(self) -> u32;
    /// `throw!` text of a failed `set` / `cas`.
    const BAD_SET: &'static str;
    const BAD_CAS: &'static str;
}

pub(crate) struct AtomicStatus<S> {
    v: AtomicU32,
    _s: PhantomData<S>,
}

impl<S: Status> AtomicStatus<S> {
    pub(crate) const fn new_raw(v: u32) -> Self {
        AtomicStatus {
            v: AtomicU32::new(v),
            _s: PhantomData,
        }
    }

    /// The status now. Relaxed for racy observers (sysmon, stealers, schedtrace); Acquire
    /// where the reader then uses what the status publishes.
    #[inline]
    pub(crate) fn load(&self, o: Ordering) -> S {
        S::from_u32(self.v.load(o))
    }

    /// Owner-only change (see the module note).
    #[inline]
    pub(crate) fn set(&self, from: S, to: S) {
        if self.v.load(Relaxed) != from.to_u32() {
            throw!(S::BAD_SET);
        }
        self.v.store(to.to_u32(), Release);
    }

    /// The racing transition: true if this caller won it. AcqRel: the winner sees what the
    /// previous owner published, and publishes its own writes with the new status.
    #[inline]
    pub(crate) fn try_cas(&self, from: S, to: S) -> bool {
        self.v
            .compare_exchange(from.to_u32(), to.to_u32(), AcqRel, Acquire)
            .is_ok()
    }

    /// A checked read-modify-write: anything but `from` is a broken invariant.
    #[inline]
    pub(crate) fn cas(&self, from: S, to: S) {
        if !self.try_cas(from, to) {
            throw!(S::BAD_CAS);
        }
    }
}
