#!/usr/bin/env bash
# check_exports.sh LIBDIR: the functions libgmp.so exports and the functions include/gmp.h
# declares are the same set.
#
#  - every symbol `nm -D --defined-only LIBDIR/libgmp.so` lists as a function (type T, W or i)
#    must be declared as a function in include/gmp.h (internal entry points must be hidden);
#  - every function include/gmp.h declares must be exported (as a function) by the library;
#  - every INTERPOSED name (below) must be exported too.
# The header's functions are found by c-tests/header_funcs.sh (comments, typedefs and function
# pointer types do not count). Symbol versions (name@VER, name@@VER) are stripped.
#
# INTERPOSED: exported functions that are deliberately NOT in gmp.h because the library
# interposes them over libc (they keep libc's names and signatures; src/hooks/). Space-separated.
# The pthread lock functions count the locks a goroutine holds (src/preempt/lockhold.rs); the
# others are the blocking calls of api.md's "Interposed blocking libc calls" (src/hooks/).
INTERPOSED="pthread_mutex_lock pthread_mutex_trylock pthread_mutex_timedlock
 pthread_mutex_clocklock pthread_mutex_unlock
 pthread_rwlock_rdlock pthread_rwlock_tryrdlock pthread_rwlock_timedrdlock
 pthread_rwlock_clockrdlock pthread_rwlock_wrlock pthread_rwlock_trywrlock
 pthread_rwlock_timedwrlock pthread_rwlock_clockwrlock pthread_rwlock_unlock
 pthread_spin_lock pthread_spin_trylock pthread_spin_unlock
 read readv pread pread64 write writev pwrite pwrite64
 recv recvfrom recvmsg recvmmsg send sendto sendmsg sendmmsg
 accept accept4 connect
 poll ppoll select pselect epoll_wait epoll_pwait
 sleep usleep nanosleep clock_nanosleep
 close dup dup2 dup3 fcntl fcntl64 ioctl close_range fclose fdopen
 socket socketpair pipe pipe2 setsockopt
 __read_chk __recv_chk __recvfrom_chk __pread_chk __pread64_chk
 __poll_chk __ppoll_chk __fdelt_chk
 getaddrinfo getnameinfo gethostbyname gethostbyname2 gethostbyname_r
 gethostbyname2_r gethostbyaddr gethostbyaddr_r"
#
# Prints the differences, then one line "PASS check_exports ..." or "FAIL check_exports ...".
# Exit status: 0 on PASS, 1 on FAIL, 2 on a usage error.
set -u

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
LIBDIR="${1:-$ROOT/target/release}"
LIB="$LIBDIR/libgmp.so"
HEADER="$ROOT/include/gmp.h"
[ -f "$LIB" ] || { echo "FAIL check_exports: no $LIB (run cargo build --release)"; exit 2; }
[ -f "$HEADER" ] || { echo "FAIL check_exports: no $HEADER"; exit 2; }
# shellcheck source=header_funcs.sh
. "$HERE/header_funcs.sh"

exported=$(nm -D --defined-only "$LIB" | awk 'NF >= 3 && $2 ~ /^[TWi]$/ { sub(/@.*/, "", $3); print $3 }' | sort -u)
[ -n "$exported" ] || { echo "FAIL check_exports: nm -D found no exported function in $LIB"; exit 1; }
declared=$(header_functions "$HEADER")
[ -n "$declared" ] || { echo "FAIL check_exports: found no function declaration in $HEADER"; exit 1; }
allowed=$(printf '%s\n' $INTERPOSED | sed '/^$/d' | sort -u)

# comm needs sorted input; <(...) keeps each list separate.
undeclared=$(comm -23 <(echo "$exported") <(printf '%s\n%s\n' "$declared" "$allowed" | sed '/^$/d' | sort -u))
missing=$(comm -13 <(echo "$exported") <(echo "$declared"))
# An interposer that is not exported silently stops working: they must all be there.
unhooked=$(comm -13 <(echo "$exported") <(echo "$allowed"))

bad=0
if [ -n "$undeclared" ]; then
    bad=1
    echo "exported by $(basename "$LIB") but not declared in include/gmp.h (hide them, or list them in INTERPOSED):"
    echo "$undeclared" | sed 's/^/    /'
fi
if [ -n "$missing" ]; then
    bad=1
    echo "declared in include/gmp.h but not exported by $(basename "$LIB"):"
    echo "$missing" | sed 's/^/    /'
fi
if [ -n "$unhooked" ]; then
    bad=1
    echo "listed in INTERPOSED but not exported by $(basename "$LIB"):"
    echo "$unhooked" | sed 's/^/    /'
fi
n_exp=$(echo "$exported" | wc -l)
n_dec=$(echo "$declared" | wc -l)
if [ $bad -eq 0 ]; then
    n_int=$(echo "$allowed" | sed '/^$/d' | wc -l)
    echo "PASS check_exports: $n_exp exported functions = $n_dec declared in gmp.h + $n_int interposed libc functions"
    exit 0
fi
why=""
[ -n "$undeclared" ] && why="exported but not in gmp.h: $(echo $undeclared)"
[ -n "$missing" ] && why="${why:+$why; }in gmp.h but not exported: $(echo $missing)"
[ -n "$unhooked" ] && why="${why:+$why; }interposer not exported: $(echo $unhooked)"
echo "FAIL check_exports: $why"
exit 1
