/*
 * t_lockhold: lock-holder-aware preemption (src/preempt/lockhold.rs) and the pthread lock
 * interposers it needs (src/hooks/pthread.rs).
 *
 * 1. The hooks are reached and transparent. Every interposed name, as this program binds it
 *    (dlsym(RTLD_DEFAULT) and the address the compiler takes), is a function in OUR libgmp
 *    (dladdr). A script of lock operations with known outcomes (EBUSY from trylock on a held
 *    mutex, ETIMEDOUT from timed/clock locks, EINVAL for a bad abstime or clock, EDEADLK from
 *    an errorcheck relock and a writer's rdlock, EPERM from unlocking an errorcheck mutex held
 *    by another thread, recursive counts, EOWNERDEAD from a robust mutex whose owner exited,
 *    rwlock read/write, spinlocks) runs twice on twin objects: through the interposed names
 *    and through libc's own functions (dlvsym on libc's handle). Every step must return the
 *    expected value on both sides, and leave errno at the sentinel the step set. It runs on
 *    the main thread before the runtime starts, on a plain thread after, and in SCRIPT_GS
 *    goroutines at once (at the configured Ps).
 * 2. Deferral, at 1 P, beside a hog goroutine that counts its loop iterations (at 1 P the hog
 *    runs only while the holder does not: a hog that advances while the holder holds its lock
 *    proves the holder was preempted inside it). The holder locks, spins HOLD_MS (20 ms, over
 *    the 10 ms slice, under the 50 ms bound) and unlocks, DEFER_ITERS times:
 *      - the hog never advances during a hold (no preemption inside the lock);
 *      - the preemption counter grows across some unlock (the preemption taken there);
 *      - the same after the holder moved to another thread while holding the lock (a goroutine
 *        locked to its thread occupies the old one): the count travels with the goroutine;
 *      - the same after the holder unlocked a mutex a plain thread had locked (glibc allows it
 *        for default mutexes): the count must not underflow (wrapped, it would read "no lock
 *        held" at the next lock).
 *    Holds that took over 45 ms of wall time (the machine stalled the thread) are not judged.
 * 3. Many holders, at the configured Ps: HOLDERS goroutines share a mutex with 2 ms critical
 *    sections beside procs+1 hogs, for MANY_MS (0.6 s). No holder's thread may block inside a critical
 *    section: its voluntary context switches (getrusage RUSAGE_THREAD ru_nvcsw; a preempted
 *    goroutine's thread sleeps on a futex, a thread the OS deschedules counts as involuntary)
 *    must not change while it holds the lock.
 * 4. The bound, at 1 P: a goroutine holds a mutex beside the hog until it sees the hog run;
 *    the hog must run within BOUND_MS (1.5 s: a holder cannot starve the others; expected
 *    after ~10 ms of slice + 50 ms of deferral + the hog's own 10 ms slice), and not before
 *    30 ms (the deferral did happen; a generous check of a temporal behaviour).
 * Each part fails on a build without the deferral (1 by dladdr, 2 and 3 by an in-lock
 * preemption); part 4 fails with an unbounded deferral. `t_lockhold PART` runs one part
 * (binding, script, many, deferral, bound), e.g. to watch one fail against another build.
 */
#include "harness.h"

#include <sys/resource.h>

#define SENT 4242
#define SCRIPT_GS 4
#define HOLD_MS 20
#define JUDGE_MS 45
#define DEFER_ITERS 6
#define HOLDERS 4
#define MANY_MS 600
#define BOUND_MS 1500

/* ------------------------------------------------------------------ 1. transparency */

typedef struct lockfns {
    int (*mutex_lock)(pthread_mutex_t *);
    int (*mutex_trylock)(pthread_mutex_t *);
    int (*mutex_timedlock)(pthread_mutex_t *, const struct timespec *);
    int (*mutex_clocklock)(pthread_mutex_t *, clockid_t, const struct timespec *);
    int (*mutex_unlock)(pthread_mutex_t *);
    int (*rw_rdlock)(pthread_rwlock_t *);
    int (*rw_tryrdlock)(pthread_rwlock_t *);
    int (*rw_timedrdlock)(pthread_rwlock_t *, const struct timespec *);
    int (*rw_clockrdlock)(pthread_rwlock_t *, clockid_t, const struct timespec *);
    int (*rw_wrlock)(pthread_rwlock_t *);
    int (*rw_trywrlock)(pthread_rwlock_t *);
    int (*rw_timedwrlock)(pthread_rwlock_t *, const struct timespec *);
    int (*rw_clockwrlock)(pthread_rwlock_t *, clockid_t, const struct timespec *);
    int (*rw_unlock)(pthread_rwlock_t *);
    int (*spin_lock)(pthread_spinlock_t *);
    int (*spin_trylock)(pthread_spinlock_t *);
    int (*spin_unlock)(pthread_spinlock_t *);
} lockfns;

/* The names as this program binds them: libgmp's interposers. */
static const lockfns HOOKED = {
    pthread_mutex_lock,      pthread_mutex_trylock,      pthread_mutex_timedlock,
    pthread_mutex_clocklock, pthread_mutex_unlock,       pthread_rwlock_rdlock,
    pthread_rwlock_tryrdlock, pthread_rwlock_timedrdlock, pthread_rwlock_clockrdlock,
    pthread_rwlock_wrlock,   pthread_rwlock_trywrlock,   pthread_rwlock_timedwrlock,
    pthread_rwlock_clockwrlock, pthread_rwlock_unlock,   pthread_spin_lock,
    pthread_spin_trylock,    pthread_spin_unlock,
};
static const char *const NAMES[17] = {
    "pthread_mutex_lock",      "pthread_mutex_trylock",      "pthread_mutex_timedlock",
    "pthread_mutex_clocklock", "pthread_mutex_unlock",       "pthread_rwlock_rdlock",
    "pthread_rwlock_tryrdlock", "pthread_rwlock_timedrdlock", "pthread_rwlock_clockrdlock",
    "pthread_rwlock_wrlock",   "pthread_rwlock_trywrlock",   "pthread_rwlock_timedwrlock",
    "pthread_rwlock_clockwrlock", "pthread_rwlock_unlock",   "pthread_spin_lock",
    "pthread_spin_trylock",    "pthread_spin_unlock",
};
/* libc's own functions. */
static lockfns LIBC;

static void in_lib(const void *addr, const char *what, const char *want_dir, int want_ours)
{
    Dl_info info;
    memset(&info, 0, sizeof info);
    CHECK(dladdr(addr, &info) != 0 && info.dli_fname, "dladdr(%s) failed", what);
    char got[PATH_MAX];
    CHECK(realpath(info.dli_fname, got) != NULL, "realpath(%s)", info.dli_fname);
    size_t n = strlen(want_dir);
    int ours = strncmp(got, want_dir, n) == 0 && got[n] == '/' && strstr(got + n, "libgmp.so");
    CHECK(ours == want_ours, "%s is in %s: want %s", what, got,
          want_ours ? "our libgmp (the hook is not reached)" : "libc");
}

/* Fill LIBC; with check_hooks, also check that the program's names are libgmp's. */
static void check_binding(int check_hooks)
{
    char dir[PATH_MAX];
    CHECK(realpath(GMP_LIBDIR, dir) != NULL, "realpath(GMP_LIBDIR)");
    void *libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
    CHECK(libc != NULL, "libc.so.6 not loaded?");
    void **real = (void **)&LIBC;
    void *const *hooked = (void *const *)&HOOKED;
    for (int i = 0; i < 17; i++) {
        const char *ver = strstr(NAMES[i], "clock") ? "GLIBC_2.30" : "GLIBC_2.2.5";
        real[i] = dlvsym(libc, NAMES[i], ver);
        CHECK(real[i] != NULL, "dlvsym(libc, %s, %s)", NAMES[i], ver);
        in_lib(real[i], NAMES[i], dir, 0);
        if (!check_hooks) continue;
        void *d = dlsym(RTLD_DEFAULT, NAMES[i]);
        CHECK(d != NULL, "dlsym(RTLD_DEFAULT, %s)", NAMES[i]);
        in_lib(d, NAMES[i], dir, 1);
        in_lib(hooked[i], NAMES[i], dir, 1);
        CHECK(d != real[i], "%s: the interposer is libc's function", NAMES[i]);
    }
}

/* One step: errno = SENT; r = expr; r must be `want` and errno still SENT. */
#define STEP(expr, want)                                                                   \
    do {                                                                                   \
        errno = SENT;                                                                      \
        int r_ = (expr);                                                                   \
        int e_ = errno;                                                                    \
        CHECK(r_ == (want) && e_ == SENT, "[%s] %s returned %d (%s), want %d (%s); errno %d", \
              side, #expr, r_, strerror(r_), (want), strerror(want), e_);                  \
    } while (0)

typedef struct dead_owner {
    const lockfns *L;
    pthread_mutex_t *m;
} dead_owner;

/* A plain thread that locks a mutex and exits holding it. */
static void *lock_and_exit(void *arg)
{
    dead_owner *d = (dead_owner *)arg;
    CHECK_EQ(d->L->mutex_lock(d->m), 0);
    return NULL;
}

static void exit_holding(const lockfns *L, pthread_mutex_t *m)
{
    dead_owner d = {L, m};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, lock_and_exit, &d) == 0, "pthread_create");
    CHECK(pthread_join(t, NULL) == 0, "pthread_join");
}

static void mutex_of(pthread_mutex_t *m, int type, int robust)
{
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_settype(&a, type);
    if (robust) pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    CHECK_EQ(pthread_mutex_init(m, &a), 0);
    pthread_mutexattr_destroy(&a);
}

static void script(const lockfns *L, const char *side)
{
    const struct timespec past = {0, 0};         /* long past on every clock */
    const struct timespec bad = {0, 2000000000}; /* tv_nsec out of range */
    pthread_mutex_t m;

    /* default mutex */
    mutex_of(&m, PTHREAD_MUTEX_DEFAULT, 0);
    STEP(L->mutex_lock(&m), 0);
    STEP(L->mutex_trylock(&m), EBUSY);
    STEP(L->mutex_timedlock(&m, &past), ETIMEDOUT);
    STEP(L->mutex_clocklock(&m, CLOCK_MONOTONIC, &past), ETIMEDOUT);
    STEP(L->mutex_timedlock(&m, &bad), EINVAL);
    STEP(L->mutex_clocklock(&m, (clockid_t)12345, &past), EINVAL);
    STEP(L->mutex_unlock(&m), 0);
    STEP(L->mutex_trylock(&m), 0);
    STEP(L->mutex_unlock(&m), 0);
    STEP(L->mutex_timedlock(&m, &past), 0); /* free: taken without waiting */
    STEP(L->mutex_unlock(&m), 0);
    STEP(L->mutex_clocklock(&m, CLOCK_REALTIME, &past), 0);
    STEP(L->mutex_unlock(&m), 0);
    pthread_mutex_destroy(&m);

    /* errorcheck */
    mutex_of(&m, PTHREAD_MUTEX_ERRORCHECK, 0);
    STEP(L->mutex_lock(&m), 0);
    STEP(L->mutex_lock(&m), EDEADLK);
    STEP(L->mutex_trylock(&m), EBUSY);
    STEP(L->mutex_timedlock(&m, &past), EDEADLK);
    STEP(L->mutex_unlock(&m), 0);
    STEP(L->mutex_unlock(&m), EPERM);
    exit_holding(L, &m); /* now held by a thread that is gone */
    STEP(L->mutex_unlock(&m), EPERM);
    STEP(L->mutex_trylock(&m), EBUSY);
    STEP(L->mutex_timedlock(&m, &past), ETIMEDOUT);

    /* recursive */
    mutex_of(&m, PTHREAD_MUTEX_RECURSIVE, 0);
    STEP(L->mutex_lock(&m), 0);
    STEP(L->mutex_lock(&m), 0);
    STEP(L->mutex_trylock(&m), 0);
    STEP(L->mutex_timedlock(&m, &past), 0);
    STEP(L->mutex_clocklock(&m, CLOCK_MONOTONIC, &past), 0);
    for (int i = 0; i < 5; i++) STEP(L->mutex_unlock(&m), 0);
    STEP(L->mutex_unlock(&m), EPERM);
    pthread_mutex_destroy(&m);

    /* robust, owner died */
    mutex_of(&m, PTHREAD_MUTEX_DEFAULT, 1);
    exit_holding(L, &m);
    STEP(L->mutex_lock(&m), EOWNERDEAD);
    STEP(pthread_mutex_consistent(&m), 0);
    STEP(L->mutex_unlock(&m), 0);
    STEP(L->mutex_trylock(&m), 0);
    STEP(L->mutex_unlock(&m), 0);
    pthread_mutex_destroy(&m);

    /* rwlock */
    pthread_rwlock_t rw;
    CHECK_EQ(pthread_rwlock_init(&rw, NULL), 0);
    STEP(L->rw_rdlock(&rw), 0);
    STEP(L->rw_rdlock(&rw), 0);
    STEP(L->rw_tryrdlock(&rw), 0);
    STEP(L->rw_timedrdlock(&rw, &past), 0);
    STEP(L->rw_clockrdlock(&rw, CLOCK_MONOTONIC, &past), 0);
    STEP(L->rw_trywrlock(&rw), EBUSY);
    STEP(L->rw_timedwrlock(&rw, &past), ETIMEDOUT);
    STEP(L->rw_clockwrlock(&rw, CLOCK_MONOTONIC, &past), ETIMEDOUT);
    STEP(L->rw_clockwrlock(&rw, (clockid_t)12345, &past), EINVAL);
    for (int i = 0; i < 5; i++) STEP(L->rw_unlock(&rw), 0);
    STEP(L->rw_wrlock(&rw), 0);
    STEP(L->rw_wrlock(&rw), EDEADLK);
    STEP(L->rw_rdlock(&rw), EDEADLK);
    STEP(L->rw_tryrdlock(&rw), EBUSY);
    STEP(L->rw_trywrlock(&rw), EBUSY);
    STEP(L->rw_timedrdlock(&rw, &past), EDEADLK);
    STEP(L->rw_timedwrlock(&rw, &past), EDEADLK);
    STEP(L->rw_unlock(&rw), 0);
    STEP(L->rw_trywrlock(&rw), 0);
    STEP(L->rw_unlock(&rw), 0);
    STEP(L->rw_timedwrlock(&rw, &past), 0);
    STEP(L->rw_unlock(&rw), 0);
    STEP(L->rw_clockwrlock(&rw, CLOCK_REALTIME, &past), 0);
    STEP(L->rw_unlock(&rw), 0);
    pthread_rwlock_destroy(&rw);

    /* spinlock */
    pthread_spinlock_t s;
    CHECK_EQ(pthread_spin_init(&s, PTHREAD_PROCESS_PRIVATE), 0);
    STEP(L->spin_lock(&s), 0);
    STEP(L->spin_trylock(&s), EBUSY);
    STEP(L->spin_unlock(&s), 0);
    STEP(L->spin_trylock(&s), 0);
    STEP(L->spin_unlock(&s), 0);
    pthread_spin_destroy(&s);
}

static void both_scripts(const char *where)
{
    char side[96];
    snprintf(side, sizeof side, "hooked, %s", where);
    script(&HOOKED, side);
    snprintf(side, sizeof side, "libc, %s", where);
    script(&LIBC, side);
}

static void *script_thread(void *arg)
{
    (void)arg;
    both_scripts("plain thread");
    return NULL;
}

static wg_t script_wg;
static void script_goroutine(void *arg)
{
    (void)arg;
    for (int i = 0; i < 2; i++) {
        both_scripts("goroutine");
        gmp_gosched();
    }
    wg_done(&script_wg);
}

static void part1_in_runtime(void)
{
    pthread_t t;
    CHECK(pthread_create(&t, NULL, script_thread, NULL) == 0, "pthread_create");
    CHECK(pthread_join(t, NULL) == 0, "pthread_join");
    wg_init(&script_wg);
    wg_add(&script_wg, SCRIPT_GS);
    for (int i = 0; i < SCRIPT_GS; i++) h_spawn(script_goroutine, NULL);
    wg_wait(&script_wg);
}

/* ------------------------------------------------------------------ shared helpers */

static long nvcsw(void)
{
    struct rusage ru;
    CHECK(getrusage(RUSAGE_THREAD, &ru) == 0, "getrusage");
    return ru.ru_nvcsw;
}

static void spin_ms(int ms)
{
    int64_t end = h_now_ns() + (int64_t)ms * 1000000;
    while (h_now_ns() < end) {
    }
}

static H_ATOMIC(uint64_t) hog_progress;
static H_ATOMIC(int) hog_stop;
static wg_t hog_wg;

static void hog(void *arg)
{
    (void)arg;
    while (!atomic_load_explicit(&hog_stop, memory_order_relaxed))
        atomic_fetch_add_explicit(&hog_progress, 1, memory_order_relaxed);
    wg_done(&hog_wg);
}

static void start_hogs(int n)
{
    atomic_store(&hog_stop, 0);
    wg_init(&hog_wg);
    wg_add(&hog_wg, n);
    uint64_t p0 = atomic_load(&hog_progress);
    for (int i = 0; i < n; i++) h_spawn(hog, NULL);
    H_GOSCHED_UNTIL(atomic_load(&hog_progress) != p0, 20, "the hogs never ran");
}

static void stop_hogs(void)
{
    atomic_store(&hog_stop, 1);
    wg_wait(&hog_wg);
}

/* ------------------------------------------------------------------ 2. deferral, 1 P */

typedef struct holds {
    int judged, inside, at_unlock;
} holds;

/* Hold m for HOLD_MS (the caller holds nothing else) beside the running hog, until `need`
 * holds were judged (at most 4 * need rounds: a stalled machine makes holds too long to judge).
 * With already_locked, the caller holds m on entry. */
static holds hold_rounds(pthread_mutex_t *m, int need, int already_locked)
{
    holds h = {0, 0, 0};
    for (int i = 0; i < 4 * need && h.judged < need; i++) {
        if (!(already_locked && i == 0)) CHECK_EQ(pthread_mutex_lock(m), 0);
        uint64_t h0 = atomic_load(&hog_progress);
        int64_t t0 = h_now_ns();
        spin_ms(HOLD_MS);
        uint64_t h1 = atomic_load(&hog_progress);
        int64_t t1 = h_now_ns();
        uint64_t p0 = h_stats().preemptions;
        CHECK_EQ(pthread_mutex_unlock(m), 0);
        uint64_t p1 = h_stats().preemptions;
        if (t1 - t0 < (int64_t)JUDGE_MS * 1000000) {
            h.judged++;
            if (h1 != h0) h.inside++;
        }
        if (p1 != p0) h.at_unlock++;
    }
    return h;
}

static void check_holds(holds h, int need, const char *what)
{
    printf("  %s: %d holds of %d ms judged, %d preempted inside the lock, %d preempted at the "
           "unlock\n", what, h.judged, HOLD_MS, h.inside, h.at_unlock);
    CHECK(h.inside == 0, "%s: %d of %d holds of %d ms were preempted inside the lock", what,
          h.inside, h.judged, HOLD_MS);
    CHECK(h.judged >= need, "%s: only %d holds judged of %d wanted (the machine is stalling)",
          what, h.judged, need);
}

static H_ATOMIC(int) pinned_ready;
static ev_t pinned_release;
static wg_t pinned_wg;

/* Locks itself to the thread it runs on (the holder's old one), then parks until released. */
static void pinned(void *arg)
{
    (void)arg;
    CHECK_EQ(gmp_lock_thread(), 0);
    atomic_store(&pinned_ready, 1);
    ev_wait(&pinned_release);
    CHECK_EQ(gmp_unlock_thread(), 0);
    wg_done(&pinned_wg);
}

static void *lock_only(void *arg)
{
    CHECK_EQ(pthread_mutex_lock((pthread_mutex_t *)arg), 0);
    return NULL;
}

static void part2_deferral(void)
{
    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    start_hogs(1);
    holds h = hold_rounds(&m, DEFER_ITERS, 0);
    check_holds(h, DEFER_ITERS, "deferral");
    CHECK(h.at_unlock > 0, "no preemption at any of %d unlocks", DEFER_ITERS);
    stop_hogs();

    /* The holder moves to another thread while it holds m: `pinned` runs next on this
     * thread (runnext) and locks itself to it, so when this goroutine runs again it is on
     * another thread, still holding m. */
    pid_t tid0 = h_gettid();
    CHECK_EQ(pthread_mutex_lock(&m), 0);
    atomic_store(&pinned_ready, 0);
    ev_init(&pinned_release);
    wg_init(&pinned_wg);
    wg_add(&pinned_wg, 1);
    h_spawn(pinned, NULL);
    H_GOSCHED_UNTIL(atomic_load(&pinned_ready) && h_gettid() != tid0, 20,
                    "the holder never left thread %d", (int)tid0);
    start_hogs(1);
    h = hold_rounds(&m, 3, 1);
    check_holds(h, 3, "after moving to another thread while holding the lock");
    stop_hogs();
    ev_set(&pinned_release);
    wg_wait(&pinned_wg);

    /* An unlock of a mutex this goroutine never locked (a plain thread did) counts nothing. */
    pthread_mutex_t other = PTHREAD_MUTEX_INITIALIZER;
    pthread_t t;
    CHECK(pthread_create(&t, NULL, lock_only, &other) == 0, "pthread_create");
    CHECK(pthread_join(t, NULL) == 0, "pthread_join");
    CHECK_EQ(pthread_mutex_unlock(&other), 0); /* default mutexes allow it */
    start_hogs(1);
    h = hold_rounds(&m, 3, 0);
    check_holds(h, 3, "after an unbalanced unlock");
    stop_hogs();
}

/* ------------------------------------------------------------------ 3. many holders */

static pthread_mutex_t shared_m = PTHREAD_MUTEX_INITIALIZER;
static H_ATOMIC(int) many_stop;
static H_ATOMIC(int) many_judged, many_blocked, many_long;
static wg_t many_wg;

static void holder(void *arg)
{
    (void)arg;
    while (!atomic_load(&many_stop)) {
        CHECK_EQ(pthread_mutex_lock(&shared_m), 0);
        long v0 = nvcsw();
        int64_t t0 = h_now_ns();
        spin_ms(2);
        int64_t t1 = h_now_ns();
        long v1 = nvcsw();
        CHECK_EQ(pthread_mutex_unlock(&shared_m), 0);
        if (t1 - t0 >= (int64_t)JUDGE_MS * 1000000) {
            atomic_fetch_add(&many_long, 1);
        } else {
            atomic_fetch_add(&many_judged, 1);
            if (v1 != v0) atomic_fetch_add(&many_blocked, 1);
        }
        spin_ms(1);
    }
    wg_done(&many_wg);
}

static void part3_many(int procs)
{
    uint64_t p0 = h_stats().preemptions;
    start_hogs(procs + 1);
    atomic_store(&many_stop, 0);
    wg_init(&many_wg);
    wg_add(&many_wg, HOLDERS);
    for (int i = 0; i < HOLDERS; i++) h_spawn(holder, NULL);
    int64_t end = h_now_ns() + (int64_t)MANY_MS * 1000000;
    while (h_now_ns() < end) gmp_gosched();
    atomic_store(&many_stop, 1);
    wg_wait(&many_wg);
    stop_hogs();
    uint64_t p1 = h_stats().preemptions;
    printf("  many holders, %d P: %d critical sections judged (%d over %d ms not), %d blocked "
           "inside, %llu preemptions\n", procs, atomic_load(&many_judged),
           atomic_load(&many_long), JUDGE_MS, atomic_load(&many_blocked),
           (unsigned long long)(p1 - p0));
    CHECK(atomic_load(&many_blocked) == 0,
          "%d of %d critical sections of 2 ms blocked their thread (preempted inside the lock)",
          atomic_load(&many_blocked), atomic_load(&many_judged));
    CHECK(atomic_load(&many_judged) >= 10, "only %d critical sections judged",
          atomic_load(&many_judged));
    CHECK(p1 > p0, "no preemption at all in %d ms", MANY_MS);
}

/* ------------------------------------------------------------------ 4. the bound, 1 P */

static void part4_bound(void)
{
    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    start_hogs(1);
    CHECK_EQ(pthread_mutex_lock(&m), 0);
    uint64_t h0 = atomic_load(&hog_progress);
    int64_t t0 = h_now_ns(), now = t0, end = t0 + (int64_t)BOUND_MS * 1000000;
    while (atomic_load_explicit(&hog_progress, memory_order_relaxed) == h0 && now < end)
        now = h_now_ns();
    int ran = atomic_load(&hog_progress) != h0;
    CHECK_EQ(pthread_mutex_unlock(&m), 0);
    stop_hogs();
    printf("  bound: the hog ran %lld ms into the hold\n", (long long)((now - t0) / 1000000));
    CHECK(ran, "a goroutine holding a lock for %d ms starved the hog at 1 P", BOUND_MS);
    CHECK(now - t0 >= 30 * 1000000, "the hog ran %lld ms into the hold: no deferral?",
          (long long)((now - t0) / 1000000));
}

/* ------------------------------------------------------------------ main */

static int orig;
static const char *only; /* argv[1]: run just this part (binding, script, many, deferral, bound) */

static int want(const char *part) { return !only || strcmp(only, part) == 0; }

static void main_fn(void *arg)
{
    (void)arg;
    if (want("script")) part1_in_runtime();
    if (want("many")) part3_many(orig);
    CHECK_EQ(gmp_set_procs(1), orig);
    if (want("deferral")) part2_deferral();
    if (want("bound")) part4_bound();
    CHECK_EQ(gmp_set_procs(orig), 1);
}

int main(int argc, char **argv)
{
    only = argc > 1 ? argv[1] : NULL;
    h_check_lib();
    check_binding(want("binding"));
    if (want("script")) both_scripts("main thread, runtime not started");
    orig = gmp_set_procs(0);
    if (orig < 1) orig = 1;
    h_main(main_fn, NULL);
    printf("t_lockhold: ok (preemptions %llu)\n", (unsigned long long)h_stats().preemptions);
    return 0;
}
