#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# t-fault-state.sh — the state directory goes read-only, then full (a small
# tmpfs), under a running single-node ined; a certificate rotation and a
# config write (tune db) must fail with an error naming the problem, leave
# the files exactly as they were, and the old certificates keep serving a
# member's handshake; once the fault is gone a retry succeeds.  Host, root.
set -u
. tests/lib/ine.sh
P=$((26000 + $$ % 2000))
test_cleanup() { umount "$T/s1" 2>/dev/null; }
[ -x ./ined ] && [ -x ./inectl ] || fail "build ined and inectl first"
mkdir "$T/s1" && mount -t tmpfs -o size=2m,mode=0700 tmpfs "$T/s1" || fail "cannot mount a tmpfs (root needed)"
export INE_API_SOCKET="$T/n1.sock"
node_start 1 --no-modules --port $P
./inectl cluster create name=c node_name=n1 address=127.0.0.1 >/dev/null || fail "create"
./inectl db create d1 target s 1 127.0.0.1:1 >/dev/null || fail "db create"
snap() { (cd "$T/s1" && find . -path ./fill -prune -o -print | sort | while read -r f; do
	if [ -L "$f" ]; then echo "$f -> $(readlink "$f")"; elif [ -f "$f" ]; then md5sum "$f"; else echo "$f/"; fi
	done) >"$1"; }
# The serial numbers only: the "(89 days)" beside them may tick over between
# two looks right after the cluster is made.
serials() { ./inectl status | grep -o "serial [0-9A-F]*"; }
member() {	# a member's TLS handshake with the current certificates, in ms
	python3 - "$P" "$T/s1/pki/current" <<'PY'
import socket, ssl, sys, time
port, d = int(sys.argv[1]), sys.argv[2]
c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT); c.check_hostname = False; c.verify_mode = ssl.CERT_NONE
c.set_alpn_protocols(["ine-dp/1"]); c.load_cert_chain(d + "/dp.crt", d + "/dp.key")
t0 = time.time()
with c.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=3)) as t:
    print(int((time.time() - t0) * 1000))
PY
}
check_fault() {	# $1: what, $2: text the error must contain
	snap "$T/before"; s0=$(serials) || fail "$1: status"
	out=$(./inectl cluster certificate rotate 2>&1) && fail "$1: rotation succeeded: $out"
	echo "$out" | grep -q "$2" || fail "$1: rotation error does not name the problem: $out"
	out2=$(./inectl tune db 1 data_internode_encryption enabled 2>&1) && fail "$1: tune succeeded: $out2"
	echo "$out2" | grep -q "$2" || fail "$1: tune error does not name the problem: $out2"
	sleep 1
	snap "$T/after"; cmp -s "$T/before" "$T/after" || { diff "$T/before" "$T/after" >&2; fail "$1: state changed"; }
	[ "$(serials)" = "$s0" ] || fail "$1: serials changed"
	./inectl db show 1 | grep -q disabled || fail "$1: the refused tune is in force"
	ms=$(member) || fail "$1: member handshake with the old certificates failed"
	kill -0 "$(node_pid 1)" || fail "$1: ined died"
	./inectl alerts | grep "state_write_failed" | grep -q "$2" || fail "$1: no alert: $(./inectl alerts)"
	echo "  $1: rotate and tune refused ('$(echo "$out" | head -1 | cut -c1-90)'), files unchanged, member handshake ${ms} ms"
}
retry() {
	s0=$(serials)
	./inectl cluster certificate rotate >/dev/null || fail "$1: rotation after the fault"
	./inectl tune db 1 data_internode_encryption enabled >/dev/null || fail "$1: tune after the fault"
	./inectl tune db 1 data_internode_encryption disabled >/dev/null || fail "$1: tune back"
	# both planes re-issued (one after the other): no old serial left
	./inectl alerts | grep -q state_write_failed && fail "$1: alert not cleared"
	k=0; while serials | grep -qxF "$s0"; do k=$((k+1)); [ $k -gt 100 ] && fail "$1: serials did not change"; sleep 0.1; done
	# and settled: a rotation may still be installing its second plane
	a=$(serials); sleep 1; k=0
	while [ "$(serials)" != "$a" ]; do a=$(serials); sleep 1; k=$((k+1)); [ $k -gt 10 ] && fail "$1: serials keep changing"; done
	member >/dev/null || fail "$1: member handshake with the new certificates"
	echo "  $1: after the fault, rotation and tune succeed (new serials)"
}
mount -o remount,ro "$T/s1" || fail "remount ro"
check_fault read-only "Read-only file system"
mount -o remount,rw "$T/s1" || fail "remount rw"
retry read-only
dd if=/dev/zero of="$T/s1/fill" bs=4k 2>/dev/null
check_fault full "No space left on device"
rm -f "$T/s1/fill"
retry full
echo "t-fault-state: pass"
