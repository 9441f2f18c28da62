/*
 * gmp_mutex lock/unlock (Go's sync.Mutex).
 *   mutex P REPS uncontended: the main goroutine alone does MUTEX_UNC_N (10M) lock, counter++,
 *       unlock; ns per lock+unlock pair = wall time / MUTEX_UNC_N. run.sh: 1 P.
 *   mutex P REPS contended: MUTEX_G (8) goroutines each do MUTEX_CON_N / 8 (250,000) lock,
 *       counter++, unlock on one shared mutex, back to back (no work outside the lock);
 *       ns per pair = wall time from the first spawn to the last goroutine's end / MUTEX_CON_N
 *       (2M). run.sh: 2 P.
 * The counter is a plain (non-atomic) int64 incremented under the lock: it must come out at
 * exactly the number of pairs, or the benchmark fails (a mutex that lets two holders in loses
 * increments).
 *
 * Twin: go/mutex.go (sync.Mutex, the same loops).
 *
 * Output, one line per repetition (after one warm-up run):
 *   mutex procs=P mode=contended goroutines=8 n=2000000 ns_per_pair=<ns> counter=2000000
 * Usage: mutex [procs [reps [uncontended|contended]]]   (default: uncontended)
 */
#include "common.h"

#ifndef MUTEX_UNC_N
#define MUTEX_UNC_N 10000000 /* -D for a quick test only */
#endif
#ifndef MUTEX_CON_N
#define MUTEX_CON_N 2000000 /* -D for a quick test only; a multiple of MUTEX_G */
#endif
#define MUTEX_G 8

static gmp_mutex mu; /* zero = unlocked */
static int64_t counter;
static bench_wg wg;

static void worker(void *arg)
{
    (void)arg;
    for (int i = 0; i < MUTEX_CON_N / MUTEX_G; i++) {
        bench_mutex_lock(&mu);
        counter++;
        bench_mutex_unlock(&mu);
    }
    bench_wg_done(&wg);
}

/* Returns the number of lock+unlock pairs done. */
static int64_t mutex_once(bool contended)
{
    counter = 0;
    if (!contended) {
        for (int i = 0; i < MUTEX_UNC_N; i++) {
            bench_mutex_lock(&mu);
            counter++;
            bench_mutex_unlock(&mu);
        }
        return MUTEX_UNC_N;
    }
    bench_wg_init(&wg);
    bench_wg_add(&wg, MUTEX_G);
    for (int i = 0; i < MUTEX_G; i++)
        bench_spawn(worker, NULL);
    bench_wg_wait(&wg);
    return MUTEX_CON_N;
}

static bench_opts opts;
static bool contended;

static void check(int64_t n)
{
    /* The workers' last unlocks happen before their wg_done (acq_rel), the wait acquires. */
    if (counter != n)
        bench_die("mutex %s: counter %" PRId64 ", want %" PRId64 " (lost increments)",
                  contended ? "contended" : "uncontended", counter, n);
    if (gmp_mutex_trylock(&mu) != 0)
        bench_die("mutex: still locked after every goroutine unlocked it");
    bench_mutex_unlock(&mu);
}

static void bench_main(void *arg)
{
    (void)arg;
    check(mutex_once(contended)); /* warm-up */
    for (int r = 0; r < opts.reps; r++) {
        gmp_stats st0, st1;
        bench_stats_snap(&st0);
        int64_t t0 = bench_now_ns();
        int64_t n = mutex_once(contended);
        int64_t t1 = bench_now_ns();
        bench_stats_snap(&st1);
        bench_stats_print(contended ? "mutex contended" : "mutex uncontended", &st0, &st1, n);
        check(n);
        printf("mutex procs=%d mode=%s goroutines=%d n=%" PRId64 " ns_per_pair=%.1f counter=%"
               PRId64 "\n", opts.procs, contended ? "contended" : "uncontended",
               contended ? MUTEX_G : 1, n, (double)(t1 - t0) / (double)n, counter);
        fflush(stdout);
    }
}

int main(int argc, char **argv)
{
    opts = bench_args(argc, argv);
    if (argc > 3) {
        if (strcmp(argv[3], "contended") == 0)
            contended = true;
        else if (strcmp(argv[3], "uncontended") != 0)
            bench_die("mode must be uncontended or contended, not '%s'", argv[3]);
    }
    bench_run_main(bench_main, NULL);
    return 0;
}
