//! GMP_DEBUG=schedtrace=MS (and scheddetail=1): Go's scheduler trace, printed by sysmon.
//!
//! Every value is read racily (Relaxed atomics), as Go's schedtrace does: the lines are a
//! snapshot for humans, not a consistent state.

use crate::debug::waitreason::WaitReason;
use crate::os;
use crate::sched::g::{GStatus, G};
use crate::sched::sched::SCHED;
use core::fmt::Write;
use core::sync::atomic::Ordering::*;

/// A stack buffer for trace lines: sysmon holds no locks of the program's, but a fixed buffer
/// and one write(2) keep lines whole when other threads print too.
struct Line {
    buf: [u8; 512],
    len: usize,
}

impl Write for Line {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let b = s.as_bytes();
        let n = b.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&b[..n]);
        self.len += n;
        Ok(())
    }
}

impl Line {
    fn new() -> Self {
        Line {
            buf: [0; 512],
            len: 0,
        }
    }
    fn flush(&mut self) {
        if self.len == self.buf.len() {
            self.buf[self.len - 1] = b'\n';
        }
        os::write_err(&self.buf[..self.len]);
        self.len = 0;
    }
}

/// GMP_DEBUG=schedtrace=MS: Go's summary line, and with scheddetail=1 one line per P, M, G.
pub(crate) fn schedtrace(detail: bool) {
    let ms = (os::nanotime() - SCHED.start_time.load(Relaxed)) / 1_000_000;
    let nallp = SCHED.nallp.load(Acquire);
    let procs = SCHED.gomaxprocs.load(Relaxed);
    let (nmidle, global) = {
        let s = SCHED.locked();
        (s.nmidle, s.runq_len())
    };
    let mut l = Line::new();
    let _ = write!(
        l,
        "SCHED {}ms: gomaxprocs={} idleprocs={} threads={} spinningthreads={} idlethreads={} runqueue={} preempted={} preemptq={} preemptlong={}",
        ms,
        procs,
        SCHED.idle.npidle(),
        SCHED.mcount.load(Relaxed),
        SCHED.idle.nmspinning(),
        nmidle,
        global,
        SCHED.npreempted.load(Relaxed),
        SCHED.preemptqsize.load(Relaxed),
        SCHED.nlong.load(Relaxed)
    );
    if !detail {
        let _ = l.write_str(" [");
        for i in 0..nallp.min(procs) {
            // SAFETY: Ps below nallp are live forever.
            let q = unsafe { (*SCHED.p(i)).runq.len() };
            let _ = write!(l, "{}{}", if i == 0 { "" } else { " " }, q);
            if l.len > 480 {
                let _ = l.write_str(" ...");
                break;
            }
        }
        let _ = l.write_str("]\n");
        l.flush();
        return;
    }
    let _ = l.write_str("\n");
    l.flush();
    for i in 0..nallp {
        // SAFETY: as above; the fields are read racily for display only.
        unsafe {
            let pp = SCHED.p(i);
            let mp = (*pp).m();
            let _ = writeln!(
                l,
                "  P{}: status={} schedtick={} syscalltick={} m={} runqsize={} gfreecnt={}",
                i,
                (*pp).status.load(Relaxed) as u32,
                (*pp).schedtick.load(Relaxed),
                (*pp).syscalltick.load(Relaxed),
                if mp.is_null() { -1 } else { (*mp).id },
                (*pp).runq.len(),
                (*pp).gfreecnt.load(Relaxed)
            );
        }
        l.flush();
    }
    let mut mp = SCHED.allm.load(Acquire);
    while !mp.is_null() {
        // SAFETY: Ms are never freed; display-only racy reads.
        unsafe {
            let pp = (*mp).p();
            let gid = |g: *mut G| if g.is_null() { -1 } else { (*g).goid() };
            let _ = writeln!(
                l,
                "  M{}: p={} curg={} locks={} spinning={} lockedg={} tid={}",
                (*mp).id,
                if pp.is_null() { -1 } else { (*pp).id as i64 },
                gid((*mp).curg()),
                (*mp).locks.load(Relaxed),
                (*mp).spinning(),
                gid((*mp).lockedg()),
                (*mp).procid.load(Relaxed)
            );
            l.flush();
            mp = (*mp).alllink;
        }
    }
    let mut gp = SCHED.allgs.load(Acquire);
    while !gp.is_null() {
        // SAFETY: Gs are never freed; display-only racy reads.
        unsafe {
            let st = (*gp).status.load(Relaxed);
            if st != GStatus::Dead {
                let m = (*gp).m.load(Relaxed);
                // A preemption locks the G to its M too (preempt_locked): show that as the
                // G's state, and lockedm only for gmp_lock_thread.
                let preempted = core::ptr::read_volatile(&(*gp).preempt_parked)
                    || core::ptr::read_volatile(&(*gp).preempt_locked);
                let lm = if preempted { core::ptr::null_mut() } else { (*gp).lockedm() };
                let why = if preempted && st != GStatus::Running {
                    "preempted"
                } else if st == GStatus::Waiting {
                    WaitReason::name_of((*gp).waitreason.load(Relaxed))
                } else {
                    st.name()
                };
                let _ = writeln!(
                    l,
                    "  G{}: status={}({}) m={} lockedm={}",
                    (*gp).goid(),
                    st as u32,
                    why,
                    if m.is_null() { -1 } else { (*m).id },
                    if lm.is_null() { -1 } else { (*lm).id }
                );
                l.flush();
            }
            gp = (*gp).alllink;
        }
    }
}
