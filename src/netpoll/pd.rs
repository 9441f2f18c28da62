//! Poll descriptors (Go's pollDesc): one per fd number, in an `FdTable`, never freed. A
//! closed fd's descriptor is reused by the next file with that number, told apart by
//! `fdseq`, which the epoll registration carries in its event data: an event that was queued
//! for the old file finds a different sequence and is dropped.
//!
//! The lock-free parts of the protocols below live in slot.rs (`Slot`, `ListGate`,
//! `CloseGate`), model-checked by slot/loom_tests.rs.
//!
//! # Wait slots (Go's rg/wg): the single-waiter protocol
//! Each direction has a word: `PD_NIL`, `PD_READY` (an event came while nobody waited),
//! `PD_WAIT` (a goroutine is about to park), or the parked G. The waiter moves NIL -> WAIT
//! (or consumes READY), checks `closing`, and parks; its park callback commits WAIT -> G
//! (`commit_slot`). An event (`unblock` with `ioready`) moves WAIT or G to READY or NIL and
//! readies a G it took out: if it came before the commit, the commit's CAS fails and the
//! goroutine does not park. So no wake-up is lost, and no lock is held across the park.
//! A timeout or a close takes the G out the same way without making the slot READY.
//!
//! # Waiter lists: several waiters, several fds
//! A second goroutine waiting in a direction whose slot is taken, and every wait on more
//! than one fd or direction (poll, select, epoll_wait, gmp_wait_fd for both directions),
//! links a node per (fd, direction) into the descriptor's list, under its lock, from the
//! park callback (wait.rs). Wakers take the G with a CAS on its `pollwait` token. Each
//! direction has an event generation `gen`: an event bumps it and then looks at `nwait`; a
//! waiter bumps `nwait` and then checks `gen` against the value it read before its last
//! attempt at the call, under the lock; if it changed it does not park (Dekker's pattern,
//! SeqCst on both sides).
//!
//! # Closing (Go's close protocol)
//! `closing` is set under the lock; every waiter is woken and sees it (EBADF); new
//! operations that see it wait for the close to finish (they are about a file that is going
//! away, or about the next file with this number). `ops` counts operations in flight: the
//! closer waits for it to drain before the real close. `ops` (incremented, then `closing`
//! read) and `closing` (set, then `ops` read) are another SeqCst Dekker pair.

use crate::lock::{Mutex, Rank};
use crate::netpoll::epoll;
use crate::netpoll::fdtab::{FdTable, Zeroed};
use crate::netpoll::slot::{CloseGate, ListGate, Slot};
use crate::sched::g::G;
use core::ptr::null_mut;
use core::sync::atomic::{AtomicU32, Ordering::*};

/// Registration states.
const REG_NONE: u32 = 0;
const REG_DONE: u32 = 1;
/// epoll refused the fd (EPERM: regular file, directory): not pollable until closed.
const REG_REFUSED: u32 = 2;

pub(crate) const READ: usize = 0;
pub(crate) const WRITE: usize = 1;

/// A waiter-list node (wait.rs keeps them on the waiting goroutine's stack; the goroutine
/// unlinks them under the lock before its frame goes away).
#[derive(Clone, Copy)]
pub(crate) struct Node {
    pub next: *mut Node,
    pub prev: *mut Node,
    pub gp: *mut G,
    pub token: u64,
    pub linked: bool,
}

pub(crate) struct Lists {
    pub head: [*mut Node; 2],
}

// SAFETY: the nodes are reached only under the descriptor's lock.
unsafe impl Send for Lists {}

pub(crate) struct PollDesc {
    /// Wait slots per direction (see the module note).
    pub slot: [Slot; 2],
    /// Registration sequence: bumped when a close finishes; events carry the value of their
    /// registration.
    pub fdseq: AtomicU32,
    pub reg: AtomicU32,
    /// `closing` (set under `lists`' lock by a close, read by anyone) and the operations in
    /// flight (wait.rs): see the module note.
    pub close: CloseGate,
    /// Event generations and list-waiter counts per direction (see the module note).
    pub gate: [ListGate; 2],
    /// The waiter lists, and the closing transition (rank PollDesc).
    pub lists: Mutex<Lists>,
}

// SAFETY: all-zero is a fresh descriptor: slots NIL, sequence 0, not registered, not closing,
// no operations, empty lists under an unlocked lock of rank 0, which is Rank::PollDesc.
unsafe impl Zeroed for PollDesc {}

pub(crate) static TABLE: FdTable<PollDesc> = FdTable::new();

// The zeroed lock of a descriptor has rank 0: it must be the descriptor's rank.
const _: () = assert!(Rank::PollDesc as u32 == 0);

impl PollDesc {
    /// The tag for this descriptor's current registration.
    pub(crate) fn tag(&self, fd: i32) -> u64 {
        (self.fdseq.load(Acquire) as u64) << 32 | fd as u32 as u64
    }

    pub(crate) fn lock_lists(&self) -> crate::lock::Guard<'_, Lists> {
        self.lists.lock()
    }

    /// Register the fd with epoll if need be. Ok if it is in the set.
    ///
    /// The state is cached from the last registration until the fd's close (through the
    /// hooks). `fresh` asks epoll again instead — for callers that may see fds closed behind
    /// the runtime's back (gmp_wait_fd works without the hooks): epoll's interest is keyed by
    /// (fd, open file), so adding again is EEXIST for the same file and a new registration
    /// for a new one, which reports its current readiness at once.
    pub(crate) fn register(&self, fd: i32, fresh: bool) -> Result<(), i32> {
        match self.reg.load(Acquire) {
            _ if fresh => {}
            REG_DONE => return Ok(()),
            REG_REFUSED => return Err(libc::EPERM),
            _ => {}
        }
        match epoll::ctl_add(fd, self.tag(fd)) {
            // EEXIST: a racing registration won (same tag: fdseq changes only in a close,
            // which waits for every operation, ours included).
            Ok(()) | Err(libc::EEXIST) => {
                self.reg.store(REG_DONE, Release);
                Ok(())
            }
            Err(libc::EPERM) => {
                self.reg.store(REG_REFUSED, Release);
                Err(libc::EPERM)
            }
            Err(e) => Err(e),
        }
    }

    /// After the real close: fresh for the next file with this number.
    pub(crate) fn reset(&self) {
        self.slot[READ].reset();
        self.slot[WRITE].reset();
        self.fdseq.fetch_add(1, Release);
        self.reg.store(REG_NONE, Release);
    }

    pub(crate) fn registered(&self) -> bool {
        self.reg.load(Acquire) == REG_DONE
    }

    /// Go's netpollunblock: take the waiting G out of slot `mode` (null if none). `ioready`:
    /// an event (the slot becomes READY if nobody waits); otherwise a timeout or close.
    pub(crate) fn unblock(&self, mode: usize, ioready: bool) -> *mut G {
        self.slot[mode].unblock(ioready) as *mut G
    }

    /// An event for directions `modes` (bit READ/WRITE): collect the Gs to ready into `out`.
    pub(crate) fn ready(&self, modes: [bool; 2], out: &mut impl FnMut(*mut G)) {
        for mode in [READ, WRITE] {
            if !modes[mode] {
                continue;
            }
            let gp = self.unblock(mode, true);
            if !gp.is_null() {
                out(gp);
            }
            if self.gate[mode].event() {
                let mut l = self.lock_lists();
                take_list(&mut l, mode, out);
            }
        }
    }

    /// Wake every waiter (a close). The caller set `closing` under `l` (`start_close`).
    pub(crate) fn wake_all(&self, l: &mut Lists, out: &mut impl FnMut(*mut G)) {
        for mode in [READ, WRITE] {
            let gp = self.unblock(mode, false);
            if !gp.is_null() {
                out(gp);
            }
            self.gate[mode].bump();
            take_list(l, mode, out);
        }
    }
}

/// Unlink every node of list `mode`, passing on each G whose wait this wins.
fn take_list(l: &mut Lists, mode: usize, out: &mut impl FnMut(*mut G)) {
    let mut n = l.head[mode];
    l.head[mode] = null_mut();
    while !n.is_null() {
        // SAFETY: linked nodes are live: their goroutine unlinks them under this lock (which
        // we hold) before its frame goes away.
        unsafe {
            let next = (*n).next;
            (*n).linked = false;
            (*n).next = null_mut();
            (*n).prev = null_mut();
            if crate::netpoll::slot::win(&(*(*n).gp).pollwait, (*n).token) {
                out((*n).gp);
            }
            n = next;
        }
    }
}

/// Link `n` at the head of list `mode`.
pub(crate) fn link(l: &mut Lists, mode: usize, n: *mut Node) {
    // SAFETY: n is the caller's node (live until it unlinks it); the list is ours under l.
    unsafe {
        (*n).prev = null_mut();
        (*n).next = l.head[mode];
        if !(*n).next.is_null() {
            (*(*n).next).prev = n;
        }
        (*n).linked = true;
    }
    l.head[mode] = n;
}

/// Unlink `n` if it is still linked.
pub(crate) fn unlink(l: &mut Lists, mode: usize, n: *mut Node) {
    // SAFETY: as link.
    unsafe {
        if !(*n).linked {
            return;
        }
        if (*n).prev.is_null() {
            l.head[mode] = (*n).next;
        } else {
            (*(*n).prev).next = (*n).next;
        }
        if !(*n).next.is_null() {
            (*(*n).next).prev = (*n).prev;
        }
        (*n).linked = false;
    }
}
