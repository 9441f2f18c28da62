//! Linux x86-64: futex, thread ids, memory mapping, the GS base, time (see os/mod.rs).

use core::sync::atomic::AtomicU32;
use libc::{c_long, c_void};

/// FUTEX_WAIT_PRIVATE: sleep while `*addr == val`. Returns spuriously sometimes; callers loop.
/// `timeout_ns < 0` sleeps without limit.
pub(crate) fn futex_wait(addr: &AtomicU32, val: u32, timeout_ns: i64) {
    let ts = libc::timespec {
        tv_sec: (timeout_ns.max(0) / 1_000_000_000) as libc::time_t,
        tv_nsec: (timeout_ns.max(0) % 1_000_000_000) as c_long,
    };
    let tsp = if timeout_ns < 0 { core::ptr::null() } else { &ts as *const libc::timespec };
    // SAFETY: addr is a valid, aligned u32 for the duration of the call; the kernel only reads it.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            addr.as_ptr(),
            libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
            val,
            tsp,
        );
    }
}

/// FUTEX_WAKE_PRIVATE: wake up to `n` sleepers on `addr`.
pub(crate) fn futex_wake(addr: &AtomicU32, n: i32) {
    // SAFETY: addr is a valid futex word; waking has no memory effects on it.
    unsafe {
        libc::syscall(libc::SYS_futex, addr.as_ptr(), libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG, n);
    }
}

pub(crate) fn gettid() -> i32 {
    // SAFETY: gettid has no arguments and cannot fail.
    unsafe { libc::syscall(libc::SYS_gettid) as i32 }
}

/// Sleep for `us` microseconds (under a second). A raw syscall: libc's `nanosleep` is a name
/// libgmp will interpose.
pub(crate) fn usleep(us: u32) {
    let ts = libc::timespec { tv_sec: 0, tv_nsec: us as c_long * 1000 };
    // SAFETY: ts is a valid timespec; a NULL remainder is allowed.
    unsafe { libc::syscall(libc::SYS_nanosleep, &ts as *const libc::timespec, core::ptr::null_mut::<libc::timespec>()) };
}

pub(crate) fn osyield() {
    // SAFETY: no arguments, no memory effects.
    unsafe { libc::sched_yield() };
}

/// Monotonic nanoseconds.
pub(crate) fn nanotime() -> i64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: ts is a valid out-pointer; CLOCK_MONOTONIC always exists (vDSO, no syscall).
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec * 1_000_000_000 + ts.tv_nsec
}

/// Anonymous private mapping with no swap reservation. None on failure.
pub(crate) fn mmap_reserve(len: usize) -> Option<*mut u8> {
    // SAFETY: an anonymous mapping at a kernel-chosen address cannot alias anything we own.
    let p = unsafe {
        libc::mmap(
            core::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        None
    } else {
        Some(p as *mut u8)
    }
}

/// Linux 6.13+: install a guard region that faults on access, without splitting the VMA.
const MADV_GUARD_INSTALL: i32 = 102;

/// Make [addr, addr+len) fault on any access. Tries MADV_GUARD_INSTALL (no VMA split, so no
/// vm.max_map_count ceiling); once the kernel answers EINVAL (it predates 6.13, or refuses the
/// mapping) every later guard uses mprotect(PROT_NONE). False on any other failure (ENOMEM:
/// no page tables or mappings left). Raw syscalls: madvise and mprotect are libc names
/// libgmp may interpose.
/// # Safety
/// The range must be page-aligned memory the runtime owns and that nothing uses.
pub(crate) unsafe fn guard_install(addr: *mut u8, len: usize) -> bool {
    use core::sync::atomic::{AtomicBool, Ordering::Relaxed};
    // Relaxed: a cached capability; racing first calls both probe and agree.
    static NO_GUARD_ADVICE: AtomicBool = AtomicBool::new(false);
    if !NO_GUARD_ADVICE.load(Relaxed) {
        // SAFETY: caller guarantees the range is ours and unused; madvise only reads its args.
        let r = unsafe { libc::syscall(libc::SYS_madvise, addr as *mut c_void, len, MADV_GUARD_INSTALL) };
        if r == 0 {
            return true;
        }
        // SAFETY: errno_ptr is this thread's errno, just set by the failed syscall.
        if unsafe { *errno_ptr() } != libc::EINVAL {
            return false;
        }
        NO_GUARD_ADVICE.store(true, Relaxed);
    }
    // SAFETY: as above.
    unsafe { libc::syscall(libc::SYS_mprotect, addr as *mut c_void, len, libc::PROT_NONE) == 0 }
}

/// Give the pages of [addr, addr+len) back to the kernel; they read as zero afterwards.
/// Guards (installed by either method) survive this.
/// # Safety
/// Nothing may be live in the range.
pub(crate) unsafe fn release_pages(addr: *mut u8, len: usize) {
    // SAFETY: caller guarantees nothing lives in the range.
    unsafe { libc::syscall(libc::SYS_madvise, addr as *mut c_void, len, libc::MADV_DONTNEED) };
}

const ARCH_SET_GS: c_long = 0x1001;
const ARCH_GET_GS: c_long = 0x1004;

pub(crate) fn arch_set_gs(base: usize) -> bool {
    // SAFETY: only changes this thread's GS base; glibc never uses GS on x86-64.
    unsafe { libc::syscall(libc::SYS_arch_prctl, ARCH_SET_GS, base) == 0 }
}

pub(crate) fn arch_get_gs() -> usize {
    let mut v: usize = 0;
    // SAFETY: v is a valid out-pointer for one unsigned long.
    unsafe { libc::syscall(libc::SYS_arch_prctl, ARCH_GET_GS, &mut v as *mut usize) };
    v
}

/// Write to stderr without allocating or locking (usable anywhere, even in a signal handler).
/// A raw syscall: libc's `write` is a name libgmp will interpose.
pub(crate) fn write_err(b: &[u8]) {
    let mut off = 0;
    while off < b.len() {
        // SAFETY: the slice is valid for its length.
        let n = unsafe { libc::syscall(libc::SYS_write, 2, b[off..].as_ptr() as *const c_void, b.len() - off) };
        if n <= 0 {
            return;
        }
        off += n as usize;
    }
}

/// This thread's errno slot.
pub(crate) fn errno_ptr() -> *mut i32 {
    // SAFETY: always valid for the calling thread.
    unsafe { libc::__errno_location() }
}
