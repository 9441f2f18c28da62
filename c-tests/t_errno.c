/*
 * t_errno: gmp.h's switch-safe errno macro (api.md "Goroutine-local storage and errno").
 *
 * Compile time: this file includes gmp.h twice. The first time GMP_NO_ERRNO_MACRO is defined,
 * so `errno` must stay glibc's macro (`(*__errno_location ())`): its text is captured in
 * errno_libc[] and libc_errno_addr() is compiled with it. The second include (through
 * harness.h) is a normal one, after which `errno` must be `(*gmp_errno_location())` (the header
 * keeps its errno block outside the include guard, so each include applies or skips it as
 * GMP_NO_ERRNO_MACRO says). The run only compares those captured texts and addresses; it
 * never asserts what gcc does with glibc's `const` __errno_location across a switch (a hazard
 * that may or may not bite).
 *
 * Run time, with the macro:
 *  - a goroutine starts with errno 0 (its creator's errno is not inherited);
 *  - 64 goroutines x 500 iterations: errno = x (unique per goroutine and iteration), then a
 *    switch point -- gmp_gosched, gmp_sleep, an unbuffered channel handshake with a partner
 *    goroutine, or a hooked libc call that fails and sets errno itself (close(-1): EBADF) --
 *    and errno must still read x (or EBADF), and &errno must be the errno of the thread the
 *    goroutine runs on now (glibc's __errno_location, asked afresh). At 2 and 8 Ps the
 *    goroutines must have changed threads meanwhile (gettid), or nothing was tested.
 *  - contention: 32 goroutines x 10,000 operations on one buffered channel (cap 4) and one
 *    gmp_mutex, errno set to a sentinel before each and checked after: an operation that
 *    completes without parking, after waiting on a contended internal lock, must not leave
 *    that wait's errno (a futex EAGAIN) in the caller's errno either.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>

#define GMP_NO_ERRNO_MACRO
#include "gmp.h"
#define T_STR_(x) #x
#define T_STR(x) T_STR_(x)
static const char errno_libc[] = T_STR(errno);
/* glibc's errno of the calling thread, asked afresh on every call */
__attribute__((noipa)) static int *libc_errno_addr(void) { return &errno; }
#undef GMP_NO_ERRNO_MACRO

#include "harness.h" /* includes gmp.h again: now with the macro */
static const char errno_gmp[] = T_STR(errno);

static void test_macro_text(void)
{
    CHECK(strstr(errno_libc, "__errno_location") && !strstr(errno_libc, "gmp_errno_location"),
          "with GMP_NO_ERRNO_MACRO, errno expands to '%s', not glibc's macro", errno_libc);
    CHECK(strstr(errno_gmp, "gmp_errno_location") != NULL,
          "gmp.h's errno expands to '%s', not (*gmp_errno_location())", errno_gmp);
    CHECK(&errno == gmp_errno_location(), "&errno is not gmp_errno_location()");
    CHECK(gmp_errno_location() == libc_errno_addr(),
          "gmp_errno_location() %p is not the thread's errno %p", (void *)gmp_errno_location(),
          (void *)libc_errno_addr());
    errno = 1234;
    CHECK(*libc_errno_addr() == 1234, "errno through gmp.h is not the thread's errno");
    errno = 0;
}

#define NG 64
#define ITERS 500
static gmp_chan *ch;
static H_ATOMIC(long) migrations;
static wg_t done;

static void check_now(int id, int it, int want, const char *after)
{
    int got = errno;
    CHECK(got == want, "goroutine %d iteration %d: errno %d after %s, want %d", id, it, got,
          after, want);
    CHECK(&errno == libc_errno_addr(),
          "goroutine %d iteration %d: &errno %p after %s is not this thread's errno %p", id, it,
          (void *)&errno, after, (void *)libc_errno_addr());
}

static void worker(void *arg)
{
    int id = (int)(uintptr_t)arg;
    check_now(id, -1, 0, "the goroutine's start");
    pid_t last = h_gettid();
    long moved = 0;
    for (int it = 0; it < ITERS; it++) {
        int x = (id << 16) | (it + 1);
        const char *what;
        errno = x;
        switch ((it + id) % 4) {
        case 0:
            gmp_gosched();
            what = "gmp_gosched";
            break;
        case 1:
            gmp_sleep(1000 * (it % 3));
            what = "gmp_sleep";
            break;
        case 2: {
            int64_t v = id;
            int r = id % 2 ? gmp_chan_send(ch, &v) : gmp_chan_recv(ch, &v);
            CHECK(r >= 0, "channel op = %d", r);
            what = "a channel operation";
            break;
        }
        default:
            CHECK(close(-1) == -1, "close(-1) succeeded");
            x = EBADF;
            gmp_gosched();
            what = "close(-1) and gmp_gosched";
            break;
        }
        check_now(id, it, x, what);
        pid_t now = h_gettid();
        moved += now != last;
        last = now;
    }
    atomic_fetch_add(&migrations, moved);
    wg_done(&done);
}

#define CG 32
#define COPS 10000
static gmp_mutex cmu;
static long cshared; /* under cmu */

static void contender(void *arg)
{
    int id = (int)(uintptr_t)arg;
    for (int i = 0; i < COPS; i++) {
        int64_t v = i;
        int x = (id << 20) | (i + 1);
        errno = x;
        int r = id % 2 ? gmp_chan_send(ch, &v) : gmp_chan_recv(ch, &v);
        CHECK(r >= 0, "channel op = %d", r);
        check_now(id, i, x, "a channel operation under contention");
        errno = x + 1;
        CHECK_EQ(gmp_mutex_lock(&cmu), 0);
        check_now(id, i, x + 1, "gmp_mutex_lock under contention");
        cshared++;
        errno = x + 2;
        CHECK_EQ(gmp_mutex_unlock(&cmu), 0);
        check_now(id, i, x + 2, "gmp_mutex_unlock under contention");
    }
    wg_done(&done);
}

static void test_contention(void)
{
    CHECK_EQ(gmp_chan_new(sizeof(int64_t), 4, &ch), 0);
    wg_init(&done);
    wg_add(&done, CG);
    for (int i = 0; i < CG; i++) h_spawn(contender, (void *)(uintptr_t)i);
    wg_wait(&done);
    CHECK_EQ(cshared, (long)CG * COPS);
    CHECK_EQ(gmp_chan_len(ch), 0);
    CHECK_EQ(gmp_chan_free(ch), 0);
}

static void main_g(void *arg)
{
    (void)arg;
    CHECK(errno == 0, "the main goroutine starts with errno %d", errno);
    CHECK(&errno == libc_errno_addr(), "&errno is not the thread's errno");
    CHECK_EQ(gmp_chan_new(sizeof(int64_t), 0, &ch), 0);
    errno = 4321; /* not inherited by the goroutines */
    wg_init(&done);
    wg_add(&done, NG);
    for (int i = 0; i < NG; i++) h_spawn(worker, (void *)(uintptr_t)i);
    CHECK(errno == 4321, "errno changed across gmp_spawn: %d", errno);
    wg_wait(&done);
    CHECK(errno == 4321, "errno changed across the wait: %d", errno);
    CHECK_EQ(gmp_chan_free(ch), 0);
    long m = atomic_load(&migrations);
    printf("t_errno: %ld thread changes in %d goroutines x %d switches\n", m, NG, ITERS);
    if (h_env_procs() >= 2)
        CHECK(m > 0, "no goroutine changed threads at %d Ps: nothing was tested", h_env_procs());
    test_contention();
}

int main(void)
{
    h_check_lib();
    test_macro_text();
    h_main(main_g, NULL);
    printf("t_errno: ok\n");
    return 0;
}
