#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Probe the agent's TLS policy with `openssl s_client` against tests/vm/ktls_srv
# (the agent's tls.c): every cipher `openssl ciphers -v ALL` knows, under
# TLS 1.0, 1.1, 1.2 and 1.3, must be refused except exactly the four allowed
# suites; and a client without a certificate, with an expired one, from
# another CA, for the other plane, or with the wrong ALPN is refused.
# Runs on the host (software TLS) and in the VM.  Exit 0 = pass.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/lib/ine.sh
srv=tests/vm/ktls_srv
[ -x $srv ] || fail "$srv not built (make tests/vm/bins)"
command -v openssl >/dev/null || fail "openssl CLI missing"
d=$T
$srv --dir "$d" >"$d/log" 2>&1 &
echo $! >>"$T/pids"
wait_for 30 test -s "$d/port" || { cat "$d/log"; fail "ktls_srv did not start"; }
port=$(cat "$d/port")
# From here on a failure is counted and the probing goes on.
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# probe CERT ALPN [s_client args...] -> 0 if the server completed a session
probe() {
	cert=$1 alpn=$2; shift 2
	set -- -connect 127.0.0.1:"$port" -alpn "$alpn" -CAfile "$d/ca.pem" -ign_eof "$@"
	[ "$cert" = none ] || set -- -cert "$d/$cert" -key "$d/key.pem" "$@"
	timeout 10 openssl s_client "$@" </dev/null 2>&1 | grep -q '^INE-OK '
}

accepted=""
n=0
for c in $(openssl ciphers ALL:COMPLEMENTOFALL | tr ':' ' '); do
	case $c in
	TLS_*)	# a TLS 1.3 suite
		n=$((n + 1))
		probe cli.pem ine-dp/1 -tls1_3 -ciphersuites "$c" && accepted="$accepted TLSv1.3/$c" ;;
	*)	for v in tls1 tls1_1 tls1_2; do
			n=$((n + 1))
			probe cli.pem ine-dp/1 -$v -cipher "$c:@SECLEVEL=0" &&
				accepted="$accepted $v/$c"
		done ;;
	esac
done
accepted=$(echo $accepted | tr ' ' '\n' | sort | tr '\n' ' ')
want="TLSv1.3/TLS_AES_128_GCM_SHA256 TLSv1.3/TLS_AES_256_GCM_SHA384 tls1_2/ECDHE-RSA-AES128-GCM-SHA256 tls1_2/ECDHE-RSA-AES256-GCM-SHA384 "
echo "probed $n (cipher, version) pairs; accepted: $accepted"
[ "$accepted" = "$want" ] || fail "accepted set differs; want: $want"

# Refusals that are about the client, not the cipher (both versions).
for v in tls1_2 tls1_3; do
	probe cli.pem ine-dp/1 -$v || fail "$v: a valid client was refused"
	probe cli-cp.pem ine-cp/1 -$v || fail "$v: a valid control-plane client was refused"
	probe none ine-dp/1 -$v && fail "$v: no client certificate was accepted"
	probe cli-expired.pem ine-dp/1 -$v && fail "$v: an expired certificate was accepted"
	probe cli-foreign.pem ine-dp/1 -$v && fail "$v: a certificate from another CA was accepted"
	probe cli-cp.pem ine-dp/1 -$v && fail "$v: a control-plane certificate was accepted on the data plane"
	probe cli.pem h2 -$v && fail "$v: ALPN h2 was accepted"
	probe cli.pem ine-join/1 -$v && fail "$v: ine-join/1 was accepted by a server that does not take joins"
done
for why in "no client certificate" "expired" "not from this cluster" "other plane" "ALPN"; do
	grep -q "REFUSED.*$why" "$d/log" || fail "server log has no refusal naming '$why'"
done
[ $fails -eq 0 ] && echo "t-tls-ciphers: pass" || { echo "t-tls-ciphers: $fails failure(s)"; exit 1; }
