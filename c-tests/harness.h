/*
 * harness.h: the small shared toolkit of the libgmp C tests (C11 and C++17).
 *
 *  - CHECK / CHECK_EQ: on failure print "file:line: CHECK(...) failed: ..." with the goroutine id
 *    and OS thread id, then _exit(1). They use only snprintf + write(2) + _exit, so they are safe
 *    on any stack, including from an unlockf callback running on the scheduler's stack.
 *  - h_check_lib(): proves the process loaded OUR libgmp.so (the one in GMP_LIBDIR), not
 *    Debian's GNU MP /usr/lib/x86_64-linux-gnu/libgmp.so. It does not start the runtime. It
 *    also starts a watchdog thread that reports a scheduler snapshot if the test hangs.
 *  - wg_t: a wait group built only on gmp_park/gmp_ready (goroutine waiters) and a futex
 *    (thread-context waiters). ev_t is a one-shot event = a wait group with count 1.
 *  - h_run_self(): run this program again as a child process (fork + exec /proc/self/exe) with
 *    given arguments and environment changes; capture its stderr and exit status.
 *    h_run_self_timed() is the same with a timeout that is reported (a hung child is killed,
 *    its CPU use in its last 0.5 s noted) instead of failed; h_run_fork_timed() the same for a
 *    child that is a plain fork() running a function (no exec).
 *
 * Every test is compiled with -DGMP_LIBDIR="\"<dir of libgmp.so>\"" (run.sh does it).
 */
#ifndef GMP_TEST_HARNESS_H
#define GMP_TEST_HARNESS_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "gmp.h"
#ifdef __GNU_MP__
#error "included GNU MP's gmp.h instead of libgmp's: put -I<repo>/include first"
#endif

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <link.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifdef __cplusplus
#include <atomic>
#define H_ATOMIC(T) std::atomic<T>
using std::atomic_compare_exchange_strong;
using std::atomic_exchange;
using std::atomic_fetch_add;
using std::atomic_fetch_sub;
using std::atomic_init;
using std::atomic_load;
using std::atomic_load_explicit;
using std::atomic_store;
using std::atomic_store_explicit;
using std::memory_order_relaxed;
#define H_UNUSED [[maybe_unused]]
#else
#include <stdatomic.h>
#define H_ATOMIC(T) _Atomic(T)
#define H_UNUSED __attribute__((unused))
#endif

#ifndef GMP_LIBDIR
#error "compile with -DGMP_LIBDIR='\"/dir/holding/libgmp.so\"'"
#endif

/* ------------------------------------------------------------------ failure reporting */

static inline pid_t h_gettid(void) { return (pid_t)syscall(SYS_gettid); }

__attribute__((noreturn, format(printf, 4, 5), unused)) static void
h_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
    char buf[1024];
    int saved = errno;
    /* gmp_self/gmp_goid never start the runtime and are valid in any context. */
    long long id = (long long)gmp_goid(NULL);
    int n = snprintf(buf, sizeof buf, "%s:%d: CHECK(%s) failed: ", file, line, cond);
    if (n < 0 || n >= (int)sizeof buf) n = 0;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(buf + n, sizeof buf - (size_t)n, fmt, ap);
    va_end(ap);
    if (m > 0) n += m;
    if (n >= (int)sizeof buf) n = (int)sizeof buf - 1;
    m = snprintf(buf + n, sizeof buf - (size_t)n, " [goid=%lld tid=%d errno=%d]\n", id,
                 (int)h_gettid(), saved);
    if (m > 0) n += m;
    if (n >= (int)sizeof buf) n = (int)sizeof buf - 1;
    ssize_t w = write(2, buf, (size_t)n);
    (void)w;
    _exit(1);
}

#define CHECK(cond, ...)                                                                   \
    do {                                                                                   \
        if (!(cond)) h_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);                       \
    } while (0)

#define CHECK_EQ(a, b)                                                                     \
    do {                                                                                   \
        long long h_a_ = (long long)(a), h_b_ = (long long)(b);                            \
        if (h_a_ != h_b_)                                                                  \
            h_fail(__FILE__, __LINE__, #a " == " #b, "%lld != %lld", h_a_, h_b_);          \
    } while (0)

/* ------------------------------------------------------------------ small utilities */

static inline int64_t h_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* GMP_MAXPROCS as run.sh set it; 0 when unset. */
H_UNUSED static int h_env_procs(void)
{
    const char *s = getenv("GMP_MAXPROCS");
    return s ? atoi(s) : 0;
}

H_UNUSED static gmp_stats h_stats(void)
{
    gmp_stats s;
    memset(&s, 0, sizeof s);
    int r = gmp_stats_read(&s);
    CHECK(r == 0, "gmp_stats_read returned %d", r);
    return s;
}

/* gmp_main that must succeed. */
H_UNUSED static void h_main(gmp_fn fn, void *arg)
{
    int r = gmp_main(fn, arg);
    CHECK(r == 0, "gmp_main returned %d", r);
}

/* Spawn that must succeed; returns the id. */
H_UNUSED static int64_t h_spawn(gmp_fn fn, void *arg)
{
    int64_t id = gmp_spawn(fn, arg);
    CHECK(id > 0, "gmp_spawn returned %lld", (long long)id);
    return id;
}

/* From a goroutine: yield until cond holds, failing after `secs` seconds of wall time. This is
 * polling an observable condition with a generous deadline (used for things like "the goroutine
 * count drops back", which no event can signal); it is not a sleep. */
#define H_GOSCHED_UNTIL(cond, secs, ...)                                                   \
    do {                                                                                   \
        int64_t h_dl_ = h_now_ns() + (int64_t)(secs) * 1000000000;                         \
        while (!(cond)) {                                                                  \
            if (h_now_ns() > h_dl_) h_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);        \
            gmp_gosched();                                                                 \
        }                                                                                  \
    } while (0)

/* ------------------------------------------------------------------ library identity */

static int h_phdr_cb(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    const char *want = (const char *)data;
    const char *name = info->dlpi_name;
    if (!name || !*name) return 0;
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    if (strncmp(base, "libgmp.so", 9) != 0) return 0;
    char real[PATH_MAX];
    if (!realpath(name, real)) snprintf(real, sizeof real, "%s", name);
    size_t n = strlen(want);
    CHECK(strncmp(real, want, n) == 0 && real[n] == '/',
          "a libgmp.so that is not ours is loaded: %s (want one under %s)", real, want);
    return 0;
}

/* Watchdog: a hung test (lost wake-up, stranded goroutines) would only show "timeout" in
 * run.sh. This detached thread sleeps H_WATCHDOG_SECS (below run.sh's 120 s timeout), then
 * prints a scheduler snapshot and exits the process with status 3. It is diagnostics only: it
 * synchronises nothing and calls into the runtime only when it fires. */
#ifndef H_WATCHDOG_SECS
#define H_WATCHDOG_SECS 60
#endif
static void *h_watchdog(void *arg)
{
    (void)arg;
    struct timespec ts = {H_WATCHDOG_SECS, 0};
    while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) != 0) {
    }
    gmp_stats s;
    memset(&s, 0, sizeof s);
    int r = gmp_stats_read(&s);
    char buf[512];
    int n = snprintf(buf, sizeof buf,
                     "WATCHDOG: still running after %d s (hang?): stats_read=%d goroutines=%llu "
                     "procs=%u threads=%u idle_threads=%u spinning_threads=%u global_runq=%llu "
                     "spawned=%llu schedules=%llu steals=%llu yields=%llu\n",
                     H_WATCHDOG_SECS, r, (unsigned long long)s.goroutines, s.procs, s.threads,
                     s.idle_threads, s.spinning_threads, (unsigned long long)s.global_runq,
                     (unsigned long long)s.spawned, (unsigned long long)s.schedules,
                     (unsigned long long)s.steals, (unsigned long long)s.yields);
    if (n > 0) {
        ssize_t w = write(2, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
        (void)w;
    }
    _exit(3);
    return NULL;
}

/* Checks that gmp_spawn and gmp_stats_read (GNU MP has no such symbol, so merely referencing it
 * means we could not have linked against GNU MP) come from <GMP_LIBDIR>/libgmp.so, and that no
 * other libgmp.so* is mapped. Does not start the runtime. Also starts the watchdog. */
H_UNUSED static void h_check_lib(void)
{
    char want[PATH_MAX];
    const char *dir = GMP_LIBDIR;
    CHECK(realpath(dir, want) != NULL, "GMP_LIBDIR %s: %s", dir, strerror(errno));
    const void *syms[2] = {(const void *)&gmp_spawn, (const void *)&gmp_stats_read};
    const char *names[2] = {"gmp_spawn", "gmp_stats_read"};
    for (int i = 0; i < 2; i++) {
        Dl_info info;
        memset(&info, 0, sizeof info);
        CHECK(dladdr(syms[i], &info) != 0 && info.dli_fname, "dladdr(%s) failed", names[i]);
        char got[PATH_MAX];
        CHECK(realpath(info.dli_fname, got) != NULL, "realpath(%s)", info.dli_fname);
        size_t n = strlen(want);
        CHECK(strncmp(got, want, n) == 0 && got[n] == '/' && strstr(got + n, "libgmp.so"),
              "%s was loaded from %s, not from %s", names[i], got, want);
    }
    dl_iterate_phdr(h_phdr_cb, want);

    pthread_t t;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    CHECK(pthread_create(&t, &a, h_watchdog, NULL) == 0, "watchdog thread");
    pthread_attr_destroy(&a);
}

/* ------------------------------------------------------------------ futex (thread context) */

static inline void h_futex_wait(void *addr, int val)
{
    syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}
static inline void h_futex_wake(void *addr)
{
    syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

/* ------------------------------------------------------------------ wait group / event
 *
 * One waiter per cycle (wg_init .. wg_wait); any number of finishers; finishers may run in
 * goroutines or plain threads; the waiter may be a goroutine (parks with gmp_park) or a thread
 * (futex). Usage: wg_init(&w); wg_add(&w, n) BEFORE starting the n workers; each worker calls
 * wg_done(&w) once; the owner calls wg_wait(&w) once. wg_init again to reuse.
 *
 * count = outstanding wg_done calls + 1. The extra 1 is the waiter's own "bias", dropped at the
 * start of wg_wait. Hence count can reach 0 only after wg_wait has started, and exactly one party
 * sees it reach 0:
 *   - the waiter (all workers already finished): it returns at once; no worker will ever touch
 *     the wait group again (a worker that did not bring count to 0 never touches it after its
 *     fetch_sub), so the waiter may free it.
 *   - otherwise the LAST FINISHER. It then races with the waiter, who is in gmp_park. The state
 *     word decides the race; both sides use one CAS from IDLE:
 *       waiter, inside unlockf (already switched out, so g is "parked" and may be readied):
 *           store waiter = g;  CAS(state, IDLE -> WAITING)
 *           success: return true (stay parked); the finisher will see WAITING and ready us.
 *                    After the CAS the unlockf must not touch *w: the finisher may ready g, which
 *                    may return from wg_wait on another P and free *w before unlockf returns.
 *           failure: state is DONE: the last finisher came and went; return false = resume now.
 *       last finisher:
 *           CAS(state, IDLE -> DONE)
 *           success: the waiter has not published itself; its unlockf CAS will fail and it
 *                    resumes by itself. The finisher touches *w no more.
 *           failure, state == WAITING: the waiter stored g before its CAS, and our failed CAS
 *                    read that CAS's value, so g is visible. Store READIED (so the waiter can
 *                    tell a real wake-up from a spurious one), then gmp_ready(g), which must
 *                    return 0: g is parked and nobody else readies it. The wg is not touched
 *                    after gmp_ready (g may run and free it at once).
 *           failure, state == THREAD: a thread waiter in the futex: store DONE and futex-wake.
 *   No lost wake-up: whichever CAS comes second sees the other's value and takes the branch that
 *   does the waking (finisher) or does not sleep (waiter). No double wake-up: only the single
 *   last finisher ever calls gmp_ready, once.
 *   Thread waiters: CAS(IDLE -> THREAD), then futex-wait while state == THREAD. The finisher's
 *   futex_wake may follow the waiter's return by a moment; a FUTEX_WAKE on memory that was freed
 *   is harmless (it is only a hash key) and our wait groups live in static storage or frames
 *   that outlive the wait anyway.
 */
enum { WG_IDLE = 0, WG_WAITING = 1, WG_DONE = 2, WG_READIED = 3, WG_THREAD = 4 };

typedef struct wg_t {
    H_ATOMIC(int64_t) count;
    H_ATOMIC(int) state; /* also the futex word of thread waiters */
    H_ATOMIC(gmp_g *) waiter;
} wg_t;

H_UNUSED static void wg_init(wg_t *w)
{
    atomic_store(&w->count, (int64_t)1);
    atomic_store(&w->state, (int)WG_IDLE);
    atomic_store(&w->waiter, (gmp_g *)NULL);
}

H_UNUSED static void wg_add(wg_t *w, int64_t n)
{
    int64_t old = atomic_fetch_add(&w->count, n);
    CHECK(old >= 1, "wg_add after wg_wait started (count was %lld)", (long long)old);
}

H_UNUSED static void wg_done(wg_t *w)
{
    int64_t left = atomic_fetch_sub(&w->count, (int64_t)1) - 1;
    CHECK(left >= 0, "wg_done called more often than wg_add allowed");
    if (left != 0) return; /* not the last one: never touch *w again */
    int s = WG_IDLE;
    if (atomic_compare_exchange_strong(&w->state, &s, (int)WG_DONE)) return;
    if (s == WG_WAITING) {
        gmp_g *g = atomic_load(&w->waiter);
        atomic_store(&w->state, (int)WG_READIED);
        int r = gmp_ready(g);
        CHECK(r == 0, "gmp_ready(parked waiter) returned %d: lost wake-up", r);
        return;
    }
    CHECK(s == WG_THREAD, "wait group in impossible state %d", s);
    atomic_store(&w->state, (int)WG_DONE);
    h_futex_wake(&w->state);
}

static bool wg_unlockf(gmp_g *g, void *lock)
{
    wg_t *w = (wg_t *)lock;
    atomic_store(&w->waiter, g);
    int s = WG_IDLE;
    return atomic_compare_exchange_strong(&w->state, &s, (int)WG_WAITING);
}

H_UNUSED static void wg_wait(wg_t *w)
{
    if (atomic_fetch_sub(&w->count, (int64_t)1) == 1) return; /* everybody already done */
    if (gmp_self() != NULL) {
        int r = gmp_park(wg_unlockf, w);
        CHECK(r == 0, "gmp_park returned %d", r);
        int s = atomic_load(&w->state);
        CHECK(s == WG_DONE || s == WG_READIED,
              "gmp_park returned but nobody readied us (state %d): spurious wake-up", s);
    } else {
        int s = WG_IDLE;
        if (atomic_compare_exchange_strong(&w->state, &s, (int)WG_THREAD)) {
            while ((s = atomic_load(&w->state)) == WG_THREAD) h_futex_wait(&w->state, WG_THREAD);
        }
        CHECK(s == WG_DONE, "thread wait ended in state %d", s);
    }
}

/* A one-shot event: ev_init, then exactly one ev_set and one ev_wait (in any order). */
typedef wg_t ev_t;
H_UNUSED static void ev_init(ev_t *e) { wg_init(e); wg_add(e, 1); }
H_UNUSED static void ev_set(ev_t *e) { wg_done(e); }
H_UNUSED static void ev_wait(ev_t *e) { wg_wait(e); }

/* ------------------------------------------------------------------ run myself as a child
 *
 * h_run_self(args, env, out, outsz, status): for tests that must watch a process die, or read
 * what the runtime prints, the parent runs this same program again as a child:
 *   - fork, then exec /proc/self/exe with argv = { program name, args[0], args[1], ... }
 *     (args: NULL-terminated, at most H_CHILD_MAXARGS entries; the child's main() tells it is
 *     the child by its arguments);
 *   - in the child, before the exec: each entry of env (NULL-terminated; env itself may be
 *     NULL) "NAME=VALUE" sets NAME, a bare "NAME" unsets it; everything else is inherited.
 *     Core dumps are off (RLIMIT_CORE 0: several children die of signals on purpose). The
 *     child's stderr is a pipe to the parent; stdout is shared with the parent (which flushes
 *     its stdio first, so nothing is printed twice);
 *   - the parent reads the pipe until EOF into out (NUL-terminated; the first outsz - 1 bytes
 *     are kept, anything beyond is read and dropped so the child never blocks on a full pipe),
 *     then reaps the child: *status = its waitpid status (WIFEXITED etc.);
 *   - if the child has not closed its stderr within H_CHILD_SECS seconds, the parent kills it
 *     (SIGKILL) and fails (CHECK) with the arguments, environment and stderr so far.
 * Returns the number of bytes the child wrote to stderr (more than outsz - 1 = truncated).
 * Call it from a parent that has not started the runtime (both users: the parent only checks
 * the children): between fork and exec the child calls setenv, which is safe only while no
 * other thread of the parent can be inside malloc (the watchdog thread just sleeps).
 * h_describe_status(st) renders a waitpid status: "exit N", "killed by signal N".
 *
 * h_run_self_timed(args, env, out, outsz, status, secs, &hung): the same with a timeout of
 * `secs` seconds that is reported instead of failed, for tests that run many children and
 * count the ones that hang. A child still running after `secs` is sampled, then killed
 * (SIGKILL) and reaped; *hung = true, *status = the kill's status, and out ends with one line
 * "[harness: killed after S s: T threads, C s of CPU in all, c ms of CPU in its last 500 ms]"
 * (from /proc/<pid>/stat: c ~ 0 means a hang at 0 % CPU, a deadlock; c ~ 500 a live-lock or
 * just slowness). Otherwise *hung = false. Returns the byte count as h_run_self does.
 * h_run_fork_timed (below) is the same for a child that is a plain fork() running a function.
 */
#ifndef H_CHILD_SECS
#define H_CHILD_SECS 20
#endif
#define H_CHILD_MAXARGS 15

/* Threads and CPU time (utime + stime, in clock ticks) of process pid; false if unreadable. */
H_UNUSED static bool h_proc_stat(pid_t pid, int *threads, long long *ticks)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return false;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    /* Fields after comm (which may hold spaces): 3 state ... 14 utime 15 stime ... 20 threads. */
    char *p = strrchr(buf, ')');
    if (!p) return false;
    long long v[21] = {0};
    int field = 3;
    for (p += 2; *p && field <= 20; field++) {
        v[field] = strtoll(p, &p, 10);
        if (field == 3) v[field] = 0; /* the state letter: strtoll reads nothing */
        while (*p && *p != ' ') p++;
        while (*p == ' ') p++;
    }
    *ticks = v[14] + v[15];
    *threads = (int)v[20];
    return true;
}

static size_t h_child_collect(pid_t pid, int fd, char *out, size_t outsz, int *status,
                              int secs, bool *hung);

H_UNUSED static size_t h_run_self_timed(const char *const args[], const char *const env[],
                                        char *out, size_t outsz, int *status, int secs,
                                        bool *hung)
{
    CHECK(outsz >= 1, "h_run_self: no room for the output");
    char *argv[H_CHILD_MAXARGS + 2];
    int argc = 0;
    argv[argc++] = program_invocation_short_name;
    for (; args && args[argc - 1]; argc++) {
        CHECK(argc <= H_CHILD_MAXARGS, "h_run_self: more than %d arguments", H_CHILD_MAXARGS);
        argv[argc] = (char *)args[argc - 1];
    }
    argv[argc] = NULL;

    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        dup2(p[1], 2);
        close(p[0]);
        close(p[1]);
        struct rlimit rl = {0, 0};
        setrlimit(RLIMIT_CORE, &rl);
        for (int i = 0; env && env[i]; i++) {
            const char *eq = strchr(env[i], '=');
            if (eq) {
                char name[256];
                snprintf(name, sizeof name, "%.*s", (int)(eq - env[i]), env[i]);
                setenv(name, eq + 1, 1);
            } else {
                unsetenv(env[i]);
            }
        }
        execv("/proc/self/exe", argv);
        _exit(127);
    }
    close(p[1]);
    return h_child_collect(pid, p[0], out, outsz, status, secs, hung);
}

/* The parent's half of h_run_self_timed / h_run_fork_timed: read the child's stderr (fd) into
 * out until EOF, with the timeout; reap the child. Closes fd. */
H_UNUSED static size_t h_child_collect(pid_t pid, int fd, char *out, size_t outsz, int *status,
                                       int secs, bool *hung)
{
    size_t n = 0, total = 0;
    char drop[4096];
    int64_t deadline = h_now_ns() + (int64_t)secs * 1000000000;
    *hung = false;
    for (;;) {
        int left = (int)((deadline - h_now_ns()) / 1000000);
        if (left <= 0) {
            int th0 = 0, th1 = 0;
            long long c0 = 0, c1 = 0;
            bool ok = h_proc_stat(pid, &th0, &c0);
            struct timespec half = {0, 500000000};
            nanosleep(&half, NULL);
            ok = ok && h_proc_stat(pid, &th1, &c1);
            kill(pid, SIGKILL);
            /* Drain what the child wrote meanwhile (EOF once it is dead). */
            for (;;) {
                ssize_t k = n < outsz - 1 ? read(fd, out + n, outsz - 1 - n)
                                          : read(fd, drop, sizeof drop);
                if (k < 0 && errno == EINTR) continue;
                if (k <= 0) break;
                if (n < outsz - 1) n += (size_t)k;
                total += (size_t)k;
            }
            close(fd);
            CHECK(waitpid(pid, status, 0) == pid, "waitpid");
            long hz = sysconf(_SC_CLK_TCK);
            char line[200];
            int m;
            if (ok)
                m = snprintf(line, sizeof line,
                             "[harness: killed after %d s: %d threads, %.2f s of CPU in all, "
                             "%lld ms of CPU in its last 500 ms]\n",
                             secs, th1, (double)c1 / (double)hz, (c1 - c0) * 1000 / hz);
            else
                m = snprintf(line, sizeof line, "[harness: killed after %d s]\n", secs);
            for (int i = 0; i < m && n < outsz - 1; i++) out[n++] = line[i];
            out[n] = 0;
            *hung = true;
            return total;
        }
        struct pollfd pf = {fd, POLLIN, 0};
        if (poll(&pf, 1, left) <= 0) continue;
        char *dst = n < outsz - 1 ? out + n : drop;
        size_t room = n < outsz - 1 ? outsz - 1 - n : sizeof drop;
        ssize_t k = read(fd, dst, room);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break; /* EOF: the child has exited (or closed its stderr) */
        if (dst != drop) n += (size_t)k;
        total += (size_t)k;
    }
    out[n] = 0;
    close(fd);
    CHECK(waitpid(pid, status, 0) == pid, "waitpid");
    return total;
}

H_UNUSED static size_t h_run_self(const char *const args[], const char *const env[], char *out,
                                  size_t outsz, int *status)
{
    bool hung;
    size_t total = h_run_self_timed(args, env, out, outsz, status, H_CHILD_SECS, &hung);
    if (hung) {
        char what[512];
        int w = 0;
        for (int i = 0; args && args[i] && w < (int)sizeof what; i++)
            w += snprintf(what + w, sizeof what - (size_t)w, "%s%s", i ? " " : "", args[i]);
        for (int i = 0; env && env[i] && w < (int)sizeof what; i++)
            w += snprintf(what + w, sizeof what - (size_t)w, "%s%s%s", i ? " " : "; env ",
                          env[i], strchr(env[i], '=') ? "" : " (unset)");
        CHECK(0, "child '%s' still running after %d s; stderr so far: %.2000s", what,
              H_CHILD_SECS, out);
    }
    return total;
}

/* h_run_fork_timed(fn, arg, out, outsz, status, secs, &hung): as h_run_self_timed, but the
 * child is a plain fork() that calls fn(arg) and then exits 0 (after flushing stdout), with
 * no exec: for children that must set things up (privileges, resource limits) before the
 * runtime starts, in a process image the parent prepared. The child has only the calling
 * thread, so call it only while the parent's runtime has not started (the child may start
 * its own); stderr is piped to the parent as with h_run_self, core dumps are off. */
H_UNUSED static size_t h_run_fork_timed(void (*fn)(void *), void *arg, char *out, size_t outsz,
                                        int *status, int secs, bool *hung)
{
    CHECK(outsz >= 1, "h_run_fork_timed: no room for the output");
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        dup2(p[1], 2);
        close(p[0]);
        close(p[1]);
        struct rlimit rl = {0, 0};
        setrlimit(RLIMIT_CORE, &rl);
        fn(arg);
        fflush(stdout);
        _exit(0);
    }
    close(p[1]);
    return h_child_collect(pid, p[0], out, outsz, status, secs, hung);
}

/* ------------------------------------------------------------------ "is it blocked yet?"
 *
 * h_wait_asleep(tid, secs): wait until OS thread `tid` of this process sleeps in a futex
 * (state S, inside futex / futex_wait / futex_waitv per /proc/self/task/<tid>/syscall) at
 * H_ASLEEP_SAMPLES consecutive samples H_ASLEEP_GAP_MS apart; fail (CHECK) after `secs` seconds.
 * Any context (between samples a goroutine parks in gmp_sleep, a thread sleeps).
 *
 * What it is for: a test that must know that a blocking operation (a channel send, a lock, a
 * futex wait) has really blocked, i.e. is enqueued on the object, before it acts: gmp_chan_free
 * must return -EBUSY then, a close must wake it, the futex queue has a known FIFO order, a
 * reader that comes later must queue behind a waiting writer. No call of the API can tell
 * (every probe, such as a non-blocking send that succeeds only if a receiver waits, undoes the
 * very state it observes), so the test blocks a plain thread, or a goroutine that called
 * gmp_lock_thread() (its thread then runs nothing else, and sleeps on a futex while the
 * goroutine is parked), records its tid, and watches the thread. The operation enqueues before
 * it sleeps; several samples in a row rule out a brief sleep on some contended internal lock
 * on the way in (nothing else touches the object meanwhile in these tests).
 */
#ifndef H_ASLEEP_SAMPLES
#define H_ASLEEP_SAMPLES 3
#endif
#ifndef H_ASLEEP_GAP_MS
#define H_ASLEEP_GAP_MS 5
#endif

/* true if thread tid is now asleep (state S) inside a futex system call. */
H_UNUSED static bool h_thread_in_futex(pid_t tid)
{
    char path[96], buf[512];
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)tid);
    FILE *f = fopen(path, "r");
    if (!f) return false;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    if (!p || p[1] != ' ' || p[2] != 'S') return false;
    snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)tid);
    f = fopen(path, "r");
    if (!f) return false;
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *end;
    long nr = strtol(buf, &end, 10);
    if (end == buf) return false; /* "running" */
#if defined(__x86_64__) || defined(__aarch64__)
    if (nr == 449 || nr == 455) return true; /* futex_waitv, futex_wait (same on both) */
#endif
    return nr == SYS_futex;
}

H_UNUSED static void h_wait_asleep(pid_t tid, int secs)
{
    CHECK(tid > 0, "h_wait_asleep: no thread id");
    int64_t deadline = h_now_ns() + (int64_t)secs * 1000000000;
    int streak = 0;
    while (streak < H_ASLEEP_SAMPLES) {
        CHECK(h_now_ns() < deadline, "thread %d never stayed asleep in a futex wait for %d s",
              (int)tid, secs);
        streak = h_thread_in_futex(tid) ? streak + 1 : 0;
        if (streak < H_ASLEEP_SAMPLES) gmp_sleep((int64_t)H_ASLEEP_GAP_MS * 1000000);
    }
}

/* h_blocker_t: run one blocking operation `op(arg)` in a goroutine locked to its thread
 * (h_block_start(b, op, arg, false)) or in a new plain pthread (..., true), and return once that
 * thread is asleep in it (h_wait_asleep). h_block_done(b) tells whether op has returned yet;
 * h_block_finish(b) waits for op to return and gives its result. The blocker must be finished
 * before it is reused or goes out of scope. Call both from one goroutine or thread. */
typedef struct h_blocker {
    int (*op)(void *arg);
    void *arg;
    int ret;
    bool thread;
    pthread_t th;
    H_ATOMIC(pid_t) tid;
    H_ATOMIC(int) returned;
    ev_t done;
} h_blocker_t;

static void h_blocker_body(h_blocker_t *b)
{
    atomic_store(&b->tid, h_gettid());
    b->ret = b->op(b->arg);
    atomic_store(&b->returned, 1);
}

static void h_blocker_go(void *arg)
{
    h_blocker_t *b = (h_blocker_t *)arg;
    CHECK_EQ(gmp_lock_thread(), 0);
    h_blocker_body(b);
    CHECK_EQ(gmp_unlock_thread(), 0);
    ev_set(&b->done);
}

static void *h_blocker_thread(void *arg)
{
    h_blocker_t *b = (h_blocker_t *)arg;
    h_blocker_body(b);
    ev_set(&b->done);
    return NULL;
}

H_UNUSED static void h_block_start(h_blocker_t *b, int (*op)(void *), void *arg, bool thread)
{
    b->op = op;
    b->arg = arg;
    b->ret = INT_MIN;
    b->thread = thread;
    atomic_store(&b->tid, (pid_t)0);
    atomic_store(&b->returned, 0);
    ev_init(&b->done);
    if (thread) {
        CHECK(pthread_create(&b->th, NULL, h_blocker_thread, b) == 0, "pthread_create");
    } else {
        h_spawn(h_blocker_go, b);
    }
    int64_t dl = h_now_ns() + 20 * (int64_t)1000000000;
    while (atomic_load(&b->tid) == 0) {
        CHECK(h_now_ns() < dl, "blocker never started");
        gmp_sleep(100000);
    }
    h_wait_asleep(atomic_load(&b->tid), 20);
    CHECK(!atomic_load(&b->returned), "the blocking operation returned %d at once", b->ret);
}

H_UNUSED static bool h_block_done(h_blocker_t *b) { return atomic_load(&b->returned) != 0; }

H_UNUSED static int h_block_finish(h_blocker_t *b)
{
    ev_wait(&b->done);
    if (b->thread) CHECK(pthread_join(b->th, NULL) == 0, "pthread_join");
    return b->ret;
}

/* A waitpid status in words (a static buffer: one call per printf). */
H_UNUSED static const char *h_describe_status(int st)
{
    static char buf[64];
    if (WIFSIGNALED(st))
        snprintf(buf, sizeof buf, "killed by signal %d", WTERMSIG(st));
    else if (WIFEXITED(st))
        snprintf(buf, sizeof buf, "exit %d", WEXITSTATUS(st));
    else
        snprintf(buf, sizeof buf, "status 0x%x", st);
    return buf;
}

#endif /* GMP_TEST_HARNESS_H */
