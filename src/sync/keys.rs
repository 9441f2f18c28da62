//! Goroutine-local storage: pthread keys per goroutine (gmp_key_*).
//!
//! A key is an index into `KEYS`, whose `seq` is odd while the key exists (even: free); a
//! deletion bumps it, so values stored under the old key (each value remembers the `seq` it
//! was set under, as glibc does) are invisible through a reused one. Values live in a
//! two-level table (32 chunks of 32 entries, allocated as keys are used) owned by a goroutine
//! (`G.keys`, only ever touched by the goroutine itself, so it follows it across threads) or,
//! in thread context, by the thread (one pthread key of our own holds it; its destructor runs
//! the values' destructors at thread exit). A goroutine's destructors run in `goroutine_exit`,
//! on its own stack, as it returns or gmp_exit()s: up to 4 rounds while destructors set
//! values again (PTHREAD_DESTRUCTOR_ITERATIONS).

use crate::sched::m::{ctx, Ctx};
use core::ffi::c_void;
use core::ptr::null_mut;
use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering::*};

pub(crate) const MAX_KEYS: usize = 1024;
const CHUNK: usize = 32;
const ROUNDS: usize = 4;

type Dtor = unsafe extern "C" fn(*mut c_void);

struct KeySlot {
    /// Odd while the key exists. AcqRel CAS on create/delete; Acquire loads pair with them
    /// (a user sees the dtor stored before the key was handed out).
    seq: AtomicU32,
    dtor: AtomicUsize,
}

static KEYS: [KeySlot; MAX_KEYS] = [const {
    KeySlot {
        seq: AtomicU32::new(0),
        dtor: AtomicUsize::new(0),
    }
}; MAX_KEYS];

#[derive(Clone, Copy)]
struct Entry {
    seq: u32,
    value: usize,
}

/// One owner's values (a goroutine's or a thread's).
pub(crate) struct Values {
    chunks: [*mut [Entry; CHUNK]; MAX_KEYS / CHUNK],
}

pub(crate) fn create(dtor: Option<Dtor>) -> Result<u32, i32> {
    for (i, k) in KEYS.iter().enumerate() {
        let s = k.seq.load(Relaxed);
        if s & 1 == 0 {
            // Store the dtor first: it is read only while the key exists (seq odd), and a
            // creator that loses the CAS below stores nothing more.
            if k.seq.compare_exchange(s, s.wrapping_add(1), AcqRel, Relaxed).is_ok() {
                k.dtor.store(dtor.map_or(0, |f| f as usize), Release);
                return Ok(i as u32);
            }
        }
    }
    Err(libc::EAGAIN)
}

pub(crate) fn delete(key: u32) -> Result<(), i32> {
    let k = KEYS.get(key as usize).ok_or(libc::EINVAL)?;
    let s = k.seq.load(Acquire);
    if s & 1 == 0 || k.seq.compare_exchange(s, s.wrapping_add(1), AcqRel, Relaxed).is_err() {
        return Err(libc::EINVAL);
    }
    Ok(())
}

/// The key's current seq, if it exists.
fn live(key: u32) -> Option<u32> {
    let s = KEYS.get(key as usize)?.seq.load(Acquire);
    (s & 1 == 1).then_some(s)
}

pub(crate) fn get(key: u32) -> usize {
    let Some(seq) = live(key) else {
        return 0;
    };
    let v = values(false);
    if v.is_null() {
        return 0;
    }
    // SAFETY: the caller's own table (see the module note).
    unsafe {
        let ch = (*v).chunks[key as usize / CHUNK];
        if ch.is_null() {
            return 0;
        }
        let e = (*ch)[key as usize % CHUNK];
        if e.seq == seq {
            e.value
        } else {
            0
        }
    }
}

pub(crate) fn set(key: u32, value: usize) -> Result<(), i32> {
    let seq = live(key).ok_or(libc::EINVAL)?;
    let v = values(true);
    if v.is_null() {
        return Err(libc::ENOMEM);
    }
    // SAFETY: the caller's own table.
    unsafe {
        let slot = &mut (*v).chunks[key as usize / CHUNK];
        if slot.is_null() {
            *slot = libc::calloc(1, core::mem::size_of::<[Entry; CHUNK]>()) as *mut [Entry; CHUNK];
            if slot.is_null() {
                return Err(libc::ENOMEM);
            }
        }
        (**slot)[key as usize % CHUNK] = Entry { seq, value };
    }
    Ok(())
}

/// The caller's table (made if `make`), or null.
fn values(make: bool) -> *mut Values {
    match ctx() {
        Ctx::G(_, gp) => {
            // SAFETY: our own G's field.
            unsafe {
                if (*gp).keys.is_null() && make {
                    (*gp).keys = new_values();
                }
                (*gp).keys
            }
        }
        Ctx::Thread => thread_values(make),
        Ctx::G0(_) => null_mut(),
    }
}

fn new_values() -> *mut Values {
    // SAFETY: calloc has no preconditions; all-zero is an empty table.
    unsafe { libc::calloc(1, core::mem::size_of::<Values>()) as *mut Values }
}

/// Free a table (its values' destructors have run).
/// # Safety
/// v is a table nobody uses any more.
unsafe fn free_values(v: *mut Values) {
    // SAFETY: per the contract.
    unsafe {
        for c in 0..MAX_KEYS / CHUNK {
            libc::free((*v).chunks[c] as *mut c_void);
        }
        libc::free(v as *mut c_void);
    }
}

/// The calling goroutine ends (proc::goexit, on its own stack, before the runtime entry):
/// run its destructors. They run as goroutine code (they may block, set values again —
/// which the rounds see — or even gmp_exit, which comes back here).
pub(crate) fn goroutine_exit() {
    let Ctx::G(_, gp) = ctx() else {
        return;
    };
    // SAFETY: our own G's field.
    let v = unsafe { (*gp).keys };
    if v.is_null() {
        return;
    }
    // The table stays reachable while destructors run (they may call get/set).
    // SAFETY: our own table.
    unsafe {
        run_rounds(v);
        // Re-read: a destructor that gmp_exit()ed came back here and freed it already.
        let gp = match ctx() {
            Ctx::G(_, gp) => gp,
            _ => return,
        };
        if (*gp).keys == v {
            (*gp).keys = null_mut();
            free_values(v);
        }
    }
}

/// Destructor rounds on a table its owner still reaches: each non-NULL value of a live key
/// is cleared, then its destructor called; again while a round called any.
/// # Safety
/// v is the caller's own table.
unsafe fn run_rounds(v: *mut Values) {
    // SAFETY: per the contract.
    unsafe {
        for _ in 0..ROUNDS {
            let mut called = false;
            for c in 0..MAX_KEYS / CHUNK {
                let ch = (*v).chunks[c];
                if ch.is_null() {
                    continue;
                }
                for i in 0..CHUNK {
                    let e = (*ch)[i];
                    if e.value == 0 {
                        continue;
                    }
                    (*ch)[i].value = 0;
                    let k = &KEYS[c * CHUNK + i];
                    let d = k.dtor.load(Acquire);
                    if k.seq.load(Acquire) == e.seq && d != 0 {
                        let f: Dtor = core::mem::transmute::<usize, Dtor>(d);
                        f(e.value as *mut c_void);
                        called = true;
                    }
                }
            }
            if !called {
                break;
            }
        }
    }
}

// ---- thread context: our own pthread key holds the thread's table

static TKEY: AtomicU32 = AtomicU32::new(u32::MAX);

fn tkey() -> Option<libc::pthread_key_t> {
    let k = TKEY.load(Acquire);
    if k != u32::MAX {
        return Some(k);
    }
    let mut nk: libc::pthread_key_t = 0;
    // SAFETY: a valid out-parameter and destructor.
    if unsafe { libc::pthread_key_create(&mut nk, Some(thread_exit)) } != 0 {
        return None;
    }
    match TKEY.compare_exchange(u32::MAX, nk, AcqRel, Acquire) {
        Ok(_) => Some(nk),
        Err(won) => {
            // SAFETY: our own unused key.
            unsafe { libc::pthread_key_delete(nk) };
            Some(won)
        }
    }
}

fn thread_values(make: bool) -> *mut Values {
    let Some(k) = tkey() else {
        return null_mut();
    };
    // SAFETY: our key.
    let mut v = unsafe { libc::pthread_getspecific(k) } as *mut Values;
    if v.is_null() && make {
        v = new_values();
        // SAFETY: our key; on failure the table is freed.
        if !v.is_null() && unsafe { libc::pthread_setspecific(k, v as *const c_void) } != 0 {
            // SAFETY: ours, unused.
            unsafe { libc::free(v as *mut c_void) };
            v = null_mut();
        }
    }
    v
}

/// pthread destructor of our key: the thread's values' destructors, then the table.
unsafe extern "C" fn thread_exit(v: *mut c_void) {
    let v = v as *mut Values;
    // pthread cleared our key before calling us: point it at the table again while the
    // destructors run, so they see the thread's other values, as with pthread keys.
    let k = TKEY.load(Acquire);
    // SAFETY: our key and the thread's own table; freed once unreachable.
    unsafe {
        libc::pthread_setspecific(k, v as *const c_void);
        run_rounds(v);
        libc::pthread_setspecific(k, core::ptr::null());
        free_values(v);
    }
}
