#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The plaintext guard between two nodes: node1 writes to node2:3342.
. tests/vm/lib.sh
load_tls
load_ine
ine_mknodes 2 || fail "nodes"
N1="ip netns exec node1"
N2="ip netns exec node2"
BYTES=16384

# guard MODE -> prints "passed unregistered dropped dropped_bytes" of node1
counters() { $N1 ./inectl show dump | awk -F'\t' '$1=="guard" {print $4, $5, $6, $7}'; }
field() { echo "$1" | cut -d' ' -f"$2"; }

# transfer NAME SENDMODE [VER BITS]: node2 serves (kTLS if asked), node1
# sends; prints the bytes node2 received.
transfer() {
	name=$1; mode=$2; shift 2
	srv=""
	[ "$mode" = ktls ] && srv="ktls $*"
	$N2 tests/vm/kmod_guard serve 3342 40 $srv >$T/$name.srv &
	spid=$!
	for i in $(seq 100); do grep -q listening $T/$name.srv 2>/dev/null && break; sleep 0.1; done
	# forwarded: node1's guard also drops node2's go-ahead byte to the
	# container, so that sender waits for it until the timeout
	timeout ${SENDTIMEOUT:-120} ip netns exec ${SENDNS:-node1} env KMOD_GUARD_WAIT=${WAIT:-30} \
		tests/vm/kmod_guard send 10.77.0.2 3342 $BYTES $mode "$@" ||
		[ -n "${SENDTIMEOUT:-}" ] || fail "$name: sender failed"
	wait $spid
	tail -n 1 $T/$name.srv
}

step "default: off, nothing counted"
got=$(transfer off plain)
expect_eq "off: received" "$got" $BYTES
expect_eq "off: counters" "$(counters)" "0 0 0 0"

step "enforce: an unregistered writer gets nothing through"
$N1 tests/vm/kmod_guard config enforce 3342 || fail "config enforce"
t0=$(date +%s)
$N1 tests/vm/kmod_guard events 120 >$T/events &
epid=$!
for i in $(seq 50); do grep -q subscribed $T/events 2>/dev/null && break; sleep 0.1; done
got=$(WAIT=3 transfer enforce plain)
expect_eq "enforce: received" "$got" 0
c=$(counters)
[ "$(field "$c" 2)" -gt 0 ] || fail "enforce: unregistered not counted ($c)"
[ "$(field "$c" 3)" -gt 0 ] || fail "enforce: drops not counted ($c)"
[ "$(field "$c" 4)" -ge 1000 ] || fail "enforce: dropped bytes $(field "$c" 4)"
sleep 2	# events are rate-limited to one a second
kill $epid
wait $epid 2>/dev/null
secs=$(( $(date +%s) - t0 ))
grep -q "^guard_drop enforce [0-9]* 3342 [1-9]" $T/events ||
	{ cat $T/events; fail "no guard_drop event"; }
[ "$(grep -c '^guard_drop' $T/events)" -le $((secs + 1)) ] ||
	fail "guard_drop events not rate-limited: $(grep -c '^guard_drop' $T/events) in ${secs}s"

step "enforce: a registered session (handshaking) passes"
before=$(counters)
got=$(transfer registered registered)
expect_eq "registered: received" "$got" $BYTES
c=$(counters)
expect_eq "registered: dropped unchanged" "$(field "$c" 3)" "$(field "$before" 3)"
[ "$(field "$c" 1)" -gt "$(field "$before" 1)" ] || fail "registered: passed not counted"

step "enforce: a registered socket without kernel TLS TX is dropped once its handshake window ends"
$N1 tests/vm/kmod_guard window 1000 || fail "window 1000"
before=$(counters)
export KMOD_GUARD_LATE=2
got=$(WAIT=3 transfer late registered)
expect_eq "late: received" "$got" 0
c=$(counters)
[ "$(field "$c" 3)" -gt "$(field "$before" 3)" ] || fail "late: drops not counted ($before -> $c)"

step "enforce: an explicit plaintext database session passes after the window"
got=$(transfer plaindb plaintextdb)
expect_eq "plaintext db: received" "$got" $BYTES
unset KMOD_GUARD_LATE
$N1 tests/vm/kmod_guard window 10000 || fail "window 10000"

for v in 12 13; do
	step "enforce: a registered kTLS session (TLS$v) is unaffected"
	before=$(counters)
	got=$(transfer ktls$v ktls $v 256)
	expect_eq "ktls$v: received" "$got" $BYTES
	c=$(counters)
	expect_eq "ktls$v: dropped unchanged" "$(field "$c" 3)" "$(field "$before" 3)"
done

step "enforce: a session's queued tail still leaves after close()"
before=$(counters)
$N2 env KMOD_GUARD_RCVBUF=4096 KMOD_GUARD_DELAY=4 tests/vm/kmod_guard serve 3342 60 >$T/tail.srv &
spid=$!
for i in $(seq 100); do grep -q listening $T/tail.srv 2>/dev/null && break; sleep 0.1; done
$N1 env KMOD_GUARD_CLOSE=1 tests/vm/kmod_guard send 10.77.0.2 3342 65536 registered ||
	fail "tail: sender failed"
# closed: gone from queries at once, though its bytes are still queued
expect_eq "tail: sessions after close" \
	"$($N1 ./inectl show dump | grep -c '^session')" 0
wait $spid
expect_eq "tail: received" "$(tail -n 1 $T/tail.srv)" 65536
c=$(counters)
expect_eq "tail: dropped unchanged" "$(field "$c" 3)" "$(field "$before" 3)"

step "audit: counted, not dropped"
$N1 tests/vm/kmod_guard config audit || fail "config audit"
before=$(counters)
got=$(transfer audit plain)
expect_eq "audit: received" "$got" $BYTES
c=$(counters)
[ "$(field "$c" 2)" -gt "$(field "$before" 2)" ] || fail "audit: not counted"
expect_eq "audit: dropped unchanged" "$(field "$c" 3)" "$(field "$before" 3)"

step "enforce on other ports leaves 3342 alone"
$N1 tests/vm/kmod_guard config enforce 4000 4001 || fail "config ports"
got=$(transfer otherport plain)
expect_eq "other ports: received" "$got" $BYTES

step "node2's guard is its own"
$N2 ./inectl show dump | grep -q "^guard	off	3342	0	0	0	0$" ||
	fail "node2 guard changed: $($N2 ./inectl show dump | grep ^guard)"
$N1 tests/vm/kmod_guard config off || fail "config off"

step "enforce: plaintext forwarded from a container behind a bridge is dropped"
# node1 hosts a container namespace ctr1 on its bridge ctrbr0 and routes
# for it: the container's segments cross node1's FORWARD path only.
$N1 ip link add ctrbr0 type bridge && $N1 ip link set ctrbr0 up &&
	$N1 ip addr add 10.88.0.1/24 dev ctrbr0 && ip netns add ctr1 &&
	$N1 ip link add ctrv0 type veth peer name eth0 netns ctr1 &&
	$N1 ip link set ctrv0 master ctrbr0 up &&
	ip -n ctr1 link set lo up && ip -n ctr1 addr add 10.88.0.2/24 dev eth0 &&
	ip -n ctr1 link set eth0 up && ip -n ctr1 route add default via 10.88.0.1 &&
	$N1 sysctl -qw net.ipv4.ip_forward=1 &&
	$N2 ip route add 10.88.0.0/24 via 10.77.0.1 || fail "container topology"
got=$(SENDNS=ctr1 transfer fwdoff plain)
expect_eq "forwarded, guard off: received" "$got" $BYTES
$N1 tests/vm/kmod_guard config enforce 3342 || fail "config enforce"
before=$(counters)
got=$(SENDNS=ctr1 SENDTIMEOUT=8 WAIT=3 transfer fwd plain)
expect_eq "forwarded, enforce: received" "$got" 0
c=$(counters)
[ "$(field "$c" 3)" -gt "$(field "$before" 3)" ] || fail "forwarded: drops not counted ($before -> $c)"
$N1 tests/vm/kmod_guard config off || fail "config off"
ip netns del ctr1

step "the guard survives rmmod/modprobe: a running agent's replay restores it"
unload() { for i in $(seq 50); do rmmod ine 2>/dev/null && return 0; sleep 0.2; done; fail "rmmod ine"; }
$N1 tests/vm/kmod_guard config enforce 3342 3343 || fail "config enforce"
$N1 tests/vm/kmod_guard keeper 20 >$T/keeper &
kpid=$!
sleep 1
unload
note "unloaded"
insmod "$TOP/ine.ko" || fail "insmod"
note "loaded again"
mode=""
for i in $(seq 50); do
	mode=$($N1 ./inectl show dump | awk -F'\t' '$1=="guard" {print $2, $3}')
	[ "$mode" = "enforce 3342,3343" ] && break
	sleep 0.2
done
[ "$mode" = "enforce 3342,3343" ] || { cat $T/keeper; dmesg | tail -n 20; }
expect_eq "guard after reload" "$mode" "enforce 3342,3343"
kill $kpid 2>/dev/null; wait $kpid 2>/dev/null
$N1 tests/vm/kmod_guard config off 3342 || fail "config off"

step "module parameter: guard=enforce from the first packet, in every namespace"
unload
insmod "$TOP/ine.ko" guard=bogus 2>$T/bogus && fail "insmod guard=bogus succeeded"
dmesg | tail -n 5 | grep -q "guard=bogus: the guard mode is off, audit or enforce" ||
	fail "no message naming the bad guard value: $(dmesg | tail -n 3)"
lsmod | grep -q '^ine ' && fail "module loaded despite guard=bogus"
insmod "$TOP/ine.ko" guard=enforce || fail "insmod guard=enforce"
expect_eq "parameter visible" "$(cat /sys/module/ine/parameters/guard)" enforce
for ns in node1 node2; do
	ip netns exec $ns ./inectl show dump | grep -q "^guard	enforce	3342	" ||
		fail "$ns guard after insmod guard=enforce: $(ip netns exec $ns ./inectl show dump | grep ^guard)"
done
ip netns add inetmp && ip netns exec inetmp ./inectl show dump | grep -q "^guard	enforce	" ||
	fail "a new namespace did not start enforcing"
ip netns del inetmp
# Both ends enforce now, so node2's unregistered server cannot even finish
# the connection (its segments on 3342 are dropped at node2): nothing arrives.
$N2 tests/vm/kmod_guard serve 3342 10 >$T/param.srv &
spid=$!
for i in $(seq 100); do grep -q listening $T/param.srv 2>/dev/null && break; sleep 0.1; done
timeout 8 $N1 env KMOD_GUARD_WAIT=3 tests/vm/kmod_guard send 10.77.0.2 3342 $BYTES plain >/dev/null 2>&1
wait $spid
expect_eq "guard=enforce: bytes received from an unregistered writer" "$(tail -n 1 $T/param.srv)" 0
seen=$(( $($N1 ./inectl show dump | awk -F'\t' '$1=="guard" {print $5}') + \
	$($N2 ./inectl show dump | awk -F'\t' '$1=="guard" {print $5}') ))
[ "$seen" -gt 0 ] || fail "guard=enforce: no unregistered segment counted on either node"
unload
insmod "$TOP/ine.ko" || fail "insmod (default)"
expect_eq "default again" "$($N1 ./inectl show dump | awk -F'\t' '$1=="guard" {print $2}')" off
exit 0
