//! Loom model checks of the run queue (RUNQ_SIZE is 4 under `cfg(loom)`). Under every
//! interleaving and every value the relaxed loads may return (within LOOM_MAX_PREEMPTIONS),
//! they prove:
//! - every item put is received exactly once, across the owner's gets, thieves' steals (and
//!   their later gets from their own queues) and the overflow batches — nothing lost, nothing
//!   duplicated, no null or stale pointer handed out;
//! - publication: the taker of an item happens-after the putter's last write to it. Each
//!   item's payload is a `loom::cell::UnsafeCell` written by the owner just before `put` and
//!   read-then-written by whoever takes it, so a missing release/acquire edge (or two takers)
//!   is reported by loom as a causality violation;
//! - `steal` reports the number it took: the returned item plus exactly `n - 1` gettable from
//!   the thief's own queue.
//!
//! Models: (a) owner puts past overflow, with gets, vs one thief; (b) runnext contention:
//! owner `put(_, true)` vs a thief with `steal_next`, and (b') the owner's get vs a thief for a
//! lone runnext; (c) two thieves, each stealing twice, vs the owner's gets; (d) a chain: a
//! thief steals from the victim while a second thief steals from the first; (e) mixed runnext
//! and plain puts past overflow vs a thief stealing twice.
//!
//! Each queue has exactly one owner thread: the only thread that calls `put`/`get` on it or
//! `steal`s into it (the `Owner` handle). Where the model checks publication, the items are
//! created by the owner after the thieves are spawned, so the spawn does not order them before
//! the thieves' reads; (c) and (d) pre-fill before spawning to keep the state space small.
//!
//! Not covered: orderings that matter only under load buffering — the owner's Acquire load of
//! `head` in put and the consumers' Release CAS of `head` (a slot read must not see the owner's
//! later overwrite). Loom never lets a load read a store that comes later in its execution, so
//! weakening those to Relaxed goes unnoticed here; they follow Go's proc.go exactly.

use super::{RunQ, RUNQ_SIZE};
use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::thread;

const TAKEN: usize = usize::MAX;

struct Item {
    /// The item's id until someone takes it, then TAKEN.
    val: UnsafeCell<usize>,
}

type Q = RunQ<Item>;

/// A fresh item, written by the calling thread (the putter).
fn new_item(id: usize, all: &mut Vec<usize>) -> *mut Item {
    let p = Box::into_raw(Box::new(Item {
        val: UnsafeCell::new(TAKEN),
    }));
    // SAFETY: p is a fresh, unshared allocation.
    unsafe { (*p).val.with_mut(|v| *v = id) };
    all.push(p as usize);
    p
}

/// Claim a taken item: it must still hold its id (not taken before) and be visible to us.
fn claim(p: *mut Item) -> usize {
    assert!(!p.is_null(), "queue handed out a null item");
    // SAFETY: p came from new_item and is freed only by `free_all` after every thread joined;
    // the queue hands each item to one taker, and loom checks that this access happens-after
    // the putter's write and every other claim (it panics on a concurrent access).
    unsafe {
        (*p).val.with_mut(|v| {
            let id = *v;
            assert_ne!(id, TAKEN, "item taken twice");
            *v = TAKEN;
            id
        })
    }
}

fn free_all(all: &[usize]) {
    for &a in all {
        // SAFETY: every item was allocated by new_item, is listed once, and all threads that
        // could touch it have been joined.
        drop(unsafe { Box::from_raw(a as *mut Item) });
    }
}

/// A queue handle held by the queue's owner thread. Creating one is the promise that, while
/// it lives, only this thread calls `put`/`get` on the queue or `steal`s into it; it is
/// neither `Send` nor `Clone`, so it cannot leave the thread that made it.
struct Owner<'a>(&'a Q, core::marker::PhantomData<*const ()>);

impl<'a> Owner<'a> {
    /// # Safety
    /// No other thread acts as `q`'s owner while the handle lives.
    unsafe fn new(q: &'a Q) -> Self {
        Owner(q, core::marker::PhantomData)
    }

    /// put, claiming overflowed items into `got`.
    fn put(&self, p: *mut Item, next: bool, got: &mut Vec<usize>) {
        // SAFETY: we are the queue's owner (Owner::new's contract, and Owner is !Send); p is
        // non-null, fresh from new_item and not used by us afterwards.
        unsafe {
            self.0.put(p, next, &mut |b: &[*mut Item]| {
                got.extend(b.iter().map(|&x| claim(x)))
            })
        }
    }

    /// get, claiming the item into `got`; says whether there was one.
    fn get(&self, got: &mut Vec<usize>) -> bool {
        // SAFETY: we are the queue's owner (Owner::new's contract, and Owner is !Send).
        match unsafe { self.0.get() } {
            Some((p, _)) => {
                got.push(claim(p));
                true
            }
            None => false,
        }
    }

    fn drain(&self, got: &mut Vec<usize>) {
        while self.get(got) {}
    }

    /// Steal from `victim`, claim the returned item, then get the rest back out of our queue.
    /// Returns the count `steal` reported (0 for None). The caller must have room for half a
    /// full ring (every caller here steals into an empty queue).
    fn steal_and_drain(
        &self,
        victim: &Q,
        steal_next: bool,
        running: bool,
        got: &mut Vec<usize>,
    ) -> u32 {
        // SAFETY: we are the queue's owner (Owner::new's contract, and Owner is !Send); it has
        // room for RUNQ_SIZE/2 items (callers steal into an empty queue).
        let r = unsafe { self.0.steal(victim, steal_next, &|| running) };
        let Some((p, n)) = r else { return 0 };
        assert!((1..=RUNQ_SIZE / 2).contains(&n), "steal count {n}");
        got.push(claim(p));
        self.drain(got);
        n
    }
}

fn assert_exactly_once(mut got: Vec<usize>, n: usize) {
    got.sort_unstable();
    assert_eq!(got, (0..n).collect::<Vec<_>>(), "items lost or duplicated");
}

/// (a) The owner puts 6 items (overflowing the 4-slot ring when the thief does not steal in
/// time) with gets in between, while one thief steals once and drains its own queue.
#[test]
fn loom_put_get_overflow_vs_steal() {
    loom::model(|| {
        let victim = Arc::new(Q::new());
        let v2 = victim.clone();
        let thief = thread::spawn(move || {
            let mine = Q::new();
            // SAFETY: `mine` is local to this thread, which is its only owner.
            let me = unsafe { Owner::new(&mine) };
            let mut got = Vec::new();
            let n = me.steal_and_drain(&v2, false, false, &mut got);
            assert_eq!(got.len(), n as usize, "steal count = items moved");
            got
        });
        // SAFETY: this thread is the victim's only owner (the thief only steals from it).
        let owner = unsafe { Owner::new(&victim) };
        let (mut all, mut got, mut id) = (Vec::new(), Vec::new(), 0);
        for _ in 0..2 {
            for _ in 0..3 {
                owner.put(new_item(id, &mut all), false, &mut got);
                id += 1;
            }
            owner.get(&mut got);
        }
        got.append(&mut thief.join().unwrap());
        owner.drain(&mut got);
        assert!(victim.is_empty());
        assert_exactly_once(got, id);
        free_all(&all);
    });
}

/// (b) runnext contention: the owner keeps replacing runnext (kicking the old one into the
/// ring) and takes one item, while a thief steals with `steal_next` (on an empty ring it
/// takes runnext). `victim_running` says true: under loom that path does not sleep.
#[test]
fn loom_runnext_vs_steal_next() {
    loom::model(|| {
        let victim = Arc::new(Q::new());
        let v2 = victim.clone();
        let thief = thread::spawn(move || {
            let mine = Q::new();
            // SAFETY: `mine` is local to this thread, which is its only owner.
            let me = unsafe { Owner::new(&mine) };
            let mut got = Vec::new();
            let n = me.steal_and_drain(&v2, true, true, &mut got);
            assert_eq!(got.len(), n as usize, "steal count = items moved");
            got
        });
        // SAFETY: this thread is the victim's only owner (the thief only steals from it).
        let owner = unsafe { Owner::new(&victim) };
        let (mut all, mut got) = (Vec::new(), Vec::new());
        owner.put(new_item(0, &mut all), true, &mut got);
        owner.put(new_item(1, &mut all), true, &mut got); // 0 goes to the ring (unless stolen)
        owner.get(&mut got);
        owner.put(new_item(2, &mut all), true, &mut got);
        got.append(&mut thief.join().unwrap());
        owner.drain(&mut got);
        assert!(victim.is_empty());
        assert_exactly_once(got, 3);
        free_all(&all);
    });
}

/// (b') The owner's get races a thief for the single runnext item: exactly one wins, and the
/// owner's get says `inherit` when it does.
#[test]
fn loom_runnext_get_vs_steal() {
    loom::model(|| {
        let victim = Arc::new(Q::new());
        let v2 = victim.clone();
        let thief = thread::spawn(move || {
            let mine = Q::new();
            // SAFETY: `mine` is local to this thread, which is its only owner.
            let me = unsafe { Owner::new(&mine) };
            let mut got = Vec::new();
            let n = me.steal_and_drain(&v2, true, false, &mut got);
            assert_eq!(got.len(), n as usize, "steal count = items moved");
            got
        });
        // SAFETY: this thread is the victim's only owner (the thief only steals from it).
        let owner = unsafe { Owner::new(&victim) };
        let (mut all, mut got) = (Vec::new(), Vec::new());
        owner.put(new_item(0, &mut all), true, &mut got);
        // SAFETY: this thread is the victim's only owner (as above).
        if let Some((p, inherit)) = unsafe { victim.get() } {
            assert!(inherit, "runnext is taken with inherit");
            got.push(claim(p));
        }
        got.append(&mut thief.join().unwrap());
        assert!(!owner.get(&mut got));
        assert_exactly_once(got, 1);
        free_all(&all);
    });
}

/// (c) Two thieves (one with `steal_next`) each steal twice from one victim while its owner
/// gets and puts once more.
#[test]
fn loom_two_thieves_vs_owner_get() {
    loom::model(|| {
        let victim = Arc::new(Q::new());
        let (mut all, mut got) = (Vec::new(), Vec::new());
        // SAFETY: this thread is the victim's only owner (the thieves only steal from it).
        let owner = unsafe { Owner::new(&victim) };
        // Pre-fill before the thieves exist: three in the ring, one in runnext.
        for i in 0..3 {
            owner.put(new_item(i, &mut all), false, &mut got);
        }
        owner.put(new_item(3, &mut all), true, &mut got);
        let thieves: Vec<_> = [false, true]
            .into_iter()
            .map(|steal_next| {
                let v = victim.clone();
                thread::spawn(move || {
                    let mine = Q::new();
                    // SAFETY: `mine` is local to this thread, which is its only owner.
                    let me = unsafe { Owner::new(&mine) };
                    let mut got = Vec::new();
                    for _ in 0..2 {
                        let before = got.len();
                        let n = me.steal_and_drain(&v, steal_next, false, &mut got);
                        assert_eq!(got.len() - before, n as usize, "steal count = items moved");
                    }
                    got
                })
            })
            .collect();
        owner.get(&mut got); // runnext
        owner.get(&mut got); // a ring item, unless the thieves took them all
        owner.put(new_item(4, &mut all), false, &mut got);
        for t in thieves {
            got.append(&mut t.join().unwrap());
        }
        owner.drain(&mut got);
        assert_exactly_once(got, 5);
        free_all(&all);
    });
}

/// (d) Chain: thief 1 steals from the victim into its own queue, publishes and drains it,
/// while thief 2 steals from thief 1's queue; the victim's owner gets concurrently.
#[test]
fn loom_steal_from_a_thief() {
    loom::model(|| {
        let victim = Arc::new(Q::new());
        let middle = Arc::new(Q::new());
        let (mut all, mut got) = (Vec::new(), Vec::new());
        // SAFETY: this thread is the victim's only owner (thief 1 only steals from it).
        let owner = unsafe { Owner::new(&victim) };
        for i in 0..4 {
            owner.put(new_item(i, &mut all), false, &mut got);
        }
        let (v1, m1) = (victim.clone(), middle.clone());
        let t1 = thread::spawn(move || {
            // SAFETY: thread 1 is `middle`'s only owner (thread 2 only steals from it).
            let me = unsafe { Owner::new(&m1) };
            let mut got = Vec::new();
            let n = me.steal_and_drain(&v1, false, false, &mut got);
            (n, got)
        });
        let m2 = middle.clone();
        let t2 = thread::spawn(move || {
            let mine = Q::new();
            // SAFETY: `mine` is local to this thread, which is its only owner.
            let me = unsafe { Owner::new(&mine) };
            let mut got = Vec::new();
            let n = me.steal_and_drain(&m2, false, false, &mut got);
            assert_eq!(got.len(), n as usize, "steal count = items moved");
            got
        });
        owner.get(&mut got);
        let (n1, mut from1) = t1.join().unwrap();
        let mut from2 = t2.join().unwrap();
        // Thread 2's items all came out of thread 1's steal.
        assert_eq!(
            from1.len() + from2.len(),
            n1 as usize,
            "steal count = items moved"
        );
        owner.drain(&mut got);
        got.append(&mut from1);
        got.append(&mut from2);
        assert_exactly_once(got, 4);
        free_all(&all);
    });
}

/// (e) Longer run: the owner mixes runnext and plain puts past overflow, with gets, while one
/// thief steals twice (with `steal_next`), draining its queue after each steal.
#[test]
fn loom_mixed_puts_vs_two_steals() {
    loom::model(|| {
        let victim = Arc::new(Q::new());
        let v2 = victim.clone();
        let thief = thread::spawn(move || {
            let mine = Q::new();
            // SAFETY: `mine` is local to this thread, which is its only owner.
            let me = unsafe { Owner::new(&mine) };
            let mut got = Vec::new();
            for _ in 0..2 {
                let before = got.len();
                let n = me.steal_and_drain(&v2, true, false, &mut got);
                assert_eq!(got.len() - before, n as usize, "steal count = items moved");
            }
            got
        });
        // SAFETY: this thread is the victim's only owner (the thief only steals from it).
        let owner = unsafe { Owner::new(&victim) };
        let (mut all, mut got) = (Vec::new(), Vec::new());
        let mut id = 0;
        for next in [true, false, false, true, false, false] {
            owner.put(new_item(id, &mut all), next, &mut got);
            id += 1;
            if id == 3 {
                owner.get(&mut got);
            }
        }
        owner.get(&mut got);
        got.append(&mut thief.join().unwrap());
        owner.drain(&mut got);
        assert!(victim.is_empty());
        assert_exactly_once(got, id);
        free_all(&all);
    });
}
