//! persistentalloc (Go's): memory for runtime records that are never freed — G, M and P
//! records, which are type-stable for the life of the process.
//!
//! Why not `Box`: malloc takes the C library's arena locks, and a goroutine preempted inside
//! malloc holds one while its thread sleeps. A runtime path that the preempted goroutine waits
//! on (sysmon, the hand-off of its P, spawning the goroutine that would let it resume) must
//! never wait for such a lock, or the process deadlocks at 0% CPU (measured: 6 runs in 18 of a
//! malloc storm at 1 P, with sysmon blocked in `Box::new` of a new M). Memory here comes from
//! anonymous mappings carved under a runtime lock; running out gives `None`, never an abort.

use crate::lock::{Mutex, Rank};
use crate::os;

/// Bytes mapped per chunk (reserved lazily by the kernel: MAP_NORESERVE).
const CHUNK: usize = 256 << 10;

struct Chunk {
    next: usize,
    end: usize,
}

/// Protects the current chunk's carve cursor.
static PERSISTENT: Mutex<Chunk> = Mutex::new(Rank::Persistent, Chunk { next: 0, end: 0 });

/// `size` bytes aligned to `align` (a power of two ≤ 4096), zeroed, never freed. None when
/// the address space is exhausted.
pub(crate) fn persistent_alloc(size: usize, align: usize) -> Option<*mut u8> {
    debug_assert!(align.is_power_of_two() && align <= stack_page());
    if size > CHUNK / 4 {
        // Large records get a mapping of their own (fresh anonymous memory reads as zero).
        return os::mmap_reserve(size);
    }
    let mut c = PERSISTENT.lock();
    let mut at = (c.next + align - 1) & !(align - 1);
    if at + size > c.end {
        let p = os::mmap_reserve(CHUNK)? as usize;
        c.next = p;
        c.end = p + CHUNK;
        at = p;
    }
    c.next = at + size;
    Some(at as *mut u8)
}

fn stack_page() -> usize {
    os::stack::PAGE
}

/// Move `v` into persistent memory. None (and `v` dropped) when none can be had.
pub(crate) fn persistent_new<T>(v: T) -> Option<*mut T> {
    let p = persistent_alloc(core::mem::size_of::<T>(), core::mem::align_of::<T>())? as *mut T;
    // SAFETY: p is fresh, suitably aligned and sized for T, and owned by nobody else.
    unsafe { p.write(v) };
    Some(p)
}
