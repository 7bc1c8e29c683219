#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# ine.ko: status query with version, every command and error path, kernel
# TLS 1.2/1.3 x AES-GCM-128/256, events, privileges, netns isolation, and
# inectl show on a live kTLS session.
. tests/vm/lib.sh
load_tls
load_ine
ver=$(modinfo -F version "$TOP/ine.ko")
[ -n "$ver" ] || fail "ine.ko has no version"

step "status query"
./inectl show dump >$T/dump || fail "inectl show dump"
expect_eq "module line" "$(awk -F'\t' '$1=="module" {print $2}' $T/dump)" "$ver"

step "API and error paths"
tests/vm/kmod_api all "$ver" || fail "kmod_api all"

step "unprivileged caller"
# keep a root-registered session so the unprivileged dump has something
tests/vm/kmod_api hold 12 128 "setpriv --reuid=65534 --regid=65534 \
	--clear-groups --inh-caps=-all --bounding-set=-all tests/vm/kmod_api unpriv" ||
	fail "unprivileged caller"

step "user namespace root manages its own network namespace"
setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
	unshare -Urn sh -c 'ip link set lo up && tests/vm/kmod_api userns' ||
	fail "userns root in its own netns"
[ "$(./inectl show dump | grep -c '^session')" = 0 ] ||
	fail "the user namespace's session leaked into the initial namespace"

step "namespaces"
ine_mknodes 2 || fail "nodes"
ip netns exec node1 tests/vm/kmod_api xns /var/run/netns/node2 ||
	fail "netns isolation"

step "inectl show on a live kTLS session"
for v in 12 13; do
	tests/vm/kmod_api hold $v 256 "./inectl show dump >$T/d$v; ./inectl show --json >$T/j$v; ./inectl show >$T/p$v" ||
		fail "hold $v"
	n=$(awk -F'\t' '$1=="session" && $4=="offloaded" && $15=="sw" && $16=="sw" {print $13, $14}' $T/d$v | sort -u)
	want="TLS1.$((v - 10)) aes-256-gcm"
	expect_eq "dump sessions TLS$v" "$n" "$want"
	[ "$(awk -F'\t' '$1=="session"' $T/d$v | wc -l)" = 2 ] || fail "dump: want 2 sessions"
	grep -q '"cipher": "aes-256-gcm"' $T/j$v || fail "json lacks cipher"
	grep -q '"tx_records": [0-9]' $T/j$v || fail "json lacks records"
	grep -q "offloaded, TLS1.$((v - 10)) aes-256-gcm, tx sw, rx sw" $T/p$v ||
		{ cat $T/p$v; fail "pretty output lacks the session"; }
	grep -q "transfer: .* KiB sent" $T/p$v || fail "pretty lacks transfer"
done
cat $T/p13
exit 0
