# SPDX-License-Identifier: GPL-2.0
# bench.mk — the benchmarks: `make bench` runs the VM part (kernel TLS, emulated)
# and the host part (real speed, no kernel TLS), then writes
# build/bench/results.json, the tables in BENCHMARKS.md and docs/bench.png.
# BENCH_QUICK=1 make bench: tiny sizes, to check the harness (figures meaningless).

BENCH_DIR   ?= build/bench
BENCH_BIN   := $(BENCH_DIR)/bin
BENCH_BINS  := $(BENCH_BIN)/xfer $(BENCH_BIN)/splicer $(BENCH_BIN)/cipher $(BENCH_BIN)/lat
BENCH_BINS  += $(BENCH_BIN)/kmodmem $(BENCH_BIN)/kscale
BENCH_EXTRA := tools/bench/handshake
# A safety net only: the VM part bounds its own bulk rounds (INE_BENCH_BULK_BUDGET);
# on a machine shared with other VMs its first round alone can take 10+ minutes.
BENCH_VM_TIMEOUT ?= 1500

$(BENCH_BIN)/libbench.a: tools/bench/bench.o
	@mkdir -p $(BENCH_BIN)
	$(AR) rcs $@ $^

$(BENCH_BIN)/%: tools/bench/%.c $(BENCH_BIN)/libbench.a
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# xfer --ine measures kernel-TLS sendfile through ine's own hand-off (TLS
# 1.3 receive in the kernel too); kmodmem is ine.ko's memory per session.
$(BENCH_BIN)/xfer: tools/bench/xfer.c $(BENCH_BIN)/libbench.a agent/libine-agent.a $(INENL_LIB)
	$(CC) $(CPPFLAGS) -DBENCH_INE_TLS $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BENCH_BIN)/kmodmem: tools/bench/kmodmem.c $(BENCH_BIN)/libbench.a agent/libine-agent.a $(INENL_LIB)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# kscale: the guard per segment and a dump at 1k .. 1M sessions, the
# namespace filled by kmod/test/ine_bench.ko's stand-ins (bench-module).
$(BENCH_BIN)/kscale: tools/bench/kscale.c $(BENCH_BIN)/libbench.a agent/libine-agent.a $(INENL_LIB)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# ine_bench.ko, for the VM's kernel like ine.ko; never installed.  It
# links to ine.ko's INE_TEST exports, hence ine.ko's Module.symvers.
bench-module:
	$(MAKE) module KDIR=$(VM_KDIR_CMD)
	$(MAKE) -C $(VM_KDIR_CMD) M=$(CURDIR)/kmod/test \
		KBUILD_EXTRA_SYMBOLS=$(CURDIR)/Module.symvers modules

# Step kscale alone (its own VM boot, as in `make bench`): figures in
# build/bench/kscale.log and BENCHMARKS.md's kscale table only.
bench-kscale: $(BENCH_BIN)/kscale bench-module
	INE_BENCH_STEPS=kscale tools/vm-run --timeout $(BENCH_VM_TIMEOUT) --mem 3072 -- \
		tools/bench/vm-suite >$(BENCH_DIR)/kscale.log
	/usr/bin/python3 tools/bench/report --logs $(BENCH_DIR)/kscale.log \
		--json $(BENCH_DIR)/kscale.json --md BENCHMARKS.md --only kscale
	@grep '"kind":"kscale"' $(BENCH_DIR)/kscale.log

# Full mutual-TLS handshakes per second per core, TLS 1.2 and 1.3 (host).
tools/bench/handshake: tools/bench/handshake.c $(TESTLIB) agent/libine-agent.a $(INENL_LIB)
	$(CC) $(CPPFLAGS) -Itests/lib $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

bench-tls: tools/bench/handshake
	tools/bench/handshake -n $(or $(BENCH_N),1000)

bench-bins: $(BENCH_BINS) $(BENCH_EXTRA)

# The ine pieces are built if they can be; a path whose piece is missing
# is reported as not measured, never silently left out.
bench: bench-bins
	-$(MAKE) bench-module
	-$(MAKE) ined tests/vm/bins
	$(if $(BENCH_QUICK),INE_BENCH_QUICK=1) tools/bench/run --vm-timeout $(BENCH_VM_TIMEOUT) --out $(BENCH_DIR)

bench-clean:
	rm -f tools/bench/*.o tools/bench/*.d
	rm -f tools/bench/handshake
	rm -rf $(BENCH_BIN)
	-$(MAKE) -C $(VM_KDIR_CMD) M=$(CURDIR)/kmod/test clean

clean: bench-clean

-include $(wildcard tools/bench/*.d $(BENCH_BIN)/*.d)

.PHONY: bench bench-bins bench-clean bench-tls bench-module bench-kscale
