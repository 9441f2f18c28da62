/*
 * t_preempt_libc: goroutines preempted in the middle of libc keep working, on their own thread.
 *
 * NG goroutines hammer malloc/free (with a ring of live blocks whose contents are verified
 * before they are freed), snprintf (%d %ld %s %f %p: locale and TLS paths) and fprintf to ONE
 * shared FILE* on /dev/null (stdio's recursive lock, whose owner is a thread) in tight loops
 * for RUN_NS of wall time at the P count run.sh gives (GMP_MAXPROCS = 1, 2, 8), with no
 * explicit yield inside the loop: only asynchronous preemption can switch them, and with
 * NG > procs it has to, often while a goroutine holds malloc's or stdio's lock. Each goroutine
 * bumps a `__thread` counter once per iteration (the compiler keeps the counter's ADDRESS in a
 * register for the whole loop, as it does for errno).
 * Asserts, per goroutine: gettid() and the address of its `__thread` counter (read fresh
 * through a noipa function) never change during the loop (sampled every 64 iterations and at
 * the end), and the counter's final value, read fresh, is exactly its iteration count (so no
 * other goroutine used this thread's TLS meanwhile, and no increment went to another thread's
 * counter); every goroutine made progress; heap blocks are intact. Globally: stats.preemptions
 * > 0 when procs < NG; no crash; no deadlock (watchdog: a preempted lock holder that is never
 * resumed, or a thread blocked on that lock that keeps its P, hangs the test).
 * The main goroutine watches the clock in a gmp_gosched loop, so on few Ps it only runs when a
 * worker is preempted.
 *
 * Catches: a preempted goroutine resumed on another thread (TLS address / tid change, counter
 * mismatch, then likely malloc/stdio corruption), preemption while the thread is inside libc
 * corrupting libc state (the trampoline or the runtime calling non-async-signal-safe code),
 * deadlock when the holder of a libc lock is preempted.
 */
#define H_WATCHDOG_SECS 30
#include "harness.h"

#define NG 16
#define RUN_NS 1500000000LL
#define RING 8

static __thread long tls_count;
__attribute__((noipa)) static long *tls_addr(void) { return &tls_count; }

typedef struct wstate {
    int idx;
    long iters;
    pid_t tid0;
    long *addr0;
    long tid_moves, addr_moves;
    pid_t tid_end;
    long *addr_end;
    long count_end;
} wstate;

static FILE *devnull;
static wstate ws[NG];
static H_ATOMIC(int) started;
static H_ATOMIC(int) stop;
static wg_t wg;

static void worker(void *arg)
{
    wstate *w = (wstate *)arg;
    unsigned char *ring[RING] = {0};
    size_t ringlen[RING] = {0};
    char s[160];
    w->tid0 = h_gettid();
    w->addr0 = tls_addr();
    tls_count = 0;
    long n = 0, tmoves = 0, amoves = 0;
    atomic_fetch_add(&started, 1);
    /* ---- measured loop: no explicit yield below ---- */
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        int slot = (int)(n % RING);
        unsigned char fill = (unsigned char)(w->idx * 16 + slot);
        if (ring[slot]) {
            for (size_t k = 0; k < ringlen[slot]; k++)
                CHECK(ring[slot][k] == fill, "goroutine %d: heap block corrupted at %zu", w->idx, k);
            free(ring[slot]);
        }
        size_t len = 16 + (size_t)((n * 37) % 3000);
        ring[slot] = (unsigned char *)malloc(len);
        CHECK(ring[slot] != NULL, "malloc(%zu)", len);
        ringlen[slot] = len;
        memset(ring[slot], fill, len);
        char *tmp = (char *)malloc(64 + (size_t)(n & 255));
        CHECK(tmp != NULL, "malloc");
        int k = snprintf(s, sizeof s, "w%d n%ld %s %.3f %p", w->idx, n, "str", (double)n * 0.5,
                         (void *)tmp);
        CHECK(k > 0 && k < (int)sizeof s, "snprintf = %d", k);
        CHECK(fprintf(devnull, "%s|%d\n", s, k) > 0, "fprintf to /dev/null");
        free(tmp);
        tls_count++;
        n++;
        if ((n & 63) == 0) {
            if (h_gettid() != w->tid0) tmoves++;
            if (tls_addr() != w->addr0) amoves++;
        }
    }
    /* ---- end of the measured loop ---- */
    w->tid_end = h_gettid();
    w->addr_end = tls_addr();
    w->count_end = *tls_addr();
    w->iters = n;
    w->tid_moves = tmoves;
    w->addr_moves = amoves;
    for (int i = 0; i < RING; i++) free(ring[i]);
    wg_done(&wg);
}

static void main_fn(void *arg)
{
    (void)arg;
    int procs = gmp_set_procs(0);
    gmp_stats s0 = h_stats();
    wg_init(&wg);
    wg_add(&wg, NG);
    for (int i = 0; i < NG; i++) {
        ws[i].idx = i;
        h_spawn(worker, &ws[i]);
    }
    H_GOSCHED_UNTIL(atomic_load(&started) == NG, 20, "only %d of %d workers started",
                    atomic_load(&started), NG);
    int64_t t0 = h_now_ns();
    while (h_now_ns() - t0 < RUN_NS) gmp_gosched();
    atomic_store(&stop, 1);
    wg_wait(&wg);
    gmp_stats s1 = h_stats();
    uint64_t npre = s1.preemptions - s0.preemptions;
    long total = 0, minit = -1;
    for (int i = 0; i < NG; i++) {
        wstate *w = &ws[i];
        CHECK(w->tid_moves == 0 && w->tid_end == w->tid0,
              "goroutine %d moved from thread %d (to %d at the end; %ld samples on another "
              "thread) without any explicit yield",
              i, (int)w->tid0, (int)w->tid_end, w->tid_moves);
        CHECK(w->addr_moves == 0 && w->addr_end == w->addr0,
              "goroutine %d: __thread counter address changed %p -> %p", i, (void *)w->addr0,
              (void *)w->addr_end);
        CHECK(w->count_end == w->iters,
              "goroutine %d: __thread counter is %ld after %ld iterations (TLS shared with or "
              "written from another goroutine/thread)",
              i, w->count_end, w->iters);
        CHECK(w->iters > 0, "goroutine %d never ran its loop", i);
        total += w->iters;
        if (minit < 0 || w->iters < minit) minit = w->iters;
    }
    if (procs < NG)
        CHECK(npre > 0, "%d goroutines on %d Ps for %lld ms and no preemption", NG, procs,
              RUN_NS / 1000000);
    printf("t_preempt_libc: procs=%d, %d goroutines, %ld iterations (min %ld per goroutine), "
           "%llu preemptions\n",
           procs, NG, total, minit, (unsigned long long)npre);
}

int main(void)
{
    h_check_lib();
    devnull = fopen("/dev/null", "w");
    CHECK(devnull != NULL, "fopen /dev/null");
    h_main(main_fn, NULL);
    CHECK(fclose(devnull) == 0, "fclose");
    printf("t_preempt_libc: ok\n");
    return 0;
}
