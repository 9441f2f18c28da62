#!/usr/bin/env bash
# soak.sh LIBDIR...: run the randomized storm (c-tests/t_storm.c) for a long time against each
# LIBDIR's libgmp.so (make soak passes the release and the debug build).
#
# For each LIBDIR, SOAK_SEEDS runs (default 2) at each GMP_MAXPROCS in SOAK_PROCS (default
# "1 2 8"), each SOAK_SECONDS long (default 300). Every run draws a fresh seed (t_storm picks
# one from the clock and prints it), unless SOAK_SEED fixes it. Logs go to
# target/soak/<build>.procs<N>.run<K>.log; one PASS/FAIL line per run, a FAIL with the seed, the
# command that replays its random choices, and the first lines of its report; then
# "N passed, N failed". Exit status: 0 if every run passed. t_storm's own knobs pass through
# (STORM_MALLOC=1, STORM_STALL, STORM_GDB=1; see c-tests/t_storm.c).
set -u

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
SECONDS_PER_RUN="${SOAK_SECONDS:-300}"
SEEDS="${SOAK_SEEDS:-2}"
PROCS="${SOAK_PROCS:-1 2 8}"
OUT="$ROOT/target/soak"
mkdir -p "$OUT"
[ $# -ge 1 ] || { echo "usage: soak.sh LIBDIR..."; exit 2; }
unset GMP_DEBUG GMP_STACK_SIZE GMP_MAXPROCS STORM_SEED STORM_SECONDS

passed=0
failed=0
for libdir in "$@"; do
    libdir="$(cd "$libdir" && pwd)" || exit 2
    [ -e "$libdir/libgmp.so.0" ] || ln -sf libgmp.so "$libdir/libgmp.so.0"
    build="$(basename "$libdir")"
    bin="$OUT/t_storm.$build"
    gcc -O2 -g -Wall -Wextra "-I$ROOT/include" "-DGMP_LIBDIR=\"$libdir\"" "$HERE/t_storm.c" \
        -o "$bin" "-L$libdir" "-Wl,-rpath,$libdir" -lgmp -lpthread -lm || exit 2
    for p in $PROCS; do
        for k in $(seq 1 "$SEEDS"); do
            log="$OUT/$build.procs$p.run$k.log"
            GMP_MAXPROCS="$p" STORM_SECONDS="$SECONDS_PER_RUN" ${SOAK_SEED:+STORM_SEED="$SOAK_SEED"} \
                "$bin" >"$log" 2>&1
            rc=$?
            seed="$(sed -n 's/^t_storm: seed \(0x[0-9a-f]*\).*/\1/p' "$log" | head -n 1)"
            if [ "$rc" -eq 0 ]; then
                echo "PASS $build procs=$p seed=$seed ${SECONDS_PER_RUN}s"
                passed=$((passed + 1))
            else
                echo "FAIL $build procs=$p seed=$seed (exit $rc; log $log)"
                echo "    replay: GMP_MAXPROCS=$p STORM_SEED=$seed STORM_SECONDS=$SECONDS_PER_RUN ${STORM_MALLOC:+STORM_MALLOC=$STORM_MALLOC }$bin"
                grep -m 5 -E 'STALL|CHECK|fatal|killed' "$log" | sed 's/^/    | /'
                failed=$((failed + 1))
            fi
        done
    done
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
