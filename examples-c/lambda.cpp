// libgmp from C++: spawn a lambda (captures included) and wait for it.
//   g++ -std=c++17 lambda.cpp -Iinclude -Ltarget/release -Wl,-rpath,target/release -lgmp
#include <atomic>
#include <cstdio>
#include <functional>
#include <memory>
#include <stdexcept>
#include "gmp.h"

// Run any callable as a goroutine: box it, and let a captureless trampoline unbox it.
template <class F> int64_t go(F &&f) {
    auto *boxed = new std::function<void()>(std::forward<F>(f));
    int64_t id = gmp_spawn([](void *p) {
        std::unique_ptr<std::function<void()>> fn(static_cast<std::function<void()> *>(p));
        (*fn)();
    }, boxed);
    if (id < 0) delete boxed;
    return id;
}

int main() {
    std::atomic<int> sum{0};
    gmp_main([](void *arg) {
        auto &sum = *static_cast<std::atomic<int> *>(arg);
        std::atomic<int> left{10};
        for (int i = 1; i <= 10; i++)
            go([&, i] {
                try {
                    if (i == 7) throw std::runtime_error("seven");  // exceptions work inside goroutines
                    sum += i;
                } catch (const std::exception &) {
                    sum += 7;
                }
                left--;
            });
        while (left.load() != 0) gmp_gosched();
    }, &sum);
    std::printf("sum of 1..10 computed by 10 lambda goroutines: %d\n", sum.load());
    return sum.load() == 55 ? 0 : 1;
}
