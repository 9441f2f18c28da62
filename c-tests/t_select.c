/*
 * t_select: gmp_select against Go's select.
 *
 *  1. Fairness: with two ready cases (two receives; a send and a receive; the same channel as
 *     a send and a receive) each is chosen 40-60 % of 10,000 times; with three, each 26-41 % of
 *     9,000 (a select that always takes the first ready case, or never the last, fails).
 *  2. Default (timeout 0): -EAGAIN when nothing can proceed (empty and unbuffered receives, full
 *     and unbuffered sends, NULL channels), with no elem touched; the one ready case when there
 *     is one, wherever it sits; a send to a receiver that is blocked on an unbuffered channel.
 *  3. Timeouts: -ETIMEDOUT no earlier than asked (and within +2 s), in a goroutine and in a
 *     thread; n == 0 and all-NULL cases likewise; a long timeout cut short by a send.
 *  4. NULL channel cases are never chosen.
 *  5. Send cases: into buffer space, to a waiting receiver (goroutine and thread, blocking and
 *     default select); -EPIPE for a send case on a closed channel, also when the channel is
 *     closed while the select waits (goroutine and thread); a receive case woken by a close
 *     gets ok = false and a zero-filled elem.
 *  6. The same channel in several cases: send + receive on a buffered channel (state stays
 *     consistent, both are chosen), two receives (exactly one gets the value), send + receive
 *     on an unbuffered channel with nobody else must never pair with itself (-EAGAIN,
 *     -ETIMEDOUT), and two goroutines running that same select pair with each other 2,000
 *     times (each one's sends are exactly the other's receives, in order).
 *  7. Closed channels: a buffered value first (ok = true), then ok = false and zero-fill.
 *  8. No lost values: a select over three unbuffered channels (in a goroutine, then in a
 *     thread) fed by two goroutines and a thread: every value received exactly once, per-channel
 *     order kept; and after a blocked select was woken by one channel, a send on another of its
 *     channels blocks (no stale waiter left behind to swallow it).
 *  9. -EINVAL: NULL cases with n > 0, a bad dir (even on a NULL channel, even beside a ready
 *     case: nothing happens then), NULL elem in a send case, n > 65536 (n == 65536 works),
 *     n == 0 with no timeout.
 */
#include "harness.h"

static gmp_chan *mk(size_t es, size_t cap)
{
    gmp_chan *c = NULL;
    int r = gmp_chan_new(es, cap, &c);
    CHECK(r == 0 && c != NULL, "gmp_chan_new(%zu, %zu) = %d", es, cap, r);
    return c;
}
static void fr(gmp_chan *c) { CHECK_EQ(gmp_chan_free(c), 0); }

static void send_u64(gmp_chan *c, uint64_t v) { CHECK_EQ(gmp_chan_send(c, &v), 0); }
static uint64_t recv_u64(gmp_chan *c)
{
    uint64_t v = 0;
    CHECK_EQ(gmp_chan_recv(c, &v), 1);
    return v;
}

static void check_share(const char *what, long got, long n, int lo_pct, int hi_pct)
{
    CHECK(got * 100 >= n * lo_pct && got * 100 <= n * hi_pct,
          "%s: chosen %ld of %ld times, want %d-%d %%", what, got, n, lo_pct, hi_pct);
}

/* ------------------------------------------------------------------ 1. fairness */

static void test_fairness(void)
{
    enum { N = 10000 };
    gmp_chan *a = mk(8, 1), *b = mk(8, 1);
    uint64_t va, vb;
    long cnt[3] = {0, 0, 0};

    /* two receives */
    send_u64(a, 1);
    send_u64(b, 2);
    for (int i = 0; i < N; i++) {
        gmp_case cs[2] = {{a, GMP_RECV, &va, false}, {b, GMP_RECV, &vb, false}};
        int r = gmp_select(cs, 2, -1);
        CHECK(r == 0 || r == 1, "select = %d", r);
        CHECK(cs[r].ok, "ok false on an open channel");
        CHECK_EQ(r == 0 ? va : vb, (uint64_t)(r + 1));
        cnt[r]++;
        send_u64(r == 0 ? a : b, (uint64_t)(r + 1));
    }
    check_share("recv a", cnt[0], N, 40, 60);
    check_share("recv b", cnt[1], N, 40, 60);
    CHECK_EQ(recv_u64(a), 1);
    CHECK_EQ(recv_u64(b), 2);

    /* a send (a has room) and a receive (b has a value) */
    cnt[0] = cnt[1] = 0;
    send_u64(b, 7);
    for (int i = 0; i < N; i++) {
        va = 100 + (uint64_t)i;
        gmp_case cs[2] = {{a, GMP_SEND, &va, false}, {b, GMP_RECV, &vb, false}};
        int r = gmp_select(cs, 2, -1);
        CHECK(r == 0 || r == 1, "select = %d", r);
        cnt[r]++;
        if (r == 0) {
            CHECK_EQ(recv_u64(a), 100 + (uint64_t)i);
        } else {
            CHECK_EQ(vb, 7);
            send_u64(b, 7);
        }
    }
    check_share("send a", cnt[0], N, 40, 60);
    check_share("recv b", cnt[1], N, 40, 60);
    CHECK_EQ(recv_u64(b), 7);

    /* three receives, a NULL case among them */
    gmp_chan *c = mk(8, 1);
    enum { N3 = 9000 };
    cnt[0] = cnt[1] = cnt[2] = 0;
    send_u64(a, 0);
    send_u64(b, 1);
    send_u64(c, 2);
    uint64_t vn = 0, vc = 0;
    for (int i = 0; i < N3; i++) {
        gmp_case cs[4] = {{a, GMP_RECV, &va, false},
                          {NULL, GMP_RECV, &vn, false},
                          {b, GMP_RECV, &vb, false},
                          {c, GMP_RECV, &vc, false}};
        int r = gmp_select(cs, 4, -1);
        CHECK(r == 0 || r == 2 || r == 3, "select chose case %d (a NULL channel?)", r);
        int k = r == 0 ? 0 : r - 1;
        cnt[k]++;
        CHECK_EQ(*(uint64_t *)cs[r].elem, (uint64_t)k);
        send_u64(k == 0 ? a : k == 1 ? b : c, (uint64_t)k);
    }
    for (int k = 0; k < 3; k++) check_share("three-way", cnt[k], N3, 26, 41);
    fr(a);
    fr(b);
    fr(c);
}

/* ------------------------------------------------------------------ 2. default, 4. NULL */

static int op_recv_u64(void *p)
{
    void **a = (void **)p;
    return gmp_chan_recv((gmp_chan *)a[0], a[1]);
}

static void test_default(void)
{
    gmp_chan *empty = mk(8, 2), *full = mk(8, 1), *unb = mk(8, 0), *ready = mk(8, 1);
    send_u64(full, 5);
    uint64_t e[6];
    for (int i = 0; i < 6; i++) e[i] = 0xABCD0000u + (uint64_t)i;
    gmp_case cs[6] = {{empty, GMP_RECV, &e[0], false}, {unb, GMP_RECV, &e[1], false},
                      {full, GMP_SEND, &e[2], false},  {unb, GMP_SEND, &e[3], false},
                      {NULL, GMP_RECV, &e[4], false},  {NULL, GMP_SEND, &e[5], false}};
    for (int rep = 0; rep < 100; rep++) CHECK_EQ(gmp_select(cs, 6, 0), -EAGAIN);
    for (int i = 0; i < 6; i++) CHECK(e[i] == 0xABCD0000u + (uint64_t)i, "elem %d touched", i);
    CHECK_EQ(gmp_chan_len(full), 1);
    CHECK_EQ(gmp_chan_len(empty), 0);

    /* exactly one ready case, at every position */
    for (int pos = 0; pos < 7; pos++) {
        gmp_case cs7[7];
        uint64_t got = 0;
        for (int i = 0, j = 0; i < 7; i++) {
            if (i == pos) {
                cs7[i] = (gmp_case){ready, GMP_RECV, &got, false};
            } else {
                cs7[i] = cs[j++];
            }
        }
        for (int rep = 0; rep < 50; rep++) {
            send_u64(ready, 1000 + (uint64_t)rep);
            /* default, or blocking (it must not block: one case is ready) */
            int r = gmp_select(cs7, 7, rep % 2 ? -1 : 0);
            CHECK(r == pos, "select chose %d, the ready case is %d", r, pos);
            CHECK(cs7[pos].ok, "ok false");
            CHECK_EQ(got, 1000 + (uint64_t)rep);
            CHECK_EQ(gmp_select(cs7, 7, 0), -EAGAIN);
        }
    }

    /* a send to a receiver blocked on an unbuffered channel (goroutine, then thread) */
    for (int th = 0; th < 2; th++) {
        uint64_t got = 0;
        void *args[2] = {unb, &got};
        h_blocker_t b;
        h_block_start(&b, op_recv_u64, args, th);
        uint64_t v = 777 + (uint64_t)th;
        gmp_case sc[2] = {{NULL, GMP_RECV, NULL, false}, {unb, GMP_SEND, &v, false}};
        CHECK_EQ(gmp_select(sc, 2, 0), 1);
        CHECK_EQ(h_block_finish(&b), 1);
        CHECK_EQ(got, 777 + (uint64_t)th);
    }
    fr(empty);
    fr(full);
    fr(unb);
    fr(ready);
}

/* ------------------------------------------------------------------ 3. timeouts */

static void timed(const char *what, gmp_case *cs, size_t n, int64_t ns)
{
    int64_t t0 = h_now_ns();
    int r = gmp_select(cs, n, ns);
    int64_t dt = h_now_ns() - t0;
    CHECK(r == -ETIMEDOUT, "%s: select with a %lld ns timeout returned %d", what, (long long)ns,
          r);
    CHECK(dt >= ns, "%s: timed out after %lld ns, before the %lld ns asked", what, (long long)dt,
          (long long)ns);
    CHECK(dt < ns + 2000000000, "%s: timed out only after %lld ns (asked %lld)", what,
          (long long)dt, (long long)ns);
}

typedef struct to_arg {
    gmp_chan *c;
    ev_t done;
} to_arg;

static void timeouts_body(to_arg *t)
{
    uint64_t v = 0;
    gmp_case cs[3] = {{t->c, GMP_RECV, &v, false}, {NULL, GMP_SEND, &v, false},
                      {t->c, GMP_SEND, &v, false}};
    timed("unbuffered recv+send", cs, 3, 50 * 1000000);
    timed("recv", cs, 1, 1);
    timed("all NULL", cs + 1, 1, 20 * 1000000);
    timed("n == 0", NULL, 0, 30 * 1000000);
    timed("n == 0 with cases", cs, 0, 10 * 1000000);
    CHECK_EQ(gmp_select(NULL, 0, 0), -EAGAIN);
    CHECK_EQ(gmp_select(cs, 0, 0), -EAGAIN);
    CHECK(v == 0, "elem touched by a select that timed out");
}

static void *timeouts_thread(void *a)
{
    timeouts_body((to_arg *)a);
    ev_set(&((to_arg *)a)->done);
    return NULL;
}

static int op_select_long(void *p)
{
    void **a = (void **)p;
    gmp_case cs[2] = {{NULL, GMP_RECV, NULL, false}, {(gmp_chan *)a[0], GMP_RECV, a[1], false}};
    return gmp_select(cs, 2, 10 * (int64_t)1000000000);
}

static void test_timeouts(void)
{
    to_arg t;
    t.c = mk(8, 0);
    timeouts_body(&t); /* goroutine */
    ev_init(&t.done);
    pthread_t th;
    CHECK(pthread_create(&th, NULL, timeouts_thread, &t) == 0, "pthread_create");
    ev_wait(&t.done);
    CHECK(pthread_join(th, NULL) == 0, "join");

    /* a 10 s timeout cut short by a send */
    for (int thr = 0; thr < 2; thr++) {
        uint64_t got = 0;
        void *args[2] = {t.c, &got};
        h_blocker_t b;
        int64_t t0 = h_now_ns();
        h_block_start(&b, op_select_long, args, thr);
        send_u64(t.c, 31337);
        CHECK_EQ(h_block_finish(&b), 1);
        CHECK_EQ(got, 31337);
        CHECK(h_now_ns() - t0 < 9 * (int64_t)1000000000, "the select waited for its timeout");
    }
    fr(t.c);
}

/* ------------------------------------------------------------------ 5. send cases, close */

typedef struct sc_arg {
    gmp_chan *c, *idle;
    uint64_t v, w;
    bool ok;
} sc_arg;

/* select { case c <- v: ; case w = <-idle: } with no timeout */
static int op_select_send(void *p)
{
    sc_arg *a = (sc_arg *)p;
    gmp_case cs[2] = {{a->idle, GMP_RECV, &a->w, false}, {a->c, GMP_SEND, &a->v, false}};
    return gmp_select(cs, 2, -1);
}

/* select { case v, ok = <-c: ; case idle <- w: } */
static int op_select_recv(void *p)
{
    sc_arg *a = (sc_arg *)p;
    gmp_case cs[2] = {{a->idle, GMP_SEND, &a->w, false}, {a->c, GMP_RECV, &a->v, true}};
    int r = gmp_select(cs, 2, -1);
    a->ok = cs[1].ok;
    return r;
}

static void test_send_cases(void)
{
    /* into buffer space */
    gmp_chan *c = mk(8, 2);
    uint64_t v = 61;
    gmp_case cs[1] = {{c, GMP_SEND, &v, false}};
    CHECK_EQ(gmp_select(cs, 1, -1), 0);
    v = 62;
    CHECK_EQ(gmp_select(cs, 1, 0), 0);
    CHECK_EQ(gmp_chan_len(c), 2);
    CHECK_EQ(gmp_select(cs, 1, 0), -EAGAIN);
    CHECK_EQ(recv_u64(c), 61);
    CHECK_EQ(recv_u64(c), 62);

    /* a send case on a closed channel: -EPIPE, blocking or not */
    CHECK_EQ(gmp_chan_close(c), 0);
    CHECK_EQ(gmp_select(cs, 1, -1), -EPIPE);
    CHECK_EQ(gmp_select(cs, 1, 0), -EPIPE);
    CHECK_EQ(gmp_select(cs, 1, 1000000), -EPIPE);
    fr(c);

    /* to a receiver that waits (blocking select), goroutine then thread */
    c = mk(8, 0);
    for (int th = 0; th < 2; th++) {
        uint64_t got = 0;
        void *args[2] = {c, &got};
        h_blocker_t b;
        h_block_start(&b, op_recv_u64, args, th);
        v = 4000 + (uint64_t)th;
        gmp_case s2[2] = {{NULL, GMP_SEND, &v, false}, {c, GMP_SEND, &v, false}};
        CHECK_EQ(gmp_select(s2, 2, -1), 1);
        CHECK_EQ(h_block_finish(&b), 1);
        CHECK_EQ(got, 4000 + (uint64_t)th);
    }

    /* closed while the select waits: a send case gets -EPIPE, a receive case ok = false */
    for (int th = 0; th < 2; th++) {
        sc_arg a = {mk(8, 0), mk(8, 0), 1, 2, true};
        h_blocker_t b;
        h_block_start(&b, op_select_send, &a, th);
        CHECK_EQ(gmp_chan_close(a.c), 0);
        int r = h_block_finish(&b);
        CHECK(r == -EPIPE, "%s select sending on a channel closed while it waited: %d, want "
                           "-EPIPE", th ? "thread" : "goroutine", r);
        CHECK_EQ(a.w, 2);
        fr(a.c);

        a.c = mk(8, 0);
        a.v = 0x5555;
        h_block_start(&b, op_select_recv, &a, th);
        CHECK_EQ(gmp_chan_close(a.c), 0);
        r = h_block_finish(&b);
        CHECK(r == 1, "%s select receiving on a channel closed while it waited: %d, want 1",
              th ? "thread" : "goroutine", r);
        CHECK(!a.ok, "ok true after a close");
        CHECK(a.v == 0, "elem not zero-filled");
        /* the select's send case on idle is gone: a non-blocking receive finds no sender */
        gmp_case probe = {a.idle, GMP_RECV, &v, false};
        CHECK_EQ(gmp_select(&probe, 1, 0), -EAGAIN);
        fr(a.c);
        fr(a.idle);
    }
    fr(c);
}

/* ------------------------------------------------------------------ 6. same channel twice */

#define PAIR_ROUNDS 2000
typedef struct pair_arg {
    gmp_chan *c;
    int id;
    long sent, received;
    uint64_t last_seq; /* last sequence number received from the partner, + 1 */
    ev_t *done;
} pair_arg;

static void pair_player(void *p)
{
    pair_arg *a = (pair_arg *)p;
    uint64_t seq = 0;
    for (int i = 0; i < PAIR_ROUNDS; i++) {
        uint64_t out = ((uint64_t)a->id << 32) | seq, in = ~(uint64_t)0;
        gmp_case cs[2] = {{a->c, GMP_SEND, &out, false}, {a->c, GMP_RECV, &in, false}};
        int r = gmp_select(cs, 2, -1);
        if (r == 0) {
            a->sent++;
            seq++;
        } else {
            CHECK(r == 1, "select = %d", r);
            CHECK(cs[1].ok, "ok false");
            CHECK((in >> 32) == (uint64_t)(1 - a->id),
                  "player %d received %llx: its own value (the select paired with itself)",
                  a->id, (unsigned long long)in);
            CHECK((in & 0xffffffffu) == a->last_seq, "player %d received seq %llu, want %llu",
                  a->id, (unsigned long long)(in & 0xffffffffu),
                  (unsigned long long)a->last_seq);
            a->last_seq++;
            a->received++;
        }
    }
    ev_set(a->done);
}

static void test_same_channel(void)
{
    enum { N = 10000 };
    /* send + receive on one buffered channel holding one value: both can proceed */
    gmp_chan *c = mk(8, 2);
    long cnt[2] = {0, 0};
    uint64_t head = 0, next = 1;
    send_u64(c, head);
    for (int i = 0; i < N; i++) {
        uint64_t out = next, in = ~(uint64_t)0;
        gmp_case cs[2] = {{c, GMP_SEND, &out, false}, {c, GMP_RECV, &in, false}};
        int r = gmp_select(cs, 2, -1);
        CHECK(r == 0 || r == 1, "select = %d", r);
        cnt[r]++;
        if (r == 0) { /* now [head, next]: take head back out */
            CHECK_EQ(gmp_chan_len(c), 2);
            CHECK_EQ(recv_u64(c), head);
            head = next++;
        } else {
            CHECK_EQ(in, head);
            CHECK_EQ(gmp_chan_len(c), 0);
            head = next++;
            send_u64(c, head);
        }
        CHECK_EQ(gmp_chan_len(c), 1);
    }
    check_share("same channel: send", cnt[0], N, 40, 60);
    check_share("same channel: recv", cnt[1], N, 40, 60);
    CHECK_EQ(recv_u64(c), head);

    /* two receives on one channel holding one value: exactly one gets it */
    cnt[0] = cnt[1] = 0;
    for (int i = 0; i < N; i++) {
        send_u64(c, (uint64_t)i);
        uint64_t x = ~(uint64_t)0, y = ~(uint64_t)0;
        gmp_case cs[2] = {{c, GMP_RECV, &x, false}, {c, GMP_RECV, &y, false}};
        int r = gmp_select(cs, 2, -1);
        CHECK(r == 0 || r == 1, "select = %d", r);
        cnt[r]++;
        CHECK_EQ(r == 0 ? x : y, (uint64_t)i);
        CHECK(r == 0 ? y == ~(uint64_t)0 : x == ~(uint64_t)0, "both receive cases written");
        CHECK_EQ(gmp_chan_len(c), 0);
    }
    check_share("two receives: first", cnt[0], N, 40, 60);
    check_share("two receives: second", cnt[1], N, 40, 60);
    fr(c);

    /* send + receive on one unbuffered channel, nobody else: never pairs with itself */
    c = mk(8, 0);
    uint64_t out = 1, in = 0;
    gmp_case cs[2] = {{c, GMP_SEND, &out, false}, {c, GMP_RECV, &in, false}};
    CHECK_EQ(gmp_select(cs, 2, 0), -EAGAIN);
    timed("self-pairing select", cs, 2, 20 * 1000000);
    CHECK_EQ(in, 0);

    /* two goroutines with that select pair with each other, every round */
    ev_t done;
    ev_init(&done);
    wg_add(&done, 1);
    pair_arg pa[2];
    for (int i = 0; i < 2; i++) pa[i] = (pair_arg){c, i, 0, 0, 0, &done};
    h_spawn(pair_player, &pa[0]);
    h_spawn(pair_player, &pa[1]);
    ev_wait(&done);
    CHECK_EQ(pa[0].sent, pa[1].received);
    CHECK_EQ(pa[1].sent, pa[0].received);
    CHECK_EQ(pa[0].sent + pa[0].received, PAIR_ROUNDS);
    fr(c);
}

/* ------------------------------------------------------------------ 7. closed channels */

static void test_closed(void)
{
    gmp_chan *c = mk(8, 2), *u = mk(8, 0);
    send_u64(c, 99);
    CHECK_EQ(gmp_chan_close(c), 0);
    CHECK_EQ(gmp_chan_close(u), 0);
    uint64_t v = 0, w = 0x77;
    gmp_case cs[2] = {{NULL, GMP_RECV, &w, true}, {c, GMP_RECV, &v, false}};
    CHECK_EQ(gmp_select(cs, 2, -1), 1);
    CHECK(cs[1].ok, "ok false for a buffered value of a closed channel");
    CHECK_EQ(v, 99);
    for (int i = 0; i < 3; i++) {
        v = 0x1234;
        cs[1].ok = true;
        CHECK_EQ(gmp_select(cs, 2, i == 0 ? -1 : 0), 1);
        CHECK(!cs[1].ok, "ok true for a closed, drained channel");
        CHECK_EQ(v, 0);
    }
    CHECK_EQ(w, 0x77);
    gmp_case cu = {u, GMP_RECV, &v, true};
    v = 5;
    CHECK_EQ(gmp_select(&cu, 1, 0), 0);
    CHECK(!cu.ok && v == 0, "closed unbuffered: ok %d v %llu", cu.ok, (unsigned long long)v);
    /* a NULL elem on a closed channel is fine */
    cu.elem = NULL;
    CHECK_EQ(gmp_select(&cu, 1, -1), 0);
    fr(c);
    fr(u);
}

/* ------------------------------------------------------------------ 8. no lost values */

#define LV_K 3000
typedef struct lv {
    gmp_chan *ch[3];
    H_ATOMIC(uint8_t) seen[3 * LV_K];
    ev_t done;
} lv_t;

typedef struct lv_sender {
    lv_t *l;
    int i;
} lv_sender;

static void lv_send_body(lv_sender *s)
{
    for (uint64_t j = 0; j < LV_K; j++) send_u64(s->l->ch[s->i], (uint64_t)s->i * LV_K + j);
}
static void lv_send_go(void *p)
{
    lv_send_body((lv_sender *)p);
    ev_set(&((lv_sender *)p)->l->done);
}
static void *lv_send_thread(void *p)
{
    lv_send_body((lv_sender *)p);
    ev_set(&((lv_sender *)p)->l->done);
    return NULL;
}

static void lv_select_body(lv_t *l)
{
    uint64_t next[3] = {0, 0, 0};
    for (int n = 0; n < 3 * LV_K; n++) {
        uint64_t v[3] = {~(uint64_t)0, ~(uint64_t)0, ~(uint64_t)0};
        gmp_case cs[3] = {{l->ch[0], GMP_RECV, &v[0], false},
                          {l->ch[1], GMP_RECV, &v[1], false},
                          {l->ch[2], GMP_RECV, &v[2], false}};
        int r = gmp_select(cs, 3, -1);
        CHECK(r >= 0 && r < 3, "select = %d", r);
        uint64_t x = v[r];
        CHECK(x < 3 * LV_K && x / LV_K == (uint64_t)r, "case %d received %llu", r,
              (unsigned long long)x);
        CHECK(x % LV_K == next[r], "channel %d: received %llu, want %llu (order)", r,
              (unsigned long long)(x % LV_K), (unsigned long long)next[r]);
        next[r]++;
        CHECK(atomic_exchange(&l->seen[x], 1) == 0, "value %llu received twice",
              (unsigned long long)x);
        for (int k = 0; k < 3; k++)
            CHECK(k == r || v[k] == ~(uint64_t)0, "case %d written but case %d chosen", k, r);
    }
}
static void *lv_select_thread(void *p)
{
    lv_select_body((lv_t *)p);
    ev_set(&((lv_t *)p)->done);
    return NULL;
}

static void test_no_lost_values(void)
{
    static lv_t l;
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 3; i++) l.ch[i] = mk(8, 0);
        for (int i = 0; i < 3 * LV_K; i++) atomic_store(&l.seen[i], 0);
        ev_init(&l.done);
        wg_add(&l.done, 2 + round);
        lv_sender s[3] = {{&l, 0}, {&l, 1}, {&l, 2}};
        pthread_t th, sel;
        h_spawn(lv_send_go, &s[0]);
        h_spawn(lv_send_go, &s[1]);
        CHECK(pthread_create(&th, NULL, lv_send_thread, &s[2]) == 0, "pthread_create");
        if (round == 0) {
            lv_select_body(&l); /* in this goroutine */
        } else {
            CHECK(pthread_create(&sel, NULL, lv_select_thread, &l) == 0, "pthread_create");
        }
        ev_wait(&l.done);
        CHECK(pthread_join(th, NULL) == 0, "join");
        if (round == 1) CHECK(pthread_join(sel, NULL) == 0, "join");
        for (int i = 0; i < 3 * LV_K; i++)
            CHECK(atomic_load(&l.seen[i]) == 1, "value %d never received", i);
        for (int i = 0; i < 3; i++) fr(l.ch[i]);
    }

    /* A select blocked on three channels, woken by one: afterwards a send on another of them
     * must block (the select's waiters on the other channels are gone). */
    for (int th = 0; th < 2; th++) {
        gmp_chan *a = mk(8, 0), *b = mk(8, 0);
        sc_arg s = {a, b, 0, 0, false}; /* op_select_recv: recv a, send w on b */
        s.w = 8;
        h_blocker_t bl;
        h_block_start(&bl, op_select_recv, &s, th);
        send_u64(a, 1234);
        CHECK_EQ(h_block_finish(&bl), 1);
        CHECK(s.ok && s.v == 1234, "ok %d v %llu", s.ok, (unsigned long long)s.v);
        /* b: the select's send case is gone; a receive there must block */
        void *args[2] = {b, &s.v};
        h_block_start(&bl, op_recv_u64, args, th); /* fails if it returns at once */
        send_u64(b, 4321);
        CHECK_EQ(h_block_finish(&bl), 1);
        CHECK_EQ(s.v, 4321);
        /* a: likewise for a send */
        sc_arg t = {a, b, 77, 0, false};
        h_block_start(&bl, op_select_send, &t, th); /* fails if it returns at once */
        CHECK_EQ(recv_u64(a), 77);
        CHECK_EQ(h_block_finish(&bl), 1);
        fr(a);
        fr(b);
    }
}

/* ------------------------------------------------------------------ 9. -EINVAL */

static void test_einval(void)
{
    CHECK_EQ(gmp_select(NULL, 1, 0), -EINVAL);
    CHECK_EQ(gmp_select(NULL, 1, -1), -EINVAL);
    CHECK_EQ(gmp_select(NULL, 3, 1000), -EINVAL);
    gmp_case bad[1] = {{NULL, 0, NULL, false}};
    CHECK_EQ(gmp_select(bad, 1, 0), -EINVAL);
    CHECK_EQ(gmp_select(bad, 1, -1), -EINVAL);
    bad[0].dir = 3;
    CHECK_EQ(gmp_select(bad, 1, 0), -EINVAL);
    bad[0].dir = -1;
    CHECK_EQ(gmp_select(bad, 1, 1000000), -EINVAL);
    CHECK_EQ(gmp_select(NULL, 0, -1), -EINVAL);
    uint64_t v = 1;
    gmp_case none[1] = {{NULL, GMP_RECV, &v, false}};
    CHECK_EQ(gmp_select(none, 0, -1), -EINVAL);

    /* a bad dir beside a ready case: -EINVAL and nothing happens */
    gmp_chan *c = mk(8, 1);
    send_u64(c, 42);
    gmp_case mix[2] = {{c, GMP_RECV, &v, false}, {c, 0, &v, false}};
    CHECK_EQ(gmp_select(mix, 2, -1), -EINVAL);
    CHECK_EQ(gmp_chan_len(c), 1);
    CHECK_EQ(v, 1);
    mix[1] = (gmp_case){NULL, 7, NULL, false};
    CHECK_EQ(gmp_select(mix, 2, 0), -EINVAL);
    CHECK_EQ(gmp_chan_len(c), 1);
    CHECK_EQ(recv_u64(c), 42);

    /* NULL elem in a send case on a channel with elements */
    gmp_case ns = {c, GMP_SEND, NULL, false};
    CHECK_EQ(gmp_select(&ns, 1, 0), -EINVAL);
    CHECK_EQ(gmp_select(&ns, 1, -1), -EINVAL);
    CHECK_EQ(gmp_chan_len(c), 0);

    /* n > 65536 is refused before anything else; 65536 works */
    enum { MAXN = 65536 };
    gmp_case *big = (gmp_case *)calloc(MAXN + 1, sizeof *big);
    CHECK(big, "calloc");
    for (int i = 0; i <= MAXN; i++) big[i].dir = GMP_RECV;
    CHECK_EQ(gmp_select(big, MAXN + 1, 0), -EINVAL);
    CHECK_EQ(gmp_select(big, MAXN + 1, -1), -EINVAL);
    CHECK_EQ(gmp_select(big, (size_t)-1, 0), -EINVAL);
    CHECK_EQ(gmp_select(big, MAXN, 0), -EAGAIN);
    send_u64(c, 43);
    big[MAXN - 1] = (gmp_case){c, GMP_RECV, &v, false};
    CHECK_EQ(gmp_select(big, MAXN, -1), MAXN - 1);
    CHECK_EQ(v, 43);
    free(big);
    fr(c);
}

static void main_g(void *arg)
{
    (void)arg;
    test_einval();
    test_fairness();
    test_default();
    test_timeouts();
    test_send_cases();
    test_same_channel();
    test_closed();
    test_no_lost_values();
}

int main(void)
{
    h_check_lib();
    h_main(main_g, NULL);
    printf("t_select: ok\n");
    return 0;
}
