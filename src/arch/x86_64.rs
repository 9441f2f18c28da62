//! x86-64 Linux: the context the asm saves and restores, the g-register block, and the asm
//! entry points of `asm/switch.S` and `asm/gostart.S`.
//!
//! Stack pictures (addresses grow up):
//! ```text
//!  fresh G (Gobuf::fresh)            suspended G (gmp_mcall)
//!  hi  +----------------+ <- sp      hi  +------------------+
//!      | (nothing yet)  |                | goroutine frames |
//!      |                |                +------------------+ <- sched.sp (return addr popped)
//!  lo  +----------------+ guard          |                  |  sched.pc = caller's resume pc
//!  pc = gmp_gostart, rbx = fn, r12 = arg, r13 = goexit, rbp = 0
//! ```
//! `gmp_gostart` pushes `gmp_goexit` and jumps to fn(arg); fn's `ret` lands in `gmp_goexit`,
//! which calls the Rust function in r13 (callee-saved, so fn kept it). Passing the runtime's
//! entry points in registers and data words, rather than naming Rust symbols from the asm,
//! keeps every internal function out of libgmp's exported symbols.

use super::offsets::{GREGS_G, GREGS_M};
use crate::sched::g::G;
use crate::sched::m::M;
use core::arch::asm;
use core::sync::atomic::{AtomicU8, Ordering::Relaxed};

/// A switched-out context (asm/offsets.h has the offsets): the stack and resume pc, the
/// callee-saved registers, and the two control registers C code may change and expects to
/// keep per thread of execution (MXCSR rounding/exception masks, the x87 control word).
#[repr(C)]
#[derive(Default)]
pub(crate) struct Gobuf {
    pub sp: usize,
    pub pc: usize,
    pub rbp: usize,
    pub rbx: usize,
    pub r12: usize,
    pub r13: usize,
    pub r14: usize,
    pub r15: usize,
    pub mxcsr: u32,
    pub fpucw: u16,
}

/// MXCSR at process start per the ABI: all exceptions masked, round to nearest.
const MXCSR_DEFAULT: u32 = 0x1f80;
/// x87 control word per the ABI: extended precision, all exceptions masked.
const FPUCW_DEFAULT: u16 = 0x037f;

impl Gobuf {
    /// A context that starts `f(arg)` on a stack whose initial pointer is `sp` (16-byte
    /// aligned) and, when `f` returns, calls `exit` (which must not return).
    pub(crate) fn fresh(
        sp: usize,
        f: usize,
        arg: usize,
        exit: unsafe extern "C" fn() -> !,
    ) -> Gobuf {
        Gobuf {
            sp,
            pc: gmp_gostart as *const () as usize,
            rbp: 0,
            rbx: f,
            r12: arg,
            r13: exit as usize,
            mxcsr: MXCSR_DEFAULT,
            fpucw: FPUCW_DEFAULT,
            ..Gobuf::default()
        }
    }

    /// g0's context: `gmp_mcall` enters g0 at `sp`. Only sp is used (g0 never resumes a pc).
    pub(crate) fn g0(sp: usize) -> Gobuf {
        Gobuf {
            sp: (sp - super::offsets::G0_SLACK) & !15,
            ..Gobuf::default()
        }
    }
}

/// The g-register block: each M's GS base points here (it is the first field of M), so
/// `getg()` is one load. Written only by the owning thread (mstart, and `gmp_gogo`/`gmp_mcall`
/// for `g`); `fsbase` and `m` are set once before the thread runs anything else.
#[repr(C)]
pub(crate) struct GRegs {
    /// The g this thread runs now (g0 or a goroutine).
    pub g: *mut G,
    /// This thread's FS base, to recognise threads that merely inherited the GS base.
    pub fsbase: usize,
    /// The M that holds this block.
    pub m: *mut M,
    /// The M's scheduler goroutine.
    pub g0: *mut G,
}

// The asm sees G and M only through asm/offsets.h; their Rust types are opaque to it.
#[allow(improper_ctypes)]
extern "C" {
    /// Resume `g` (sets `%gs:GREGS_G = g`). Never returns.
    pub(crate) fn gmp_gogo(g: *mut G) -> !;
    /// Save the current goroutine's context, switch to g0 and call `f(g)`; `f` never returns.
    pub(crate) fn gmp_mcall(f: unsafe extern "C" fn(*mut G) -> !);
    /// A new goroutine's first pc (see the module picture).
    fn gmp_gostart();
}

/// The current g. Only valid on a thread the runtime set up (an M). Re-read after every
/// switch, never cached: a goroutine may resume on another M, and this read is the only
/// per-M state that moves with the thread rather than the compiler's idea of it.
#[inline(always)]
pub(crate) fn getg() -> *mut G {
    let g: *mut G;
    // SAFETY: reads one word of the g-register block; on an M the GS base points at it.
    unsafe {
        asm!("mov {}, qword ptr gs:[{off}]", out(reg) g, off = const GREGS_G, options(nostack, readonly, preserves_flags))
    };
    g
}

/// The current M. Same validity as `getg`.
#[inline(always)]
pub(crate) fn getm() -> *mut M {
    let m: *mut M;
    // SAFETY: as getg.
    unsafe {
        asm!("mov {}, qword ptr gs:[{off}]", out(reg) m, off = const GREGS_M, options(nostack, readonly, preserves_flags))
    };
    m
}

/// glibc's thread pointer (the FS base): the TCB's first word points to itself.
#[inline(always)]
pub(crate) fn thread_pointer() -> usize {
    let tp: usize;
    // SAFETY: on x86-64 glibc, %fs:0 holds the TCB's self pointer on every thread.
    unsafe {
        asm!("mov {}, qword ptr fs:[0]", out(reg) tp, options(nostack, readonly, preserves_flags))
    };
    tp
}

/// The FSGSBASE instructions are usable (AT_HWCAP2 bit 1).
#[derive(Clone, Copy, PartialEq)]
#[repr(u8)]
enum GsAccess {
    Unknown = 0,
    Instructions = 1,
    ArchPrctl = 2,
}

/// Relaxed: a cached, idempotent capability probe; racing first callers agree.
static GS_ACCESS: AtomicU8 = AtomicU8::new(GsAccess::Unknown as u8);

fn gs_access() -> GsAccess {
    match GS_ACCESS.load(Relaxed) {
        1 => GsAccess::Instructions,
        2 => GsAccess::ArchPrctl,
        _ => {
            // SAFETY: getauxval has no preconditions.
            let a = if unsafe { libc::getauxval(libc::AT_HWCAP2) } & 2 != 0 {
                GsAccess::Instructions
            } else {
                GsAccess::ArchPrctl
            };
            GS_ACCESS.store(a as u8, Relaxed);
            a
        }
    }
}

/// This thread's GS base (0 on threads the runtime never set up).
#[inline]
pub(crate) fn g_base() -> usize {
    if gs_access() == GsAccess::Instructions {
        let v: usize;
        // SAFETY: rdgsbase is enabled by the kernel when AT_HWCAP2 has FSGSBASE.
        unsafe { asm!("rdgsbase {}", out(reg) v, options(nomem, nostack, preserves_flags)) };
        v
    } else {
        crate::os::arch_get_gs()
    }
}

/// This thread's GS base if one instruction can read it (FSGSBASE known to be usable); None
/// when that is not known yet or a syscall would be needed (then use `g_base`). For paths that
/// must not grow a frame for the slow case (the pthread hooks).
#[inline(always)]
pub(crate) fn g_base_fast() -> Option<usize> {
    if GS_ACCESS.load(Relaxed) != GsAccess::Instructions as u8 {
        return None;
    }
    let v: usize;
    // SAFETY: as g_base: the probe found FSGSBASE enabled.
    unsafe { asm!("rdgsbase {}", out(reg) v, options(nomem, nostack, preserves_flags)) };
    Some(v)
}

/// Point this thread's GS base at `regs`.
pub(crate) fn set_g_base(regs: *mut GRegs) {
    if gs_access() == GsAccess::Instructions {
        // SAFETY: as g_base; only this thread's GS base changes, and glibc never uses GS.
        unsafe { asm!("wrgsbase {}", in(reg) regs as usize, options(nostack, preserves_flags)) };
    } else if !crate::os::arch_set_gs(regs as usize) {
        throw!("set_g_base: arch_prctl(ARCH_SET_GS) failed");
    }
}
