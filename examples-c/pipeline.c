/*
 * libgmp example: a pipeline of goroutines connected by channels (Go's "pipelines" pattern).
 *
 *   generate --nums--> square --squares--> sum --result--> main goroutine
 *
 * Each stage reads its input channel until it is closed and drained (gmp_chan_recv returns 0),
 * then closes its output: closing `nums` ends `square`, which closes `squares`, which ends
 * `sum`. A wait group tells the main goroutine when every stage has returned, so the channels
 * can be freed (gmp_chan_free refuses, with -EBUSY, a channel someone is blocked on).
 *
 *   pipeline [N]     sums the squares of 1..N (default 100000); exit status 1 if the sum is
 *                    not N(N+1)(2N+1)/6
 *   make target/examples/pipeline   (or: cc pipeline.c -Iinclude -Ltarget/release
 *                                    -Wl,-rpath,target/release -lgmp)
 */
#include <stdio.h>
#include <stdlib.h>
#include "gmp.h"

static long n = 100000;

/* A failed call is a bug in this program: say which and stop. */
#define TRY(call)                                                                     \
    do {                                                                              \
        int64_t r_ = (call);                                                          \
        if (r_ < 0) {                                                                 \
            fprintf(stderr, "pipeline: %s failed: %lld\n", #call, (long long)r_);     \
            exit(1);                                                                  \
        }                                                                             \
    } while (0)

struct stage {
    gmp_chan *in, *out;
    gmp_waitgroup *wg;
};

/* 1, 2, ..., n into out; then close it. */
static void generate(void *arg) {
    struct stage *s = arg;
    for (long i = 1; i <= n; i++)
        TRY(gmp_chan_send(s->out, &i)); /* blocks until `square` takes it (unbuffered) */
    TRY(gmp_chan_close(s->out));
    TRY(gmp_waitgroup_done(s->wg));
}

/* v*v for every v of in, until in is closed and drained; then close out. */
static void square(void *arg) {
    struct stage *s = arg;
    long v;
    int r;
    while ((r = gmp_chan_recv(s->in, &v)) == 1) {
        long sq = v * v;
        TRY(gmp_chan_send(s->out, &sq));
    }
    TRY(r);
    TRY(gmp_chan_close(s->out));
    TRY(gmp_waitgroup_done(s->wg));
}

/* The sum of in's values, sent on out once in is closed and drained. */
static void sum(void *arg) {
    struct stage *s = arg;
    long v, total = 0;
    int r;
    while ((r = gmp_chan_recv(s->in, &v)) == 1)
        total += v;
    TRY(r);
    TRY(gmp_chan_send(s->out, &total)); /* `result` has room for it: never blocks */
    TRY(gmp_waitgroup_done(s->wg));
}

static void main_goroutine(void *arg) {
    long *total = arg;
    gmp_chan *nums, *squares, *result;
    TRY(gmp_chan_new(sizeof(long), 0, &nums));     /* unbuffered: hand to hand */
    TRY(gmp_chan_new(sizeof(long), 64, &squares)); /* buffered: `square` may run ahead */
    TRY(gmp_chan_new(sizeof(long), 1, &result));
    gmp_waitgroup wg = {0};
    struct stage gen = {NULL, nums, &wg}, sq = {nums, squares, &wg}, su = {squares, result, &wg};
    TRY(gmp_waitgroup_add(&wg, 3));
    TRY(gmp_spawn(generate, &gen));
    TRY(gmp_spawn(square, &sq));
    TRY(gmp_spawn(sum, &su));
    int r = gmp_chan_recv(result, total);
    if (r != 1) {
        fprintf(stderr, "pipeline: no result (%d)\n", r);
        exit(1);
    }
    TRY(gmp_waitgroup_wait(&wg)); /* every stage has returned: nobody uses the channels now */
    TRY(gmp_chan_free(nums));
    TRY(gmp_chan_free(squares));
    TRY(gmp_chan_free(result));
}

int main(int argc, char **argv) {
    if (argc > 1)
        n = atol(argv[1]);
    if (n < 1 || n > 1000000) {
        fprintf(stderr, "usage: pipeline [N], 1 <= N <= 1000000\n");
        return 2;
    }
    long total = 0;
    TRY(gmp_main(main_goroutine, &total));
    long want = n * (n + 1) * (2 * n + 1) / 6;
    printf("pipeline: sum of squares of 1..%ld = %ld (generate -> square -> sum over channels)\n",
           n, total);
    if (total != want) {
        fprintf(stderr, "pipeline: wrong sum %ld, want %ld\n", total, want);
        return 1;
    }
    return 0;
}
