/*
 * t_keys: goroutine-local storage (gmp_key_*), pthread_key semantics per goroutine.
 *
 *  1. Arguments: -EINVAL for a NULL key pointer, for setspecific/delete of an unknown key;
 *     getspecific of an unknown key is NULL.
 *  2. Values follow their goroutine: 64 goroutines each set three keys to their own values,
 *     then switch 300 times (gmp_gosched, gmp_sleep, an unbuffered channel handshake) and check
 *     all three after every switch; at 2 and 8 Ps they must have changed threads meanwhile
 *     (counted through gettid). A fresh goroutine sees NULL, whatever the thread it runs on has
 *     in its thread slot; the main thread's own slot is untouched by all of it.
 *  3. Destructors at goroutine end: exactly once per non-NULL value, for a goroutine that
 *     returns and one that calls gmp_exit, with several keys set; none for a value set back to
 *     NULL, none for keys never set, none for a NULL dtor; inside the destructor the key's
 *     value is already NULL (pthread semantics). A destructor that sets its value again runs
 *     again: one that does so twice runs 3 times; one that always does is stopped after 4
 *     rounds (and the goroutine still ends).
 *  4. Thread context: two plain threads have their own slots; each one's destructor runs once
 *     at its exit with its own value; a thread that set NULL gets none.
 *  5. Delete and reuse: after gmp_key_delete a goroutine's old value is unreachable
 *     (getspecific NULL, setspecific and a second delete -EINVAL); keys created afterwards,
 *     including one that reuses the deleted number, read NULL in that old goroutine; when it
 *     ends, neither the deleted key's destructor nor the new key's runs on the old value.
 *  6. Limit: at least 1024 keys live at once (GMP_KEYS_MAX if the header defines it); the next
 *     create is -EAGAIN; a goroutine can hold a distinct value in every one of them; after
 *     deleting them all, creating works again.
 */
#include "harness.h"

static void wait_count(H_ATOMIC(int) *c, int want, const char *what)
{
    int64_t dl = h_now_ns() + 20 * (int64_t)1000000000;
    while (atomic_load(c) < want) {
        CHECK(h_now_ns() < dl, "%s: %d of %d after 20 s", what, atomic_load(c), want);
        gmp_sleep(200000);
    }
    gmp_sleep(20 * 1000000); /* then no more may come */
    CHECK(atomic_load(c) == want, "%s: %d, want exactly %d", what, atomic_load(c), want);
}

/* ------------------------------------------------------------------ 1 */

static void test_args(void)
{
    CHECK_EQ(gmp_key_create(NULL, NULL), -EINVAL);
    CHECK_EQ(gmp_key_create(NULL, free), -EINVAL);
    static const gmp_key bogus[] = {0xFFFFFFFFu, 0x7FFFFFFFu, 1u << 20, 100000u};
    int x;
    for (int i = 0; i < 4; i++) {
        CHECK(gmp_getspecific(bogus[i]) == NULL, "getspecific(unknown %u) not NULL", bogus[i]);
        CHECK_EQ(gmp_setspecific(bogus[i], &x), -EINVAL);
        CHECK_EQ(gmp_key_delete(bogus[i]), -EINVAL);
    }
}

/* ------------------------------------------------------------------ 2 */

#define MG 64
#define MG_ITERS 300
static gmp_key mk[3];
static int mslot[MG][3];
static int thread_slot_value;
static H_ATOMIC(long) migrations;
static wg_t mg_done;
static gmp_chan *mg_ch;

static void mg_check(int i, int it)
{
    for (int k = 0; k < 3; k++) {
        void *v = gmp_getspecific(mk[k]);
        CHECK(v == &mslot[i][k], "goroutine %d iteration %d key %d: %p, want %p", i, it, k, v,
              (void *)&mslot[i][k]);
    }
}

static void mg_body(void *a)
{
    int i = (int)(uintptr_t)a;
    for (int k = 0; k < 3; k++)
        CHECK(gmp_getspecific(mk[k]) == NULL, "a fresh goroutine sees a value for key %d", k);
    for (int k = 0; k < 3; k++) CHECK_EQ(gmp_setspecific(mk[k], &mslot[i][k]), 0);
    pid_t last = h_gettid();
    long moved = 0;
    for (int it = 0; it < MG_ITERS; it++) {
        switch ((it + i) % 3) {
        case 0: gmp_gosched(); break;
        case 1: gmp_sleep(1000 * (it % 5)); break;
        default: {
            /* pairs (i, i^1) meet on an unbuffered channel: one sends, the other receives */
            int64_t v = i;
            if (i % 2)
                CHECK_EQ(gmp_chan_send(mg_ch, &v), 0);
            else
                CHECK_EQ(gmp_chan_recv(mg_ch, &v), 1);
        }
        }
        mg_check(i, it);
        pid_t now = h_gettid();
        if (now != last) moved++;
        last = now;
    }
    atomic_fetch_add(&migrations, moved);
    wg_done(&mg_done);
}

static void test_migration(void)
{
    CHECK_EQ(gmp_chan_new(sizeof(int64_t), 0, &mg_ch), 0);
    wg_init(&mg_done);
    wg_add(&mg_done, MG);
    for (int i = 0; i < MG; i++) h_spawn(mg_body, (void *)(uintptr_t)i);
    wg_wait(&mg_done);
    CHECK_EQ(gmp_chan_free(mg_ch), 0);
    long m = atomic_load(&migrations);
    printf("t_keys: %ld thread changes seen by %d goroutines x %d switches\n", m, MG, MG_ITERS);
    if (h_env_procs() >= 2)
        CHECK(m > 0, "no goroutine ever changed threads at %d Ps: nothing was tested",
              h_env_procs());
}

/* ------------------------------------------------------------------ 3 */

#define NV 64
static H_ATOMIC(int) dcount[NV];  /* per value */
static H_ATOMIC(int) dtotal;
static gmp_key kd, kd2, knull_dtor, kr, ka;
static int dval[NV];

static void dtor_count(void *v)
{
    int i = (int)((int *)v - dval);
    CHECK(i >= 0 && i < NV, "destructor got a foreign value %p", v);
    CHECK(gmp_getspecific(kd) != v && gmp_getspecific(kd2) != v,
          "in the destructor the value is still set");
    atomic_fetch_add(&dcount[i], 1);
    atomic_fetch_add(&dtotal, 1);
}

static H_ATOMIC(int) kr_runs, ka_runs;
static int kr_val, ka_val;
static void dtor_reset_twice(void *v)
{
    CHECK(v == &kr_val, "wrong value");
    CHECK(gmp_getspecific(kr) == NULL, "in the destructor the value is still set");
    if (atomic_fetch_add(&kr_runs, 1) < 2) CHECK_EQ(gmp_setspecific(kr, v), 0);
}
static void dtor_reset_always(void *v)
{
    CHECK(v == &ka_val, "wrong value");
    atomic_fetch_add(&ka_runs, 1);
    CHECK_EQ(gmp_setspecific(ka, v), 0);
}

static wg_t d_started;
typedef struct dspec {
    int v1, v2;   /* indexes into dval for kd / kd2, -1 = don't set */
    bool unset;   /* set kd then set it back to NULL */
    bool exit_;   /* end with gmp_exit */
    bool reset;   /* also set kr and ka */
} dspec;

static void d_body(void *a)
{
    dspec *s = (dspec *)a;
    if (s->v1 >= 0) CHECK_EQ(gmp_setspecific(kd, &dval[s->v1]), 0);
    if (s->v2 >= 0) CHECK_EQ(gmp_setspecific(kd2, &dval[s->v2]), 0);
    CHECK_EQ(gmp_setspecific(knull_dtor, &dval[0]), 0); /* no dtor: nothing to run */
    if (s->unset) {
        CHECK_EQ(gmp_setspecific(kd, &dval[NV - 1]), 0);
        gmp_gosched();
        CHECK_EQ(gmp_setspecific(kd, NULL), 0);
    }
    if (s->reset) {
        CHECK_EQ(gmp_setspecific(kr, &kr_val), 0);
        CHECK_EQ(gmp_setspecific(ka, &ka_val), 0);
    }
    gmp_gosched();
    wg_done(&d_started);
    if (s->exit_) {
        gmp_exit();
        CHECK(0, "gmp_exit returned in a goroutine");
    }
}

static void test_destructors(void)
{
    CHECK_EQ(gmp_key_create(&kd, dtor_count), 0);
    CHECK_EQ(gmp_key_create(&kd2, dtor_count), 0);
    CHECK_EQ(gmp_key_create(&knull_dtor, NULL), 0);
    CHECK_EQ(gmp_key_create(&kr, dtor_reset_twice), 0);
    CHECK_EQ(gmp_key_create(&ka, dtor_reset_always), 0);
    CHECK(kd != kd2 && kd != knull_dtor && kr != ka, "gmp_key_create handed out a key twice");
    /* 20 returning, 20 exiting goroutines with one or two values; 10 with kd set back to NULL;
     * 10 that set nothing of kd/kd2 */
    static dspec sp[60];
    int n = 0, expect = 0;
    for (int i = 0; i < 20; i++, n++) {
        sp[n] = (dspec){1 + i, i % 2 ? 31 + i : -1, false, false, false};
        expect += 1 + (i % 2);
    }
    for (int i = 0; i < 20; i++, n++) {
        sp[n] = (dspec){21 + i % 10, i % 2 ? -1 : 51 + i / 2, false, true, false};
        expect += 1 + !(i % 2);
    }
    /* (values 21..30 are set by two goroutines each, values 51..60 once) */
    for (int i = 0; i < 10; i++, n++) sp[n] = (dspec){-1, -1, true, i % 2, false};
    for (int i = 0; i < 10; i++, n++) sp[n] = (dspec){-1, -1, false, i % 2, false};
    sp[n - 1].reset = true;
    wg_init(&d_started);
    wg_add(&d_started, n);
    for (int i = 0; i < n; i++) h_spawn(d_body, &sp[i]);
    wg_wait(&d_started);
    wait_count(&dtotal, expect, "destructor calls");
    for (int i = 0; i < NV; i++) {
        int want = 0;
        if (i >= 1 && i <= 20) want = 1;
        if (i >= 21 && i <= 30) want = 2;
        if (i >= 32 && i <= 50 && (i - 31) % 2 == 1) want = 1; /* 31 + i for odd i */
        if (i >= 51 && i <= 60) want = 1;
        CHECK(atomic_load(&dcount[i]) == want, "value %d: destructor ran %d times, want %d", i,
              atomic_load(&dcount[i]), want);
    }
    wait_count(&kr_runs, 3, "a destructor setting its value again twice: runs");
    wait_count(&ka_runs, 4, "a destructor always setting its value again: runs (4 rounds)");
}

/* ------------------------------------------------------------------ 4 */

static gmp_key kt;
static H_ATOMIC(int) tcount[3];
static int tval[3];
static void dtor_thread(void *v)
{
    int i = (int)((int *)v - tval);
    CHECK(i >= 0 && i < 3, "thread destructor got a foreign value");
    atomic_fetch_add(&tcount[i], 1);
}
static ev_t t_set[2], t_go[2];
static void *kt_thread(void *a)
{
    int i = (int)(uintptr_t)a;
    CHECK(gmp_getspecific(kt) == NULL, "a new thread's slot is not NULL");
    CHECK_EQ(gmp_setspecific(kt, &tval[i]), 0);
    ev_set(&t_set[i]);
    ev_wait(&t_go[i]);
    CHECK(gmp_getspecific(kt) == &tval[i], "thread %d sees another slot", i);
    if (i == 1) CHECK_EQ(gmp_setspecific(kt, NULL), 0);
    return NULL;
}

static void test_threads(void)
{
    CHECK_EQ(gmp_key_create(&kt, dtor_thread), 0);
    pthread_t th[2];
    for (int i = 0; i < 2; i++) {
        ev_init(&t_set[i]);
        ev_init(&t_go[i]);
        CHECK(pthread_create(&th[i], NULL, kt_thread, (void *)(uintptr_t)i) == 0, "create");
    }
    for (int i = 0; i < 2; i++) ev_wait(&t_set[i]); /* both set, both alive */
    CHECK(gmp_getspecific(kt) == NULL, "a goroutine sees a thread's value");
    for (int i = 0; i < 2; i++) ev_set(&t_go[i]);
    for (int i = 0; i < 2; i++) CHECK(pthread_join(th[i], NULL) == 0, "join");
    CHECK(atomic_load(&tcount[0]) == 1, "thread 0's destructor ran %d times by its exit",
          atomic_load(&tcount[0]));
    CHECK(atomic_load(&tcount[1]) == 0, "a destructor ran for a NULL thread value");
    CHECK_EQ(atomic_load(&tcount[2]), 0);
}

/* ------------------------------------------------------------------ 5 */

static gmp_key kdel;
static H_ATOMIC(int) del_dtor_runs, new_dtor_runs;
static int del_val;
static void dtor_del(void *v) { (void)v; atomic_fetch_add(&del_dtor_runs, 1); }
static void dtor_new(void *v) { (void)v; atomic_fetch_add(&new_dtor_runs, 1); }
static ev_t old_set, keys_renewed, old_checked;
#define RENEW_MAX 2048
static gmp_key renewed[RENEW_MAX];
static int nrenewed;

static void old_goroutine(void *a)
{
    (void)a;
    CHECK_EQ(gmp_setspecific(kdel, &del_val), 0);
    ev_set(&old_set);
    ev_wait(&keys_renewed);
    for (int i = 0; i < nrenewed; i++)
        CHECK(gmp_getspecific(renewed[i]) == NULL,
              "new key %u (%d of %d) shows the old goroutine's value of a deleted key %u",
              renewed[i], i, nrenewed, kdel);
    ev_set(&old_checked);
}

static void test_delete_reuse(void)
{
    CHECK_EQ(gmp_key_create(&kdel, dtor_del), 0);
    ev_init(&old_set);
    ev_init(&keys_renewed);
    ev_init(&old_checked);
    h_spawn(old_goroutine, NULL);
    ev_wait(&old_set);
    CHECK_EQ(gmp_setspecific(kdel, &del_val), 0); /* this goroutine too */
    CHECK_EQ(gmp_key_delete(kdel), 0);
    CHECK(gmp_getspecific(kdel) == NULL, "getspecific of a deleted key is not NULL");
    CHECK_EQ(gmp_setspecific(kdel, &del_val), -EINVAL);
    CHECK_EQ(gmp_key_delete(kdel), -EINVAL);
    /* create keys until the deleted number comes back (it must: deleted keys are reused) */
    bool reused = false;
    while (nrenewed < RENEW_MAX) {
        int r = gmp_key_create(&renewed[nrenewed], dtor_new);
        if (r == -EAGAIN) break;
        CHECK_EQ(r, 0);
        if (renewed[nrenewed++] == kdel) {
            reused = true;
            break;
        }
    }
    CHECK(reused, "the deleted key %u never came back in %d creates", kdel, nrenewed);
    for (int i = 0; i < nrenewed; i++)
        CHECK(gmp_getspecific(renewed[i]) == NULL, "new key %u shows an old value", renewed[i]);
    ev_set(&keys_renewed);
    ev_wait(&old_checked);
    gmp_sleep(20 * 1000000); /* the old goroutine ends: no destructor may run */
    CHECK(atomic_load(&del_dtor_runs) == 0, "a deleted key's destructor ran");
    CHECK(atomic_load(&new_dtor_runs) == 0, "a reused key's destructor ran on the old value");
    for (int i = 0; i < nrenewed; i++) CHECK_EQ(gmp_key_delete(renewed[i]), 0);
}

/* ------------------------------------------------------------------ 6 */

#define LIM_MAX 65536
static gmp_key lim[LIM_MAX];
static int nlim;
static ev_t lim_done;

static void lim_goroutine(void *a)
{
    (void)a;
    for (int i = 0; i < nlim; i++) CHECK_EQ(gmp_setspecific(lim[i], &lim[i]), 0);
    gmp_gosched();
    for (int i = 0; i < nlim; i++)
        CHECK(gmp_getspecific(lim[i]) == &lim[i], "key %u (%d of %d) lost its value", lim[i], i,
              nlim);
    ev_set(&lim_done);
}

static void test_limit(void)
{
    /* live now: mk[3], kd, kd2, knull_dtor, kr, ka, kt */
    int live_before = 9;
    int r;
    while (nlim < LIM_MAX && (r = gmp_key_create(&lim[nlim], NULL)) == 0) nlim++;
    CHECK(r == -EAGAIN, "gmp_key_create = %d after %d keys, want -EAGAIN", r, nlim);
    int total = nlim + live_before;
    printf("t_keys: %d keys live at once\n", total);
    CHECK(total >= 1024, "only %d keys can live at once", total);
#ifdef GMP_KEYS_MAX
    CHECK(total == GMP_KEYS_MAX, "%d keys live, GMP_KEYS_MAX is %d", total, (int)GMP_KEYS_MAX);
#endif
    gmp_key extra;
    CHECK_EQ(gmp_key_create(&extra, NULL), -EAGAIN);
    for (int i = 0; i < nlim; i++)
        for (int j = i + 1; j < nlim; j++)
            CHECK(lim[i] != lim[j], "key %u handed out twice", lim[i]);
    ev_init(&lim_done);
    h_spawn(lim_goroutine, NULL);
    ev_wait(&lim_done);
    for (int i = 0; i < nlim; i++) CHECK_EQ(gmp_key_delete(lim[i]), 0);
    CHECK_EQ(gmp_key_create(&extra, NULL), 0);
    CHECK_EQ(gmp_key_delete(extra), 0);
}

static void main_g(void *arg)
{
    (void)arg;
    for (int k = 0; k < 3; k++)
        CHECK(gmp_getspecific(mk[k]) == NULL, "the main goroutine sees its thread's value");
    test_args();
    test_migration();
    test_destructors();
    test_threads();
    test_delete_reuse();
    test_limit();
}

int main(void)
{
    h_check_lib();
    for (int k = 0; k < 3; k++) CHECK_EQ(gmp_key_create(&mk[k], NULL), 0);
    CHECK_EQ(gmp_setspecific(mk[0], &thread_slot_value), 0); /* the main thread's slot */
    h_main(main_g, NULL);
    CHECK(gmp_getspecific(mk[0]) == &thread_slot_value, "the main thread's slot changed");
    CHECK(gmp_getspecific(mk[1]) == NULL, "the main thread's slot changed");
    printf("t_keys: ok\n");
    return 0;
}
