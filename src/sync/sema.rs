//! Counting semaphores on an address (Go's semacquire/semrelease, sema.go), on the semtable:
//! what the mutex, rwmutex and wait group sleep on. The count lives in the object (a u32);
//! waiters in the semtable.

use crate::debug::waitreason::WaitReason;
use super::semtable;
use crate::sched::syscall::enter;
use crate::time::Deadline;
use core::ptr::null;
use core::sync::atomic::{AtomicU32, Ordering::*};

/// Take one unit if there is one.
#[inline]
pub(crate) fn cansemacquire(addr: &AtomicU32) -> bool {
    // SeqCst: the waiter's check in the semtable's Dekker pair (semtable.rs).
    let mut v = addr.load(SeqCst);
    loop {
        if v == 0 {
            return false;
        }
        match addr.compare_exchange_weak(v, v - 1, SeqCst, SeqCst) {
            Ok(_) => return true,
            Err(x) => v = x,
        }
    }
}

/// semacquire: take one unit, waiting (FIFO, or at the front for `lifo`: a mutex waiter that
/// was woken and lost the race goes back first) until there is one.
pub(crate) fn acquire(addr: &AtomicU32, lifo: bool, reason: WaitReason) {
    if cansemacquire(addr) {
        return;
    }
    loop {
        let c = enter();
        match semtable::wait(c, addr as *const AtomicU32 as usize, Deadline::NEVER, lifo, null(), reason, || {
            !cansemacquire(addr)
        }) {
            None => return,
            // Handed over by the releaser (Go's ticket), or take it now.
            Some((_, handed)) if handed || cansemacquire(addr) => return,
            Some(_) => {}
        }
    }
}

/// semrelease: add one unit and wake the first waiter. With `handoff`, the unit goes to the
/// woken waiter directly, if it is still there to take (Go's starving mutex).
pub(crate) fn release(addr: &AtomicU32, handoff: bool) {
    addr.fetch_add(1, SeqCst);
    semtable::wake(addr as *const AtomicU32 as usize, 1, |woken| {
        if let Some(s) = woken.first() {
            if handoff && cansemacquire(addr) {
                // SAFETY: s is claimed by us and not woken yet: alive, and its waiter reads
                // success only after the wake.
                unsafe { (*s).success.set(true) };
            }
        }
    });
}
