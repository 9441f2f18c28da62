/*
 * t_lock_thread: gmp_lock_thread pins a goroutine to its OS thread, exclusively.
 *
 * LOCKED goroutine: gmp_unlock_thread() without a lock = -EINVAL; lock twice (nesting), record
 * gettid(), then 2000 switches -- gmp_gosched, and every 8th a real park/ready through an event
 * set by a freshly spawned helper goroutine -- asserting gettid() never changes; unlock once:
 * still locked (count 1), more switches on the same thread; unlock again: 0; unlock a third
 * time: -EINVAL. Meanwhile NOISE goroutines keep yielding and check they never run on the
 * locked thread while the lock is held: the locker publishes an epoch (odd = locked, plus the
 * tid); a noise goroutine reads epoch, gettid(), epoch again; if both reads are the same odd
 * epoch then the lock was held during the whole check, so running on that tid is a violation.
 * Finally a goroutine locks and returns without unlocking (Go then retires the thread); the
 * runtime must keep working: a batch of goroutines spawned afterwards all run.
 *
 * Catches: a locked G resumed by another M after a switch (gettid changes), an M that runs other
 * goroutines while its G is locked to it, lock counts not nested, unlock errors missing, a
 * runtime that wedges when a locked goroutine exits.
 */
#include "harness.h"

#define SWITCHES 2000
#define NOISE 6

static H_ATOMIC(long) epoch; /* odd while the locker holds its lock */
static H_ATOMIC(int) locked_tid;
static H_ATOMIC(int) stop_noise;
static H_ATOMIC(long) noise_rounds;
static wg_t noise_wg;

static void helper(void *arg) { ev_set((ev_t *)arg); }

static void switch_once(int i)
{
    if (i % 8 == 7) {
        ev_t ev;
        ev_init(&ev);
        h_spawn(helper, &ev);
        ev_wait(&ev);
    } else {
        gmp_gosched();
    }
}

static void noise(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop_noise)) {
        long e1 = atomic_load(&epoch);
        int tid = (int)h_gettid();
        int lt = atomic_load(&locked_tid);
        long e2 = atomic_load(&epoch);
        if (e1 == e2 && (e1 & 1))
            CHECK(tid != lt, "goroutine ran on thread %d while another goroutine had it locked",
                  tid);
        atomic_fetch_add(&noise_rounds, 1);
        gmp_gosched();
    }
    wg_done(&noise_wg);
}

static void locker(void *arg)
{
    ev_t *done = (ev_t *)arg;
    CHECK_EQ(gmp_unlock_thread(), -EINVAL);
    CHECK_EQ(gmp_lock_thread(), 0);
    CHECK_EQ(gmp_lock_thread(), 0); /* nested: count 2 */
    int tid = (int)h_gettid();
    atomic_store(&locked_tid, tid);
    atomic_fetch_add(&epoch, 1); /* odd: locked */
    for (int i = 0; i < SWITCHES; i++) {
        switch_once(i);
        CHECK(h_gettid() == tid, "locked goroutine moved from thread %d to %d after switch %d",
              tid, (int)h_gettid(), i);
    }
    CHECK_EQ(gmp_unlock_thread(), 0); /* count 1: still locked */
    for (int i = 0; i < SWITCHES / 4; i++) {
        switch_once(i);
        CHECK(h_gettid() == tid, "goroutine moved after one of two unlocks (switch %d)", i);
    }
    atomic_fetch_add(&epoch, 1); /* even: about to unlock */
    CHECK_EQ(gmp_unlock_thread(), 0);
    CHECK_EQ(gmp_unlock_thread(), -EINVAL);
    for (int i = 0; i < 100; i++) gmp_gosched(); /* unlocked: may move, must still run */
    ev_set(done);
}

static void exit_locked(void *arg)
{
    CHECK_EQ(gmp_lock_thread(), 0);
    gmp_gosched();
    ev_set((ev_t *)arg);
    /* returns while locked */
}

static H_ATOMIC(int) after_count;
static void after(void *arg)
{
    atomic_fetch_add(&after_count, 1);
    wg_done((wg_t *)arg);
}

static void main_fn(void *arg)
{
    (void)arg;
    wg_init(&noise_wg);
    wg_add(&noise_wg, NOISE);
    for (int i = 0; i < NOISE; i++) h_spawn(noise, NULL);
    /* The locked-thread checks need company: start the locker once noise is running (its
     * whole run can take a few ms, less than a new thread may take to start). */
    H_GOSCHED_UNTIL(atomic_load(&noise_rounds) > 0, 30, "noise goroutines never ran");
    ev_t done;
    ev_init(&done);
    h_spawn(locker, &done);
    ev_wait(&done);
    atomic_store(&stop_noise, 1);
    wg_wait(&noise_wg);
    CHECK(atomic_load(&noise_rounds) > 0, "noise goroutines never ran");

    ev_t el;
    ev_init(&el);
    h_spawn(exit_locked, &el);
    ev_wait(&el);
    wg_t w;
    wg_init(&w);
    wg_add(&w, 1000);
    for (int i = 0; i < 1000; i++) h_spawn(after, &w);
    wg_wait(&w);
    CHECK_EQ(atomic_load(&after_count), 1000);
}

int main(void)
{
    h_check_lib();
    h_main(main_fn, NULL);
    printf("t_lock_thread: ok (%ld noise rounds)\n", atomic_load(&noise_rounds));
    return 0;
}
