/*
 * t_libc_migrate: ordinary libc use from goroutines that hop between OS threads.
 *
 * N goroutines loop ITER times: set errno to a value unique to (goroutine, iteration) -- or let a
 * failing libc call set it -- format with snprintf (%d/%s/%f: locale and TLS-using paths),
 * fprintf to a FILE* on /dev/null, write(2), malloc a buffer and fill it, then gmp_gosched()
 * (and every 64th iteration a real park/ready through an event). After the switch: errno must
 * hold exactly the value set before it, the buffer must be intact (then freed -- often on another
 * thread than the one that malloc'ed it), and gettid() is compared with the one before to count
 * migrations. With more than one P, goroutines that keep yielding through the global run queue
 * must sometimes resume on another M, so at least one migration is required (otherwise the
 * errno check would be vacuous).
 *
 * errno is read and written through noipa helpers (get_errno/set_errno), never as a plain
 * `errno` expression on both sides of a switch. Reason: glibc declares __errno_location()
 * __attribute__((const)), so GCC computes errno's ADDRESS once per function and reuses it after
 * gmp_gosched -- i.e. after a migration plain `errno` reads the OLD thread's errno slot, which
 * now belongs to whatever goroutine runs there. No runtime can fix that (errno is a
 * thread-local variable, and the API already warns that TLS addresses are not carried across
 * switches); what the runtime guarantees is that the errno slot of the thread a goroutine
 * resumes on holds the goroutine's value, and that is what the helpers observe. (Observed with
 * gcc 12 -O2: the loop body called __errno_location once, before the loop, and a plain-errno
 * version of this test failed at procs=2 with another goroutine's errno.)
 *
 * Catches: errno not carried across a goroutine switch (it is per-thread TLS: after a migration
 * the goroutine would read the new thread's errno, which another goroutine set; even without
 * migration the scheduler's own failing futex/syscalls would clobber it), stdio or malloc state
 * corrupted by switching stacks, runtime that never moves goroutines between Ms.
 */
#include "harness.h"

#include <fcntl.h>

#define N 8
#define ITER 4000

static FILE *devnull;
static int devfd;
static H_ATOMIC(long) migrations;
static wg_t wg;

/* A fresh __errno_location() call on every use: see the header comment. */
__attribute__((noipa)) static int get_errno(void) { return errno; }
__attribute__((noipa)) static void set_errno(int v) { errno = v; }

static void helper(void *arg) { ev_set((ev_t *)arg); }

static void worker(void *arg)
{
    int w = (int)(intptr_t)arg;
    char s[128], expect[128];
    long moved = 0;
    for (int i = 0; i < ITER; i++) {
        size_t len = 16 + (size_t)(i * 37 % 2000);
        unsigned char *buf = (unsigned char *)malloc(len);
        CHECK(buf != NULL, "malloc");
        memset(buf, (w * 31 + i) & 0xff, len);

        int n = snprintf(s, sizeof s, "g%d i%d %s %.2f", w, i, "str", i * 0.25);
        CHECK(n > 0 && n < (int)sizeof s, "snprintf = %d", n);
        CHECK(fprintf(devnull, "%s %ld\n", s, (long)i) > 0, "fprintf to /dev/null failed");

        int want;
        if (i % 5 == 0) {
            set_errno(0);
            CHECK(close(-1) == -1, "close(-1) succeeded");
            want = get_errno();
            CHECK(want == EBADF, "close(-1) set errno %d", want);
        } else {
            want = 1000000 + w * 100000 + i; /* unique per goroutine and iteration */
            set_errno(want);
        }
        pid_t before = h_gettid();
        if (i % 64 == 63) {
            ev_t ev;
            ev_init(&ev);
            h_spawn(helper, &ev);
            set_errno(want); /* gmp_spawn may have changed it */
            ev_wait(&ev);
        } else {
            gmp_gosched();
        }
        int got = get_errno();
        CHECK(got == want, "goroutine %d iter %d: errno %d after a switch, set %d", w, i, got, want);
        if (h_gettid() != before) moved++;

        for (size_t k = 0; k < len; k++)
            CHECK(buf[k] == ((w * 31 + i) & 0xff), "heap buffer corrupted at %zu", k);
        free(buf);
        snprintf(expect, sizeof expect, "g%d i%d %s %.2f", w, i, "str", i * 0.25);
        CHECK(strcmp(s, expect) == 0, "stack buffer changed: '%s' vs '%s'", s, expect);
        CHECK(write(devfd, s, (size_t)n) == n, "write to /dev/null");
    }
    atomic_fetch_add(&migrations, moved);
    wg_done(&wg);
}

static void main_fn(void *arg)
{
    (void)arg;
    wg_init(&wg);
    wg_add(&wg, N);
    for (int i = 0; i < N; i++) h_spawn(worker, (void *)(intptr_t)i);
    wg_wait(&wg);
}

int main(void)
{
    h_check_lib();
    devnull = fopen("/dev/null", "w");
    devfd = open("/dev/null", O_WRONLY);
    CHECK(devnull && devfd >= 0, "open /dev/null");
    h_main(main_fn, NULL);
    int procs = gmp_set_procs(0);
    long m = atomic_load(&migrations);
    if (procs > 1)
        CHECK(m > 0, "with %d Ps no goroutine ever resumed on another thread in %d switches",
              procs, N * ITER);
    fclose(devnull);
    printf("t_libc_migrate: procs=%d, %ld migrations in %d switches\n", procs, m, N * ITER);
    return 0;
}
