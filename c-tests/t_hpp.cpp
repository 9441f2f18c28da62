/*
 * t_hpp: include/gmp.hpp, every name of api.md's "C++" section, with its results checked.
 *
 *  1. Children (this program run again, h_run_self; the parent has not started the runtime):
 *     an exception escaping a gmp::go function ends the process by std::terminate (SIGABRT)
 *     with "gmp::go: goroutine N ended by an uncaught exception: <what>"; a gmp::chan destroyed
 *     while a goroutine is blocked on it (gmp_chan_free's EBUSY) ends it with "gmp::chan:
 *     destroyed while ...". Both are documented decisions of gmp.hpp.
 *  2. Thread context: this_goroutine::id() == 0; a chan<int> used from the main thread.
 *  3. run_main: returns f's int (42 for the big run below), 0 for a void f; an exception
 *     escaping f is rethrown to the caller; run_main from a goroutine throws EPERM.
 *  4. Inside run_main (the main goroutine), with goroutines made by go() ([&] captures, extra
 *     arguments, a move-only callable):
 *     - ids: go() returns ids > 0, distinct, equal to this_goroutine::id() inside each;
 *     - chan<T>: order and values through buffered and unbuffered channels, len()/cap(),
 *       close() then recv() -> nullopt, send on a closed channel -> system_error EPIPE (generic
 *       category), double close -> EPIPE, moved-from channel -> EINVAL, a struct, an empty
 *       struct (signal-only), a T without default constructor, goroutines <-> std::threads;
 *     - select: the ready case is chosen and only its out assigned, send_case, a blocked select
 *       woken by a sender, a timeout (nullopt, elapsed >= it), zero duration = default, a closed
 *       channel's recv_case (out = nullopt), send_case on a closed channel -> EPIPE, random
 *       choice between two ready cases (each taken >= 1/8 of 400 times), a moved-from channel's
 *       case never ready, the vector form with 10 cases, a 1000-byte T;
 *     - mutex: exclusion (at most one inside, exact count) under std::lock_guard from
 *       goroutines and threads, try_lock / std::unique_lock(try_to_lock) failing while held,
 *       std::scoped_lock over two mutexes taken in opposite orders, unlock of an unlocked
 *       mutex -> EPERM;
 *     - shared_mutex: std::shared_lock readers overlap (max inside >= 2), a writer's try_lock
 *       fails while readers hold it and try_lock_shared fails while a writer holds it, writers
 *       under std::unique_lock are exclusive (readers never see a half-done update, exact
 *       count), unlock_shared without a lock -> EPERM;
 *     - condition_variable: producer/consumers with wait(lk, pred), wait(lk) in a loop,
 *       wait_for -> cv_status::timeout after >= its duration and no_timeout when notified,
 *       wait_for(lk, d, pred) false on timeout / true when set, wait_until both ways,
 *       notify_one wakes one and notify_all the rest, a std::thread waiter, waiting without
 *       the lock -> EPERM;
 *     - waitgroup: wait() returns after exactly n done()s (goroutines and a thread waiter),
 *       add making the counter negative -> EINVAL;
 *     - call_once: f runs once among 16 goroutines and its effect is visible to all on
 *       return; a throwing f leaves the flag unset (the next call runs f);
 *     - this_goroutine: sleep_for lower bound (integer and floating durations), sleep_until,
 *       yield() counted in gmp_stats.yields, id() distinct.
 *
 * Catches: a header that does not compile clean (run.sh shows diagnostics), wrong values or
 * ordering through the wrappers, select delivering into the wrong out, timeouts mapped wrongly
 * (chrono -> ns, -ETIMEDOUT/-EAGAIN -> nullopt), errors not thrown or with the wrong code,
 * locks that do not exclude, lost notifications, call_once running twice, and the runtime's
 * channels and locks themselves going wrong under the C++ face.
 */
#include "harness.h"

#include "gmp.hpp"

#include <memory>
#include <set>
#include <shared_mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using std::chrono::steady_clock;

namespace {

double ms_since(steady_clock::time_point t0)
{
    return std::chrono::duration<double, std::milli>(steady_clock::now() - t0).count();
}

// The errno of the std::system_error f() throws (checking its category), or 0 if none.
template <class F> int thrown_errno(F &&f)
{
    try {
        f();
    } catch (const std::system_error &e) {
        CHECK(e.code().category() == std::generic_category(),
              "system_error in category %s, want generic", e.code().category().name());
        return e.code().value();
    }
    return 0;
}

// Goroutines that use a function's locals: wait() (and the destructor) waits until every one
// of them has returned, so the channels and locks they use outlive their last call.
class crew {
  public:
    template <class F> void go(F &&f)
    {
        wg_.add(1);
        try {
            gmp::go([this, fn = std::forward<F>(f)]() mutable {
                fn();
                wg_.done();
            });
        } catch (...) {
            wg_.done();
            throw;
        }
    }
    void wait() { wg_.wait(); }
    ~crew() { wg_.wait(); }

  private:
    gmp::waitgroup wg_;
};

// ------------------------------------------------------------------ 1. children

int child(const char *what)
{
    if (strcmp(what, "throw") == 0) {
        gmp::run_main([] {
            gmp::go([] {
                gmp::this_goroutine::yield();
                throw std::runtime_error("escaped from a goroutine");
            });
            gmp::this_goroutine::sleep_for(5s);
        });
        fprintf(stderr, "child throw: still alive\n");
        return 0;
    }
    if (strcmp(what, "busy") == 0) {
        gmp::run_main([] {
            auto c = std::make_unique<gmp::chan<int>>(0);
            gmp::go([&] { c->recv(); });
            gmp::this_goroutine::sleep_for(50ms); // the receiver is blocked by now
            c.reset();
        });
        fprintf(stderr, "child busy: still alive\n");
        return 0;
    }
    fprintf(stderr, "unknown child %s\n", what);
    return 2;
}

void run_child(const char *what, const char *want)
{
    const char *args[] = {what, nullptr};
    char err[4096];
    int st = 0;
    h_run_self(args, nullptr, err, sizeof err, &st);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "child %s: %s, want SIGABRT; stderr: %s",
          what, h_describe_status(st), err);
    CHECK(strstr(err, want) != nullptr, "child %s: stderr lacks '%s': %s", what, want, err);
}

// ------------------------------------------------------------------ 4. goroutines and ids

void test_go_ids()
{
    constexpr int N = 20;
    int64_t returned[N] = {}, seen[N] = {};
    gmp::waitgroup wg;
    wg.add(N);
    for (int i = 0; i < N; i++)
        returned[i] = gmp::go([&, i] {
            seen[i] = gmp::this_goroutine::id();
            gmp::this_goroutine::yield();
            wg.done();
        });
    wg.wait();
    std::set<int64_t> ids;
    int64_t me = gmp::this_goroutine::id();
    CHECK(me > 0, "main goroutine id %lld", (long long)me);
    ids.insert(me);
    for (int i = 0; i < N; i++) {
        CHECK(returned[i] > 0, "go returned %lld", (long long)returned[i]);
        CHECK_EQ(seen[i], returned[i]);
        ids.insert(returned[i]);
    }
    CHECK_EQ(ids.size(), N + 1);

    // Extra arguments are copied (like std::thread); a move-only callable works.
    gmp::chan<long> out(2);
    gmp::waitgroup sent;
    sent.add(2);
    std::string s = "abc";
    gmp::go(
        [&out](int a, const std::string &str, gmp::waitgroup *w) {
            out.send(a + (long)str.size());
            w->done();
        },
        39, s, &sent);
    s = "changed"; // the goroutine has its own copy
    auto p = std::make_unique<int>(7);
    gmp::go([&out, &sent, q = std::move(p)] {
        out.send(*q * 100);
        sent.done();
    });
    long a = *out.recv(), b = *out.recv();
    CHECK((a == 42 && b == 700) || (a == 700 && b == 42), "go args: got %ld and %ld", a, b);
    sent.wait();
}

// ------------------------------------------------------------------ chan

struct Point {
    int x;
    double y;
    char name[12];
};
struct Signal {};
struct NoDefault {
    int v;
    explicit NoDefault(int x) : v(x) {}
};
static_assert(std::is_trivially_copyable_v<NoDefault> && !std::is_default_constructible_v<NoDefault>);
static_assert(gmp::chan<Signal>::elem_size == 0 && gmp::chan<int>::elem_size == sizeof(int));

void test_chan()
{
    gmp::chan<int> c(3);
    CHECK_EQ(c.cap(), 3);
    CHECK_EQ(c.len(), 0);
    for (int v : {10, 20, 30}) c.send(v);
    CHECK_EQ(c.len(), 3);
    for (int want : {10, 20, 30}) {
        std::optional<int> got = c.recv();
        CHECK(got.has_value(), "recv of %d: nullopt", want);
        CHECK_EQ(*got, want);
    }
    c.send(40);
    c.close();
    CHECK_EQ(*c.recv(), 40); // drained after the close
    CHECK(!c.recv().has_value(), "recv on a closed, drained channel has a value");
    CHECK_EQ(thrown_errno([&] { c.send(1); }), EPIPE);
    CHECK_EQ(thrown_errno([&] { c.close(); }), EPIPE);
    try {
        c.send(2);
        CHECK(false, "send on a closed channel did not throw");
    } catch (const std::system_error &e) {
        CHECK(e.code() == std::errc::broken_pipe, "code %d", e.code().value());
    }

    // Unbuffered, goroutine to goroutine, in order; close ends the consumer's loop.
    gmp::chan<int> u;
    CHECK_EQ(u.cap(), 0);
    constexpr int N = 2000;
    gmp::chan<long> result(1);
    crew g;
    g.go([&] {
        long sum = 0;
        int expect = 1;
        while (std::optional<int> v = u.recv()) {
            CHECK_EQ(*v, expect);
            expect++;
            sum += *v;
        }
        result.send(sum);
    });
    for (int i = 1; i <= N; i++) u.send(i);
    u.close();
    CHECK_EQ(*result.recv(), (long)N * (N + 1) / 2);
    g.wait();

    // A struct, a signal-only channel, a T without a default constructor.
    gmp::chan<Point> pc(1);
    pc.send(Point{3, 2.5, "three"});
    Point p = *pc.recv();
    CHECK(p.x == 3 && p.y == 2.5 && strcmp(p.name, "three") == 0, "point %d %g %s", p.x, p.y,
          p.name);
    gmp::chan<Signal> sig(2);
    sig.send(Signal{});
    CHECK_EQ(sig.len(), 1);
    CHECK(sig.recv().has_value(), "signal lost");
    sig.close();
    CHECK(!sig.recv().has_value(), "closed signal channel gave a value");
    gmp::chan<NoDefault> nd(1);
    nd.send(NoDefault(77));
    CHECK_EQ(nd.recv()->v, 77);

    // Moves: the handle moves, the moved-from channel reports EINVAL.
    gmp::chan<int> m1(1);
    gmp_chan *h = m1.native_handle();
    CHECK(h != nullptr, "no handle");
    m1.send(5);
    gmp::chan<int> m2 = std::move(m1);
    CHECK(m1.native_handle() == nullptr && m2.native_handle() == h, "move did not move");
    CHECK_EQ(thrown_errno([&] { m1.send(1); }), EINVAL);
    CHECK_EQ(thrown_errno([&] { (void)m1.len(); }), EINVAL);
    gmp::chan<int> m3(4);
    m3 = std::move(m2);
    CHECK(m3.native_handle() == h && m3.cap() == 1, "move assignment");
    CHECK_EQ(*m3.recv(), 5);

    // Goroutines and plain threads share a channel both ways. The main goroutine blocks on
    // the thread only once the thread has called into the runtime: until then a goroutine
    // blocked with nobody else to wake it is, by gmp_main's rule, a deadlock (-EDEADLK).
    gmp::chan<int> to_thread, from_thread(8);
    std::atomic<bool> thread_in{false};
    std::thread t([&] {
        CHECK_EQ(gmp::this_goroutine::id(), 0);
        CHECK_EQ(to_thread.len(), 0); // its first call into the runtime
        thread_in = true;
        long s = 0;
        while (auto v = to_thread.recv()) s += *v;
        for (int i = 0; i < 100; i++) from_thread.send(i);
        from_thread.send((int)s);
        from_thread.close();
    });
    while (!thread_in) gmp::this_goroutine::yield();
    for (int i = 1; i <= 100; i++) to_thread.send(i);
    to_thread.close();
    int count = 0, last = -1;
    while (auto v = from_thread.recv()) {
        if (count < 100) CHECK_EQ(*v, count);
        last = *v;
        count++;
    }
    t.join();
    CHECK_EQ(count, 101);
    CHECK_EQ(last, 5050);
}

// ------------------------------------------------------------------ select

void test_select()
{
    crew g; // waited for at the end, before any local goes
    gmp::chan<int> a(1), b(1), s(1);
    std::optional<int> oa = -1, ob = -1;

    b.send(5);
    size_t k = gmp::select({gmp::recv_case(a, oa), gmp::recv_case(b, ob)});
    CHECK_EQ(k, 1);
    CHECK(ob == 5, "ob = %d", ob ? *ob : -999);
    CHECK(oa == -1, "the unchosen case's out was touched: %d", oa ? *oa : -999);

    k = gmp::select({gmp::recv_case(a, oa), gmp::send_case(s, 9)});
    CHECK_EQ(k, 1);
    CHECK_EQ(s.len(), 1);
    CHECK_EQ(*s.recv(), 9);

    // Blocks until a goroutine sends.
    auto t0 = steady_clock::now();
    g.go([&] {
        gmp::this_goroutine::sleep_for(20ms);
        a.send(11);
    });
    k = gmp::select({gmp::recv_case(b, ob), gmp::recv_case(a, oa)});
    CHECK_EQ(k, 1);
    CHECK(oa == 11, "oa = %d", oa ? *oa : -999);
    CHECK(ms_since(t0) >= 19.0, "select returned after %.1f ms, before the send", ms_since(t0));

    // Timeout, and Go's default.
    t0 = steady_clock::now();
    std::optional<size_t> r = gmp::select({gmp::recv_case(a, oa), gmp::recv_case(b, ob)}, 30ms);
    double el = ms_since(t0);
    CHECK(!r, "select on empty channels chose %zu", *r);
    CHECK(el >= 29.9, "timed out after %.2f ms, want >= 30", el);
    CHECK(el < 5000, "timed out after %.0f ms", el);
    t0 = steady_clock::now();
    r = gmp::select({gmp::recv_case(a, oa)}, 0s);
    CHECK(!r, "default select chose %zu", *r);
    CHECK(ms_since(t0) < 1000, "default select took %.0f ms", ms_since(t0));
    a.send(12);
    r = gmp::select({gmp::recv_case(b, ob), gmp::recv_case(a, oa)}, std::chrono::nanoseconds(0));
    CHECK(r && *r == 1 && oa == 12, "default select with a ready case: %d", r ? (int)*r : -1);
    r = gmp::select({gmp::recv_case(a, oa)}, std::chrono::duration<double>(0.005));
    CHECK(!r, "floating-point timeout chose %zu", *r);

    // A closed channel's receive case is ready and gives nullopt.
    gmp::chan<int> closed(1);
    closed.close();
    oa = 123;
    k = gmp::select({gmp::recv_case(a, ob), gmp::recv_case(closed, oa)});
    CHECK_EQ(k, 1);
    CHECK(!oa.has_value(), "closed channel case gave %d", *oa);
    // A send case on a closed channel throws EPIPE.
    CHECK_EQ(thrown_errno([&] { gmp::select({gmp::send_case(closed, 1)}); }), EPIPE);

    // Random choice between two ready cases.
    int hits[2] = {0, 0};
    for (int i = 0; i < 400; i++) {
        if (a.len() == 0) a.send(1);
        if (b.len() == 0) b.send(2);
        k = gmp::select({gmp::recv_case(a, oa), gmp::recv_case(b, ob)});
        CHECK(k < 2, "k = %zu", k);
        CHECK_EQ(k == 0 ? *oa : *ob, (int)k + 1);
        hits[k]++;
    }
    CHECK(hits[0] >= 50 && hits[1] >= 50, "choices %d / %d of 400: not random", hits[0], hits[1]);
    while (a.len()) a.recv();
    while (b.len()) b.recv();

    // A moved-from channel's case is never ready (Go's nil channel).
    gmp::chan<int> live(1);
    live.send(1);
    gmp::chan<int> moved = std::move(live);
    r = gmp::select({gmp::recv_case(live, oa)}, 10ms);
    CHECK(!r, "a moved-from channel's case was chosen");
    CHECK_EQ(moved.len(), 1);

    // The vector form, more cases than fit the inline array.
    std::vector<gmp::chan<int>> many;
    for (int i = 0; i < 10; i++) many.emplace_back(1);
    std::vector<std::optional<int>> outs(10);
    many[7].send(707);
    std::vector<gmp::select_case> cases;
    for (int i = 0; i < 10; i++) cases.push_back(gmp::recv_case(many[i], outs[i]));
    k = gmp::select(cases);
    CHECK_EQ(k, 7);
    CHECK(outs[7] == 707, "vector select out");
    for (int i = 0; i < 10; i++)
        if (i != 7) CHECK(!outs[i].has_value(), "out %d assigned", i);
    CHECK(!gmp::select(cases, 1ms), "vector select with nothing ready chose a case");

    // A big element (the shared receive buffer on the heap).
    struct Big {
        char b[1000];
    };
    gmp::chan<Big> big(1);
    std::optional<Big> ob2;
    Big v;
    for (int i = 0; i < 1000; i++) v.b[i] = (char)(i * 7);
    g.go([&] { big.send(v); });
    k = gmp::select({gmp::recv_case(a, oa), gmp::recv_case(big, ob2)});
    CHECK_EQ(k, 1);
    CHECK(ob2 && memcmp(ob2->b, v.b, sizeof v.b) == 0, "big element corrupted");

    // A goroutine blocked in select on a send, woken by a receiver.
    gmp::chan<int> un;
    g.go([&] {
        gmp::this_goroutine::sleep_for(5ms);
        CHECK_EQ(*un.recv(), 31);
    });
    k = gmp::select({gmp::recv_case(a, oa), gmp::send_case(un, 31)});
    CHECK_EQ(k, 1);
    g.wait();
}

// ------------------------------------------------------------------ mutex

void test_mutex()
{
    gmp::mutex m;
    long counter = 0;
    std::atomic<int> inside{0}, max_inside{0};
    constexpr int NG = 8, NT = 2, ITER = 2000;
    auto body = [&] {
        for (int i = 0; i < ITER; i++) {
            std::lock_guard<gmp::mutex> hold(m);
            int now = ++inside;
            if (now > max_inside) max_inside = now;
            long c = counter;
            if (i % 64 == 0) gmp::this_goroutine::yield(); // switch while holding it
            counter = c + 1;
            --inside;
        }
    };
    gmp::waitgroup wg;
    wg.add(NG);
    for (int g = 0; g < NG; g++)
        gmp::go([&] {
            body();
            wg.done();
        });
    std::vector<std::thread> ts;
    for (int t = 0; t < NT; t++) ts.emplace_back(body);
    wg.wait();
    for (auto &t : ts) t.join();
    CHECK_EQ(counter, (long)(NG + NT) * ITER);
    CHECK_EQ(max_inside.load(), 1);

    // try_lock and std::unique_lock(try_to_lock) fail while another goroutine holds it.
    gmp::chan<int> step, ack;
    crew g;
    g.go([&] {
        std::unique_lock<gmp::mutex> lk(m);
        step.send(1); // holding it
        ack.recv();
    });
    step.recv();
    CHECK(!m.try_lock(), "try_lock succeeded on a held mutex");
    {
        std::unique_lock<gmp::mutex> lk(m, std::try_to_lock);
        CHECK(!lk.owns_lock(), "unique_lock(try_to_lock) owns a held mutex");
    }
    ack.send(1);
    {
        std::unique_lock<gmp::mutex> lk(m); // waits for the holder's release
        CHECK(lk.owns_lock(), "unique_lock does not own");
    }
    g.wait();
    CHECK(m.try_lock(), "try_lock failed on a free mutex");
    m.unlock();
    CHECK_EQ(thrown_errno([&] { m.unlock(); }), EPERM);

    // std::scoped_lock over two mutexes, taken in opposite orders (std::lock avoids deadlock).
    gmp::mutex m1, m2;
    long both = 0;
    wg.add(2);
    for (int dir = 0; dir < 2; dir++)
        gmp::go([&, dir] {
            for (int i = 0; i < 300; i++) {
                if (dir == 0) {
                    std::scoped_lock hold(m1, m2);
                    both++;
                    if (i % 16 == 0) gmp::this_goroutine::yield();
                } else {
                    std::scoped_lock hold(m2, m1);
                    both++;
                    if (i % 16 == 0) gmp::this_goroutine::yield();
                }
            }
            wg.done();
        });
    wg.wait();
    CHECK_EQ(both, 600);
    CHECK(m1.try_lock() && m2.try_lock(), "scoped_lock left a mutex locked");
    m1.unlock();
    m2.unlock();
}

// ------------------------------------------------------------------ shared_mutex

void test_shared_mutex()
{
    gmp::shared_mutex rw;
    crew g;

    // Readers overlap; a writer cannot get in meanwhile.
    gmp::chan<int> in, go_on;
    g.go([&] {
        std::shared_lock<gmp::shared_mutex> r(rw);
        in.send(1);
        go_on.recv();
    });
    in.recv(); // the reader holds it
    {
        std::shared_lock<gmp::shared_mutex> r2(rw, std::try_to_lock);
        CHECK(r2.owns_lock(), "a second reader could not share the lock");
        CHECK(!rw.try_lock(), "writer try_lock succeeded while readers hold it");
        std::unique_lock<gmp::shared_mutex> w(rw, std::try_to_lock);
        CHECK(!w.owns_lock(), "unique_lock(try_to_lock) owns a read-locked shared_mutex");
    }
    go_on.send(1);
    {
        std::unique_lock<gmp::shared_mutex> w(rw); // the reader is gone
        gmp::chan<int> res(1);
        g.go([&] {
            res.send(rw.try_lock_shared() ? 1 : 0);
            res.send(rw.try_lock() ? 1 : 0);
        });
        CHECK_EQ(*res.recv(), 0);
        CHECK_EQ(*res.recv(), 0);
        g.wait();
    }
    CHECK(rw.try_lock_shared(), "try_lock_shared failed on a free shared_mutex");
    rw.unlock_shared();
    CHECK_EQ(thrown_errno([&] { rw.unlock_shared(); }), EPERM);
    CHECK_EQ(thrown_errno([&] { rw.unlock(); }), EPERM);

    // Writers exclusive, readers consistent, readers concurrent.
    long x = 0, y = 0;
    std::atomic<int> readers{0}, max_readers{0}, torn{0};
    constexpr int NW = 3, NR = 4, WITER = 300, RITER = 200;
    gmp::waitgroup wg;
    wg.add(NW + NR);
    for (int w = 0; w < NW; w++)
        gmp::go([&] {
            for (int i = 0; i < WITER; i++) {
                std::lock_guard<gmp::shared_mutex> hold(rw);
                x++;
                if (i % 8 == 0) gmp::this_goroutine::yield();
                y++;
            }
            wg.done();
        });
    for (int r = 0; r < NR; r++)
        gmp::go([&] {
            for (int i = 0; i < RITER; i++) {
                std::shared_lock<gmp::shared_mutex> hold(rw);
                int now = ++readers;
                if (now > max_readers) max_readers = now;
                if (x != y) torn++;
                if (i % 20 == 0) gmp::this_goroutine::sleep_for(200us); // others read meanwhile
                if (x != y) torn++;
                --readers;
            }
            wg.done();
        });
    wg.wait();
    CHECK_EQ(x, (long)NW * WITER);
    CHECK_EQ(y, x);
    CHECK_EQ(torn.load(), 0);
    CHECK(max_readers.load() >= 2, "readers never overlapped (max %d)", max_readers.load());
}

// ------------------------------------------------------------------ condition_variable

void test_cv()
{
    gmp::mutex m;
    gmp::condition_variable cv;
    crew g; // waited for at the end, before any local goes

    // Producer / consumers.
    std::vector<int> queue;
    bool finished = false;
    long consumed = 0;
    constexpr int NC = 4, ITEMS = 1000;
    gmp::waitgroup wg;
    wg.add(NC);
    for (int c = 0; c < NC; c++)
        gmp::go([&] {
            std::unique_lock<gmp::mutex> lk(m);
            for (;;) {
                cv.wait(lk, [&] { return !queue.empty() || finished; });
                if (queue.empty()) break;
                consumed += queue.back();
                queue.pop_back();
            }
            wg.done();
        });
    for (int i = 1; i <= ITEMS; i++) {
        std::lock_guard<gmp::mutex> hold(m);
        queue.push_back(i);
        cv.notify_one();
        if (i % 50 == 0) gmp::this_goroutine::yield();
    }
    {
        std::lock_guard<gmp::mutex> hold(m);
        finished = true;
    }
    cv.notify_all();
    wg.wait();
    CHECK_EQ(consumed, (long)ITEMS * (ITEMS + 1) / 2);

    // wait_for: a timeout, then a notification in time.
    std::unique_lock<gmp::mutex> lk(m);
    auto t0 = steady_clock::now();
    std::cv_status st = cv.wait_for(lk, 25ms);
    double el = ms_since(t0);
    CHECK(st == std::cv_status::timeout, "wait_for with nobody notifying: no_timeout");
    CHECK(el >= 24.9, "wait_for timed out after %.2f ms, want >= 25", el);
    CHECK(lk.owns_lock(), "wait_for returned without the lock");
    bool flag = false;
    g.go([&] {
        gmp::this_goroutine::sleep_for(5ms);
        std::lock_guard<gmp::mutex> hold(m);
        flag = true;
        cv.notify_one();
    });
    t0 = steady_clock::now();
    while (!flag) {
        st = cv.wait_for(lk, 10s);
        CHECK(st == std::cv_status::no_timeout, "notified wait_for timed out");
    }
    CHECK(ms_since(t0) < 5000, "notified wait_for took %.0f ms", ms_since(t0));

    // wait_for / wait_until with a predicate, and without.
    t0 = steady_clock::now();
    bool ok = cv.wait_for(lk, 20ms, [] { return false; });
    el = ms_since(t0);
    CHECK(!ok, "wait_for(pred never true) returned true");
    CHECK(el >= 19.9, "wait_for(pred) gave up after %.2f ms, want >= 20", el);
    flag = false;
    g.go([&] {
        gmp::this_goroutine::sleep_for(5ms);
        std::lock_guard<gmp::mutex> hold(m);
        flag = true;
        cv.notify_all();
    });
    ok = cv.wait_for(lk, 10s, [&] { return flag; });
    CHECK(ok && flag, "wait_for(pred) missed the notification");
    t0 = steady_clock::now();
    st = cv.wait_until(lk, steady_clock::now() + 15ms);
    el = ms_since(t0);
    CHECK(st == std::cv_status::timeout && el >= 14.9, "wait_until: %s after %.2f ms",
          st == std::cv_status::timeout ? "timeout" : "no_timeout", el);
    ok = cv.wait_until(lk, steady_clock::now() + 10ms, [] { return false; });
    CHECK(!ok, "wait_until(pred never true) returned true");
    ok = cv.wait_until(lk, steady_clock::now() + 10ms, [] { return true; });
    CHECK(ok, "wait_until(pred true) returned false");
    lk.unlock();
    CHECK_EQ(thrown_errno([&] { cv.wait(lk); }), EPERM);

    // notify_one wakes one waiter, notify_all the rest. Each waiter takes one ticket.
    constexpr int NWAIT = 6;
    int tickets = 0, waiting = 0;
    gmp::chan<int> woke(NWAIT);
    for (int i = 0; i < NWAIT; i++)
        g.go([&, i] {
            std::unique_lock<gmp::mutex> l(m);
            waiting++;
            cv.notify_all(); // tells the main goroutine (below) one more is waiting
            while (tickets == 0) cv.wait(l);
            tickets--;
            waiting--;
            l.unlock();
            woke.send(i);
        });
    lk.lock();
    cv.wait(lk, [&] { return waiting == NWAIT; });
    tickets = 1;
    cv.notify_one();
    lk.unlock();
    std::optional<int> first;
    CHECK(gmp::select({gmp::recv_case(woke, first)}, 10s), "notify_one woke nobody");
    lk.lock();
    tickets = NWAIT - 1;
    cv.notify_all();
    lk.unlock();
    for (int i = 1; i < NWAIT; i++) {
        std::optional<int> who;
        CHECK(gmp::select({gmp::recv_case(woke, who)}, 10s),
              "notify_all: only %d of %d waiters woke", i, NWAIT);
    }
    CHECK_EQ(waiting, 0);

    // A plain thread waits, a goroutine notifies.
    bool ready = false;
    std::thread t([&] {
        std::unique_lock<gmp::mutex> l(m);
        cv.wait(l, [&] { return ready; });
        ready = false;
    });
    gmp::this_goroutine::sleep_for(5ms);
    {
        std::lock_guard<gmp::mutex> hold(m);
        ready = true;
    }
    cv.notify_all();
    t.join();
    CHECK(!ready, "the thread waiter did not run after the notification");
    g.wait();
}

// ------------------------------------------------------------------ waitgroup

void test_waitgroup()
{
    gmp::waitgroup wg;
    wg.wait(); // zero: returns at once
    constexpr int N = 50;
    std::atomic<int> finished{0};
    wg.add(N / 2);
    wg.add(N - N / 2);
    for (int i = 0; i < N; i++)
        gmp::go([&, i] {
            gmp::this_goroutine::sleep_for(std::chrono::microseconds(100 * (i % 7)));
            finished++;
            wg.done();
        });
    wg.wait();
    CHECK_EQ(finished.load(), N);
    CHECK_EQ(thrown_errno([&] { wg.done(); }), EINVAL);
    CHECK_EQ(thrown_errno([&] { wg.add(-1); }), EINVAL);
    wg.add(1);
    CHECK_EQ(thrown_errno([&] { wg.add(-2); }), EINVAL); // nothing changes
    // A plain thread waits for goroutines.
    std::atomic<int> thread_saw{-1};
    std::thread t([&] {
        wg.wait();
        thread_saw = finished.load();
    });
    gmp::go([&] {
        gmp::this_goroutine::sleep_for(10ms);
        finished++;
        wg.done();
    });
    t.join();
    CHECK_EQ(thread_saw.load(), N + 1);
}

// ------------------------------------------------------------------ call_once

void test_call_once()
{
    gmp::once_flag flag;
    std::atomic<int> runs{0};
    int value = 0; // written once by f, read by every caller after call_once
    constexpr int N = 16;
    std::atomic<int> bad{0};
    gmp::waitgroup wg;
    wg.add(N);
    for (int i = 0; i < N; i++)
        gmp::go([&] {
            gmp::call_once(
                flag,
                [&](int v) {
                    runs++;
                    gmp::this_goroutine::sleep_for(10ms); // the others arrive meanwhile
                    value = v;
                },
                42);
            if (value != 42) bad++;
            wg.done();
        });
    wg.wait();
    CHECK_EQ(runs.load(), 1);
    CHECK_EQ(bad.load(), 0);
    gmp::call_once(flag, [&] { runs++; });
    CHECK_EQ(runs.load(), 1);

    // A throwing f leaves the flag unset.
    gmp::once_flag f2;
    int calls = 0;
    try {
        gmp::call_once(f2, [&] {
            calls++;
            throw std::runtime_error("first");
        });
        CHECK(false, "call_once swallowed the exception");
    } catch (const std::runtime_error &e) {
        CHECK(strcmp(e.what(), "first") == 0, "caught %s", e.what());
    }
    gmp::call_once(f2, [&] { calls++; });
    gmp::call_once(f2, [&] { calls++; });
    CHECK_EQ(calls, 2);
}

// ------------------------------------------------------------------ this_goroutine

void test_this_goroutine()
{
    auto t0 = steady_clock::now();
    gmp::this_goroutine::sleep_for(30ms);
    double el = ms_since(t0);
    CHECK(el >= 29.9, "sleep_for(30ms) returned after %.2f ms", el);
    t0 = steady_clock::now();
    gmp::this_goroutine::sleep_for(std::chrono::duration<double, std::milli>(12.5));
    el = ms_since(t0);
    CHECK(el >= 12.4, "sleep_for(12.5ms as double) returned after %.2f ms", el);
    t0 = steady_clock::now();
    gmp::this_goroutine::sleep_until(t0 + 15ms);
    CHECK(steady_clock::now() >= t0 + 15ms, "sleep_until returned early");
    gmp::this_goroutine::sleep_for(-5ms); // a yield
    gmp::this_goroutine::sleep_for(0s);

    gmp_stats before = h_stats();
    for (int i = 0; i < 10; i++) gmp::this_goroutine::yield();
    gmp_stats after = h_stats();
    CHECK(after.yields >= before.yields + 10, "yield(): yields %llu -> %llu",
          (unsigned long long)before.yields, (unsigned long long)after.yields);

    int64_t me = gmp::this_goroutine::id();
    gmp::chan<int64_t> idc(1);
    crew g;
    g.go([&] { idc.send(gmp::this_goroutine::id()); });
    int64_t other = *idc.recv();
    g.wait();
    CHECK(me > 0 && other > 0 && me != other, "ids %lld and %lld", (long long)me,
          (long long)other);
}

} // namespace

int main(int argc, char **argv)
{
    if (argc > 1) return child(argv[1]);
    h_check_lib();

    // 1. Children first: h_run_self wants a parent whose runtime has not started.
    run_child("throw", "gmp::go: goroutine ");
    run_child("throw", "ended by an uncaught exception: escaped from a goroutine");
    run_child("busy", "gmp::chan: destroyed while a goroutine or thread is blocked on it");

    // 2. Thread context.
    CHECK_EQ(gmp::this_goroutine::id(), 0);
    {
        gmp::chan<int> c(1);
        c.send(3);
        CHECK_EQ(*c.recv(), 3);
    }

    // 3. run_main's result and errors.
    CHECK_EQ(gmp::run_main([] {}), 0);
    CHECK_EQ(gmp::run_main([] { return 7; }), 7);
    try {
        gmp::run_main([]() -> int { throw std::runtime_error("from main goroutine"); });
        CHECK(false, "run_main swallowed the exception");
    } catch (const std::runtime_error &e) {
        CHECK(strcmp(e.what(), "from main goroutine") == 0, "caught '%s'", e.what());
    }

    // 4. Everything else, in the main goroutine.
    int sections = 0;
    int r = gmp::run_main([&] {
        CHECK(gmp::this_goroutine::id() > 0, "run_main's f is not a goroutine");
        CHECK_EQ(thrown_errno([] { gmp::run_main([] {}); }), EPERM);
        test_go_ids();
        sections++;
        test_chan();
        sections++;
        test_select();
        sections++;
        test_mutex();
        sections++;
        test_shared_mutex();
        sections++;
        test_cv();
        sections++;
        test_waitgroup();
        sections++;
        test_call_once();
        sections++;
        test_this_goroutine();
        sections++;
        return 42;
    });
    CHECK_EQ(r, 42);
    CHECK_EQ(sections, 9);
    printf("t_hpp: ok\n");
    return 0;
}
