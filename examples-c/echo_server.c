/*
 * libgmp example: a TCP echo server, one goroutine per connection, written with plain
 * blocking calls (accept, read, write) as if every connection had a thread of its own.
 *
 * libgmp exports read/write/accept/... under their libc names (api.md, "Interposed blocking
 * libc calls"): called from a goroutine on a socket, a call that would block parks the
 * goroutine on the netpoller instead of blocking its OS thread. So 10,000 idle connections
 * cost 10,000 small goroutine stacks, not 10,000 threads.
 *
 *   echo_server [port [max_conns]]
 *     port       TCP port on 127.0.0.1 (default 0: the kernel picks one)
 *     max_conns  stop accepting after that many connections and exit once they are all
 *                closed (default 0: serve forever)
 *   Prints "listening on 127.0.0.1:PORT" (flushed) once it accepts connections.
 *
 *   make target/examples/echo_server
 *   ./target/examples/echo_server 0 &        # then: ./target/examples/echo_client PORT
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gmp.h"

static int port, max_conns;
static gmp_waitgroup conns; /* connections still open (max_conns mode) */

/* One connection: echo everything back until the peer closes. */
static void serve(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[16384];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf); /* parks this goroutine, not the thread */
        if (n <= 0) {
            if (n < 0)
                perror("echo_server: read");
            break;
        }
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(fd, buf + off, (size_t)(n - off));
            if (w < 0) {
                perror("echo_server: write");
                goto out;
            }
            off += w;
        }
    }
out:
    close(fd);
    if (max_conns)
        gmp_waitgroup_done(&conns);
}

static void server_main(void *arg)
{
    (void)arg;
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (ls < 0) {
        perror("echo_server: socket");
        exit(1);
    }
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(ls, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(ls, 4096) < 0) {
        perror("echo_server: bind/listen");
        exit(1);
    }
    socklen_t len = sizeof sa;
    getsockname(ls, (struct sockaddr *)&sa, &len);
    printf("listening on 127.0.0.1:%d\n", ntohs(sa.sin_port));
    fflush(stdout);

    for (int served = 0; max_conns == 0 || served < max_conns; served++) {
        int fd = accept(ls, NULL, NULL); /* parks until a client connects */
        if (fd < 0) {
            perror("echo_server: accept");
            exit(1);
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (max_conns && gmp_waitgroup_add(&conns, 1) != 0) {
            fprintf(stderr, "echo_server: gmp_waitgroup_add failed\n");
            exit(1);
        }
        if (gmp_spawn(serve, (void *)(intptr_t)fd) <= 0) {
            fprintf(stderr, "echo_server: gmp_spawn failed\n");
            exit(1);
        }
    }
    close(ls);
    if (gmp_waitgroup_wait(&conns) != 0) {
        fprintf(stderr, "echo_server: gmp_waitgroup_wait failed\n");
        exit(1);
    }
    gmp_stats st;
    gmp_stats_read(&st);
    printf("served %d connections; %u threads\n", max_conns, st.threads);
}

int main(int argc, char **argv)
{
    port = argc > 1 ? atoi(argv[1]) : 0;
    max_conns = argc > 2 ? atoi(argv[2]) : 0;
    /* One fd per connection: allow as many as the hard limit does. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    return gmp_main(server_main, NULL) == 0 ? 0 : 1;
}
