#!/bin/sh
# t-hostile-dos.sh — pre-authentication denial of service on the internode
# port (host, userspace TLS): slowloris after the ClientHello from one
# address and from many, a flood of handshakes completed and dropped, and
# file-descriptor exhaustion (an agent limited to 40 fds, fewer than its
# handshake places).  Under each a
# member must still finish its handshake within 2 s (hostile_dos.py).
set -u
T=$(mktemp -d /tmp/ine-dos.XXXXXX)
P=$((28000 + $$ % 4000))
fail() { echo "FAIL: $*" >&2; for l in "$T"/n*.log; do echo "== $l" >&2; tail -n 15 "$l" >&2; done; exit 1; }
cleanup() { [ -n "${KEEP:-}" ] && return; for f in "$T"/*.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null; done; rm -rf "$T"; }
trap cleanup EXIT
[ -x ./ined ] && [ -x ./inectl ] || fail "build ined and inectl first"
start() { # N PORT [prlimit args]
	n=$1 p=$2; shift 2
	"$@" ./ined --no-modules --state-dir "$T/s$n" --api-socket "$T/a$n.sock" --port $p \
		>>"$T/n$n.log" 2>&1 &
	echo $! >"$T/n$n.pid"
	k=0; while [ ! -S "$T/a$n.sock" ]; do k=$((k+1)); [ $k -gt 100 ] && fail "ined $n did not start"; sleep 0.05; done
	INE_API_SOCKET="$T/a$n.sock" ./inectl cluster create name=c$n node_name=n1 address=127.0.0.1 >/dev/null ||
		fail "cluster create $n"
}
start 1 $P
start 2 $((P + 1)) prlimit --nofile=${INE_DOS_NOFILE:-40}:${INE_DOS_NOFILE:-40}
bad=""
python3 tests/host/hostile_dos.py $P "$T/s1/pki/current" "$(cat "$T/n1.pid")" hello1 hellomany flood ||
	bad="agent 1"
python3 tests/host/hostile_dos.py $((P + 1)) "$T/s2/pki/current" "$(cat "$T/n2.pid")" fds ||
	bad="$bad${bad:+, }agent 2 (fd limit 40)"
[ -z "$bad" ] || fail "denial of service on $bad"
for n in 1 2; do kill -0 "$(cat "$T/n$n.pid")" || fail "ined $n died"; done
metric() { curl -s --unix-socket "$T/a$1.sock" http://ine/metrics | awk -v k="$2" '$1 == k { print $2 }'; }
for k in rate_limited refused_per_address evicted; do
	v=$(metric 1 ine_listener_${k}_total)
	[ "${v:-0}" -gt 0 ] || fail "agent 1: ine_listener_${k}_total is '$v' after the attacks"
	echo "  agent 1: ine_listener_${k}_total $v"
done
# The fd phase must really have run the agent out of descriptors.
v=$(metric 2 ine_listener_accept_errors_total)
[ "${v:-0}" -gt 0 ] || fail "agent 2: no accept() error counted: the fd phase did not exhaust descriptors"
echo "  agent 2: ine_listener_accept_errors_total $v"
echo "t-hostile-dos: pass"
