/*
 * t_fork: fork() in a process whose runtime has started (api.md, "Interposed blocking libc
 * calls": the child has one thread; it must not use the runtime: its calls that can fail
 * return -EPERM there, and the others do nothing; fork+exec, system(), popen() and posix_spawn
 * work from goroutines).
 *
 * Part 1, the child. Each case forks its own child, from its own goroutine (or, for "thread",
 * from a plain thread after the runtime started); all forks run concurrently. The child arms
 * alarm(CHILD_ALARM) first, so a child that hangs dies of SIGALRM and the parent reports it
 * ("hung") instead of the test getting stuck; it makes its calls, checks each result (CHECK:
 * exit 1 with a message), and _exits 0. In the child:
 *   - gmp_self() is NULL and gmp_goid(NULL) 0 (thread context); gmp_goid(g) of a handle taken
 *     before the fork still reads that goroutine's id; gmp_version() works;
 *   - gmp_gosched, gmp_entersyscall, gmp_exitsyscall return (also when the fork happened inside
 *     an entersyscall bracket, as a hooked fork would be);
 *   - gmp_spawn, gmp_main, gmp_init, gmp_set_procs, gmp_stats_read (out untouched), gmp_park
 *     (the unlock function is not called), gmp_ready (of a goroutine parked in the parent),
 *     gmp_lock_thread, gmp_unlock_thread, gmp_exit: -EPERM, whatever the arguments;
 *   - returning from the goroutine function that forked ends the child with exit(0), as when
 *     the last thread's start routine returns (atexit handlers run: one writes a marker the
 *     parent reads);
 *   - a grandchild (fork in the child) and a thread created in the child: -EPERM too;
 *   - "sigurg": the forking goroutine blocks SIGURG and spins until sysmon has asked to preempt
 *     it (SIGURG pending; a goroutine is queued on its P meanwhile), then forks; the child
 *     unblocks SIGURG and raises one: the handler must not preempt the child's thread (it is
 *     no M any more) — with one P that would switch to g0, hand the P to an M that does not
 *     exist in the child and sleep for ever (or run the queued goroutine in the child);
 *   - "vfork_sigurg": the same with vfork(), whose child shares the parent's memory and
 *     thread descriptor and runs no atfork handler: a preemption there would run the parent's
 *     scheduler from the child.
 * Then the exec'd program's signal mask and ignored set are what they were before the runtime
 * started (it leaves nothing blocked or ignored behind): a fork+exec'd grep and a popen'd one
 * read /proc/self/status.
 *
 * Part 2: several goroutines fork+exec /bin/true (half of them fork in the goroutine and block
 * their thread in waitpid, half do it all in an entersyscall bracket), run system("exit 3"),
 * popen("echo hi") and posix_spawn /bin/echo (reading their output; bracketed) concurrently,
 * while GMP_MAXPROCS CPU-bound goroutines are being preempted. Checks every status and output,
 * and that preemptions happened meanwhile.
 * Part 1's "thread" case and part 2's workers avoid two hangs of the preemption path that are
 * not fork's (described where they are avoided).
 *
 * Without the fork handling, part 1's children hang (gmp_park, gmp_exit, returning, gmp_main
 * from a thread, the preemption signal), or get a goroutine id, stats or a new P count where
 * they must get -EPERM.
 */
#include "harness.h"
#include <fcntl.h>
#include <spawn.h>

extern char **environ;

#define CHILD_ALARM 2 /* seconds: a child still running then has hung */

enum {
    C_SELF,
    C_VERSION,
    C_GOSCHED,
    C_SYSCALL,
    C_SPAWN,
    C_MAIN,
    C_INIT,
    C_SET_PROCS,
    C_STATS,
    C_PARK,
    C_READY,
    C_LOCK,
    C_EXIT,
    C_GRANDCHILD,
    C_CHILD_THREAD,
    C_RETURN,         /* the child returns from the goroutine function */
    C_FORK_IN_SYSCALL, /* fork inside gmp_entersyscall/gmp_exitsyscall */
    C_SIGURG,
    C_VFORK_SIGURG,   /* the same with vfork: the child shares the parent's memory */
    C_THREAD,         /* fork from a plain thread */
    NCASES
};
static const char *const case_name[NCASES] = {
    "self", "version", "gosched", "syscall", "spawn", "main", "init", "set_procs", "stats",
    "park", "ready", "lock_thread", "exit", "grandchild", "child_thread", "return",
    "fork_in_syscall", "sigurg", "vfork_sigurg", "thread",
};

static pid_t parent_pid;
static pid_t pids[NCASES];
static wg_t forked;
static int mark_pipe[2]; /* C_RETURN's child writes 'R' here from an atexit handler */

/* A goroutine parked in the parent: C_READY's child tries to ready it. */
static H_ATOMIC(gmp_g *) parked_g;
static ev_t parker_done;

static bool parker_unlockf(gmp_g *g, void *lock)
{
    (void)lock;
    atomic_store(&parked_g, g);
    return true;
}

static void parker(void *arg)
{
    (void)arg;
    CHECK_EQ(gmp_park(parker_unlockf, NULL), 0);
    ev_set(&parker_done);
}

/* Must never run: in the parent nobody spawns it; in a child gmp_spawn must fail. */
static void never(void *arg)
{
    (void)arg;
    CHECK(0, "a goroutine ran in pid %d (parent %d)", (int)getpid(), (int)parent_pid);
}

/* Queued on the sigurg forker's P: runs in the parent; in the child it must never run. */
static void canary(void *arg)
{
    (void)arg;
    CHECK(getpid() == parent_pid, "a goroutine ran in a child of fork (pid %d)", (int)getpid());
}

static bool child_unlockf(gmp_g *g, void *lock)
{
    (void)g;
    (void)lock;
    CHECK(0, "gmp_park called its unlock function in a child of fork");
    return false;
}

static void child_prologue(void)
{
    signal(SIGALRM, SIG_DFL);
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGALRM);
    pthread_sigmask(SIG_UNBLOCK, &s, NULL);
    alarm(CHILD_ALARM);
}

/* Every call in thread-context flavour: for the child's own threads and the grandchild. */
static void check_thread_calls(void)
{
    CHECK(gmp_self() == NULL, "gmp_self() in a child of fork");
    CHECK_EQ(gmp_goid(NULL), 0);
    CHECK_EQ(gmp_main(never, NULL), -EPERM);
    CHECK_EQ(gmp_spawn(never, NULL), -EPERM);
    gmp_stats st;
    CHECK_EQ(gmp_stats_read(&st), -EPERM);
    CHECK_EQ(gmp_set_procs(2), -EPERM);
    CHECK_EQ(gmp_ready(atomic_load(&parked_g)), -EPERM);
    CHECK_EQ(gmp_park(NULL, NULL), -EPERM);
    CHECK_EQ(gmp_exit(), -EPERM);
    gmp_gosched();
}

static void *child_thread(void *arg)
{
    (void)arg;
    check_thread_calls();
    return NULL;
}

/* The child's part of case c. Returns its exit status (0 = as documented). */
static int child_case(int c, gmp_g *self, int64_t id)
{
    switch (c) {
    case C_SELF:
        CHECK(gmp_self() == NULL, "gmp_self() = %p in a child of fork", (void *)gmp_self());
        CHECK_EQ(gmp_goid(NULL), 0);
        CHECK_EQ(gmp_goid(self), id);
        break;
    case C_VERSION:
        CHECK_EQ(gmp_version(), GMP_VERSION);
        break;
    case C_GOSCHED:
        for (int i = 0; i < 3; i++) gmp_gosched();
        break;
    case C_SYSCALL:
        gmp_entersyscall();
        gmp_exitsyscall();
        gmp_exitsyscall();
        break;
    case C_SPAWN:
        CHECK_EQ(gmp_spawn(never, NULL), -EPERM);
        CHECK_EQ(gmp_spawn(NULL, NULL), -EPERM);
        break;
    case C_MAIN:
        CHECK_EQ(gmp_main(never, NULL), -EPERM);
        CHECK_EQ(gmp_main(NULL, NULL), -EPERM);
        break;
    case C_INIT: {
        CHECK_EQ(gmp_init(NULL), -EPERM);
        gmp_config cfg = {1, 0};
        CHECK_EQ(gmp_init(&cfg), -EPERM);
        break;
    }
    case C_SET_PROCS:
        CHECK_EQ(gmp_set_procs(3), -EPERM);
        CHECK_EQ(gmp_set_procs(0), -EPERM);
        break;
    case C_STATS: {
        gmp_stats st;
        memset(&st, 0x5a, sizeof st);
        CHECK_EQ(gmp_stats_read(&st), -EPERM);
        CHECK(st.procs == 0x5a5a5a5au && st.goroutines == 0x5a5a5a5a5a5a5a5aull,
              "gmp_stats_read wrote its output in a child of fork");
        CHECK_EQ(gmp_stats_read(NULL), -EPERM);
        break;
    }
    case C_PARK:
        CHECK_EQ(gmp_park(NULL, NULL), -EPERM);
        CHECK_EQ(gmp_park(child_unlockf, NULL), -EPERM);
        break;
    case C_READY:
        CHECK_EQ(gmp_ready(atomic_load(&parked_g)), -EPERM);
        CHECK_EQ(gmp_ready(NULL), -EPERM);
        break;
    case C_LOCK:
        CHECK_EQ(gmp_lock_thread(), -EPERM);
        CHECK_EQ(gmp_unlock_thread(), -EPERM);
        break;
    case C_EXIT:
        CHECK_EQ(gmp_exit(), -EPERM);
        break;
    case C_GRANDCHILD: {
        pid_t g = fork();
        CHECK(g >= 0, "fork in the child: %s", strerror(errno));
        if (g == 0) {
            check_thread_calls();
            CHECK_EQ(gmp_lock_thread(), -EPERM);
            _exit(0);
        }
        int st;
        CHECK(waitpid(g, &st, 0) == g, "waitpid(grandchild)");
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "grandchild: %s", h_describe_status(st));
        break;
    }
    case C_CHILD_THREAD: {
        pthread_t t;
        CHECK(pthread_create(&t, NULL, child_thread, NULL) == 0, "pthread_create in the child");
        CHECK(pthread_join(t, NULL) == 0, "pthread_join in the child");
        break;
    }
    default:
        CHECK(0, "child_case %d", c);
    }
    /* libc keeps working in the child. */
    char *p = (char *)malloc(1000);
    CHECK(p != NULL, "malloc in the child");
    snprintf(p, 1000, "child %d", c);
    free(p);
    return 0;
}

static void mark_exit(void)
{
    ssize_t w = write(mark_pipe[1], "R", 1);
    (void)w;
}

static void sigurg_child(void)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGURG);
    CHECK(pthread_sigmask(SIG_UNBLOCK, &s, NULL) == 0, "unblock SIGURG");
    raise(SIGURG);
    check_thread_calls();
}

/* C_VFORK_SIGURG: the child of vfork runs on the forking goroutine's stack with the parent's
 * memory (and thread descriptor, hence the raw tgkill). A preemption there would switch the
 * parent's M to its g0 and run the parent's scheduler from the child. The parent resumes once
 * the child has exited. */
static pid_t vfork_sigurg(void)
{
    pid_t pid = vfork();
    if (pid == 0) {
        child_prologue();
        sigset_t s;
        sigemptyset(&s);
        sigaddset(&s, SIGURG);
        pthread_sigmask(SIG_UNBLOCK, &s, NULL);
        syscall(SYS_tgkill, (long)getpid(), (long)syscall(SYS_gettid), (long)SIGURG);
        _exit(0);
    }
    return pid;
}

/* C_SIGURG's parent half before the fork: block SIGURG, queue a goroutine behind us, and run
 * without yielding until sysmon has asked to preempt us (SIGURG pending). */
static void sigurg_prepare(sigset_t *old)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGURG);
    CHECK(pthread_sigmask(SIG_BLOCK, &s, old) == 0, "block SIGURG");
    h_spawn(canary, NULL);
    int64_t deadline = h_now_ns() + 1000000000;
    for (;;) {
        sigset_t pend;
        sigpending(&pend);
        if (sigismember(&pend, SIGURG) || h_now_ns() > deadline) break;
    }
}

static void forker(void *arg)
{
    int c = (int)(intptr_t)arg;
    gmp_g *self = gmp_self();
    int64_t id = gmp_goid(NULL);
    sigset_t old;
    if (c == C_SIGURG || c == C_VFORK_SIGURG) sigurg_prepare(&old);
    if (c == C_FORK_IN_SYSCALL) gmp_entersyscall();
    pid_t pid = c == C_VFORK_SIGURG ? vfork_sigurg() : fork();
    CHECK(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        child_prologue();
        switch (c) {
        case C_RETURN:
            atexit(mark_exit);
            return; /* into the runtime's goroutine exit, in the child */
        case C_FORK_IN_SYSCALL:
            gmp_exitsyscall();
            check_thread_calls();
            _exit(0);
        case C_SIGURG:
            sigurg_child();
            _exit(0);
        default:
            _exit(child_case(c, self, id));
        }
    }
    if (c == C_FORK_IN_SYSCALL) gmp_exitsyscall();
    if (c == C_SIGURG || c == C_VFORK_SIGURG)
        CHECK(pthread_sigmask(SIG_SETMASK, &old, NULL) == 0, "restore mask");
    pids[c] = pid;
    wg_done(&forked);
}

/* C_THREAD: a plain thread, made by main() after gmp_init, forks when part 1 says so. Not made
 * by a goroutine: a goroutine preempted inside pthread_create (holding glibc's TLS lock) when
 * no idle M is left hangs the runtime, whose sysmon then needs that lock to make an M (a
 * preemption limitation, not fork's; this test is about fork). */
static ev_t thread_go;

static void *thread_forker(void *arg)
{
    (void)arg;
    ev_wait(&thread_go);
    pid_t pid = fork();
    CHECK(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        child_prologue();
        check_thread_calls();
        _exit(0);
    }
    pids[C_THREAD] = pid;
    wg_done(&forked);
    return NULL;
}

/* Reap one child (in an entersyscall bracket: the wait blocks in the kernel). */
static int reap(pid_t pid)
{
    int st = 0;
    gmp_entersyscall();
    pid_t r = waitpid(pid, &st, 0);
    gmp_exitsyscall();
    CHECK(r == pid, "waitpid(%d) = %d: %s", (int)pid, (int)r, strerror(errno));
    return st;
}

static void part1_children(void)
{
    ev_init(&parker_done);
    h_spawn(parker, NULL);
    H_GOSCHED_UNTIL(atomic_load(&parked_g) != NULL, 10, "the parker never parked");
    CHECK(pipe2(mark_pipe, O_CLOEXEC) == 0, "pipe2");
    fflush(stdout);
    fflush(stderr);

    wg_init(&forked);
    wg_add(&forked, NCASES);
    for (int c = 0; c < NCASES; c++)
        if (c != C_THREAD) h_spawn(forker, (void *)(intptr_t)c);
    ev_set(&thread_go);
    wg_wait(&forked);

    int bad = 0;
    for (int c = 0; c < NCASES; c++) {
        int st = reap(pids[c]);
        if (WIFEXITED(st) && WEXITSTATUS(st) == 0) continue;
        bad++;
        fprintf(stderr, "child case %s: %s%s\n", case_name[c], h_describe_status(st),
                WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM ? " (SIGALRM: it hung)" : "");
    }
    CHECK(bad == 0, "%d of %d child cases failed (see above)", bad, NCASES);

    /* Every child has exited: EOF comes once the parent closes its write end. */
    close(mark_pipe[1]);
    char buf[16];
    ssize_t n = 0, k;
    while ((k = read(mark_pipe[0], buf + n, sizeof buf - 1 - (size_t)n)) > 0) n += k;
    close(mark_pipe[0]);
    buf[n > 0 ? n : 0] = 0;
    CHECK(strcmp(buf, "R") == 0,
          "the child returning from its goroutine function did not end in exit() (marker '%s')",
          buf);

    /* The parent's runtime is untouched by all that. */
    CHECK_EQ(gmp_ready(atomic_load(&parked_g)), 0);
    ev_wait(&parker_done);
    gmp_stats st = h_stats();
    CHECK(st.procs >= 1, "stats");
}

/* ------------------------------------------------------------------ signal state */

/* SigBlk and SigIgn before the runtime started: of the main thread (what fork+exec passes on),
 * and of a popen'd program (glibc's posix_spawn ignores its two internal signals in the child). */
static char sig_lines[256], spawn_sig_lines[256];

static void read_sig_lines(FILE *f, char *out, size_t outsz)
{
    char line[256];
    size_t n = 0;
    out[0] = 0;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "SigBlk:", 7) == 0 || strncmp(line, "SigIgn:", 7) == 0)
            n += (size_t)snprintf(out + n, outsz - n, "%s", line);
}

static void check_exec_signal_state(void)
{
    /* fork + exec from a goroutine: the exec'd program inherits the goroutine's thread mask. */
    int p[2];
    CHECK(pipe2(p, O_CLOEXEC) == 0, "pipe2");
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        dup2(p[1], 1);
        execl("/bin/grep", "grep", "-E", "^Sig(Blk|Ign):", "/proc/self/status", (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    FILE *f = fdopen(p[0], "r");
    CHECK(f != NULL, "fdopen");
    char got[256];
    read_sig_lines(f, got, sizeof got);
    fclose(f);
    int st = reap(pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "grep: %s", h_describe_status(st));
    CHECK(strcmp(got, sig_lines) == 0, "fork+exec'd program's signal state:\n%s\nwant:\n%s", got,
          sig_lines);

    /* popen (posix_spawn) from a goroutine. */
    f = popen("grep -E '^Sig(Blk|Ign):' /proc/self/status", "r");
    CHECK(f != NULL, "popen: %s", strerror(errno));
    read_sig_lines(f, got, sizeof got);
    CHECK_EQ(pclose(f), 0);
    CHECK(strcmp(got, spawn_sig_lines) == 0, "popen'd program's signal state:\n%s\nwant:\n%s",
          got, spawn_sig_lines);
}

/* ------------------------------------------------------------------ part 2 */

#define WORKERS 4
#define ROUNDS 3

static H_ATOMIC(int) stop;
static wg_t spin_wg, work_wg;

static void spinner(void *arg)
{
    (void)arg;
    volatile unsigned long x = 0;
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) x++;
    wg_done(&spin_wg);
}

/* fork + exec /bin/true. bracket: all of it (the fork too) inside gmp_entersyscall /
 * gmp_exitsyscall; else fork and waitpid run in the goroutine (waitpid blocks its thread). */
static void op_fork_exec(bool bracket)
{
    if (bracket) gmp_entersyscall();
    pid_t pid = fork();
    CHECK(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        execl("/bin/true", "true", (char *)NULL);
        _exit(127);
    }
    int st = 0;
    CHECK(waitpid(pid, &st, 0) == pid, "waitpid: %s", strerror(errno));
    if (bracket) gmp_exitsyscall();
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "fork+exec /bin/true: %s", h_describe_status(st));
}

/* The next three wait for their child inside libc: bracketed as blocking calls, which also
 * keeps them from being preempted inside libc (see worker()). */
static void op_system(void)
{
    gmp_entersyscall();
    int st = system("exit 3");
    gmp_exitsyscall();
    CHECK(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 3, "system(\"exit 3\") = %d", st);
}

static void op_popen(void)
{
    gmp_entersyscall();
    FILE *f = popen("echo hi", "r");
    char line[64] = {0};
    char *got = f ? fgets(line, sizeof line, f) : NULL;
    int st = f ? pclose(f) : -1;
    gmp_exitsyscall();
    CHECK(f != NULL, "popen: %s", strerror(errno));
    CHECK(got != NULL, "popen: no output");
    CHECK(strcmp(line, "hi\n") == 0, "popen(\"echo hi\") read '%s'", line);
    CHECK_EQ(st, 0);
}

static void op_posix_spawn(void)
{
    int p[2];
    CHECK(pipe2(p, O_CLOEXEC) == 0, "pipe2");
    posix_spawn_file_actions_t fa;
    char *argv[] = {(char *)"echo", (char *)"spawned", NULL};
    pid_t pid;
    char buf[64];
    size_t n = 0;
    ssize_t k;
    int st = 0;
    gmp_entersyscall();
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    int r = posix_spawn(&pid, "/bin/echo", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(p[1]);
    if (r == 0) {
        while (n < sizeof buf - 1 && (k = read(p[0], buf + n, sizeof buf - 1 - n)) > 0)
            n += (size_t)k;
        if (waitpid(pid, &st, 0) != pid) st = -1;
    }
    gmp_exitsyscall();
    buf[n] = 0;
    close(p[0]);
    CHECK(r == 0, "posix_spawn: %s", strerror(r));
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "posix_spawn /bin/echo: %s",
          h_describe_status(st));
    CHECK(strcmp(buf, "spawned\n") == 0, "posix_spawn /bin/echo wrote '%s'", buf);
}

static void worker(void *arg)
{
    int w = (int)(intptr_t)arg;
    /* Half the workers fork in the goroutine itself (the runtime keeps it from being preempted
     * inside glibc's fork). Everything else that runs inside libc is bracketed, so no worker is
     * preempted holding a libc lock: one that is (malloc's, stdio's) can hang the runtime at
     * GMP_MAXPROCS=1 when a fork then waits for that lock, a limitation of preemption, not of
     * fork (see sched/fork.rs). The spinners are what gets preempted. */
    for (int r = 0; r < ROUNDS; r++) {
        op_fork_exec(w % 2 != 0);
        gmp_gosched();
        op_system();
        op_popen();
        op_posix_spawn();
        gmp_gosched();
    }
    wg_done(&work_wg);
}

static void part2_concurrent(void)
{
    const char *dbg = getenv("GMP_DEBUG");
    bool preempt = !(dbg && strstr(dbg, "asyncpreemptoff=1"));
    int procs = gmp_set_procs(0);
    CHECK(procs >= 1, "gmp_set_procs(0) = %d", procs);
    int nspin = preempt ? procs : 0;
    gmp_stats s0 = h_stats();
    atomic_store(&stop, 0);
    wg_init(&spin_wg);
    wg_add(&spin_wg, nspin);
    for (int i = 0; i < nspin; i++) h_spawn(spinner, NULL);
    wg_init(&work_wg);
    wg_add(&work_wg, WORKERS);
    for (int i = 0; i < WORKERS; i++) h_spawn(worker, (void *)(intptr_t)i);
    wg_wait(&work_wg);
    if (preempt)
        H_GOSCHED_UNTIL(h_stats().preemptions > s0.preemptions, 5,
                        "no preemption while %d spinners ran", nspin);
    atomic_store(&stop, 1);
    wg_wait(&spin_wg);
}

static void main_fn(void *arg)
{
    (void)arg;
    parent_pid = getpid();
    int64_t t0 = h_now_ns();
    part1_children();
    check_exec_signal_state();
    int64_t t1 = h_now_ns();
    part2_concurrent();
    int64_t t2 = h_now_ns();
    printf("t_fork: children %lld ms, concurrent fork/exec/system/popen/posix_spawn %lld ms\n",
           (long long)((t1 - t0) / 1000000), (long long)((t2 - t1) / 1000000));
}

int main(void)
{
    h_check_lib();
    FILE *f = fopen("/proc/self/status", "r");
    CHECK(f != NULL, "/proc/self/status");
    read_sig_lines(f, sig_lines, sizeof sig_lines);
    fclose(f);
    CHECK(strstr(sig_lines, "SigBlk:") && strstr(sig_lines, "SigIgn:"), "no SigBlk/SigIgn lines");
    f = popen("grep -E '^Sig(Blk|Ign):' /proc/self/status", "r");
    CHECK(f != NULL, "popen");
    read_sig_lines(f, spawn_sig_lines, sizeof spawn_sig_lines);
    CHECK_EQ(pclose(f), 0);
    CHECK_EQ(gmp_init(NULL), 0);
    ev_init(&thread_go);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, thread_forker, NULL) == 0, "pthread_create");
    h_main(main_fn, NULL);
    CHECK(pthread_join(t, NULL) == 0, "pthread_join");
    return 0;
}
