/*
 * t_redis: goroutines using a real client library that someone else wrote and compiled,
 * hiredis (Debian's libhiredis), with its synchronous API (redisConnect, redisCommand,
 * redisSetTimeout), against a real redis-server. Run by c-tests/redis/run.sh, which starts the
 * server and passes its port: t_redis PORT.
 *
 * hiredis does its I/O with plain libc calls from inside libhiredis.so: socket, fcntl
 * (O_NONBLOCK for the connect, then back to blocking), connect, poll, setsockopt
 * (TCP_NODELAY; SO_RCVTIMEO/SO_SNDTIMEO from redisSetTimeout), read, write, close. For
 * goroutines to work with it, libgmp's interposers must catch those calls, i.e. the names must
 * resolve to libgmp for libhiredis.so too. Built two ways from this one file:
 *  - linked: cc t_redis.c -lhiredis -lgmp: libgmp is a dependency of the program, found in the
 *    global lookup scope before libc, so hiredis's calls bind to libgmp's exports;
 *  - not linked (-DVIA_PRELOAD): the program has no libgmp dependency and no gmp_* reference;
 *    it finds the runtime's functions with dlsym at start-up, which works only when run with
 *    LD_PRELOAD=<build>/libgmp.so (without it, it exits with status 77 and says so).
 * Either way the program checks that gmp_main comes from GMP_LIBDIR (the build under test, not
 * Debian's GNU MP) and that read, write, poll, connect, fcntl, setsockopt, socket and close
 * resolve (global lookup, what libhiredis.so's relocations use) to libgmp.
 *
 * The test, at the P count of GMP_MAXPROCS (run.sh: 2), 200 goroutines, each with its own
 * redisContext:
 *  0. the main goroutine DELetes the shared counter (the server outlives one run);
 *  1. connect, redisSetTimeout(5 s), then 50 x (SET k v with a 1..2000-byte value made of
 *     every byte value, GET k: the reply must be exactly v) and INCR of a shared counter;
 *     afterwards the counter must be 200 x 50;
 *  2. once all 200 are through phase 1 (a gate), each BLPOP on its own empty list with a 1 s
 *     timeout: the reply must be nil, each call must take >= 0.9 s, and all 200 together
 *     must take < 3 s of wall time (they overlap: 200 blocked reads, not 200 s);
 *  3. redisSetTimeout(0.3 s) (SO_RCVTIMEO) then BLPOP with a 5 s timeout: hiredis's read must
 *     time out with EAGAIN after >= 0.25 s and well before 5 s (< 3 s): the command fails with
 *     REDIS_ERR_IO "Resource temporarily unavailable" (errno carried to hiredis correctly).
 *  4. the runtime's thread count (gmp_stats.threads, sampled every 1 ms by a plain thread for
 *     the whole test) stays within 4 x procs + 8 (16 at 2 Ps).
 */
#define _GNU_SOURCE
#define GMP_NO_ERRNO_MACRO /* types only: the VIA_PRELOAD build must not reference libgmp */
#include "gmp.h"
#ifdef __GNU_MP__
#error "included GNU MP's gmp.h instead of libgmp's: put -I<repo>/include first"
#endif

#include <dlfcn.h>
#include <errno.h>
#include <hiredis/hiredis.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#ifndef GMP_LIBDIR
#error "compile with -DGMP_LIBDIR='\"/dir/holding/libgmp.so\"'"
#endif

#define NG 200
#define ROUNDS 50
#define MAXVAL 2000

/* ------------------------------------------------------------------ failure reporting */

__attribute__((noreturn, format(printf, 3, 4))) static void fail_at(int line, const char *cond,
                                                                    const char *fmt, ...)
{
    char buf[1024];
    int n = snprintf(buf, sizeof buf, "t_redis.c:%d: CHECK(%s) failed: ", line, cond);
    va_list ap;
    va_start(ap, fmt);
    n += vsnprintf(buf + n, sizeof buf - (size_t)n, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof buf - 2) n = (int)sizeof buf - 2;
    buf[n++] = '\n';
    ssize_t w = write(2, buf, (size_t)n);
    (void)w;
    _exit(1);
}
#define CHECK(cond, ...) do { if (!(cond)) fail_at(__LINE__, #cond, __VA_ARGS__); } while (0)

/* ------------------------------------------------------------------ the runtime's API */

static struct {
    int64_t (*spawn)(gmp_fn, void *);
    int (*main)(gmp_fn, void *);
    int (*park)(gmp_unlock_fn, void *);
    int (*ready)(gmp_g *);
    int (*stats_read)(gmp_stats *);
} rt;

static void load_api(void)
{
#ifdef VIA_PRELOAD
    rt.spawn = (int64_t (*)(gmp_fn, void *))dlsym(RTLD_DEFAULT, "gmp_spawn");
    rt.main = (int (*)(gmp_fn, void *))dlsym(RTLD_DEFAULT, "gmp_main");
    rt.park = (int (*)(gmp_unlock_fn, void *))dlsym(RTLD_DEFAULT, "gmp_park");
    rt.ready = (int (*)(gmp_g *))dlsym(RTLD_DEFAULT, "gmp_ready");
    rt.stats_read = (int (*)(gmp_stats *))dlsym(RTLD_DEFAULT, "gmp_stats_read");
    if (!rt.spawn || !rt.main || !rt.park || !rt.ready || !rt.stats_read) {
        fprintf(stderr, "t_redis: libgmp is not loaded: run with LD_PRELOAD=<libdir>/libgmp.so\n");
        exit(77);
    }
#else
    rt.spawn = gmp_spawn;
    rt.main = gmp_main;
    rt.park = gmp_park;
    rt.ready = gmp_ready;
    rt.stats_read = gmp_stats_read;
#endif
}

/* The object holding `p` must be GMP_LIBDIR's libgmp.so. */
static void check_ours(const char *name, void *p)
{
    CHECK(p != NULL, "%s not found", name);
    Dl_info info;
    memset(&info, 0, sizeof info);
    CHECK(dladdr(p, &info) != 0 && info.dli_fname, "dladdr(%s)", name);
    char want[PATH_MAX], got[PATH_MAX];
    CHECK(realpath(GMP_LIBDIR, want) != NULL, "realpath(%s)", GMP_LIBDIR);
    CHECK(realpath(info.dli_fname, got) != NULL, "realpath(%s)", info.dli_fname);
    size_t n = strlen(want);
    CHECK(strncmp(got, want, n) == 0 && got[n] == '/' && strstr(got + n, "libgmp.so"),
          "%s resolves to %s, not to %s/libgmp.so", name, got, want);
}

/* ------------------------------------------------------------------ wait group, gate */

/* Counter + one waiter (see gmp_waitgroup). */
static atomic_long wg_n;
static _Atomic(gmp_g *) wg_waiter;
static void wg_done(void)
{
    if (atomic_fetch_sub(&wg_n, 1) == 1) {
        gmp_g *g = atomic_exchange(&wg_waiter, NULL);
        if (g) CHECK(rt.ready(g) == 0, "gmp_ready(waiter)");
    }
}
static bool wg_publish(gmp_g *g, void *p)
{
    (void)p;
    atomic_store(&wg_waiter, g);
    if (atomic_load(&wg_n) == 0) {
        gmp_g *e = g;
        if (atomic_compare_exchange_strong(&wg_waiter, &e, NULL)) return false;
    }
    return true;
}
static void wg_wait(void)
{
    while (atomic_load(&wg_n) != 0) CHECK(rt.park(wg_publish, NULL) == 0, "gmp_park");
}

/* Many waiters, one opening (as in c-tests/t_echo.c). */
typedef struct gate_node { gmp_g *g; struct gate_node *next; } gate_node;
#define GATE_OPEN ((gate_node *)1)
typedef struct { _Atomic(gate_node *) head; } gate;
static bool gate_unlockf(gmp_g *g, void *arg)
{
    void **a = arg;
    gate *gt = a[0];
    gate_node *n = a[1];
    n->g = g;
    gate_node *h = atomic_load(&gt->head);
    for (;;) {
        if (h == GATE_OPEN) return false;
        n->next = h;
        if (atomic_compare_exchange_strong(&gt->head, &h, n)) return true;
    }
}
static void gate_wait(gate *gt)
{
    gate_node n;
    void *a[2] = {gt, &n};
    if (atomic_load(&gt->head) == GATE_OPEN) return;
    CHECK(rt.park(gate_unlockf, a) == 0, "gmp_park");
    CHECK(atomic_load(&gt->head) == GATE_OPEN, "woken before the gate opened");
}
static void gate_open(gate *gt)
{
    gate_node *n = atomic_exchange(&gt->head, GATE_OPEN);
    while (n != NULL && n != GATE_OPEN) {
        gate_node *next = n->next;
        CHECK(rt.ready(n->g) == 0, "gmp_ready(gate waiter)");
        n = next;
    }
}

/* ------------------------------------------------------------------ the test */

static int port;
static gate phase2, phase3;
static int64_t blpop_ns[NG], timeout_ns[NG];
static _Atomic uint32_t peak_threads;
static atomic_int mon_stop;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Counter of goroutines that reached a gate; the main goroutine waits for all NG. */
static atomic_long arrived;
static _Atomic(gmp_g *) arrive_waiter;
static bool arrive_publish(gmp_g *g, void *p)
{
    long want = (long)(intptr_t)p;
    atomic_store(&arrive_waiter, g);
    if (atomic_load(&arrived) >= want) {
        gmp_g *e = g;
        if (atomic_compare_exchange_strong(&arrive_waiter, &e, NULL)) return false;
    }
    return true;
}
static void arrive(long want)
{
    if (atomic_fetch_add(&arrived, 1) + 1 == want) {
        gmp_g *g = atomic_exchange(&arrive_waiter, NULL);
        if (g) CHECK(rt.ready(g) == 0, "gmp_ready(main)");
    }
}
static void wait_arrived(long want)
{
    while (atomic_load(&arrived) < want)
        CHECK(rt.park(arrive_publish, (void *)(intptr_t)want) == 0, "gmp_park");
}

static void worker(void *arg)
{
    int id = (int)(intptr_t)arg;
    redisContext *c = redisConnect("127.0.0.1", port);
    CHECK(c != NULL && !c->err, "goroutine %d: redisConnect: %s", id, c ? c->errstr : "NULL");
    struct timeval tv5 = {5, 0};
    CHECK(redisSetTimeout(c, tv5) == REDIS_OK, "redisSetTimeout: %s", c->errstr);

    /* 1. SET/GET with binary values, INCR. */
    unsigned char val[MAXVAL];
    char key[64];
    for (int r = 0; r < ROUNDS; r++) {
        size_t len = 1 + ((unsigned)id * 2654435761u + (unsigned)r * 97u) % MAXVAL;
        for (size_t i = 0; i < len; i++) val[i] = (unsigned char)(id * 31 + r * 7 + i);
        snprintf(key, sizeof key, "t_redis:%d:%d", id, r);
        redisReply *rep = redisCommand(c, "SET %s %b", key, val, len);
        CHECK(rep != NULL, "goroutine %d: SET: %s", id, c->errstr);
        CHECK(rep->type == REDIS_REPLY_STATUS && strcmp(rep->str, "OK") == 0,
              "goroutine %d: SET replied type %d", id, rep->type);
        freeReplyObject(rep);
        rep = redisCommand(c, "GET %s", key);
        CHECK(rep != NULL, "goroutine %d: GET: %s", id, c->errstr);
        CHECK(rep->type == REDIS_REPLY_STRING && (size_t)rep->len == len &&
                  memcmp(rep->str, val, len) == 0,
              "goroutine %d round %d: GET returned type %d, %zu bytes, not the %zu bytes set",
              id, r, rep->type, (size_t)rep->len, len);
        freeReplyObject(rep);
        rep = redisCommand(c, "INCR t_redis:counter");
        CHECK(rep != NULL && rep->type == REDIS_REPLY_INTEGER && rep->integer >= 1 &&
                  rep->integer <= NG * ROUNDS,
              "goroutine %d: INCR: %s", id, rep ? "bad reply" : c->errstr);
        freeReplyObject(rep);
    }

    /* 2. BLPOP 1 s on an empty list: nil after ~1 s, all 200 at once. */
    arrive(NG);
    gate_wait(&phase2);
    snprintf(key, sizeof key, "t_redis:empty:%d", id);
    int64_t t0 = now_ns();
    redisReply *rep = redisCommand(c, "BLPOP %s 1", key);
    blpop_ns[id] = now_ns() - t0;
    CHECK(rep != NULL, "goroutine %d: BLPOP: %s", id, c->errstr);
    CHECK(rep->type == REDIS_REPLY_NIL, "goroutine %d: BLPOP on an empty list replied type %d",
          id, rep->type);
    freeReplyObject(rep);

    /* 3. SO_RCVTIMEO (redisSetTimeout 0.3 s) cuts a BLPOP of 5 s short with EAGAIN. */
    struct timeval tv03 = {0, 300000};
    CHECK(redisSetTimeout(c, tv03) == REDIS_OK, "redisSetTimeout(0.3 s): %s", c->errstr);
    arrive(2 * NG);
    gate_wait(&phase3);
    t0 = now_ns();
    rep = redisCommand(c, "BLPOP %s 5", key);
    timeout_ns[id] = now_ns() - t0;
    CHECK(rep == NULL && c->err == REDIS_ERR_IO,
          "goroutine %d: BLPOP past SO_RCVTIMEO: reply %p, err %d (%s): expected a timeout",
          id, (void *)rep, c->err, c->errstr);
    CHECK(strcmp(c->errstr, strerror(EAGAIN)) == 0,
          "goroutine %d: BLPOP past SO_RCVTIMEO failed with \"%s\", expected \"%s\" (EAGAIN)",
          id, c->errstr, strerror(EAGAIN));
    redisFree(c);
    wg_done();
}

static void main_g(void *arg)
{
    (void)arg;
    /* A fresh counter (the server outlives one run: run.sh runs two builds against it). */
    redisContext *c = redisConnect("127.0.0.1", port);
    CHECK(c && !c->err, "redisConnect (main)");
    redisReply *rep = redisCommand(c, "DEL t_redis:counter");
    CHECK(rep && rep->type == REDIS_REPLY_INTEGER, "DEL t_redis:counter: %s", rep ? "bad reply" : c->errstr);
    freeReplyObject(rep);

    atomic_store(&wg_n, NG);
    for (int i = 0; i < NG; i++) CHECK(rt.spawn(worker, (void *)(intptr_t)i) > 0, "gmp_spawn");
    wait_arrived(NG);
    int64_t t0 = now_ns();
    gate_open(&phase2);
    wait_arrived(2 * NG);
    int64_t t1 = now_ns();
    gate_open(&phase3);
    wg_wait();
    int64_t t2 = now_ns();

    rep = redisCommand(c, "GET t_redis:counter");
    CHECK(rep && rep->type == REDIS_REPLY_STRING && atol(rep->str) == (long)NG * ROUNDS,
          "counter is %s, expected %d", rep && rep->str ? rep->str : "?", NG * ROUNDS);
    freeReplyObject(rep);
    redisFree(c);

    int64_t bmin = INT64_MAX, bmax = 0, tmin = INT64_MAX, tmax = 0;
    for (int i = 0; i < NG; i++) {
        if (blpop_ns[i] < bmin) bmin = blpop_ns[i];
        if (blpop_ns[i] > bmax) bmax = blpop_ns[i];
        if (timeout_ns[i] < tmin) tmin = timeout_ns[i];
        if (timeout_ns[i] > tmax) tmax = timeout_ns[i];
    }
    printf("t_redis: %d goroutines x %d SET/GET/INCR ok; BLPOP 1 s: each %.3f..%.3f s, all %d "
           "in %.3f s; SO_RCVTIMEO 0.3 s: each %.3f..%.3f s, all in %.3f s\n",
           NG, ROUNDS, bmin / 1e9, bmax / 1e9, NG, (t1 - t0) / 1e9, tmin / 1e9, tmax / 1e9,
           (t2 - t1) / 1e9);
    CHECK(bmin >= 900000000, "a BLPOP with a 1 s timeout returned after %.3f s", bmin / 1e9);
    CHECK(t1 - t0 < 3000000000LL, "%d overlapping BLPOPs of 1 s took %.3f s: they did not overlap",
          NG, (t1 - t0) / 1e9);
    CHECK(tmin >= 250000000, "SO_RCVTIMEO of 0.3 s fired after %.3f s", tmin / 1e9);
    CHECK(tmax < 3000000000LL, "SO_RCVTIMEO of 0.3 s fired only after %.3f s", tmax / 1e9);
}

static void *monitor(void *arg)
{
    (void)arg;
    while (!atomic_load(&mon_stop)) {
        gmp_stats s;
        if (rt.stats_read(&s) == 0 && s.threads > atomic_load(&peak_threads))
            atomic_store(&peak_threads, s.threads);
        struct timespec ts = {0, 1000000};
        clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    CHECK(argc == 2 && atoi(argv[1]) > 0, "usage: t_redis PORT");
    port = atoi(argv[1]);
    load_api();
    check_ours("gmp_main", (void *)rt.main);
    const char *names[] = {"read", "write", "poll", "connect", "fcntl", "setsockopt", "socket", "close"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        check_ours(names[i], dlsym(RTLD_DEFAULT, names[i]));
#ifdef VIA_PRELOAD
    printf("t_redis: not linked with libgmp; runtime and interposers from LD_PRELOAD\n");
#else
    printf("t_redis: linked with -lhiredis -lgmp\n");
#endif
    pthread_t mon;
    CHECK(pthread_create(&mon, NULL, monitor, NULL) == 0, "pthread_create");
    CHECK(rt.main(main_g, NULL) == 0, "gmp_main");
    atomic_store(&mon_stop, 1);
    pthread_join(mon, NULL);
    gmp_stats s;
    CHECK(rt.stats_read(&s) == 0, "gmp_stats_read");
    uint32_t bound = 4 * s.procs + 8, peak = atomic_load(&peak_threads);
    printf("t_redis: peak threads %u (bound %u = 4 x procs + 8, procs %u)\n", peak, bound, s.procs);
    CHECK(peak <= bound, "%u threads for %d goroutines in hiredis calls at %u Ps (bound %u): "
          "hiredis's blocking calls hold their threads", peak, NG, s.procs, bound);
    return 0;
}
