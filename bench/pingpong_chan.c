/*
 * ping-pong over channels: goroutine A sends on the unbuffered channel `ping` and receives
 * from `pong`; goroutine B receives from `ping` and sends on `pong`; 1,000,000 round trips
 * (one round trip = two hand-offs through gmp_chan_send/gmp_chan_recv). Reported: wall time /
 * 1,000,000 = ns per round trip. Run at 1 and 2 Ps.
 *
 * Twin: go/pingpong.go, unchanged (two unbuffered channels: A: ping <- i; <-pong   B: <-ping;
 * pong <- v + 1). pingpong.c is the same exchange on gmp_park/gmp_ready only (bench_slot).
 * Both channels are made (gmp_chan_new(sizeof(int64_t), 0)) and freed in every repetition,
 * as the twin makes them in every repetition; the checksum sum(i + 1) is verified.
 *
 * Output, one line per repetition (after one warm-up run):
 *   pingpong_chan procs=P n=1000000 ns_per_roundtrip=<ns>
 * Usage: pingpong_chan [procs [reps]]
 */
#include "common.h"

#ifndef PINGPONG_N
#define PINGPONG_N 1000000 /* -D for a quick test only */
#endif

static gmp_chan *ping, *pong;
static bench_wg wg;
static int64_t checksum;

static void side_a(void *arg)
{
    (void)arg;
    int64_t sum = 0;
    for (int64_t i = 0; i < PINGPONG_N; i++) {
        bench_chan_send(ping, i);
        sum += bench_chan_recv(pong);
    }
    checksum = sum;
    bench_wg_done(&wg);
}

static void side_b(void *arg)
{
    (void)arg;
    for (int i = 0; i < PINGPONG_N; i++) {
        int64_t v = bench_chan_recv(ping);
        bench_chan_send(pong, v + 1);
    }
    bench_wg_done(&wg);
}

static void pingpong_once(void)
{
    ping = bench_chan_new(0);
    pong = bench_chan_new(0);
    bench_wg_init(&wg);
    checksum = -1;
    bench_wg_add(&wg, 2);
    bench_spawn(side_b, NULL);
    bench_spawn(side_a, NULL);
    bench_wg_wait(&wg);
    bench_chan_free(ping);
    bench_chan_free(pong);
    /* sum over i of (i + 1) */
    int64_t want = (int64_t)PINGPONG_N * (PINGPONG_N + 1) / 2;
    if (checksum != want)
        bench_die("pingpong_chan: checksum %" PRId64 ", want %" PRId64, checksum, want);
}

static bench_opts opts;

static void bench_main(void *arg)
{
    (void)arg;
    pingpong_once(); /* warm-up */
    for (int r = 0; r < opts.reps; r++) {
        gmp_stats st0, st1;
        bench_stats_snap(&st0);
        int64_t t0 = bench_now_ns();
        pingpong_once();
        int64_t t1 = bench_now_ns();
        bench_stats_snap(&st1);
        bench_stats_print("pingpong_chan (op = round trip)", &st0, &st1, PINGPONG_N);
        printf("pingpong_chan procs=%d n=%d ns_per_roundtrip=%.1f\n", opts.procs, PINGPONG_N,
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
