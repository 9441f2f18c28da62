//! gmp_once: Go's sync.Once: a done flag for the fast path, a mutex for the first call (the
//! callers that come during it wait on the mutex, and return after it finished).

use super::mutex::Mutex;
use core::sync::atomic::{AtomicU32, Ordering::*};

#[repr(C)]
pub(crate) struct Once {
    /// Release store after the function returned pairs with the Acquire load of every later
    /// caller: its effects are visible when they return.
    done: AtomicU32,
    m: Mutex,
}

impl Once {
    pub(crate) fn call(
        &self,
        f: unsafe extern "C" fn(*mut libc::c_void),
        arg: *mut libc::c_void,
    ) -> Result<(), i32> {
        if self.done.load(Acquire) != 0 {
            return Ok(());
        }
        self.m.lock()?;
        if self.done.load(Relaxed) == 0 {
            // SAFETY: the caller's function and argument (gmp_once_do's contract).
            unsafe { f(arg) };
            self.done.store(1, Release);
        }
        self.m.unlock()
    }
}
