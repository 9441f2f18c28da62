/*
 * lockhold: goroutines that share a pthread mutex, where preempting a lock holder used to
 * stall everyone (src/preempt/lockhold.rs). bench/run.sh times each workload in pairs of
 * processes with asynchronous preemption on and off (GMP_DEBUG=asyncpreemptoff=1) and reports
 * on/off; the target is at most 1.2.
 *
 * 1. mutex: MUTEX_GS = 12 goroutines, each MUTEX_ITERS times: pthread_mutex_lock on one
 *    shared mutex, IN_US of CPU work, unlock, OUT_US of CPU work (std::mutex is the same
 *    calls: libstdc++'s std::mutex::lock is pthread_mutex_lock). CPU work is a fixed number
 *    of LCG steps, calibrated at start, so a preempted goroutine still has all of it to do.
 *    Checked: the shared counter the critical sections increment.
 * 2. sqlite (built with -DHAVE_SQLITE -lsqlite3): SQLITE_GS = 32 goroutines, each with its own
 *    in-memory database: CREATE TABLE, then SQLITE_ROWS (5000; -DSQLITE_ROWS=n) INSERTs
 *    through one prepared statement (autocommit), then a COUNT(*) check. Debian's SQLite is
 *    built with THREADSAFE=1 and memory statistics on, so every sqlite3_malloc takes one
 *    global pthread mutex.
 *
 * Output, one line per repetition (after a warm-up):
 *   lockhold procs=<P> mutex_ms=<ms> sqlite_ms=<ms or -1 without SQLite>
 * Usage: lockhold [procs [reps]]
 */
#define _GNU_SOURCE
#include "common.h"

#include <pthread.h>
#ifdef HAVE_SQLITE
#include <sqlite3.h>
#endif

#define MUTEX_GS 12
#define MUTEX_ITERS 100
#define IN_US 200
#define OUT_US 50
#define SQLITE_GS 32
#ifndef SQLITE_ROWS
#define SQLITE_ROWS 5000
#endif

static uint64_t steps_per_us;
static volatile uint64_t sink;

static uint64_t lcg(uint64_t x, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    return x;
}

static void work_us(uint64_t us) { sink = lcg(sink, us * steps_per_us); }

static void calibrate(void)
{
    struct timespec a, b;
    uint64_t n = 1 << 22;
    for (;;) {
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
        sink = lcg(sink, n);
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
        int64_t ns = (b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec);
        if (ns > 20000000) {
            steps_per_us = n * 1000 / (uint64_t)ns;
            return;
        }
        n *= 2;
    }
}

/* ------------------------------------------------------------------ 1. mutex */

static pthread_mutex_t shared = PTHREAD_MUTEX_INITIALIZER;
static uint64_t shared_count;
static bench_wg wg;

static void mutex_worker(void *arg)
{
    (void)arg;
    for (int i = 0; i < MUTEX_ITERS; i++) {
        pthread_mutex_lock(&shared);
        shared_count++;
        work_us(IN_US);
        pthread_mutex_unlock(&shared);
        work_us(OUT_US);
    }
    bench_wg_done(&wg);
}

static double run_mutex(void)
{
    shared_count = 0;
    bench_wg_init(&wg);
    bench_wg_add(&wg, MUTEX_GS);
    int64_t t0 = bench_now_ns();
    for (int i = 0; i < MUTEX_GS; i++) bench_spawn(mutex_worker, NULL);
    bench_wg_wait(&wg);
    double ms = (double)(bench_now_ns() - t0) / 1e6;
    if (shared_count != (uint64_t)MUTEX_GS * MUTEX_ITERS)
        bench_die("mutex: %llu critical sections, want %d", (unsigned long long)shared_count,
                  MUTEX_GS * MUTEX_ITERS);
    return ms;
}

/* ------------------------------------------------------------------ 2. sqlite */

#ifdef HAVE_SQLITE
static void sqlite_worker(void *arg)
{
    (void)arg;
    sqlite3 *db;
    sqlite3_stmt *st;
    if (sqlite3_open(":memory:", &db) != SQLITE_OK) bench_die("sqlite3_open");
    if (sqlite3_exec(db, "CREATE TABLE t(a INTEGER, b TEXT)", NULL, NULL, NULL) != SQLITE_OK)
        bench_die("create: %s", sqlite3_errmsg(db));
    if (sqlite3_prepare_v2(db, "INSERT INTO t VALUES(?, ?)", -1, &st, NULL) != SQLITE_OK)
        bench_die("prepare: %s", sqlite3_errmsg(db));
    for (int i = 0; i < SQLITE_ROWS; i++) {
        char text[32];
        snprintf(text, sizeof text, "row %d", i);
        sqlite3_bind_int(st, 1, i);
        sqlite3_bind_text(st, 2, text, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(st) != SQLITE_DONE) bench_die("insert: %s", sqlite3_errmsg(db));
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    if (sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM t", -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW || sqlite3_column_int(st, 0) != SQLITE_ROWS)
        bench_die("count: %s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    sqlite3_close(db);
    bench_wg_done(&wg);
}

static double run_sqlite(void)
{
    bench_wg_init(&wg);
    bench_wg_add(&wg, SQLITE_GS);
    int64_t t0 = bench_now_ns();
    for (int i = 0; i < SQLITE_GS; i++) bench_spawn(sqlite_worker, NULL);
    bench_wg_wait(&wg);
    return (double)(bench_now_ns() - t0) / 1e6;
}
#else
static double run_sqlite(void) { return -1; }
#endif

/* ------------------------------------------------------------------ main */

static int reps, procs;

static void main_g(void *arg)
{
    (void)arg;
    for (int r = 0; r < reps + 1; r++) {
        double m = run_mutex();
        double s = run_sqlite();
        if (r == 0) continue; /* warm-up */
        printf("lockhold procs=%d mutex_ms=%.1f sqlite_ms=%.1f\n", procs, m, s);
        fflush(stdout);
    }
}

int main(int argc, char **argv)
{
    bench_opts o = bench_args(argc, argv);
    reps = o.reps;
    procs = o.procs;
    calibrate();
    if (gmp_main(main_g, NULL) != 0) bench_die("gmp_main failed");
    return 0;
}
