/*
 * t_hooks_passthrough: where the interposed blocking calls must behave exactly as libc's
 * (src/hooks/): plain threads, fork children, GMP_DEBUG=hooks=0, a program that never starts
 * a goroutine, LD_PRELOAD into a program not linked with libgmp; and the fortify forms.
 *
 *  1. (child "nogo", runtime never started) pipes, sockets, poll, nanosleep, read/write,
 *     fcntl, close: results as libc's, the kernel's O_NONBLOCK never set by the runtime, no
 *     thread made (the thread count is unchanged).
 *  2. A plain thread reads a pipe a goroutine made non-blocking: it blocks in the kernel (its
 *     /proc state is S while it waits) and gets the byte, never EAGAIN; accept on a listener
 *     the runtime made non-blocking, with SO_RCVTIMEO, times out with EAGAIN on a plain thread.
 *  3. fork() from a goroutine: the child's read on that pipe blocks (state S) and gets the
 *     parent's byte; its F_GETFL shows no O_NONBLOCK.
 *  4. (child "hooks0", GMP_DEBUG=hooks=0) a goroutine's pipe read still works (the P is
 *     retaken) and the pipe is never made non-blocking.
 *  5. LD_PRELOAD=libgmp.so /bin/sh -c 'printf hi | cat; sleep 0.01': prints hi, exits 0.
 *  6. (_FORTIFY_SOURCE=2) __read_chk from a goroutine parks and reads; a read larger than its
 *     buffer aborts (child "overflow": killed by SIGABRT, "buffer overflow detected").
 *  7. fdopen on a pipe the runtime made non-blocking restores its blocking mode for good.
 */
#define _FORTIFY_SOURCE 2
#include "harness.h"
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>

static int raw_getfl(int fd) { return (int)syscall(SYS_fcntl, fd, F_GETFL); }

static int threads_now(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    CHECK(f != NULL, "fopen");
    char line[256];
    int n = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "Threads: %d", &n) == 1) break;
    fclose(f);
    return n;
}

/* State letter of thread tid of process pid (from /proc). */
static char task_state(pid_t pid, pid_t tid)
{
    char path[96], buf[512];
    snprintf(path, sizeof path, "/proc/%d/task/%d/stat", (int)pid, (int)tid);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return '?';
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return '?';
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    return p && p[1] == ' ' ? p[2] : '?';
}

/* ---- 1 */
static void child_nogo(void)
{
    int before = threads_now();
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    char c = 0;
    errno = 0;
    CHECK(write(p[1], "k", 1) == 1, "write");
    struct pollfd f = {p[0], POLLIN, 0};
    CHECK(poll(&f, 1, -1) == 1 && f.revents == POLLIN, "poll");
    CHECK(read(p[0], &c, 1) == 1 && c == 'k', "read");
    CHECK(!(raw_getfl(p[0]) & O_NONBLOCK) && !(raw_getfl(p[1]) & O_NONBLOCK), "flipped");
    CHECK(fcntl(p[0], F_SETFL, O_NONBLOCK) == 0, "F_SETFL");
    errno = 0;
    CHECK(read(p[0], &c, 1) == -1 && errno == EAGAIN, "nonblocking read: errno %d", errno);
    CHECK(fcntl(p[0], F_GETFL) & O_NONBLOCK, "F_GETFL");
    struct timespec ts = {0, 1000000};
    CHECK(nanosleep(&ts, NULL) == 0, "nanosleep");
    int s[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, s) == 0, "socketpair");
    struct timeval tv = {0, 20000};
    CHECK(setsockopt(s[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0, "setsockopt");
    int64_t t0 = h_now_ns();
    errno = 0;
    CHECK(recv(s[0], &c, 1, 0) == -1 && errno == EAGAIN, "SO_RCVTIMEO: errno %d", errno);
    CHECK(h_now_ns() - t0 >= 20000000, "SO_RCVTIMEO early");
    CHECK(!(raw_getfl(s[0]) & O_NONBLOCK), "socket flipped");
    errno = 0;
    CHECK(close(p[0]) == 0 && close(p[1]) == 0 && close(s[0]) == 0 && close(s[1]) == 0, "close");
    CHECK(close(p[0]) == -1 && errno == EBADF, "double close: errno %d", errno);
    CHECK_EQ(threads_now(), before);
}

/* ---- 2, 3 */
static int fp[2];
static H_ATOMIC(pid_t) reader_tid;

static void *plain_reader(void *arg)
{
    (void)arg;
    atomic_store(&reader_tid, h_gettid());
    char c = 0;
    errno = 0;
    ssize_t n = read(fp[0], &c, 1);
    CHECK(n == 1 && c == 'p', "plain thread read = %zd errno %d", n, errno);
    return NULL;
}

static void flip_writer(void *arg)
{
    (void)arg;
    CHECK(write(fp[1], "f", 1) == 1, "write");
}

/* Wait (from a goroutine) until thread tid of pid sleeps in the kernel. */
static void until_sleeping(pid_t pid, pid_t tid)
{
    H_GOSCHED_UNTIL(task_state(pid, tid) == 'S', 30, "thread %d never blocked", (int)tid);
}

static void case_plain_thread(void)
{
    CHECK(pipe(fp) == 0, "pipe");
    h_spawn(flip_writer, NULL);
    char c;
    CHECK(read(fp[0], &c, 1) == 1 && c == 'f', "goroutine read");
    CHECK(raw_getfl(fp[0]) & O_NONBLOCK, "not flipped: the case tests nothing");

    pthread_t t;
    CHECK(pthread_create(&t, NULL, plain_reader, NULL) == 0, "pthread_create");
    H_GOSCHED_UNTIL(atomic_load(&reader_tid) != 0, 30, "reader thread never started");
    until_sleeping(getpid(), atomic_load(&reader_tid));
    CHECK(write(fp[1], "p", 1) == 1, "write");
    gmp_entersyscall();
    pthread_join(t, NULL);
    gmp_exitsyscall();
}

static void *plain_acceptor(void *arg)
{
    int l = *(int *)arg;
    int64_t t0 = h_now_ns();
    errno = 0;
    int r = accept(l, NULL, NULL);
    CHECK(r == -1 && errno == EAGAIN, "plain-thread accept: %d errno %d", r, errno);
    CHECK(h_now_ns() - t0 >= 20000000, "plain-thread accept timed out early");
    return NULL;
}

static void case_plain_accept(void)
{
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(bind(l, (struct sockaddr *)&a, sizeof a) == 0 && listen(l, 4) == 0, "listen");
    struct timeval tv = {0, 20000};
    CHECK(setsockopt(l, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0, "setsockopt");
    errno = 0;
    CHECK(accept(l, NULL, NULL) == -1 && errno == EAGAIN, "goroutine accept: errno %d", errno);
    CHECK(raw_getfl(l) & O_NONBLOCK, "listener not flipped: the case tests nothing");
    pthread_t u;
    CHECK(pthread_create(&u, NULL, plain_acceptor, &l) == 0, "pthread_create");
    gmp_entersyscall();
    pthread_join(u, NULL);
    gmp_exitsyscall();
    close(l);
}

static void case_fork(void)
{
    /* fp[0] is flipped (case_plain_thread). */
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        char c = 0;
        if (fcntl(fp[0], F_GETFL) & O_NONBLOCK) _exit(3);
        ssize_t n = read(fp[0], &c, 1);
        _exit(n == 1 && c == 'c' ? 0 : 2);
    }
    until_sleeping(pid, pid);
    CHECK(write(fp[1], "c", 1) == 1, "write");
    int st;
    gmp_entersyscall();
    pid_t w = waitpid(pid, &st, 0);
    gmp_exitsyscall();
    CHECK(w == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0, "fork child: %s",
          h_describe_status(st));
}

/* ---- 4 */
static int hp[2];
static void h0_writer(void *arg)
{
    (void)arg;
    CHECK(write(hp[1], "h", 1) == 1, "write");
}
static void h0_main(void *arg)
{
    (void)arg;
    CHECK(pipe(hp) == 0, "pipe");
    h_spawn(h0_writer, NULL);
    char c;
    CHECK(read(hp[0], &c, 1) == 1 && c == 'h', "read");
    CHECK(!(raw_getfl(hp[0]) & O_NONBLOCK), "hooks=0 flipped a pipe");
}

/* ---- 6 */
static int rp[2];
static void chk_writer(void *arg)
{
    (void)arg;
    CHECK(write(rp[1], "0123", 4) == 4, "write");
}
static void case_fortify(void)
{
    CHECK(pipe(rp) == 0, "pipe");
    h_spawn(chk_writer, NULL);
    char buf[8];
    volatile size_t n = 4;
    CHECK(read(rp[0], buf, n) == 4 && memcmp(buf, "0123", 4) == 0, "__read_chk");
}
static void child_overflow(void)
{
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    char buf[4];
    volatile size_t n = 8;
    ssize_t r = read(p[0], buf, n); /* __read_chk: 8 > 4 aborts before reading */
    CHECK(0, "read of %zu into a 4-byte buffer returned %zd", (size_t)n, r);
}

/* ---- 7: fdopen takes back the runtime's O_NONBLOCK (stdio does not go through the hooks) */
static int sp7[2];
static void w7(void *arg)
{
    (void)arg;
    CHECK(write(sp7[1], "a", 1) == 1, "write");
}
static void case_fdopen(void)
{
    CHECK(pipe(sp7) == 0, "pipe");
    h_spawn(w7, NULL);
    char c;
    CHECK(read(sp7[0], &c, 1) == 1, "read");
    CHECK(raw_getfl(sp7[0]) & O_NONBLOCK, "not flipped: the case tests nothing");
    FILE *f = fdopen(sp7[0], "r");
    CHECK(f != NULL, "fdopen");
    CHECK(!(raw_getfl(sp7[0]) & O_NONBLOCK), "fdopen left the runtime's O_NONBLOCK on");
    CHECK(write(sp7[1], "line\n", 5) == 5, "write");
    char buf[16];
    CHECK(fgets(buf, sizeof buf, f) && strcmp(buf, "line\n") == 0, "fgets");
    h_spawn(w7, NULL);
    CHECK(read(sp7[0], &c, 1) == 1 && c == 'a', "read after fdopen");
    CHECK(!(raw_getfl(sp7[0]) & O_NONBLOCK), "flipped again after fdopen");
    CHECK(fclose(f) == 0, "fclose");
    close(sp7[1]);
}

static void main_g(void *arg)
{
    (void)arg;
    case_fdopen();
    case_plain_thread();
    case_plain_accept();
    case_fork();
    case_fortify();
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "nogo") == 0) {
        child_nogo();
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "hooks0") == 0) {
        h_main(h0_main, NULL);
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "overflow") == 0) {
        child_overflow();
        return 0;
    }
    h_check_lib();
    char out[4096];
    int st;

    const char *nogo[] = {"nogo", NULL};
    h_run_self(nogo, NULL, out, sizeof out, &st);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "nogo child: %s: %s", h_describe_status(st), out);

    const char *h0[] = {"hooks0", NULL};
    const char *h0env[] = {"GMP_DEBUG=hooks=0", "GMP_MAXPROCS=1", NULL};
    h_run_self(h0, h0env, out, sizeof out, &st);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "hooks0 child: %s: %s", h_describe_status(st), out);

    const char *ov[] = {"overflow", NULL};
    h_run_self(ov, NULL, out, sizeof out, &st);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT && strstr(out, "buffer overflow detected"),
          "overflow child: %s: %s", h_describe_status(st), out);

    /* LD_PRELOAD into /bin/sh and cat. */
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    fflush(stdout);
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        dup2(p[1], 1);
        close(p[0]);
        close(p[1]);
        setenv("LD_PRELOAD", GMP_LIBDIR "/libgmp.so", 1);
        execl("/bin/sh", "sh", "-c", "printf hi | cat; sleep 0.01", (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    char got[16] = {0};
    size_t have = 0;
    ssize_t k;
    while ((k = read(p[0], got + have, sizeof got - 1 - have)) > 0) have += (size_t)k;
    close(p[0]);
    CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0, "sh: %s",
          h_describe_status(st));
    CHECK(strcmp(got, "hi") == 0, "LD_PRELOAD sh printed '%s'", got);

    h_main(main_g, NULL);
    puts("t_hooks_passthrough: ok");
    return 0;
}
