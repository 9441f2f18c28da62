/*
 * t_preempt: asynchronous preemption stops a goroutine that never yields.
 *
 * With ONE P: the main goroutine spawns goroutine A, which announces itself and then spins on
 * an atomic flag without calling anything; the main goroutine yields (gmp_gosched loop) until A
 * has announced, then sets the flag. Once A spins, the main goroutine can only run again if A
 * is preempted, so without preemption this hangs (watchdog / timeout = FAIL). (The setter must
 * not be a freshly spawned goroutine: Go puts a new goroutine in runnext, so it would run before
 * A and nothing would need preempting.) Asserts: it completes (elapsed well under 10 s; Go
 * preempts after ~10 ms), stats.preemptions grew, and A is on the same OS thread before and
 * after (api.md: asynchronous preemption never moves a goroutine to another thread). ROUNDS
 * rounds. Then the same with all Ps and procs+2 spinners.
 *
 * Catches: no preemption (hang), preemption that corrupts the preempted goroutine's registers
 * (its integer and floating-point loop state is recomputed and compared), preempted goroutines
 * resumed on another M.
 */
#include "harness.h"

#define ROUNDS 5

static H_ATOMIC(int) flag;
static H_ATOMIC(int) spinning;
static wg_t wg;

static void spinner(void *arg)
{
    (void)arg;
    pid_t tid = h_gettid();
    unsigned long spins = 0;
    double acc = 1.0; /* keep some FP state live across the preemption */
    atomic_fetch_add(&spinning, 1);
    while (!atomic_load_explicit(&flag, memory_order_relaxed)) {
        spins++;
        acc = acc * 1.0000001 + 1e-9;
    }
    CHECK(h_gettid() == tid, "preempted goroutine resumed on thread %d, started on %d",
          (int)h_gettid(), (int)tid);
    /* Recompute: the loop's live registers (spins, acc: integer and SSE) must have survived
     * the preemption bit for bit. */
    double want = 1.0;
    for (unsigned long i = 0; i < spins; i++) want = want * 1.0000001 + 1e-9;
    CHECK(want == acc, "registers corrupted: spins %lu acc %.17g want %.17g", spins, acc, want);
    wg_done(&wg);
}

static void round_(int nspin)
{
    atomic_store(&flag, 0);
    atomic_store(&spinning, 0);
    wg_init(&wg);
    wg_add(&wg, nspin);
    for (int i = 0; i < nspin; i++) h_spawn(spinner, NULL);
    /* Every spinner must be spinning before we (the setter) get to run again. */
    H_GOSCHED_UNTIL(atomic_load(&spinning) == nspin, 60, "only %d of %d spinners started",
                    atomic_load(&spinning), nspin);
    atomic_store(&flag, 1);
    wg_wait(&wg);
}

static int orig;

static void main_fn(void *arg)
{
    (void)arg;
    gmp_stats s0 = h_stats();
    int64_t t0 = h_now_ns();
    for (int r = 0; r < ROUNDS; r++) round_(1);
    int64_t dt = h_now_ns() - t0;
    gmp_stats s1 = h_stats();
    CHECK(s1.preemptions > s0.preemptions, "no preemption counted");
    CHECK(dt < 10LL * 1000000000, "%d preemption rounds took %lld ms", ROUNDS,
          (long long)(dt / 1000000));
    CHECK_EQ(gmp_set_procs(orig), 1);
    for (int r = 0; r < ROUNDS; r++) round_(orig + 2);
}

int main(void)
{
    h_check_lib();
    orig = gmp_set_procs(1);
    h_main(main_fn, NULL);
    printf("t_preempt: ok (preemptions %llu)\n", (unsigned long long)h_stats().preemptions);
    return 0;
}
