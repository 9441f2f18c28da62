/*
 * t_malloc_storm_cxx: the C++ twin of t_malloc_storm. Goroutines preempted inside the C++
 * runtime (operator new = malloc, std::locale's reference counts and once-flags, the
 * unwinder's FDE cache and dl_iterate_phdr, which takes the loader's write lock) must not stop
 * the runtime from making progress, and must come back to correct C++ state.
 *
 * The parent never starts the runtime: it runs RUNS children (this program with the argument
 * "child", h_run_self_timed, CHILD_SECS seconds each) and requires each to exit 0 in time. Most
 * run at GMP_MAXPROCS=1, every third at run.sh's P count; three in four with
 * MALLOC_ARENA_MAX=1 (one malloc arena for every thread: C++ code spends less of its time
 * inside malloc than t_malloc_storm's workers, so it needs the shared arena to hit the bug
 * often), the others with glibc's default arenas. A child that has to be killed is a
 * hang: the parent prints its CPU use over its last 0.5 s (0 ms = deadlocked), counts the
 * hangs (stopping after MAX_HANGS) and fails.
 *
 * One child, for DUR_MS of wall time (then until every goroutine has done MIN_OPS operations
 * of its own): NCXX goroutines loop, with no yield, over
 *  - std::sort of a std::vector<int> of 100 - 5000 pseudo-random values (checked sorted, and
 *    its sum unchanged);
 *  - a std::map<int, std::string> of 300 entries built, half erased, looked up (size and
 *    contents checked);
 *  - std::ostringstream formatting (ints, doubles, std::hex) parsed back with
 *    std::istringstream (values checked);
 *  - throw / catch of a std::runtime_error through two frames (what() checked; RAII
 *    destructors in the unwound frames counted: exactly one per constructor);
 *  - std::shared_ptr copies across a small vector (use_count checked);
 * beside NSYS goroutines looping gmp_entersyscall(); nanosleep(300 us); gmp_exitsyscall() (the
 * runtime retakes their P and needs an M for it, again and again) and NBLK goroutines calling
 * nanosleep(1 ms) unbracketed (a thread blocked in the kernel). The main goroutine waits for
 * all of them (wait group) and checks the counts (exact), then stats.goroutines == 1.
 *
 * Catches: the runtime blocking on a lock a preempted goroutine holds (hang, 0 % CPU);
 * C++ runtime state corrupted by a preemption (wrong results, std::terminate, crash).
 * Against the library before the fix (-DMAX_HANGS=100 -DCHILD_SECS=4): 2-6 of 12 runs hung
 * per P setting (1, 2, 8), at 0 % CPU, all with MALLOC_ARENA_MAX=1: gdb shows sysmon in
 * malloc (newm's Box::new(G)) waiting for main_arena's lock, held by a goroutine preempted
 * inside operator new / free.
 */
#define H_WATCHDOG_SECS 110
#include "harness.h"

#include <algorithm>
#include <iomanip>
#include <map>
#include <memory>
#include <numeric>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#ifndef RUNS
#define RUNS 12
#endif
#ifndef MAX_HANGS
#define MAX_HANGS 3
#endif
#ifndef CHILD_SECS
#define CHILD_SECS 8
#endif
#define DUR_MS 200
#define NCXX 64
#define NSYS 4
#define NBLK 2
#define MIN_OPS 16

namespace {

std::atomic<int> stop{0}, nfinished{0};
std::atomic<long> total_ops{0}, ctors{0}, dtors{0};
wg_t wg;

uint64_t rng_next(uint64_t &s)
{
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
}

bool keep_going(long ops) { return ops < MIN_OPS || !stop.load(std::memory_order_relaxed); }

struct Guard {
    Guard() { ctors++; }
    ~Guard() { dtors++; }
};

__attribute__((noinline)) void thrower(int v)
{
    Guard g;
    throw std::runtime_error("value " + std::to_string(v));
}

__attribute__((noinline)) void middle(int v)
{
    Guard g;
    std::string pad(100 + (size_t)(v % 400), 'x');
    thrower(v + (int)pad.size() * 0);
}

void op_sort(uint64_t &r)
{
    std::vector<int> v(100 + rng_next(r) % 4900);
    for (auto &x : v) x = (int)(rng_next(r) % 100000);
    long long sum = std::accumulate(v.begin(), v.end(), 0LL);
    std::sort(v.begin(), v.end());
    CHECK(std::is_sorted(v.begin(), v.end()), "std::sort did not sort");
    CHECK(std::accumulate(v.begin(), v.end(), 0LL) == sum, "std::sort lost elements");
}

void op_map(uint64_t &r)
{
    std::map<int, std::string> m;
    int base = (int)(rng_next(r) % 1000);
    for (int i = 0; i < 300; i++) m.emplace(base + i, std::to_string(i) + "-value");
    for (int i = 0; i < 300; i += 2) m.erase(base + i);
    CHECK_EQ(m.size(), 150);
    for (int i = 1; i < 300; i += 2) {
        auto it = m.find(base + i);
        CHECK(it != m.end() && it->second == std::to_string(i) + "-value", "map entry %d", i);
    }
}

void op_stream(uint64_t &r)
{
    int a = (int)(rng_next(r) % 1000000);
    double d = (double)a * 0.25;
    std::ostringstream os;
    os << "a=" << a << " d=" << std::setprecision(17) << d << " h=" << std::hex << a;
    std::string s = os.str();
    std::istringstream is(s);
    std::string ta, td, th;
    is >> ta >> td >> th;
    CHECK(ta == "a=" + std::to_string(a), "ostringstream: '%s'", s.c_str());
    CHECK(std::stod(td.substr(2)) == d, "ostringstream double: '%s'", s.c_str());
    CHECK(std::stoi(th.substr(2), nullptr, 16) == a, "ostringstream hex: '%s'", s.c_str());
}

void op_throw(uint64_t &r)
{
    int v = (int)(rng_next(r) % 100000);
    try {
        middle(v);
        CHECK(0, "no exception");
    } catch (const std::runtime_error &e) {
        CHECK(std::string(e.what()) == "value " + std::to_string(v), "what() = '%s'", e.what());
    }
}

void op_shared(uint64_t &r)
{
    auto p = std::make_shared<std::string>(std::to_string(rng_next(r)));
    std::vector<std::shared_ptr<std::string>> v(8, p);
    CHECK_EQ(p.use_count(), 9);
    v.clear();
    CHECK_EQ(p.use_count(), 1);
}

void cxx_worker(void *arg)
{
    uint64_t r = 0x9e3779b97f4a7c15ULL * (uint64_t)((intptr_t)arg + 1);
    long ops = 0;
    while (keep_going(ops)) {
        switch (rng_next(r) % 5) {
        case 0: op_sort(r); break;
        case 1: op_map(r); break;
        case 2: op_stream(r); break;
        case 3: op_throw(r); break;
        default: op_shared(r); break;
        }
        ops++;
    }
    total_ops += ops;
    nfinished++;
    wg_done(&wg);
}

void sys_worker(void *)
{
    long ops = 0;
    while (keep_going(ops)) {
        struct timespec ts = {0, 300000};
        gmp_entersyscall();
        nanosleep(&ts, nullptr);
        gmp_exitsyscall();
        std::string s(2048 + (size_t)(ops % 4096), 'y');
        ops++;
    }
    total_ops += ops;
    nfinished++;
    wg_done(&wg);
}

void blk_worker(void *)
{
    long ops = 0;
    while (keep_going(ops)) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, nullptr); /* unbracketed; its result is t_no_eintr's business */
        std::vector<char> v(3000);
        ops++;
    }
    total_ops += ops;
    nfinished++;
    wg_done(&wg);
}

void child_main(void *)
{
    int n = NCXX + NSYS + NBLK;
    wg_init(&wg);
    wg_add(&wg, n);
    for (int i = 0; i < NSYS; i++) h_spawn(sys_worker, nullptr);
    for (int i = 0; i < NBLK; i++) h_spawn(blk_worker, nullptr);
    for (int i = 0; i < NCXX; i++) h_spawn(cxx_worker, (void *)(intptr_t)i);
    wg_wait(&wg);
    CHECK_EQ(nfinished.load(), n);
    CHECK(ctors.load() == dtors.load(), "%ld Guard constructors, %ld destructors", ctors.load(),
          dtors.load());
    H_GOSCHED_UNTIL(h_stats().goroutines == 1, 10, "goroutines = %llu after all ended",
                    (unsigned long long)h_stats().goroutines);
}

void *deadline(void *)
{
    struct timespec ts = {DUR_MS / 1000, (long)(DUR_MS % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0) {
    }
    stop = 1;
    return nullptr;
}

int child()
{
    pthread_t t;
    CHECK(pthread_create(&t, nullptr, deadline, nullptr) == 0, "deadline thread");
    h_main(child_main, nullptr);
    pthread_join(t, nullptr);
    gmp_stats s = h_stats();
    printf("child cxx: procs %u, %ld operations, %llu preemptions, %llu syscall retakes, "
           "%u threads\n",
           s.procs, total_ops.load(), (unsigned long long)s.preemptions,
           (unsigned long long)s.syscall_retakes, s.threads);
    return 0;
}

} // namespace

int main(int argc, char **argv)
{
    h_check_lib();
    if (argc == 2 && strcmp(argv[1], "child") == 0) return child();
    CHECK(argc == 1, "usage: %s [child]", argv[0]);
    setvbuf(stdout, nullptr, _IOLBF, 0);

    int env_procs = h_env_procs();
    char procs_env[32];
    int hangs = 0, runs = 0;
    static char out[16384];
    static char first[16384 + 512];
    int64_t t0 = h_now_ns();
    for (int i = 0; i < RUNS && hangs < MAX_HANGS; i++, runs++) {
        int procs = (i % 3 == 2 && env_procs > 0) ? env_procs : 1;
        snprintf(procs_env, sizeof procs_env, "GMP_MAXPROCS=%d", procs);
        const char *arena = i % 4 != 3 ? "MALLOC_ARENA_MAX=1" : "MALLOC_ARENA_MAX";
        const char *args[] = {"child", nullptr};
        const char *env[] = {procs_env, arena, nullptr};
        int st;
        bool hung;
        int64_t r0 = h_now_ns();
        h_run_self_timed(args, env, out, sizeof out, &st, CHILD_SECS, &hung);
        double secs = (double)(h_now_ns() - r0) / 1e9;
        char desc[160];
        snprintf(desc, sizeof desc, "run %d (procs %d, %s%s)", i + 1, procs, arena,
                 strchr(arena, '=') ? "" : " unset");
        if (hung) {
            hangs++;
            printf("%s: HUNG, killed after %d s; its stderr:\n%s", desc, CHILD_SECS, out);
            if (!first[0]) snprintf(first, sizeof first, "%s hung: %s", desc, out);
            continue;
        }
        printf("%s: %s in %.2f s\n", desc, h_describe_status(st), secs);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: %s; stderr:\n%s", desc,
              h_describe_status(st), out);
    }
    CHECK(hangs == 0,
          "%d of %d runs hung (the runtime waited on a lock a preempted goroutine holds?); "
          "first: %.3000s",
          hangs, runs, first);
    printf("t_malloc_storm_cxx: ok (%d runs, %.1f s)\n", runs, (double)(h_now_ns() - t0) / 1e9);
    return 0;
}
