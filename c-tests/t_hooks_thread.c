/*
 * t_hooks_thread: the interposers leave plain threads, and a program that has not started a
 * goroutine, exactly as libc would (api.md "Interposed blocking libc calls": "Called from a
 * plain thread, or with GMP_DEBUG=hooks=0, each forwards to libc unchanged"; "A program that
 * never starts a goroutine behaves exactly as without the library").
 *
 *  1. Before any goroutine (main thread; runtime not started): read(-1) -> -1/EBADF,
 *     close(-1) -> EBADF, a pipe round trip, poll with a 10 ms timeout -> 0 after >= 10 ms,
 *     send/recv on a socketpair, nanosleep; a blocking read() on a pipe blocks the main
 *     thread IN the kernel (/proc/self/task/<tid>/syscall shows read on that fd) until a
 *     helper thread writes; nanosleep(2 s) interrupted by SIGALRM (handler without
 *     SA_RESTART, sent with pthread_kill once the thread sleeps) -> -1/EINTR with rem
 *     filled in (about 2 s minus the time slept: within 200 ms below, 50 ms above). The
 *     process's thread count (/proc/self/task) is the same after all of that: the library
 *     started no thread of its own.
 *  2. After the runtime started (inside gmp_main), from a pthread the program creates: the
 *     same bad-fd errors; a blocking read blocks that thread in read() in the kernel and
 *     returns the data; nanosleep + SIGALRM -> EINTR with rem; and a pipe created BY A
 *     GOROUTINE (hooked pipe()), then read from a plain thread: the read blocks the thread
 *     (not -1/EAGAIN from an O_NONBLOCK the runtime set) and F_GETFL there shows O_RDONLY only.
 *  3. GMP_DEBUG=hooks=0 (the test re-executes itself): at 1 P, a goroutine's read() on an empty
 *     pipe blocks its thread in the kernel (a thread is seen inside read(fd)), the main
 *     goroutine still runs (the P is retaken), and the read returns the data once written.
 *
 * Catches: hooks that change libc behaviour for threads (errno, EINTR, remaining time, blocking
 * mode), start runtime threads before the program asks for goroutines, or ignore hooks=0.
 */
#define H_WATCHDOG_SECS 100
#include "hookcmp.h"

#include <sys/socket.h>

#define MS 1000000LL

static void on_alrm(int sig) { (void)sig; }

static void install_alrm(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alrm;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART */
    CHECK(sigaction(SIGALRM, &sa, NULL) == 0, "sigaction");
}

/* ------------------------------------------------------------------ a poker thread
 * Waits until thread `tid` is asleep (state S) and, if want_nr >= 0, inside syscall want_nr
 * with first argument want_arg; then either writes a byte into fd or sends SIGALRM to th. */
typedef struct poke {
    pid_t tid;
    pthread_t th;
    long want_nr, want_arg;
    int fd;        /* >= 0: write a byte here */
    bool saw_call; /* the target was seen inside the syscall */
    H_ATOMIC(int) armed;
} poke_t;

static void *poker(void *p)
{
    poke_t *k = (poke_t *)p;
    while (!atomic_load(&k->armed)) sched_yield();
    int64_t dl = h_now_ns() + 5000 * MS;
    while (h_now_ns() < dl) {
        if (hc_thread_state(k->tid) == 'S' &&
            (k->want_nr < 0 || hc_thread_in_syscall(k->want_nr, k->want_arg))) {
            k->saw_call = true;
            break;
        }
        sched_yield();
    }
    if (k->fd >= 0)
        CHECK(write(k->fd, "t", 1) == 1, "poker write");
    else
        pthread_kill(k->th, SIGALRM);
    return NULL;
}

static pthread_t start_poker(poke_t *k)
{
    pthread_t t;
    CHECK(pthread_create(&t, NULL, poker, k) == 0, "pthread_create");
    return t;
}

/* The calls of parts 1 and 2, made by the calling (plain) thread. */
static void thread_calls(const char *where)
{
    char buf[16];
    CHECK(gmp_self() == NULL, "%s: in goroutine context", where);

    hc_clear_errno();
    long r = read(-1, buf, 1);
    int e = hc_errno();
    CHECK(r == -1 && e == EBADF, "%s: read(-1) = %ld errno %d (want -1/EBADF)", where, r, e);
    hc_clear_errno();
    r = close(-1);
    e = hc_errno();
    CHECK(r == -1 && e == EBADF, "%s: close(-1) = %ld errno %d (want -1/EBADF)", where, r, e);

    int p[2], s[2];
    CHECK(pipe(p) == 0, "pipe");
    CHECK(fcntl(p[0], F_GETFL) == O_RDONLY, "%s: F_GETFL of a new pipe = %#x", where,
          fcntl(p[0], F_GETFL));
    struct pollfd pf = {p[0], POLLIN, 0};
    int64_t t0 = h_now_ns();
    r = poll(&pf, 1, 10);
    CHECK(r == 0 && h_now_ns() - t0 >= 10 * MS, "%s: poll(10 ms) = %ld after %.2f ms", where, r,
          hc_ms(t0));
    CHECK(write(p[1], "ab", 2) == 2 && read(p[0], buf, 2) == 2 && memcmp(buf, "ab", 2) == 0,
          "%s: pipe round trip", where);
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, s) == 0, "socketpair");
    CHECK(send(s[0], "cd", 2, 0) == 2 && recv(s[1], buf, 2, 0) == 2, "%s: socketpair", where);
    hc_clear_errno();
    r = recv(s[1], buf, 2, MSG_DONTWAIT);
    e = hc_errno();
    CHECK(r == -1 && e == EAGAIN, "%s: recv MSG_DONTWAIT = %ld errno %d", where, r, e);
    struct timespec ts = {0, 5 * MS};
    t0 = h_now_ns();
    CHECK(nanosleep(&ts, NULL) == 0 && h_now_ns() - t0 >= 5 * MS, "%s: nanosleep 5 ms", where);

    /* a blocking read blocks this thread in the kernel */
    poke_t k;
    memset(&k, 0, sizeof k);
    k.tid = h_gettid();
    k.want_nr = SYS_read;
    k.want_arg = p[0];
    k.fd = p[1];
    pthread_t pk = start_poker(&k);
    atomic_store(&k.armed, 1);
    hc_clear_errno();
    r = read(p[0], buf, sizeof buf);
    e = hc_errno();
    pthread_join(pk, NULL);
    CHECK(r == 1 && buf[0] == 't', "%s: blocking read = %ld errno %d", where, r, e);
    CHECK(k.saw_call, "%s: the thread was never seen blocked in read(%d) in the kernel", where,
          p[0]);

    /* nanosleep interrupted by a signal: EINTR, rem filled in */
    memset(&k, 0, sizeof k);
    k.tid = h_gettid();
    k.th = pthread_self();
    k.want_nr = -1;
    k.fd = -1;
    pk = start_poker(&k);
    atomic_store(&k.armed, 1);
    struct timespec req = {2, 0}, rem = {-1, -1};
    t0 = h_now_ns();
    hc_clear_errno();
    r = nanosleep(&req, &rem);
    e = hc_errno();
    double ms = hc_ms(t0);
    pthread_join(pk, NULL);
    int64_t rem_ns = (int64_t)rem.tv_sec * 1000000000 + rem.tv_nsec;
    CHECK(r == -1 && e == EINTR, "%s: nanosleep(2 s) hit by SIGALRM = %ld errno %d after %.1f ms",
          where, r, e, ms);
    /* rem is what the kernel left (it may round up by a little: allow 50 ms over). */
    CHECK(ms < 1900 && rem_ns <= 2050 * MS && rem_ns >= 2000 * MS - (int64_t)(ms * 1e6) - 200 * MS,
          "%s: nanosleep(2 s) interrupted after %.1f ms left rem = %lld ns", where, ms,
          (long long)rem_ns);
    printf("  %s: blocking read, EINTR (rem %.1f ms after %.1f ms): as libc\n", where,
           rem_ns / 1e6, ms);
    close(p[0]);
    close(p[1]);
    close(s[0]);
    close(s[1]);
}

/* ------------------------------------------------------------------ part 2 */

static int gpipe[2];

static void *thread_main(void *arg)
{
    (void)arg;
    thread_calls("pthread after start");

    /* a pipe a goroutine created (main_fn), read from this thread */
    char buf[4];
    CHECK(fcntl(gpipe[0], F_GETFL) == O_RDONLY,
          "F_GETFL from a thread of a pipe a goroutine created = %#x (want O_RDONLY %#x): the "
          "runtime's O_NONBLOCK shows",
          fcntl(gpipe[0], F_GETFL), O_RDONLY);
    poke_t k;
    memset(&k, 0, sizeof k);
    k.tid = h_gettid();
    /* The runtime may have made this fd O_NONBLOCK (it created it): the thread may then wait
     * in poll rather than in read. Required: it sleeps (state S), and the read returns. */
    k.want_nr = -1;
    k.fd = gpipe[1];
    pthread_t pk = start_poker(&k);
    atomic_store(&k.armed, 1);
    hc_clear_errno();
    long r = read(gpipe[0], buf, sizeof buf);
    int e = hc_errno();
    pthread_join(pk, NULL);
    CHECK(r == 1, "a thread's blocking read of a pipe a goroutine created = %ld errno %d (%s) "
                  "(want the byte: the thread must block as with libc)",
          r, e, strerror(e));
    CHECK(k.saw_call, "the thread never slept while reading the goroutine's empty pipe");
    return NULL;
}

static void main_fn(void *arg)
{
    (void)arg;
    CHECK(pipe(gpipe) == 0, "pipe in a goroutine");
    char c;
    /* use it from the goroutine first (the hooks may register it with the poller) */
    CHECK(write(gpipe[1], "g", 1) == 1 && read(gpipe[0], &c, 1) == 1, "goroutine pipe io");
    pthread_t t;
    CHECK(pthread_create(&t, NULL, thread_main, NULL) == 0, "pthread_create");
    gmp_entersyscall();
    int jr = pthread_join(t, NULL);
    gmp_exitsyscall();
    CHECK(jr == 0, "pthread_join");
    close(gpipe[0]);
    close(gpipe[1]);
}

/* ------------------------------------------------------------------ part 3: hooks=0 child */

static int cpipe[2];
static H_ATOMIC(int) c_in;
static long c_r;
static char c_buf[4];
static wg_t c_wg;

static void child_reader(void *arg)
{
    (void)arg;
    atomic_store(&c_in, 1);
    c_r = read(cpipe[0], c_buf, sizeof c_buf);
    wg_done(&c_wg);
}

static void child_fn(void *arg)
{
    (void)arg;
    gmp_set_procs(1);
    CHECK(pipe(cpipe) == 0, "pipe");
    wg_init(&c_wg);
    wg_add(&c_wg, 1);
    h_spawn(child_reader, NULL);
    H_GOSCHED_UNTIL(atomic_load(&c_in), 10, "reader never started");
    /* At 1 P we run only once the reader's thread lost the P: it blocks in the kernel. */
    H_GOSCHED_UNTIL(hc_thread_in_syscall(SYS_read, cpipe[0]), 10,
                    "GMP_DEBUG=hooks=0: no thread is blocked in read(%d) in the kernel: the "
                    "goroutine's read did not go straight to libc",
                    cpipe[0]);
    CHECK(write(cpipe[1], "h", 1) == 1, "write");
    wg_wait(&c_wg);
    CHECK(c_r == 1 && c_buf[0] == 'h', "hooks=0 read = %ld", c_r);
}

int main(int argc, char **argv)
{
    h_check_lib();
    setvbuf(stdout, NULL, _IOLBF, 0);
    install_alrm();
    if (argc > 1 && strcmp(argv[1], "hooks0") == 0) {
        h_main(child_fn, NULL);
        fprintf(stderr, "child ok\n");
        return 0;
    }

    /* Part 1: no goroutine yet. */
    int tasks0 = hc_task_count();
    thread_calls("main thread before start");
    /* The helper threads were joined, but an exited thread can stay listed in /proc for a
     * moment after pthread_join returns: wait (up to 2 s) for the count to settle. A thread
     * the library started would stay. */
    int tasks1 = hc_task_count();
    for (int64_t dl = h_now_ns() + 2000 * MS; tasks1 != tasks0 && h_now_ns() < dl;) {
        sched_yield();
        tasks1 = hc_task_count();
    }
    CHECK(tasks1 == tasks0,
          "the process had %d threads before the calls and %d after, with no goroutine started: "
          "the library started threads of its own",
          tasks0, tasks1);

    /* Part 3 (before this process starts its runtime: h_run_self forks). */
    char out[4096];
    int st;
    const char *args[] = {"hooks0", NULL};
    const char *env[] = {"GMP_DEBUG=hooks=0", NULL};
    h_run_self(args, env, out, sizeof out, &st);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0 && strstr(out, "child ok"),
          "GMP_DEBUG=hooks=0 child: %s; stderr: %.1500s", h_describe_status(st), out);
    printf("  GMP_DEBUG=hooks=0: a goroutine's read blocked its thread in the kernel\n");

    /* Part 2. */
    h_main(main_fn, NULL);
    printf("t_hooks_thread: ok (threads before any goroutine: %d)\n", tasks0);
    return 0;
}
