//! Run queue: Go's per-P lock-free ring (runqput/runqputslow/runqget/runqgrab/runqsteal).
//!
//! A single producer (the owning P's M) pushes at `tail`; the owner and any number of thieves
//! take from `head` with a CAS. Layout and protocol, as in proc.go:
//! 1. put: load head (acquire), write the slot, store tail+1 (release: publishes the slot).
//!    Full: move half the ring plus the new item to the overflow (the global queue) by CASing
//!    head forward — the "slow" put; a failed CAS means thieves made room, so retry.
//! 2. get: CAS head forward by one (release: the slot may be overwritten only after).
//! 3. grab (steal): read head and tail (acquire), copy half of [head, tail) out, then CAS head
//!    forward by that many. The copy may read slots the owner is overwriting; the CAS then
//!    fails and the copy is discarded. Slots are atomics (relaxed) so those racing reads are
//!    not undefined behaviour; on x86 they are plain moves.
//! 4. runnext: a one-item slot that `put(next=true)` fills, kicking the old occupant into the
//!    ring; get takes it first and says so (the G inherits the time slice). Thieves take it only
//!    in their last round, and if its P is running, only after a 3 µs pause: a G readied by a
//!    running G is about to be run by that P, and stealing it just bounces it between caches.
//!
//! Under `cfg(loom)` the ring shrinks to 4 slots so the model checker covers overflow.

use crate::loom::{AtomicPtr, AtomicU32};
use core::ptr::null_mut;
use core::sync::atomic::Ordering::*;

#[cfg(not(loom))]
pub(crate) const RUNQ_SIZE: u32 = 256;
#[cfg(loom)]
pub(crate) const RUNQ_SIZE: u32 = 4;

pub(crate) struct RunQ<T> {
    /// Concurrently advanced by the owner and thieves (CAS). Acquire loads pair with the
    /// release CASes of other consumers: a slot is reused only after its consumer is done.
    head: AtomicU32,
    /// Written only by the owner (release store after filling a slot); read by thieves with
    /// acquire, which makes the slots below it visible.
    tail: AtomicU32,
    buf: [AtomicPtr<T>; RUNQ_SIZE as usize],
    /// Written by the owner (put) and swapped out by the owner or a thief (CAS, AcqRel: the
    /// item's contents written before publishing are visible to the taker).
    next: AtomicPtr<T>,
}

// SAFETY: the queue only moves raw pointers between threads; ownership of the pointees follows
// the protocol above (an item is returned to exactly one taker).
unsafe impl<T> Send for RunQ<T> {}
// SAFETY: as above.
unsafe impl<T> Sync for RunQ<T> {}

impl<T> RunQ<T> {
    #[cfg(not(loom))]
    pub(crate) const fn new() -> Self {
        RunQ {
            head: AtomicU32::new(0),
            tail: AtomicU32::new(0),
            buf: [const { AtomicPtr::new(null_mut()) }; RUNQ_SIZE as usize],
            next: AtomicPtr::new(null_mut()),
        }
    }

    #[cfg(loom)]
    pub(crate) fn new() -> Self {
        RunQ {
            head: AtomicU32::new(0),
            tail: AtomicU32::new(0),
            buf: core::array::from_fn(|_| AtomicPtr::new(null_mut())),
            next: AtomicPtr::new(null_mut()),
        }
    }

    /// Items in the ring plus runnext. A racy snapshot when called by a non-owner.
    pub(crate) fn len(&self) -> u32 {
        loop {
            let h = self.head.load(Acquire);
            let t = self.tail.load(Acquire);
            // Go's runqempty: re-read head so that h and t belong to one moment (a put+get pair
            // between the two loads would otherwise make a non-empty queue look empty).
            if self.head.load(Acquire) == h {
                return t.wrapping_sub(h) + (!self.next.load(Acquire).is_null()) as u32;
            }
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// runqput: add `item`; with `next` it goes to runnext and the old runnext to the ring.
    /// A full ring moves half of itself plus the item to `overflow`, oldest first.
    /// # Safety
    /// Only the owner may call it. `item` is non-null and no longer used by the caller.
    pub(crate) unsafe fn put(
        &self,
        mut item: *mut T,
        next: bool,
        overflow: &mut dyn FnMut(&[*mut T]),
    ) {
        if next {
            // SeqCst (an XCHG on x86, as AcqRel would be): publishing work must come before
            // the producer's SeqCst loads in wakep ("Why both sides need a StoreLoad barrier"
            // in sched/idle.rs). AcqRel: the item's contents are visible to its taker.
            let old = self.next.swap(item, SeqCst);
            if old.is_null() {
                return;
            }
            item = old;
        }
        loop {
            let h = self.head.load(Acquire);
            let t = self.tail.load(Relaxed); // only we write it
            if t.wrapping_sub(h) < RUNQ_SIZE {
                self.buf[(t % RUNQ_SIZE) as usize].store(item, Relaxed);
                // SeqCst (Release would do for the takers): ordered before wakep's loads, as
                // the runnext swap above.
                self.tail.store(t.wrapping_add(1), SeqCst);
                return;
            }
            if self.put_slow(item, h, t, overflow) {
                return;
            }
        }
    }

    /// runqputslow: the ring is full; move half of it and `item` out. False if thieves raced
    /// us (the ring is no longer full): retry the fast path.
    #[cold]
    #[inline(never)]
    fn put_slow(&self, item: *mut T, h: u32, t: u32, overflow: &mut dyn FnMut(&[*mut T])) -> bool {
        const HALF: usize = (RUNQ_SIZE / 2) as usize;
        let n = t.wrapping_sub(h) / 2;
        if n != RUNQ_SIZE / 2 {
            throw!("RunQ::put_slow: queue is not full");
        }
        let mut batch = [null_mut(); HALF + 1];
        for (i, b) in batch.iter_mut().take(HALF).enumerate() {
            *b = self.buf[(h.wrapping_add(i as u32) % RUNQ_SIZE) as usize].load(Relaxed);
        }
        if self
            .head
            .compare_exchange(h, h.wrapping_add(n), Release, Relaxed)
            .is_err()
        {
            return false;
        }
        batch[HALF] = item;
        overflow(&batch);
        true
    }

    /// runqget: take runnext, else the ring's oldest. The bool says it came from runnext (the
    /// G inherits the time slice).
    /// # Safety
    /// Only the owner may call it (a thief uses `steal`).
    pub(crate) unsafe fn get(&self) -> Option<(*mut T, bool)> {
        let next = self.next.load(Relaxed);
        // A thief may take runnext concurrently, so CAS rather than store.
        if !next.is_null()
            && self
                .next
                .compare_exchange(next, null_mut(), AcqRel, Relaxed)
                .is_ok()
        {
            return Some((next, true));
        }
        loop {
            let h = self.head.load(Acquire);
            let t = self.tail.load(Relaxed);
            if t == h {
                return None;
            }
            let item = self.buf[(h % RUNQ_SIZE) as usize].load(Relaxed);
            // Release: once head passes the slot the owner may overwrite it; our read is done.
            if self
                .head
                .compare_exchange(h, h.wrapping_add(1), Release, Relaxed)
                .is_ok()
            {
                return Some((item, false));
            }
        }
    }

    /// runqgrab: copy half of `self` (at least one item, runnext only if `steal_next`) into
    /// `dst` starting at ring index `dst_head`, and return how many. `victim_running` says the
    /// victim's P is running a G (then runnext is left alone for 3 µs, see the module note).
    fn grab(
        &self,
        dst: &RunQ<T>,
        dst_head: u32,
        steal_next: bool,
        victim_running: &dyn Fn() -> bool,
    ) -> u32 {
        loop {
            let h = self.head.load(Acquire); // synchronize with other consumers
            let t = self.tail.load(Acquire); // synchronize with the producer
            let mut n = t.wrapping_sub(h);
            n -= n / 2;
            if n == 0 {
                if steal_next {
                    let next = self.next.load(Acquire);
                    if !next.is_null() {
                        if victim_running() {
                            #[cfg(not(loom))]
                            crate::os::usleep(3);
                        }
                        if self
                            .next
                            .compare_exchange(next, null_mut(), AcqRel, Relaxed)
                            .is_err()
                        {
                            continue;
                        }
                        dst.buf[(dst_head % RUNQ_SIZE) as usize].store(next, Relaxed);
                        return 1;
                    }
                }
                return 0;
            }
            if n > RUNQ_SIZE / 2 {
                continue; // h and t are from different moments; read again
            }
            for i in 0..n {
                let item = self.buf[(h.wrapping_add(i) % RUNQ_SIZE) as usize].load(Relaxed);
                dst.buf[(dst_head.wrapping_add(i) % RUNQ_SIZE) as usize].store(item, Relaxed);
            }
            // Release: the copies are done before the victim may reuse the slots.
            if self
                .head
                .compare_exchange(h, h.wrapping_add(n), Release, Relaxed)
                .is_ok()
            {
                return n;
            }
        }
    }

    /// runqsteal: move half of `victim`'s items into `self` and return one of them plus the
    /// number taken (counting the returned one).
    /// # Safety
    /// Only `self`'s owner may call it; `self` must have room (Go steals only into an empty
    /// ring, from find_runnable).
    pub(crate) unsafe fn steal(
        &self,
        victim: &RunQ<T>,
        steal_next: bool,
        victim_running: &dyn Fn() -> bool,
    ) -> Option<(*mut T, u32)> {
        let t = self.tail.load(Relaxed);
        let n = victim.grab(self, t, steal_next, victim_running);
        if n == 0 {
            return None;
        }
        let last = n - 1;
        let item = self.buf[(t.wrapping_add(last) % RUNQ_SIZE) as usize].load(Relaxed);
        if last == 0 {
            return Some((item, 1));
        }
        let h = self.head.load(Acquire);
        if t.wrapping_sub(h).wrapping_add(last) >= RUNQ_SIZE {
            throw!("RunQ::steal: runq overflow");
        }
        // Publish the stolen items; SeqCst as in put (the thief calls wakep next).
        self.tail.store(t.wrapping_add(last), SeqCst);
        Some((item, n))
    }
}

#[cfg(all(test, loom))]
mod loom_tests;
#[cfg(all(test, not(loom)))]
mod tests;
