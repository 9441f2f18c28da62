//! # Lock-holder-aware preemption
//! Preempting a goroutine while it holds a pthread lock stalls every goroutine that needs that
//! lock for whole time slices: a waiter blocks its thread (and P) in the kernel until sysmon
//! preempts it too, ~10 ms later, and only then can the holder get a P back and unlock.
//! Measured before this change: 12 goroutines sharing a `std::mutex` ran 8x slower at 1 P with
//! preemption on than off; 32 goroutines with private SQLite databases (Debian's SQLite takes
//! a global mutex on every allocation) 4.7x at 1 P and 3.7x at 2 P.
//!
//! So the runtime counts the pthread locks each goroutine holds and, while that count is
//! non-zero, asynchronous preemption waits for the outermost unlock. `libgmp.so` exports
//! `pthread_mutex_{lock,trylock,timedlock,clocklock,unlock}`, `pthread_rwlock_*` (read, write,
//! try, timed, clock, unlock) and `pthread_spin_{lock,trylock,unlock}` (hooks/pthread.rs):
//! each forwards to libc's function unchanged and, in a goroutine, counts a success.
//!
//! ## The count lives in the G
//! Per goroutine, not per M, because (1) the preemption decision is about the goroutine: what
//! must not be stopped is the code that holds the lock; (2) a goroutine may hold a lock across
//! a cooperative switch (against api.md's advice, but C libraries do: a hooked read under
//! SQLite's mutex) and continue on another M — a per-M count would stay behind, making the
//! old M's next goroutines unpreemptible for a while and the holder preemptible on its new M.
//! The cost is the same either way (the hook reaches the G through the M's g register).
//! Plain threads are not counted: nothing preempts them.
//!
//! Unbalanced use is tolerated, never fatal: an unlock by a goroutine that holds nothing (the
//! lock was taken by another goroutine or a plain thread, which glibc allows for default
//! mutexes and spinlocks) leaves the count at 0; a goroutine that ends holding a lock gives the
//! count up with the G (`reset` at reuse). A lock taken by one goroutine and released by
//! another leaves the first one's count high: its preemptions are deferred, within the bound.
//!
//! ## The deferral protocol
//! 1. sysmon asks for a preemption as always (`g.preempt`, SIGURG).
//! 2. The handler (`sig_preempt`), at a point where it would preempt, asks `defer_in_handler`:
//!    if the G holds locks and was running user code (not blocked in a system call: a holder
//!    asleep in the kernel makes no progress by keeping its P, and preempting it is what frees
//!    the P), it records the deferral (`since` = sysmon's clock) and returns without preempting.
//! 3. While a deferral is pending and younger than `MAX_DEFER_NS`, sysmon sends no further
//!    SIGURG to that G (`defers_signal`, called by preemptone).
//! 4. The outermost unlock (count 1 -> 0) sees `since != 0` and takes the preemption right
//!    there (`release_slow` -> `preempt_park`): the same park as an asynchronous preemption
//!    (the G keeps its M), entered by a plain call instead of the trampoline — the hook was
//!    called by C code, so only callee-saved state is live and `mcall` saves it. It does not
//!    when the runtime's own rules forbid it (m.locks != 0, the G inside a syscall bracket, no
//!    P, not on its own stack, a forked child): then it just withdraws the deferral, and
//!    sysmon's next tick preempts the usual way.
//! 5. The bound: a deferral older than `MAX_DEFER_NS` no longer holds: sysmon signals again,
//!    and the handler preempts even with locks held, as without this module (a goroutine that
//!    holds a lock forever cannot starve the others). `preempt_park` clears `since`, so the
//!    next slice may defer again: a lock-holding goroutine runs at most 10 + 50 ms per slice.
//!
//! Orderings. `held` and `since` are touched by the goroutine and by the SIGURG handler of the
//! M it runs on: one thread, so program order is all they need — plain atomic loads and
//! stores (never RMWs, which would cost ~20 cycles on the hook's path), with a compiler fence
//! where the unlock's store of `held` must not sink below its load of `since` (the handler
//! can run between any two instructions). A `since` left by an earlier slice (the goroutine
//! switched out cooperatively while a deferral was pending) is recognised as stale by
//! comparing it with the P's `slice_start`, so nothing on the scheduler's paths clears it.
//!
//! Not seen: locks that do not go through these functions: glibc's internal locks (malloc's,
//! stdio's, the loader's), C11 `mtx_*` (glibc calls its internal `__pthread_mutex_lock`, not
//! the exported name), raw futexes, and programs linked statically. `std::mutex` and
//! `std::shared_mutex` do go through them (libstdc++ calls `pthread_mutex_lock` and
//! `pthread_rwlock_*` by name). A holder blocked in `pthread_cond_wait` still counts its
//! mutex (the hooks do not see the wait release it), which is why step 2 looks at whether the
//! thread sleeps in the kernel.
//!
//! Rejected: counting per M (above); raising `m.locks` (it would make the hold unbounded and
//! would mix user locks into the runtime's lock rule); an RMW counter (no other thread writes
//! it); re-signalling every sysmon tick while deferred (each signal interrupts the holder for
//! nothing).

use crate::os;
use crate::sched::g::{GStatus, G};
use crate::sched::m::{m_at, this_m, M};
use crate::sched::p::{PStatus, P};
use crate::sched::sched::SCHED;
use core::sync::atomic::{compiler_fence, AtomicI64, AtomicU32, Ordering::*};

/// The bound: a deferral older than this is not honoured (preemption as without locks).
pub(crate) const MAX_DEFER_NS: i64 = 50_000_000;

/// A goroutine's lock-holder state (`G::lockhold`). See "Lock-holder-aware preemption".
pub(crate) struct LockHold {
    /// pthread locks this goroutine holds, counted by the hooks. Written only by the goroutine
    /// itself (a load and a store); read by the SIGURG handler of the M it runs on (same
    /// thread: program order) and, after a cooperative switch, by its next M (ordered by the
    /// run queue's release/acquire, like the rest of the G).
    held: AtomicU32,
    /// When the pending deferred preemption began (sysmon's clock `sched.now`), 0 = none. Set
    /// by the SIGURG handler on the goroutine's M; cleared by the goroutine itself (outermost
    /// unlock, preempt_park); read racily by sysmon (`defers_signal`), where a stale value
    /// costs one signal more or one tick later.
    since: AtomicI64,
}

impl LockHold {
    pub(crate) const fn new() -> Self {
        LockHold {
            held: AtomicU32::new(0),
            since: AtomicI64::new(0),
        }
    }

    /// A reused G holds nothing (its previous goroutine may have ended holding a lock).
    /// Called by its allocator, which owns it.
    pub(crate) fn reset(&self) {
        self.held.store(0, Relaxed);
        self.since.store(0, Relaxed);
    }

    /// The goroutine is being preempted (asynchronously or at an unlock): the pending
    /// deferral, if any, is consumed. On the goroutine's own thread.
    pub(crate) fn preempted(&self) {
        self.since.store(0, Relaxed);
    }
}

/// The goroutine running on the calling thread, for the hooks: None on plain threads and on
/// g0 (the scheduler's own code, gmp_park unlock functions). Never starts the runtime.
#[inline]
pub(crate) fn current() -> Option<*mut G> {
    if !crate::sched::schedinit::started() {
        return None; // no M exists (and no syscall to read the GS base without FSGSBASE)
    }
    goroutine_of(this_m())
}

/// `current` for a GS base the caller has read (`arch::g_base_fast`).
#[inline(always)]
pub(crate) fn current_at(gs_base: usize) -> Option<*mut G> {
    goroutine_of(m_at(gs_base))
}

#[inline(always)]
fn goroutine_of(mp: Option<*mut M>) -> Option<*mut G> {
    let mp = mp?;
    // SAFETY: mp is this thread's M (never freed); its gregs are this thread's.
    let (gp, g0) = unsafe { ((*mp).gregs.g, (*mp).gregs.g0) };
    (gp != g0).then_some(gp)
}

/// The hooks: `gp`, the calling goroutine, took a lock.
/// # Safety
/// `gp` is the goroutine running on the calling thread (`current()`).
#[inline(always)]
pub(crate) unsafe fn acquired(gp: *mut G) {
    // SAFETY: per the contract: the G's own counter, written only on its own thread.
    let held = unsafe { &(*gp).lockhold.held };
    held.store(held.load(Relaxed).wrapping_add(1), Relaxed);
}

/// The hooks: `gp`, the calling goroutine, released a lock. The outermost release takes a
/// deferred preemption (step 4).
/// # Safety
/// As `acquired`.
#[inline(always)]
pub(crate) unsafe fn released(gp: *mut G) {
    // SAFETY: per the contract.
    let lh = unsafe { &(*gp).lockhold };
    let n = lh.held.load(Relaxed);
    if n == 0 {
        return; // not ours to count (see "Unbalanced use"): never underflow
    }
    lh.held.store(n - 1, Relaxed);
    if n == 1 {
        // The handler may run between any two instructions: it must see held == 0 (and
        // preempt by itself) or have stored `since` before we read it. Same thread, so a
        // compiler fence is the whole barrier (atomic_signal_fence).
        compiler_fence(SeqCst);
        if lh.since.load(Relaxed) != 0 {
            // SAFETY: per the contract.
            unsafe { release_slow(gp) }
        }
    }
}

/// Step 4: the outermost unlock with a deferred preemption pending: take it here, if this is
/// a point where the runtime may stop the goroutine; otherwise withdraw the deferral.
#[cold]
#[inline(never)]
unsafe fn release_slow(gp: *mut G) {
    // SAFETY: gp runs on this thread; its M, P and status are read on their owner's thread.
    unsafe {
        let since = (*gp).lockhold.since.load(Relaxed);
        (*gp).lockhold.since.store(0, Relaxed);
        let Some(mp) = this_m() else { return };
        // A holder that sysmon took the P of while it slept in the kernel (waiting for this
        // very lock, say) ran on without a P until here: get one back now (defer_taken).
        let taken = (*mp).take.load(Acquire) == crate::sched::m::Take::Taken
            && (*mp).locks.load(Relaxed) == 0;
        if taken || may_park_here(mp, gp, since) {
            super::asyncpreempt::preempt_park();
        }
    }
}

/// The safe-point rules of `sig_preempt`, for a plain call from C code.
/// # Safety
/// `mp` is the calling thread's M and `gp` its running goroutine.
unsafe fn may_park_here(mp: *mut M, gp: *mut G, since: i64) -> bool {
    // SAFETY: per the contract; every field is read on its owner's thread.
    unsafe {
        if (*mp).curg() != gp || (*gp).status.load(Relaxed) != GStatus::Running {
            return false; // inside a gmp_entersyscall bracket: no P to give up
        }
        if (*mp).locks.load(Relaxed) != 0 {
            return false; // inside the runtime (the lock rule)
        }
        let pp = (*mp).p();
        if pp.is_null() || (*pp).status.load(Relaxed) != PStatus::Running {
            return false;
        }
        if since < (*pp).slice_start.load(Relaxed) {
            return false; // asked for in an earlier slice (see "Orderings"): stale
        }
        // On the goroutine's own stack (not a signal handler's alternate stack, not a stack
        // the C code switched to), with room for mcall's frame.
        let sp: usize;
        core::arch::asm!("mov {}, rsp", out(reg) sp, options(nomem, nostack, preserves_flags));
        let st = (*gp).stack;
        if sp > st.hi || sp < st.lo + 1024 {
            return false;
        }
        // After fork() the child's only thread still looks like an M, but no scheduler runs.
        (*mp).procid.load(Relaxed) == os::gettid()
    }
}

/// In the SIGURG handler of an M whose P sysmon took while its thread slept in the kernel
/// (sched/syscall.rs, "Blocked threads"): true if the goroutine holds a pthread lock, within
/// the bound — it then runs on without a P until its outermost unlock (release_slow), rather
/// than wait for a P while other goroutines wait for its lock. Signal-safe.
/// # Safety
/// On `gp`'s M, in its SIGURG handler.
pub(crate) unsafe fn defer_taken(gp: *mut G) -> bool {
    // SAFETY: per the contract: the G's fields are this thread's.
    unsafe {
        let lh = &(*gp).lockhold;
        if lh.held.load(Relaxed) == 0 {
            return false;
        }
        let now = SCHED.now.load(Relaxed);
        let since = lh.since.load(Relaxed);
        if since == 0 {
            lh.since.store(now.max(1), Relaxed);
            return true;
        }
        now - since < MAX_DEFER_NS
    }
}

/// Step 2, in the SIGURG handler at a point where it would otherwise preempt: true if the
/// preemption is deferred instead. Signal-safe: atomics and plain loads.
/// # Safety
/// On `gp`'s M, in its SIGURG handler; `pp` is that M's P; `gregs` the interrupted context.
pub(crate) unsafe fn defer_in_handler(gp: *mut G, pp: *mut P, gregs: &[libc::greg_t; 23]) -> bool {
    // SAFETY: per the contract: the G's fields are this thread's; pp is live.
    unsafe {
        let lh = &(*gp).lockhold;
        if lh.held.load(Relaxed) == 0 || in_syscall(gregs) {
            return false;
        }
        let now = SCHED.now.load(Relaxed);
        let since = lh.since.load(Relaxed);
        if since == 0 || since < (*pp).slice_start.load(Relaxed) {
            lh.since.store(now.max(1), Relaxed); // a new deferral (sysmon's clock is > 0 here)
            return true;
        }
        now - since < MAX_DEFER_NS
    }
}

/// Whether the interrupted thread was asleep in (or entering) a system call: the SA_RESTART
/// path rewinds rip to the `syscall` instruction (0f 05); a call that fails with EINTR
/// instead leaves rip after it with rax = -EINTR. Signal-safe: reads the code bytes at rip,
/// which are mapped (it is executing them); rip - 2 only within rip's own page.
fn in_syscall(gregs: &[libc::greg_t; 23]) -> bool {
    const SYSCALL: [u8; 2] = [0x0f, 0x05];
    let pc = gregs[libc::REG_RIP as usize] as usize;
    // SAFETY: the byte at pc is mapped (the thread was executing it); pc + 1 is read only if
    // pc holds 0x0f, a two-byte opcode's first byte, so the instruction continues there.
    let at_pc =
        unsafe { *(pc as *const u8) == SYSCALL[0] && *((pc + 1) as *const u8) == SYSCALL[1] };
    if at_pc {
        return true;
    }
    if pc & 0xfff < 2 || gregs[libc::REG_RAX as usize] != -(libc::EINTR as i64) {
        return false;
    }
    // SAFETY: pc - 2 is on pc's page, which is mapped.
    unsafe { core::ptr::read_unaligned((pc - 2) as *const [u8; 2]) == SYSCALL }
}

/// Step 3, for sysmon's preemptone: a deferred preemption of `gp` is pending and within the
/// bound, so no signal now. A racy read (see `since`).
/// # Safety
/// `pp` is a P and `gp` a G (both never freed).
pub(crate) unsafe fn defers_signal(pp: *mut P, gp: *mut G) -> bool {
    // SAFETY: per the contract; atomics only.
    unsafe {
        let since = (*gp).lockhold.since.load(Relaxed);
        since != 0
            && since >= (*pp).slice_start.load(Relaxed)
            && SCHED.now.load(Relaxed) - since < MAX_DEFER_NS
    }
}

#[cfg(test)]
mod tests {
    //! The "asleep in a system call" test of the deferral, on synthetic contexts.
    use super::*;

    fn regs(pc: usize, rax: i64) -> [libc::greg_t; 23] {
        let mut g = [0; 23];
        g[libc::REG_RIP as usize] = pc as i64;
        g[libc::REG_RAX as usize] = rax;
        g
    }

    #[test]
    fn in_syscall_sees_restart_and_eintr() {
        // A page of code-like bytes, with a syscall instruction at 0x100.
        let mut page = vec![0x90u8; 8192];
        let base = (page.as_mut_ptr() as usize + 4095) & !4095;
        let at = |off: usize| base + off;
        // SAFETY: base..base + 4096 lies inside `page`.
        unsafe { core::ptr::copy_nonoverlapping([0x0fu8, 0x05].as_ptr(), at(0x100) as *mut u8, 2) };
        // SA_RESTART rewound rip to the instruction.
        assert!(in_syscall(&regs(at(0x100), 202)));
        // Returned EINTR: rip after it, rax = -EINTR.
        assert!(in_syscall(&regs(at(0x102), -(libc::EINTR as i64))));
        // After it with any other result: the thread runs user code.
        assert!(!in_syscall(&regs(at(0x102), 0)));
        assert!(!in_syscall(&regs(at(0x102), -(libc::EAGAIN as i64))));
        // Plain code.
        assert!(!in_syscall(&regs(at(0x200), -(libc::EINTR as i64))));
        // rip at the start of a page: rip - 2 is not looked at.
        assert!(!in_syscall(&regs(at(0x1000), -(libc::EINTR as i64))));
        drop(page);
    }
}
