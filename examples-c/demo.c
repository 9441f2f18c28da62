/*
 * libgmp demo: goroutines in C.
 *
 * 1. A fan-out: 8 goroutines count primes in slices of a range while the main goroutine waits
 *    on a wait group (examples-c/waitgroup.h, built on gmp_park/gmp_ready).
 * 2. A skynet tree: 100,000 goroutines in a 5-level tree, each node summing its children.
 * 3. What it cost: the scheduler's counters.
 *
 *   make demo      (or: cc demo.c -Iinclude -Ltarget/release -Wl,-rpath,target/release -lgmp)
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include "gmp.h"
#include "waitgroup.h"

enum { WORKERS = 8, LIMIT = 2000000 };

struct slice {
    long lo, hi, primes;
    int64_t goid;
    pid_t tid;
    waitgroup *wg;
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
    wg_done(s->wg);
}

/* skynet: node `num` at `size` spawns 10 children, waits, and adds their sums. */
struct node {
    long num, size, sum;
    waitgroup *parent_wg;
};

static void skynet(void *arg) {
    struct node *n = arg;
    if (n->size == 1) {
        n->sum = n->num;
    } else {
        struct node kids[10];
        waitgroup wg = {0};
        wg_add(&wg, 10);
        long step = n->size / 10;
        for (int i = 0; i < 10; i++) {
            kids[i] = (struct node){n->num + i * step, step, 0, &wg};
            gmp_spawn(skynet, &kids[i]);
        }
        wg_wait(&wg);
        n->sum = 0;
        for (int i = 0; i < 10; i++) n->sum += kids[i].sum;
    }
    if (n->parent_wg) wg_done(n->parent_wg);
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void main_goroutine(void *arg) {
    (void)arg;
    printf("main goroutine: id %lld on thread %d, %d processors\n",
           (long long)gmp_goid(NULL), gettid(), gmp_set_procs(0));

    struct slice s[WORKERS];
    waitgroup wg = {0};
    wg_add(&wg, WORKERS);
    double t0 = now_ms();
    for (int i = 0; i < WORKERS; i++) {
        s[i] = (struct slice){(long)LIMIT * i / WORKERS, (long)LIMIT * (i + 1) / WORKERS, 0, 0, 0, &wg};
        gmp_spawn(count_primes, &s[i]);
    }
    wg_wait(&wg);
    long total = 0;
    for (int i = 0; i < WORKERS; i++) {
        printf("  goroutine %3lld (thread %d) counted %6ld primes in [%ld, %ld)\n",
               (long long)s[i].goid, s[i].tid, s[i].primes, s[i].lo, s[i].hi);
        total += s[i].primes;
    }
    printf("primes below %d: %ld (%.1f ms)\n", LIMIT, total, now_ms() - t0);

    t0 = now_ms();
    struct node root = {0, 100000, 0, NULL};
    skynet(&root);
    printf("skynet: 111,111 goroutines summed 0..99999 = %ld (%.1f ms)\n", root.sum, now_ms() - t0);
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
    return 0;
}
