/*
 * t_hooks_poll: poll, ppoll, select, pselect, epoll_wait and epoll_pwait from goroutines return
 * what libc returns (api.md "Interposed blocking libc calls": they "park until ready or timed
 * out" and return exactly what libc would have returned).
 *
 * As in t_hooks_io, each scenario runs in a plain pthread (libc's answer) and in a goroutine
 * (partners: pthreads / goroutines), logging every result, revents, fd_set bit and epoll
 * event tag; the logs must be identical (timing only as booleans).
 *  multi:   a socket (socketpair) and a wake-up pipe in one call, no timeout: readiness on
 *           either one wakes it, with revents / fd_set bits / epoll tags naming exactly that
 *           one; for each of poll, ppoll, select, pselect, epoll_wait, epoll_pwait. Also
 *           POLLOUT ready at once, POLLNVAL for a closed fd, a negative fd ignored, select on a
 *           closed fd (EBADF), epoll_wait with maxevents 0 (EINVAL) or on a non-epoll fd
 *           (EINVAL).
 *  timeout: each call with a 50 ms timeout and nothing ready: 0 after >= 50 ms (and < 1.05 s);
 *           select's timeval is updated as Linux does (to 0).
 *  zero:    timeout 0, nothing ready, 10,000 calls each of poll, select and epoll_wait: every
 *           one returns 0 (and 1 when something is ready), all within 5 s (a call that parks
 *           for a poller round trip each time would take far longer).
 *  loop:    an event loop (epoll_create1 + epoll_ctl ADD of 3 pipes + epoll_wait(-1)) inside
 *           the scenario context; a partner writes into pipe 0, 1, 2 in turn, each only after
 *           the loop acknowledged the previous one; the loop must see exactly that pipe's tag
 *           each time, then EPOLL_CTL_DEL works and a 20 ms epoll_wait times out.
 *
 * Catches: multiplexing hooks that wake on the wrong fd or lose one of several, report wrong
 * revents, park on timeout 0, time out early, or do not see epoll sets the program manages
 * itself.
 */
#define H_WATCHDOG_SECS 100
#include "hookcmp.h"

#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>

#define MS 1000000LL

/* ------------------------------------------------------------------ partner */

typedef struct partner {
    int fd;
    H_ATOMIC(int) ann;
    long r;
    wg_t wg;
} partner_t;

static void partner_main(void *p)
{
    partner_t *pt = (partner_t *)p;
    hc_wait_flag(&pt->ann, 10, "the blocking side to announce itself");
    hc_settle();
    pt->r = write(pt->fd, "w", 1);
    wg_done(&pt->wg);
}

/* Start a partner that writes one byte into fd once announced. */
static void write_later(partner_t *pt, int fd)
{
    memset(pt, 0, sizeof *pt);
    pt->fd = fd;
    wg_init(&pt->wg);
    wg_add(&pt->wg, 1);
    hc_go(partner_main, pt);
}
#define ANNOUNCE(pt) atomic_store(&(pt)->ann, 1)

static void drain(int fd)
{
    char buf[64];
    struct pollfd pf = {fd, POLLIN, 0};
    while (poll(&pf, 1, 0) == 1 && (pf.revents & POLLIN))
        if (read(fd, buf, sizeof buf) <= 0) break;
}

/* ------------------------------------------------------------------ multi */

enum { M_POLL, M_PPOLL, M_SELECT, M_PSELECT, M_EPOLL, M_EPOLL_P, M_N };
static const char *const mname[M_N] = {"poll", "ppoll", "select", "pselect", "epoll_wait",
                                       "epoll_pwait"};

/* One blocking multiplexed wait on {sock, pipe} with method m; logs result and readiness. */
static void wait_two(rec_t *rc, int m, int sock, int pr, int ep, const char *why)
{
    char label[48];
    snprintf(label, sizeof label, "%s: %s", mname[m], why);
    long r;
    int e;
    switch (m) {
    case M_POLL:
    case M_PPOLL: {
        struct pollfd pf[2] = {{sock, POLLIN, 0}, {pr, POLLIN, 0}};
        hc_clear_errno();
        r = m == M_POLL ? poll(pf, 2, -1) : ppoll(pf, 2, NULL, NULL);
        e = hc_errno();
        hc_log(rc, label, r, e, NULL, 0);
        hc_log(rc, "  revents sock", pf[0].revents, 0, NULL, 0);
        hc_log(rc, "  revents pipe", pf[1].revents, 0, NULL, 0);
        break;
    }
    case M_SELECT:
    case M_PSELECT: {
        fd_set rs;
        FD_ZERO(&rs);
        FD_SET(sock, &rs);
        FD_SET(pr, &rs);
        int nfds = (sock > pr ? sock : pr) + 1;
        hc_clear_errno();
        r = m == M_SELECT ? select(nfds, &rs, NULL, NULL, NULL)
                          : pselect(nfds, &rs, NULL, NULL, NULL, NULL);
        e = hc_errno();
        hc_log(rc, label, r, e, NULL, 0);
        hc_log(rc, "  sock in set", FD_ISSET(sock, &rs) != 0, 0, NULL, 0);
        hc_log(rc, "  pipe in set", FD_ISSET(pr, &rs) != 0, 0, NULL, 0);
        break;
    }
    default: {
        struct epoll_event ev[4];
        memset(ev, 0, sizeof ev);
        sigset_t none;
        sigemptyset(&none);
        hc_clear_errno();
        r = m == M_EPOLL ? epoll_wait(ep, ev, 4, -1) : epoll_pwait(ep, ev, 4, -1, &none);
        e = hc_errno();
        hc_log(rc, label, r, e, NULL, 0);
        for (long i = 0; i < r && i < 4; i++) {
            hc_log(rc, "  event tag", (long)ev[i].data.u64, 0, NULL, 0);
            hc_log(rc, "  event bits", (long)ev[i].events, 0, NULL, 0);
        }
        break;
    }
    }
}

static void sc_multi(rec_t *rc)
{
    int s[2], p[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, s) == 0, "socketpair");
    CHECK(pipe(p) == 0, "pipe");
    int ep = epoll_create1(EPOLL_CLOEXEC);
    CHECK(ep >= 0, "epoll_create1");
    struct epoll_event ev = {EPOLLIN, {.u64 = 111}};
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, s[0], &ev) == 0, "epoll_ctl");
    ev.data.u64 = 222;
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev) == 0, "epoll_ctl");
    partner_t pt;
    for (int m = 0; m < M_N; m++) {
        write_later(&pt, p[1]);
        ANNOUNCE(&pt);
        wait_two(rc, m, s[0], p[0], ep, "pipe written");
        wg_wait(&pt.wg);
        drain(p[0]);
        write_later(&pt, s[1]);
        ANNOUNCE(&pt);
        wait_two(rc, m, s[0], p[0], ep, "socket written");
        wg_wait(&pt.wg);
        drain(s[0]);
    }

    struct pollfd pf[3] = {{s[0], POLLIN | POLLOUT, 0}, {-5, POLLIN, 0}, {900, POLLIN, 0}};
    close(900);
    HC_LOG(rc, "poll: POLLOUT ready, fd -5, closed fd 900", poll(pf, 3, -1));
    hc_log(rc, "  revents sock", pf[0].revents, 0, NULL, 0);
    hc_log(rc, "  revents fd -5", pf[1].revents, 0, NULL, 0);
    hc_log(rc, "  revents fd 900 (POLLNVAL)", pf[2].revents, 0, NULL, 0);
    fd_set rs;
    FD_ZERO(&rs);
    FD_SET(900, &rs);
    struct timeval tv = {1, 0};
    HC_LOG(rc, "select on a closed fd", select(901, &rs, NULL, NULL, &tv));
    struct epoll_event evs[2];
    HC_LOG(rc, "epoll_wait maxevents 0", epoll_wait(ep, evs, 0, 10));
    HC_LOG(rc, "epoll_wait on a pipe", epoll_wait(p[0], evs, 2, 10));
    HC_LOG(rc, "epoll_wait on a closed fd", epoll_wait(900, evs, 2, 10));
    close(ep);
    close(s[0]);
    close(s[1]);
    close(p[0]);
    close(p[1]);
}

/* ------------------------------------------------------------------ timeouts */

#define TO_MS 50

static void log_timed(rec_t *rc, const char *label, long r, int e, int64_t dt)
{
    hc_log(rc, label, r, e, NULL, 0);
    hc_log(rc, "  ... not before the timeout", dt >= TO_MS * MS, 0, NULL, 0);
    hc_log(rc, "  ... nor 1 s after it", dt < (TO_MS + 1000) * MS, 0, NULL, 0);
    if (dt < TO_MS * MS || dt >= (TO_MS + 1000) * MS)
        fprintf(stderr, "  (%s: %s after %.3f ms)\n", gmp_self() ? "goroutine" : "thread", label,
                dt / 1e6);
}

#define TIMED(rc, label, expr)                                                             \
    do {                                                                                   \
        int64_t t0_ = h_now_ns();                                                          \
        hc_clear_errno();                                                                  \
        long r_ = (long)(expr);                                                            \
        int e_ = hc_errno();                                                               \
        log_timed((rc), (label), r_, e_, h_now_ns() - t0_);                                \
    } while (0)

static void sc_timeout(rec_t *rc)
{
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    int ep = epoll_create1(0);
    struct epoll_event ev = {EPOLLIN, {.u64 = 1}};
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev) == 0, "epoll_ctl");
    struct pollfd pf = {p[0], POLLIN, 0};
    struct timespec ts = {0, TO_MS * 1000000L};
    struct timeval tv = {0, TO_MS * 1000};
    fd_set rs;
    sigset_t none;
    sigemptyset(&none);
    struct epoll_event out[2];

    TIMED(rc, "poll 50 ms", poll(&pf, 1, TO_MS));
    hc_log(rc, "  revents", pf.revents, 0, NULL, 0);
    TIMED(rc, "ppoll 50 ms", ppoll(&pf, 1, &ts, NULL));
    FD_ZERO(&rs);
    FD_SET(p[0], &rs);
    TIMED(rc, "select 50 ms", select(p[0] + 1, &rs, NULL, NULL, &tv));
    hc_log(rc, "  timeval left (s)", tv.tv_sec, 0, NULL, 0);
    hc_log(rc, "  timeval left (us)", tv.tv_usec, 0, NULL, 0);
    hc_log(rc, "  fd still in set", FD_ISSET(p[0], &rs) != 0, 0, NULL, 0);
    FD_ZERO(&rs);
    FD_SET(p[0], &rs);
    TIMED(rc, "pselect 50 ms", pselect(p[0] + 1, &rs, NULL, NULL, &ts, &none));
    TIMED(rc, "select, no fds, 50 ms",
          select(0, NULL, NULL, NULL, &(struct timeval){0, TO_MS * 1000}));
    TIMED(rc, "poll, no fds, 50 ms", poll(NULL, 0, TO_MS));
    TIMED(rc, "epoll_wait 50 ms", epoll_wait(ep, out, 2, TO_MS));
    TIMED(rc, "epoll_pwait 50 ms", epoll_pwait(ep, out, 2, TO_MS, &none));
    close(ep);
    close(p[0]);
    close(p[1]);
}

/* ------------------------------------------------------------------ timeout 0 */

#define NZCALLS 10000

static void sc_zero(rec_t *rc)
{
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    int ep = epoll_create1(0);
    struct epoll_event ev = {EPOLLIN, {.u64 = 7}}, out[2];
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev) == 0, "epoll_ctl");
    struct pollfd pf = {p[0], POLLIN, 0};
    for (int ready = 0; ready < 2; ready++) {
        if (ready) CHECK(write(p[1], "r", 1) == 1, "write");
        long zp = 0, zs = 0, ze = 0, bad = 0;
        int64_t t0 = h_now_ns();
        for (int i = 0; i < NZCALLS; i++) {
            int r = poll(&pf, 1, 0);
            if (r == ready) zp++;
            else bad++;
            fd_set rs;
            FD_ZERO(&rs);
            FD_SET(p[0], &rs);
            struct timeval tv = {0, 0};
            r = select(p[0] + 1, &rs, NULL, NULL, &tv);
            if (r == ready) zs++;
            else bad++;
            r = epoll_wait(ep, out, 2, 0);
            if (r == ready) ze++;
            else bad++;
        }
        int64_t dt = h_now_ns() - t0;
        printf("    %s: 3 x %d calls with timeout 0 (%s) took %.1f ms\n",
               gmp_self() ? "goroutine" : "thread", NZCALLS, ready ? "ready" : "not ready",
               dt / 1e6);
        hc_log(rc, ready ? "poll(0), ready: calls returning 1" : "poll(0): calls returning 0",
               zp, 0, NULL, 0);
        hc_log(rc, "select(0): same", zs, 0, NULL, 0);
        hc_log(rc, "epoll_wait(0): same", ze, 0, NULL, 0);
        hc_log(rc, "  within 5 s", dt < 5000 * MS, 0, NULL, 0);
        (void)bad;
    }
    close(ep);
    close(p[0]);
    close(p[1]);
}

/* ------------------------------------------------------------------ event loop */

typedef struct loopctl {
    int w[3];
    H_ATOMIC(int) acked; /* events the loop has handled */
    H_ATOMIC(int) ready; /* the loop is set up */
    wg_t wg;
    long wr[3];
} loopctl;

static void loop_feeder(void *p)
{
    loopctl *c = (loopctl *)p;
    hc_wait_flag(&c->ready, 10, "the event loop to start");
    for (int i = 0; i < 3; i++) {
        int64_t dl = h_now_ns() + 10000 * MS;
        while (atomic_load(&c->acked) < i) {
            CHECK(h_now_ns() < dl, "the event loop never handled event %d", i - 1);
            hc_yield();
        }
        hc_settle();
        c->wr[i] = write(c->w[i], "e", 1);
    }
    wg_done(&c->wg);
}

static void sc_loop(rec_t *rc)
{
    static loopctl c;
    int r[3];
    memset(&c, 0, sizeof c);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    HC_LOG(rc, "epoll_create1 ok", ep >= 0);
    for (int i = 0; i < 3; i++) {
        int p[2];
        CHECK(pipe(p) == 0, "pipe");
        r[i] = p[0];
        c.w[i] = p[1];
        struct epoll_event ev = {EPOLLIN, {.u64 = (uint64_t)(100 + i)}};
        HC_LOG(rc, "epoll_ctl ADD", epoll_ctl(ep, EPOLL_CTL_ADD, r[i], &ev));
    }
    wg_init(&c.wg);
    wg_add(&c.wg, 1);
    hc_go(loop_feeder, &c);
    atomic_store(&c.ready, 1);
    for (int i = 0; i < 3; i++) {
        struct epoll_event out[4];
        memset(out, 0, sizeof out);
        hc_clear_errno();
        long n = epoll_wait(ep, out, 4, -1);
        hc_log(rc, "loop: epoll_wait(-1)", n, hc_errno(), NULL, 0);
        for (long k = 0; k < n && k < 4; k++) {
            hc_log(rc, "  tag", (long)out[k].data.u64, 0, NULL, 0);
            drain(r[out[k].data.u64 - 100]);
        }
        atomic_store(&c.acked, i + 1);
    }
    wg_wait(&c.wg);
    for (int i = 0; i < 3; i++) hc_log(rc, "  feeder write", c.wr[i], 0, NULL, 0);
    HC_LOG(rc, "epoll_ctl DEL", epoll_ctl(ep, EPOLL_CTL_DEL, r[0], NULL));
    CHECK(write(c.w[0], "x", 1) == 1, "write");
    struct epoll_event out[4];
    TIMED(rc, "epoll_wait after DEL (50 ms)", epoll_wait(ep, out, 4, TO_MS));
    for (int i = 0; i < 3; i++) {
        close(r[i]);
        close(c.w[i]);
    }
    close(ep);
}

/* ------------------------------------------------------------------ driver */

typedef void (*scen_fn)(rec_t *);
static const struct {
    const char *name;
    scen_fn fn;
} scens[] = {{"multi", sc_multi}, {"timeout", sc_timeout}, {"zero", sc_zero}, {"loop", sc_loop}};
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
}

int main(void)
{
    h_check_lib();
    setvbuf(stdout, NULL, _IOLBF, 0);
    h_main(main_fn, NULL);
    printf("t_hooks_poll: ok\n");
    return 0;
}
