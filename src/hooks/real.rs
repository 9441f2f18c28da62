//! The real functions behind the interposers: libc's, or the next interposer's (a sanitizer, a
//! lock profiler loaded after libgmp). One table for all of them: the pthread lock functions
//! (pthread.rs) and the blocking calls (io.rs, conn.rs, poll.rs, fortify.rs, sleep.rs, fdops.rs, net.rs).
//!
//! The I/O hooks reach this table only on paths that forward to libc; their own attempts
//! inside the runtime (the non-blocking tries, fstat, the fcntl that flips O_NONBLOCK, poll on
//! a plain thread) are raw syscalls, so the runtime never goes through its own interposers
//! and never needs a resolution to do its work.
//!
//! # Resolution
//! Each is looked up once with `dlvsym(RTLD_NEXT, name, version)` — the version every glibc
//! since x86-64's first has (`GLIBC_2.2.5`; `GLIBC_2.30` for the `clock*` functions, which are
//! younger). On glibc 2.36 every version of these names is the same code (glibc 2.34 merged
//! libpthread into libc and added `GLIBC_2.34` aliases); asking for the oldest one is
//! deterministic, and an unversioned next interposer still matches it. If that fails (a libc
//! without symbol versions), plain `dlsym(RTLD_NEXT, name)`.
//!
//! When: all of them eagerly, from an ELF constructor of libgmp (`RESOLVE_AT_LOAD`), and
//! lazily by any hook that finds its entry still empty. The lazy path is for calls that come
//! before that constructor: with `LD_PRELOAD`, or when other libraries' constructors run
//! first (constructors run in dependency order, and a library may lock a mutex in its own).
//! Racing resolvers need no lock (and take none: a resolver waiting for another could wait
//! for a thread that waits for the loader lock it holds, e.g. inside a `dlopen`'s
//! constructors): each runs the same lookup and stores the same value.
//!
//! # Re-entry
//! `dlsym` takes the loader's lock (a recursive one, taken through glibc's internal pointer, not
//! through these hooks) and on some paths (errors, clearing an earlier error) calls
//! `malloc`/`free` — and a replacement allocator may lock a pthread mutex, i.e. come back here,
//! on the same thread, possibly for the entry being resolved. A second `dlsym` from there could
//! recurse forever, so a thread marks itself while it resolves (`RESOLVING`, by thread id: no
//! thread-local storage, whose first use in a `dlopen`ed library may itself call `malloc`),
//! and a re-entered hook uses the bootstrap lookup instead: libc's own definition, found by
//! reading libc's ELF symbol table in memory (`boot`: no allocation, no lock but
//! `dl_iterate_phdr`'s recursive one). That result is used for the one call and not stored,
//! so the next call still resolves through `dlsym` and finds a next interposer if there is
//! one.
//!
//! Errno is preserved across resolution (the hooks must leave it untouched).

use crate::os;
use core::ffi::{c_char, c_int, c_void, CStr};
use core::sync::atomic::{AtomicI32, AtomicUsize, Ordering::Relaxed};

macro_rules! reals {
    ($($variant:ident = $name:literal @ $version:literal,)*) => {
        /// The interposed functions, indexing `TABLE`.
        #[derive(Clone, Copy, PartialEq, Eq, Debug)]
        #[repr(usize)]
        pub(crate) enum Real { $($variant,)* }

        /// Name and glibc version of each `Real`, in order.
        const SYMS: &[(&CStr, &CStr)] = &[$(($name, $version),)*];
    };
}

reals! {
    MutexLock = c"pthread_mutex_lock" @ c"GLIBC_2.2.5",
    MutexTrylock = c"pthread_mutex_trylock" @ c"GLIBC_2.2.5",
    MutexTimedlock = c"pthread_mutex_timedlock" @ c"GLIBC_2.2.5",
    MutexClocklock = c"pthread_mutex_clocklock" @ c"GLIBC_2.30",
    MutexUnlock = c"pthread_mutex_unlock" @ c"GLIBC_2.2.5",
    RwlockRdlock = c"pthread_rwlock_rdlock" @ c"GLIBC_2.2.5",
    RwlockTryrdlock = c"pthread_rwlock_tryrdlock" @ c"GLIBC_2.2.5",
    RwlockTimedrdlock = c"pthread_rwlock_timedrdlock" @ c"GLIBC_2.2.5",
    RwlockClockrdlock = c"pthread_rwlock_clockrdlock" @ c"GLIBC_2.30",
    RwlockWrlock = c"pthread_rwlock_wrlock" @ c"GLIBC_2.2.5",
    RwlockTrywrlock = c"pthread_rwlock_trywrlock" @ c"GLIBC_2.2.5",
    RwlockTimedwrlock = c"pthread_rwlock_timedwrlock" @ c"GLIBC_2.2.5",
    RwlockClockwrlock = c"pthread_rwlock_clockwrlock" @ c"GLIBC_2.30",
    RwlockUnlock = c"pthread_rwlock_unlock" @ c"GLIBC_2.2.5",
    SpinLock = c"pthread_spin_lock" @ c"GLIBC_2.2.5",
    SpinTrylock = c"pthread_spin_trylock" @ c"GLIBC_2.2.5",
    SpinUnlock = c"pthread_spin_unlock" @ c"GLIBC_2.2.5",
    // The blocking calls (io.rs, conn.rs, poll.rs, fortify.rs, sleep.rs, fdops.rs, net.rs): libc's oldest x86-64
    // version of each (objdump -T of glibc 2.36).
    Read = c"read" @ c"GLIBC_2.2.5",
    Readv = c"readv" @ c"GLIBC_2.2.5",
    Pread = c"pread" @ c"GLIBC_2.2.5",
    Pread64 = c"pread64" @ c"GLIBC_2.2.5",
    Write = c"write" @ c"GLIBC_2.2.5",
    Writev = c"writev" @ c"GLIBC_2.2.5",
    Pwrite = c"pwrite" @ c"GLIBC_2.2.5",
    Pwrite64 = c"pwrite64" @ c"GLIBC_2.2.5",
    Recv = c"recv" @ c"GLIBC_2.2.5",
    Recvfrom = c"recvfrom" @ c"GLIBC_2.2.5",
    Recvmsg = c"recvmsg" @ c"GLIBC_2.2.5",
    Recvmmsg = c"recvmmsg" @ c"GLIBC_2.12",
    Send = c"send" @ c"GLIBC_2.2.5",
    Sendto = c"sendto" @ c"GLIBC_2.2.5",
    Sendmsg = c"sendmsg" @ c"GLIBC_2.2.5",
    Sendmmsg = c"sendmmsg" @ c"GLIBC_2.14",
    Accept = c"accept" @ c"GLIBC_2.2.5",
    Accept4 = c"accept4" @ c"GLIBC_2.10",
    Connect = c"connect" @ c"GLIBC_2.2.5",
    Poll = c"poll" @ c"GLIBC_2.2.5",
    Ppoll = c"ppoll" @ c"GLIBC_2.4",
    Select = c"select" @ c"GLIBC_2.2.5",
    Pselect = c"pselect" @ c"GLIBC_2.2.5",
    EpollWait = c"epoll_wait" @ c"GLIBC_2.3.2",
    EpollPwait = c"epoll_pwait" @ c"GLIBC_2.6",
    Sleep = c"sleep" @ c"GLIBC_2.2.5",
    Usleep = c"usleep" @ c"GLIBC_2.2.5",
    Nanosleep = c"nanosleep" @ c"GLIBC_2.2.5",
    ClockNanosleep = c"clock_nanosleep" @ c"GLIBC_2.17",
    Close = c"close" @ c"GLIBC_2.2.5",
    Dup = c"dup" @ c"GLIBC_2.2.5",
    Dup2 = c"dup2" @ c"GLIBC_2.2.5",
    Dup3 = c"dup3" @ c"GLIBC_2.9",
    Fcntl = c"fcntl" @ c"GLIBC_2.2.5",
    Fcntl64 = c"fcntl64" @ c"GLIBC_2.28",
    Ioctl = c"ioctl" @ c"GLIBC_2.2.5",
    Socket = c"socket" @ c"GLIBC_2.2.5",
    Socketpair = c"socketpair" @ c"GLIBC_2.2.5",
    Pipe = c"pipe" @ c"GLIBC_2.2.5",
    Pipe2 = c"pipe2" @ c"GLIBC_2.9",
    Setsockopt = c"setsockopt" @ c"GLIBC_2.2.5",
    Fclose = c"fclose" @ c"GLIBC_2.2.5",
    Fdopen = c"fdopen" @ c"GLIBC_2.2.5",
    CloseRange = c"close_range" @ c"GLIBC_2.34",
    ChkFail = c"__chk_fail" @ c"GLIBC_2.3.4",
    Getaddrinfo = c"getaddrinfo" @ c"GLIBC_2.2.5",
    Getnameinfo = c"getnameinfo" @ c"GLIBC_2.2.5",
    Gethostbyname = c"gethostbyname" @ c"GLIBC_2.2.5",
    Gethostbyname2 = c"gethostbyname2" @ c"GLIBC_2.2.5",
    GethostbynameR = c"gethostbyname_r" @ c"GLIBC_2.2.5",
    Gethostbyname2R = c"gethostbyname2_r" @ c"GLIBC_2.2.5",
    Gethostbyaddr = c"gethostbyaddr" @ c"GLIBC_2.2.5",
    GethostbyaddrR = c"gethostbyaddr_r" @ c"GLIBC_2.2.5",
}

/// Call the real function behind `Real::$r`, of the given C type, with `args`:
/// `real!(Read: fn(c_int, *mut c_void, usize) -> isize; fd, buf, n)`. Variadic C functions
/// (fcntl, ioctl) are spelt `vfn(fixed args)` and called through their variadic type
/// (`fn(c_int, c_int, ...) -> c_int`), so the call sets up `%al` as the C ABI requires.
/// Only the hooks use it, each passing its caller's arguments unchanged: the caller's
/// contract is libc's.
macro_rules! real {
    ($r:ident: fn($($t:ty),*) -> $ret:ty; $($a:expr),*) => {{
        let f: unsafe extern "C" fn($($t),*) -> $ret =
            // SAFETY: the table holds the real function of the name `Real::$r` stands for,
            // and the caller spells its C signature (glibc's prototype).
            unsafe { core::mem::transmute($crate::hooks::real::get($crate::hooks::real::Real::$r)) };
        // SAFETY: the hook's caller's arguments, unchanged: its contract is libc's.
        unsafe { f($($a),*) }
    }};
    ($r:ident: vfn($($t:ty),*) -> $ret:ty; $($a:expr),*) => {{
        let f: unsafe extern "C" fn($($t),*, ...) -> $ret =
            // SAFETY: as above, for a variadic function.
            unsafe { core::mem::transmute($crate::hooks::real::get($crate::hooks::real::Real::$r)) };
        // SAFETY: as above.
        unsafe { f($($a),*) }
    }};
}
pub(crate) use real;

const N: usize = SYMS.len();

/// The resolved addresses, 0 until resolved. Relaxed: a value is a code address valid from the
/// moment dlsym returns it (its object is mapped and relocated before); racing resolvers store
/// the same value; nothing else is published through it.
static TABLE: [AtomicUsize; N] = [const { AtomicUsize::new(0) }; N];

/// Thread ids of the threads inside `resolve`'s dlsym (0 = free slot). Each thread only
/// looks for its own id, which only it writes: Relaxed.
static RESOLVING: [AtomicI32; 8] = [const { AtomicI32::new(0) }; 8];

/// libgmp's constructor: resolve everything before `main` (and before the constructors of the
/// objects that depend on libgmp). The loader calls it as `(argc, argv, envp)`; extra
/// arguments are harmless in this ABI.
#[used]
#[link_section = ".init_array"]
static RESOLVE_AT_LOAD: extern "C" fn() = resolve_all;

extern "C" fn resolve_all() {
    for i in 0..N {
        // SAFETY: i < N, the number of variants, and Real is repr(usize) from 0.
        get(unsafe { core::mem::transmute::<usize, Real>(i) });
    }
}

/// The address of the real `f` if it is resolved, else 0.
#[inline(always)]
pub(crate) fn cached(f: Real) -> usize {
    TABLE[f as usize].load(Relaxed)
}

/// The address of the real `f`, resolving it if need be.
#[inline(always)]
pub(crate) fn get(f: Real) -> usize {
    let p = TABLE[f as usize].load(Relaxed);
    if p != 0 {
        p
    } else {
        resolve(f)
    }
}

#[cold]
#[inline(never)]
fn resolve(f: Real) -> usize {
    let errno = os::errno_ptr();
    // SAFETY: this thread's errno.
    let saved = unsafe { *errno };
    let tid = os::gettid();
    let p = if RESOLVING.iter().any(|t| t.load(Relaxed) == tid) {
        boot(f) // re-entered from inside our own dlsym (see "Re-entry")
    } else if let Some(slot) = RESOLVING
        .iter()
        .find(|t| t.compare_exchange(0, tid, Relaxed, Relaxed).is_ok())
    {
        let p = next(f);
        slot.store(0, Relaxed);
        if p != 0 {
            TABLE[f as usize].store(p, Relaxed);
        }
        if p != 0 {
            p
        } else {
            boot(f)
        }
    } else {
        boot(f) // every slot busy: don't risk an unmarked dlsym
    };
    if p == 0 {
        throw!("hooks::resolve: no real libc function behind an interposer (neither dlsym nor libc's symbol table has it)");
    }
    // SAFETY: as above.
    unsafe { *errno = saved };
    p
}

/// `dlvsym(RTLD_NEXT)`, then `dlsym(RTLD_NEXT)`; 0 if neither finds a function outside
/// libgmp (forwarding to ourselves would recurse forever).
fn next(f: Real) -> usize {
    let (name, version) = SYMS[f as usize];
    // SAFETY: NUL-terminated names; RTLD_NEXT searches the objects after the caller's (libgmp,
    // or the executable when linked statically).
    let mut p = unsafe { libc::dlvsym(libc::RTLD_NEXT, name.as_ptr(), version.as_ptr()) };
    if p.is_null() {
        // SAFETY: as above.
        p = unsafe { libc::dlsym(libc::RTLD_NEXT, name.as_ptr()) };
    }
    if p.is_null() || object_base(p as usize) == object_base(resolve as *const () as usize) {
        return 0;
    }
    p as usize
}

/// Load address of the object containing `addr` (0 if none).
fn object_base(addr: usize) -> usize {
    // SAFETY: an all-zero Dl_info is valid; dladdr only reads loader data.
    unsafe {
        let mut info: libc::Dl_info = core::mem::zeroed();
        if libc::dladdr(addr as *const c_void, &mut info) == 0 {
            return 0;
        }
        info.dli_fbase as usize
    }
}

// ---------------------------------------------------------------------------------------------
// The bootstrap lookup: libc's own definition, read from its dynamic symbol table.

const DT_NULL: i64 = 0;
const DT_STRTAB: i64 = 5;
const DT_SYMTAB: i64 = 6;
const DT_GNU_HASH: i64 = 0x6fff_fef5;
const DT_VERSYM: i64 = 0x6fff_fff0;
const DT_VERDEF: i64 = 0x6fff_fffc;
const DT_VERDEFNUM: i64 = 0x6fff_fffd;

#[repr(C)]
struct Dyn {
    tag: i64,
    val: u64,
}

#[repr(C)]
struct Verdef {
    vd_version: u16,
    vd_flags: u16,
    vd_ndx: u16,
    vd_cnt: u16,
    vd_hash: u32,
    vd_aux: u32,
    vd_next: u32,
}

#[repr(C)]
struct Verdaux {
    vda_name: u32,
    vda_next: u32,
}

/// libc's load address and dynamic section, found by the address of one of its functions
/// that nobody interposes.
struct Libc {
    anchor: usize,
    base: usize,
    dynamic: usize,
}

unsafe extern "C" fn find_libc(
    info: *mut libc::dl_phdr_info,
    _size: usize,
    data: *mut c_void,
) -> c_int {
    // SAFETY: the loader passes a valid info whose program headers are mapped; data is our
    // Libc.
    unsafe {
        let l = &mut *(data as *mut Libc);
        let info = &*info;
        let base = info.dlpi_addr as usize;
        let phdrs = core::slice::from_raw_parts(info.dlpi_phdr, info.dlpi_phnum as usize);
        let contains = phdrs.iter().any(|h| {
            h.p_type == libc::PT_LOAD
                && (base + h.p_vaddr as usize..base + (h.p_vaddr + h.p_memsz) as usize)
                    .contains(&l.anchor)
        });
        if !contains {
            return 0;
        }
        l.base = base;
        if let Some(d) = phdrs.iter().find(|h| h.p_type == libc::PT_DYNAMIC) {
            l.dynamic = base + d.p_vaddr as usize;
        }
        1
    }
}

/// libc's definition of `f` (the wanted version, else the default one), or 0.
fn boot(f: Real) -> usize {
    let (name, version) = SYMS[f as usize];
    let mut l = Libc {
        anchor: libc::gnu_get_libc_version as *const () as usize,
        base: 0,
        dynamic: 0,
    };
    // SAFETY: find_libc matches dl_iterate_phdr's callback contract; l outlives the call.
    unsafe { libc::dl_iterate_phdr(Some(find_libc), &mut l as *mut Libc as *mut c_void) };
    if l.dynamic == 0 {
        return 0;
    }
    // SAFETY: l.dynamic is the mapped dynamic section of the loaded libc, whose tables it
    // points at are mapped too.
    unsafe { elf_lookup(l.base, l.dynamic, name, version) }
}

/// GNU-hash symbol lookup with versions, in the object loaded at `base` with dynamic section
/// `dynamic`.
/// # Safety
/// `base`/`dynamic` describe a loaded ELF object.
unsafe fn elf_lookup(base: usize, dynamic: usize, name: &CStr, version: &CStr) -> usize {
    // The loader relocates the pointers in most objects' dynamic sections in place; an
    // unrelocated one is an offset below the load address.
    let addr = |v: u64| {
        if (v as usize) < base {
            base + v as usize
        } else {
            v as usize
        }
    };
    let (mut symtab, mut strtab, mut gnuhash, mut versym, mut verdef, mut nverdef) =
        (0, 0, 0, 0, 0, 0);
    // SAFETY: per the contract, every table read in this block lies inside the object's
    // mapped dynamic tables, indexed as the ELF gABI and the GNU hash format define them.
    unsafe {
        let mut d = dynamic as *const Dyn;
        while (*d).tag != DT_NULL {
            match (*d).tag {
                DT_SYMTAB => symtab = addr((*d).val),
                DT_STRTAB => strtab = addr((*d).val),
                DT_GNU_HASH => gnuhash = addr((*d).val),
                DT_VERSYM => versym = addr((*d).val),
                DT_VERDEF => verdef = addr((*d).val),
                DT_VERDEFNUM => nverdef = (*d).val as usize,
                _ => {}
            }
            d = d.add(1);
        }
        if symtab == 0 || strtab == 0 || gnuhash == 0 {
            return 0;
        }
        let str_at = |off: u32| CStr::from_ptr((strtab + off as usize) as *const c_char);
        // The name of version index ndx, from the version definitions.
        let version_name = |ndx: u16| -> Option<&CStr> {
            let mut vd = verdef;
            for _ in 0..nverdef {
                let v = &*(vd as *const Verdef);
                if v.vd_ndx == ndx {
                    let aux = &*((vd + v.vd_aux as usize) as *const Verdaux);
                    return Some(str_at(aux.vda_name));
                }
                if v.vd_next == 0 {
                    break;
                }
                vd += v.vd_next as usize;
            }
            None
        };
        let h = name
            .to_bytes()
            .iter()
            .fold(5381u32, |h, &c| h.wrapping_mul(33).wrapping_add(c as u32));
        let hdr = gnuhash as *const u32;
        let (nbuckets, symoffset, bloom_words) = (*hdr, *hdr.add(1), *hdr.add(2));
        if nbuckets == 0 {
            return 0;
        }
        let buckets = (gnuhash + 16 + 8 * bloom_words as usize) as *const u32;
        let chain = buckets.add(nbuckets as usize);
        let mut idx = *buckets.add((h % nbuckets) as usize);
        if idx < symoffset {
            return 0;
        }
        let mut default = 0;
        loop {
            let ch = *chain.add((idx - symoffset) as usize);
            if ch | 1 == h | 1 {
                let sym = &*((symtab + 24 * idx as usize) as *const libc::Elf64_Sym);
                if sym.st_shndx != 0 && sym.st_value != 0 && str_at(sym.st_name) == name {
                    let value = base + sym.st_value as usize;
                    if versym == 0 {
                        return value;
                    }
                    let vs = *((versym + 2 * idx as usize) as *const u16);
                    if version_name(vs & 0x7fff) == Some(version) {
                        return value;
                    }
                    if vs & 0x8000 == 0 {
                        default = value; // the default version, if the wanted one is absent
                    }
                }
            }
            if ch & 1 != 0 {
                return default;
            }
            idx += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    //! Both lookups find libc's functions: the same addresses libc's own handle gives.
    use super::*;

    fn libc_handle() -> *mut c_void {
        // SAFETY: libc.so.6 is loaded; RTLD_NOLOAD loads nothing.
        let h = unsafe { libc::dlopen(c"libc.so.6".as_ptr(), libc::RTLD_LAZY | libc::RTLD_NOLOAD) };
        assert!(!h.is_null());
        h
    }

    #[test]
    fn bootstrap_lookup_finds_libcs_definitions() {
        let h = libc_handle();
        for (i, &(name, version)) in SYMS.iter().enumerate() {
            // SAFETY: i < N.
            let f = unsafe { core::mem::transmute::<usize, Real>(i) };
            // SAFETY: valid handle and NUL-terminated strings.
            let want = unsafe { libc::dlvsym(h, name.as_ptr(), version.as_ptr()) } as usize;
            assert_ne!(want, 0, "{name:?}");
            assert_eq!(boot(f), want, "{name:?}@{version:?}");
        }
    }

    #[test]
    fn bootstrap_lookup_misses_cleanly() {
        let mut l = Libc {
            anchor: libc::gnu_get_libc_version as *const () as usize,
            base: 0,
            dynamic: 0,
        };
        // SAFETY: as in boot.
        unsafe { libc::dl_iterate_phdr(Some(find_libc), &mut l as *mut Libc as *mut c_void) };
        // SAFETY: libc's dynamic section.
        unsafe {
            assert_eq!(
                elf_lookup(l.base, l.dynamic, c"gmp_no_such_function", c"GLIBC_2.2.5"),
                0
            );
            // An unknown version falls back to the default one.
            let want = libc::dlsym(libc_handle(), c"pthread_mutex_lock".as_ptr()) as usize;
            assert_eq!(
                elf_lookup(l.base, l.dynamic, c"pthread_mutex_lock", c"GLIBC_9.9"),
                want
            );
        }
    }

    #[test]
    fn a_reentered_resolution_uses_libc_and_stores_nothing() {
        let f = Real::SpinTrylock;
        let before = TABLE[f as usize].swap(0, Relaxed);
        RESOLVING[0].store(os::gettid(), Relaxed);
        let p = resolve(f);
        RESOLVING[0].store(0, Relaxed);
        assert_eq!(p, boot(f));
        assert_eq!(cached(f), 0, "a bootstrap result must not be stored");
        assert_eq!(get(f), p, "a later call resolves through dlsym");
        assert_ne!(before, 0);
    }

    #[test]
    fn every_entry_resolves_outside_libgmp() {
        let h = libc_handle();
        for (i, &(name, version)) in SYMS.iter().enumerate() {
            // SAFETY: i < N.
            let f = unsafe { core::mem::transmute::<usize, Real>(i) };
            // SAFETY: as above.
            let want = unsafe { libc::dlvsym(h, name.as_ptr(), version.as_ptr()) } as usize;
            assert_eq!(get(f), want, "{name:?}");
        }
    }
}
