/*
 * preempt: what asynchronous preemption buys and what it costs, on 1 P.
 *
 * 1. Wake-up lateness behind a spinner (LAT_NS = 2 s). One goroutine spins in a tight C loop
 *    (no calls: only asynchronous preemption can take the P from it). Another goroutine
 *    "sleeps 1 ms" in a loop: until the timers issue lands, the sleep is emulated by a plain
 *    thread that ticks on an absolute 1 ms clock (clock_nanosleep TIMER_ABSTIME) and, at each
 *    tick, readies the goroutine if it is parked (if it is still waiting to run, the tick is
 *    skipped: a sleeping goroutine cannot be woken twice). Lateness of one wake = the time the
 *    goroutine starts running after gmp_ready returned to... precisely: from the clock read
 *    just before gmp_ready to the goroutine's first clock read after gmp_park returns. Without
 *    preemption the goroutine would never run; with it, it runs when the spinner's 10 ms slice
 *    ends. Reported: wakes, p50, p99, max lateness in ms.
 *    Twin: go/preempt.go (a goroutine doing time.Sleep(1 ms) beside a spinning goroutine;
 *    lateness = actual wake - (start + 1 ms)).
 * 2. Cost of one preemption (COST_NS = 1 s). Two goroutines spin on the one P, each reading
 *    CLOCK_MONOTONIC in its loop and publishing (its id, the time) to a shared word pair. As
 *    neither ever yields, every hand-over between them is an asynchronous preemption, and the
 *    spinner that gets the P sees the other's id: the gap between the other's last clock read
 *    and its own first one is the wall time the P did no user work for that preemption
 *    (signal delivery, trampoline and XSAVE, parking the preempted M, handing the P over,
 *    waking the M of the goroutine that runs next, XRSTOR). Reported: the median gap in
 *    microseconds (mean and p90 in the log), and the hand-over count beside
 *    stats.preemptions (they must agree: a big mismatch is reported on stderr).
 *
 * Output, one line per repetition (after one shorter warm-up run):
 *   preempt procs=1 wakes=<n> p50_ms=<ms> p99_ms=<ms> max_ms=<ms> skipped=<ticks>
 *           us_per_preemption=<median us> us_mean=<us> us_p90=<us> switches=<n> preemptions=<n>
 *
 * With the scenario argument "crowd" (bench/run.sh: at 2 P, one repetition per process, in
 * pairs of processes with and without GMP_DEBUG=asyncpreemptoff=1), instead:
 * 3. Crowd (CROWD_N = 400 goroutines of CROWD_MS = 10 ms of CPU each, all spawned at once).
 *    Each goroutine runs a calibrated amount of pure C work (an LCG; ITERS_PER_MS measured on
 *    the thread CPU clock before the runtime starts, best of 5), so a goroutine that gets a P
 *    to itself ends after ~10 ms of CPU and, with preemption, is usually preempted once near
 *    its end (sysmon's slice is wall time). Beside them one goroutine S parks in a loop and
 *    is readied by OTHER goroutines: every crowd goroutine, while it runs, checks the clock
 *    every 1/8 ms of work and, once per ms, readies S if S is parked (an atomic exchange of
 *    the pointer S published in its unlockf). S runs when its readier's P next schedules:
 *    lateness = from the readier's clock read just before gmp_ready to S's first clock read
 *    after gmp_park returns. Reported: wall time from the first spawn to the last goroutine's
 *    end, the peak of gmp_stats.threads (Ms, sysmon included: sampled every 1 ms by a plain
 *    monitor thread), S's wake count and lateness p50 / p99 / max, preemptions.
 * 4. Thread bound (BOUND_N = 1000 goroutines of BOUND_MS = 11 ms of CPU each, no S): wall
 *    time and peak threads. Every goroutine outlives the 10 ms slice: with preemption each one
 *    is preempted once, and a preempted goroutine keeps its thread (design.md), so the peak
 *    thread count shows whether the runtime bounds the threads pinned that way (target:
 *    4 x procs + 8).
 *    Output, one line each:
 *    crowd procs=2 crowd_n=400 crowd_wall_ms=<ms> crowd_peak_threads=<n> crowd_wakes=<n>
 *          crowd_p50_ms=<ms> crowd_p99_ms=<ms> crowd_max_ms=<ms> crowd_preemptions=<n>
 *    bound procs=2 bound_n=1000 bound_wall_ms=<ms> bound_peak_threads=<n>
 *          bound_preemptions=<n>
 *    Twin: go/preempt.go crowd (the same work calibrated the same way; S blocks in a receive on
 *    an unbuffered channel and the crowd does a non-blocking send, which succeeds only while
 *    S waits; Go's peak threads = the process's threads at the end of the phase, as Go
 *    never destroys its Ms).
 * 5. A real timer behind spinners ("sleep N"): one goroutine calls gmp_sleep(1 ms) in a loop
 *    for 2 s (after a 0.2 s warm-up) while N spinners (as in 1.: tight loops, no calls) share
 *    the Ps with it; lateness of one sleep = its wall time - 1 ms. run.sh runs N = 1 and 400
 *    at 1 P. Output, one line per repetition:
 *    preempt_sleep procs=1 spinners=<N> wakes=<n> p50_ms=<ms> p99_ms=<ms> max_ms=<ms>
 *    Twin: go/preempt.go sleep N (time.Sleep(time.Millisecond)).
 * Usage: preempt [procs [reps [crowd | sleep N]]]   (bench/run.sh runs the default and
 *        sleep 1 / sleep 400 at 1 P, crowd at 2 P)
 */
#include "common.h"

#include <pthread.h>

#define LAT_NS 2000000000LL
#define COST_NS 1000000000LL
#define WARM_NS 200000000LL
#define MAXWAKES 8192
#define MAXSW 8192

static bench_opts opts;

/* ------------------------------------------------------------------ 1. lateness */

static volatile int spin_stop;
static _Atomic(gmp_g *) parked_g;
static _Atomic int64_t ready_ns;
static _Atomic int sleeper_stop;
static int64_t lat[MAXWAKES];
static int nlat;
static int64_t skipped;
static bench_wg wg;

static void spinner(void *arg)
{
    (void)arg;
    unsigned long n = 0;
    while (!spin_stop)
        n++;
    __asm__ volatile("" : : "r"(n));
    bench_wg_done(&wg);
}

static bool publish(gmp_g *g, void *lock)
{
    (void)lock;
    atomic_store_explicit(&parked_g, g, memory_order_release);
    return true;
}

static void sleeper(void *arg)
{
    (void)arg;
    for (;;) {
        bench_park(publish, NULL);
        int64_t now = bench_now_ns();
        if (atomic_load(&sleeper_stop))
            break;
        if (nlat < MAXWAKES)
            lat[nlat++] = now - atomic_load_explicit(&ready_ns, memory_order_acquire);
    }
    bench_wg_done(&wg);
}

/* The "timer": a plain thread on an absolute 1 ms clock. */
static void *ticker(void *arg)
{
    int64_t dur = *(int64_t *)arg;
    while (atomic_load(&parked_g) == NULL)
        sched_yield(); /* the sleeper's first park: at most a few scheduling rounds */
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    int64_t end = bench_now_ns() + dur;
    for (;;) {
        next.tv_nsec += 1000000;
        if (next.tv_nsec >= 1000000000) {
            next.tv_nsec -= 1000000000;
            next.tv_sec++;
        }
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR) {
        }
        bool last = bench_now_ns() >= end;
        if (last)
            spin_stop = 1;
        gmp_g *g = atomic_exchange(&parked_g, NULL);
        if (g == NULL) {
            skipped++;
            continue; /* still runnable from the previous tick */
        }
        /* The sleeper is parked: these stores belong to the wake-up we are about to cause. */
        atomic_store(&sleeper_stop, last);
        atomic_store_explicit(&ready_ns, bench_now_ns(), memory_order_release);
        bench_ready(g);
        if (last)
            break; /* the sleeper leaves when it sees sleeper_stop */
    }
    return NULL;
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Percentile of a sorted array: element floor(p * (n - 1)) (no interpolation; with ~100
 * samples p99 is then the second largest, as in the Go numbers). */
static int64_t pct(const int64_t *v, int n, double p)
{
    if (n == 0)
        return 0;
    return v[(int)(p * (n - 1))];
}

static void lateness(int64_t dur, int *wakes, double *p50, double *p99, double *mx)
{
    spin_stop = 0;
    atomic_store(&sleeper_stop, 0);
    atomic_store(&parked_g, NULL);
    nlat = 0;
    skipped = 0;
    bench_wg_init(&wg);
    bench_wg_add(&wg, 2);
    bench_spawn(sleeper, NULL);
    bench_spawn(spinner, NULL);
    pthread_t t;
    if (pthread_create(&t, NULL, ticker, &dur) != 0)
        bench_die("pthread_create");
    bench_wg_wait(&wg);
    pthread_join(t, NULL);
    qsort(lat, (size_t)nlat, sizeof lat[0], cmp64);
    *wakes = nlat;
    *p50 = pct(lat, nlat, 0.50) / 1e6;
    *p99 = pct(lat, nlat, 0.99) / 1e6;
    *mx = nlat ? lat[nlat - 1] / 1e6 : 0;
}

/* ------------------------------------------------------------------ 2. cost */

/* The last clock read of whichever spinner ran last; only one runs at a time (1 P). */
static volatile int64_t last_t;
static volatile int last_id;
static int64_t sw[MAXSW];
static int nsw;

static int64_t cost_end;

static void cost_spinner(void *arg)
{
    int me = (int)(intptr_t)arg;
    struct timespec ts;
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t t = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
        if (t >= cost_end)
            break;
        if (last_id != me) {
            /* We were just switched in. t may predate the switch (read before we were
             * preempted last time): read the clock again. */
            clock_gettime(CLOCK_MONOTONIC, &ts);
            t = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
            if (t >= cost_end)
                break; /* the other one may have finished: not a preemption */
            if (last_id != 0 && nsw < MAXSW)
                sw[nsw++] = t - last_t;
            last_id = me;
        }
        last_t = t;
    }
    bench_wg_done(&wg);
}

static void cost(int64_t dur, double *med, double *mean, double *p90, int *nswitch,
                 uint64_t *npre)
{
    last_id = 0;
    nsw = 0;
    gmp_stats s0, s1;
    gmp_stats_read(&s0);
    cost_end = bench_now_ns() + dur;
    bench_wg_init(&wg);
    bench_wg_add(&wg, 2);
    bench_spawn(cost_spinner, (void *)(intptr_t)1);
    bench_spawn(cost_spinner, (void *)(intptr_t)2);
    bench_wg_wait(&wg);
    gmp_stats_read(&s1);
    *npre = s1.preemptions - s0.preemptions;
    *nswitch = nsw;
    qsort(sw, (size_t)nsw, sizeof sw[0], cmp64);
    double sum = 0;
    for (int i = 0; i < nsw; i++)
        sum += (double)sw[i];
    *med = pct(sw, nsw, 0.5) / 1e3;
    *p90 = pct(sw, nsw, 0.9) / 1e3;
    *mean = nsw ? sum / nsw / 1e3 : 0;
}

/* ------------------------------------------------------------------ 3 and 4. crowd, bound */

#define CROWD_N 400
#define CROWD_MS 10
#define BOUND_N 1000
#define BOUND_MS 11

static uint64_t iters_per_ms;

/* The unit of CPU work: an LCG step; no calls, no memory. */
__attribute__((noinline)) static uint64_t work(uint64_t n, uint64_t x)
{
    for (uint64_t i = 0; i < n; i++)
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    return x;
}

static int64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Iterations of work() per ms of CPU: the best of 5 measurements of 2^22 iterations each. */
static void calibrate(void)
{
    double best = 0;
    uint64_t x = 1;
    for (int i = 0; i < 5; i++) {
        int64_t t0 = thread_cpu_ns();
        x = work(1u << 22, x);
        int64_t dt = thread_cpu_ns() - t0;
        double rate = (double)(1u << 22) / (double)dt * 1e6;
        if (rate > best)
            best = rate;
    }
    __asm__ volatile("" : : "r"(x));
    iters_per_ms = (uint64_t)best;
}

/* The monitor: a plain thread sampling gmp_stats.threads every 1 ms into peak_threads. */
static _Atomic uint32_t peak_threads;
static _Atomic int mon_stop;

static void *monitor(void *arg)
{
    (void)arg;
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    while (!atomic_load(&mon_stop)) {
        gmp_stats st;
        if (gmp_stats_read(&st) == 0 && st.threads > atomic_load(&peak_threads))
            atomic_store(&peak_threads, st.threads);
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

static _Atomic(gmp_g *) s_parked;
static _Atomic int64_t s_ready_ns;
static _Atomic int s_stop, s_exited;
static bench_wg s_wg;

static bool s_publish(gmp_g *g, void *lock)
{
    (void)lock;
    atomic_store_explicit(&s_parked, g, memory_order_release);
    return true;
}

static void s_fn(void *arg)
{
    (void)arg;
    for (;;) {
        bench_park(s_publish, NULL);
        int64_t now = bench_now_ns();
        if (atomic_load(&s_stop))
            break;
        if (nlat < MAXWAKES)
            lat[nlat++] = now - atomic_load_explicit(&s_ready_ns, memory_order_acquire);
    }
    atomic_store(&s_exited, 1);
    bench_wg_done(&s_wg);
}

static void s_maybe_ready(void)
{
    gmp_g *g = atomic_exchange(&s_parked, NULL);
    if (g == NULL)
        return;
    atomic_store_explicit(&s_ready_ns, bench_now_ns(), memory_order_release);
    bench_ready(g);
}

static _Atomic uint64_t sink;

static void crowd_g(void *arg)
{
    (void)arg;
    uint64_t left = (uint64_t)CROWD_MS * iters_per_ms, chunk = iters_per_ms / 8 + 1, x = left;
    int64_t last = 0;
    while (left > 0) {
        uint64_t n = left < chunk ? left : chunk;
        x = work(n, x);
        left -= n;
        int64_t now = bench_now_ns();
        if (now - last >= 1000000) {
            last = now;
            s_maybe_ready();
        }
    }
    atomic_fetch_add_explicit(&sink, x, memory_order_relaxed);
    bench_wg_done(&wg);
}

static void bound_g(void *arg)
{
    (void)arg;
    atomic_fetch_add_explicit(&sink, work((uint64_t)BOUND_MS * iters_per_ms, 7),
                              memory_order_relaxed);
    bench_wg_done(&wg);
}

static void crowd(void)
{
    gmp_stats s0, s1;
    atomic_store(&s_parked, NULL);
    atomic_store(&s_stop, 0);
    atomic_store(&s_exited, 0);
    nlat = 0;
    bench_wg_init(&s_wg);
    bench_wg_add(&s_wg, 1);
    bench_spawn(s_fn, NULL);
    while (atomic_load(&s_parked) == NULL)
        gmp_gosched(); /* S's first park: at most a few scheduling rounds */
    gmp_stats_read(&s0);
    atomic_store(&peak_threads, s0.threads);
    int64_t t0 = bench_now_ns();
    bench_wg_init(&wg);
    bench_wg_add(&wg, CROWD_N);
    for (int i = 0; i < CROWD_N; i++)
        bench_spawn(crowd_g, NULL);
    bench_wg_wait(&wg);
    int64_t wall = bench_now_ns() - t0;
    gmp_stats_read(&s1);
    uint32_t peak = atomic_load(&peak_threads);
    /* Let S go: it is parked (we ready it) or about to park again (next round). */
    atomic_store(&s_stop, 1);
    while (!atomic_load(&s_exited)) {
        gmp_g *g = atomic_exchange(&s_parked, NULL);
        if (g) {
            bench_ready(g);
            break;
        }
        gmp_gosched();
    }
    bench_wg_wait(&s_wg);
    if (nlat < 10)
        bench_die("crowd: S was readied only %d times", nlat);
    qsort(lat, (size_t)nlat, sizeof lat[0], cmp64);
    printf("crowd procs=%d crowd_n=%d crowd_wall_ms=%.1f crowd_peak_threads=%u crowd_wakes=%d "
           "crowd_p50_ms=%.2f crowd_p99_ms=%.2f crowd_max_ms=%.2f crowd_preemptions=%" PRIu64
           "\n",
           opts.procs, CROWD_N, wall / 1e6, peak, nlat, pct(lat, nlat, 0.5) / 1e6,
           pct(lat, nlat, 0.99) / 1e6, lat[nlat - 1] / 1e6, s1.preemptions - s0.preemptions);
    fflush(stdout);
}

static void bound(void)
{
    gmp_stats s0, s1;
    gmp_stats_read(&s0);
    atomic_store(&peak_threads, s0.threads);
    int64_t t0 = bench_now_ns();
    bench_wg_init(&wg);
    bench_wg_add(&wg, BOUND_N);
    for (int i = 0; i < BOUND_N; i++)
        bench_spawn(bound_g, NULL);
    bench_wg_wait(&wg);
    int64_t wall = bench_now_ns() - t0;
    gmp_stats_read(&s1);
    printf("bound procs=%d bound_n=%d bound_wall_ms=%.1f bound_peak_threads=%u "
           "bound_preemptions=%" PRIu64 "\n",
           opts.procs, BOUND_N, wall / 1e6, atomic_load(&peak_threads),
           s1.preemptions - s0.preemptions);
    fflush(stdout);
}

/* ------------------------------------------------------------------ 5. a real timer behind spinners */

/* The sleeper calls gmp_sleep(1 ms) in a loop for `dur`; lateness = wall time of one call -
 * 1 ms (so it contains the timer's own delay, as Go's time.Sleep number does). `nspin`
 * spinners (spinner(): a tight loop with no calls) share the Ps with it. */
static void real_sleeper(void *arg)
{
    int64_t end = bench_now_ns() + *(int64_t *)arg;
    while (bench_now_ns() < end) {
        int64_t t0 = bench_now_ns();
        int rc = gmp_sleep(1000000);
        int64_t dt = bench_now_ns() - t0;
        if (rc != 0)
            bench_die("gmp_sleep returned %d", rc);
        if (dt < 1000000)
            bench_die("gmp_sleep(1 ms) returned after %" PRId64 " ns", dt);
        if (nlat < MAXWAKES)
            lat[nlat++] = dt - 1000000;
    }
    spin_stop = 1;
    bench_wg_done(&wg);
}

static void sleep_lateness(int64_t dur, int nspin, bool print)
{
    spin_stop = 0;
    nlat = 0;
    bench_wg_init(&wg);
    bench_wg_add(&wg, (uint64_t)nspin + 1);
    bench_spawn(real_sleeper, &dur);
    for (int i = 0; i < nspin; i++)
        bench_spawn(spinner, NULL);
    bench_wg_wait(&wg);
    if (nlat < 1)
        bench_die("preempt sleep: the sleeper never woke in %.1f s", dur / 1e9);
    qsort(lat, (size_t)nlat, sizeof lat[0], cmp64);
    if (print)
        printf("preempt_sleep procs=%d spinners=%d wakes=%d p50_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
               opts.procs, nspin, nlat, pct(lat, nlat, 0.5) / 1e6, pct(lat, nlat, 0.99) / 1e6,
               lat[nlat - 1] / 1e6);
    fflush(stdout);
}

/* ------------------------------------------------------------------ main */

static void one(int64_t lat_ns, int64_t cost_ns, bool print)
{
    int wakes, nswitch;
    double p50, p99, mx, med, mean, p90;
    uint64_t npre;
    lateness(lat_ns, &wakes, &p50, &p99, &mx);
    int64_t skip = skipped;
    cost(cost_ns, &med, &mean, &p90, &nswitch, &npre);
    if (wakes < 10)
        bench_die("preempt: only %d wakes in %.1f s: is the spinner ever preempted?", wakes,
                  lat_ns / 1e9);
    if (nswitch < 5)
        bench_die("preempt: only %d hand-overs between two spinners in %.1f s", nswitch,
                  cost_ns / 1e9);
    /* Every hand-over is a preemption. A few preemptions hand over nothing (the scheduler
     * may resume the preempted goroutine itself, e.g. on its every-61st-tick look at the
     * global queue), and the last one may fall after the last hand-over. */
    if (npre < (uint64_t)nswitch || npre > (uint64_t)nswitch + (uint64_t)nswitch / 5 + 2)
        fprintf(stderr, "bench: WARNING: preempt: %d hand-overs but %" PRIu64 " preemptions\n",
                nswitch, npre);
    if (!print)
        return;
    printf("preempt procs=%d wakes=%d p50_ms=%.2f p99_ms=%.2f max_ms=%.2f skipped=%" PRId64
           " us_per_preemption=%.1f us_mean=%.1f us_p90=%.1f switches=%d preemptions=%" PRIu64
           "\n",
           opts.procs, wakes, p50, p99, mx, skip, med, mean, p90, nswitch, npre);
    fflush(stdout);
}

static bool crowd_mode;
static int sleep_spinners = -1; /* >= 0: the "sleep N" scenario */

static void bench_main(void *arg)
{
    (void)arg;
    if (sleep_spinners >= 0) {
        sleep_lateness(WARM_NS, sleep_spinners, false);
        for (int r = 0; r < opts.reps; r++)
            sleep_lateness(LAT_NS, sleep_spinners, true);
        return;
    }
    if (crowd_mode) {
        for (int r = 0; r < opts.reps; r++) {
            crowd();
            bound();
        }
        return;
    }
    one(WARM_NS, WARM_NS, false);
    for (int r = 0; r < opts.reps; r++)
        one(LAT_NS, COST_NS, true);
}

int main(int argc, char **argv)
{
    if (argc > 3) {
        if (strcmp(argv[3], "sleep") == 0 && argc == 5) {
            sleep_spinners = atoi(argv[4]);
            bench_need_sleep();
        } else if (strcmp(argv[3], "crowd") == 0 && argc == 4) {
            crowd_mode = true;
            calibrate(); /* before the runtime starts: this thread has the CPU to itself */
        } else {
            bench_die("usage: preempt [procs [reps [crowd | sleep N]]]");
        }
        argc = 3;
    }
    opts = bench_args(argc, argv);
    pthread_t mon;
    if (crowd_mode && pthread_create(&mon, NULL, monitor, NULL) != 0)
        bench_die("pthread_create");
    bench_run_main(bench_main, NULL);
    if (crowd_mode) {
        atomic_store(&mon_stop, 1);
        pthread_join(mon, NULL);
    }
    return 0;
}
