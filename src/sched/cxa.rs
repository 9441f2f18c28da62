//! # C++ exception state travels with the goroutine
//! The C++ runtime keeps the exceptions a thread is handling (the `catch` blocks entered and
//! not left: what `throw;` and `std::current_exception()` see) and the count of exceptions it
//! is propagating (`std::uncaught_exceptions()`) in one per-thread struct, `__cxa_eh_globals`,
//! found by `__cxa_get_globals()` (the Itanium C++ ABI; libstdc++ and libc++abi alike). That
//! is a goroutine's state, not a thread's: a goroutine that switches inside a catch block
//! would otherwise rethrow the exception of whichever goroutine ran on its thread meanwhile,
//! or reach `std::terminate` on another thread. So, like errno, it is saved into the G when
//! it is switched out (`dropg`) and restored when it runs again (`execute`): every switch
//! (yield, park, preemption, syscall, exit) passes through that pair. A G that exits
//! abandons its state (a goroutine ended inside a catch block leaks that exception, as a
//! thread does under pthread_exit); a fresh or reused G starts empty (`G::prepare`).
//!
//! Cost: each M caches its thread's struct address (fixed for the thread's life, like
//! `errno_addr`), so each side of a switch is a load, a branch and a 12-byte copy; in a
//! program without a C++ runtime the address stays null, and each side is two loads and two
//! branches (the second: has a C++ runtime been found since?). About 12-15 instructions per
//! gosched of ~270 (callgrind), within the timing noise.
//!
//! libgmp must not depend on a C++ runtime, so `__cxa_get_globals` is looked up at run time:
//! in the global scope (`dlsym(RTLD_DEFAULT)`), else as a function of an already loaded
//! libstdc++ or libc++abi (`dlopen(RTLD_NOLOAD)`: a C++ plugin a C program opened with
//! RTLD_LOCAL is not in the global scope). The reference that lookup takes is kept: the
//! cached addresses point into that library's TLS. (libstdc++ cannot be unloaded anyway: it
//! has STB_GNU_UNIQUE symbols.) Looked up at start-up (`init`) and, until found, by the
//! template thread whenever the loader's count of loaded objects (`dlpi_adds`) changes
//! (`poll`) — not by sysmon: `dl_iterate_phdr` takes the loader's lock, which a goroutine
//! preempted inside dlopen may hold (template.rs). sysmon nudges the template thread every
//! 100 ms while any P runs, so a C program that dlopens a C++ library after the runtime
//! started is noticed within about 100 ms. A goroutine that
//! catches an exception and switches before that is not covered; linking the C++ library, or
//! loading it before the first gmp call, is exact. Not covered at all: a C++ runtime linked
//! statically into an executable that does not export it (`-static-libstdc++` without
//! `-rdynamic`) or into a dlopen'ed library (nothing names it).
//!
//! Each M calls `__cxa_get_globals` itself — on its own thread (the struct is that thread's),
//! never from a signal handler — at `mstart`, or, for an M that started before the lookup
//! succeeded, lazily at its next switch (`pickup`). For a dlopen'ed C++ runtime the thread's
//! first access may allocate its TLS block (glibc's `__tls_get_addr`), so the lazy pickup is
//! skipped while the M has a locked G: that covers the preemption path (a preempted G is
//! locked to its M, and its thread may be inside malloc) — and a locked G needs no carrying,
//! as its thread runs nothing else. So an M starts carrying only at a switch of an unlocked G
//! (saving before it restores anything), and a preempted G always resumes on the thread state
//! it left. (libstdc++'s `__cxa_get_globals` itself is `&tls_var` through
//! `__tls_get_addr`, allocation-free for a library loaded at start-up; checked with objdump.)
//!
//! Rejected: interposing `dlopen` to notice loads at once (glibc picks the search path and
//! namespace from dlopen's return address, which a wrapper would make libgmp's); calling
//! `__cxa_get_globals` at every switch (a PLT call and `__tls_get_addr` each time); polling
//! the loader at every switch of a C program (`dl_iterate_phdr` costs ~25 ns, against ~45 ns
//! for a whole gosched).

use crate::sched::g::G;
use crate::sched::m::M;
use core::ptr::null_mut;
use core::sync::atomic::{AtomicPtr, AtomicU64, Ordering::*};
use libc::c_void;

/// The Itanium C++ ABI's `__cxa_eh_globals` (x86-64: no ARM EHABI field), copied as a value.
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct EhGlobals {
    /// `__cxa_exception *caughtExceptions`: the handled exceptions, innermost first, linked
    /// through the exception objects (heap, not thread-bound).
    caught: *mut c_void,
    /// `unsigned int uncaughtExceptions`: thrown and not yet caught.
    uncaught: u32,
}

impl EhGlobals {
    /// A goroutine that handles and propagates nothing.
    pub(crate) const EMPTY: EhGlobals = EhGlobals {
        caught: null_mut(),
        uncaught: 0,
    };
}

type GetGlobals = unsafe extern "C" fn() -> *mut EhGlobals;

/// `__cxa_get_globals`, once found (null until then; never changes after). Written once by
/// `resolve` (Release, after the lookup); read by every M (Acquire where it is called).
static GET_GLOBALS: AtomicPtr<c_void> = AtomicPtr::new(null_mut());
/// The loader's `dlpi_adds` when the template thread last looked. Its own (atomic only to be
/// a static).
static LAST_ADDS: AtomicU64 = AtomicU64::new(0);

/// At start-up (schedinit), before any M exists.
pub(crate) fn init() {
    LAST_ADDS.store(loader_adds(), Relaxed);
    resolve();
}

/// Not found yet (sysmon then nudges the template thread now and then).
#[inline]
pub(crate) fn unresolved() -> bool {
    GET_GLOBALS.load(Relaxed).is_null()
}

/// The template thread, each time it wakes: until found, look again whenever an object was
/// loaded. May block on the loader's lock (nothing waits for this thread).
pub(crate) fn poll() {
    if unresolved() {
        poll_slow();
    }
}

#[cold]
#[inline(never)]
fn poll_slow() {
    let adds = loader_adds();
    if adds != LAST_ADDS.load(Relaxed) {
        LAST_ADDS.store(adds, Relaxed);
        resolve();
    }
}

/// How many objects the loader has loaded so far (a generation count: it only grows).
fn loader_adds() -> u64 {
    unsafe extern "C" fn first(info: *mut libc::dl_phdr_info, _: usize, data: *mut c_void) -> i32 {
        // SAFETY: the loader passes a valid info; data is the u64 below.
        unsafe { *(data as *mut u64) = (*info).dlpi_adds };
        1 // the count is the same in every entry: stop at the first
    }
    let mut adds = 0u64;
    // SAFETY: the callback writes only `adds`, which outlives the call.
    unsafe { libc::dl_iterate_phdr(Some(first), &mut adds as *mut u64 as *mut c_void) };
    adds
}

/// Look for `__cxa_get_globals`; publish it if found. Thread context or sysmon only (it takes
/// the loader's lock).
fn resolve() {
    if !GET_GLOBALS.load(Relaxed).is_null() {
        return;
    }
    let name = c"__cxa_get_globals".as_ptr();
    // SAFETY: dlsym/dladdr/dlopen with valid C strings and out-parameters; RTLD_NOLOAD never
    // loads anything. The references dlopen takes are deliberately never dropped (see the
    // note): they keep the library that defines the function, and its TLS, loaded.
    let f = unsafe {
        let f = libc::dlsym(libc::RTLD_DEFAULT, name);
        if !f.is_null() {
            let mut info: libc::Dl_info = core::mem::zeroed();
            if libc::dladdr(f, &mut info) != 0 && !info.dli_fname.is_null() {
                libc::dlopen(info.dli_fname, libc::RTLD_LAZY | libc::RTLD_NOLOAD);
            }
            f
        } else {
            [c"libstdc++.so.6", c"libc++abi.so.1"]
                .iter()
                .map(|lib| libc::dlopen(lib.as_ptr(), libc::RTLD_LAZY | libc::RTLD_NOLOAD))
                .filter(|h| !h.is_null())
                .map(|h| libc::dlsym(h, name))
                .find(|f| !f.is_null())
                .unwrap_or(null_mut())
        }
    };
    if !f.is_null() {
        // Release: pairs with the Acquire load in `this_thread`.
        GET_GLOBALS.store(f, Release);
    }
}

/// This thread's `__cxa_eh_globals`, or null if no C++ runtime is known yet.
/// Not signal-safe: on the M's own thread, at a point where it may allocate.
fn this_thread() -> *mut EhGlobals {
    let f = GET_GLOBALS.load(Acquire);
    if f.is_null() {
        return null_mut();
    }
    // SAFETY: f is `__cxa_get_globals` (resolve), which takes no arguments and returns the
    // calling thread's struct; transmuting a non-null code pointer to its fn type.
    unsafe { core::mem::transmute::<*mut c_void, GetGlobals>(f)() }
}

/// mstart: cache the new M's address, if a C++ runtime is known.
/// # Safety
/// On mp's own thread, before it runs any G.
pub(crate) unsafe fn minit(mp: *mut M) {
    // SAFETY: per the contract, this thread owns mp's thread-owned fields.
    unsafe { (*mp).cxa_globals = this_thread() };
}

/// dropg: save the thread's exception state into gp, which is being switched out.
/// # Safety
/// On mp's g0; gp was its curg.
#[inline(always)]
pub(crate) unsafe fn save(mp: *mut M, gp: *mut G) {
    // SAFETY: per the contract; the cached address is this thread's (minit/pickup).
    unsafe {
        let p = (*mp).cxa_globals;
        if !p.is_null() {
            (*gp).cxa = *p;
        } else if !GET_GLOBALS.load(Relaxed).is_null() {
            save_slow(mp, gp);
        }
    }
}

/// execute: restore gp's exception state onto the thread about to run it.
/// # Safety
/// On mp's g0; gp is about to become its curg.
#[inline(always)]
pub(crate) unsafe fn restore(mp: *mut M, gp: *mut G) {
    // SAFETY: as save.
    unsafe {
        let p = (*mp).cxa_globals;
        if !p.is_null() {
            *p = (*gp).cxa;
        } else if !GET_GLOBALS.load(Relaxed).is_null() {
            restore_slow(mp, gp);
        }
    }
}

#[cold]
#[inline(never)]
unsafe fn save_slow(mp: *mut M, gp: *mut G) {
    // SAFETY: as save; a non-null pickup is this thread's struct.
    unsafe {
        let p = pickup(mp);
        if !p.is_null() {
            (*gp).cxa = *p;
        }
    }
}

#[cold]
#[inline(never)]
unsafe fn restore_slow(mp: *mut M, gp: *mut G) {
    // SAFETY: as save_slow.
    unsafe {
        let p = pickup(mp);
        if !p.is_null() {
            *p = (*gp).cxa;
        }
    }
}

/// An M that started before the C++ runtime was found caches its address now — unless a G is
/// locked to it (the preemption path; see the note). Null then.
unsafe fn pickup(mp: *mut M) -> *mut EhGlobals {
    // SAFETY: on mp's own g0 (save/restore's contract); lockedg is this M's to read.
    unsafe {
        if !(*mp).lockedg().is_null() {
            return null_mut();
        }
        (*mp).cxa_globals = this_thread();
        (*mp).cxa_globals
    }
}
