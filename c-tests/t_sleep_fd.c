/*
 * t_sleep_fd: timers and fd waits park goroutines, not threads.
 *
 *  - gmp_sleep(ns) in a goroutine returns 0 after at least ns (CLOCK_MONOTONIC); gmp_sleep(0)
 *    and negative values just yield; in thread context it sleeps the thread (>= ns).
 *  - NSLEEP goroutines sleep SLEEP_MS at once: all wake, and the whole batch takes far less
 *    than NSLEEP * SLEEP_MS (< 5 s, a generous bound: they sleep in parallel as parked Gs,
 *    even with one P; serialised sleeps would take 1000 * 20 ms = 20 s).
 *  - while a goroutine sleeps, another goroutine on the same single P keeps running (the
 *    sleeper does not hold its thread/P): checked with gmp_set_procs(1) via a counter that
 *    advances during the sleep.
 *  - gmp_wait_fd: POLLIN on an empty pipe with a 20 ms timeout -> -ETIMEDOUT after >= 20 ms;
 *    POLLOUT on a writable pipe -> returns > 0 with POLLOUT set; POLLIN with no timeout,
 *    woken by another goroutine writing -> POLLIN set, and the byte is readable; NFD goroutines
 *    waiting on NFD pipes at once, written in reverse order: each wakes exactly once with POLLIN.
 *
 * Catches: sleeps that return early, block the thread/P, or are serialised; fd waits that
 * never wake (lost netpoll wake-up), time out early, report wrong events.
 */
#include "harness.h"

#include <poll.h>

#define NSLEEP 1000
#define SLEEP_MS 20
#define NFD 32

static wg_t wg;
static H_ATOMIC(long) spin_count;
static H_ATOMIC(int) stop_spin;

static void sleeper(void *arg)
{
    (void)arg;
    int64_t t0 = h_now_ns();
    CHECK_EQ(gmp_sleep((int64_t)SLEEP_MS * 1000000), 0);
    int64_t dt = h_now_ns() - t0;
    CHECK(dt >= (int64_t)SLEEP_MS * 1000000, "gmp_sleep(%d ms) returned after %lld ns", SLEEP_MS,
          (long long)dt);
    wg_done(&wg);
}

static void spinner(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop_spin)) {
        atomic_fetch_add(&spin_count, 1);
        gmp_gosched();
    }
    wg_done(&wg);
}

typedef struct fdw {
    int fds[2];
    H_ATOMIC(int) wakes;
} fdw_t;
static fdw_t fw[NFD];

static void fd_waiter(void *arg)
{
    fdw_t *f = (fdw_t *)arg;
    int r = gmp_wait_fd(f->fds[0], POLLIN, -1);
    CHECK(r > 0 && (r & POLLIN), "gmp_wait_fd(POLLIN) = %d", r);
    char c;
    CHECK(read(f->fds[0], &c, 1) == 1 && c == 'y', "byte after POLLIN");
    atomic_fetch_add(&f->wakes, 1);
    wg_done(&wg);
}

static void main_fn(void *arg)
{
    (void)arg;
    int procs = gmp_set_procs(1);

    /* the sleeper does not hold the only P */
    wg_init(&wg);
    wg_add(&wg, 1);
    h_spawn(spinner, NULL);
    long c0 = atomic_load(&spin_count);
    int64_t t0 = h_now_ns();
    CHECK_EQ(gmp_sleep(30 * 1000000), 0);
    CHECK(h_now_ns() - t0 >= 30 * 1000000, "slept less than 30 ms");
    CHECK(atomic_load(&spin_count) > c0, "nothing else ran on the single P during gmp_sleep");
    atomic_store(&stop_spin, 1);
    wg_wait(&wg);

    CHECK_EQ(gmp_sleep(0), 0);
    CHECK_EQ(gmp_sleep(-5), 0);

    /* many sleepers in parallel, still with one P */
    wg_init(&wg);
    wg_add(&wg, NSLEEP);
    t0 = h_now_ns();
    for (int i = 0; i < NSLEEP; i++) h_spawn(sleeper, NULL);
    wg_wait(&wg);
    int64_t batch = h_now_ns() - t0;
    CHECK(batch < 5LL * 1000000000, "%d parallel %d ms sleeps took %lld ms", NSLEEP, SLEEP_MS,
          (long long)(batch / 1000000));
    gmp_set_procs(procs);

    /* fd waits */
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    t0 = h_now_ns();
    int r = gmp_wait_fd(p[0], POLLIN, 20 * 1000000);
    CHECK(r == -ETIMEDOUT, "gmp_wait_fd on an empty pipe = %d", r);
    CHECK(h_now_ns() - t0 >= 20 * 1000000, "fd wait timed out early");
    r = gmp_wait_fd(p[1], POLLOUT, -1);
    CHECK(r > 0 && (r & POLLOUT), "gmp_wait_fd(POLLOUT) = %d", r);
    close(p[0]);
    close(p[1]);

    wg_init(&wg);
    wg_add(&wg, NFD);
    for (int i = 0; i < NFD; i++) {
        CHECK(pipe(fw[i].fds) == 0, "pipe");
        h_spawn(fd_waiter, &fw[i]);
    }
    for (int i = 0; i < 20; i++) gmp_gosched(); /* let most of them park (not required) */
    for (int i = NFD - 1; i >= 0; i--) CHECK(write(fw[i].fds[1], "y", 1) == 1, "write");
    wg_wait(&wg);
    for (int i = 0; i < NFD; i++) {
        CHECK_EQ(atomic_load(&fw[i].wakes), 1);
        close(fw[i].fds[0]);
        close(fw[i].fds[1]);
    }
}

int main(void)
{
    h_check_lib();
    int64_t t0 = h_now_ns();
    CHECK_EQ(gmp_sleep(10 * 1000000), 0); /* thread context: sleeps the thread */
    CHECK(h_now_ns() - t0 >= 10 * 1000000, "thread-context gmp_sleep returned early");
    h_main(main_fn, NULL);
    printf("t_sleep_fd: ok\n");
    return 0;
}
