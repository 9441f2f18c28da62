//! A P's timers (Go 1.23's `timers`): a 4-ary min-heap of (timer, when) under the P's timer
//! lock, and two atomics the scheduler reads without locking to know when the P next has
//! work: `min_when_heap` (the heap top's `when`) and `min_when_modified` (a lower bound on
//! the `when` of timers moved earlier since they were heaped, whose heap entries are stale).
//! `wake_time` is the smaller non-zero of the two.
//!
//! Entries carry their own `when` so the heap can be ordered without taking timer locks;
//! a timer's MODIFIED/ZOMBIE state (timer.rs) says that its entry is stale or dead, and is
//! fixed when the entry reaches the top (`clean_head`, `run`) or when a modified timer's time
//! comes (`adjust`).
//!
//! The heap's array is mapped memory (never malloc: a preempted goroutine may hold malloc's
//! locks), doubled when full.

use crate::lock::{Guard, Mutex, Rank};
use crate::os;
use crate::time::timer::{Timer, HEAPED, MODIFIED, ZOMBIE};
use core::ptr::{null, null_mut};
use core::sync::atomic::{AtomicI32, AtomicI64, AtomicU32, Ordering::*};

#[derive(Clone, Copy)]
struct TimerWhen {
    t: *const Timer,
    when: i64,
}

pub(crate) struct Heap {
    buf: *mut TimerWhen,
    len: usize,
    cap: usize,
}

// SAFETY: the array is reached only under the heap's lock.
unsafe impl Send for Heap {}

pub(crate) struct Timers {
    /// Protects the heap (rank Timers: before any timer's own lock).
    mu: Mutex<Heap>,
    /// `when` of heap[0] (0 = empty). Written under `mu`; read racily by anyone
    /// (`wake_time`). SeqCst with `min_when_modified`: see `wake_time`.
    pub min_when_heap: AtomicI64,
    /// Lower bound of the `when` of MODIFIED timers in this heap (0 = none). Lowered by
    /// `Timer::modify` without `mu` (CAS), cleared by `adjust` under `mu`.
    pub min_when_modified: AtomicI64,
    /// Stopped timers still in the heap.
    pub zombies: AtomicI32,
    /// Entries in the heap (mirror for lock-free reads).
    pub len: AtomicU32,
}

// SAFETY: all shared state is atomic or under `mu`.
unsafe impl Sync for Timers {}

/// Heap arity (Go's timer heap is 4-ary: shallower, and siblings share cache lines).
const D: usize = 4;

impl Timers {
    pub(crate) const fn new() -> Self {
        Timers {
            mu: Mutex::new(
                Rank::Timers,
                Heap {
                    buf: null_mut(),
                    len: 0,
                    cap: 0,
                },
            ),
            min_when_heap: AtomicI64::new(0),
            min_when_modified: AtomicI64::new(0),
            zombies: AtomicI32::new(0),
            len: AtomicU32::new(0),
        }
    }

    pub(crate) fn lock(&self) -> Guard<'_, Heap> {
        self.mu.lock()
    }

    /// When this P next has a timer to run (0 = none). Reads `min_when_modified` first: if
    /// `adjust` just cleared it, its value was folded into `min_when_heap` before (Go's order).
    #[inline]
    pub(crate) fn wake_time(&self) -> i64 {
        let next_modified = self.min_when_modified.load(SeqCst);
        let next_heap = self.min_when_heap.load(SeqCst);
        match (next_heap, next_modified) {
            (0, m) => m,
            (h, 0) => h,
            (h, m) => h.min(m),
        }
    }

    pub(crate) fn update_min_when_modified(&self, when: i64) {
        let mut old = self.min_when_modified.load(Relaxed);
        while old == 0 || when < old {
            match self
                .min_when_modified
                .compare_exchange_weak(old, when, SeqCst, Relaxed)
            {
                Ok(_) => return,
                Err(v) => old = v,
            }
        }
    }

    fn update_min_when_heap(&self, h: &Heap) {
        let w = if h.len == 0 { 0 } else { h.at(0).when };
        self.min_when_heap.store(w, SeqCst);
        self.len.store(h.len as u32, Relaxed);
    }

    /// Add `t` (locked by the caller, HEAPED, `ts` set to self) at `when`. False if the array
    /// cannot grow.
    pub(crate) fn add_heap(&self, h: &mut Heap, t: &Timer, when: i64) -> bool {
        if h.len == h.cap && !h.grow() {
            return false;
        }
        h.set(h.len, TimerWhen { t, when });
        h.len += 1;
        h.sift_up(h.len - 1);
        self.update_min_when_heap(h);
        true
    }

    fn delete_min(&self, h: &mut Heap) {
        let last = h.len - 1;
        if last > 0 {
            h.set(0, h.at(last));
        }
        h.len = last;
        if last > 0 {
            h.sift_down(0);
        }
        self.update_min_when_heap(h);
        if last == 0 {
            // No timers: none is MODIFIED either (Go's deleteMin).
            self.min_when_modified.store(0, SeqCst);
        }
    }

    /// Fix the heap top if its timer is stale (MODIFIED) or dead (ZOMBIE); true if it changed.
    /// The caller holds the heap lock and the top timer's lock (`tl`).
    fn update_head(
        &self,
        h: &mut Heap,
        t: &Timer,
        tl: &mut crate::time::timer::TimerState,
    ) -> bool {
        if tl.state & ZOMBIE != 0 {
            tl.state &= !(HEAPED | ZOMBIE | MODIFIED);
            tl.ts = null();
            self.zombies.fetch_sub(1, Relaxed);
            t.astate.store(tl.state, Release);
            self.delete_min(h);
            return true;
        }
        if tl.state & MODIFIED != 0 {
            tl.state &= !MODIFIED;
            t.astate.store(tl.state, Release);
            h.at_mut(0).when = tl.when;
            h.sift_down(0);
            self.update_min_when_heap(h);
            return true;
        }
        false
    }

    /// Go's cleanHead: drop dead timers from the tail and fix the head until it is current.
    pub(crate) fn clean_head(&self, h: &mut Heap) {
        loop {
            if h.len == 0 {
                return;
            }
            // SAFETY: heaped timers are live (type-stable records).
            let tail = unsafe { &*h.at(h.len - 1).t };
            if tail.astate.load(Acquire) & ZOMBIE != 0 {
                let mut tl = tail.mu.lock();
                if tl.state & ZOMBIE != 0 {
                    tl.state &= !(HEAPED | ZOMBIE | MODIFIED);
                    tl.ts = null();
                    self.zombies.fetch_sub(1, Relaxed);
                    tail.astate.store(tl.state, Release);
                    h.len -= 1;
                    self.update_min_when_heap(h);
                    if h.len == 0 {
                        self.min_when_modified.store(0, SeqCst);
                    }
                }
                continue;
            }
            // SAFETY: as above.
            let top = unsafe { &*h.at(0).t };
            if top.astate.load(Acquire) & (MODIFIED | ZOMBIE) == 0 {
                return;
            }
            let mut tl = top.mu.lock();
            if !self.update_head(h, top, &mut tl) {
                return;
            }
        }
    }

    /// Go's adjust: once the earliest modified timer is due (or `force`), rewrite every stale
    /// entry and drop every dead one, then re-heapify.
    ///
    /// Keeps `wake_time` exact meanwhile (Go's four steps): (1) fold `min_when_modified` into
    /// `min_when_heap`, (2) clear `min_when_modified` (a concurrent `modify` lowers it again,
    /// having set MODIFIED in astate first), (3) scan astate and fix entries, (4) set
    /// `min_when_heap` from the heap. An update racing with (2) is seen in (3).
    fn adjust(&self, h: &mut Heap, now: i64, force: bool) {
        if !force {
            let first = self.min_when_modified.load(SeqCst);
            if first == 0 || first > now {
                return;
            }
        }
        self.min_when_heap.store(self.wake_time(), SeqCst);
        self.min_when_modified.store(0, SeqCst);
        let mut changed = false;
        let mut i = 0;
        while i < h.len {
            // SAFETY: heaped timers are live.
            let t = unsafe { &*h.at(i).t };
            if t.astate.load(Acquire) & (MODIFIED | ZOMBIE) == 0 {
                i += 1;
                continue;
            }
            let mut tl = t.mu.lock();
            if tl.state & ZOMBIE != 0 {
                tl.state &= !(HEAPED | ZOMBIE | MODIFIED);
                tl.ts = null();
                self.zombies.fetch_sub(1, Relaxed);
                t.astate.store(tl.state, Release);
                let last = h.at(h.len - 1);
                h.len -= 1;
                if i < h.len {
                    h.set(i, last);
                }
                changed = true;
                continue; // look at the entry moved into slot i
            }
            if tl.state & MODIFIED != 0 {
                tl.state &= !MODIFIED;
                t.astate.store(tl.state, Release);
                h.at_mut(i).when = tl.when;
                changed = true;
            }
            drop(tl);
            i += 1;
        }
        if changed {
            h.heapify();
        }
        self.update_min_when_heap(h);
    }

    /// Go's timers.check: run the timers that are due at `now` (0: read the clock if anything
    /// may be due). Returns (now, when the next timer is due (0 = none), whether any ran).
    /// Timer functions run with no lock held.
    pub(crate) fn check(&self, mut now: i64) -> (i64, i64, bool) {
        let next = self.wake_time();
        if next == 0 {
            return (now, 0, false);
        }
        if now == 0 {
            now = os::nanotime();
        }
        let zombies = self.zombies.load(Relaxed);
        let force = zombies > 0 && zombies as u32 > self.len.load(Relaxed) / 4;
        if now < next && !force {
            return (now, next, false);
        }
        let mut ran = false;
        let mut h = self.lock();
        if h.len > 0 {
            self.adjust(&mut h, now, false);
            while h.len > 0 {
                match self.run(h, now) {
                    (g, 0) => {
                        h = g;
                        ran = true;
                    }
                    (g, _) => {
                        h = g;
                        break;
                    }
                }
            }
            let zombies = self.zombies.load(Relaxed);
            if zombies > 0 && zombies as u32 > h.len as u32 / 4 {
                self.adjust(&mut h, now, true);
            }
        }
        drop(h);
        (now, self.wake_time(), ran)
    }

    /// Go's timers.run: look at the heap top; run it if due. Returns the guard (re-taken if it
    /// was dropped to run a timer) and 0 if the heap changed (look again), else the top's
    /// `when`.
    fn run<'a>(&'a self, h: Guard<'a, Heap>, now: i64) -> (Guard<'a, Heap>, i64) {
        let mut h = h;
        let tw = h.at(0);
        // SAFETY: heaped timers are live.
        let t = unsafe { &*tw.t };
        if t.astate.load(Acquire) & (MODIFIED | ZOMBIE) == 0 && tw.when > now {
            return (h, tw.when);
        }
        let mut tl = t.mu.lock();
        if self.update_head(&mut h, t, &mut tl) {
            return (h, 0);
        }
        if tl.when > now {
            return (h, tl.when);
        }
        // One-shot: it leaves the heap as it runs.
        let (f, arg, seq) = (tl.f, tl.arg, tl.seq);
        tl.when = 0;
        tl.state &= !(HEAPED | MODIFIED | ZOMBIE);
        tl.ts = null();
        t.astate.store(tl.state, Release);
        self.delete_min(&mut h);
        drop(tl);
        drop(h);
        if let Some(f) = f {
            // SAFETY: the TimerFn contract: called with no lock held.
            unsafe { f(arg, seq) };
        }
        (self.lock(), 0)
    }
}

impl Heap {
    #[inline]
    fn at(&self, i: usize) -> TimerWhen {
        debug_assert!(i < self.len);
        // SAFETY: i < len <= cap, within the mapped array.
        unsafe { *self.buf.add(i) }
    }
    #[inline]
    fn at_mut(&mut self, i: usize) -> &mut TimerWhen {
        debug_assert!(i < self.len);
        // SAFETY: as at.
        unsafe { &mut *self.buf.add(i) }
    }
    #[inline]
    fn set(&mut self, i: usize, v: TimerWhen) {
        debug_assert!(i < self.cap);
        // SAFETY: i < cap.
        unsafe { self.buf.add(i).write(v) }
    }

    fn grow(&mut self) -> bool {
        let ncap = if self.cap == 0 { 256 } else { self.cap * 2 };
        let Some(nbuf) = os::mmap_reserve(ncap * core::mem::size_of::<TimerWhen>()) else {
            return false;
        };
        let nbuf = nbuf as *mut TimerWhen;
        if !self.buf.is_null() {
            // SAFETY: both arrays are mapped and hold at least len entries; they do not overlap.
            unsafe {
                core::ptr::copy_nonoverlapping(self.buf, nbuf, self.len);
                os::munmap(
                    self.buf as *mut u8,
                    self.cap * core::mem::size_of::<TimerWhen>(),
                );
            }
        }
        self.buf = nbuf;
        self.cap = ncap;
        true
    }

    fn sift_up(&mut self, mut i: usize) {
        let tw = self.at(i);
        while i > 0 {
            let p = (i - 1) / D;
            if tw.when >= self.at(p).when {
                break;
            }
            let pv = self.at(p);
            self.set(i, pv);
            i = p;
        }
        self.set(i, tw);
    }

    fn sift_down(&mut self, mut i: usize) {
        let n = self.len;
        let tw = self.at(i);
        loop {
            let c = i * D + 1;
            if c >= n {
                break;
            }
            let mut m = c;
            let mut w = self.at(c).when;
            for j in c + 1..(c + D).min(n) {
                if self.at(j).when < w {
                    w = self.at(j).when;
                    m = j;
                }
            }
            if w >= tw.when {
                break;
            }
            let mv = self.at(m);
            self.set(i, mv);
            i = m;
        }
        self.set(i, tw);
    }

    fn heapify(&mut self) {
        if self.len < 2 {
            return;
        }
        let mut i = (self.len - 2) / D + 1;
        while i > 0 {
            i -= 1;
            self.sift_down(i);
        }
    }
}
