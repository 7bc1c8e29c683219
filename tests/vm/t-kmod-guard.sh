#!/bin/sh
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
	$N2 tests/vm/kmod_guard serve 3342 15 $srv >$T/$name.srv &
	spid=$!
	for i in $(seq 100); do grep -q listening $T/$name.srv 2>/dev/null && break; sleep 0.1; done
	$N1 tests/vm/kmod_guard send 10.77.0.2 3342 $BYTES $mode "$@" ||
		fail "$name: sender failed"
	wait $spid
	tail -n 1 $T/$name.srv
}

note "default: off, nothing counted"
got=$(transfer off plain)
expect_eq "off: received" "$got" $BYTES
expect_eq "off: counters" "$(counters)" "0 0 0 0"

note "enforce: an unregistered writer gets nothing through"
$N1 tests/vm/kmod_guard config enforce 3342 || fail "config enforce"
$N1 tests/vm/kmod_guard events 6 >$T/events &
epid=$!
for i in $(seq 50); do grep -q subscribed $T/events 2>/dev/null && break; sleep 0.1; done
got=$(transfer enforce plain)
expect_eq "enforce: received" "$got" 0
c=$(counters)
[ "$(field "$c" 2)" -gt 0 ] || fail "enforce: unregistered not counted ($c)"
[ "$(field "$c" 3)" -gt 0 ] || fail "enforce: drops not counted ($c)"
[ "$(field "$c" 4)" -ge 1000 ] || fail "enforce: dropped bytes $(field "$c" 4)"
wait $epid
grep -q "^guard_drop enforce [0-9]* 3342 [1-9]" $T/events ||
	{ cat $T/events; fail "no guard_drop event"; }
[ "$(grep -c '^guard_drop' $T/events)" -le 7 ] || fail "guard_drop events not rate-limited"

note "enforce: a registered session (handshaking) passes"
before=$(counters)
got=$(transfer registered registered)
expect_eq "registered: received" "$got" $BYTES
c=$(counters)
expect_eq "registered: dropped unchanged" "$(field "$c" 3)" "$(field "$before" 3)"
[ "$(field "$c" 1)" -gt "$(field "$before" 1)" ] || fail "registered: passed not counted"

for v in 12 13; do
	note "enforce: a registered kTLS session (TLS$v) is unaffected"
	before=$(counters)
	got=$(transfer ktls$v ktls $v 256)
	expect_eq "ktls$v: received" "$got" $BYTES
	c=$(counters)
	expect_eq "ktls$v: dropped unchanged" "$(field "$c" 3)" "$(field "$before" 3)"
done

note "audit: counted, not dropped"
$N1 tests/vm/kmod_guard config audit || fail "config audit"
before=$(counters)
got=$(transfer audit plain)
expect_eq "audit: received" "$got" $BYTES
c=$(counters)
[ "$(field "$c" 2)" -gt "$(field "$before" 2)" ] || fail "audit: not counted"
expect_eq "audit: dropped unchanged" "$(field "$c" 3)" "$(field "$before" 3)"

note "enforce on other ports leaves 3342 alone"
$N1 tests/vm/kmod_guard config enforce 4000 4001 || fail "config ports"
got=$(transfer otherport plain)
expect_eq "other ports: received" "$got" $BYTES

note "node2's guard is its own"
$N2 ./inectl show dump | grep -q "^guard	off	3342	0	0	0	0$" ||
	fail "node2 guard changed: $($N2 ./inectl show dump | grep ^guard)"
$N1 tests/vm/kmod_guard config off || fail "config off"
exit 0
