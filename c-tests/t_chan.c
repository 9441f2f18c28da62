/*
 * t_chan: channels (gmp_chan_*) against Go's semantics, one property at a time.
 *
 *  1. Arguments: -EINVAL for a NULL channel or out pointer, elem_size > 65536, elem_size x cap
 *     overflowing size_t, a NULL elem sent on a channel with elements (nothing is enqueued
 *     then); -ENOMEM for a buffer of 2^62 bytes (no overflow, cannot be allocated).
 *  2. Buffered: FIFO order and gmp_chan_len / gmp_chan_cap after every operation, across the
 *     ring's wrap-around (checked against a model queue); a full buffer refuses a non-blocking
 *     send, an empty one a non-blocking receive; odd (13-byte) and maximal (65536-byte)
 *     elements arrive intact; one producer feeding a cap-4 channel (so it keeps blocking with
 *     a value in hand) is seen in exactly its order.
 *  3. Unbuffered rendezvous: a send completes only once a receiver has taken the value. The
 *     sender, after send k returns, checks the receiver has started receive k (its count is
 *     >= k); the receiver, after receive k, checks the sender has not finished send k + 1.
 *     A channel that quietly buffers one value breaks this at once at 1 P. And a send with no
 *     receiver stays blocked (checked for 30 ms), then completes when one comes.
 *  4. Close: receivers drain the buffered values, then get 0 with elem zero-filled, again and
 *     again; later sends and a second close get -EPIPE; receivers blocked at the close (three
 *     goroutines and a thread) all get 0 with elem zero-filled; senders blocked at the close
 *     (on an unbuffered channel, and on a full buffered one, goroutine and thread) get -EPIPE
 *     and their values are never delivered, while the buffered one still is.
 *  5. gmp_chan_free: -EBUSY while a goroutine, then a thread, is blocked on the channel (in a
 *     receive, a send, a select), 0 once it has left; a channel with buffered values or closed
 *     frees at once.
 *  6. elem_size 0 (Go's chan struct{}): counts, len/cap, the receiver's buffer is never
 *     written; a NULL elem on receive discards the value (it is dequeued).
 * "Blocked" is established by h_block_start (a locked goroutine or a plain thread seen asleep
 * in a futex), so each blocked-path check really exercises the blocked path.
 */
#include "harness.h"

static gmp_chan *mk(size_t es, size_t cap)
{
    gmp_chan *c = NULL;
    int r = gmp_chan_new(es, cap, &c);
    CHECK(r == 0 && c != NULL, "gmp_chan_new(%zu, %zu) = %d", es, cap, r);
    CHECK_EQ(gmp_chan_cap(c), (int64_t)cap);
    CHECK_EQ(gmp_chan_len(c), 0);
    return c;
}

static void fr(gmp_chan *c) { CHECK_EQ(gmp_chan_free(c), 0); }

/* Non-blocking send / receive through a one-case select (Go's select with default). */
static int try_send(gmp_chan *c, const void *v)
{
    gmp_case cs = {c, GMP_SEND, (void *)v, false};
    return gmp_select(&cs, 1, 0);
}
static int try_recv(gmp_chan *c, void *v)
{
    gmp_case cs = {c, GMP_RECV, v, false};
    return gmp_select(&cs, 1, 0);
}

/* ------------------------------------------------------------------ 1. arguments */

static void test_args(void)
{
    gmp_chan *c = NULL;
    uint64_t v = 7;
    CHECK_EQ(gmp_chan_new(4, 1, NULL), -EINVAL);
    CHECK_EQ(gmp_chan_new(65537, 0, &c), -EINVAL);
    CHECK_EQ(gmp_chan_new(SIZE_MAX, 0, &c), -EINVAL);
    CHECK_EQ(gmp_chan_new(65536, SIZE_MAX / 65536 + 1, &c), -EINVAL);
    CHECK_EQ(gmp_chan_new(2, SIZE_MAX / 2 + 1, &c), -EINVAL);
    CHECK_EQ(gmp_chan_new(3, SIZE_MAX / 2, &c), -EINVAL);
    /* 2^62 bytes: no overflow (and below isize::MAX), but no such memory */
    int r = gmp_chan_new(8, (size_t)1 << 59, &c);
    CHECK(r == -ENOMEM, "gmp_chan_new(8, 2^59) = %d, want -ENOMEM", r);

    CHECK_EQ(gmp_chan_send(NULL, &v), -EINVAL);
    CHECK_EQ(gmp_chan_recv(NULL, &v), -EINVAL);
    CHECK_EQ(gmp_chan_close(NULL), -EINVAL);
    CHECK_EQ(gmp_chan_free(NULL), -EINVAL);
    CHECK_EQ(gmp_chan_len(NULL), -EINVAL);
    CHECK_EQ(gmp_chan_cap(NULL), -EINVAL);

    c = mk(sizeof v, 2);
    CHECK_EQ(gmp_chan_send(c, NULL), -EINVAL);
    CHECK_EQ(gmp_chan_len(c), 0);
    CHECK_EQ(gmp_chan_send(c, &v), 0);
    CHECK_EQ(gmp_chan_len(c), 1);
    fr(c); /* with a buffered value */

    c = mk(65536, 1);
    fr(c);
    c = mk(1, 0);
    fr(c);
}

/* ------------------------------------------------------------------ 2. buffered */

static void test_buffered_model(void)
{
    enum { CAP = 8 };
    gmp_chan *c = mk(sizeof(uint64_t), CAP);
    uint64_t q[CAP];
    int head = 0, len = 0;
    uint64_t next = 1, v;
    for (int i = 0; i < CAP; i++) {
        v = next;
        CHECK_EQ(gmp_chan_send(c, &v), 0);
        q[(head + len++) % CAP] = next++;
        CHECK_EQ(gmp_chan_len(c), len);
    }
    v = 999;
    CHECK_EQ(try_send(c, &v), -EAGAIN);
    CHECK_EQ(gmp_chan_len(c), CAP);
    /* A pseudo-random walk of sends and receives across many wrap-arounds. */
    uint32_t rng = 12345;
    for (int step = 0; step < 5000; step++) {
        rng = rng * 1103515245u + 12345u;
        bool send = (rng >> 16) & 1;
        if (send && len < CAP) {
            v = next;
            int r = (rng >> 17) & 1 ? gmp_chan_send(c, &v) : try_send(c, &v);
            CHECK_EQ(r, 0);
            q[(head + len++) % CAP] = next++;
        } else if (!send && len > 0) {
            v = 0;
            int r = (rng >> 17) & 1 ? gmp_chan_recv(c, &v) : try_recv(c, &v);
            CHECK_EQ(r, (rng >> 17) & 1 ? 1 : 0);
            CHECK(v == q[head], "step %d: received %llu, want %llu (FIFO)", step,
                  (unsigned long long)v, (unsigned long long)q[head]);
            head = (head + 1) % CAP;
            len--;
        } else if (len == 0) {
            CHECK_EQ(try_recv(c, &v), -EAGAIN);
        } else {
            CHECK_EQ(try_send(c, &v), -EAGAIN);
        }
        CHECK_EQ(gmp_chan_len(c), len);
        CHECK_EQ(gmp_chan_cap(c), CAP);
    }
    fr(c);
}

/* 13-byte elements (odd size, copied wholesale) and 65536-byte ones. */
static void fill(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++) p[i] = (unsigned char)(seed * 131 + i * 7 + (i >> 8));
}
static void check_fill(const unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        CHECK(p[i] == (unsigned char)(seed * 131 + i * 7 + (i >> 8)),
              "element %u byte %zu corrupted", seed, i);
}

typedef struct big_arg {
    gmp_chan *c;
    size_t es;
    int n;
    ev_t done;
} big_arg;

static void big_sender(void *a)
{
    big_arg *b = (big_arg *)a;
    unsigned char *buf = (unsigned char *)malloc(b->es);
    CHECK(buf, "malloc");
    for (int i = 0; i < b->n; i++) {
        fill(buf, b->es, (unsigned)i);
        CHECK_EQ(gmp_chan_send(b->c, buf), 0);
    }
    free(buf);
    ev_set(&b->done);
}

static void test_elem_sizes(void)
{
    static const size_t sizes[] = {13, 65536};
    for (int s = 0; s < 2; s++) {
        size_t es = sizes[s];
        unsigned char *buf = (unsigned char *)malloc(es);
        CHECK(buf, "malloc");
        /* buffered, across wrap-around */
        gmp_chan *c = mk(es, 5);
        unsigned sent = 0, got = 0;
        for (int round = 0; round < 7; round++) {
            for (int k = 0; k < 4; k++) {
                fill(buf, es, sent++);
                CHECK_EQ(gmp_chan_send(c, buf), 0);
            }
            for (int k = 0; k < 4; k++) {
                memset(buf, 0, es);
                CHECK_EQ(gmp_chan_recv(c, buf), 1);
                check_fill(buf, es, got++);
            }
        }
        fr(c);
        /* unbuffered, from another goroutine */
        c = mk(es, 0);
        big_arg b = {c, es, 50, {0}};
        ev_init(&b.done);
        h_spawn(big_sender, &b);
        for (int i = 0; i < b.n; i++) {
            memset(buf, 0, es);
            CHECK_EQ(gmp_chan_recv(c, buf), 1);
            check_fill(buf, es, (unsigned)i);
        }
        ev_wait(&b.done);
        fr(c);
        free(buf);
    }
}

/* One producer into a cap-4 channel; the consumer yields now and then so the producer often
 * waits with a value in hand. The order must be exactly the producer's. */
#define SEQ_N 20000
typedef struct seq_arg {
    gmp_chan *c;
    ev_t done;
} seq_arg;

static void seq_producer(void *a)
{
    seq_arg *s = (seq_arg *)a;
    for (uint64_t i = 0; i < SEQ_N; i++) CHECK_EQ(gmp_chan_send(s->c, &i), 0);
    ev_set(&s->done);
}

static void test_buffered_order(void)
{
    seq_arg s;
    s.c = mk(sizeof(uint64_t), 4);
    ev_init(&s.done);
    h_spawn(seq_producer, &s);
    for (uint64_t i = 0; i < SEQ_N; i++) {
        uint64_t v = ~(uint64_t)0;
        CHECK_EQ(gmp_chan_recv(s.c, &v), 1);
        CHECK(v == i, "received %llu, want %llu", (unsigned long long)v, (unsigned long long)i);
        if (i % 7 == 0) gmp_gosched();
        CHECK(gmp_chan_len(s.c) <= 4, "len %lld > cap", (long long)gmp_chan_len(s.c));
    }
    ev_wait(&s.done);
    CHECK_EQ(gmp_chan_len(s.c), 0);
    fr(s.c);
}

/* ------------------------------------------------------------------ 3. unbuffered */

#define RV_N 20000
typedef struct rv_arg {
    gmp_chan *c;
    H_ATOMIC(int64_t) sent;     /* sends completed */
    H_ATOMIC(int64_t) received; /* receives completed */
    ev_t done;
} rv_arg;

static void rv_sender(void *a)
{
    rv_arg *r = (rv_arg *)a;
    for (int64_t k = 0; k < RV_N; k++) {
        CHECK_EQ(gmp_chan_send(r->c, &k), 0);
        atomic_store(&r->sent, k + 1);
        int64_t got = atomic_load(&r->received);
        CHECK(got >= k, "send %lld completed but the receiver had finished only %lld receives: "
                        "it cannot have taken the value yet", (long long)k, (long long)got);
        if (k % 3 == 0) gmp_gosched();
    }
    ev_set(&r->done);
}

static void rv_receiver(void *a)
{
    rv_arg *r = (rv_arg *)a;
    for (int64_t k = 0; k < RV_N; k++) {
        int64_t v = -1;
        CHECK_EQ(gmp_chan_recv(r->c, &v), 1);
        CHECK_EQ(v, k);
        int64_t s = atomic_load(&r->sent);
        CHECK(s <= k + 1, "after receive %lld the sender has completed %lld sends: send %lld "
                          "completed with no receiver", (long long)k, (long long)s, (long long)k + 1);
        atomic_store(&r->received, k + 1);
        if (k % 5 == 0) gmp_gosched();
    }
    ev_set(&r->done);
}

typedef struct one_send {
    gmp_chan *c;
    int64_t v;
    H_ATOMIC(int) returned;
    ev_t done;
} one_send;

static void one_sender(void *a)
{
    one_send *o = (one_send *)a;
    CHECK_EQ(gmp_chan_send(o->c, &o->v), 0);
    atomic_store(&o->returned, 1);
    ev_set(&o->done);
}

static void test_unbuffered(void)
{
    rv_arg r;
    r.c = mk(sizeof(int64_t), 0);
    atomic_init(&r.sent, 0);
    atomic_init(&r.received, 0);
    ev_t *d = &r.done;
    ev_init(d);
    wg_add(d, 1);
    h_spawn(rv_receiver, &r);
    h_spawn(rv_sender, &r);
    ev_wait(d);
    CHECK_EQ(atomic_load(&r.sent), RV_N);
    CHECK_EQ(atomic_load(&r.received), RV_N);
    CHECK_EQ(gmp_chan_len(r.c), 0);

    /* No receiver: the send stays blocked. */
    one_send o;
    o.c = r.c;
    o.v = 4242;
    atomic_init(&o.returned, 0);
    ev_init(&o.done);
    h_spawn(one_sender, &o);
    for (int i = 0; i < 30; i++) {
        gmp_sleep(1000000);
        CHECK(!atomic_load(&o.returned), "a send on an unbuffered channel completed with no "
                                         "receiver");
    }
    int64_t v = 0;
    CHECK_EQ(gmp_chan_recv(r.c, &v), 1);
    CHECK_EQ(v, 4242);
    ev_wait(&o.done);
    fr(r.c);
}

/* ------------------------------------------------------------------ 4. close */

typedef struct op16 {
    gmp_chan *c;
    unsigned char elem[16];
} op16;

static int op_send16(void *a)
{
    op16 *o = (op16 *)a;
    return gmp_chan_send(o->c, o->elem);
}
static int op_recv16(void *a)
{
    op16 *o = (op16 *)a;
    return gmp_chan_recv(o->c, o->elem);
}

static bool all_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i]) return false;
    return true;
}

static void test_close(void)
{
    /* Drain, then 0 with zero-fill. */
    gmp_chan *c = mk(sizeof(uint64_t), 4);
    for (uint64_t i = 1; i <= 3; i++) CHECK_EQ(gmp_chan_send(c, &i), 0);
    CHECK_EQ(gmp_chan_close(c), 0);
    CHECK_EQ(gmp_chan_len(c), 3);
    CHECK_EQ(gmp_chan_cap(c), 4);
    uint64_t v = 99;
    CHECK_EQ(gmp_chan_send(c, &v), -EPIPE);
    CHECK_EQ(try_send(c, &v), -EPIPE);
    CHECK_EQ(gmp_chan_close(c), -EPIPE);
    CHECK_EQ(gmp_chan_len(c), 3);
    for (uint64_t i = 1; i <= 3; i++) {
        v = 0;
        CHECK_EQ(gmp_chan_recv(c, &v), 1);
        CHECK_EQ(v, i);
    }
    for (int k = 0; k < 3; k++) {
        v = 0xAAAAAAAAAAAAAAAAull;
        CHECK_EQ(gmp_chan_recv(c, &v), 0);
        CHECK(v == 0, "closed drained channel: elem not zero-filled (%llx)",
              (unsigned long long)v);
        CHECK_EQ(gmp_chan_recv(c, NULL), 0);
    }
    CHECK_EQ(gmp_chan_len(c), 0);
    CHECK_EQ(gmp_chan_send(c, &v), -EPIPE);
    fr(c);

    /* Receivers blocked at the close: three goroutines and a thread. */
    c = mk(16, 0);
    op16 ro[4];
    h_blocker_t rb[4];
    for (int i = 0; i < 4; i++) {
        ro[i].c = c;
        memset(ro[i].elem, 0x5A, sizeof ro[i].elem);
        h_block_start(&rb[i], op_recv16, &ro[i], i == 3);
    }
    CHECK_EQ(gmp_chan_close(c), 0);
    for (int i = 0; i < 4; i++) {
        int r = h_block_finish(&rb[i]);
        CHECK(r == 0, "receiver %d (%s) blocked at the close got %d, want 0", i,
              i == 3 ? "thread" : "goroutine", r);
        CHECK(all_zero(ro[i].elem, 16), "receiver %d: elem not zero-filled", i);
    }
    CHECK_EQ(gmp_chan_close(c), -EPIPE);
    fr(c);

    /* Senders blocked at the close, unbuffered: a goroutine and a thread. */
    c = mk(16, 0);
    op16 so[2];
    h_blocker_t sb[2];
    for (int i = 0; i < 2; i++) {
        so[i].c = c;
        memset(so[i].elem, 0x11 * (i + 1), 16);
        h_block_start(&sb[i], op_send16, &so[i], i == 1);
    }
    CHECK_EQ(gmp_chan_close(c), 0);
    for (int i = 0; i < 2; i++) {
        int r = h_block_finish(&sb[i]);
        CHECK(r == -EPIPE, "sender %d blocked at the close got %d, want -EPIPE", i, r);
    }
    unsigned char e[16];
    memset(e, 0x77, sizeof e);
    CHECK_EQ(gmp_chan_recv(c, e), 0); /* the senders' values were not delivered */
    CHECK(all_zero(e, 16), "elem not zero-filled");
    fr(c);

    /* Senders blocked on a full buffer at the close: the buffered value still drains, theirs
     * never arrive. */
    for (int th = 0; th < 2; th++) {
        c = mk(16, 1);
        memset(e, 0x42, sizeof e);
        CHECK_EQ(gmp_chan_send(c, e), 0);
        op16 o;
        o.c = c;
        memset(o.elem, 0x43, 16);
        h_blocker_t b;
        h_block_start(&b, op_send16, &o, th == 1);
        CHECK_EQ(gmp_chan_len(c), 1);
        CHECK_EQ(gmp_chan_close(c), 0);
        int r = h_block_finish(&b);
        CHECK(r == -EPIPE, "%s sender blocked on a full buffer at the close got %d",
              th ? "thread" : "goroutine", r);
        memset(e, 0, sizeof e);
        CHECK_EQ(gmp_chan_recv(c, e), 1);
        CHECK(e[0] == 0x42 && e[15] == 0x42, "buffered value lost or replaced");
        memset(e, 0x99, sizeof e);
        CHECK_EQ(gmp_chan_recv(c, e), 0);
        CHECK(all_zero(e, 16), "elem not zero-filled");
        fr(c);
    }
}

/* ------------------------------------------------------------------ 5. free */

typedef struct sel_arg {
    gmp_chan *a, *b;
    uint64_t va, vb;
} sel_arg;

static int op_select2(void *p)
{
    sel_arg *s = (sel_arg *)p;
    gmp_case cs[2] = {{s->a, GMP_RECV, &s->va, false}, {s->b, GMP_RECV, &s->vb, false}};
    return gmp_select(cs, 2, -1);
}

static void test_free(void)
{
    for (int th = 0; th < 2; th++) {
        const char *who = th ? "thread" : "goroutine";
        /* blocked in a receive */
        op16 o;
        o.c = mk(16, 0);
        h_blocker_t b;
        h_block_start(&b, op_recv16, &o, th);
        CHECK(gmp_chan_free(o.c) == -EBUSY, "free with a %s blocked in recv did not say -EBUSY",
              who);
        unsigned char e[16];
        memset(e, 0x31, sizeof e);
        CHECK_EQ(gmp_chan_send(o.c, e), 0);
        CHECK_EQ(h_block_finish(&b), 1);
        CHECK(o.elem[0] == 0x31 && o.elem[15] == 0x31, "wrong value received");
        CHECK_EQ(gmp_chan_free(o.c), 0);

        /* blocked in a send on a full buffer */
        o.c = mk(16, 1);
        CHECK_EQ(gmp_chan_send(o.c, e), 0);
        memset(o.elem, 0x32, 16);
        h_block_start(&b, op_send16, &o, th);
        CHECK(gmp_chan_free(o.c) == -EBUSY, "free with a %s blocked in send did not say -EBUSY",
              who);
        CHECK_EQ(gmp_chan_recv(o.c, e), 1);
        CHECK_EQ(e[0], 0x31);
        CHECK_EQ(h_block_finish(&b), 0);
        CHECK_EQ(gmp_chan_len(o.c), 1);
        CHECK_EQ(gmp_chan_free(o.c), 0); /* with its buffered value */

        /* blocked in a select over two channels: both are busy */
        sel_arg s = {mk(8, 0), mk(8, 0), 0, 0};
        h_block_start(&b, op_select2, &s, th);
        CHECK(gmp_chan_free(s.a) == -EBUSY, "free with a %s blocked in select did not say -EBUSY",
              who);
        CHECK(gmp_chan_free(s.b) == -EBUSY, "free with a %s blocked in select did not say -EBUSY",
              who);
        uint64_t v = 5150;
        CHECK_EQ(gmp_chan_send(s.b, &v), 0);
        CHECK_EQ(h_block_finish(&b), 1);
        CHECK_EQ(s.vb, 5150);
        CHECK_EQ(gmp_chan_free(s.a), 0); /* the select left both channels' queues */
        CHECK_EQ(gmp_chan_free(s.b), 0);
    }
    gmp_chan *c = mk(4, 2);
    CHECK_EQ(gmp_chan_close(c), 0);
    fr(c);
}

/* ------------------------------------------------------------------ 6. elem_size 0, NULL elem */

typedef struct sig_arg {
    gmp_chan *c;
    int n;
    ev_t done;
} sig_arg;

static void sig_sender(void *a)
{
    sig_arg *s = (sig_arg *)a;
    for (int i = 0; i < s->n; i++) CHECK_EQ(gmp_chan_send(s->c, NULL), 0);
    CHECK_EQ(gmp_chan_close(s->c), 0);
    ev_set(&s->done);
}

static void test_zero_size(void)
{
    gmp_chan *c = mk(0, 3);
    unsigned char guard[8];
    memset(guard, 0xEE, sizeof guard);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(gmp_chan_send(c, i == 1 ? (const void *)guard : NULL), 0);
        CHECK_EQ(gmp_chan_len(c), i + 1);
    }
    CHECK_EQ(try_send(c, NULL), -EAGAIN);
    CHECK_EQ(gmp_chan_recv(c, guard), 1);
    CHECK_EQ(gmp_chan_recv(c, NULL), 1);
    CHECK_EQ(try_recv(c, guard), 0);
    CHECK_EQ(gmp_chan_len(c), 0);
    CHECK_EQ(try_recv(c, guard), -EAGAIN);
    CHECK_EQ(gmp_chan_close(c), 0);
    CHECK_EQ(gmp_chan_recv(c, guard), 0);
    for (int i = 0; i < 8; i++) CHECK(guard[i] == 0xEE, "elem_size 0 wrote the receiver's buffer");
    fr(c);

    /* unbuffered signals from another goroutine, then its close */
    sig_arg s;
    s.c = mk(0, 0);
    s.n = 2000;
    ev_init(&s.done);
    h_spawn(sig_sender, &s);
    int n = 0, r;
    while ((r = gmp_chan_recv(s.c, guard)) == 1) n++;
    CHECK_EQ(r, 0);
    CHECK_EQ(n, s.n);
    for (int i = 0; i < 8; i++) CHECK(guard[i] == 0xEE, "elem_size 0 wrote the receiver's buffer");
    ev_wait(&s.done);
    fr(s.c);

    /* NULL elem on receive discards (the value is dequeued). */
    c = mk(sizeof(uint64_t), 4);
    for (uint64_t v = 10; v <= 30; v += 10) CHECK_EQ(gmp_chan_send(c, &v), 0);
    CHECK_EQ(gmp_chan_recv(c, NULL), 1);
    CHECK_EQ(gmp_chan_len(c), 2);
    uint64_t v = 0;
    CHECK_EQ(gmp_chan_recv(c, &v), 1);
    CHECK_EQ(v, 20);
    CHECK_EQ(try_recv(c, NULL), 0);
    CHECK_EQ(gmp_chan_len(c), 0);
    fr(c);
}

static void main_g(void *arg)
{
    (void)arg;
    test_args();
    test_buffered_model();
    test_elem_sizes();
    test_buffered_order();
    test_unbuffered();
    test_close();
    test_free();
    test_zero_size();
}

int main(void)
{
    h_check_lib();
    h_main(main_g, NULL);
    printf("t_chan: ok\n");
    return 0;
}
