/*
 * echo: TCP echo round trips with 1,000 connections on 2 Ps, server and clients in one process,
 * all written with plain blocking calls (accept, connect, read, write): libgmp's interposers
 * park a goroutine whose call would block (api.md, "Interposed blocking libc calls").
 *
 * Setup (not timed): a listener on 127.0.0.1:0; an acceptor goroutine accepts ECHO_CONNS
 * connections and spawns one server goroutine each (read up to 16 KiB, write it all back,
 * until EOF); ECHO_CONNS client goroutines connect (TCP_NODELAY on both ends). Then, per
 * repetition, the clients are released together (a gate) and each does ECHO_ROUNDS round
 * trips of ECHO_SIZE bytes (write them, read until that many came back, compare every byte).
 * Reported: wall time / (conns x rounds) = ns per round trip (aggregate over all connections),
 * the same as round trips per second, and the peak thread count (gmp_stats.threads, sampled
 * every 1 ms by a plain thread).
 *
 * Twin: go/echo.go (net package: one goroutine per connection, the same sizes and checks).
 *
 * Output, one line per repetition (after one warm-up repetition):
 *   echo procs=2 conns=1000 size=64 rounds=100 ns_per_rt=<ns> rt_per_s=<n> threads=<n>
 * Usage: echo [procs [reps]]
 */
#define _GNU_SOURCE
#include "common.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef ECHO_CONNS
#define ECHO_CONNS 1000
#endif
#ifndef ECHO_ROUNDS
#define ECHO_ROUNDS 100
#endif
#define ECHO_SIZE 64

static bench_opts opts;
static int listen_fd, port;
static bench_wg wg;
static _Atomic uint32_t peak_threads;
static _Atomic int mon_stop;
static _Atomic int64_t bad;

/* A gate for many waiters, one per repetition (warm-up included): head is GATE_OPEN once
 * opened, else a stack of parked waiters (nodes on their stacks), pushed by each waiter's
 * unlockf after it is switched out; the opener takes the stack and readies every waiter,
 * reading a node's next before readying its goroutine (the node dies when it resumes). */
typedef struct gate_node {
    gmp_g *g;
    struct gate_node *next;
} gate_node;
#define GATE_OPEN ((gate_node *)1)
typedef struct {
    _Atomic(gate_node *) head;
} gate;
static gate *gates;

struct gate_arg {
    gate *gt;
    gate_node *n;
};

static bool gate_unlockf(gmp_g *g, void *arg)
{
    struct gate_arg *a = arg;
    a->n->g = g;
    gate_node *h = atomic_load(&a->gt->head);
    for (;;) {
        if (h == GATE_OPEN)
            return false;
        a->n->next = h;
        if (atomic_compare_exchange_weak(&a->gt->head, &h, a->n))
            return true;
    }
}

static void gate_wait(gate *gt)
{
    gate_node n;
    struct gate_arg a = {gt, &n};
    if (atomic_load(&gt->head) == GATE_OPEN)
        return;
    bench_park(gate_unlockf, &a);
    if (atomic_load(&gt->head) != GATE_OPEN)
        bench_die("echo: woken before the gate opened (runtime bug)");
}

static void gate_open(gate *gt)
{
    gate_node *n = atomic_exchange(&gt->head, GATE_OPEN);
    while (n != NULL && n != GATE_OPEN) {
        gate_node *next = n->next;
        bench_ready(n->g);
        n = next;
    }
}

static void server(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[16384];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0) {
            if (n < 0)
                bench_die("echo: server read: %s", strerror(errno));
            break;
        }
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(fd, buf + off, (size_t)(n - off));
            if (w <= 0)
                bench_die("echo: server write: %s", strerror(errno));
            off += w;
        }
    }
    close(fd);
}

static void acceptor(void *arg)
{
    (void)arg;
    int one = 1;
    for (int i = 0; i < ECHO_CONNS; i++) {
        int fd = accept(listen_fd, NULL, NULL);
        if (fd < 0)
            bench_die("echo: accept: %s", strerror(errno));
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        bench_spawn(server, (void *)(intptr_t)fd);
    }
}

static void client(void *arg)
{
    int id = (int)(intptr_t)arg;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
        bench_die("echo: connect: %s", strerror(errno));
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    bench_wg_done(&wg); /* connected */
    unsigned char out[ECHO_SIZE], in[ECHO_SIZE];
    for (int rep = 0; rep <= opts.reps; rep++) {
        gate_wait(&gates[rep]);
        for (int r = 0; r < ECHO_ROUNDS; r++) {
            for (int i = 0; i < ECHO_SIZE; i++)
                out[i] = (unsigned char)(id + r * 7 + i);
            for (int off = 0; off < ECHO_SIZE;) {
                ssize_t w = write(fd, out + off, ECHO_SIZE - (size_t)off);
                if (w <= 0)
                    bench_die("echo: client write: %s", strerror(errno));
                off += (int)w;
            }
            for (int got = 0; got < ECHO_SIZE;) {
                ssize_t n = read(fd, in + got, ECHO_SIZE - (size_t)got);
                if (n <= 0)
                    bench_die("echo: client read: %s", n < 0 ? strerror(errno) : "EOF");
                got += (int)n;
            }
            if (memcmp(in, out, ECHO_SIZE) != 0)
                atomic_fetch_add(&bad, 1);
        }
        bench_wg_done(&wg);
    }
    close(fd);
}

static void *monitor(void *arg)
{
    (void)arg;
    while (!atomic_load(&mon_stop)) {
        gmp_stats st;
        if (gmp_stats_read(&st) == 0 && st.threads > atomic_load(&peak_threads))
            atomic_store(&peak_threads, st.threads);
        struct timespec ts = {0, 1000000};
        clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
    }
    return NULL;
}

static void bench_main(void *arg)
{
    (void)arg;
    gates = calloc((size_t)opts.reps + 1, sizeof *gates);
    bench_wg_init(&wg);
    bench_wg_add(&wg, ECHO_CONNS);
    bench_spawn(acceptor, NULL);
    for (int i = 0; i < ECHO_CONNS; i++)
        bench_spawn(client, (void *)(intptr_t)i);
    bench_wg_wait(&wg); /* all connected */
    for (int rep = 0; rep <= opts.reps; rep++) {
        bench_wg_init(&wg);
        bench_wg_add(&wg, ECHO_CONNS);
        atomic_store(&peak_threads, 0);
        int64_t t0 = bench_now_ns();
        gate_open(&gates[rep]);
        bench_wg_wait(&wg);
        int64_t dt = bench_now_ns() - t0;
        if (atomic_load(&bad) != 0)
            bench_die("echo: %" PRId64 " round trips came back with wrong bytes", atomic_load(&bad));
        double n = (double)ECHO_CONNS * ECHO_ROUNDS;
        if (rep > 0)
            printf("echo procs=%d conns=%d size=%d rounds=%d ns_per_rt=%.1f rt_per_s=%.0f threads=%u\n",
                   opts.procs, ECHO_CONNS, ECHO_SIZE, ECHO_ROUNDS, dt / n, n / (dt / 1e9),
                   atomic_load(&peak_threads));
        fflush(stdout);
    }
}

int main(int argc, char **argv)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < 2 * ECHO_CONNS + 64)
            bench_die("echo: RLIMIT_NOFILE %llu < %d fds needed", (unsigned long long)rl.rlim_cur,
                      2 * ECHO_CONNS + 64);
    }
    opts = bench_args(argc, argv);
    listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sa;
    if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        listen(listen_fd, 4096) != 0 || getsockname(listen_fd, (struct sockaddr *)&sa, &len) != 0)
        bench_die("echo: listen: %s", strerror(errno));
    port = ntohs(sa.sin_port);
    pthread_t mon;
    if (pthread_create(&mon, NULL, monitor, NULL) != 0)
        bench_die("pthread_create");
    bench_run_main(bench_main, NULL);
    atomic_store(&mon_stop, 1);
    pthread_join(mon, NULL);
    return 0;
}
