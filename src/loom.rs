//! std/loom facade: the lock-free pieces (the run queue, notes, the idle/spinning accounting)
//! take their atomics, fences, futex and clock from here, so `RUSTFLAGS="--cfg loom" cargo
//! test --release --lib loom_` model-checks the very code the runtime runs.
//!
//! Under `cfg(loom)` the futex and the clock are emulated (`model` below); otherwise they are
//! the real ones from `os/`.
#![allow(unused_imports)]

#[cfg(not(loom))]
pub(crate) use core::sync::atomic::{
    fence, AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize,
};
#[cfg(loom)]
pub(crate) use loom::sync::atomic::{
    fence, AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize,
};

/// C++20's single total order S over SeqCst operations, at one side of a Dekker pair: call it
/// between a store or RMW and a later load of *another* atomic, passing the two accesses'
/// orderings. When both are SeqCst, S orders the store before the load (a SeqCst store
/// sequenced before a SeqCst load precedes it in S), which is the StoreLoad barrier Dekker's
/// pattern needs; so outside loom this is nothing at all.
///
/// Loom 0.7 has no S (it models a SeqCst access as Acquire/Release/AcqRel: see
/// sched/idle/loom_tests.rs), so a SeqCst-only Dekker pair always fails there. Under loom this
/// is therefore a `fence(SeqCst)` when both orderings are SeqCst — S's effect on the pair — and
/// nothing otherwise: a model still fails if either access is weakened (and the argument
/// updated to match). The fence is slightly stronger than S (loom's SeqCst fence also carries
/// happens-before): the models that use it order only atomics across it.
#[inline(always)]
pub(crate) fn seqcst_storeload(
    store: core::sync::atomic::Ordering,
    load: core::sync::atomic::Ordering,
) {
    #[cfg(loom)]
    if store == core::sync::atomic::Ordering::SeqCst && load == core::sync::atomic::Ordering::SeqCst
    {
        fence(core::sync::atomic::Ordering::SeqCst);
    }
    #[cfg(not(loom))]
    let _ = (store, load);
}

#[cfg(not(loom))]
pub(crate) use crate::os::{futex_wait, futex_wake, nanotime};
#[cfg(loom)]
pub(crate) use model::{futex_wait, futex_wake, nanotime};

/// The futex and the clock under the model checker.
///
/// - `futex_wait(addr, val, -1)` blocks only if `*addr == val`, checked under one model mutex
///   that `futex_wake` also takes (the kernel's hash-bucket lock): a wake issued after the
///   waiter's check reaches it, as with the real futex. The check is a Relaxed load: the
///   emulation adds no ordering of its own beyond that lock.
/// - `futex_wake` wakes every waiter (on any word): a waiter on another word returns
///   spuriously, which FUTEX_WAIT permits and every caller tolerates (it loops).
/// - A timed wait (`timeout_ns >= 0`) returns at once, never blocks: in the model its timeout
///   may always expire first. (A real timed wait that a wake cuts short is the same to the
///   caller, which only looks at the word afterwards.)
/// - `nanotime` is a per-thread mock clock that advances `NANOTIME_STEP` on each call, so a
///   timed sleeper's deadline passes after a few of its own iterations.
///
/// What the lock costs in fidelity: when a waiter does block, the model mutex orders the
/// waker's `futex_wake` (and so everything the waker did before it) before the waiter's
/// return. The kernel's bucket lock does the same in practice, but a model run does not prove
/// that the caller's own Acquire would suffice on that path.
#[cfg(loom)]
mod model {
    use core::sync::atomic::Ordering::Relaxed;
    use loom::sync::atomic::AtomicU32;
    use loom::sync::{Condvar, Mutex};
    use std::cell::Cell;

    /// Mock nanoseconds per `nanotime` call.
    pub(crate) const NANOTIME_STEP: i64 = 1;

    struct Futex {
        lock: Mutex<()>,
        cv: Condvar,
    }

    loom::lazy_static! {
        static ref FUTEX: Futex = Futex { lock: Mutex::new(()), cv: Condvar::new() };
    }

    loom::thread_local! {
        static CLOCK: Cell<i64> = Cell::new(0);
    }

    pub(crate) fn futex_wait(addr: &AtomicU32, val: u32, timeout_ns: i64) {
        if timeout_ns >= 0 {
            return; // timed out
        }
        let g = FUTEX.lock.lock().unwrap();
        if addr.load(Relaxed) == val {
            drop(FUTEX.cv.wait(g).unwrap());
        }
    }

    pub(crate) fn futex_wake(_addr: &AtomicU32, _n: i32) {
        let _g = FUTEX.lock.lock().unwrap();
        FUTEX.cv.notify_all();
    }

    pub(crate) fn nanotime() -> i64 {
        CLOCK.with(|c| {
            let t = c.get() + NANOTIME_STEP;
            c.set(t);
            t
        })
    }
}
