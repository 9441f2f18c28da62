//! Signal handlers: SIGURG (asynchronous preemption) and SIGSEGV (goroutine stack overflow),
//! both chaining to whatever the program had installed before the runtime started.
//!
//! Signal-safe: everything reachable from the handlers uses atomics, plain memory and raw
//! syscalls only — no allocation, no locks, no panics (the interrupted thread may hold any
//! libc lock). Each handler preserves errno.

use super::asyncpreempt;
use crate::os;
use crate::os::stack::{in_guard, Stack};
use crate::sched::fork;
use crate::sched::m::this_m;
use core::cell::UnsafeCell;
use core::mem::MaybeUninit;
use libc::{c_int, c_void, siginfo_t};

/// The program's previous actions, saved once at start before our handlers go in.
struct OldAction(UnsafeCell<MaybeUninit<libc::sigaction>>);
// SAFETY: written once during start (before the handler that reads it is installed), then
// read-only.
unsafe impl Sync for OldAction {}

static OLD_SIGURG: OldAction = OldAction(UnsafeCell::new(MaybeUninit::zeroed()));
static OLD_SIGSEGV: OldAction = OldAction(UnsafeCell::new(MaybeUninit::zeroed()));

/// Install the handlers. Called once, at start.
pub(crate) fn init() {
    install(
        libc::SIGURG,
        sigurg as *const () as usize,
        libc::SA_RESTART,
        &OLD_SIGURG,
    );
    install(
        libc::SIGSEGV,
        sigsegv as *const () as usize,
        0,
        &OLD_SIGSEGV,
    );
}

fn install(sig: c_int, handler: usize, flags: c_int, old: &OldAction) {
    // SAFETY: sa is fully initialised; old is written before the new handler can run (the
    // kernel stores the old action before installing the new one).
    unsafe {
        let mut sa: libc::sigaction = core::mem::zeroed();
        sa.sa_sigaction = handler;
        sa.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | flags;
        libc::sigfillset(&mut sa.sa_mask);
        libc::sigaction(sig, &sa, (*old.0.get()).as_mut_ptr());
    }
}

/// Call the program's previous handler for sig, if it had one. False for SIG_DFL/SIG_IGN.
unsafe fn forward(sig: c_int, info: *mut siginfo_t, uc: *mut c_void, old: &OldAction) -> bool {
    // SAFETY: old was saved at start; calling the program's handler as the kernel would.
    unsafe {
        let old = (*old.0.get()).assume_init_ref();
        let h = old.sa_sigaction;
        if h == libc::SIG_DFL || h == libc::SIG_IGN {
            return false;
        }
        if old.sa_flags & libc::SA_SIGINFO != 0 {
            let f: extern "C" fn(c_int, *mut siginfo_t, *mut c_void) = core::mem::transmute(h);
            f(sig, info, uc);
        } else {
            let f: extern "C" fn(c_int) = core::mem::transmute(h);
            f(sig);
        }
        true
    }
}

/// Layout of the kernel's siginfo for rt_tgsigqueueinfo: signo, errno, code, pad, then pid,
/// uid and the sigval at byte 24.
#[repr(C)]
struct QueueInfo {
    signo: i32,
    errno: i32,
    code: i32,
    _pad: i32,
    pid: i32,
    uid: u32,
    value: usize,
    _rest: [u64; 12],
}

/// Send our marked SIGURG to thread `tid` of this process. Signal-safe: raw syscalls.
pub(crate) fn send_sigurg(tid: i32) -> bool {
    // SAFETY: getpid/getuid cannot fail; info is a valid siginfo-sized buffer.
    unsafe {
        let pid = libc::getpid();
        let info = QueueInfo {
            signo: libc::SIGURG,
            errno: 0,
            code: libc::SI_QUEUE,
            _pad: 0,
            pid,
            uid: libc::getuid(),
            value: asyncpreempt::SIGURG_MAGIC,
            _rest: [0; 12],
        };
        libc::syscall(
            libc::SYS_rt_tgsigqueueinfo,
            pid,
            tid,
            libc::SIGURG,
            &info as *const QueueInfo,
        ) == 0
    }
}

fn is_ours(info: *mut siginfo_t) -> bool {
    // SAFETY: the kernel passes a valid siginfo; we read it with our layout.
    let q = unsafe { &*(info as *const QueueInfo) };
    // SAFETY: getpid cannot fail.
    q.code == libc::SI_QUEUE
        && q.value == asyncpreempt::SIGURG_MAGIC
        && q.pid == unsafe { libc::getpid() }
}

extern "C" fn sigurg(sig: c_int, info: *mut siginfo_t, uc: *mut c_void) {
    let errno = os::errno_ptr();
    // SAFETY: errno_ptr is this thread's errno.
    let saved = unsafe { *errno };
    // In a child of fork (or of vfork/posix_spawn, which share the parent's memory: nothing
    // may be written) the thread still looks like an M, but it is none: no preemption there.
    if let Some(mp) = this_m().filter(|_| !fork::in_child_checked()) {
        // SAFETY: we are on mp's thread, in its SIGURG handler.
        unsafe { asyncpreempt::sig_preempt(mp, uc) };
    }
    if !is_ours(info) {
        // SAFETY: forwarding as the kernel would have delivered it.
        unsafe { forward(sig, info, uc, &OLD_SIGURG) };
    }
    // SAFETY: as above.
    unsafe { *errno = saved };
}

/// SIGSEGV: a fault in the guard region below the running stack is a stack overflow, reported
/// and fatal; anything else goes to the program's handler or the default action.
///
/// Recognised by the fault address alone: any address in [lo - GUARD, lo) of the stack the M
/// is running on (os/stack.rs). A large frame moves rsp down without touching the pages in
/// between, and its first store can land anywhere in the frame, tens of KiB below the old rsp
/// (memset of a local buffer starts at its lowest address): neither "addr near rsp" nor "addr
/// in the guard's top page" would do. The handler runs on the M's gsignal stack (SA_ONSTACK;
/// each M installs its sigaltstack in mstart): on the overflowed stack it would fault again
/// and the kernel would kill the process without a word.
extern "C" fn sigsegv(sig: c_int, info: *mut siginfo_t, uc: *mut c_void) {
    // SAFETY: the kernel passes a valid siginfo for SIGSEGV.
    let addr = unsafe { (*info).si_addr() } as usize;
    if let Some(mp) = this_m() {
        // SAFETY: mp is this thread's M; its current G (g0 or a goroutine) is live.
        let (gp, g0, mid) = unsafe { ((*mp).gregs.g, (*mp).gregs.g0, (*mp).id) };
        if !gp.is_null() {
            // SAFETY: as above.
            let (st, goid) = unsafe { ((*gp).stack, (*gp).goid()) };
            if in_guard(&st, addr) {
                if gp != g0 {
                    overflow(b"stack overflow in goroutine ", goid, st);
                }
                // g0 runs the scheduler and gmp_park's unlock functions.
                overflow(b"stack overflow on the scheduler stack (g0) of M ", mid, st);
            }
        }
    }
    // Not a stack overflow: the program's handler, or the default action (restore it and
    // return: the faulting instruction runs again and the kernel applies it).
    // SAFETY: forwarding as the kernel would have; sigaction with a zeroed SIG_DFL action.
    unsafe {
        if !forward(sig, info, uc, &OLD_SIGSEGV) {
            let mut sa: libc::sigaction = core::mem::zeroed();
            sa.sa_sigaction = libc::SIG_DFL;
            libc::sigaction(libc::SIGSEGV, &sa, core::ptr::null_mut());
        }
    }
}

/// `gmp: fatal error: <head><id> (stack size S)`, then abort. Signal-safe.
fn overflow(head: &[u8], id: i64, st: Stack) -> ! {
    let mut buf = [0u8; 128];
    buf[..head.len()].copy_from_slice(head);
    let mut n = head.len();
    n += fmt_u64(&mut buf[n..], id as u64);
    let mid = b" (stack size ";
    buf[n..n + mid.len()].copy_from_slice(mid);
    n += mid.len();
    n += fmt_u64(&mut buf[n..], (st.hi - st.lo) as u64);
    buf[n] = b')';
    n += 1;
    crate::debug::fatal(&buf[..n]);
}

/// Decimal digits of v into buf; returns the length. Signal-safe.
fn fmt_u64(buf: &mut [u8], mut v: u64) -> usize {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    let n = tmp.len() - i;
    buf[..n].copy_from_slice(&tmp[i..]);
    n
}
