//! gmp_cond: a condition variable with pthread_cond's semantics, for goroutines and threads.
//!
//! A waiter enqueues itself on the cond's address in the semtable while it still holds the
//! mutex, then releases the mutex (a goroutine in its park callback, after the bucket
//! unlock), then sleeps. A signal wakes the longest-waiting waiter that is still waiting; a
//! waiter that timed out has left the queue (or is skipped: the claim, waiter.rs), so a
//! signal is never spent on it. (Go's notifyList uses tickets instead, to let a waiter
//! release the mutex before it enqueues; with timeouts a ticket whose waiter left would
//! swallow a signal.) A signal sent before the waiter enqueued is not seen: as with
//! pthreads, the predicate must be changed under the mutex.

use crate::debug::waitreason::WaitReason;
use super::mutex::Mutex;
use super::semtable;
use super::waiter::TIMED_OUT;
use crate::sched::syscall::enter;
use crate::time::Deadline;
use core::sync::atomic::AtomicU32;

#[repr(C)]
pub(crate) struct Cond {
    /// Unused: the cond's waiters are in the semtable under its address.
    _reserved: AtomicU32,
}

impl Cond {
    fn key(&self) -> usize {
        self as *const Cond as usize
    }

    pub(crate) fn wait(&self, m: &Mutex, d: Deadline) -> Result<(), i32> {
        if !m.is_locked() {
            return Err(libc::EPERM);
        }
        let c = enter();
        let r = semtable::wait(c, self.key(), d, false, m, WaitReason::CondWait, || true);
        let _ = m.lock();
        match r {
            Some((TIMED_OUT, _)) => Err(libc::ETIMEDOUT),
            _ => Ok(()),
        }
    }

    pub(crate) fn signal(&self) {
        self.wake(1);
    }

    pub(crate) fn broadcast(&self) {
        self.wake(u32::MAX);
    }

    fn wake(&self, n: u32) {
        semtable::wake(self.key(), n, |_| {});
    }
}
