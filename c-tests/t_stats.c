/*
 * t_stats: gmp_stats_read counters make sense.
 *
 *  - procs == GMP_MAXPROCS (run.sh always sets it); threads >= 1; idle + spinning <= threads.
 *  - NG goroutines that each park on their own event: while all are parked, goroutines >= base +
 *    NG and spawned grew by >= NG; after they are released and have ended, goroutines drops back
 *    to base (polled with a deadline: a goroutine signals before it returns); schedules grew by
 *    >= 2*NG (each started once and resumed once).
 *  - yields grows by >= the gmp_gosched calls made in a goroutine, and NOT by gmp_gosched calls
 *    made in thread context while no goroutine exists.
 *  - steals: with >= 2 Ps, a goroutine spawns NBURN goroutines that each burn ~2 ms of CPU
 *    without yielding, then waits. They land on its P's local queue; the other Ps' Ms must steal
 *    them, so steals grows (a runtime without work stealing would run them all on one P).
 *  - when everything has ended (thread context, after gmp_main): goroutines == 0, global_runq
 *    == 0, and the Ms settle: spinning_threads == 0 and idle_threads >= 1 (polled, deadline).
 *
 * Catches: counters not maintained (stuck at 0, counting thread-context calls, never
 * decremented), gmp_stats_read reporting garbage fields, no work stealing.
 */
#include "harness.h"

#define NG 500
#define NBURN 64

static wg_t started, ended;

static bool parked_unlockf(gmp_g *g, void *lock)
{
    (void)g;
    (void)lock;
    wg_done(&started); /* counted once we are really parked */
    return true;
}

static H_ATOMIC(gmp_g *) gs[NG];
static void parker(void *arg)
{
    size_t i = (size_t)(uintptr_t)arg;
    atomic_store(&gs[i], gmp_self());
    CHECK_EQ(gmp_park(parked_unlockf, NULL), 0);
    wg_done(&ended);
}

static void burner(void *arg)
{
    int64_t until = h_now_ns() + 2000000;
    while (h_now_ns() < until) {
    }
    wg_done((wg_t *)arg);
}

static void main_fn(void *arg)
{
    (void)arg;
    gmp_stats s0 = h_stats();
    uint64_t base = s0.goroutines;
    CHECK(base >= 1, "the main goroutine is not counted: goroutines = %llu",
          (unsigned long long)base);

    wg_init(&started);
    wg_add(&started, NG);
    wg_init(&ended);
    wg_add(&ended, NG);
    for (size_t i = 0; i < NG; i++) h_spawn(parker, (void *)(uintptr_t)i);
    wg_wait(&started);
    gmp_stats s1 = h_stats();
    CHECK(s1.goroutines >= base + NG, "goroutines = %llu with %d parked (base %llu)",
          (unsigned long long)s1.goroutines, NG, (unsigned long long)base);
    CHECK(s1.spawned - s0.spawned >= NG, "spawned grew by %llu",
          (unsigned long long)(s1.spawned - s0.spawned));
    for (size_t i = 0; i < NG; i++) CHECK_EQ(gmp_ready(atomic_load(&gs[i])), 0);
    wg_wait(&ended);
    H_GOSCHED_UNTIL(h_stats().goroutines <= base, 30, "goroutines stays at %llu, base %llu",
                    (unsigned long long)h_stats().goroutines, (unsigned long long)base);
    gmp_stats s2 = h_stats();
    CHECK(s2.schedules - s0.schedules >= 2 * NG, "schedules grew by %llu",
          (unsigned long long)(s2.schedules - s0.schedules));

    for (int i = 0; i < 100; i++) gmp_gosched();
    gmp_stats s3 = h_stats();
    CHECK(s3.yields - s2.yields >= 100, "yields grew by %llu after 100 gmp_gosched",
          (unsigned long long)(s3.yields - s2.yields));

    if (s3.procs >= 2) {
        wg_t w;
        wg_init(&w);
        wg_add(&w, NBURN);
        for (int i = 0; i < NBURN; i++) h_spawn(burner, &w);
        wg_wait(&w);
        gmp_stats s4 = h_stats();
        CHECK(s4.steals > s3.steals, "no steals with %u Ps and %d CPU-bound goroutines queued",
              s4.procs, NBURN);
    }
}

int main(void)
{
    h_check_lib();
    gmp_stats s = h_stats();
    if (h_env_procs() > 0) CHECK_EQ(s.procs, h_env_procs());
    CHECK(s.procs >= 1, "procs = %u", s.procs);
    h_main(main_fn, NULL);

    int64_t deadline = h_now_ns() + 10 * 1000000000LL;
    for (;;) {
        s = h_stats();
        CHECK(s.threads >= 1 && s.idle_threads + s.spinning_threads <= s.threads,
              "threads %u idle %u spinning %u", s.threads, s.idle_threads, s.spinning_threads);
        if (s.goroutines == 0 && s.spinning_threads == 0 && s.idle_threads >= 1) break;
        CHECK(h_now_ns() < deadline,
              "runtime never settled: goroutines %llu spinning %u idle %u threads %u",
              (unsigned long long)s.goroutines, s.spinning_threads, s.idle_threads, s.threads);
        sched_yield();
    }
    CHECK_EQ(s.global_runq, 0);
    uint64_t y = s.yields;
    for (int i = 0; i < 1000; i++) gmp_gosched(); /* thread context: not a goroutine yield */
    CHECK_EQ(h_stats().yields, y);
    printf("t_stats: ok (threads %u, steals %llu, schedules %llu)\n", s.threads,
           (unsigned long long)s.steals, (unsigned long long)s.schedules);
    return 0;
}
