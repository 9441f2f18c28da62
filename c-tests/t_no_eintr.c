/*
 * t_no_eintr: the runtime never injects EINTR into a goroutine's blocking call, and a thread
 * blocked in the kernel does not keep its P.
 *
 * The calls are made UNBRACKETED (no gmp_entersyscall): the program calls libc (or the raw
 * syscall) directly from a goroutine, as C code that knows nothing of the runtime does. A
 * goroutine sleeping in the kernel is, to a naive sysmon, a goroutine that has "run" for more
 * than 10 ms: signalling its thread (SIGURG) cuts the sleep short with EINTR (nanosleep, poll
 * and select are never restarted by SA_RESTART; sleep() returns the unslept seconds). The
 * runtime must instead notice that the thread is blocked in the kernel, leave it alone, and
 * hand its P to another thread (design.md: "A thread blocked in the kernel is never signalled
 * ... sysmon treats it as being in a syscall and retakes its P").
 *
 * Phase 1, at the P count run.sh gives (GMP_MAXPROCS = 1, 2, 8): procs + 2 CPU-bound hog
 * goroutines (pure C loops, no yield) keep every P busy for the whole phase. Then:
 *  - a goroutine calls, one after the other, each for SLEEP_MS: nanosleep, usleep,
 *    poll(NULL, 0, ms), clock_nanosleep(CLOCK_MONOTONIC, relative), syscall(SYS_nanosleep),
 *    select(0, NULL, NULL, NULL, &timeout);
 *  - meanwhile another goroutine calls sleep(1).
 * Phase 2, at ONE P (gmp_set_procs(1), whatever GMP_MAXPROCS says): 2 hogs, and a goroutine
 * that calls nanosleep(SLEEP_MS) and then syscall(SYS_nanosleep) for SLEEP_MS, measuring how
 * much the hogs ran during each sleep.
 * Asserts, for every call:
 *  - it succeeded: 0 (never -1 with EINTR, never EINTR as clock_nanosleep's result; sleep(1)
 *    returns 0, nothing left unslept -- but glibc's sleep() returns the unslept WHOLE seconds,
 *    so an interrupted sleep(1) also returns 0: only the elapsed time shows it);
 *  - it slept the whole time: elapsed (CLOCK_MONOTONIC around the call) >= requested, and
 *    <= requested + SLACK_MS (a generous bound: other load on the machine, the OS scheduling
 *    the thread back in);
 *  - the goroutine runs on after the call: same gmp_self() and goid; after the raw
 *    syscall(SYS_nanosleep), which nothing can interpose, also the same OS thread (the libc
 *    calls may be interposed by the library, api.md, and a hooked sleep may resume the
 *    goroutine on another thread); then it yields (gmp_gosched) and finishes its work;
 *  - phase 2 only: during each SLEEP_MS sleep the hogs, on the only P, ran for at least
 *    MIN_PROGRESS_PCT % of the sleep (hog "progress" = the wall time a hog observed itself
 *    running: the sum of gaps < 1 ms between consecutive clock reads in its loop, so it counts
 *    CPU time actually given to the hog, not time it was switched out). If the sleeping
 *    thread keeps the P, the hogs get nothing (~0 ms); with the P handed off they get most of
 *    the 200 ms.
 * Globally: every goroutine ran to its end (a counter of finished goroutines is exact),
 * stats.spawned grew by exactly the number spawned, stats.goroutines returns to its value at the
 * start (the main goroutine only).
 * Every call's result is printed; all failed expectations are listed before the test fails.
 *
 * Catches: SIGURG (or any signal) sent to a thread blocked in the kernel (EINTR, short sleep,
 * sleep() returning unslept seconds); a thread blocked in the kernel keeping its P (no hog
 * progress at 1 P); a sleep made much longer than asked; a goroutine lost or resumed elsewhere
 * after such a call.
 * Against the library before the fix: every call is interrupted once the goroutine has "run"
 * 10 ms (-1/EINTR, clock_nanosleep 4 = EINTR; the elapsed 20-90 ms includes the wait of the
 * goroutine, preempted in the signal handler, for its next turn), sleep(1) returns 0 after
 * ~50 ms, and at 1 P the hogs run only 6-21 ms "during" the cut-short sleeps.
 */
#define H_WATCHDOG_SECS 30
#include "harness.h"

#include <sys/select.h>

#define SLEEP_MS 200
#define SLACK_MS 300
#define MIN_PROGRESS_PCT 20
#define MAXHOGS 16

/* ------------------------------------------------------------------ soft expectations */

static H_ATOMIC(int) nbad;

__attribute__((format(printf, 3, 4))) static void expect_fail(int line, const char *cond,
                                                               const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fprintf(stderr, "t_no_eintr.c:%d: EXPECT(%s) failed: %s\n", line, cond, buf);
    atomic_fetch_add(&nbad, 1);
}
#define EXPECT(cond, ...)                                                                  \
    do {                                                                                   \
        if (!(cond)) expect_fail(__LINE__, #cond, __VA_ARGS__);                            \
    } while (0)

/* ------------------------------------------------------------------ hogs */

typedef struct hog {
    _Alignas(64) H_ATOMIC(int64_t) run_ns; /* wall time this hog saw itself running */
} hog_t;

static hog_t hogs[MAXHOGS];
static int nhogs;
static H_ATOMIC(int) hogs_started;
static H_ATOMIC(int) hog_stop;
static wg_t hog_wg;

static void hog(void *arg)
{
    hog_t *h = (hog_t *)arg;
    atomic_fetch_add(&hogs_started, 1);
    int64_t last = h_now_ns(), acc = 0;
    while (!atomic_load_explicit(&hog_stop, memory_order_relaxed)) {
        int64_t t = h_now_ns();
        if (t - last < 1000000) acc += t - last; /* a longer gap: we were not running */
        last = t;
        atomic_store_explicit(&h->run_ns, acc, memory_order_relaxed);
    }
    wg_done(&hog_wg);
}

static int64_t hog_progress(void)
{
    int64_t s = 0;
    for (int i = 0; i < nhogs; i++)
        s += atomic_load_explicit(&hogs[i].run_ns, memory_order_relaxed);
    return s;
}

static void start_hogs(int n)
{
    CHECK(n <= MAXHOGS, "too many hogs");
    nhogs = n;
    atomic_store(&hog_stop, 0);
    atomic_store(&hogs_started, 0);
    wg_init(&hog_wg);
    wg_add(&hog_wg, n);
    for (int i = 0; i < n; i++) {
        atomic_store(&hogs[i].run_ns, (int64_t)0);
        h_spawn(hog, &hogs[i]);
    }
    H_GOSCHED_UNTIL(atomic_load(&hogs_started) == n, 30, "only %d of %d hogs started",
                    atomic_load(&hogs_started), n);
}

static void stop_hogs(void)
{
    atomic_store(&hog_stop, 1);
    wg_wait(&hog_wg);
}

/* ------------------------------------------------------------------ the calls */

enum kind { K_NANOSLEEP, K_USLEEP, K_POLL, K_CLOCK_NANOSLEEP, K_SYS_NANOSLEEP, K_SELECT, K_SLEEP1 };
static const char *const kind_name[] = {"nanosleep", "usleep", "poll(NULL, 0, ms)",
                                        "clock_nanosleep(CLOCK_MONOTONIC)",
                                        "syscall(SYS_nanosleep)",
                                        "select(0, NULL, NULL, NULL, &tv)", "sleep(1)"};

/* Make one call of `k` for ms milliseconds (sleep(1): 1 s). Returns its result; *err = errno
 * right after it (0 if it did not fail). */
static long do_call(enum kind k, int ms, int *err)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    struct timeval tv = {ms / 1000, (long)(ms % 1000) * 1000};
    long r = -2;
    errno = 0;
    switch (k) {
    case K_NANOSLEEP: r = nanosleep(&ts, NULL); break;
    case K_USLEEP: r = usleep((useconds_t)ms * 1000); break;
    case K_POLL: r = poll(NULL, 0, ms); break;
    case K_CLOCK_NANOSLEEP: r = clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL); break;
    case K_SYS_NANOSLEEP: r = syscall(SYS_nanosleep, &ts, NULL); break;
    case K_SELECT: r = select(0, NULL, NULL, NULL, &tv); break;
    case K_SLEEP1: r = (long)sleep(1); break;
    }
    *err = r == -1 ? errno : 0;
    return r;
}

static H_ATOMIC(int) finished; /* goroutines that ran to their end */

/* Call k, check everything about the call itself; return the elapsed ns. If progress is not
 * NULL, *progress = hog run time (ns) during the call. */
static int64_t checked_call(enum kind k, int ms, int64_t *progress)
{
    gmp_g *self = gmp_self();
    int64_t goid = gmp_goid(NULL);
    pid_t tid = h_gettid();
    int err;
    int64_t p0 = hog_progress();
    int64_t t0 = h_now_ns();
    long r = do_call(k, ms, &err);
    int64_t t1 = h_now_ns();
    int64_t p1 = hog_progress();
    int64_t dt = t1 - t0;
    char name[96];
    if (k == K_SLEEP1)
        snprintf(name, sizeof name, "%s", kind_name[k]);
    else
        snprintf(name, sizeof name, "%s for %d ms", kind_name[k], ms);
    printf("  %-50s: result %ld%s%s, slept %.1f ms", name, r, err ? ", errno " : "",
           err ? strerror(err) : "", dt / 1e6);
    if (progress) printf(", hogs ran %.1f ms meanwhile", (p1 - p0) / 1e6);
    printf("\n");
    fflush(stdout);
    if (k == K_CLOCK_NANOSLEEP)
        EXPECT(r == 0, "%s returned %ld (%s) after %.1f ms", name, r, strerror((int)r),
               dt / 1e6);
    else if (k == K_SLEEP1)
        EXPECT(r == 0, "%s returned %ld (seconds left unslept) after %.1f ms", name, r, dt / 1e6);
    else
        EXPECT(r == 0, "%s returned %ld, errno %d (%s), after %.1f ms", name, r, err,
               strerror(err), dt / 1e6);
    EXPECT(dt >= (int64_t)ms * 1000000, "%s returned after only %.1f ms", name, dt / 1e6);
    /* The libc sleeps are interposed (api.md): the goroutine parks on a timer, and its wake-up
     * waits for a P, which the CPU-bound hogs hold until preempted. With more Ps than CPUs
     * (8 on this 2-vCPU machine) each hog's thread is on a CPU only part of the time, and a
     * thread is signalled only while it runs: the bound scales with the oversubscription. */
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int over = ncpu > 0 && gmp_set_procs(0) > ncpu ? (int)(gmp_set_procs(0) / ncpu) : 1;
    EXPECT(dt <= (int64_t)(ms + SLACK_MS * over) * 1000000,
           "%s took %.1f ms (more than %d ms over)", name, dt / 1e6, SLACK_MS * over);
    EXPECT(gmp_self() == self && gmp_goid(NULL) == goid,
           "after %s the goroutine is %p (id %lld), was %p (id %lld)", name, (void *)gmp_self(),
           (long long)gmp_goid(NULL), (void *)self, (long long)goid);
    /* A raw syscall cannot be interposed: nothing can have switched the goroutine. (The libc
     * calls may be, api.md: a hooked sleep parks the goroutine, which may resume elsewhere.) */
    if (k == K_SYS_NANOSLEEP)
        EXPECT(h_gettid() == tid, "after %s the goroutine runs on thread %d, was on %d", name,
               (int)h_gettid(), (int)tid);
    if (progress) *progress = p1 - p0;
    return dt;
}

/* Work after the calls: the goroutine must still be schedulable and finish. */
static void run_on(void)
{
    gmp_gosched();
    volatile unsigned x = 1;
    for (int i = 0; i < 1000; i++) x = x * 2654435761u + 1;
    atomic_fetch_add(&finished, 1);
}

static wg_t sleep_wg;

static void seq_sleeper(void *arg)
{
    (void)arg;
    static const enum kind ks[] = {K_NANOSLEEP,       K_USLEEP,        K_POLL,
                                   K_CLOCK_NANOSLEEP, K_SYS_NANOSLEEP, K_SELECT};
    for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++) checked_call(ks[i], SLEEP_MS, NULL);
    run_on();
    wg_done(&sleep_wg);
}

static void sleep1_sleeper(void *arg)
{
    (void)arg;
    checked_call(K_SLEEP1, 1000, NULL);
    run_on();
    wg_done(&sleep_wg);
}

static void progress_sleeper(void *arg)
{
    (void)arg;
    static const enum kind ks[] = {K_NANOSLEEP, K_SYS_NANOSLEEP};
    for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++) {
        /* Start from a fresh time slice: nothing can preempt us between here and the call,
         * so the hogs' progress measured around it is progress made during the sleep. */
        gmp_gosched();
        int64_t prog;
        int64_t dt = checked_call(ks[i], SLEEP_MS, &prog);
        EXPECT(prog * 100 >= (int64_t)SLEEP_MS * 1000000 * MIN_PROGRESS_PCT,
               "at 1 P, the hogs ran only %.1f ms during %s for %d ms (%.1f ms elapsed; want "
               ">= %d%% of %d ms): the sleeping thread kept the P",
               prog / 1e6, kind_name[ks[i]], SLEEP_MS, dt / 1e6, MIN_PROGRESS_PCT, SLEEP_MS);
    }
    run_on();
    wg_done(&sleep_wg);
}

/* ------------------------------------------------------------------ main */

static void main_fn(void *arg)
{
    (void)arg;
    int procs = gmp_set_procs(0);
    gmp_stats s0 = h_stats();
    int spawned = 0;

    /* Phase 1: every call, at the run's P count, every P busy. */
    printf("phase 1: procs=%d, %d hogs\n", procs, procs + 2);
    start_hogs(procs + 2);
    spawned += procs + 2;
    wg_init(&sleep_wg);
    wg_add(&sleep_wg, 2);
    h_spawn(sleep1_sleeper, NULL);
    h_spawn(seq_sleeper, NULL);
    spawned += 2;
    wg_wait(&sleep_wg);
    stop_hogs();

    /* Phase 2: one P; does a sleeping thread give its P away? */
    gmp_set_procs(1);
    printf("phase 2: procs=1, 2 hogs\n");
    start_hogs(2);
    spawned += 2;
    wg_init(&sleep_wg);
    wg_add(&sleep_wg, 1);
    h_spawn(progress_sleeper, NULL);
    spawned += 1;
    wg_wait(&sleep_wg);
    stop_hogs();
    CHECK_EQ(gmp_set_procs(procs), 1);

    CHECK_EQ(atomic_load(&finished), 3);
    gmp_stats s1 = h_stats();
    CHECK(s1.spawned - s0.spawned == (uint64_t)spawned, "spawned grew by %llu, we spawned %d",
          (unsigned long long)(s1.spawned - s0.spawned), spawned);
    H_GOSCHED_UNTIL(h_stats().goroutines == s0.goroutines, 10,
                    "goroutines = %llu, %llu at the start (all but main have returned)",
                    (unsigned long long)h_stats().goroutines,
                    (unsigned long long)s0.goroutines);
    printf("preemptions %llu, syscall retakes %llu\n",
           (unsigned long long)(s1.preemptions - s0.preemptions),
           (unsigned long long)(s1.syscall_retakes - s0.syscall_retakes));
}

int main(void)
{
    h_check_lib();
    setvbuf(stdout, NULL, _IOLBF, 0);
    h_main(main_fn, NULL);
    int bad = atomic_load(&nbad);
    CHECK(bad == 0, "%d expectation(s) failed (listed above)", bad);
    printf("t_no_eintr: ok\n");
    return 0;
}
