/*
 * sleep: timer precision on an idle runtime. One goroutine calls gmp_sleep(1 ms) SLEEP_N
 * times in a row (nothing else runs); lateness of one sleep = its wall time - 1 ms
 * (CLOCK_MONOTONIC around the call). Reported in microseconds: p50, p99, max (element
 * floor(p * (n - 1)) of the sorted sample, as preempt.c).
 *
 * Twin: go/sleep.go (time.Sleep(time.Millisecond) in a loop).
 *
 * Output, one line per repetition (after one warm-up repetition):
 *   sleep procs=P n=500 p50_us=<us> p99_us=<us> max_us=<us>
 * Usage: sleep [procs [reps]]
 */
#include "common.h"

#ifndef SLEEP_N
#define SLEEP_N 500
#endif

static bench_opts opts;
static int64_t lat[SLEEP_N];

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void one(bool print)
{
    for (int i = 0; i < SLEEP_N; i++) {
        int64_t t0 = bench_now_ns();
        int rc = gmp_sleep(1000000);
        int64_t dt = bench_now_ns() - t0;
        if (rc != 0)
            bench_die("gmp_sleep returned %d", rc);
        if (dt < 1000000)
            bench_die("gmp_sleep(1 ms) returned after %" PRId64 " ns", dt);
        lat[i] = dt - 1000000;
    }
    qsort(lat, SLEEP_N, sizeof lat[0], cmp64);
    if (print)
        printf("sleep procs=%d n=%d p50_us=%.1f p99_us=%.1f max_us=%.1f\n", opts.procs, SLEEP_N,
               lat[SLEEP_N / 2] / 1e3, lat[(int)(0.99 * (SLEEP_N - 1))] / 1e3,
               lat[SLEEP_N - 1] / 1e3);
    fflush(stdout);
}

static void bench_main(void *arg)
{
    (void)arg;
    one(false);
    for (int r = 0; r < opts.reps; r++)
        one(true);
}

int main(int argc, char **argv)
{
    bench_need_sleep();
    opts = bench_args(argc, argv);
    bench_run_main(bench_main, NULL);
    return 0;
}
