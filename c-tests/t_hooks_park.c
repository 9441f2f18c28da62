/*
 * t_hooks_park: a blocking libc call in a goroutine parks the goroutine, not its thread
 * (api.md "Interposed blocking libc calls": on a socket or pipe a call that would block parks
 * the goroutine on the netpoller; sleep/usleep/nanosleep park on a timer; poll parks until
 * ready or timed out).
 *
 * At 1 P and at 2 Ps (gmp_set_procs), for each kind of call in turn, NG = 200 goroutines each
 * block in it on an object of their own, unbracketed (plain libc calls, no gmp_entersyscall):
 *   read() on an empty pipe, accept() on a listening TCP socket (127.0.0.1), recv() on a
 *   socketpair, poll() on an empty pipe (no timeout), nanosleep(500 ms), usleep(500 ms),
 *   sleep(1).
 * Meanwhile a spinner goroutine (gmp_gosched loop) keeps counting. Asserts, once all NG have
 * announced that they are entering the call:
 *   - the spinner still advances (the blocked goroutines hold no P);
 *   - gmp_stats.threads <= max(procs, threads at the start) + 8, and /proc/self/task likewise
 *     + 10 (a thread per blocked goroutine would be ~200);
 *   - for the fd kinds: no thread of the process is inside that syscall on any of those fds
 *     (/proc/self/task/ * /syscall), sampled for 10 of them: the goroutine is parked, not a
 *     thread blocked in the kernel;
 * then unblocks them all (write a byte, connect a client, send, write; sleeps just end) and
 * asserts every one completed with the right result (read/recv: the byte; accept: a new fd;
 * poll: 1 with POLLIN; sleeps: 0 after >= the requested time).
 *
 * This is the test that fails without the netpoller and the hooks: the runtime then hands each
 * blocked thread's P to a new M (sysmon retake), so the thread count climbs to ~200 + procs
 * and every blocked goroutine's thread sits in read/accept/recvfrom/poll.
 */
#define H_WATCHDOG_SECS 100
#include "hookcmp.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#define NG 200
#define SLEEP_MS 500

enum kind { K_READ, K_ACCEPT, K_RECV, K_POLL, K_NANOSLEEP, K_USLEEP, K_SLEEP, K_N };
static const char *const kname[K_N] = {"read", "accept", "recv", "poll", "nanosleep",
                                       "usleep", "sleep"};

typedef struct slot {
    int fd[2]; /* pipe / socketpair; for accept: fd[0] = listener */
    struct sockaddr_in addr;
    long result;
    int err;
    char got;
    int64_t elapsed;
    struct pollfd pf;
} slot_t;

static slot_t slots[NG];
static enum kind cur;
static H_ATOMIC(int) announced;
static H_ATOMIC(int) spin_stop;
static H_ATOMIC(long) spins;
static wg_t wg, spin_wg;
static int nbad;

static void blocked(void *arg)
{
    slot_t *s = (slot_t *)arg;
    atomic_fetch_add(&announced, 1);
    int64_t t0 = h_now_ns();
    hc_clear_errno();
    switch (cur) {
    case K_READ: s->result = read(s->fd[0], &s->got, 1); break;
    case K_ACCEPT: s->result = accept(s->fd[0], NULL, NULL); break;
    case K_RECV: s->result = recv(s->fd[0], &s->got, 1, 0); break;
    case K_POLL: {
        s->pf.fd = s->fd[0];
        s->pf.events = POLLIN;
        s->result = poll(&s->pf, 1, -1);
        if (s->result == 1 && s->pf.revents != POLLIN) s->result = 1000 + s->pf.revents;
        break;
    }
    case K_NANOSLEEP: {
        struct timespec ts = {0, SLEEP_MS * 1000000L};
        s->result = nanosleep(&ts, NULL);
        break;
    }
    case K_USLEEP: s->result = usleep(SLEEP_MS * 1000); break;
    case K_SLEEP: s->result = (long)sleep(1); break;
    default: break;
    }
    s->err = hc_errno();
    s->elapsed = h_now_ns() - t0;
    wg_done(&wg);
}

static void spinner(void *arg)
{
    (void)arg;
    while (!atomic_load(&spin_stop)) {
        atomic_fetch_add(&spins, 1);
        gmp_gosched();
    }
    wg_done(&spin_wg);
}

static long syscall_of(enum kind k)
{
    switch (k) {
    case K_READ: return SYS_read;
    case K_ACCEPT: return SYS_accept; /* glibc's accept() may be accept4 */
    case K_RECV: return SYS_recvfrom;
    case K_POLL: return SYS_poll; /* or ppoll */
    default: return -1;
    }
}

static void setup(enum kind k)
{
    for (int i = 0; i < NG; i++) {
        slot_t *s = &slots[i];
        memset(s, 0, sizeof *s);
        s->fd[0] = s->fd[1] = -1;
        switch (k) {
        case K_READ:
        case K_POLL: CHECK(pipe(s->fd) == 0, "pipe: %s", strerror(errno)); break;
        case K_RECV:
            CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, s->fd) == 0, "socketpair: %s",
                  strerror(errno));
            break;
        case K_ACCEPT: {
            int l = socket(AF_INET, SOCK_STREAM, 0);
            CHECK(l >= 0, "socket: %s", strerror(errno));
            s->addr.sin_family = AF_INET;
            s->addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            CHECK(bind(l, (struct sockaddr *)&s->addr, sizeof s->addr) == 0, "bind");
            socklen_t len = sizeof s->addr;
            CHECK(getsockname(l, (struct sockaddr *)&s->addr, &len) == 0, "getsockname");
            CHECK(listen(l, 4) == 0, "listen");
            s->fd[0] = l;
            break;
        }
        default: break;
        }
    }
}

static void unblock(enum kind k)
{
    for (int i = 0; i < NG; i++) {
        slot_t *s = &slots[i];
        switch (k) {
        case K_READ:
        case K_POLL:
        case K_RECV: CHECK(write(s->fd[1], "k", 1) == 1, "write: %s", strerror(errno)); break;
        case K_ACCEPT: {
            int c = socket(AF_INET, SOCK_STREAM, 0);
            CHECK(c >= 0, "socket");
            CHECK(connect(c, (struct sockaddr *)&s->addr, sizeof s->addr) == 0, "connect: %s",
                  strerror(errno));
            s->fd[1] = c;
            break;
        }
        default: break;
        }
    }
}

static void verify(enum kind k, int procs)
{
    for (int i = 0; i < NG; i++) {
        slot_t *s = &slots[i];
        bool ok;
        switch (k) {
        case K_READ:
        case K_RECV: ok = s->result == 1 && s->got == 'k'; break;
        case K_ACCEPT: ok = s->result >= 0; break;
        case K_POLL: ok = s->result == 1; break;
        case K_SLEEP: ok = s->result == 0 && s->elapsed >= 1000000000LL; break;
        default: ok = s->result == 0 && s->elapsed >= SLEEP_MS * 1000000LL; break;
        }
        if (!ok) {
            if (nbad++ < 10)
                fprintf(stderr,
                        "procs=%d %s #%d: result %ld errno %d (%s), byte '%c', %.1f ms: wrong\n",
                        procs, kname[k], i, s->result, s->err, strerror(s->err),
                        s->got ? s->got : '-', s->elapsed / 1e6);
        }
        if (k == K_ACCEPT && s->result >= 0) close((int)s->result);
        if (s->fd[0] >= 0) close(s->fd[0]);
        if (s->fd[1] >= 0) close(s->fd[1]);
    }
}

static int thread_limit;

static void run_kind(enum kind k, int procs)
{
    cur = k;
    setup(k);
    atomic_store(&announced, 0);
    wg_init(&wg);
    wg_add(&wg, NG);
    int64_t t0 = h_now_ns();
    for (int i = 0; i < NG; i++) h_spawn(blocked, &slots[i]);
    H_GOSCHED_UNTIL(atomic_load(&announced) == NG, 60,
                    "procs=%d %s: only %d of %d goroutines got to their call in 60 s", procs,
                    kname[k], atomic_load(&announced), NG);
    double t_ann = hc_ms(t0);
    /* The spinner must advance while they are all blocked. */
    long s0 = atomic_load(&spins);
    H_GOSCHED_UNTIL(atomic_load(&spins) > s0 + 100, 10,
                    "procs=%d %s: the spinner goroutine made no progress while %d goroutines "
                    "were blocked",
                    procs, kname[k], NG);
    gmp_stats st = h_stats();
    int tasks = hc_task_count();
    int in_kernel = 0;
    long nr = syscall_of(k);
    if (nr >= 0) {
        /* A thread-blocking runtime needs a moment to get the last ones into the kernel; a
         * parking one has no thread there at all. Sample 10 fds. */
        for (int i = 0; i < NG; i += NG / 10) {
            bool in;
            if (k == K_POLL) /* poll's first argument is the pollfd array */
                in = hc_thread_in_syscall(SYS_poll, (long)&slots[i].pf) ||
                     hc_thread_in_syscall(SYS_ppoll, (long)&slots[i].pf);
            else
                in = hc_thread_in_syscall(nr, slots[i].fd[0]);
            if (!in && k == K_ACCEPT) in = hc_thread_in_syscall(SYS_accept4, slots[i].fd[0]);
            in_kernel += in;
        }
    }
    printf("  procs=%d %-9s: %d blocked (all in after %.1f ms): gmp threads %u, tasks %d, "
           "sampled fds with a thread in the syscall: %d/10\n",
           procs, kname[k], NG, t_ann, st.threads, tasks, nr >= 0 ? in_kernel : 0);
    CHECK((int)st.threads <= thread_limit,
          "procs=%d: with %d goroutines blocked in %s(), gmp_stats.threads = %u (limit %d): "
          "the calls block threads instead of parking goroutines",
          procs, NG, kname[k], st.threads, thread_limit);
    CHECK(tasks <= thread_limit + 2,
          "procs=%d: with %d goroutines blocked in %s(), the process has %d threads (limit %d)",
          procs, NG, kname[k], tasks, thread_limit + 2);
    CHECK(in_kernel == 0,
          "procs=%d: %d of 10 sampled goroutines blocked in %s() have a thread inside the "
          "syscall on their fd: blocked in the kernel, not parked on the netpoller",
          procs, in_kernel, kname[k]);
    unblock(k);
    wg_wait(&wg);
    verify(k, procs);
}

static void main_fn(void *arg)
{
    (void)arg;
    int orig = gmp_set_procs(1);
    for (int procs = 1; procs <= 2; procs++) {
        gmp_set_procs(procs);
        gmp_stats st = h_stats();
        thread_limit = (int)(st.threads > (uint32_t)procs ? st.threads : (uint32_t)procs) + 8;
        printf("procs=%d (threads at start %u, limit %d)\n", procs, st.threads, thread_limit);
        atomic_store(&spin_stop, 0);
        wg_init(&spin_wg);
        wg_add(&spin_wg, 1);
        h_spawn(spinner, NULL);
        for (int k = 0; k < K_N; k++) run_kind((enum kind)k, procs);
        atomic_store(&spin_stop, 1);
        wg_wait(&spin_wg);
    }
    gmp_set_procs(orig);
    CHECK(nbad == 0, "%d blocked calls ended with a wrong result (listed above)", nbad);
}

int main(void)
{
    h_check_lib();
    hc_raise_nofile();
    setvbuf(stdout, NULL, _IOLBF, 0);
    h_main(main_fn, NULL);
    printf("t_hooks_park: ok\n");
    return 0;
}
