/*
 * t_park_ready: a park/ready storm with exact accounting.
 *
 * Part 1, ping-pong pairs (goroutine -> goroutine readies, across however many Ps there are):
 *   each of NPAIRS pairs passes a token HOPS times. The holder counts a hop, then parks with an
 *   unlockf that readies its partner. The partner is guaranteed to be parked at that moment (it
 *   gave the token away the same way), so gmp_ready must return 0 -- and it is called while the
 *   parker is between "switched out" and "unlockf returned", which the runtime must handle (the
 *   partner may ready the parker back before that unlockf has even returned).
 *   On each wake-up a goroutine asserts that it is the token holder and that its partner is not
 *   running ("inside" flag): a doubled or spurious wake-up breaks that; a lost one hangs (the
 *   run.sh timeout turns that into a FAIL). At the end: hops == HOPS exactly, and the two sides
 *   alternated (counts differ by at most 1).
 * Part 2, readies from plain threads: NSLOTS goroutines park RSLOT times each, publishing
 *   themselves in their unlockf (and waking their serving thread with a futex); 2 plain pthreads
 *   ready them. Every gmp_ready returns 0, every park ends only after the thread's ready (state
 *   word checked), every goroutine is woken exactly RSLOT times.
 *
 * Catches: lost wake-ups (ready racing the park), double runs of one G, gmp_ready rejecting a G
 * whose unlockf is still running, thread-context ready not enqueuing the G (or waking no P).
 */
#include "harness.h"

#define NPAIRS 16
#define HOPS 20000
#define NSLOTS 8
#define NTHREADS 2
#define RSLOT 3000

typedef struct pair pair_t;
typedef struct side {
    pair_t *p;
    int me;
} side_t;
struct pair {
    side_t side[2];
    H_ATOMIC(gmp_g *) g[2];
    H_ATOMIC(int) holder;
    H_ATOMIC(int) inside;
    H_ATOMIC(int) b_parked;
    H_ATOMIC(int) done;
    H_ATOMIC(long) hops;
    H_ATOMIC(long) count[2];
};

static pair_t pairs[NPAIRS];
static wg_t wg;

static bool handoff_unlockf(gmp_g *g, void *lock)
{
    side_t *s = (side_t *)lock;
    pair_t *p = s->p;
    CHECK(atomic_load(&p->g[s->me]) == g, "unlockf got a different g");
    int r = gmp_ready(atomic_load(&p->g[1 - s->me]));
    CHECK(r == 0, "gmp_ready(parked partner) = %d", r);
    return true;
}

static bool publish_b_unlockf(gmp_g *g, void *lock)
{
    pair_t *p = (pair_t *)lock;
    atomic_store(&p->g[1], g);
    atomic_store(&p->b_parked, 1);
    return true;
}

static void enter(pair_t *p, int me)
{
    CHECK(atomic_load(&p->holder) == me, "side %d woke without the token", me);
    CHECK(atomic_exchange(&p->inside, 1) == 0, "side %d woke while its partner runs", me);
}

static void play(pair_t *p, int me)
{
    for (;;) {
        enter(p, me);
        if (atomic_load(&p->done)) break;
        if (atomic_load(&p->hops) == HOPS) {
            atomic_store(&p->done, 1);
            atomic_store(&p->holder, 1 - me);
            atomic_store(&p->inside, 0);
            int r = gmp_ready(atomic_load(&p->g[1 - me]));
            CHECK(r == 0, "final gmp_ready(parked partner) = %d", r);
            wg_done(&wg);
            return;
        }
        atomic_fetch_add(&p->hops, 1);
        atomic_fetch_add(&p->count[me], 1);
        atomic_store(&p->holder, 1 - me);
        atomic_store(&p->inside, 0);
        int r = gmp_park(handoff_unlockf, &p->side[me]);
        CHECK(r == 0, "gmp_park = %d", r);
    }
    atomic_store(&p->inside, 0);
    wg_done(&wg);
}

static void side_a(void *arg)
{
    pair_t *p = (pair_t *)arg;
    atomic_store(&p->g[0], gmp_self());
    H_GOSCHED_UNTIL(atomic_load(&p->b_parked), 30, "partner B never parked");
    atomic_store(&p->holder, 0);
    play(p, 0);
}

static void side_b(void *arg)
{
    pair_t *p = (pair_t *)arg;
    int r = gmp_park(publish_b_unlockf, p);
    CHECK(r == 0, "gmp_park = %d", r);
    play(p, 1);
}

/* ---- part 2: readies from plain threads */

enum { S_RUNNING = 0, S_PARKED = 1, S_WOKEN = 2 };
typedef struct slot {
    H_ATOMIC(gmp_g *) g;
    H_ATOMIC(int) state;
    H_ATOMIC(long) wakes;
    int thread;
} slot_t;
typedef struct tw {
    H_ATOMIC(int) gen; /* futex word: bumped whenever one of this thread's slots parks */
} tw_t;

static slot_t slots[NSLOTS];
static tw_t tws[NTHREADS];
static pthread_barrier_t started;

static bool slot_unlockf(gmp_g *g, void *lock)
{
    slot_t *s = (slot_t *)lock;
    tw_t *t = &tws[s->thread];
    atomic_store(&s->g, g);
    int old = atomic_exchange(&s->state, (int)S_PARKED);
    CHECK(old == S_RUNNING, "slot parked in state %d", old);
    /* tws[] is static: touching it after publishing is fine even if g already ran on. */
    atomic_fetch_add(&t->gen, 1);
    h_futex_wake(&t->gen);
    return true;
}

static void slot_fn(void *arg)
{
    slot_t *s = (slot_t *)arg;
    for (int r = 0; r < RSLOT; r++) {
        int pr = gmp_park(slot_unlockf, s);
        CHECK(pr == 0, "gmp_park = %d", pr);
        int st = atomic_exchange(&s->state, (int)S_RUNNING);
        CHECK(st == S_WOKEN, "slot goroutine resumed in state %d (not readied by its thread)", st);
        atomic_fetch_add(&s->wakes, 1);
    }
    wg_done(&wg);
}

static void *readier(void *arg)
{
    int t = (int)(intptr_t)arg;
    CHECK(gmp_self() == NULL, "plain thread has a g");
    /* Spawn this thread's slot goroutines from here (thread context) before main enters
     * gmp_main: once a foreign thread has called into the runtime, its deadlock detector must
     * stay quiet while all goroutines are parked waiting for these threads. */
    for (int i = 0; i < NSLOTS; i++)
        if (slots[i].thread == t) h_spawn(slot_fn, &slots[i]);
    pthread_barrier_wait(&started);
    long delivered[NSLOTS] = {0};
    long left = 0;
    for (int i = 0; i < NSLOTS; i++)
        if (slots[i].thread == t) left += RSLOT;
    while (left > 0) {
        int gen = atomic_load(&tws[t].gen);
        bool found = false;
        for (int i = 0; i < NSLOTS; i++) {
            slot_t *s = &slots[i];
            if (s->thread != t || atomic_load(&s->state) != S_PARKED) continue;
            gmp_g *g = atomic_load(&s->g);
            atomic_store(&s->state, (int)S_WOKEN);
            int r = gmp_ready(g);
            CHECK(r == 0, "thread gmp_ready(parked slot %d) = %d", i, r);
            delivered[i]++;
            left--;
            found = true;
        }
        if (!found) h_futex_wait(&tws[t].gen, gen);
    }
    for (int i = 0; i < NSLOTS; i++)
        if (slots[i].thread == t) CHECK_EQ(delivered[i], RSLOT);
    return NULL;
}

static void main_fn(void *arg)
{
    (void)arg;
    wg_add(&wg, 2 * NPAIRS);
    for (int i = 0; i < NPAIRS; i++) {
        pair_t *p = &pairs[i];
        p->side[0].p = p->side[1].p = p;
        p->side[0].me = 0;
        p->side[1].me = 1;
        h_spawn(side_b, p);
        h_spawn(side_a, p);
    }
    wg_wait(&wg);
    for (int i = 0; i < NPAIRS; i++) {
        pair_t *p = &pairs[i];
        CHECK_EQ(atomic_load(&p->hops), HOPS);
        long a = atomic_load(&p->count[0]), b = atomic_load(&p->count[1]);
        CHECK(a + b == HOPS && (a - b <= 1 && b - a <= 1), "pair %d: counts %ld/%ld", i, a, b);
    }
    for (int i = 0; i < NSLOTS; i++) CHECK_EQ(atomic_load(&slots[i].wakes), RSLOT);
}

int main(void)
{
    h_check_lib();
    for (int i = 0; i < NSLOTS; i++) slots[i].thread = i % NTHREADS;
    wg_init(&wg);
    wg_add(&wg, NSLOTS);
    pthread_barrier_init(&started, NULL, NTHREADS + 1);
    pthread_t th[NTHREADS];
    for (int t = 0; t < NTHREADS; t++)
        CHECK(pthread_create(&th[t], NULL, readier, (void *)(intptr_t)t) == 0, "pthread_create");
    pthread_barrier_wait(&started);
    h_main(main_fn, NULL);
    for (int t = 0; t < NTHREADS; t++) pthread_join(th[t], NULL);
    printf("t_park_ready: %d pairs x %d hops, %d thread readies ok\n", NPAIRS, HOPS,
           NSLOTS * RSLOT);
    return 0;
}
