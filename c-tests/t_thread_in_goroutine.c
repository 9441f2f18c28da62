/*
 * t_thread_in_goroutine: a pthread created from inside a goroutine is plain thread context.
 *
 * The goroutine creates a pthread. In it: gmp_self() == NULL, gmp_goid(NULL) == 0,
 * gmp_park / gmp_exit / gmp_lock_thread = -EPERM, gmp_gosched() returns (sched_yield);
 * gmp_spawn works (the child reports gmp_self() != NULL and its own id); and gmp_ready works
 * on a goroutine that parked and published itself (returns 0, the goroutine resumes and
 * observes that it was readied by the thread); a second gmp_ready on that goroutine while it is
 * runnable/running (it spins in gmp_gosched until told to stop, never parking) = -EINVAL. The
 * creating goroutine waits for the thread with a park-based event, and joins it between
 * gmp_entersyscall/gmp_exitsyscall (pthread_join blocks the OS thread). Done from 4 goroutines
 * at once.
 *
 * Catches: a new thread inheriting the creator's "current goroutine" (the runtime's per-thread
 * g pointer / %gs set up for the M leaking into pthreads created from it), thread-context calls
 * that assume a P, ready from a foreign thread not enqueuing the G.
 */
#include "harness.h"

#define NG 4

typedef struct job {
    ev_t thread_done;
    ev_t child_ran;
    H_ATOMIC(int64_t) child_id;
    H_ATOMIC(int64_t) child_seen_id;
    H_ATOMIC(gmp_g *) parked_g;
    H_ATOMIC(int) parked;
    H_ATOMIC(int) readied_by_thread;
    H_ATOMIC(int) second_ready_done;
    ev_t parker_done;
} job_t;

static bool publish_unlockf(gmp_g *g, void *lock)
{
    job_t *j = (job_t *)lock;
    atomic_store(&j->parked_g, g);
    atomic_store(&j->parked, 1);
    return true;
}

static void parker(void *arg)
{
    job_t *j = (job_t *)arg;
    CHECK_EQ(gmp_park(publish_unlockf, j), 0);
    CHECK(atomic_load(&j->readied_by_thread), "parker resumed before the thread readied it");
    /* Stay runnable (never parked) until the thread tried its second ready. */
    while (!atomic_load(&j->second_ready_done)) gmp_gosched();
    ev_set(&j->parker_done);
}

static void child(void *arg)
{
    job_t *j = (job_t *)arg;
    CHECK(gmp_self() != NULL, "spawned-from-thread goroutine has no g");
    atomic_store(&j->child_seen_id, gmp_goid(NULL));
    ev_set(&j->child_ran);
}

static void *thread_fn(void *arg)
{
    job_t *j = (job_t *)arg;
    CHECK(gmp_self() == NULL, "pthread made in a goroutine sees a goroutine");
    CHECK_EQ(gmp_goid(NULL), 0);
    CHECK_EQ(gmp_park(NULL, NULL), -EPERM);
    CHECK_EQ(gmp_exit(), -EPERM);
    CHECK_EQ(gmp_lock_thread(), -EPERM);
    CHECK_EQ(gmp_unlock_thread(), -EPERM);
    CHECK_EQ(gmp_main(NULL, NULL), -EINVAL);
    gmp_gosched();

    int64_t id = gmp_spawn(child, j);
    CHECK(id > 0, "gmp_spawn from a thread = %lld", (long long)id);
    atomic_store(&j->child_id, id);

    int64_t pid = gmp_spawn(parker, j);
    CHECK(pid > 0, "gmp_spawn(parker) = %lld", (long long)pid);
    while (!atomic_load(&j->parked)) sched_yield(); /* until its unlockf published it */
    gmp_g *g = atomic_load(&j->parked_g);
    atomic_store(&j->readied_by_thread, 1);
    CHECK_EQ(gmp_ready(g), 0);
    /* g is now runnable or running, and does not park again before second_ready_done. */
    CHECK_EQ(gmp_ready(g), -EINVAL);
    atomic_store(&j->second_ready_done, 1);
    ev_set(&j->thread_done);
    return NULL;
}

static void creator(void *arg)
{
    wg_t *all = (wg_t *)arg;
    job_t *j = (job_t *)calloc(1, sizeof *j);
    CHECK(j != NULL, "calloc");
    ev_init(&j->thread_done);
    ev_init(&j->child_ran);
    ev_init(&j->parker_done);
    gmp_g *me = gmp_self();
    int64_t myid = gmp_goid(NULL);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, thread_fn, j) == 0, "pthread_create");
    ev_wait(&j->thread_done);
    ev_wait(&j->child_ran);
    ev_wait(&j->parker_done);
    gmp_entersyscall();
    int r = pthread_join(t, NULL);
    gmp_exitsyscall();
    CHECK(r == 0, "pthread_join = %d", r);
    CHECK(gmp_self() == me && gmp_goid(NULL) == myid, "creator's identity changed");
    CHECK_EQ(atomic_load(&j->child_seen_id), atomic_load(&j->child_id));
    free(j);
    wg_done(all);
}

static void main_fn(void *arg)
{
    (void)arg;
    wg_t all;
    wg_init(&all);
    wg_add(&all, NG);
    for (int i = 0; i < NG; i++) h_spawn(creator, &all);
    wg_wait(&all);
}

int main(void)
{
    h_check_lib();
    h_main(main_fn, NULL);
    printf("t_thread_in_goroutine: ok\n");
    return 0;
}
