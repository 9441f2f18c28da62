/*
 * t_futex: gmp_futex_wait / gmp_futex_wake, for goroutines and threads in one queue.
 *
 *  1. Arguments: NULL or misaligned addr -> -EINVAL (wait and wake).
 *  2. Value mismatch -> -EAGAIN at once (goroutine, thread, with and without a timeout).
 *  3. Timeouts: -ETIMEDOUT no earlier than asked (within +2 s), goroutine and thread;
 *     timeout 0 -> -ETIMEDOUT at once when the value matches; a timed-out waiter has left the
 *     queue (a later wake finds nobody).
 *  4. FIFO wake counts: six waiters (locked goroutines and threads, alternating) are enqueued
 *     one at a time, each seen asleep before the next starts, so the queue order is known.
 *     wake(0) and wake(-1) wake nobody and return 0; wake(2) returns 2 and exactly waiters 0
 *     and 1 return (the others stay, checked over 20 ms); wake(1) -> waiter 2; wake(10) -> 3,
 *     the rest; then wake on nobody -> 0. Done twice: starting with a goroutine, then a thread.
 *  5. Never spurious, exact counts under a race with timeouts: 16 goroutines and 2 threads
 *     wait again and again on one word that never changes (half with no timeout,
 *     half with 1-100 µs timeouts) while the main goroutine wakes 1-3 at a time, pausing
 *     20 µs every other wake so that wakes and timeouts race. At every moment the
 *     waits that returned 0 never outnumber the sum of what wake reported (a spurious or
 *     doubled wake-up breaks it), and at the end the two are equal (a waiter that timed out
 *     while a wake picked it must be counted by exactly one side).
 *  6. No lost wake-ups: ping-pong over one word between two goroutines and between a
 *     goroutine and a thread (wait while the word is not mine; flip it and wake), 20,000
 *     rounds each; a wait that lost its wake-up times out after 10 s and fails.
 */
#include "harness.h"

static uint32_t ld(uint32_t *p) { return __atomic_load_n(p, __ATOMIC_SEQ_CST); }
static void st(uint32_t *p, uint32_t v) { __atomic_store_n(p, v, __ATOMIC_SEQ_CST); }

/* ------------------------------------------------------------------ 1-3 */

typedef struct basic {
    uint32_t word;
    ev_t done;
} basic_t;

static void basic_body(basic_t *b)
{
    CHECK_EQ(gmp_futex_wait(NULL, 0, -1), -EINVAL);
    CHECK_EQ(gmp_futex_wake(NULL, 1), -EINVAL);
    static uint32_t words[2];
    uint32_t *mis = (uint32_t *)((char *)&words[0] + 1);
    CHECK_EQ(gmp_futex_wait(mis, 0, 1000), -EINVAL);
    CHECK_EQ(gmp_futex_wake(mis, 1), -EINVAL);
    mis = (uint32_t *)((char *)&words[0] + 2);
    CHECK_EQ(gmp_futex_wait(mis, 0, -1), -EINVAL);

    st(&b->word, 5);
    CHECK_EQ(gmp_futex_wait(&b->word, 4, -1), -EAGAIN);
    CHECK_EQ(gmp_futex_wait(&b->word, 6, 1000000000), -EAGAIN);
    CHECK_EQ(gmp_futex_wait(&b->word, 0, 0), -EAGAIN);

    CHECK_EQ(gmp_futex_wait(&b->word, 5, 0), -ETIMEDOUT);
    static const int64_t asks[] = {1, 1000000, 30000000};
    for (int i = 0; i < 3; i++) {
        int64_t t0 = h_now_ns();
        int r = gmp_futex_wait(&b->word, 5, asks[i]);
        int64_t dt = h_now_ns() - t0;
        CHECK(r == -ETIMEDOUT, "futex_wait(%lld ns) = %d", (long long)asks[i], r);
        CHECK(dt >= asks[i] && dt < asks[i] + 2000000000, "timed out after %lld ns, asked %lld",
              (long long)dt, (long long)asks[i]);
    }
    CHECK_EQ(gmp_futex_wake(&b->word, 10), 0); /* the timed-out waiters have left */
    CHECK_EQ(gmp_futex_wake(&b->word, 0), 0);
    CHECK_EQ(gmp_futex_wake(&b->word, -5), 0);
}

static void *basic_thread(void *a)
{
    basic_body((basic_t *)a);
    ev_set(&((basic_t *)a)->done);
    return NULL;
}

static void test_basic(void)
{
    static basic_t b;
    basic_body(&b);
    ev_init(&b.done);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, basic_thread, &b) == 0, "pthread_create");
    ev_wait(&b.done);
    CHECK(pthread_join(t, NULL) == 0, "join");
}

/* ------------------------------------------------------------------ 4. FIFO */

#define NQ 6
static uint32_t qword;
static int op_wait(void *a)
{
    return gmp_futex_wait((uint32_t *)a, 0, -1);
}

/* After wakes that woke n waiters in all: wait until n have returned, give any extra one
 * 20 ms to show up, then the returned ones must be exactly the n oldest, 0 .. n-1. */
static void expect_woken(h_blocker_t *w, int n)
{
    int64_t dl = h_now_ns() + 10 * (int64_t)1000000000;
    int done;
    for (;;) {
        done = 0;
        for (int i = 0; i < NQ; i++) done += h_block_done(&w[i]);
        if (done >= n) break;
        CHECK(h_now_ns() < dl, "only %d waiters returned after wakes that reported %d", done, n);
        gmp_sleep(100000);
    }
    gmp_sleep(20 * 1000000);
    char got[64];
    int len = 0;
    for (int i = 0; i < NQ; i++)
        if (h_block_done(&w[i])) len += snprintf(got + len, sizeof got - (size_t)len, " %d", i);
    for (int i = 0; i < NQ; i++)
        CHECK(h_block_done(&w[i]) == (i < n), "after wakes for %d waiters the returned ones are"
                                              "%s (queue order 0-%d): want 0-%d (FIFO, exact count)",
              n, got, NQ - 1, n - 1);
}

static void test_fifo(void)
{
    for (int round = 0; round < 2; round++) {
        h_blocker_t w[NQ];
        st(&qword, 0);
        /* round 0: goroutine, thread, goroutine, ...; round 1: thread first */
        for (int i = 0; i < NQ; i++) h_block_start(&w[i], op_wait, &qword, (i + round) % 2);
        CHECK_EQ(gmp_futex_wake(&qword, 0), 0);
        CHECK_EQ(gmp_futex_wake(&qword, -1), 0);
        CHECK_EQ(gmp_futex_wake(&qword, INT_MIN), 0);
        for (int i = 0; i < NQ; i++) CHECK(!h_block_done(&w[i]), "waiter %d woke by wake(<=0)", i);

        int r = gmp_futex_wake(&qword, 2);
        CHECK(r == 2, "wake(2) with %d waiters returned %d", NQ, r);
        expect_woken(w, 2);
        r = gmp_futex_wake(&qword, 1);
        CHECK(r == 1, "wake(1) returned %d", r);
        expect_woken(w, 3);
        r = gmp_futex_wake(&qword, 10);
        CHECK(r == NQ - 3, "wake(10) with %d waiters left returned %d", NQ - 3, r);
        expect_woken(w, NQ);
        for (int i = 0; i < NQ; i++) CHECK_EQ(h_block_finish(&w[i]), 0);
        CHECK_EQ(gmp_futex_wake(&qword, 10), 0);
    }
}

/* ------------------------------------------------------------------ 5. never spurious */

#define SP_G 16
#define SP_T 2
#define SP_ZEROS 300 /* each waiter leaves after this many woken returns */
static uint32_t spword;
static H_ATOMIC(int64_t) sp_zero_returns, sp_timeouts;
static H_ATOMIC(int) sp_left;

static void sp_body(int id)
{
    uint32_t rng = 0x9E3779B9u * (uint32_t)(id + 1);
    int zeros = 0;
    while (zeros < SP_ZEROS) {
        rng ^= rng << 13;
        rng ^= rng >> 17;
        rng ^= rng << 5;
        int64_t to = id % 2 ? -1 : 1000 + (int64_t)(rng % 99000);
        int r = gmp_futex_wait(&spword, 0, to);
        if (r == 0) {
            zeros++;
            atomic_fetch_add(&sp_zero_returns, 1);
        } else {
            CHECK(r == -ETIMEDOUT && to >= 0, "futex_wait(timeout %lld) = %d", (long long)to, r);
            atomic_fetch_add(&sp_timeouts, 1);
        }
    }
    atomic_fetch_sub(&sp_left, 1);
}
static void sp_go(void *a) { sp_body((int)(uintptr_t)a); }
static void *sp_thread(void *a)
{
    sp_body((int)(uintptr_t)a);
    return NULL;
}

static void test_never_spurious(void)
{
    atomic_store(&sp_left, SP_G + SP_T);
    pthread_t th[SP_T];
    for (int i = 0; i < SP_T; i++)
        CHECK(pthread_create(&th[i], NULL, sp_thread, (void *)(uintptr_t)(SP_G + i)) == 0,
              "pthread_create");
    for (int i = 0; i < SP_G; i++) h_spawn(sp_go, (void *)(uintptr_t)i);
    int64_t woken = 0, wakes = 0;
    int64_t dl = h_now_ns() + 50 * (int64_t)1000000000;
    int n = 1;
    while (atomic_load(&sp_left) > 0) {
        CHECK(h_now_ns() < dl, "waiters never finished: %d left, %lld woken, %lld returned 0",
              atomic_load(&sp_left), (long long)woken, (long long)atomic_load(&sp_zero_returns));
        int r = gmp_futex_wake(&spword, n);
        CHECK(r >= 0 && r <= n, "wake(%d) = %d", n, r);
        woken += r;
        wakes++;
        int64_t z = atomic_load(&sp_zero_returns);
        CHECK(z <= woken, "%lld waits returned 0 but wake reported only %lld woken: spurious or "
                          "doubled wake-ups", (long long)z, (long long)woken);
        n = n % 3 + 1;
        /* pace the wakes near the waiters' timeouts, so timeouts race with wakes */
        if (wakes % 2 == 0)
            gmp_sleep(20000);
        else if (r == 0)
            gmp_gosched();
    }
    for (int i = 0; i < SP_T; i++) CHECK(pthread_join(th[i], NULL) == 0, "join");
    int64_t z = atomic_load(&sp_zero_returns);
    CHECK(z == woken, "wake reported %lld woken but %lld waits returned 0 (a waiter picked by a "
                      "wake and also timed out?)", (long long)woken, (long long)z);
    CHECK_EQ(z, (int64_t)(SP_G + SP_T) * SP_ZEROS);
    CHECK_EQ(gmp_futex_wake(&spword, 100), 0);
    printf("t_futex: %lld wakes, %lld woken, %lld timeouts\n", (long long)wakes, (long long)woken,
           (long long)atomic_load(&sp_timeouts));
}

/* ------------------------------------------------------------------ 6. ping-pong */

#define PP_ROUNDS 20000
typedef struct pp {
    uint32_t word; /* whose turn: 0 or 1 */
    ev_t done;
} pp_t;

static void pp_play(pp_t *p, uint32_t me)
{
    for (int i = 0; i < PP_ROUNDS; i++) {
        uint32_t w;
        while ((w = ld(&p->word)) != me) {
            int r = gmp_futex_wait(&p->word, w, 10 * (int64_t)1000000000);
            CHECK(r == 0 || r == -EAGAIN, "player %u round %d: futex_wait = %d (lost wake-up?)",
                  me, i, r);
        }
        st(&p->word, 1 - me);
        int r = gmp_futex_wake(&p->word, 1);
        CHECK(r == 0 || r == 1, "wake = %d", r);
    }
}
static void pp_go(void *a) { pp_play((pp_t *)a, 1); ev_set(&((pp_t *)a)->done); }
static void *pp_thread(void *a)
{
    pp_play((pp_t *)a, 1);
    ev_set(&((pp_t *)a)->done);
    return NULL;
}

static void test_ping_pong(void)
{
    static pp_t p;
    for (int mode = 0; mode < 2; mode++) {
        st(&p.word, 0);
        ev_init(&p.done);
        pthread_t t;
        if (mode == 0)
            h_spawn(pp_go, &p);
        else
            CHECK(pthread_create(&t, NULL, pp_thread, &p) == 0, "pthread_create");
        pp_play(&p, 0);
        ev_wait(&p.done);
        if (mode == 1) CHECK(pthread_join(t, NULL) == 0, "join");
        CHECK_EQ(ld(&p.word), 0);
    }
}

static void main_g(void *arg)
{
    (void)arg;
    test_basic();
    test_fifo();
    test_never_spurious();
    test_ping_pong();
}

int main(void)
{
    h_check_lib();
    h_main(main_g, NULL);
    printf("t_futex: ok\n");
    return 0;
}
