//! x86-64: the asm entry points of `asm/switch.S` and `asm/gostart.S`, and the g register.
//!
//! Stack pictures (addresses grow up):
//! ```text
//!  fresh G (from newproc)          suspended G (gmp_mcall / gmp_gosave)
//!  hi  +----------------+ <- sp    hi  +------------------+
//!      | (nothing yet)  |              | goroutine frames |
//!      |                |              +------------------+ <- sched.sp (return addr popped)
//!  lo  +----------------+ guard        |                  |  sched.pc = caller's resume pc
//!  sched.pc = gmp_gostart, rbx = fn, r12 = arg, rbp = 0
//! ```
//! `gmp_gostart` pushes `gmp_goexit` and jumps to fn(arg); fn's `ret` lands in goexit.

use crate::g::G;
use crate::m::M;
use core::arch::asm;
use core::sync::atomic::{AtomicU8, Ordering::Relaxed};

// The asm only sees G and M through asm/offsets.h; their Rust types are opaque to it.
/// cbindgen:ignore
#[allow(improper_ctypes, unused_doc_comments)]
extern "C" {
    /// Resume `g` (sets `%gs:0 = g`). Never returns.
    pub(crate) fn gmp_gogo(g: *mut G) -> !;
    /// Save the caller's context in `g.sched`; 0 now, 1 when resumed by `gmp_gogo`.
    #[allow(dead_code)]
    pub(crate) fn gmp_gosave(g: *mut G) -> i32;
    /// Save the current goroutine, switch to g0 and call `f(g)`; `f` never returns.
    pub(crate) fn gmp_mcall(f: unsafe extern "C" fn(*mut G) -> !);
    /// Run `f(arg)` on the g0 stack and come back (for runtime work that needs more stack or
    /// must not run on a goroutine stack; the preemption path of the next issue uses it).
    #[allow(dead_code)]
    pub(crate) fn gmp_systemstack(f: unsafe extern "C" fn(*mut libc::c_void), arg: *mut libc::c_void);
    /// A new goroutine's first pc (see the module picture).
    pub(crate) fn gmp_gostart();
}

/// MXCSR at process start per the ABI: all exceptions masked, round to nearest.
pub(crate) const MXCSR_DEFAULT: u32 = 0x1f80;
/// x87 control word per the ABI: extended precision, all exceptions masked.
pub(crate) const FPUCW_DEFAULT: u16 = 0x037f;

/// The current g. Only valid on a thread the runtime set up (an M): the runtime's own code on
/// g0 and goroutines reached through `api::cur_m`. Re-read after every switch, never cached:
/// a goroutine may resume on another M, and this read is the only per-M state that moves with
/// the thread rather than the compiler's idea of it.
#[inline(always)]
pub(crate) fn getg() -> *mut G {
    let g: *mut G;
    // SAFETY: reads one word at %gs:0; on an M the GS base points at its M block.
    unsafe { asm!("mov {}, qword ptr gs:[0]", out(reg) g, options(nostack, readonly, preserves_flags)) };
    g
}

/// The current M (its block's self pointer at %gs:16). Same validity as `getg`.
#[inline(always)]
pub(crate) fn getm() -> *mut M {
    let m: *mut M;
    // SAFETY: as getg; the self pointer is at M_TLS_SELF.
    unsafe { asm!("mov {}, qword ptr gs:[16]", out(reg) m, options(nostack, readonly, preserves_flags)) };
    m
}

/// glibc's thread pointer (the FS base): the TCB's first word points to itself.
#[inline(always)]
pub(crate) fn thread_pointer() -> usize {
    let tp: usize;
    // SAFETY: on x86-64 glibc, %fs:0 holds the TCB's self pointer on every thread.
    unsafe { asm!("mov {}, qword ptr fs:[0]", out(reg) tp, options(nostack, readonly, preserves_flags)) };
    tp
}

/// 1 = FSGSBASE instructions usable (AT_HWCAP2 bit 1), 2 = use arch_prctl. 0 = unknown.
static FSGSBASE: AtomicU8 = AtomicU8::new(0);

fn have_fsgsbase() -> bool {
    // Relaxed: a cached, idempotent capability probe.
    match FSGSBASE.load(Relaxed) {
        1 => true,
        2 => false,
        _ => {
            // SAFETY: getauxval has no preconditions.
            let ok = unsafe { libc::getauxval(libc::AT_HWCAP2) } & 2 != 0;
            FSGSBASE.store(if ok { 1 } else { 2 }, Relaxed);
            ok
        }
    }
}

/// This thread's GS base (0 on threads the runtime never set up).
#[inline]
pub(crate) fn g_base() -> usize {
    if have_fsgsbase() {
        let v: usize;
        // SAFETY: rdgsbase is enabled by the kernel when AT_HWCAP2 has FSGSBASE.
        unsafe { asm!("rdgsbase {}", out(reg) v, options(nomem, nostack, preserves_flags)) };
        v
    } else {
        crate::sys::arch_get_gs()
    }
}

/// Point this thread's GS base at `m`'s g-register block.
pub(crate) fn set_g_base(m: *mut M) {
    if have_fsgsbase() {
        // SAFETY: as g_base; only this thread's GS base changes, and glibc never uses GS.
        unsafe { asm!("wrgsbase {}", in(reg) m as usize, options(nostack, preserves_flags)) };
    } else if !crate::sys::arch_set_gs(m as usize) {
        throw!("set_g_base: arch_prctl(ARCH_SET_GS) failed");
    }
}
