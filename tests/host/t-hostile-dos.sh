#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# t-hostile-dos.sh — pre-authentication denial of service on the internode
# port (host, userspace TLS): slowloris after the ClientHello from one
# address and from many, a flood of handshakes completed and dropped, and
# file-descriptor exhaustion (an agent limited to 40 fds, fewer than its
# handshake places).  Under each a member must still finish its handshake
# within 2 s (hostile_dos.py); the listener's counters must show the
# defence at work.
set -u
. tests/lib/ine.sh
P=$((28000 + $$ % 4000))
[ -x ./ined ] && [ -x ./inectl ] || fail "build ined and inectl first"
start() {
	node_start $1 --no-modules --port $2
	I $1 cluster create name=c$1 node_name=n1 address=127.0.0.1 >/dev/null ||
		fail "cluster create $1"
}
start 1 $P
start 2 $((P + 1))
# Lowered on the running agent: it raises its soft limit to the hard one
# at start.
prlimit --pid "$(node_pid 2)" --nofile=${INE_DOS_NOFILE:-40}:${INE_DOS_NOFILE:-40} ||
	fail "prlimit on agent 2"
bad=""
python3 tests/host/hostile_dos.py $P "$T/s1/pki/current" "$(node_pid 1)" hello1 hellomany flood ||
	bad="agent 1"
python3 tests/host/hostile_dos.py $((P + 1)) "$T/s2/pki/current" "$(node_pid 2)" fds ||
	bad="$bad${bad:+, }agent 2 (fd limit 40)"
[ -z "$bad" ] || fail "denial of service on $bad"
for n in 1 2; do kill -0 "$(node_pid $n)" || fail "ined $n died"; done
metric() { curl -s --unix-socket "$T/n$1.sock" http://ine/metrics | awk -v k="$2" '$1 == k { print $2 }'; }
for k in rate_limited refused_per_address evicted; do
	v=$(metric 1 ine_listener_${k}_total)
	[ "${v:-0}" -gt 0 ] || fail "agent 1: ine_listener_${k}_total is '$v' after the attacks"
	note "agent 1: ine_listener_${k}_total $v"
done
# The fd phase must really have run the agent out of descriptors.
v=$(metric 2 ine_listener_accept_errors_total)
[ "${v:-0}" -gt 0 ] || fail "agent 2: no accept() error counted: the fd phase did not exhaust descriptors"
note "agent 2: ine_listener_accept_errors_total $v"
echo "t-hostile-dos: pass"
