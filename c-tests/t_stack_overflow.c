/*
 * t_stack_overflow: the SIGSEGV handler tells goroutine stack overflows from other faults.
 *
 * The parent never starts the runtime; it runs this program again as children (h_run_self:
 * fork + exec of /proc/self/exe with a mode argument; stderr captured through a pipe; core
 * dumps off; a 20 s deadline per child) and checks how each one died:
 *
 *  1. "overflow": a goroutine (not the first one: a few others were spawned before it) prints
 *     its id, then recurses without bound (a volatile local array per frame). The child must
 *     die of SIGABRT, and its stderr must contain exactly
 *     `gmp: fatal error: stack overflow in goroutine N (stack size S)` with N = that id and
 *     S = 262144 (default), 65536 (GMP_STACK_SIZE=65536) and 131072 (GMP_STACK_SIZE=128k).
 *  2. "segv-handler": the program installs its own SIGSEGV handler (SA_SIGINFO) BEFORE the
 *     runtime starts; a goroutine then writes to address 16 (not in any guard page). The
 *     handler must be called (chaining), with si_addr == 16: it prints a marker and
 *     _exit(42). Exit status 42, no "stack overflow" message.
 *  3. "segv-default": the same fault with no handler of the program's: the default action,
 *     death by SIGSEGV, and no "fatal error" message.
 *  4. "overflow-handler": a goroutine stack overflow while the program has its own SIGSEGV
 *     handler: still the runtime's fatal message and SIGABRT (design.md: a fault in a guard
 *     page is always a stack overflow), and the program's handler is not called.
 *  5. "overflow-g0": gmp_park's unlock function (it runs on the M's scheduler stack, g0)
 *     recurses without bound: SIGABRT and `gmp: fatal error: stack overflow on the scheduler
 *     stack (g0) of M <id> (stack size 1048576)`.
 *
 * Catches: an overflow that hangs or dies silently (no alternate signal stack: the handler
 * cannot run on the exhausted stack, the kernel kills with SIGSEGV), the wrong goroutine id or
 * size in the message, GMP_STACK_SIZE ignored, a runtime that swallows other SIGSEGVs, calls a
 * chained handler wrongly (e.g. without siginfo), loops forever re-faulting, or reports every
 * fault as a stack overflow.
 */
#include "harness.h"

/* ------------------------------------------------------------------ children */

static volatile long depth_limit = LONG_MAX; /* keeps -Winfinite-recursion quiet */

__attribute__((noinline)) static long recurse(long depth)
{
    volatile char buf[200];
    buf[0] = (char)depth;
    buf[199] = (char)(depth >> 8);
    long r = depth < depth_limit ? recurse(depth + 1) : 0;
    return r + buf[depth % 200];
}

static void overflower(void *arg)
{
    (void)arg;
    dprintf(2, "child: goid=%lld\n", (long long)gmp_goid(NULL));
    long r = recurse(0);
    dprintf(2, "child: recursion returned %ld\n", r);
    _exit(5);
}

static int *volatile bad_ptr = (int *)16;

static void faulter(void *arg)
{
    (void)arg;
    dprintf(2, "child: goid=%lld\n", (long long)gmp_goid(NULL));
    *bad_ptr = 1;
    dprintf(2, "child: write to address 16 did not fault\n");
    _exit(6);
}

static void nothing(void *arg) { (void)arg; }

static bool recursing_unlockf(gmp_g *g, void *lock)
{
    (void)g;
    (void)lock;
    long r = recurse(0);
    dprintf(2, "child: recursion on g0 returned %ld\n", r);
    _exit(8);
}

static void g0_overflower(void *arg)
{
    (void)arg;
    dprintf(2, "child: goid=%lld\n", (long long)gmp_goid(NULL));
    gmp_park(recursing_unlockf, NULL);
    dprintf(2, "child: gmp_park returned\n");
    _exit(9);
}

static gmp_fn child_fn;
static void child_main(void *arg)
{
    (void)arg;
    /* A few goroutines first, so the faulting one is not simply goroutine 1 or 2. */
    for (int i = 0; i < 5; i++) h_spawn(nothing, NULL);
    h_spawn(child_fn, NULL);
    ev_t never;
    ev_init(&never);
    ev_wait(&never); /* the child process ends in the faulting goroutine */
}

static void my_segv(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    char buf[128];
    int n = snprintf(buf, sizeof buf, "MYHANDLER sig=%d addr=%lu\n", sig,
                     (unsigned long)(uintptr_t)si->si_addr);
    ssize_t w = write(2, buf, (size_t)n);
    (void)w;
    _exit(42);
}

static void install_my_segv(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = my_segv;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(SIGSEGV, &sa, NULL) == 0, "sigaction");
}

static int child(const char *mode)
{
    if (strcmp(mode, "overflow") == 0) {
        child_fn = overflower;
    } else if (strcmp(mode, "overflow-handler") == 0) {
        install_my_segv();
        child_fn = overflower;
    } else if (strcmp(mode, "overflow-g0") == 0) {
        child_fn = g0_overflower;
    } else if (strcmp(mode, "segv-handler") == 0) {
        install_my_segv();
        child_fn = faulter;
    } else if (strcmp(mode, "segv-default") == 0) {
        child_fn = faulter;
    } else {
        dprintf(2, "unknown mode %s\n", mode);
        return 2;
    }
    /* Our handler (if any) is in place before this first runtime call starts the runtime. */
    h_main(child_main, NULL);
    dprintf(2, "child: gmp_main returned\n");
    return 7;
}

/* ------------------------------------------------------------------ parent */

typedef struct result {
    int status;
    char err[8192];
} result;

/* The child: this program with argument `mode`; GMP_STACK_SIZE=stack_env (NULL: unset). */
static void run_child(const char *mode, const char *stack_env, result *res)
{
    char env_stack[64];
    if (stack_env)
        snprintf(env_stack, sizeof env_stack, "GMP_STACK_SIZE=%s", stack_env);
    else
        snprintf(env_stack, sizeof env_stack, "GMP_STACK_SIZE");
    const char *args[] = {mode, NULL};
    const char *env[] = {env_stack, NULL};
    h_run_self(args, env, res->err, sizeof res->err, &res->status);
}

static long long child_goid(const result *r, const char *mode)
{
    const char *g = strstr(r->err, "child: goid=");
    CHECK(g != NULL, "%s: child never reported its goroutine id; stderr: %s", mode, r->err);
    long long id = atoll(g + strlen("child: goid="));
    CHECK(id > 5, "%s: faulting goroutine has id %lld", mode, id);
    return id;
}

static void check_overflow(const char *mode, const char *stack_env, long long size)
{
    result r;
    run_child(mode, stack_env, &r);
    long long id = child_goid(&r, mode);
    char want[160];
    snprintf(want, sizeof want, "gmp: fatal error: stack overflow in goroutine %lld (stack size %lld)\n",
             id, size);
    CHECK(WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGABRT,
          "%s (GMP_STACK_SIZE=%s): child %s, want SIGABRT; stderr: %s", mode,
          stack_env ? stack_env : "unset", h_describe_status(r.status), r.err);
    CHECK(strstr(r.err, want) != NULL, "%s (GMP_STACK_SIZE=%s): stderr lacks '%.*s'; stderr: %s",
          mode, stack_env ? stack_env : "unset", (int)strlen(want) - 1, want, r.err);
    CHECK(strstr(r.err, "MYHANDLER") == NULL,
          "%s: the program's SIGSEGV handler was called for a guard-page fault; stderr: %s", mode,
          r.err);
    printf("t_stack_overflow: %s GMP_STACK_SIZE=%s: %s, '%.*s'\n", mode,
           stack_env ? stack_env : "unset", h_describe_status(r.status), (int)strlen(want) - 1,
           want);
}

int main(int argc, char **argv)
{
    if (argc > 1) return child(argv[1]);
    h_check_lib();

    check_overflow("overflow", NULL, 262144);
    check_overflow("overflow", "65536", 65536);
    check_overflow("overflow", "128k", 131072);
    check_overflow("overflow-handler", NULL, 262144);

    result r;
    run_child("overflow-g0", NULL, &r);
    (void)child_goid(&r, "overflow-g0");
    const char *g0want = "gmp: fatal error: stack overflow on the scheduler stack (g0) of M ";
    const char *g0msg = strstr(r.err, g0want);
    CHECK(WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGABRT && g0msg != NULL &&
              strstr(g0msg, " (stack size 1048576)\n") != NULL,
          "overflow-g0: child %s, want SIGABRT and '%s<id> (stack size 1048576)'; stderr: %s",
          h_describe_status(r.status), g0want, r.err);
    printf("t_stack_overflow: overflow-g0: %s, '%.*s'\n", h_describe_status(r.status),
           (int)(strchr(g0msg, '\n') - g0msg), g0msg);

    run_child("segv-handler", NULL, &r);
    (void)child_goid(&r, "segv-handler");
    CHECK(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 42,
          "segv-handler: child %s, want exit 42 from the program's own SIGSEGV handler; stderr: %s",
          h_describe_status(r.status), r.err);
    CHECK(strstr(r.err, "MYHANDLER sig=11 addr=16\n") != NULL,
          "segv-handler: handler marker (with si_addr 16) missing; stderr: %s", r.err);
    CHECK(strstr(r.err, "stack overflow") == NULL && strstr(r.err, "fatal error") == NULL,
          "segv-handler: runtime reported an error for a non-guard fault; stderr: %s", r.err);
    printf("t_stack_overflow: segv-handler: %s, chained to the program's handler\n",
           h_describe_status(r.status));

    run_child("segv-default", NULL, &r);
    (void)child_goid(&r, "segv-default");
    CHECK(WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGSEGV,
          "segv-default: child %s, want death by SIGSEGV; stderr: %s",
          h_describe_status(r.status), r.err);
    CHECK(strstr(r.err, "stack overflow") == NULL && strstr(r.err, "fatal error") == NULL,
          "segv-default: runtime reported an error for a non-guard fault; stderr: %s", r.err);
    printf("t_stack_overflow: segv-default: %s\n", h_describe_status(r.status));

    printf("t_stack_overflow: ok\n");
    return 0;
}
