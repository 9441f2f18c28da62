//! Stacks: fixed-size (C frames cannot move), carved from large MAP_NORESERVE arenas, each with
//! a 64 KiB guard region below it, and reused with their G (free Gs keep their stacks).
//!
//! ```text
//!  arena:  | guard 64K | stack 0 ...... | guard 64K | stack 1 ...... | ...
//!                      ^lo             ^hi
//! ```
//!
//! # Why the guard is 64 KiB, not a page
//! A frame is allocated by moving rsp (`sub $N, %rsp`) without touching the pages in between;
//! the first store may land anywhere in the frame. gcc on Debian does not enable
//! `-fstack-clash-protection` (which probes every page of a large frame), so a function with a
//! 64 KiB local array on a nearly full goroutine stack stepped over a one-page guard and wrote
//! into the top of the neighbouring stack — another goroutine's live frames — with no fault
//! (measured: GMP_STACK_SIZE=32k, 62 bytes of the neighbour overwritten, no message). The
//! guard has to be as large as the largest frame we mean to catch: 64 KiB catches every frame
//! up to 64 KiB, which is nearly all C code; the kernel's answer for the main thread's stack
//! is the same idea, larger (`stack_guard_gap`: 256 pages below it). Frames larger than the
//! guard and unbounded alloca/VLAs can still jump it; only compiling with
//! `-fstack-clash-protection` (gcc probes every page of a large frame in order) closes that
//! (README). A bigger guard was not taken: its cost (address space, page tables) is paid per
//! stack, and at 64 KiB it is already four times the smallest stack (GMP_STACK_SIZE=16k).
//!
//! # Why MADV_GUARD_INSTALL
//! `madvise(MADV_GUARD_INSTALL)` (Linux 6.13+) writes guard markers into the page table: the
//! arena stays one VMA (neighbouring arenas even merge), so neither the guard's size nor the
//! number of stacks meets `vm.max_map_count`. Measured on 6.18, median per guard: 0.64-0.85 µs
//! for 64 KiB against 0.39-0.57 µs for one page; one VMA for a million live stacks. The
//! fallback for older kernels (EINVAL: unknown advice) is `mprotect(PROT_NONE)`: 2.2 µs median
//! (p90 5.7 µs) whatever the size, but the arena splits into two VMAs per stack, so at the
//! default map count of 65530 at most ~32,700 stacks exist; beyond that spawning fails with
//! -ENOMEM (a one-page guard had the same ceiling: the count, not the size, is what splits).
//!
//! What the 64 KiB costs beyond the syscall: address space (64 GiB per million stacks, of
//! 128 TiB) and page tables, because markers are page-table entries and every 2 MiB of arena
//! holding a stack top or a marker needs its own 4 KiB table: ~VA/512, i.e. 120 bytes more
//! per stack than a one-page guard, whatever the stack size (measured, 1 M live goroutines at
//! GMP_STACK_SIZE=32k: 183 MiB of page tables against 69 MiB, next to 4 GiB of touched stack).

//! # Guards outlive scavenging
//! A G cached on the global free list beyond `GFREE_KEEP_WARM` stacks gives its pages back with
//! MADV_DONTNEED on [lo, hi) only — never on the guard. Guard markers survive MADV_DONTNEED
//! and MADV_FREE even over the guard itself (checked on 6.18; the kernel documents it), and an
//! mprotect'd guard is untouched by both, so a reused cold stack keeps its guard and nothing
//! has to be reinstalled.
//!
//! A fault anywhere in [lo - GUARD, lo) is reported as a stack overflow by the SIGSEGV handler
//! (preempt/signal.rs, on the M's alternate signal stack) — however far below rsp the faulting
//! store was.

use crate::lock::{Mutex, Rank};
use crate::os;

pub(crate) const PAGE: usize = 4096;
/// Size of the guard region below every stack (goroutines, and each M's g0 and gsignal): a
/// frame up to this large that overflows faults here instead of writing into the stack below.
pub(crate) const GUARD: usize = 64 << 10;
/// Stacks carved per arena mmap.
const ARENA_STACKS: usize = 64;

const _: () = assert!(GUARD.is_multiple_of(PAGE));

#[derive(Clone, Copy, Default)]
pub(crate) struct Stack {
    pub lo: usize,
    pub hi: usize,
    /// Bytes left unused at the top so that the hot top frames of different stacks fall in
    /// different cache sets (stacks are a page multiple apart, so without it every goroutine's
    /// first frames would alias in the same L1/L2 sets).
    pub color: usize,
}

/// Cache colours: 64 lines of 64 bytes, one page.
const COLORS: usize = 64;

impl Stack {
    /// Initial stack pointer of a goroutine on this stack (16-byte aligned).
    pub(crate) fn top(&self) -> usize {
        (self.hi - self.color) & !15
    }
}

struct Arena {
    next: usize,
    end: usize,
    count: usize,
}

/// Protects the current arena's carve cursor and the stack count (for colouring).
static ARENA: Mutex<Arena> = Mutex::new(
    Rank::StackArena,
    Arena {
        next: 0,
        end: 0,
        count: 0,
    },
);

/// A new stack of `size` bytes (page multiple) with a `GUARD`-byte guard region below. None
/// when the address space or the mapping count is exhausted.
pub(crate) fn stack_alloc(size: usize) -> Option<Stack> {
    let slot = size + GUARD;
    let (base, n) = {
        let mut a = ARENA.lock();
        if a.end - a.next < slot {
            let len = slot * ARENA_STACKS;
            let p = os::mmap_reserve(len)? as usize;
            a.next = p;
            a.end = p + len;
        }
        let b = a.next;
        a.next += slot;
        a.count += 1;
        (b, a.count)
    };
    // SAFETY: [base, base+GUARD) is the start of a fresh arena slot that only we own.
    if !unsafe { os::guard_install(base as *mut u8, GUARD) } {
        return None;
    }
    Some(Stack {
        lo: base + GUARD,
        hi: base + slot,
        color: (n % COLORS) * 64,
    })
}

/// Give a cached stack's memory back to the kernel (the address range and guard stay: see
/// "Guards outlive scavenging").
/// # Safety
/// Nothing may run on the stack.
pub(crate) unsafe fn stack_release(s: Stack) {
    // SAFETY: per the contract the stack is unused; the range excludes the guard.
    unsafe { os::release_pages(s.lo as *mut u8, s.hi - s.lo) };
}

/// Is `addr` inside the guard region of `s`? Signal-safe.
pub(crate) fn in_guard(s: &Stack, addr: usize) -> bool {
    // checked_sub: a G without a stack (lo == 0) has no guard, and the handler must not
    // overflow.
    s.lo.checked_sub(GUARD)
        .is_some_and(|glo| addr >= glo && addr < s.lo)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guard_covers_64k_below_lo() {
        let s = stack_alloc(32 << 10).expect("stack");
        assert_eq!(s.hi - s.lo, 32 << 10);
        assert!(in_guard(&s, s.lo - 1));
        assert!(in_guard(&s, s.lo - GUARD));
        assert!(!in_guard(&s, s.lo - GUARD - 1));
        assert!(!in_guard(&s, s.lo));
        assert!(!in_guard(&Stack::default(), 100));
    }
}
