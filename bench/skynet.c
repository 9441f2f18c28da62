/*
 * skynet 1M: a root goroutine spawns 10 children, each spawns 10, ... 6 levels below the root
 * (1,000,000 leaves, 1,111,111 goroutines spawned in all, the root included). A leaf returns
 * its number; a node sums its 10 children's results (waiting for all 10) and returns the sum.
 * The root's sum is 0 + 1 + ... + 999999 = 499999500000.
 *
 * Twin: go/skynet.go (the classic skynet benchmark: each node makes a channel, spawns its 10
 * children with it, receives 10 values). Here a node's children add their result into the
 * node's sum (one atomic add) and then bench_wg_done() the node's wait group; the node waits
 * with bench_wg_wait(). Node state lives on the node's own stack (it outlives its children).
 *
 * Output, one line per repetition (after one warm-up run):
 *   skynet procs=P ms=<wall ms for one whole tree> sum=<root sum>
 * Usage: skynet [procs [reps]]   (procs default: GMP_MAXPROCS or 1; reps default 5)
 */
#include "common.h"

#ifndef SKYNET_SIZE
#define SKYNET_SIZE 1000000 /* -D for a quick test only: the twin is fixed at 1M */
#endif
#define SKYNET_DIV 10
#define SKYNET_SUM ((long long)SKYNET_SIZE * (SKYNET_SIZE - 1) / 2)

typedef struct node node;

/* What a parent shares with its children. */
typedef struct parent {
    _Atomic int64_t sum;
    bench_wg wg;
} parent;

struct node {
    int64_t num;   /* first leaf number in this subtree */
    int64_t size;  /* leaves in this subtree */
    parent *up;    /* where to report */
};

static void skynet(void *arg)
{
    node *me = (node *)arg;
    parent *up = me->up;
    int64_t result;
    if (me->size == 1) {
        result = me->num;
    } else {
        parent p;
        atomic_init(&p.sum, 0);
        bench_wg_init(&p.wg);
        node kids[SKYNET_DIV];
        int64_t sub = me->size / SKYNET_DIV;
        bench_wg_add(&p.wg, SKYNET_DIV);
        for (int i = 0; i < SKYNET_DIV; i++) {
            kids[i].num = me->num + i * sub;
            kids[i].size = sub;
            kids[i].up = &p;
            bench_spawn(skynet, &kids[i]);
        }
        bench_wg_wait(&p.wg);
        result = atomic_load_explicit(&p.sum, memory_order_relaxed);
    }
    /* `me` lives on the parent's stack: read everything from it before reporting. */
    atomic_fetch_add_explicit(&up->sum, result, memory_order_relaxed);
    bench_wg_done(&up->wg);
}

static int64_t skynet_once(void)
{
    parent top;
    atomic_init(&top.sum, 0);
    bench_wg_init(&top.wg);
    node root = {0, SKYNET_SIZE, &top};
    bench_wg_add(&top.wg, 1);
    bench_spawn(skynet, &root);
    bench_wg_wait(&top.wg);
    return atomic_load_explicit(&top.sum, memory_order_relaxed);
}

static bench_opts opts;

static void bench_main(void *arg)
{
    (void)arg;
    int64_t sum = skynet_once(); /* warm-up */
    if (sum != SKYNET_SUM)
        bench_die("skynet warm-up: sum %" PRId64 ", want %lld", sum, SKYNET_SUM);
    for (int r = 0; r < opts.reps; r++) {
        int64_t t0 = bench_now_ns();
        sum = skynet_once();
        int64_t t1 = bench_now_ns();
        printf("skynet procs=%d ms=%.1f sum=%" PRId64 "\n", opts.procs, (t1 - t0) / 1e6, sum);
        fflush(stdout);
        if (sum != SKYNET_SUM)
            bench_die("skynet: sum %" PRId64 ", want %lld", sum, SKYNET_SUM);
    }
}

int main(int argc, char **argv)
{
    opts = bench_args(argc, argv);
    bench_run_main(bench_main, NULL);
    return 0;
}
