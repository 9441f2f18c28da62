//! Stacks: fixed-size (C frames cannot move), carved from large MAP_NORESERVE arenas, each with
//! a guard page below it, and reused with their G (free Gs keep their stacks).
//!
//! ```text
//!  arena:  | guard | stack 0 ...... | guard | stack 1 ...... | ...
//!                  ^lo             ^hi
//! ```
//! Memory is committed lazily by the kernel as the goroutine touches it; a G cached on the
//! global free list beyond `KEEP_WARM` stacks gives its pages back with MADV_DONTNEED (its
//! guard survives). Guards use MADV_GUARD_INSTALL (no VMA split, so no vm.max_map_count
//! ceiling), falling back to mprotect on kernels before 6.13.

use crate::lock::{Mutex, Rank};
use crate::os;

pub(crate) const PAGE: usize = 4096;
/// Stacks carved per arena mmap.
const ARENA_STACKS: usize = 64;

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
static ARENA: Mutex<Arena> = Mutex::new(Rank::StackArena, Arena { next: 0, end: 0, count: 0 });

/// A new stack of `size` bytes (page multiple) with a guard page below. None when the address
/// space or the mapping count is exhausted.
pub(crate) fn stack_alloc(size: usize) -> Option<Stack> {
    let slot = size + PAGE;
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
    // SAFETY: [base, base+PAGE) is a page of a fresh arena slot that only we own.
    if !unsafe { os::guard_install(base as *mut u8, PAGE) } {
        return None;
    }
    Some(Stack { lo: base + PAGE, hi: base + slot, color: (n % COLORS) * 64 })
}

/// Give a cached stack's memory back to the kernel (the address range and guard stay).
/// # Safety
/// Nothing may run on the stack.
pub(crate) unsafe fn stack_release(s: Stack) {
    // SAFETY: per the contract the stack is unused.
    unsafe { os::release_pages(s.lo as *mut u8, s.hi - s.lo) };
}

/// Is `addr` inside the guard page of `s`? Signal-safe.
pub(crate) fn in_guard(s: &Stack, addr: usize) -> bool {
    addr >= s.lo - PAGE && addr < s.lo
}
