/*
 * t_chan_threads: channels, a gmp_mutex and a gmp_waitgroup shared by goroutines and plain
 * pthreads at the same time (api.md: "Goroutines and threads may share every channel and lock").
 *
 *  1. Two directions at once: NT plain threads send on a buffered channel that NG goroutines
 *     receive from, while NG goroutines send on an unbuffered channel that NT threads receive
 *     from. Every receiver, thread or goroutine, updates a plain (non-atomic) count and sum
 *     under one gmp_mutex. Every worker calls gmp_waitgroup_done on one wait group that the
 *     main goroutine and a plain thread both wait on; the senders have their own wait group,
 *     after which the main goroutine closes both channels and the receivers stop at the close.
 *     Checked: each value received exactly once, per sender order at each receiver, the
 *     locked count and sum equal the expected ones (a mutex that lets a thread and a goroutine
 *     in together loses increments), both waiters return only after every worker is done.
 *  2. A thread blocked in gmp_select (seen asleep) is woken by a goroutine's send on one of
 *     its channels; then a ping-pong of ROUNDS rounds: the goroutine sends on a random one of
 *     two channels, the thread's select must report that case and that value, and replies on a
 *     third channel that the goroutine waits for in a select (woken by the thread).
 */
#include "harness.h"

#define NT 3
#define NG 6
#define PER_T 20000 /* values per sending thread */
#define PER_G 10000 /* values per sending goroutine */
#define ROUNDS 5000

typedef struct shared {
    gmp_chan *t2g, *g2t;
    gmp_mutex mu;
    int64_t count, sum; /* under mu */
    gmp_waitgroup all, senders;
    H_ATOMIC(int) workers_left;
    H_ATOMIC(uint8_t) seen_t2g[NT * PER_T];
    H_ATOMIC(uint8_t) seen_g2t[NG * PER_G];
} shared_t;

static shared_t S;

typedef struct worker {
    int id;
    int64_t last[NG > NT ? NG : NT];
    int64_t got;
} worker_t;

static void sender_body(gmp_chan *c, int id, int per)
{
    for (int64_t j = 0; j < per; j++) {
        int64_t v = (int64_t)id * per + j;
        CHECK_EQ(gmp_chan_send(c, &v), 0);
    }
    CHECK_EQ(gmp_waitgroup_done(&S.senders), 0);
}

static void receiver_body(gmp_chan *c, worker_t *w, int nsenders, int per,
                          H_ATOMIC(uint8_t) *seen)
{
    for (int i = 0; i < nsenders; i++) w->last[i] = -1;
    for (;;) {
        int64_t v = -1;
        int r = gmp_chan_recv(c, &v);
        if (r == 0) break;
        CHECK_EQ(r, 1);
        CHECK(v >= 0 && v < (int64_t)nsenders * per, "received %lld", (long long)v);
        int s = (int)(v / per);
        CHECK(v % per > w->last[s], "sender %d's value %lld after %lld", s, (long long)(v % per),
              (long long)w->last[s]);
        w->last[s] = v % per;
        CHECK(atomic_exchange(&seen[v], 1) == 0, "value %lld received twice", (long long)v);
        CHECK_EQ(gmp_mutex_lock(&S.mu), 0);
        int64_t c0 = S.count;
        S.sum += v;
        if ((v & 63) == 0) gmp_gosched(); /* hold the lock across a switch now and then */
        S.count = c0 + 1;
        CHECK_EQ(gmp_mutex_unlock(&S.mu), 0);
        w->got++;
    }
}

static worker_t tw_send[NT], tw_recv[NT], gw_send[NG], gw_recv[NG];

static void *thread_sender(void *p)
{
    worker_t *w = (worker_t *)p;
    sender_body(S.t2g, w->id, PER_T);
    atomic_fetch_sub(&S.workers_left, 1);
    CHECK_EQ(gmp_waitgroup_done(&S.all), 0);
    return NULL;
}
static void *thread_receiver(void *p)
{
    worker_t *w = (worker_t *)p;
    receiver_body(S.g2t, w, NG, PER_G, S.seen_g2t);
    atomic_fetch_sub(&S.workers_left, 1);
    CHECK_EQ(gmp_waitgroup_done(&S.all), 0);
    return NULL;
}
static void go_sender(void *p)
{
    worker_t *w = (worker_t *)p;
    sender_body(S.g2t, w->id, PER_G);
    atomic_fetch_sub(&S.workers_left, 1);
    CHECK_EQ(gmp_waitgroup_done(&S.all), 0);
}
static void go_receiver(void *p)
{
    worker_t *w = (worker_t *)p;
    receiver_body(S.t2g, w, NT, PER_T, S.seen_t2g);
    atomic_fetch_sub(&S.workers_left, 1);
    CHECK_EQ(gmp_waitgroup_done(&S.all), 0);
}

static ev_t thread_waiter_done;
static void *thread_waiter(void *p)
{
    (void)p;
    CHECK_EQ(gmp_waitgroup_wait(&S.all), 0);
    CHECK(atomic_load(&S.workers_left) == 0, "a thread's gmp_waitgroup_wait returned with %d "
                                             "workers still running", atomic_load(&S.workers_left));
    ev_set(&thread_waiter_done);
    return NULL;
}

static void test_both_directions(void)
{
    CHECK_EQ(gmp_chan_new(sizeof(int64_t), 8, &S.t2g), 0);
    CHECK_EQ(gmp_chan_new(sizeof(int64_t), 0, &S.g2t), 0);
    atomic_store(&S.workers_left, 2 * (NT + NG));
    CHECK_EQ(gmp_waitgroup_add(&S.all, 2 * (NT + NG)), 0);
    CHECK_EQ(gmp_waitgroup_add(&S.senders, NT + NG), 0);
    ev_init(&thread_waiter_done);
    pthread_t th[2 * NT + 1];
    CHECK(pthread_create(&th[2 * NT], NULL, thread_waiter, NULL) == 0, "pthread_create");
    for (int i = 0; i < NT; i++) {
        tw_send[i].id = i;
        tw_recv[i].id = i;
        CHECK(pthread_create(&th[i], NULL, thread_sender, &tw_send[i]) == 0, "pthread_create");
        CHECK(pthread_create(&th[NT + i], NULL, thread_receiver, &tw_recv[i]) == 0,
              "pthread_create");
    }
    for (int i = 0; i < NG; i++) {
        gw_send[i].id = i;
        gw_recv[i].id = i;
        h_spawn(go_sender, &gw_send[i]);
        h_spawn(go_receiver, &gw_recv[i]);
    }
    CHECK_EQ(gmp_waitgroup_wait(&S.senders), 0);
    CHECK_EQ(gmp_chan_close(S.t2g), 0);
    CHECK_EQ(gmp_chan_close(S.g2t), 0);
    CHECK_EQ(gmp_waitgroup_wait(&S.all), 0);
    CHECK(atomic_load(&S.workers_left) == 0, "gmp_waitgroup_wait returned with %d workers still "
                                             "running", atomic_load(&S.workers_left));
    ev_wait(&thread_waiter_done);
    for (int i = 0; i < 2 * NT + 1; i++) CHECK(pthread_join(th[i], NULL) == 0, "join");

    int64_t n1 = (int64_t)NT * PER_T, n2 = (int64_t)NG * PER_G;
    CHECK_EQ(gmp_mutex_lock(&S.mu), 0);
    CHECK(S.count == n1 + n2, "count under the mutex %lld, want %lld (lost updates)",
          (long long)S.count, (long long)(n1 + n2));
    CHECK_EQ(S.sum, n1 * (n1 - 1) / 2 + n2 * (n2 - 1) / 2);
    CHECK_EQ(gmp_mutex_unlock(&S.mu), 0);
    int64_t g1 = 0, g2 = 0;
    for (int i = 0; i < NG; i++) g1 += gw_recv[i].got;
    for (int i = 0; i < NT; i++) g2 += tw_recv[i].got;
    CHECK_EQ(g1, n1);
    CHECK_EQ(g2, n2);
    for (int64_t i = 0; i < n1; i++) CHECK(atomic_load(&S.seen_t2g[i]), "t2g %lld lost", (long long)i);
    for (int64_t i = 0; i < n2; i++) CHECK(atomic_load(&S.seen_g2t[i]), "g2t %lld lost", (long long)i);
    printf("t_chan_threads: goroutine receivers got:");
    for (int i = 0; i < NG; i++) printf(" %lld", (long long)gw_recv[i].got);
    printf("; thread receivers got:");
    for (int i = 0; i < NT; i++) printf(" %lld", (long long)tw_recv[i].got);
    printf("\n");
    CHECK_EQ(gmp_chan_free(S.t2g), 0);
    CHECK_EQ(gmp_chan_free(S.g2t), 0);
}

/* ------------------------------------------------------------------ 2. select in a thread */

typedef struct pp {
    gmp_chan *ch[2], *ack, *never;
    uint64_t v[2];
} pp_t;

static int op_select2(void *p)
{
    pp_t *x = (pp_t *)p;
    gmp_case cs[2] = {{x->ch[0], GMP_RECV, &x->v[0], false}, {x->ch[1], GMP_RECV, &x->v[1], false}};
    return gmp_select(cs, 2, -1);
}

static void *pp_thread(void *p)
{
    pp_t *x = (pp_t *)p;
    for (int i = 0; i < ROUNDS; i++) {
        x->v[0] = x->v[1] = 0;
        int r = op_select2(x);
        CHECK(r == 0 || r == 1, "thread select = %d", r);
        uint64_t reply = ((uint64_t)r << 32) | x->v[r];
        CHECK_EQ(gmp_chan_send(x->ack, &reply), 0);
    }
    return NULL;
}

static void test_thread_select(void)
{
    pp_t x;
    for (int i = 0; i < 2; i++) CHECK_EQ(gmp_chan_new(8, 0, &x.ch[i]), 0);
    CHECK_EQ(gmp_chan_new(8, 0, &x.ack), 0);
    CHECK_EQ(gmp_chan_new(8, 0, &x.never), 0);

    /* one deterministic round: the thread is asleep in the select first */
    h_blocker_t b;
    x.v[0] = x.v[1] = 0;
    h_block_start(&b, op_select2, &x, true);
    uint64_t v = 0xBEEF;
    CHECK_EQ(gmp_chan_send(x.ch[1], &v), 0);
    CHECK_EQ(h_block_finish(&b), 1);
    CHECK_EQ(x.v[1], 0xBEEF);
    CHECK_EQ(x.v[0], 0);

    pthread_t th;
    CHECK(pthread_create(&th, NULL, pp_thread, &x) == 0, "pthread_create");
    uint32_t rng = 2463534242u;
    long per[2] = {0, 0};
    for (uint32_t i = 0; i < ROUNDS; i++) {
        rng ^= rng << 13;
        rng ^= rng >> 17;
        rng ^= rng << 5;
        int k = (int)(rng & 1);
        v = i + 1;
        CHECK_EQ(gmp_chan_send(x.ch[k], &v), 0);
        uint64_t reply = 0, dummy = 0;
        gmp_case cs[2] = {{x.never, GMP_RECV, &dummy, false}, {x.ack, GMP_RECV, &reply, false}};
        CHECK_EQ(gmp_select(cs, 2, -1), 1);
        CHECK(reply == (((uint64_t)k << 32) | (i + 1)),
              "round %u: sent %u on channel %d, the thread's select reported %llx", i, i + 1, k,
              (unsigned long long)reply);
        per[k]++;
    }
    CHECK(pthread_join(th, NULL) == 0, "join");
    CHECK(per[0] > 0 && per[1] > 0, "rng");
    for (int i = 0; i < 2; i++) CHECK_EQ(gmp_chan_free(x.ch[i]), 0);
    CHECK_EQ(gmp_chan_free(x.ack), 0);
    CHECK_EQ(gmp_chan_free(x.never), 0);
}

static void main_g(void *arg)
{
    (void)arg;
    test_both_directions();
    test_thread_select();
}

int main(void)
{
    h_check_lib();
    h_main(main_g, NULL);
    printf("t_chan_threads: ok\n");
    return 0;
}
