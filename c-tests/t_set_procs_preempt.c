/*
 * t_set_procs_preempt: gmp_set_procs called over and over, from goroutines and from plain
 * threads at once, while asynchronous preemption fires all the time.
 *
 * The parent never starts the runtime: it runs ROUNDS rounds, each in a fresh child process
 * (h_run_self: this program with the argument "round"; a child still running after 20 s is
 * killed and the test fails), and requires exit status 0 from each. Fresh processes because
 * the runtime allocates a P only above the process's high-water mark of Ps, which never goes
 * down, and those allocations are what the grower (below) exercises.
 *
 * One round, inside gmp_main (asynchronous preemption on, the default):
 *  - SPINNERS goroutines spin in pure C code (an LCG step and a floating-point add per
 *    iteration, no calls) until the end of the round, so sysmon, and every shrinking
 *    gmp_set_procs (which preempts the goroutines on surplus Ps), keeps preempting goroutines
 *    throughout. At the end each spinner's LCG state must equal the LCG jumped ahead by its
 *    iteration count (lcg_jump, O(log n)) and its float count must equal the iteration count:
 *    a preemption that corrupts integer or SSE registers shows. Each spinner must also end on
 *    the thread it started on (asynchronous preemption never moves a goroutine).
 *  - GSETTERS goroutines and TSETTERS plain pthreads each call gmp_set_procs(n) SET_ITERS
 *    times in a tight loop (no yield of their own between calls), n walking the cycle
 *    1 2 3 4 3 2 (each setter from a different offset), reading the count back with
 *    gmp_set_procs(0) after each change, then make one final gmp_set_procs(1).
 *  - The grower, a goroutine, calls gmp_set_procs(k) for k = 5, 6, ..., PMAX without yielding
 *    (GROW_FILL gmp_stats_read calls after each), then a final gmp_set_procs(1). Every k
 *    beyond the high-water mark makes the runtime allocate a P (malloc, in libc) while it
 *    holds sched.lock, and the grower is meanwhile a preemption target: of sysmon (it runs
 *    past the 10 ms slice) and of the other setters' shrinking calls (when it is on a
 *    surplus P). See grower() for the filler.
 *  - SPAWNERS goroutines each spawn BATCHES batches of BATCH goroutines and wait for each
 *    batch with a wait group (gmp_park; the batch's last goroutine readies the spawner); each
 *    spawned goroutine increments its own slot in ran[] once.
 * Every value gmp_set_procs returns must be one some setter set (1..PMAX) or the starting
 * count. The main goroutine waits until the setters and spawners are done, then stops the
 * spinners. Checks, all exact: each setter made SET_ITERS + 1 calls, the grower PMAX - 4 + 1;
 * every spawned goroutine ran exactly once (NSPAWNED slots, each 1, total NSPAWNED); the
 * spinners' results; stats.preemptions grew; the goroutine count returns to the baseline.
 * Procs: the globally last gmp_set_procs before the main goroutine's own is some setter's
 * final gmp_set_procs(1) (each setter's calls are sequential and end with it), so
 * gmp_set_procs(0) == 1; gmp_set_procs(orig) then returns 1, and gmp_set_procs(0) and
 * stats.procs are orig.
 *
 * Why every setter ends with gmp_set_procs(1): a shrinking call returns only once no goroutine
 * runs on a P at or beyond ITS n; if another setter grows procs meanwhile, those Ps are live
 * again and (with the spinners busy) running, so the shrinking caller waits until some later
 * call shrinks again. With the last call overall being a set(1), every such waiter is released.
 * The spinners stop only after all setters returned, so a round's length is bounded by the
 * setters' iteration counts, not by sleeps or timers (0.2-0.6 s on 2 vCPUs).
 *
 * Catches: gmp_set_procs in a goroutine asynchronously preempted while the runtime holds
 * sched.lock inside libc (the P allocation) or is inside malloc/pthread_create on the
 * runtime's behalf: the preemption path takes sched.lock, so the M deadlocks on itself and
 * the round hangs (killed after 20 s: FAIL). Against the library without a fix for that, about
 * half the rounds hang, so ROUNDS = 5 catches it in nearly every run. Also: a runtime lock held
 * across a goroutine switch; lost or duplicated goroutines while Ps are destroyed and revived
 * under load; corrupted registers; wrong return values; procs not settling on the last value.
 */
#include "harness.h"

#ifndef SPINNERS
#define SPINNERS 3
#endif
#ifndef GSETTERS
#define GSETTERS 3
#endif
#ifndef TSETTERS
#define TSETTERS 2
#endif
#define SETTERS (GSETTERS + TSETTERS + 1) /* + the grower */
#define GROWER (GSETTERS + TSETTERS)      /* its index in calls[] */
#ifndef SET_ITERS
#define SET_ITERS 300
#endif
#ifndef PMAX
#define PMAX 1024 /* the grower's highest count (the runtime's maximum) */
#endif
#ifndef GROW_FILL
#define GROW_FILL 20 /* gmp_stats_read calls after each of the grower's calls */
#endif
#define GROW_CALLS (PMAX - 4)
#ifndef SPAWNERS
#define SPAWNERS 2
#endif
#ifndef BATCHES
#define BATCHES 100
#endif
#ifndef BATCH
#define BATCH 64
#endif
#define NSPAWNED (SPAWNERS * BATCHES * BATCH)
#ifndef ROUNDS
#define ROUNDS 5
#endif

#define LCG_A 6364136223846793005ULL
#define LCG_C 1442695040888963407ULL

static const int cycle[] = {1, 2, 3, 4, 3, 2};
#define NCYCLE ((int)(sizeof cycle / sizeof cycle[0]))

static int orig;
static H_ATOMIC(int) stop;
static H_ATOMIC(int) spinning;
static H_ATOMIC(long) calls[SETTERS];
static H_ATOMIC(unsigned char) ran[NSPAWNED];
static H_ATOMIC(long) nran;
static wg_t spin_wg, work_wg, batch_wg[SPAWNERS];

/* ------------------------------------------------------------------ spinners */

typedef struct spin {
    uint64_t seed, x, iters;
    double d;
    pid_t tid0, tid1;
} spin;
static spin spins[SPINNERS];

/* The LCG x -> A x + C applied k times, by squaring the affine map. */
static uint64_t lcg_jump(uint64_t x, uint64_t k)
{
    uint64_t a = LCG_A, c = LCG_C;
    while (k) {
        if (k & 1) x = a * x + c;
        c = a * c + c;
        a = a * a;
        k >>= 1;
    }
    return x;
}

static void spinner(void *arg)
{
    spin *s = (spin *)arg;
    s->tid0 = h_gettid();
    uint64_t x = s->seed, k = 0;
    double d = 0.0;
    atomic_fetch_add(&spinning, 1);
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        x = x * LCG_A + LCG_C;
        d += 1.0;
        k++;
    }
    s->x = x;
    s->iters = k;
    s->d = d;
    s->tid1 = h_gettid();
    wg_done(&spin_wg);
}

/* ------------------------------------------------------------------ setters */

static bool valid_procs(int v) { return (v >= 1 && v <= PMAX) || v == orig; }

static void set_loop(int who)
{
    for (int i = 0; i < SET_ITERS; i++) {
        int n = cycle[(i + who) % NCYCLE];
        int prev = gmp_set_procs(n);
        CHECK(valid_procs(prev), "setter %d: gmp_set_procs(%d) returned %d (orig %d)", who, n,
              prev, orig);
        int now = gmp_set_procs(0);
        CHECK(valid_procs(now), "setter %d: gmp_set_procs(0) returned %d (orig %d)", who, now,
              orig);
        atomic_fetch_add(&calls[who], 1);
    }
    int prev = gmp_set_procs(1);
    CHECK(valid_procs(prev), "setter %d: final gmp_set_procs(1) returned %d", who, prev);
    atomic_fetch_add(&calls[who], 1);
}

static void gsetter(void *arg)
{
    set_loop((int)(intptr_t)arg);
    wg_done(&work_wg);
}

/* The grower: raises procs one by one to new highs, k = 5 .. PMAX, without yielding. Each call
 * beyond the high-water mark of Ps allocates a P (malloc, in libc) while the runtime holds
 * sched.lock. After each call, GROW_FILL gmp_stats_read calls keep it inside libgmp (where the
 * SIGURG handler refuses to preempt) most of the time: it runs past sysmon's 10 ms slice, is
 * marked, and is then signalled every sysmon tick until a signal lands outside libgmp's text:
 * in this loop's own code (a harmless preemption) or in that malloc (the bug). Without the
 * filler, a round hit the bug about 1 time in 10; with it, about 1 in 2. */
static void grower(void *arg)
{
    (void)arg;
    for (int k = 5; k <= PMAX; k++) {
        int prev = gmp_set_procs(k);
        CHECK(valid_procs(prev), "grower: gmp_set_procs(%d) returned %d", k, prev);
        atomic_fetch_add(&calls[GROWER], 1);
        for (int f = 0; f < GROW_FILL; f++) {
            gmp_stats st;
            int r = gmp_stats_read(&st);
            CHECK(r == 0 && valid_procs((int)st.procs), "gmp_stats_read: %d, procs %u", r,
                  st.procs);
        }
    }
    int prev = gmp_set_procs(1);
    CHECK(valid_procs(prev), "grower: final gmp_set_procs(1) returned %d", prev);
    atomic_fetch_add(&calls[GROWER], 1);
    wg_done(&work_wg);
}

static void *tsetter(void *arg)
{
    CHECK(gmp_self() == NULL, "a plain thread is in goroutine context");
    set_loop((int)(intptr_t)arg);
    wg_done(&work_wg);
    return NULL;
}

/* ------------------------------------------------------------------ spawners */

static void spawnee(void *arg)
{
    intptr_t i = (intptr_t)arg;
    atomic_fetch_add(&ran[i], (unsigned char)1);
    atomic_fetch_add(&nran, 1L);
    wg_done(&batch_wg[i / (BATCHES * BATCH)]);
}

static void spawner(void *arg)
{
    int s = (int)(intptr_t)arg;
    for (int b = 0; b < BATCHES; b++) {
        wg_init(&batch_wg[s]);
        wg_add(&batch_wg[s], BATCH);
        for (int j = 0; j < BATCH; j++)
            h_spawn(spawnee, (void *)(intptr_t)((s * BATCHES + b) * BATCH + j));
        wg_wait(&batch_wg[s]);
    }
    wg_done(&work_wg);
}

/* ------------------------------------------------------------------ main */

static pthread_t threads[TSETTERS];

static void main_fn(void *arg)
{
    (void)arg;
    gmp_stats s0 = h_stats();
    int64_t t0 = h_now_ns();

    wg_init(&spin_wg);
    wg_add(&spin_wg, SPINNERS);
    for (int i = 0; i < SPINNERS; i++) {
        spins[i].seed = 0x9e3779b97f4a7c15ULL * (uint64_t)(i + 1);
        h_spawn(spinner, &spins[i]);
    }
    /* Preemption is under way before the first gmp_set_procs. */
    H_GOSCHED_UNTIL(atomic_load(&spinning) == SPINNERS, 30, "only %d of %d spinners started",
                    atomic_load(&spinning), SPINNERS);

    wg_init(&work_wg);
    wg_add(&work_wg, SETTERS + SPAWNERS);
    for (int i = 0; i < SPAWNERS; i++) h_spawn(spawner, (void *)(intptr_t)i);
    for (int i = 0; i < GSETTERS; i++) h_spawn(gsetter, (void *)(intptr_t)i);
    h_spawn(grower, NULL);
    for (int i = 0; i < TSETTERS; i++)
        CHECK(pthread_create(&threads[i], NULL, tsetter, (void *)(intptr_t)(GSETTERS + i)) == 0,
              "pthread_create");
    wg_wait(&work_wg);
    int64_t t1 = h_now_ns();

    atomic_store(&stop, 1);
    wg_wait(&spin_wg);

    for (int i = 0; i < GSETTERS + TSETTERS; i++)
        CHECK(atomic_load(&calls[i]) == SET_ITERS + 1, "setter %d made %ld calls, want %d", i,
              atomic_load(&calls[i]), SET_ITERS + 1);
    CHECK(atomic_load(&calls[GROWER]) == GROW_CALLS + 1, "the grower made %ld calls, want %d",
          atomic_load(&calls[GROWER]), GROW_CALLS + 1);
    CHECK_EQ(atomic_load(&nran), NSPAWNED);
    for (int i = 0; i < NSPAWNED; i++)
        CHECK(atomic_load(&ran[i]) == 1, "spawned goroutine %d ran %d times", i,
              (int)atomic_load(&ran[i]));
    uint64_t iters = 0;
    for (int i = 0; i < SPINNERS; i++) {
        spin *s = &spins[i];
        uint64_t want = lcg_jump(s->seed, s->iters);
        CHECK(s->x == want, "spinner %d: LCG state %llx after %llu iterations, want %llx", i,
              (unsigned long long)s->x, (unsigned long long)s->iters, (unsigned long long)want);
        CHECK(s->d == (double)s->iters, "spinner %d: float count %.17g after %llu iterations", i,
              s->d, (unsigned long long)s->iters);
        CHECK(s->tid0 == s->tid1, "spinner %d: started on thread %d, ended on %d", i,
              (int)s->tid0, (int)s->tid1);
        iters += s->iters;
    }

    gmp_stats s1 = h_stats();
    CHECK(s1.preemptions > s0.preemptions, "no asynchronous preemption during the test");
    CHECK_EQ(gmp_set_procs(0), 1);
    CHECK_EQ(gmp_set_procs(orig), 1);
    CHECK_EQ(gmp_set_procs(0), orig);
    CHECK_EQ(h_stats().procs, orig);
    H_GOSCHED_UNTIL(h_stats().goroutines == s0.goroutines, 30,
                    "goroutines stays at %llu, baseline %llu",
                    (unsigned long long)h_stats().goroutines,
                    (unsigned long long)s0.goroutines);

    printf("t_set_procs_preempt: round: %d setters x %d calls, grower %d calls, %d spawned, in "
           "%lld ms; spinners %llu iterations; preemptions %llu; threads %u\n",
           GSETTERS + TSETTERS, SET_ITERS + 1, GROW_CALLS + 1, NSPAWNED,
           (long long)((t1 - t0) / 1000000), (unsigned long long)iters,
           (unsigned long long)(s1.preemptions - s0.preemptions), s1.threads);
}

/* One round, in a process of its own (the runtime starts here). */
static int round_main(void)
{
    orig = gmp_set_procs(0);
    CHECK(orig >= 1, "gmp_set_procs(0) = %d", orig);
    if (h_env_procs() > 0) CHECK_EQ(orig, h_env_procs());
    h_main(main_fn, NULL);
    for (int i = 0; i < TSETTERS; i++) CHECK(pthread_join(threads[i], NULL) == 0, "pthread_join");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "round") == 0) return round_main();
    h_check_lib();
    static char err[65536];
    for (int r = 0; r < ROUNDS; r++) {
        const char *args[] = {"round", NULL};
        int st;
        h_run_self(args, NULL, err, sizeof err, &st);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "round %d of %d: child %s; stderr: %.4000s",
              r + 1, ROUNDS, h_describe_status(st), err);
    }
    printf("t_set_procs_preempt: ok (%d rounds)\n", ROUNDS);
    return 0;
}
