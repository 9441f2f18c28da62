/*
 * libgmp: Go's G-M-P scheduler for C and C++ programs: goroutines over a few OS threads.
 *
 * Linking: Debian's GNU MP also owns the names libgmp.so and gmp.h, so this library installs
 * under gmp-sched/ (PREFIX/include/gmp-sched/gmp.h, PREFIX/lib/gmp-sched/libgmp.so.0):
 * use `pkg-config --cflags --libs gmp-sched`, CMake's find_package(gmp-sched) and the target
 * gmp-sched::gmp-sched, or, from a build tree, -I<repo>/include -L<build dir> -lgmp
 * -Wl,-rpath,<build dir> (this library's directories first).
 *
 * Conventions: functions that can fail return a negative errno (-EINVAL, -ENOMEM, -EAGAIN,
 * -EPERM, ...); zero or positive means success; a bad argument is never fatal. Goroutine
 * context = code running in a goroutine (gmp_spawn, gmp_main); thread context = any other
 * thread. The runtime starts by itself on the first call that needs it (gmp_self and gmp_goid
 * never start it), with settings from the environment:
 *   GMP_MAXPROCS=n        number of Ps, 1 to 1024 (default: the CPUs this process may use);
 *   GMP_STACK_SIZE=bytes  goroutine stack size, 16k to 1g, with an optional k, m or g suffix
 *                         (default 256k: reserved address space, committed as touched; a
 *                         64 KiB guard region below each stack catches overflows);
 *   GMP_DEBUG=name=val,.. schedtrace=MS (Go's scheduler summary line on stderr every MS ms),
 *                         scheddetail=1 (a line per P, M and goroutine with it),
 *                         asyncpreemptoff=1 (no asynchronous preemption),
 *                         preemptthreads=N (threads that may hold a preempted goroutine at
 *                         once; default 3 x GMP_MAXPROCS + 3).
 * An invalid value prints one line on stderr (gmp: ignoring ...) and the default applies.
 *
 * What user code must know:
 *  - After a call that can switch goroutines (gmp_park, gmp_gosched, gmp_exitsyscall) the
 *    goroutine may continue on another OS thread. errno's value is carried across; addresses of
 *    thread-local variables are not: don't keep them across such calls, or call
 *    gmp_lock_thread() first. errno itself is such an address to the compiler (glibc's
 *    __errno_location is `const`, so gcc may read the old thread's errno after the call): read
 *    errno after a switch in a separate function, or lock the thread.
 *  - Asynchronous preemption never moves a goroutine to another thread. A goroutine that runs
 *    C code for more than 10 ms while another goroutine waits for its P is preempted (SIGURG,
 *    marked so that a SIGURG handler of the program still gets only its own signals); at most
 *    3 x GMP_MAXPROCS + 3 threads hold preempted goroutines at once. It needs libgmp as a
 *    shared library (linked statically, it stays off).
 *  - Blocking calls need no bracket to be safe: a goroutine whose thread sleeps in the kernel
 *    is treated as in a syscall (its P goes to other goroutines) and gets a P back when it runs
 *    again. The runtime never signals a thread that sleeps in the kernel: no EINTR from it.
 *  - Preemption waits while a goroutine holds a pthread lock, up to 50 ms: libgmp.so exports
 *    pthread_mutex_{lock,trylock,timedlock,clocklock,unlock}, pthread_rwlock_{rd,wr}lock and
 *    their try/timed/clock forms and _unlock, and pthread_spin_{lock,trylock,unlock}, which
 *    forward to libc unchanged (same result, errno untouched) and count the locks each
 *    goroutine holds; a goroutine due for preemption while it holds one is preempted at its
 *    outermost unlock instead. std::mutex and std::shared_mutex go through these; glibc's
 *    internal locks (malloc's, stdio's), C11 mtx_* (glibc calls its internal function) and
 *    raw futexes do not, and are not seen.
 *  - Don't hold a pthread_mutex_t across a call that can switch goroutines.
 *  - C++ exception state travels with the goroutine: inside a catch block, or a destructor run
 *    by unwinding, a goroutine may switch and then `throw;`, or read std::current_exception()
 *    and std::uncaught_exceptions(), and sees only its own exceptions, on any thread. (A C++
 *    runtime that a C program dlopens after the runtime started is noticed within about
 *    100 ms; load it first if goroutines switch inside catch blocks right away.)
 *  - Compile goroutine code with -fstack-clash-protection: without it a frame larger than the
 *    64 KiB guard (or an unbounded alloca/VLA) can jump the guard into another goroutine's
 *    stack unnoticed.
 *  - fork(): fork+exec, system(), popen() and posix_spawn() work from goroutines. A child of
 *    fork() of a process whose runtime has started has one thread and no runtime: its threads
 *    are in thread context (gmp_self() is NULL, also on the goroutine that forked), calls that
 *    can fail return -EPERM (gmp_exit included: the caller carries on), the others do nothing
 *    (gmp_gosched is sched_yield()), and the goroutine function that called fork() returning
 *    there ends the child with exit(0), as when a process's last thread returns (call _exit()
 *    to skip atexit handlers and stdio flushing).
 */


#ifndef GMP_H
#define GMP_H

/* Generated by cbindgen from src/ffi/: edit the Rust doc comments, not this file. */

#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>

// The library's version (also `gmp_version()`): major.minor.patch, as in Cargo.toml. The
// shared library's SONAME is `libgmp.so.<major>`.
#define GMP_VERSION_MAJOR 0

#define GMP_VERSION_MINOR 1

#define GMP_VERSION_PATCH 0

// (major << 16) | (minor << 8) | patch, the value gmp_version() returns.
#define GMP_VERSION (((GMP_VERSION_MAJOR << 16) | (GMP_VERSION_MINOR << 8)) | GMP_VERSION_PATCH)

// An opaque goroutine.
typedef struct gmp_g gmp_g;

// A goroutine's function.
typedef void (*gmp_fn)(void *arg);

// gmp_park's unlock function: called on the scheduler's stack once the goroutine has been
// switched out; returning false resumes the goroutine at once.
typedef bool (*gmp_unlock_fn)(struct gmp_g *g, void *lock);

// Runtime settings for gmp_init.
typedef struct gmp_config {
  // Number of Ps (GOMAXPROCS), at most 1024; 0 = GMP_MAXPROCS or the CPU count.
  uint32_t procs;
  // Default goroutine stack size in bytes, 16 KiB to 1 GiB; 0 = GMP_STACK_SIZE or 256 KiB.
  // Each stack also reserves a 64 KiB guard region below it (address space only).
  size_t stack_size;
} gmp_config;

// A snapshot of the scheduler (gmp_stats_read).
typedef struct gmp_stats {
  // Live (not yet ended) goroutines.
  uint64_t goroutines;
  // Ps.
  uint32_t procs;
  // Ms, sysmon included.
  uint32_t threads;
  // Ms asleep with nothing to do.
  uint32_t idle_threads;
  // Ms looking for work.
  uint32_t spinning_threads;
  // Gs in the global run queue.
  uint64_t global_runq;
  // Cumulative: goroutines created.
  uint64_t spawned;
  // Cumulative: Gs started or resumed by schedule().
  uint64_t schedules;
  // Cumulative: Gs taken from another P's queue.
  uint64_t steals;
  // Cumulative: gmp_gosched calls in goroutines.
  uint64_t yields;
  // Cumulative: asynchronous preemptions.
  uint64_t preemptions;
  // Cumulative: Ps taken from Ms in syscalls.
  uint64_t syscall_retakes;
} gmp_stats;

#ifdef __cplusplus
extern "C" {
#endif // __cplusplus

// `go fn(arg)`. Returns the new goroutine's id (> 0, unique for the life of the process);
// -EINVAL if `fn` is NULL; -ENOMEM/-EAGAIN when no stack or thread can be had. Any context.
// The goroutine ends when `fn` returns. It starts with errno 0 and no C++ exception state;
// both travel with it across switches (a goroutine that ends inside a catch block, through
// gmp_exit, abandons its exception). -EPERM in a child of fork().
// It runs on a fixed-size stack (GMP_STACK_SIZE, gmp_config.stack_size) with a 64 KiB guard
// region below: overflowing into it ends the process with "gmp: fatal error: stack overflow
// in goroutine N". A frame larger than 64 KiB (or an unbounded alloca/VLA) can jump the guard
// into another goroutine's stack unless the code is compiled with -fstack-clash-protection.
int64_t gmp_spawn(gmp_fn f, void *arg);

// Yield the processor (runtime.Gosched): the goroutine goes to the global run queue. In
// thread context, and in a child of fork(): sched_yield().
void gmp_gosched(void);

// End the calling goroutine now (runtime.Goexit); does not return in goroutine context;
// -EPERM in thread context, and in a child of fork() (the caller carries on).
int gmp_exit(void);

// The calling goroutine; NULL in thread context. NULL in a child of fork(), also on the
// goroutine that called fork: the child's threads are in thread context.
struct gmp_g *gmp_self(void);

// Id of `g` (NULL = the calling goroutine); 0 for NULL in thread context (and in a child of
// fork()).
int64_t gmp_goid(const struct gmp_g *g);

// Block the calling goroutine. Once it has been switched out, the runtime calls
// `unlockf(g, lock)` on the scheduler's stack (if `unlockf` is not NULL); if that returns
// false the goroutine resumes at once. Returns 0 after it has been readied (or after
// `unlockf` returned false); -EPERM in thread context. `unlockf` must not block, park or call
// gmp_* functions other than gmp_ready. Publishing `g` to a waker inside `unlockf` (e.g.
// releasing the lock that guards a wait list) is how a wake-up can never be lost. -EPERM in a
// child of fork() (`unlockf` is not called).
int gmp_park(gmp_unlock_fn unlockf, void *lock);

// Make a goroutine that is parked in gmp_park runnable; called from a goroutine it runs next
// on the caller's processor. 0; -EINVAL if `g` is NULL or not parked. Any context; -EPERM in
// a child of fork().
int gmp_ready(struct gmp_g *g);

// LockOSThread: while locked (calls nest and are counted) the goroutine runs only on its
// current thread and that thread runs nothing else. 0; -EPERM in thread context and in a
// child of fork().
int gmp_lock_thread(void);

// UnlockOSThread: undo one gmp_lock_thread. 0; -EPERM in thread context and in a child of
// fork(); -EINVAL without a matching lock.
int gmp_unlock_thread(void);

// The version of the loaded library, as GMP_VERSION encodes it: compare it with the
// GMP_VERSION the program was compiled with.
uint32_t gmp_version(void);

// Start the runtime with `cfg` (NULL = environment defaults). 0; -EBUSY if already started
// (settings unchanged); -EINVAL for a bad value; -EAGAIN if no thread could be made; -EPERM in
// a child of fork() of a process whose runtime had started.
int gmp_init(const struct gmp_config *cfg);

// Run `fn(arg)` as the main goroutine and return 0 when it returns (other goroutines keep
// running). Thread context only: -EPERM from a goroutine; -EINVAL if `fn` is NULL. May be
// called again later. If every goroutine is blocked with nothing that could wake one (no
// syscall in progress, and no thread outside the runtime other than this one has ever called
// into it), prints `gmp: fatal error: all goroutines are asleep - deadlock!` and returns
// -EDEADLK. -EPERM in a child of fork().
int gmp_main(gmp_fn f, void *arg);

// GOMAXPROCS: set the number of Ps (n ≥ 1; more than 1024 is taken as 1024) and return the
// previous number; n < 1 only returns the current number. When shrinking, it returns once no
// goroutine runs on a surplus P any more (their goroutines are preempted, as Go's stop-the-
// world does; with GMP_DEBUG=asyncpreemptoff=1 a goroutine that never yields delays it). A P
// that another call made live again meanwhile is not surplus.
// -EPERM in a child of fork() (also for n < 1).
int gmp_set_procs(int n);

// A snapshot of the scheduler's counters. -EINVAL for NULL. -EPERM in a child of fork()
// (`out` is not written: the counters are the parent's, and reading them takes a lock that a
// thread the child does not have may hold).
int gmp_stats_read(struct gmp_stats *out);

// Bracket a call that may block in the kernel: meanwhile the processor may be handed to
// another thread (after ~20 µs). No-op in thread context and in a child of fork(). Must be
// paired with gmp_exitsyscall on the same goroutine, not nested.
void gmp_entersyscall(void);

// End a gmp_entersyscall bracket: get a processor back (waiting for one if need be). No-op
// in thread context, and in a child of fork() (also one forked inside the bracket).
void gmp_exitsyscall(void);

#ifdef __cplusplus
}  // extern "C"
#endif  // __cplusplus

#endif  /* GMP_H */
