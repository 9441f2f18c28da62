/*
 * t_cxx_eh_dlopen: a C program — libstdc++ is not linked — that loads the C++ runtime with
 * dlopen(RTLD_LOCAL) after the goroutine runtime has started: the runtime notices it (sysmon
 * watches the loader's count of loaded objects) and from then on carries each goroutine's C++
 * exception state across switches, on threads that started before the load too.
 *
 * C cannot throw, so the goroutines write their "exception state" straight into the C++
 * runtime's per-thread struct (__cxa_eh_globals: the handled-exception list head and the
 * uncaught count, as __cxa_begin_catch and __cxa_throw would), switch, and read it back
 * through __cxa_get_globals() on whatever thread they run on then (the struct is per
 * thread). Each puts the struct back to empty before it ends.
 *
 *  1. Before the load, goroutines run and switch (so every M has started without a C++
 *     runtime to find: the library must behave as if there were no C++ at all).
 *  2. The main thread dlopens libstdc++.so.6 with RTLD_LOCAL (not in the global scope: the
 *     runtime must find it by name).
 *  3. With one P, probe goroutines, several to a thread, check their state survives a
 *     gmp_gosched, until it does in a whole round (the runtime has noticed the load; at most
 *     about 100 ms later, by the template thread) — polling an observable condition, with a 10 s deadline.
 *  4. Then, at the test's GMP_MAXPROCS, NG goroutines x ROUNDS each set a state of their own,
 *     switch (gmp_gosched, or park and be readied by another goroutine), and check it.
 *
 * Catches: a runtime that looks for the C++ runtime only at start-up, or only in the global
 * scope, or that caches the per-thread address only when an M starts (Ms started earlier
 * would never carry the state).
 */
#include "harness.h"

/* The Itanium C++ ABI's __cxa_eh_globals (x86-64). */
typedef struct eh_globals {
    void *caught;
    unsigned int uncaught;
} eh_globals;

static eh_globals *(*get_globals)(void);

#define NG 16
#define ROUNDS 100
#define PROBES 8

static void set_state(void *caught, unsigned int uncaught)
{
    eh_globals *e = get_globals();
    e->caught = caught;
    e->uncaught = uncaught;
}

/* ---- 1. before the load */

static wg_t wg;

static void switcher(void *arg)
{
    (void)arg;
    for (int i = 0; i < 100; i++) gmp_gosched();
    wg_done(&wg);
}

static void before(void *arg)
{
    (void)arg;
    wg_init(&wg);
    wg_add(&wg, NG);
    for (int i = 0; i < NG; i++) h_spawn(switcher, NULL);
    wg_wait(&wg);
}

/* ---- 3. wait until the runtime has noticed */

static H_ATOMIC(int) probe_bad;

static void probe(void *arg)
{
    unsigned int mine = (unsigned int)(uintptr_t)arg;
    set_state(NULL, mine);
    gmp_gosched();
    gmp_gosched();
    if (get_globals()->uncaught != mine) atomic_store(&probe_bad, 1);
    set_state(NULL, 0);
    wg_done(&wg);
}

/* ---- 4. the check */

typedef struct park_arg {
    ev_t ev;
} park_arg;

static void readier(void *arg)
{
    set_state((void *)0x5ead, 77777); /* the readier's own state, on our thread next */
    ev_set(&((park_arg *)arg)->ev);
    gmp_gosched();
    eh_globals *e = get_globals();
    CHECK(e->caught == (void *)0x5ead && e->uncaught == 77777,
          "readier: state %p/%u after a switch", e->caught, e->uncaught);
    set_state(NULL, 0);
}

static void worker(void *arg)
{
    int id = (int)(intptr_t)arg;
    for (int r = 0; r < ROUNDS; r++) {
        void *caught = (void *)(uintptr_t)(0x1000 * (id + 1) + 16 * r);
        unsigned int uncaught = (unsigned int)(id * 1000 + r + 1);
        set_state(caught, uncaught);
        if (r % 3 == 2) {
            park_arg pa;
            ev_init(&pa.ev);
            h_spawn(readier, &pa);
            ev_wait(&pa.ev);
        } else {
            gmp_gosched();
        }
        eh_globals *e = get_globals();
        CHECK(e->caught == caught && e->uncaught == uncaught,
              "goroutine %d round %d: C++ exception state %p/%u after a switch, want %p/%u", id, r,
              e->caught, e->uncaught, caught, uncaught);
    }
    set_state(NULL, 0);
    wg_done(&wg);
}

static void after(void *arg)
{
    (void)arg;
    int procs = gmp_set_procs(1);
    CHECK(procs >= 1, "gmp_set_procs = %d", procs);
    int64_t deadline = h_now_ns() + 10LL * 1000000000;
    int rounds = 0;
    for (;; rounds++) {
        atomic_store(&probe_bad, 0);
        wg_init(&wg);
        wg_add(&wg, PROBES);
        for (int i = 0; i < PROBES; i++) h_spawn(probe, (void *)(uintptr_t)(100 + i));
        wg_wait(&wg);
        if (!atomic_load(&probe_bad)) break;
        CHECK(h_now_ns() < deadline, "the runtime never noticed the C++ runtime loaded by dlopen");
    }
    CHECK(gmp_set_procs(procs) == 1, "gmp_set_procs(%d)", procs);

    wg_init(&wg);
    wg_add(&wg, NG);
    for (int i = 0; i < NG; i++) h_spawn(worker, (void *)(intptr_t)i);
    wg_wait(&wg);
    printf("t_cxx_eh_dlopen: ok (noticed after %d probe rounds)\n", rounds);
}

int main(void)
{
    h_check_lib();
    CHECK(dlopen("libstdc++.so.6", RTLD_LAZY | RTLD_NOLOAD) == NULL,
          "libstdc++ is already loaded: this test needs a program without it");
    h_main(before, NULL);

    void *h = dlopen("libstdc++.so.6", RTLD_LAZY | RTLD_LOCAL);
    CHECK(h != NULL, "dlopen(libstdc++.so.6): %s", dlerror());
    CHECK(dlsym(RTLD_DEFAULT, "__cxa_get_globals") == NULL, "RTLD_LOCAL, yet in the global scope");
    *(void **)&get_globals = dlsym(h, "__cxa_get_globals");
    CHECK(get_globals != NULL, "dlsym(__cxa_get_globals): %s", dlerror());

    h_main(after, NULL);
    return 0;
}
