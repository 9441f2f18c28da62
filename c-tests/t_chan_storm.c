/*
 * t_chan_storm: 8 producers x 8 consumers (goroutines) move many messages through channels:
 *  (a) one buffered channel (cap 64),
 *  (b) one unbuffered channel,
 *  (c) mixed: producers 0-3 send on a buffered channel A (cap 16), 4-7 on an unbuffered
 *      channel B; consumers 0-1 receive on A, 2-3 on B, 4-7 use gmp_select over both, and
 *      drop a channel from their select (NULL case) once it reports closed (ok = false).
 * When the producers are done the channels are closed; consumers stop at the close.
 * Message v = producer + 8 * seq. Checked: every value is received exactly once (a byte map),
 * the total is right, and each consumer sees each producer's values in increasing order (a
 * channel is FIFO: a value sent later cannot be received earlier by the same receiver), the
 * per-consumer counts add up, and closed channels stay empty.
 * Catches: lost or duplicated values under contention (a wake-up handing one value to two
 * receivers, a select woken by two channels taking both), reordering, a close that loses
 * buffered values or strands a receiver (hang -> watchdog).
 * Totals: STORM_BUF / STORM_UNB / STORM_MIX (below): 1,000,000 messages each.
 */
#include "harness.h"

#define NP 8
#define NC 8
#ifndef STORM_BUF
#define STORM_BUF 1000000
#endif
#ifndef STORM_UNB
#define STORM_UNB 1000000
#endif
#ifndef STORM_MIX
#define STORM_MIX 1000000
#endif
#define MAXMSG (STORM_BUF > STORM_UNB ? (STORM_BUF > STORM_MIX ? STORM_BUF : STORM_MIX) \
                                      : (STORM_UNB > STORM_MIX ? STORM_UNB : STORM_MIX))

static H_ATOMIC(uint8_t) seen[MAXMSG];
static H_ATOMIC(int64_t) total_received;

typedef struct storm {
    int64_t nmsg;
    gmp_chan *ch[2];
    wg_t producers, consumers;
} storm_t;

typedef struct worker {
    storm_t *s;
    int id;
    int mode; /* consumer: 0 = recv ch[0], 1 = recv ch[1], 2 = select over both */
    int64_t count;
    int64_t last[NP];
} worker_t;

static void producer(void *p)
{
    worker_t *w = (worker_t *)p;
    storm_t *s = w->s;
    gmp_chan *c = s->ch[s->ch[1] && w->id >= NP / 2 ? 1 : 0];
    for (int64_t v = w->id; v < s->nmsg; v += NP) {
        int r = gmp_chan_send(c, &v);
        CHECK(r == 0, "producer %d: send = %d", w->id, r);
    }
    wg_done(&s->producers);
}

static void take(worker_t *w, int64_t v)
{
    CHECK(v >= 0 && v < w->s->nmsg, "consumer %d received %lld: out of range", w->id,
          (long long)v);
    int p = (int)(v % NP);
    int64_t seq = v / NP;
    CHECK(seq > w->last[p], "consumer %d: producer %d's seq %lld after %lld (order)", w->id, p,
          (long long)seq, (long long)w->last[p]);
    w->last[p] = seq;
    CHECK(atomic_exchange(&seen[v], 1) == 0, "value %lld received twice", (long long)v);
    w->count++;
}

static void consumer(void *p)
{
    worker_t *w = (worker_t *)p;
    storm_t *s = w->s;
    for (int i = 0; i < NP; i++) w->last[i] = -1;
    if (w->mode < 2) {
        gmp_chan *c = s->ch[w->mode];
        for (;;) {
            int64_t v = -1;
            int r = gmp_chan_recv(c, &v);
            if (r == 0) {
                CHECK(v == 0, "elem not zero-filled at the close");
                break;
            }
            CHECK(r == 1, "consumer %d: recv = %d", w->id, r);
            take(w, v);
        }
    } else {
        gmp_chan *live[2] = {s->ch[0], s->ch[1]};
        while (live[0] || live[1]) {
            int64_t v[2] = {-1, -1};
            gmp_case cs[2] = {{live[0], GMP_RECV, &v[0], false}, {live[1], GMP_RECV, &v[1], false}};
            int r = gmp_select(cs, 2, -1);
            CHECK(r == 0 || r == 1, "consumer %d: select = %d", w->id, r);
            CHECK(live[r] != NULL, "select chose a NULL channel's case");
            if (!cs[r].ok) {
                CHECK(v[r] == 0, "elem not zero-filled at the close");
                live[r] = NULL;
                continue;
            }
            take(w, v[r]);
        }
    }
    atomic_fetch_add(&total_received, w->count);
    wg_done(&s->consumers);
}

static void run(const char *name, int64_t nmsg, size_t cap0, bool mixed, size_t cap1)
{
    int64_t t0 = h_now_ns();
    static storm_t s;
    static worker_t prod[NP], cons[NC];
    s.nmsg = nmsg;
    CHECK_EQ(gmp_chan_new(sizeof(int64_t), cap0, &s.ch[0]), 0);
    s.ch[1] = NULL;
    if (mixed) CHECK_EQ(gmp_chan_new(sizeof(int64_t), cap1, &s.ch[1]), 0);
    for (int64_t i = 0; i < nmsg; i++) atomic_store(&seen[i], 0);
    atomic_store(&total_received, 0);
    wg_init(&s.producers);
    wg_init(&s.consumers);
    wg_add(&s.producers, NP);
    wg_add(&s.consumers, NC);
    for (int i = 0; i < NC; i++) {
        cons[i] = (worker_t){&s, i, mixed ? (i < 2 ? 0 : i < 4 ? 1 : 2) : 0, 0, {0}};
        h_spawn(consumer, &cons[i]);
    }
    for (int i = 0; i < NP; i++) {
        prod[i] = (worker_t){&s, i, 0, 0, {0}};
        h_spawn(producer, &prod[i]);
    }
    wg_wait(&s.producers);
    for (int k = 0; k < (mixed ? 2 : 1); k++) CHECK_EQ(gmp_chan_close(s.ch[k]), 0);
    wg_wait(&s.consumers);

    int64_t sum = 0;
    for (int i = 0; i < NC; i++) sum += cons[i].count;
    CHECK_EQ(sum, nmsg);
    CHECK_EQ(atomic_load(&total_received), nmsg);
    for (int64_t i = 0; i < nmsg; i++)
        CHECK(atomic_load(&seen[i]) == 1, "%s: value %lld never received", name, (long long)i);
    for (int k = 0; k < (mixed ? 2 : 1); k++) {
        CHECK_EQ(gmp_chan_len(s.ch[k]), 0);
        CHECK_EQ(gmp_chan_recv(s.ch[k], NULL), 0);
        CHECK_EQ(gmp_chan_free(s.ch[k]), 0);
    }
    printf("t_chan_storm: %s: %lld messages in %.2f s; per consumer:", name, (long long)nmsg,
           (double)(h_now_ns() - t0) / 1e9);
    for (int i = 0; i < NC; i++) printf(" %lld", (long long)cons[i].count);
    printf("\n");
}

static void main_g(void *arg)
{
    (void)arg;
    run("buffered", STORM_BUF, 64, false, 0);
    run("unbuffered", STORM_UNB, 0, false, 0);
    run("mixed", STORM_MIX, 16, true, 0);
}

int main(void)
{
    h_check_lib();
    h_main(main_g, NULL);
    printf("t_chan_storm: ok\n");
    return 0;
}
