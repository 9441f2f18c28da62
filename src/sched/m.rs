//! M: an OS thread that runs goroutines.
//!
//! # Threads and the g register
//! Goroutines run arbitrary C code (printf, malloc, errno, C++ exceptions), so every M is a full
//! glibc thread: `pthread_create` (glibc's clone3 with Go's flags plus SETTLS and the tid
//! words) on a runtime-mmap'd g0 stack, with every signal blocked across the call like Go's
//! newosproc. A thread made by a raw clone without a TCB shares errno, the malloc tcache and the
//! stdio lock owner with its parent (measured: malloc crashes, printf deadlocks).
//!
//! Each M points its GS base at its `GRegs` block (arch/), the first field of `M`: `getg()` is
//! one load. A thread the runtime did not set up has GS base 0, or — if it was created by
//! `pthread_create` inside a goroutine — a copy of its creator's GS base; the block's FS-base
//! word tells those apart (`this_m`).
//!
//! Ms are never destroyed: an idle M sleeps on its `park` note on the idle list.
//!
//! # Who creates Ms
//! Only the template thread (template.rs) and the starting thread call `pthread_create`: it
//! takes glibc's and the loader's locks, and a goroutine preempted while holding one of them
//! sleeps until some M gives it a P — an M that must never be the one waiting for that lock.
//! The records (M, its g0) come from persistent memory (os/persistent.rs), not malloc, for
//! the same reason.

use crate::arch::{self, GRegs, Gobuf};
use crate::lock::note::Note;
use crate::lock::Rank;
use crate::os;
use crate::os::stack::{self, Stack};
use crate::sched::g::{GStatus, G};
use crate::sched::p::P;
use crate::sched::sched::{SchedLocked, SCHED};
use crate::sched::status::{AtomicStatus, Status};
use core::cell::UnsafeCell;
use core::ptr::null_mut;
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicI64, AtomicPtr, AtomicU32, Ordering::*};
use libc::c_void;

/// The scheduler stack of an M is also its pthread stack. glibc keeps its TCB and the static TLS
/// of the program (which C programs can make large) at its top, so be generous: it is reserved
/// address space, committed only as touched.
const G0_STACK_SIZE: usize = 1 << 20;
/// Alternate signal stack (the handler and its async-preempt work run here).
const GSIGNAL_STACK_SIZE: usize = 64 << 10;

/// gopark's unlock function: called on g0 once the G is switched out; false resumes it.
pub(crate) type UnlockFn = unsafe extern "C" fn(gp: *mut G, lock: *mut c_void) -> bool;

/// What an M does for a living.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum MKind {
    /// Runs goroutines (it needs a P to).
    Worker,
    /// Runs sysmon, never a goroutine, never holds a P.
    Sysmon,
    /// The template thread (template.rs): creates Ms, never holds a P.
    Template,
}

/// sysmon's hand-over of a P whose thread is blocked in the kernel outside any syscall
/// bracket (see "Blocked threads" in syscall.rs). Only sysmon moves Free -> Taking -> Taken
/// or back to Free; only the M's own thread moves Taken -> Free.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u32)]
pub(crate) enum Take {
    /// The M's P is its own.
    Free = 0,
    /// sysmon is deciding whether to take it: the M's thread must not touch its P until
    /// sysmon has decided (it waits at its next runtime entry).
    Taking = 1,
    /// sysmon took the P: the M's goroutine is in an implicit syscall and must get a P back
    /// (exitsyscall) before it touches the runtime.
    Taken = 2,
}

impl Status for Take {
    fn from_u32(v: u32) -> Self {
        match v {
            0 => Take::Free,
            1 => Take::Taking,
            2 => Take::Taken,
            _ => throw!("Take::from_u32: bad value"),
        }
    }
    fn to_u32(self) -> u32 {
        self as u32
    }
    const BAD_SET: &'static str = "AtomicStatus::set: bad incoming take state";
    const BAD_CAS: &'static str = "AtomicStatus::cas: bad incoming take state";
}

/// An M's part in waiting for its locked G (stoplockedm / startlockedm), under sched.lock.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum LockedWait {
    /// Not waiting for its locked G.
    No,
    /// Asleep in stoplockedm, counted in `sched.nmidlelocked` (checkdead sees it as blocked).
    Counted,
    /// A waker handed it a P before it got to count itself: it must not count itself.
    Woken,
}

#[repr(C)]
pub(crate) struct M {
    /// The g-register block (asm/offsets.h: first, at M_GREGS).
    pub gregs: GRegs,
    /// The goroutine running on this M (null while in the scheduler). Written by this thread;
    /// read racily by sysmon (preemptone) and schedtrace.
    pub curg: AtomicPtr<G>,
    /// The P held (null when none). Written by this thread; read by schedtrace.
    pub p: AtomicPtr<P>,
    /// The P to take when woken: written by the waker before `park.wakeup()` (release), read
    /// after `park.sleep()` (acquire).
    pub nextp: *mut P,
    /// Looking for work (counted in sched.nmspinning). Written by the waker before wakeup for a
    /// sleeping M, otherwise by this thread; read by schedtrace.
    pub spinning: AtomicBool,
    /// Where this M sleeps when idle or waiting for its locked G.
    pub park: Note,
    /// Go's m.locks: non-zero while this M holds a runtime lock or is inside the runtime on a
    /// goroutine stack, where asynchronous preemption must not stop it. Written by this thread;
    /// read by its own signal handler, hence atomic (Relaxed: same thread, program order).
    pub locks: AtomicI32,
    /// Ranks of the runtime locks held (a bit each), for the debug lock-order check.
    pub lockranks: AtomicU32,
    /// lockOSThread: the G locked to this M. Written by that G while running (and goexit0);
    /// read by this M's scheduler and schedtrace.
    pub lockedg: AtomicPtr<G>,
    pub procid: AtomicI32,
    /// Fixed.
    pub id: i64,
    pub kind: MKind,
    /// Idle-M list link and the locked-wait state: sched.lock (see `locked`).
    sl: UnsafeCell<MSchedLocked>,
    /// allm list link (written once before publication).
    pub alllink: *mut M,
    /// gopark's unlock function and its argument, passed to park_m on g0 (this thread).
    pub waitunlockf: Option<UnlockFn>,
    pub waitlock: *mut c_void,
    pub fastrand: u64,
    pub gsignal: Stack,
    /// The P held before entersyscall (exitsyscall tries to take it back). This thread's.
    pub oldp: *mut P,
    /// A preemption signal is on its way (sysmon sets it, this M's handler clears it): repeated
    /// requests are merged. AcqRel CAS by sysmon; Release store by the handler.
    pub signal_pending: AtomicBool,
    /// This thread's errno slot (fixed for the thread's life): saving and restoring a
    /// goroutine's errno at each switch is then a plain load and store.
    pub errno_addr: *mut i32,
    /// When sysmon sent the pending signal (for re-sending one the kernel dropped).
    pub signal_sent: AtomicI64,
    /// sysmon's retake of this M's P while its thread is blocked in the kernel.
    pub take: AtomicStatus<Take>,
    /// /proc/self/task/<tid>/stat, opened by the thread itself at start (-1 if it could not
    /// be): sysmon reads the thread's scheduler state from it. Written once before the M
    /// takes a P (published by acquirep's status store).
    pub statfd: AtomicI32,
    /// sysmon's last sample of this thread's CPU clock, when it took it, and its verdict
    /// (sysmon::cpu_state). Only sysmon reads or writes them (atomics only to live in an M).
    pub cpu_t: AtomicI64,
    pub cpu_at: AtomicI64,
    pub cpu_verdict: AtomicU32,
    /// This thread's C++ `__cxa_eh_globals` (fixed for the thread's life; null in a program
    /// without a C++ runtime). This thread's own: see "C++ exception state travels with the
    /// goroutine" (cxa.rs).
    pub cxa_globals: *mut crate::sched::cxa::EhGlobals,
}

/// The fields of an M that sched.lock protects.
pub(crate) struct MSchedLocked {
    pub schedlink: *mut M,
    pub lockedwait: LockedWait,
}

impl M {
    /// The sched.lock-protected fields: the guard is the proof.
    #[allow(clippy::mut_from_ref)]
    pub(crate) fn locked<'a>(&'a self, _s: &'a mut SchedLocked) -> &'a mut MSchedLocked {
        // SAFETY: the caller holds sched.lock (it lends us its guard's data), which serialises
        // every access to these fields.
        unsafe { &mut *self.sl.get() }
    }

    /// Relaxed reads of the fields other threads only observe (the owner reads its own
    /// writes; observers are racy by design, see each field).
    #[inline]
    pub(crate) fn p(&self) -> *mut P {
        self.p.load(Relaxed)
    }
    #[inline]
    pub(crate) fn curg(&self) -> *mut G {
        self.curg.load(Relaxed)
    }
    #[inline]
    pub(crate) fn lockedg(&self) -> *mut G {
        self.lockedg.load(Relaxed)
    }
    #[inline]
    pub(crate) fn spinning(&self) -> bool {
        self.spinning.load(Relaxed)
    }

    pub(crate) fn fastrand(&mut self) -> u32 {
        // xorshift64*: cheap, per-M, good enough for victim selection.
        let mut x = self.fastrand;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.fastrand = x;
        (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as u32
    }

    /// acquirem: the calling goroutine enters the runtime; no preemption until releasem.
    /// Only on this M's own thread: a load and a store, not an RMW (only this thread writes
    /// the counter; its signal handler only reads it, and sees program order).
    #[inline]
    pub(crate) fn acquirem(&self) {
        self.locks.store(self.locks.load(Relaxed) + 1, Relaxed);
    }

    #[inline]
    pub(crate) fn releasem(&self) {
        self.locks.store(self.locks.load(Relaxed) - 1, Relaxed);
    }

    /// Raise `locks` for a runtime lock of `rank` (lock/mod.rs), checking the lock order in
    /// debug builds. Only on this M's own thread.
    #[inline]
    pub(crate) fn acquire_rank(&self, rank: Rank) {
        self.acquirem();
        if cfg!(debug_assertions) {
            let bit = 1u32 << rank as u32;
            let held = self.lockranks.load(Relaxed);
            if held & !(bit - 1) != 0 {
                throw!(
                    "acquire_rank: lock order violation (a lock of equal or higher rank is held)"
                );
            }
            self.lockranks.store(held | bit, Relaxed);
        }
    }

    /// As acquire_rank, for a rank that may be held several times at once (lock/raw.rs):
    /// checks only that no higher rank is held; released with `releasem`.
    #[inline]
    pub(crate) fn acquire_rank_shared(&self, rank: Rank) {
        self.acquirem();
        if cfg!(debug_assertions) {
            let higher = !((2u32 << rank as u32) - 1);
            if self.lockranks.load(Relaxed) & higher != 0 {
                throw!("acquire_rank: lock order violation (a lock of higher rank is held)");
            }
        }
    }

    #[inline]
    pub(crate) fn release_rank(&self, rank: Rank) {
        if cfg!(debug_assertions) {
            let held = self.lockranks.load(Relaxed);
            self.lockranks.store(held & !(1u32 << rank as u32), Relaxed);
        }
        self.releasem();
    }

    /// Debug builds: throw if this M holds a runtime lock at a goroutine switch (`what`).
    #[inline]
    pub(crate) fn assert_no_locks_held(&self, what: &'static str) {
        if cfg!(debug_assertions) && self.lockranks.load(Relaxed) != 0 {
            throw!(what);
        }
    }
}

/// The calling thread's M, if it is one. A thread created by pthread_create inherits its
/// creator's GS base, so a non-zero base is trusted only if the block it points at records
/// this thread's own FS base. Signal-safe; never starts the runtime.
#[inline]
pub(crate) fn this_m() -> Option<*mut M> {
    m_at(arch::g_base())
}

/// `this_m` for a GS base the caller has already read (the pthread hooks read it with
/// `arch::g_base_fast`).
#[inline(always)]
pub(crate) fn m_at(base: usize) -> Option<*mut M> {
    if base == 0 {
        return None;
    }
    let mp = base as *mut M;
    // SAFETY: a non-zero GS base on a thread of this process was set by the runtime (on this
    // thread or its creator) and points at an M, and Ms are never freed.
    (unsafe { (*mp).gregs.fsbase } == arch::thread_pointer()).then_some(mp)
}

/// Where the calling code runs.
#[derive(Clone, Copy)]
pub(crate) enum Ctx {
    /// A plain thread (never set up by the runtime, or one that inherited an M's GS base).
    Thread,
    /// A goroutine `gp` running on M `mp`.
    G(*mut M, *mut G),
    /// The scheduler stack of `mp` (a gopark unlock function, or sysmon).
    G0(*mut M),
}

impl Ctx {
    /// The M, or null for a plain thread.
    #[inline]
    pub(crate) fn m(self) -> *mut M {
        match self {
            Ctx::G(mp, _) | Ctx::G0(mp) => mp,
            Ctx::Thread => core::ptr::null_mut(),
        }
    }
}

/// Classify the calling thread. Never starts the runtime.
#[inline]
pub(crate) fn ctx() -> Ctx {
    let Some(mp) = this_m() else {
        return Ctx::Thread;
    };
    let gp = arch::getg();
    // SAFETY: mp is this thread's M (never freed).
    if gp == unsafe { (*mp).gregs.g0 } {
        Ctx::G0(mp)
    } else {
        Ctx::G(mp, gp)
    }
}

/// newm: create a worker M, which looks for work when it starts (or goes idle). False if no
/// memory or thread could be had. Only the template thread and schedinit call this.
pub(crate) fn newm() -> bool {
    newm1(MKind::Worker)
}

/// Start the sysmon thread (schedinit).
pub(crate) fn newm_sysmon() -> bool {
    newm1(MKind::Sysmon)
}

/// Start the template thread (schedinit).
pub(crate) fn newm_template() -> bool {
    newm1(MKind::Template)
}

/// An M record with its stacks, from persistent memory, or the one a failed creation left.
fn allocm(kind: MKind) -> Option<*mut M> {
    // A record whose thread could not be created is kept for the next try (records are never
    // freed). Only the template thread and the starting thread create Ms; Acquire/Release
    // pair the record's hand-over between them.
    let spare = FAILED_M.swap(null_mut(), Acquire);
    if !spare.is_null() {
        // SAFETY: the record never ran and nobody else references it.
        unsafe { (*spare).kind = kind };
        return Some(spare);
    }
    let g0stack = stack::stack_alloc(G0_STACK_SIZE)?;
    let gsignal = stack::stack_alloc(GSIGNAL_STACK_SIZE)?;
    let g0 = G::new_record(g0stack)?;
    let id = SCHED.mnext.fetch_add(1, Relaxed);
    crate::os::persistent::persistent_new(M {
        gregs: GRegs {
            g: g0,
            fsbase: 0,
            m: null_mut(),
            g0,
        },
        curg: AtomicPtr::new(null_mut()),
        p: AtomicPtr::new(null_mut()),
        nextp: null_mut(),
        spinning: AtomicBool::new(false),
        park: Note::new(),
        locks: AtomicI32::new(0),
        lockranks: AtomicU32::new(0),
        lockedg: AtomicPtr::new(null_mut()),
        procid: AtomicI32::new(0),
        id,
        kind,
        sl: UnsafeCell::new(MSchedLocked {
            schedlink: null_mut(),
            lockedwait: LockedWait::No,
        }),
        alllink: null_mut(),
        waitunlockf: None,
        waitlock: null_mut(),
        // Under randomsched the seed differs per run (Go seeds from the OS), else it is fixed.
        fastrand: ((id as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15)
            ^ crate::debug::knobs::random_seed())
            | 1,
        gsignal,
        oldp: null_mut(),
        signal_pending: AtomicBool::new(false),
        errno_addr: null_mut(),
        signal_sent: AtomicI64::new(0),
        take: AtomicStatus::new_raw(Take::Free as u32),
        statfd: AtomicI32::new(-1),
        cpu_t: AtomicI64::new(0),
        cpu_at: AtomicI64::new(0),
        cpu_verdict: AtomicU32::new(0),
        cxa_globals: null_mut(),
    })
}

/// The record of the last failed creation (see allocm).
static FAILED_M: AtomicPtr<M> = AtomicPtr::new(null_mut());

fn newm1(kind: MKind) -> bool {
    let Some(mp) = allocm(kind) else { return false };
    // Counted before the thread exists, so checkdead never sees a starting M as missing (and
    // as being created, so gmp_stats does not count a thread that may never exist).
    SCHED.mcreating.fetch_add(1, Relaxed);
    SCHED.mcount.fetch_add(1, Relaxed);
    if kind == MKind::Worker {
        SCHED.mstarting.fetch_add(1, Relaxed);
    }
    if kind != MKind::Worker {
        SCHED.nmsys.fetch_add(1, Relaxed);
    }
    // SAFETY: attr is initialised before use and destroyed after; the stack range is ours and
    // unused; the signal masks are valid sigset_t values.
    unsafe {
        let g0stack = (*(*mp).gregs.g0).stack;
        let mut attr: libc::pthread_attr_t = core::mem::zeroed();
        libc::pthread_attr_init(&mut attr);
        libc::pthread_attr_setstack(
            &mut attr,
            g0stack.lo as *mut c_void,
            g0stack.hi - g0stack.lo,
        );
        libc::pthread_attr_setdetachstate(&mut attr, libc::PTHREAD_CREATE_DETACHED);
        // Block every signal across creation (Go's newosproc): the new thread must not take a
        // signal before mstart has set its g register and alternate stack.
        let mut all: libc::sigset_t = core::mem::zeroed();
        let mut old: libc::sigset_t = core::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
        let mut tid: libc::pthread_t = 0;
        let rc = libc::pthread_create(&mut tid, &attr, mstart, mp as *mut c_void);
        SCHED.mcreating.fetch_sub(1, Relaxed);
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, null_mut());
        libc::pthread_attr_destroy(&mut attr);
        if rc != 0 {
            // The M never ran: keep its record for the next attempt.
            SCHED.mcount.fetch_sub(1, Relaxed);
            if kind == MKind::Worker {
                SCHED.mstarting.fetch_sub(1, Relaxed);
            }
            if kind != MKind::Worker {
                SCHED.nmsys.fetch_sub(1, Relaxed);
            }
            FAILED_M.store(mp, Release);
            return false;
        }
    }
    SCHED.allm_push(mp);
    true
}

/// The new thread's entry (Go's mstart): set up the g register, signals and the g0 context,
/// then schedule forever (or run sysmon).
extern "C" fn mstart(arg: *mut c_void) -> *mut c_void {
    let mp = arg as *mut M;
    // SAFETY: mp was created by newm for this thread and is not yet visible to anyone who writes
    // its thread-owned fields.
    unsafe {
        (*mp).gregs.fsbase = arch::thread_pointer();
        (*mp).gregs.m = mp;
        arch::set_g_base(&mut (*mp).gregs);
        (*mp).procid.store(os::gettid(), Relaxed);
        (*mp).errno_addr = os::errno_ptr();
        (*mp)
            .statfd
            .store(os::open_task_stat(os::gettid()), Relaxed);
        crate::sched::cxa::minit(mp);
        let ss = libc::stack_t {
            ss_sp: (*mp).gsignal.lo as *mut c_void,
            ss_flags: 0,
            ss_size: (*mp).gsignal.hi - (*mp).gsignal.lo,
        };
        libc::sigaltstack(&ss, null_mut());
        libc::pthread_sigmask(libc::SIG_SETMASK, SCHED.initial_sigmask(), null_mut());
        // Timed sleeps of this thread (the netpoller's wait until the next timer, sysmon's
        // tick) end on time instead of up to the default 50 µs slack later: timers fire when
        // due (measured: gmp_sleep(1 ms) lateness p50 ~90 µs with the default slack).
        libc::prctl(
            libc::PR_SET_TIMERSLACK,
            1 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        );
        // g0's context: everything below this point of the pthread stack is free, and mcall
        // restarts g0 here each time (nothing on g0 outlives a switch away from it).
        let sp: usize;
        core::arch::asm!("mov {}, rsp", out(reg) sp, options(nomem, nostack, preserves_flags));
        let g0 = (*mp).gregs.g0;
        (*g0).sched = Gobuf::g0(sp);
        (*g0).status.set(GStatus::Idle, GStatus::Running);
        match (*mp).kind {
            MKind::Sysmon => crate::sched::sysmon::sysmon(mp),
            MKind::Template => crate::sched::template::template_thread(mp),
            MKind::Worker => crate::sched::proc::mstart1(mp),
        }
    }
}
