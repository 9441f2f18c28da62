// Built by c-tests/install_check.sh against an installed libgmp (pkg-config or CMake), as C++17:
// `#include <gmp.hpp>` must find the installed C++ header, and it the gmp.h beside it (not GNU MP's).
//   prog_cpp LIBDIR   runs goroutines that talk over a gmp::chan, guarded by a gmp::mutex and
//                     waited for with a gmp::waitgroup, checks the results, and checks (dladdr)
//                     that the libgmp it loaded lives in LIBDIR. Prints "ok ..." and exits 0 on
//                     success.
#include <gmp.hpp>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <mutex>
#include <unistd.h>

#if !defined(GMP_HPP) || !defined(GMP_H)
#error "<gmp.hpp> is not libgmp's (goroutine scheduler) C++ header"
#endif

int main(int argc, char **argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s LIBDIR\n", argv[0]);
        return 2;
    }
    alarm(60);
    char want[PATH_MAX], got[PATH_MAX];
    Dl_info info;
    std::memset(&info, 0, sizeof info);
    if (!realpath(argv[1], want)) {
        std::fprintf(stderr, "realpath(%s) failed\n", argv[1]);
        return 1;
    }
    if (!dladdr(reinterpret_cast<void *>(&gmp_spawn), &info) || !info.dli_fname ||
        !realpath(info.dli_fname, got)) {
        std::fprintf(stderr, "dladdr(gmp_spawn) failed\n");
        return 1;
    }
    size_t n = std::strlen(want);
    if (std::strncmp(got, want, n) != 0 || got[n] != '/' || std::strncmp(got + n + 1, "libgmp.so", 9) != 0) {
        std::fprintf(stderr, "libgmp loaded from %s, not from %s\n", got, want);
        return 1;
    }

    constexpr int N = 8;
    long sum = 0, locked = 0;
    try {
        gmp::run_main([&] {
            gmp::chan<long> squares(2);
            gmp::mutex m;
            gmp::waitgroup wg;
            wg.add(N);
            for (long i = 1; i <= N; i++)
                gmp::go([&, i] {
                    squares.send(i * i);
                    std::lock_guard<gmp::mutex> hold(m);
                    locked++;
                    wg.done();
                });
            for (int i = 0; i < N; i++) sum += squares.recv().value_or(-1000);
            wg.wait();
        });
    } catch (const std::exception &e) {
        std::fprintf(stderr, "prog_cpp: %s\n", e.what());
        return 1;
    }
    if (sum != N * (N + 1) * (2 * N + 1) / 6 || locked != N) {
        std::fprintf(stderr, "prog_cpp: sum %ld, locked %ld\n", sum, locked);
        return 1;
    }
    std::printf("ok: gmp.hpp, %d goroutines over a gmp::chan, sum %ld, libgmp from %s\n", N, sum, got);
    return 0;
}
