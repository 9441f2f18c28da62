/*
 * bench/common.h: shared pieces of the libgmp benchmarks.
 *
 *  - bench_now_ns():   CLOCK_MONOTONIC in nanoseconds.
 *  - bench_args():     "PROG [procs [reps]]" -> starts the runtime with gmp_init(procs) and
 *                      checks (gmp_stats_read) that it really has that many Ps.
 *  - bench_wg:         a WaitGroup (counter + one waiter) built only on gmp_park/gmp_ready.
 *  - bench_slot:       a one-slot hand-off (a channel of capacity 1, one sender and one
 *                      receiver), also built only on gmp_park/gmp_ready.
 *  - bench_chan_*, bench_mutex_*: the runtime's own channels (int64_t elements) and
 *                      gmp_mutex, every call checked (the channel and mutex benchmarks:
 *                      skynet_chan, pingpong_chan, chanbuf, mutex).
 *
 * Everything here is deliberately small: the benchmarks measure the scheduler (spawn, park,
 * ready, gosched, switch), so the synchronisation on top of it costs one atomic RMW per
 * operation and parks at most once per wait.
 *
 * Build with THIS project's header and library first on the paths (Debian's GNU MP also ships
 * a gmp.h and a libgmp.so):
 *   gcc -O2 -I<repo>/include x.c -L<libdir> -Wl,-rpath,<libdir> -lgmp -lpthread
 */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gmp.h"

#if defined(__GMP_H__) || !defined(GMP_H)
#error "this is GNU MP's gmp.h, not libgmp's: put -I<repo>/include first"
#endif

/* ------------------------------------------------------------------------------------------ */
/* Small helpers                                                                               */
/* ------------------------------------------------------------------------------------------ */

static inline int64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

__attribute__((noreturn, format(printf, 1, 2)))
static void bench_die(const char *fmt, ...)
{
    va_list ap;
    fputs("bench: FATAL: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stdout);
    fflush(stderr);
    abort();
}

/* gmp_spawn, failing loudly: a benchmark must never silently do less work. */
static inline void bench_spawn(gmp_fn fn, void *arg)
{
    int64_t id = gmp_spawn(fn, arg);
    if (id <= 0)
        bench_die("gmp_spawn returned %" PRId64 " (%s)", id, strerror((int)-id));
}

/* gmp_ready, failing loudly. Every call below is made on a g that was published by its own
 * unlockf (so it is parked, or is inside gmp_park with unlockf about to return true): the
 * contract says that is a valid target, so any error here is a runtime bug, not ours. */
static inline void bench_ready(gmp_g *g)
{
    int rc = gmp_ready(g);
    if (rc != 0)
        bench_die("gmp_ready(%p) returned %d (%s) for a goroutine its unlockf had published",
                  (void *)g, rc, strerror(-rc));
}

static inline void bench_park(gmp_unlock_fn unlockf, void *lock)
{
    int rc = gmp_park(unlockf, lock);
    if (rc != 0)
        bench_die("gmp_park returned %d (%s)", rc, strerror(-rc));
}

/*
 * Command line shared by every C benchmark (and mirrored by the Go twins):
 *   PROG [procs [reps]]
 * procs defaults to GMP_MAXPROCS (or 1 if unset), reps to 5. The runtime is started here with
 * exactly `procs` Ps, and the number of Ps is read back from the runtime to be sure.
 */
typedef struct bench_opts {
    int procs;
    int reps;
} bench_opts;

static inline int bench_parse_int(const char *s, const char *what)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == 0 || *end != 0 || v < 1 || v > 1000000)
        bench_die("bad %s: '%s'", what, s);
    return (int)v;
}

static inline bench_opts bench_args(int argc, char **argv)
{
    bench_opts o = {1, 5};
    const char *env = getenv("GMP_MAXPROCS");
    if (env && *env)
        o.procs = bench_parse_int(env, "GMP_MAXPROCS");
    if (argc > 1)
        o.procs = bench_parse_int(argv[1], "procs");
    if (argc > 2)
        o.reps = bench_parse_int(argv[2], "reps");

    gmp_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.procs = (uint32_t)o.procs;
    cfg.stack_size = 0; /* GMP_STACK_SIZE or the runtime's default */
    int rc = gmp_init(&cfg);
    if (rc == -EBUSY) {
        /* Already started (nothing above should start it; be safe anyway). */
        gmp_set_procs(o.procs);
    } else if (rc != 0) {
        bench_die("gmp_init(procs=%d) returned %d (%s)", o.procs, rc, strerror(-rc));
    }
    gmp_stats st;
    memset(&st, 0, sizeof st);
    rc = gmp_stats_read(&st);
    if (rc != 0)
        bench_die("gmp_stats_read returned %d", rc);
    if ((int)st.procs != o.procs)
        bench_die("asked for %d Ps, the runtime has %u", o.procs, st.procs);
    return o;
}

/* Run fn(arg) as the main goroutine; exit non-zero if gmp_main reports a failure. */
static inline void bench_run_main(gmp_fn fn, void *arg)
{
    int rc = gmp_main(fn, arg);
    if (rc != 0)
        bench_die("gmp_main returned %d (%s)", rc, strerror(-rc));
}

/* gmp_sleep (api.md) arrives with the timers. Declared weak here so that every benchmark still
 * builds against a library that does not export it yet; those that need it (sleep.c, preempt.c
 * sleep) stop with a message then (bench_need_sleep). */
extern int gmp_sleep(int64_t ns) __attribute__((weak));
static inline void bench_need_sleep(void)
{
    if (!gmp_sleep)
        bench_die("the loaded libgmp does not export gmp_sleep (timers not merged yet)");
}

/* ------------------------------------------------------------------------------------------ */
/* bench_wg: a WaitGroup on gmp_park/gmp_ready                                                 */
/* ------------------------------------------------------------------------------------------ */
/*
 * Rules (as Go's sync.WaitGroup, restricted to what the benchmarks need):
 *   - at most ONE goroutine waits on a given wg at a time;
 *   - bench_wg_add() happens before the matching bench_wg_done() (call it before spawning);
 *   - adds do not race with a wait that may see the counter at zero (all adds of a round
 *     happen before that round's wait, e.g. in the waiter itself);
 *   - the wg may be reused for another round once bench_wg_wait() has returned, and may be
 *     freed (e.g. it lives on the waiter's stack) as soon as bench_wg_wait() has returned.
 *
 * State: one atomic word `state` = (counter << 1) | WAITER.
 *   WAITER (bit 0) is set while the waiter is parked (or parking) and the counter is > 0.
 *   `waiter` holds the parked goroutine; it is written before WAITER is set.
 *
 * Why counter and waiter flag share one word: the doer that takes the counter to zero must
 * decide "is there someone to wake?" in the SAME atomic operation that makes the zero visible.
 * With two separate words (counter, then a waiter pointer exchanged afterwards) there are two
 * bugs:
 *   (1) use-after-free: the waiter can see the zero on its fast path and return (and its
 *       stack, holding the wg, can be reused) between the doer's decrement and the doer's
 *       later access to `waiter`. skynet keeps each node's wg on the node's own stack, so
 *       this would be a real crash.
 *   (2) a stale doer from an earlier zero (counter went 1->0->1 while spawning) could take and
 *       ready a waiter that parked later, with the counter still > 0 (a spurious wake-up).
 * With one word, fetch_sub tells the doer exactly whether it brought the counter to zero AND
 * whether a waiter is parked; if not, the doer never touches the wg again.
 *
 * The race, step by step (W = waiter, D = the doer whose done brings the counter to 0):
 *   W: bench_wg_wait: load state; counter == 0 -> return (fast path; D already finished
 *      with the wg: its fetch_sub saw no WAITER bit, so it will not touch the wg).
 *   W: otherwise gmp_park(wg_unlockf). Once W is switched out, the scheduler calls
 *      wg_unlockf(W, wg), which
 *        - stores wg->waiter = W   (plain store; published by the release CAS below)
 *        - CAS loop on state: if counter == 0 -> return false: W resumes at once, and no
 *          doer will ever ready it (WAITER was never set, so every doer saw it clear);
 *          else CAS(state, s, s | WAITER) -> on success return true: W stays parked.
 *          A CAS failure means a concurrent done changed the counter: reload and retry.
 *   D: old = fetch_sub(state, 2)   (acq_rel)
 *        - old >> 1 != 1: not the last; done.
 *        - old == 2 (counter 1 -> 0, no WAITER): W has not published yet; its CAS loop will
 *          see the zero and return false. D does not touch the wg again.
 *        - old == 3 (counter 1 -> 0, WAITER set): W's CAS (release) happened before D's
 *          fetch_sub (acquire), so D sees wg->waiter == W. W cannot resume before D readies
 *          it, so reading wg->waiter is safe. D calls gmp_ready(W) and never touches the wg
 *          again. W may not be fully switched out yet (wg_unlockf may still be returning
 *          true on its scheduler): the contract makes gmp_ready valid from the moment unlockf
 *          has published W, exactly as in Go's gopark/goready.
 *   W: after gmp_park returns, the counter is 0 (the only ready comes from the doer that made
 *      it 0), state is 0 or 1 (WAITER): W stores 0 to clear the flag for the next round. No
 *      doer can touch state any more in this round, so a plain store is enough.
 *   Exactly one of {wg_unlockf returns false, D readies W} happens per park: no lost wake-up,
 *   no double wake-up, no spurious wake-up. So bench_wg_wait parks once, and treats a return
 *   from gmp_park with the counter still > 0 as a runtime bug (it aborts with a message).
 */
typedef struct bench_wg {
    _Atomic uint64_t state; /* counter << 1 | WAITER */
    gmp_g *waiter;          /* valid while WAITER is set */
} bench_wg;

#define BENCH_WG_WAITER ((uint64_t)1)
#define BENCH_WG_ONE ((uint64_t)2)
#define BENCH_WG_INIT {0, NULL}

static inline void bench_wg_init(bench_wg *wg)
{
    atomic_init(&wg->state, 0);
    wg->waiter = NULL;
}

static inline void bench_wg_add(bench_wg *wg, uint64_t n)
{
    atomic_fetch_add_explicit(&wg->state, n * BENCH_WG_ONE, memory_order_relaxed);
}

static inline void bench_wg_done(bench_wg *wg)
{
    uint64_t old = atomic_fetch_sub_explicit(&wg->state, BENCH_WG_ONE, memory_order_acq_rel);
    if (old >> 1 == 0)
        bench_die("bench_wg_done: counter went negative");
    if (old == (BENCH_WG_ONE | BENCH_WG_WAITER)) {
        /* Last done and the waiter is parked: we own the wake-up. Read waiter before the
         * ready; after gmp_ready the waiter may run and free the wg. */
        gmp_g *w = wg->waiter;
        bench_ready(w);
    }
}

/* Runs on the scheduler stack after the waiter was switched out: no gmp_* calls but ready. */
static bool bench_wg_unlockf(gmp_g *g, void *lock)
{
    bench_wg *wg = (bench_wg *)lock;
    wg->waiter = g;
    uint64_t s = atomic_load_explicit(&wg->state, memory_order_acquire);
    for (;;) {
        if (s >> 1 == 0)
            return false; /* everything already done: resume at once */
        if (s & BENCH_WG_WAITER)
            return true; /* cannot happen with one waiter; keep parked, never double-publish */
        if (atomic_compare_exchange_weak_explicit(&wg->state, &s, s | BENCH_WG_WAITER,
                                                  memory_order_acq_rel, memory_order_acquire))
            return true; /* published: the doer that reaches zero will ready us */
    }
}

static inline void bench_wg_wait(bench_wg *wg)
{
    uint64_t s = atomic_load_explicit(&wg->state, memory_order_acquire);
    if (s >> 1 == 0)
        return; /* fast path: all done (and no WAITER bit: we are the only waiter) */
    bench_park(bench_wg_unlockf, wg);
    s = atomic_load_explicit(&wg->state, memory_order_acquire);
    if (s >> 1 != 0)
        /* Only the doer that reaches zero readies us, and unlockf returns false only at
         * zero: waking with work outstanding means the runtime resumed a parked goroutine
         * that nobody readied. Report it rather than paper over it. */
        bench_die("bench_wg_wait: woken from gmp_park with counter %" PRIu64
                  " (spurious wake-up: runtime bug)", s >> 1);
    if (s != 0)
        atomic_store_explicit(&wg->state, 0, memory_order_relaxed); /* clear WAITER */
}

/* ------------------------------------------------------------------------------------------ */
/* bench_slot: a one-slot hand-off (ping-pong)                                                 */
/* ------------------------------------------------------------------------------------------ */
/*
 * One sender, one receiver, one value in flight (a Go channel of capacity 1 used in strict
 * alternation, which is all ping-pong needs; a put into a full slot is a usage error).
 *
 * state: EMPTY, FULL (val holds a value), or WAITING (empty, and the receiver is parked or
 * parking; `waiter` holds it).
 *
 *   bench_slot_get (receiver R):
 *     loop: s = load(state) (acquire)
 *           FULL    -> v = val; store(state, EMPTY) (release); return v
 *           EMPTY   -> gmp_park(slot_unlockf)
 *     slot_unlockf(R) on the scheduler stack: waiter = R; CAS(state, EMPTY -> WAITING)
 *           (release, so the sender sees waiter). Success: return true (R stays parked; the
 *           sender now owns the wake-up). Failure: the state is FULL (the sender put a value
 *           between R's check and here): return false, R resumes at once and takes it.
 *   bench_slot_put (sender S, v):
 *     val = v; old = exchange(state, FULL) (acq_rel: publishes val, and acquires waiter)
 *           EMPTY   -> R has not parked; it will see FULL (its CAS fails, or its first load).
 *           WAITING -> R is parked (or its unlockf is returning true): S reads waiter and
 *                      readies it. R cannot resume before that, so waiter is stable, and
 *                      after gmp_ready S no longer touches the slot.
 *           FULL    -> two puts without a get: usage error, abort.
 * Exactly one wake-up per park, never lost: the receiver's publication (EMPTY -> WAITING)
 * and the sender's (-> FULL) are both single RMWs on the same word, so one of them comes
 * first and the second one sees it.
 * So the receiver parks at most once per get; waking without a value aborts (runtime bug).
 * From a goroutine, gmp_ready makes R run next on S's processor, as Go's goready does for a
 * channel receiver: that is the hand-off ping-pong measures.
 */
enum { BENCH_SLOT_EMPTY = 0, BENCH_SLOT_FULL = 1, BENCH_SLOT_WAITING = 2 };

typedef struct bench_slot {
    _Atomic int state;
    int64_t val;
    gmp_g *waiter;
} bench_slot;

static inline void bench_slot_init(bench_slot *s)
{
    atomic_init(&s->state, BENCH_SLOT_EMPTY);
    s->val = 0;
    s->waiter = NULL;
}

static inline void bench_slot_put(bench_slot *s, int64_t v)
{
    s->val = v;
    int old = atomic_exchange_explicit(&s->state, BENCH_SLOT_FULL, memory_order_acq_rel);
    if (old == BENCH_SLOT_WAITING) {
        gmp_g *w = s->waiter;
        bench_ready(w);
    } else if (old != BENCH_SLOT_EMPTY) {
        bench_die("bench_slot_put: slot already full");
    }
}

static bool bench_slot_unlockf(gmp_g *g, void *lock)
{
    bench_slot *s = (bench_slot *)lock;
    s->waiter = g;
    int expected = BENCH_SLOT_EMPTY;
    return atomic_compare_exchange_strong_explicit(&s->state, &expected, BENCH_SLOT_WAITING,
                                                   memory_order_acq_rel, memory_order_acquire);
}

static inline int64_t bench_slot_get(bench_slot *s)
{
    int st = atomic_load_explicit(&s->state, memory_order_acquire);
    if (st == BENCH_SLOT_WAITING)
        bench_die("bench_slot_get: two receivers on one slot");
    if (st == BENCH_SLOT_EMPTY) {
        bench_park(bench_slot_unlockf, s);
        st = atomic_load_explicit(&s->state, memory_order_acquire);
        if (st != BENCH_SLOT_FULL)
            /* Woken (or unlockf said "don't park") without a value: only a put readies us,
             * after making the slot FULL, so this is a runtime bug. */
            bench_die("bench_slot_get: woken from gmp_park with the slot %s "
                      "(spurious wake-up: runtime bug)",
                      st == BENCH_SLOT_WAITING ? "still WAITING" : "EMPTY");
    }
    int64_t v = s->val;
    atomic_store_explicit(&s->state, BENCH_SLOT_EMPTY, memory_order_release);
    return v;
}

/* ------------------------------------------------------------------------------------------ */
/* The runtime's channels and mutex, checked                                                   */
/* ------------------------------------------------------------------------------------------ */
/*
 * Thin wrappers over gmp_chan_* (elements are int64_t) and gmp_mutex_* for the benchmarks that
 * measure them. Any unexpected return aborts with the call and the error: a benchmark must
 * never count an operation that did not happen (until the implementation lands they return
 * -ENOSYS, and the first call stops the program with a message).
 */
static inline gmp_chan *bench_chan_new(size_t cap)
{
    gmp_chan *c = NULL;
    int rc = gmp_chan_new(sizeof(int64_t), cap, &c);
    if (rc != 0 || c == NULL)
        bench_die("gmp_chan_new(8, %zu) returned %d (%s)", cap, rc, strerror(-rc));
    return c;
}

static inline void bench_chan_send(gmp_chan *c, int64_t v)
{
    int rc = gmp_chan_send(c, &v);
    if (rc != 0)
        bench_die("gmp_chan_send returned %d (%s)", rc, strerror(-rc));
}

/* A value (1); the channel must not be closed. */
static inline int64_t bench_chan_recv(gmp_chan *c)
{
    int64_t v = 0;
    int rc = gmp_chan_recv(c, &v);
    if (rc != 1)
        bench_die("gmp_chan_recv returned %d (%s), want 1 (a value)", rc,
                  rc < 0 ? strerror(-rc) : "closed and drained");
    return v;
}

/* `v, ok := <-c`: true with a value in *v, false once the channel is closed and drained. */
static inline bool bench_chan_recv_ok(gmp_chan *c, int64_t *v)
{
    int rc = gmp_chan_recv(c, v);
    if (rc < 0 || rc > 1)
        bench_die("gmp_chan_recv returned %d (%s)", rc, rc < 0 ? strerror(-rc) : "?");
    return rc == 1;
}

static inline void bench_chan_close(gmp_chan *c)
{
    int rc = gmp_chan_close(c);
    if (rc != 0)
        bench_die("gmp_chan_close returned %d (%s)", rc, strerror(-rc));
}

/* Called once nobody can be blocked on c any more: -EBUSY here is a runtime bug. */
static inline void bench_chan_free(gmp_chan *c)
{
    int rc = gmp_chan_free(c);
    if (rc != 0)
        bench_die("gmp_chan_free returned %d (%s) with nobody left blocked on the channel", rc,
                  strerror(-rc));
}

static inline void bench_mutex_lock(gmp_mutex *m)
{
    int rc = gmp_mutex_lock(m);
    if (rc != 0)
        bench_die("gmp_mutex_lock returned %d (%s)", rc, strerror(-rc));
}

static inline void bench_mutex_unlock(gmp_mutex *m)
{
    int rc = gmp_mutex_unlock(m);
    if (rc != 0)
        bench_die("gmp_mutex_unlock returned %d (%s)", rc, strerror(-rc));
}

/* ------------------------------------------------------------------------------------------ */
/* Scheduler counters per operation (BENCH_STATS=1)                                            */
/* ------------------------------------------------------------------------------------------ */
/*
 * With BENCH_STATS=1 in the environment, the channel and mutex benchmarks print, after each
 * timed repetition, the growth of gmp_stats' cumulative counters divided by the repetition's
 * operations to stderr (outside the timed region), e.g.
 *   stats: chanbuf pairs=1 ops=2000000 schedules/op=0.120 steals/op=0.010 ...
 * For finding where the time goes; bench/run.sh never sets it.
 */
static inline bool bench_stats_on(void)
{
    static int on = -1;
    if (on < 0) {
        const char *e = getenv("BENCH_STATS");
        on = e && *e && strcmp(e, "0") != 0;
    }
    return on;
}

static inline void bench_stats_snap(gmp_stats *st)
{
    memset(st, 0, sizeof *st);
    if (bench_stats_on() && gmp_stats_read(st) != 0)
        bench_die("gmp_stats_read failed");
}

static inline void bench_stats_print(const char *label, const gmp_stats *a, const gmp_stats *b,
                                     int64_t ops)
{
    if (!bench_stats_on())
        return;
    double n = (double)ops;
    fprintf(stderr,
            "stats: %s ops=%" PRId64 " schedules/op=%.3f steals/op=%.3f yields/op=%.3f"
            " spawned/op=%.3f preemptions=%" PRIu64 " syscall_retakes=%" PRIu64
            " threads=%u\n",
            label, ops, (double)(b->schedules - a->schedules) / n,
            (double)(b->steals - a->steals) / n, (double)(b->yields - a->yields) / n,
            (double)(b->spawned - a->spawned) / n, b->preemptions - a->preemptions,
            b->syscall_retakes - a->syscall_retakes, b->threads);
}

#endif /* BENCH_COMMON_H */
