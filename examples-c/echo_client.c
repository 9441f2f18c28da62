/*
 * libgmp example: a load client for echo_server. N connections, each in its own goroutine,
 * each doing M round trips of K bytes with plain blocking calls (connect, write, read), and
 * checking every byte that comes back.
 *
 *   echo_client PORT [N [M [K]]]     (defaults: N = 100, M = 1000, K = 64; host 127.0.0.1)
 *
 * Prints the round trips per second, the elapsed time and the number of OS threads the
 * runtime used (gmp_stats.threads, sampled every millisecond by a plain thread): with the
 * interposed blocking calls that stays near GMP_MAXPROCS however large N is. Exit status 1 if
 * a connection failed or a byte came back wrong.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "gmp.h"

static int port, nconn = 100, rounds = 1000, size = 64;
static gmp_waitgroup wg; /* connections still running */
static atomic_long failures, round_trips;
static _Atomic unsigned peak_threads;
static atomic_int stop_monitor;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void fail(int id, const char *what)
{
    if (atomic_fetch_add(&failures, 1) < 10)
        fprintf(stderr, "echo_client: connection %d: %s\n", id, what);
}

/* Byte i of round r on connection id: a pattern that differs per connection and round. */
static unsigned char pattern(int id, int r, int i) { return (unsigned char)(id * 131 + r * 7 + i); }

static void conn(void *arg)
{
    int id = (int)(intptr_t)arg;
    unsigned char *out = malloc((size_t)size), *in = malloc((size_t)size);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) { /* parks */
        fail(id, strerror(errno));
        goto out;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    for (int r = 0; r < rounds; r++) {
        for (int i = 0; i < size; i++)
            out[i] = pattern(id, r, i);
        for (int off = 0; off < size;) {
            ssize_t w = write(fd, out + off, (size_t)(size - off));
            if (w <= 0) {
                fail(id, w < 0 ? strerror(errno) : "write returned 0");
                goto out;
            }
            off += (int)w;
        }
        for (int got = 0; got < size;) {
            ssize_t n = read(fd, in + got, (size_t)(size - got)); /* parks until the echo */
            if (n <= 0) {
                fail(id, n < 0 ? strerror(errno) : "server closed the connection");
                goto out;
            }
            got += (int)n;
        }
        if (memcmp(in, out, (size_t)size) != 0) {
            fail(id, "echoed bytes differ from the bytes sent");
            goto out;
        }
        atomic_fetch_add_explicit(&round_trips, 1, memory_order_relaxed);
    }
out:
    if (fd >= 0)
        close(fd);
    free(out);
    free(in);
    gmp_waitgroup_done(&wg);
}

static void client_main(void *arg)
{
    (void)arg;
    double t0 = now_s();
    if (gmp_waitgroup_add(&wg, nconn) != 0) {
        fprintf(stderr, "echo_client: gmp_waitgroup_add failed\n");
        exit(1);
    }
    for (int i = 0; i < nconn; i++)
        if (gmp_spawn(conn, (void *)(intptr_t)i) <= 0) {
            fprintf(stderr, "echo_client: gmp_spawn failed\n");
            exit(1);
        }
    if (gmp_waitgroup_wait(&wg) != 0) {
        fprintf(stderr, "echo_client: gmp_waitgroup_wait failed\n");
        exit(1);
    }
    double dt = now_s() - t0;
    gmp_stats st;
    gmp_stats_read(&st);
    long rt = atomic_load(&round_trips);
    printf("%d connections x %d round trips x %d bytes: %.0f round trips/s, elapsed %.3f s, "
           "threads %u (peak %u), procs %u, %ld failed connections\n",
           nconn, rounds, size, rt / dt, dt, st.threads, atomic_load(&peak_threads), st.procs,
           atomic_load(&failures));
}

/* A plain thread (not a goroutine): samples the runtime's thread count every millisecond. */
static void *monitor(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop_monitor)) {
        gmp_stats st;
        if (gmp_stats_read(&st) == 0 && st.threads > atomic_load(&peak_threads))
            atomic_store(&peak_threads, st.threads);
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: echo_client PORT [connections [round_trips [bytes]]]\n");
        return 2;
    }
    port = atoi(argv[1]);
    if (argc > 2) nconn = atoi(argv[2]);
    if (argc > 3) rounds = atoi(argv[3]);
    if (argc > 4) size = atoi(argv[4]);
    if (port <= 0 || nconn <= 0 || rounds <= 0 || size <= 0) {
        fprintf(stderr, "echo_client: bad arguments\n");
        return 2;
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    pthread_t mon;
    pthread_create(&mon, NULL, monitor, NULL);
    int rc = gmp_main(client_main, NULL);
    atomic_store(&stop_monitor, 1);
    pthread_join(mon, NULL);
    return rc == 0 && atomic_load(&failures) == 0 ? 0 : 1;
}
