//! G: a goroutine — its stack, its saved context, its status.
//!
//! # Goroutine statuses
//! Go's `_G*` (runtime2.go), with who owns the G — and so may change its status with
//! `set` — in each (see status.rs for the gate):
//! - `Idle`: just allocated, not yet initialised. Owned by its allocator (newproc1).
//! - `Runnable`: on a run queue (a P's ring/runnext or the global queue), not running. Owned
//!   by that queue: whoever takes it off the queue owns it. Its stack is not in use.
//! - `Running`: executing user code on an M (`g.m`, `m.curg == g`), which holds a P. Only
//!   that M changes the status.
//! - `Syscall`: between entersyscall and exitsyscall, running C code that may block in the
//!   kernel, on an M that may have lost its P. Owned by that M.
//! - `Waiting`: parked (gopark), on no run queue. Owned by nobody: exactly one `ready` wins
//!   `try_cas(Waiting, Runnable)` and then owns it — that is what makes a doubled wake-up
//!   impossible and a wake-up of a G that is not parked an `-EINVAL`. The parking M's unlock
//!   path competes for the same transition when the unlock function declines to park.
//! - `Dead`: finished, on a free list (with its stack) or being reused by newproc1.

use crate::arch::Gobuf;
use crate::os::stack::Stack;
use crate::preempt::lockhold::LockHold;
use crate::sched::checkdead::MainWait;
use crate::sched::cxa::EhGlobals;
use crate::sched::m::M;
use crate::sched::status::{AtomicStatus, Status};
use crate::time::timer::Timer;
use core::ptr::null_mut;
use core::sync::atomic::{AtomicBool, AtomicI64, AtomicPtr, AtomicU64, AtomicU8, Ordering::*};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u32)]
pub(crate) enum GStatus {
    Idle = 0,
    Runnable = 1,
    Running = 2,
    Syscall = 3,
    Waiting = 4,
    Dead = 6,
}

impl Status for GStatus {
    fn from_u32(v: u32) -> Self {
        match v {
            0 => GStatus::Idle,
            1 => GStatus::Runnable,
            2 => GStatus::Running,
            3 => GStatus::Syscall,
            4 => GStatus::Waiting,
            6 => GStatus::Dead,
            _ => throw!("GStatus::from_u32: bad value"),
        }
    }
    fn to_u32(self) -> u32 {
        self as u32
    }
    const BAD_SET: &'static str = "AtomicStatus::set: bad incoming G status";
    const BAD_CAS: &'static str = "AtomicStatus::cas: bad incoming G status";
}

impl GStatus {
    pub(crate) fn name(self) -> &'static str {
        match self {
            GStatus::Idle => "idle",
            GStatus::Runnable => "runnable",
            GStatus::Running => "running",
            GStatus::Syscall => "syscall",
            GStatus::Waiting => "waiting",
            GStatus::Dead => "dead",
        }
    }
}

#[repr(C)]
pub(crate) struct G {
    /// Saved context. Written by the G's own M when it switches out; read by the M that
    /// resumes it, after taking the G from a run queue (the queue's release/acquire orders it).
    pub sched: Gobuf,
    /// The M running this G (null unless Running or Syscall). Written by that M; read
    /// racily by schedtrace (Relaxed).
    pub m: AtomicPtr<M>,
    /// See "Goroutine statuses".
    pub status: AtomicStatus<GStatus>,
    /// Written by newproc1 before the G is published (run queue release); read by anyone
    /// holding a handle (gmp_goid), Relaxed: a reused G's id changes only while it is Dead.
    pub goid: AtomicI64,
    /// Fixed for the G's life.
    pub stack: Stack,
    /// Link in whatever queue or list holds the G; owned by that queue's lock or owner.
    pub schedlink: *mut G,
    /// lockOSThread: the M this G is locked to (null if none). Written by the G itself while
    /// running (and by goexit0); read by schedulers after taking the G from a queue (ordered
    /// by the queue) and racily by schedtrace.
    pub lockedm: AtomicPtr<M>,
    /// lockOSThread nesting depth. The G's own.
    pub lock_depth: u32,
    /// The goroutine's errno value while it is switched out (it moves with the G across Ms).
    pub errno: i32,
    /// Set on the main goroutine of gmp_main: goexit0 reports its end there.
    pub main_wait: *const MainWait,
    /// The function the goroutine was started with, for diagnostics.
    pub startfn: usize,
    /// sysmon asks for an asynchronous preemption (set by sysmon, Release; cleared by the
    /// signal handler of the G's own M when it acts on it).
    pub preempt: AtomicBool,
    /// The G was locked to its M by an asynchronous preemption (not by lockOSThread); the
    /// lock ends when the G resumes. The G's own (and its M's g0 while it is switched out).
    pub preempt_locked: bool,
    /// The pthread locks it holds and a deferred preemption (preempt/lockhold.rs, "Lock-holder-
    /// aware preemption", which documents who writes what).
    pub lockhold: LockHold,
    /// allgs list link (written once before publication).
    pub alllink: *mut G,
    /// Order of arrival on the global queues (sched.lock): the preempted queue and the run
    /// queue are served oldest first when neither has priority.
    pub qseq: u64,
    /// The G is parked by a preemption and counted in `sched.npreempted` (its M's g0 sets it,
    /// the G clears it when it resumes).
    pub preempt_parked: bool,
    /// CPU time this goroutine used in the slices that ended in a preemption (the first one
    /// counted as a whole slice), and its thread's CPU clock when it last resumed from one.
    /// The G's own (async_preempt2). A preempted goroutine that keeps using whole slices and
    /// never ends is what starvation means under the thread budget (preempt/mod.rs); wall
    /// time would not do: on an oversubscribed machine a short goroutine spans many slices.
    pub preempt_cpu: i64,
    pub resume_cpu: i64,
    /// The goroutine's C++ exception state while it is switched out (it moves with the G, like
    /// errno): see "C++ exception state travels with the goroutine" (cxa.rs). The G's own.
    pub cxa: EhGlobals,
    /// The G's timer: its sleep (time/), or the deadline of its netpoll wait (netpoll/). One
    /// at a time: a goroutine waits for one thing.
    pub timer: Timer,
    /// When its sleep ends (time::sleep_until hands it to the park callback).
    pub sleep_when: i64,
    /// The netpoll wait it is in (netpoll/wait.rs): the wait's token while it waits (with
    /// bit 0 set while its park callback still registers it), 0 when not waiting. Wakers win
    /// the G with a CAS on it; the G's own otherwise.
    pub pollwait: AtomicU64,
    /// Source of tokens (the G's own).
    pub pollseq: u64,
    /// The wait slot (netpoll/pd.rs) it parks in, as an address; 0 for a list wait. Read by
    /// its deadline timer.
    pub pollslot: core::sync::atomic::AtomicUsize,
    /// Parked in gmp_park (set by the G before parking, cleared when it resumes): only such a
    /// park may be ended by gmp_ready — a sleep or an fd wait ends by its own waker.
    pub user_park: AtomicBool,
    /// The sync wait it is in (sync/waiter.rs): the wait's token (even) while it waits, with
    /// bit 0 set once a waker or its deadline timer has claimed it; 0 when not waiting. The
    /// claim is a CAS, so exactly one waker readies the G, and a late timer of an earlier wait
    /// (its token differs) does nothing.
    pub sync_token: AtomicU64,
    /// Source of tokens (the G's own).
    pub sync_seq: u64,
    /// Its goroutine-local storage (sync/keys.rs): null until it sets a value. The G's own.
    pub keys: *mut crate::sync::keys::Values,
    /// Why it is parked (`WaitReason as u8`, meaningful while Waiting) and since when
    /// (`sched.now`, sysmon's coarse clock: a dump shows minutes, and a park must not pay for
    /// a clock read). Written by the G before it parks; read racily by dumps (Relaxed).
    pub waitreason: AtomicU8,
    pub waitsince: AtomicI64,
    /// Who created it: the creating goroutine's id (0: a thread) and the address gmp_spawn
    /// returns to in the creator (Go's `gopc`). Written by newproc1 before the G is
    /// published; read by dumps of a live G.
    pub parent_goid: i64,
    pub gopc: usize,
}

impl G {
    /// A G record in persistent memory (never freed: Gs are type-stable). None when no memory
    /// can be had.
    pub(crate) fn new_record(stack: Stack) -> Option<*mut G> {
        crate::os::persistent::persistent_new(G::fresh(stack))
    }

    #[cfg(test)]
    pub(crate) fn new_boxed(stack: Stack) -> *mut G {
        Box::into_raw(Box::new(G::fresh(stack)))
    }

    fn fresh(stack: Stack) -> G {
        G {
            sched: Gobuf::default(),
            m: AtomicPtr::new(null_mut()),
            status: AtomicStatus::new_raw(GStatus::Idle as u32),
            goid: AtomicI64::new(0),
            stack,
            schedlink: null_mut(),
            lockedm: AtomicPtr::new(null_mut()),
            lock_depth: 0,
            errno: 0,
            main_wait: core::ptr::null(),
            startfn: 0,
            preempt: AtomicBool::new(false),
            preempt_locked: false,
            lockhold: LockHold::new(),
            alllink: null_mut(),
            qseq: 0,
            preempt_parked: false,
            preempt_cpu: 0,
            resume_cpu: 0,
            cxa: EhGlobals::EMPTY,
            timer: Timer::new(),
            sleep_when: 0,
            pollwait: AtomicU64::new(0),
            pollseq: 0,
            pollslot: core::sync::atomic::AtomicUsize::new(0),
            user_park: AtomicBool::new(false),
            sync_token: AtomicU64::new(0),
            sync_seq: 0,
            keys: null_mut(),
            waitreason: AtomicU8::new(0),
            waitsince: AtomicI64::new(0),
            parent_goid: 0,
            gopc: 0,
        }
    }

    /// Lay out a fresh context that starts `f(arg)` at the top of the stack and ends in
    /// goexit1 (see arch/x86_64.rs), through fork::goexit (a child of fork ends there).
    pub(crate) fn prepare(&mut self, f: usize, arg: usize) {
        self.sched = Gobuf::fresh(self.stack.top(), f, arg, crate::sched::fork::goexit);
        self.startfn = f;
        self.errno = 0;
        self.preempt_cpu = 0;
        self.resume_cpu = 0;
        self.cxa = EhGlobals::EMPTY;
        self.lockedm.store(null_mut(), Relaxed);
        self.lock_depth = 0;
        self.main_wait = core::ptr::null();
        self.lockhold.reset();
    }

    #[inline]
    pub(crate) fn lockedm(&self) -> *mut M {
        self.lockedm.load(Relaxed)
    }

    pub(crate) fn goid(&self) -> i64 {
        self.goid.load(Relaxed)
    }
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
        GQueue {
            head: null_mut(),
            tail: null_mut(),
            len: 0,
        }
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
        let rest = GQueue {
            // SAFETY: last is the n-th G; the rest of the list follows it.
            head: unsafe { (*last).schedlink },
            tail: self.tail,
            len: self.len - n,
        };
        // SAFETY: as above.
        unsafe { (*last).schedlink = null_mut() };
        self.tail = last;
        self.len = n;
        rest
    }

    /// Take out the first G for which `f` holds (null if none). O(n).
    pub(crate) fn remove_first(&mut self, f: impl Fn(*mut G) -> bool) -> *mut G {
        let mut prev: *mut G = null_mut();
        let mut gp = self.head;
        // SAFETY: queued Gs are live and owned by this queue; we relink only its own nodes.
        unsafe {
            while !gp.is_null() {
                if f(gp) {
                    let next = (*gp).schedlink;
                    if prev.is_null() {
                        self.head = next;
                    } else {
                        (*prev).schedlink = next;
                    }
                    if self.tail == gp {
                        self.tail = prev;
                    }
                    (*gp).schedlink = null_mut();
                    self.len -= 1;
                    return gp;
                }
                prev = gp;
                gp = (*gp).schedlink;
            }
        }
        null_mut()
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
    fn remove_first_every_position() {
        for n in 0..5usize {
            for k in 0..=n {
                let v = gs(n);
                let mut q = queue(&v);
                let want = v.get(k).copied().unwrap_or(null_mut());
                let got = q.remove_first(|g| g == want && !want.is_null());
                assert_eq!(got, want);
                // The tail stays right: a push after the removal lands last.
                let extra = G::new_boxed(Stack::default());
                // SAFETY: a fresh G on no other queue.
                unsafe { q.push_back(extra) };
                let mut rest: Vec<_> = v.iter().copied().filter(|&g| g != want).collect();
                rest.push(extra);
                assert_eq!(drain(q), rest);
            }
        }
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
            let (x, y) = (
                G::new_boxed(Stack::default()),
                G::new_boxed(Stack::default()),
            );
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
