/*
 * lockhook: what libgmp's pthread_mutex_lock/unlock interposers (src/hooks/pthread.rs) cost
 * over calling libc's functions directly, on a plain thread and in a goroutine.
 *
 * N = 10M uncontended pthread_mutex_lock + pthread_mutex_unlock pairs on one mutex, through
 * function pointers read from volatile variables (so both sides pay the same indirect call):
 *   hook: the addresses the program's own names bind to (dlsym(RTLD_DEFAULT): libgmp's);
 *   libc: libc's functions (dlvsym on libc's handle, GLIBC_2.2.5).
 * Each side is timed (thread CPU time) TRIALS times, alternating, and keeps its best;
 * overhead = hook - libc,
 * in ns per lock+unlock pair. First on the main thread (a plain thread; the runtime is
 * started), then inside gmp_main (a goroutine: the hooks count the lock there). Target:
 * overhead <= 3 ns per pair on both.
 *
 * Output, one line per repetition:
 *   lockhook procs=<P> n=<N> libc_thread_ns=<> hook_thread_ns=<> overhead_thread_ns=<>
 *            libc_g_ns=<> hook_g_ns=<> overhead_g_ns=<>
 * Usage: lockhook [procs [reps]]
 */
#define _GNU_SOURCE
#include "common.h"

#include <dlfcn.h>
#include <pthread.h>

#define N 10000000
#define TRIALS 5

typedef int (*mutex_fn)(pthread_mutex_t *);
static mutex_fn volatile hook_lock, hook_unlock, libc_lock, libc_unlock;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

/* CPU time of the calling thread: on this shared machine a thread is often descheduled, and
 * wall time would charge that to whichever side was running. (A goroutine stays on its
 * thread here: nothing in the loop can switch it, and preemption never moves it.) */
static int64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static double pairs_ns(mutex_fn volatile *lockp, mutex_fn volatile *unlockp)
{
    mutex_fn lock = *lockp, unlock = *unlockp;
    int64_t t0 = thread_cpu_ns();
    for (int i = 0; i < N; i++) {
        if (lock(&mu) != 0 || unlock(&mu) != 0)
            bench_die("lock/unlock failed");
    }
    return (double)(thread_cpu_ns() - t0) / N;
}

typedef struct side {
    double libc, hook;
} side;

static side measure(void)
{
    side s = {1e9, 1e9};
    for (int t = 0; t < TRIALS; t++) {
        double a = pairs_ns(&libc_lock, &libc_unlock);
        double b = pairs_ns(&hook_lock, &hook_unlock);
        if (a < s.libc) s.libc = a;
        if (b < s.hook) s.hook = b;
    }
    return s;
}

static side in_g;
static bench_wg wg;

static void goroutine(void *arg)
{
    (void)arg;
    if (gmp_self() == NULL) bench_die("not in a goroutine");
    in_g = measure();
    bench_wg_done(&wg);
}

static void main_g(void *arg)
{
    (void)arg;
    bench_wg_init(&wg);
    bench_wg_add(&wg, 1);
    bench_spawn(goroutine, NULL);
    bench_wg_wait(&wg);
}

int main(int argc, char **argv)
{
    bench_opts o = bench_args(argc, argv);
    void *libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
    if (!libc) bench_die("libc.so.6 not loaded");
    libc_lock = (mutex_fn)dlvsym(libc, "pthread_mutex_lock", "GLIBC_2.2.5");
    libc_unlock = (mutex_fn)dlvsym(libc, "pthread_mutex_unlock", "GLIBC_2.2.5");
    hook_lock = (mutex_fn)dlsym(RTLD_DEFAULT, "pthread_mutex_lock");
    hook_unlock = (mutex_fn)dlsym(RTLD_DEFAULT, "pthread_mutex_unlock");
    if (!libc_lock || !libc_unlock || !hook_lock || !hook_unlock) bench_die("dlsym failed");
    Dl_info i;
    if (!dladdr((void *)hook_lock, &i) || !strstr(i.dli_fname, "libgmp"))
        bench_die("pthread_mutex_lock is not libgmp's (%s): nothing to measure",
                  i.dli_fname ? i.dli_fname : "?");
    for (int r = 0; r < o.reps + 1; r++) {
        side t = measure();
        if (gmp_main(main_g, NULL) != 0) bench_die("gmp_main failed");
        if (r == 0) continue; /* warm-up */
        printf("lockhook procs=%d n=%d libc_thread_ns=%.2f hook_thread_ns=%.2f "
               "overhead_thread_ns=%.2f libc_g_ns=%.2f hook_g_ns=%.2f overhead_g_ns=%.2f\n",
               o.procs, N, t.libc, t.hook, t.hook - t.libc, in_g.libc, in_g.hook,
               in_g.hook - in_g.libc);
        fflush(stdout);
    }
    return 0;
}
