# make install / make uninstall, included by the Makefile.
#
# Debian's GNU MP owns libgmp.so and gmp.h in the standard directories, so nothing of ours goes
# there: the header and the library live in their own subdirectories, found through pkg-config
# (gmp-sched.pc) or CMake (find_package(gmp-sched) -> gmp-sched::gmp-sched).
#   $(PREFIX)/include/gmp-sched/gmp.h, gmp.hpp (the C++17 header over gmp.h)
#   $(PREFIX)/lib/gmp-sched/libgmp.so.<version>, libgmp.so.0 -> it, libgmp.so -> libgmp.so.0
#   $(PREFIX)/lib/pkgconfig/gmp-sched.pc
#   $(PREFIX)/lib/cmake/gmp-sched/gmp-schedConfig.cmake, gmp-schedConfigVersion.cmake
# install never builds: run `make` first (as your user), then `make install` (as root if need be).

# The package version, from Cargo.toml's [package] section.
PKG_VERSION := $(shell awk -F'"' '/^\[/ { p = ($$0 == "[package]") } p && /^version *=/ { print $$2; exit }' Cargo.toml)
# Must match the -soname in build.rs.
SONAME      := libgmp.so.0

INSTALL     ?= install
inst_incdir  = $(DESTDIR)$(PREFIX)/include/gmp-sched
inst_libdir  = $(DESTDIR)$(PREFIX)/lib/gmp-sched
inst_pcdir   = $(DESTDIR)$(PREFIX)/lib/pkgconfig
inst_cmake   = $(DESTDIR)$(PREFIX)/lib/cmake/gmp-sched
subst_in     = sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(PKG_VERSION)|g' -e 's|@SONAME@|$(SONAME)|g'

.PHONY: install uninstall

install:
	@test -f $(LIBDIR)/libgmp.so || { echo "install: $(LIBDIR)/libgmp.so not found: run make first"; exit 1; }
	@test -n "$(PKG_VERSION)" || { echo "install: no version found in Cargo.toml"; exit 1; }
	$(INSTALL) -d $(inst_incdir) $(inst_libdir) $(inst_pcdir) $(inst_cmake)
	$(INSTALL) -m 644 include/gmp.h $(inst_incdir)/gmp.h
	$(INSTALL) -m 644 include/gmp.hpp $(inst_incdir)/gmp.hpp
	$(INSTALL) -m 755 $(LIBDIR)/libgmp.so $(inst_libdir)/libgmp.so.$(PKG_VERSION)
	ln -sf libgmp.so.$(PKG_VERSION) $(inst_libdir)/$(SONAME)
	ln -sf $(SONAME) $(inst_libdir)/libgmp.so
	$(subst_in) gmp-sched.pc.in > $(inst_pcdir)/gmp-sched.pc
	$(subst_in) cmake/gmp-schedConfig.cmake.in > $(inst_cmake)/gmp-schedConfig.cmake
	$(subst_in) cmake/gmp-schedConfigVersion.cmake.in > $(inst_cmake)/gmp-schedConfigVersion.cmake

# Removes exactly what install put, then the gmp-sched directories if that left them empty.
uninstall:
	rm -f $(inst_incdir)/gmp.h $(inst_incdir)/gmp.hpp
	rm -f $(inst_libdir)/libgmp.so $(inst_libdir)/$(SONAME) $(inst_libdir)/libgmp.so.$(PKG_VERSION)
	rm -f $(inst_pcdir)/gmp-sched.pc
	rm -f $(inst_cmake)/gmp-schedConfig.cmake $(inst_cmake)/gmp-schedConfigVersion.cmake
	@for d in $(inst_incdir) $(inst_libdir) $(inst_cmake); do \
		if [ -d "$$d" ]; then rmdir --ignore-fail-on-non-empty "$$d"; fi; \
	done
