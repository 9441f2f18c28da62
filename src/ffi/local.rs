//! Goroutine-local storage (pthread keys per goroutine) and the switch-safe errno.

use crate::sync::keys;
use libc::{c_int, c_void};

/// A goroutine-local storage key (gmp_key_create).
pub type gmp_key = u32;

/// A key's destructor: called with the non-NULL value when its goroutine (or thread) ends.
pub type gmp_key_dtor = Option<unsafe extern "C" fn(value: *mut c_void)>;

/// At least this many keys can live at once.
pub const GMP_KEYS_MAX: u32 = keys::MAX_KEYS as u32;

/// Create a key: pthread_key_create's semantics per goroutine. A value set in a goroutine
/// follows it across threads; `dtor` (may be NULL) runs on each non-NULL value when its
/// goroutine ends (returns or gmp_exit()s), up to 4 rounds while destructors set values again.
/// In thread context the key acts on a per-thread slot (destructors at thread exit), so a
/// library can use it either way. 0 and `*key` set; -EINVAL for NULL `key`; -EAGAIN when
/// GMP_KEYS_MAX keys exist. Deleted keys are reused.
#[no_mangle]
pub unsafe extern "C" fn gmp_key_create(key: *mut gmp_key, dtor: gmp_key_dtor) -> c_int {
    if key.is_null() {
        return -libc::EINVAL;
    }
    match keys::create(dtor) {
        Ok(k) => {
            // SAFETY: non-null, writable (the caller's promise).
            unsafe { *key = k };
            0
        }
        Err(e) => -e,
    }
}

/// Delete a key: values stay where they are, no destructor runs (as pthread_key_delete).
/// 0; -EINVAL for an unknown or deleted key.
#[no_mangle]
pub extern "C" fn gmp_key_delete(key: gmp_key) -> c_int {
    super::neg(keys::delete(key))
}

/// The calling goroutine's (or thread's) value for `key`; NULL if none was set, or for an
/// unknown or deleted key.
#[no_mangle]
pub extern "C" fn gmp_getspecific(key: gmp_key) -> *mut c_void {
    keys::get(key) as *mut c_void
}

/// Set the calling goroutine's (or thread's) value for `key`. 0; -EINVAL for an unknown or
/// deleted key; -ENOMEM when the value table cannot grow.
#[no_mangle]
pub extern "C" fn gmp_setspecific(key: gmp_key, value: *const c_void) -> c_int {
    super::neg(keys::set(key, value as usize))
}

/// The calling thread's errno address, looked up afresh on every call (it is not declared
/// `const` as glibc's __errno_location is). gmp.h defines `errno` as `(*gmp_errno_location())`
/// unless GMP_NO_ERRNO_MACRO is defined before including it.
#[no_mangle]
pub extern "C" fn gmp_errno_location() -> *mut c_int {
    // SAFETY: glibc's, always valid for the calling thread.
    unsafe { libc::__errno_location() }
}
