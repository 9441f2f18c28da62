//! The global scheduler state (Go's `schedt`) and the operations that need `sched.lock`:
//! the global run queue, the idle P and M lists, procresize, the free-G lists, and the
//! statistics snapshot.
//!
//! Functions taking `&mut SchedLocked` require sched.lock: the guard is the proof (tokio's
//! `Synced`; Go's "sched.lock must be held" + assertLockHeld).

use crate::lock::note::Note;
use crate::lock::{Guard, Mutex, Rank};
use crate::os::stack;
use crate::sched::checkdead::MainWait;
use crate::sched::g::{GQueue, G};
use crate::sched::idle::Idle;
use crate::sched::m::M;
use crate::sched::p::{PStatus, MAX_PROCS, P};
use crate::sched::runq::RUNQ_SIZE;
use core::cell::UnsafeCell;
use core::ptr::null_mut;
use core::sync::atomic::{
    AtomicBool, AtomicI32, AtomicI64, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering::*,
};

/// What sched.lock protects.
pub(crate) struct SchedLocked {
    /// Global run queue. Its length plus the preempted queue's is mirrored in
    /// `Sched::runqsize` for lock-free peeks.
    pub runq: GQueue,
    /// Preempted goroutines (each locked to the M that sleeps holding it; see "The thread
    /// budget" in preempt/mod.rs). Served with the run queue, oldest first, or first of all
    /// while over half the budget of such Ms is in use. Never moved to a P's local queue.
    pub preemptq: GQueue,
    /// Stamp for `g.qseq`: arrival order on the two global queues.
    pub qseq: u64,
    /// Idle Ms (linked through m.schedlink) and their count.
    pub midle: *mut M,
    pub nmidle: u32,
    /// Idle Ps (linked through p.link); the count is `Sched::idle`'s npidle.
    pub pidle: *mut P,
    /// Ms asleep in stoplockedm, waiting for their locked G (for checkdead).
    pub nmidlelocked: u32,
}

// SAFETY: only reached through the mutex.
unsafe impl Send for SchedLocked {}

pub(crate) struct Sched {
    pub lock: Mutex<SchedLocked>,
    /// Mirrors of locked counts, read without the lock (Go reads sched.runqsize racily too):
    /// written under sched.lock; a stale read only costs a needless lock or a later pick-up.
    pub runqsize: AtomicU64,
    /// Mirrors of `nmidle` and of the preempted queue's length (same rules as runqsize).
    pub nmidle_hint: AtomicU32,
    /// Worker Ms whose goroutine is in a syscall, bracketed or not (sysmon counts them each
    /// tick; a hint for the template thread's budget).
    pub nmsyscall_hint: AtomicU32,
    pub preemptqsize: AtomicU32,
    /// Goroutines parked by a preemption, each holding its M (see "The thread budget" in
    /// preempt/mod.rs). Changed under sched.lock when one parks, by the G itself when it
    /// resumes; read racily by sysmon.
    pub npreempted: AtomicU32,
    /// Of those, the ones that have used `LONG_CPU_NS` in preempted slices: goroutines that
    /// may never end. Each gets a thread of its own beyond the budget, and they do not count
    /// toward "resume preempted goroutines first" — else goroutines that never end would
    /// rotate among themselves and starve the rest (see "The thread budget", preempt/mod.rs).
    /// Same rules as npreempted.
    pub nlong: AtomicU32,
    /// sched.npidle and sched.nmspinning, and the lock-free halves of wakep, handoffp and the
    /// spinning transitions (sched/idle.rs; see "Worker thread parking/unparking" in
    /// sched/proc.rs).
    pub idle: Idle,
    pub gomaxprocs: AtomicU32,
    /// Ps created so far (allp[0..nallp] are non-null; never shrinks).
    pub nallp: AtomicU32,
    pub allp: [AtomicPtr<P>; MAX_PROCS],
    /// All Ms (push-only list through m.alllink) and their count.
    pub allm: AtomicPtr<M>,
    pub mcount: AtomicU32,
    /// Ms counted in mcount whose pthread_create has not returned yet (gmp_stats.threads
    /// leaves them out: the thread may never exist).
    pub mcreating: AtomicU32,
    /// Worker Ms created and not yet at their first schedule or idle sleep: the template
    /// thread counts them as spares already (a new thread takes tens of µs to get going, and
    /// counting only idle Ms made it create a spare per loop meanwhile).
    pub mstarting: AtomicU32,
    pub mnext: AtomicI64,
    pub goidgen: AtomicI64,
    /// Default goroutine stack size (set once by schedinit).
    pub stack_size: AtomicUsize,
    /// Goroutines spawned / ended outside any P (thread context); the per-P counters do the rest.
    pub spawned_nop: AtomicU64,
    /// Global free Gs with stacks (Go's sched.gFree); its own lock, ranked after sched.lock.
    pub gfree: Mutex<FreeGs>,
    /// Mirror of `gfree.warm.len` for the idle path's lock-free check.
    pub gfree_warm: AtomicU64,
    /// Signal mask of the thread that started the runtime; new Ms start with it.
    sigmask: UnsafeCell<libc::sigset_t>,
    /// sysmon's coarse clock (nanotime, refreshed at least every millisecond while any P runs):
    /// time slices are stamped from it, so starting one costs a load, not a clock read.
    pub now: AtomicI64,
    /// sysmon sleeps on `sysmon_note` (all Ps idle): the first acquirep wakes it. SeqCst: set
    /// by sysmon before re-checking npidle, read by acquirep after taking a P.
    pub sysmonwait: AtomicBool,
    pub sysmon_note: Note,
    /// All Gs ever made (push-only list through g.alllink), for scheddetail.
    pub allgs: AtomicPtr<G>,
    /// Cumulative counters of rare events.
    pub preemptions: AtomicU64,
    pub syscall_retakes: AtomicU64,
    /// nanotime at start-up (schedtrace prints time since).
    pub start_time: AtomicI64,
    /// Ms that never run goroutines (sysmon).
    pub nmsys: AtomicU32,
    /// Deadlock detection (checkdead): the thread id of the one plain thread that called into the
    /// runtime (0 = none yet) and whether a second one ever did (then detection is off, as the
    /// api says: a thread outside the runtime could wake a goroutine).
    pub ext_tid: AtomicI32,
    pub ext_many: AtomicBool,
    /// The running gmp_main's wait (see checkdead.rs), for checkdead to fail it.
    pub main_wait: AtomicPtr<MainWait>,
    /// When checkdead last found every goroutine asleep (0 = it does not). sysmon declares the
    /// deadlock only if that still holds `DEADLOCK_GRACE_NS` later (see checkdead.rs).
    pub dead_since: AtomicI64,
}

// SAFETY: every field is atomic or behind a lock, except `sigmask`, written once during start
// (before any M exists) and read-only afterwards.
unsafe impl Sync for Sched {}

pub(crate) static SCHED: Sched = Sched {
    lock: Mutex::new(
        Rank::Sched,
        SchedLocked {
            runq: GQueue::new(),
            midle: null_mut(),
            nmidle: 0,
            pidle: null_mut(),
            nmidlelocked: 0,
            preemptq: GQueue::new(),
            qseq: 0,
        },
    ),
    runqsize: AtomicU64::new(0),
    nmidle_hint: AtomicU32::new(0),
    nmsyscall_hint: AtomicU32::new(0),
    preemptqsize: AtomicU32::new(0),
    npreempted: AtomicU32::new(0),
    nlong: AtomicU32::new(0),
    idle: Idle::new(),
    gomaxprocs: AtomicU32::new(0),
    nallp: AtomicU32::new(0),
    allp: [const { AtomicPtr::new(null_mut()) }; MAX_PROCS],
    allm: AtomicPtr::new(null_mut()),
    mcount: AtomicU32::new(0),
    mcreating: AtomicU32::new(0),
    mstarting: AtomicU32::new(0),
    mnext: AtomicI64::new(1),
    goidgen: AtomicI64::new(0),
    stack_size: AtomicUsize::new(256 << 10),
    spawned_nop: AtomicU64::new(0),
    gfree: Mutex::new(
        Rank::GFree,
        FreeGs {
            warm: GQueue::new(),
            cold: GQueue::new(),
        },
    ),
    gfree_warm: AtomicU64::new(0),
    // SAFETY: an all-zero sigset_t is a valid (empty) set.
    sigmask: UnsafeCell::new(unsafe { core::mem::zeroed() }),
    now: AtomicI64::new(0),
    sysmonwait: AtomicBool::new(false),
    sysmon_note: Note::new(),
    allgs: AtomicPtr::new(null_mut()),
    preemptions: AtomicU64::new(0),
    syscall_retakes: AtomicU64::new(0),
    start_time: AtomicI64::new(0),
    nmsys: AtomicU32::new(0),
    ext_tid: AtomicI32::new(0),
    ext_many: AtomicBool::new(false),
    main_wait: AtomicPtr::new(null_mut()),
    dead_since: AtomicI64::new(0),
};

/// Free Gs: `warm` ones still have their stack memory, `cold` ones gave it back.
pub(crate) struct FreeGs {
    pub warm: GQueue,
    pub cold: GQueue,
}

impl FreeGs {
    /// A free G, warm first.
    pub(crate) fn pop(&mut self) -> *mut G {
        let g1 = self.warm.pop();
        if !g1.is_null() {
            SCHED.gfree_warm.store(self.warm.len, Relaxed);
            return g1;
        }
        self.cold.pop()
    }
}

/// See `Sched::nlong`.
pub(crate) const LONG_CPU_NS: i64 = 50_000_000;

/// Per-P free lists keep up to this many Gs; beyond it half move to the global list.
const GFREE_LOCAL_MAX: u64 = 64;
/// The global free list keeps this many stacks' memory; `scavenge_stacks` gives back the
/// rest (the Gs keep their address range and guard).
const GFREE_KEEP_WARM: u64 = 4096;

impl Sched {
    pub(crate) fn locked(&self) -> Guard<'_, SchedLocked> {
        self.lock.lock()
    }

    pub(crate) fn initial_sigmask(&self) -> *const libc::sigset_t {
        self.sigmask.get()
    }

    /// # Safety
    /// Only during start, before any M exists.
    pub(crate) unsafe fn save_sigmask(&self) {
        // SAFETY: per the contract nobody reads the mask concurrently.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, core::ptr::null(), self.sigmask.get()) };
        for s in [libc::SIGURG, libc::SIGSEGV, libc::SIGBUS] {
            // SAFETY: as above.
            unsafe { libc::sigdelset(self.sigmask.get(), s) };
        }
    }

    pub(crate) fn allm_push(&self, mp: *mut M) {
        let mut head = self.allm.load(Relaxed);
        loop {
            // SAFETY: mp is a new M; alllink is written only here, before publication.
            unsafe { (*mp).alllink = head };
            // Release: publishes the M's initial fields to list walkers (Acquire loads).
            match self.allm.compare_exchange(head, mp, Release, Relaxed) {
                Ok(_) => break,
                Err(h) => head = h,
            }
        }
    }

    pub(crate) fn allgs_push(&self, gp: *mut G) {
        let mut head = self.allgs.load(Relaxed);
        loop {
            // SAFETY: gp is a new G; alllink is written only here, before publication.
            unsafe { (*gp).alllink = head };
            // Release: publishes the G to list walkers (Acquire loads).
            match self.allgs.compare_exchange(head, gp, Release, Relaxed) {
                Ok(_) => break,
                Err(h) => head = h,
            }
        }
    }

    /// Record a call from a plain thread (checkdead must then know that thread may wake Gs).
    pub(crate) fn note_external_caller(&self) {
        let tid = crate::os::gettid();
        match self.ext_tid.compare_exchange(0, tid, Relaxed, Relaxed) {
            Ok(_) => {}
            Err(t) if t == tid => {}
            Err(_) => self.ext_many.store(true, Relaxed),
        }
    }

    /// `note_external_caller` for a plain thread, once per thread (a thread-local flag saves
    /// the gettid after the first call).
    pub(crate) fn note_thread(&self) {
        use core::cell::Cell;
        std::thread_local! {
            static NOTED: Cell<bool> = const { Cell::new(false) };
        }
        if !NOTED.get() {
            self.note_external_caller();
            NOTED.set(true);
        }
    }

    pub(crate) fn p(&self, i: u32) -> *mut P {
        self.allp[i as usize].load(Acquire)
    }
}

impl SchedLocked {
    /// Runnable Gs on the global queues (run queue and preempted queue).
    pub(crate) fn runq_len(&self) -> u64 {
        self.runq.len + self.preemptq.len
    }

    fn sync_runqsize(&self) {
        SCHED.runqsize.store(self.runq_len(), Relaxed);
        SCHED.preemptqsize.store(self.preemptq.len as u32, Relaxed);
    }

    /// globrunqput: put gp at the back of the global queue.
    pub(crate) fn globrunqput(&mut self, gp: *mut G) {
        self.qseq += 1;
        // SAFETY: the caller owns gp (RUNNABLE, on no queue).
        unsafe {
            (*gp).qseq = self.qseq;
            self.runq.push_back(gp);
        }
        self.sync_runqsize();
    }

    /// Put a preempted G (locked to its M) at the back of the preempted queue.
    pub(crate) fn preemptqput(&mut self, gp: *mut G) {
        self.qseq += 1;
        // SAFETY: the caller owns gp (RUNNABLE, on no queue).
        unsafe {
            (*gp).qseq = self.qseq;
            self.preemptq.push_back(gp);
        }
        self.sync_runqsize();
    }

    /// A runnable G locked to an M that waits for it (a preempted G first, then one on the run
    /// queue: a goroutine getting its P back after a blocking call, or a lockOSThread one),
    /// off its queue; null if none. Serving it needs no new thread (proc::startm).
    pub(crate) fn lockedgget(&mut self) -> *mut G {
        let gp = self.preemptq.pop();
        if !gp.is_null() {
            self.sync_runqsize();
            return gp;
        }
        // SAFETY: queued Gs are live and owned by the queue (we hold sched.lock).
        let gp = self
            .runq
            .remove_first(|g1| unsafe { !(*g1).lockedm().is_null() });
        self.sync_runqsize();
        gp
    }

    /// The oldest preempted G, off the queue (null if none).
    pub(crate) fn preemptqget(&mut self) -> *mut G {
        let gp = self.preemptq.pop();
        self.sync_runqsize();
        gp
    }

    /// Whether the next global G comes from the preempted queue: first of all once over half
    /// the budget of Ms holding preempted Gs is in use (resume those before starting others,
    /// which would need more Ms) — unless the run queue starves (preempted Gs that never end
    /// would rotate among themselves for ever) — else whichever head arrived first.
    fn preempted_first(&self) -> bool {
        if self.preemptq.len == 0 {
            return false;
        }
        if self.runq.len == 0 {
            return true;
        }
        if preempt_pressure() {
            return true;
        }
        // SAFETY: both heads are non-null (non-empty queues) and owned by the queues (we hold
        // sched.lock).
        unsafe { (*self.preemptq.head).qseq < (*self.runq.head).qseq }
    }

    /// The G that `globrunqget` would return next (null if none), left on its queue.
    pub(crate) fn globrunq_head(&self) -> *mut G {
        if self.preempted_first() {
            self.preemptq.head
        } else {
            self.runq.head
        }
    }

    /// globrunqget: take a fair share of the global queue (at most `max` if non-zero) into pp's
    /// local queue and return one G. pp's local queue has room: it is empty, or max == 1. A
    /// preempted G comes alone (it runs only on its own M).
    pub(crate) fn globrunqget(&mut self, pp: *mut P, max: u64) -> *mut G {
        if self.preempted_first() {
            return self.preemptqget();
        }
        let size = self.runq.len;
        if size == 0 {
            return null_mut();
        }
        let procs = SCHED.gomaxprocs.load(Relaxed).max(1) as u64;
        let mut n = size.min(size / procs + 1);
        if max > 0 && n > max {
            n = max;
        }
        n = n.min(RUNQ_SIZE as u64 / 2);
        let gp = self.runq.pop();
        for _ in 1..n {
            let g1 = self.runq.pop();
            // SAFETY: we own pp (its M calls this); g1 came off the global queue.
            unsafe {
                (*pp).runq.put(g1, false, &mut |_| {
                    throw!("globrunqget: local queue overflow")
                })
            };
        }
        self.sync_runqsize();
        gp
    }

    /// Move pp's local queue to the global queue (pp is about to go idle with nobody to run
    /// its Gs: no M could be had).
    /// # Safety
    /// The caller owns pp.
    pub(crate) unsafe fn runq_to_global(&mut self, pp: *mut P) {
        // SAFETY: per the contract.
        unsafe {
            while let Some((gp, _)) = (*pp).runq.get() {
                self.globrunqput(gp);
            }
        }
    }

    pub(crate) fn mput(&mut self, mp: *mut M) {
        let head = self.midle;
        // SAFETY: mp is the calling M, idle from now on; we hold sched.lock.
        unsafe { (*mp).locked(self).schedlink = head };
        self.midle = mp;
        self.nmidle += 1;
        SCHED.nmidle_hint.store(self.nmidle, Relaxed);
    }

    pub(crate) fn mget(&mut self) -> *mut M {
        let mp = self.midle;
        if !mp.is_null() {
            // SAFETY: Ms on the idle list are live and owned by the list; we hold sched.lock.
            self.midle = unsafe { (*mp).locked(self).schedlink };
            self.nmidle -= 1;
            SCHED.nmidle_hint.store(self.nmidle, Relaxed);
        }
        mp
    }

    /// pidleput: make pp idle — or, if procresize shrank past it, retire it.
    pub(crate) fn pidleput(&mut self, pp: *mut P) {
        // SAFETY: the caller released pp: nobody owns it but this lock.
        unsafe {
            if (*pp).retiring() {
                self.destroy_p(pp);
                return;
            }
            if !(*pp).runq.is_empty() {
                throw!("pidleput: P has non-empty run queue");
            }
            if (*pp).status.load(Relaxed) != PStatus::Idle {
                throw!("pidleput: P is not idle");
            }
            (*pp).link = self.pidle;
        }
        self.pidle = pp;
        SCHED.idle.pidleput(1);
    }

    pub(crate) fn pidleget(&mut self) -> *mut P {
        let pp = self.pidle;
        if !pp.is_null() {
            // SAFETY: Ps on the idle list are owned by the list.
            self.pidle = unsafe { (*pp).link };
            SCHED.idle.pidleget();
        }
        pp
    }

    /// Retire an idle P beyond gomaxprocs (Go's p.destroy): its queued Gs go to the global
    /// queue, its free Gs to the global free list.
    fn destroy_p(&mut self, pp: *mut P) {
        // SAFETY: nobody owns pp (see pidleput), so we may act as its owner.
        unsafe {
            self.runq_to_global(pp);
            let mut fl = SCHED.gfree.lock();
            fl.warm
                .prepend(core::mem::replace(&mut (*pp).gfree, GQueue::new()));
            (*pp).sync_gfreecnt();
            SCHED.gfree_warm.store(fl.warm.len, Relaxed);
            (*pp).status.set(PStatus::Idle, PStatus::Dead);
        }
    }

    /// procresize: set the number of Ps to n (1 ≤ n ≤ MAX_PROCS); returns the previous number.
    /// allp[0..n] exist (`allocp`). See "Processors and procresize" in p.rs.
    pub(crate) fn procresize(&mut self, n: u32) -> u32 {
        let old = SCHED.gomaxprocs.swap(n, SeqCst);
        let nallp = SCHED.nallp.load(Relaxed);
        if n > nallp {
            SCHED.nallp.store(n, Release);
        }
        // Revive dead Ps below n (in id order, so low ids are handed out first).
        for i in (0..n).rev() {
            let pp = SCHED.p(i);
            // SAFETY: allp entries below nallp are live; Dead Ps are owned by sched.lock.
            unsafe {
                if (*pp).status.load(Relaxed) == PStatus::Dead {
                    (*pp).status.set(PStatus::Dead, PStatus::Idle);
                    self.pidleput(pp);
                }
            }
        }
        // Retire idle Ps at or beyond n now; running ones retire at their next schedule.
        let mut keep: *mut P = null_mut();
        let mut kept = 0;
        while !self.pidle.is_null() {
            let pp = self.pidleget();
            // SAFETY: pp came off the idle list, so we own it.
            unsafe {
                if (*pp).id >= n {
                    self.destroy_p(pp);
                } else {
                    (*pp).link = keep;
                    keep = pp;
                    kept += 1;
                }
            }
        }
        self.pidle = keep;
        SCHED.idle.pidleput(kept);
        old
    }
}

/// Make sure P records 0..n exist (outside sched.lock: they come from fresh mappings).
/// `Err(ENOMEM)` if one cannot be had; nothing is lost, the number of Ps is unchanged.
pub(crate) fn allocp(n: u32) -> Result<(), i32> {
    for i in 0..n as usize {
        if SCHED.allp[i].load(Acquire).is_null() {
            let pp = P::new(i as u32).ok_or(libc::ENOMEM)?;
            // Release: publishes the record to allp readers (Acquire). A racing allocp's
            // record is kept and ours is left unused (persistent memory is never freed).
            let _ = SCHED.allp[i].compare_exchange(null_mut(), pp, Release, Relaxed);
        }
    }
    Ok(())
}

/// Over half the budget of Ms holding preempted goroutines — not counting long-running ones
/// (see `Sched::nlong`) — is in use: resume preempted goroutines before starting others.
pub(crate) fn preempt_pressure() -> bool {
    let np = SCHED.npreempted.load(Relaxed);
    let short = np.saturating_sub(SCHED.nlong.load(Relaxed));
    short * 2 >= crate::sched::template::preempt_budget()
}

/// Ms that may hold preempted goroutines now: the budget, plus one per long-running one.
pub(crate) fn preempt_room() -> bool {
    SCHED.npreempted.load(Relaxed)
        < crate::sched::template::preempt_budget() + SCHED.nlong.load(Relaxed)
}

/// gfput: cache a dead G (and its stack) on pp's free list.
/// # Safety
/// The caller owns pp and gp (DEAD, its stack unused).
pub(crate) unsafe fn gfput(pp: *mut P, gp: *mut G) {
    // SAFETY: per the contract.
    unsafe {
        (*pp).gfree.push_front(gp);
        if (*pp).gfree.len < GFREE_LOCAL_MAX {
            (*pp).sync_gfreecnt();
            return;
        }
        // Keep the most recently freed half (front: hot stacks); the older half goes global.
        let older = (*pp).gfree.split_off(GFREE_LOCAL_MAX / 2);
        (*pp).sync_gfreecnt();
        let mut fl = SCHED.gfree.lock();
        fl.warm.prepend(older);
        SCHED.gfree_warm.store(fl.warm.len, Relaxed);
    }
}

/// Give back the stack memory of free Gs beyond `GFREE_KEEP_WARM` (Go frees stacks at GC, not
/// at goexit; here an M about to go idle does it, so the hot path never pays a madvise). The
/// Gs keep their address range and guard and move to the cold list.
pub(crate) fn scavenge_stacks() {
    if SCHED.gfree_warm.load(Relaxed) <= GFREE_KEEP_WARM {
        return;
    }
    // The coldest (least recently freed) Gs are at the back.
    let batch = {
        let mut fl = SCHED.gfree.lock();
        let b = fl.warm.split_off(GFREE_KEEP_WARM);
        SCHED.gfree_warm.store(fl.warm.len, Relaxed);
        b
    };
    let mut g1 = batch.head;
    while !g1.is_null() {
        // SAFETY: g1 is dead and ours; nothing runs on its stack.
        unsafe {
            stack::stack_release((*g1).stack);
            g1 = (*g1).schedlink;
        }
    }
    SCHED.gfree.lock().cold.append(batch);
}

/// gfget: a free G with a stack, from pp's list (refilled from the global one), or from the
/// global list when pp is null (thread context).
/// # Safety
/// The caller owns pp (if non-null).
pub(crate) unsafe fn gfget(pp: *mut P) -> *mut G {
    // SAFETY: per the contract.
    unsafe {
        if pp.is_null() {
            return SCHED.gfree.lock().pop();
        }
        if (*pp).gfree.head.is_null() {
            let mut fl = SCHED.gfree.lock();
            while (*pp).gfree.len < GFREE_LOCAL_MAX / 2 {
                let g1 = fl.pop();
                if g1.is_null() {
                    break;
                }
                (*pp).gfree.push_front(g1);
            }
        }
        let gp = (*pp).gfree.pop();
        (*pp).sync_gfreecnt();
        gp
    }
}

/// A snapshot of the scheduler's counters (gmp_stats_read). Racy by nature: each counter is
/// read once, Relaxed.
pub(crate) struct Stats {
    pub goroutines: u64,
    pub procs: u32,
    pub threads: u32,
    pub idle_threads: u32,
    pub spinning_threads: u32,
    pub global_runq: u64,
    pub spawned: u64,
    pub schedules: u64,
    pub steals: u64,
    pub yields: u64,
    pub preemptions: u64,
    pub syscall_retakes: u64,
}

pub(crate) fn read_stats() -> Stats {
    let mut st = Stats {
        goroutines: 0,
        procs: SCHED.gomaxprocs.load(Relaxed),
        threads: SCHED
            .mcount
            .load(Relaxed)
            .saturating_sub(SCHED.mcreating.load(Relaxed)),
        idle_threads: SCHED.locked().nmidle,
        spinning_threads: SCHED.idle.nmspinning(),
        global_runq: SCHED.runqsize.load(Relaxed),
        spawned: SCHED.spawned_nop.load(Relaxed),
        schedules: 0,
        steals: 0,
        yields: 0,
        preemptions: SCHED.preemptions.load(Relaxed),
        syscall_retakes: SCHED.syscall_retakes.load(Relaxed),
    };
    let mut ended = 0u64;
    for i in 0..SCHED.nallp.load(Acquire) {
        // SAFETY: Ps below nallp are live forever; the counters are atomics.
        let s = unsafe { &(*SCHED.p(i)).stats };
        st.spawned += s.spawned.load(Relaxed);
        ended += s.ended.load(Relaxed);
        st.schedules += s.schedules.load(Relaxed);
        st.steals += s.steals.load(Relaxed);
        st.yields += s.yields.load(Relaxed);
    }
    st.goroutines = st.spawned.saturating_sub(ended);
    st
}
