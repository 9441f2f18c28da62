/*
 * t_env: GMP_MAXPROCS, GMP_STACK_SIZE and GMP_DEBUG values, valid and invalid.
 *
 * The parent runs this program again as a child (h_run_self) with one environment each. The
 * child starts the runtime on first use, prints "procs=<n>" (gmp_stats_read) to stderr, and
 * with the argument "big" runs a goroutine that puts a 512 MiB array on its stack and touches
 * its far end (only possible with a stack of more than 512 MiB).
 *
 * Checks, for each case: the exact number of "gmp: ignoring ..." lines and their text; the P
 * count that results (the valid value, else the default = the CPUs this process may use); the
 * child's exit status. Catches: an invalid value silently accepted or silently ignored, a
 * message per character or none, a wrong default, the g suffix or the 1g maximum rejected,
 * out-of-range values accepted, GMP_DEBUG entries misparsed.
 */
#include "harness.h"

#include <alloca.h>
#include <sched.h>

/* ------------------------------------------------------------------ child */

static wg_t wg;

static void big_frame(void *arg)
{
    (void)arg;
    size_t n = (size_t)512 << 20;
    volatile char *p = (volatile char *)alloca(n);
    p[0] = 1; /* the far (low) end: 512 MiB below the frame */
    p[n - 1] = 2;
    CHECK(p[0] + p[n - 1] == 3, "big frame");
    wg_done(&wg);
}

static int child(const char *mode)
{
    gmp_stats st;
    CHECK_EQ(gmp_stats_read(&st), 0);
    fprintf(stderr, "procs=%u\n", st.procs);
    if (strcmp(mode, "big") == 0) {
        wg_init(&wg);
        wg_add(&wg, 1);
        h_spawn(big_frame, NULL);
        wg_wait(&wg);
        fprintf(stderr, "big ok\n");
    }
    return 0;
}

/* ------------------------------------------------------------------ parent */

static char out[1 << 16];

static int count_lines(const char *s, const char *prefix)
{
    int n = 0;
    size_t k = strlen(prefix);
    for (const char *l = s; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
        if (strncmp(l, prefix, k) == 0) n++;
    return n;
}

static unsigned ncpu(void)
{
    cpu_set_t set;
    CHECK(sched_getaffinity(0, sizeof set, &set) == 0, "sched_getaffinity");
    unsigned n = (unsigned)CPU_COUNT(&set);
    return n > 1024 ? 1024 : n;
}

/* Run the child with one variable set (the others unset); check the messages and the P count. */
static void run_case(const char *mode, const char *var, int want_lines, const char *const want_text[],
                     unsigned want_procs)
{
    const char *args[] = {"child", mode, NULL};
    const char *env[] = {"GMP_MAXPROCS", "GMP_STACK_SIZE", "GMP_DEBUG", var, NULL};
    int status = 0;
    h_run_self(args, env, out, sizeof out, &status);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s: child status %#x; stderr:\n%s", var, status, out);
    int lines = count_lines(out, "gmp: ignoring ");
    CHECK(lines == want_lines, "%s: %d 'gmp: ignoring' lines, want %d; stderr:\n%s", var, lines, want_lines, out);
    for (int i = 0; want_text && want_text[i]; i++)
        CHECK(strstr(out, want_text[i]) != NULL, "%s: no '%s' in stderr:\n%s", var, want_text[i], out);
    char procs[32];
    snprintf(procs, sizeof procs, "procs=%u\n", want_procs);
    CHECK(strstr(out, procs) != NULL, "%s: want %s in stderr:\n%s", var, procs, out);
    if (strcmp(mode, "big") == 0)
        CHECK(strstr(out, "big ok\n") != NULL, "%s: the 512 MiB frame did not run; stderr:\n%s", var, out);
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "child") == 0) return child(argv[2]);
    h_check_lib();
    unsigned n = ncpu();

    /* Valid values: no message. */
    run_case("plain", "GMP_MAXPROCS=3", 0, NULL, 3);
    run_case("plain", "GMP_MAXPROCS= 5 ", 0, NULL, 5);
    run_case("big", "GMP_STACK_SIZE=1g", 0, NULL, n);
    run_case("plain", "GMP_STACK_SIZE=64K", 0, NULL, n);
    run_case("plain", "GMP_DEBUG=asyncpreemptoff=1,scheddetail=0", 0, NULL, n);

    /* Invalid values: one line each, and the default. */
    run_case("plain", "GMP_MAXPROCS=abc", 1, (const char *const[]){"gmp: ignoring GMP_MAXPROCS=abc: not a number\n", NULL}, n);
    run_case("plain", "GMP_MAXPROCS=0", 1, (const char *const[]){"gmp: ignoring GMP_MAXPROCS=0: out of range (1 to 1024)\n", NULL}, n);
    run_case("plain", "GMP_MAXPROCS=5000", 1, (const char *const[]){"gmp: ignoring GMP_MAXPROCS=5000: out of range", NULL}, n);
    run_case("plain", "GMP_STACK_SIZE=1t", 1,
             (const char *const[]){"gmp: ignoring GMP_STACK_SIZE=1t: not a size (bytes, with an optional k, m or g suffix)\n", NULL}, n);
    run_case("plain", "GMP_STACK_SIZE=2g", 1, (const char *const[]){"gmp: ignoring GMP_STACK_SIZE=2g: out of range (16k to 1g)\n", NULL}, n);
    run_case("plain", "GMP_STACK_SIZE=4k", 1, (const char *const[]){"gmp: ignoring GMP_STACK_SIZE=4k: out of range", NULL}, n);
    run_case("plain", "GMP_DEBUG=bogus=1,schedtrace=x,asyncpreemptoff=1,=", 3,
             (const char *const[]){"gmp: ignoring GMP_DEBUG entry bogus=1: unknown name",
                                   "gmp: ignoring GMP_DEBUG entry schedtrace=x: not name=number",
                                   "gmp: ignoring GMP_DEBUG entry =: ", NULL},
             n);
    printf("t_env: ok (%u CPUs)\n", n);
    return 0;
}
