#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# ined under the real kernel: it loads tls (and uses an insmod'ed ine.ko),
# reports kernel TLS and the module in status, and shows ine.ko's live
# kTLS sessions in GET /v1/status, inectl status and /metrics.
. tests/vm/lib.sh
NODE_NS=0	# one agent, in the initial namespace
load_ine
export INE_API_SOCKET=$T/n1.sock
node_start 1
grep -q "kernel module tls \(already \)\?loaded" $T/n1.log || { cat $T/n1.log; fail "ined did not load tls"; }

note "status with ine.ko and a live kTLS pair"
tests/vm/kmod_api hold 13 128 "./inectl status --json >$T/s.json && ./inectl status >$T/s.txt && curl -s --unix-socket $INE_API_SOCKET http://localhost/metrics >$T/m.txt" ||
	fail "hold"
expect_eq "module" "$(jq -r '.nodes[0].kernel_module_loaded' $T/s.json)" true
expect_eq "ktls" "$(jq -r '.nodes[0].kernel_tls_available' $T/s.json)" true
expect_eq "offload" "$(jq -r '.nodes[0].offload' $T/s.json)" kernel
expect_eq "source" "$(jq -r '.nodes[0].sessions_source' $T/s.json)" ine.ko
expect_eq "sessions" "$(jq '.nodes[0].sessions | length' $T/s.json)" 2
expect_eq "session state" "$(jq -r '[.nodes[0].sessions[].state] | unique | join(",")' $T/s.json)" offloaded
expect_eq "session tls" "$(jq -r '.nodes[0].sessions[0].tls_version' $T/s.json)" TLS1.3
expect_eq "no kTLS alert" "$(jq -r '[.alerts[].name] | index("kernel_tls_unavailable")' $T/s.json)" null
grep -q "offloaded" $T/s.txt || { cat $T/s.txt; fail "inectl status lacks the sessions"; }
grep -q '^ine_kernel_module_loaded 1$' $T/m.txt || fail "metrics: module"
n=$(awk '/^ine_sessions\{/ && /state="offloaded"/ {s += $2} END {print s}' $T/m.txt)
expect_eq "metrics offloaded sessions" "$n" 2
node_stop 1; expect_eq "ined exit" $? 0
