#!/usr/bin/env bash
# bench/alternate.sh: one benchmark row by hand, for the medians that run.sh's best-of hides.
#   bash bench/alternate.sh [-g GOTWIN] RUNS KEY PROG PROCS [ARGS...]
# builds bench/PROG.c against LIBDIR (default target/release) and its Go twin
# (bench/go/GOTWIN.go, default PROG, when `go` is on PATH), then runs RUNS pairs of processes,
# libgmp and Go alternating (the order flips from pair to pair), each process
# `PROG PROCS REPS ARGS...` (REPS default 3, after its own warm-up). Per process: the best of
# its REPS values of KEY (as run.sh); printed: every process's value, then per side the
# median and the best over the processes, and ratio = median libgmp / median Go.
# Environment: LIBDIR, REPS, CC, GO. Example (buffered channel 4 -> 4, 2 Ps, 5 pairs):
#   bash bench/alternate.sh 5 ns_per_msg chanbuf 2 4
#   bash bench/alternate.sh -g skynet 5 ms skynet_chan 1
set -u
GOTWIN=""
if [ "${1:-}" = -g ]; then GOTWIN=$2; shift 2; fi
[ $# -ge 4 ] || { sed -n '2,13p' "$0" >&2; exit 2; }
RUNS=$1 KEY=$2 PROG=$3 PROCS=$4
shift 4
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
LIBDIR=$(cd "${LIBDIR:-$ROOT/target/release}" && pwd) || exit 1
REPS=${REPS:-3} CC=${CC:-gcc} GO=${GO:-go}
GOTWIN=${GOTWIN:-$PROG}
OUT=$ROOT/target/bench/alt
mkdir -p "$OUT"
"$CC" -O2 -g -Wall -Wextra -I"$ROOT/include" "$BENCH_DIR/$PROG.c" -o "$OUT/$PROG" \
    -L"$LIBDIR" -Wl,-rpath,"$LIBDIR" -lgmp -lpthread || exit 1
sides="libgmp"
if command -v "$GO" >/dev/null 2>&1 && [ -f "$BENCH_DIR/go/$GOTWIN.go" ]; then
    export GOPATH=$OUT/gopath GOCACHE=$OUT/gocache GO111MODULE=off GOFLAGS= GOTOOLCHAIN=local
    "$GO" build -o "$OUT/go_$GOTWIN" "$BENCH_DIR/go/common.go" "$BENCH_DIR/go/$GOTWIN.go" || exit 1
    sides="libgmp go"
fi
echo "alternate: $PROG $PROCS $REPS $*  ($RUNS pairs; load average: $(cut -d' ' -f1-3 /proc/loadavg))"
declare -A vals=([libgmp]="" [go]="")
status=0
for ((i = 1; i <= RUNS; i++)); do
    order=$sides
    [ $((i % 2)) -eq 0 ] && order=$(echo "$sides" | awk '{ for (i = NF; i > 0; i--) printf "%s ", $i }')
    for side in $order; do
        bin=$OUT/$PROG
        [ "$side" = go ] && bin=$OUT/go_$GOTWIN
        out=$(GMP_MAXPROCS=$PROCS GOMAXPROCS=$PROCS timeout -k 5 120 "$bin" "$PROCS" "$REPS" "$@" 2>&1)
        rc=$?
        v=$(echo "$out" | grep -o "$KEY=[0-9.]*" | cut -d= -f2 | sort -g | head -n 1)
        if [ $rc -ne 0 ] || [ -z "$v" ]; then
            echo "  $side run $i: exit $rc"; echo "$out" | tail -n 3 | sed 's/^/    /'; status=1; continue
        fi
        echo "  $side run $i: $KEY=$v   (reps: $(echo "$out" | grep -o "$KEY=[0-9.]*" | cut -d= -f2 | tr '\n' ' '))"
        vals[$side]+="$v "
    done
done
stat() { tr ' ' '\n' | sed '/^$/d' | sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) { print "- -"; exit }
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.1f %.1f", m, v[1] }'; }
read -r am ab <<<"$(echo "${vals[libgmp]}" | stat)"
read -r gm gb <<<"$(echo "${vals[go]}" | stat)"
ratio=$(awk -v a="$am" -v g="$gm" 'BEGIN { if (g + 0 > 0 && a + 0 > 0) printf "%.2f", a / g; else print "-" }')
echo "$PROG $PROCS P $*: $KEY median (best) libgmp $am ($ab), go $gm ($gb), ratio of medians $ratio"
exit $status
