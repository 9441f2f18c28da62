//! The asynchronous preemption path: see "Asynchronous preemption of C code" in mod.rs.

use super::signal;
use crate::arch::offsets::{RED_ZONE, XSAVE_MIN};
use crate::arch::{getg, getm};
use crate::debug::knobs::ASYNCPREEMPTOFF;
use crate::sched::g::{GStatus, G};
use crate::sched::m::{Take, M};
use crate::sched::p::PStatus;
use crate::sched::proc::{self, mcall, Slice};
use crate::sched::sched::SCHED;
use crate::sched::sched::{preempt_pressure, preempt_room, LONG_CPU_NS};
use crate::sched::syscall::enter_g;
use crate::sched::template;
use core::ptr::null_mut;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};

extern "C" {
    /// The trampoline (asm/preempt.S).
    fn gmp_async_preempt();
    /// Bytes of the XSAVE area, written once at start.
    static mut gmp_xsave_size: u64;
    /// The runtime function the trampoline calls (`async_preempt2`), written once at start.
    static mut gmp_preempt_target: usize;
}

/// libgmp's own text: [TEXT_LO, TEXT_HI). Written once at start (Relaxed: published to the
/// signal handler by the sigaction call that installs it).
static TEXT_LO: AtomicUsize = AtomicUsize::new(0);
static TEXT_HI: AtomicUsize = AtomicUsize::new(0);
/// Async preemption is possible here (XSAVE present, libgmp's text known).
static ENABLED: AtomicBool = AtomicBool::new(false);

/// Whether asynchronous preemption is on (possible here and not switched off by
/// `GMP_DEBUG=asyncpreemptoff=1`). sysmon retakes the Ps of blocked threads only then: giving a
/// P back to such a thread needs the same signal.
pub(crate) fn enabled() -> bool {
    ENABLED.load(Relaxed) && !ASYNCPREEMPTOFF.load(Relaxed)
}

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
    // SAFETY: written once, before the SIGURG handler is installed (which publishes them).
    unsafe {
        gmp_xsave_size = size.max(XSAVE_MIN as u64);
        gmp_preempt_target = async_preempt2 as *const () as usize;
    }
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
        if !sym.is_null() && libc::dladdr(sym, &mut minfo) != 0 && minfo.dli_fbase == info.dli_fbase
        {
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
/// Signal-safe: atomics and raw syscalls.
pub(crate) fn preempt_m(mp: *mut M) {
    if ASYNCPREEMPTOFF.load(Relaxed) || !ENABLED.load(Relaxed) {
        return;
    }
    // SAFETY: Ms are never freed. AcqRel CAS pairs with the handler's Release store.
    let m = unsafe { &*mp };
    if m.signal_pending
        .compare_exchange(false, true, AcqRel, Relaxed)
        .is_err()
    {
        return;
    }
    let tid = m.procid.load(Relaxed);
    m.signal_sent
        .store(crate::sched::sched::SCHED.now.load(Relaxed), Relaxed);
    if tid == 0 || !signal::send_sigurg(tid) {
        m.signal_pending.store(false, Release);
    }
}

/// A signal sysmon sent over `STUCK_NS` ago was never handled (the kernel merges a second
/// SIGURG into one still pending, and the program's own SIGURG use may have consumed ours):
/// forget it so the next request sends again. sysmon only.
pub(crate) fn unstick_signal(mp: *mut M, now: i64) {
    const STUCK_NS: i64 = 20_000_000;
    // SAFETY: Ms are never freed.
    let m = unsafe { &*mp };
    if m.signal_pending.load(Acquire) && now - m.signal_sent.load(Relaxed) > STUCK_NS {
        // Pairs with preempt_m's CAS: at worst two signals are in flight, and the handler
        // of the second finds nothing to do.
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
        if !ENABLED.load(Relaxed) {
            return;
        }
        let gp = (*mp).gregs.g;
        if gp.is_null() || gp == (*mp).gregs.g0 || gp != (*mp).curg() {
            return;
        }
        if (*mp).locks.load(Relaxed) != 0 {
            return;
        }
        // sysmon took our P while this thread was blocked, and it runs again: get the P back
        // (async_preempt2 sees Taken) before the goroutine runs on. Not a preemption, so not
        // subject to asyncpreemptoff.
        match (*mp).take.load(Acquire) {
            Take::Taken => {
                if !super::lockhold::defer_taken(gp) {
                    inject(gp, uc);
                }
                return;
            }
            Take::Taking => return, // sysmon is deciding; it retries
            Take::Free => {}
        }
        if ASYNCPREEMPTOFF.load(Relaxed) {
            return;
        }
        if !(*gp).preempt.load(Acquire) || (*gp).status.load(Relaxed) != GStatus::Running {
            return;
        }
        // The lock rule (lock/mod.rs): a runtime lock always raises m.locks.
        (*mp).assert_no_locks_held("sig_preempt: runtime lock held with m.locks == 0");
        let pp = (*mp).p();
        if pp.is_null() || (*pp).status.load(Relaxed) != PStatus::Running {
            return;
        }
        // A goroutine holding a pthread lock is preempted at its outermost unlock instead
        // (lockhold.rs), within a bound.
        let gregs = &mut (*(uc as *mut libc::ucontext_t)).uc_mcontext.gregs;
        if super::lockhold::defer_in_handler(gp, pp, gregs) {
            (*gp).preempt.store(false, Relaxed);
            return;
        }
        if inject(gp, uc) {
            (*gp).preempt.store(false, Relaxed);
        }
    }
}

/// Make the interrupted goroutine call the trampoline when the handler returns, if the
/// interrupted point allows it. Signal-safe.
/// # Safety
/// In the SIGURG handler on gp's M, with the handler's ucontext.
unsafe fn inject(gp: *mut G, uc: *mut libc::c_void) -> bool {
    // SAFETY: per the contract.
    unsafe {
        let uc = uc as *mut libc::ucontext_t;
        let gregs = &mut (*uc).uc_mcontext.gregs;
        let pc = gregs[libc::REG_RIP as usize] as usize;
        let sp = gregs[libc::REG_RSP as usize] as usize;
        if pc >= TEXT_LO.load(Relaxed) && pc < TEXT_HI.load(Relaxed) {
            return false; // inside the runtime: retried at the next sysmon tick
        }
        let need = 4096 + gmp_xsave_size as usize + 1024;
        let st = (*gp).stack;
        if sp > st.hi || sp < st.lo + need {
            return false; // not on its goroutine stack, or too little room
        }
        // pushCall for C: step over the red zone, push the resume pc, enter the trampoline.
        let nsp = sp - RED_ZONE - 8;
        *(nsp as *mut usize) = pc;
        gregs[libc::REG_RSP as usize] = nsp as i64;
        gregs[libc::REG_RIP as usize] = gmp_async_preempt as *const () as usize as i64;
        true
    }
}

/// Called by the trampoline (through `gmp_preempt_target`) on the goroutine's stack with its
/// whole state saved: get back a P that sysmon took while the thread was blocked, or park the
/// G, keeping its M, until it is scheduled again.
unsafe extern "C" fn async_preempt2() {
    // SAFETY: the handler checked that this is a preemptible goroutine on its own M.
    unsafe { preempt_park() }
}

/// The preemption itself: park the calling goroutine, keeping its M, until it is scheduled
/// again — or, if sysmon took the M's P while its thread was blocked, get a P back. Entered
/// from the trampoline (`async_preempt2`, every register saved) or by a plain call from the
/// outermost pthread unlock that a deferred preemption waited for (lockhold.rs; a call
/// boundary, where mcall saves all that is live).
/// # Safety
/// Called by a goroutine on its own M, at a point where it may be preempted: m.locks == 0, on
/// the goroutine's stack.
pub(crate) unsafe fn preempt_park() {
    let mp = getm();
    let gp = getg();
    // SAFETY: per the contract we are the goroutine gp on our M mp. lockedg/lockedm are
    // written by the G itself while running.
    unsafe {
        // Enter the runtime; the take decides what we are here for.
        if enter_g(mp, gp) {
            (*getm()).releasem();
            return;
        }
        if (*gp).status.load(Relaxed) != GStatus::Running {
            (*mp).releasem();
            return;
        }
        (*gp).lockhold.preempted();
        let lock_here = (*mp).lockedg().is_null();
        if lock_here {
            (*gp).preempt_locked = true;
            (*gp).lockedm.store(mp, Relaxed);
            (*mp).lockedg.store(gp, Relaxed);
        }
        // The slice's CPU time, for the starvation rule (first slice: a whole one).
        let cpu = crate::os::thread_cputime(crate::os::gettid());
        (*gp).preempt_cpu += if (*gp).resume_cpu == 0 {
            crate::sched::sysmon::FORCE_PREEMPT_NS
        } else {
            cpu - (*gp).resume_cpu
        };
        mcall(mp, gopreempt_m);
        // Resumed, on the same M (the lock guarantees it).
        (*gp).resume_cpu = crate::os::thread_cputime(crate::os::gettid());
        if (*gp).preempt_parked {
            (*gp).preempt_parked = false;
            // Pairs with nothing: counts the scheduler and sysmon read as hints.
            SCHED.npreempted.fetch_sub(1, Relaxed);
            if (*gp).preempt_cpu >= LONG_CPU_NS {
                SCHED.nlong.fetch_sub(1, Relaxed);
            }
        }
        if lock_here {
            (*gp).preempt_locked = false;
            (*gp).lockedm.store(null_mut(), Relaxed);
            (*mp).lockedg.store(null_mut(), Relaxed);
        }
    }
}

/// What a preemption does with the P (see "The thread budget" in mod.rs).
enum Plan {
    /// Nothing else wants the P: carry on, in a new time slice.
    Carry,
    /// Give the P to the M of the oldest preempted G (net zero Ms holding preempted Gs).
    Swap,
    /// Give the P to this idle M, which schedules normally.
    IdleM(*mut M),
    /// No M can take the P without making a thread, or the budget is spent: carry on; sysmon
    /// asks again at its next tick.
    Skip,
}

/// gopreempt_m: on g0 — decide, under sched.lock, whether the preempted G (locked to this M)
/// gives up the P and to whom. Parking it puts it on the preempted queue and this M sleeps
/// holding it (schedule -> stoplockedm). Each step avoids creating a thread: this thread may
/// hold any libc lock.
unsafe extern "C" fn gopreempt_m(gp: *mut G) -> ! {
    let mp = getm();
    // SAFETY: mp is this M and gp its curg, whose context mcall saved; we own mp.p.
    unsafe {
        proc::dropg(mp, gp);
        (*gp).status.set(GStatus::Running, GStatus::Runnable);
        let pp = (*mp).p();
        // Due timers count as waiting work: their goroutines go to this P's runnext, so the
        // plan below gives the P to them (a sleeper beside a CPU-bound goroutine wakes after
        // one slice).
        (*pp).timers.check(0);
        let mut s = SCHED.locked();
        if (*pp).retiring() {
            // gmp_set_procs shrank past this P: it retires now (its queue goes global), and
            // whoever has an idle P picks the work up.
            park(&mut s, gp);
            proc::releasep(mp);
            s.pidleput(pp);
            let pp2 = if s.runq_len() > 1 {
                s.pidleget()
            } else {
                null_mut()
            };
            drop(s);
            if !pp2.is_null() {
                proc::startm(pp2, proc::Spin::No);
            }
            proc::schedule_without_p(mp)
        }
        let local = !(*pp).runq.is_empty();
        let pq = s.preemptq.len != 0;
        let plan = if !local && s.runq_len() == 0 {
            Plan::Carry
        } else if pq && !local && preempt_pressure() {
            Plan::Swap
        } else if preempt_room() && s.nmidle > 0 {
            Plan::IdleM(s.mget())
        } else if pq && !(local && preempt_room()) {
            // Rotate, even with local work waiting when the budget is spent: preempted
            // goroutines that keep using whole slices become long-running ones, which get
            // room of their own. (With room, local work waits for the spare M below instead:
            // a swap would leave it behind the goroutine swapped in.)
            Plan::Swap
        } else {
            Plan::Skip
        };
        match plan {
            Plan::Carry | Plan::Skip => {
                drop(s);
                if matches!(plan, Plan::Skip) {
                    template::spare_check(); // sysmon asks again next tick
                                             // An M blocked in the network poller holds no P and cannot take one: wake
                                             // it so it goes idle, and the next try finds it (else, at 1 P, the last of
                                             // the budget's Ms could sit in the poller while goroutines wait for a
                                             // first turn for good: t_preempt_libc hung 1 run in 4).
                    if crate::netpoll::LASTPOLL.load(Relaxed) == 0 {
                        crate::netpoll::epoll::netpoll_break();
                    }
                }
                let slice = if matches!(plan, Plan::Carry) {
                    Slice::New
                } else {
                    Slice::Inherit
                };
                proc::execute(mp, gp, slice)
            }
            Plan::Swap => {
                let g2 = s.preemptqget();
                park(&mut s, gp);
                proc::releasep(mp);
                proc::handoff_to_locked(&mut s, (*g2).lockedm(), pp);
                drop(s);
                proc::schedule_without_p(mp)
            }
            Plan::IdleM(m2) => {
                park(&mut s, gp);
                proc::releasep(mp);
                drop(s);
                // As startm does for an M off the idle list: it reads these after waking.
                (*m2).spinning.store(false, Relaxed);
                (*m2).nextp = pp;
                (*m2).park.wakeup();
                template::spare_check();
                proc::schedule_without_p(mp)
            }
        }
    }
}

/// Queue the preempted gp (Runnable, locked to the calling M) and count it.
/// # Safety
/// Under sched.lock (s); gp is the calling M's switched-out G.
unsafe fn park(s: &mut crate::sched::sched::SchedLocked, gp: *mut G) {
    // SAFETY: per the contract.
    unsafe {
        (*gp).preempt_parked = true;
        SCHED.npreempted.fetch_add(1, Relaxed);
        if (*gp).preempt_cpu >= LONG_CPU_NS {
            SCHED.nlong.fetch_add(1, Relaxed);
        }
        SCHED.preemptions.fetch_add(1, Relaxed);
        s.preemptqput(gp);
    }
}
