# Reliability targets (issue 8): see RELIABILITY.md.
# make fuzz-all   every fuzz target for FUZZ_ALL_RUNS executions (default
#                 200000): executions, seconds and crashes per target.
FUZZ_ALL_RUNS ?= 200000
fuzz-all: $(FUZZ_SRC:fuzz/%.c=fuzz/bin/%)
	FUZZ_ALL_RUNS=$(FUZZ_ALL_RUNS) tools/soak/fuzz-all

.PHONY: fuzz-all
