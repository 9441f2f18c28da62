/*
 * t_echo: a TCP echo server and its clients in one process, 1,000 connections open at once,
 * written with plain blocking calls (socket, connect, accept, read, write, close: no
 * gmp_wait_fd, no brackets), as C code that knows nothing of the runtime does.
 *
 * The interposers (api.md, "Interposed blocking libc calls") must park each goroutine whose
 * call would block on the netpoller instead of blocking its thread. So:
 *  - the names read, write, accept, connect, close resolve to libgmp's exports (checked with
 *    dlsym(RTLD_DEFAULT) + dladdr: the same global lookup the program's own PLT uses);
 *  - 1,000 client goroutines connect; an acceptor goroutine accepts 1,000 connections and
 *    spawns one server goroutine each, which loops read -> write until EOF; only when every
 *    client has connected and every server goroutine has started do the clients (parked on a
 *    gate built on gmp_park) begin: so all 1,000 server goroutines sit in read() at once;
 *  - each client does ROUNDS round trips of a varying size (1..MAXSZ bytes, so reads and
 *    writes are split and joined by TCP), writing everything and then reading the echo back;
 *    every byte is compared, and the servers' byte count must equal the clients';
 *  - the runtime's thread count (gmp_stats.threads, Ms and sysmon), sampled every 1 ms by a
 *    plain thread for the whole test, must stay within 4 x GMP_MAXPROCS + 8 (the CPU-bound
 *    budget) + 32: with blocking reads that held their threads it would pass 1,000. The 32 are
 *    for the short calls that do enter the kernel (socket, connect's loopback handshake,
 *    close): they are bracketed as Go brackets them, and on a loaded machine sysmon hands off
 *    the P of an M that sits in one for a tick while goroutines wait (CI saw 13 threads at
 *    1 P and 18 at 2 Ps; with two CPU hogs beside it, 7-24 such hand-offs a run); each such
 *    M is one more thread.
 * RLIMIT_NOFILE: 2,000 sockets + the listener: the soft limit is raised to the hard limit
 * (and the hard one too if it is lower and we may); too few fds fails the test with a message.
 */
#include "harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#define NCONN 1000
#define ROUNDS 20
#define MAXSZ 4096

static int listen_fd, port;
static wg_t ready_wg, done_wg;
static H_ATOMIC(int64_t) client_bytes, server_bytes, round_trips;
static H_ATOMIC(uint32_t) peak_threads;
static H_ATOMIC(int) mon_stop;

/* ------------------------------------------------------------------ a gate for many waiters
 * head is GATE_OPEN once opened, else a stack of waiters (nodes on the waiters' stacks).
 * A waiter pushes itself in its unlockf (after it is switched out) unless the gate is open;
 * the opener swaps in GATE_OPEN and readies every waiter it took, reading each node's next
 * before readying it (the node dies when its waiter resumes). */
typedef struct gate_node {
    gmp_g *g;
    struct gate_node *next;
} gate_node;
#define GATE_OPEN ((gate_node *)1)
static H_ATOMIC(gate_node *) gate_head;

static bool gate_unlockf(gmp_g *g, void *arg)
{
    gate_node *n = (gate_node *)arg;
    n->g = g;
    gate_node *h = atomic_load(&gate_head);
    for (;;) {
        if (h == GATE_OPEN) return false;
        n->next = h;
        if (atomic_compare_exchange_strong(&gate_head, &h, n)) return true;
    }
}

static void gate_wait(void)
{
    gate_node n;
    if (atomic_load(&gate_head) == GATE_OPEN) return;
    CHECK(gmp_park(gate_unlockf, &n) == 0, "gmp_park");
    CHECK(atomic_load(&gate_head) == GATE_OPEN, "woken before the gate opened");
}

static void gate_open(void)
{
    gate_node *n = atomic_exchange(&gate_head, GATE_OPEN);
    while (n != NULL && n != GATE_OPEN) {
        gate_node *next = n->next;
        int r = gmp_ready(n->g);
        CHECK(r == 0, "gmp_ready(gate waiter) = %d", r);
        n = next;
    }
}

/* ------------------------------------------------------------------ goroutines */

static void server(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[8192];
    int64_t total = 0;
    wg_done(&ready_wg);
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        CHECK(n >= 0, "server read: %s", strerror(errno));
        if (n == 0) break;
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(fd, buf + off, (size_t)(n - off));
            CHECK(w > 0, "server write: %s", strerror(errno));
            off += w;
        }
        total += n;
    }
    CHECK(close(fd) == 0, "server close: %s", strerror(errno));
    atomic_fetch_add(&server_bytes, total);
    wg_done(&done_wg);
}

static void acceptor(void *arg)
{
    (void)arg;
    int one = 1;
    for (int i = 0; i < NCONN; i++) {
        int fd = accept(listen_fd, NULL, NULL);
        CHECK(fd >= 0, "accept #%d: %s", i, strerror(errno));
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        h_spawn(server, (void *)(intptr_t)fd);
    }
    CHECK(close(listen_fd) == 0, "close listener");
}

static unsigned char pat(int id, int r, int i) { return (unsigned char)(id * 131 + r * 29 + i * 7 + (i >> 8)); }

static void client(void *arg)
{
    int id = (int)(intptr_t)arg;
    unsigned char *out = malloc(MAXSZ), *in = malloc(MAXSZ);
    CHECK(out && in, "malloc");
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(fd >= 0, "socket: %s", strerror(errno));
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0, "client %d connect: %s", id,
          strerror(errno));
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    wg_done(&ready_wg);
    gate_wait();
    int64_t total = 0;
    for (int r = 0; r < ROUNDS; r++) {
        int sz = 1 + (int)(((unsigned)id * 2654435761u + (unsigned)r * 40503u) % MAXSZ);
        for (int i = 0; i < sz; i++) out[i] = pat(id, r, i);
        for (int off = 0; off < sz;) {
            ssize_t w = write(fd, out + off, (size_t)(sz - off));
            CHECK(w > 0, "client %d write: %s", id, strerror(errno));
            off += (int)w;
        }
        for (int got = 0; got < sz;) {
            ssize_t n = read(fd, in + got, (size_t)(sz - got));
            CHECK(n >= 0, "client %d read: %s", id, strerror(errno));
            CHECK(n > 0, "client %d: server closed the connection in round %d", id, r);
            got += (int)n;
        }
        for (int i = 0; i < sz; i++)
            CHECK(in[i] == out[i], "client %d round %d byte %d of %d: got %u, sent %u", id, r,
                  i, sz, in[i], out[i]);
        total += sz;
        atomic_fetch_add(&round_trips, (int64_t)1);
    }
    CHECK(close(fd) == 0, "client close: %s", strerror(errno));
    free(out);
    free(in);
    atomic_fetch_add(&client_bytes, total);
    wg_done(&done_wg);
}

static void *monitor(void *arg)
{
    (void)arg;
    while (!atomic_load(&mon_stop)) {
        gmp_stats s;
        if (gmp_stats_read(&s) == 0 && s.threads > atomic_load(&peak_threads))
            atomic_store(&peak_threads, s.threads);
        struct timespec ts = {0, 1000000};
        clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
    }
    return NULL;
}

static void main_g(void *arg)
{
    (void)arg;
    int64_t t0 = h_now_ns();
    wg_init(&ready_wg);
    wg_add(&ready_wg, 2 * NCONN);
    wg_init(&done_wg);
    wg_add(&done_wg, 2 * NCONN);
    h_spawn(acceptor, NULL);
    for (int i = 0; i < NCONN; i++) h_spawn(client, (void *)(intptr_t)i);
    wg_wait(&ready_wg); /* 1000 connected clients, 1000 started servers */
    int64_t t1 = h_now_ns();
    gmp_stats s = h_stats();
    printf("t_echo: %d connections open, %llu goroutines, %u threads (procs %u), %.2f s\n",
           NCONN, (unsigned long long)s.goroutines, s.threads, s.procs, (t1 - t0) / 1e9);
    gate_open();
    wg_wait(&done_wg);
    int64_t t2 = h_now_ns();
    CHECK_EQ(atomic_load(&round_trips), (int64_t)NCONN * ROUNDS);
    CHECK_EQ(atomic_load(&server_bytes), atomic_load(&client_bytes));
    printf("t_echo: %lld round trips, %lld bytes echoed in %.2f s (%.0f round trips/s)\n",
           (long long)atomic_load(&round_trips), (long long)atomic_load(&client_bytes),
           (t2 - t1) / 1e9, atomic_load(&round_trips) / ((t2 - t1) / 1e9));
}

/* `name` must resolve (global lookup, as the program's PLT does) to libgmp's interposer. */
static void check_interposed(const char *name)
{
    void *p = dlsym(RTLD_DEFAULT, name);
    CHECK(p != NULL, "dlsym(%s)", name);
    Dl_info info;
    memset(&info, 0, sizeof info);
    CHECK(dladdr(p, &info) != 0 && info.dli_fname, "dladdr(%s)", name);
    CHECK(strstr(info.dli_fname, "libgmp.so") != NULL,
          "%s resolves to %s, not to libgmp's interposer", name, info.dli_fname);
}

int main(void)
{
    h_check_lib();
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *names[] = {"read", "write", "accept", "connect", "close", "socket"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) check_interposed(names[i]);

    struct rlimit rl;
    CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0, "getrlimit");
    rlim_t need = 2 * NCONN + 64;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need) {
        rl.rlim_max = need; /* root may raise the hard limit */
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0, "getrlimit");
    }
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0, "getrlimit");
    CHECK(rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need,
          "RLIMIT_NOFILE is %llu, the test needs %llu fds (raise the hard limit: ulimit -Hn)",
          (unsigned long long)rl.rlim_cur, (unsigned long long)need);

    listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(listen_fd >= 0, "socket");
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(bind(listen_fd, (struct sockaddr *)&sa, sizeof sa) == 0, "bind: %s", strerror(errno));
    CHECK(listen(listen_fd, 4096) == 0, "listen: %s", strerror(errno));
    socklen_t len = sizeof sa;
    CHECK(getsockname(listen_fd, (struct sockaddr *)&sa, &len) == 0, "getsockname");
    port = ntohs(sa.sin_port);

    pthread_t mon;
    CHECK(pthread_create(&mon, NULL, monitor, NULL) == 0, "pthread_create");
    h_main(main_g, NULL);
    atomic_store(&mon_stop, 1);
    pthread_join(mon, NULL);
    gmp_stats s = h_stats();
    uint32_t bound = 4 * s.procs + 8 + 32, peak = atomic_load(&peak_threads);
    printf("t_echo: peak threads %u (bound %u = 4 x procs + 8 + 32, procs %u); "
           "%llu preemptions, %llu syscall hand-offs\n", peak, bound, s.procs,
           (unsigned long long)s.preemptions, (unsigned long long)s.syscall_retakes);
    CHECK(peak <= bound, "the runtime used %u threads for %d connections at %u Ps (bound %u): "
          "blocking calls hold their threads", peak, NCONN, s.procs, bound);
    return 0;
}
