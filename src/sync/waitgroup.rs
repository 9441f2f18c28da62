//! gmp_waitgroup: Go's sync.WaitGroup (waitgroup.go): `state` holds the counter (high 32
//! bits) and the number of waiters (low 32); waiters sleep on `sema`. When the counter drops
//! to 0 with waiters, the adder resets the state and releases each waiter once. Unlike Go, a
//! counter that would go negative (or past i32::MAX) is refused with -EINVAL, unchanged: Add
//! is a CAS loop.

use crate::debug::waitreason::WaitReason;
use super::sema;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering::*};

#[repr(C)]
pub(crate) struct WaitGroup {
    /// AcqRel: the work before Done happens before Wait returns (through this word, and the
    /// semaphore's own ordering for woken waiters).
    state: AtomicU64,
    sema: AtomicU32,
    _pad: u32,
}

impl WaitGroup {
    pub(crate) fn add(&self, delta: i64) -> Result<(), i32> {
        let mut s = self.state.load(Relaxed);
        loop {
            let v = (s >> 32) as u32 as i32 as i64 + delta;
            let w = s as u32;
            if !(0..=i32::MAX as i64).contains(&v) {
                return Err(libc::EINVAL);
            }
            // Reaching 0 with waiters: reset the state and release them.
            let new = if v == 0 && w > 0 { 0 } else { ((v as u64) << 32) | w as u64 };
            match self.state.compare_exchange_weak(s, new, AcqRel, Relaxed) {
                Ok(_) => {
                    if v == 0 {
                        for _ in 0..w {
                            sema::release(&self.sema, false);
                        }
                    }
                    return Ok(());
                }
                Err(x) => s = x,
            }
        }
    }

    pub(crate) fn wait(&self) -> Result<(), i32> {
        let mut s = self.state.load(Acquire);
        loop {
            if s >> 32 == 0 {
                return Ok(());
            }
            match self.state.compare_exchange_weak(s, s + 1, AcqRel, Acquire) {
                Ok(_) => {
                    sema::acquire(&self.sema, false, WaitReason::WaitGroupWait);
                    return Ok(());
                }
                Err(x) => s = x,
            }
        }
    }
}
