/*
 * ping-pong: goroutine A puts a token into slot `ping` and takes one from slot `pong`;
 * goroutine B takes from `ping` and puts into `pong`; 1,000,000 round trips. Each side parks
 * when its slot is empty and is readied by the other side's put (bench_slot in common.h:
 * gmp_park/gmp_ready only), so one round trip = two hand-offs = two park/ready pairs.
 * Reported: wall time / 1,000,000 = ns per round trip. Run at 1 and 2 Ps.
 *
 * Twin: go/pingpong.go (two unbuffered channels: A: ping <- i; <-pong   B: <-ping; pong <- v).
 *
 * Output, one line per repetition (after one warm-up run):
 *   pingpong procs=P n=1000000 ns_per_roundtrip=<ns>
 * Usage: pingpong [procs [reps]]
 */
#include "common.h"

#ifndef PINGPONG_N
#define PINGPONG_N 1000000 /* -D for a quick test only */
#endif

static bench_slot ping, pong;
static bench_wg wg;
static int64_t checksum;

static void side_a(void *arg)
{
    (void)arg;
    int64_t sum = 0;
    for (int64_t i = 0; i < PINGPONG_N; i++) {
        bench_slot_put(&ping, i);
        sum += bench_slot_get(&pong);
    }
    checksum = sum;
    bench_wg_done(&wg);
}

static void side_b(void *arg)
{
    (void)arg;
    for (int i = 0; i < PINGPONG_N; i++) {
        int64_t v = bench_slot_get(&ping);
        bench_slot_put(&pong, v + 1);
    }
    bench_wg_done(&wg);
}

static void pingpong_once(void)
{
    bench_slot_init(&ping);
    bench_slot_init(&pong);
    bench_wg_init(&wg);
    checksum = -1;
    bench_wg_add(&wg, 2);
    bench_spawn(side_b, NULL);
    bench_spawn(side_a, NULL);
    bench_wg_wait(&wg);
    /* sum over i of (i + 1) */
    int64_t want = (int64_t)PINGPONG_N * (PINGPONG_N + 1) / 2;
    if (checksum != want)
        bench_die("pingpong: checksum %" PRId64 ", want %" PRId64, checksum, want);
}

static bench_opts opts;

static void bench_main(void *arg)
{
    (void)arg;
    pingpong_once(); /* warm-up */
    for (int r = 0; r < opts.reps; r++) {
        int64_t t0 = bench_now_ns();
        pingpong_once();
        int64_t t1 = bench_now_ns();
        printf("pingpong procs=%d n=%d ns_per_roundtrip=%.1f\n", opts.procs, PINGPONG_N,
               (double)(t1 - t0) / PINGPONG_N);
        fflush(stdout);
    }
}

int main(int argc, char **argv)
{
    opts = bench_args(argc, argv);
    bench_run_main(bench_main, NULL);
    return 0;
}
