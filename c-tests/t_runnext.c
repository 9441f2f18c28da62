/*
 * t_runnext: a goroutine readied by gmp_ready from a goroutine runs NEXT on the readier's P,
 * before goroutines that were already in that P's run queue (Go's runnext slot).
 *
 * The ordering is only defined with one P: with more, idle Ps steal the queued goroutines (Go
 * even steals runnext after a few microseconds), so "who ran first" would be a race. The test
 * therefore calls gmp_set_procs(1) for the ordering rounds whatever GMP_MAXPROCS says, and turns
 * off asynchronous preemption (GMP_DEBUG=asyncpreemptoff=1, set before the runtime starts) so
 * the controller cannot be preempted between queueing the goroutines and calling gmp_ready.
 * Then it restores the original P count and runs the same protocol asserting only that every
 * goroutine runs exactly once.
 *
 * Catches: gmp_ready appending to the tail of the local queue or to the global queue (the
 * readied G would run after the queued ones); a lost or doubled wake-up; gmp_ready != 0 on a
 * parked G.
 */
#include "harness.h"

#define K 8
#define ROUNDS 300

static H_ATOMIC(int) seq;
static H_ATOMIC(int) t_parked;
static H_ATOMIC(gmp_g *) t_g;
static H_ATOMIC(int) order_t;
static H_ATOMIC(int) order_q[K];
static wg_t wg;

static bool publish_unlockf(gmp_g *g, void *lock)
{
    (void)lock;
    atomic_store(&t_g, g);
    atomic_store(&t_parked, 1);
    return true;
}

static void t_fn(void *arg)
{
    (void)arg;
    int r = gmp_park(publish_unlockf, NULL);
    CHECK(r == 0, "gmp_park returned %d", r);
    atomic_store(&order_t, atomic_fetch_add(&seq, 1));
    wg_done(&wg);
}

static void q_fn(void *arg)
{
    int k = (int)(intptr_t)arg;
    atomic_store(&order_q[k], atomic_fetch_add(&seq, 1));
    wg_done(&wg);
}

static void round_(int round, bool ordered)
{
    atomic_store(&seq, 0);
    atomic_store(&t_parked, 0);
    atomic_store(&t_g, (gmp_g *)NULL);
    atomic_store(&order_t, -1);
    for (int k = 0; k < K; k++) atomic_store(&order_q[k], -1);
    wg_init(&wg);
    wg_add(&wg, 1 + K);

    h_spawn(t_fn, NULL);
    /* Let T run and park; its unlockf publishes it. */
    H_GOSCHED_UNTIL(atomic_load(&t_parked), 30, "T never parked");
    for (int k = 0; k < K; k++) h_spawn(q_fn, (void *)(intptr_t)k);
    if (ordered)
        CHECK(atomic_load(&seq) == 0, "round %d: a queued goroutine ran with 1 P before we yielded",
              round);
    int r = gmp_ready(atomic_load(&t_g));
    CHECK(r == 0, "round %d: gmp_ready(parked T) = %d", round, r);
    /* Odd rounds yield through the global queue, even rounds park: either way the P must take
     * runnext (T) before its queue. */
    if (round % 2) gmp_gosched();
    wg_wait(&wg);

    int ot = atomic_load(&order_t);
    CHECK(ot >= 0, "round %d: T never ran", round);
    if (ordered)
        CHECK(ot == 0, "round %d: readied T ran at position %d, after queued goroutines", round,
              ot);
    int seen = 0;
    for (int k = 0; k < K; k++) {
        int o = atomic_load(&order_q[k]);
        CHECK(o >= 0 && o <= K && o != ot, "round %d: Q%d ran at position %d", round, k, o);
        CHECK(!(seen & (1 << o)), "round %d: position %d taken twice", round, o);
        seen |= 1 << o;
    }
    CHECK_EQ(atomic_load(&seq), K + 1);
}

static int orig_procs;

static void main_fn(void *arg)
{
    (void)arg;
    for (int i = 0; i < ROUNDS; i++) round_(i, true);
    int prev = gmp_set_procs(orig_procs);
    CHECK(prev == 1, "gmp_set_procs returned %d, expected 1", prev);
    for (int i = 0; i < ROUNDS; i++) round_(i, false);
}

int main(void)
{
    setenv("GMP_DEBUG", "asyncpreemptoff=1", 1);
    h_check_lib();
    orig_procs = gmp_set_procs(1);
    CHECK(orig_procs >= 1, "gmp_set_procs(1) returned %d", orig_procs);
    CHECK_EQ(h_stats().procs, 1);
    h_main(main_fn, NULL);
    printf("t_runnext: %d ordered rounds at 1 P, %d rounds at %d P ok\n", ROUNDS, ROUNDS,
           orig_procs);
    return 0;
}
