//! pthread mutex, rwlock and spinlock lock/unlock, interposed to count the locks a goroutine
//! holds (preempt/lockhold.rs, "Lock-holder-aware preemption"). Each forwards its arguments to
//! the real function unchanged and returns its result unchanged; errno is never touched.
//!
//! A plain thread (or g0) pays one table load, the g-register check and a tail call. A
//! goroutine adds a load and a store of its counter after a success — and, at its outermost
//! unlock, a check for a deferred preemption. A successful acquisition is a return of 0, and
//! for mutexes also `EOWNERDEAD` (a robust mutex whose owner died: the caller now holds it and
//! will unlock it). Errors count nothing.

use super::real::{self, Real};
use crate::arch;
use crate::preempt::lockhold;
use crate::sched::g::G;
use core::mem::transmute;
use libc::{c_int, clockid_t, pthread_mutex_t, pthread_rwlock_t, pthread_spinlock_t, timespec};

/// A mutex acquisition succeeded (see the module note).
#[inline(always)]
fn mutex_acquired(rc: c_int) -> bool {
    rc == 0 || rc == libc::EOWNERDEAD
}

#[inline(always)]
fn succeeded(rc: c_int) -> bool {
    rc == 0
}

/// One interposer: `name(args) -> c_int`, forwarding to `Real::$real`; in a goroutine,
/// `$count(gp)` after a return for which `$ok(rc)` holds. On a plain thread the hot path is
/// two loads, `rdgsbase`, three compares and a jump (a tail call) to the real function; in a
/// goroutine, a call and the counter's load and store. Everything else (a function not
/// resolved yet, a GS base that needs a syscall to read) is in `slow`, reached by a tail call,
/// so it costs the hot path nothing. (Keeping `counted` out of line, which would make the
/// plain path frameless, measured ~1.5 ns slower per pair in a goroutine and no faster on a
/// plain thread.)
macro_rules! hook {
    ($name:ident = $real:ident($($a:ident: $t:ty),*), $ok:ident => $count:ident) => {
        #[no_mangle]
        pub unsafe extern "C" fn $name($($a: $t),*) -> c_int {
            type F = unsafe extern "C" fn($($t),*) -> c_int;

            #[inline(always)]
            unsafe fn counted(f: F, gp: *mut G, $($a: $t),*) -> c_int {
                // SAFETY: see the caller.
                let rc = unsafe { f($($a),*) };
                if $ok(rc) {
                    // SAFETY: gp is the goroutine running on this thread.
                    unsafe { lockhold::$count(gp) };
                }
                rc
            }

            #[cold]
            #[inline(never)]
            unsafe fn slow($($a: $t),*) -> c_int {
                // SAFETY: the table holds the real function of this very name, whose C
                // signature this is.
                let f: F = unsafe { transmute(real::get(Real::$real)) };
                match lockhold::current() {
                    // SAFETY: the caller's arguments, unchanged: its contract is libc's.
                    None => unsafe { f($($a),*) },
                    // SAFETY: as above; gp is the goroutine running on this thread.
                    Some(gp) => unsafe { counted(f, gp, $($a),*) },
                }
            }

            let p = real::cached(Real::$real);
            let Some(base) = arch::g_base_fast() else {
                // SAFETY: the caller's arguments, unchanged.
                return unsafe { slow($($a),*) };
            };
            if p == 0 {
                // SAFETY: as above.
                return unsafe { slow($($a),*) };
            }
            // SAFETY: as in slow.
            let f: F = unsafe { transmute(p) };
            match lockhold::current_at(base) {
                // SAFETY: as in slow.
                None => unsafe { f($($a),*) },
                // SAFETY: as in slow.
                Some(gp) => unsafe { counted(f, gp, $($a),*) },
            }
        }
    };
}

hook!(pthread_mutex_lock = MutexLock(m: *mut pthread_mutex_t), mutex_acquired => acquired);
hook!(pthread_mutex_trylock = MutexTrylock(m: *mut pthread_mutex_t), mutex_acquired => acquired);
hook!(pthread_mutex_timedlock = MutexTimedlock(m: *mut pthread_mutex_t, t: *const timespec), mutex_acquired => acquired);
hook!(pthread_mutex_clocklock = MutexClocklock(m: *mut pthread_mutex_t, c: clockid_t, t: *const timespec), mutex_acquired => acquired);
hook!(pthread_mutex_unlock = MutexUnlock(m: *mut pthread_mutex_t), succeeded => released);

hook!(pthread_rwlock_rdlock = RwlockRdlock(l: *mut pthread_rwlock_t), succeeded => acquired);
hook!(pthread_rwlock_tryrdlock = RwlockTryrdlock(l: *mut pthread_rwlock_t), succeeded => acquired);
hook!(pthread_rwlock_timedrdlock = RwlockTimedrdlock(l: *mut pthread_rwlock_t, t: *const timespec), succeeded => acquired);
hook!(pthread_rwlock_clockrdlock = RwlockClockrdlock(l: *mut pthread_rwlock_t, c: clockid_t, t: *const timespec), succeeded => acquired);
hook!(pthread_rwlock_wrlock = RwlockWrlock(l: *mut pthread_rwlock_t), succeeded => acquired);
hook!(pthread_rwlock_trywrlock = RwlockTrywrlock(l: *mut pthread_rwlock_t), succeeded => acquired);
hook!(pthread_rwlock_timedwrlock = RwlockTimedwrlock(l: *mut pthread_rwlock_t, t: *const timespec), succeeded => acquired);
hook!(pthread_rwlock_clockwrlock = RwlockClockwrlock(l: *mut pthread_rwlock_t, c: clockid_t, t: *const timespec), succeeded => acquired);
hook!(pthread_rwlock_unlock = RwlockUnlock(l: *mut pthread_rwlock_t), succeeded => released);

hook!(pthread_spin_lock = SpinLock(l: *mut pthread_spinlock_t), succeeded => acquired);
hook!(pthread_spin_trylock = SpinTrylock(l: *mut pthread_spinlock_t), succeeded => acquired);
hook!(pthread_spin_unlock = SpinUnlock(l: *mut pthread_spinlock_t), succeeded => released);
