/*
 * t_getaddrinfo: name resolution from goroutines works and answers as from a thread (api.md:
 * getaddrinfo/gethostbyname*, which glibc performs with internal calls no interposer sees, run
 * on the syscall path so they do not hold a processor). No network needed: localhost and
 * 127.0.0.1 only (/etc/hosts).
 *
 * A plain thread computes the reference answers: getaddrinfo("localhost", "80", AF_UNSPEC,
 * SOCK_STREAM) as a list of (family, socktype, protocol, address bytes);
 * getaddrinfo("127.0.0.1", NULL, AI_NUMERICHOST); getnameinfo(127.0.0.1:80) both numeric
 * (NI_NUMERICHOST|NI_NUMERICSERV) and by name (host looked up in /etc/hosts, service "http"
 * from /etc/services). Then at ONE P, NG = 50 goroutines each make the same calls at once,
 * while a spinner goroutine runs; every goroutine's answers must equal the thread's (return
 * codes included), all 50 finish within 30 s, and the spinner keeps advancing (checked after
 * the batch: it ran at all while 50 resolutions were in flight).
 *
 * Catches: resolver calls that break inside goroutines (stack use, TLS, errno/h_errno moved
 * between threads, hooked internal calls returning wrong results), or deadlock at 1 P.
 */
#define H_WATCHDOG_SECS 100
#include "hookcmp.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#define NG 50

typedef struct answer {
    int rc_gai, rc_num, rc_ni_num, rc_ni_name;
    char list[1024]; /* getaddrinfo("localhost") results, rendered */
    char num[256];
    char ni_num_host[NI_MAXHOST], ni_num_serv[NI_MAXSERV];
    char ni_host[NI_MAXHOST], ni_serv[NI_MAXSERV];
} answer_t;

static void render(const struct addrinfo *ai, char *out, size_t n)
{
    size_t w = 0;
    out[0] = 0;
    for (; ai && w < n; ai = ai->ai_next) {
        char a[INET6_ADDRSTRLEN] = "?";
        int port = -1;
        if (ai->ai_family == AF_INET) {
            const struct sockaddr_in *s = (const struct sockaddr_in *)ai->ai_addr;
            inet_ntop(AF_INET, &s->sin_addr, a, sizeof a);
            port = ntohs(s->sin_port);
        } else if (ai->ai_family == AF_INET6) {
            const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)ai->ai_addr;
            inet_ntop(AF_INET6, &s->sin6_addr, a, sizeof a);
            port = ntohs(s->sin6_port);
        }
        w += (size_t)snprintf(out + w, n - w, "[%d %d %d %s %d]", ai->ai_family, ai->ai_socktype,
                              ai->ai_protocol, a, port);
    }
}

static void resolve(answer_t *a)
{
    memset(a, 0, sizeof *a);
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    a->rc_gai = getaddrinfo("localhost", "80", &hints, &res);
    if (a->rc_gai == 0) {
        render(res, a->list, sizeof a->list);
        freeaddrinfo(res);
    }
    memset(&hints, 0, sizeof hints);
    hints.ai_flags = AI_NUMERICHOST;
    res = NULL;
    a->rc_num = getaddrinfo("127.0.0.1", NULL, &hints, &res);
    if (a->rc_num == 0) {
        render(res, a->num, sizeof a->num);
        freeaddrinfo(res);
    }
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_port = htons(80);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a->rc_ni_num = getnameinfo((struct sockaddr *)&sin, sizeof sin, a->ni_num_host,
                               sizeof a->ni_num_host, a->ni_num_serv, sizeof a->ni_num_serv,
                               NI_NUMERICHOST | NI_NUMERICSERV);
    a->rc_ni_name = getnameinfo((struct sockaddr *)&sin, sizeof sin, a->ni_host,
                                sizeof a->ni_host, a->ni_serv, sizeof a->ni_serv, 0);
}

static bool same(const answer_t *x, const answer_t *y)
{
    return x->rc_gai == y->rc_gai && x->rc_num == y->rc_num && x->rc_ni_num == y->rc_ni_num &&
           x->rc_ni_name == y->rc_ni_name && !strcmp(x->list, y->list) &&
           !strcmp(x->num, y->num) && !strcmp(x->ni_num_host, y->ni_num_host) &&
           !strcmp(x->ni_num_serv, y->ni_num_serv) && !strcmp(x->ni_host, y->ni_host) &&
           !strcmp(x->ni_serv, y->ni_serv);
}

static void show(const char *who, const answer_t *a)
{
    fprintf(stderr,
            "  %s: getaddrinfo(localhost)=%d %s; getaddrinfo(127.0.0.1)=%d %s; "
            "getnameinfo numeric=%d %s:%s; by name=%d %s:%s\n",
            who, a->rc_gai, a->list, a->rc_num, a->num, a->rc_ni_num, a->ni_num_host,
            a->ni_num_serv, a->rc_ni_name, a->ni_host, a->ni_serv);
}

static answer_t ref;
static answer_t got[NG];
static wg_t wg;
static H_ATOMIC(int) spin_stop;
static H_ATOMIC(long) spins;
static wg_t spin_wg;

static void *ref_thread(void *arg)
{
    (void)arg;
    resolve(&ref);
    return NULL;
}

static void resolver(void *arg)
{
    resolve((answer_t *)arg);
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

static void main_fn(void *arg)
{
    (void)arg;
    int prev = gmp_set_procs(1);
    wg_init(&spin_wg);
    wg_add(&spin_wg, 1);
    h_spawn(spinner, NULL);
    wg_init(&wg);
    wg_add(&wg, NG);
    int64_t t0 = h_now_ns();
    for (int i = 0; i < NG; i++) h_spawn(resolver, &got[i]);
    wg_wait(&wg);
    double ms = hc_ms(t0);
    long s0 = atomic_load(&spins);
    H_GOSCHED_UNTIL(atomic_load(&spins) > s0, 10, "the spinner does not run");
    atomic_store(&spin_stop, 1);
    wg_wait(&spin_wg);
    gmp_set_procs(prev);
    int bad = 0;
    for (int i = 0; i < NG; i++) {
        if (!same(&ref, &got[i])) {
            if (bad++ == 0) show("plain thread", &ref);
            char who[32];
            snprintf(who, sizeof who, "goroutine %d", i);
            if (bad <= 5) show(who, &got[i]);
        }
    }
    printf("  %d goroutines resolved at 1 P in %.1f ms; %d differ from the thread\n", NG, ms,
           bad);
    CHECK(bad == 0, "%d of %d goroutines got other answers than a plain thread (listed above)",
          bad, NG);
    CHECK(ms < 30000, "%d resolutions took %.0f ms", NG, ms);
}

int main(void)
{
    h_check_lib();
    setvbuf(stdout, NULL, _IOLBF, 0);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, ref_thread, NULL) == 0, "pthread_create");
    CHECK(pthread_join(t, NULL) == 0, "pthread_join");
    show("reference (thread)", &ref);
    CHECK(ref.rc_num == 0 && ref.rc_ni_num == 0 && strcmp(ref.ni_num_host, "127.0.0.1") == 0 &&
              strcmp(ref.ni_num_serv, "80") == 0,
          "the numeric lookups failed even in a plain thread: %d %d %s:%s", ref.rc_num,
          ref.rc_ni_num, ref.ni_num_host, ref.ni_num_serv);
    h_main(main_fn, NULL);
    printf("t_getaddrinfo: ok\n");
    return 0;
}
