# SPDX-License-Identifier: GPL-2.0
# fuzz.mk — the fuzz targets (clang, libFuzzer + ASan + UBSan), one per
# parser that takes outside input (fuzz/fuzz_*.c), and their seed corpora.
#   make fuzz        every target for FUZZ_RUNS executions, stop at a crash
#   make fuzz-all    every target for FUZZ_ALL_RUNS executions: executions,
#                    seconds and crashes per target (RELIABILITY.md)
#   make pki-seeds   regenerate fuzz/seeds/fuzz_pem from the unit corpus of
#                    hostile uploads (tests/unit/test_pki_customer.c)
FUZZ_CFLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer
fuzz/bin/%: fuzz/%.c $(AGENT_SRC) $(INENL_SRC)
	@mkdir -p fuzz/bin
	clang $(filter-out -MMD -MP,$(CPPFLAGS)) $(FUZZ_CFLAGS) -o $@ $^ $(LDLIBS)

FUZZ_RUNS ?= 200000
fuzz: $(FUZZ_SRC:fuzz/%.c=fuzz/bin/%)
	@for f in $^; do n=$${f##*/}; mkdir -p fuzz/corpus/$$n; \
	  echo "== $$n ($(FUZZ_RUNS) runs)"; \
	  $$f -runs=$(FUZZ_RUNS) fuzz/corpus/$$n fuzz/seeds/$$n 2>&1 | tail -n 3 || exit 1; done

FUZZ_ALL_RUNS ?= 200000
fuzz-all: $(FUZZ_SRC:fuzz/%.c=fuzz/bin/%)
	FUZZ_ALL_RUNS=$(FUZZ_ALL_RUNS) tools/soak/fuzz-all

pki-seeds: tests/unit/unit-tests
	mkdir -p fuzz/seeds/fuzz_pem
	INE_PKI_SEED_DIR=$(CURDIR)/fuzz/seeds/fuzz_pem tests/unit/unit-tests --filter 'pki_customer/*'

clean: fuzz-clean
fuzz-clean:
	rm -rf fuzz/bin

.PHONY: fuzz fuzz-all pki-seeds fuzz-clean
