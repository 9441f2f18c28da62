#!/usr/bin/env bash
# run.sh LIBDIR: build and run the libgmp C tests.
#
# Builds every c-tests/t_*.c (gcc) and t_*.cpp (g++ -std=c++17) into <repo>/target/c-tests/,
# linking against LIBDIR/libgmp.so (LIBDIR first on the link line and in the rpath: Debian's
# GNU MP also installs a libgmp.so; every test also checks at run time, via dladdr, that the
# library it loaded is the one in LIBDIR). Runs each test at GMP_MAXPROCS=1, 2 and 8 under
# `timeout 120`, prints one PASS/FAIL line per run (a FAIL shows the tail of the output), then a
# valgrind pass over two small tests, and ends with the line "N passed, N failed".
# Exit status: 0 if everything passed, 1 otherwise.
set -u

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
LIBDIR="${1:-$ROOT/target/release}"
LIBDIR="$(cd "$LIBDIR" 2>/dev/null && pwd)" || { echo "run.sh: no such directory: ${1:-}"; exit 2; }
OUT="$ROOT/target/c-tests"
INC="$ROOT/include"
PROCS="${PROCS:-1 2 8}"   # the debug-build pass (make test-c-debug) runs one setting
TIMEOUT=120

if [ ! -f "$LIBDIR/libgmp.so" ] || [ ! -f "$INC/gmp.h" ]; then
    echo "run.sh: need $LIBDIR/libgmp.so and $INC/gmp.h (run make)"
    exit 2
fi
# The library's SONAME is libgmp.so.0 (what the test binaries load): make sets up the link.
[ -e "$LIBDIR/libgmp.so.0" ] || ln -sf libgmp.so "$LIBDIR/libgmp.so.0"
mkdir -p "$OUT"
# The tests choose their own GMP_DEBUG where they need one; don't inherit the caller's settings.
unset GMP_DEBUG GMP_STACK_SIZE GMP_MAXPROCS

CC="${CC:-gcc}"
CXX="${CXX:-g++}"
CFLAGS=(-O2 -g -Wall -Wextra "-I$INC" "-DGMP_LIBDIR=\"$LIBDIR\"")
LINK=("-L$LIBDIR" "-Wl,-rpath,$LIBDIR" -lgmp -lpthread -lm)

passed=0
failed=0
pass() { echo "PASS $*"; passed=$((passed + 1)); }
fail() { echo "FAIL $*"; failed=$((failed + 1)); }
show_tail() { tail -n 15 "$1" | sed 's/^/    | /'; }

# ---- build
tests=()
for src in "$HERE"/t_*.c "$HERE"/t_*.cpp; do
    [ -e "$src" ] || continue
    name="$(basename "${src%.*}")"
    log="$OUT/$name.build.log"
    case "$src" in
    *.cpp) cmd=("$CXX" -std=c++17 "${CFLAGS[@]}" "$src" -o "$OUT/$name" "${LINK[@]}") ;;
    *) cmd=("$CC" "${CFLAGS[@]}" "$src" -o "$OUT/$name" "${LINK[@]}") ;;
    esac
    if "${cmd[@]}" >"$log" 2>&1; then
        tests+=("$name")
        if [ -s "$log" ]; then
            echo "warning: $name built with diagnostics:"
            show_tail "$log"
        fi
    else
        fail "$name build"
        show_tail "$log"
    fi
done

# ---- run
run_one() { # name procs [wrapper...]
    local name="$1" procs="$2"
    shift 2
    local log="$OUT/$name.procs$procs${1:+.$(basename "$1")}.log"
    local t0 t1 rc
    t0=$(date +%s.%N)
    GMP_MAXPROCS="$procs" timeout "$TIMEOUT" "$@" "$OUT/$name" >"$log" 2>&1
    rc=$?
    t1=$(date +%s.%N)
    local secs
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
    local label="$name procs=$procs${1:+ ($(basename "$1"))}"
    if [ "$rc" -eq 0 ]; then
        pass "$label ${secs}s"
    else
        local why="exit $rc"
        [ "$rc" -eq 124 ] && why="timeout after ${TIMEOUT}s"
        [ "$rc" -gt 128 ] && [ "$rc" -ne 124 ] && why="killed by signal $((rc - 128))"
        fail "$label: $why"
        show_tail "$log"
    fi
}

for name in "${tests[@]}"; do
    for p in $PROCS; do
        run_one "$name" "$p"
    done
done

# ---- randomized scheduling
# GMP_DEBUG=randomsched=1 (Go's randomizeScheduler: runnext skipped at random, overflow batches
# shuffled): tests that assume no order between goroutines must pass with it too.
RANDOM_TESTS="${RANDOM_TESTS-t_chan t_select t_chan_storm t_sync_locks t_futex t_park_ready t_errno}"
for name in $RANDOM_TESTS; do
    if [[ " ${tests[*]} " == *" $name "* ]]; then
        run_one "$name" 2 env GMP_DEBUG=randomsched=1
    fi
done

# ---- valgrind
# Valgrind copes with the runtime with one adjustment: its stack-switch heuristic. The runtime
# does not register goroutine stacks (VALGRIND_STACK_REGISTER), so memcheck decides "the stack
# pointer moved by more than --max-stackframe bytes = a stack switch; less = a big frame pushed
# or popped". With the default (2 MB) a switch between two goroutine stacks (separate 256 KiB
# mappings, often adjacent) looks like a huge frame: memcheck then marks the memory between as
# undefined, reports millions of bogus "uninitialised value" errors in switch.S/proc.rs and
# eventually crashes the run. No test uses a frame anywhere near 64 KiB, and distinct stacks
# are at least 256 KiB apart, so --max-stackframe=65536 classifies every switch correctly while
# still checking everything else. Threads' %gs base (the runtime's M pointer) is emulated by
# valgrind via arch_prctl(ARCH_SET_GS); valgrind hides FSGSBASE (AT_HWCAP2 = 0) so the runtime
# uses that path. Small tests at procs=2: the park/ready storm (C, futexes, plain threads),
# the C++ test (exceptions unwinding goroutine stacks), and channels and locks shared by
# goroutines and threads (values copied into parked waiters' stacks, waiters on the stack).
# Asynchronous preemption is off under valgrind: on its synthetic CPU every goroutine runs past
# the 10 ms slice, and memcheck does not follow a signal handler that rewrites the interrupted
# context into a call (it reports the trampoline's own saved registers as invalid reads).
# Preemption is tested natively by t_preempt and friends.
VALGRIND_TESTS="${VALGRIND_TESTS-t_park_ready t_cxx t_chan t_sync_locks}"   # empty: no valgrind pass
if [ -z "$VALGRIND_TESTS" ]; then
    :
elif command -v valgrind >/dev/null 2>&1; then
    export GMP_DEBUG=asyncpreemptoff=1
    for name in $VALGRIND_TESTS; do
        if [[ " ${tests[*]} " == *" $name "* ]]; then
            run_one "$name" 2 valgrind --error-exitcode=99 -q --max-stackframe=65536
        fi
    done
    unset GMP_DEBUG
else
    echo "note: valgrind not installed; valgrind pass skipped"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
