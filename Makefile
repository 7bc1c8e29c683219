# SPDX-License-Identifier: GPL-2.0
# ine — top-level build.  `make` builds ined, inectl and ine.ko;
# `make check` runs every test (unit on the host, then the VM suite under
# Debian's kernel with real kernel TLS); `make demo` shows it working.

PREFIX   ?= /usr/local
SBINDIR  ?= $(PREFIX)/sbin
# ine.ko for this machine's kernel (install) ...
KDIR     ?= $(shell tools/kdir 2>/dev/null)
# ... and for the kernel the test VM boots (check/demo/bench), looked up
# when the recipe runs (after deps may have installed it).
VM_KDIR_CMD = /usr/src/linux-headers-$$(tools/kabi)

PKGS     := openssl libnl-genl-3.0 libevent jansson libsystemd
CC       ?= gcc
CFLAGS   ?= -O2 -g
CFLAGS   += -std=gnu11 -Wall -Wextra -Wshadow -Wformat=2 -fstack-protector-strong -fPIC
CPPFLAGS += -D_GNU_SOURCE -D_FORTIFY_SOURCE=2 -Iinclude/uapi -Iinclude -Iagent -Ilib \
            $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS   += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread

# Every agent/<subsystem>/*.c goes into one static library that ined,
# the tests and the fuzz targets link, so a function has one home; main.c
# alone is ined's.  ine.ko's netlink client is a library of its own
# (lib/inenl/) that ined, inectl, the tests and the benchmarks share.
AGENT_SRC := $(wildcard agent/*/*.c)
AGENT_OBJ := $(AGENT_SRC:.c=.o)
INENL_SRC := $(wildcard lib/inenl/*.c)
INENL_OBJ := $(INENL_SRC:.c=.o)
INENL_LIB := lib/inenl/libinenl.a
CTL_SRC   := $(wildcard tools/inectl/*.c)
UNIT_SRC  := $(wildcard tests/unit/*.c)
VMT_SRC   := $(wildcard tests/vm/*.c)
VMT_BIN   := $(VMT_SRC:.c=)
# tests/lib/: the fixtures every test program shares (certificates, loopback pairs).
TESTLIB_SRC := $(wildcard tests/lib/*.c)
TESTLIB   := tests/lib/libinetest.a
FUZZ_SRC  := $(wildcard fuzz/fuzz_*.c)

all: ined inectl module tests/vm/bins

agent/libine-agent.a: $(AGENT_OBJ)
	$(AR) rcs $@ $^

$(INENL_LIB): $(INENL_OBJ)
	$(AR) rcs $@ $^

ined: agent/main.o agent/libine-agent.a $(INENL_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

inectl: $(CTL_SRC:.c=.o) agent/libine-agent.a $(INENL_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

-include $(wildcard mk/*.mk)
-include $(wildcard agent/*.d agent/*/*.d lib/inenl/*.d tools/inectl/*.d tests/lib/*.d tests/unit/*.d tests/vm/*.d)
CPPFLAGS += -MMD -MP

# ---- kernel module -------------------------------------------------------
module:
	@test -d "$(KDIR)" || { echo "no kernel headers at '$(KDIR)': run tools/install-deps or set KDIR" >&2; exit 1; }
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

module-clean:
	-$(MAKE) -C $(KDIR) M=$(CURDIR) clean

# ---- tests ---------------------------------------------------------------
tests/%: CPPFLAGS += -Itests/lib

$(TESTLIB): $(TESTLIB_SRC:.c=.o)
	$(AR) rcs $@ $^

tests/unit/unit-tests: $(UNIT_SRC:.c=.o) $(TESTLIB) agent/libine-agent.a lib/libine.a $(INENL_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcriterion

tests/vm/%: tests/vm/%.c $(TESTLIB) agent/libine-agent.a lib/libine.a $(INENL_LIB)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

tests/vm/bins: $(VMT_BIN)
	@touch $@

deps:
	@tools/install-deps

# The agent code under test logs as it would in production; that goes to
# build/unit.log, which is printed whole only when a test fails.
unit: tests/unit/unit-tests circles spdx-check
	@mkdir -p build
	@echo "tests/unit/unit-tests --jobs 2 (log: build/unit.log)"
	@if tests/unit/unit-tests --jobs 2 >build/unit.log 2>&1; then \
	  grep -F 'Synthesis:' build/unit.log; \
	else cat build/unit.log; echo "unit tests FAILED (log: build/unit.log)"; exit 1; fi

# No two files call each other both ways (tools/check-circles; the pairs
# still to be broken are in tools/circles.allow).  Run with unit; kmod is
# left to tests/host/t-check-circles.sh, as kbuild may be writing its
# objects while this runs (make -j all unit).
circles: agent/libine-agent.a agent/main.o $(INENL_LIB)
	@mkdir -p build
	@if tools/check-circles agent lib/inenl >build/circles.log 2>&1; then \
	  echo "check-circles: no new circles ($$(grep -c '^known:' build/circles.log) known, listed in tools/circles.allow)"; \
	else cat build/circles.log; exit 1; fi

hostcheck: ined inectl tests/vm/bins
	tests/host/run-all

# bench-module: ine.ko and kmod/test/ine_bench.ko (t-kmod-scale's stand-ins)
vmcheck: ined inectl tests/vm/bins
	$(MAKE) bench-module
	tools/vm-run --timeout 1800 -- tests/vm/run-all

check: deps
	$(MAKE) all
	$(MAKE) unit
	$(MAKE) hostcheck
	$(MAKE) vmcheck
	@echo "make check: all suites passed"

# The demo runs in the VM (Debian's kernel), so the module is built for it.
# Sub-makes: on a fresh machine the kernel and libraries only exist once
# deps has run, and make evaluates KDIR/pkg-config when it reads this file.
demo: deps
	$(MAKE) ined inectl tests/vm/bins
	$(MAKE) module KDIR=$(VM_KDIR_CMD)
	tools/demo

# install, install-user, install-module, install-dkms: mk/install.mk; deb: mk/deb.mk

clean: module-clean
	rm -f ined inectl agent/*.o agent/*.d agent/*.a agent/*/*.o agent/*/*.d \
	      lib/inenl/*.o lib/inenl/*.d $(INENL_LIB) tools/inectl/*.o tools/inectl/*.d \
	      tests/lib/*.o tests/lib/*.d $(TESTLIB) \
	      tests/unit/*.o tests/unit/*.d tests/unit/unit-tests $(VMT_BIN) tests/vm/bins
	rm -rf build

.PHONY: all module module-clean deps unit circles hostcheck vmcheck check demo clean
