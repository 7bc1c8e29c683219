#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# t-store-etcd.sh — agent/store/ against real etcd members (Debian's
# etcd-server 3.4, installed by tools/install-deps) on loopback addresses,
# with mutual TLS: 1 and 3 members; put/get/CAS, watch across a member
# restart and compaction, election failover and fencing, quorum loss,
# member supervision, and the figures (put latency, fail-over median/max
# of 10, idle cost).
# Fails, never skips, without etcd.
set -eu
. tests/lib/ine.sh

command -v etcd >/dev/null || fail "etcd not installed (tools/install-deps installs etcd-server)"
DRV=$TOP/tests/host/store-driver
[ -x "$DRV" ] || fail "$DRV not built (make tests/host/store-driver)"

# A throwaway CA and one member certificate for all three addresses
# (serverAuth+clientAuth: members are each other's clients, and ours).
NET=${STORE_NET:-127.81.$(( $$ % 200 + 20 )).}
C=$T/certs
mkdir -p "$C"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$C/ca.key" -out "$C/ca.crt" \
	-subj /CN=store-test-ca -days 2 >/dev/null 2>&1 || fail "CA"
openssl req -newkey rsa:2048 -nodes -keyout "$C/m.key" -out "$C/m.csr" \
	-subj /CN=member >/dev/null 2>&1 || fail "member key"
printf 'extendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=IP:127.0.0.1,IP:%s1,IP:%s2,IP:%s3\n' \
	"$NET" "$NET" "$NET" >"$C/ext"
openssl x509 -req -in "$C/m.csr" -CA "$C/ca.crt" -CAkey "$C/ca.key" -CAcreateserial \
	-out "$C/m.crt" -days 2 -extfile "$C/ext" >/dev/null 2>&1 || fail "member cert"
chmod 600 "$C"/*.key

run() {
	local sc=$1 d=$T/$1
	mkdir -p "$d"
	step "scenario $sc (members on ${NET}x)"
	if ! "$DRV" "$sc" "$d" "$C" "$NET" >"$T/$sc.out" 2>"$T/$sc.err"; then
		sed 's/^/    /' "$T/$sc.out"
		tail -n 15 "$T/$sc.err" | sed 's/^/    driver: /'
		for f in "$d"/etcd*.log; do [ -f "$f" ] && tail -n 5 "$f" | sed "s|^|    $(basename "$f"): |"; done
		fail "store-driver $sc"
	fi
	sed 's/^/    /' "$T/$sc.out"
	grep -q "^ok: $sc passed" "$T/$sc.out" || fail "store-driver $sc did not finish"
}

for sc in ${STORE_SCENARIOS:-kv1 kv3 watch election failover quorum supervise idle}; do
	run "$sc"
done
echo "t-store-etcd: PASS"
