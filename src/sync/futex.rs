//! gmp_futex_wait/gmp_futex_wake: the semtable's wait queue as a primitive (bthread's butex):
//! one FIFO per address, goroutines and threads alike, no spurious wake-ups.

use super::semtable;
use super::waiter::Claimed;
use super::waiter::TIMED_OUT;
use crate::sched::syscall::{enter, leave};
use crate::time::Deadline;
use core::ptr::null;
use core::sync::atomic::{fence, AtomicU32, Ordering::*};

pub(crate) fn wait(addr: &AtomicU32, val: u32, d: Deadline) -> Result<(), i32> {
    if d.passed() {
        // A zero timeout: only the value check.
        return Err(if addr.load(SeqCst) != val { libc::EAGAIN } else { libc::ETIMEDOUT });
    }
    let c = enter();
    let key = addr as *const AtomicU32 as usize;
    match semtable::wait(c, key, d, false, null(), || addr.load(SeqCst) == val) {
        None => Err(libc::EAGAIN),
        Some((TIMED_OUT, _)) => Err(libc::ETIMEDOUT),
        Some(_) => Ok(()),
    }
}

pub(crate) fn wake(key: usize, n: u32) -> u32 {
    if n == 0 {
        return 0;
    }
    let b = semtable::bucket(key);
    // SeqCst: the waker's half of the semtable's Dekker pair (the caller stored the value).
    fence(SeqCst);
    if b.nwait.load(SeqCst) == 0 {
        return 0;
    }
    let c = enter();
    let mut l = b.lock(c);
    let mut woken = Claimed::new();
    l.dequeue(key, n, &mut woken);
    l.unlock();
    let n = woken.wake_all(c);
    leave(c);
    n
}

