//! The hooks' view of each fd: what it is, who made it non-blocking, and the user's own
//! settings that the runtime must honour (api.md: O_NONBLOCK as the program set it, emulated
//! SO_RCVTIMEO/SO_SNDTIMEO).
//!
//! # The fd-state design
//! One record per fd number in an `FdTable` (no fixed size; zeroed, type-stable entries, so a
//! lookup never allocates after the first use of a 4096-fd chunk and never frees).
//!
//! - **Kind**, learned lazily on the first hooked call that needs it (`fstat`; for sockets
//!   `getsockopt(SO_TYPE)` and the kernel's SO_RCVTIMEO/SO_SNDTIMEO, so inherited sockets and
//!   sockets made by `syscall(2)` are covered), or set by the creating hook: `Sock`, `Pipe`
//!   (FIFOs, ttys, eventfds, epoll fds: anything else the netpoller accepts) or `File`
//!   (regular files, directories, block devices and whatever epoll refuses: the syscall path).
//! - **Owned**: created in this process through the interposed `socket`, `socketpair`,
//!   `accept`, `accept4`, `pipe`, `pipe2` (any context, hooks on). Only an owned open file
//!   description may have its blocking mode changed by the runtime; any other (stdin,
//!   inherited pipes and sockets, fds received over SCM_RIGHTS, dups of those) is never
//!   flipped.
//! - **RT_NB**: the runtime set O_NONBLOCK on this owned description, for good. That happens
//!   lazily, the first time a goroutine makes a call there that has no per-call non-blocking
//!   form: `accept`/`accept4` on a listening socket, `read`/`write`(v) on a pipe. Socket data
//!   calls never need it (MSG_DONTWAIT per call), so connected sockets keep the user's mode
//!   (stdio on them, fdopen'ed, keeps working); `connect` flips an owned socket only for its own
//!   duration (io.rs). A program that never runs a goroutine never has an fd flipped.
//! - **USER_NB**: on an RT_NB fd, whether the *user* wants O_NONBLOCK (F_SETFL, FIONBIO and the
//!   creation flags update it; F_GETFL shows it instead of the kernel's bit). Where RT_NB is
//!   clear the kernel's flag is the user's, read with F_GETFL when it matters (after EAGAIN).
//! - **Timeouts**: SO_RCVTIMEO/SO_SNDTIMEO as the user set them (ns, 0 = none): setsockopt
//!   passes them to the kernel too (getsockopt shows them; calls that block in the kernel —
//!   the syscall path — get the kernel's own timeout) and records them here, because a
//!   non-blocking attempt never sees them.
//!
//! - **NO_FLIP**: `fdopen` gave the fd to stdio, whose reads and writes do not go through the
//!   hooks and take EAGAIN for an error: the runtime's O_NONBLOCK is taken back (if it had
//!   set it) and never set again.
//!
//! dup, dup2, dup3 and fcntl(F_DUPFD*) copy the record to the new number (one description, two
//! numbers); a later F_SETFL through one number updates only that number's USER_NB (known
//! approximation). close, dup2/dup3 onto a number, close_range and fclose clear it. An fd
//! closed behind the hooks' back (a raw `syscall(SYS_close)`, glibc-internal closes) keeps a
//! stale record until its number is reused by a hooked creator; a stale `Sock` record on a
//! number that is no longer a socket is corrected when a socket call fails with ENOTSOCK.

use crate::netpoll::fdtab::{FdTable, Zeroed};
use core::sync::atomic::{AtomicI64, AtomicU32, Ordering::*};

/// `Fd::word` bits.
const KNOWN: u32 = 1 << 0;
const SOCK: u32 = 1 << 1;
const PIPE: u32 = 1 << 2;
const FILE: u32 = 1 << 3;
const OWNED: u32 = 1 << 4;
const RT_NB: u32 = 1 << 5;
const USER_NB: u32 = 1 << 6;
const NO_FLIP: u32 = 1 << 7;
/// Socket type (SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET...) in bits 8..16.
const TYPE_SHIFT: u32 = 8;

pub(crate) struct Fd {
    /// KNOWN|kind|OWNED|RT_NB|USER_NB|type. Written with Release by creators, classification,
    /// flips and fcntl, read with Acquire: a reader that sees RT_NB also sees the kernel's
    /// O_NONBLOCK the flipping thread set before its store (fcntl returned first).
    word: AtomicU32,
    /// SO_RCVTIMEO / SO_SNDTIMEO in ns (0 = none). Relaxed: independent values, each read whole;
    /// a call racing the setsockopt may use either value, as with the kernel's own.
    rcvtimeo: AtomicI64,
    sndtimeo: AtomicI64,
}

// SAFETY: all-zero is "unknown, no timeouts".
unsafe impl Zeroed for Fd {}

static TABLE: FdTable<Fd> = FdTable::new();

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Kind {
    Sock,
    Pipe,
    File,
}

/// A snapshot of one fd's record.
#[derive(Clone, Copy)]
pub(crate) struct State {
    pub(crate) fd: i32,
    word: u32,
    rec: &'static Fd,
}

impl State {
    pub(crate) fn kind(&self) -> Kind {
        if self.word & SOCK != 0 {
            Kind::Sock
        } else if self.word & PIPE != 0 {
            Kind::Pipe
        } else {
            Kind::File
        }
    }
    pub(crate) fn owned(&self) -> bool {
        self.word & OWNED != 0
    }
    /// The runtime set O_NONBLOCK on the description (for good).
    pub(crate) fn rt_nb(&self) -> bool {
        self.word & RT_NB != 0
    }
    /// On an RT_NB fd: the user's O_NONBLOCK.
    pub(crate) fn user_nb(&self) -> bool {
        self.word & USER_NB != 0
    }
    /// stdio owns this fd (fdopen): never flip it.
    pub(crate) fn no_flip(&self) -> bool {
        self.word & NO_FLIP != 0
    }
    pub(crate) fn sock_type(&self) -> i32 {
        ((self.word >> TYPE_SHIFT) & 0xff) as i32
    }
    /// A byte stream, where a blocking write writes everything (stream sockets, pipes).
    pub(crate) fn stream(&self) -> bool {
        match self.kind() {
            Kind::Sock => self.sock_type() == libc::SOCK_STREAM,
            _ => true,
        }
    }
    /// The emulated timeout for receiving (`out` false) or sending, in ns; 0 = none.
    pub(crate) fn timeout(&self, out: bool) -> i64 {
        if out {
            self.rec.sndtimeo.load(Relaxed)
        } else {
            self.rec.rcvtimeo.load(Relaxed)
        }
    }
    /// Whether the user wants this call not to block: USER_NB where the runtime owns the
    /// kernel's flag, else the kernel's flag (one fcntl).
    pub(crate) fn user_nonblocking(&self) -> bool {
        if self.rt_nb() {
            self.user_nb()
        } else {
            getfl(self.fd).is_some_and(|fl| fl & libc::O_NONBLOCK != 0)
        }
    }
}

/// F_GETFL by raw syscall (None if it fails).
pub(crate) fn getfl(fd: i32) -> Option<i32> {
    // SAFETY: F_GETFL takes no argument and writes no memory.
    let fl = unsafe { libc::syscall(libc::SYS_fcntl, fd, libc::F_GETFL) };
    (fl >= 0).then_some(fl as i32)
}

fn setfl(fd: i32, fl: i32) -> bool {
    // SAFETY: F_SETFL takes an int flag set and writes no memory.
    unsafe { libc::syscall(libc::SYS_fcntl, fd, libc::F_SETFL, fl) == 0 }
}

/// Set or clear O_NONBLOCK on `fd`'s description (raw syscalls). False if it failed.
pub(crate) fn set_kernel_nb(fd: i32, on: bool) -> bool {
    let Some(fl) = getfl(fd) else { return false };
    let want = if on {
        fl | libc::O_NONBLOCK
    } else {
        fl & !libc::O_NONBLOCK
    };
    want == fl || setfl(fd, want)
}

/// The record of `fd`, classified if it was not (None: not open, or no memory for the table —
/// the caller then forwards to libc, which reports the fd's error itself).
pub(crate) fn state(fd: i32) -> Option<State> {
    let rec = TABLE.get(fd)?;
    let mut word = rec.word.load(Acquire);
    if word & KNOWN == 0 {
        word = classify(fd, rec)?;
    }
    Some(State { fd, word, rec })
}

/// The record of `fd` if it is known already (no classification, no allocation): enough for
/// callers that only care whether the runtime made it non-blocking (RT_NB implies KNOWN) —
/// plain threads, fcntl, ioctl.
pub(crate) fn known(fd: i32) -> Option<State> {
    let rec = TABLE.peek(fd)?;
    let word = rec.word.load(Acquire);
    (word & KNOWN != 0).then_some(State { fd, word, rec })
}

/// Learn what an fd the hooks never saw created is (see "Kind").
#[cold]
fn classify(fd: i32, rec: &'static Fd) -> Option<u32> {
    // SAFETY: an all-zero stat is valid; fstat writes it.
    let mut st: libc::stat = unsafe { core::mem::zeroed() };
    // SAFETY: st is a valid out-pointer.
    if unsafe { libc::syscall(libc::SYS_fstat, fd, &mut st as *mut libc::stat) } != 0 {
        return None;
    }
    let word = match st.st_mode & libc::S_IFMT {
        libc::S_IFSOCK => {
            let ty = sockopt_int(fd, libc::SO_TYPE).unwrap_or(libc::SOCK_STREAM);
            rec.rcvtimeo
                .store(sockopt_timeout(fd, libc::SO_RCVTIMEO), Relaxed);
            rec.sndtimeo
                .store(sockopt_timeout(fd, libc::SO_SNDTIMEO), Relaxed);
            KNOWN | SOCK | ((ty as u32 & 0xff) << TYPE_SHIFT)
        }
        libc::S_IFREG | libc::S_IFDIR | libc::S_IFBLK => KNOWN | FILE,
        // FIFOs, character devices, anonymous inodes: whatever epoll accepts. Asked only
        // where the runtime runs in this process: a fork child must not touch the parent's
        // epoll set (and a record made elsewhere is used by goroutines only, whose
        // wait_until reports EPERM for an fd epoll refuses: the syscall path then).
        _ if !super::runtime_here() => KNOWN | PIPE,
        _ => match crate::netpoll::pollable(fd) {
            Ok(()) => KNOWN | PIPE,
            Err(_) => KNOWN | FILE,
        },
    };
    // A creator or another classifier may have won meanwhile: theirs stands.
    match rec.word.compare_exchange(0, word, Release, Acquire) {
        Ok(_) => Some(word),
        Err(w) => Some(w),
    }
}

fn sockopt_int(fd: i32, opt: i32) -> Option<i32> {
    let mut v: i32 = 0;
    let mut len = core::mem::size_of::<i32>() as libc::socklen_t;
    // SAFETY: v and len are valid out-pointers of the sizes given.
    let r = unsafe {
        libc::syscall(
            libc::SYS_getsockopt,
            fd,
            libc::SOL_SOCKET,
            opt,
            &mut v as *mut i32,
            &mut len as *mut libc::socklen_t,
        )
    };
    (r == 0).then_some(v)
}

fn sockopt_timeout(fd: i32, opt: i32) -> i64 {
    let mut tv = libc::timeval {
        tv_sec: 0,
        tv_usec: 0,
    };
    let mut len = core::mem::size_of::<libc::timeval>() as libc::socklen_t;
    // SAFETY: tv and len are valid out-pointers of the sizes given.
    let r = unsafe {
        libc::syscall(
            libc::SYS_getsockopt,
            fd,
            libc::SOL_SOCKET,
            opt,
            &mut tv as *mut libc::timeval,
            &mut len as *mut libc::socklen_t,
        )
    };
    if r == 0 {
        timeval_ns(&tv)
    } else {
        0
    }
}

/// A timeval as ns (saturating; negative = 0, as the kernel rejects those anyway).
pub(crate) fn timeval_ns(tv: &libc::timeval) -> i64 {
    if tv.tv_sec < 0 || tv.tv_usec < 0 {
        return 0;
    }
    tv.tv_sec
        .saturating_mul(1_000_000_000)
        .saturating_add(tv.tv_usec.saturating_mul(1000))
}

/// A hooked creator made `fd` (see "Owned"). A SOCK_NONBLOCK/O_NONBLOCK given at creation
/// needs no record: RT_NB is clear, so the kernel's flag is the user's.
pub(crate) fn created(fd: i32, kind: Kind, sock_type: i32) {
    crate::netpoll::fd_new(fd);
    let Some(rec) = TABLE.get(fd) else { return };
    let k = match kind {
        Kind::Sock => SOCK,
        Kind::Pipe => PIPE,
        Kind::File => FILE,
    };
    rec.rcvtimeo.store(0, Relaxed);
    rec.sndtimeo.store(0, Relaxed);
    rec.word.store(
        KNOWN | k | OWNED | ((sock_type as u32 & 0xff) << TYPE_SHIFT),
        Release,
    );
}

/// `fd` no longer names what it named (closed, or about to be replaced by dup2/dup3).
pub(crate) fn forget(fd: i32) {
    if let Some(rec) = TABLE.peek(fd) {
        rec.word.store(0, Release);
        rec.rcvtimeo.store(0, Relaxed);
        rec.sndtimeo.store(0, Relaxed);
    }
}

/// `forget` for every fd in `lo..=hi` that has a record (chunks never touched are skipped).
pub(crate) fn forget_range(lo: u32, hi: u32) {
    let mut fd = lo as u64;
    let hi = (hi as u64).min(i32::MAX as u64);
    while fd <= hi {
        if TABLE.peek(fd as i32).is_some() {
            forget(fd as i32);
            fd += 1;
        } else {
            fd = (fd / 4096 + 1) * 4096; // fdtab's chunk size: the whole chunk is unused
        }
    }
}

/// `to` now names the same description as `from` (dup family).
pub(crate) fn copy(from: i32, to: i32) {
    crate::netpoll::fd_new(to);
    match TABLE.peek(from) {
        Some(src) if src.word.load(Acquire) != 0 => {
            let Some(dst) = TABLE.get(to) else { return };
            dst.rcvtimeo.store(src.rcvtimeo.load(Relaxed), Relaxed);
            dst.sndtimeo.store(src.sndtimeo.load(Relaxed), Relaxed);
            dst.word.store(src.word.load(Acquire), Release);
        }
        _ => forget(to),
    }
}

/// The number was found not to be a socket (ENOTSOCK on a Sock record): learn it again.
pub(crate) fn reclassify(fd: i32) {
    forget(fd);
}

/// Make an owned fd non-blocking for good (see "RT_NB"). Returns the new state, or None if
/// the fcntl failed (the caller then uses the syscall path).
pub(crate) fn flip(s: &State) -> Option<State> {
    let fl = getfl(s.fd)?;
    let user = fl & libc::O_NONBLOCK != 0;
    if !user && !setfl(s.fd, fl | libc::O_NONBLOCK) {
        return None;
    }
    let add = RT_NB | if user { USER_NB } else { 0 };
    // Release: pairs with state()'s Acquire (the kernel's flag is set before this store).
    let word = s.rec.word.fetch_or(add, Release) | add;
    Some(State { word, ..*s })
}

/// stdio took the fd (fdopen): glibc's stdio calls the kernel directly (not through the hooks)
/// and treats EAGAIN as an error, so the fd must block as the user set it. An RT_NB fd gets its
/// kernel flag back to the user's view (the runtime stops owning it), and none is flipped
/// again (NO_FLIP: goroutines use MSG_DONTWAIT on sockets, the syscall path otherwise).
pub(crate) fn stdio_took(fd: i32) {
    let Some(s) = state(fd) else { return };
    if s.rt_nb() && !s.user_nb() {
        set_kernel_nb(fd, false);
    }
    s.rec.word.fetch_and(!(RT_NB | USER_NB), Release);
    s.rec.word.fetch_or(NO_FLIP, Release);
}

/// The user's O_NONBLOCK changed (F_SETFL, FIONBIO) on an RT_NB fd.
pub(crate) fn set_user_nb(s: &State, on: bool) {
    if on {
        s.rec.word.fetch_or(USER_NB, Release);
    } else {
        s.rec.word.fetch_and(!USER_NB, Release);
    }
}

/// setsockopt(SO_RCVTIMEO/SO_SNDTIMEO) succeeded: record it.
pub(crate) fn set_timeout(fd: i32, out: bool, ns: i64) {
    if let Some(s) = state(fd) {
        if out {
            s.rec.sndtimeo.store(ns, Relaxed);
        } else {
            s.rec.rcvtimeo.store(ns, Relaxed);
        }
    }
}
