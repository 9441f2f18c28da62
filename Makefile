# libgmp — build, demo, tests, benchmarks, install.
#   make demo     build the library and run examples-c/demo.c
#   make check    all tests: Rust unit + loom model check + C tests at GMP_MAXPROCS=1,2,8
#   make bench    C benchmarks beside their Go twins (Go column only where `go` is installed)
#   make install PREFIX=/usr/local
# Every link line puts this build's directory first (-L ... -Wl,-rpath,...): Debian's GNU MP
# also installs a libgmp.so.

CARGO   ?= cargo
CC      ?= gcc
CXX     ?= g++
PREFIX  ?= /usr/local
LIBDIR  := $(CURDIR)/target/release
CFLAGS  ?= -O2 -g -Wall -Wextra
LINK     = -L$(LIBDIR) -Wl,-rpath,$(LIBDIR) -lgmp -lpthread

.PHONY: all lib demo check test-rust test-loom test-c test-examples header-check bench install clean

all: lib

lib:
	$(CARGO) build --release

target/examples/%: examples-c/%.c lib
	@mkdir -p target/examples
	$(CC) $(CFLAGS) -Iinclude $< -o $@ $(LINK)

target/examples/%: examples-c/%.cpp lib
	@mkdir -p target/examples
	$(CXX) -O2 -g -Wall -std=c++17 -Iinclude $< -o $@ $(LINK)

demo: target/examples/demo
	./target/examples/demo

check: lib header-check test-rust test-loom test-examples test-c

# The examples must keep building; the C++ one checks its own result.
test-examples: target/examples/demo target/examples/lambda
	./target/examples/lambda

# The committed header must be what cbindgen generates from the sources.
header-check: lib
	@git diff --quiet -- include/gmp.h 2>/dev/null || { echo "include/gmp.h differs from the generated header: commit it"; git --no-pager diff --stat -- include/gmp.h; exit 1; }

test-rust:
	$(CARGO) test --release --lib -- --test-threads=1

test-loom:
	RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 $(CARGO) test --release --lib --target-dir target/loom -- --test-threads=1

test-c: lib
	bash c-tests/run.sh $(LIBDIR)

bench: lib
	bash bench/run.sh $(LIBDIR)

install: lib
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 755 $(LIBDIR)/libgmp.so $(DESTDIR)$(PREFIX)/lib/libgmp.so
	install -m 644 include/gmp.h $(DESTDIR)$(PREFIX)/include/gmp.h
	sed -e 's|@PREFIX@|$(PREFIX)|g' gmp-sched.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/gmp-sched.pc

clean:
	$(CARGO) clean
