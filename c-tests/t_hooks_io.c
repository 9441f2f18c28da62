/*
 * t_hooks_io: every interposed I/O call, made from a goroutine, returns exactly what libc
 * returns (api.md "Interposed blocking libc calls": "returns exactly what libc would have
 * returned (same values, same errno), honouring the caller's view of the fd").
 *
 * Each scenario below runs twice: in a plain pthread (thread context: the hooks forward to
 * libc unchanged, so that run is libc's answer) and in a goroutine; partners (the other end of
 * a pipe/socket) are pthreads in the first run and goroutines in the second (hookcmp.h). Every
 * step's return value, errno and data are logged and the two logs must be identical; fd
 * numbers and ports are never logged, only "matches" booleans, and timing only as booleans
 * (e.g. "returned at once", "waited at least the timeout"). The blocking side announces itself
 * before each blocking call and the partner acts after that (hc_settle gives the blocked side
 * a moment to get into the call; results never depend on it).
 *
 *  pipe:        read (blocks until a write; EOF after the writer closes), write into a full
 *               pipe (blocks until the reader drains), readv/writev, write with no reader
 *               (EPIPE; SIGPIPE ignored), pread on a pipe (ESPIPE).
 *  stream:      socketpair: recv, recv(MSG_PEEK), recv(MSG_WAITALL) fed in two pieces (must
 *               wait for all), recvfrom, recvmsg/sendmsg, readv/writev, recv(MSG_DONTWAIT) on
 *               empty (EAGAIN), send into a full socket (blocks until drained, sends it all),
 *               recv after the peer's shutdown (0), send after the peer closed (EPIPE).
 *  dgram:       socketpair(SOCK_DGRAM): sendmmsg(3) -> recvmmsg(vlen 3) = 3; three datagrams
 *               sent one at a time -> a blocking recvmmsg(vlen 3, flags 0) still returns 3
 *               (libc blocks for each; a hook that returns what one non-blocking try got
 *               returns 1); recvmmsg(MSG_WAITFORONE) returns 1.
 *  udp:         127.0.0.1: recvfrom (source address matches the sender), recvmsg/sendmsg,
 *               sendmmsg/recvmmsg, recv(MSG_DONTWAIT) -> EAGAIN, connected send/recv.
 *  tcp:         127.0.0.1, port 0 + getsockname: accept (peer address = the client's),
 *               accept4(SOCK_CLOEXEC|SOCK_NONBLOCK) (flags as asked, recv -> EAGAIN at once),
 *               blocking connect + data both ways, connect to a closed port (ECONNREFUSED),
 *               non-blocking connect (EINPROGRESS or 0, then POLLOUT and SO_ERROR 0).
 *  nonblock:    user-set O_NONBLOCK via fcntl(F_SETFL), ioctl(FIONBIO), socketpair
 *               (SOCK_NONBLOCK), socket(SOCK_NONBLOCK) + accept, pipe2(O_NONBLOCK), a dup of a
 *               non-blocking fd: the call fails with EAGAIN at once (< 100 ms), F_GETFL is
 *               exactly libc's value (after a blocking read that made the runtime register
 *               the fd, F_GETFL still shows no O_NONBLOCK); clearing O_NONBLOCK makes the
 *               calls block again.
 *  timeouts:    SO_RCVTIMEO (100 ms) on recv, read, recvmsg and accept -> -1/EAGAIN after
 *               >= 100 ms and < 1.1 s; SO_SNDTIMEO on a full socket's send likewise; connect
 *               with SO_SNDTIMEO to a listener whose queue is full -> whatever libc says
 *               (EINPROGRESS on Linux).
 * Goroutine-only (a thread blocked in read is not woken by close in libc, so no comparison):
 *  close_blocked: a goroutine blocked in read() on a pipe; another goroutine closes the fd,
 *               makes a new pipe (same number) and writes into it: the reader returns -1/EBADF
 *               within 1 s (api.md: close wakes waiters with EBADF before the number can be
 *               reused), not data from the new pipe, and does not hang (after 3 s the test
 *               writes into the OLD pipe to unstick it and reports what the reader did).
 *
 * Catches: hooks that return EAGAIN to blocking callers or block non-blocking ones, leak the
 * runtime's O_NONBLOCK into F_GETFL, ignore SO_RCVTIMEO/SO_SNDTIMEO, return short counts where
 * libc waits (MSG_WAITALL, recvmmsg, blocking writes), lose peer addresses, or strand a
 * reader on a closed fd.
 */
#define H_WATCHDOG_SECS 100
#include "hookcmp.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>

#define MS 1000000LL

/* ------------------------------------------------------------------ partners */

typedef struct partner partner_t;
typedef void (*act_fn)(partner_t *);
struct partner {
    act_fn act;
    int fd, fd2;
    long n;
    struct sockaddr_in addr; /* where to connect / send */
    struct sockaddr_in self; /* the partner's own address (filled by connect/bind acts) */
    long r, r2;
    int err;
    H_ATOMIC(int) ann;
    wg_t wg;
};

static void partner_main(void *p)
{
    partner_t *pt = (partner_t *)p;
    hc_wait_flag(&pt->ann, 10, "the blocking side to announce itself");
    hc_settle();
    hc_clear_errno();
    pt->act(pt);
    wg_done(&pt->wg);
}

static void partner_start(partner_t *pt, act_fn act, int fd)
{
    memset(pt, 0, sizeof *pt);
    pt->act = act;
    pt->fd = fd;
    pt->fd2 = -1;
    atomic_store(&pt->ann, 0);
    wg_init(&pt->wg);
    wg_add(&pt->wg, 1);
    hc_go(partner_main, pt);
}
#define ANNOUNCE(pt) atomic_store(&(pt)->ann, 1)
static void partner_join(partner_t *pt) { wg_wait(&pt->wg); }

static void act_write_hello(partner_t *p) { p->r = write(p->fd, "hello", 5); }
static void act_close(partner_t *p) { p->r = close(p->fd); }
static void act_drain_n(partner_t *p)
{
    char buf[4096];
    long got = 0;
    while (got < p->n) {
        long want = p->n - got < (long)sizeof buf ? p->n - got : (long)sizeof buf;
        ssize_t k = read(p->fd, buf, (size_t)want);
        if (k <= 0) break;
        got += k;
    }
    p->r = got;
}
static void act_writev(partner_t *p)
{
    struct iovec iov[2] = {{(void *)"ab", 2}, {(void *)"cde", 3}};
    p->r = writev(p->fd, iov, 2);
}
static void act_send_ping(partner_t *p) { p->r = send(p->fd, "ping", 4, 0); }
static void act_send_two(partner_t *p)
{
    p->r = send(p->fd, "abc", 3, 0);
    hc_settle();
    p->r2 = send(p->fd, "def", 3, 0);
}
static void act_sendmsg(partner_t *p)
{
    struct iovec iov[2] = {{(void *)"msg", 3}, {(void *)"-two", 4}};
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_iov = iov;
    m.msg_iovlen = 2;
    if (p->addr.sin_family) {
        m.msg_name = &p->addr;
        m.msg_namelen = sizeof p->addr;
    }
    p->r = sendmsg(p->fd, &m, 0);
}
static void act_shutdown(partner_t *p) { p->r = shutdown(p->fd, SHUT_WR); }
static void act_sendmmsg3(partner_t *p)
{
    struct iovec iov[3] = {{(void *)"one", 3}, {(void *)"two", 3}, {(void *)"three", 5}};
    struct mmsghdr mm[3];
    memset(mm, 0, sizeof mm);
    for (int i = 0; i < 3; i++) {
        mm[i].msg_hdr.msg_iov = &iov[i];
        mm[i].msg_hdr.msg_iovlen = 1;
        if (p->addr.sin_family) {
            mm[i].msg_hdr.msg_name = &p->addr;
            mm[i].msg_hdr.msg_namelen = sizeof p->addr;
        }
    }
    p->r = sendmmsg(p->fd, mm, 3, 0);
}
static void act_send_three_slowly(partner_t *p)
{
    p->r = send(p->fd, "one", 3, 0);
    hc_settle();
    p->r += send(p->fd, "two", 3, 0);
    hc_settle();
    p->r += send(p->fd, "three", 5, 0);
}
static void act_sendto_udp(partner_t *p)
{
    p->r = sendto(p->fd, "udp1", 4, 0, (struct sockaddr *)&p->addr, sizeof p->addr);
}
static void act_connect(partner_t *p)
{
    int c = socket(AF_INET, SOCK_STREAM, 0);
    p->fd2 = c;
    p->r = connect(c, (struct sockaddr *)&p->addr, sizeof p->addr);
    p->err = hc_errno();
    socklen_t len = sizeof p->self;
    getsockname(c, (struct sockaddr *)&p->self, &len);
}
static void act_accept(partner_t *p)
{
    p->r = accept(p->fd, NULL, NULL);
    p->err = hc_errno();
    if (p->r >= 0) {
        p->fd2 = (int)p->r;
        char buf[8];
        p->r2 = recv(p->fd2, buf, sizeof buf, 0); /* "hi" from the connector */
        if (p->r2 == 2) send(p->fd2, "yo", 2, 0);
    }
}

/* ------------------------------------------------------------------ helpers */

static void log_read(rec_t *rc, const char *label, long r, int err, const char *buf)
{
    hc_log(rc, label, r, err, buf, r > 0 ? (int)r : 0);
}

static void loopback(struct sockaddr_in *a)
{
    memset(a, 0, sizeof *a);
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

/* A socket of type `type` bound to 127.0.0.1:0; *a = its address. */
static int bound(int type, struct sockaddr_in *a)
{
    int s = socket(AF_INET, type, 0);
    CHECK(s >= 0, "socket: %s", strerror(hc_errno()));
    loopback(a);
    CHECK(bind(s, (struct sockaddr *)a, sizeof *a) == 0, "bind: %s", strerror(hc_errno()));
    socklen_t len = sizeof *a;
    CHECK(getsockname(s, (struct sockaddr *)a, &len) == 0, "getsockname");
    return s;
}

static bool same_addr(const struct sockaddr_in *a, const struct sockaddr_in *b)
{
    return a->sin_family == b->sin_family && a->sin_port == b->sin_port &&
           a->sin_addr.s_addr == b->sin_addr.s_addr;
}

/* Fill a stream socket's send buffer (MSG_DONTWAIT until EAGAIN); returns bytes queued. */
static long fill_socket(int s)
{
    static char junk[4096];
    long total = 0;
    for (;;) {
        ssize_t k = send(s, junk, sizeof junk, MSG_DONTWAIT);
        if (k < 0) break;
        total += k;
    }
    for (;;) { /* top off with small pieces */
        ssize_t k = send(s, junk, 64, MSG_DONTWAIT);
        if (k < 0) break;
        total += k;
    }
    return total;
}

/* ------------------------------------------------------------------ scenarios */

static void sc_pipe(rec_t *rc)
{
    int p[2];
    char buf[64];
    partner_t pt;
    CHECK(pipe(p) == 0, "pipe");

    partner_start(&pt, act_write_hello, p[1]);
    ANNOUNCE(&pt);
    hc_clear_errno();
    long r = read(p[0], buf, sizeof buf);
    log_read(rc, "read (blocks until a write)", r, hc_errno(), buf);
    partner_join(&pt);
    hc_log(rc, "  partner write", pt.r, 0, NULL, 0);

    struct iovec iv[2] = {{buf, 2}, {buf + 2, 10}};
    partner_start(&pt, act_writev, p[1]);
    ANNOUNCE(&pt);
    hc_clear_errno();
    r = readv(p[0], iv, 2);
    log_read(rc, "readv (blocks until a writev)", r, hc_errno(), buf);
    partner_join(&pt);
    hc_log(rc, "  partner writev", pt.r, 0, NULL, 0);

    hc_clear_errno();
    r = pread(p[0], buf, 1, 0);
    hc_log(rc, "pread on a pipe", r, hc_errno(), NULL, 0);

    partner_start(&pt, act_close, p[1]);
    ANNOUNCE(&pt);
    hc_clear_errno();
    r = read(p[0], buf, sizeof buf);
    hc_log(rc, "read (blocks until the writer closes)", r, hc_errno(), NULL, 0);
    partner_join(&pt);
    close(p[0]);

    /* a full pipe: write blocks until the reader drains */
    CHECK(pipe(p) == 0, "pipe");
    long cap = fcntl(p[1], F_GETPIPE_SZ);
    CHECK(cap > 0, "F_GETPIPE_SZ");
    char *big = (char *)calloc(1, (size_t)cap);
    CHECK(big != NULL, "calloc");
    hc_clear_errno();
    r = write(p[1], big, (size_t)cap);
    hc_log(rc, "write exactly the capacity (== cap)", r == cap, hc_errno(), NULL, 0);
    partner_start(&pt, act_drain_n, p[0]);
    pt.n = cap;
    ANNOUNCE(&pt);
    hc_clear_errno();
    r = write(p[1], "0123456789", 10);
    hc_log(rc, "write into a full pipe (blocks)", r, hc_errno(), NULL, 0);
    partner_join(&pt);
    hc_log(rc, "  partner drained cap bytes", pt.r == cap, 0, NULL, 0);
    hc_clear_errno();
    r = read(p[0], buf, sizeof buf);
    log_read(rc, "read the blocked write's bytes", r, hc_errno(), buf);
    free(big);
    close(p[0]);
    hc_clear_errno();
    r = write(p[1], "x", 1);
    hc_log(rc, "write with no reader (EPIPE)", r, hc_errno(), NULL, 0);
    close(p[1]);
}

static void sc_stream(rec_t *rc)
{
    int s[2];
    char buf[64];
    partner_t pt;
    long r;
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, s) == 0, "socketpair");

    partner_start(&pt, act_send_ping, s[1]);
    ANNOUNCE(&pt);
    hc_clear_errno();
    r = recv(s[0], buf, sizeof buf, 0);
    log_read(rc, "recv (blocks)", r, hc_errno(), buf);
    partner_join(&pt);

    partner_start(&pt, act_send_ping, s[1]);
    ANNOUNCE(&pt);
    hc_clear_errno();
    r = recv(s[0], buf, sizeof buf, MSG_PEEK);
    log_read(rc, "recv MSG_PEEK (blocks)", r, hc_errno(), buf);
    partner_join(&pt);
    hc_clear_errno();
    r = recv(s[0], buf, sizeof buf, 0);
    log_read(rc, "recv after the peek", r, hc_errno(), buf);

    partner_start(&pt, act_send_two, s[1]);
    ANNOUNCE(&pt);
    hc_clear_errno();
    r = recv(s[0], buf, 6, MSG_WAITALL);
    log_read(rc, "recv MSG_WAITALL 6, sent as 3+3", r, hc_errno(), buf);
    partner_join(&pt);

    partner_start(&pt, act_send_ping, s[1]);
    ANNOUNCE(&pt);
    struct sockaddr_un_like {
        sa_family_t f;
        char path[108];
    } from;
    socklen_t flen = sizeof from;
    hc_clear_errno();
    r = recvfrom(s[0], buf, sizeof buf, 0, (struct sockaddr *)&from, &flen);
    log_read(rc, "recvfrom (blocks)", r, hc_errno(), buf);
    hc_log(rc, "  recvfrom addrlen", (long)flen, 0, NULL, 0);
    partner_join(&pt);

    partner_start(&pt, act_sendmsg, s[1]);
    ANNOUNCE(&pt);
    struct iovec iv[2] = {{buf, 4}, {buf + 4, 20}};
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_iov = iv;
    m.msg_iovlen = 2;
    hc_clear_errno();
    r = recvmsg(s[0], &m, 0);
    log_read(rc, "recvmsg (blocks) / sendmsg", r, hc_errno(), buf);
    hc_log(rc, "  recvmsg msg_flags", m.msg_flags, 0, NULL, 0);
    partner_join(&pt);
    hc_log(rc, "  partner sendmsg", pt.r, 0, NULL, 0);

    partner_start(&pt, act_writev, s[1]);
    ANNOUNCE(&pt);
    struct iovec rv[2] = {{buf, 1}, {buf + 1, 30}};
    hc_clear_errno();
    r = readv(s[0], rv, 2);
    log_read(rc, "readv on a socket (blocks)", r, hc_errno(), buf);
    partner_join(&pt);

    hc_clear_errno();
    r = recv(s[0], buf, sizeof buf, MSG_DONTWAIT);
    hc_log(rc, "recv MSG_DONTWAIT on empty", r, hc_errno(), NULL, 0);

    /* send into a full socket: blocks until the peer drains, then sends all of it */
    long queued = fill_socket(s[0]);
    partner_start(&pt, act_drain_n, s[1]);
    pt.n = queued + 3000;
    ANNOUNCE(&pt);
    static char chunk[3000];
    hc_clear_errno();
    r = send(s[0], chunk, sizeof chunk, 0);
    hc_log(rc, "send 3000 into a full socket (blocks)", r, hc_errno(), NULL, 0);
    partner_join(&pt);
    hc_log(rc, "  partner drained everything", pt.r == queued + 3000, 0, NULL, 0);

    partner_start(&pt, act_shutdown, s[1]);
    ANNOUNCE(&pt);
    hc_clear_errno();
    r = recv(s[0], buf, sizeof buf, 0);
    hc_log(rc, "recv after the peer's shutdown (blocks)", r, hc_errno(), NULL, 0);
    partner_join(&pt);

    close(s[1]);
    hc_clear_errno();
    r = send(s[0], "x", 1, MSG_NOSIGNAL);
    hc_log(rc, "send after the peer closed", r, hc_errno(), NULL, 0);
    close(s[0]);
}

static void log_mmsg(rec_t *rc, const char *label, long r, int err, struct mmsghdr *mm,
                     char bufs[][16])
{
    hc_log(rc, label, r, err, NULL, 0);
    for (long i = 0; i < r && i < 3; i++)
        hc_log(rc, "  datagram", (long)mm[i].msg_len, 0, bufs[i], (int)mm[i].msg_len);
}

static void prep_mmsg(struct mmsghdr *mm, struct iovec *iov, char bufs[][16], int n)
{
    memset(mm, 0, sizeof *mm * (size_t)n);
    for (int i = 0; i < n; i++) {
        iov[i].iov_base = bufs[i];
        iov[i].iov_len = 16;
        mm[i].msg_hdr.msg_iov = &iov[i];
        mm[i].msg_hdr.msg_iovlen = 1;
    }
}

static void sc_dgram(rec_t *rc)
{
    int s[2];
    partner_t pt;
    struct mmsghdr mm[3];
    struct iovec iov[3];
    char bufs[3][16];
    long r;
    CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, s) == 0, "socketpair");

    partner_start(&pt, act_sendmmsg3, s[1]);
    ANNOUNCE(&pt);
    prep_mmsg(mm, iov, bufs, 3);
    hc_clear_errno();
    r = recvmmsg(s[0], mm, 3, 0, NULL);
    log_mmsg(rc, "recvmmsg vlen 3 (blocks) / sendmmsg 3", r, hc_errno(), mm, bufs);
    partner_join(&pt);
    hc_log(rc, "  partner sendmmsg", pt.r, 0, NULL, 0);

    partner_start(&pt, act_send_three_slowly, s[1]);
    ANNOUNCE(&pt);
    prep_mmsg(mm, iov, bufs, 3);
    hc_clear_errno();
    r = recvmmsg(s[0], mm, 3, 0, NULL);
    log_mmsg(rc, "recvmmsg vlen 3, flags 0, sent 1 by 1", r, hc_errno(), mm, bufs);
    partner_join(&pt);

    partner_start(&pt, act_send_ping, s[1]);
    ANNOUNCE(&pt);
    prep_mmsg(mm, iov, bufs, 3);
    hc_clear_errno();
    r = recvmmsg(s[0], mm, 3, MSG_WAITFORONE, NULL);
    log_mmsg(rc, "recvmmsg vlen 3 MSG_WAITFORONE", r, hc_errno(), mm, bufs);
    partner_join(&pt);

    prep_mmsg(mm, iov, bufs, 3);
    hc_clear_errno();
    r = recvmmsg(s[0], mm, 3, MSG_DONTWAIT, NULL);
    hc_log(rc, "recvmmsg MSG_DONTWAIT on empty", r, hc_errno(), NULL, 0);
    close(s[0]);
    close(s[1]);
}

static void sc_udp(rec_t *rc)
{
    struct sockaddr_in aa, ba, from;
    int a = bound(SOCK_DGRAM, &aa), b = bound(SOCK_DGRAM, &ba);
    partner_t pt;
    char buf[64];
    long r;

    partner_start(&pt, act_sendto_udp, b);
    pt.addr = aa;
    ANNOUNCE(&pt);
    socklen_t flen = sizeof from;
    hc_clear_errno();
    r = recvfrom(a, buf, sizeof buf, 0, (struct sockaddr *)&from, &flen);
    log_read(rc, "udp recvfrom (blocks)", r, hc_errno(), buf);
    hc_log(rc, "  source address is the sender's", same_addr(&from, &ba), 0, NULL, 0);
    partner_join(&pt);
    hc_log(rc, "  partner sendto", pt.r, 0, NULL, 0);

    partner_start(&pt, act_sendmsg, b);
    pt.addr = aa;
    ANNOUNCE(&pt);
    struct iovec iv = {buf, sizeof buf};
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_iov = &iv;
    m.msg_iovlen = 1;
    m.msg_name = &from;
    m.msg_namelen = sizeof from;
    hc_clear_errno();
    r = recvmsg(a, &m, 0);
    log_read(rc, "udp recvmsg (blocks) / sendmsg", r, hc_errno(), buf);
    hc_log(rc, "  source address is the sender's", same_addr(&from, &ba), 0, NULL, 0);
    partner_join(&pt);

    struct mmsghdr mm[3];
    struct iovec iov[3];
    char bufs[3][16];
    partner_start(&pt, act_sendmmsg3, b);
    pt.addr = aa;
    ANNOUNCE(&pt);
    prep_mmsg(mm, iov, bufs, 3);
    hc_clear_errno();
    r = recvmmsg(a, mm, 3, 0, NULL);
    log_mmsg(rc, "udp recvmmsg vlen 3 (blocks) / sendmmsg", r, hc_errno(), mm, bufs);
    partner_join(&pt);
    hc_log(rc, "  partner sendmmsg", pt.r, 0, NULL, 0);

    hc_clear_errno();
    r = recv(a, buf, sizeof buf, MSG_DONTWAIT);
    hc_log(rc, "udp recv MSG_DONTWAIT on empty", r, hc_errno(), NULL, 0);

    CHECK(connect(b, (struct sockaddr *)&aa, sizeof aa) == 0, "udp connect");
    CHECK(connect(a, (struct sockaddr *)&ba, sizeof ba) == 0, "udp connect");
    partner_start(&pt, act_send_ping, b);
    ANNOUNCE(&pt);
    hc_clear_errno();
    r = recv(a, buf, sizeof buf, 0);
    log_read(rc, "connected udp recv (blocks) / send", r, hc_errno(), buf);
    partner_join(&pt);
    close(a);
    close(b);
}

static void sc_tcp(rec_t *rc)
{
    struct sockaddr_in la, peer;
    int l = bound(SOCK_STREAM, &la);
    CHECK(listen(l, 16) == 0, "listen");
    partner_t pt;
    char buf[64];
    long r;

    partner_start(&pt, act_connect, -1);
    pt.addr = la;
    ANNOUNCE(&pt);
    socklen_t plen = sizeof peer;
    hc_clear_errno();
    r = accept(l, (struct sockaddr *)&peer, &plen);
    hc_log(rc, "accept (blocks) returns an fd", r >= 0 ? 1 : r, hc_errno(), NULL, 0);
    partner_join(&pt);
    hc_log(rc, "  partner connect", pt.r, pt.err, NULL, 0);
    hc_log(rc, "  peer address is the client's", same_addr(&peer, &pt.self), 0, NULL, 0);
    if (r >= 0) {
        CHECK(send(pt.fd2, "tcp!", 4, 0) == 4, "send");
        hc_clear_errno();
        long k = recv((int)r, buf, sizeof buf, 0);
        log_read(rc, "recv on the accepted fd", k, hc_errno(), buf);
        close((int)r);
    }
    close(pt.fd2);

    partner_start(&pt, act_connect, -1);
    pt.addr = la;
    ANNOUNCE(&pt);
    hc_clear_errno();
    r = accept4(l, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    hc_log(rc, "accept4 CLOEXEC|NONBLOCK (blocks)", r >= 0 ? 1 : r, hc_errno(), NULL, 0);
    partner_join(&pt);
    if (r >= 0) {
        int fd = (int)r;
        hc_log(rc, "  FD_CLOEXEC set", (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0, 0, NULL, 0);
        hc_log(rc, "  F_GETFL", fcntl(fd, F_GETFL), hc_errno(), NULL, 0);
        int64_t t0 = h_now_ns();
        hc_clear_errno();
        long k = recv(fd, buf, sizeof buf, 0);
        hc_log(rc, "  recv on it (EAGAIN)", k, hc_errno(), NULL, 0);
        hc_log(rc, "  ... at once (< 100 ms)", h_now_ns() - t0 < 100 * MS, 0, NULL, 0);
        close(fd);
    }
    close(pt.fd2);

    /* blocking connect from this side, the partner accepts and talks */
    partner_start(&pt, act_accept, l);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(c >= 0, "socket");
    hc_clear_errno();
    r = connect(c, (struct sockaddr *)&la, sizeof la);
    hc_log(rc, "connect to a listener", r, hc_errno(), NULL, 0);
    ANNOUNCE(&pt);
    hc_clear_errno();
    r = send(c, "hi", 2, 0);
    hc_log(rc, "send", r, hc_errno(), NULL, 0);
    hc_clear_errno();
    r = recv(c, buf, sizeof buf, 0);
    log_read(rc, "recv the reply (blocks)", r, hc_errno(), buf);
    partner_join(&pt);
    hc_log(rc, "  partner accept returned an fd", pt.r >= 0, pt.err, NULL, 0);
    hc_log(rc, "  partner recv", pt.r2, 0, NULL, 0);
    close(pt.fd2);
    close(c);

    /* a closed port */
    struct sockaddr_in dead;
    int d = bound(SOCK_STREAM, &dead);
    close(d);
    c = socket(AF_INET, SOCK_STREAM, 0);
    hc_clear_errno();
    r = connect(c, (struct sockaddr *)&dead, sizeof dead);
    hc_log(rc, "connect to a closed port", r, hc_errno(), NULL, 0);
    close(c);

    /* non-blocking connect */
    c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    hc_clear_errno();
    r = connect(c, (struct sockaddr *)&la, sizeof la);
    hc_log(rc, "non-blocking connect: 0 or EINPROGRESS", r == 0 || hc_errno() == EINPROGRESS, 0,
           NULL, 0);
    struct pollfd pf = {c, POLLOUT, 0};
    hc_log(rc, "  poll POLLOUT", poll(&pf, 1, 5000), hc_errno(), NULL, 0);
    int soerr = -1;
    socklen_t sl = sizeof soerr;
    getsockopt(c, SOL_SOCKET, SO_ERROR, &soerr, &sl);
    hc_log(rc, "  SO_ERROR", soerr, 0, NULL, 0);
    int a = accept(l, NULL, NULL);
    if (a >= 0) close(a);
    close(c);
    close(l);
}

/* F_GETFL logged as is: same file type in both runs, so the same flags. */
#define LOG_GETFL(rc, label, fd) hc_log((rc), (label), fcntl((fd), F_GETFL), hc_errno(), NULL, 0)

/* A call that must fail with EAGAIN at once: log r, hc_errno(), "fast". */
#define LOG_FAST(rc, label, expr)                                                          \
    do {                                                                                   \
        int64_t t0_ = h_now_ns();                                                          \
        hc_clear_errno();                                                                         \
        long r_ = (long)(expr);                                                            \
        int e_ = hc_errno();                                                                    \
        hc_log((rc), (label), r_, e_, NULL, 0);                                            \
        hc_log((rc), "  ... at once (< 100 ms)", h_now_ns() - t0_ < 100 * MS, 0, NULL, 0); \
    } while (0)

static void sc_nonblock(rec_t *rc)
{
    int p[2];
    char buf[64];
    partner_t pt;
    long r;

    /* fcntl(F_SETFL) on a pipe the runtime has already seen blocking */
    CHECK(pipe(p) == 0, "pipe");
    partner_start(&pt, act_write_hello, p[1]);
    ANNOUNCE(&pt);
    hc_clear_errno();
    r = read(p[0], buf, sizeof buf);
    log_read(rc, "read (blocks)", r, hc_errno(), buf);
    partner_join(&pt);
    LOG_GETFL(rc, "F_GETFL after a blocking read", p[0]);
    LOG_GETFL(rc, "F_GETFL of the write end", p[1]);
    int fl = fcntl(p[0], F_GETFL);
    HC_LOG(rc, "F_SETFL O_NONBLOCK", fcntl(p[0], F_SETFL, fl | O_NONBLOCK));
    LOG_FAST(rc, "read on user-non-blocking pipe", read(p[0], buf, sizeof buf));
    LOG_GETFL(rc, "F_GETFL", p[0]);
    int d = dup(p[0]);
    LOG_FAST(rc, "read on a dup of it", read(d, buf, sizeof buf));
    LOG_GETFL(rc, "F_GETFL of the dup", d);
    close(d);
    HC_LOG(rc, "F_SETFL clear O_NONBLOCK", fcntl(p[0], F_SETFL, fl & ~O_NONBLOCK));
    LOG_GETFL(rc, "F_GETFL", p[0]);
    partner_start(&pt, act_write_hello, p[1]);
    ANNOUNCE(&pt);
    hc_clear_errno();
    r = read(p[0], buf, sizeof buf);
    log_read(rc, "read blocks again", r, hc_errno(), buf);
    partner_join(&pt);
    close(p[0]);
    close(p[1]);

    /* ioctl(FIONBIO) */
    int s[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, s) == 0, "socketpair");
    int on = 1;
    HC_LOG(rc, "ioctl FIONBIO 1", ioctl(s[0], FIONBIO, &on));
    LOG_FAST(rc, "recv after FIONBIO", recv(s[0], buf, sizeof buf, 0));
    LOG_GETFL(rc, "F_GETFL after FIONBIO", s[0]);
    on = 0;
    HC_LOG(rc, "ioctl FIONBIO 0", ioctl(s[0], FIONBIO, &on));
    LOG_GETFL(rc, "F_GETFL after FIONBIO 0", s[0]);
    partner_start(&pt, act_send_ping, s[1]);
    ANNOUNCE(&pt);
    hc_clear_errno();
    r = recv(s[0], buf, sizeof buf, 0);
    log_read(rc, "recv blocks again", r, hc_errno(), buf);
    partner_join(&pt);
    close(s[0]);
    close(s[1]);

    /* SOCK_NONBLOCK */
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, s) == 0, "socketpair");
    LOG_FAST(rc, "recv on socketpair(SOCK_NONBLOCK)", recv(s[0], buf, sizeof buf, 0));
    LOG_FAST(rc, "read on socketpair(SOCK_NONBLOCK)", read(s[0], buf, sizeof buf));
    LOG_GETFL(rc, "F_GETFL", s[0]);
    close(s[0]);
    close(s[1]);
    struct sockaddr_in la;
    int l = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    loopback(&la);
    CHECK(bind(l, (struct sockaddr *)&la, sizeof la) == 0 && listen(l, 4) == 0, "listen");
    LOG_FAST(rc, "accept on a SOCK_NONBLOCK listener", accept(l, NULL, NULL));
    LOG_FAST(rc, "accept4 on it", accept4(l, NULL, NULL, SOCK_CLOEXEC));
    LOG_GETFL(rc, "F_GETFL of the listener", l);
    close(l);

    /* pipe2(O_NONBLOCK) */
    CHECK(pipe2(p, O_NONBLOCK) == 0, "pipe2");
    LOG_FAST(rc, "read on pipe2(O_NONBLOCK)", read(p[0], buf, sizeof buf));
    LOG_GETFL(rc, "F_GETFL read end", p[0]);
    LOG_GETFL(rc, "F_GETFL write end", p[1]);
    static char junk[4096];
    long w;
    while ((w = write(p[1], junk, sizeof junk)) > 0) {
    }
    hc_log(rc, "write into a full non-blocking pipe", w, hc_errno(), NULL, 0);
    LOG_FAST(rc, "  once more", write(p[1], junk, 1));
    close(p[0]);
    close(p[1]);
}

#define TIMEOUT_MS 100

static void set_timeo(int fd, int opt, int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    CHECK(setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof tv) == 0, "setsockopt");
}

/* A call that must time out after TIMEOUT_MS: log r, hc_errno(), not early, not absurdly late. */
#define LOG_TIMEOUT(rc, label, expr)                                                       \
    do {                                                                                   \
        int64_t t0_ = h_now_ns();                                                          \
        hc_clear_errno();                                                                         \
        long r_ = (long)(expr);                                                            \
        int e_ = hc_errno();                                                                    \
        int64_t dt_ = h_now_ns() - t0_;                                                    \
        hc_log((rc), (label), r_, e_, NULL, 0);                                            \
        hc_log((rc), "  ... not before the timeout", dt_ >= TIMEOUT_MS * MS, 0, NULL, 0);  \
        hc_log((rc), "  ... nor 1 s after it", dt_ < (TIMEOUT_MS + 1000) * MS, 0, NULL, 0); \
        if (dt_ < TIMEOUT_MS * MS || dt_ >= (TIMEOUT_MS + 1000) * MS)                      \
            fprintf(stderr, "  (%s: %s after %.3f ms)\n", gmp_self() ? "goroutine" : "thread", \
                    label, dt_ / 1e6);                                                     \
    } while (0)

static void sc_timeouts(rec_t *rc)
{
    int s[2];
    char buf[64];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, s) == 0, "socketpair");
    set_timeo(s[0], SO_RCVTIMEO, TIMEOUT_MS);
    LOG_TIMEOUT(rc, "recv with SO_RCVTIMEO", recv(s[0], buf, sizeof buf, 0));
    LOG_TIMEOUT(rc, "read with SO_RCVTIMEO", read(s[0], buf, sizeof buf));
    struct iovec iv = {buf, sizeof buf};
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_iov = &iv;
    m.msg_iovlen = 1;
    LOG_TIMEOUT(rc, "recvmsg with SO_RCVTIMEO", recvmsg(s[0], &m, 0));

    fill_socket(s[0]);
    set_timeo(s[0], SO_SNDTIMEO, TIMEOUT_MS);
    static char chunk[2000];
    LOG_TIMEOUT(rc, "send into a full socket with SO_SNDTIMEO", send(s[0], chunk, sizeof chunk, 0));
    LOG_TIMEOUT(rc, "write into it with SO_SNDTIMEO", write(s[0], chunk, sizeof chunk));
    close(s[0]);
    close(s[1]);

    struct sockaddr_in la;
    int l = bound(SOCK_STREAM, &la);
    CHECK(listen(l, 0) == 0, "listen");
    set_timeo(l, SO_RCVTIMEO, TIMEOUT_MS);
    LOG_TIMEOUT(rc, "accept with SO_RCVTIMEO", accept(l, NULL, NULL));

    /* connect with SO_SNDTIMEO to a listener whose accept queue is full (backlog 0 holds
     * one connection; then SYNs are dropped): libc says EINPROGRESS after the timeout. */
    int c1 = socket(AF_INET, SOCK_STREAM, 0), c2 = socket(AF_INET, SOCK_STREAM, 0);
    hc_clear_errno();
    long r1 = connect(c1, (struct sockaddr *)&la, sizeof la);
    hc_log(rc, "connect #1 (fills the queue)", r1, hc_errno(), NULL, 0);
    set_timeo(c2, SO_SNDTIMEO, TIMEOUT_MS);
    int64_t t0 = h_now_ns();
    hc_clear_errno();
    long r2 = connect(c2, (struct sockaddr *)&la, sizeof la);
    int e2 = hc_errno();
    int64_t dt = h_now_ns() - t0;
    hc_log(rc, "connect #2 with SO_SNDTIMEO", r2, e2, NULL, 0);
    if (r2 < 0 && e2 == EINPROGRESS)
        hc_log(rc, "  ... not before the timeout", dt >= TIMEOUT_MS * MS, 0, NULL, 0);
    close(c1);
    close(c2);
    close(l);
}

/* ------------------------------------------------------------------ close while blocked */

typedef struct cb {
    int fd;
    long r;
    int err;
    char buf[16];
    H_ATOMIC(int) in, out;
    wg_t wg;
} cb_t;

static void cb_reader(void *p)
{
    cb_t *c = (cb_t *)p;
    atomic_store(&c->in, 1);
    hc_clear_errno();
    c->r = read(c->fd, c->buf, sizeof c->buf);
    c->err = hc_errno();
    atomic_store(&c->out, 1);
    wg_done(&c->wg);
}

static void close_blocked(void)
{
    int p[2], q[2];
    static cb_t c;
    CHECK(pipe(p) == 0, "pipe");
    memset(&c, 0, sizeof c);
    c.fd = p[0];
    wg_init(&c.wg);
    wg_add(&c.wg, 1);
    h_spawn(cb_reader, &c);
    H_GOSCHED_UNTIL(atomic_load(&c.in), 10, "reader never started");
    hc_settle();
    CHECK(!atomic_load(&c.out), "read on an empty pipe returned %ld (errno %d)", c.r, c.err);
    int64_t t0 = h_now_ns();
    CHECK(close(p[0]) == 0, "close");
    CHECK(pipe(q) == 0, "pipe");
    int reused = q[0] == p[0];
    CHECK(write(q[1], "new", 3) == 3, "write into the new pipe");
    int64_t dl = h_now_ns() + 3000 * MS;
    while (!atomic_load(&c.out) && h_now_ns() < dl) gmp_gosched();
    double ms = hc_ms(t0);
    bool hung = !atomic_load(&c.out);
    if (hung) CHECK(write(p[1], "old", 3) == 3, "write into the old pipe to unstick the reader");
    wg_wait(&c.wg);
    printf("  close_blocked: the reader returned %ld errno %d (%s) %.2f ms after the close "
           "(new pipe %s the number)\n",
           c.r, c.err, strerror(c.err), ms, reused ? "reused" : "did not reuse");
    CHECK(!hung,
          "a goroutine blocked in read() on fd %d was still blocked 3 s after another goroutine "
          "closed the fd (want -1/EBADF at once); unstuck by writing into the old pipe, its "
          "read returned %ld",
          p[0], c.r);
    CHECK(c.r == -1 && c.err == EBADF,
          "read() blocked on fd %d that another goroutine closed returned %ld, errno %d (%s)%s "
          "(want -1/EBADF)",
          p[0], c.r, c.err, strerror(c.err),
          c.r > 0 ? ": data from the pipe that reused the number" : "");
    CHECK(ms < 1000, "the closed-on reader took %.1f ms to return", ms);
    close(p[1]);
    close(q[0]);
    close(q[1]);
}

/* ------------------------------------------------------------------ driver */

typedef void (*scen_fn)(rec_t *);
static const struct {
    const char *name;
    scen_fn fn;
} scens[] = {{"pipe", sc_pipe},         {"stream socketpair", sc_stream},
             {"dgram socketpair", sc_dgram}, {"udp", sc_udp},
             {"tcp", sc_tcp},           {"user O_NONBLOCK", sc_nonblock},
             {"SO_RCVTIMEO/SO_SNDTIMEO", sc_timeouts}};
#define NSCEN (sizeof scens / sizeof scens[0])

static rec_t th_rec, go_rec;
static scen_fn cur_fn;

static void *thread_run(void *arg)
{
    (void)arg;
    CHECK(gmp_self() == NULL, "a pthread is in goroutine context");
    cur_fn(&th_rec);
    return NULL;
}

static void main_fn(void *arg)
{
    (void)arg;
    for (size_t i = 0; i < NSCEN; i++) {
        memset(&th_rec, 0, sizeof th_rec);
        memset(&go_rec, 0, sizeof go_rec);
        cur_fn = scens[i].fn;
        pthread_t t;
        CHECK(pthread_create(&t, NULL, thread_run, NULL) == 0, "pthread_create");
        /* Wait as a goroutine in a syscall: a goroutine parked on a wait group that only a
         * thread which never called into the runtime can finish looks like a deadlock to
         * checkdead (api.md gmp_main). */
        gmp_entersyscall();
        int jr = pthread_join(t, NULL);
        gmp_exitsyscall();
        CHECK(jr == 0, "pthread_join");
        scens[i].fn(&go_rec);
        hc_compare(scens[i].name, &th_rec, &go_rec);
    }
    close_blocked();
}

int main(void)
{
    h_check_lib();
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    h_main(main_fn, NULL);
    printf("t_hooks_io: ok\n");
    return 0;
}
