//! G: a goroutine — its stack, its saved context, its status.
//!
//! Goroutine statuses (Go's `_G*`, runtime2.go), with who owns the G in each:
//! - `IDLE`: just allocated, not yet initialised. Owned by its allocator.
//! - `RUNNABLE`: on a run queue (a P's ring/runnext or the global queue), not running. Owned by
//!   that queue: whoever takes it from the queue owns it. Its stack is not in use.
//! - `RUNNING`: executing user code on an M (`g.m`, `m.curg == g`), which has a P. Only that M
//!   changes the status, except as noted for preemption (next issue).
//! - `SYSCALL`: between gmp_entersyscall and gmp_exitsyscall, running C code that may block
//!   in the kernel, on an M that may have lost its P. Owned by that M.
//! - `WAITING`: parked by `gmp_park`, on no run queue. Owned by nobody: exactly one `gmp_ready`
//!   wins the CAS WAITING -> RUNNABLE and then owns it (that is what makes a doubled wake-up
//!   impossible and a wake-up of a non-parked G an `-EINVAL`).
//! - `DEAD`: finished, on a free list (with its stack) or being reused by newproc.
//!
//! All changes go through `cas_status(from, to)`, which throws on an unexpected `from`.

use crate::arch;
use crate::m::M;
use crate::stack::Stack;
use core::ptr::null_mut;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering::*};

pub(crate) const IDLE: u32 = 0;
pub(crate) const RUNNABLE: u32 = 1;
pub(crate) const RUNNING: u32 = 2;
pub(crate) const SYSCALL: u32 = 3;
pub(crate) const WAITING: u32 = 4;
pub(crate) const DEAD: u32 = 6;

pub(crate) fn status_name(st: u32) -> &'static str {
    match st {
        IDLE => "idle",
        RUNNABLE => "runnable",
        RUNNING => "running",
        SYSCALL => "syscall",
        WAITING => "waiting",
        DEAD => "dead",
        _ => "?",
    }
}

/// A switched-out context (asm/offsets.h has the offsets).
#[repr(C)]
#[derive(Default)]
pub(crate) struct Gobuf {
    pub sp: usize,
    pub pc: usize,
    pub rbp: usize,
    pub rbx: usize,
    pub r12: usize,
    pub r13: usize,
    pub r14: usize,
    pub r15: usize,
    pub mxcsr: u32,
    pub fpucw: u16,
}

#[repr(C)]
pub(crate) struct G {
    /// Saved context. Written by the G's own M when it switches out; read by the M that
    /// resumes it, after taking the G from a run queue (the queue's release/acquire orders it).
    pub sched: Gobuf,
    /// The M running this G (null unless RUNNING). Written by that M only.
    pub m: *mut M,
    /// See the status table above.
    pub status: AtomicU32,
    pub goid: i64,
    pub stack: Stack,
    /// Link in whatever queue or list holds the G; owned by that queue's lock or owner.
    pub schedlink: *mut G,
    /// gmp_lock_thread: the M this G is locked to (null if none) and the nesting depth. Written
    /// by the G itself while running; read by schedulers after taking it from a queue.
    pub lockedm: *mut M,
    pub lock_depth: u32,
    /// The goroutine's errno value while it is switched out (it moves with the G across Ms).
    pub errno: i32,
    /// Set on the main goroutine of gmp_main: stored 1 (release) and futex-woken when it ends.
    pub main_done: *const AtomicU32,
    /// The function the goroutine was started with, for diagnostics.
    pub startfn: usize,
    /// sysmon asks for an asynchronous preemption (set by sysmon, cleared by the signal
    /// handler of the G's own M when it acts on it).
    pub preempt: AtomicBool,
    /// The G was locked to its M by an asynchronous preemption (not by gmp_lock_thread); the
    /// lock ends when the G resumes.
    pub preempt_locked: bool,
    /// allgs list link (written once before publication).
    pub alllink: *mut G,
}

impl G {
    pub(crate) fn new_boxed(stack: Stack) -> *mut G {
        Box::into_raw(Box::new(G {
            sched: Gobuf::default(),
            m: null_mut(),
            status: AtomicU32::new(IDLE),
            goid: 0,
            stack,
            schedlink: null_mut(),
            lockedm: null_mut(),
            lock_depth: 0,
            errno: 0,
            main_done: core::ptr::null(),
            startfn: 0,
            preempt: AtomicBool::new(false),
            preempt_locked: false,
            alllink: null_mut(),
        }))
    }

    /// Lay out a fresh context that starts `f(arg)` at the top of the stack (see arch/x86_64.rs).
    pub(crate) fn prepare(&mut self, f: usize, arg: usize) {
        self.sched = Gobuf {
            sp: self.stack.top(),
            pc: arch::gmp_gostart as *const () as usize,
            rbp: 0,
            rbx: f,
            r12: arg,
            mxcsr: arch::MXCSR_DEFAULT,
            fpucw: arch::FPUCW_DEFAULT,
            ..Gobuf::default()
        };
        self.startfn = f;
        self.errno = 0;
        self.lockedm = null_mut();
        self.lock_depth = 0;
        self.main_done = core::ptr::null();
    }
}

/// Change `gp`'s status from `from` to `to`; anything else is a broken invariant.
/// AcqRel: a status change hands the G (its context and fields) from one owner to the next.
#[inline]
pub(crate) fn cas_status(gp: *mut G, from: u32, to: u32) {
    // SAFETY: callers pass a live G (Gs are never freed).
    let st = unsafe { &(*gp).status };
    if st.compare_exchange(from, to, AcqRel, Acquire).is_err() {
        throw!("casgstatus: bad incoming values");
    }
}

/// Change the status of a G the caller owns exclusively (RUNNABLE taken off a queue, or its
/// own RUNNING G): no other thread can write the status then — only transitions out of WAITING
/// race (with gmp_ready) and need `cas_status`. Release: the status is published with the G.
#[inline]
pub(crate) fn set_status(gp: *mut G, from: u32, to: u32) {
    // SAFETY: callers pass a live G they own.
    let st = unsafe { &(*gp).status };
    if cfg!(debug_assertions) && st.load(Relaxed) != from {
        throw!("setgstatus: bad incoming value");
    }
    st.store(to, Release);
}

/// An intrusive FIFO of Gs linked through `schedlink`, owned by whoever owns the value
/// (the global run queue under sched.lock; a local batch on the stack).
pub(crate) struct GQueue {
    pub head: *mut G,
    pub tail: *mut G,
    pub len: u64,
}

// SAFETY: a GQueue only holds pointers; it is accessed under the lock that owns it.
unsafe impl Send for GQueue {}

impl GQueue {
    pub(crate) const fn new() -> Self {
        GQueue { head: null_mut(), tail: null_mut(), len: 0 }
    }

    /// # Safety
    /// `gp` is a live G owned by the caller and on no other queue.
    pub(crate) unsafe fn push_back(&mut self, gp: *mut G) {
        // SAFETY: per the contract, we own gp and (through the queue) the tail.
        unsafe {
            (*gp).schedlink = null_mut();
            if self.tail.is_null() {
                self.head = gp;
            } else {
                (*self.tail).schedlink = gp;
            }
        }
        self.tail = gp;
        self.len += 1;
    }

    /// Push at the front: free lists are LIFO (Go's gList), so the G reused next is the one
    /// freed last, whose stack top is still in cache and TLB.
    /// # Safety
    /// As push_back.
    pub(crate) unsafe fn push_front(&mut self, gp: *mut G) {
        // SAFETY: per the contract.
        unsafe { (*gp).schedlink = self.head };
        if self.head.is_null() {
            self.tail = gp;
        }
        self.head = gp;
        self.len += 1;
    }

    /// Put all of `other` in front of this queue, keeping its order. O(1).
    pub(crate) fn prepend(&mut self, other: GQueue) {
        if other.head.is_null() {
            return;
        }
        // SAFETY: other's tail is a live G owned by other, which we now own.
        unsafe { (*other.tail).schedlink = self.head };
        if self.tail.is_null() {
            self.tail = other.tail;
        }
        self.head = other.head;
        self.len += other.len;
    }

    /// Put all of `other` behind this queue, keeping its order. O(1).
    pub(crate) fn append(&mut self, other: GQueue) {
        if other.head.is_null() {
            return;
        }
        if self.tail.is_null() {
            self.head = other.head;
        } else {
            // SAFETY: our tail is a live G owned by this queue.
            unsafe { (*self.tail).schedlink = other.head };
        }
        self.tail = other.tail;
        self.len += other.len;
    }

    /// Keep the first `n` Gs; return the rest, in order.
    pub(crate) fn split_off(&mut self, n: u64) -> GQueue {
        if self.len <= n {
            return GQueue::new();
        }
        if n == 0 {
            return core::mem::replace(self, GQueue::new());
        }
        let mut last = self.head;
        for _ in 1..n {
            // SAFETY: the first n Gs of the queue are live and linked.
            last = unsafe { (*last).schedlink };
        }
        // SAFETY: last is the n-th G; the rest of the list follows it.
        let rest = GQueue { head: unsafe { (*last).schedlink }, tail: self.tail, len: self.len - n };
        // SAFETY: as above.
        unsafe { (*last).schedlink = null_mut() };
        self.tail = last;
        self.len = n;
        rest
    }

    pub(crate) fn pop(&mut self) -> *mut G {
        let gp = self.head;
        if !gp.is_null() {
            // SAFETY: queued Gs are live and owned by this queue.
            self.head = unsafe { (*gp).schedlink };
            if self.head.is_null() {
                self.tail = null_mut();
            }
            self.len -= 1;
        }
        gp
    }
}

#[cfg(test)]
mod tests {
    //! GQueue's splices keep every G exactly once, in order, with the right length.
    use super::*;

    fn gs(n: usize) -> Vec<*mut G> {
        (0..n).map(|_| G::new_boxed(Stack::default())).collect()
    }

    fn queue(v: &[*mut G]) -> GQueue {
        let mut q = GQueue::new();
        for &g in v {
            // SAFETY: fresh Gs on no other queue.
            unsafe { q.push_back(g) };
        }
        q
    }

    fn drain(mut q: GQueue) -> Vec<*mut G> {
        let len = q.len;
        let mut out = vec![];
        loop {
            let g = q.pop();
            if g.is_null() {
                break;
            }
            out.push(g);
        }
        assert_eq!(out.len() as u64, len);
        assert!(q.tail.is_null() && q.len == 0);
        out
    }

    #[test]
    fn split_off_every_position() {
        let v = gs(8);
        for n in 0..=9u64 {
            let mut q = queue(&v);
            let mut rest = q.split_off(n);
            let k = (n as usize).min(v.len());
            assert_eq!(q.len, k as u64);
            // Both halves have a correct tail: a push lands right at each end.
            let (x, y) = (G::new_boxed(Stack::default()), G::new_boxed(Stack::default()));
            // SAFETY: fresh Gs.
            unsafe {
                q.push_back(x);
                rest.push_back(y);
            }
            assert_eq!(drain(q), [&v[..k], &[x][..]].concat());
            assert_eq!(drain(rest), [&v[k..], &[y][..]].concat());
        }
    }

    #[test]
    fn prepend_and_append_keep_order() {
        let v = gs(7);
        for cut in 0..=v.len() {
            let mut a = queue(&v[cut..]);
            a.prepend(queue(&v[..cut]));
            let x = G::new_boxed(Stack::default());
            // SAFETY: a fresh G.
            unsafe { a.push_back(x) };
            assert_eq!(drain(a), [&v[..], &[x][..]].concat());
            let mut b = queue(&v[..cut]);
            b.append(queue(&v[cut..]));
            // append after the old tail: a push must still land at the very end
            let extra = G::new_boxed(Stack::default());
            // SAFETY: a fresh G.
            unsafe { b.push_back(extra) };
            let mut want = v.clone();
            want.push(extra);
            assert_eq!(drain(b), want);
        }
    }
}
