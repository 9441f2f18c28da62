//! A goroutine waiting for fds: `wait_until`, the park callbacks that commit a wait, and the
//! deadline timer. See pd.rs for the two protocols (the single-waiter slot, the waiter
//! lists) and the close protocol; their lock-free steps, and the token protocol below, are in
//! slot.rs, which slot/loom_tests.rs model-checks.
//!
//! # Why a list wait has a "parking" phase
//! A list wait links one node per (fd, direction) from its park callback, one descriptor
//! lock at a time, and the nodes live on the goroutine's stack. If a waker could ready the
//! goroutine as soon as its first node is linked, another M could run it — and it would
//! return and drop the nodes — while the callback still walks them. So while the callback
//! registers, the goroutine's token carries bit 0 (`PARKING`); a waker that finds it so
//! only marks the wait as fired (`FIRED`), and the callback, seeing that at its end, does not
//! park. A slot wait needs none of this: its callback commits with one CAS and touches
//! only the G record after it.

use crate::debug::waitreason::WaitReason;
use crate::netpoll::pd::{self, Node, PollDesc, READ, TABLE, WRITE};
use crate::netpoll::slot::{self, Attempt, Slot};
use crate::netpoll::{self as np, NWAITERS};
use crate::sched::g::{GStatus, G};
use crate::sched::m::{ctx, Ctx};
use crate::sched::proc;
use crate::time::Deadline;
use core::ffi::c_void;
use core::ptr::null_mut;
use core::sync::atomic::Ordering::*;

/// The calling goroutine, if it may park here (a goroutine holding its P, not inside a
/// syscall bracket).
fn parkable() -> Option<*mut G> {
    match ctx() {
        // SAFETY: our own G's status.
        Ctx::G(_, gp) if unsafe { (*gp).status.load(Relaxed) } == GStatus::Running => Some(gp),
        _ => None,
    }
}

/// One fd of a wait: its descriptor and the directions waited for.
#[derive(Clone, Copy)]
struct Ent {
    pd: &'static PollDesc,
    modes: [bool; 2],
}

/// Up to this many fds, the wait's bookkeeping lives on the stack; beyond, in a mapping.
const INLINE: usize = 8;

/// Storage for a wait's entries and nodes.
struct Buf<T: Copy> {
    inline: [core::mem::MaybeUninit<T>; INLINE * 2],
    heap: *mut T,
    cap: usize,
}

impl<T: Copy> Buf<T> {
    fn new(n: usize) -> Option<Self> {
        let mut b = Buf {
            inline: [const { core::mem::MaybeUninit::uninit() }; INLINE * 2],
            heap: null_mut(),
            cap: n,
        };
        if n > INLINE * 2 {
            b.heap = crate::os::mmap_reserve(n * core::mem::size_of::<T>())? as *mut T;
        }
        Some(b)
    }
    fn ptr(&mut self) -> *mut T {
        if self.heap.is_null() {
            self.inline.as_mut_ptr() as *mut T
        } else {
            self.heap
        }
    }
}

impl<T: Copy> Drop for Buf<T> {
    fn drop(&mut self) {
        if !self.heap.is_null() {
            // SAFETY: our own mapping, no longer used.
            unsafe {
                crate::os::munmap(self.heap as *mut u8, self.cap * core::mem::size_of::<T>())
            };
        }
    }
}

fn modes_of(events: u32) -> [bool; 2] {
    let r =
        events & (libc::POLLIN | libc::POLLPRI | libc::POLLRDNORM | libc::POLLRDBAND) as u32 != 0;
    let w = events & (libc::POLLOUT | libc::POLLWRNORM | libc::POLLWRBAND) as u32 != 0;
    // Nothing asked: still woken by errors and hang-ups, which epoll reports to readers.
    [r || !w, w]
}

/// See `netpoll::wait_until`; `fresh`: see `PollDesc::register`.
pub(crate) fn wait_until<R>(
    fds: &[(i32, u32)],
    deadline: Deadline,
    fresh: bool,
    mut check: impl FnMut() -> Option<R>,
) -> Result<R, i32> {
    let Some(gp) = parkable() else {
        return Err(libc::EPERM);
    };
    if crate::sched::fork::in_child() {
        return Err(libc::EPERM);
    }
    np::ensure_init().map_err(|_| libc::EPERM)?;
    let n = fds.len();
    let mut ents = Buf::<Ent>::new(n).ok_or(libc::EPERM)?;
    let ep = ents.ptr();
    let mut begun = 0;
    let r = (|| {
        let mut i = 0;
        while i < n {
            let (fd, events) = fds[i];
            let pd = TABLE
                .get(fd)
                .ok_or(if fd < 0 { libc::EBADF } else { libc::EPERM })?;
            if !pd.close.try_begin_op() {
                // A close is in progress: give back the operations begun so far (the closer
                // may wait for one of them: a close_range, or this fd listed twice), wait
                // for it to finish, start over.
                for j in 0..begun {
                    // SAFETY: entries below `begun` are written.
                    unsafe { (*ep.add(j)).pd.close.end_op() };
                }
                begun = 0;
                i = 0;
                pd.close.wait_closed(proc::gosched);
                continue;
            }
            // SAFETY: i < n <= the buffer's capacity.
            unsafe {
                ep.add(i).write(Ent {
                    pd,
                    modes: modes_of(events),
                })
            };
            begun = i + 1;
            i += 1;
            match pd.register(fd, fresh) {
                Ok(()) => {}
                Err(libc::EBADF) => return Err(libc::EBADF),
                Err(_) => return Err(libc::EPERM),
            }
        }
        // SAFETY: the first n entries are written.
        let ents = unsafe { core::slice::from_raw_parts(ep, n) };
        wait_loop(gp, ents, deadline, &mut check)
    })();
    for i in 0..begun {
        // SAFETY: entries below `begun` are written.
        unsafe { (*ep.add(i)).pd.close.end_op() };
    }
    r
}

fn wait_loop<R>(
    gp: *mut G,
    ents: &[Ent],
    deadline: Deadline,
    check: &mut impl FnMut() -> Option<R>,
) -> Result<R, i32> {
    let single = match ents {
        [e] if e.modes[READ] != e.modes[WRITE] => {
            Some((e.pd, if e.modes[READ] { READ } else { WRITE }))
        }
        _ => None,
    };
    // Go's prepare: an old READY says nothing about the attempt about to be made.
    if let Some((pd, mode)) = single {
        pd.slot[mode].prepare();
    }
    let nn: usize = ents
        .iter()
        .map(|e| e.modes.iter().filter(|&&m| m).count())
        .sum();
    let mut gens = Buf::<u32>::new(nn).ok_or(libc::EPERM)?;
    let gp_ = gens.ptr();
    loop {
        let mut k = 0;
        for e in ents {
            for mode in [READ, WRITE] {
                if e.modes[mode] {
                    // SAFETY: k < nn.
                    unsafe { gp_.add(k).write(e.pd.gate[mode].snapshot()) };
                    k += 1;
                }
            }
        }
        if let Some(r) = check() {
            return Ok(r);
        }
        if ents.iter().any(|e| e.pd.close.is_closing()) {
            return Err(libc::EBADF);
        }
        if deadline.passed() {
            return Err(libc::ETIMEDOUT);
        }
        // SAFETY: all nn generations were written above.
        let gens = unsafe { core::slice::from_raw_parts(gp_, nn) };
        if let Some((pd, mode)) = single {
            if block_slot(gp, pd, mode, deadline) {
                continue;
            }
        }
        block_list(gp, ents, gens, deadline)?;
    }
}

fn next_token(gp: *mut G) -> u64 {
    // SAFETY: the G's own counter.
    unsafe {
        (*gp).pollseq = (*gp).pollseq.wrapping_add(2);
        if (*gp).pollseq == 0 {
            (*gp).pollseq = 2;
        }
        (*gp).pollseq
    }
}

struct SlotCtx {
    slot: *const Slot,
    deadline: Deadline,
    token: u64,
}

/// Go's netpollblock on slot `mode`. False if the slot is another goroutine's (use a list
/// wait); true after a wake-up, a READY, or a close seen before parking.
fn block_slot(gp: *mut G, pd: &PollDesc, mode: usize, deadline: Deadline) -> bool {
    let s = &pd.slot[mode];
    match s.begin_wait(&pd.close, gp as usize) {
        Attempt::Ready => {}
        Attempt::Busy => return false, // WAIT or a G: another waiter's
        // A close that set `closing` before our WAIT: do not park; withdraw the WAIT (a close
        // may have cleared it).
        Attempt::Closed => s.withdraw(gp as usize),
        // A close after our WAIT clears the slot: the commit fails or the G is readied.
        Attempt::Park => {
            park_slot(gp, s, deadline);
            // Only READY (an event while we were waking) is ours to consume: NIL/another
            // goroutine's WAIT or G must be left alone.
            s.finish_woken();
        }
    }
    true
}

/// Park on slot `s`, which holds our WAIT (`Attempt::Park`); back when woken, or at once if
/// the commit failed.
fn park_slot(gp: *mut G, s: &Slot, deadline: Deadline) {
    let token = next_token(gp);
    // SAFETY: our own G; the timer reads these only with the token, published below.
    unsafe {
        (*gp).pollslot.store(s as *const Slot as usize, Relaxed);
        slot::arm(&(*gp).pollwait, token);
    }
    let mut c = SlotCtx {
        slot: s,
        deadline,
        token,
    };
    NWAITERS.fetch_add(1, SeqCst);
    let _ = proc::gopark(Some(commit_slot), &mut c as *mut SlotCtx as *mut c_void, WaitReason::IoWait);
    NWAITERS.fetch_sub(1, Relaxed);
    // SAFETY: our own G.
    unsafe {
        slot::clear(&(*gp).pollwait);
        if deadline != Deadline::NEVER {
            (*gp).timer.stop();
        }
    }
}

/// Park callback of a slot wait (Go's netpollblockcommit).
unsafe extern "C" fn commit_slot(gp: *mut G, c: *mut c_void) -> bool {
    // SAFETY: c is the parking goroutine's SlotCtx, alive until the CAS below succeeds (after
    // it the goroutine may run again elsewhere: read everything first).
    let (slot, deadline, token) = unsafe {
        let c = &*(c as *const SlotCtx);
        (&*c.slot, c.deadline, c.token)
    };
    // Arm the deadline before publishing the G: after the CAS the G may be readied, run, and
    // re-arm its timer for something else (a sleep), which a late arming here would clobber.
    if deadline != Deadline::NEVER {
        // SAFETY: Gs are never freed; a stale arming is ignored by the token check.
        unsafe {
            (*gp)
                .timer
                .modify(deadline.0, timeout, gp as usize, token as usize)
        };
    }
    slot.commit(gp as usize)
}

struct ListCtx<'a> {
    ents: &'a [Ent],
    gens: &'a [u32],
    nodes: *mut Node,
    /// Nodes counted in their descriptor's `nwait` (a prefix, in order).
    counted: usize,
    deadline: Deadline,
    token: u64,
}

/// A list wait on every (fd, direction) of `ents`.
fn block_list(gp: *mut G, ents: &[Ent], gens: &[u32], deadline: Deadline) -> Result<(), i32> {
    let mut nodes = Buf::<Node>::new(gens.len()).ok_or(libc::EPERM)?;
    let token = next_token(gp);
    // SAFETY: our own G.
    unsafe {
        (*gp).pollslot.store(0, Relaxed);
        slot::start_parking(&(*gp).pollwait, token);
    }
    let mut c = ListCtx {
        ents,
        gens,
        nodes: nodes.ptr(),
        counted: 0,
        deadline,
        token,
    };
    NWAITERS.fetch_add(1, SeqCst);
    let _ = proc::gopark(Some(commit_list), &mut c as *mut ListCtx as *mut c_void, WaitReason::IoWait);
    NWAITERS.fetch_sub(1, Relaxed);
    // SAFETY: our own G.
    unsafe {
        slot::clear(&(*gp).pollwait);
        if deadline != Deadline::NEVER {
            (*gp).timer.stop();
        }
    }
    // Unlink what is still linked and uncount every counted node.
    let mut k = 0;
    for e in ents {
        for mode in [READ, WRITE] {
            if !e.modes[mode] {
                continue;
            }
            if k < c.counted {
                let mut l = e.pd.lock_lists();
                // SAFETY: node k was initialised by the callback (it is counted).
                pd::unlink(&mut l, mode, unsafe { c.nodes.add(k) });
                e.pd.gate[mode].delist();
            }
            k += 1;
        }
    }
    Ok(())
}

/// Park callback of a list wait: link a node on every (fd, direction), unless an event came
/// after the last attempt at the call or a close began; then arm the deadline.
unsafe extern "C" fn commit_list(gp: *mut G, c: *mut c_void) -> bool {
    // SAFETY: c is the parking goroutine's ListCtx; while its token carries PARKING nobody
    // readies it, so its stack stays put until this returns.
    let c = unsafe { &mut *(c as *mut ListCtx) };
    let mut abort = false;
    let mut k = 0;
    'all: for e in c.ents {
        for mode in [READ, WRITE] {
            if !e.modes[mode] {
                continue;
            }
            let mut l = e.pd.lock_lists();
            // SAFETY: k < the node count; the node is ours.
            let n = unsafe { c.nodes.add(k) };
            // SAFETY: n is in bounds and ours (above).
            unsafe {
                n.write(Node {
                    next: null_mut(),
                    prev: null_mut(),
                    gp,
                    token: c.token,
                    linked: false,
                })
            };
            let park = e.pd.gate[mode].enlist(c.gens[k], &e.pd.close);
            c.counted = k + 1;
            if !park {
                abort = true;
                break 'all;
            }
            pd::link(&mut l, mode, n);
            drop(l);
            k += 1;
        }
    }
    // SAFETY: Gs are never freed.
    let w = unsafe { &(*gp).pollwait };
    if abort {
        slot::clear(w);
        return false;
    }
    if c.deadline != Deadline::NEVER {
        // SAFETY: as in commit_slot.
        unsafe {
            (*gp)
                .timer
                .modify(c.deadline.0, timeout, gp as usize, c.token as usize)
        };
    }
    // End of the parking phase: park unless a waker fired meanwhile.
    slot::end_parking(w, c.token)
}

/// The deadline timer of a wait (arg = the G, seq = its token).
unsafe fn timeout(arg: usize, seq: usize) {
    let gp = arg as *mut G;
    let token = seq as u64;
    // SAFETY: Gs are never freed; the fields read are atomic.
    unsafe {
        let slot = (*gp).pollslot.load(Relaxed);
        if slot != 0 {
            if (*gp).pollwait.load(Acquire) != token {
                return; // stale: that wait is over
            }
            // A token check racing with a new wait on the same slot can at worst wake that
            // wait early; it then finds its deadline not passed and waits again.
            let s = &*(slot as *const Slot);
            // Not committed yet (armed before the commit): `timeout` clears the WAIT, so the
            // commit fails and the goroutine does not park; it then sees its deadline passed.
            if s.timeout(gp as usize) {
                ready(gp);
            }
        } else if slot::win(&(*gp).pollwait, token) {
            ready(gp);
        }
    }
}

/// Ready a G whose wait this caller won.
pub(crate) fn ready(gp: *mut G) {
    // SAFETY: gp is a G of this runtime.
    if unsafe { proc::ready(gp) }.is_err() {
        throw!("netpoll: woke a goroutine that was not parked");
    }
}
