/*
 * t_deadlock: gmp_main's deadlock detector, both ways.
 *
 *  1. No false positive: the main goroutine parks while NPARK other goroutines are parked and
 *     one is blocked in a syscall (gmp_entersyscall) that returns and then readies them.
 *     gmp_main returns 0 and prints nothing about a deadlock.
 *  2. A real deadlock: the main goroutine parks with nobody left to ready it (the NPARK-1
 *     goroutines from round 1 are still parked, too). gmp_main prints
 *     "gmp: fatal error: all goroutines are asleep - deadlock!" to stderr and returns -EDEADLK
 *     (not abort: this is the documented non-fatal exception).
 * No other thread ever calls into the runtime in this process (the harness watchdog only
 * would, after 60 s), which is the detector's precondition. stderr is captured through a pipe
 * around the second call.
 *
 * Catches: a detector that fires while a syscall could still wake someone, one that never fires
 * (hang -> watchdog), the wrong message or return code.
 */
#include "harness.h"

#define NPARK 10

static bool publish_unlockf(gmp_g *g, void *lock)
{
    atomic_store((H_ATOMIC(gmp_g *) *)lock, g);
    return true;
}

static H_ATOMIC(gmp_g *) parked[NPARK];
static H_ATOMIC(int) woke;

static void parker(void *arg)
{
    size_t i = (size_t)(uintptr_t)arg;
    CHECK_EQ(gmp_park(publish_unlockf, &parked[i]), 0);
    atomic_fetch_add(&woke, 1);
}

static bool all_parked(void)
{
    for (int i = 0; i < NPARK; i++)
        if (atomic_load(&parked[i]) == NULL) return false;
    return true;
}

static H_ATOMIC(gmp_g *) main1_g;

/* Once the main goroutine has parked too, block in a syscall that will return (every other
 * goroutine is parked meanwhile), then wake parked[0] and the main goroutine. */
static void syscaller(void *arg)
{
    (void)arg;
    H_GOSCHED_UNTIL(atomic_load(&main1_g) != NULL, 30, "main goroutine never parked");
    gmp_entersyscall();
    struct timespec ts = {0, 50 * 1000000};
    nanosleep(&ts, NULL); /* the blocking call itself, not synchronisation */
    gmp_exitsyscall();
    CHECK_EQ(gmp_ready(atomic_load(&parked[0])), 0);
    CHECK_EQ(gmp_ready(atomic_load(&main1_g)), 0);
}

static void main1(void *arg)
{
    (void)arg;
    for (size_t i = 0; i < NPARK; i++) h_spawn(parker, (void *)(uintptr_t)i);
    H_GOSCHED_UNTIL(all_parked(), 30, "parkers never parked");
    /* Everybody else is parked; we park too while a goroutine is in a syscall that will
     * return: no deadlock. */
    h_spawn(syscaller, NULL);
    CHECK_EQ(gmp_park(publish_unlockf, &main1_g), 0);
    H_GOSCHED_UNTIL(atomic_load(&woke) == 1, 30, "readied parker never ran");
}

static H_ATOMIC(gmp_g *) main2_g;
static int real_stderr = -1; /* stderr while fd 2 is captured */
static void main2(void *arg)
{
    (void)arg;
    int r = gmp_park(publish_unlockf, &main2_g); /* nobody will ever ready us */
    dprintf(real_stderr, "%s:%d: deadlocked main goroutine resumed (gmp_park = %d)\n", __FILE__,
            __LINE__, r);
    _exit(1);
}

static int capture_begin(int *saved)
{
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    fflush(stderr);
    *saved = dup(2);
    dup2(p[1], 2);
    close(p[1]);
    return p[0];
}

static void capture_end(int rd, int saved, char *buf, size_t len)
{
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    size_t n = 0;
    ssize_t k;
    while (n + 1 < len && (k = read(rd, buf + n, len - 1 - n)) > 0) n += (size_t)k;
    buf[n] = 0;
    close(rd);
}

int main(void)
{
    h_check_lib();
    char out[4096];
    int r = gmp_main(main1, NULL);
    CHECK(r == 0, "gmp_main with a pending timer returned %d", r);

    int saved, rd = capture_begin(&saved);
    real_stderr = saved;
    r = gmp_main(main2, NULL);
    capture_end(rd, saved, out, sizeof out);
    CHECK(r == -EDEADLK, "gmp_main of a deadlocked program returned %d; stderr: %s", r, out);
    CHECK(strstr(out, "gmp: fatal error: all goroutines are asleep - deadlock!") != NULL,
          "missing deadlock message; stderr was: '%s'", out);
    printf("t_deadlock: ok\n");
    return 0;
}
