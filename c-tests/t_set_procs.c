/*
 * t_set_procs: gmp_set_procs changes the number of Ps while goroutines run.
 *
 * W workers loop: read the current phase p, gmp_gosched(), and if the phase is still p run a
 * short CPU-only "section" counted in running[p]; a section asserts running[p] <= procs of
 * phase p. The main goroutine walks through a sequence of P counts (one change made from a plain
 * pthread); after each gmp_set_procs(n) it checks the return value is the previous count and
 * stats.procs == n, publishes the new phase, and waits (polling with gmp_gosched, 30 s deadline)
 * until the workers completed MIN_SECTIONS sections in it.
 *
 * Why the gosched between reading the phase and entering the section: this runtime resizes
 * without stopping the world (p.rs): a P beyond the new count retires when its M next enters
 * the scheduler. A worker that saw phase p and then passed a schedule point is therefore on one
 * of the n remaining Ps, so at most n sections of phase p can execute at once. Asynchronous
 * preemption is turned off (GMP_DEBUG=asyncpreemptoff=1, set before the runtime starts): a worker
 * preempted inside a section would stay counted while its P runs another worker.
 *
 * Catches: Ps that never retire after shrinking (more than n goroutines executing at once),
 * new Ps that never start or strand work (a phase makes no progress -> deadline), wrong return
 * values, stats.procs not following.
 */
#include "harness.h"

#define W 8
#define MIN_SECTIONS 400
#define MAXPHASE 16
#define TRANSITION (MAXPHASE - 1) /* phase_procs[TRANSITION] = INT_MAX: unchecked */

static H_ATOMIC(int) phase;
static int phase_procs[MAXPHASE];
static H_ATOMIC(int) running[MAXPHASE];
static H_ATOMIC(int) max_running[MAXPHASE];
static H_ATOMIC(long) sections[MAXPHASE];
static H_ATOMIC(int) stop;
static wg_t wg;

static void worker(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop)) {
        int p = atomic_load(&phase);
        gmp_gosched();
        if (atomic_load(&phase) != p) continue;
        int now = atomic_fetch_add(&running[p], 1) + 1;
        int mx = atomic_load(&max_running[p]);
        while (now > mx && !atomic_compare_exchange_strong(&max_running[p], &mx, now)) {
        }
        CHECK(now <= phase_procs[p], "phase %d: %d goroutines executing with procs=%d", p, now,
              phase_procs[p]);
        volatile unsigned x = 0;
        for (int i = 0; i < 3000; i++) x += (unsigned)i;
        atomic_fetch_sub(&running[p], 1);
        atomic_fetch_add(&sections[p], 1);
    }
    wg_done(&wg);
}

typedef struct {
    int n, prev;
    ev_t done;
} thread_req;

static void *thread_set(void *arg)
{
    thread_req *q = (thread_req *)arg;
    q->prev = gmp_set_procs(q->n);
    ev_set(&q->done);
    return NULL;
}

static int orig;
static pthread_t setter;

static void set_and_check(int idx, int n, int expect_prev, bool from_thread)
{
    int prev;
    /* Between the change and the store of the new phase below, goroutines count against
     * neither limit: park them in the unchecked transition phase first. */
    atomic_store(&phase, TRANSITION);
    if (from_thread) {
        static thread_req q;
        q.n = n;
        ev_init(&q.done);
        CHECK(pthread_create(&setter, NULL, thread_set, &q) == 0, "pthread_create");
        ev_wait(&q.done);
        prev = q.prev;
    } else {
        prev = gmp_set_procs(n);
    }
    CHECK(prev == expect_prev, "gmp_set_procs(%d) returned %d, expected %d", n, prev,
          expect_prev);
    CHECK_EQ(gmp_set_procs(0), n);
    CHECK_EQ(h_stats().procs, n);
    phase_procs[idx] = n;
    atomic_store(&phase, idx);
    H_GOSCHED_UNTIL(atomic_load(&sections[idx]) >= MIN_SECTIONS, 30,
                    "phase %d (procs=%d): only %ld sections completed", idx, n,
                    atomic_load(&sections[idx]));
}

static void main_fn(void *arg)
{
    (void)arg;
    static const int seq[] = {1, 4, 2, 8, 1, 3, 1, 2};
    const int nseq = (int)(sizeof seq / sizeof seq[0]);
    phase_procs[0] = orig;
    phase_procs[TRANSITION] = INT_MAX;
    wg_init(&wg);
    wg_add(&wg, W);
    for (int i = 0; i < W; i++) h_spawn(worker, NULL);
    H_GOSCHED_UNTIL(atomic_load(&sections[0]) >= MIN_SECTIONS, 30, "phase 0 made no progress");
    int prev = orig;
    for (int i = 0; i < nseq; i++) {
        set_and_check(i + 1, seq[i], prev, seq[i] == 8);
        prev = seq[i];
    }
    set_and_check(nseq + 1, orig, prev, false);
    atomic_store(&stop, 1);
    wg_wait(&wg);
}

int main(void)
{
    setenv("GMP_DEBUG", "asyncpreemptoff=1", 1);
    h_check_lib();
    orig = gmp_set_procs(0);
    CHECK(orig >= 1, "gmp_set_procs(0) = %d", orig);
    if (h_env_procs() > 0) CHECK_EQ(orig, h_env_procs());
    h_main(main_fn, NULL);
    pthread_join(setter, NULL);
    printf("t_set_procs: ok; max concurrent sections per phase:");
    for (int i = 0; i <= 9; i++)
        printf(" %d/%d", atomic_load(&max_running[i]), phase_procs[i]);
    printf("\n");
    return 0;
}
