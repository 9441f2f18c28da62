//! M: an OS thread that runs goroutines.
//!
//! # Threads and the g register
//! Goroutines run arbitrary C code (printf, malloc, errno, C++ exceptions), so every M is a full
//! glibc thread: `pthread_create` (glibc's clone3 with Go's flags plus SETTLS and the tid
//! words) on a runtime-mmap'd g0 stack, with every signal blocked across the call like Go's
//! newosproc. A thread made by a raw clone without a TCB shares errno, the malloc tcache and the
//! stdio lock owner with its parent (measured: malloc crashes, printf deadlocks).
//!
//! Each M points its GS base at the start of its `M` struct, whose first words are the
//! "g-register block": `%gs:0` is the current g (getg() is one load), `%gs:8` the owning
//! thread's FS base, `%gs:16` the M itself, `%gs:24` its g0. A thread the runtime did not set
//! up has GS base 0, or — if it was created by `pthread_create` inside a goroutine — a copy of
//! its creator's GS base; the FS-base word tells those apart (see `api::ctx`).
//!
//! Ms are never destroyed: an idle M sleeps on its `park` note on the idle list.

use crate::arch;
use crate::g::{Gobuf, G};
use crate::note::Note;
use crate::p::P;
use crate::sched::SCHED;
use crate::stack::{self, Stack};
use crate::sys;
use core::ptr::null_mut;
use core::sync::atomic::{AtomicBool, AtomicI32, Ordering::*};
use libc::c_void;

/// The scheduler stack of an M is also its pthread stack. glibc keeps its TCB and the static TLS
/// of the program (which C programs can make large) at its top, so be generous: it is reserved
/// address space, committed only as touched.
const G0_STACK_SIZE: usize = 1 << 20;
/// Alternate signal stack (the handler and its async-preempt work run here).
const GSIGNAL_STACK_SIZE: usize = 64 << 10;

pub(crate) type UnlockFn = unsafe extern "C" fn(*mut crate::api::gmp_g, *mut c_void) -> bool;

#[repr(C)]
pub(crate) struct M {
    // --- the g-register block (asm/offsets.h): keep first and in this order ---
    /// The g this thread runs now (g0 or a goroutine). Written only by this thread.
    pub tls_g: *mut G,
    /// This thread's FS base, to recognise threads that merely inherited our GS base.
    pub tls_fsbase: usize,
    pub tls_self: *mut M,
    pub g0: *mut G,
    // --- the rest: written by this thread unless said otherwise ---
    /// The goroutine running on this M (null while in the scheduler).
    pub curg: *mut G,
    /// The P held (null when none).
    pub p: *mut P,
    /// The P to take when woken: written by the waker before `park.wakeup()` (release), read
    /// after `park.sleep()` (acquire).
    pub nextp: *mut P,
    /// Looking for work (counted in sched.nmspinning). Written by the waker before wakeup for a
    /// sleeping M, otherwise by this thread.
    pub spinning: bool,
    /// Where this M sleeps when idle or waiting for its locked G.
    pub park: Note,
    /// Runtime-held counter: non-zero while this M is inside the runtime on a goroutine stack
    /// (asynchronous preemption must not stop it there). Read by this thread's signal handler,
    /// hence atomic.
    pub locks: AtomicI32,
    /// gmp_lock_thread: the G locked to this M.
    pub lockedg: *mut G,
    pub procid: AtomicI32,
    pub id: i64,
    /// Idle-M list link (sched.lock).
    pub schedlink: *mut M,
    /// allm list link (written once before publication).
    pub alllink: *mut M,
    /// gmp_park's unlock function and its argument, passed to park_m on g0.
    pub waitunlockf: Option<UnlockFn>,
    pub waitlock: *mut c_void,
    pub fastrand: u64,
    pub gsignal: Stack,
    /// The P held before gmp_entersyscall (exitsyscall tries to take it back).
    pub oldp: *mut P,
    /// A preemption signal is on its way (sysmon sets it, this M's handler clears it): repeated
    /// requests are merged. AcqRel CAS by sysmon; Release store by the handler.
    pub signal_pending: AtomicBool,
    /// Sleeping in stop_locked_m (counted in sched.nmidlelocked for checkdead), and "handed a
    /// P before it got there" (then it does not count itself). Both under sched.lock.
    pub idlelocked: bool,
    pub locked_woken: bool,
    /// This M runs sysmon and never a goroutine.
    pub sysmon: bool,
    /// This thread's errno slot (fixed for the thread's life): saving and restoring a
    /// goroutine's errno at each switch is then a plain load and store.
    pub errno_addr: *mut i32,
}

/// The calling thread's M, if it is one. A thread created by pthread_create inherits its
/// creator's GS base, so a non-zero base is trusted only if the M it points at records this
/// thread's own FS base. Signal-safe; never starts the runtime.
pub(crate) fn this_m() -> Option<*mut M> {
    let base = arch::g_base();
    if base == 0 {
        return None;
    }
    let mp = base as *mut M;
    // SAFETY: a non-zero GS base on a thread of this process was set by the runtime (on this
    // thread or its creator) and points at an M, and Ms are never freed.
    (unsafe { (*mp).tls_fsbase } == arch::thread_pointer()).then_some(mp)
}

impl M {
    pub(crate) fn fastrand(&mut self) -> u32 {
        // xorshift64*: cheap, per-M, good enough for victim selection.
        let mut x = self.fastrand;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.fastrand = x;
        (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as u32
    }
}

/// newm: create an M that will take `pp` (may be null: it then goes idle) and start
/// scheduling. False if no stack or thread could be had.
pub(crate) fn newm(pp: *mut P, spinning: bool) -> bool {
    newm1(pp, spinning, false)
}

/// Start the sysmon thread.
pub(crate) fn newm_sysmon() -> bool {
    newm1(null_mut(), false, true)
}

fn newm1(pp: *mut P, spinning: bool, sysmon: bool) -> bool {
    let Some(g0stack) = stack::stack_alloc(G0_STACK_SIZE) else { return false };
    let Some(gsignal) = stack::stack_alloc(GSIGNAL_STACK_SIZE) else { return false };
    let g0 = G::new_boxed(g0stack);
    let id = SCHED.mnext.fetch_add(1, Relaxed);
    let mp = Box::into_raw(Box::new(M {
        tls_g: g0,
        tls_fsbase: 0,
        tls_self: null_mut(),
        g0,
        curg: null_mut(),
        p: null_mut(),
        nextp: pp,
        spinning,
        park: Note::new(),
        locks: AtomicI32::new(0),
        lockedg: null_mut(),
        procid: AtomicI32::new(0),
        id,
        schedlink: null_mut(),
        alllink: null_mut(),
        waitunlockf: None,
        waitlock: null_mut(),
        fastrand: (id as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1,
        gsignal,
        oldp: null_mut(),
        signal_pending: AtomicBool::new(false),
        idlelocked: false,
        locked_woken: false,
        sysmon,
        errno_addr: null_mut(),
    }));
    // Counted before the thread exists, so checkdead never sees a starting M as missing.
    SCHED.mcount.fetch_add(1, Relaxed);
    if sysmon {
        SCHED.nmsys.fetch_add(1, Relaxed);
    }
    // SAFETY: attr is initialised before use and destroyed after; the stack range is ours and
    // unused; the signal masks are valid sigset_t values.
    unsafe {
        let mut attr: libc::pthread_attr_t = core::mem::zeroed();
        libc::pthread_attr_init(&mut attr);
        libc::pthread_attr_setstack(&mut attr, g0stack.lo as *mut c_void, g0stack.hi - g0stack.lo);
        libc::pthread_attr_setdetachstate(&mut attr, libc::PTHREAD_CREATE_DETACHED);
        // Block every signal across creation (Go's newosproc): the new thread must not take a
        // signal before mstart has set its g register and alternate stack.
        let mut all: libc::sigset_t = core::mem::zeroed();
        let mut old: libc::sigset_t = core::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
        let mut tid: libc::pthread_t = 0;
        let rc = libc::pthread_create(&mut tid, &attr, mstart, mp as *mut c_void);
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, null_mut());
        libc::pthread_attr_destroy(&mut attr);
        if rc != 0 {
            // The M never ran: nothing else references it. Its stacks are leaked address space.
            drop(Box::from_raw(mp));
            SCHED.mcount.fetch_sub(1, Relaxed);
            if sysmon {
                SCHED.nmsys.fetch_sub(1, Relaxed);
            }
            return false;
        }
    }
    SCHED.allm_push(mp);
    true
}

/// The new thread's entry (Go's mstart): set up the g register, signals and the g0 context,
/// then schedule forever.
extern "C" fn mstart(arg: *mut c_void) -> *mut c_void {
    let mp = arg as *mut M;
    // SAFETY: mp was created by newm for this thread and is not yet visible to anyone who writes
    // its thread-owned fields.
    unsafe {
        (*mp).tls_fsbase = arch::thread_pointer();
        (*mp).tls_self = mp;
        (*mp).tls_g = (*mp).g0;
        arch::set_g_base(mp);
        (*mp).procid.store(sys::gettid(), Relaxed);
        (*mp).errno_addr = sys::errno_ptr();
        let ss = libc::stack_t {
            ss_sp: (*mp).gsignal.lo as *mut c_void,
            ss_flags: 0,
            ss_size: (*mp).gsignal.hi - (*mp).gsignal.lo,
        };
        libc::sigaltstack(&ss, null_mut());
        libc::pthread_sigmask(libc::SIG_SETMASK, SCHED.initial_sigmask(), null_mut());
        // g0's context: everything below this point of the pthread stack is free, and mcall
        // restarts g0 here each time (nothing on g0 outlives a switch away from it).
        let sp: usize;
        core::arch::asm!("mov {}, rsp", out(reg) sp, options(nomem, nostack, preserves_flags));
        let g0 = (*mp).g0;
        (*g0).sched = Gobuf { sp: (sp - 256) & !15, ..Gobuf::default() };
        (*g0).status.store(crate::g::RUNNING, Relaxed);
        if (*mp).sysmon {
            crate::sysmon::sysmon(mp)
        }
        crate::proc::mstart1(mp)
    }
}
