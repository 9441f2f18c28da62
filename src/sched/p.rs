//! P: a processor — the right to run goroutines, and the per-processor caches that go with it.
//!
//! # P statuses
//! Go's `_P*`, with who may change the status (see status.rs for the gate):
//! - `Idle`: on sched.pidle, or just taken off it, or handed to an M that is about to
//!   acquire it (`m.nextp`). Owned by sched.lock while on a list, else by the
//!   M it was handed to. Its run queue is empty while on the idle list.
//! - `Running`: owned by an M (`p.m`, `m.p`); only that M changes its status.
//! - `Syscall`: its M is in a syscall and still remembers it (`m.oldp`) but owns nothing:
//!   sysmon (retake) and the M itself (exitsyscall) race with `try_cas(Syscall, Idle)`, and
//!   the winner owns the P.
//! - `Dead`: beyond gomaxprocs (procresize shrank past it): on no list, queues drained; only
//!   procresize (under sched.lock) revives it.
//!
//! # Processors and procresize
//! Go's procresize stops the world. Here resizing needs no stop: growing makes new Ps idle and
//! wakes Ms for them; shrinking retires idle Ps at once (their queues go to the global queue),
//! and a running P whose id is now ≥ gomaxprocs retires when its M next enters the scheduler
//! (gomaxprocs preempts their goroutines to get there soon). Ps are never freed (their
//! counters feed gmp_stats_read).

use crate::sched::g::{GQueue, G};
use crate::sched::m::M;
use crate::sched::runq::RunQ;
use crate::sched::status::{AtomicStatus, Status};
use crate::time::heap::Timers;
use core::ptr::null_mut;
use core::sync::atomic::{AtomicI64, AtomicPtr, AtomicU32, AtomicU64, Ordering::*};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u32)]
pub(crate) enum PStatus {
    Idle = 0,
    Running = 1,
    Syscall = 2,
    Dead = 3,
}

impl Status for PStatus {
    fn from_u32(v: u32) -> Self {
        match v {
            0 => PStatus::Idle,
            1 => PStatus::Running,
            2 => PStatus::Syscall,
            3 => PStatus::Dead,
            _ => throw!("PStatus::from_u32: bad value"),
        }
    }
    fn to_u32(self) -> u32 {
        self as u32
    }
    const BAD_SET: &'static str = "AtomicStatus::set: bad incoming P status";
    const BAD_CAS: &'static str = "AtomicStatus::cas: bad incoming P status";
}

/// Go's _MaxGomaxprocs.
pub(crate) const MAX_PROCS: usize = 1024;
/// Ids handed to a P at a time, so spawning does not contend on one counter.
const GOID_BATCH: i64 = 16;

pub(crate) struct P {
    /// Fixed.
    pub id: u32,
    /// See "P statuses". Read racily (Relaxed) by thieves, sysmon and schedtrace.
    pub status: AtomicStatus<PStatus>,
    /// Idle-list link (sched.lock).
    pub link: *mut P,
    /// The owning M (null when idle or in a syscall). Written by the owner (acquirep,
    /// releasep, entersyscall); read racily by sysmon (preemptone), thieves and schedtrace.
    pub m: AtomicPtr<M>,
    /// Incremented on every schedule that does not inherit a time slice (owner only: load +
    /// store); read by schedtrace.
    pub schedtick: AtomicU32,
    /// Incremented on every syscall entry and retake; sysmon uses it to see a P that has been in
    /// the same syscall for a whole tick.
    pub syscalltick: AtomicU32,
    /// When the current time slice started (sysmon's coarse clock, within 1 ms): written by
    /// the owner at each new slice, read by sysmon to preempt a G that ran over 10 ms.
    pub slice_start: AtomicI64,
    pub runq: RunQ<G>,
    /// Free Gs with their stacks (owner only, or sched.lock when the P has no owner), and a
    /// mirror of its length for schedtrace.
    pub gfree: GQueue,
    pub gfreecnt: AtomicU32,
    /// This P's batch of goroutine ids (owner only).
    pub goidcache: i64,
    pub goidcacheend: i64,
    pub stats: PStats,
    /// This P's timers (time/heap.rs: they have their own lock).
    pub timers: Timers,
}

// SAFETY: a P is shared between threads by pointer; every field's sync rule is documented
// above (owner-only fields move with ownership, which is handed over under sched.lock or a
// note's release/acquire).
unsafe impl Sync for P {}

/// Counters written only by the owning M (relaxed load+store: one writer at a time, handed
/// over with the P) and read racily by gmp_stats_read.
#[derive(Default)]
pub(crate) struct PStats {
    pub schedules: AtomicU64,
    pub steals: AtomicU64,
    pub yields: AtomicU64,
    pub spawned: AtomicU64,
    pub ended: AtomicU64,
}

/// Add to an owner-only counter (see PStats).
#[inline]
pub(crate) fn bump(c: &AtomicU64, n: u64) {
    c.store(c.load(Relaxed) + n, Relaxed);
}

impl P {
    /// A P record in persistent memory (Ps are never freed). None when no memory can be had.
    pub(crate) fn new(id: u32) -> Option<*mut P> {
        crate::os::persistent::persistent_new(P {
            id,
            status: AtomicStatus::new_raw(PStatus::Dead as u32),
            link: null_mut(),
            m: AtomicPtr::new(null_mut()),
            schedtick: AtomicU32::new(0),
            syscalltick: AtomicU32::new(0),
            slice_start: AtomicI64::new(0),
            runq: RunQ::new(),
            gfree: GQueue::new(),
            gfreecnt: AtomicU32::new(0),
            goidcache: 0,
            goidcacheend: 0,
            stats: PStats::default(),
            timers: Timers::new(),
        })
    }

    #[inline]
    pub(crate) fn m(&self) -> *mut M {
        self.m.load(Relaxed)
    }

    /// A fresh goroutine id from this P's batch (owner only).
    pub(crate) fn next_goid(&mut self) -> i64 {
        if self.goidcache == self.goidcacheend {
            self.goidcache = crate::sched::sched::SCHED
                .goidgen
                .fetch_add(GOID_BATCH, Relaxed)
                + 1;
            self.goidcacheend = self.goidcache + GOID_BATCH;
        }
        let id = self.goidcache;
        self.goidcache += 1;
        id
    }

    /// The P is beyond gomaxprocs: it retires at its next schedule point.
    pub(crate) fn retiring(&self) -> bool {
        self.id >= crate::sched::sched::SCHED.gomaxprocs.load(Relaxed)
    }

    /// Owner-only: keep `gfreecnt` in step with `gfree`.
    pub(crate) fn sync_gfreecnt(&self) {
        self.gfreecnt.store(self.gfree.len as u32, Relaxed);
    }
}
