/*
 * t_rlimit: running out of threads or memory is never fatal.
 *
 * The parent never starts the runtime: every case runs in a child made by a plain fork (no
 * exec: h_run_fork_timed), which sets its limits BEFORE it starts the runtime, so the limits
 * bind the runtime from its first thread on. A child that does not finish within CHILD_SECS
 * seconds is killed and reported as a hang (with its CPU use over its last 0.5 s).
 *
 * Part A, threads (RLIMIT_NPROC). RLIMIT_NPROC caps the number of tasks (threads included)
 * of the process's real user, and is not enforced for root: so the child first drops to the
 * unprivileged user 65534 ("nobody": setgroups(0), setgid, setuid; if that is not possible
 * because we are not root, it stays the user it is, for which the limit applies anyway), then
 * counts the tasks that user already has on the system (/proc/<pid>/task/<tid>/status, real
 * uid) = used, and sets RLIMIT_NPROC to used + K, leaving room for exactly K more threads. It
 * first proves the limit is enforced: with the limit at used, pthread_create must fail with
 * EAGAIN (if it does not, the case is reported as SKIPPED: this environment cannot test it).
 * Then, at run.sh's P count (GMP_MAXPROCS = 1, 2, 8), with K =
 *   0: no thread at all: gmp_init must return -EAGAIN, and gmp_spawn and gmp_main must then
 *      return a negative errno: no abort, no hang;
 *   1: room for one runtime thread only (sysmon, or one M): gmp_main either returns 0 with
 *      every goroutine run, or returns a negative errno: no abort, no hang;
 *   2: room only for the runtime's own threads, sysmon and the one M that runs goroutines;
 *   3, 4, 6, 12: from small to larger;
 * for K >= 2, gmp_main must return 0 after running the workload: NSYSG goroutines that each
 * block SYSG_ROUNDS times in gmp_entersyscall(); nanosleep(SYSG_MS); gmp_exitsyscall() (so the
 * runtime wants another thread for their P: sysmon hands the P off, and startm cannot get a
 * thread), NRUN runnable goroutines that each spin ~0.5 ms, yield, spin again, and spawn one
 * more goroutine that does the same once, and a main goroutine that waits for them all (a
 * wait group). Checked: every goroutine ran exactly once to its end (counts exact), every
 * gmp_spawn succeeded (spawning needs a stack, not a thread), stats.goroutines returns to 1,
 * stats.threads <= K, the child exits 0 and wrote no "fatal" on stderr.
 *
 * Part B, memory (RLIMIT_AS). The child starts the runtime (gmp_init) and runs one trivial
 * gmp_main, reads its address-space size (VmSize) and sets RLIMIT_AS to that + AS_MARGIN_MB.
 * Then in gmp_main: spawn goroutines, each of which parks on a gate (a Treiber stack closed
 * by the opener), until gmp_spawn fails: it must fail (the limit is well below MAXG stacks)
 * with exactly -ENOMEM or -EAGAIN. Then gmp_set_procs(procs + 64) (new Ps, and Ms for them)
 * must return the previous count or a negative errno, and the count read back must be
 * consistent; then the P count is restored. The gate opens: every goroutine spawned blocks
 * once for 1 ms in gmp_entersyscall/nanosleep/gmp_exitsyscall (so Ps are handed off and the
 * runtime wants more threads, whose stacks it cannot map) and runs to its end (count exact);
 * one more goroutine can then be spawned and run (stacks are reused), gmp_main returns 0, the child exits 0 and wrote no "fatal" on stderr.
 *
 * Catches: "gmp: fatal error: pidleput: P has non-empty run queue" (abort) when no thread can
 * be created for a P with work; a hang with runnable goroutines and idle Ps but no thread to
 * run them; an allocation failure aborting the process (Rust's handle_alloc_error) instead of
 * returning -ENOMEM; a spawn that reports success without a goroutine.
 * Against the library before the fix (4 runs per P count): K = 0 and 1 pass (gmp_init returns
 * -EAGAIN); K = 2 hangs at 0 % CPU with 3 threads (a runnable goroutine, idle Ps, no thread)
 * or aborts with "gmp: fatal error: pidleput: P has non-empty run queue"; K = 3, 4, 6 abort
 * the same way in all but one run, K = 12 passes at 1 and 2 P and aborts at 8; RLIMIT_AS:
 * ~360 goroutines are spawned, then gmp_spawn returns -ENOMEM cleanly and gmp_set_procs
 * (procs + 64) succeeds, but the released goroutines' syscalls abort with the same error.
 */
#define H_WATCHDOG_SECS 110
#include "harness.h"

#include <fcntl.h>

#include <dirent.h>
#include <grp.h>

#define CHILD_SECS 6
#define NOBODY 65534
#define NSYSG 8
#define SYSG_ROUNDS 4
#define SYSG_MS 5
#define NRUN 32
#define AS_MARGIN_MB 48
#define MAXG 200000
#define SKIP_STATUS 77

static int procs; /* run.sh's P count (or the CPU count) */

/* ------------------------------------------------------------------ part A: RLIMIT_NPROC */

/* Tasks (threads) on the system whose real uid is uid: the "Threads:" of every process whose
 * real uid ("Uid:", first field) is uid. */
static int count_tasks(uid_t uid)
{
    int n = 0;
    DIR *d = opendir("/proc");
    CHECK(d != NULL, "opendir /proc");
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        char path[300], line[256];
        snprintf(path, sizeof path, "/proc/%s/status", e->d_name);
        FILE *fp = fopen(path, "r");
        if (!fp) continue; /* gone meanwhile */
        unsigned ruid = 0;
        int threads = 0, have_uid = 0;
        while (fgets(line, sizeof line, fp)) {
            if (sscanf(line, "Uid: %u", &ruid) == 1) have_uid = 1;
            if (sscanf(line, "Threads: %d", &threads) == 1) break;
        }
        fclose(fp);
        if (have_uid && ruid == uid) n += threads;
    }
    closedir(d);
    return n;
}

static void *probe_fn(void *arg) { return arg; }

static int nproc_k;
static H_ATOMIC(int) ran_sys, ran_run, ran_child;
static wg_t wg;

static void spin_us(int us)
{
    int64_t end = h_now_ns() + (int64_t)us * 1000;
    while (h_now_ns() < end) {
    }
}

static void sys_g(void *arg)
{
    (void)arg;
    for (int i = 0; i < SYSG_ROUNDS; i++) {
        struct timespec ts = {0, SYSG_MS * 1000000L};
        gmp_entersyscall();
        nanosleep(&ts, NULL);
        gmp_exitsyscall();
    }
    atomic_fetch_add(&ran_sys, 1);
    wg_done(&wg);
}

static void child_g(void *arg)
{
    (void)arg;
    spin_us(300);
    atomic_fetch_add(&ran_child, 1);
    wg_done(&wg);
}

static void run_g(void *arg)
{
    (void)arg;
    spin_us(500);
    gmp_gosched();
    spin_us(500);
    wg_add(&wg, 1);
    int64_t id = gmp_spawn(child_g, NULL);
    CHECK(id > 0, "gmp_spawn from a goroutine returned %lld with RLIMIT_NPROC = used + %d",
          (long long)id, nproc_k);
    atomic_fetch_add(&ran_run, 1);
    wg_done(&wg);
}

static void nproc_main(void *arg)
{
    (void)arg;
    wg_init(&wg);
    wg_add(&wg, NSYSG + NRUN);
    for (int i = 0; i < NSYSG; i++) {
        int64_t id = gmp_spawn(sys_g, NULL);
        CHECK(id > 0, "gmp_spawn returned %lld with RLIMIT_NPROC = used + %d", (long long)id,
              nproc_k);
    }
    for (int i = 0; i < NRUN; i++) {
        int64_t id = gmp_spawn(run_g, NULL);
        CHECK(id > 0, "gmp_spawn returned %lld with RLIMIT_NPROC = used + %d", (long long)id,
              nproc_k);
    }
    wg_wait(&wg);
    CHECK_EQ(atomic_load(&ran_sys), NSYSG);
    CHECK_EQ(atomic_load(&ran_run), NRUN);
    CHECK_EQ(atomic_load(&ran_child), NRUN);
    H_GOSCHED_UNTIL(h_stats().goroutines == 1, 10, "goroutines = %llu after all ended",
                    (unsigned long long)h_stats().goroutines);
}

static void nproc_child(void *arg)
{
    int k = (int)(intptr_t)arg;
    nproc_k = k;
    static char who[80];
    if (getuid() != 0)
        snprintf(who, sizeof who, "uid %d (not root: stays itself)", (int)getuid());
    else if (setgroups(0, NULL) != 0 || setgid(NOBODY) != 0 || setuid(NOBODY) != 0)
        snprintf(who, sizeof who, "uid %d (could not drop to nobody: %s)", (int)getuid(),
                 strerror(errno));
    else
        snprintf(who, sizeof who, "nobody (%d)", NOBODY);
    uid_t uid = getuid();
    int used = count_tasks(uid);
    CHECK(used >= 1, "found no task of uid %d, not even this one", (int)uid);

    /* Is the limit enforced at all? With no room left, a thread must not be created. (Soft
     * limits only: an unprivileged process cannot raise its hard limit again.) */
    struct rlimit rl;
    CHECK(getrlimit(RLIMIT_NPROC, &rl) == 0, "getrlimit");
    CHECK(rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= (rlim_t)(used + k),
          "RLIMIT_NPROC hard limit %llu < %d", (unsigned long long)rl.rlim_max, used + k);
    rl.rlim_cur = (rlim_t)used;
    CHECK(setrlimit(RLIMIT_NPROC, &rl) == 0, "setrlimit(RLIMIT_NPROC, %d): %s", used,
          strerror(errno));
    pthread_t t;
    int pr = pthread_create(&t, NULL, probe_fn, NULL);
    if (pr == 0) {
        pthread_join(t, NULL);
        printf("  K=%d: SKIPPED: RLIMIT_NPROC is not enforced for %s here\n", k, who);
        fflush(stdout);
        _exit(SKIP_STATUS);
    }
    CHECK(pr == EAGAIN, "pthread_create at the limit returned %d (%s), want EAGAIN", pr,
          strerror(pr));
    rl.rlim_cur = (rlim_t)(used + k);
    CHECK(setrlimit(RLIMIT_NPROC, &rl) == 0, "setrlimit(RLIMIT_NPROC, %d): %s", used + k,
          strerror(errno));

    int64_t t0 = h_now_ns();
    gmp_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.procs = (uint32_t)procs;
    int r = gmp_init(&cfg);
    if (k == 0) {
        CHECK(r == -EAGAIN, "gmp_init with no thread left returned %d, want -EAGAIN", r);
        int64_t id = gmp_spawn(child_g, NULL);
        CHECK(id < 0, "gmp_spawn with no thread left returned %lld (a goroutine that cannot run)",
              (long long)id);
        int m = gmp_main(nproc_main, NULL);
        CHECK(m < 0, "gmp_main with no thread left returned %d", m);
        printf("  K=0 as %s (used %d): gmp_init %d, gmp_spawn %lld, gmp_main %d\n", who, used, r,
               (long long)id, m);
        return;
    }
    CHECK(r == 0 || (k == 1 && r == -EAGAIN),
          "gmp_init with room for %d more thread(s) returned %d", k, r);
    if (r < 0) {
        printf("  K=%d as %s (used %d): gmp_init %d\n", k, who, used, r);
        return; /* k == 1: a clean refusal is fine with room for one thread only */
    }
    int m = gmp_main(nproc_main, NULL);
    gmp_stats s;
    memset(&s, 0, sizeof s);
    gmp_stats_read(&s);
    printf("  K=%d as %s (used %d): gmp_init 0, gmp_main %d in %.2f s, %u threads, %llu "
           "syscall retakes\n",
           k, who, used, m, (h_now_ns() - t0) / 1e9, s.threads,
           (unsigned long long)s.syscall_retakes);
    if (k == 1 && m < 0) return; /* a clean refusal is fine with room for one thread only */
    CHECK(m == 0, "gmp_main returned %d with RLIMIT_NPROC = used + %d", m, k);
    CHECK(s.threads <= (uint32_t)k, "the runtime has %u threads with room for %d", s.threads, k);
}

/* ------------------------------------------------------------------ part B: RLIMIT_AS */

typedef struct gate_node {
    struct gate_node *next;
    gmp_g *g;
} gate_node;
#define GATE_OPEN ((gate_node *)1)
static H_ATOMIC(gate_node *) gate_head;

static bool gate_unlockf(gmp_g *g, void *arg)
{
    gate_node *n = (gate_node *)arg;
    n->g = g;
    gate_node *h = atomic_load(&gate_head);
    do {
        if (h == GATE_OPEN) return false; /* already open: resume at once */
        n->next = h;
    } while (!atomic_compare_exchange_weak(&gate_head, &h, n));
    return true;
}

static void gate_wait(void)
{
    gate_node n;
    CHECK_EQ(gmp_park(gate_unlockf, &n), 0);
}

static void gate_open(void)
{
    gate_node *h = atomic_exchange(&gate_head, GATE_OPEN);
    while (h) {
        gate_node *next = h->next; /* read before the ready: h lives on g's stack */
        int r = gmp_ready(h->g);
        CHECK(r == 0, "gmp_ready(gate waiter) returned %d", r);
        h = next;
    }
}

static H_ATOMIC(long) gated_done;

static void gated_g(void *arg)
{
    (void)arg;
    volatile char buf[2048]; /* touch some stack */
    memset((char *)buf, 1, sizeof buf);
    gate_wait();
    /* Block in the kernel once: the runtime hands our P to another thread (sysmon's retake),
     * which it may have to create, at the memory limit. */
    struct timespec ts = {0, 1000000};
    gmp_entersyscall();
    nanosleep(&ts, NULL);
    gmp_exitsyscall();
    atomic_fetch_add(&gated_done, 1);
    wg_done(&wg);
}

static H_ATOMIC(int) after_ran;
static void after_g(void *arg)
{
    (void)arg;
    atomic_store(&after_ran, 1);
    wg_done(&wg);
}

static void noop_g(void *arg) { (void)arg; }

/* Read with open/read into a stack buffer: fopen's malloc can itself fail under the tight
 * RLIMIT_AS this test sets (a new thread's malloc arena), which is not what is tested. */
static long vm_kb(const char *key)
{
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    CHECK(fd >= 0, "/proc/self/status");
    static __thread char buf[8192];
    size_t len = 0;
    ssize_t r;
    while (len < sizeof buf - 1 && (r = read(fd, buf + len, sizeof buf - 1 - len)) > 0) len += (size_t)r;
    close(fd);
    buf[len] = 0;
    long v = -1;
    size_t kl = strlen(key);
    for (char *line = buf; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
        if (strncmp(line, key, kl) == 0) v = atol(line + kl + 1);
    return v;
}

static void as_main(void *arg)
{
    (void)arg;
    wg_init(&wg);
    long n = 0;
    int64_t err = 0;
    for (; n < MAXG; n++) {
        wg_add(&wg, 1);
        int64_t id = gmp_spawn(gated_g, NULL);
        if (id <= 0) {
            err = id;
            wg_done(&wg); /* undo the add: that goroutine does not exist */
            break;
        }
    }
    long vm_full = vm_kb("VmSize:");
    printf("  RLIMIT_AS: %ld goroutines spawned, then gmp_spawn returned %lld (%s); VmSize %ld "
           "kB\n",
           n, (long long)err, err ? strerror((int)-err) : "-", vm_full);
    CHECK(n < MAXG, "%d goroutines spawned under RLIMIT_AS = VmSize + %d MiB: no limit hit?",
          MAXG, AS_MARGIN_MB);
    CHECK(err == -ENOMEM || err == -EAGAIN, "gmp_spawn failed with %lld, want -ENOMEM or -EAGAIN",
          (long long)err);
    CHECK(n > 0, "not a single goroutine could be spawned under RLIMIT_AS = VmSize + %d MiB",
          AS_MARGIN_MB);

    /* Growing the P count at the limit: a clean answer either way. */
    int want = procs + 64;
    int r = gmp_set_procs(want);
    int now = gmp_set_procs(0);
    printf("  RLIMIT_AS: gmp_set_procs(%d) returned %d (%s); procs now %d\n", want, r,
           r < 0 ? strerror(-r) : "previous count", now);
    CHECK(r == procs || r == -ENOMEM || r == -EAGAIN,
          "gmp_set_procs(%d) at the memory limit returned %d (had %d Ps)", want, r, procs);
    CHECK(r < 0 ? now == procs : now == want, "gmp_set_procs(%d) returned %d, then procs = %d",
          want, r, now);
    /* Some work for the new Ps (wakep: they want Ms, whose stacks cannot be had). */
    for (int i = 0; i < 16; i++) {
        int64_t id = gmp_spawn(noop_g, NULL);
        CHECK(id > 0 || id == -ENOMEM || id == -EAGAIN, "gmp_spawn returned %lld", (long long)id);
    }
    r = gmp_set_procs(procs);
    CHECK(r == now, "gmp_set_procs(%d) returned %d, procs was %d", procs, r, now);

    gate_open();
    wg_wait(&wg);
    CHECK(atomic_load(&gated_done) == n, "%ld of %ld gated goroutines ran to their end",
          (long)atomic_load(&gated_done), n);
    /* Their stacks are free again: a new goroutine can be had. */
    wg_init(&wg);
    wg_add(&wg, 1);
    int64_t id = gmp_spawn(after_g, NULL);
    CHECK(id > 0, "gmp_spawn after %ld goroutines ended returned %lld", n, (long long)id);
    wg_wait(&wg);
    CHECK(atomic_load(&after_ran), "the goroutine spawned afterwards did not run");
    H_GOSCHED_UNTIL(h_stats().goroutines == 1, 10, "goroutines = %llu after all ended",
                    (unsigned long long)h_stats().goroutines);
}

static void as_child(void *arg)
{
    (void)arg;
    gmp_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.procs = (uint32_t)procs;
    CHECK_EQ(gmp_init(&cfg), 0);
    /* Let the runtime settle with a small workload first (its first Ms and stacks). */
    wg_init(&wg);
    wg_add(&wg, 1);
    h_main(after_g, NULL);
    long vm = vm_kb("VmSize:");
    CHECK(vm > 0, "VmSize");
    rlim_t lim = ((rlim_t)vm + AS_MARGIN_MB * 1024) * 1024;
    struct rlimit rl = {lim, lim};
    CHECK(setrlimit(RLIMIT_AS, &rl) == 0, "setrlimit(RLIMIT_AS): %s", strerror(errno));
    printf("  RLIMIT_AS = VmSize %ld kB + %d MiB\n", vm, AS_MARGIN_MB);
    int64_t t0 = h_now_ns();
    int m = gmp_main(as_main, NULL);
    CHECK(m == 0, "gmp_main under RLIMIT_AS returned %d", m);
    printf("  RLIMIT_AS: done in %.2f s\n", (h_now_ns() - t0) / 1e9);
}

/* ------------------------------------------------------------------ parent */

static char out[65536];

static int nfailed;

/* Run fn(arg) in a forked child; it must exit 0 in time and print nothing "fatal". A failure
 * is printed and counted (the next cases still run: each shows a different limit). */
static void run_case(const char *what, void (*fn)(void *), void *arg, int *skipped)
{
    int st;
    bool hung;
    int64_t t0 = h_now_ns();
    h_run_fork_timed(fn, arg, out, sizeof out, &st, CHILD_SECS, &hung);
    double secs = (h_now_ns() - t0) / 1e9;
    const char *why = NULL;
    if (hung)
        why = "HUNG";
    else if (skipped && WIFEXITED(st) && WEXITSTATUS(st) == SKIP_STATUS) {
        (*skipped)++;
        printf("%s: SKIPPED\n", what);
        return;
    } else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        why = h_describe_status(st);
    else if (strstr(out, "fatal"))
        why = "the runtime printed a fatal error";
    if (why) {
        nfailed++;
        printf("%s: FAILED: %s after %.2f s; stderr:\n%s", what, why, secs, out);
        return;
    }
    printf("%s: ok (%.2f s)%s%s\n", what, secs, out[0] ? "; stderr: " : "", out);
}

int main(void)
{
    h_check_lib();
    setvbuf(stdout, NULL, _IOLBF, 0);
    procs = h_env_procs();
    if (procs <= 0) procs = (int)sysconf(_SC_NPROCESSORS_ONLN);

    static const int ks[] = {0, 1, 2, 3, 4, 6, 12};
    int nk = (int)(sizeof ks / sizeof ks[0]), skipped = 0;
    for (int i = 0; i < nk; i++) {
        char what[96];
        snprintf(what, sizeof what, "RLIMIT_NPROC = used + %d, procs %d", ks[i], procs);
        run_case(what, nproc_child, (void *)(intptr_t)ks[i], &skipped);
    }
    if (skipped == nk)
        printf("t_rlimit: NOTE: RLIMIT_NPROC cases SKIPPED: the limit is not enforced here (root "
               "that cannot drop to uid %d?)\n", NOBODY);
    char what[96];
    snprintf(what, sizeof what, "RLIMIT_AS = VmSize + %d MiB, procs %d", AS_MARGIN_MB, procs);
    run_case(what, as_child, NULL, NULL);
    CHECK(nfailed == 0, "%d case(s) failed (above)", nfailed);
    printf("t_rlimit: ok\n");
    return 0;
}
