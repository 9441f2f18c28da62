/*
 * t_spawn_threads: 8 plain pthreads call gmp_spawn at the same moment (released by a barrier),
 * each spawning PER goroutines. The very first gmp_* calls of the process are these racing
 * spawns, so the lazy start of the runtime is raced too. The main thread waits with the
 * harness's futex wait group (thread context).
 *
 * Asserts: every goroutine runs exactly once (ran[t][i] == 1), gets the argument it was given,
 * sees the id that gmp_spawn returned to its spawner; all ids are > 0 and unique over the
 * 160,000; the runtime started once (stats.procs is GMP_MAXPROCS).
 *
 * Catches: double initialisation of the runtime under racing first calls, lost goroutines or
 * ids handed out twice when several threads enqueue at once (global queue / id allocation not
 * thread-safe), spawns from thread context that never get run.
 */
#include "harness.h"

#define NTHREADS 8
#define PER 20000

static H_ATOMIC(unsigned char) ran[NTHREADS][PER];
static int64_t ids[NTHREADS][PER];
static H_ATOMIC(int64_t) seen[NTHREADS][PER];
static pthread_barrier_t barrier;
static wg_t wg;

static void one(void *arg)
{
    uintptr_t v = (uintptr_t)arg;
    size_t t = v / PER, i = v % PER;
    CHECK(t < NTHREADS, "bad arg %zu", (size_t)v);
    atomic_fetch_add(&ran[t][i], (unsigned char)1);
    atomic_store(&seen[t][i], gmp_goid(NULL));
    wg_done(&wg);
}

static void *spawner(void *arg)
{
    size_t t = (size_t)(uintptr_t)arg;
    pthread_barrier_wait(&barrier);
    CHECK(gmp_self() == NULL, "plain thread has a goroutine");
    for (size_t i = 0; i < PER; i++) {
        ids[t][i] = gmp_spawn(one, (void *)(uintptr_t)(t * PER + i));
        CHECK(ids[t][i] > 0, "thread %zu spawn %zu returned %lld", t, i, (long long)ids[t][i]);
    }
    return NULL;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

int main(void)
{
    h_check_lib();
    wg_init(&wg);
    wg_add(&wg, NTHREADS * PER);
    pthread_barrier_init(&barrier, NULL, NTHREADS);
    pthread_t th[NTHREADS];
    for (size_t t = 0; t < NTHREADS; t++)
        CHECK(pthread_create(&th[t], NULL, spawner, (void *)(uintptr_t)t) == 0, "pthread_create");
    for (size_t t = 0; t < NTHREADS; t++) pthread_join(th[t], NULL);
    wg_wait(&wg); /* thread context: futex */
    for (size_t t = 0; t < NTHREADS; t++)
        for (size_t i = 0; i < PER; i++) {
            CHECK(atomic_load(&ran[t][i]) == 1, "goroutine %zu/%zu ran %d times", t, i,
                  (int)atomic_load(&ran[t][i]));
            CHECK(atomic_load(&seen[t][i]) == ids[t][i], "goroutine %zu/%zu saw id %lld, spawn said %lld",
                  t, i, (long long)atomic_load(&seen[t][i]), (long long)ids[t][i]);
        }
    int64_t *all = &ids[0][0];
    qsort(all, NTHREADS * PER, sizeof *all, cmp_i64);
    for (size_t i = 1; i < NTHREADS * PER; i++)
        CHECK(all[i] != all[i - 1], "goroutine id %lld returned twice", (long long)all[i]);
    int want = h_env_procs();
    gmp_stats s = h_stats();
    if (want > 0) CHECK_EQ(s.procs, want);
    CHECK(s.spawned >= NTHREADS * PER, "stats.spawned = %llu", (unsigned long long)s.spawned);
    printf("t_spawn_threads: %d threads x %d spawns ok\n", NTHREADS, PER);
    return 0;
}
