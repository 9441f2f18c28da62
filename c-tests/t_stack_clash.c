/*
 * t_stack_clash: a frame larger than a page cannot jump a goroutine stack's guard into the
 * neighbouring stack; the fault is reported as a stack overflow.
 *
 * gcc on Debian does not enable -fstack-clash-protection: a function with a big local array
 * moves rsp down by the whole frame at once, and its first store lands wherever the code
 * touches the array first. memset(buf, ...) starts at buf[0], the LOWEST address, the one
 * farthest from the stack top. Below a goroutine stack lies the previous stack of the arena
 * (another goroutine's live frames); only the guard region (os/stack.rs) is between them.
 *
 * The parent never starts the runtime; it runs this program as children (h_run_self), all at
 * GMP_STACK_SIZE=32k, and checks how each died. In each child a "clasher" goroutine calls
 * big(), whose 56 KiB frame on a 32 KiB stack stores to buf[0] first: 24-28 KiB below the
 * stack's bottom, i.e. well past a 4 KiB guard (the child reports the exact depth and the
 * parent checks it lies beyond 36 KiB below the goroutine's entry frame and within 64 KiB
 * below any stack bottom). Modes:
 *
 *  1. "clash": 24 candidate goroutines record their entry frame addresses; the main goroutine
 *     picks two with adjacent stacks (the smallest positive distance): the upper one becomes the
 *     clasher, every other one a "neighbour" that fills a 24 KiB canary in its frame and parks.
 *     The clasher's store would land in its lower neighbour's canary with a one-page guard.
 *     Want: death by SIGABRT with `gmp: fatal error: stack overflow in goroutine N (stack size
 *     32768)`, N = the clasher's id; a SIGABRT handler of the program (it runs inside the
 *     runtime's abort, so after the report) checks every neighbour's canary: all intact.
 *  2. "clash-mprotect": the same, in a child whose seccomp filter makes
 *     madvise(MADV_GUARD_INSTALL) fail with EINVAL, as on a kernel before 6.13: the runtime's
 *     mprotect(PROT_NONE) fallback must give the same protection (the child counts the
 *     64 KiB PROT_NONE mappings in /proc/self/maps: at least one per candidate stack).
 *  3. "clash-cold": the clasher runs on a stack the runtime has scavenged (MADV_DONTNEED): 6000
 *     goroutines dirty their stacks and end, the main goroutine sleeps so every M goes idle
 *     (the last one gives back the free stacks beyond 4096), 4400 parked holders use up the
 *     warm ones, and the candidates then get scavenged stacks (recognised by their entry frame
 *     address, one of the 6000, and by the dirtied bytes below it reading as zero again).
 *     Want: the same fatal report: the guard outlived the scavenging.
 *
 * Without the 64 KiB guard (a 4 KiB one) the store lands in the neighbour's stack: big()
 * returns, the clasher finds the canary overwritten, prints CLOBBERED and exits 3 (or 4 if it
 * hit some stack that is not a canary): no SIGABRT, no report.
 * Catches: a guard smaller than the frame, the handler recognising only the guard's top page,
 * scavenging that drops guards, a fallback that installs no guard (or a 4 KiB one), and a
 * report that is not made on the alternate signal stack (the process would die of SIGSEGV).
 */
#include "harness.h"

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>

/* The protection under test is the runtime's guard, not the compiler's probes. */
#pragma GCC optimize("no-stack-clash-protection")

#define STACK (32 << 10)  /* GMP_STACK_SIZE of every child */
#define BIG (56 << 10)    /* the clasher's frame: larger than the stack, smaller than 64 KiB */
#define CANARY (24 << 10) /* each neighbour's canary, most of its stack */
#define NCAND 24
#define NDIRTY 6000
#define NHOLD 4400
#define NCOLD 8
#define DIRTY (12 << 10)

/* ------------------------------------------------------------------ child */

typedef struct cand {
    uintptr_t top; /* the goroutine function's frame address */
    long long goid;
    int role; /* 0 = undecided, 1 = neighbour, 2 = clasher */
    int cold; /* runs on a scavenged stack (clash-cold) */
    volatile unsigned char *canary;
    ev_t go;
} cand;

static cand cands[NCAND];
static int ncand;
static wg_t recorded; /* candidates that recorded their frame (the main goroutine waits) */
static wg_t filled;   /* neighbours whose canary is in place (the clasher waits) */

/* Park for the rest of the child's life (nobody readies it). */
static void park_forever(void)
{
    gmp_park(NULL, NULL);
    CHECK(0, "a goroutine parked for good was readied");
}
static volatile uintptr_t target; /* big()'s first store (set before the store, no call between) */
static volatile long long near_goid = -1; /* the clasher's lower neighbour (clash modes) */
static volatile uintptr_t near_dist;

static unsigned char pattern(int i, size_t k) { return (unsigned char)(0xC3 ^ (i * 29) ^ (k * 7)); }

/* Checks every neighbour's canary and reports; async-signal-safe enough for a dying child. */
static int check_canaries(const char *when)
{
    char buf[512];
    int clobbered = 0, n;
    for (int i = 0; i < ncand; i++) {
        if (cands[i].role != 1 || !cands[i].canary) continue;
        for (size_t k = 0; k < CANARY; k++) {
            if (cands[i].canary[k] != pattern(i, k)) {
                n = snprintf(buf, sizeof buf,
                             "child: %s: CLOBBERED: goroutine %lld's canary byte %zu (at %#lx) "
                             "is %#x\n",
                             when, cands[i].goid, k, (unsigned long)(uintptr_t)&cands[i].canary[k],
                             cands[i].canary[k]);
                if (write(2, buf, (size_t)n) < 0) _exit(10);
                clobbered++;
                break;
            }
        }
    }
    long long in = -1;
    for (int i = 0; i < ncand; i++)
        if (cands[i].role == 1 && cands[i].canary && target >= (uintptr_t)cands[i].canary &&
            target < (uintptr_t)cands[i].canary + CANARY)
            in = cands[i].goid;
    long long clasher = -1;
    uintptr_t top = 0;
    for (int i = 0; i < ncand; i++)
        if (cands[i].role == 2) clasher = cands[i].goid, top = cands[i].top;
    char near[96] = "", where[64] = "outside every canary";
    if (near_goid >= 0)
        snprintf(near, sizeof near, ", stack below: goroutine %lld's (entry frames %lu bytes apart)",
                 near_goid, (unsigned long)near_dist);
    if (in >= 0) snprintf(where, sizeof where, "inside goroutine %lld's canary", in);
    n = snprintf(buf, sizeof buf,
                 "child: %s: clasher %lld%s; first store depth=%lu below the clasher's entry "
                 "frame, %s; canaries %s\n",
                 when, clasher, near, (unsigned long)(top - target), where,
                 clobbered ? "CLOBBERED" : "intact");
    if (write(2, buf, (size_t)n) < 0) _exit(10);
    return clobbered;
}

static void on_abort(int sig)
{
    (void)sig;
    check_canaries("at abort");
    /* Returning: glibc's abort() restores SIG_DFL and raises SIGABRT again. */
}

/* The frame under test: rsp moves down BIG bytes at once and the first store is buf[0]. No
 * call between the frame's creation and the store (a call would push below buf). */
__attribute__((noinline)) static int big(void)
{
    volatile unsigned char buf[BIG];
    target = (uintptr_t)&buf[0];
    buf[0] = 0x5A; /* the far end first, as memset(buf, ...) starts */
    buf[BIG - 1] = 0x5A;
    return buf[0] + buf[BIG - 1];
}

__attribute__((noinline)) static void neighbour(int i)
{
    volatile unsigned char canary[CANARY];
    for (size_t k = 0; k < CANARY; k++) canary[k] = pattern(i, k);
    cands[i].canary = canary;
    wg_done(&filled);
    park_forever(); /* keeps this frame (and its canary) alive */
}

static void candidate(void *arg)
{
    int i = (int)(intptr_t)arg;
    cands[i].top = (uintptr_t)__builtin_frame_address(0);
    cands[i].goid = (long long)gmp_goid(NULL);
    wg_done(&recorded);
    ev_wait(&cands[i].go);
    if (cands[i].role == 1) {
        neighbour(i);
        return;
    }
    wg_wait(&filled);
    dprintf(2, "child: goid=%lld\n", cands[i].goid);
    int r = big();
    dprintf(2, "child: big() returned %d: the %d KiB frame did not fault\n", r, BIG >> 10);
    _exit(check_canaries("after big()") ? 3 : 4);
}

/* clash-cold: the stacks of the first NDIRTY goroutines, dirtied then freed. */
static uintptr_t dirty_tops[NDIRTY];
static H_ATOMIC(int) ndirty;
/* The parked dirty goroutines (gate_unlockf publishes each once it is switched out). */
static gmp_g *gated[NDIRTY];
static H_ATOMIC(int) nslots, ngated;

__attribute__((noinline)) static void dirty_frame(void)
{
    volatile unsigned char a[DIRTY];
    for (size_t k = 0; k < DIRTY; k++) a[k] = 0xAB;
    (void)a[0];
}

static bool gate_unlockf(gmp_g *g, void *lock)
{
    (void)lock;
    gated[atomic_fetch_add(&nslots, 1)] = g;
    atomic_fetch_add(&ngated, 1); /* after the store: the main goroutine readies all once
                                    * ngated == NDIRTY */
    return true;
}

static void dirty(void *arg)
{
    (void)arg;
    dirty_tops[atomic_fetch_add(&ndirty, 1)] = (uintptr_t)__builtin_frame_address(0);
    dirty_frame();
    gmp_park(gate_unlockf, NULL);
}

static void holder(void *arg)
{
    (void)arg;
    park_forever();
}

/* A plain thread: calls into the runtime at once (so checkdead knows a thread outside the
 * runtime may wake goroutines), sleeps, then wakes the main goroutine. */
static wg_t woken;
static void nothing(void *arg) { (void)arg; }
static void *waker(void *arg)
{
    (void)arg;
    h_spawn(nothing, NULL);
    struct timespec ts = {0, 300 * 1000000L};
    syscall(SYS_nanosleep, &ts, NULL);
    wg_done(&woken);
    return NULL;
}

static int cmp_uptr(const void *a, const void *b)
{
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return x < y ? -1 : x > y;
}

/* Does the cold candidate i run on a scavenged stack? Its entry frame is one of the dirty
 * goroutines' (same stack, same entry) and the bytes dirty_frame() wrote below it read 0. */
static int on_scavenged_stack(int i)
{
    uintptr_t t = cands[i].top;
    if (!bsearch(&t, dirty_tops, NDIRTY, sizeof t, cmp_uptr)) return 0;
    volatile unsigned char *p = (volatile unsigned char *)(t - DIRTY / 2);
    return *p == 0;
}

static int mode_mprotect, mode_cold;

/* The 64 KiB PROT_NONE mappings: one per guard with the mprotect fallback. */
static int count_prot_none_64k(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    CHECK(f != NULL, "open /proc/self/maps");
    char line[512];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        char perm[8];
        if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perm) == 3 && strcmp(perm, "---p") == 0 &&
            hi - lo == 64 << 10)
            n++;
    }
    fclose(f);
    return n;
}

static void child_main(void *arg)
{
    (void)arg;
    if (mode_cold) {
        for (int i = 0; i < NDIRTY; i++) h_spawn(dirty, NULL);
        /* All NDIRTY parked at once: NDIRTY distinct stacks, all dirtied. */
        H_GOSCHED_UNTIL(atomic_load(&ngated) == NDIRTY, 60, "%d of %d dirty goroutines parked",
                        atomic_load(&ngated), NDIRTY);
        qsort(dirty_tops, NDIRTY, sizeof dirty_tops[0], cmp_uptr);
        for (int i = 0; i < NDIRTY; i++) gmp_ready(gated[i]); /* they end: NDIRTY free stacks */
        /* Every M goes idle while a plain thread sleeps: the last one scavenges the free
         * stacks beyond the warm 4096 (sched.rs, GFREE_KEEP_WARM). */
        ev_init(&woken);
        pthread_t t;
        CHECK(pthread_create(&t, NULL, waker, NULL) == 0, "pthread_create");
        ev_wait(&woken);
        pthread_join(t, NULL);
        for (int i = 0; i < NHOLD; i++) h_spawn(holder, NULL);
    }
    ncand = mode_cold ? NCOLD : NCAND;
    wg_init(&recorded);
    wg_add(&recorded, ncand);
    wg_init(&filled);
    wg_add(&filled, ncand - 1);
    for (int i = 0; i < ncand; i++) {
        ev_init(&cands[i].go);
        h_spawn(candidate, (void *)(intptr_t)i);
    }
    wg_wait(&recorded);

    int clasher = -1;
    if (mode_cold) {
        for (int i = 0; i < ncand && clasher < 0; i++)
            if (on_scavenged_stack(i)) clasher = i;
        CHECK(clasher >= 0, "clash-cold: none of %d candidates runs on a scavenged stack (did "
                            "scavenge_stacks run? did the free-list order change?)", ncand);
        dprintf(2, "child: clasher runs on a scavenged stack\n");
    } else {
        /* The pair with the smallest positive distance between entry frames: adjacent stacks. */
        uintptr_t best = UINTPTR_MAX;
        int lower = -1;
        for (int j = 0; j < ncand; j++)
            for (int i = 0; i < ncand; i++)
                if (cands[i].top < cands[j].top && cands[j].top - cands[i].top < best)
                    best = cands[j].top - cands[i].top, clasher = j, lower = i;
        CHECK(clasher >= 0 && best < (128u << 10),
              "no two candidate stacks adjacent (closest %lu bytes apart)", (unsigned long)best);
        near_goid = cands[lower].goid;
        near_dist = best;
    }
    if (mode_mprotect) {
        int n = count_prot_none_64k();
        dprintf(2, "child: 64 KiB PROT_NONE mappings: %d\n", n);
    }
    for (int i = 0; i < ncand; i++) cands[i].role = i == clasher ? 2 : 1;
    for (int i = 0; i < ncand; i++) ev_set(&cands[i].go);
    park_forever(); /* the child ends in the clasher */
}

/* EINVAL for madvise(..., MADV_GUARD_INSTALL = 102, ...): what a kernel before 6.13 says. */
static void deny_guard_advice(void)
{
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_madvise, 0, 3),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[2])),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 102, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EINVAL),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {(unsigned short)(sizeof f / sizeof f[0]), f};
    CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0, "PR_SET_NO_NEW_PRIVS");
    CHECK(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0, "seccomp filter");
}

static int child(const char *mode)
{
    if (strcmp(mode, "clash-mprotect") == 0) {
        mode_mprotect = 1;
        deny_guard_advice(); /* before the runtime starts: every thread inherits it */
    } else if (strcmp(mode, "clash-cold") == 0) {
        mode_cold = 1;
    } else if (strcmp(mode, "clash") != 0) {
        dprintf(2, "unknown mode %s\n", mode);
        return 2;
    }
    signal(SIGABRT, on_abort);
    h_main(child_main, NULL);
    dprintf(2, "child: gmp_main returned\n");
    return 7;
}

/* ------------------------------------------------------------------ parent */

static char err[16384];

static void check_clash(const char *mode)
{
    int status;
    const char *args[] = {mode, NULL};
    const char *env[] = {"GMP_STACK_SIZE=32k", NULL};
    h_run_self(args, env, err, sizeof err, &status);

    const char *g = strstr(err, "child: goid=");
    CHECK(g != NULL, "%s: the clasher never started; child %s; stderr: %s", mode,
          h_describe_status(status), err);
    long long id = atoll(g + strlen("child: goid="));
    CHECK(strstr(err, "did not fault") == NULL && strstr(err, "CLOBBERED") == NULL,
          "%s: a %d KiB frame jumped the guard into the neighbouring stack (child %s); stderr: %s",
          mode, BIG >> 10, h_describe_status(status), err);
    char want[160];
    snprintf(want, sizeof want, "gmp: fatal error: stack overflow in goroutine %lld (stack size %d)\n",
             id, STACK);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
          "%s: child %s, want SIGABRT; stderr: %s", mode, h_describe_status(status), err);
    CHECK(strstr(err, want) != NULL, "%s: stderr lacks '%.*s'; stderr: %s", mode,
          (int)strlen(want) - 1, want, err);
    const char *ab = strstr(err, "child: at abort: ");
    CHECK(ab != NULL && strstr(ab, "canaries intact") != NULL,
          "%s: no intact-canary report from the SIGABRT handler; stderr: %s", mode, err);
    CHECK(ab > strstr(err, want), "%s: the SIGABRT handler ran before the report; stderr: %s",
          mode, err);
    /* The store really jumped a one-page guard: more than STACK + 4 KiB below the clasher's
     * entry frame (which is within STACK of its stack's bottom), and within 64 KiB of it. */
    const char *d = strstr(ab, "depth=");
    CHECK(d != NULL, "%s: no depth; stderr: %s", mode, err);
    long depth = atol(d + strlen("depth="));
    CHECK(depth > STACK + 4096 && depth < STACK + (48 << 10),
          "%s: first store %ld bytes below the entry frame, want (%d, %d)", mode, depth,
          STACK + 4096, STACK + (48 << 10));
    if (strcmp(mode, "clash-mprotect") == 0) {
        const char *pm = strstr(err, "child: 64 KiB PROT_NONE mappings: ");
        CHECK(pm != NULL, "%s: no mapping count; stderr: %s", mode, err);
        int n = atoi(pm + strlen("child: 64 KiB PROT_NONE mappings: "));
        CHECK(n >= NCAND, "%s: %d 64 KiB PROT_NONE mappings for %d stacks: the fallback did not "
                          "install 64 KiB guards", mode, n, NCAND);
    }
    if (strcmp(mode, "clash-cold") == 0)
        CHECK(strstr(err, "child: clasher runs on a scavenged stack") != NULL,
              "%s: clasher not on a scavenged stack; stderr: %s", mode, err);
    const char *eol = strchr(ab, '\n');
    printf("t_stack_clash: %s: %s, '%.*s'\n    %.*s\n", mode, h_describe_status(status),
           (int)strlen(want) - 1, want, eol ? (int)(eol - ab) : 200, ab);
    const char *m = strstr(err, "child: 64 KiB PROT_NONE");
    if (m) printf("    %.*s\n", (int)(strchr(m, '\n') - m), m);
}

int main(int argc, char **argv)
{
    if (argc > 1) return child(argv[1]);
    h_check_lib();
    check_clash("clash");
    check_clash("clash-mprotect");
    check_clash("clash-cold");
    printf("t_stack_clash: ok\n");
    return 0;
}
