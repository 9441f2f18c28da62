//! Locks, wait groups, once, futex (Go's sync package and sema.go): the C types and argument
//! checks; the work is in sync/. Each C type has the layout of its sync/ twin (checked below):
//! plain integers here, atomics there. All-zero memory is a ready object; no init, no destroy;
//! don't copy one after first use. Waiters live in a runtime table keyed by the object's
//! address, so the objects hold no pointers.

use super::goroutine::gmp_fn;
use crate::sync::{cond, futex, mutex, once, rwmutex, waitgroup};
use crate::time::Deadline;
use libc::c_int;

/// A mutual-exclusion lock (Go's sync.Mutex). Zero = unlocked. The fields are private.
#[repr(C)]
pub struct gmp_mutex {
    pub state: i32,
    pub sema: u32,
}

/// A reader/writer lock (Go's sync.RWMutex: a blocked writer keeps new readers out). Zero =
/// unlocked. The fields are private.
#[repr(C)]
pub struct gmp_rwmutex {
    pub w: gmp_mutex,
    pub writer_sem: u32,
    pub reader_sem: u32,
    pub reader_count: i32,
    pub reader_wait: i32,
}

/// A condition variable (Go's sync.Cond, pthread_cond_t's semantics). Zero = ready. Its
/// waiters are kept by the runtime under its address; the field is reserved.
#[repr(C)]
pub struct gmp_cond {
    pub reserved: u32,
}

/// A wait group (Go's sync.WaitGroup). Zero = counter 0. The fields are private.
#[repr(C)]
pub struct gmp_waitgroup {
    pub state: u64,
    pub sema: u32,
    pub pad: u32,
}

/// Run-once state (Go's sync.Once). Zero = not yet run. The fields are private.
#[repr(C)]
pub struct gmp_once {
    pub done: u32,
    pub m: gmp_mutex,
}

macro_rules! same_layout {
    ($c:ty, $r:ty) => {
        const _: () = assert!(
            core::mem::size_of::<$c>() == core::mem::size_of::<$r>()
                && core::mem::align_of::<$c>() == core::mem::align_of::<$r>()
        );
    };
}
same_layout!(gmp_mutex, mutex::Mutex);
same_layout!(gmp_rwmutex, rwmutex::RwMutex);
same_layout!(gmp_cond, cond::Cond);
same_layout!(gmp_waitgroup, waitgroup::WaitGroup);
same_layout!(gmp_once, once::Once);

/// The sync/ twin of a C object, or None for NULL.
fn obj<'a, C, R>(p: *mut C) -> Option<&'a R> {
    crate::sync::note_thread();
    // SAFETY: a non-null pointer is to a live object of the C type (the caller's promise),
    // whose layout is R's (same_layout! above); R's fields are atomics, so shared access from
    // several threads is sound.
    (!p.is_null()).then(|| unsafe { &*(p as *const R) })
}

fn ret(r: Result<(), i32>) -> c_int {
    super::neg(r)
}

/// Lock `m`, blocking (a goroutine parks, a thread sleeps) while another holds it: brief
/// spinning first; once a waiter has waited over 1 ms the lock is handed over in FIFO order
/// (Go's starvation mode). 0; -EINVAL for NULL. Not recursive: locking a mutex you hold
/// blocks for good. Any context.
#[no_mangle]
pub unsafe extern "C" fn gmp_mutex_lock(m: *mut gmp_mutex) -> c_int {
    obj::<_, mutex::Mutex>(m).map_or(-libc::EINVAL, |m| ret(m.lock()))
}

/// Lock `m` if it is free now: 0, or -EBUSY. -EINVAL for NULL.
#[no_mangle]
pub unsafe extern "C" fn gmp_mutex_trylock(m: *mut gmp_mutex) -> c_int {
    obj::<_, mutex::Mutex>(m).map_or(-libc::EINVAL, |m| ret(m.try_lock()))
}

/// Unlock `m` (any goroutine or thread may). 0; -EPERM if it is not locked; -EINVAL for NULL.
#[no_mangle]
pub unsafe extern "C" fn gmp_mutex_unlock(m: *mut gmp_mutex) -> c_int {
    obj::<_, mutex::Mutex>(m).map_or(-libc::EINVAL, |m| ret(m.unlock()))
}

/// Lock `rw` for reading (shared), blocking while a writer holds it or waits for it. 0;
/// -EINVAL for NULL.
#[no_mangle]
pub unsafe extern "C" fn gmp_rwmutex_rlock(rw: *mut gmp_rwmutex) -> c_int {
    obj::<_, rwmutex::RwMutex>(rw).map_or(-libc::EINVAL, |rw| ret(rw.rlock()))
}

/// Release a read lock. 0; -EPERM if `rw` is not read-locked; -EINVAL for NULL.
#[no_mangle]
pub unsafe extern "C" fn gmp_rwmutex_runlock(rw: *mut gmp_rwmutex) -> c_int {
    obj::<_, rwmutex::RwMutex>(rw).map_or(-libc::EINVAL, |rw| ret(rw.runlock()))
}

/// Lock `rw` for writing (exclusive): new readers wait from now on; blocks until the readers
/// inside have left. 0; -EINVAL for NULL.
#[no_mangle]
pub unsafe extern "C" fn gmp_rwmutex_lock(rw: *mut gmp_rwmutex) -> c_int {
    obj::<_, rwmutex::RwMutex>(rw).map_or(-libc::EINVAL, |rw| ret(rw.lock()))
}

/// Release the write lock. 0; -EPERM if `rw` is not write-locked; -EINVAL for NULL.
#[no_mangle]
pub unsafe extern "C" fn gmp_rwmutex_unlock(rw: *mut gmp_rwmutex) -> c_int {
    obj::<_, rwmutex::RwMutex>(rw).map_or(-libc::EINVAL, |rw| ret(rw.unlock()))
}

/// Read-lock `rw` if no writer holds it or waits: 0, or -EBUSY. -EINVAL for NULL.
#[no_mangle]
pub unsafe extern "C" fn gmp_rwmutex_tryrlock(rw: *mut gmp_rwmutex) -> c_int {
    obj::<_, rwmutex::RwMutex>(rw).map_or(-libc::EINVAL, |rw| ret(rw.try_rlock()))
}

/// Write-lock `rw` if nobody holds it: 0, or -EBUSY. -EINVAL for NULL.
#[no_mangle]
pub unsafe extern "C" fn gmp_rwmutex_trylock(rw: *mut gmp_rwmutex) -> c_int {
    obj::<_, rwmutex::RwMutex>(rw).map_or(-libc::EINVAL, |rw| ret(rw.try_lock()))
}

/// Atomically unlock `m` and wait for a signal on `c`, then lock `m` again (also on every
/// error return except -EPERM/-EINVAL). Waits may end spuriously: wait in a loop that checks
/// the condition. 0; -EPERM if `m` is not locked; -EINVAL for NULL.
#[no_mangle]
pub unsafe extern "C" fn gmp_cond_wait(c: *mut gmp_cond, m: *mut gmp_mutex) -> c_int {
    // SAFETY: the same promise, passed on.
    unsafe { gmp_cond_wait_timeout(c, m, -1) }
}

/// gmp_cond_wait for at most `timeout_ns` nanoseconds (< 0: no limit): -ETIMEDOUT then, with
/// `m` locked again.
#[no_mangle]
pub unsafe extern "C" fn gmp_cond_wait_timeout(c: *mut gmp_cond, m: *mut gmp_mutex, timeout_ns: i64) -> c_int {
    match (obj::<_, cond::Cond>(c), obj::<_, mutex::Mutex>(m)) {
        (Some(c), Some(m)) => ret(c.wait(m, Deadline::after(timeout_ns))),
        _ => -libc::EINVAL,
    }
}

/// Wake one waiter of `c` (the longest waiting), if any. 0; -EINVAL for NULL. Holding the
/// mutex is allowed, not required.
#[no_mangle]
pub unsafe extern "C" fn gmp_cond_signal(c: *mut gmp_cond) -> c_int {
    obj::<_, cond::Cond>(c).map_or(-libc::EINVAL, |c| {
        c.signal();
        0
    })
}

/// Wake every waiter of `c`. 0; -EINVAL for NULL.
#[no_mangle]
pub unsafe extern "C" fn gmp_cond_broadcast(c: *mut gmp_cond) -> c_int {
    obj::<_, cond::Cond>(c).map_or(-libc::EINVAL, |c| {
        c.broadcast();
        0
    })
}

/// Add `delta` (may be negative) to the counter; when it reaches 0, every waiter is
/// released. 0; -EINVAL for NULL or if the counter would go negative (nothing changes then).
#[no_mangle]
pub unsafe extern "C" fn gmp_waitgroup_add(wg: *mut gmp_waitgroup, delta: i64) -> c_int {
    obj::<_, waitgroup::WaitGroup>(wg).map_or(-libc::EINVAL, |wg| ret(wg.add(delta)))
}

/// gmp_waitgroup_add(wg, -1).
#[no_mangle]
pub unsafe extern "C" fn gmp_waitgroup_done(wg: *mut gmp_waitgroup) -> c_int {
    // SAFETY: the same promise, passed on.
    unsafe { gmp_waitgroup_add(wg, -1) }
}

/// Block until the counter is 0. 0; -EINVAL for NULL.
#[no_mangle]
pub unsafe extern "C" fn gmp_waitgroup_wait(wg: *mut gmp_waitgroup) -> c_int {
    obj::<_, waitgroup::WaitGroup>(wg).map_or(-libc::EINVAL, |wg| ret(wg.wait()))
}

/// Run `fn(arg)` exactly once for `o`: the first caller runs it; every caller returns after
/// it has finished. 0; -EINVAL for NULL `o` or `fn`.
#[no_mangle]
pub unsafe extern "C" fn gmp_once_do(o: *mut gmp_once, f: gmp_fn, arg: *mut libc::c_void) -> c_int {
    match (obj::<_, once::Once>(o), f) {
        (Some(o), Some(f)) => ret(o.call(f, arg)),
        _ => -libc::EINVAL,
    }
}

/// If `*addr == val` (checked atomically with enqueueing), block until a gmp_futex_wake on
/// `addr` picks this waiter (0; never spuriously) or `timeout_ns` passes (-ETIMEDOUT;
/// < 0: no limit; 0: at once). -EAGAIN if `*addr != val`; -EINVAL for NULL or a misaligned
/// `addr`. A goroutine parks, a thread sleeps; both wait in one FIFO queue per address.
#[no_mangle]
pub unsafe extern "C" fn gmp_futex_wait(addr: *mut u32, val: u32, timeout_ns: i64) -> c_int {
    if addr.is_null() || !(addr as usize).is_multiple_of(4) {
        return -libc::EINVAL;
    }
    crate::sync::note_thread();
    // SAFETY: a live, aligned u32 (the caller's promise), only read atomically here.
    let a = unsafe { &*(addr as *const core::sync::atomic::AtomicU32) };
    ret(futex::wait(a, val, Deadline::after(timeout_ns)))
}

/// Wake up to `n` waiters of `addr` in FIFO order, goroutines and threads alike; returns how
/// many were woken (`n` <= 0: none). -EINVAL for NULL or a misaligned `addr`.
#[no_mangle]
pub unsafe extern "C" fn gmp_futex_wake(addr: *mut u32, n: c_int) -> c_int {
    if addr.is_null() || !(addr as usize).is_multiple_of(4) {
        return -libc::EINVAL;
    }
    crate::sync::note_thread();
    futex::wake(addr as usize, n.max(0) as u32) as c_int
}
