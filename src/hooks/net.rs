//! Name resolution on the syscall path: getaddrinfo, getnameinfo, gethostbyname,
//! gethostbyname2, gethostbyname_r, gethostbyname2_r, gethostbyaddr, gethostbyaddr_r.
//!
//! glibc's resolver opens, polls and reads its sockets with internal calls that no interposer
//! sees (they do not go through the PLT), so it would block its thread while holding a P.
//! From a goroutine these run bracketed by entersyscall/exitsyscall: the P is handed off while
//! the thread waits for DNS. A plain thread gets the real call.
//!
//! errno and h_errno are this thread's: exitsyscall may resume the goroutine on another
//! thread, so both are read right after the real call and written again after exitsyscall
//! (errno by `syscall_path`; h_errno here).
//!
//! What stays unseen, generally: stdio on sockets and pipes (fgets on an fdopen'ed socket),
//! and any other library that calls the kernel directly or through glibc-internal paths,
//! blocks its thread. sysmon's kernel-blocked detection (sched/syscall.rs, "Blocked threads")
//! then treats it as a syscall and hands the P off after a tick, so other goroutines run on.

use super::real::real;
use super::{goroutine, syscall_path};
use libc::{addrinfo, c_char, c_int, c_void, hostent, size_t, sockaddr, socklen_t};

extern "C" {
    fn __h_errno_location() -> *mut c_int;
}

/// `f` on the syscall path from a goroutine, keeping h_errno across a change of thread.
fn resolve<R>(f: impl FnOnce() -> R) -> R {
    if !goroutine() {
        return f();
    }
    let mut h = 0;
    let r = syscall_path(|| {
        let r = f();
        // SAFETY: this thread's h_errno.
        h = unsafe { *__h_errno_location() };
        r
    });
    // SAFETY: this (possibly other) thread's h_errno.
    unsafe { *__h_errno_location() = h };
    r
}

#[no_mangle]
pub unsafe extern "C" fn getaddrinfo(
    node: *const c_char,
    service: *const c_char,
    hints: *const addrinfo,
    res: *mut *mut addrinfo,
) -> c_int {
    resolve(
        || real!(Getaddrinfo: fn(*const c_char, *const c_char, *const addrinfo, *mut *mut addrinfo) -> c_int; node, service, hints, res),
    )
}

#[no_mangle]
pub unsafe extern "C" fn getnameinfo(
    sa: *const sockaddr,
    salen: socklen_t,
    host: *mut c_char,
    hostlen: socklen_t,
    serv: *mut c_char,
    servlen: socklen_t,
    flags: c_int,
) -> c_int {
    resolve(
        || real!(Getnameinfo: fn(*const sockaddr, socklen_t, *mut c_char, socklen_t, *mut c_char, socklen_t, c_int) -> c_int; sa, salen, host, hostlen, serv, servlen, flags),
    )
}

#[no_mangle]
pub unsafe extern "C" fn gethostbyname(name: *const c_char) -> *mut hostent {
    resolve(|| real!(Gethostbyname: fn(*const c_char) -> *mut hostent; name))
}

#[no_mangle]
pub unsafe extern "C" fn gethostbyname2(name: *const c_char, af: c_int) -> *mut hostent {
    resolve(|| real!(Gethostbyname2: fn(*const c_char, c_int) -> *mut hostent; name, af))
}

#[no_mangle]
pub unsafe extern "C" fn gethostbyname_r(
    name: *const c_char,
    ret: *mut hostent,
    buf: *mut c_char,
    buflen: size_t,
    result: *mut *mut hostent,
    h_errnop: *mut c_int,
) -> c_int {
    resolve(
        || real!(GethostbynameR: fn(*const c_char, *mut hostent, *mut c_char, size_t, *mut *mut hostent, *mut c_int) -> c_int; name, ret, buf, buflen, result, h_errnop),
    )
}

#[no_mangle]
pub unsafe extern "C" fn gethostbyname2_r(
    name: *const c_char,
    af: c_int,
    ret: *mut hostent,
    buf: *mut c_char,
    buflen: size_t,
    result: *mut *mut hostent,
    h_errnop: *mut c_int,
) -> c_int {
    resolve(
        || real!(Gethostbyname2R: fn(*const c_char, c_int, *mut hostent, *mut c_char, size_t, *mut *mut hostent, *mut c_int) -> c_int; name, af, ret, buf, buflen, result, h_errnop),
    )
}

#[no_mangle]
pub unsafe extern "C" fn gethostbyaddr(
    addr: *const c_void,
    len: socklen_t,
    ty: c_int,
) -> *mut hostent {
    resolve(
        || real!(Gethostbyaddr: fn(*const c_void, socklen_t, c_int) -> *mut hostent; addr, len, ty),
    )
}

#[no_mangle]
pub unsafe extern "C" fn gethostbyaddr_r(
    addr: *const c_void,
    len: socklen_t,
    ty: c_int,
    ret: *mut hostent,
    buf: *mut c_char,
    buflen: size_t,
    result: *mut *mut hostent,
    h_errnop: *mut c_int,
) -> c_int {
    resolve(
        || real!(GethostbyaddrR: fn(*const c_void, socklen_t, c_int, *mut hostent, *mut c_char, size_t, *mut *mut hostent, *mut c_int) -> c_int; addr, len, ty, ret, buf, buflen, result, h_errnop),
    )
}
