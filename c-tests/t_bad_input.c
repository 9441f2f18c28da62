/*
 * t_bad_input: the error matrix of api.md. Bad arguments and wrong contexts return the
 * documented negative errno, are never fatal, and have no side effects.
 *
 * Before the runtime starts: gmp_self() == NULL and gmp_goid(NULL) == 0 (and they must not
 * start it); gmp_init with stack_size 1 or SIZE_MAX = -EINVAL and does NOT start the runtime
 * (a following good gmp_init returns 0, not -EBUSY). After start: gmp_init(anything) = -EBUSY
 * with settings unchanged (procs stays). Thread context: gmp_spawn(NULL) / gmp_main(NULL) /
 * gmp_ready(NULL) / gmp_stats_read(NULL) = -EINVAL; gmp_exit / gmp_park (unlockf not called) /
 * gmp_lock_thread / gmp_unlock_thread = -EPERM; gmp_set_procs(0) and (-1) return the current
 * count without changing it. Goroutine context:
 * gmp_main(fn) = -EPERM (fn not run); gmp_spawn(NULL) = -EINVAL; gmp_ready(gmp_self()) =
 * -EINVAL (running); gmp_ready of a goroutine that is runnable/running but not parked = -EINVAL,
 * from a goroutine and from a thread, and that goroutine is not disturbed (it still gets the
 * one real wake-up it later parks for, and no extra one); gmp_unlock_thread() = -EINVAL.
 *
 * Catches: missing argument/context checks (crash, abort or wrong code), a failed gmp_init that
 * half-starts the runtime, gmp_ready that "readies" a running G (it would then run twice).
 */
#include "harness.h"

#include <poll.h>

static H_ATOMIC(int) unlockf_calls;
static bool counting_unlockf(gmp_g *g, void *lock)
{
    (void)g;
    (void)lock;
    atomic_fetch_add(&unlockf_calls, 1);
    return true;
}

static H_ATOMIC(int) never_ran;
static void must_not_run(void *arg)
{
    (void)arg;
    atomic_store(&never_ran, 1);
}

/* A goroutine that stays runnable (spinning in gmp_gosched) until released, then parks once
 * (publishing itself) and is readied exactly once. */
static H_ATOMIC(gmp_g *) spinner_g;
static H_ATOMIC(int) spinner_started;
static H_ATOMIC(int) spinner_release;
static H_ATOMIC(int) spinner_parked;
static H_ATOMIC(int) spinner_woken;
static ev_t spinner_done;

static bool spinner_unlockf(gmp_g *g, void *lock)
{
    (void)lock;
    CHECK(g == atomic_load(&spinner_g), "unlockf got another g");
    atomic_store(&spinner_parked, 1);
    return true;
}

static void spinner(void *arg)
{
    (void)arg;
    atomic_store(&spinner_g, gmp_self());
    atomic_store(&spinner_started, 1);
    while (!atomic_load(&spinner_release)) gmp_gosched();
    CHECK_EQ(gmp_park(spinner_unlockf, NULL), 0);
    CHECK(atomic_load(&spinner_woken) == 1, "spinner resumed without its one real wake-up");
    ev_set(&spinner_done);
}

static void *thread_ready(void *arg)
{
    (void)arg;
    /* The spinner is runnable or running: not parked. */
    CHECK_EQ(gmp_ready(atomic_load(&spinner_g)), -EINVAL);
    return NULL;
}

static void main_fn(void *arg)
{
    (void)arg;
    CHECK(gmp_self() != NULL, "gmp_self() is NULL in the main goroutine");
    CHECK(gmp_goid(NULL) > 0, "gmp_goid(NULL) = %lld", (long long)gmp_goid(NULL));
    CHECK_EQ(gmp_goid(NULL), gmp_goid(gmp_self()));
    CHECK_EQ(gmp_main(must_not_run, NULL), -EPERM);
    int r = gmp_main(NULL, NULL); /* both errors apply; api.md does not rank them */
    CHECK(r == -EPERM || r == -EINVAL, "gmp_main(NULL) in a goroutine = %d", r);
    CHECK_EQ(gmp_spawn(NULL, NULL), -EINVAL);
    CHECK_EQ(gmp_ready(gmp_self()), -EINVAL);
    CHECK_EQ(gmp_ready(NULL), -EINVAL);
    CHECK_EQ(gmp_unlock_thread(), -EINVAL);
    CHECK_EQ(gmp_init(NULL), -EBUSY);

    ev_init(&spinner_done);
    h_spawn(spinner, NULL);
    H_GOSCHED_UNTIL(atomic_load(&spinner_started), 30, "spinner never started");
    for (int i = 0; i < 100; i++) {
        CHECK_EQ(gmp_ready(atomic_load(&spinner_g)), -EINVAL);
        gmp_gosched();
    }
    pthread_t t;
    CHECK(pthread_create(&t, NULL, thread_ready, NULL) == 0, "pthread_create");
    gmp_entersyscall();
    pthread_join(t, NULL);
    gmp_exitsyscall();
    atomic_store(&spinner_release, 1);
    H_GOSCHED_UNTIL(atomic_load(&spinner_parked), 30, "spinner never parked");
    atomic_store(&spinner_woken, 1);
    CHECK_EQ(gmp_ready(atomic_load(&spinner_g)), 0);
    ev_wait(&spinner_done);
    CHECK(!atomic_load(&never_ran), "gmp_main from a goroutine ran its fn");
}

int main(void)
{
    h_check_lib();
    /* Before start; these never start the runtime. */
    CHECK(gmp_self() == NULL, "gmp_self() in thread context");
    CHECK_EQ(gmp_goid(NULL), 0);

    gmp_config bad1 = {0, 1};
    gmp_config bad2 = {0, SIZE_MAX};
    CHECK_EQ(gmp_init(&bad1), -EINVAL);
    CHECK_EQ(gmp_init(&bad2), -EINVAL);
    /* The failures must not have started the runtime: a good init still succeeds. */
    int want_procs = h_env_procs() > 0 ? h_env_procs() : 2;
    gmp_config good = {(uint32_t)want_procs, 0};
    CHECK_EQ(gmp_init(&good), 0);
    CHECK_EQ(gmp_init(&good), -EBUSY);
    CHECK_EQ(gmp_init(NULL), -EBUSY);
    gmp_config other = {(uint32_t)want_procs + 3, 0};
    CHECK_EQ(gmp_init(&other), -EBUSY);
    CHECK_EQ(h_stats().procs, want_procs); /* settings unchanged by the -EBUSY calls */

    /* Thread context. */
    CHECK(gmp_self() == NULL, "gmp_self() in thread context after start");
    CHECK_EQ(gmp_goid(NULL), 0);
    CHECK_EQ(gmp_spawn(NULL, NULL), -EINVAL);
    CHECK_EQ(gmp_main(NULL, NULL), -EINVAL);
    CHECK_EQ(gmp_exit(), -EPERM);
    CHECK_EQ(gmp_park(NULL, NULL), -EPERM);
    CHECK_EQ(gmp_park(counting_unlockf, NULL), -EPERM);
    CHECK_EQ(atomic_load(&unlockf_calls), 0);
    CHECK_EQ(gmp_ready(NULL), -EINVAL);
    CHECK_EQ(gmp_lock_thread(), -EPERM);
    CHECK_EQ(gmp_unlock_thread(), -EPERM);
    CHECK_EQ(gmp_stats_read(NULL), -EINVAL);
    CHECK_EQ(gmp_set_procs(0), want_procs);
    CHECK_EQ(gmp_set_procs(-1), want_procs);
    CHECK_EQ(gmp_set_procs(INT32_MIN), want_procs);
    CHECK_EQ(h_stats().procs, want_procs);
    gmp_gosched(); /* thread context: just sched_yield */

    h_main(main_fn, NULL);

    /* Still fine afterwards. */
    CHECK_EQ(gmp_exit(), -EPERM);
    CHECK(gmp_self() == NULL, "gmp_self() after gmp_main");
    printf("t_bad_input: ok\n");
    return 0;
}
