/*
 * t_exit_main: gmp_exit, gmp_main's lifecycle, goroutine ids.
 *
 * gmp_exit: NEXIT goroutines each call a 3-deep helper chain that sets a "before" mark, signals
 * the wait group, then calls gmp_exit(); code after gmp_exit (in the helper and in every caller
 * frame) increments "after". Once all have signalled, the live goroutine count must drop back to
 * its baseline (an exited goroutine is ended) and "after" must still be 0.
 * gmp_main: returns 0 once its fn returns, even with other goroutines still alive (a lingering
 * goroutine parked on an event, and one spinning in gmp_gosched); it can be called a second
 * time; the second main goroutine can wake the lingering goroutine left over from the first
 * (it kept its state) and it still runs. Each fn ran exactly once.
 * Ids: NIDS sequential spawns from one goroutine return ids > 0, all unique, each equal to
 * what the goroutine itself sees via gmp_goid(NULL) and gmp_goid(gmp_self()); "increasing-ish":
 * Go hands ids out from per-P batches, so ids from one spawner increase except when it moves to
 * another P; we require at most NIDS/100 decreases in the sequence. The main goroutines' ids are
 * > 0 and differ between the two gmp_main calls.
 *
 * Catches: gmp_exit that returns (or only unwinds one frame), exited goroutines never freed,
 * gmp_main that waits for all goroutines or cannot be re-entered, ids reused or mismatched.
 */
#include "harness.h"

#define NEXIT 200
#define NIDS 5000

static H_ATOMIC(int) before, after;
static wg_t exit_wg;

__attribute__((noinline)) static void level3(void)
{
    atomic_fetch_add(&before, 1);
    wg_done(&exit_wg);
    int r = gmp_exit();
    atomic_fetch_add(&after, 1);
    CHECK(0, "gmp_exit returned %d in goroutine context", r);
}
__attribute__((noinline)) static void level2(void)
{
    level3();
    atomic_fetch_add(&after, 1);
}
static void exiter(void *arg)
{
    (void)arg;
    level2();
    atomic_fetch_add(&after, 1);
}

static int64_t ids[NIDS];
static H_ATOMIC(int64_t) seen[NIDS];
static wg_t id_wg;
static void id_fn(void *arg)
{
    size_t i = (size_t)(uintptr_t)arg;
    CHECK_EQ(gmp_goid(NULL), gmp_goid(gmp_self()));
    atomic_store(&seen[i], gmp_goid(NULL));
    wg_done(&id_wg);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Lingering goroutines that outlive the first gmp_main. */
static ev_t linger_ev, linger_done;
static H_ATOMIC(int) linger_state;
static H_ATOMIC(int) spin_stop;
static H_ATOMIC(long) spin_rounds;
static void linger(void *arg)
{
    (void)arg;
    atomic_store(&linger_state, 1);
    ev_wait(&linger_ev); /* parked across the end of the first gmp_main */
    atomic_store(&linger_state, 2);
    ev_set(&linger_done);
}
static void spin(void *arg)
{
    (void)arg;
    while (!atomic_load(&spin_stop)) {
        atomic_fetch_add(&spin_rounds, 1);
        gmp_gosched();
    }
}

static H_ATOMIC(int) main1_runs, main2_runs;
static int64_t main1_id, main2_id;

static void main1(void *arg)
{
    (void)arg;
    atomic_fetch_add(&main1_runs, 1);
    main1_id = gmp_goid(NULL);
    CHECK(main1_id > 0, "main goroutine id %lld", (long long)main1_id);

    /* gmp_exit */
    uint64_t base = h_stats().goroutines;
    wg_init(&exit_wg);
    wg_add(&exit_wg, NEXIT);
    for (int i = 0; i < NEXIT; i++) h_spawn(exiter, NULL);
    wg_wait(&exit_wg);
    H_GOSCHED_UNTIL(h_stats().goroutines <= base, 30,
                    "after gmp_exit live goroutines stay at %llu (baseline %llu)",
                    (unsigned long long)h_stats().goroutines, (unsigned long long)base);
    CHECK_EQ(atomic_load(&before), NEXIT);
    CHECK(atomic_load(&after) == 0, "code after gmp_exit ran %d times", atomic_load(&after));

    /* ids */
    wg_init(&id_wg);
    wg_add(&id_wg, NIDS);
    for (size_t i = 0; i < NIDS; i++) {
        ids[i] = h_spawn(id_fn, (void *)(uintptr_t)i);
        CHECK(ids[i] != main1_id, "spawned goroutine got the main goroutine's id");
    }
    wg_wait(&id_wg);
    int decreases = 0;
    for (size_t i = 0; i < NIDS; i++) {
        CHECK(atomic_load(&seen[i]) == ids[i], "goroutine %zu saw id %lld, spawn returned %lld",
              i, (long long)atomic_load(&seen[i]), (long long)ids[i]);
        if (i && ids[i] < ids[i - 1]) decreases++;
    }
    CHECK(decreases <= NIDS / 100, "ids from one spawner decreased %d times in %d", decreases,
          NIDS);
    qsort(ids, NIDS, sizeof ids[0], cmp_i64);
    for (size_t i = 1; i < NIDS; i++)
        CHECK(ids[i] != ids[i - 1], "id %lld handed out twice", (long long)ids[i]);

    /* leave goroutines behind */
    ev_init(&linger_ev);
    ev_init(&linger_done);
    h_spawn(linger, NULL);
    h_spawn(spin, NULL);
    H_GOSCHED_UNTIL(atomic_load(&linger_state) == 1, 30, "lingering goroutine never started");
}

static void main2(void *arg)
{
    (void)arg;
    atomic_fetch_add(&main2_runs, 1);
    main2_id = gmp_goid(NULL);
    CHECK(main2_id > 0 && main2_id != main1_id, "second main goroutine id %lld (first %lld)",
          (long long)main2_id, (long long)main1_id);
    CHECK_EQ(atomic_load(&linger_state), 1);
    ev_set(&linger_ev);
    ev_wait(&linger_done);
    CHECK_EQ(atomic_load(&linger_state), 2);
    long r0 = atomic_load(&spin_rounds);
    H_GOSCHED_UNTIL(atomic_load(&spin_rounds) > r0, 30, "spinning goroutine stopped running");
    atomic_store(&spin_stop, 1);
}

int main(void)
{
    h_check_lib();
    CHECK_EQ(gmp_main(main1, NULL), 0);
    CHECK_EQ(atomic_load(&main1_runs), 1);
    CHECK(gmp_self() == NULL, "main thread is a goroutine after gmp_main");
    CHECK_EQ(gmp_main(main2, NULL), 0);
    CHECK_EQ(atomic_load(&main1_runs), 1);
    CHECK_EQ(atomic_load(&main2_runs), 1);
    printf("t_exit_main: ok\n");
    return 0;
}
