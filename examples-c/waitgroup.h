/*
 * A wait group built on gmp_park/gmp_ready — the pattern every blocking primitive follows.
 * Copy it. One goroutine waits; any number of goroutines or threads call wg_done.
 *
 * Why no wake-up is lost: the waiter publishes itself only inside the unlock function, i.e.
 * after it has been switched out, so gmp_ready can never meet a goroutine that is still
 * running. Then it re-checks the count: if the last wg_done already ran (and so found no
 * waiter), the waiter takes itself back with a CAS and gmp_park returns at once; if that CAS
 * fails, wg_done has taken the waiter and will ready it.
 */
#ifndef WAITGROUP_H
#define WAITGROUP_H
#include <stdatomic.h>
#include <stdbool.h>
#include "gmp.h"

typedef struct {
    atomic_long n;
    _Atomic(gmp_g *) waiter;
} waitgroup;

static inline void wg_add(waitgroup *wg, long n) { atomic_fetch_add(&wg->n, n); }

static inline void wg_done(waitgroup *wg) {
    if (atomic_fetch_sub(&wg->n, 1) == 1) {
        gmp_g *g = atomic_exchange(&wg->waiter, NULL);
        if (g)
            gmp_ready(g);
    }
}

static bool wg_publish(gmp_g *g, void *p) {
    waitgroup *wg = p;
    atomic_store(&wg->waiter, g);
    if (atomic_load(&wg->n) == 0) {
        gmp_g *expected = g;
        if (atomic_compare_exchange_strong(&wg->waiter, &expected, NULL))
            return false; /* nobody will wake us: don't sleep */
    }
    return true;
}

/* Wait (in a goroutine) until the count is zero. */
static inline void wg_wait(waitgroup *wg) {
    while (atomic_load(&wg->n) != 0)
        gmp_park(wg_publish, wg);
}
#endif
