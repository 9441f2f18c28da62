use core::sync::atomic::*;
#[repr(C)]
pub(crate) struct RwMutex { w: super::mutex::Mutex, ws: AtomicU32, rs: AtomicU32, rc: AtomicI32, rw: AtomicI32 }
impl RwMutex {
    pub(crate) fn lock(&self) -> Result<(), i32> { Err(libc::ENOSYS) }
    pub(crate) fn try_lock(&self) -> Result<(), i32> { Err(libc::ENOSYS) }
    pub(crate) fn unlock(&self) -> Result<(), i32> { Err(libc::ENOSYS) }
    pub(crate) fn rlock(&self) -> Result<(), i32> { Err(libc::ENOSYS) }
    pub(crate) fn try_rlock(&self) -> Result<(), i32> { Err(libc::ENOSYS) }
    pub(crate) fn runlock(&self) -> Result<(), i32> { Err(libc::ENOSYS) }
}
