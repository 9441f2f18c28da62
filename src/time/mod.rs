//! Timers (Go 1.23's time.go). SKELETON: the API; the per-P timer heaps land with the netpoller.

use crate::os;

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
    while !d.passed() {
        crate::sched::proc::gosched();
    }
    Ok(())
}
