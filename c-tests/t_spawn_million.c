/*
 * t_spawn_million: 1,000,000 goroutines each run exactly once.
 *
 * A main goroutine spawns them in batches of BATCH and waits for each batch (so at most BATCH
 * are alive: each holds a 256 KiB stack reservation, two mappings and >= 1 touched page; a
 * million at once would exceed vm.max_map_count). Each goroutine increments ran[i] and records
 * gmp_goid(NULL); afterwards every ran[i] == 1, the id it saw equals the id gmp_spawn returned,
 * ids are > 0 and unique, the total is exactly 1e6, stats.spawned grew by >= 1e6 and the live goroutine
 * count returns to where it was (stacks/Gs are recycled, not leaked into "live").
 *
 * Catches: lost goroutines (run-queue overflow bugs, races in runqput/steal: hang or ran[i]==0),
 * goroutines run twice (ran[i]==2), wrong arg delivery, goid mix-ups when Gs are reused.
 */
#include "harness.h"

#define TOTAL 1000000
#define BATCH 10000

static H_ATOMIC(unsigned char) ran[TOTAL];
static int64_t ids[TOTAL];
static H_ATOMIC(int64_t) seen_id[TOTAL];
static H_ATOMIC(long) total;
static wg_t wg;

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void one(void *arg)
{
    size_t i = (size_t)(uintptr_t)arg;
    atomic_fetch_add(&ran[i], (unsigned char)1);
    atomic_store(&seen_id[i], gmp_goid(NULL));
    atomic_fetch_add(&total, 1);
    wg_done(&wg);
}

static void main_fn(void *arg)
{
    (void)arg;
    gmp_stats s0 = h_stats();
    for (size_t b = 0; b < TOTAL; b += BATCH) {
        wg_init(&wg);
        wg_add(&wg, BATCH);
        for (size_t i = b; i < b + BATCH; i++) {
            ids[i] = gmp_spawn(one, (void *)(uintptr_t)i);
            CHECK(ids[i] > 0, "spawn %zu returned %lld", i, (long long)ids[i]);
        }
        wg_wait(&wg);
        for (size_t i = b; i < b + BATCH; i++) {
            CHECK(atomic_load(&ran[i]) == 1, "goroutine %zu ran %d times", i,
                  (int)atomic_load(&ran[i]));
            CHECK(atomic_load(&seen_id[i]) == ids[i], "goroutine %zu saw id %lld, spawn said %lld",
                  i, (long long)atomic_load(&seen_id[i]), (long long)ids[i]);
        }
    }
    CHECK_EQ(atomic_load(&total), TOTAL);
    qsort(ids, TOTAL, sizeof ids[0], cmp_i64);
    for (size_t i = 1; i < TOTAL; i++)
        CHECK(ids[i] != ids[i - 1], "goroutine id %lld returned twice", (long long)ids[i]);
    gmp_stats s1 = h_stats();
    CHECK(s1.spawned - s0.spawned >= TOTAL, "stats.spawned grew by %llu",
          (unsigned long long)(s1.spawned - s0.spawned));
    /* A goroutine has called wg_done but may not have returned yet: wait for the count to drop. */
    H_GOSCHED_UNTIL(h_stats().goroutines <= s0.goroutines, 30,
                    "live goroutines stuck at %llu (was %llu before)",
                    (unsigned long long)h_stats().goroutines, (unsigned long long)s0.goroutines);
    printf("t_spawn_million: %d goroutines ran once each\n", TOTAL);
}

int main(void)
{
    h_check_lib();
    h_main(main_fn, NULL);
    return 0;
}
