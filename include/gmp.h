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
 *                         once; default 3 x GMP_MAXPROCS + 3),
 *                         sigquit=1 (SIGQUIT dumps every goroutine to stderr, as gmp_dump,
 *                         then takes the program's previous disposition),
 *                         randomsched=1 (Go's randomizeScheduler: random run-queue choices,
 *                         for tests that want to shake out order assumptions).
 * An invalid value prints one line on stderr (gmp: ignoring ...) and the default applies.
 *
 * What user code must know:
 *  - After a call that can switch goroutines (gmp_park, gmp_gosched, gmp_sleep, gmp_wait_fd,
 *    gmp_exitsyscall, a channel or lock operation, a hooked libc call) the goroutine may
 *    continue on another OS thread. errno's value is carried across, and code that includes
 *    this header reads it correctly: gmp.h defines `errno` as (*gmp_errno_location()), which
 *    the compiler cannot cache (glibc's __errno_location is `const`, so code compiled without
 *    gmp.h may read the old thread's errno after a switch; define GMP_NO_ERRNO_MACRO to keep
 *    glibc's macro). Addresses of other thread-local variables are not carried: don't keep
 *    them across such calls, use goroutine-local storage (gmp_key_create), or call
 *    gmp_lock_thread() first.
 *  - Channels, gmp_mutex/rwmutex/cond/waitgroup/once and gmp_futex work from goroutines and
 *    plain threads at once: a goroutine that blocks in one parks, a thread sleeps. Don't hold
 *    a pthread_mutex_t across a call that can switch goroutines; use gmp_mutex, which parks
 *    the goroutine instead of the thread.
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
#include <errno.h>

// The library's version (also `gmp_version()`): major.minor.patch, as in Cargo.toml. The
// shared library's SONAME is `libgmp.so.<major>`.
#define GMP_VERSION_MAJOR 0

#define GMP_VERSION_MINOR 1

#define GMP_VERSION_PATCH 0

// (major << 16) | (minor << 8) | patch, the value gmp_version() returns.
#define GMP_VERSION (((GMP_VERSION_MAJOR << 16) | (GMP_VERSION_MINOR << 8)) | GMP_VERSION_PATCH)

// gmp_case.dir: a send case.
#define GMP_SEND 1

// gmp_case.dir: a receive case.
#define GMP_RECV 2





// An opaque channel (gmp_chan_new).
typedef struct gmp_chan gmp_chan;

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

// One case of gmp_select.
typedef struct gmp_case {
  // The channel; NULL: never ready (Go's nil channel).
  struct gmp_chan *chan;
  // GMP_SEND or GMP_RECV.
  int dir;
  // The value to send, or where to store the received value (NULL: discard it).
  void *elem;
  // Out, for the chosen receive: false if it saw a closed, drained channel.
  bool ok;
} gmp_case;

// A mutual-exclusion lock (Go's sync.Mutex). Zero = unlocked. The fields are private.
typedef struct gmp_mutex {
  int32_t state;
  uint32_t sema;
} gmp_mutex;

// A reader/writer lock (Go's sync.RWMutex: a blocked writer keeps new readers out). Zero =
// unlocked. The fields are private.
typedef struct gmp_rwmutex {
  struct gmp_mutex w;
  uint32_t writer_sem;
  uint32_t reader_sem;
  int32_t reader_count;
  int32_t reader_wait;
} gmp_rwmutex;

// A condition variable (Go's sync.Cond, pthread_cond_t's semantics). Zero = ready. Its
// waiters are kept by the runtime under its address; the field is reserved.
typedef struct gmp_cond {
  uint32_t reserved;
} gmp_cond;

// A wait group (Go's sync.WaitGroup). Zero = counter 0. The fields are private.
typedef struct gmp_waitgroup {
  uint64_t state;
  uint32_t sema;
  uint32_t pad;
} gmp_waitgroup;

// Run-once state (Go's sync.Once). Zero = not yet run. The fields are private.
typedef struct gmp_once {
  uint32_t done;
  struct gmp_mutex m;
} gmp_once;

// A goroutine-local storage key (gmp_key_create).
typedef uint32_t gmp_key;

// A key's destructor: called with the non-NULL value when its goroutine (or thread) ends.
typedef void (*gmp_key_dtor)(void *value);

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

// Park the calling goroutine for at least `ns` nanoseconds (Go's time.Sleep); `ns <= 0`
// yields (gmp_gosched). Returns 0. In thread context it sleeps the thread. The goroutine may
// continue on another thread afterwards.
int gmp_sleep(int64_t ns);

// Park the calling goroutine until `fd` is ready for `events` (POLLIN and/or POLLOUT) or
// `timeout_ns` nanoseconds pass (`< 0`: no timeout). Returns the ready events (> 0: those
// asked for that are ready, plus POLLERR/POLLHUP if they occurred), -ETIMEDOUT, -EBADF (`fd`
// not open, or closed while waiting), or -EINVAL (`events` empty or other bits). A file that
// is always ready (a regular file) returns at once. In thread context it blocks the thread
// in poll(2).
int gmp_wait_fd(int fd, uint32_t events, int64_t timeout_ns);

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

// A channel of `elem_size`-byte elements (0 = signal-only, Go's `chan struct{}`; at most
// GMP_CHAN_MAX_ELEM) with a buffer of `cap` elements (0 = unbuffered: a send completes only
// when a receiver takes it). Any context. 0 and `*out` set; -EINVAL for NULL `out`,
// `elem_size` > GMP_CHAN_MAX_ELEM or `elem_size` x `cap` overflowing; -ENOMEM when the buffer
// cannot be allocated. Release it with gmp_chan_free.
int gmp_chan_new(size_t elem_size, size_t cap, struct gmp_chan **out);

// Send: copy `elem_size` bytes from `elem` into the channel, blocking while no receiver is
// there (unbuffered) or the buffer is full: a goroutine parks, a thread sleeps. 0; -EPIPE if
// the channel is closed, or gets closed while the sender waits (Go panics); -EINVAL for NULL
// `c`, or NULL `elem` with `elem_size` > 0. Any context.
int gmp_chan_send(struct gmp_chan *c, const void *elem);

// Receive (`v, ok := <-c`): 1 with a value copied to `elem`; 0 once the channel is closed
// and drained (`elem` zero-filled). `elem` may be NULL (the value is dropped). Blocks while
// the channel is empty and open. -EINVAL for NULL `c`. Any context.
int gmp_chan_recv(struct gmp_chan *c, void *elem);

// Close: receivers drain what is buffered, then get 0; blocked senders get -EPIPE, as do
// later sends. 0; -EPIPE if already closed; -EINVAL for NULL.
int gmp_chan_close(struct gmp_chan *c);

// Release the channel (and its buffered values). 0; -EBUSY while anyone is blocked on it
// (in a send, a receive or a select); -EINVAL for NULL.
int gmp_chan_free(struct gmp_chan *c);

// Elements buffered now; -EINVAL for NULL.
int64_t gmp_chan_len(const struct gmp_chan *c);

// The buffer's capacity (0 for an unbuffered channel); -EINVAL for NULL.
int64_t gmp_chan_cap(const struct gmp_chan *c);

// Go's select: wait until one of the `n` cases can proceed, do it, return its index. Among
// several ready cases one is chosen uniformly at random. `timeout_ns` < 0: no timeout; 0: Go's
// `default` (-EAGAIN if none is ready now); > 0: -ETIMEDOUT after that long. A receive case on
// a closed, drained channel is ready: it zero-fills `elem` and sets `ok = false` (`ok` is set
// for the chosen receive case only). A case with a NULL channel is never ready; the same
// channel may appear in several cases. -EPIPE if the chosen case is a send on a closed channel
// (including one closed while the select waited). -EINVAL for NULL `cases` with `n` > 0, a
// `dir` other than GMP_SEND/GMP_RECV (even on a NULL channel), NULL `elem` in a send case whose
// channel has elements, `n` > 65536, or `n` == 0 with `timeout_ns` < 0 (`n` == 0 with a timeout
// >= 0 waits that long as if no case is ever ready). Any context.
int gmp_select(struct gmp_case *cases, size_t n, int64_t timeout_ns);

// Lock `m`, blocking (a goroutine parks, a thread sleeps) while another holds it: brief
// spinning first; once a waiter has waited over 1 ms the lock is handed over in FIFO order
// (Go's starvation mode). 0; -EINVAL for NULL. Not recursive: locking a mutex you hold
// blocks for good. Any context.
int gmp_mutex_lock(struct gmp_mutex *m);

// Lock `m` if it is free now: 0, or -EBUSY. -EINVAL for NULL.
int gmp_mutex_trylock(struct gmp_mutex *m);

// Unlock `m` (any goroutine or thread may). 0; -EPERM if it is not locked; -EINVAL for NULL.
int gmp_mutex_unlock(struct gmp_mutex *m);

// Lock `rw` for reading (shared), blocking while a writer holds it or waits for it. 0;
// -EINVAL for NULL.
int gmp_rwmutex_rlock(struct gmp_rwmutex *rw);

// Release a read lock. 0; -EPERM if `rw` is not read-locked; -EINVAL for NULL.
int gmp_rwmutex_runlock(struct gmp_rwmutex *rw);

// Lock `rw` for writing (exclusive): new readers wait from now on; blocks until the readers
// inside have left. 0; -EINVAL for NULL.
int gmp_rwmutex_lock(struct gmp_rwmutex *rw);

// Release the write lock. 0; -EPERM if `rw` is not write-locked; -EINVAL for NULL.
int gmp_rwmutex_unlock(struct gmp_rwmutex *rw);

// Read-lock `rw` if no writer holds it or waits: 0, or -EBUSY. -EINVAL for NULL.
int gmp_rwmutex_tryrlock(struct gmp_rwmutex *rw);

// Write-lock `rw` if nobody holds it: 0, or -EBUSY. -EINVAL for NULL.
int gmp_rwmutex_trylock(struct gmp_rwmutex *rw);

// Atomically unlock `m` and wait for a signal on `c`, then lock `m` again (also on every
// error return except -EPERM/-EINVAL). Waits may end spuriously: wait in a loop that checks
// the condition. 0; -EPERM if `m` is not locked; -EINVAL for NULL.
int gmp_cond_wait(struct gmp_cond *c, struct gmp_mutex *m);

// gmp_cond_wait for at most `timeout_ns` nanoseconds (< 0: no limit): -ETIMEDOUT then, with
// `m` locked again.
int gmp_cond_wait_timeout(struct gmp_cond *c, struct gmp_mutex *m, int64_t timeout_ns);

// Wake one waiter of `c` (the longest waiting), if any. 0; -EINVAL for NULL. Holding the
// mutex is allowed, not required.
int gmp_cond_signal(struct gmp_cond *c);

// Wake every waiter of `c`. 0; -EINVAL for NULL.
int gmp_cond_broadcast(struct gmp_cond *c);

// Add `delta` (may be negative) to the counter; when it reaches 0, every waiter is
// released. 0; -EINVAL for NULL or if the counter would go negative (nothing changes then).
int gmp_waitgroup_add(struct gmp_waitgroup *wg, int64_t delta);

// gmp_waitgroup_add(wg, -1).
int gmp_waitgroup_done(struct gmp_waitgroup *wg);

// Block until the counter is 0. 0; -EINVAL for NULL.
int gmp_waitgroup_wait(struct gmp_waitgroup *wg);

// Run `fn(arg)` exactly once for `o`: the first caller runs it; every caller returns after
// it has finished. 0; -EINVAL for NULL `o` or `fn`.
int gmp_once_do(struct gmp_once *o, gmp_fn f, void *arg);

// If `*addr == val` (checked atomically with enqueueing), block until a gmp_futex_wake on
// `addr` picks this waiter (0; never spuriously) or `timeout_ns` passes (-ETIMEDOUT;
// < 0: no limit; 0: at once). -EAGAIN if `*addr != val`; -EINVAL for NULL or a misaligned
// `addr`. A goroutine parks, a thread sleeps; both wait in one FIFO queue per address.
int gmp_futex_wait(uint32_t *addr, uint32_t val, int64_t timeout_ns);

// Wake up to `n` waiters of `addr` in FIFO order, goroutines and threads alike; returns how
// many were woken (`n` <= 0: none). -EINVAL for NULL or a misaligned `addr`.
int gmp_futex_wake(uint32_t *addr, int n);

// Create a key: pthread_key_create's semantics per goroutine. A value set in a goroutine
// follows it across threads; `dtor` (may be NULL) runs on each non-NULL value when its
// goroutine ends (returns or gmp_exit()s), up to 4 rounds while destructors set values again.
// In thread context the key acts on a per-thread slot (destructors at thread exit), so a
// library can use it either way. 0 and `*key` set; -EINVAL for NULL `key`; -EAGAIN when
// GMP_KEYS_MAX keys exist. Deleted keys are reused.
int gmp_key_create(gmp_key *key, gmp_key_dtor dtor);

// Delete a key: values stay where they are, no destructor runs (as pthread_key_delete).
// 0; -EINVAL for an unknown or deleted key.
int gmp_key_delete(gmp_key key);

// The calling goroutine's (or thread's) value for `key`; NULL if none was set, or for an
// unknown or deleted key.
void *gmp_getspecific(gmp_key key);

// Set the calling goroutine's (or thread's) value for `key`. 0; -EINVAL for an unknown or
// deleted key; -ENOMEM when the value table cannot grow.
int gmp_setspecific(gmp_key key, const void *value);

// The calling thread's errno address, looked up afresh on every call (it is not declared
// `const` as glibc's __errno_location is). gmp.h defines `errno` as `(*gmp_errno_location())`
// unless GMP_NO_ERRNO_MACRO is defined before including it.
int *gmp_errno_location(void);

#ifdef __cplusplus
}  // extern "C"
#endif  // __cplusplus

#endif  /* GMP_H */

/*
 * errno, switch-safe: glibc's errno macro calls __errno_location, which it declares `const`,
 * so gcc may keep the address it returned across a call that moves the goroutine to another
 * thread and then read or write the old thread's errno. This macro calls a function that is
 * not `const`, so code that includes this header always reaches the current thread's errno
 * (errno = 0; gmp_gosched(); if (errno) ... works). Define GMP_NO_ERRNO_MACRO before
 * including gmp.h to keep libc's macro.
 */
#ifndef GMP_NO_ERRNO_MACRO
#undef errno
#define errno (*gmp_errno_location())
#endif
