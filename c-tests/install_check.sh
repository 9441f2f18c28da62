#!/usr/bin/env bash
# install_check.sh: check `make install` / `make uninstall` and that the install coexists with
# GNU MP (Debian's libgmp-dev also ships gmp.h and libgmp.so).
#
# Needs a built library (target/release/libgmp.so: `make lib`), cmake, pkg-config and GNU MP's
# gmp.h (libgmp-dev); a missing one is a FAIL. Writes only under a fresh mktemp directory.
#   1. make install PREFIX=$tmp: the expected files, SONAME libgmp.so.0, nothing of ours in the
#      prefix's standard dirs (include/, lib/).
#   2. c-tests/install/prog.c (goroutines; dladdr: loaded from $tmp/lib/gmp-sched) and
#      c-tests/install/prog.cpp (the same through the installed gmp.hpp: a gmp::chan, a
#      gmp::mutex, a gmp::waitgroup; g++ -std=c++17) built with
#      `pkg-config --cflags --libs gmp-sched`, and with CMake find_package(gmp-sched).
#   3. c-tests/install/gnump.c (GNU MP: #include <gmp.h>, -lgmp) with the prefix's standard dirs
#      on the default search paths (CPATH, LIBRARY_PATH, LD_LIBRARY_PATH): still GNU MP.
#   4. A program linked against the build dir without an rpath fails to load with
#      "libgmp.so.0: cannot open shared object file" (not a symbol lookup error in GNU MP).
#   5. make install DESTDIR=... (staged): CMake finds the package from its staged location.
#   6. make uninstall: nothing of ours left.
# Prints PASS/FAIL lines and ends with "N passed, N failed"; exit 0 if all passed.
set -u

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
BUILD="$ROOT/target/release"
SRC="$HERE/install"
CC="${CC:-gcc}"
CXX="${CXX:-g++}"
MAKE="${MAKE:-make}"
VERSION="$(awk -F'"' '/^\[/ { p = ($0 == "[package]") } p && /^version *=/ { print $2; exit }' "$ROOT/Cargo.toml")"
SONAME=libgmp.so.0
FACT30=265252859812191058636308480000000

passed=0
failed=0
WORK=""
# Messages name the temporary directory $tmp.
pass() { echo "PASS ${*//"${WORK:-/nonexistent}"/\$tmp}"; passed=$((passed + 1)); }
fail() { echo "FAIL ${*//"${WORK:-/nonexistent}"/\$tmp}"; failed=$((failed + 1)); }
show_tail() { tail -n 15 "$1" | sed 's/^/    | /'; }
finish() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ] && exit 0
    exit 1
}
# check LABEL LOG CMD...: run CMD with output to LOG; PASS/FAIL (with LOG's tail).
check() {
    local label="$1" log="$2"
    shift 2
    if "$@" >"$log" 2>&1; then
        pass "$label"
        return 0
    fi
    fail "$label"
    show_tail "$log"
    return 1
}
soname_of() { readelf -d "$1" 2>/dev/null | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p'; }

# Programs run here choose their own settings.
unset GMP_DEBUG GMP_STACK_SIZE GMP_MAXPROCS CPATH C_INCLUDE_PATH LIBRARY_PATH LD_LIBRARY_PATH \
    PKG_CONFIG_PATH CMAKE_PREFIX_PATH DESTDIR

# ---- prerequisites
missing=0
for tool in "$CC" "$CXX" cmake pkg-config readelf; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        fail "prerequisite: $tool not found (apt-get install cmake pkg-config binutils)"
        missing=1
    fi
done
if ! echo '#include <gmp.h>
#ifndef __GNU_MP__
#error not GNU MP
#endif' | "$CC" -E -x c - >/dev/null 2>&1; then
    fail "prerequisite: GNU MP's gmp.h not found (apt-get install libgmp-dev)"
    missing=1
fi
if [ ! -f "$BUILD/libgmp.so" ] || [ ! -e "$BUILD/$SONAME" ]; then
    fail "prerequisite: $BUILD/libgmp.so and $SONAME missing (run make first)"
    missing=1
fi
[ -n "$VERSION" ] || { fail "prerequisite: no version in Cargo.toml"; missing=1; }
[ "$missing" -eq 0 ] || finish

WORK="$(mktemp -d /tmp/gmp-install-check.XXXXXX)" || { fail "mktemp"; finish; }
trap 'rm -rf "$WORK"' EXIT
echo "tmp=$WORK"
P="$WORK/prefix"    # the install prefix: nothing else goes in it
OUT="$WORK/build"   # builds and logs
mkdir -p "$P" "$OUT"

# ---- 1. make install
if ! check "make install PREFIX=$P" "$OUT/install.log" "$MAKE" -C "$ROOT" --no-print-directory install PREFIX="$P" DESTDIR=; then
    finish
fi
expect_files=(
    "include/gmp-sched/gmp.h"
    "include/gmp-sched/gmp.hpp"
    "lib/gmp-sched/libgmp.so.$VERSION"
    "lib/gmp-sched/$SONAME"
    "lib/gmp-sched/libgmp.so"
    "lib/pkgconfig/gmp-sched.pc"
    "lib/cmake/gmp-sched/gmp-schedConfig.cmake"
    "lib/cmake/gmp-sched/gmp-schedConfigVersion.cmake"
)
bad=""
for f in "${expect_files[@]}"; do
    [ -e "$P/$f" ] || bad="$bad $f"
done
[ -z "$bad" ] && pass "installed files present" || fail "installed files missing:$bad"
if [ -L "$P/lib/gmp-sched/$SONAME" ] && [ "$(readlink "$P/lib/gmp-sched/$SONAME")" = "libgmp.so.$VERSION" ] &&
    [ -L "$P/lib/gmp-sched/libgmp.so" ] && [ "$(readlink "$P/lib/gmp-sched/libgmp.so")" = "$SONAME" ] &&
    [ -f "$P/lib/gmp-sched/libgmp.so.$VERSION" ] && [ ! -L "$P/lib/gmp-sched/libgmp.so.$VERSION" ]; then
    pass "symlinks libgmp.so -> $SONAME -> libgmp.so.$VERSION"
else
    fail "symlinks in $P/lib/gmp-sched:"
    ls -l "$P/lib/gmp-sched" 2>&1 | sed 's/^/    | /'
fi
so="$(soname_of "$P/lib/gmp-sched/libgmp.so.$VERSION")"
[ "$so" = "$SONAME" ] && pass "SONAME $so" || fail "SONAME is '$so', want $SONAME"
shadow="$(find "$P/include" "$P/lib" -maxdepth 1 \( -name 'gmp*.h' -o -name 'gmp*.hpp' -o -name 'libgmp*' \) 2>/dev/null)"
[ -z "$shadow" ] && pass "nothing named gmp*.h, gmp*.hpp or libgmp* in $P/include or $P/lib" ||
    fail "files that would shadow GNU MP: $shadow"

# ---- 2a. pkg-config
export PKG_CONFIG_PATH="$P/lib/pkgconfig"
modversion="$(pkg-config --modversion gmp-sched 2>&1)"
[ "$modversion" = "$VERSION" ] && pass "pkg-config --modversion gmp-sched = $VERSION" ||
    fail "pkg-config --modversion gmp-sched: '$modversion', want $VERSION"
if flags="$(pkg-config --cflags --libs gmp-sched 2>"$OUT/pc.log")"; then
    flags="${flags% }"
    # shellcheck disable=SC2086 # word splitting of the flags is intended
    if check "build prog.c with pkg-config: $flags" "$OUT/prog-pc.build.log" \
        "$CC" -O2 -Wall -Wextra "$SRC/prog.c" -o "$OUT/prog-pc" $flags -ldl; then
        check "run prog (pkg-config build), loads $P/lib/gmp-sched" "$OUT/prog-pc.log" \
            timeout 60 "$OUT/prog-pc" "$P/lib/gmp-sched" && sed "s|$WORK|\$tmp|g; s/^/    /" "$OUT/prog-pc.log"
    fi
    # shellcheck disable=SC2086 # word splitting of the flags is intended
    if check "build prog.cpp (gmp.hpp) with pkg-config: $CXX -std=c++17 ... $flags" "$OUT/prog-cpp-pc.build.log" \
        "$CXX" -std=c++17 -O2 -Wall -Wextra "$SRC/prog.cpp" -o "$OUT/prog-cpp-pc" $flags -ldl; then
        check "run prog_cpp (pkg-config build), loads $P/lib/gmp-sched" "$OUT/prog-cpp-pc.log" \
            timeout 60 "$OUT/prog-cpp-pc" "$P/lib/gmp-sched" && sed "s|$WORK|\$tmp|g; s/^/    /" "$OUT/prog-cpp-pc.log"
    fi
else
    fail "pkg-config --cflags --libs gmp-sched"
    show_tail "$OUT/pc.log"
fi
unset PKG_CONFIG_PATH

# ---- 2b. CMake
# cmake_cycle LABEL PREFIX_PATH EXPECT_LIBDIR TAG: configure, build and run prog and prog_cpp
# with find_package(gmp-sched) found through CMAKE_PREFIX_PATH.
mkdir -p "$OUT/cmake-src"
cat >"$OUT/cmake-src/CMakeLists.txt" <<EOF
cmake_minimum_required(VERSION 3.13)
project(gmp_sched_install_check C CXX)
find_package(gmp-sched $VERSION REQUIRED)
add_executable(prog "$SRC/prog.c")
target_link_libraries(prog gmp-sched::gmp-sched \${CMAKE_DL_LIBS})
add_executable(prog_cpp "$SRC/prog.cpp")
set_target_properties(prog_cpp PROPERTIES CXX_STANDARD 17 CXX_STANDARD_REQUIRED ON)
target_link_libraries(prog_cpp gmp-sched::gmp-sched \${CMAKE_DL_LIBS})
EOF
cmake_cycle() {
    local label="$1" prefix_path="$2" libdir="$3" tag="$4"
    local b="$OUT/cmake-$tag"
    check "cmake configure ($label)" "$OUT/cmake-$tag.configure.log" \
        env CMAKE_PREFIX_PATH="$prefix_path" cmake -S "$OUT/cmake-src" -B "$b" || return
    check "cmake build ($label)" "$OUT/cmake-$tag.build.log" cmake --build "$b" || return
    check "run prog (CMake $label), loads $libdir" "$OUT/cmake-$tag.run.log" \
        timeout 60 "$b/prog" "$libdir" && sed "s|$WORK|\$tmp|g; s/^/    /" "$OUT/cmake-$tag.run.log"
    check "run prog_cpp (CMake $label), loads $libdir" "$OUT/cmake-$tag.run-cpp.log" \
        timeout 60 "$b/prog_cpp" "$libdir" && sed "s|$WORK|\$tmp|g; s/^/    /" "$OUT/cmake-$tag.run-cpp.log"
}
cmake_cycle "find_package(gmp-sched), CMAKE_PREFIX_PATH=$P" "$P" "$P/lib/gmp-sched" prefix

# ---- 3. GNU MP with the prefix's standard dirs on the default search paths
if check "build GNU MP program (CPATH, LIBRARY_PATH = $P/include, $P/lib; -lgmp)" "$OUT/gnump.build.log" \
    env CPATH="$P/include" LIBRARY_PATH="$P/lib" "$CC" -O2 -Wall "$SRC/gnump.c" -o "$OUT/gnump" -lgmp; then
    got="$(LD_LIBRARY_PATH="$P/lib" timeout 60 "$OUT/gnump" 2>&1)"
    [ "$got" = "$FACT30" ] && pass "run GNU MP program (LD_LIBRARY_PATH=$P/lib): 30! = $got" ||
        fail "run GNU MP program: got '$got', want $FACT30"
    lib="$(LD_LIBRARY_PATH="$P/lib" ldd "$OUT/gnump" | awk '$1 ~ /^libgmp\.so/ { print $3 }')"
    case "$lib" in
    "$P"/* | "") fail "GNU MP program loads libgmp from '$lib'" ;;
    *) pass "GNU MP program loads GNU MP's $lib" ;;
    esac
fi

# ---- 4. linked against the build dir without an rpath: a clear loader error
if check "build prog.c against $BUILD without rpath" "$OUT/norpath.build.log" \
    "$CC" -O2 "-I$ROOT/include" "$SRC/prog.c" -o "$OUT/prog-norpath" "-L$BUILD" -lgmp -lpthread -ldl; then
    needed="$(readelf -d "$OUT/prog-norpath" | sed -n 's/.*(NEEDED).*\[\(libgmp[^]]*\)\].*/\1/p')"
    [ "$needed" = "$SONAME" ] && pass "NEEDED $needed" || fail "NEEDED is '$needed', want $SONAME"
    timeout 60 "$OUT/prog-norpath" "$BUILD" >"$OUT/norpath.log" 2>&1
    rc=$?
    if [ "$rc" -ne 0 ] && grep -q "$SONAME: cannot open shared object file" "$OUT/norpath.log" &&
        ! grep -q "symbol lookup error" "$OUT/norpath.log"; then
        pass "run without rpath fails: $(head -n 1 "$OUT/norpath.log")"
    else
        fail "run without rpath: exit $rc, want a loader error about $SONAME"
        show_tail "$OUT/norpath.log"
    fi
    check "same binary with LD_LIBRARY_PATH=$BUILD (the $SONAME link in the build dir)" \
        "$OUT/norpath-ldpath.log" env LD_LIBRARY_PATH="$BUILD" timeout 60 "$OUT/prog-norpath" "$BUILD"
fi

# ---- 5. staged install (DESTDIR): the CMake package finds itself where it lies
STAGE="$WORK/stage"
if check "make install DESTDIR=$STAGE PREFIX=/opt/gmp-sched" "$OUT/stage-install.log" \
    "$MAKE" -C "$ROOT" --no-print-directory install DESTDIR="$STAGE" PREFIX=/opt/gmp-sched; then
    grep -qx 'prefix=/opt/gmp-sched' "$STAGE/opt/gmp-sched/lib/pkgconfig/gmp-sched.pc" &&
        pass "staged gmp-sched.pc has prefix=/opt/gmp-sched" || fail "staged gmp-sched.pc prefix"
    cmake_cycle "staged, CMAKE_PREFIX_PATH=$STAGE/opt/gmp-sched" "$STAGE/opt/gmp-sched" \
        "$STAGE/opt/gmp-sched/lib/gmp-sched" stage
    check "make uninstall DESTDIR=$STAGE PREFIX=/opt/gmp-sched" "$OUT/stage-uninstall.log" \
        "$MAKE" -C "$ROOT" --no-print-directory uninstall DESTDIR="$STAGE" PREFIX=/opt/gmp-sched
    left="$(find "$STAGE" ! -type d)"
    [ -z "$left" ] && pass "staged uninstall left no files" || fail "staged uninstall left: $left"
fi

# ---- 6. make uninstall
check "make uninstall PREFIX=$P" "$OUT/uninstall.log" \
    "$MAKE" -C "$ROOT" --no-print-directory uninstall PREFIX="$P" DESTDIR=
left="$(find "$P" ! -type d -o -name '*gmp*')"
if [ -z "$left" ]; then
    pass "uninstall left only empty standard dirs: $(cd "$P" && find . -mindepth 1 -type d | sort | paste -sd ' ')"
else
    fail "uninstall left:"
    echo "$left" | sed 's/^/    | /'
fi

finish
