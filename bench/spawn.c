/*
 * spawn-and-wait 1M: the main goroutine does, 1,000,000 times, bench_wg_add(1) and spawns a
 * goroutine whose only work is bench_wg_done(); then it waits for all of them. Reported:
 * wall time / 1,000,000 = ns per spawn (creation, scheduling, running and ending one
 * goroutine, amortised). Run at 2 Ps by bench/run.sh.
 *
 * Twin: go/spawn.go:  for i := 0; i < N; i++ { wg.Add(1); go func() { wg.Done() }() }; wg.Wait()
 *
 * Output, one line per repetition (after one warm-up run):
 *   spawn procs=P n=1000000 ns_per_spawn=<ns>
 * Usage: spawn [procs [reps]]
 */
#include "common.h"

#ifndef SPAWN_N
#define SPAWN_N 1000000 /* -D for a quick test only */
#endif

static void child(void *arg)
{
    bench_wg_done((bench_wg *)arg);
}

static void spawn_once(void)
{
    bench_wg wg;
    bench_wg_init(&wg);
    for (int i = 0; i < SPAWN_N; i++) {
        bench_wg_add(&wg, 1);
        bench_spawn(child, &wg);
    }
    bench_wg_wait(&wg);
}

static bench_opts opts;

static void bench_main(void *arg)
{
    (void)arg;
    gmp_stats st0, st1;
    spawn_once(); /* warm-up */
    for (int r = 0; r < opts.reps; r++) {
        gmp_stats_read(&st0);
        int64_t t0 = bench_now_ns();
        spawn_once();
        int64_t t1 = bench_now_ns();
        gmp_stats_read(&st1);
        if (st1.spawned - st0.spawned != SPAWN_N)
            fprintf(stderr, "bench: WARNING: spawn: stats.spawned grew by %" PRIu64 ", want %d\n",
                    st1.spawned - st0.spawned, SPAWN_N);
        printf("spawn procs=%d n=%d ns_per_spawn=%.1f\n", opts.procs, SPAWN_N,
               (double)(t1 - t0) / SPAWN_N);
        fflush(stdout);
    }
}

int main(int argc, char **argv)
{
    opts = bench_args(argc, argv);
    bench_run_main(bench_main, NULL);
    return 0;
}
