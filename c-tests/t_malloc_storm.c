/*
 * t_malloc_storm: nothing the runtime needs to make progress may take a lock that a preempted
 * goroutine can hold (malloc's arena locks, the dynamic loader's locks).
 *
 * A preempted goroutine keeps its thread, and so keeps whatever libc lock that thread held
 * when the signal came: an arena mutex inside malloc/free/realloc, the loader's locks inside
 * dlopen/dlclose. That goroutine can only release it once it runs again, which needs a P and
 * the runtime's cooperation. If meanwhile the runtime itself (sysmon creating a thread:
 * pthread_create allocates the thread's TLS with malloc and takes the loader's TLS lock; Rust
 * allocations in the runtime are malloc) blocks on that lock, nothing runs any more: the
 * process hangs at 0 % CPU. glibc shares arenas between threads once there are more than
 * 8 x CPUs threads, or always with MALLOC_ARENA_MAX=1, so a preempted thread's arena is
 * sysmon's arena sooner or later.
 *
 * The parent never starts the runtime: it runs RUNS children (this program with the argument
 * "child MODE", h_run_self_timed: fork + exec, CHILD_SECS seconds each), and requires every
 * child to exit 0 within that time. Most children run at GMP_MAXPROCS=1, every third at the
 * P count run.sh gives; the modes alternate, and half the children (two in a row, so each
 * mode gets both) have MALLOC_ARENA_MAX=1 (one arena for all threads, a setting real programs
 * use to bound their memory), the others glibc's default arenas. A child that has to be
 * killed is a hang: the parent prints its stderr and its CPU use over its last 0.5 s (0 ms =
 * deadlocked) and fails, after counting how many of the runs hung (it stops early after
 * MAX_HANGS hangs).
 *
 * One child (asynchronous preemption on, the default), for DUR_MS of wall time:
 *  - mode "malloc": NMAL goroutines hammer the heap, with no yield: each keeps SLOTS live
 *    blocks and, per operation, mallocs, frees or reallocs one (random sizes: 16 B - 1 KiB,
 *    1 KiB - 64 KiB (past the tcache: these take the arena lock), and 1 in 20 of 256 KiB -
 *    2 MiB, past the mmap threshold); each block is filled with a pattern of (goroutine, slot)
 *    that is verified before it is freed and, over the preserved prefix, after a realloc;
 *  - mode "dlopen" (the loader-lock variant): NDL goroutines dlopen and dlclose in a loop
 *    libuuid.so.1 (has TLS: loading it takes the loader's TLS lock that pthread_create also
 *    takes; skipped if absent), libresolv.so.2 (not otherwise loaded: a full load and unload)
 *    and libm.so.6 (usually loaded already: then the loader lock and a reference count only),
 *    checking that dlsym finds a symbol in each; beside NMAL / 4 malloc goroutines as above;
 *  - in both modes, NSYS goroutines that make the runtime need threads over and over: they
 *    loop gmp_entersyscall(); nanosleep(300 us); gmp_exitsyscall() (sysmon retakes their P and
 *    starts an M for it while the others are preempted in malloc), and NBLK goroutines that
 *    call nanosleep(1 ms) UNBRACKETED in a loop (a thread blocked in the kernel, which the
 *    runtime must notice; their results are not checked here: t_no_eintr does that).
 * Each goroutine runs until the child's time is up AND it has done MIN_OPS operations of its
 * own (so every goroutine ran); the main goroutine waits for all with a wait group, then
 * checks: every goroutine finished (counts exact), the heap patterns held, every dlsym
 * succeeded, and stats.goroutines is back to 1 (the main goroutine).
 *
 * Catches: the runtime calling malloc / pthread_create / anything that takes a libc lock on a
 * path that must complete for a preempted goroutine to run again (hang: killed, reported with
 * its CPU use); preemption inside malloc or the loader corrupting their state (pattern
 * mismatch, crash, glibc's own "malloc(): corrupted ..." abort).
 * Against the library before the fix (built with -DMAX_HANGS=100 -DCHILD_SECS=4 to see every
 * run): 12, 12 and 11 of 20 runs hung at GMP_MAXPROCS 1, 2, 8, all at 0 ms of CPU in the last
 * 500 ms: dlopen children 24 of 30 (gdb: sysmon in pthread_create -> _dl_allocate_tls_init,
 * waiting for the loader's TLS lock held by a goroutine preempted inside dlopen), malloc
 * children with MALLOC_ARENA_MAX=1 11 of 15 (sysmon in malloc, newm's Box::new(G), waiting
 * for main_arena's lock held by a goroutine preempted inside malloc), malloc children with
 * the default arenas 0 of 15. As built (MAX_HANGS 3) it fails after ~4-6 runs, ~25 s.
 */
#define H_WATCHDOG_SECS 110 /* the parent: CHILD_SECS x RUNS at worst; children are killed */
#include "harness.h"

#include <dlfcn.h>

#ifndef RUNS
#define RUNS 20
#endif
#ifndef MAX_HANGS
#define MAX_HANGS 3
#endif
#ifndef CHILD_SECS
#define CHILD_SECS 8
#endif
#define DUR_MS 200
#define NMAL 128
#define NDL 16
#define NSYS 4
#define NBLK 2
#define SLOTS 16
#define MIN_OPS 32

/* ------------------------------------------------------------------ child: the workers */

static H_ATOMIC(int) stop;
static H_ATOMIC(int) nfinished;
static H_ATOMIC(long) total_ops;
static wg_t wg;

static inline uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static size_t pick_size(uint64_t *r)
{
    uint64_t v = rng_next(r);
    unsigned k = (unsigned)(v % 100);
    if (k < 5) return (256u << 10) + (size_t)((v >> 8) % (1792u << 10)); /* 256 KiB - 2 MiB */
    if (k < 60) return 1024 + (size_t)((v >> 8) % (63u << 10));           /* 1 - 64 KiB */
    return 16 + (size_t)((v >> 8) % 1008);                                /* 16 B - 1 KiB */
}

static void fill(unsigned char *b, size_t from, size_t len, unsigned char c)
{
    if (len > from) memset(b + from, c, len - from);
}

/* Verify the pattern over [0, len): every byte of small blocks, samples of big ones. */
static void verify(const unsigned char *b, size_t len, unsigned char c, int who)
{
    if (len <= 4096) {
        for (size_t i = 0; i < len; i++)
            CHECK(b[i] == c, "goroutine %d: heap block %p corrupted at %zu/%zu (%u != %u)", who,
                  (const void *)b, i, len, b[i], c);
        return;
    }
    for (size_t i = 0; i < 64; i++) {
        CHECK(b[i] == c && b[len - 1 - i] == c, "goroutine %d: heap block %p (%zu bytes) corrupted",
              who, (const void *)b, len);
    }
    for (size_t i = 4096; i < len; i += 4093)
        CHECK(b[i] == c, "goroutine %d: heap block %p corrupted at %zu/%zu", who, (const void *)b,
              i, len);
}

static bool keep_going(long ops)
{
    return ops < MIN_OPS || !atomic_load_explicit(&stop, memory_order_relaxed);
}

static void malloc_worker(void *arg)
{
    int who = (int)(intptr_t)arg;
    uint64_t r = 0x9e3779b97f4a7c15ULL * (uint64_t)(who + 1);
    unsigned char *blk[SLOTS] = {0};
    size_t len[SLOTS] = {0};
    long ops = 0;
    while (keep_going(ops)) {
        int s = (int)(rng_next(&r) % SLOTS);
        unsigned char c = (unsigned char)(who * 16 + s + 1);
        size_t n = pick_size(&r);
        if (!blk[s]) {
            blk[s] = (unsigned char *)malloc(n);
            CHECK(blk[s] != NULL, "malloc(%zu)", n);
            len[s] = n;
            fill(blk[s], 0, n, c);
        } else if (rng_next(&r) % 100 < 45) {
            verify(blk[s], len[s], c, who);
            free(blk[s]);
            blk[s] = NULL;
        } else {
            verify(blk[s], len[s], c, who);
            unsigned char *nb = (unsigned char *)realloc(blk[s], n);
            CHECK(nb != NULL, "realloc(%zu)", n);
            verify(nb, len[s] < n ? len[s] : n, c, who);
            fill(nb, len[s], n, c);
            blk[s] = nb;
            len[s] = n;
        }
        ops++;
    }
    for (int s = 0; s < SLOTS; s++) {
        if (blk[s]) verify(blk[s], len[s], (unsigned char)(who * 16 + s + 1), who);
        free(blk[s]);
    }
    atomic_fetch_add(&total_ops, ops);
    atomic_fetch_add(&nfinished, 1);
    wg_done(&wg);
}

static const char *const dl_libs[] = {"libuuid.so.1", "libresolv.so.2", "libm.so.6"};
static const char *const dl_syms[] = {"uuid_generate", "res_query", "cos"};
static bool dl_have[3];

static void dl_worker(void *arg)
{
    int who = (int)(intptr_t)arg;
    long ops = 0;
    while (keep_going(ops)) {
        int i = (int)((ops + who) % 3);
        if (!dl_have[i]) {
            ops++;
            continue;
        }
        void *h = dlopen(dl_libs[i], RTLD_NOW | RTLD_LOCAL);
        CHECK(h != NULL, "dlopen(%s): %s", dl_libs[i], dlerror());
        void *sym = dlsym(h, dl_syms[i]);
        CHECK(sym != NULL, "dlsym(%s, %s) = NULL", dl_libs[i], dl_syms[i]);
        CHECK(dlclose(h) == 0, "dlclose(%s)", dl_libs[i]);
        ops++;
    }
    atomic_fetch_add(&total_ops, ops);
    atomic_fetch_add(&nfinished, 1);
    wg_done(&wg);
}

static void sys_worker(void *arg)
{
    (void)arg;
    long ops = 0;
    while (keep_going(ops)) {
        struct timespec ts = {0, 300000};
        gmp_entersyscall();
        nanosleep(&ts, NULL);
        gmp_exitsyscall();
        void *p = malloc(2048 + (size_t)(ops % 4096));
        CHECK(p != NULL, "malloc");
        free(p);
        ops++;
    }
    atomic_fetch_add(&total_ops, ops);
    atomic_fetch_add(&nfinished, 1);
    wg_done(&wg);
}

static void blk_worker(void *arg)
{
    (void)arg;
    long ops = 0;
    while (keep_going(ops)) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL); /* unbracketed; EINTR or not is t_no_eintr's business */
        void *p = malloc(3000);
        CHECK(p != NULL, "malloc");
        free(p);
        ops++;
    }
    atomic_fetch_add(&total_ops, ops);
    atomic_fetch_add(&nfinished, 1);
    wg_done(&wg);
}

static int child_dl;

/* The deadline, kept by a plain thread (a goroutine would wait for its turn behind all the
 * others): it only sets the flag. */
static void *deadline(void *arg)
{
    (void)arg;
    struct timespec ts = {DUR_MS / 1000, (long)(DUR_MS % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0) {
    }
    atomic_store(&stop, 1);
    return NULL;
}

static void child_main(void *arg)
{
    (void)arg;
    int nmal = child_dl ? NMAL / 4 : NMAL, ndl = child_dl ? NDL : 0;
    int n = nmal + ndl + NSYS + NBLK;
    wg_init(&wg);
    wg_add(&wg, n);
    for (int i = 0; i < NSYS; i++) h_spawn(sys_worker, NULL);
    for (int i = 0; i < NBLK; i++) h_spawn(blk_worker, NULL);
    for (int i = 0; i < ndl; i++) h_spawn(dl_worker, (void *)(intptr_t)i);
    for (int i = 0; i < nmal; i++) h_spawn(malloc_worker, (void *)(intptr_t)i);
    wg_wait(&wg);
    CHECK_EQ(atomic_load(&nfinished), n);
    H_GOSCHED_UNTIL(h_stats().goroutines == 1, 10, "goroutines = %llu after all ended",
                    (unsigned long long)h_stats().goroutines);
}

static int child(const char *mode)
{
    child_dl = strcmp(mode, "dlopen") == 0;
    if (child_dl) {
        for (int i = 0; i < 3; i++) {
            void *h = dlopen(dl_libs[i], RTLD_NOW | RTLD_LOCAL);
            dl_have[i] = h != NULL;
            if (h) dlclose(h);
        }
        CHECK(dl_have[1] && dl_have[2], "dlopen of glibc's libresolv.so.2 / libm.so.6 failed");
    }
    pthread_t t;
    CHECK(pthread_create(&t, NULL, deadline, NULL) == 0, "deadline thread");
    h_main(child_main, NULL);
    pthread_join(t, NULL);
    gmp_stats s = h_stats();
    printf("child %s: procs %u, %ld operations, %llu preemptions, %llu syscall retakes, "
           "%u threads\n",
           mode, s.procs, atomic_load(&total_ops), (unsigned long long)s.preemptions,
           (unsigned long long)s.syscall_retakes, s.threads);
    return 0;
}

/* ------------------------------------------------------------------ parent: the driver */

int main(int argc, char **argv)
{
    h_check_lib();
    if (argc == 3 && strcmp(argv[1], "child") == 0) return child(argv[2]);
    CHECK(argc == 1, "usage: %s [child malloc|dlopen]", argv[0]);
    setvbuf(stdout, NULL, _IOLBF, 0);

    int env_procs = h_env_procs();
    char procs_env[32];
    int hangs = 0, runs = 0;
    static char out[16384];
    char first[16384 + 512] = "";
    int64_t t0 = h_now_ns();
    for (int i = 0; i < RUNS && hangs < MAX_HANGS; i++, runs++) {
        const char *mode = i % 2 ? "dlopen" : "malloc";
        int procs = (i % 3 == 2 && env_procs > 0) ? env_procs : 1;
        snprintf(procs_env, sizeof procs_env, "GMP_MAXPROCS=%d", procs);
        const char *arena = (i / 2) % 2 ? "MALLOC_ARENA_MAX=1" : "MALLOC_ARENA_MAX";
        const char *args[] = {"child", mode, NULL};
        const char *env[] = {procs_env, arena, NULL};
        int st;
        bool hung;
        int64_t r0 = h_now_ns();
        h_run_self_timed(args, env, out, sizeof out, &st, CHILD_SECS, &hung);
        double secs = (h_now_ns() - r0) / 1e9;
        char desc[160];
        snprintf(desc, sizeof desc, "run %d (%s, procs %d, %s%s)", i + 1, mode, procs, arena,
                 strchr(arena, '=') ? "" : " unset");
        if (hung) {
            hangs++;
            printf("%s: HUNG, killed after %d s; its stderr:\n%s", desc, CHILD_SECS, out);
            if (!first[0]) snprintf(first, sizeof first, "%s hung: %s", desc, out);
            continue;
        }
        printf("%s: %s in %.2f s\n", desc, h_describe_status(st), secs);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: %s; stderr:\n%s", desc,
              h_describe_status(st), out);
    }
    CHECK(hangs == 0,
          "%d of %d runs hung (the runtime waited on a lock a preempted goroutine holds?); "
          "first: %.3000s",
          hangs, runs, first);
    printf("t_malloc_storm: ok (%d runs, %.1f s)\n", runs, (h_now_ns() - t0) / 1e9);
    return 0;
}
