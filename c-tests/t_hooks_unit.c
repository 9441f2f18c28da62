/*
 * t_hooks_unit: the interposed blocking calls, from goroutines (src/hooks/), as the hooks'
 * developer checks them (the main semantic suite lives elsewhere). One P throughout
 * (gmp_set_procs(1)), so a call that blocked its thread instead of parking would stall the
 * other goroutine until sysmon's retake: each case asserts on values and errno, and the
 * "parks" cases also assert that no P was retaken while they ran (syscall_retakes unchanged).
 *
 *  1. pipe read parks until a writer goroutine writes; afterwards the kernel's O_NONBLOCK is on
 *     (raw fcntl) but F_GETFL through the hook shows the user's view (off).
 *  2. user O_NONBLOCK: pipe2(O_NONBLOCK) -> EAGAIN at once; F_SETFL on/off on a flipped pipe is
 *     honoured and shown by F_GETFL; ioctl(FIONBIO) likewise.
 *  3. socketpair: recv parks; the socket's kernel mode is never flipped (MSG_DONTWAIT per call);
 *     a 4 MiB write on a stream socket returns the full count while a reader drains slowly.
 *  4. SO_RCVTIMEO: recv times out with EAGAIN after >= the timeout; getsockopt shows it.
 *  5. connect to a closed port: ECONNREFUSED; accept/connect/echo over loopback TCP.
 *  6. poll (several fds, one ready), poll timeout, poll zero timeout; select; epoll_wait on an
 *     epoll fd with a pipe in it.
 *  7. nanosleep/usleep/clock_nanosleep(TIMER_ABSTIME) sleep at least as long, return 0.
 *  8. close while a goroutine waits in read: EBADF.
 *  9. getaddrinfo/gethostbyname from a goroutine (syscall path); h_errno survives it.
 * Successful calls leave errno as it was (libc's wrappers only write it on failure).
 */
#include "harness.h"
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>

/* nanosleep's result as an errno, read in a frame of its own: the caller has switched
 * threads at earlier calls, and gcc keeps one __errno_location() result per function (glibc
 * declares it const), so `errno` there may name the errno of the thread it left. */
static __attribute__((noinline)) int nanosleep_errno(const struct timespec *t)
{
    errno = 0;
    return nanosleep(t, NULL) == -1 ? errno : 0;
}

static int raw_getfl(int fd) { return (int)syscall(SYS_fcntl, fd, F_GETFL); }

static uint64_t retakes(void) { return h_stats().syscall_retakes; }

/* ---- 1 */
static int p1[2];
static H_ATOMIC(int) reading;
static void writer1(void *arg)
{
    (void)arg;
    H_GOSCHED_UNTIL(atomic_load(&reading), 30, "reader never started");
    gmp_gosched();
    CHECK(write(p1[1], "ab", 2) == 2, "write");
}

static void case_pipe_read(void)
{
    CHECK(pipe(p1) == 0, "pipe");
    uint64_t r0 = retakes();
    h_spawn(writer1, NULL);
    atomic_store(&reading, 1);
    char buf[8];
    errno = 4321;
    ssize_t n = read(p1[0], buf, sizeof buf);
    CHECK(n == 2 && buf[0] == 'a', "read = %zd", n);
    CHECK(errno == 4321, "a successful read changed errno to %d", errno);
    CHECK(raw_getfl(p1[0]) & O_NONBLOCK, "the runtime did not make its pipe non-blocking");
    CHECK(!(fcntl(p1[0], F_GETFL) & O_NONBLOCK), "F_GETFL shows the runtime's O_NONBLOCK");
    CHECK_EQ(retakes(), r0);
}

/* ---- 2 */
static void case_user_nonblock(void)
{
    int q[2];
    CHECK(pipe2(q, O_NONBLOCK) == 0, "pipe2");
    char c;
    errno = 0;
    CHECK(read(q[0], &c, 1) == -1 && errno == EAGAIN, "pipe2(O_NONBLOCK) read: errno %d", errno);
    CHECK(fcntl(q[0], F_GETFL) & O_NONBLOCK, "F_GETFL lost the user's O_NONBLOCK");
    close(q[0]);
    close(q[1]);

    /* p1[0] is flipped by case 1. */
    int fl = fcntl(p1[0], F_GETFL);
    CHECK(fcntl(p1[0], F_SETFL, fl | O_NONBLOCK) == 0, "F_SETFL");
    CHECK(fcntl(p1[0], F_GETFL) & O_NONBLOCK, "F_GETFL hides the user's O_NONBLOCK");
    errno = 0;
    CHECK(read(p1[0], &c, 1) == -1 && errno == EAGAIN, "user O_NONBLOCK read: errno %d", errno);
    CHECK(fcntl(p1[0], F_SETFL, fl & ~O_NONBLOCK) == 0, "F_SETFL");
    CHECK(!(fcntl(p1[0], F_GETFL) & O_NONBLOCK), "F_GETFL after clearing");
    CHECK(raw_getfl(p1[0]) & O_NONBLOCK, "clearing the user's flag cleared the runtime's");
    int on = 1;
    CHECK(ioctl(p1[0], FIONBIO, &on) == 0, "FIONBIO on");
    errno = 0;
    CHECK(read(p1[0], &c, 1) == -1 && errno == EAGAIN, "FIONBIO read: errno %d", errno);
    on = 0;
    CHECK(ioctl(p1[0], FIONBIO, &on) == 0, "FIONBIO off");
    CHECK(!(fcntl(p1[0], F_GETFL) & O_NONBLOCK), "F_GETFL after FIONBIO off");
    CHECK(raw_getfl(p1[0]) & O_NONBLOCK, "FIONBIO off cleared the runtime's flag");
}

/* ---- 3 */
static int sp[2];
#define BIG (4 << 20)
static char *big;
static H_ATOMIC(long) drained;
static void slow_reader(void *arg)
{
    ev_t *done = (ev_t *)arg;
    char buf[4096];
    long total = 0;
    while (total < BIG) {
        ssize_t n = read(sp[1], buf, sizeof buf);
        CHECK(n > 0, "reader: read = %zd", n);
        total += n;
        if ((total & 0xffff) < 4096) gmp_gosched();
    }
    atomic_store(&drained, total);
    ev_set(done);
}

static void writer3(void *arg)
{
    (void)arg;
    H_GOSCHED_UNTIL(atomic_load(&reading) == 3, 30, "receiver never started");
    gmp_gosched();
    CHECK(send(sp[1], "xyz", 3, 0) == 3, "send");
}

static void case_socket(void)
{
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0, "socketpair");
    uint64_t r0 = retakes();
    h_spawn(writer3, NULL);
    atomic_store(&reading, 3);
    char buf[8];
    ssize_t n = recv(sp[0], buf, sizeof buf, 0);
    CHECK(n == 3, "recv = %zd", n);
    CHECK(!(raw_getfl(sp[0]) & O_NONBLOCK), "a connected socket's mode was flipped");
    CHECK_EQ(retakes(), r0);

    big = (char *)malloc(BIG);
    CHECK(big != NULL, "malloc");
    memset(big, 'q', BIG);
    ev_t done;
    ev_init(&done);
    h_spawn(slow_reader, &done);
    n = write(sp[0], big, BIG);
    CHECK(n == BIG, "blocking stream write returned %zd of %d", n, BIG);
    ev_wait(&done);
    CHECK_EQ(atomic_load(&drained), BIG);
    free(big);
}

/* ---- 4 */
static void case_rcvtimeo(void)
{
    struct timeval tv = {0, 50000};
    CHECK(setsockopt(sp[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0, "setsockopt");
    struct timeval got = {0, 0};
    socklen_t len = sizeof got;
    CHECK(getsockopt(sp[0], SOL_SOCKET, SO_RCVTIMEO, &got, &len) == 0 && got.tv_usec >= 50000 && got.tv_usec < 60000, /* jiffies */
          "getsockopt shows %ld us", (long)got.tv_usec);
    int64_t t0 = h_now_ns();
    char c;
    errno = 0;
    ssize_t n = recv(sp[0], &c, 1, 0);
    int64_t dt = h_now_ns() - t0;
    CHECK(n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK), "recv = %zd errno %d", n, errno);
    CHECK(dt >= 50000000, "timed out after %lld ns", (long long)dt);
    tv.tv_usec = 0;
    CHECK(setsockopt(sp[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0, "setsockopt");
}

/* ---- 5 */
static int lfd;
static unsigned short lport;
static void client(void *arg)
{
    (void)arg;
    int c = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(c >= 0, "socket");
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = lport};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    errno = 4321;
    CHECK(connect(c, (struct sockaddr *)&a, sizeof a) == 0, "connect: errno %d", errno);
    CHECK(errno == 4321, "a successful connect changed errno to %d", errno);
    CHECK(!(raw_getfl(c) & O_NONBLOCK), "connect left the runtime's O_NONBLOCK on");
    CHECK(write(c, "ping", 4) == 4, "write");
    char buf[4];
    CHECK(read(c, buf, 4) == 4 && memcmp(buf, "pong", 4) == 0, "read pong");
    close(c);
}

static void case_tcp(void)
{
    /* A closed port refuses. */
    int t = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    CHECK(bind(t, (struct sockaddr *)&a, sizeof a) == 0, "bind");
    CHECK(getsockname(t, (struct sockaddr *)&a, &al) == 0, "getsockname");
    close(t);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    errno = 0;
    CHECK(connect(c, (struct sockaddr *)&a, sizeof a) == -1 && errno == ECONNREFUSED,
          "connect to a closed port: errno %d", errno);
    close(c);

    lfd = socket(AF_INET, SOCK_STREAM, 0);
    a.sin_port = 0;
    CHECK(bind(lfd, (struct sockaddr *)&a, sizeof a) == 0, "bind");
    al = sizeof a;
    CHECK(getsockname(lfd, (struct sockaddr *)&a, &al) == 0, "getsockname");
    lport = a.sin_port;
    CHECK(listen(lfd, 8) == 0, "listen");
    h_spawn(client, NULL);
    int s = accept(lfd, NULL, NULL);
    CHECK(s >= 0, "accept: errno %d", errno);
    char buf[4];
    CHECK(read(s, buf, 4) == 4 && memcmp(buf, "ping", 4) == 0, "read ping");
    CHECK(write(s, "pong", 4) == 4, "write");
    CHECK(read(s, buf, 4) == 0, "EOF");
    close(s);
    close(lfd);
}

/* ---- 6 */
static int pa[2], pb[2];
static void writer6(void *arg)
{
    int fd = (int)(intptr_t)arg;
    H_GOSCHED_UNTIL(atomic_load(&reading) == 6, 30, "poller never started");
    gmp_gosched();
    CHECK(write(fd, "z", 1) == 1, "write");
}

static void case_poll(void)
{
    CHECK(pipe(pa) == 0 && pipe(pb) == 0, "pipes");
    struct pollfd f[2] = {{pa[0], POLLIN, 0}, {pb[0], POLLIN, 0}};
    CHECK(poll(f, 2, 0) == 0, "zero-timeout poll");
    int64_t t0 = h_now_ns();
    CHECK(poll(f, 2, 20) == 0, "poll timeout");
    CHECK(h_now_ns() - t0 >= 20000000, "poll returned early");
    atomic_store(&reading, 0);
    h_spawn(writer6, (void *)(intptr_t)pb[1]);
    atomic_store(&reading, 6);
    errno = 4321;
    CHECK(poll(f, 2, -1) == 1, "poll");
    CHECK(errno == 4321, "a successful poll changed errno to %d", errno);
    CHECK(f[0].revents == 0 && f[1].revents == POLLIN, "revents %d %d", f[0].revents, f[1].revents);
    char c;
    CHECK(read(pb[0], &c, 1) == 1, "drain");

    /* select */
    atomic_store(&reading, 0);
    h_spawn(writer6, (void *)(intptr_t)pa[1]);
    atomic_store(&reading, 6);
    fd_set rs;
    FD_ZERO(&rs);
    FD_SET(pa[0], &rs);
    FD_SET(pb[0], &rs);
    int mx = pa[0] > pb[0] ? pa[0] : pb[0];
    CHECK(select(mx + 1, &rs, NULL, NULL, NULL) == 1, "select");
    CHECK(FD_ISSET(pa[0], &rs) && !FD_ISSET(pb[0], &rs), "select sets");
    CHECK(read(pa[0], &c, 1) == 1, "drain");

    /* epoll_wait on an epoll fd */
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = pb[0]};
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, pb[0], &ev) == 0, "epoll_ctl");
    struct epoll_event out[4];
    CHECK(epoll_wait(ep, out, 4, 0) == 0, "zero-timeout epoll_wait");
    atomic_store(&reading, 0);
    h_spawn(writer6, (void *)(intptr_t)pb[1]);
    atomic_store(&reading, 6);
    CHECK(epoll_wait(ep, out, 4, -1) == 1 && out[0].data.fd == pb[0], "epoll_wait");
    close(ep);
}

/* ---- 7 */
static void case_sleep(void)
{
    int64_t t0 = h_now_ns();
    struct timespec ts = {0, 10000000}, rem = {7, 7};
    CHECK(nanosleep(&ts, &rem) == 0, "nanosleep");
    CHECK(rem.tv_sec == 7, "nanosleep wrote rem on success");
    CHECK(usleep(10000) == 0, "usleep");
    struct timespec abs;
    clock_gettime(CLOCK_MONOTONIC, &abs);
    abs.tv_nsec += 10000000;
    if (abs.tv_nsec >= 1000000000) { abs.tv_sec++; abs.tv_nsec -= 1000000000; }
    CHECK(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &abs, NULL) == 0, "clock_nanosleep");
    CHECK(h_now_ns() - t0 >= 30000000, "slept %lld ns, want >= 30 ms", (long long)(h_now_ns() - t0));
    struct timespec bad = {0, 1000000000};
    CHECK(clock_nanosleep(CLOCK_MONOTONIC, 0, &bad, NULL) == EINVAL, "bad timespec");
    int e = nanosleep_errno(&bad);
    CHECK(e == EINVAL, "nanosleep bad: errno %d", e);
}

/* ---- 8 */
static int p8[2];
static void closer(void *arg)
{
    (void)arg;
    H_GOSCHED_UNTIL(atomic_load(&reading) == 8, 30, "reader never started");
    gmp_gosched();
    CHECK(close(p8[0]) == 0, "close");
}

static void case_close(void)
{
    CHECK(pipe(p8) == 0, "pipe");
    atomic_store(&reading, 0);
    h_spawn(closer, NULL);
    atomic_store(&reading, 8);
    char c;
    errno = 0;
    CHECK(read(p8[0], &c, 1) == -1 && errno == EBADF, "read on a closed fd: errno %d", errno);
    close(p8[1]);
}

/* ---- 9: name resolution runs (syscall path) and keeps h_errno */
static void case_resolve(void)
{
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res = NULL;
    CHECK(getaddrinfo("localhost", "80", &hints, &res) == 0 && res != NULL, "getaddrinfo");
    freeaddrinfo(res);
    h_errno = 0;
    CHECK(gethostbyname("no-such-host.invalid") == NULL, "gethostbyname of an invalid name");
    CHECK(h_errno != 0, "h_errno lost across the syscall path");
}

static void main_g(void *arg)
{
    (void)arg;
    case_pipe_read();
    case_user_nonblock();
    case_socket();
    case_rcvtimeo();
    case_tcp();
    case_poll();
    case_sleep();
    case_close();
    case_resolve();
}

int main(void)
{
    h_check_lib();
    gmp_set_procs(1);
    h_main(main_g, NULL);
    puts("t_hooks_unit: ok");
    return 0;
}
