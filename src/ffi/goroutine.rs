//! Goroutines: spawn, yield, exit, identity, park/ready, and locking to a thread.

use super::neg;
use crate::sched::fork;
use crate::sched::g::G;
use crate::sched::m::{ctx, Ctx, UnlockFn};
use crate::sched::proc;
use core::ptr::null_mut;
use libc::{c_int, c_void};

/// An opaque goroutine.
pub struct gmp_g {
    _private: [u8; 0],
}

/// A goroutine's function.
pub type gmp_fn = Option<unsafe extern "C" fn(arg: *mut c_void)>;

/// gmp_park's unlock function: called on the scheduler's stack once the goroutine has been
/// switched out; returning false resumes the goroutine at once.
pub type gmp_unlock_fn = Option<unsafe extern "C" fn(g: *mut gmp_g, lock: *mut c_void) -> bool>;

/// `go fn(arg)`. Returns the new goroutine's id (> 0, unique for the life of the process);
/// -EINVAL if `fn` is NULL; -ENOMEM/-EAGAIN when no stack or thread can be had. Any context.
/// The goroutine ends when `fn` returns. It starts with errno 0 and no C++ exception state;
/// both travel with it across switches (a goroutine that ends inside a catch block, through
/// gmp_exit, abandons its exception). -EPERM in a child of fork().
/// It runs on a fixed-size stack (GMP_STACK_SIZE, gmp_config.stack_size) with a 64 KiB guard
/// region below: overflowing into it ends the process with "gmp: fatal error: stack overflow
/// in goroutine N". A frame larger than 64 KiB (or an unbounded alloca/VLA) can jump the guard
/// into another goroutine's stack unless the code is compiled with -fstack-clash-protection.
#[no_mangle]
#[unsafe(naked)]
pub unsafe extern "C" fn gmp_spawn(f: gmp_fn, arg: *mut c_void) -> i64 {
    // Go records the pc of each `go` statement for tracebacks ("created by"): our return
    // address, read before any frame is pushed, is that pc. A tail call, so `spawn` returns
    // to our caller.
    core::arch::naked_asm!("mov rdx, [rsp]", "jmp {spawn}", spawn = sym spawn)
}

/// gmp_spawn's body; `pc` is the address its caller resumes at.
unsafe extern "C" fn spawn(f: gmp_fn, arg: *mut c_void, pc: usize) -> i64 {
    if fork::in_child() {
        return -libc::EPERM as i64;
    }
    let Some(f) = f else {
        return -libc::EINVAL as i64;
    };
    proc::newproc(f, arg, pc).unwrap_or_else(|e| -e as i64)
}

/// Yield the processor (runtime.Gosched): the goroutine goes to the global run queue. In
/// thread context, and in a child of fork(): sched_yield().
#[no_mangle]
pub extern "C" fn gmp_gosched() {
    if fork::in_child() {
        return fork::yield_thread();
    }
    proc::gosched()
}

/// End the calling goroutine now (runtime.Goexit); does not return in goroutine context;
/// -EPERM in thread context, and in a child of fork() (the caller carries on).
#[no_mangle]
pub extern "C" fn gmp_exit() -> c_int {
    if fork::in_child() {
        return -libc::EPERM;
    }
    match proc::goexit() {
        Err(e) => -e,
    }
}

/// The calling goroutine; NULL in thread context. NULL in a child of fork(), also on the
/// goroutine that called fork: the child's threads are in thread context.
#[no_mangle]
pub extern "C" fn gmp_self() -> *mut gmp_g {
    if fork::in_child() {
        return null_mut();
    }
    match ctx() {
        Ctx::G(_, gp) => gp as *mut gmp_g,
        _ => null_mut(),
    }
}

/// Id of `g` (NULL = the calling goroutine); 0 for NULL in thread context (and in a child of
/// fork()).
#[no_mangle]
pub unsafe extern "C" fn gmp_goid(g: *const gmp_g) -> i64 {
    let gp = if g.is_null() {
        if fork::in_child() {
            return 0;
        }
        match ctx() {
            Ctx::G(_, gp) => gp,
            _ => return 0,
        }
    } else {
        g as *mut G
    };
    // SAFETY: a non-null g is a goroutine handle from this runtime (Gs are never freed).
    unsafe { (*gp).goid() }
}

/// Block the calling goroutine. Once it has been switched out, the runtime calls
/// `unlockf(g, lock)` on the scheduler's stack (if `unlockf` is not NULL); if that returns
/// false the goroutine resumes at once. Returns 0 after it has been readied (or after
/// `unlockf` returned false); -EPERM in thread context. `unlockf` must not block, park or call
/// gmp_* functions other than gmp_ready. Publishing `g` to a waker inside `unlockf` (e.g.
/// releasing the lock that guards a wait list) is how a wake-up can never be lost. -EPERM in a
/// child of fork() (`unlockf` is not called).
#[no_mangle]
pub unsafe extern "C" fn gmp_park(unlockf: gmp_unlock_fn, lock: *mut c_void) -> c_int {
    if fork::in_child() {
        return -libc::EPERM;
    }
    // SAFETY: gmp_g is the C name of G (the handle is the G's address): the two function
    // pointer types have the same ABI.
    let unlockf = unsafe { core::mem::transmute::<gmp_unlock_fn, Option<UnlockFn>>(unlockf) };
    neg(proc::gopark_user(unlockf, lock))
}

/// Make a goroutine that is parked in gmp_park runnable; called from a goroutine it runs next
/// on the caller's processor. 0; -EINVAL if `g` is NULL or not parked. Any context; -EPERM in
/// a child of fork().
#[no_mangle]
pub unsafe extern "C" fn gmp_ready(g: *mut gmp_g) -> c_int {
    if fork::in_child() {
        return -libc::EPERM;
    }
    if g.is_null() {
        return -libc::EINVAL;
    }
    // SAFETY: a non-null g is a goroutine handle from this runtime (the caller's contract).
    neg(unsafe { proc::ready_user(g as *mut G) })
}

/// LockOSThread: while locked (calls nest and are counted) the goroutine runs only on its
/// current thread and that thread runs nothing else. 0; -EPERM in thread context and in a
/// child of fork().
#[no_mangle]
pub extern "C" fn gmp_lock_thread() -> c_int {
    if fork::in_child() {
        return -libc::EPERM;
    }
    neg(proc::lock_os_thread())
}

/// UnlockOSThread: undo one gmp_lock_thread. 0; -EPERM in thread context and in a child of
/// fork(); -EINVAL without a matching lock.
#[no_mangle]
pub extern "C" fn gmp_unlock_thread() -> c_int {
    if fork::in_child() {
        return -libc::EPERM;
    }
    neg(proc::unlock_os_thread())
}
