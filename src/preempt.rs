//! Asynchronous preemption of C code (beyond Go: Go never preempts C code).
//!
//! sysmon marks a G that has run over 10 ms (`g.preempt`) and calls `preempt_m`, which sends
//! SIGURG to its M (merged: at most one in flight per M, `m.signal_pending`). The handler
//! (`sig_preempt`, on the M's alternate stack) checks that the interrupted point is a safe
//! point:
//! 1. the thread is an M and runs the goroutine sysmon marked (`getg() == m.curg`, RUNNING),
//!    not g0 and not a goroutine inside a syscall bracket;
//! 2. the M is not inside the runtime (`m.locks == 0`: exported functions raise it) and the pc
//!    is not in libgmp's own text (context switches, trampolines);
//! 3. the goroutine's stack has room for the trampoline's frame (4 KiB + the XSAVE area) and
//!    the interrupted sp is inside that stack (C code may be running on a stack of its own).
//!
//! Then it injects a call to `gmp_async_preempt` (asm/preempt.S) that steps over the red zone.
//!
//! # A preempted goroutine keeps its M
//! The trampoline calls `gmp_async_preempt2`, which locks the G to its M (Go's lockedm, see
//! proc.rs) for the duration and yields through the global queue: the M sleeps holding the G,
//! its P is handed to another M, and when some M picks the G it hands its P to this M, which
//! resumes the G. To C code a preemption is then exactly the OS descheduling the thread: a G
//! stopped inside malloc, holding a mutex, or with `&errno` or a `__thread` address in a
//! register is still correct. This is also what makes progress possible when a G blocks on a
//! lock held by a preempted G (the blocked one is preempted too; the holder resumes).
//!
//! Because the preempted thread may hold libc locks (malloc's, stdio's, the loader's), nothing
//! on this path may call into libc beyond raw syscalls: no malloc, no pthread_create. When the
//! P needs a new M, the request goes to sysmon (`newm_pending`), which holds no user locks.
//!
//! Rejected: Go's pushCall (no red-zone skip: a red-zone variable was clobbered, and without
//! `ret $128` C code crashed, measured on this machine); FXSAVE (loses AVX-512 upper halves:
//! wrong results, measured); moving the preempted G to another M (breaks C code that cached a
//! thread-local address).

use crate::arch::{self, getg, getm};
use crate::debug::ASYNCPREEMPTOFF;
use crate::g::{self, set_status};
use crate::m::M;
use crate::p;
use crate::proc;
use crate::sched::SCHED;
use crate::signal;
use core::ptr::null_mut;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};

extern "C" {
    /// The trampoline (asm/preempt.S).
    fn gmp_async_preempt();
    /// Bytes of the XSAVE area, written once at start.
    static mut gmp_xsave_size: u64;
}

/// libgmp's own text: [TEXT_LO, TEXT_HI). Written once at start (Relaxed: published to the
/// signal handler by the sigaction call that installs it).
static TEXT_LO: AtomicUsize = AtomicUsize::new(0);
static TEXT_HI: AtomicUsize = AtomicUsize::new(0);
/// Async preemption is possible here (XSAVE present, libgmp's text known).
static ENABLED: AtomicBool = AtomicBool::new(false);

/// Marker in si_value of our SIGURGs, so the program's own SIGURGs are told apart.
pub(crate) const SIGURG_MAGIC: usize = 0x676d_7050_7265_6d70; // "gmpPremp"

/// Set up at runtime start: XSAVE area size and libgmp's text range.
pub(crate) fn init() {
    // cpuid is always available on x86-64 (a safe intrinsic).
    let leaf1 = core::arch::x86_64::__cpuid(1);
    let osxsave = leaf1.ecx & (1 << 27) != 0;
    if !osxsave {
        return; // no XSAVE: cooperative scheduling only
    }
    // Leaf 0xD exists when OSXSAVE is set. EBX = size for the components enabled in XCR0.
    let size = core::arch::x86_64::__cpuid_count(0xd, 0).ebx as u64;
    // SAFETY: written once, before the SIGURG handler is installed.
    unsafe { gmp_xsave_size = size.max(576) };
    let Some((lo, hi)) = own_text() else { return };
    TEXT_LO.store(lo, Relaxed);
    TEXT_HI.store(hi, Relaxed);
    ENABLED.store(true, Relaxed);
}

/// The executable segment of the object that contains this code, from its ELF program
/// headers. None if libgmp was linked into the executable itself (its text cannot be told from
/// the program's then, so async preemption stays off).
fn own_text() -> Option<(usize, usize)> {
    // SAFETY: an all-zero Dl_info is a valid value (null pointers).
    let mut info: libc::Dl_info = unsafe { core::mem::zeroed() };
    // SAFETY: dladdr only reads loader data; info is a valid out-pointer.
    if unsafe { libc::dladdr(init as *const () as *const libc::c_void, &mut info) } == 0 {
        return None;
    }
    // SAFETY: NULL asks for the main program's handle; RTLD_NOLOAD loads nothing.
    let main = unsafe { libc::dlopen(core::ptr::null(), libc::RTLD_LAZY | libc::RTLD_NOLOAD) };
    // SAFETY: as for info.
    let mut minfo: libc::Dl_info = unsafe { core::mem::zeroed() };
    // SAFETY: main is the program's handle; dlsym/dladdr only read loader data.
    unsafe {
        let sym = libc::dlsym(main, c"main".as_ptr());
        if !sym.is_null() && libc::dladdr(sym, &mut minfo) != 0 && minfo.dli_fbase == info.dli_fbase {
            return None;
        }
    }
    let base = info.dli_fbase as usize;
    // SAFETY: dli_fbase is the load address of a mapped ELF object: its header and program
    // headers are mapped and readable.
    unsafe {
        let eh = &*(base as *const libc::Elf64_Ehdr);
        let ph = (base + eh.e_phoff as usize) as *const libc::Elf64_Phdr;
        for i in 0..eh.e_phnum as usize {
            let h = &*ph.add(i);
            if h.p_type == libc::PT_LOAD && h.p_flags & libc::PF_X != 0 {
                let lo = base + h.p_vaddr as usize;
                return Some((lo, lo + h.p_memsz as usize));
            }
        }
    }
    None
}

/// preemptM: send SIGURG to mp unless one is already on its way. Marked with SIGURG_MAGIC.
/// Signal-safe.
pub(crate) fn preempt_m(mp: *mut M) {
    if ASYNCPREEMPTOFF.load(Relaxed) || !ENABLED.load(Relaxed) {
        return;
    }
    // SAFETY: Ms are never freed. AcqRel CAS pairs with the handler's Release store.
    let m = unsafe { &*mp };
    if m.signal_pending.compare_exchange(false, true, AcqRel, Relaxed).is_err() {
        return;
    }
    let tid = m.procid.load(Relaxed);
    if tid == 0 || !signal::send_sigurg(tid) {
        m.signal_pending.store(false, Release);
    }
}

/// The SIGURG handler's preemption half. Signal-safe: atomics and plain loads/stores only.
/// # Safety
/// Called from the SIGURG handler on `mp`'s own thread, with the handler's ucontext.
pub(crate) unsafe fn sig_preempt(mp: *mut M, uc: *mut libc::c_void) {
    // SAFETY: mp is this thread's M; uc is the kernel's ucontext for this signal; the G and P
    // are read on the thread that owns them.
    unsafe {
        (*mp).signal_pending.store(false, Release);
        if !ENABLED.load(Relaxed) || ASYNCPREEMPTOFF.load(Relaxed) {
            return;
        }
        let gp = (*mp).tls_g;
        if gp.is_null() || gp == (*mp).g0 || gp != (*mp).curg {
            return;
        }
        if !(*gp).preempt.load(Acquire) || (*gp).status.load(Relaxed) != g::RUNNING {
            return;
        }
        if (*mp).locks.load(Relaxed) != 0 {
            return;
        }
        let pp = (*mp).p;
        if pp.is_null() || (*pp).status.load(Relaxed) != p::RUNNING {
            return;
        }
        let uc = uc as *mut libc::ucontext_t;
        let gregs = &mut (*uc).uc_mcontext.gregs;
        let pc = gregs[libc::REG_RIP as usize] as usize;
        let sp = gregs[libc::REG_RSP as usize] as usize;
        if pc >= TEXT_LO.load(Relaxed) && pc < TEXT_HI.load(Relaxed) {
            return; // inside the runtime: retried at the next sysmon tick
        }
        let need = 4096 + gmp_xsave_size as usize + 1024;
        let st = (*gp).stack;
        if sp > st.hi || sp < st.lo + need {
            return; // not on its goroutine stack, or too little room
        }
        // pushCall for C: step over the red zone, push the resume pc, enter the trampoline.
        let nsp = sp - 128 - 8;
        *(nsp as *mut usize) = pc;
        gregs[libc::REG_RSP as usize] = nsp as i64;
        gregs[libc::REG_RIP as usize] = gmp_async_preempt as *const () as usize as i64;
        (*gp).preempt.store(false, Relaxed);
    }
}

/// Called by the trampoline on the goroutine's stack with its whole state saved: park the G,
/// keeping its M, until it is scheduled again.
/// cbindgen:ignore
#[no_mangle]
pub unsafe extern "C" fn gmp_async_preempt2() {
    let mp = getm();
    let gp = getg();
    // SAFETY: we are the goroutine gp on our M mp (the handler checked it). lockedg/lockedm are
    // written by the G itself while running.
    unsafe {
        let lock_here = (*mp).lockedg.is_null();
        if lock_here {
            (*gp).preempt_locked = true;
            (*gp).lockedm = mp;
            (*mp).lockedg = gp;
        }
        SCHED.preemptions.fetch_add(1, Relaxed);
        arch::gmp_mcall(gopreempt_m);
        // Resumed, on the same M (the lock guarantees it).
        if lock_here {
            (*gp).preempt_locked = false;
            (*gp).lockedm = null_mut();
            (*mp).lockedg = null_mut();
        }
    }
}

/// gopreempt_m: on g0 — the preempted G (locked to this M) yields through the global queue
/// (proc::yield_global): it carries on at once if nothing else is runnable; if the next G is
/// locked to another M (typically one preempted earlier) that M gets the P directly; else this
/// M waits for the G (schedule -> stop_locked_m) and its P goes to another M. Each shortcut
/// saves the thread wake-ups that dominate a preemption's cost (~7-20 µs each here).
unsafe extern "C" fn gopreempt_m(gp: *mut g::G) -> ! {
    let mp = getm();
    // SAFETY: mp is this M and gp its curg, whose context mcall saved; we own mp.p.
    unsafe {
        proc::dropg(mp, gp);
        set_status(gp, g::RUNNING, g::RUNNABLE);
        proc::yield_global(mp, gp, false)
    }
}
