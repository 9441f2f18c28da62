// libgmp example: examples-c/pipeline.c in C++ with gmp.hpp.
//
//   generate --nums--> square --squares--> sum --result--> main goroutine
//
// Each stage loops `while (auto v = in.recv())` until its input is closed and drained, then
// closes its output, so the close propagates down the pipeline. The channels live in the main
// goroutine's frame; the wait group makes sure every stage has returned before they are
// destroyed (a gmp::chan destroyed while someone is blocked on it terminates the program).
//
//   pipeline_cpp [N]   sums the squares of 1..N (default 100000); exit status 1 if the sum is
//                      not N(N+1)(2N+1)/6
//   make target/examples/pipeline_cpp   (or: g++ -std=c++17 pipeline.cpp -Iinclude
//                                        -Ltarget/release -Wl,-rpath,target/release -lgmp)
#include <cstdio>
#include <cstdlib>
#include "gmp.hpp"

int main(int argc, char **argv) {
    long n = argc > 1 ? std::atol(argv[1]) : 100000;
    if (n < 1 || n > 1000000) {
        std::fprintf(stderr, "usage: pipeline_cpp [N], 1 <= N <= 1000000\n");
        return 2;
    }
    long total = 0;
    gmp::run_main([&] {  // returns when the main goroutine does
        gmp::chan<long> nums;          // unbuffered: hand to hand
        gmp::chan<long> squares(64);   // buffered: `square` may run ahead
        gmp::chan<long> result(1);
        gmp::waitgroup wg;
        wg.add(3);
        gmp::go([&] {  // generate
            for (long i = 1; i <= n; i++) nums.send(i);
            nums.close();
            wg.done();
        });
        gmp::go([&] {  // square
            while (std::optional<long> v = nums.recv()) squares.send(*v * *v);
            squares.close();
            wg.done();
        });
        gmp::go([&] {  // sum
            long s = 0;
            while (auto v = squares.recv()) s += *v;
            result.send(s);
            wg.done();
        });
        total = result.recv().value_or(-1);
        wg.wait();  // every stage has returned: the channels may go
    });
    long want = n * (n + 1) * (2 * n + 1) / 6;
    std::printf("pipeline_cpp: sum of squares of 1..%ld = %ld (generate -> square -> sum over "
                "gmp::chan<long>)\n", n, total);
    if (total != want) {
        std::fprintf(stderr, "pipeline_cpp: wrong sum %ld, want %ld\n", total, want);
        return 1;
    }
    return 0;
}
