//! Single-thread tests of the run queue (Go's `RunSchedLocalQueueTest`,
//! `RunSchedLocalQueueStealTest`; tokio's `fits_256_one_at_a_time`), with distinct pointers so
//! every item's identity is checked. They prove, at every fill level 0..=RUNQ_SIZE and with the
//! u32 `head`/`tail` wrapping around:
//! - put/get are FIFO, `len` is exact, and an emptied queue returns `None`;
//! - runnext: `put(x, true)` kicks the previous runnext into the ring's tail, `get` returns
//!   runnext first with `inherit == true` and ring items with `false`;
//! - overflow: the (RUNQ_SIZE+1)-th put hands the overflow closure exactly once the oldest half
//!   in order followed by the new item, and the newer half stays gettable in order;
//! - steal: the thief takes ceil(n/2) (the oldest), returns the last one it took and can get
//!   the rest in order; the victim keeps the newest n/2; runnext goes only with `steal_next`
//!   and an empty ring; `victim_running` is consulted only on that path;
//! - in every case the union of everything taken is the original set, each item exactly once.

use super::{RunQ, RUNQ_SIZE};
use core::cell::Cell;
use std::collections::VecDeque;

const N: usize = RUNQ_SIZE as usize;
const HALF: usize = N / 2;

/// Distinct, dereferenceable items: element `i` holds `i`, so a pointer names its item.
struct Items(Box<[u64]>);

impl Items {
    fn new(n: usize) -> Self {
        Items((0..n as u64).collect())
    }
    fn p(&mut self, i: usize) -> *mut u64 {
        &mut self.0[i]
    }
    /// The index of the item `p` points at (and check it really is one of ours).
    fn id(&self, p: *mut u64) -> usize {
        let base = self.0.as_ptr() as usize;
        let a = p as usize;
        assert!(
            a >= base && a < base + 8 * self.0.len() && (a - base).is_multiple_of(8),
            "foreign pointer {p:?}"
        );
        let i = (a - base) / 8;
        // SAFETY: p points into self.0 (checked above), which is alive and not mutably borrowed.
        assert_eq!(unsafe { *p }, i as u64);
        i
    }
}

/// An empty queue whose head and tail are both `start`: the state a fresh queue reaches after
/// `start` put/get pairs (every index is such a state, since the counters only ever wrap).
fn q_at(start: u32) -> RunQ<u64> {
    let q = RunQ::new();
    q.head.store(start, core::sync::atomic::Ordering::Relaxed);
    q.tail.store(start, core::sync::atomic::Ordering::Relaxed);
    q
}

/// Starting indices: fresh, mid-ring, one before a ring lap, and straddling the u32 wrap.
const STARTS: [u32; 6] = [
    0,
    1,
    RUNQ_SIZE - 1,
    12345,
    u32::MAX - RUNQ_SIZE / 2,
    u32::MAX,
];

fn no_overflow(_: &[*mut u64]) {
    panic!("unexpected overflow");
}

/// put by the owner: every queue in these tests is owned by the test thread.
fn put(q: &RunQ<u64>, p: *mut u64, next: bool) {
    // SAFETY: single thread; the test is the queue's only owner; p is non-null.
    unsafe { q.put(p, next, &mut no_overflow) }
}

fn get(q: &RunQ<u64>) -> Option<(*mut u64, bool)> {
    // SAFETY: single thread; the test is the queue's only owner.
    unsafe { q.get() }
}

fn steal(thief: &RunQ<u64>, victim: &RunQ<u64>, steal_next: bool) -> Option<(*mut u64, u32)> {
    // SAFETY: single thread; the test owns `thief`; callers keep thief's ring with room.
    unsafe { thief.steal(victim, steal_next, &|| false) }
}

/// Drain `q` with get; every item must come from the ring (no runnext), and `len` must drop
/// by one per get.
fn drain_ring(q: &RunQ<u64>, it: &Items) -> Vec<usize> {
    let mut out = Vec::new();
    let mut len = q.len();
    while let Some((p, inherit)) = get(q) {
        assert!(!inherit, "ring item reported as runnext");
        out.push(it.id(p));
        assert_eq!(q.len() + 1, len, "len drops by one per get");
        len = q.len();
    }
    assert_eq!(len, 0);
    assert!(q.is_empty());
    assert_eq!(get(q), None, "get on an empty queue");
    out
}

fn assert_exactly_once(all: &[usize], n: usize) {
    let mut v = all.to_vec();
    v.sort_unstable();
    assert_eq!(v, (0..n).collect::<Vec<_>>(), "items lost or duplicated");
}

#[test]
fn new_queue_is_empty() {
    let q = RunQ::<u64>::new();
    assert_eq!(q.len(), 0);
    assert!(q.is_empty());
    assert_eq!(get(&q), None);
    assert_eq!(get(&q), None);
    let thief = RunQ::<u64>::new();
    assert_eq!(steal(&thief, &q, false), None);
    assert_eq!(steal(&thief, &q, true), None);
    assert!(thief.is_empty());
}

/// tokio's fits_256_one_at_a_time / Go's RunSchedLocalQueueTest, at every fill level and from
/// every start index (including across the u32 wrap).
#[test]
fn fill_levels_fifo() {
    let mut it = Items::new(N);
    for &start in &STARTS {
        for n in 0..=N {
            let q = q_at(start);
            for i in 0..n {
                put(&q, it.p(i), false);
                assert_eq!(
                    q.len() as usize,
                    i + 1,
                    "len after {} puts (start {start})",
                    i + 1
                );
            }
            for i in 0..n {
                let (p, inherit) = get(&q).expect("queue ran dry early");
                assert!(!inherit);
                assert_eq!(it.id(p), i, "FIFO order, n={n}, start {start}");
                assert_eq!(q.len() as usize, n - i - 1);
            }
            assert_eq!(get(&q), None);
            assert!(q.is_empty());
        }
    }
}

/// The same, with the counters advanced by real put/get cycles (so the ring index wraps many
/// times without touching the fields), reusing one queue for every fill level.
#[test]
fn fill_levels_fifo_one_queue_reused() {
    let mut it = Items::new(N);
    let q = RunQ::<u64>::new();
    for round in 0..3 {
        for n in 0..=N {
            for i in 0..n {
                put(&q, it.p(i), false);
            }
            assert_eq!(q.len() as usize, n);
            let got = drain_ring(&q, &it);
            assert_eq!(got, (0..n).collect::<Vec<_>>(), "round {round}, n={n}");
        }
        // Odd number of put/get pairs so the next round starts mid-ring.
        for _ in 0..(N / 3 + 1) {
            put(&q, it.p(0), false);
            assert_eq!(get(&q).map(|(p, _)| it.id(p)), Some(0));
        }
    }
}

/// Interleaved puts and gets keep FIFO order and exact lengths (Go's runqtest puts i items,
/// gets them, for i up to the ring size; this one keeps a backlog).
#[test]
fn interleaved_put_get_fifo() {
    let total = 10 * N;
    let mut it = Items::new(total);
    for &start in &STARTS {
        let q = q_at(start);
        let (mut next_put, mut next_get) = (0, 0);
        // Backlog swings between 0 and N: put 3, get 2 until full-ish, then drain.
        while next_put < total {
            for _ in 0..3 {
                if next_put < total && next_put - next_get < N {
                    put(&q, it.p(next_put), false);
                    next_put += 1;
                }
            }
            for _ in 0..2 {
                if next_get < next_put {
                    let (p, inh) = get(&q).unwrap();
                    assert!(!inh);
                    assert_eq!(it.id(p), next_get);
                    next_get += 1;
                }
            }
            assert_eq!(q.len() as usize, next_put - next_get);
        }
        let rest = drain_ring(&q, &it);
        assert_eq!(rest, (next_get..total).collect::<Vec<_>>());
    }
}

/// runnext at every fill level: n-1 items in the ring (all kicked out of runnext by the next
/// put(_, true)) plus the newest in runnext. get returns runnext first (inherit), then FIFO.
#[test]
fn fill_levels_runnext_only() {
    let mut it = Items::new(N + 1);
    for &start in &STARTS {
        for n in 0..=N + 1 {
            let q = q_at(start);
            for i in 0..n {
                put(&q, it.p(i), true);
                assert_eq!(q.len() as usize, i + 1);
            }
            if n > 0 {
                let (p, inherit) = get(&q).unwrap();
                assert!(inherit, "runnext must come first and inherit");
                assert_eq!(it.id(p), n - 1);
                assert_eq!(q.len() as usize, n - 1);
            }
            let got = drain_ring(&q, &it);
            assert_eq!(
                got,
                (0..n.saturating_sub(1)).collect::<Vec<_>>(),
                "n={n} start {start}"
            );
        }
    }
}

/// Ring filled with plain puts, then one put(_, true): runnext is taken first, ring after.
/// Then a second put(_, true) kicks the first into the ring's tail.
#[test]
fn fill_levels_ring_plus_runnext() {
    let mut it = Items::new(N + 2);
    for &start in &STARTS {
        for n in 0..=N {
            // a) n ring items + runnext
            let q = q_at(start);
            for i in 0..n {
                put(&q, it.p(i), false);
            }
            put(&q, it.p(N), true);
            assert_eq!(q.len() as usize, n + 1);
            assert_eq!(get(&q).map(|(p, inh)| (it.id(p), inh)), Some((N, true)));
            assert_eq!(drain_ring(&q, &it), (0..n).collect::<Vec<_>>());

            // b) runnext replaced: the old one goes behind the ring items (n < N: room for it)
            if n < N {
                let q = q_at(start);
                put(&q, it.p(N), true);
                for i in 0..n {
                    put(&q, it.p(i), false);
                }
                put(&q, it.p(N + 1), true);
                assert_eq!(q.len() as usize, n + 2);
                assert_eq!(get(&q).map(|(p, inh)| (it.id(p), inh)), Some((N + 1, true)));
                let mut want: Vec<usize> = (0..n).collect();
                want.push(N);
                assert_eq!(drain_ring(&q, &it), want);
            }

            // c) runnext taken, later puts go to the ring; a new runnext is again first
            let q = q_at(start);
            put(&q, it.p(N), true);
            assert_eq!(get(&q).map(|(p, inh)| (it.id(p), inh)), Some((N, true)));
            for i in 0..n {
                put(&q, it.p(i), false);
            }
            put(&q, it.p(N + 1), true);
            assert_eq!(get(&q).map(|(p, inh)| (it.id(p), inh)), Some((N + 1, true)));
            assert_eq!(drain_ring(&q, &it), (0..n).collect::<Vec<_>>());
        }
    }
}

/// Overflow: the (N+1)-th put moves the oldest N/2 plus the new item out, once, in order.
/// Repeated from many start indices (straddling the u32 wrap) and, on one queue, for enough
/// rounds that the ring index laps many times.
#[test]
fn overflow_oldest_half_plus_new() {
    let mut it = Items::new(N + 1);
    let check = |q: &RunQ<u64>, it: &mut Items, start: u32| {
        for i in 0..N {
            put(q, it.p(i), false);
        }
        assert_eq!(q.len() as usize, N);
        let mut calls = 0;
        let mut moved: Vec<usize> = Vec::new();
        let p = it.p(N);
        // SAFETY: single thread; the test owns q; p is non-null.
        unsafe {
            q.put(p, false, &mut |batch: &[*mut u64]| {
                calls += 1;
                moved.extend(batch.iter().map(|&b| it.id(b)));
            })
        };
        assert_eq!(calls, 1, "overflow called once (start {start})");
        let mut want: Vec<usize> = (0..HALF).collect();
        want.push(N);
        assert_eq!(
            moved, want,
            "oldest half in order, then the new item (start {start})"
        );
        assert_eq!(q.len() as usize, N - HALF);
        let rest = drain_ring(q, it);
        assert_eq!(rest, (HALF..N).collect::<Vec<_>>());
        let mut all = moved;
        all.extend(rest);
        assert_exactly_once(&all, N + 1);
    };
    for &start in &STARTS {
        check(&q_at(start), &mut it, start);
    }
    for start in (u32::MAX - 3 * RUNQ_SIZE..=u32::MAX).step_by(7) {
        check(&q_at(start), &mut it, start);
    }
    // One queue, counters advanced only by the queue itself.
    let q = RunQ::<u64>::new();
    for round in 0..50 {
        check(&q, &mut it, round);
        put(&q, it.p(0), false); // shift the start by one each round
        assert_eq!(get(&q).map(|(p, _)| it.id(p)), Some(0));
    }
}

/// put(_, true) on a full ring with runnext occupied: the kicked-out runnext is the item that
/// overflows (after the oldest half); the new one stays in runnext.
#[test]
fn overflow_via_runnext_kick() {
    let mut it = Items::new(N + 2);
    for &start in &STARTS {
        let q = q_at(start);
        put(&q, it.p(N), true);
        for i in 0..N {
            put(&q, it.p(i), false);
        }
        assert_eq!(q.len() as usize, N + 1);
        let mut moved = Vec::new();
        let mut calls = 0;
        let p = it.p(N + 1);
        // SAFETY: single thread; the test owns q; p is non-null.
        unsafe {
            q.put(p, true, &mut |b: &[*mut u64]| {
                calls += 1;
                moved.extend(b.iter().map(|&x| it.id(x)));
            })
        };
        assert_eq!(calls, 1);
        let mut want: Vec<usize> = (0..HALF).collect();
        want.push(N);
        assert_eq!(moved, want);
        assert_eq!(get(&q).map(|(p, inh)| (it.id(p), inh)), Some((N + 1, true)));
        assert_eq!(drain_ring(&q, &it), (HALF..N).collect::<Vec<_>>());
    }
}

/// Reference model of one queue: runnext plus a FIFO ring of at most N.
#[derive(Default)]
struct Model {
    next: Option<usize>,
    ring: VecDeque<usize>,
}

impl Model {
    /// Returns the overflow batch, if any.
    fn put(&mut self, mut x: usize, next: bool) -> Option<Vec<usize>> {
        if next {
            match self.next.replace(x) {
                None => return None,
                Some(old) => x = old,
            }
        }
        if self.ring.len() < N {
            self.ring.push_back(x);
            return None;
        }
        let mut batch: Vec<usize> = self.ring.drain(..HALF).collect();
        batch.push(x);
        Some(batch)
    }
    fn get(&mut self) -> Option<(usize, bool)> {
        if let Some(x) = self.next.take() {
            return Some((x, true));
        }
        self.ring.pop_front().map(|x| (x, false))
    }
    fn len(&self) -> usize {
        self.ring.len() + self.next.is_some() as usize
    }
}

/// A long pseudo-random stream of puts (plain and runnext; many overflows), gets and steals by
/// two queues from each other, checked step by step against the reference model, from start
/// indices that make the u32 counters wrap. At the end every item was taken exactly once.
#[test]
fn random_ops_match_model() {
    let total = 60 * N;
    let mut it = Items::new(total);
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut rnd = |m: u64| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) % m
    };
    for &(s0, s1) in &[
        (0, 0),
        (u32::MAX - 5 * RUNQ_SIZE, u32::MAX - 2),
        (7, u32::MAX),
    ] {
        let qs = [q_at(s0), q_at(s1)];
        let mut ms = [Model::default(), Model::default()];
        let mut out: Vec<usize> = Vec::new();
        let mut batches = 0;
        let mut steals = 0;
        let mut next_item = 0;
        while next_item < total {
            let w = rnd(2) as usize;
            let (q, v) = (&qs[w], &qs[1 - w]);
            let [m0, m1] = &mut ms;
            let (m, mv) = if w == 0 { (m0, m1) } else { (m1, m0) };
            match rnd(10) {
                0..=5 => {
                    let next = rnd(4) == 0;
                    let x = next_item;
                    next_item += 1;
                    let p = it.p(x);
                    let mut ov: Option<Vec<usize>> = None;
                    // SAFETY: single thread; the test owns q; p is non-null.
                    unsafe {
                        q.put(p, next, &mut |b: &[*mut u64]| {
                            assert!(ov.is_none(), "overflow called twice");
                            ov = Some(b.iter().map(|&x| it.id(x)).collect());
                        })
                    };
                    let want = m.put(x, next);
                    assert_eq!(ov, want, "overflow batch");
                    if let Some(b) = ov {
                        batches += 1;
                        out.extend(b);
                    }
                }
                6..=7 => {
                    let got = get(q).map(|(p, inh)| (it.id(p), inh));
                    assert_eq!(got, m.get());
                    out.extend(got.map(|g| g.0));
                }
                _ => {
                    // q steals from the other queue, if q's ring has room for half of it.
                    let n = mv.ring.len();
                    if m.ring.len() + n / 2 + 1 > N {
                        continue;
                    }
                    let steal_next = rnd(2) == 0;
                    let want: Vec<usize> = if n > 0 {
                        mv.ring.drain(..n - n / 2).collect()
                    } else if steal_next {
                        mv.next.take().into_iter().collect()
                    } else {
                        Vec::new()
                    };
                    let r = steal(q, v, steal_next);
                    match r {
                        None => assert!(want.is_empty()),
                        Some((p, cnt)) => {
                            steals += 1;
                            assert_eq!(cnt as usize, want.len());
                            assert_eq!(Some(&it.id(p)), want.last(), "returned the last stolen");
                            out.push(it.id(p));
                            m.ring.extend(&want[..want.len() - 1]);
                        }
                    }
                }
            }
            for (q, m) in qs.iter().zip(&ms) {
                assert_eq!(q.len() as usize, m.len());
            }
        }
        assert!(
            batches > 10 && steals > 10,
            "the stream must overflow and steal often"
        );
        for (q, m) in qs.iter().zip(ms.iter_mut()) {
            while let Some((p, inh)) = get(q) {
                assert_eq!(Some((it.id(p), inh)), m.get());
                out.push(it.id(p));
            }
            assert_eq!(m.len(), 0);
        }
        assert_exactly_once(&out, total);
    }
}

/// Go's RunSchedLocalQueueStealTest at every fill level and start index (victim and thief at
/// different indices, including across the u32 wrap).
#[test]
fn steal_fill_levels() {
    let mut it = Items::new(N);
    for &vstart in &STARTS {
        for &tstart in &[0, u32::MAX - 3, 77] {
            for n in 0..=N {
                let victim = q_at(vstart);
                let thief = q_at(tstart);
                for i in 0..n {
                    put(&victim, it.p(i), false);
                }
                let r = steal(&thief, &victim, false);
                let want = n - n / 2;
                if n == 0 {
                    assert_eq!(r, None);
                    assert!(thief.is_empty() && victim.is_empty());
                    continue;
                }
                let (p, cnt) = r.expect("steal from a non-empty ring");
                assert_eq!(cnt as usize, want, "thief takes ceil(n/2), n={n}");
                assert_eq!(
                    it.id(p),
                    want - 1,
                    "returned item is the last stolen, n={n}"
                );
                assert_eq!(thief.len() as usize, want - 1);
                assert_eq!(victim.len() as usize, n / 2);
                let from_thief = drain_ring(&thief, &it);
                assert_eq!(
                    from_thief,
                    (0..want - 1).collect::<Vec<_>>(),
                    "thief keeps order"
                );
                let from_victim = drain_ring(&victim, &it);
                assert_eq!(
                    from_victim,
                    (want..n).collect::<Vec<_>>(),
                    "victim keeps the newest"
                );
                let mut all = from_thief;
                all.push(it.id(p));
                all.extend(from_victim);
                assert_exactly_once(&all, n);
            }
        }
    }
}

/// A thief that already holds items (with room) appends the stolen ones after its own.
#[test]
fn steal_into_nonempty_thief() {
    let mut it = Items::new(2 * N);
    for k in [1, HALF / 2, HALF - 1] {
        for n in 1..=N {
            let victim = q_at(5);
            let thief = q_at(u32::MAX - 1);
            for i in 0..k {
                put(&thief, it.p(N + i), false);
            }
            for i in 0..n {
                put(&victim, it.p(i), false);
            }
            let want = n - n / 2;
            let (p, cnt) = steal(&thief, &victim, false).unwrap();
            assert_eq!((it.id(p), cnt as usize), (want - 1, want));
            let mut exp: Vec<usize> = (N..N + k).collect();
            exp.extend(0..want - 1);
            assert_eq!(drain_ring(&thief, &it), exp);
            assert_eq!(drain_ring(&victim, &it), (want..n).collect::<Vec<_>>());
        }
    }
}

/// Stealing repeatedly empties the victim in halves: n -> n/2 -> ..., all items once.
#[test]
fn steal_repeatedly_until_empty() {
    let mut it = Items::new(N);
    for n in 0..=N {
        let victim = q_at(3);
        for i in 0..n {
            put(&victim, it.p(i), false);
        }
        let mut all = Vec::new();
        let mut left = n;
        loop {
            let thief = q_at(left as u32 * 1000);
            match steal(&thief, &victim, true) {
                None => break,
                Some((p, cnt)) => {
                    assert_eq!(cnt as usize, left - left / 2);
                    left /= 2;
                    let got = drain_ring(&thief, &it);
                    // Stolen items are the victim's oldest, so they come in ascending order.
                    let mut chunk = got.clone();
                    chunk.push(it.id(p));
                    assert!(chunk.windows(2).all(|w| w[0] + 1 == w[1]));
                    all.extend(chunk);
                }
            }
            assert_eq!(victim.len() as usize, left);
        }
        assert_eq!(left, 0);
        assert_exactly_once(&all, n);
    }
}

/// runnext is stolen only with steal_next and only from an otherwise empty ring; the victim's
/// "running" callback is consulted on that path alone.
#[test]
fn steal_runnext_rules() {
    let mut it = Items::new(N + 1);
    let r = N; // the runnext item
    for n in 0..=N {
        for steal_next in [false, true] {
            let victim = q_at(9);
            let thief = q_at(0);
            for i in 0..n {
                put(&victim, it.p(i), false);
            }
            put(&victim, it.p(r), true);
            let asked = Cell::new(0);
            let running = || {
                asked.set(asked.get() + 1);
                false
            };
            // SAFETY: single thread; the test owns thief, which is empty.
            let res = unsafe { thief.steal(&victim, steal_next, &running) };
            if n == 0 {
                if steal_next {
                    let (p, cnt) = res.expect("runnext stolen from an empty ring");
                    assert_eq!((it.id(p), cnt), (r, 1));
                    assert_eq!(asked.get(), 1, "victim_running asked once");
                    assert!(victim.is_empty());
                    assert_eq!(get(&victim), None);
                } else {
                    assert_eq!(res, None, "runnext left alone without steal_next");
                    assert_eq!(asked.get(), 0);
                    assert_eq!(victim.len(), 1);
                    assert_eq!(
                        get(&victim).map(|(p, inh)| (it.id(p), inh)),
                        Some((r, true))
                    );
                }
                assert!(thief.is_empty());
                continue;
            }
            // Non-empty ring: runnext stays put either way.
            assert_eq!(asked.get(), 0, "victim_running only matters for runnext");
            let want = n - n / 2;
            let (p, cnt) = res.unwrap();
            assert_eq!((it.id(p), cnt as usize), (want - 1, want));
            assert_eq!(victim.len() as usize, n / 2 + 1);
            let mut all = drain_ring(&thief, &it);
            all.push(it.id(p));
            assert_eq!(
                get(&victim).map(|(p, inh)| (it.id(p), inh)),
                Some((r, true))
            );
            all.push(r);
            let rest = drain_ring(&victim, &it);
            assert_eq!(rest, (want..n).collect::<Vec<_>>());
            all.extend(rest);
            let mut want_all: Vec<usize> = (0..n).collect();
            want_all.push(r);
            all.sort_unstable();
            assert_eq!(all, want_all);
        }
    }
}

/// Steal into a thief whose stolen run wraps its ring and its u32 counters; then the thief's
/// own overflow still works on the stolen items.
#[test]
fn stolen_items_behave_like_own() {
    let mut it = Items::new(2 * N + 1);
    let victim = q_at(u32::MAX - 10);
    let thief = q_at(u32::MAX - 2);
    for i in 0..N {
        put(&victim, it.p(i), false);
    }
    let (p, cnt) = steal(&thief, &victim, false).unwrap();
    assert_eq!((it.id(p), cnt as usize), (HALF - 1, HALF));
    // Fill the thief to the brim and overflow it.
    let have = HALF - 1;
    for i in 0..N - have {
        put(&thief, it.p(N + i), false);
    }
    assert_eq!(thief.len() as usize, N);
    let mut moved = Vec::new();
    let p2 = it.p(2 * N);
    // SAFETY: single thread; the test owns thief; p2 is non-null.
    unsafe {
        thief.put(p2, false, &mut |b: &[*mut u64]| {
            moved.extend(b.iter().map(|&x| it.id(x)))
        })
    };
    let mut want: Vec<usize> = (0..have).collect();
    want.extend(N..N + (HALF - have));
    want.push(2 * N);
    assert_eq!(moved, want);
    let rest = drain_ring(&thief, &it);
    assert_eq!(
        rest,
        (N + (HALF - have)..N + (N - have)).collect::<Vec<_>>()
    );
    let mut all: Vec<usize> = moved.into_iter().chain(rest).chain([it.id(p)]).collect();
    all.extend(drain_ring(&victim, &it));
    all.sort_unstable();
    let want_all: Vec<usize> = (0..N).chain(N..N + (N - have)).chain([2 * N]).collect();
    assert_eq!(all, want_all, "items lost or duplicated");
}
