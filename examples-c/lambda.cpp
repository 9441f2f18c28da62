// libgmp from C++ (gmp.hpp): lambdas as goroutines, captures included, and a wait group.
//   g++ -std=c++17 lambda.cpp -Iinclude -Ltarget/release -Wl,-rpath,target/release -lgmp
// Exit status 0 if the sum is right.
#include <atomic>
#include <cstdio>
#include <stdexcept>
#include "gmp.hpp"

int main() {
    std::atomic<int> sum{0};
    gmp::run_main([&] {
        gmp::waitgroup wg;
        wg.add(10);
        for (int i = 1; i <= 10; i++)
            gmp::go([&, i] {  // [&]: wg and sum outlive the goroutines (wg.wait() below)
                try {
                    if (i == 7) throw std::runtime_error("seven");  // exceptions work inside goroutines
                    sum += i;
                } catch (const std::exception &) {
                    sum += 7;
                }
                wg.done();
            });
        wg.wait();  // parks the main goroutine until the ten have called done()
    });
    std::printf("sum of 1..10 computed by 10 lambda goroutines: %d\n", sum.load());
    return sum.load() == 55 ? 0 : 1;
}
