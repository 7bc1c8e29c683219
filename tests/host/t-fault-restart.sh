#!/bin/sh
# t-fault-restart.sh — kill -9 of ined, then restart from the same state:
# the internode port serves a member's TLS handshake again within 2 s of the
# restart, and the configuration (database) survived.  Host, userspace TLS.
set -u
T=$(mktemp -d /tmp/ine-fault.XXXXXX)
P=$((28000 + $$ % 2000))
fail() { echo "FAIL: $*" >&2; tail -n 20 "$T/n.log" >&2; exit 1; }
cleanup() { [ -f "$T/pid" ] && kill "$(cat "$T/pid")" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
export INE_API_SOCKET="$T/a.sock"
start() {
	rm -f "$T/a.sock"
	./ined --no-modules --state-dir "$T/s" --api-socket "$T/a.sock" --port $P >>"$T/n.log" 2>&1 &
	echo $! >"$T/pid"
}
start
k=0; while [ ! -S "$T/a.sock" ]; do k=$((k+1)); [ $k -gt 100 ] && fail "no socket"; sleep 0.05; done
./inectl cluster create name=c node_name=n1 address=127.0.0.1 >/dev/null || fail "create"
./inectl db create d1 target s 1 127.0.0.1:1 >/dev/null || fail "db create"
for i in 1 2 3; do
	kill -9 "$(cat "$T/pid")"; sleep 0.2
	t0=$(date +%s.%N)
	start
	ms=$(python3 - "$P" "$T/s/pki/current" <<'PY'
import socket, ssl, sys, time
port, d = int(sys.argv[1]), sys.argv[2]
c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT); c.check_hostname = False; c.verify_mode = ssl.CERT_NONE
c.set_alpn_protocols(["ine-dp/1"]); c.load_cert_chain(d + "/dp.crt", d + "/dp.key")
t0 = time.time()
while time.time() - t0 < 10:
    try:
        with c.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=2)) as t:
            print(int((time.time() - t0) * 1000)); sys.exit(0)
    except OSError:
        time.sleep(0.02)
print(-1)
PY
)
	[ "$ms" -ge 0 ] && [ "$ms" -le 2000 ] || fail "restart $i: port not serving within 2 s ($ms ms)"
	./inectl db show 1 >/dev/null || fail "restart $i: database lost"
	echo "  kill -9 #$i: member handshake ${ms} ms after restart; database kept"
done
echo "t-fault-restart: pass"
