#!/usr/bin/env bash
# check_header.sh: include/gmp.h compiles cleanly as strict C and as strict C++.
#
# Two translation units, each compiled (-c, nothing linked) as
#     $CC  -std=c99   -pedantic -Wall -Wextra -Werror
#     $CXX -std=c++11 -pedantic -Wall -Wextra -Werror
#  1. include.c: includes gmp.h and calls nothing;
#  2. addr.c: includes gmp.h and takes the address of every function the header declares (the
#     list from c-tests/header_funcs.sh), so each declaration must parse as a function of that
#     name (the addresses are cast to void (*)(void), the one function pointer type
#     -Wcast-function-type accepts for any function). The C++ object's undefined symbols (nm -u)
#     must then be exactly those names, unmangled: every declaration has C linkage in C++.
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
if [ -f "$TMP/c++11-addr.o" ]; then
    undef=$(nm -u "$TMP/c++11-addr.o" | awk '{ print $NF }' | sort -u)
    if [ "$undef" != "$funcs" ]; then
        echo "c++11-addr: the C++ object references $(echo $undef | tr -d '\n'), want exactly (C linkage):"
        echo "    $(echo $funcs)"
        failed="$failed c++11-linkage"
    fi
fi

if [ -z "$failed" ]; then
    echo "PASS check_header: gmp.h compiles as C99 and C++11 (-pedantic -Wall -Wextra -Werror), $nfuncs functions' addresses taken, C linkage"
    exit 0
fi
echo "FAIL check_header:$failed"
exit 1
