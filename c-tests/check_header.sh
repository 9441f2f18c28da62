#!/usr/bin/env bash
# check_header.sh: include/gmp.h compiles cleanly as strict C and as strict C++, and
# include/gmp.hpp as strict C++17.
#
# Two translation units for gmp.h, each compiled (-c, nothing linked) as
#     $CC  -std=c99   -pedantic -Wall -Wextra -Werror
#     $CXX -std=c++11 -pedantic -Wall -Wextra -Werror
#  1. include.c: includes gmp.h and calls nothing;
#  2. addr.c: includes gmp.h and takes the address of every function the header declares (the
#     list from c-tests/header_funcs.sh), so each declaration must parse as a function of that
#     name (the addresses are cast to void (*)(void), the one function pointer type
#     -Wcast-function-type accepts for any function). The C++ object's undefined symbols (nm -u)
#     must then be exactly those names, unmangled: every declaration has C linkage in C++.
#  3. hpp.cpp: includes only gmp.hpp (standalone: it must pull in everything it needs) and
#     instantiates every template and member it offers (go, run_main, chan<T> with select and
#     its cases, the locks with the std lock wrappers, condition_variable's waits, waitgroup,
#     call_once, this_goroutine), compiled as
#         $CXX -std=c++17 -pedantic -Wall -Wextra -Werror   (and again as -std=c++20)
# The header is included with -I<repo>/include, ahead of any system gmp.h (GNU MP's).
# Prints compiler output on failure, then one line "PASS check_header ..." or
# "FAIL check_header ...". Exit status: 0 on PASS, 1 on FAIL.
# Environment: CC (default gcc), CXX (default g++).
set -u

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
INC="$ROOT/include"
CC="${CC:-gcc}"
CXX="${CXX:-g++}"
[ -f "$INC/gmp.h" ] || { echo "FAIL check_header: no $INC/gmp.h"; exit 1; }
[ -f "$INC/gmp.hpp" ] || { echo "FAIL check_header: no $INC/gmp.hpp"; exit 1; }
# shellcheck source=header_funcs.sh
. "$HERE/header_funcs.sh"

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

funcs=$(header_functions "$INC/gmp.h")
[ -n "$funcs" ] || { echo "FAIL check_header: found no function declaration in gmp.h"; exit 1; }
nfuncs=$(echo "$funcs" | wc -l)

cat >"$TMP/include.c" <<'TU'
#include "gmp.h"
#ifdef __GNU_MP__
#error "GNU MP's gmp.h was included, not libgmp's"
#endif
int main(void) { return 0; }
TU

{
    echo '#include "gmp.h"'
    echo 'typedef void (*any_fn)(void);'
    echo 'static const any_fn fns[] = {'
    for f in $funcs; do echo "    (any_fn)&$f,"; done
    echo '};'
    echo 'int main(void)'
    echo '{'
    echo '    int n = 0;'
    echo '    for (unsigned i = 0; i < sizeof fns / sizeof fns[0]; i++) n += fns[i] != 0;'
    echo '    return n == (int)(sizeof fns / sizeof fns[0]) ? 0 : 1;'
    echo '}'
} >"$TMP/addr.c"

cat >"$TMP/hpp.cpp" <<'TU'
#include "gmp.hpp"
#ifndef GMP_H
#error "gmp.hpp did not include libgmp's gmp.h"
#endif
#include <shared_mutex>

namespace {
struct point { int x; double y; };
struct empty {};

[[maybe_unused]] void every_name()
{
    using namespace std::chrono_literals;
    gmp::chan<int> c(4);
    gmp::chan<point> pc;
    gmp::chan<empty> sig(1);
    gmp::chan<int> moved = std::move(c);
    c = std::move(moved);
    swap(c, moved);
    c.send(1);
    std::optional<int> v = c.recv();
    std::optional<point> p;
    std::optional<empty> e = sig.recv();
    size_t n = c.len() + c.cap() + (c.native_handle() != nullptr);
    size_t k = gmp::select({gmp::recv_case(c, v), gmp::send_case(pc, point{1, 2.0}),
                            gmp::recv_case(pc, p)});
    std::optional<size_t> t = gmp::select({gmp::recv_case(sig, e)}, 10ms);
    t = gmp::select({gmp::send_case(c, 3)}, std::chrono::duration<double>(0.5));
    std::vector<gmp::select_case> cases{gmp::recv_case(c, v)};
    k += gmp::select(cases) + gmp::select(cases, 0s).value_or(0);
    c.close();

    gmp::mutex m;
    gmp::shared_mutex rw;
    gmp::condition_variable cv;
    {
        std::lock_guard<gmp::mutex> a(m);
    }
    {
        std::scoped_lock b(m, rw);
    }
    {
        std::shared_lock<gmp::shared_mutex> r(rw, std::try_to_lock);
        std::unique_lock<gmp::shared_mutex> w(rw, std::defer_lock);
        n += r.owns_lock() + w.try_lock() + rw.try_lock_shared();
    }
    std::unique_lock<gmp::mutex> lk(m);
    cv.wait(lk);
    cv.wait(lk, [] { return true; });
    bool ok = cv.wait_for(lk, 1ms) == std::cv_status::timeout;
    ok = cv.wait_for(lk, 1ms, [] { return true; }) && ok;
    ok = cv.wait_until(lk, std::chrono::steady_clock::now() + 1ms) == std::cv_status::timeout && ok;
    ok = cv.wait_until(lk, std::chrono::system_clock::now(), [] { return false; }) && ok;
    cv.notify_one();
    cv.notify_all();
    n += m.try_lock() + ok;

    gmp::waitgroup wg;
    wg.add(2);
    wg.done();
    wg.wait();
    static gmp::once_flag once;
    gmp::call_once(once, [](int) {}, 1);

    int64_t id = gmp::go([&] { wg.done(); }) + gmp::go([](int, const char *) {}, 1, "x");
    int r = gmp::run_main([] {}) + gmp::run_main([&]() -> int { return (int)(id + (int64_t)n + (int64_t)k); });
    (void)r;
    (void)t;
    gmp::this_goroutine::sleep_for(1ms);
    gmp::this_goroutine::sleep_for(std::chrono::duration<double>(0.001));
    gmp::this_goroutine::sleep_until(std::chrono::steady_clock::now() + 1ms);
    gmp::this_goroutine::yield();
    id += gmp::this_goroutine::id();
}
} // namespace
TU

failed=""
compile() { # label compiler std tu
    local label=$1 cc=$2 std=$3 tu=$4 lang=c
    [ "$std" != "${std#c++}" ] && lang=c++
    if ! "$cc" -x "$lang" "-std=$std" -pedantic -Wall -Wextra -Werror "-I$INC" -c "$TMP/$tu" \
        -o "$TMP/$label.o" >"$TMP/$label.log" 2>&1; then
        echo "$label: $cc -x $lang -std=$std -pedantic -Wall -Wextra -Werror $tu failed:"
        sed 's/^/    | /' "$TMP/$label.log"
        failed="$failed $label"
    fi
}
compile c99-include "$CC" c99 include.c
compile c99-addr "$CC" c99 addr.c
compile c++11-include "$CXX" c++11 include.c
compile c++11-addr "$CXX" c++11 addr.c
compile c++17-hpp "$CXX" c++17 hpp.cpp
compile c++20-hpp "$CXX" c++20 hpp.cpp
if [ -f "$TMP/c++11-addr.o" ]; then
    undef=$(nm -u "$TMP/c++11-addr.o" | awk '{ print $NF }' | sort -u)
    if [ "$undef" != "$funcs" ]; then
        echo "c++11-addr: the C++ object references $(echo $undef | tr -d '\n'), want exactly (C linkage):"
        echo "    $(echo $funcs)"
        failed="$failed c++11-linkage"
    fi
fi

if [ -z "$failed" ]; then
    echo "PASS check_header: gmp.h compiles as C99 and C++11 (-pedantic -Wall -Wextra -Werror), $nfuncs functions' addresses taken, C linkage; gmp.hpp standalone with every template instantiated as C++17 and C++20"
    exit 0
fi
echo "FAIL check_header:$failed"
exit 1
