#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# ine.ko with thousands of sessions: dumps exact under churn, sessions gone
# on close, rmmod/insmod with live sessions, namespaces dying with sessions.
. tests/vm/lib.sh
load_ine
pairs=${INE_KMOD_PAIRS:-1500}

step "churn: $((2 * pairs)) stable sessions"
tests/vm/kmod_many churn "$pairs" 20 || fail "churn"

step "rmmod/insmod with live sessions"
tests/vm/kmod_many reload "$((pairs / 3))" 5 "$TOP/ine.ko" || fail "reload"
lsmod | grep -q '^ine ' || fail "ine.ko not loaded after the loop"

step "namespaces die with registered sessions"
ine_mknodes 2 || fail "nodes"
for n in 1 2; do
	ip netns exec node$n tests/vm/kmod_many hold 300 >$T/hold$n &
	eval pid$n=$!
done
for i in $(seq 600); do
	grep -q ready $T/hold1 2>/dev/null && grep -q ready $T/hold2 2>/dev/null && break
	sleep 0.1
done
grep -q ready $T/hold1 && grep -q ready $T/hold2 || fail "holders not ready"
[ "$(ip netns exec node1 ./inectl show dump | grep -c '^session')" = 600 ] ||
	fail "node1 does not show its 600 sessions"
[ "$(./inectl show dump | grep -c '^session')" = 0 ] ||
	fail "the initial namespace sees other namespaces' sessions"
kill -9 $pid1
wait $pid1 2>/dev/null
ip netns del node1
# rmmod while node2 still holds 600 live sessions
rmmod ine || fail "rmmod with live sessions in node2"
kill -9 $pid2
wait $pid2 2>/dev/null
ip netns del node2
insmod "$TOP/ine.ko" || fail "insmod after"
sleep 1
rmmod ine || fail "final rmmod"
exit 0
