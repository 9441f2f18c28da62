//! A table indexed by file descriptor number, for per-fd runtime records (poll descriptors,
//! the hooks' view of an fd). No fixed size: entries live in chunks allocated on first use
//! from persistent memory (never freed, so a reference to an entry stays valid forever —
//! records are type-stable, as Go's pollDesc is), found through a zeroed top-level index in
//! static memory that the kernel backs lazily. Covers every fd number Linux can hand out
//! (`fs.nr_open` is at most 2^30).

use crate::os::persistent::persistent_alloc;
use core::marker::PhantomData;
use core::sync::atomic::{AtomicPtr, Ordering::*};

/// Entries per chunk.
const CHUNK: usize = 4096;
/// Chunks in the index: CHUNK × TOP = 2^30 fds.
const TOP: usize = 1 << 18;

/// # Safety
/// All-zero memory must be a valid, ready `Self` (entries start zeroed).
pub(crate) unsafe trait Zeroed: Sync {}

pub(crate) struct FdTable<T: Zeroed> {
    /// Chunk pointers, null until allocated. A chunk is published with a Release CAS after it
    /// was zeroed (fresh mapping); readers load with Acquire.
    top: [AtomicPtr<u8>; TOP],
    _t: PhantomData<T>,
}

impl<T: Zeroed> FdTable<T> {
    pub(crate) const fn new() -> Self {
        FdTable {
            top: [const { AtomicPtr::new(core::ptr::null_mut()) }; TOP],
            _t: PhantomData,
        }
    }

    fn split(fd: i32) -> Option<(usize, usize)> {
        let fd = usize::try_from(fd).ok()?;
        let (hi, lo) = (fd / CHUNK, fd % CHUNK);
        (hi < TOP).then_some((hi, lo))
    }

    /// The entry for `fd` if its chunk exists (no allocation).
    pub(crate) fn peek(&self, fd: i32) -> Option<&'static T> {
        let (hi, lo) = Self::split(fd)?;
        let c = self.top[hi].load(Acquire) as *const T;
        // SAFETY: a published chunk holds CHUNK initialised (zeroed or written) Ts, never freed.
        (!c.is_null()).then(|| unsafe { &*c.add(lo) })
    }

    /// The entry for `fd`, allocating its chunk. None for a negative or too large fd, or when
    /// memory runs out.
    pub(crate) fn get(&self, fd: i32) -> Option<&'static T> {
        if let Some(e) = self.peek(fd) {
            return Some(e);
        }
        let (hi, lo) = Self::split(fd)?;
        let fresh = persistent_alloc(
            CHUNK * core::mem::size_of::<T>(),
            core::mem::align_of::<T>().max(8),
        )?;
        // A racing allocator may win: its chunk is used and ours is wasted (rare, bounded by
        // the number of racing threads, and persistent memory is never reused anyway).
        let c = match self.top[hi].compare_exchange(core::ptr::null_mut(), fresh, Release, Acquire)
        {
            Ok(_) => fresh,
            Err(won) => won,
        } as *const T;
        // SAFETY: as in peek; zeroed memory is a valid T (Zeroed).
        Some(unsafe { &*c.add(lo) })
    }
}

// SAFETY: the index holds only pointers to Sync entries.
unsafe impl<T: Zeroed> Sync for FdTable<T> {}
