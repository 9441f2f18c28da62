#!/usr/bin/env bash
# bench/run.sh LIBDIR: build the C benchmarks against LIBDIR/libgmp.so (and their Go twins
# when `go` is on PATH), run each configuration, print one table:
#   benchmark | libgmp | go | ratio | target
# Each cell is the best (minimum) of ROUNDS x REPS repetitions: ROUNDS processes per side,
# libgmp and Go alternating (so a burst of other load hits both sides alike), each process
# doing one warm-up run and then REPS timed ones. ratio = libgmp / go, measured in the same
# run; the target is a maximum ratio.
#
# Environment: ROUNDS (default 2), REPS (default 3), BENCH_TIMEOUT (seconds per process,
#              default 120),
#              CC (default gcc), GO (default go). Full program output: target/bench/bench.log.
# Exit status: 0 if every libgmp benchmark ran and verified its result (missed targets are
# reported, not failed); 1 if one crashed, hung (timeout) or computed a wrong result.
set -u

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
LIBDIR=${1:-$ROOT/target/release}
LIBDIR=$(cd "$LIBDIR" 2>/dev/null && pwd) || { echo "bench: no such LIBDIR: ${1:-}" >&2; exit 1; }
OUT=$ROOT/target/bench
ROUNDS=${ROUNDS:-2}
REPS=${REPS:-3}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-120}
CC=${CC:-gcc}
GO=${GO:-go}
LOG=$OUT/bench.log

mkdir -p "$OUT"
: >"$LOG"

[ -f "$LIBDIR/libgmp.so" ] || { echo "bench: $LIBDIR/libgmp.so not found (run cargo build --release)" >&2; exit 1; }
[ -f "$ROOT/include/gmp.h" ] || { echo "bench: $ROOT/include/gmp.h not found" >&2; exit 1; }

PROGS="skynet spawn gosched pingpong"

# ---- build -------------------------------------------------------------------------------
# -I/-L of this build first: Debian's GNU MP also installs gmp.h and libgmp.so.
for p in $PROGS; do
    "$CC" -O2 -g -Wall -Wextra -I"$ROOT/include" "$BENCH_DIR/$p.c" -o "$OUT/$p" \
        -L"$LIBDIR" -Wl,-rpath,"$LIBDIR" -lgmp -lpthread || { echo "bench: building $p.c failed" >&2; exit 1; }
done
# Make sure the loader really picks this build's libgmp, not GNU MP's.
resolved=$(ldd "$OUT/skynet" | awk '$1 ~ /^libgmp\.so/ {print $3}')
if [ "$(readlink -f "$resolved")" != "$(readlink -f "$LIBDIR/libgmp.so")" ]; then
    echo "bench: $OUT/skynet loads libgmp from '$resolved', not $LIBDIR" >&2
    exit 1
fi

HAVE_GO=0
if command -v "$GO" >/dev/null 2>&1; then
    HAVE_GO=1
    mkdir -p "$OUT/go"
    export GOPATH=$OUT/go/path GOCACHE=$OUT/go/cache GO111MODULE=off GOFLAGS= GOTOOLCHAIN=local
    for p in $PROGS; do
        "$GO" build -o "$OUT/go/$p" "$BENCH_DIR/go/$p.go" || { echo "bench: go build $p.go failed" >&2; HAVE_GO=0; break; }
    done
    GOVERSION=$("$GO" version 2>/dev/null | awk '{print $3}')
fi

# ---- run ---------------------------------------------------------------------------------
FAILED=0
PROBLEMS=""
LOAD0=$(cut -d' ' -f1 /proc/loadavg)

# run_best SIDE PROG PROCS KEY: sets RESULT to the min of KEY=<v> over the output lines, or to
# a failure word (CRASH(sigN), FAIL(exitN), TIMEOUT, BADOUT); appends everything to the log.
# (Not run in a subshell: it updates FAILED and PROBLEMS.)
run_best() {
    local side=$1 prog=$2 procs=$3 key=$4 bin out err rc best
    if [ "$side" = go ]; then bin=$OUT/go/$prog; else bin=$OUT/$prog; fi
    out=$(mktemp) err=$(mktemp)
    GMP_MAXPROCS=$procs GOMAXPROCS=$procs timeout -k 5 "$BENCH_TIMEOUT" "$bin" "$procs" "$REPS" >"$out" 2>"$err"
    rc=$?
    {
        echo "### $side $prog procs=$procs (exit $rc)"
        cat "$out"
        [ -s "$err" ] && { echo "--- stderr:"; cat "$err"; }
    } >>"$LOG"
    best=$(awk -v k="$key" -v p="$procs" -v n="$REPS" '
        { for (i = 1; i <= NF; i++) if (index($i, k "=") == 1) { v = substr($i, length(k) + 2) + 0;
              if (c == 0 || v < m) m = v; c++ }
          for (i = 1; i <= NF; i++) if ($i ~ /^procs=/ && $i != "procs=" p) bad = 1 }
        END { if (c != n || bad) print "BADOUT"; else printf "%.1f\n", m }' "$out")
    if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
        best="TIMEOUT"
    elif [ $rc -ne 0 ]; then
        if [ $rc -gt 128 ]; then best="CRASH(sig$((rc - 128)))"; else best="FAIL(exit$rc)"; fi
    fi
    if [ "$side" = libgmp ] && { [ $rc -ne 0 ] || [ "$best" = BADOUT ]; }; then
        FAILED=1
        PROBLEMS+="libgmp $prog procs=$procs: $best (exit $rc); last lines of stdout+stderr:"$'\n'
        PROBLEMS+="$( { tail -n 3 "$out"; tail -n 8 "$err"; } | sed 's/^/    /')"$'\n'
    elif [ -s "$err" ]; then
        PROBLEMS+="$side $prog procs=$procs: $best (exit $rc); stderr:"$'\n'
        PROBLEMS+="$(tail -n 5 "$err" | sed 's/^/    /')"$'\n'
    fi
    rm -f "$out" "$err"
    RESULT=$best
}

# min_result OLD NEW: the smaller number; a failure word (non-number) wins over any number.
min_result() {
    local old=$1 new=$2
    if [ -z "$old" ]; then echo "$new"; return; fi
    if ! [[ $old =~ ^[0-9.]+$ ]]; then echo "$old"; return; fi
    if ! [[ $new =~ ^[0-9.]+$ ]]; then echo "$new"; return; fi
    awk -v a="$old" -v b="$new" 'BEGIN { print (b + 0 < a + 0) ? b : a }'
}

# name | prog | procs | key in the output | unit | target ratio
CONFIGS=(
    "skynet 1M, 1 P|skynet|1|ms|ms/run|0.5"
    "skynet 1M, 2 P|skynet|2|ms|ms/run|0.5"
    "spawn+wait 1M, 2 P|spawn|2|ns_per_spawn|ns/spawn|0.5"
    "gosched, 1 P|gosched|1|ns_per_gosched|ns/call|0.4"
    "ping-pong, 1 P|pingpong|1|ns_per_roundtrip|ns/round trip|0.4"
    "ping-pong, 2 P|pingpong|2|ns_per_roundtrip|ns/round trip|0.5"
)

ROWS=()
MET=0
for c in "${CONFIGS[@]}"; do
    IFS='|' read -r name prog procs key unit target <<<"$c"
    echo "bench: running $name ..." >&2
    a="" g="-"
    [ $HAVE_GO -eq 1 ] && g=""
    for ((round = 1; round <= ROUNDS; round++)); do
        run_best libgmp "$prog" "$procs" "$key"; a=$(min_result "$a" "$RESULT")
        if [ $HAVE_GO -eq 1 ]; then run_best go "$prog" "$procs" "$key"; g=$(min_result "$g" "$RESULT"); fi
    done
    ratio="-" verdict=""
    if [[ $a =~ ^[0-9.]+$ ]] && [[ $g =~ ^[0-9.]+$ ]]; then
        ratio=$(awk -v a="$a" -v g="$g" 'BEGIN { printf "%.2f", a / g }')
        if awk -v r="$ratio" -v t="$target" 'BEGIN { exit !(r <= t) }'; then
            verdict=" met"; MET=$((MET + 1))
        else
            verdict=" MISSED"
        fi
    fi
    ROWS+=("$name ($unit)|$a|$g|$ratio|<= ${target}x$verdict")
done

# ---- table -------------------------------------------------------------------------------
echo
echo "libgmp benchmarks: best of $((ROUNDS * REPS)) runs each ($ROUNDS processes x $REPS," \
     "each after a warm-up); lower is better;" \
     "ratio = libgmp / go (target: at most)"
echo "machine: $(nproc) CPUs, $(uname -r); go: ${GOVERSION:-not installed};" \
     "load average at start: $LOAD0 (other work on the machine skews both columns)"
{
    echo "benchmark|libgmp|go|ratio|target"
    printf '%s\n' "${ROWS[@]}"
} | awk -F'|' '
    { for (i = 1; i <= NF; i++) { cell[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) } n = NR; nf = NF }
    END {
        for (r = 1; r <= n; r++) {
            line = ""
            for (i = 1; i <= nf; i++) {
                fmt = (i == 1 || i == nf) ? "%-" w[i] "s" : "%" w[i] "s"
                line = line (i > 1 ? " | " : "") sprintf(fmt, cell[r, i])
            }
            print line
            if (r == 1) { sep = ""; for (i = 1; i <= nf; i++) { d = ""; for (j = 0; j < w[i]; j++) d = d "-"; sep = sep (i > 1 ? "-|-" : "") d } print sep }
        }
    }'
if [ $HAVE_GO -eq 1 ]; then
    echo "targets met: $MET of ${#CONFIGS[@]}"
else
    echo "go not on PATH: no Go column, no ratios"
fi
if [ -n "$PROBLEMS" ]; then
    echo
    echo "problems (full output in $LOG):"
    printf '%s' "$PROBLEMS"
fi
exit $FAILED
