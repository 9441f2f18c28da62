/*
 * t_storm: a randomized storm of everything that moves goroutines between Ps and Ms at once,
 * with exact counts at the end and a stall watchdog that names what got lost.
 *
 * Usage: t_storm [SECONDS [SEED]]  (or STORM_SECONDS, STORM_SEED in the environment; argv
 * wins). Defaults: 2 seconds, a seed from the clock. The seed is printed; replaying a failure
 * with it repeats every random choice the actors make (not the threads' interleaving, so a
 * replay reproduces the same load, not the same run). STORM_STALL (seconds, default 10): the
 * stall threshold. STORM_TRACE=0: no scheduler snapshot (see below). STORM_MALLOC=1 adds
 * (the default) malloc/free churn to the CPU-bound work, STORM_MALLOC=0 leaves it out (see "Malloc
 * churn", below).
 * STORM_GDB=1: on a stall, also print every thread's stack (gdb -p).
 *
 * The parent never starts the runtime: it runs the storm once in a child process (this
 * program with the argument "child"), with GMP_DEBUG=schedtrace=1000,scheddetail=1 so that
 * sysmon prints a scheduler snapshot (every P, M and live G) each second into a pipe. The
 * parent keeps the latest snapshot and, if the child fails, prints the child's own messages
 * followed by that snapshot: a goroutine lost in the scheduler shows there as `runnable` with
 * its id, which the stall report names. A child still running at SECONDS + STALL + 60 s is
 * killed (a wedge the child's own watchdog could not report).
 *
 * The storm, inside gmp_main, until SECONDS have passed (each actor draws from its own PRNG,
 * seeded from SEED and its index):
 *  - burners (goroutines): bursts of pure C arithmetic lasting 11-25 ms of wall time, so
 *    sysmon (10 ms slices) and shrinking gmp_set_procs calls preempt them asynchronously all
 *    the time (with STORM_MALLOC=1, half the bursts are malloc/free churn instead: preemption
 *    then lands inside malloc, with its arena lock held). An arithmetic burst checks its LCG
 *    state against the closed form (lcg_jump) and a float count against its iteration count
 *    (registers survive preemption); every burst checks it ended on the thread it started on
 *    (asynchronous preemption never moves a goroutine).
 *  - setters: goroutines and plain threads calling gmp_set_procs(random 1..8), with random
 *    pauses of up to 0.5 ms; goroutine setters sometimes call it with their thread locked.
 *    Every return value must be a count some setter set, or the starting count.
 *  - chains: rings of CHAIN_LEN members passing one token (gmp_park / gmp_ready: each hop is
 *    one member readying the next). One member of chain 0 is a plain thread (it waits on a
 *    futex and readies its successor from thread context: the global queue + an idle P).
 *    Goroutine members sometimes hold their thread locked across the wait (stoplockedm /
 *    startlockedm) and check they resume on it. Each hop is counted by sender and receiver.
 *  - spawners: goroutines and plain threads, each spawning batches of 1-64 goroutines and
 *    waiting for the batch (a wait group). Each spawnee sets its bit in the batch's `started`
 *    mask (a bit already set = ran twice: fail), does one random thing (nothing, gosched,
 *    a syscall bracket, a locked-thread gosched, a short burn or, with STORM_MALLOC=1,
 *    malloc churn) and sets its bit in `finished`.
 *  - yielders: gmp_gosched loops, sometimes with the thread locked (tid checked).
 *  - syscallers: gmp_entersyscall / nanosleep(0-200 us) / gmp_exitsyscall, sometimes locked.
 *  - lockers: gmp_lock_thread, then a random mix of gosched, syscall brackets and burns of up
 *    to 15 ms (an asynchronous preemption of a goroutine locked by the program), checking the
 *    thread id stays put, then gmp_unlock_thread.
 * Then every actor winds down (a chain stops by passing a poisoned token round once) and the
 * main goroutine checks, exactly: every chain's hops sent == received == the token's count;
 * every batch's masks are full; the totals spawned == started == finished; every burst's
 * registers; every setter's return values. After gmp_main: gmp_set_procs restores the
 * starting count, and the runtime's live goroutine count drops to 0 (polled with a deadline:
 * a goroutine's end is counted just after its last user code).
 *
 * The stall watchdog (a plain thread of the child, polling every 100 ms): every actor bumps
 * its progress counter each time it completes a step (a chain: each hop received; a spawner:
 * each batch; a setter: each call). If one actor's counter stays put for STALL seconds, the
 * watchdog prints "t_storm: STALL: ..." with each actor's state — for a chain, which member
 * (and goroutine id) the token was sent to; for a spawner, which spawnees (ids) never started
 * or never finished — and gmp_stats, then exits with status 3. So does a main goroutine that
 * has not finished its checks STALL seconds after every actor ended. A lost goroutine thus
 * fails in about STALL seconds with its id, instead of run.sh's 120 s timeout.
 *
 * Found: a goroutine setter stuck for good in a shrinking gmp_set_procs after another setter
 * raised the count again (it waited for Ps that were live again, its own among them), in most
 * runs. A scheduler snapshot showed it `runnable` in no run queue with an M spinning (caught
 * inside its own gosched loop: taken off the global queue, its M waking a spinner before
 * running it again), so it looked lost; the stall report's "gmp_set_procs" and the millions of
 * yields in the stats told the truth. See wait_retired in sched/schedinit.rs and
 * t_set_procs_regrow.c.
 *
 * Malloc churn (on unless STORM_MALLOC=0): a goroutine preempted inside malloc keeps that
 * arena's lock while it waits for a P. Before issue 7's fix about 1 run in 15 froze the whole
 * runtime: an M that needed a new thread (startm -> newm: Box::new, then pthread_create's
 * calloc) blocked on the same lock while holding the P that goroutine needed. Now only the
 * template thread creates Ms and runtime records come from persistent memory, so the churn
 * stays on to keep that fixed.
 */
/* The storm has its own watchdogs (the child's stall watchdog and the parent's deadline);
 * the harness's fixed one would cut a long soak run short. */
#define H_WATCHDOG_SECS (7 * 24 * 3600)
#include "harness.h"

#ifndef NBURN
#define NBURN 3
#endif
#ifndef NGSET
#define NGSET 2
#endif
#ifndef NTSET
#define NTSET 2
#endif
#ifndef NCHAIN
#define NCHAIN 3
#endif
#ifndef CHAIN_LEN
#define CHAIN_LEN 4
#endif
#ifndef NGSPAWN
#define NGSPAWN 2
#endif
#ifndef NTSPAWN
#define NTSPAWN 2
#endif
#ifndef NYIELD
#define NYIELD 2
#endif
#ifndef NSYSC
#define NSYSC 2
#endif
#ifndef NLOCK
#define NLOCK 2
#endif
#ifndef MAXPROCS_SET
#define MAXPROCS_SET 8
#endif
#ifndef SET_PAUSE_US
#define SET_PAUSE_US 500 /* the longest pause between a setter's calls */
#endif
#define MAXBATCH 64

#define LCG_A 6364136223846793005ULL
#define LCG_C 1442695040888963407ULL

/* ------------------------------------------------------------------ settings */

static double seconds = 2.0;
static bool malloc_churn; /* STORM_MALLOC=1 */
static uint64_t seed;
static int stall_secs = 10;
static int orig_procs;

/* ------------------------------------------------------------------ PRNG (splitmix64) */

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t rng_next(rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in [lo, hi]. */
static uint32_t rng_range(rng *r, uint32_t lo, uint32_t hi)
{
    return lo + (uint32_t)(rng_next(r) % (uint64_t)(hi - lo + 1));
}

static rng rng_for(uint64_t a, uint64_t b, uint64_t c)
{
    rng r = {seed ^ (a * 0x100000001b3ULL) ^ (b << 20) ^ (c << 40)};
    rng_next(&r);
    return r;
}

/* ------------------------------------------------------------------ actors and progress */

/* What each actor is doing, for the stall report. `what` points at a string literal. */
typedef struct actor {
    char name[32];
    H_ATOMIC(uint64_t) progress;
    H_ATOMIC(int) done;
    H_ATOMIC(const char *) what;
    H_ATOMIC(int64_t) goid; /* the actor's own goroutine id, 0 for a plain thread */
    /* watchdog's own bookkeeping */
    uint64_t seen;
    int64_t seen_at;
} actor;

#define MAXACTORS 64
static actor actors[MAXACTORS];
static int nactors;
static H_ATOMIC(int) stop;
static H_ATOMIC(int) finished; /* the main goroutine's checks are done: the watchdog stops */
static wg_t all_wg;

static actor *actor_new(const char *fmt, int i)
{
    CHECK(nactors < MAXACTORS, "too many actors");
    actor *a = &actors[nactors++];
    snprintf(a->name, sizeof a->name, fmt, i);
    atomic_store(&a->what, "starting");
    return a;
}

static void actor_begin(actor *a) { atomic_store(&a->goid, gmp_goid(NULL)); }
static void step(actor *a) { atomic_fetch_add_explicit(&a->progress, 1, memory_order_relaxed); }
static void doing(actor *a, const char *w) { atomic_store_explicit(&a->what, w, memory_order_relaxed); }
static bool stopping(void) { return atomic_load_explicit(&stop, memory_order_relaxed) != 0; }

static void actor_end(actor *a)
{
    doing(a, "done");
    atomic_store(&a->done, 1);
    wg_done(&all_wg);
}

/* ------------------------------------------------------------------ shared helpers */

static uint64_t lcg_jump(uint64_t x, uint64_t k)
{
    uint64_t a = LCG_A, c = LCG_C;
    while (k) {
        if (k & 1) x = a * x + c;
        c = a * c + c;
        a = a * a;
        k >>= 1;
    }
    return x;
}

/* Pure C arithmetic for `ns` of wall time: an asynchronous preemption target when ns > 10 ms.
 * Checks the registers and the thread afterwards. Returns the iterations. */
static uint64_t burn(uint64_t x0, int64_t ns)
{
    pid_t tid0 = h_gettid();
    int64_t end = h_now_ns() + ns;
    uint64_t x = x0, k = 0;
    double d = 0.0;
    for (;;) {
        for (int i = 0; i < 1024; i++) {
            x = x * LCG_A + LCG_C;
            d += 1.0;
        }
        k += 1024;
        if (h_now_ns() >= end) break;
    }
    CHECK(x == lcg_jump(x0, k), "burn: LCG state %llx after %llu iterations, want %llx",
          (unsigned long long)x, (unsigned long long)k, (unsigned long long)lcg_jump(x0, k));
    CHECK(d == (double)k, "burn: float count %.17g after %llu iterations", d,
          (unsigned long long)k);
    pid_t tid1 = h_gettid();
    CHECK(tid0 == tid1, "burn: started on thread %d, ended on %d (preemption moved it)",
          (int)tid0, (int)tid1);
    return k;
}

/* malloc/free churn for `ns` of wall time: preemption then often lands inside malloc, with
 * its arena lock held (the thread must then not be reused for anything that takes it). Each
 * block is filled and checked before it is freed. */
static void churn(uint64_t x0, int64_t ns)
{
    pid_t tid0 = h_gettid();
    int64_t end = h_now_ns() + ns;
    uint64_t x = x0;
    void *keep[8] = {0};
    do {
        for (int i = 0; i < 64; i++) {
            x = x * LCG_A + LCG_C;
            size_t n = 16 + (size_t)((x >> 33) % 65536);
            int slot = (int)((x >> 20) & 7);
            if (keep[slot]) {
                unsigned char *b = (unsigned char *)keep[slot];
                CHECK(b[0] == (unsigned char)slot && b[1] == 0x5a, "churn: block corrupted");
                free(keep[slot]);
            }
            unsigned char *b = (unsigned char *)malloc(n);
            CHECK(b != NULL, "malloc(%zu)", n);
            memset(b, 0x5a, n);
            b[0] = (unsigned char)slot;
            keep[slot] = b;
        }
    } while (h_now_ns() < end);
    for (int i = 0; i < 8; i++) free(keep[i]);
    CHECK(h_gettid() == tid0, "churn: started on thread %d, ended on %d (preemption moved it)",
          (int)tid0, (int)h_gettid());
}

static void nap_ns(int64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* A syscall bracket around a short nanosleep (the P may be retaken meanwhile). */
static void syscall_nap(int64_t ns)
{
    gmp_entersyscall();
    nap_ns(ns);
    gmp_exitsyscall();
}

static void lock_thread(void) { CHECK_EQ(gmp_lock_thread(), 0); }
static void unlock_thread(void) { CHECK_EQ(gmp_unlock_thread(), 0); }

static H_ATOMIC(uint64_t) total_bursts, total_yields, total_syscalls, total_locked;

/* ------------------------------------------------------------------ burners */

typedef struct burner {
    actor *a;
    int i;
} burner;
static burner burners[NBURN];

static void burner_fn(void *arg)
{
    burner *b = (burner *)arg;
    actor_begin(b->a);
    rng r = rng_for(1, (uint64_t)b->i, 0);
    while (!stopping()) {
        int64_t ns = (int64_t)rng_range(&r, 11, 25) * 1000000;
        if (!malloc_churn || rng_range(&r, 0, 1) == 0) {
            doing(b->a, "burning");
            burn(rng_next(&r), ns);
        } else {
            doing(b->a, "malloc churn");
            churn(rng_next(&r), ns);
        }
        atomic_fetch_add(&total_bursts, 1);
        step(b->a);
        if (rng_range(&r, 0, 3) == 0) {
            doing(b->a, "gosched");
            gmp_gosched();
        }
    }
    actor_end(b->a);
}

/* ------------------------------------------------------------------ setters */

typedef struct setter {
    actor *a;
    int i;
    bool thread;
    uint64_t calls;
} setter;
static setter setters[NGSET + NTSET];
static pthread_t setter_threads[NTSET];

static void set_loop(setter *s)
{
    rng r = rng_for(2, (uint64_t)s->i, 0);
    while (!stopping()) {
        int n = (int)rng_range(&r, 1, MAXPROCS_SET);
        bool locked = !s->thread && rng_range(&r, 0, 7) == 0;
        if (locked) lock_thread();
        pid_t tid0 = h_gettid();
        doing(s->a, "gmp_set_procs");
        int prev = gmp_set_procs(n);
        CHECK((prev >= 1 && prev <= MAXPROCS_SET) || prev == orig_procs,
              "%s: gmp_set_procs(%d) returned %d (start %d)", s->a->name, n, prev, orig_procs);
        if (locked) {
            CHECK(h_gettid() == tid0, "%s: locked goroutine moved from thread %d to %d",
                  s->a->name, (int)tid0, (int)h_gettid());
            unlock_thread();
        }
        s->calls++;
        step(s->a);
        doing(s->a, "pausing");
        int64_t pause = (int64_t)rng_range(&r, 0, SET_PAUSE_US) * 1000;
        if (s->thread) {
            nap_ns(pause);
        } else if (rng_range(&r, 0, 1) == 0) {
            burn(rng_next(&r), pause);
        } else {
            gmp_gosched();
        }
    }
}

static void gsetter_fn(void *arg)
{
    setter *s = (setter *)arg;
    actor_begin(s->a);
    set_loop(s);
    actor_end(s->a);
}

static void *tsetter_fn(void *arg)
{
    setter *s = (setter *)arg;
    CHECK(gmp_self() == NULL, "a plain thread is in goroutine context");
    set_loop(s);
    actor_end(s->a);
    return NULL;
}

/* ------------------------------------------------------------------ chains */

typedef struct chain {
    actor *a; /* the chain's progress: hops received */
    int i;
    ev_t ev[CHAIN_LEN];
    H_ATOMIC(uint64_t) token; /* hops so far: bumped by each sender */
    H_ATOMIC(uint64_t) sent, recvd;
    H_ATOMIC(int) to;       /* the member the token was last sent to */
    H_ATOMIC(int) poisoner; /* -1, or the member that started the wind-down */
    H_ATOMIC(int64_t) member_goid[CHAIN_LEN];
    H_ATOMIC(const char *) member_what[CHAIN_LEN];
    H_ATOMIC(int) exited;
} chain;
static chain chains[NCHAIN];
static pthread_t chain_thread;

typedef struct member {
    chain *c;
    int j;
} member;
static member members[NCHAIN][CHAIN_LEN];

static void send_token(chain *c, int from)
{
    int to = (from + 1) % CHAIN_LEN;
    atomic_fetch_add(&c->token, 1);
    atomic_fetch_add(&c->sent, 1);
    atomic_store(&c->to, to);
    ev_set(&c->ev[to]);
}

static bool is_thread_member(int ci, int j) { return ci == 0 && j == 0; }

static void member_loop(member *m)
{
    chain *c = m->c;
    int j = m->j;
    bool thread = is_thread_member(c->i, j);
    rng r = rng_for(3, (uint64_t)c->i, (uint64_t)j);
    atomic_store(&c->member_goid[j], gmp_goid(NULL));
    for (;;) {
        bool locked = !thread && rng_range(&r, 0, 3) == 0;
        if (locked) lock_thread();
        pid_t tid0 = h_gettid();
        atomic_store(&c->member_what[j], locked ? "waiting for the token (locked)"
                                                : "waiting for the token");
        ev_wait(&c->ev[j]);
        atomic_store(&c->member_what[j], "holding the token");
        if (locked) {
            CHECK(h_gettid() == tid0, "chain %d member %d: locked goroutine moved from thread "
                  "%d to %d across gmp_park", c->i, j, (int)tid0, (int)h_gettid());
            unlock_thread();
        }
        /* Re-arm before the token moves on: the next ev_set on ev[j] comes only after it has
         * gone round the ring. */
        ev_init(&c->ev[j]);
        atomic_fetch_add(&c->recvd, 1);
        step(c->a);
        int p = atomic_load(&c->poisoner);
        if (p == j) break; /* the poisoned token came back round: every other member left */
        if (p >= 0) {
            send_token(c, j); /* pass the poison on and leave */
            break;
        }
        if (stopping()) {
            atomic_store(&c->poisoner, j);
            send_token(c, j);
            continue; /* wait for it to come back */
        }
        if (!thread) {
            switch (rng_range(&r, 0, 5)) {
            case 0: gmp_gosched(); break;
            case 1: burn(rng_next(&r), (int64_t)rng_range(&r, 0, 200) * 1000); break;
            case 2: syscall_nap((int64_t)rng_range(&r, 0, 100) * 1000); break;
            default: break;
            }
        }
        send_token(c, j);
    }
    atomic_store(&c->member_what[j], "exited");
    if (atomic_fetch_add(&c->exited, 1) + 1 == CHAIN_LEN) actor_end(c->a);
}

static void member_fn(void *arg) { member_loop((member *)arg); }

static void *member_thread_fn(void *arg)
{
    CHECK(gmp_self() == NULL, "a plain thread is in goroutine context");
    member_loop((member *)arg);
    return NULL;
}

/* ------------------------------------------------------------------ spawners */

typedef struct spawner spawner;
typedef struct sarg {
    spawner *s;
    int j;
    uint64_t rseed;
} sarg;

struct spawner {
    actor *a;
    int i;
    bool thread;
    wg_t wg;
    uint64_t batch;
    H_ATOMIC(int) n;                 /* this batch's size */
    H_ATOMIC(uint64_t) started;      /* bit j: spawnee j of this batch has started */
    H_ATOMIC(uint64_t) done;         /* bit j: ... has finished */
    H_ATOMIC(int64_t) goid[MAXBATCH]; /* ids gmp_spawn returned */
    sarg args[MAXBATCH];
    uint64_t spawned, nstarted, nfinished;
};
static spawner spawners[NGSPAWN + NTSPAWN];
static pthread_t spawner_threads[NTSPAWN];
static H_ATOMIC(uint64_t) total_spawned, total_started, total_finished;

static void spawnee_fn(void *arg)
{
    sarg *sa = (sarg *)arg;
    spawner *s = sa->s;
    uint64_t bit = 1ULL << sa->j;
    rng r = {sa->rseed};
    uint64_t old = atomic_fetch_or(&s->started, bit);
    CHECK(!(old & bit), "%s batch %llu: spawnee %d (goroutine %lld) ran twice", s->a->name,
          (unsigned long long)s->batch, sa->j, (long long)gmp_goid(NULL));
    atomic_fetch_add(&total_started, 1);
    switch (rng_range(&r, 0, 8)) {
    case 0:
    case 1:
    case 2: break;
    case 3:
        for (uint32_t k = rng_range(&r, 1, 5); k > 0; k--) gmp_gosched();
        break;
    case 4: syscall_nap((int64_t)rng_range(&r, 0, 100) * 1000); break;
    case 5: {
        lock_thread();
        pid_t tid0 = h_gettid();
        gmp_gosched();
        CHECK(h_gettid() == tid0, "spawnee: locked goroutine moved from thread %d to %d",
              (int)tid0, (int)h_gettid());
        unlock_thread();
        break;
    }
    case 6:
        if (malloc_churn) {
            churn(rng_next(&r), (int64_t)rng_range(&r, 0, 2000) * 1000);
            break;
        }
        /* fall through */
    default: burn(rng_next(&r), (int64_t)rng_range(&r, 0, 2000) * 1000); break;
    }
    atomic_fetch_add(&total_finished, 1);
    atomic_fetch_or(&s->done, bit);
    wg_done(&s->wg); /* s->args may be reused from here on: touch nothing after */
}

static void spawn_loop(spawner *s)
{
    rng r = rng_for(4, (uint64_t)s->i, 0);
    while (!stopping()) {
        int n = (int)rng_range(&r, 1, MAXBATCH);
        wg_init(&s->wg);
        wg_add(&s->wg, n);
        atomic_store(&s->started, (uint64_t)0);
        atomic_store(&s->done, (uint64_t)0);
        for (int j = 0; j < MAXBATCH; j++) atomic_store(&s->goid[j], (int64_t)0);
        atomic_store(&s->n, n);
        doing(s->a, "spawning a batch");
        for (int j = 0; j < n; j++) {
            s->args[j] = (sarg){s, j, rng_next(&r)};
            int64_t id = h_spawn(spawnee_fn, &s->args[j]);
            atomic_store(&s->goid[j], id);
            s->spawned++;
            atomic_fetch_add(&total_spawned, 1);
        }
        doing(s->a, "waiting for its batch");
        wg_wait(&s->wg);
        uint64_t all = n == 64 ? ~0ULL : (1ULL << n) - 1;
        CHECK(atomic_load(&s->started) == all && atomic_load(&s->done) == all,
              "%s batch %llu: started %llx finished %llx, want %llx", s->a->name,
              (unsigned long long)s->batch, (unsigned long long)atomic_load(&s->started),
              (unsigned long long)atomic_load(&s->done), (unsigned long long)all);
        s->nstarted += (uint64_t)n;
        s->nfinished += (uint64_t)n;
        s->batch++;
        step(s->a);
    }
    atomic_store(&s->n, 0);
}

static void gspawner_fn(void *arg)
{
    spawner *s = (spawner *)arg;
    actor_begin(s->a);
    spawn_loop(s);
    actor_end(s->a);
}

static void *tspawner_fn(void *arg)
{
    spawner *s = (spawner *)arg;
    CHECK(gmp_self() == NULL, "a plain thread is in goroutine context");
    spawn_loop(s);
    actor_end(s->a);
    return NULL;
}

/* ------------------------------------------------------------------ yielders, syscallers, lockers */

typedef struct simple {
    actor *a;
    int i;
} simple;
static simple yielders[NYIELD], syscallers[NSYSC], lockers[NLOCK];

static void yielder_fn(void *arg)
{
    simple *y = (simple *)arg;
    actor_begin(y->a);
    rng r = rng_for(5, (uint64_t)y->i, 0);
    while (!stopping()) {
        bool locked = rng_range(&r, 0, 7) == 0;
        if (locked) lock_thread();
        pid_t tid0 = h_gettid();
        doing(y->a, locked ? "gosched loop (locked)" : "gosched loop");
        for (uint32_t k = rng_range(&r, 1, 50); k > 0; k--) {
            gmp_gosched();
            atomic_fetch_add_explicit(&total_yields, 1, memory_order_relaxed);
        }
        if (locked) {
            CHECK(h_gettid() == tid0, "yielder: locked goroutine moved from thread %d to %d",
                  (int)tid0, (int)h_gettid());
            unlock_thread();
        }
        step(y->a);
    }
    actor_end(y->a);
}

static void syscaller_fn(void *arg)
{
    simple *y = (simple *)arg;
    actor_begin(y->a);
    rng r = rng_for(6, (uint64_t)y->i, 0);
    while (!stopping()) {
        bool locked = rng_range(&r, 0, 3) == 0;
        if (locked) lock_thread();
        pid_t tid0 = h_gettid();
        doing(y->a, locked ? "syscall bracket (locked)" : "syscall bracket");
        syscall_nap((int64_t)rng_range(&r, 0, 200) * 1000);
        atomic_fetch_add(&total_syscalls, 1);
        if (locked) {
            CHECK(h_gettid() == tid0, "syscaller: locked goroutine moved from thread %d to %d",
                  (int)tid0, (int)h_gettid());
            unlock_thread();
        }
        if (rng_range(&r, 0, 3) == 0) burn(rng_next(&r), (int64_t)rng_range(&r, 0, 300) * 1000);
        step(y->a);
    }
    actor_end(y->a);
}

static void locker_fn(void *arg)
{
    simple *y = (simple *)arg;
    actor_begin(y->a);
    rng r = rng_for(7, (uint64_t)y->i, 0);
    while (!stopping()) {
        lock_thread();
        pid_t tid0 = h_gettid();
        for (uint32_t k = rng_range(&r, 1, 4); k > 0; k--) {
            switch (rng_range(&r, 0, 2)) {
            case 0:
                doing(y->a, "locked: gosched");
                gmp_gosched();
                break;
            case 1:
                doing(y->a, "locked: syscall bracket");
                syscall_nap((int64_t)rng_range(&r, 0, 200) * 1000);
                break;
            default:
                doing(y->a, "locked: burning");
                burn(rng_next(&r), (int64_t)rng_range(&r, 0, 15) * 1000000);
                break;
            }
            CHECK(h_gettid() == tid0, "locker: locked goroutine moved from thread %d to %d",
                  (int)tid0, (int)h_gettid());
        }
        unlock_thread();
        atomic_fetch_add(&total_locked, 1);
        step(y->a);
        doing(y->a, "unlocked: gosched");
        gmp_gosched();
    }
    actor_end(y->a);
}

/* ------------------------------------------------------------------ the stall watchdog */

static void print_stats(const char *when)
{
    gmp_stats s;
    memset(&s, 0, sizeof s);
    int r = gmp_stats_read(&s);
    fprintf(stderr,
            "t_storm: stats %s: read=%d goroutines=%llu procs=%u threads=%u idle_threads=%u "
            "spinning_threads=%u global_runq=%llu spawned=%llu schedules=%llu steals=%llu "
            "yields=%llu preemptions=%llu syscall_retakes=%llu\n",
            when, r, (unsigned long long)s.goroutines, s.procs, s.threads, s.idle_threads,
            s.spinning_threads, (unsigned long long)s.global_runq,
            (unsigned long long)s.spawned, (unsigned long long)s.schedules,
            (unsigned long long)s.steals, (unsigned long long)s.yields,
            (unsigned long long)s.preemptions, (unsigned long long)s.syscall_retakes);
}

static void report_actor(actor *a, int64_t now)
{
    fprintf(stderr, "  %-12s goroutine %-6lld progress %-8llu (%.1f s ago) %s: %s\n", a->name,
            (long long)atomic_load(&a->goid), (unsigned long long)atomic_load(&a->progress),
            (double)(now - a->seen_at) / 1e9, atomic_load(&a->done) ? "done" : "active",
            atomic_load(&a->what));
    if (atomic_load(&a->done)) return; /* the details below matter only for the active */
    for (int c = 0; c < NCHAIN; c++) {
        chain *ch = &chains[c];
        if (ch->a != a) continue;
        int to = atomic_load(&ch->to);
        fprintf(stderr,
                "    token: %llu hops, sent %llu, received %llu; last sent to member %d "
                "(goroutine %lld, %s); poisoner %d, exited %d\n",
                (unsigned long long)atomic_load(&ch->token),
                (unsigned long long)atomic_load(&ch->sent),
                (unsigned long long)atomic_load(&ch->recvd), to,
                (long long)atomic_load(&ch->member_goid[to]), atomic_load(&ch->member_what[to]),
                atomic_load(&ch->poisoner), atomic_load(&ch->exited));
        for (int j = 0; j < CHAIN_LEN; j++)
            fprintf(stderr, "    member %d: goroutine %lld: %s\n", j,
                    (long long)atomic_load(&ch->member_goid[j]),
                    atomic_load(&ch->member_what[j]));
    }
    for (int i = 0; i < NGSPAWN + NTSPAWN; i++) {
        spawner *s = &spawners[i];
        if (s->a != a) continue;
        int n = atomic_load(&s->n);
        uint64_t st = atomic_load(&s->started), dn = atomic_load(&s->done);
        fprintf(stderr, "    batch of %d: started %llx finished %llx\n", n,
                (unsigned long long)st, (unsigned long long)dn);
        for (int j = 0; j < n; j++) {
            uint64_t bit = 1ULL << j;
            if (dn & bit) continue;
            fprintf(stderr, "    spawnee %d (goroutine %lld): %s\n", j,
                    (long long)atomic_load(&s->goid[j]),
                    st & bit ? "started, not finished" : "never started");
        }
    }
}

static void *watchdog_fn(void *arg)
{
    (void)arg;
    const char *e;
    int64_t t0 = h_now_ns();
    int64_t end = t0 + (int64_t)(seconds * 1e9), all_done_at = 0;
    for (int i = 0; i < nactors; i++) actors[i].seen_at = t0;
    while (!atomic_load(&finished)) {
        nap_ns(100 * 1000000);
        int64_t now = h_now_ns();
        if (now >= end && !stopping()) atomic_store(&stop, 1);
        actor *stuck = NULL;
        for (int i = 0; i < nactors; i++) {
            actor *a = &actors[i];
            uint64_t p = atomic_load(&a->progress);
            if (p != a->seen || atomic_load(&a->done)) {
                a->seen = p;
                a->seen_at = now;
            } else if (now - a->seen_at > (int64_t)stall_secs * 1000000000 && !stuck) {
                stuck = a;
            }
        }
        bool all_done = true;
        for (int i = 0; i < nactors; i++) all_done = all_done && atomic_load(&actors[i].done);
        if (!all_done) all_done_at = 0;
        else if (!all_done_at) all_done_at = now;
        bool main_stuck = all_done_at && now - all_done_at > (int64_t)stall_secs * 1000000000;
        if ((!stuck && !main_stuck) || atomic_load(&finished)) continue;
        if (stuck)
            fprintf(stderr,
                    "t_storm: STALL: %s made no progress for %d s (%s; seed 0x%016llx, %.1f s "
                    "storm, %.1f s in, stop %d)\n",
                    stuck->name, stall_secs, atomic_load(&stuck->what), (unsigned long long)seed,
                    seconds, (double)(now - t0) / 1e9, atomic_load(&stop));
        else
            fprintf(stderr,
                    "t_storm: STALL: every actor ended %d s ago but the main goroutine has not "
                    "finished its checks (seed 0x%016llx, %.1f s storm, %.1f s in)\n",
                    stall_secs, (unsigned long long)seed, seconds, (double)(now - t0) / 1e9);
        for (int i = 0; i < nactors; i++) report_actor(&actors[i], now);
        print_stats("at the stall");
        fflush(stderr);
        /* STORM_GDB=1: every thread's stack, for a wedge the counters cannot explain. */
        if ((e = getenv("STORM_GDB")) && strcmp(e, "1") == 0) {
            char cmd[128];
            snprintf(cmd, sizeof cmd, "gdb -p %d -batch -ex 'thread apply all bt' 1>&2",
                     (int)getpid());
            int r = system(cmd);
            (void)r;
        }
        _exit(3);
    }
    return NULL;
}

/* ------------------------------------------------------------------ main goroutine */

static void main_fn(void *arg)
{
    (void)arg;
    wg_init(&all_wg);
    wg_add(&all_wg, nactors);
    pthread_t wd;
    CHECK(pthread_create(&wd, NULL, watchdog_fn, NULL) == 0, "pthread_create");
    CHECK(pthread_detach(wd) == 0, "pthread_detach");

    for (int c = 0; c < NCHAIN; c++) {
        for (int j = 0; j < CHAIN_LEN; j++) {
            members[c][j] = (member){&chains[c], j};
            if (is_thread_member(c, j))
                CHECK(pthread_create(&chain_thread, NULL, member_thread_fn, &members[c][j]) == 0,
                      "pthread_create");
            else
                h_spawn(member_fn, &members[c][j]);
        }
        /* Inject the token at member 0: hop 1. */
        send_token(&chains[c], CHAIN_LEN - 1);
    }
    for (int i = 0; i < NBURN; i++) h_spawn(burner_fn, &burners[i]);
    for (int i = 0; i < NYIELD; i++) h_spawn(yielder_fn, &yielders[i]);
    for (int i = 0; i < NSYSC; i++) h_spawn(syscaller_fn, &syscallers[i]);
    for (int i = 0; i < NLOCK; i++) h_spawn(locker_fn, &lockers[i]);
    for (int i = 0; i < NGSPAWN + NTSPAWN; i++) {
        if (spawners[i].thread)
            CHECK(pthread_create(&spawner_threads[i - NGSPAWN], NULL, tspawner_fn,
                                 &spawners[i]) == 0, "pthread_create");
        else
            h_spawn(gspawner_fn, &spawners[i]);
    }
    for (int i = 0; i < NGSET + NTSET; i++) {
        if (setters[i].thread)
            CHECK(pthread_create(&setter_threads[i - NGSET], NULL, tsetter_fn, &setters[i]) == 0,
                  "pthread_create");
        else
            h_spawn(gsetter_fn, &setters[i]);
    }

    wg_wait(&all_wg);

    /* Exact counts. */
    uint64_t hops = 0;
    for (int c = 0; c < NCHAIN; c++) {
        chain *ch = &chains[c];
        uint64_t tok = atomic_load(&ch->token), sent = atomic_load(&ch->sent),
                 recvd = atomic_load(&ch->recvd);
        CHECK(sent == recvd && tok == sent,
              "chain %d: token count %llu, sent %llu, received %llu", c,
              (unsigned long long)tok, (unsigned long long)sent, (unsigned long long)recvd);
        CHECK_EQ(atomic_load(&ch->exited), CHAIN_LEN);
        /* The wind-down alone is CHAIN_LEN hops. */
        CHECK(sent >= (uint64_t)CHAIN_LEN + 1, "chain %d: only %llu hops", c,
              (unsigned long long)sent);
        hops += sent;
    }
    uint64_t sp = 0, st = 0, fin = 0, batches = 0;
    for (int i = 0; i < NGSPAWN + NTSPAWN; i++) {
        sp += spawners[i].spawned;
        st += spawners[i].nstarted;
        fin += spawners[i].nfinished;
        batches += spawners[i].batch;
    }
    CHECK(sp == st && st == fin && sp == atomic_load(&total_spawned) &&
              sp == atomic_load(&total_started) && sp == atomic_load(&total_finished),
          "spawned %llu (total %llu), started %llu (total %llu), finished %llu (total %llu)",
          (unsigned long long)sp, (unsigned long long)atomic_load(&total_spawned),
          (unsigned long long)st, (unsigned long long)atomic_load(&total_started),
          (unsigned long long)fin, (unsigned long long)atomic_load(&total_finished));
    uint64_t calls = 0;
    for (int i = 0; i < NGSET + NTSET; i++) calls += setters[i].calls;
    for (int i = 0; i < nactors; i++) CHECK(atomic_load(&actors[i].done), "%s not done", actors[i].name);

    gmp_stats s = h_stats();
    printf("t_storm: seed 0x%016llx, %.1f s, procs %d: %llu chain hops, %llu goroutines spawned "
           "in %llu batches, %llu set_procs calls, %llu bursts, %llu yields, %llu syscalls, "
           "%llu locked sections; preemptions %llu, syscall retakes %llu, threads %u\n",
           (unsigned long long)seed, seconds, orig_procs, (unsigned long long)hops,
           (unsigned long long)sp, (unsigned long long)batches, (unsigned long long)calls,
           (unsigned long long)atomic_load(&total_bursts),
           (unsigned long long)atomic_load(&total_yields),
           (unsigned long long)atomic_load(&total_syscalls),
           (unsigned long long)atomic_load(&total_locked), (unsigned long long)s.preemptions,
           (unsigned long long)s.syscall_retakes, s.threads);
    fflush(stdout);
}

static int child_main(void)
{
    orig_procs = gmp_set_procs(0);
    CHECK(orig_procs >= 1, "gmp_set_procs(0) = %d", orig_procs);
    if (h_env_procs() > 0) CHECK_EQ(orig_procs, h_env_procs());

    for (int c = 0; c < NCHAIN; c++) {
        chain *ch = &chains[c];
        ch->i = c;
        ch->a = actor_new("chain%d", c);
        atomic_store(&ch->poisoner, -1);
        for (int j = 0; j < CHAIN_LEN; j++) {
            ev_init(&ch->ev[j]);
            atomic_store(&ch->member_what[j], "starting");
        }
    }
    for (int i = 0; i < NBURN; i++) burners[i] = (burner){actor_new("burner%d", i), i};
    for (int i = 0; i < NYIELD; i++) yielders[i] = (simple){actor_new("yielder%d", i), i};
    for (int i = 0; i < NSYSC; i++) syscallers[i] = (simple){actor_new("syscaller%d", i), i};
    for (int i = 0; i < NLOCK; i++) lockers[i] = (simple){actor_new("locker%d", i), i};
    for (int i = 0; i < NGSPAWN + NTSPAWN; i++) {
        spawner *s = &spawners[i];
        s->i = i;
        s->thread = i >= NGSPAWN;
        s->a = actor_new(s->thread ? "tspawner%d" : "gspawner%d", i);
    }
    for (int i = 0; i < NGSET + NTSET; i++) {
        setter *s = &setters[i];
        s->i = i;
        s->thread = i >= NGSET;
        s->a = actor_new(s->thread ? "tsetter%d" : "gsetter%d", i);
    }

    h_main(main_fn, NULL);
    atomic_store(&finished, 1);
    for (int i = 0; i < NTSET; i++) CHECK(pthread_join(setter_threads[i], NULL) == 0, "join");
    for (int i = 0; i < NTSPAWN; i++) CHECK(pthread_join(spawner_threads[i], NULL) == 0, "join");
    CHECK(pthread_join(chain_thread, NULL) == 0, "join");

    /* The setters left procs anywhere in 1..8: restore it. */
    int now = gmp_set_procs(orig_procs);
    CHECK(now >= 1 && now <= MAXPROCS_SET, "gmp_set_procs(%d) returned %d", orig_procs, now);
    CHECK_EQ(gmp_set_procs(0), orig_procs);
    CHECK_EQ(h_stats().procs, orig_procs);
    /* Every goroutine has run its last line of C; its end is counted just after (goexit0). */
    int64_t dl = h_now_ns() + 10 * (int64_t)1000000000;
    while (h_stats().goroutines != 0) {
        if (h_now_ns() > dl) {
            print_stats("after gmp_main");
            CHECK(0, "goroutines stays at %llu after every goroutine returned",
                  (unsigned long long)h_stats().goroutines);
        }
        nap_ns(1000000);
    }
    return 0;
}

/* ------------------------------------------------------------------ parent */

/* The child's stderr, split: its own messages (kept whole, up to a limit) and the scheduler
 * trace (only the latest snapshot: from the last line starting "SCHED"). */
static char msgs[1 << 16];
static size_t nmsgs;
/* Two snapshot buffers: the one being filled (cur) and the previous, complete one. */
static struct snapbuf {
    char *p;
    size_t n, cap;
} snaps[2];
static int cur;

static void take_line(const char *l, size_t n)
{
    bool sched = n >= 6 && memcmp(l, "SCHED ", 6) == 0;
    bool trace = sched || (n >= 3 && l[0] == ' ' && l[1] == ' ' &&
                           (l[2] == 'P' || l[2] == 'M' || l[2] == 'G'));
    if (!trace) {
        size_t room = sizeof msgs - 1 - nmsgs;
        size_t k = n < room ? n : room;
        memcpy(msgs + nmsgs, l, k);
        nmsgs += k;
        return;
    }
    if (sched) { /* a new snapshot begins: the current one is complete */
        cur ^= 1;
        snaps[cur].n = 0;
    }
    struct snapbuf *b = &snaps[cur];
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2;
        b->p = (char *)realloc(b->p, b->cap);
        CHECK(b->p != NULL, "realloc");
    }
    memcpy(b->p + b->n, l, n);
    b->n += n;
}

static int run_child(const char *secs, const char *sd, bool trace)
{
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        dup2(p[1], 2);
        close(p[0]);
        close(p[1]);
        if (trace) setenv("GMP_DEBUG", "schedtrace=1000,scheddetail=1", 1);
        char *argv[] = {program_invocation_short_name, (char *)"child", (char *)secs,
                        (char *)sd, NULL};
        execv("/proc/self/exe", argv);
        _exit(127);
    }
    close(p[1]);
    int64_t deadline = h_now_ns() + (int64_t)((seconds + stall_secs + 60) * 1e9);
    static char buf[1 << 16];
    size_t have = 0;
    bool killed = false;
    for (;;) {
        int left = (int)((deadline - h_now_ns()) / 1000000);
        if (left <= 0) {
            kill(pid, SIGKILL);
            killed = true;
            break;
        }
        struct pollfd pf = {p[0], POLLIN, 0};
        if (poll(&pf, 1, left) <= 0) continue;
        ssize_t k = read(p[0], buf + have, sizeof buf - have);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        have += (size_t)k;
        size_t start = 0;
        for (size_t i = 0; i < have; i++) {
            if (buf[i] != '\n') continue;
            take_line(buf + start, i + 1 - start);
            start = i + 1;
        }
        if (start == 0 && have == sizeof buf) { /* a line longer than the buffer */
            take_line(buf, have);
            start = have;
        }
        memmove(buf, buf + start, have - start);
        have -= start;
    }
    if (have) take_line(buf, have);
    close(p[0]);
    int st;
    CHECK(waitpid(pid, &st, 0) == pid, "waitpid");
    msgs[nmsgs] = 0;
    if (killed)
        fprintf(stderr, "t_storm: child still running after %.0f s: killed\n",
                seconds + stall_secs + 60);
    if (nmsgs) fwrite(msgs, 1, nmsgs, stderr);
    bool ok = !killed && WIFEXITED(st) && WEXITSTATUS(st) == 0;
    if (!ok && trace) {
        /* The latest snapshot may be cut short if the child died (or was killed) printing
         * it: then show the one before, which is whole. */
        struct snapbuf *b = &snaps[cur], *prev = &snaps[cur ^ 1];
        if ((killed || b->n < prev->n / 2) && prev->n) b = prev;
        fprintf(stderr, "t_storm: the child's last scheduler snapshot (GMP_DEBUG=schedtrace):\n");
        if (b->n) fwrite(b->p, 1, b->n, stderr);
        else fprintf(stderr, "  (none printed)\n");
    }
    return ok ? 0 : (killed ? -1 : st);
}

static uint64_t parse_u64(const char *s, const char *what)
{
    char *end;
    errno = 0;
    uint64_t v = strtoull(s, &end, 0);
    CHECK(errno == 0 && end != s && *end == 0, "bad %s: %s", what, s);
    return v;
}

static double parse_secs(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    CHECK(end != s && *end == 0 && v > 0 && v < 1e6, "bad duration: %s", s);
    return v;
}

int main(int argc, char **argv)
{
    const char *e;
    bool child = argc > 1 && strcmp(argv[1], "child") == 0;
    int a = child ? 2 : 1;
    if ((e = getenv("STORM_SECONDS")) && *e) seconds = parse_secs(e);
    if (argc > a) seconds = parse_secs(argv[a]);
    bool have_seed = false;
    if ((e = getenv("STORM_SEED")) && *e) {
        seed = parse_u64(e, "seed");
        have_seed = true;
    }
    if (argc > a + 1) {
        seed = parse_u64(argv[a + 1], "seed");
        have_seed = true;
    }
    if ((e = getenv("STORM_STALL")) && *e) stall_secs = (int)parse_u64(e, "STORM_STALL");
    malloc_churn = !((e = getenv("STORM_MALLOC")) && strcmp(e, "0") == 0);
    CHECK(stall_secs >= 1, "STORM_STALL must be at least 1");
    if (child) return child_main();

    h_check_lib();
    if (!have_seed) seed = (uint64_t)h_now_ns() ^ ((uint64_t)getpid() << 32);
    bool trace = !((e = getenv("STORM_TRACE")) && strcmp(e, "0") == 0);
    char procs[64] = "";
    if (h_env_procs() > 0) snprintf(procs, sizeof procs, "GMP_MAXPROCS=%d ", h_env_procs());
    if (!malloc_churn) strcat(procs, "STORM_MALLOC=0 ");
    printf("t_storm: seed 0x%016llx, %.1f s (replay: STORM_SEED=0x%016llx STORM_SECONDS=%g "
           "%s%s)\n",
           (unsigned long long)seed, seconds, (unsigned long long)seed, seconds, procs, argv[0]);
    char secs[32], sd[32];
    snprintf(secs, sizeof secs, "%g", seconds);
    snprintf(sd, sizeof sd, "0x%016llx", (unsigned long long)seed);
    int64_t t0 = h_now_ns();
    int r = run_child(secs, sd, trace);
    CHECK(r == 0, "the storm failed (%s; seed 0x%016llx, %.1f s): see above",
          r < 0 ? "killed" : h_describe_status(r), (unsigned long long)seed, seconds);
    printf("t_storm: ok in %.1f s\n", (double)(h_now_ns() - t0) / 1e9);
    return 0;
}
