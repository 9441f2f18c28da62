/*
 * t_sleep_timers: gmp_sleep is a real timer (api.md "gmp_sleep": park for at least ns).
 *
 *  1. Crowd: at 2 Ps (gmp_set_procs(2)), NSLEEPERS = 10,000 goroutines each sleep a random
 *     1..50 ms (fixed seed). Every one wakes (exact count); none wakes early (elapsed on
 *     CLOCK_MONOTONIC >= the request, checked by each sleeper); lateness (elapsed - request) is
 *     printed as p50 / p99 / max and fails only when absurd (max > 1 s). The whole batch ends
 *     in < 10 s (timers in parallel; serialised they would take ~4 min).
 *  2. Idle CPU: 1,000 goroutines sleep 2 s each, the main goroutine sleeps 300 ms among them;
 *     the process's CPU time (CLOCK_PROCESS_CPUTIME_ID) over those 300 ms must be < 30 ms.
 *     A runtime whose idle Ms spin, poll timers in a gosched loop, or wake every few µs burns
 *     a CPU (300+ ms) here.
 *  3. Wake beside a hog: at ONE P, a CPU-bound goroutine that never yields runs; the main
 *     goroutine does 20 x gmp_sleep(1 ms): each returns >= 1 ms and < 100 ms later (a timer
 *     that fires only when the P is free would wait for the hog forever; sysmon must run late
 *     timers and the hog must be preempted).
 *  4. Edges: gmp_sleep(0) and gmp_sleep(-1) return 0 at once (they yield); in thread context
 *     gmp_sleep sleeps the thread for >= ns.
 *
 * Catches: sleeps that return early or never, lost timers among many, a timer heap that
 * serialises sleeps, idle spinning (CPU burn while everyone sleeps), timers starved by a
 * CPU-bound goroutine at 1 P.
 */
#include "harness.h"

#define NSLEEPERS 10000
#define MAX_LATE_NS 1000000000LL /* 1 s: "absurd" lateness */
#define NIDLE 1000
#define IDLE_WINDOW_MS 300
#define IDLE_CPU_MAX_MS 30
#define HOG_ROUNDS 20
#define HOG_WAKE_MAX_MS 100

static int64_t req_ns[NSLEEPERS];
static int64_t late_ns[NSLEEPERS];
static H_ATOMIC(int) woke;
static H_ATOMIC(int) early;
static wg_t wg;

static void sleeper(void *arg)
{
    long i = (long)(intptr_t)arg;
    int64_t t0 = h_now_ns();
    int r = gmp_sleep(req_ns[i]);
    int64_t dt = h_now_ns() - t0;
    CHECK(r == 0, "gmp_sleep(%lld) = %d", (long long)req_ns[i], r);
    if (dt < req_ns[i]) {
        if (atomic_fetch_add(&early, 1) < 5)
            fprintf(stderr, "sleeper %ld: gmp_sleep(%.3f ms) returned after %.3f ms (early)\n", i,
                    req_ns[i] / 1e6, dt / 1e6);
    }
    late_ns[i] = dt - req_ns[i];
    atomic_fetch_add(&woke, 1);
    wg_done(&wg);
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void crowd(void)
{
    int prev = gmp_set_procs(2);
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < NSLEEPERS; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        int64_t us = 1000 + (int64_t)((seed >> 33) % 49001); /* 1..50 ms */
        req_ns[i] = us * 1000;
    }
    atomic_store(&woke, 0);
    atomic_store(&early, 0);
    wg_init(&wg);
    wg_add(&wg, NSLEEPERS);
    int64_t t0 = h_now_ns();
    for (long i = 0; i < NSLEEPERS; i++) h_spawn(sleeper, (void *)(intptr_t)i);
    wg_wait(&wg);
    int64_t batch = h_now_ns() - t0;
    CHECK_EQ(atomic_load(&woke), NSLEEPERS);
    qsort(late_ns, NSLEEPERS, sizeof late_ns[0], cmp64);
    printf("crowd: %d sleepers (1-50 ms) at 2 Ps: batch %.1f ms; lateness p50 %.3f ms, p99 %.3f "
           "ms, max %.3f ms\n",
           NSLEEPERS, batch / 1e6, late_ns[NSLEEPERS / 2] / 1e6,
           late_ns[NSLEEPERS * 99 / 100] / 1e6, late_ns[NSLEEPERS - 1] / 1e6);
    CHECK(atomic_load(&early) == 0, "%d of %d gmp_sleep calls returned before their time",
          atomic_load(&early), NSLEEPERS);
    CHECK(late_ns[NSLEEPERS - 1] <= MAX_LATE_NS, "a sleeper woke %.1f ms late (bound %lld ms)",
          late_ns[NSLEEPERS - 1] / 1e6, MAX_LATE_NS / 1000000);
    CHECK(batch < 10LL * 1000000000, "%d sleeps of <= 50 ms took %.1f ms in all", NSLEEPERS,
          batch / 1e6);
    gmp_set_procs(prev);
}

static H_ATOMIC(int) idle_started;

static void idle_sleeper(void *arg)
{
    (void)arg;
    atomic_fetch_add(&idle_started, 1);
    CHECK_EQ(gmp_sleep(2000LL * 1000000), 0);
    wg_done(&wg);
}

static int64_t cpu_ns(void)
{
    struct timespec ts;
    CHECK(clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) == 0, "clock_gettime(CPUTIME)");
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void idle_cpu(void)
{
    atomic_store(&idle_started, 0);
    wg_init(&wg);
    wg_add(&wg, NIDLE);
    for (int i = 0; i < NIDLE; i++) h_spawn(idle_sleeper, NULL);
    H_GOSCHED_UNTIL(atomic_load(&idle_started) == NIDLE, 30, "only %d of %d sleepers started",
                    atomic_load(&idle_started), NIDLE);
    /* A sleep first: let spinning Ms and the aftermath of the crowd phase settle (the first
     * moment every P is idle, the runtime gives back the stacks of the 10,000 goroutines that
     * ended: tens of ms of madvise at 8 Ps, once — measured with a 20 ms settle). */
    CHECK_EQ(gmp_sleep(150 * 1000000), 0);
    int64_t c0 = cpu_ns(), t0 = h_now_ns();
    CHECK_EQ(gmp_sleep((int64_t)IDLE_WINDOW_MS * 1000000), 0);
    int64_t c1 = cpu_ns(), t1 = h_now_ns();
    double cpu_ms = (c1 - c0) / 1e6;
    printf("idle: %d goroutines asleep, %.1f ms window: process CPU %.2f ms\n", NIDLE + 1,
           (t1 - t0) / 1e6, cpu_ms);
    CHECK(t1 - t0 >= (int64_t)IDLE_WINDOW_MS * 1000000, "gmp_sleep(%d ms) returned early",
          IDLE_WINDOW_MS);
    CHECK(cpu_ms < IDLE_CPU_MAX_MS,
          "the process used %.1f ms of CPU in %.0f ms while every goroutine slept (want < %d "
          "ms): idle threads spin or poll instead of blocking until the next timer",
          cpu_ms, (t1 - t0) / 1e6, IDLE_CPU_MAX_MS);
    wg_wait(&wg);
}

static H_ATOMIC(int) hog_stop;
static H_ATOMIC(int) hog_running;

static void hog(void *arg)
{
    (void)arg;
    atomic_store(&hog_running, 1);
    volatile uint64_t x = 1;
    while (!atomic_load_explicit(&hog_stop, memory_order_relaxed)) x = x * 2862933555777941757ull + 3;
    wg_done(&wg);
}

static void wake_beside_hog(void)
{
    int prev = gmp_set_procs(1);
    atomic_store(&hog_stop, 0);
    atomic_store(&hog_running, 0);
    wg_init(&wg);
    wg_add(&wg, 1);
    h_spawn(hog, NULL);
    H_GOSCHED_UNTIL(atomic_load(&hog_running), 30, "the hog never started");
    int64_t worst = 0, sum = 0;
    for (int i = 0; i < HOG_ROUNDS; i++) {
        int64_t t0 = h_now_ns();
        CHECK_EQ(gmp_sleep(1000000), 0);
        int64_t dt = h_now_ns() - t0;
        CHECK(dt >= 1000000, "gmp_sleep(1 ms) returned after %.3f ms", dt / 1e6);
        if (dt > worst) worst = dt;
        sum += dt;
    }
    atomic_store(&hog_stop, 1);
    wg_wait(&wg);
    printf("beside a hog at 1 P: gmp_sleep(1 ms) took %.2f ms on average, %.2f ms at worst\n",
           sum / 1e6 / HOG_ROUNDS, worst / 1e6);
    CHECK(worst < (int64_t)HOG_WAKE_MAX_MS * 1000000,
          "gmp_sleep(1 ms) beside a CPU-bound goroutine at 1 P took %.1f ms (want < %d ms): "
          "the timer waited for the hog to give up the P",
          worst / 1e6, HOG_WAKE_MAX_MS);
    gmp_set_procs(prev);
}

static void main_fn(void *arg)
{
    (void)arg;
    int64_t t0 = h_now_ns();
    CHECK_EQ(gmp_sleep(0), 0);
    CHECK_EQ(gmp_sleep(-1), 0);
    CHECK(h_now_ns() - t0 < 500000000LL, "gmp_sleep(0)/gmp_sleep(-1) took %.1f ms",
          (h_now_ns() - t0) / 1e6);
    crowd();
    idle_cpu();
    wake_beside_hog();
}

int main(void)
{
    h_check_lib();
    setvbuf(stdout, NULL, _IOLBF, 0);
    int64_t t0 = h_now_ns();
    CHECK_EQ(gmp_sleep(5 * 1000000), 0); /* thread context: sleeps the thread */
    CHECK(h_now_ns() - t0 >= 5 * 1000000, "thread-context gmp_sleep(5 ms) returned after %.3f ms",
          (h_now_ns() - t0) / 1e6);
    h_main(main_fn, NULL);
    printf("t_sleep_timers: ok\n");
    return 0;
}
