#!/usr/bin/env bash
# examples-c/check.sh LIBDIR EXDIR: run the examples briefly as a test (make test-examples).
#  0. pipeline and pipeline_cpp (channels: generate -> square -> sum) at GMP_MAXPROCS=1 and 2,
#     and demo at 2: each checks its own results and exits non-zero on a wrong one.
#  1. echo_server (port 0, exit after 200 connections) and echo_client (200 connections x 100
#     round trips x 64 bytes, every byte checked): both must exit 0.
#  2. preload/sleepers, a program built without libgmp: plainly (threads), then under
#     LD_PRELOAD=LIBDIR/libgmp.so with 1000 tasks at 2 Ps, which must run as goroutines on at
#     most 18 OS threads (the runtime's bound 4 x 2 + 8, plus the program's main and monitor
#     threads).
set -u
LIBDIR=$(cd "$1" && pwd)
EX=$(cd "$2" && pwd)
TMP=$(mktemp -d)
SERVER_PID=""
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT
fail() { echo "FAIL examples: $*"; exit 1; }

for procs in 1 2; do
    for prog in pipeline pipeline_cpp; do
        out=$(GMP_MAXPROCS=$procs timeout 60 "$EX/$prog" 2>&1) || fail "$prog at GMP_MAXPROCS=$procs: $out"
    done
done
echo "$out"
GMP_MAXPROCS=2 timeout 120 "$EX/demo" >"$TMP/demo.out" 2>&1 || fail "demo exited with $?: $(cat "$TMP/demo.out")"
echo "demo: $(grep -c . "$TMP/demo.out") lines, results checked"

GMP_MAXPROCS=2 timeout 60 "$EX/echo_server" 0 200 >"$TMP/server.out" 2>&1 &
SERVER_PID=$!
port=""
for _ in $(seq 1 500); do # wait (up to 10 s) for the server to print its port
    port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$TMP/server.out")
    [ -n "$port" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.02
done
[ -n "$port" ] || fail "echo_server printed no port: $(cat "$TMP/server.out")"
GMP_MAXPROCS=2 timeout 60 "$EX/echo_client" "$port" 200 100 64 || fail "echo_client failed"
wait "$SERVER_PID" || fail "echo_server exited with $?: $(cat "$TMP/server.out")"
SERVER_PID=""
echo "echo_server: $(tail -n 1 "$TMP/server.out")"

timeout 60 "$EX/sleepers" 200 || fail "sleepers (threads) failed"
out=$(LD_PRELOAD="$LIBDIR/libgmp.so" GMP_MAXPROCS=2 timeout 60 "$EX/sleepers" 1000 18) ||
    fail "sleepers under LD_PRELOAD failed: $out"
echo "$out"
case "$out" in *"goroutines: gmp_main found in $LIBDIR/libgmp.so"*) ;; *) fail "sleepers did not run on this build's libgmp";; esac
echo "PASS examples"
