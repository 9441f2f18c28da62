/*
 * t_sync_locks: gmp_mutex, gmp_rwmutex, gmp_cond, gmp_waitgroup and gmp_once, used from
 * goroutines and plain threads at once.
 *
 *  1. Mutex: 8 goroutines and 2 threads increment a plain counter under the lock (goroutines
 *     yield inside the critical section now and then); the total is exact and an "inside" flag
 *     never sees two holders. trylock is -EBUSY while held (from a goroutine and a thread);
 *     unlock of an unlocked mutex is -EPERM and the mutex works afterwards; a thread may
 *     unlock what a goroutine locked; a blocked locker (goroutine, thread) gets it at the
 *     unlock and holds it then.
 *  2. RWMutex: four readers (three goroutines, one thread) are inside at once (each waits,
 *     holding its read lock, until all four are in: exclusive readers hang); a mixed storm of
 *     readers and writers where a writer never sees anyone else inside and a reader never
 *     sees a writer or a changing value; writer preference: with a reader inside and a writer
 *     blocked, tryrlock is -EBUSY and a new reader blocks (seen asleep) until the writer has
 *     been in and left; try forms; -EPERM for runlock/unlock without the matching lock, and
 *     the lock works afterwards.
 *  3. Cond: a bounded queue (cap 4) with two conds and predicate loops, 4 producers and 4
 *     consumers (goroutines and threads), every item delivered once; one broadcast releases
 *     every waiter (goroutines and threads, all known to be inside cond_wait); signals with
 *     tokens wake waiters until all are out; cond_wait_timeout returns -ETIMEDOUT no earlier
 *     than asked with the mutex held again (another thread's trylock fails); -EPERM for
 *     waiting without the mutex held (and the mutex stays unlocked).
 *  4. WaitGroup: goroutine and thread waiters return only after the last done; a negative
 *     counter is -EINVAL and changes nothing (a waiter stays blocked until the right number of
 *     dones); done at zero is -EINVAL; reuse after zero.
 *  5. Once: 100 concurrent callers (90 goroutines, 10 threads); fn runs exactly once, sleeps
 *     20 ms, and every caller returns only after it finished; -EINVAL for a NULL fn, which
 *     does not use up the once.
 *  Every object: -EINVAL for NULL.
 */
#include "harness.h"

static void *run_thread(void *(*fn)(void *), void *arg, pthread_t *th)
{
    CHECK(pthread_create(th, NULL, fn, arg) == 0, "pthread_create");
    return NULL;
}
static void join(pthread_t th) { CHECK(pthread_join(th, NULL) == 0, "pthread_join"); }

/* ------------------------------------------------------------------ NULL */

static void test_null(void)
{
    CHECK_EQ(gmp_mutex_lock(NULL), -EINVAL);
    CHECK_EQ(gmp_mutex_trylock(NULL), -EINVAL);
    CHECK_EQ(gmp_mutex_unlock(NULL), -EINVAL);
    CHECK_EQ(gmp_rwmutex_rlock(NULL), -EINVAL);
    CHECK_EQ(gmp_rwmutex_runlock(NULL), -EINVAL);
    CHECK_EQ(gmp_rwmutex_lock(NULL), -EINVAL);
    CHECK_EQ(gmp_rwmutex_unlock(NULL), -EINVAL);
    CHECK_EQ(gmp_rwmutex_tryrlock(NULL), -EINVAL);
    CHECK_EQ(gmp_rwmutex_trylock(NULL), -EINVAL);
    gmp_mutex m = {0};
    gmp_cond c = {0};
    CHECK_EQ(gmp_cond_wait(NULL, &m), -EINVAL);
    CHECK_EQ(gmp_cond_wait_timeout(NULL, &m, 1000), -EINVAL);
    CHECK_EQ(gmp_cond_signal(NULL), -EINVAL);
    CHECK_EQ(gmp_cond_broadcast(NULL), -EINVAL);
    CHECK_EQ(gmp_mutex_lock(&m), 0);
    CHECK_EQ(gmp_cond_wait(&c, NULL), -EINVAL);
    CHECK_EQ(gmp_cond_wait_timeout(&c, NULL, 1000), -EINVAL);
    CHECK_EQ(gmp_mutex_unlock(&m), 0);
    CHECK_EQ(gmp_waitgroup_add(NULL, 1), -EINVAL);
    CHECK_EQ(gmp_waitgroup_done(NULL), -EINVAL);
    CHECK_EQ(gmp_waitgroup_wait(NULL), -EINVAL);
    CHECK_EQ(gmp_once_do(NULL, (gmp_fn)free, NULL), -EINVAL);
}

/* ------------------------------------------------------------------ 1. mutex */

#define MU_G 8
#define MU_T 2
#define MU_ITERS 20000

static gmp_mutex mu;
static long mu_counter; /* plain: only under mu */
static H_ATOMIC(int) mu_inside;
static wg_t mu_done;

static void mu_work(int yield)
{
    for (int i = 0; i < MU_ITERS; i++) {
        CHECK_EQ(gmp_mutex_lock(&mu), 0);
        CHECK(atomic_exchange(&mu_inside, 1) == 0, "two holders of one gmp_mutex");
        long c = mu_counter;
        if (yield && i % 64 == 0) gmp_gosched();
        mu_counter = c + 1;
        atomic_store(&mu_inside, 0);
        CHECK_EQ(gmp_mutex_unlock(&mu), 0);
    }
    wg_done(&mu_done);
}
static void mu_go(void *a) { mu_work(1); (void)a; }
static void *mu_thread(void *a) { mu_work(0); return a; }

static void *trylock_thread(void *a)
{
    CHECK_EQ(gmp_mutex_trylock((gmp_mutex *)a), -EBUSY);
    return NULL;
}
static void *unlock_thread(void *a)
{
    CHECK_EQ(gmp_mutex_unlock((gmp_mutex *)a), 0);
    return NULL;
}
static int op_lock(void *a) { return gmp_mutex_lock((gmp_mutex *)a); }

static void test_mutex(void)
{
    wg_init(&mu_done);
    wg_add(&mu_done, MU_G + MU_T);
    pthread_t th[MU_T];
    for (int i = 0; i < MU_T; i++) run_thread(mu_thread, NULL, &th[i]);
    for (int i = 0; i < MU_G; i++) h_spawn(mu_go, NULL);
    wg_wait(&mu_done);
    for (int i = 0; i < MU_T; i++) join(th[i]);
    CHECK(mu_counter == (long)(MU_G + MU_T) * MU_ITERS, "counter %ld, want %ld: lost updates",
          mu_counter, (long)(MU_G + MU_T) * MU_ITERS);

    gmp_mutex m = {0};
    pthread_t t;
    CHECK_EQ(gmp_mutex_trylock(&m), 0);
    CHECK_EQ(gmp_mutex_trylock(&m), -EBUSY);
    run_thread(trylock_thread, &m, &t);
    join(t);
    CHECK_EQ(gmp_mutex_unlock(&m), 0);
    CHECK_EQ(gmp_mutex_unlock(&m), -EPERM);
    CHECK_EQ(gmp_mutex_unlock(&m), -EPERM);
    CHECK_EQ(gmp_mutex_trylock(&m), 0);
    CHECK_EQ(gmp_mutex_unlock(&m), 0);
    CHECK_EQ(gmp_mutex_lock(&m), 0);
    run_thread(unlock_thread, &m, &t); /* a thread unlocks what this goroutine locked */
    join(t);
    CHECK_EQ(gmp_mutex_trylock(&m), 0);

    /* a blocked locker gets it at the unlock, goroutine then thread */
    for (int thr = 0; thr < 2; thr++) {
        h_blocker_t b;
        h_block_start(&b, op_lock, &m, thr);
        CHECK_EQ(gmp_mutex_unlock(&m), 0);
        CHECK_EQ(h_block_finish(&b), 0);
        CHECK_EQ(gmp_mutex_trylock(&m), -EBUSY); /* the blocker holds it now */
    }
    CHECK_EQ(gmp_mutex_unlock(&m), 0);
    CHECK_EQ(gmp_mutex_unlock(&m), -EPERM);
    CHECK_EQ(gmp_mutex_lock(&m), 0);
    CHECK_EQ(gmp_mutex_unlock(&m), 0);
}

/* ------------------------------------------------------------------ 2. rwmutex */

static gmp_rwmutex rw;
static H_ATOMIC(int) rw_readers_in, rw_writer_in;
static long rw_value; /* written only by writers */
static wg_t rw_done;

static void share_body(void)
{
    CHECK_EQ(gmp_rwmutex_rlock(&rw), 0);
    atomic_fetch_add(&rw_readers_in, 1);
    int64_t dl = h_now_ns() + 20 * (int64_t)1000000000;
    while (atomic_load(&rw_readers_in) < 4) {
        CHECK(h_now_ns() < dl, "readers never all inside at once (%d): read locks exclusive?",
              atomic_load(&rw_readers_in));
        if (gmp_self())
            gmp_gosched();
        else
            sched_yield();
    }
    wg_done(&rw_done);
}
static void share_go(void *a) { share_body(); (void)a; }
static void *share_thread(void *a) { share_body(); return a; }

#define RW_ITERS 4000
static void storm_body(unsigned seed, bool go)
{
    for (int i = 0; i < RW_ITERS; i++) {
        seed = seed * 1103515245u + 12345u;
        if ((seed >> 16) % 5 == 0) {
            CHECK_EQ(gmp_rwmutex_lock(&rw), 0);
            CHECK(atomic_exchange(&rw_writer_in, 1) == 0, "two writers inside");
            CHECK(atomic_load(&rw_readers_in) == 0, "a writer inside with %d readers",
                  atomic_load(&rw_readers_in));
            long v = rw_value;
            if (go && i % 16 == 0) gmp_gosched();
            rw_value = v + 1;
            CHECK(atomic_load(&rw_readers_in) == 0, "a reader got in beside a writer");
            atomic_store(&rw_writer_in, 0);
            CHECK_EQ(gmp_rwmutex_unlock(&rw), 0);
        } else {
            CHECK_EQ(gmp_rwmutex_rlock(&rw), 0);
            atomic_fetch_add(&rw_readers_in, 1);
            CHECK(atomic_load(&rw_writer_in) == 0, "a reader inside with a writer");
            long v = rw_value;
            if (go && i % 16 == 1) gmp_gosched();
            CHECK(rw_value == v, "the value changed under a read lock");
            atomic_fetch_sub(&rw_readers_in, 1);
            CHECK_EQ(gmp_rwmutex_runlock(&rw), 0);
        }
    }
    wg_done(&rw_done);
}
static void storm_go(void *a) { storm_body((unsigned)(uintptr_t)a, true); }
static void *storm_thread(void *a)
{
    storm_body((unsigned)(uintptr_t)a, false);
    return NULL;
}
static long storm_expected_writes(unsigned seed)
{
    long n = 0;
    for (int i = 0; i < RW_ITERS; i++) {
        seed = seed * 1103515245u + 12345u;
        if ((seed >> 16) % 5 == 0) n++;
    }
    return n;
}

static int op_wlock(void *a) { return gmp_rwmutex_lock((gmp_rwmutex *)a); }
static int op_rlock(void *a) { return gmp_rwmutex_rlock((gmp_rwmutex *)a); }

static void test_rwmutex(void)
{
    /* readers share */
    wg_init(&rw_done);
    wg_add(&rw_done, 4);
    pthread_t t;
    run_thread(share_thread, NULL, &t);
    for (int i = 0; i < 3; i++) h_spawn(share_go, NULL);
    wg_wait(&rw_done);
    join(t);
    CHECK_EQ(gmp_rwmutex_trylock(&rw), -EBUSY);
    CHECK_EQ(gmp_rwmutex_tryrlock(&rw), 0); /* a fifth reader */
    for (int i = 0; i < 5; i++) CHECK_EQ(gmp_rwmutex_runlock(&rw), 0);
    atomic_store(&rw_readers_in, 0);
    CHECK_EQ(gmp_rwmutex_runlock(&rw), -EPERM);

    /* storm: 6 goroutines, 2 threads */
    wg_init(&rw_done);
    wg_add(&rw_done, 8);
    pthread_t th[2];
    long expect = 0;
    for (unsigned i = 0; i < 8; i++) {
        unsigned seed = 1000 + i * 7919;
        expect += storm_expected_writes(seed);
        if (i < 2)
            run_thread(storm_thread, (void *)(uintptr_t)seed, &th[i]);
        else
            h_spawn(storm_go, (void *)(uintptr_t)seed);
    }
    wg_wait(&rw_done);
    join(th[0]);
    join(th[1]);
    CHECK(rw_value == expect, "writes counted %ld, want %ld", rw_value, expect);

    /* writer preference, with the writer and the late reader each a goroutine or a thread */
    for (int mode = 0; mode < 4; mode++) {
        gmp_rwmutex r2 = {{0, 0}, 0, 0, 0, 0};
        CHECK_EQ(gmp_rwmutex_rlock(&r2), 0); /* an early reader: this goroutine */
        h_blocker_t w, late;
        h_block_start(&w, op_wlock, &r2, mode & 1);
        CHECK(gmp_rwmutex_tryrlock(&r2) == -EBUSY,
              "tryrlock succeeded while a writer waits (writer preference)");
        CHECK_EQ(gmp_rwmutex_trylock(&r2), -EBUSY);
        /* a late reader must queue behind the waiting writer (h_block_start fails if it got
         * in at once) */
        h_block_start(&late, op_rlock, &r2, (mode >> 1) & 1);
        CHECK_EQ(gmp_rwmutex_runlock(&r2), 0); /* the early reader leaves: the writer goes in */
        CHECK_EQ(h_block_finish(&w), 0);
        CHECK(!h_block_done(&late), "the late reader got in while the writer holds the lock");
        CHECK_EQ(gmp_rwmutex_tryrlock(&r2), -EBUSY);
        gmp_sleep(10 * 1000000);
        CHECK(!h_block_done(&late), "the late reader got in while the writer holds the lock");
        CHECK_EQ(gmp_rwmutex_unlock(&r2), 0); /* the writer's lock, released here */
        CHECK_EQ(h_block_finish(&late), 0);
        CHECK_EQ(gmp_rwmutex_trylock(&r2), -EBUSY); /* the late reader holds it */
        CHECK_EQ(gmp_rwmutex_tryrlock(&r2), 0);
        CHECK_EQ(gmp_rwmutex_runlock(&r2), 0);
        CHECK_EQ(gmp_rwmutex_runlock(&r2), 0); /* the late reader's */
        CHECK_EQ(gmp_rwmutex_runlock(&r2), -EPERM);
        CHECK_EQ(gmp_rwmutex_unlock(&r2), -EPERM);
    }

    /* try forms and -EPERM */
    gmp_rwmutex r3 = {{0, 0}, 0, 0, 0, 0};
    CHECK_EQ(gmp_rwmutex_unlock(&r3), -EPERM);
    CHECK_EQ(gmp_rwmutex_runlock(&r3), -EPERM);
    CHECK_EQ(gmp_rwmutex_trylock(&r3), 0);
    CHECK_EQ(gmp_rwmutex_tryrlock(&r3), -EBUSY);
    CHECK_EQ(gmp_rwmutex_trylock(&r3), -EBUSY);
    CHECK_EQ(gmp_rwmutex_runlock(&r3), -EPERM); /* write-locked, not read-locked */
    CHECK_EQ(gmp_rwmutex_unlock(&r3), 0);
    CHECK_EQ(gmp_rwmutex_rlock(&r3), 0);
    CHECK_EQ(gmp_rwmutex_unlock(&r3), -EPERM); /* read-locked, not write-locked */
    CHECK_EQ(gmp_rwmutex_trylock(&r3), -EBUSY);
    CHECK_EQ(gmp_rwmutex_runlock(&r3), 0);
    CHECK_EQ(gmp_rwmutex_lock(&r3), 0);
    CHECK_EQ(gmp_rwmutex_unlock(&r3), 0);
    CHECK_EQ(gmp_rwmutex_rlock(&r3), 0);
    CHECK_EQ(gmp_rwmutex_runlock(&r3), 0);
    CHECK_EQ(gmp_rwmutex_trylock(&r3), 0);
    CHECK_EQ(gmp_rwmutex_unlock(&r3), 0);
}

/* ------------------------------------------------------------------ 3. cond */

#define Q_CAP 4
#define Q_ITEMS 10000 /* per producer */
#define Q_P 4
#define Q_C 4
static gmp_mutex qm;
static gmp_cond q_notfull, q_notempty;
static int64_t q_buf[Q_CAP];
static int q_head, q_len, q_producers_left;
static H_ATOMIC(uint8_t) q_seen[Q_P * Q_ITEMS];
static wg_t q_done;

static void q_produce(int id)
{
    for (int64_t j = 0; j < Q_ITEMS; j++) {
        CHECK_EQ(gmp_mutex_lock(&qm), 0);
        while (q_len == Q_CAP) CHECK_EQ(gmp_cond_wait(&q_notfull, &qm), 0);
        q_buf[(q_head + q_len++) % Q_CAP] = (int64_t)id * Q_ITEMS + j;
        CHECK_EQ(gmp_cond_signal(&q_notempty), 0);
        CHECK_EQ(gmp_mutex_unlock(&qm), 0);
    }
    CHECK_EQ(gmp_mutex_lock(&qm), 0);
    if (--q_producers_left == 0) CHECK_EQ(gmp_cond_broadcast(&q_notempty), 0);
    CHECK_EQ(gmp_mutex_unlock(&qm), 0);
    wg_done(&q_done);
}

static void q_consume(void)
{
    for (;;) {
        CHECK_EQ(gmp_mutex_lock(&qm), 0);
        while (q_len == 0 && q_producers_left > 0) CHECK_EQ(gmp_cond_wait(&q_notempty, &qm), 0);
        if (q_len == 0) {
            CHECK_EQ(gmp_mutex_unlock(&qm), 0);
            break;
        }
        int64_t v = q_buf[q_head];
        q_head = (q_head + 1) % Q_CAP;
        q_len--;
        CHECK_EQ(gmp_cond_signal(&q_notfull), 0);
        CHECK_EQ(gmp_mutex_unlock(&qm), 0);
        CHECK(v >= 0 && v < Q_P * Q_ITEMS, "item %lld", (long long)v);
        CHECK(atomic_exchange(&q_seen[v], 1) == 0, "item %lld twice", (long long)v);
    }
    wg_done(&q_done);
}
static void q_prod_go(void *a) { q_produce((int)(uintptr_t)a); }
static void *q_prod_thread(void *a)
{
    q_produce((int)(uintptr_t)a);
    return NULL;
}
static void q_cons_go(void *a) { q_consume(); (void)a; }
static void *q_cons_thread(void *a)
{
    q_consume();
    return a;
}

/* broadcast / signal: waiters known to be inside gmp_cond_wait */
#define CW_G 6
#define CW_T 2
static gmp_mutex cm;
static gmp_cond cc;
static int c_waiting, c_gate, c_tokens, c_out; /* under cm */
static wg_t c_done;

static void cw_body(void)
{
    CHECK_EQ(gmp_mutex_lock(&cm), 0);
    c_waiting++;
    while (!c_gate) CHECK_EQ(gmp_cond_wait(&cc, &cm), 0);
    c_waiting++; /* second phase: tokens */
    while (c_tokens == 0) CHECK_EQ(gmp_cond_wait(&cc, &cm), 0);
    c_tokens--;
    c_out++;
    CHECK_EQ(gmp_mutex_unlock(&cm), 0);
    wg_done(&c_done);
}
static void cw_go(void *a) { cw_body(); (void)a; }
static void *cw_thread(void *a)
{
    cw_body();
    return a;
}

static void wait_waiting(int n)
{
    int64_t dl = h_now_ns() + 20 * (int64_t)1000000000;
    for (;;) {
        CHECK_EQ(gmp_mutex_lock(&cm), 0);
        int w = c_waiting;
        CHECK_EQ(gmp_mutex_unlock(&cm), 0);
        if (w == n) return;
        CHECK(h_now_ns() < dl, "waiters stuck: %d of %d", w, n);
        gmp_sleep(100000);
    }
}

typedef struct cto {
    gmp_cond c;
    gmp_mutex m;
    int64_t ns;
    ev_t done;
} cto_t;

static void *cto_trylock_thread(void *a)
{
    CHECK(gmp_mutex_trylock((gmp_mutex *)a) == -EBUSY,
          "cond_wait_timeout returned without the mutex held again");
    return NULL;
}

static void cto_body(cto_t *x)
{
    CHECK_EQ(gmp_mutex_lock(&x->m), 0);
    int64_t t0 = h_now_ns();
    int r = gmp_cond_wait_timeout(&x->c, &x->m, x->ns);
    int64_t dt = h_now_ns() - t0;
    CHECK(r == -ETIMEDOUT, "cond_wait_timeout = %d, want -ETIMEDOUT", r);
    CHECK(dt >= x->ns && dt < x->ns + 2000000000, "timed out after %lld ns, asked %lld",
          (long long)dt, (long long)x->ns);
    pthread_t t;
    run_thread(cto_trylock_thread, &x->m, &t);
    join(t);
    CHECK_EQ(gmp_mutex_unlock(&x->m), 0);
    /* without the mutex: -EPERM, and it stays unlocked */
    CHECK_EQ(gmp_cond_wait(&x->c, &x->m), -EPERM);
    CHECK_EQ(gmp_cond_wait_timeout(&x->c, &x->m, 1000000), -EPERM);
    CHECK_EQ(gmp_cond_wait_timeout(&x->c, &x->m, -1), -EPERM);
    CHECK_EQ(gmp_mutex_trylock(&x->m), 0);
    CHECK_EQ(gmp_mutex_unlock(&x->m), 0);
}
static void *cto_thread(void *a)
{
    cto_body((cto_t *)a);
    ev_set(&((cto_t *)a)->done);
    return NULL;
}

static void test_cond(void)
{
    /* bounded queue */
    q_producers_left = Q_P;
    wg_init(&q_done);
    wg_add(&q_done, Q_P + Q_C);
    pthread_t tp, tc;
    run_thread(q_prod_thread, (void *)(uintptr_t)0, &tp);
    run_thread(q_cons_thread, NULL, &tc);
    for (int i = 1; i < Q_P; i++) h_spawn(q_prod_go, (void *)(uintptr_t)i);
    for (int i = 1; i < Q_C; i++) h_spawn(q_cons_go, NULL);
    wg_wait(&q_done);
    join(tp);
    join(tc);
    CHECK_EQ(q_len, 0);
    for (int i = 0; i < Q_P * Q_ITEMS; i++) CHECK(atomic_load(&q_seen[i]), "item %d lost", i);

    /* broadcast releases everyone, then signal + tokens */
    wg_init(&c_done);
    wg_add(&c_done, CW_G + CW_T);
    pthread_t th[CW_T];
    for (int i = 0; i < CW_T; i++) run_thread(cw_thread, NULL, &th[i]);
    for (int i = 0; i < CW_G; i++) h_spawn(cw_go, NULL);
    wait_waiting(CW_G + CW_T); /* all inside cond_wait (they released cm there) */
    CHECK_EQ(gmp_mutex_lock(&cm), 0);
    c_gate = 1;
    CHECK_EQ(gmp_cond_broadcast(&cc), 0); /* once: every waiter must get out of phase 1 */
    CHECK_EQ(gmp_mutex_unlock(&cm), 0);
    wait_waiting(2 * (CW_G + CW_T));
    for (int i = 0; i < CW_G + CW_T; i++) {
        CHECK_EQ(gmp_mutex_lock(&cm), 0);
        c_tokens++;
        CHECK_EQ(gmp_cond_signal(&cc), 0);
        CHECK_EQ(gmp_mutex_unlock(&cm), 0);
        if (i % 2) gmp_gosched();
    }
    wg_wait(&c_done);
    for (int i = 0; i < CW_T; i++) join(th[i]);
    CHECK_EQ(c_out, CW_G + CW_T);
    CHECK_EQ(c_tokens, 0);
    CHECK_EQ(gmp_cond_signal(&cc), 0); /* nobody waits: fine */
    CHECK_EQ(gmp_cond_broadcast(&cc), 0);

    /* timeouts and -EPERM, goroutine and thread */
    static cto_t x;
    x.ns = 40 * 1000000;
    cto_body(&x);
    ev_init(&x.done);
    pthread_t t;
    run_thread(cto_thread, &x, &t);
    ev_wait(&x.done);
    join(t);
}

/* ------------------------------------------------------------------ 4. waitgroup */

#define WG_G 6
#define WG_T 2
#define WG_N 50
static gmp_waitgroup wgx;
static H_ATOMIC(int) wg_dones;
static wg_t wg_waiters_done;

static void wgw_body(void)
{
    CHECK_EQ(gmp_waitgroup_wait(&wgx), 0);
    CHECK(atomic_load(&wg_dones) == WG_N, "gmp_waitgroup_wait returned after %d of %d dones",
          atomic_load(&wg_dones), WG_N);
    wg_done(&wg_waiters_done);
}
static void wgw_go(void *a) { wgw_body(); (void)a; }
static void *wgw_thread(void *a)
{
    wgw_body();
    return a;
}
static void wg_doer(void *a)
{
    (void)a;
    atomic_fetch_add(&wg_dones, 1);
    CHECK_EQ(gmp_waitgroup_done(&wgx), 0);
}
static void *wg_doer_thread(void *a)
{
    wg_doer(a);
    return NULL;
}
static int op_wg_wait(void *a) { return gmp_waitgroup_wait((gmp_waitgroup *)a); }

static void test_waitgroup(void)
{
    CHECK_EQ(gmp_waitgroup_wait(&wgx), 0); /* zero: at once */
    CHECK_EQ(gmp_waitgroup_add(&wgx, 0), 0);
    CHECK_EQ(gmp_waitgroup_done(&wgx), -EINVAL);
    CHECK_EQ(gmp_waitgroup_wait(&wgx), 0);
    for (int round = 0; round < 3; round++) { /* reuse */
        atomic_store(&wg_dones, 0);
        CHECK_EQ(gmp_waitgroup_add(&wgx, WG_N), 0);
        wg_init(&wg_waiters_done);
        wg_add(&wg_waiters_done, WG_G + WG_T);
        pthread_t th[WG_T], dt[2];
        for (int i = 0; i < WG_T; i++) run_thread(wgw_thread, NULL, &th[i]);
        for (int i = 0; i < WG_G; i++) h_spawn(wgw_go, NULL);
        /* dones from goroutines and threads */
        for (int i = 0; i < 2; i++) run_thread(wg_doer_thread, NULL, &dt[i]);
        for (int i = 2; i < WG_N; i++) {
            if (i % 3 == 0) gmp_gosched();
            h_spawn(wg_doer, NULL);
        }
        wg_wait(&wg_waiters_done);
        for (int i = 0; i < WG_T; i++) join(th[i]);
        for (int i = 0; i < 2; i++) join(dt[i]);
        CHECK_EQ(gmp_waitgroup_wait(&wgx), 0);
    }

    /* negative: -EINVAL, nothing changes */
    for (int thr = 0; thr < 2; thr++) {
        gmp_waitgroup w = {0, 0, 0};
        CHECK_EQ(gmp_waitgroup_add(&w, 3), 0);
        CHECK_EQ(gmp_waitgroup_add(&w, -4), -EINVAL);
        CHECK_EQ(gmp_waitgroup_add(&w, INT64_MIN), -EINVAL);
        CHECK_EQ(gmp_waitgroup_done(&w), 0);
        CHECK_EQ(gmp_waitgroup_done(&w), 0);
        h_blocker_t b;
        h_block_start(&b, op_wg_wait, &w, thr); /* fails if the counter already reached 0 */
        CHECK_EQ(gmp_waitgroup_add(&w, -2), -EINVAL);
        gmp_sleep(5 * 1000000);
        CHECK(!h_block_done(&b), "a refused add released the waiter");
        CHECK_EQ(gmp_waitgroup_done(&w), 0);
        CHECK_EQ(h_block_finish(&b), 0);
        CHECK_EQ(gmp_waitgroup_done(&w), -EINVAL);
        CHECK_EQ(gmp_waitgroup_wait(&w), 0);
    }
}

/* ------------------------------------------------------------------ 5. once */

#define ONCE_G 90
#define ONCE_T 10
static gmp_once once;
static H_ATOMIC(int) once_runs, once_finished, once_go;
static wg_t once_done;

static void once_fn(void *arg)
{
    CHECK(arg == (void *)&once, "fn got the wrong arg");
    atomic_fetch_add(&once_runs, 1);
    gmp_sleep(20 * 1000000); /* parks a goroutine, sleeps a thread: callers pile up */
    atomic_store(&once_finished, 1);
}

static void once_body(void)
{
    while (!atomic_load(&once_go)) {
        if (gmp_self())
            gmp_gosched();
        else
            sched_yield();
    }
    CHECK_EQ(gmp_once_do(&once, once_fn, &once), 0);
    CHECK(atomic_load(&once_finished) == 1, "gmp_once_do returned before fn finished");
    CHECK(atomic_load(&once_runs) == 1, "fn ran %d times", atomic_load(&once_runs));
    wg_done(&once_done);
}
static void once_go_fn(void *a) { once_body(); (void)a; }
static void *once_thread(void *a)
{
    once_body();
    return a;
}
static int plain_runs;
static void plain_fn(void *a) { plain_runs++; (void)a; }

static void test_once(void)
{
    gmp_once o2 = {0, {0, 0}};
    CHECK_EQ(gmp_once_do(&o2, NULL, NULL), -EINVAL);
    CHECK_EQ(gmp_once_do(&o2, plain_fn, NULL), 0); /* the NULL fn did not use it up */
    CHECK_EQ(gmp_once_do(&o2, plain_fn, NULL), 0);
    CHECK_EQ(gmp_once_do(&o2, NULL, NULL), -EINVAL);
    CHECK_EQ(plain_runs, 1);

    wg_init(&once_done);
    wg_add(&once_done, ONCE_G + ONCE_T);
    pthread_t th[ONCE_T];
    for (int i = 0; i < ONCE_T; i++) run_thread(once_thread, NULL, &th[i]);
    for (int i = 0; i < ONCE_G; i++) h_spawn(once_go_fn, NULL);
    atomic_store(&once_go, 1);
    wg_wait(&once_done);
    for (int i = 0; i < ONCE_T; i++) join(th[i]);
    CHECK_EQ(atomic_load(&once_runs), 1);
    CHECK_EQ(gmp_once_do(&once, once_fn, &once), 0);
    CHECK_EQ(atomic_load(&once_runs), 1);
}

static void main_g(void *arg)
{
    (void)arg;
    test_null();
    test_mutex();
    test_rwmutex();
    test_cond();
    test_waitgroup();
    test_once();
}

int main(void)
{
    h_check_lib();
    h_main(main_g, NULL);
    printf("t_sync_locks: ok\n");
    return 0;
}
