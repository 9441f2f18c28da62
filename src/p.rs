//! P: a processor — the right to run Go code, and the per-processor caches that go with it.
//!
//! P statuses (Go's `_P*`):
//! - `IDLE`: on sched.pidle (sched.lock), owned by nobody; its run queue is empty.
//! - `RUNNING`: owned by an M (`p.m`, `m.p`); only that M changes its status.
//! - `SYSCALL`: its M is in a syscall (gmp_entersyscall) and still nominally holds it; sysmon
//!   (retake) or the M itself (exitsyscall) may take it, whoever wins the CAS to IDLE/RUNNING.
//! - `DEAD`: beyond gomaxprocs (procresize shrank past it); on no list, queues drained.
//!
//! # Processors and procresize
//! Go's procresize stops the world. A goroutine spinning in C code cannot be stopped before
//! asynchronous preemption exists, so resizing here is incremental and needs no stop: growing
//! makes new Ps idle and wakes Ms for them; shrinking retires idle Ps at once (their queues go
//! to the global queue), and a running P whose id is now ≥ gomaxprocs retires when its M next
//! enters the scheduler. Ps are never freed (their counters feed gmp_stats_read).

use crate::g::{GQueue, G};
use crate::m::M;
use crate::runq::RunQ;
use core::ptr::null_mut;
use core::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, Ordering::*};

pub(crate) const IDLE: u32 = 0;
pub(crate) const RUNNING: u32 = 1;
pub(crate) const SYSCALL: u32 = 2;
pub(crate) const DEAD: u32 = 3;

/// Go's _MaxGomaxprocs.
pub(crate) const MAX_PROCS: usize = 1024;
/// Ids handed to a P at a time, so spawning does not contend on one counter.
const GOID_BATCH: i64 = 16;

pub(crate) struct P {
    pub id: u32,
    /// See the status table. Written by the owner or under sched.lock; read racily by thieves.
    pub status: AtomicU32,
    /// Idle-list link (sched.lock).
    pub link: *mut P,
    /// The owning M (null when idle).
    pub m: *mut M,
    /// Incremented on every schedule that does not inherit a time slice (owner only; read by
    /// sysmon).
    pub schedtick: AtomicU32,
    /// Incremented on every syscall entry and retake; sysmon uses it to see a P that has been in
    /// the same syscall for a whole tick.
    pub syscalltick: AtomicU32,
    /// When the current time slice started (sysmon's coarse clock, within 1 ms): written by
    /// the owner at each new slice, read by sysmon to preempt a G that ran over 10 ms.
    pub slice_start: AtomicI64,
    pub runq: RunQ<G>,
    /// Free Gs with their stacks (owner only, or sched.lock when the P has no owner).
    pub gfree: GQueue,
    pub goidcache: i64,
    pub goidcacheend: i64,
    pub stats: PStats,
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

#[inline]
pub(crate) fn bump(c: &AtomicU64, n: u64) {
    c.store(c.load(Relaxed) + n, Relaxed);
}

impl P {
    pub(crate) fn new(id: u32) -> *mut P {
        Box::into_raw(Box::new(P {
            id,
            status: AtomicU32::new(DEAD),
            link: null_mut(),
            m: null_mut(),
            schedtick: AtomicU32::new(0),
            syscalltick: AtomicU32::new(0),
            slice_start: AtomicI64::new(0),
            runq: RunQ::new(),
            gfree: GQueue::new(),
            goidcache: 0,
            goidcacheend: 0,
            stats: PStats::default(),
        }))
    }

    /// A fresh goroutine id from this P's batch (owner only).
    pub(crate) fn next_goid(&mut self) -> i64 {
        if self.goidcache == self.goidcacheend {
            self.goidcache = crate::sched::SCHED.goidgen.fetch_add(GOID_BATCH, Relaxed) + 1;
            self.goidcacheend = self.goidcache + GOID_BATCH;
        }
        let id = self.goidcache;
        self.goidcache += 1;
        id
    }
}
