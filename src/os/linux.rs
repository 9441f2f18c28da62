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
    let tsp = if timeout_ns < 0 {
        core::ptr::null()
    } else {
        &ts as *const libc::timespec
    };
    // SAFETY: addr is a valid, aligned u32 for the duration of the call; the kernel only reads it
    // (and the timespec, alive on this frame).
    unsafe {
        futex4(
            addr.as_ptr(),
            libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
            val as usize,
            tsp as usize,
        );
    }
}

/// FUTEX_WAKE_PRIVATE: wake up to `n` sleepers on `addr`.
pub(crate) fn futex_wake(addr: &AtomicU32, n: i32) {
    // SAFETY: addr is a valid futex word; waking has no memory effects on it.
    unsafe {
        futex4(
            addr.as_ptr(),
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            n as usize,
            0,
        );
    }
}

/// The futex system call without libc's `syscall()`, which sets errno on failure: the runtime's
/// own waits (a contended lock, a thread waiter's sleep; EAGAIN and ETIMEDOUT are routine) run
/// inside the caller's C code and must leave its errno alone. Returns the kernel's result.
/// # Safety
/// As the futex operation requires of its arguments.
#[inline]
unsafe fn futex4(addr: *mut u32, op: i32, val: usize, arg4: usize) -> isize {
    let ret: isize;
    // SAFETY: per the contract; `syscall` clobbers rcx and r11 only (and the result in rax).
    unsafe {
        core::arch::asm!(
            "syscall",
            inlateout("rax") libc::SYS_futex as isize => ret,
            in("rdi") addr,
            in("rsi") op as isize,
            in("rdx") val,
            in("r10") arg4,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack)
        );
    }
    ret
}

pub(crate) fn gettid() -> i32 {
    // SAFETY: gettid has no arguments and cannot fail.
    unsafe { libc::syscall(libc::SYS_gettid) as i32 }
}

/// Sleep for `us` microseconds (under a second). A raw syscall: libc's `nanosleep` is a name
/// libgmp will interpose.
pub(crate) fn usleep(us: u32) {
    let ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: us as c_long * 1000,
    };
    // SAFETY: ts is a valid timespec; a NULL remainder is allowed.
    unsafe {
        libc::syscall(
            libc::SYS_nanosleep,
            &ts as *const libc::timespec,
            core::ptr::null_mut::<libc::timespec>(),
        )
    };
}

pub(crate) fn osyield() {
    // SAFETY: no arguments, no memory effects.
    unsafe { libc::sched_yield() };
}

/// Sleep the thread for up to `ns` (one raw nanosleep: a signal may cut it short).
pub(crate) fn sleep_ns(ns: i64) {
    let ns = ns.max(0);
    let ts = libc::timespec {
        tv_sec: (ns / 1_000_000_000) as libc::time_t,
        tv_nsec: (ns % 1_000_000_000) as c_long,
    };
    // SAFETY: ts is a valid timespec; a NULL remainder is allowed. Raw: libgmp exports
    // nanosleep itself.
    unsafe {
        libc::syscall(
            libc::SYS_nanosleep,
            &ts as *const libc::timespec,
            core::ptr::null_mut::<libc::timespec>(),
        )
    };
}

/// Monotonic nanoseconds.
pub(crate) fn nanotime() -> i64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid out-pointer; CLOCK_MONOTONIC always exists (vDSO, no syscall).
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec * 1_000_000_000 + ts.tv_nsec
}

/// Unmap what `mmap_reserve` mapped.
/// # Safety
/// Nothing uses [addr, addr+len) any more.
pub(crate) unsafe fn munmap(addr: *mut u8, len: usize) {
    // SAFETY: per the contract.
    unsafe { libc::munmap(addr as *mut libc::c_void, len) };
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
        let r = unsafe {
            libc::syscall(
                libc::SYS_madvise,
                addr as *mut c_void,
                len,
                MADV_GUARD_INSTALL,
            )
        };
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
    unsafe {
        libc::syscall(
            libc::SYS_mprotect,
            addr as *mut c_void,
            len,
            libc::PROT_NONE,
        ) == 0
    }
}

/// Give the pages of [addr, addr+len) back to the kernel; they read as zero afterwards.
/// Guards (installed by either method) survive this.
/// # Safety
/// Nothing may be live in the range.
pub(crate) unsafe fn release_pages(addr: *mut u8, len: usize) {
    // SAFETY: caller guarantees nothing lives in the range.
    unsafe {
        libc::syscall(
            libc::SYS_madvise,
            addr as *mut c_void,
            len,
            libc::MADV_DONTNEED,
        )
    };
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
        let n = unsafe {
            libc::syscall(
                libc::SYS_write,
                2,
                b[off..].as_ptr() as *const c_void,
                b.len() - off,
            )
        };
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

/// Open /proc/self/task/<tid>/stat read-only (raw openat: the runtime never goes through
/// libc's `open`, which a later libgmp may interpose). -1 on failure.
pub(crate) fn open_task_stat(tid: i32) -> i32 {
    // "/proc/self/task/" + decimal tid + "/stat" + NUL, built without allocating.
    let mut path = [0u8; 48];
    let prefix = b"/proc/self/task/";
    path[..prefix.len()].copy_from_slice(prefix);
    let mut at = prefix.len();
    let mut digits = [0u8; 12];
    let mut n = 0;
    let mut t = tid.max(0) as u32;
    loop {
        digits[n] = b'0' + (t % 10) as u8;
        n += 1;
        t /= 10;
        if t == 0 {
            break;
        }
    }
    while n > 0 {
        n -= 1;
        path[at] = digits[n];
        at += 1;
    }
    path[at..at + 5].copy_from_slice(b"/stat");
    // SAFETY: path is NUL-terminated (the array was zeroed and is longer than what we wrote).
    unsafe {
        libc::syscall(
            libc::SYS_openat,
            libc::AT_FDCWD,
            path.as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC,
        ) as i32
    }
}

/// Whether the thread whose stat file is `fd` is blocked in the kernel right now (state S,
/// D, or I: sleeping), as opposed to running or runnable (R) — or stopped or traced, which
/// count as not blocked (its P is left alone). None if the state cannot be read.
pub(crate) fn thread_blocked(fd: i32) -> Option<bool> {
    if fd < 0 {
        return None;
    }
    // "tid (comm) S ...": comm is at most 16 bytes but may contain spaces and parentheses, so
    // the state is the byte after the last ") " in the first line.
    let mut buf = [0u8; 96];
    // SAFETY: buf is a valid writable buffer of its length; fd is ours.
    let n = unsafe { libc::syscall(libc::SYS_pread64, fd, buf.as_mut_ptr(), buf.len(), 0) };
    if n <= 0 {
        return None;
    }
    let b = &buf[..n as usize];
    let close = b.iter().rposition(|&c| c == b')')?;
    let st = *b.get(close + 2)?;
    Some(matches!(st, b'S' | b'D' | b'I'))
}

/// Whether the thread whose stat file is `fd` runs user code right now, judged late enough to
/// send it a signal: its state is not asleep, and the read itself took under 100 µs — if the
/// caller was descheduled around the read, the answer is stale (the thread may have gone to
/// sleep in a call that a signal would cut short with EINTR), so it counts as no.
pub(crate) fn thread_awake_now(fd: i32) -> bool {
    let t0 = nanotime();
    let awake = thread_blocked(fd) == Some(false);
    awake && nanotime() - t0 < 100_000
}

/// CPU time the thread `tid` of this process has used, in ns (its per-thread CPU clock, one
/// system call: cheaper than reading its stat file). 0 if it cannot be read.
pub(crate) fn thread_cputime(tid: i32) -> i64 {
    // The kernel's MAKE_THREAD_CPUCLOCK(tid, CPUCLOCK_SCHED).
    let clock = ((!(tid as libc::clockid_t)) << 3) | 4 | 2;
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid out-pointer; a bad clock id only returns an error.
    if unsafe {
        libc::syscall(
            libc::SYS_clock_gettime,
            clock,
            &mut ts as *mut libc::timespec,
        )
    } != 0
    {
        return 0;
    }
    ts.tv_sec * 1_000_000_000 + ts.tv_nsec
}
