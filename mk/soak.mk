# SPDX-License-Identifier: GPL-2.0
# soak.mk — `make soak` (not part of make check): SOAK_CONNS
# routed connections with verified traffic for SOAK_MINUTES through a
# 3-node cluster in the VM (kernel TLS, ine.ko), counted from when all are
# flowing, with a certificate rotation and an encryption toggle (off, on) in
# the first fifth; memory sampled every SOAK_SAMPLE s and judged over the
# steady second half (tools/soak/soak-guest says what passes).
# soak-rate: how fast routed connections open in the VM, and at what cost.
# The samples and logs stay in the VM results directory vm-run prints (soak/).
SOAK_MINUTES ?= 10
SOAK_CONNS   ?= 1000
SOAK_RATE    ?= 256
SOAK_CHUNK   ?= 1024
SOAK_RAMP    ?= 8
SOAK_SAMPLE  ?= 15
SOAK_MEM     ?= 3072
SOAK_RAMPUP_MAX ?= 1200

tools/soak/soakgen: tools/soak/soakgen.c
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(shell pkg-config --libs libevent 2>/dev/null)

all: tools/soak/soakgen

soak: ined inectl tools/soak/soakgen
	$(MAKE) module KDIR=$(VM_KDIR_CMD)
	INE_SOAK_MINUTES=$(SOAK_MINUTES) INE_SOAK_CONNS=$(SOAK_CONNS) \
	INE_SOAK_RATE=$(SOAK_RATE) INE_SOAK_CHUNK=$(SOAK_CHUNK) INE_SOAK_RAMP=$(SOAK_RAMP) \
	INE_SOAK_SAMPLE=$(SOAK_SAMPLE) INE_SOAK_RAMPUP_MAX=$(SOAK_RAMPUP_MAX) \
	tools/vm-run --keep --nodes 3 --mem $(SOAK_MEM) \
		--timeout $$(( $(SOAK_MINUTES) * 60 + 3 * $(SOAK_RAMPUP_MAX) + 600 )) -- tools/soak/soak-guest

clean: soak-clean
soak-clean:
	rm -f tools/soak/soakgen tools/soak/*.d

-include $(wildcard tools/soak/*.d)
soak-rate: ined inectl tools/soak/soakgen
	$(MAKE) module KDIR=$(VM_KDIR_CMD)
	tools/vm-run --nodes 3 --mem $(SOAK_MEM) --timeout 2400 -- tools/soak/soak-rate

.PHONY: soak soak-clean soak-rate
