use core::sync::atomic::*;
#[repr(C)]
pub(crate) struct Once { done: AtomicU32, m: super::mutex::Mutex }
impl Once {
    pub(crate) fn call(&self, _f: unsafe extern "C" fn(*mut libc::c_void), _a: *mut libc::c_void) -> Result<(), i32> { Err(libc::ENOSYS) }
}
