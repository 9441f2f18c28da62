/*
 * libgmp demo: goroutines in C.
 *
 * 1. Parallel work: 8 goroutines count primes in slices of a range while the main goroutine
 *    waits on a gmp_waitgroup.
 * 2. A pipeline: generate -> square -> sum, goroutines connected by channels; closing a channel
 *    ends the stage that reads it, which closes its own output (examples-c/pipeline.c).
 * 3. A worker pool: 4 workers take jobs from one channel and send results on another; a
 *    goroutine closes the results channel once the pool's wait group reaches zero.
 * 4. A select with a timeout: wait for a slow goroutine's answer, 20 ms at a time.
 * 5. A skynet tree: 111,111 goroutines in a 6-level tree, each node summing its children.
 * 6. What it cost: the scheduler's counters.
 *
 * Each part checks its result; the exit status is 1 if one is wrong.
 *
 *   make demo      (or: cc demo.c -Iinclude -Ltarget/release -Wl,-rpath,target/release -lgmp)
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include "gmp.h"

/* A failed runtime call is a bug in this program: say which and stop. */
static int64_t must(int64_t r, const char *what) {
    if (r < 0) {
        fprintf(stderr, "demo: %s failed: %lld\n", what, (long long)r);
        exit(1);
    }
    return r;
}

static int wrong; /* a result differs from the known answer */

/* A result compared with the known answer: "" or " (WRONG: want ...)". */
static const char *verdict(long got, long want) {
    static char buf[2][48]; /* two per printf */
    static int next;
    if (got == want) return "";
    wrong = 1;
    char *b = buf[next++ & 1];
    snprintf(b, sizeof buf[0], " (WRONG: want %ld)", want);
    return b;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* ------------------------------------------------------------------ 1. parallel work */

enum { WORKERS = 8, LIMIT = 2000000 };

struct slice {
    long lo, hi, primes;
    int64_t goid;
    pid_t tid;
    gmp_waitgroup *wg;
};

static int is_prime(long n) {
    if (n < 2) return 0;
    for (long d = 2; d * d <= n; d++)
        if (n % d == 0) return 0;
    return 1;
}

static void count_primes(void *arg) {
    struct slice *s = arg;
    s->goid = gmp_goid(NULL);
    s->tid = gettid();
    for (long n = s->lo; n < s->hi; n++) {
        s->primes += is_prime(n);
        if ((n & 0xffff) == 0)
            gmp_gosched(); /* be polite: let the other goroutines share the Ps */
    }
    must(gmp_waitgroup_done(s->wg), "gmp_waitgroup_done");
}

static void parallel_work(void) {
    struct slice s[WORKERS];
    gmp_waitgroup wg = {0}; /* all-zero: a ready wait group, nothing to destroy */
    must(gmp_waitgroup_add(&wg, WORKERS), "gmp_waitgroup_add");
    double t0 = now_ms();
    for (int i = 0; i < WORKERS; i++) {
        s[i] = (struct slice){(long)LIMIT * i / WORKERS, (long)LIMIT * (i + 1) / WORKERS, 0, 0, 0, &wg};
        must(gmp_spawn(count_primes, &s[i]), "gmp_spawn");
    }
    must(gmp_waitgroup_wait(&wg), "gmp_waitgroup_wait");
    long total = 0;
    for (int i = 0; i < WORKERS; i++) {
        printf("  goroutine %3lld (thread %d) counted %6ld primes in [%ld, %ld)\n",
               (long long)s[i].goid, s[i].tid, s[i].primes, s[i].lo, s[i].hi);
        total += s[i].primes;
    }
    printf("primes below %d: %ld%s (%.1f ms)\n", LIMIT, total, verdict(total, 148933), now_ms() - t0);
}

/* ------------------------------------------------------------------ 2. pipeline */

enum { PIPE_N = 100000 };

struct stage {
    gmp_chan *in, *out;
    gmp_waitgroup *wg;
};

static void generate(void *arg) {
    struct stage *s = arg;
    for (long i = 1; i <= PIPE_N; i++)
        must(gmp_chan_send(s->out, &i), "gmp_chan_send");
    must(gmp_chan_close(s->out), "gmp_chan_close"); /* no more: ends `square`'s loop */
    must(gmp_waitgroup_done(s->wg), "gmp_waitgroup_done");
}

static void square(void *arg) {
    struct stage *s = arg;
    long v;
    while (must(gmp_chan_recv(s->in, &v), "gmp_chan_recv") == 1) { /* 0: closed and drained */
        long sq = v * v;
        must(gmp_chan_send(s->out, &sq), "gmp_chan_send");
    }
    must(gmp_chan_close(s->out), "gmp_chan_close");
    must(gmp_waitgroup_done(s->wg), "gmp_waitgroup_done");
}

static void sum(void *arg) {
    struct stage *s = arg;
    long v, total = 0;
    while (must(gmp_chan_recv(s->in, &v), "gmp_chan_recv") == 1)
        total += v;
    must(gmp_chan_send(s->out, &total), "gmp_chan_send");
    must(gmp_waitgroup_done(s->wg), "gmp_waitgroup_done");
}

static void pipeline(void) {
    gmp_chan *nums, *squares, *result;
    must(gmp_chan_new(sizeof(long), 0, &nums), "gmp_chan_new");     /* unbuffered */
    must(gmp_chan_new(sizeof(long), 64, &squares), "gmp_chan_new"); /* buffered */
    must(gmp_chan_new(sizeof(long), 1, &result), "gmp_chan_new");
    gmp_waitgroup wg = {0};
    struct stage gen = {NULL, nums, &wg}, sq = {nums, squares, &wg}, su = {squares, result, &wg};
    double t0 = now_ms();
    must(gmp_waitgroup_add(&wg, 3), "gmp_waitgroup_add");
    must(gmp_spawn(generate, &gen), "gmp_spawn");
    must(gmp_spawn(square, &sq), "gmp_spawn");
    must(gmp_spawn(sum, &su), "gmp_spawn");
    long total = 0;
    must(gmp_chan_recv(result, &total), "gmp_chan_recv");
    must(gmp_waitgroup_wait(&wg), "gmp_waitgroup_wait"); /* then nobody uses the channels */
    gmp_chan_free(nums);
    gmp_chan_free(squares);
    gmp_chan_free(result);
    long want = (long)PIPE_N * (PIPE_N + 1) * (2L * PIPE_N + 1) / 6;
    printf("pipeline generate -> square -> sum: squares of 1..%d add up to %ld%s (%.1f ms)\n",
           PIPE_N, total, verdict(total, want), now_ms() - t0);
}

/* ------------------------------------------------------------------ 3. worker pool */

enum { POOL = 4, JOBS = 20000 };

struct pool {
    gmp_chan *jobs, *results;
    gmp_waitgroup wg;     /* the workers and the feeder */
    gmp_waitgroup closed; /* the closer */
};
struct job_result {
    int worker;
    long steps;
};
struct worker_arg {
    struct pool *p;
    int id;
};

/* Steps of the Collatz sequence from n down to 1: a job of uneven size. */
static long collatz(long n) {
    long steps = 0;
    for (; n != 1; steps++)
        n = (n & 1) ? 3 * n + 1 : n / 2;
    return steps;
}

static void worker(void *arg) {
    struct worker_arg *w = arg;
    long n;
    while (must(gmp_chan_recv(w->p->jobs, &n), "gmp_chan_recv") == 1) {
        struct job_result r = {w->id, collatz(n)};
        must(gmp_chan_send(w->p->results, &r), "gmp_chan_send");
    }
    must(gmp_waitgroup_done(&w->p->wg), "gmp_waitgroup_done");
}

static void feeder(void *arg) {
    struct pool *p = arg;
    for (long n = 1; n <= JOBS; n++)
        must(gmp_chan_send(p->jobs, &n), "gmp_chan_send");
    must(gmp_chan_close(p->jobs), "gmp_chan_close"); /* the workers' loops end */
    must(gmp_waitgroup_done(&p->wg), "gmp_waitgroup_done");
}

/* Closes the results once the workers and the feeder are done: the collector's loop ends. */
static void closer(void *arg) {
    struct pool *p = arg;
    must(gmp_waitgroup_wait(&p->wg), "gmp_waitgroup_wait");
    must(gmp_chan_close(p->results), "gmp_chan_close");
    must(gmp_waitgroup_done(&p->closed), "gmp_waitgroup_done");
}

static void worker_pool(void) {
    struct pool p = {0};
    struct worker_arg args[POOL];
    must(gmp_chan_new(sizeof(long), 16, &p.jobs), "gmp_chan_new");
    must(gmp_chan_new(sizeof(struct job_result), 16, &p.results), "gmp_chan_new");
    double t0 = now_ms();
    must(gmp_waitgroup_add(&p.wg, POOL + 1), "gmp_waitgroup_add"); /* + the feeder */
    for (int i = 0; i < POOL; i++) {
        args[i] = (struct worker_arg){&p, i};
        must(gmp_spawn(worker, &args[i]), "gmp_spawn");
    }
    must(gmp_spawn(feeder, &p), "gmp_spawn");
    must(gmp_waitgroup_add(&p.closed, 1), "gmp_waitgroup_add");
    must(gmp_spawn(closer, &p), "gmp_spawn");
    long done[POOL] = {0}, steps = 0, results = 0;
    struct job_result r;
    while (must(gmp_chan_recv(p.results, &r), "gmp_chan_recv") == 1) {
        done[r.worker]++;
        steps += r.steps;
        results++;
    }
    /* Free the channels once nobody can be using them: the closer is done, and it waited for
     * the workers and the feeder. */
    must(gmp_waitgroup_wait(&p.closed), "gmp_waitgroup_wait");
    gmp_chan_free(p.jobs);
    gmp_chan_free(p.results);
    printf("worker pool: %d workers did %ld jobs%s (%ld, %ld, %ld, %ld), %ld Collatz steps%s "
           "(%.1f ms)\n",
           POOL, results, verdict(results, JOBS), done[0], done[1], done[2], done[3], steps,
           verdict(steps, 1834634), now_ms() - t0);
}

/* ------------------------------------------------------------------ 4. select with a timeout */

struct answer {
    gmp_chan *chan;
    gmp_waitgroup wg;
};

static void slow_answer(void *arg) {
    struct answer *a = arg;
    gmp_sleep(50 * 1000000); /* 50 ms */
    int v = 42;
    must(gmp_chan_send(a->chan, &v), "gmp_chan_send");
    must(gmp_waitgroup_done(&a->wg), "gmp_waitgroup_done");
}

static void select_timeout(void) {
    struct answer a = {0};
    must(gmp_chan_new(sizeof(int), 1, &a.chan), "gmp_chan_new");
    must(gmp_waitgroup_add(&a.wg, 1), "gmp_waitgroup_add");
    must(gmp_spawn(slow_answer, &a), "gmp_spawn");
    int v = 0, timeouts = 0;
    double t0 = now_ms();
    for (;;) {
        gmp_case c[1] = {{.chan = a.chan, .dir = GMP_RECV, .elem = &v}};
        int r = gmp_select(c, 1, 20 * 1000000); /* at most 20 ms */
        if (r == -ETIMEDOUT) {
            timeouts++; /* Go: case <-time.After(20 * time.Millisecond) */
            continue;
        }
        must(r, "gmp_select");
        break;
    }
    printf("select: %d timeouts of 20 ms, then answer %d%s from a goroutine that slept 50 ms "
           "(%.1f ms)\n", timeouts, v, verdict(v, 42), now_ms() - t0);
    must(gmp_waitgroup_wait(&a.wg), "gmp_waitgroup_wait"); /* the sender has returned */
    gmp_chan_free(a.chan);
}

/* ------------------------------------------------------------------ 5. skynet */

/* Node `num` at `size` spawns 10 children, waits, and adds their sums. */
struct node {
    long num, size, sum;
    gmp_waitgroup *parent_wg;
};

static void skynet(void *arg) {
    struct node *n = arg;
    if (n->size == 1) {
        n->sum = n->num;
    } else {
        struct node kids[10];
        gmp_waitgroup wg = {0};
        must(gmp_waitgroup_add(&wg, 10), "gmp_waitgroup_add");
        long step = n->size / 10;
        for (int i = 0; i < 10; i++) {
            kids[i] = (struct node){n->num + i * step, step, 0, &wg};
            must(gmp_spawn(skynet, &kids[i]), "gmp_spawn");
        }
        must(gmp_waitgroup_wait(&wg), "gmp_waitgroup_wait");
        n->sum = 0;
        for (int i = 0; i < 10; i++) n->sum += kids[i].sum;
    }
    if (n->parent_wg) must(gmp_waitgroup_done(n->parent_wg), "gmp_waitgroup_done");
}

static void main_goroutine(void *arg) {
    (void)arg;
    printf("main goroutine: id %lld on thread %d, %d processors\n",
           (long long)gmp_goid(NULL), gettid(), gmp_set_procs(0));
    parallel_work();
    pipeline();
    worker_pool();
    select_timeout();
    double t0 = now_ms();
    struct node root = {0, 100000, 0, NULL};
    skynet(&root);
    printf("skynet: 111,111 goroutines summed 0..99999 = %ld%s (%.1f ms)\n", root.sum,
           verdict(root.sum, 4999950000L), now_ms() - t0);
}

int main(void) {
    int rc = gmp_main(main_goroutine, NULL);
    if (rc != 0) {
        fprintf(stderr, "gmp_main: %d\n", rc);
        return 1;
    }
    gmp_stats st;
    gmp_stats_read(&st);
    printf("scheduler: %llu goroutines spawned, %llu schedules, %llu steals, %llu yields, %u threads\n",
           (unsigned long long)st.spawned, (unsigned long long)st.schedules,
           (unsigned long long)st.steals, (unsigned long long)st.yields, st.threads);
    return wrong;
}
