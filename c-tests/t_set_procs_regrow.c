/*
 * t_set_procs_regrow: a shrinking gmp_set_procs in a goroutine returns when another thread
 * raises the count again while it waits.
 *
 * gmp_set_procs(n) returns once no goroutine runs on a surplus P. If another call raises the
 * count meanwhile, the Ps below the new count are live again, not surplus: a goroutine may run
 * on them for good — the caller itself among them. Found by t_storm: a goroutine setter that
 * waited for such Ps looped in gmp_gosched forever (stats showed millions of yields; a
 * scheduler snapshot caught it `runnable` between two rounds of the loop, so it looked like a
 * goroutine lost by the scheduler).
 *
 * Deterministic, in a child process (h_run_self) with GMP_MAXPROCS=1 and
 * GMP_DEBUG=asyncpreemptoff=1, so that a CPU-bound goroutine keeps its P until told to stop:
 *  1. the main goroutine (on P0, the only P) calls gmp_set_procs(2), spawns the spinner X and,
 *     without yielding, waits until X runs: on P1 (P0 is the main goroutine's, which has not
 *     yielded since);
 *  2. it starts a plain thread T, then calls gmp_set_procs(1): P1 is surplus, X never yields,
 *     so the call waits (gosched loop on P0);
 *  3. T waits until gmp_set_procs(0) reads 1 (the shrink took effect), then calls
 *     gmp_set_procs(2): P1 is live again;
 *  4. the main goroutine's gmp_set_procs(1) must now return (X still spins on P1) and return
 *     2; only then does it stop X.
 * Against the library without the fix, step 4 never happens: the child is killed after
 * H_CHILD_SECS and the test fails with the child's stderr.
 */
#include "harness.h"

static H_ATOMIC(int) x_running, stop;
static pthread_t t;
static wg_t wg;

static void spinner(void *arg)
{
    (void)arg;
    atomic_store(&x_running, 1);
    volatile uint64_t v = 1;
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) v = v * 6364136223846793005ULL + 1;
    wg_done(&wg);
}

static void *regrow(void *arg)
{
    (void)arg;
    int64_t dl = h_now_ns() + 10 * (int64_t)1000000000;
    while (gmp_set_procs(0) != 1) {
        CHECK(h_now_ns() < dl, "the main goroutine's gmp_set_procs(1) never took effect");
        sched_yield();
    }
    int prev = gmp_set_procs(2);
    CHECK(prev == 1, "gmp_set_procs(2) returned %d, want 1", prev);
    return NULL;
}

static void main_fn(void *arg)
{
    (void)arg;
    CHECK_EQ(gmp_set_procs(2), 1);
    wg_init(&wg);
    wg_add(&wg, 1);
    h_spawn(spinner, NULL);
    /* No yield here: P0 stays ours, so X can only run on P1. */
    int64_t dl = h_now_ns() + 10 * (int64_t)1000000000;
    while (!atomic_load(&x_running)) CHECK(h_now_ns() < dl, "the spinner never started");

    CHECK(pthread_create(&t, NULL, regrow, NULL) == 0, "pthread_create");
    int prev = gmp_set_procs(1);
    /* Returned while X still spins on P1: T's gmp_set_procs(2), which came after ours (it
     * waited to see 1), made P1 live again. */
    CHECK(prev == 2, "gmp_set_procs(1) returned %d, want 2", prev);
    CHECK_EQ(gmp_set_procs(0), 2);
    atomic_store(&stop, 1);
    wg_wait(&wg);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "child") == 0) {
        h_main(main_fn, NULL);
        CHECK(pthread_join(t, NULL) == 0, "pthread_join");
        printf("t_set_procs_regrow: child ok\n");
        return 0;
    }
    h_check_lib();
    static char err[16384];
    const char *args[] = {"child", NULL};
    const char *env[] = {"GMP_MAXPROCS=1", "GMP_DEBUG=asyncpreemptoff=1", NULL};
    int st;
    h_run_self(args, env, err, sizeof err, &st);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child %s; stderr: %.4000s",
          h_describe_status(st), err);
    printf("t_set_procs_regrow: ok\n");
    return 0;
}
