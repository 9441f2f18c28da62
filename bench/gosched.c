/*
 * gosched: two goroutines each call gmp_gosched() 1,000,000 times, on 1 P; the main
 * goroutine waits for both. Reported: wall time / 2,000,000 calls = ns per gosched call
 * (each call is one yield + one switch to the other goroutine).
 *
 * Twin: go/gosched.go (two goroutines calling runtime.Gosched() in a loop).
 *
 * Output, one line per repetition (after one warm-up run):
 *   gosched procs=P calls=2000000 ns_per_gosched=<ns>
 * Usage: gosched [procs [reps]]   (bench/run.sh runs it at 1 P)
 */
#include "common.h"

#define GOSCHED_G 2
#ifndef GOSCHED_N
#define GOSCHED_N 1000000 /* -D for a quick test only */
#endif

static bench_wg wg;

static void yielder(void *arg)
{
    (void)arg;
    for (int i = 0; i < GOSCHED_N; i++)
        gmp_gosched();
    bench_wg_done(&wg);
}

static void gosched_once(void)
{
    bench_wg_init(&wg);
    bench_wg_add(&wg, GOSCHED_G);
    for (int i = 0; i < GOSCHED_G; i++)
        bench_spawn(yielder, NULL);
    bench_wg_wait(&wg);
}

static bench_opts opts;

static void bench_main(void *arg)
{
    (void)arg;
    gmp_stats st0, st1;
    gosched_once(); /* warm-up */
    for (int r = 0; r < opts.reps; r++) {
        gmp_stats_read(&st0);
        int64_t t0 = bench_now_ns();
        gosched_once();
        int64_t t1 = bench_now_ns();
        gmp_stats_read(&st1);
        uint64_t calls = (uint64_t)GOSCHED_G * GOSCHED_N;
        if (st1.yields - st0.yields != calls)
            fprintf(stderr, "bench: WARNING: gosched: stats.yields grew by %" PRIu64
                    ", want %" PRIu64 "\n", st1.yields - st0.yields, calls);
        printf("gosched procs=%d calls=%" PRIu64 " ns_per_gosched=%.1f\n", opts.procs, calls,
               (double)(t1 - t0) / (double)calls);
        fflush(stdout);
    }
}

int main(int argc, char **argv)
{
    opts = bench_args(argc, argv);
    bench_run_main(bench_main, NULL);
    return 0;
}
