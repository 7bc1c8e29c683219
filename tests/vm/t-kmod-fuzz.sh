#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# ine.ko under a random generic netlink fuzzer (tests/vm/nl_fuzz): every
# command number, malformed and valid attributes, bogus fds, as root and as
# uid 65534 (every mutating command must get EPERM). Afterwards the module
# must answer a status query, hold no session and no reference (rmmod works).
# A second pass (-c) closes sockets from another thread while they are
# being registered, changed, dumped and deleted.
# Any oops/WARNING/BUG fails the whole VM run (tools/vm-run exits 125).
# Knobs: INE_FUZZ_MSGS (root messages, default 50000), INE_FUZZ_UNPRIV
# (default 10000), INE_FUZZ_SEED (replay a run; the seed is printed).
. tests/vm/lib.sh
load_tls
load_ine
n=${INE_FUZZ_MSGS:-50000}
u=${INE_FUZZ_UNPRIV:-10000}
seed=${INE_FUZZ_SEED:+-s $INE_FUZZ_SEED}
start=$(date +%s)
tests/vm/nl_fuzz -n "$n" -u "$u" $seed || fail "nl_fuzz (replay with INE_FUZZ_SEED=<seed above>)"
note "fuzzer took $(( $(date +%s) - start ))s"
# again with a thread closing sockets under the commands (not reproducible
# to the message: the races are the point)
start=$(date +%s)
tests/vm/nl_fuzz -c -n $((n / 2)) -u 0 $seed || fail "nl_fuzz -c (closer thread)"
note "fuzzer with the closer thread took $(( $(date +%s) - start ))s"

# the initial namespace was not fuzzed (nl_fuzz unshares) but must still answer
ver=$(modinfo -F version "$TOP/ine.ko")
./inectl show dump >$T/dump 2>&1 || fail "inectl show dump after the fuzzer: $(cat $T/dump)"
expect_eq "module version after the fuzzer" \
	"$(awk -F'\t' '$1=="module" {print $2}' $T/dump)" "$ver"
refs=$(awk '$1 == "ine" {print $3}' /proc/modules)
expect_eq "ine.ko reference count" "$refs" 0
rmmod ine || fail "rmmod ine after the fuzzer"
lsmod | grep -q '^ine ' && fail "ine still loaded after rmmod"
insmod "$TOP/ine.ko" || fail "insmod again after the fuzzer"
./inectl show dump >$T/dump2 2>&1 || fail "inectl show dump after reload"
note "rmmod and insmod after the fuzzer: ok"
exit 0
