#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# t-fault-clock.sh — the wall clock of a running single-node ined (under
# libfaketime; its monotonic clock stays real) jumps forwards and backwards
# across the rotation and expiry points of its certificates (product page:
# 90-day certificates rotated every 30 days, alert under 45 days left):
#  a0) 5 s before the 30-day point: rotated at it, and served on the port;
#  a) +31 d: past the rotation age -> new serials within a few seconds;
#  b) state directory read-only, then past expiry: the expiry and the failed
#     rotation are alerted at once (status, alerts, /metrics), the expired
#     certificate is refused; writable again -> retried, rotated, cleared;
#  c) back 3 min (inside the 5-min back-dating): nothing re-issued;
#     back 2 d and 40 d: the certificate that now starts in the future is
#     re-issued once, then serials stay put (no rotation loop);
#  d) back to real time: the certificate is too old -> rotated.
#  e) a second node (renews by CSR): both clocks +31 d -> renewed at once.
# After every step the agent is alive and serves a member's handshake.
# Host, root (tmpfs mount), needs libfaketime (tools/install-deps: faketime).
set -u
. tests/lib/ine.sh
FT_LIB=/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1
P=$((24000 + $$ % 2000))
D=86400
INE_LOG_TAIL=25
INE_ARGS="--no-modules --port $P"
test_cleanup() { umount "$T/s1" 2>/dev/null; }
[ -x ./ined ] && [ -x ./inectl ] || fail "build ined and inectl first"
command -v openssl >/dev/null || fail "openssl missing"
[ -r "$FT_LIB" ] || fail "libfaketime missing ($FT_LIB): apt-get install faketime"
command -v curl >/dev/null && command -v jq >/dev/null || fail "curl and jq needed"
mkdir "$T/s1" && mount -t tmpfs -o size=8m,mode=0700 tmpfs "$T/s1" || fail "cannot mount a tmpfs (root needed)"
export INE_API_SOCKET="$T/n1.sock"

# The agent's clock is real time + $(cat $T/ft) seconds, re-read at every call.
B=$((-200 * D))			# cluster created 200 days ago
setclock() { printf '%+d\n' "$1" >"$T/ft.new" && mv "$T/ft.new" "$T/ft"; CLK=$1; }
setclock $B
# faketime() FILE: the agent's environment for a clock read from FILE
faketime() { echo "LD_PRELOAD=$FT_LIB FAKETIME_TIMESTAMP_FILE=$1 FAKETIME_NO_CACHE=1 FAKETIME_DONT_FAKE_MONOTONIC=1"; }
NODE_ENV=$(faketime "$T/ft") node_start 1
./inectl cluster create name=c node_name=n1 address=127.0.0.1 >/dev/null || fail "create"

serials() { ./inectl status | grep serial | awk '{print $4}' | tr '\n' ' '; }
alive() { kill -0 "$(node_pid 1)" 2>/dev/null || fail "$1: ined died"; }
# A member's handshake with the node's current data-plane certificate; TLS
# 1.2 so that the server has judged our certificate when it returns.
member() {
	python3 - "$P" "$T/s1/pki/current" "$T/served.der" <<'PY'
import socket, ssl, sys
port, d = int(sys.argv[1]), sys.argv[2]
c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT); c.check_hostname = False; c.verify_mode = ssl.CERT_NONE
c.maximum_version = ssl.TLSVersion.TLSv1_2
c.set_alpn_protocols(["ine-dp/1"]); c.load_cert_chain(d + "/dp.crt", d + "/dp.key")
with c.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=3)) as t:
    der = t.getpeercert(binary_form=True)
open(sys.argv[3], "wb").write(der)
PY
}
# The serial of the certificate port $P served at the last member().
served() { openssl x509 -inform DER -noout -serial -in "$T/served.der" | sed 's/^serial=//'; }
# The port serves one of the certificates status shows (not an old one):
# at once after a jump; a rotation by the daemon's own timer (the retry in
# b) reaches the port at the control plane's next 3-s tick.
serves_current() {
	k=0
	while sv=$(served); ! echo " $(serials)" | grep -q " $sv,"; do
		k=$((k+1)); [ $k -gt 50 ] &&
			fail "$1: port $P serves serial $sv, status shows $(serials)"
		sleep 0.1; member >/dev/null || fail "$1: member handshake"
	done
	LAG="$((k / 10)).$((k % 10))"
}
# Seconds from the agent's "now" to the data plane's notAfter / from notBefore.
dp_dates() { curl -s --unix-socket "$T/n1.sock" http://localhost/v1/cluster/certificates |
	python3 -c 'import json,sys,time
o=json.load(sys.stdin)["data_internode_encryption"]; now=int(time.time())+int(sys.argv[1])
print(o["seconds_left"], now-o["not_before"])' "$CLK"; }
no_cert_alerts() {
	a=$(./inectl alerts) || fail "$1: alerts"
	echo "$a" | grep -Eq 'certificate_|cert_rotation_failed' && fail "$1: unexpected alert: $a"
	return 0
}
# Wait up to $2 s for both serials to differ from $1; prints seconds taken.
wait_new() {
	o1=${1%% *}; r=${1#* }; o2=${r%% *}; max=$2
	t0=$(date +%s.%N); k=0
	while :; do
		set -- $(serials)
		[ -n "${2:-}" ] && [ "$1" != "$o1" ] && [ "$2" != "$o2" ] && break
		k=$((k+1)); [ $k -gt $((max * 10)) ] && return 1
		sleep 0.1
	done
	echo "$(date +%s.%N) $t0" | awk '{printf "%.1f", $1 - $2}'
}
# Serials unchanged for $2 s (checked every 0.5 s).
stable() {
	k=0; while [ $k -lt $(($2 * 2)) ]; do
		[ "$(serials)" = "$1" ] || return 1; sleep 0.5; k=$((k+1)); done
}
jumps_logged() { grep -c "wall clock jumped" "$T/n1.log"; }

s0=$(serials); [ -n "$s0" ] || fail "no serials"
member >/dev/null || fail "start: member handshake"
serves_current start
no_cert_alerts start

# --- a0) 5 s before the rotation point: the daemon's timer rotates at it,
# and port 3342 serves the new certificate (the old agent kept serving the
# old one after a rotation by that timer) ----------------------------------
nb=$(curl -s --unix-socket "$T/n1.sock" http://localhost/v1/cluster/certificates |
	jq -r '[.ccs_internode_encryption.not_before, .data_internode_encryption.not_before] | min')
setclock $((nb + 30 * D - 5 - $(date +%s)))
A0=$CLK
sleep 2.5
[ "$(serials)" = "$s0" ] || fail "a0: rotated before the rotation point"
took=$(wait_new "$s0" 10) || fail "a0: not rotated at the rotation point"
member >/dev/null || fail "a0: member handshake"
serves_current a0
echo "  a0) 5 s before the 30-day point: nothing early; rotated at the point (${took} s after the 2.5-s look), served on the port ${LAG} s after"
s0=$(serials)

# --- a) +31 d: past the 30-day rotation age --------------------------------
j0=$(jumps_logged)
setclock $((A0 + 31 * D))
took=$(wait_new "$s0" 8) || fail "a: +31 d: not rotated within 8 s (serials $(serials))"
s1=$(serials)
[ "$(jumps_logged)" -gt "$j0" ] || fail "a: jump not logged"
grep -q "wall clock jumped +31 d" "$T/n1.log" || fail "a: log does not say +31 d"
stable "$s1" 3 || fail "a: serials keep changing"
member >/dev/null || fail "a: member handshake with the rotated certificate"
serves_current a
no_cert_alerts a; alive a
set -- $(dp_dates)
[ "$2" -ge 0 ] && [ "$2" -le 600 ] || fail "a: new notBefore not at the new time (age $2 s)"
echo "  a) +31 d: rotated in ${took} s (jump logged once), served on the port ${LAG} s after, member handshake ok, no alerts"

# --- b) read-only state dir, then past expiry ------------------------------
mount -o remount,ro "$T/s1" || fail "remount ro"
TA=$((A0 + 31 * D))			# when a) rotated
setclock $((TA + 92 * D))		# notAfter (+90 d) passed 2 days ago
k=0
until ./inectl alerts | grep -q "certificate_expired"; do
	k=$((k+1)); [ $k -gt 50 ] && fail "b: no expiry alert within 5 s: $(./inectl alerts)"; sleep 0.1
done
echo "  b) expired: certificate_expired alert after $((k / 10)).$((k % 10)) s"
k=0
until ./inectl alerts | grep "cert_rotation_failed" | grep -q "Read-only file system"; do
	k=$((k+1)); [ $k -gt 50 ] && fail "b: no cert_rotation_failed alert: $(./inectl alerts)"; sleep 0.1
done
a=$(./inectl alerts --json)
n=$(echo "$a" | jq '[.[] | select(.name == "certificate_expired" and .severity == "critical")] | length')
[ "$n" = 2 ] || fail "b: want 2 critical certificate_expired alerts: $a"
n=$(echo "$a" | jq '[.[] | select(.name == "cert_rotation_failed" and .severity == "warning")] | length')
[ "$n" = 2 ] || fail "b: want 2 cert_rotation_failed warnings: $a"
echo "$a" | jq -r '.[] | select(.name == "cert_rotation_failed") | .plane' | sort | tr '\n' ' ' |
	grep -qx "ccs_internode_encryption data_internode_encryption " || fail "b: planes: $a"
./inectl status | grep -q cert_rotation_failed || fail "b: status does not show the alert"
m=$(curl -s --unix-socket "$T/n1.sock" http://localhost/metrics | awk '$1 == "ine_alerts" {print $2}')
[ "$m" = "$(echo "$a" | jq length)" ] && [ "$m" -ge 5 ] || fail "b: metrics ine_alerts $m vs $(echo "$a" | jq length)"
set -- $(dp_dates)
[ "$1" -lt 0 ] || fail "b: seconds_left $1 not negative at the new time"
[ "$(serials)" = "$s1" ] || fail "b: serials changed on a read-only state directory"
member >/dev/null 2>&1 && fail "b: the expired certificate was accepted"
grep -q "peer certificate expired" "$T/n1.log" || fail "b: refusal does not say expired"
alive b
echo "  b) rotation failed (read-only) -> 2 critical expiry + 2 rotation alerts, ine_alerts $m, expired cert refused"
mount -o remount,rw "$T/s1" || fail "remount rw"
took=$(wait_new "$s1" 20) || fail "b: not rotated within 20 s of the fault's end"
s2=$(serials)
k=0; while ./inectl alerts | grep -Eq 'certificate_|cert_rotation_failed'; do
	k=$((k+1)); [ $k -gt 30 ] && fail "b: alerts not cleared: $(./inectl alerts)"; sleep 0.1; done
member >/dev/null || fail "b: member handshake after the retry"
serves_current b
alive b
echo "  b) writable again: retried and rotated ${took} s later, served on the port ${LAG} s after, alerts cleared, handshake ok"

# --- c) backwards ------------------------------------------------------------
T_C=$((TA + 92 * D))
setclock $((T_C - 180))		# 3 min back: inside the 5-min back-dating
stable "$s2" 4 || fail "c: a 3-min backwards step re-issued the certificates"
member >/dev/null || fail "c: -3 min: member handshake"
no_cert_alerts "c -3 min"
echo "  c) -3 min: nothing re-issued over 4 s, handshake ok"
prev=$s2
for back in 2 40; do
	setclock $((T_C - back * D))
	took=$(wait_new "$prev" 8) || fail "c: -$back d: certificate starting in the future kept"
	cur=$(serials)
	stable "$cur" 6 || fail "c: -$back d: rotation loop (serials keep changing)"
	member >/dev/null || fail "c: -$back d: member handshake"
	serves_current "c -$back d"
	no_cert_alerts "c -$back d"
	set -- $(dp_dates)
	[ "$1" -gt $((89 * D)) ] && [ "$1" -le $((90 * D)) ] ||
		fail "c: -$back d: seconds_left $1 does not match the new time"
	alive c
	echo "  c) -$back d: re-issued once in ${took} s, serials stable 6 s, handshake ok, expiry in $(($1 / D)) d"
	prev=$cur
	T_C=$((T_C - back * D))
done

# --- d) back to real time ------------------------------------------------------
setclock 0
took=$(wait_new "$prev" 8) || fail "d: real time: the too-old certificate was not rotated"
s3=$(serials)
stable "$s3" 3 || fail "d: serials keep changing"
member >/dev/null || fail "d: member handshake"
serves_current d
no_cert_alerts d; alive d
set -- $(dp_dates)
[ "$2" -ge 0 ] && [ "$2" -le 600 ] || fail "d: notBefore not at real time (age $2 s)"
echo "  d) real time: rotated in ${took} s, handshake ok, no alerts; $(jumps_logged) jumps logged"
[ "$(jumps_logged)" -eq 7 ] || fail "want 7 jumps logged once each, got $(jumps_logged)"

# --- e) a second node (no CA key: renews by CSR to node 1) -----------------
# Both clocks +31 d: node 2 re-plans at once and gets new certificates from
# node 1.  INE_FAULT_CLOCK_SLOW=1 then moves node 2's clock alone +40 d: the
# certificate node 1 signs still looks old to node 2, which must not ask
# again and again (one plan-driven CSR per plane per hour; the old agent
# asked every 60 s).
printf '+0\n' >"$T/ft2"
NODE_ENV=$(faketime "$T/ft2") node_start 2
tok=$(curl -s --unix-socket "$T/n1.sock" -X POST -d '{}' http://ine/v1/cluster/join-token | jq -r .token)
r=$(curl -s --max-time 30 --unix-socket "$T/n2.sock" -X POST \
	-d "{\"token\":\"$tok\",\"node_name\":\"n2\",\"address\":\"127.0.0.2\"}" \
	http://ine/v1/cluster/join) || fail "e: join: $r"
[ "$(echo "$r" | jq -r .node_uid)" = 2 ] || fail "e: join: $r"
ser2() { INE_API_SOCKET="$T/n2.sock" ./inectl status |
	awk '/^node 2 /{f=1;next} /^node /{f=0} f && /serial/{print $4}' | tr '\n' ' '; }
wait_new2() {
	o1=${1%% *}; r=${1#* }; o2=${r%% *}; max=$2
	t0=$(date +%s.%N)
	while :; do
		set -- $(ser2)
		[ -n "${2:-}" ] && [ "$1" != "$o1" ] && [ "$2" != "$o2" ] && break
		[ "$(echo "$(date +%s.%N) $t0 $max" | awk '{print ($1 - $2 > $3)}')" = 1 ] && return 1
		sleep 0.1
	done
	echo "$(date +%s.%N) $t0" | awk '{printf "%.1f", $1 - $2}'
}
up2() { curl -s --unix-socket "$T/n2.sock" http://ine/v1/status |
	jq -r '[.nodes[] | select(.node_id == 1 and .connected == true)] | length'; }
k=0; until [ "$(up2)" = 1 ]; do k=$((k+1)); [ $k -gt 100 ] && fail "e: node 2 not connected to node 1"; sleep 0.1; done
n2s=$(ser2); [ -n "$n2s" ] || fail "e: node 2 serials"
printf '%+d\n' $((31 * D)) >"$T/ft2"; setclock $((31 * D))
took=$(wait_new2 "$n2s" 10) || fail "e: node 2 (CSR) not renewed within 10 s of +31 d"
n2s=$(ser2)
k=0; until [ "$(up2)" = 1 ]; do k=$((k+1)); [ $k -gt 100 ] && fail "e: node 2 lost node 1"; sleep 0.1; done
INE_API_SOCKET="$T/n2.sock" ./inectl alerts | grep -Eq 'certificate_|cert_rotation_failed' &&
	fail "e: node 2 alerts: $(INE_API_SOCKET="$T/n2.sock" ./inectl alerts)"
kill -0 "$(node_pid 2)" || fail "e: node 2 died"
echo "  e) node 2 (CSR to node 1): both +31 d -> renewed in ${took} s, still connected, no alerts"
if [ "${INE_FAULT_CLOCK_SLOW:-0}" = 1 ]; then
	printf '%+d\n' $((71 * D)) >"$T/ft2"
	sleep 75
	[ "$(ser2)" = "$n2s" ] || fail "e: node 2 renewed again with a clock 40 d ahead of the CA's"
	kill -0 "$(node_pid 2)" || fail "e: node 2 died"
	echo "  e) node 2's clock alone +40 d: no renewal over 75 s (no CSR loop)"
fi
node_stop 2
echo "t-fault-clock: pass"
