# libgmp — build, demo, tests, benchmarks, install.
#   make demo     build the library and run examples-c/demo.c
#   make check    all tests: Rust unit + loom model check + C tests at GMP_MAXPROCS=1,2,8
#                 (and at 2 against a debug build) + the examples (examples-c/check.sh) +
#                 hiredis/redis-server (c-tests/redis/run.sh) + install check
#                 (c-tests/install_check.sh)
#   make soak     the randomized storm (c-tests/t_storm.c) for long: SOAK_SECONDS (300) per run,
#                 SOAK_SEEDS (2) fresh seeds at each of SOAK_PROCS (1 2 8), against the release
#                 and the debug build (c-tests/soak.sh; about an hour with the defaults). A
#                 failure prints its seed and the command that replays its random choices.
#                 STORM_MALLOC=0 leaves out the storm's malloc churn (c-tests/t_storm.c).
#   make bench    C benchmarks beside their Go twins (Go column only where `go` is installed)
#   make install PREFIX=/usr/local [DESTDIR=...]   after `make` (never builds); `make uninstall`
#                 undoes it. Under include/gmp-sched/ and lib/gmp-sched/, so GNU MP is never
#                 shadowed, plus gmp-sched.pc and a CMake package (mk/install.mk)
# The SONAME is libgmp.so.0, so `lib` (and `lib-debug`) add target/*/libgmp.so.0 -> libgmp.so.
# Every link line puts this build's directory first (-L ... -Wl,-rpath,...): Debian's GNU MP
# also installs a libgmp.so.

CARGO   ?= cargo
CC      ?= gcc
CXX     ?= g++
PREFIX  ?= /usr/local
LIBDIR  := $(CURDIR)/target/release
CFLAGS  ?= -O2 -g -Wall -Wextra
LINK     = -L$(LIBDIR) -Wl,-rpath,$(LIBDIR) -lgmp -lpthread

.PHONY: all lib lib-debug demo check test-rust test-loom test-api test-c test-c-debug test-redis test-examples test-install header-check soak bench install uninstall clean

all: lib

lib:
	$(CARGO) build --release
	ln -sf libgmp.so target/release/libgmp.so.0

lib-debug:
	$(CARGO) build
	ln -sf libgmp.so target/debug/libgmp.so.0

target/examples/%: examples-c/%.c lib
	@mkdir -p target/examples
	$(CC) $(CFLAGS) -Iinclude $< -o $@ $(LINK)

target/examples/%: examples-c/%.cpp lib
	@mkdir -p target/examples
	$(CXX) -O2 -g -Wall -std=c++17 -Iinclude $< -o $@ $(LINK)

# pipeline.c's C++ twin (gmp.hpp) needs a name of its own.
target/examples/pipeline_cpp: examples-c/pipeline.cpp lib
	@mkdir -p target/examples
	$(CXX) -O2 -g -Wall -std=c++17 -Iinclude $< -o $@ $(LINK)

demo: target/examples/demo
	./target/examples/demo

check: lib header-check test-api test-rust test-loom test-examples test-c test-redis test-c-debug test-install

# A program built without libgmp (examples-c/preload/README.md): no -lgmp, no gmp.h.
target/examples/sleepers: examples-c/preload/sleepers.c
	@mkdir -p target/examples
	$(CC) $(CFLAGS) $< -o $@ -lpthread -ldl

EXAMPLES = demo lambda pipeline pipeline_cpp echo_server echo_client sleepers

# The examples must keep building; lambda checks its own result, and examples-c/check.sh runs
# the rest briefly: demo and the pipelines (which check their results), echo server + client,
# the LD_PRELOAD program.
test-examples: $(addprefix target/examples/,$(EXAMPLES))
	./target/examples/lambda
	bash examples-c/check.sh $(LIBDIR) target/examples

# The committed header must be what cbindgen generates from the sources.
header-check: lib
	@git diff --quiet -- include/gmp.h 2>/dev/null || { echo "include/gmp.h differs from the generated header: commit it"; git --no-pager diff --stat -- include/gmp.h; exit 1; }

# The exports are exactly the header's functions; the header compiles as pedantic C99 and C++11.
test-api: lib
	bash c-tests/check_exports.sh $(LIBDIR)
	bash c-tests/check_header.sh

test-rust:
	$(CARGO) test --release --lib -- --test-threads=1

test-loom:
	RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 $(CARGO) test --release --lib --target-dir target/loom -- --test-threads=1

test-c: lib
	bash c-tests/run.sh $(LIBDIR)

# hiredis in 200 goroutines against a redis-server it starts (linked and under LD_PRELOAD), and
# redis-cli under LD_PRELOAD: c-tests/redis/run.sh (installs redis-server and libhiredis-dev
# with apt-get as root when missing; skips with a message where it cannot).
test-redis: lib
	bash c-tests/redis/run.sh $(LIBDIR)

# The C suite against a debug build (debug_assert!s, status and lock-rank checks), one setting.
test-c-debug: lib-debug
	PROCS=2 VALGRIND_TESTS= bash c-tests/run.sh $(CURDIR)/target/debug

# Installs to a temporary prefix and builds against it (pkg-config, CMake) beside GNU MP.
test-install: lib
	bash c-tests/install_check.sh

soak: lib lib-debug
	bash c-tests/soak.sh $(LIBDIR) $(CURDIR)/target/debug

bench: lib
	bash bench/run.sh $(LIBDIR)

clean:
	$(CARGO) clean

include mk/install.mk
