#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# t-libine.sh — libine on this host (no kernel TLS: the broker's software
# fallback).  Two ined nodes on 127.79.0.<i>; db 1 encrypted with target
# "snap" on node 2.  ine-recv (node 2) listens through its agent's broker,
# ine-send (node 1) ships a file with sendfile through its broker:
# checksum equal, mode "software".  Refusals: a uid not on the allowlist
# (EACCES), unknown node, unknown db, target not allowed on the peer.
# Run from the repository top after `make ined tools/ine-send tools/ine-recv`.
# INE_LIBINE_MB sets the file size (default 8).
set -u
. tests/lib/ine.sh
chmod 755 "$T"
PORT=${CP_PORT:-$((16000 + $$ % 3000))}	# not fixed: other runs may share the host
MB=${INE_LIBINE_MB:-8}
INE_ARGS="--no-modules --port $PORT"

for b in ined tools/ine-send tools/ine-recv; do
	[ -x "$TOP/$b" ] || fail "build $b first"
done
start() {
	NODE_ENV="INE_BROKER_SOCKET=$T/b$1.sock INE_BROKER_ALLOW=uid:$(id -u daemon) INE_BROKER_GROUP=daemon" node_start $1
	wait_for 5 test -S "$T/b$1.sock" || fail "node $1 did not start"
}

start 1
api_ok 1 POST /v1/cluster "{\"name\":\"c\",\"node_name\":\"n1\",\"address\":\"127.79.0.1:$PORT\"}"
start 2
api_ok 1 POST /v1/cluster/join-token '{}'
TOKEN=$(jq -r .token "$T/out")
api_ok 2 POST /v1/cluster/join "{\"token\":\"$TOKEN\",\"node_name\":\"n2\",\"address\":\"127.79.0.2:$PORT\"}"
api_ok 1 POST /v1/bdbs '{"name":"db1","data_internode_encryption":true,
	"targets":[{"name":"snap","node":2,"address":"127.79.0.2:17101"}]}'
DB=$(jq -r .uid "$T/out")
[ "$DB" != null ] || DB=$(jq -r .id "$T/out")
note "cluster up, db $DB"
# Wait for the configuration to reach node 2.
k=0
until curl -s --unix-socket "$T/n2.sock" "http://ine/v1/bdbs/$DB" | grep -q snap; do
	k=$((k + 1)); [ $k -gt 100 ] && fail "db $DB did not reach node 2"
	sleep 0.1
done

head -c $((MB * 1048576)) /dev/urandom >"$T/in"
N1="env INE_BROKER_SOCKET=$T/b1.sock"
N2="env INE_BROKER_SOCKET=$T/b2.sock"

# --- the file, through the fallback ----------------------------------------
$N2 "$TOP/tools/ine-recv" "$DB" snap "$T/outf" >"$T/recv.out" 2>&1 &
echo $! >"$T/recv.pid"
k=0
until grep -q listening "$T/recv.out"; do
	k=$((k + 1)); [ $k -gt 100 ] && fail "ine-recv: $(cat "$T/recv.out")"
	sleep 0.05
done
$N1 "$TOP/tools/ine-send" 2 "$DB" snap "$T/in" >"$T/send.out" 2>&1 ||
	fail "ine-send: $(cat "$T/send.out")"
wait "$(cat "$T/recv.pid")" || fail "ine-recv: $(cat "$T/recv.out")"
rm -f "$T/recv.pid"
cat "$T/send.out" "$T/recv.out" | sed 's/^/  /'
grep -q "mode software" "$T/send.out" || fail "not software mode: $(cat "$T/send.out")"
[ "$(sha256sum <"$T/in")" = "$(sha256sum <"$T/outf")" ] || fail "checksum differs"
note "ok: $MB MiB through the software fallback, checksum equal"

# --- refusals ------------------------------------------------------------
expect_err() {	# TEXT CMD...: must fail, stderr naming TEXT
	text=$1; shift
	"$@" >"$T/err" 2>&1 && fail "$* succeeded"
	grep -q -- "$text" "$T/err" || fail "$*: error lacks '$text': $(cat "$T/err")"
	note "refused: $(cat "$T/err")"
}
# The socket: 0660, group INE_BROKER_GROUP; strangers cannot even connect.
[ "$(stat -c '%a %G' "$T/b1.sock")" = "660 daemon" ] ||
	fail "broker socket is $(stat -c '%a %G' "$T/b1.sock"), not 660 daemon"
expect_err "not allowed" setpriv --reuid=nobody --regid=nogroup --clear-groups \
	$N1 "$TOP/tools/ine-send" 2 "$DB" snap "$T/in"
# In the group but not on the allowlist: refused at accept, with the reason.
expect_err "not allowed to use the ine broker" setpriv --reuid=nobody --regid=daemon \
	--clear-groups $N1 "$TOP/tools/ine-send" 2 "$DB" snap "$T/in"
expect_err "node 9 is not a peer node" $N1 "$TOP/tools/ine-send" 9 "$DB" snap "$T/in"
expect_err "db 99 is not configured" $N1 "$TOP/tools/ine-send" 2 99 snap "$T/in"
expect_err "not allowed for db" $N1 "$TOP/tools/ine-send" 2 "$DB" nosuch "$T/in"
expect_err "no target 'nosuch'" $N2 "$TOP/tools/ine-recv" "$DB" nosuch "$T/x"
# The allowlisted uid may.
$N2 "$TOP/tools/ine-recv" "$DB" snap "$T/outf" >"$T/recv.out" 2>&1 &
echo $! >"$T/recv.pid"
sleep 0.3
setpriv --reuid=daemon --regid=daemon --clear-groups \
	$N1 "$TOP/tools/ine-send" 2 "$DB" snap "$T/in" >"$T/send.out" 2>&1 ||
	fail "allowlisted uid refused: $(cat "$T/send.out")"
wait "$(cat "$T/recv.pid")"; rm -f "$T/recv.pid"
note "ok: allowlisted uid 'daemon' may"
echo "PASS t-libine (host)"
