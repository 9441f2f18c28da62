pub(crate) const MAX_ELEM: usize = 65536;
pub(crate) struct Chan { elem_size: usize }
impl Chan {
    pub(crate) fn new(_e: usize, _c: usize) -> Result<*mut Chan, i32> { Err(libc::ENOSYS) }
    pub(crate) fn elem_size(&self) -> usize { self.elem_size }
    pub(crate) fn send(&self, _e: *const u8) -> Result<(), i32> { Err(libc::ENOSYS) }
    pub(crate) fn recv(&self, _e: *mut u8) -> Result<bool, i32> { Err(libc::ENOSYS) }
    pub(crate) fn close(&self) -> Result<(), i32> { Err(libc::ENOSYS) }
    pub(crate) unsafe fn free(_c: *mut Chan) -> Result<(), i32> { Err(libc::ENOSYS) }
    pub(crate) fn len(&self) -> usize { 0 }
    pub(crate) fn cap(&self) -> usize { 0 }
}
