//! Synchronization for goroutines and threads alike: channels and select (chan.rs,
//! select.rs), the sync package's mutex, rwmutex, cond, wait group and once, the futex
//! primitive, and goroutine-local storage (keys.rs).
//!
//! Every blocking operation here has one waiter record (waiter.rs) that is a parked goroutine
//! or a sleeping thread, woken the same way by a claim-then-wake protocol, so goroutines and
//! plain threads share every object. Channels hold their own queues; the sync objects hold no
//! pointers (all-zero memory is a ready object) and keep their waiters in the semtable
//! (semtable.rs, Go's), under the object's address; sema.rs is Go's semaphore on it.

pub(crate) mod chan;
pub(crate) mod claim;
pub(crate) mod cond;
pub(crate) mod futex;
pub(crate) mod keys;
pub(crate) mod mutex;
pub(crate) mod once;
pub(crate) mod rwmutex;
pub(crate) mod select;
mod sema;
mod semtable;
pub(crate) mod waiter;
pub(crate) mod waitgroup;

/// A plain thread is using a sync object: for deadlock detection it may wake goroutines
/// (checkdead.rs; the rule of api.md's gmp_main). A thread-local flag makes this one TLS
/// read after a thread's first call (an M's too: it is not a plain thread), cheaper than
/// asking whether the thread has an M (rdgsbase, ~11 ns here) on every mutex operation.
#[inline]
pub(crate) fn note_thread() {
    use core::cell::Cell;
    std::thread_local! {
        static SEEN: Cell<bool> = const { Cell::new(false) };
    }
    if !SEEN.get() {
        if crate::sched::m::this_m().is_none() {
            crate::sched::sched::SCHED.note_thread();
        }
        SEEN.set(true);
    }
}
