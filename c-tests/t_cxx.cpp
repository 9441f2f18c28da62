/*
 * t_cxx: the header compiles as C++17 (extern "C", no C-only constructs) and goroutines run C++.
 *
 *  - a captureless lambda converted to gmp_fn is spawned, and one runs as gmp_main's fn;
 *  - a go() helper runs any callable (capturing lambdas, std::function) through a trampoline that
 *    owns a heap-allocated std::function and deletes it when done;
 *  - exceptions: goroutines throw std::runtime_error from nested frames (with a gmp_gosched
 *    between the try and the throw, so the unwinder walks a goroutine stack that may be
 *    running on another thread by then) and catch them in the goroutine; the destructors of
 *    RAII objects in the unwound frames run exactly once; std::string / std::vector allocate
 *    and free across switches. Done by NG goroutines at once, ROUNDS times each.
 *    (Switching goroutines inside a catch block or while unwinding, then rethrowing, is
 *    t_cxx_eh_switch's subject.)
 *  - the harness's wait group and CHECK macros compile and work in C++ too.
 *
 * Catches: a header that is not valid C++ (missing extern "C" -> link errors, C-only syntax),
 * goroutine stacks the unwinder cannot walk (missing CFI / bad frame at the switch points ->
 * std::terminate), destructors skipped or doubled.
 */
#include "harness.h"

#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

static_assert(std::is_same<decltype(&gmp_spawn), int64_t (*)(gmp_fn, void *)>::value,
              "gmp_spawn signature");

namespace {

constexpr int NG = 16;
constexpr int ROUNDS = 200;

std::atomic<long> ctor_count{0}, dtor_count{0}, caught{0}, lambda_runs{0};

struct Guard {
    Guard() { ctor_count++; }
    ~Guard() { dtor_count++; }
    Guard(const Guard &) = delete;
    Guard &operator=(const Guard &) = delete;
};

int64_t go(std::function<void()> f)
{
    auto *heap = new std::function<void()>(std::move(f));
    int64_t id = gmp_spawn(
        [](void *p) {
            auto *fn = static_cast<std::function<void()> *>(p);
            (*fn)();
            delete fn;
        },
        heap);
    CHECK(id > 0, "gmp_spawn = %lld", (long long)id);
    return id;
}

[[gnu::noinline]] void deep_throw(int depth, int v)
{
    Guard g;
    if (depth == 0) {
        gmp_gosched();
        throw std::runtime_error("boom " + std::to_string(v));
    }
    deep_throw(depth - 1, v);
    CHECK(false, "deep_throw returned");
}

void thrower(int w, wg_t *wg)
{
    std::vector<std::string> log;
    for (int r = 0; r < ROUNDS; r++) {
        int v = w * 100000 + r;
        try {
            Guard outer;
            gmp_gosched();
            deep_throw(r % 5, v);
        } catch (const std::runtime_error &e) {
            std::string want = "boom " + std::to_string(v);
            CHECK(want == e.what(), "caught '%s', want '%s'", e.what(), want.c_str());
            caught++;
            log.push_back(e.what());
        }
        gmp_gosched();
    }
    CHECK((int)log.size() == ROUNDS, "log has %zu entries", log.size());
    wg_done(wg);
}

void main_goroutine(void *)
{
    CHECK(gmp_self() != nullptr, "not a goroutine");
    wg_t wg;
    wg_init(&wg);
    wg_add(&wg, NG + 1);
    // A captureless lambda converted to gmp_fn.
    gmp_fn plain = [](void *p) {
        lambda_runs++;
        wg_done(static_cast<wg_t *>(p));
    };
    h_spawn(plain, &wg);
    for (int w = 0; w < NG; w++) go([w, &wg] { thrower(w, &wg); });
    wg_wait(&wg);
}

} // namespace

int main()
{
    h_check_lib();
    int r = gmp_main(main_goroutine, nullptr);
    CHECK(r == 0, "gmp_main = %d", r);
    r = gmp_main([](void *) { lambda_runs++; }, nullptr);
    CHECK(r == 0, "gmp_main(lambda) = %d", r);
    CHECK_EQ(lambda_runs.load(), 2);
    CHECK_EQ(caught.load(), (long)NG * ROUNDS);
    CHECK_EQ(ctor_count.load(), dtor_count.load());
    long per_round = 0;
    for (int r2 = 0; r2 < ROUNDS; r2++) per_round += 1 + (r2 % 5) + 1;
    CHECK_EQ(ctor_count.load(), (long)NG * per_round);
    printf("t_cxx: ok (%ld exceptions caught)\n", caught.load());
    return 0;
}
