#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# ine.ko with thousands of sessions: dumps exact under churn, sessions gone
# on close, rmmod/insmod with live sessions, the reaper's slices past 40000
# sessions, namespaces dying with sessions.
. tests/vm/lib.sh
load_ine
pairs=${INE_KMOD_PAIRS:-1500}

step "churn: $((2 * pairs)) stable sessions"
tests/vm/kmod_many churn "$pairs" 20 || fail "churn"

step "rmmod/insmod with live sessions"
tests/vm/kmod_many reload "$((pairs / 3))" 5 "$TOP/ine.ko" || fail "reload"
lsmod | grep -q '^ine ' || fail "ine.ko not loaded after the loop"

# The reaper looks at 16384 sessions a run: sessions behind 40000 stand-ins
# (kmod/test/ine_bench.ko, `make bench-module`) are in its third slice.
step "reaper in slices: sessions closed behind 40000 others are counted removed"
insmod "$TOP/kmod/test/ine_bench.ko" || fail "insmod ine_bench.ko (make bench-module)"
mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug
echo 40000 >/sys/kernel/debug/ine_bench/sessions || fail "40000 stand-ins"
totals() { ./inectl show dump | awk -F'\t' -v f="$1" '$1 == "totals" {print $f}'; }
r0=$(totals 15)
tests/vm/kmod_many hold 300 >$T/hold0 &
pid0=$!
for i in $(seq 600); do grep -q ready $T/hold0 2>/dev/null && break; sleep 0.1; done
grep -q ready $T/hold0 || fail "holder not ready"
[ "$(totals 2)" = 40600 ] || fail "totals do not count 40000 stand-ins and 600 sessions"
t0=$(date +%s)
kill -9 $pid0
wait $pid0 2>/dev/null
# 1 s between passes, 3 slices 0.1 s apart: the uAPI header says 1.3 s
for i in $(seq 100); do
	[ $(( $(totals 15) - r0 )) -ge 600 ] && break
	sleep 0.2
done
[ $(( $(totals 15) - r0 )) = 600 ] || fail "removed $(( $(totals 15) - r0 )) of 600 closed sessions"
echo "  600 closed sessions behind 40000 counted removed, seen $(( $(date +%s) - t0 )) s after the close (each query dumps 40600 sessions)"
[ "$(totals 2)" = 40000 ] || fail "stand-ins lost: $(totals 2)"
echo 0 >/sys/kernel/debug/ine_bench/sessions || fail "stand-ins deleted"
[ "$(totals 2)" = 0 ] || fail "$(totals 2) sessions left"
rmmod ine_bench || fail "rmmod ine_bench"

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
