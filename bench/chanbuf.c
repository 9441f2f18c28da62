/*
 * buffered channel throughput: PAIRS producer goroutines send CHANBUF_N int64 values in all
 * into one channel of capacity 64 (gmp_chan_new(sizeof(int64_t), 64)); PAIRS consumer
 * goroutines receive until the channel is closed and drained (the main goroutine closes it
 * once every producer is done). Reported: wall time from the first spawn to the last
 * consumer's end / CHANBUF_N = ns per message. bench/run.sh runs PAIRS = 1 (1 -> 1) and
 * PAIRS = 4 (4 -> 4) at 2 Ps.
 *
 * Twin: go/chanbuf.go (make(chan int64, 64), the same producers and consumers, close, for
 * v := range c).
 *
 * Verified: the consumers received CHANBUF_N values in all, their sum is 0 + 1 + ... +
 * (CHANBUF_N - 1) (producer p sends p, p + PAIRS, p + 2 PAIRS, ...), and each consumer saw
 * every producer's values in increasing order (a channel is FIFO, so any one receiver sees a
 * subsequence of each sender's sequence).
 *
 * Output, one line per repetition (after one warm-up run):
 *   chanbuf procs=P pairs=K cap=64 n=2000000 ns_per_msg=<ns>
 * Usage: chanbuf [procs [reps [pairs]]]   (pairs default 1, at most 64)
 */
#include "common.h"

#ifndef CHANBUF_N
#define CHANBUF_N 2000000 /* -D for a quick test only; a multiple of every PAIRS used */
#endif
#define CHANBUF_CAP 64
#define CHANBUF_MAXPAIRS 64

static int pairs = 1;
static gmp_chan *ch;
static bench_wg producers_wg, consumers_wg;

typedef struct consumer {
    int64_t count, sum;
    int64_t last[CHANBUF_MAXPAIRS]; /* last value seen from each producer */
    bool disorder;
} consumer;
static consumer cons[CHANBUF_MAXPAIRS];
static int64_t prod_ids[CHANBUF_MAXPAIRS];

static void producer(void *arg)
{
    int64_t p = *(int64_t *)arg;
    for (int64_t v = p; v < CHANBUF_N; v += pairs)
        bench_chan_send(ch, v);
    bench_wg_done(&producers_wg);
}

static void consumer_fn(void *arg)
{
    consumer *me = (consumer *)arg;
    int64_t v, count = 0, sum = 0;
    while (bench_chan_recv_ok(ch, &v)) {
        count++;
        sum += v;
        int p = (int)(v % pairs);
        if (v <= me->last[p])
            me->disorder = true;
        me->last[p] = v;
    }
    me->count = count;
    me->sum = sum;
    bench_wg_done(&consumers_wg);
}

static void chanbuf_once(void)
{
    ch = bench_chan_new(CHANBUF_CAP);
    bench_wg_init(&producers_wg);
    bench_wg_init(&consumers_wg);
    for (int i = 0; i < pairs; i++) {
        cons[i].count = cons[i].sum = 0;
        cons[i].disorder = false;
        for (int p = 0; p < pairs; p++)
            cons[i].last[p] = -1;
        prod_ids[i] = i;
    }
    bench_wg_add(&consumers_wg, (uint64_t)pairs);
    bench_wg_add(&producers_wg, (uint64_t)pairs);
    for (int i = 0; i < pairs; i++)
        bench_spawn(consumer_fn, &cons[i]);
    for (int i = 0; i < pairs; i++)
        bench_spawn(producer, &prod_ids[i]);
    bench_wg_wait(&producers_wg);
    bench_chan_close(ch);
    bench_wg_wait(&consumers_wg);
    if (gmp_chan_len(ch) != 0)
        bench_die("chanbuf: %" PRId64 " values left in the channel", gmp_chan_len(ch));
    bench_chan_free(ch);

    int64_t count = 0, sum = 0;
    for (int i = 0; i < pairs; i++) {
        count += cons[i].count;
        sum += cons[i].sum;
        if (cons[i].disorder)
            bench_die("chanbuf: consumer %d saw a producer's values out of order", i);
    }
    int64_t want = (int64_t)CHANBUF_N * (CHANBUF_N - 1) / 2;
    if (count != CHANBUF_N || sum != want)
        bench_die("chanbuf: received %" PRId64 " values summing to %" PRId64
                  ", want %d summing to %" PRId64, count, sum, CHANBUF_N, want);
}

static bench_opts opts;

static void bench_main(void *arg)
{
    (void)arg;
    chanbuf_once(); /* warm-up */
    for (int r = 0; r < opts.reps; r++) {
        gmp_stats st0, st1;
        bench_stats_snap(&st0);
        int64_t t0 = bench_now_ns();
        chanbuf_once();
        int64_t t1 = bench_now_ns();
        bench_stats_snap(&st1);
        char label[32];
        snprintf(label, sizeof label, "chanbuf pairs=%d", pairs);
        bench_stats_print(label, &st0, &st1, CHANBUF_N);
        printf("chanbuf procs=%d pairs=%d cap=%d n=%d ns_per_msg=%.1f\n", opts.procs, pairs,
               CHANBUF_CAP, CHANBUF_N, (double)(t1 - t0) / CHANBUF_N);
        fflush(stdout);
    }
}

int main(int argc, char **argv)
{
    opts = bench_args(argc, argv);
    if (argc > 3)
        pairs = bench_parse_int(argv[3], "pairs");
    if (pairs > CHANBUF_MAXPAIRS || CHANBUF_N % pairs != 0)
        bench_die("pairs must divide %d and be at most %d", CHANBUF_N, CHANBUF_MAXPAIRS);
    bench_run_main(bench_main, NULL);
    return 0;
}
