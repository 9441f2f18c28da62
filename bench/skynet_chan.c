/*
 * skynet 1M over channels: Go's original skynet, in C on libgmp's channels. A root goroutine
 * spawns 10 children, each spawns 10, ... 6 levels below the root (1,000,000 leaves,
 * 1,111,111 goroutines spawned in all, the root included). A leaf sends its number on its
 * parent's channel; a node makes an unbuffered channel (gmp_chan_new(sizeof(int64_t), 0)),
 * spawns its 10 children with (channel, num, size), receives 10 values, frees its channel and
 * sends the sum up. The root's sum is 0 + 1 + ... + 999999 = 499999500000.
 *
 * Twin: go/skynet.go, unchanged (the classic benchmark: `rc := make(chan int)`, unbuffered,
 * as in github.com/atemerev/skynet's Go version). skynet.c is the same tree with
 * gmp_park/gmp_ready only (a wait group instead of the channel).
 *
 * Every channel call is checked: an error (or a value count that does not add up) aborts.
 * gmp_chan_free right after the 10th receive must succeed: by then no child is blocked on the
 * channel (each send completed when its value was taken).
 *
 * Output, one line per repetition (after one warm-up run):
 *   skynet_chan procs=P ms=<wall ms for one whole tree> sum=<root sum>
 * Usage: skynet_chan [procs [reps]]   (procs default: GMP_MAXPROCS or 1; reps default 5)
 */
#include "common.h"

#ifndef SKYNET_SIZE
#define SKYNET_SIZE 1000000 /* -D for a quick test only: the twin is fixed at 1M */
#endif
#define SKYNET_DIV 10
/* goroutines per tree: 1 + 10 + ... + SKYNET_SIZE (for BENCH_STATS) */
#define SKYNET_GS (((int64_t)SKYNET_SIZE * 10 - 1) / 9)
#define SKYNET_SUM ((long long)SKYNET_SIZE * (SKYNET_SIZE - 1) / 2)

typedef struct node {
    gmp_chan *c;  /* the parent's channel */
    int64_t num;  /* first leaf number in this subtree */
    int64_t size; /* leaves in this subtree */
} node;

static void skynet(void *arg)
{
    /* `arg` lives on the parent's stack, which outlives this read: the parent waits for our
     * value before it returns. Copy it anyway, it is three words. */
    node me = *(node *)arg;
    if (me.size == 1) {
        bench_chan_send(me.c, me.num);
        return;
    }
    gmp_chan *rc = bench_chan_new(0);
    node kids[SKYNET_DIV];
    int64_t sub = me.size / SKYNET_DIV;
    for (int i = 0; i < SKYNET_DIV; i++) {
        kids[i].c = rc;
        kids[i].num = me.num + i * sub;
        kids[i].size = sub;
        bench_spawn(skynet, &kids[i]);
    }
    int64_t sum = 0;
    for (int i = 0; i < SKYNET_DIV; i++)
        sum += bench_chan_recv(rc);
    bench_chan_free(rc);
    bench_chan_send(me.c, sum);
}

static int64_t skynet_once(void)
{
    gmp_chan *c = bench_chan_new(0);
    node root = {c, 0, SKYNET_SIZE};
    bench_spawn(skynet, &root);
    int64_t sum = bench_chan_recv(c);
    bench_chan_free(c);
    return sum;
}

static bench_opts opts;

static void bench_main(void *arg)
{
    (void)arg;
    int64_t sum = skynet_once(); /* warm-up */
    if (sum != SKYNET_SUM)
        bench_die("skynet_chan warm-up: sum %" PRId64 ", want %lld", sum, SKYNET_SUM);
    for (int r = 0; r < opts.reps; r++) {
        gmp_stats st0, st1;
        bench_stats_snap(&st0);
        int64_t t0 = bench_now_ns();
        sum = skynet_once();
        int64_t t1 = bench_now_ns();
        bench_stats_snap(&st1);
        bench_stats_print("skynet_chan (op = goroutine)", &st0, &st1, SKYNET_GS);
        printf("skynet_chan procs=%d ms=%.1f sum=%" PRId64 "\n", opts.procs, (t1 - t0) / 1e6,
               sum);
        fflush(stdout);
        if (sum != SKYNET_SUM)
            bench_die("skynet_chan: sum %" PRId64 ", want %lld", sum, SKYNET_SUM);
    }
}

int main(int argc, char **argv)
{
    opts = bench_args(argc, argv);
    bench_run_main(bench_main, NULL);
    return 0;
}
