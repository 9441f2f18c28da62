/*
 * t_cxx_eh_switch: C++ exception state travels with the goroutine across every kind of switch.
 *
 * The C++ runtime keeps, per thread, the stack of exceptions being handled (the `catch` blocks
 * entered and not yet left: what `throw;` and std::current_exception() see) and the count of
 * exceptions thrown and not yet caught (std::uncaught_exceptions(), non-zero while unwinding).
 * Goroutines share threads, so the runtime must carry that state with each goroutine.
 *
 *  1. In a catch block: NG goroutines, ROUNDS rounds each, throw a value of their own, catch it,
 *     switch, then check std::current_exception() and std::uncaught_exceptions(), and rethrow
 *     with `throw;` to an outer catch that checks the value. The switch is, by round:
 *     gmp_gosched(); gmp_park + gmp_ready (a helper goroutine readies us from inside a catch
 *     block of its own, then yields inside it, so our thread runs its handler state next);
 *     nested catch blocks with a switch in each (the handled-exception stack keeps its order).
 *     Then PREEMPT_G goroutines spin in a catch block until asynchronous preemption stopped
 *     them, yield, and rethrow (a preempted goroutine keeps its thread; this checks the state
 *     survives the preemption path's save and restore).
 *  2. While unwinding: a destructor run by a throw checks std::uncaught_exceptions() == 1
 *     before and after a gmp_gosched(); the catch then sees 0. Bystander goroutines check, at
 *     every switch, that they see no exception at all.
 *  3. Goroutine exit: goroutines call gmp_exit() inside a catch block and inside a destructor
 *     run by unwinding (their C++ state is abandoned, as by pthread_exit without unwinding);
 *     the goroutine that runs next on that thread — spawned just before, so it runs next on
 *     the same P — and every goroutine spawned later (reusing the dead Gs) sees no exception.
 *
 * Catches (with GMP_MAXPROCS=1 every case shares one thread): `throw;` rethrowing another
 * goroutine's exception or calling std::terminate ("terminate called without an active
 * exception"); std::current_exception() empty or foreign after a switch; uncaught_exceptions()
 * counting other goroutines' unwinding; a goroutine that ended inside a catch block leaking
 * its exception into the next goroutine on the thread or into a reused G.
 */
#include "harness.h"

#include <exception>

namespace {

constexpr int NG = 24;
constexpr int ROUNDS = 30;
constexpr int PREEMPT_G = 3;
constexpr int EXITERS = 16;

struct Val {
    int v;
};

std::atomic<long> rethrown{0}, helpers_live{0}, dtor_checks{0}, bystander_checks{0};
std::atomic<long> fresh_checks{0};
std::atomic<int> stop_bystanders{0};

// No exception is being handled or propagated in the calling goroutine.
void check_clean(const char *where)
{
    CHECK(!std::current_exception(), "%s: sees an exception it never caught", where);
    CHECK_EQ(std::uncaught_exceptions(), 0);
}

// The exception being handled is Val{v}, and nothing is propagating.
void check_current(int v)
{
    CHECK_EQ(std::uncaught_exceptions(), 0);
    std::exception_ptr p = std::current_exception();
    CHECK(p != nullptr, "no current exception after the switch (want %d)", v);
    try {
        std::rethrow_exception(p);
    } catch (const Val &x) {
        CHECK(x.v == v, "current_exception() is %d, want %d", x.v, v);
    } catch (...) {
        CHECK(false, "current_exception() is not a Val (want %d)", v);
    }
}

// ---------------------------------------------------------------- 1. switches in a catch block

struct Help {
    ev_t ev;
    int v;
};

// Readies the waiter from inside a catch block of its own, then yields inside it: with one P
// the waiter (in runnext) runs next on this thread while this handler is still active.
void helper(void *p)
{
    Help *h = static_cast<Help *>(p);
    int mine = -h->v;
    try {
        throw Val{mine};
    } catch (const Val &x) {
        ev_set(&h->ev); // the last touch of *h: the waiter may return and free it
        gmp_gosched();
        check_current(mine);
        CHECK_EQ(x.v, mine);
    }
    check_clean("helper");
    helpers_live--;
}

enum Mode { GOSCHED, PARK, NESTED, NMODES };

void do_switch(Mode m, int v)
{
    if (m == PARK) {
        Help h;
        h.v = v;
        ev_init(&h.ev);
        helpers_live++;
        h_spawn(helper, &h);
        ev_wait(&h.ev); // parks until the helper readies us
    } else {
        gmp_gosched();
    }
}

void round_catch(int v, Mode m)
{
    try {
        try {
            throw Val{v};
        } catch (...) {
            do_switch(m, v);
            check_current(v);
            if (m == NESTED) {
                int w = v + 500000;
                try {
                    throw Val{w};
                } catch (const Val &x) {
                    gmp_gosched();
                    check_current(w);
                    CHECK_EQ(x.v, w);
                }
                gmp_gosched();
                check_current(v); // the inner handler is gone: back to the outer exception
            }
            throw; // rethrow: must be OUR exception
        }
    } catch (const Val &x) {
        CHECK(x.v == v, "throw; rethrew %d, want %d", x.v, v);
        rethrown++;
    }
    check_clean("after the handler");
}

void catcher(void *p)
{
    wg_t *wg = static_cast<wg_t *>(p);
    int id = (int)gmp_goid(nullptr);
    for (int r = 0; r < ROUNDS; r++) round_catch(id * 1000 + r, Mode((id + r) % NMODES));
    wg_done(wg);
}

static volatile int stop_competitors;

// CPU-bound, outside any handler, until the preemption part is over (see 1b in main).
void competitor(void *p)
{
    volatile unsigned long spins = 0;
    while (!stop_competitors) spins = spins + 1;
    wg_done(static_cast<wg_t *>(p));
}

// Spins inside the handler until the runtime has preempted some goroutine since it started
// spinning and 20 ms have passed (at GMP_MAXPROCS=1 the spinners only interleave through
// preemption), then yields and rethrows.
void preempt_spinner(void *p)
{
    wg_t *wg = static_cast<wg_t *>(p);
    int v = 900000 + (int)gmp_goid(nullptr);
    try {
        try {
            throw Val{v};
        } catch (...) {
            uint64_t p0 = h_stats().preemptions;
            int64_t t0 = h_now_ns();
            volatile unsigned long spins = 0;
            while (h_stats().preemptions == p0 || h_now_ns() - t0 < 20000000) {
                CHECK(h_now_ns() - t0 < 10000000000LL, "no preemption within 10 s");
                for (int i = 0; i < 1000; i++) spins = spins + 1;
            }
            check_current(v);
            gmp_gosched();
            check_current(v);
            throw;
        }
    } catch (const Val &x) {
        CHECK(x.v == v, "after preemption, throw; rethrew %d, want %d", x.v, v);
        rethrown++;
    }
    check_clean("preempt_spinner");
    wg_done(wg);
}

// ---------------------------------------------------------------- 2. switches while unwinding

struct Unwinding {
    int v;
    ~Unwinding()
    {
        CHECK(std::uncaught_exceptions() == 1, "before the switch, uncaught_exceptions() = %d",
              std::uncaught_exceptions());
        gmp_gosched();
        CHECK(std::uncaught_exceptions() == 1, "after the switch, uncaught_exceptions() = %d",
              std::uncaught_exceptions());
        CHECK(!std::current_exception(), "unwinding %d, yet an exception is being handled", v);
        dtor_checks++;
    }
};

void unwinder(void *p)
{
    wg_t *wg = static_cast<wg_t *>(p);
    int id = (int)gmp_goid(nullptr);
    for (int r = 0; r < ROUNDS; r++) {
        int v = id * 1000 + r;
        try {
            Unwinding u{v};
            throw Val{v};
        } catch (const Val &x) {
            CHECK_EQ(x.v, v);
            CHECK_EQ(std::uncaught_exceptions(), 0);
            gmp_gosched();
            check_current(v);
        }
        check_clean("unwinder");
    }
    wg_done(wg);
}

void bystander(void *p)
{
    wg_t *wg = static_cast<wg_t *>(p);
    while (!stop_bystanders.load()) {
        gmp_gosched();
        check_clean("bystander");
        bystander_checks++;
    }
    wg_done(wg);
}

// ---------------------------------------------------------------- 3. goroutine exit

void fresh(void *p)
{
    check_clean("a goroutine that started after one exited inside a catch block");
    fresh_checks++;
    wg_done(static_cast<wg_t *>(p));
}

struct ExitWhileUnwinding {
    ~ExitWhileUnwinding() { gmp_exit(); }
};

// Touches nothing after spawning its successor: at GMP_MAXPROCS=1 nothing else gets between
// its exit and the start of `fresh` (in runnext) on this thread.
void exiter(void *p)
{
    int id = (int)gmp_goid(nullptr);
    h_spawn(fresh, p); // runnext: it runs next, on this thread, after we exit
    if (id % 2) {
        try {
            throw Val{id};
        } catch (const Val &) {
            gmp_exit(); // never leaves the handler
        }
    } else {
        try {
            ExitWhileUnwinding e;
            throw Val{id};
        } catch (...) {
            CHECK(false, "the goroutine exited in the destructor: never caught");
        }
    }
    CHECK(false, "gmp_exit returned");
}

void main_goroutine(void *)
{
    wg_t wg, bys;
    // 1. catch blocks, and bystanders throughout 1 and 2
    int nbys = 4;
    wg_init(&bys);
    wg_add(&bys, nbys);
    for (int i = 0; i < nbys; i++) h_spawn(bystander, &bys);
    wg_init(&wg);
    wg_add(&wg, NG);
    for (int i = 0; i < NG; i++) h_spawn(catcher, &wg);
    wg_wait(&wg);
    H_GOSCHED_UNTIL(helpers_live.load() == 0, 20, "%ld helpers still running", helpers_live.load());
    CHECK_EQ(rethrown.load(), (long)NG * ROUNDS);

    // 2. unwinding
    wg_init(&wg);
    wg_add(&wg, NG);
    for (int i = 0; i < NG; i++) h_spawn(unwinder, &wg);
    wg_wait(&wg);
    CHECK_EQ(dtor_checks.load(), (long)NG * ROUNDS);
    stop_bystanders = 1;
    wg_wait(&bys);
    CHECK(bystander_checks.load() > 0, "the bystanders never ran");

    // 1b. preemption inside a handler (after the others: nothing else is runnable but them).
    // The runtime preempts a goroutine only when another one waits for its P, so one
    // competitor per P keeps more goroutines runnable than there are Ps until the spinners end.
    wg_init(&wg);
    wg_add(&wg, PREEMPT_G);
    wg_t comp;
    wg_init(&comp);
    int ncomp = (int)h_stats().procs;
    wg_add(&comp, ncomp);
    stop_competitors = 0;
    for (int i = 0; i < ncomp; i++) h_spawn(competitor, &comp);
    for (int i = 0; i < PREEMPT_G; i++) h_spawn(preempt_spinner, &wg);
    wg_wait(&wg);
    stop_competitors = 1;
    wg_wait(&comp);
    CHECK_EQ(rethrown.load(), (long)NG * ROUNDS + PREEMPT_G);

    // 3. exits inside handlers; then fresh goroutines (reusing the dead Gs) start clean
    for (int round = 0; round < 2; round++) {
        wg_init(&wg);
        wg_add(&wg, EXITERS);
        for (int i = 0; i < EXITERS; i++) h_spawn(exiter, &wg);
        wg_wait(&wg);
    }
    CHECK_EQ(fresh_checks.load(), 2L * EXITERS);
    H_GOSCHED_UNTIL(h_stats().goroutines == 1, 20, "%llu goroutines still live",
                    (unsigned long long)h_stats().goroutines);
    wg_init(&wg);
    wg_add(&wg, 4 * EXITERS);
    for (int i = 0; i < 4 * EXITERS; i++) h_spawn(fresh, &wg);
    wg_wait(&wg);
    check_clean("main goroutine");
}

} // namespace

int main()
{
    h_check_lib();
    int r = gmp_main(main_goroutine, nullptr);
    CHECK(r == 0, "gmp_main = %d", r);
    check_clean("main thread");
    printf("t_cxx_eh_switch: ok (%ld rethrows, %ld unwinding checks, %ld bystander checks, "
           "%ld fresh goroutines)\n",
           rethrown.load(), dtor_checks.load(), bystander_checks.load(), fresh_checks.load());
    return 0;
}
