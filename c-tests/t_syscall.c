/*
 * t_syscall: gmp_entersyscall/gmp_exitsyscall hand the P to another thread while a goroutine
 * blocks in the kernel.
 *
 * With ONE P (gmp_set_procs(1)): goroutine A announces itself, calls gmp_entersyscall(), blocks
 * in read() on an empty pipe, then gmp_exitsyscall(). Goroutine B waits (gmp_gosched loop) until
 * A has announced, then writes the byte A is waiting for. B can only run if the runtime takes
 * the P away from A's blocked thread (sysmon retake after ~20 us), so without the hand-off the
 * test hangs (watchdog / timeout = FAIL). ROUNDS rounds. Asserts: every read got its byte;
 * A's errno survives the syscall window (set before, checked after, via noipa helpers: see
 * t_libc_migrate); stats.syscall_retakes grew; gmp_entersyscall/exitsyscall are no-ops in thread
 * context. Then the same with GMP_MAXPROCS Ps restored and 4 blocked readers at once.
 *
 * Catches: a P that stays with a thread blocked in a syscall (everything stalls), exitsyscall
 * that loses the goroutine or resumes it without a P, retakes not counted.
 */
#include "harness.h"

#define ROUNDS 20

__attribute__((noipa)) static int get_errno(void) { return errno; }
__attribute__((noipa)) static void set_errno(int v) { errno = v; }

typedef struct pair {
    int fds[2];
    H_ATOMIC(int) announced;
    char got;
} pair_t;

static wg_t wg;

static void reader(void *arg)
{
    pair_t *p = (pair_t *)arg;
    set_errno(4242);
    atomic_store(&p->announced, 1);
    gmp_entersyscall();
    ssize_t n = read(p->fds[0], &p->got, 1);
    int e = get_errno(); /* read succeeded: errno untouched */
    gmp_exitsyscall();
    CHECK(n == 1, "read = %zd", n);
    CHECK(e == 4242 && get_errno() == 4242, "errno %d/%d across the syscall window, set 4242", e,
          get_errno());
    wg_done(&wg);
}

static void writer(void *arg)
{
    pair_t *p = (pair_t *)arg;
    H_GOSCHED_UNTIL(atomic_load(&p->announced), 60, "reader never announced");
    char c = 'x';
    CHECK(write(p->fds[1], &c, 1) == 1, "write");
    wg_done(&wg);
}

static void run_pairs(int npairs)
{
    pair_t *ps = (pair_t *)calloc((size_t)npairs, sizeof *ps);
    CHECK(ps != NULL, "calloc");
    for (int i = 0; i < npairs; i++) CHECK(pipe(ps[i].fds) == 0, "pipe");
    wg_init(&wg);
    wg_add(&wg, 2 * npairs);
    for (int i = 0; i < npairs; i++) {
        h_spawn(reader, &ps[i]);
        h_spawn(writer, &ps[i]);
    }
    wg_wait(&wg);
    for (int i = 0; i < npairs; i++) {
        CHECK(ps[i].got == 'x', "pair %d read %d", i, ps[i].got);
        close(ps[i].fds[0]);
        close(ps[i].fds[1]);
    }
    free(ps);
}

static int orig;

static void main_fn(void *arg)
{
    (void)arg;
    gmp_stats s0 = h_stats();
    for (int r = 0; r < ROUNDS; r++) run_pairs(1);
    gmp_stats s1 = h_stats();
    CHECK(s1.syscall_retakes > s0.syscall_retakes,
          "%d rounds needed a P hand-off but syscall_retakes did not grow", ROUNDS);
    CHECK_EQ(gmp_set_procs(orig), 1);
    for (int r = 0; r < ROUNDS; r++) run_pairs(4);
}

int main(void)
{
    h_check_lib();
    gmp_entersyscall(); /* thread context: no-ops */
    gmp_exitsyscall();
    orig = gmp_set_procs(1);
    h_main(main_fn, NULL);
    printf("t_syscall: ok (syscall_retakes %llu)\n",
           (unsigned long long)h_stats().syscall_retakes);
    return 0;
}
