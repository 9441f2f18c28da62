#!/usr/bin/env bash
# c-tests/redis/run.sh LIBDIR: goroutines through a real client library (hiredis) against a
# real redis-server, linked with -lgmp and under LD_PRELOAD; and redis-cli (a program that
# starts no goroutine) giving byte-identical output under LD_PRELOAD. See t_redis.c.
#
# Needs redis-server, redis-cli and libhiredis-dev: installed with apt-get when missing and
# running as root; skipped (exit 0, with a message) only where they cannot be installed.
# Starts its own redis-server on 127.0.0.1, on a port nothing listens on, with a temporary
# data directory and no persistence, waits until it answers PING, and stops it on exit.
# Ends with "N passed, N failed"; exit status 0 if everything passed.
set -u
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
LIBDIR="${1:-$ROOT/target/release}"
LIBDIR="$(cd "$LIBDIR" 2>/dev/null && pwd)" || { echo "redis/run.sh: no such directory: ${1:-}"; exit 2; }
LIB="$LIBDIR/libgmp.so"
OUT="$ROOT/target/redis"
CC="${CC:-gcc}"
unset GMP_DEBUG GMP_STACK_SIZE
export GMP_MAXPROCS=2

have_deps() {
    command -v redis-server >/dev/null && command -v redis-cli >/dev/null &&
        echo '#include <hiredis/hiredis.h>' | "$CC" -E - >/dev/null 2>&1
}
if ! have_deps; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "redis/run.sh: installing redis-server libhiredis-dev"
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server libhiredis-dev; } >"$OUT.apt.log" 2>&1 ||
            { mkdir -p "$OUT"; echo "redis/run.sh: apt-get failed (see $OUT.apt.log)"; }
    fi
    if ! have_deps; then
        echo "SKIP test-redis: redis-server, redis-cli or libhiredis-dev are missing and cannot be installed here (need root and apt-get: apt-get install redis-server libhiredis-dev)"
        exit 0
    fi
fi

mkdir -p "$OUT"
passed=0
failed=0
pass() { echo "PASS $*"; passed=$((passed + 1)); }
fail() { echo "FAIL $*"; failed=$((failed + 1)); }

# ---- build: linked with libgmp, and not linked (for LD_PRELOAD)
CFLAGS=(-O2 -g -Wall -Wextra "-I$ROOT/include" "-DGMP_LIBDIR=\"$LIBDIR\"")
"$CC" "${CFLAGS[@]}" "$HERE/t_redis.c" -o "$OUT/t_redis_linked" -lhiredis \
    "-L$LIBDIR" "-Wl,-rpath,$LIBDIR" -lgmp -lpthread -ldl || { echo "FAIL t_redis build"; exit 1; }
"$CC" "${CFLAGS[@]}" -DVIA_PRELOAD "$HERE/t_redis.c" -o "$OUT/t_redis_plain" -lhiredis -lpthread -ldl ||
    { echo "FAIL t_redis (not linked) build"; exit 1; }
if readelf -d "$OUT/t_redis_plain" | grep -q 'NEEDED.*libgmp'; then
    echo "FAIL t_redis_plain depends on a libgmp: it must not"; exit 1
fi

# ---- redis-server on a free port
DATA=$(mktemp -d)
REDIS_PID=""
stop_redis() {
    if [ -n "$REDIS_PID" ]; then
        kill "$REDIS_PID" 2>/dev/null
        wait "$REDIS_PID" 2>/dev/null
        REDIS_PID=""
    fi
}
trap 'stop_redis; rm -rf "$DATA"' EXIT
PORT=""
for _ in $(seq 1 20); do
    p=$((20000 + RANDOM % 40000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && continue # something listens there
    redis-server --bind 127.0.0.1 --port "$p" --dir "$DATA" --save '' --appendonly no \
        --daemonize no --logfile "$DATA/redis.log" &
    REDIS_PID=$!
    # Wait (up to 10 s) until it answers PING, or has died (port taken meanwhile: next port).
    for _ in $(seq 1 200); do
        kill -0 "$REDIS_PID" 2>/dev/null || break
        [ "$(redis-cli -p "$p" ping 2>/dev/null)" = PONG ] && { PORT=$p; break; }
        sleep 0.05
    done
    [ -n "$PORT" ] && break
    stop_redis
done
if [ -z "$PORT" ]; then
    echo "FAIL redis-server did not start; its log:"
    tail -n 20 "$DATA/redis.log" 2>/dev/null | sed 's/^/    | /'
    echo "0 passed, 1 failed"
    exit 1
fi
echo "redis-server $(redis-server --version | awk '{print $3}') on 127.0.0.1:$PORT (pid $REDIS_PID), hiredis $(dpkg-query -W -f='${Version}' libhiredis-dev 2>/dev/null)"

run() { # label command...
    local label=$1 log rc t0 t1
    shift
    log="$OUT/$(echo "$label" | tr ' /=' '___').log"
    t0=$(date +%s.%N)
    timeout 120 "$@" >"$log" 2>&1
    rc=$?
    t1=$(date +%s.%N)
    if [ $rc -eq 0 ]; then
        pass "$label $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1fs", b - a }')"
        sed 's/^/    /' "$log"
    else
        fail "$label: exit $rc"
        tail -n 15 "$log" | sed 's/^/    | /'
    fi
}

# ---- hiredis in 200 goroutines
run "t_redis linked procs=2" "$OUT/t_redis_linked" "$PORT"
run "t_redis LD_PRELOAD procs=2" env LD_PRELOAD="$LIB" "$OUT/t_redis_plain" "$PORT"
# Without the preload, the not-linked build has no runtime: it must say so (exit 77).
"$OUT/t_redis_plain" "$PORT" >/dev/null 2>&1
rc=$?
if [ $rc -eq 77 ]; then pass "t_redis_plain without LD_PRELOAD finds no runtime"; else fail "t_redis_plain without LD_PRELOAD: exit $rc, expected 77"; fi

# ---- redis-cli: byte-identical output with and without LD_PRELOAD
cli_session() {
    local c="redis-cli -p $PORT"
    $c FLUSHALL
    $c SET greeting "hello world"
    $c GET greeting
    $c RPUSH list a b "c d"
    $c LRANGE list 0 -1
    $c INCRBY n 41
    $c INCR n
    $c DBSIZE
    $c INFO server | head -n 1
    printf 'SET piped 1\nGET piped\nEXISTS piped nothing\nGET nothing\n' | $c
    $c BLPOP nothing 0.2
}
cli_session >"$OUT/cli.plain" 2>&1
LD_PRELOAD="$LIB" cli_session >"$OUT/cli.preload" 2>&1
loaded=$(LD_PRELOAD="$LIB" LD_TRACE_LOADED_OBJECTS=1 "$(command -v redis-cli)" 2>&1 | grep -c "$LIB")
if [ "$loaded" -ge 1 ] && [ -s "$OUT/cli.plain" ] && cmp -s "$OUT/cli.plain" "$OUT/cli.preload"; then
    pass "redis-cli under LD_PRELOAD: output identical ($(wc -l <"$OUT/cli.plain") lines)"
else
    fail "redis-cli under LD_PRELOAD (libgmp loaded: $loaded)"
    diff "$OUT/cli.plain" "$OUT/cli.preload" | head -n 20 | sed 's/^/    | /'
fi

stop_redis
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
