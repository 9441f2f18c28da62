/*
 * t_thread_bound: preempted goroutines pin threads, but their number stays bounded, and a
 * readied goroutine still runs promptly while the bound is reached.
 *
 * A preempted goroutine keeps its OS thread (design.md), so its P needs another thread; with
 * many CPU-bound goroutines that each outlive the 10 ms time slice, a runtime that pins a new
 * thread per preemption ends up with one thread per goroutine. The bound asserted here is
 * 4 x procs + 8 runtime threads (procs read back from gmp_stats).
 *
 * Inside gmp_main, at the P count run.sh gives (GMP_MAXPROCS = 1, 2, 8):
 *  - NHOG = min(1000, 200 x procs) hog goroutines, all spawned at once: each spins (pure C,
 *    reading CLOCK_MONOTONIC, no yield) until HOG_MS = 11 ms of wall time have passed since it
 *    first ran, so every one of them outlives the 10 ms slice and is due for preemption once
 *    (the run takes about NHOG x 10 ms / procs: 2 s at 1 and 2 P, 1.25 s at 8);
 *  - S, a goroutine that parks in a loop (publishing itself in its unlockf), and is readied by
 *    OTHER goroutines: by T, a ticker goroutine that is itself CPU-bound and long-lived (it
 *    spins reading the clock and, every 1 ms, readies S if S is parked, until the hogs are
 *    done), and by every hog (when it starts and every 1 ms while it runs, if S is parked). A
 *    goroutine readied by a goroutine goes to the readier's P's runnext, so it runs when the
 *    readier stops: lateness = from the readier's clock read just before gmp_ready to S's first
 *    clock read after gmp_park returns;
 *  - a monitor (a plain pthread, not a goroutine) samples gmp_stats_read().threads and the
 *    process's OS thread count (/proc/self/stat) every 1 ms from just after the runtime
 *    starts until after gmp_main returns.
 * Asserts:
 *  - peak stats.threads <= 4 x procs + 8, and peak OS threads <= that + 3 (the test's own:
 *    main, watchdog, monitor);
 *  - S's lateness: max < MAX_LATE_MS = 200 ms (a generous bound; Go's equivalent is within
 *    ~25 ms), over at least one wake-up by T and one by a hog; p50 / p99 / max are printed for
 *    both kinds of readier;
 *  - every hog ran to its end (a count, exact), T and S ended, stats.spawned grew by exactly
 *    NHOG + 2, stats.goroutines returns to its value at the start.
 *
 * Catches: one pinned thread per preempted goroutine (hundreds of threads); a thread budget
 * enforced by no longer preempting long runners: then S, readied by T, waits until T stops
 * (T never stops by itself while the hogs run: at 1 P it hangs, watchdog; otherwise the
 * lateness bound fails); goroutines lost while threads are recycled.
 * Against the library before the fix: peak threads 192, 286 and 623 (bounds 12, 16, 40) at
 * GMP_MAXPROCS 1, 2, 8 (one thread per preempted goroutine); the lateness was 10-30 ms at
 * 1 and 2 P, up to 236 ms at 8 P (new threads for every preemption).
 */
#define H_WATCHDOG_SECS 40
#include "harness.h"

#include <fcntl.h>

#define HOG_MS 11
#define TICK_NS 1000000
#define MAX_LATE_MS 200
#define MAXSAMPLES 100000

/* ------------------------------------------------------------------ the readied goroutine S */

static _Atomic(gmp_g *) parked_s;  /* S, while it is parked and nobody readied it yet */
static H_ATOMIC(int64_t) ready_ns; /* the readier's clock read before gmp_ready */
static H_ATOMIC(int) ready_by_t;   /* 1: that ready came from T, 0: from a hog */
static H_ATOMIC(int) s_stop, s_exited;
static H_ATOMIC(int) t_stop;
static wg_t t_wg; /* T and S */

static int64_t late_t[MAXSAMPLES], late_h[MAXSAMPLES];
static int nlate_t, nlate_h; /* written by S only, read after it ended */

static bool publish_s(gmp_g *g, void *lock)
{
    (void)lock;
    atomic_store_explicit(&parked_s, g, memory_order_release);
    return true;
}

static void s_fn(void *arg)
{
    (void)arg;
    for (;;) {
        int r = gmp_park(publish_s, NULL);
        CHECK(r == 0, "gmp_park returned %d", r);
        int64_t now = h_now_ns();
        if (atomic_load(&s_stop)) break;
        int64_t late = now - atomic_load_explicit(&ready_ns, memory_order_acquire);
        if (atomic_load(&ready_by_t)) {
            if (nlate_t < MAXSAMPLES) late_t[nlate_t++] = late;
        } else {
            if (nlate_h < MAXSAMPLES) late_h[nlate_h++] = late;
        }
    }
    atomic_store(&s_exited, 1);
    wg_done(&t_wg);
}

/* Ready S if it is parked (the exchange makes exactly one readier own that wake-up). */
static void maybe_ready_s(int by_t)
{
    gmp_g *g = atomic_exchange(&parked_s, (gmp_g *)NULL);
    if (!g) return;
    atomic_store(&ready_by_t, by_t);
    atomic_store_explicit(&ready_ns, h_now_ns(), memory_order_release);
    int r = gmp_ready(g);
    CHECK(r == 0, "gmp_ready(S) returned %d", r);
}

/* ------------------------------------------------------------------ T and the hogs */


static void t_fn(void *arg)
{
    (void)arg;
    int64_t last = 0;
    while (!atomic_load_explicit(&t_stop, memory_order_relaxed)) {
        int64_t now = h_now_ns();
        if (now - last >= TICK_NS) {
            last = now;
            maybe_ready_s(1);
        }
    }
    /* Let S go: it checks s_stop each time it wakes. Either it is parked (we ready it), or it
     * is runnable or running and sees the flag, or it parks again and we find it next round. */
    atomic_store(&s_stop, 1);
    while (!atomic_load(&s_exited)) {
        gmp_g *g = atomic_exchange(&parked_s, (gmp_g *)NULL);
        if (g) {
            CHECK_EQ(gmp_ready(g), 0);
            break;
        }
        gmp_gosched();
    }
    wg_done(&t_wg);
}

static H_ATOMIC(int) hogs_done;
static wg_t hog_wg;

static void hog(void *arg)
{
    (void)arg;
    int64_t t0 = h_now_ns(), last = t0 - TICK_NS, now;
    while ((now = h_now_ns()) - t0 < (int64_t)HOG_MS * 1000000) {
        if (now - last >= TICK_NS) {
            last = now;
            maybe_ready_s(0);
        }
    }
    atomic_fetch_add(&hogs_done, 1);
    wg_done(&hog_wg);
}

/* ------------------------------------------------------------------ the monitor thread */

static H_ATOMIC(int) mon_stop;
static uint32_t peak_threads; /* monitor only, read after join */
static int peak_os_threads;
static long nsamples_mon;

static int os_threads(void)
{
    char buf[1024];
    int fd = open("/proc/self/stat", O_RDONLY);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return -1;
    buf[n] = 0;
    /* Field 20 (num_threads); field 2 (comm) may contain spaces: start after its ')'. */
    char *p = strrchr(buf, ')');
    if (!p) return -1;
    int field = 2;
    for (p++; *p && field < 20; p++)
        if (*p == ' ') field++;
    return atoi(p);
}

static void *monitor(void *arg)
{
    (void)arg;
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    while (!atomic_load(&mon_stop)) {
        gmp_stats s;
        memset(&s, 0, sizeof s);
        if (gmp_stats_read(&s) == 0 && s.threads > peak_threads) peak_threads = s.threads;
        int t = os_threads();
        if (t > peak_os_threads) peak_os_threads = t;
        nsamples_mon++;
        next.tv_nsec += 1000000;
        if (next.tv_nsec >= 1000000000) {
            next.tv_nsec -= 1000000000;
            next.tv_sec++;
        }
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR) {
        }
    }
    return NULL;
}

/* ------------------------------------------------------------------ main */

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void report(const char *who, int64_t *v, int n)
{
    qsort(v, (size_t)n, sizeof v[0], cmp64);
    if (n == 0) {
        printf("  S readied by %-6s: no wake-ups\n", who);
        return;
    }
    printf("  S readied by %-6s: %5d wake-ups, lateness p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
           who, n, v[(int)(0.5 * (n - 1))] / 1e6, v[(int)(0.99 * (n - 1))] / 1e6,
           v[n - 1] / 1e6);
}

static int nhog;
static gmp_stats s_start;

static void main_fn(void *arg)
{
    (void)arg;
    s_start = h_stats();
    wg_init(&t_wg);
    wg_add(&t_wg, 2); /* T and S */
    h_spawn(s_fn, NULL);
    h_spawn(t_fn, NULL);
    wg_init(&hog_wg);
    wg_add(&hog_wg, nhog);
    for (int i = 0; i < nhog; i++) h_spawn(hog, NULL);
    wg_wait(&hog_wg);
    atomic_store(&t_stop, 1);
    wg_wait(&t_wg);
    CHECK(atomic_load(&s_exited), "S has not ended");
    CHECK_EQ(atomic_load(&hogs_done), nhog);
    gmp_stats s1 = h_stats();
    CHECK(s1.spawned - s_start.spawned == (uint64_t)nhog + 2,
          "spawned grew by %llu, we spawned %d", (unsigned long long)(s1.spawned - s_start.spawned),
          nhog + 2);
    H_GOSCHED_UNTIL(h_stats().goroutines == s_start.goroutines, 10,
                    "goroutines = %llu, %llu at the start (all but main have returned)",
                    (unsigned long long)h_stats().goroutines,
                    (unsigned long long)s_start.goroutines);
}

int main(void)
{
    h_check_lib();
    setvbuf(stdout, NULL, _IOLBF, 0);
    gmp_stats st = h_stats(); /* starts the runtime */
    pthread_t mon;
    CHECK(pthread_create(&mon, NULL, monitor, NULL) == 0, "monitor thread");
    int procs = (int)st.procs;
    CHECK(procs >= 1, "procs = %d", procs);
    nhog = 200 * procs < 1000 ? 200 * procs : 1000;
    int bound = 4 * procs + 8;

    int64_t t0 = h_now_ns();
    h_main(main_fn, NULL);
    int64_t dt = h_now_ns() - t0;
    atomic_store(&mon_stop, 1);
    pthread_join(mon, NULL);
    gmp_stats s1 = h_stats();

    printf("t_thread_bound: procs=%d, %d hogs of %d ms + ticker: %.2f s, %llu preemptions, "
           "peak threads %u (runtime) / %d (OS, incl. main, watchdog, monitor), bound %d; "
           "%ld monitor samples\n",
           procs, nhog, HOG_MS, dt / 1e9,
           (unsigned long long)(s1.preemptions - s_start.preemptions), peak_threads,
           peak_os_threads, bound, nsamples_mon);
    report("ticker", late_t, nlate_t);
    report("hogs", late_h, nlate_h);
    CHECK(peak_threads <= (uint32_t)bound,
          "peak stats.threads %u > 4 x procs + 8 = %d (procs %d, %d CPU-bound goroutines)",
          peak_threads, bound, procs, nhog);
    CHECK(peak_os_threads <= bound + 3, "peak OS threads %d > %d + 3 (procs %d)",
          peak_os_threads, bound, procs);
    CHECK(nlate_t >= 1, "S was never readied by the ticker goroutine");
    CHECK(nlate_h >= 1, "S was never readied by a hog");
    int64_t mx = late_t[nlate_t - 1];
    if (late_h[nlate_h - 1] > mx) mx = late_h[nlate_h - 1];
    CHECK(mx < (int64_t)MAX_LATE_MS * 1000000,
          "a goroutine readied by another goroutine ran %.1f ms late (bound %d ms)", mx / 1e6,
          MAX_LATE_MS);
    printf("t_thread_bound: ok\n");
    return 0;
}
