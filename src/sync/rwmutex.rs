//! gmp_rwmutex: Go's sync.RWMutex (rwmutex.go). Writer-preferring: a writer announces itself
//! by making `reader_count` negative (minus MAX_READERS), so new readers wait on
//! `reader_sem`; it then waits on `writer_sem` for the `reader_wait` readers that were inside.
//! Writers exclude each other with `w`. Unlocks without a matching lock return -EPERM and
//! change nothing (Go throws): the checks are CAS loops, as far as the counts can tell.

use crate::debug::waitreason::WaitReason;
use super::mutex::Mutex;
use super::sema;
use core::sync::atomic::{AtomicI32, AtomicU32, Ordering::*};

const MAX_READERS: i32 = 1 << 30;

#[repr(C)]
pub(crate) struct RwMutex {
    w: Mutex,
    writer_sem: AtomicU32,
    reader_sem: AtomicU32,
    /// Readers inside or waiting; minus MAX_READERS while a writer holds or wants the lock.
    /// AcqRel RMWs: reader entry/exit pairs with writer entry/exit.
    reader_count: AtomicI32,
    /// Readers the pending writer still waits for.
    reader_wait: AtomicI32,
}

impl RwMutex {
    pub(crate) fn rlock(&self) -> Result<(), i32> {
        if self.reader_count.fetch_add(1, AcqRel) + 1 < 0 {
            // A writer is pending: wait for it.
            sema::acquire(&self.reader_sem, false, WaitReason::RWMutexRLock);
        }
        Ok(())
    }

    pub(crate) fn try_rlock(&self) -> Result<(), i32> {
        let mut c = self.reader_count.load(Relaxed);
        loop {
            if c < 0 {
                return Err(libc::EBUSY);
            }
            match self
                .reader_count
                .compare_exchange_weak(c, c + 1, AcqRel, Relaxed)
            {
                Ok(_) => return Ok(()),
                Err(v) => c = v,
            }
        }
    }

    pub(crate) fn runlock(&self) -> Result<(), i32> {
        let mut r = self.reader_count.load(Relaxed);
        loop {
            // No reader inside or waiting (0), or a writer and no reader (-MAX_READERS).
            if r == 0 || r == -MAX_READERS {
                return Err(libc::EPERM);
            }
            match self
                .reader_count
                .compare_exchange_weak(r, r - 1, AcqRel, Relaxed)
            {
                Ok(_) => break,
                Err(v) => r = v,
            }
        }
        if r - 1 < 0 && self.reader_wait.fetch_sub(1, AcqRel) == 1 {
            // The last reader the pending writer waited for.
            sema::release(&self.writer_sem, false);
        }
        Ok(())
    }

    pub(crate) fn lock(&self) -> Result<(), i32> {
        self.w.lock_for(WaitReason::RWMutexLock)?;
        // Announce the writer; r readers are inside.
        let r = self.reader_count.fetch_sub(MAX_READERS, AcqRel);
        if r != 0 && self.reader_wait.fetch_add(r, AcqRel) + r != 0 {
            sema::acquire(&self.writer_sem, false, WaitReason::RWMutexLock);
        }
        Ok(())
    }

    pub(crate) fn try_lock(&self) -> Result<(), i32> {
        self.w.try_lock()?;
        if self
            .reader_count
            .compare_exchange(0, -MAX_READERS, AcqRel, Relaxed)
            .is_err()
        {
            let _ = self.w.unlock();
            return Err(libc::EBUSY);
        }
        Ok(())
    }

    pub(crate) fn unlock(&self) -> Result<(), i32> {
        let mut c = self.reader_count.load(Relaxed);
        loop {
            if c >= 0 {
                return Err(libc::EPERM); // no writer
            }
            match self
                .reader_count
                .compare_exchange_weak(c, c + MAX_READERS, AcqRel, Relaxed)
            {
                Ok(_) => break,
                Err(v) => c = v,
            }
        }
        // Let in the readers that queued behind us.
        for _ in 0..c + MAX_READERS {
            sema::release(&self.reader_sem, false);
        }
        let _ = self.w.unlock();
        Ok(())
    }
}
