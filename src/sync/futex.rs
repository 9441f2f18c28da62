//! gmp_futex_wait/gmp_futex_wake: the semtable's wait queue as a primitive (bthread's butex):
//! one FIFO per address, goroutines and threads alike, no spurious wake-ups.

use crate::debug::waitreason::WaitReason;
use super::semtable;
use super::waiter::TIMED_OUT;
use crate::sched::syscall::enter;
use crate::time::Deadline;
use core::ptr::null;
use core::sync::atomic::{AtomicU32, Ordering::*};

pub(crate) fn wait(addr: &AtomicU32, val: u32, d: Deadline) -> Result<(), i32> {
    if d.passed() {
        // A zero timeout: only the value check.
        return Err(if addr.load(SeqCst) != val { libc::EAGAIN } else { libc::ETIMEDOUT });
    }
    let c = enter();
    let key = addr as *const AtomicU32 as usize;
    match semtable::wait(c, key, d, false, null(), WaitReason::Semacquire, || addr.load(SeqCst) == val) {
        None => Err(libc::EAGAIN),
        Some((TIMED_OUT, _)) => Err(libc::ETIMEDOUT),
        Some(_) => Ok(()),
    }
}

pub(crate) fn wake(key: usize, n: u32) -> u32 {
    semtable::wake(key, n, |_| {})
}
