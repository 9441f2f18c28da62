/*
 * t_gosched: gmp_gosched is fair among N goroutines that all keep yielding.
 *
 * N goroutines each do ITER rounds of { counter[i]++; gmp_gosched(); }. All must finish with
 * exact counts at any P count. With one P (Go semantics: the yielder goes to the tail of the
 * global run queue, which the P drains in FIFO batches into its local queue) the goroutines
 * advance almost round-robin. Not exactly: every 61st schedule the P takes the head of the
 * GLOBAL queue ahead of its local queue, giving that goroutine an extra turn, and with N=8 the
 * pattern locks in so the same goroutines keep gaining: a simulation of Go's rules gives a skew
 * (max - min counter) that grows ~linearly to ~2% of the rounds (111 after 5000 rounds). So the
 * bound is relative: max - min <= MAX_SKEW + max/8. A gosched that re-runs the caller at once
 * (runnext / LIFO) breaks it within a few rounds (skew ~ max). With more Ps
 * there is no such bound (an OS thread may be descheduled holding a goroutine in its local
 * queue while others run thousands of rounds), so only completion and counts are asserted.
 * Also: the yields counter of gmp_stats grows by at least the number of gmp_gosched calls.
 *
 * Catches: gosched that re-runs the caller at once (LIFO / runnext): one goroutine would finish
 * all its rounds before the others start; a yielder that is lost (hang -> timeout)
 * or run twice (count mismatch); yields not counted.
 */
#include "harness.h"

#define N 8
#define ITER 5000
#define MAX_SKEW 4

static H_ATOMIC(int) started;
static H_ATOMIC(long) counter[N];
static H_ATOMIC(long) max_skew;
static H_ATOMIC(long) polls;
static int procs;
static wg_t wg;

static void worker(void *arg)
{
    int i = (int)(intptr_t)arg;
    atomic_fetch_add(&started, 1);
    while (atomic_load(&started) < N) {
        atomic_fetch_add(&polls, 1);
        gmp_gosched();
    }
    for (long k = 1; k <= ITER; k++) {
        atomic_store(&counter[i], k);
        long lo = k, hi = k;
        for (int j = 0; j < N; j++) {
            long c = atomic_load(&counter[j]);
            if (c < lo) lo = c;
            if (c > hi) hi = c;
        }
        long sk = hi - lo, cur = atomic_load(&max_skew);
        while (sk > cur && !atomic_compare_exchange_strong(&max_skew, &cur, sk)) {
        }
        if (procs == 1)
            CHECK(sk <= MAX_SKEW + hi / 8, "goroutine %d at round %ld sees counters spanning %ld..%ld", i,
                  k, lo, hi);
        gmp_gosched();
    }
    wg_done(&wg);
}

static void main_fn(void *arg)
{
    (void)arg;
    procs = gmp_set_procs(0);
    gmp_stats s0 = h_stats();
    wg_init(&wg);
    wg_add(&wg, N);
    for (int i = 0; i < N; i++) h_spawn(worker, (void *)(intptr_t)i);
    wg_wait(&wg);
    gmp_stats s1 = h_stats();
    for (int i = 0; i < N; i++) CHECK_EQ(atomic_load(&counter[i]), ITER);
    uint64_t calls = (uint64_t)N * ITER + (uint64_t)atomic_load(&polls);
    CHECK(s1.yields - s0.yields >= calls, "stats.yields grew by %llu, expected >= %llu",
          (unsigned long long)(s1.yields - s0.yields), (unsigned long long)calls);
    CHECK(s1.schedules - s0.schedules >= (uint64_t)N * ITER,
          "stats.schedules grew by %llu only", (unsigned long long)(s1.schedules - s0.schedules));
    printf("t_gosched: procs=%d max skew %ld\n", procs, atomic_load(&max_skew));
}

int main(void)
{
    h_check_lib();
    h_main(main_fn, NULL);
    return 0;
}
