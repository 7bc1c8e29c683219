#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# t-api.sh — a real ined (single node, no kernel modules) driven by every
# inectl command: exit codes, usage errors, --json, SIGHUP reload (good and
# bad configuration), SIGTERM clean exit.  Run from the repository top after
# `make ined inectl`.  Needs jq and openssl.
set -u
. tests/lib/ine.sh
CTL="$TOP/inectl"
export INE_API_SOCKET="$T/n1.sock"
INE_LOG_TAIL=1000
# ok CMD...: must exit 0; output in $T/out
ok() { "$@" >"$T/out" 2>"$T/err" || fail "'$*' exited $? ($(cat "$T/err"))"; }
# rc WANT CMD...: must exit WANT; stderr in $T/err
rc() { want=$1; shift; "$@" >"$T/out" 2>"$T/err"; got=$?
       [ "$got" = "$want" ] || fail "'$*' exited $got, want $want ($(cat "$T/err"))"; }
# err_has TEXT: the last command's stderr names the problem
err_has() { grep -q -- "$1" "$T/err" || fail "stderr lacks '$1': $(cat "$T/err")"; }

command -v jq >/dev/null || fail "jq is required"
[ -x "$INED" ] && [ -x "$CTL" ] || fail "build ined and inectl first"

# With the control plane built in, keep its port off 3342 (other tests).
PORTARG=
"$INED" --help | grep -q -- --port && PORTARG="--port $((20000 + $$ % 20000))"
INE_ARGS="--no-modules $PORTARG"
start() { node_start 1; PID=$(node_pid 1); }

start
expect_eq "socket mode" "$(stat -c %a "$INE_API_SOCKET")" 600

# --- before a cluster exists -------------------------------------------
ok "$CTL" status
grep -q "not in a cluster" "$T/out" || fail "status before create: $(cat "$T/out")"
rc 1 "$CTL" db create db1
err_has "not in a cluster"

# --- usage errors exit 2 and name the problem ---------------------------
rc 2 "$CTL" tune;                                         err_has "say db or cluster"
rc 2 "$CTL" tune db x data_internode_encryption enabled;  err_has "'x' is not a database id"
rc 2 "$CTL" tune db 1 data_internode_encryption on;       err_has "'on' must be enabled or disabled"
rc 2 "$CTL" tune db 1 tls enabled;                        err_has "unknown setting 'tls'"
rc 2 "$CTL" tune cluster data_internode_encryption;       err_has "tune cluster: expected"
rc 2 "$CTL" cluster create;                               err_has "name=<name> is required"
rc 2 "$CTL" cluster create c1;                            err_has "expected key=value"
rc 2 "$CTL" cluster certificate set internal dpine_certificate_file
err_has "expected <key> <file> pairs"
rc 2 "$CTL" cluster certificate set internal dpine_certificate_file /x
err_has "dpine_certificate_file needs dpine_key_file"
rc 2 "$CTL" cluster certificate set internal dpine_certificate_file /x cpine_key_file /y
err_has "needs"
rc 2 "$CTL" cluster certificate set external dpine_certificate_file /x dpine_key_file /y
err_has "expected 'internal'"
rc 2 "$CTL" db frob;                                      err_has "unknown subcommand 'frob'"
rc 2 "$CTL" route add db 1 port 70000 peer 1 target s1;   err_has "not a valid port"
rc 2 "$CTL" route add db 1 port 16379 peer 1;             err_has "missing 'target'"
rc 2 "$CTL" status extra;                                 err_has "unexpected argument"
rc 2 "$CTL" frobnicate;                                   err_has "unknown subcommand 'frobnicate'"
rc 2 "$CTL" show --frob;                                  err_has "unknown argument '--frob'"
for c in tune cluster db route status alerts; do
	ok "$CTL" $c --help
	grep -q "^Usage: inectl $c" "$T/out" || fail "$c --help: $(cat "$T/out")"
done

# --- cluster create -------------------------------------------------------
ok "$CTL" cluster create name=c1 node_name=n1 address=127.0.0.1 --json
CID=$(json .id)
expect_eq "cluster name" "$(json .name)" c1
[ ${#CID} -eq 36 ] || fail "cluster id '$CID'"
rc 1 "$CTL" cluster create name=c2 address=127.0.0.1;     err_has "already"
ok "$CTL" cluster show --json
expect_eq "cluster id" "$(json .id)" "$CID"
ok "$CTL" cluster nodes --json
expect_eq "node name" "$(json '.[0].name')" n1
ok "$CTL" cluster nodes
grep -q "n1" "$T/out" || fail "cluster nodes: $(cat "$T/out")"

# --- databases and the policy -------------------------------------------
ok "$CTL" db create db1 target shard1 1 127.0.0.1:6379 --json
expect_eq "db1 uid" "$(json .uid)" 1
expect_eq "db1 default" "$(json .data_internode_encryption)" false
ok "$CTL" tune cluster data_internode_encryption enabled
ok "$CTL" db create db2 --json
expect_eq "db2 inherits policy" "$(json .data_internode_encryption)" true
ok "$CTL" db create db3 data_internode_encryption disabled --json
expect_eq "db3 explicit" "$(json .data_internode_encryption)" false
rc 1 "$CTL" db create db1;                                err_has '"db1" used twice'
rc 1 "$CTL" db create db4 target s 7 10.0.0.1:1;          err_has "no node 7"
rc 1 "$CTL" db create db4 target s 1 redis.local:6379;    err_has "not a numeric"
rc 1 "$CTL" db create db4 target s 1 nohostport;          err_has "address"
ok "$CTL" tune db 1 data_internode_encryption enabled
grep -q "database 1: data_internode_encryption enabled" "$T/out" || fail "tune db: $(cat "$T/out")"
ok "$CTL" db show 1 --json
expect_eq "db1 after tune" "$(json .data_internode_encryption)" true
rc 1 "$CTL" tune db 99 data_internode_encryption enabled; err_has "database 99 does not exist"
ok "$CTL" db list --json
expect_eq "db count" "$(json length)" 3
ok "$CTL" db list
[ "$(grep -c '^[0-9]' "$T/out")" = 3 ] || fail "db list: $(cat "$T/out")"
grep -q "shard1@node1=127.0.0.1:6379" "$T/out" || fail "db list targets: $(cat "$T/out")"
grep -q "policy data_internode_encryption enabled" "$T/n1.log" || fail "no journal line for the policy change"
grep -q "bdb 1 (db1) data_internode_encryption enabled" "$T/n1.log" || fail "no journal line for the db change"

# --- routes ---------------------------------------------------------------
ok "$CTL" route add db 1 port 16379 peer 1 target shard1 --json
expect_eq "route uid" "$(json .uid)" 1
rc 1 "$CTL" route add db 1 port 3342 peer 1 target shard1; err_has "internode port"
rc 1 "$CTL" route add db 1 port 16380 peer 1 target nope;  err_has 'no target "nope"'
ok "$CTL" route list --json
expect_eq "route port" "$(json '.[0].listen_port')" 16379
ok "$CTL" route list
grep -q "16379" "$T/out" || fail "route list: $(cat "$T/out")"
rc 1 "$CTL" db delete 1;                                   err_has "used by route 1"
ok "$CTL" route delete 1
rc 1 "$CTL" route delete 1;                                err_has "route 1 does not exist"
ok "$CTL" db delete 3
rc 1 "$CTL" db show 3;                                     err_has "database 3 does not exist"

# --- certificates -----------------------------------------------------------
ok "$CTL" cluster certificate show --json
expect_eq "cert mode" "$(json .mode)" internal
SERIAL=$(json .ccs_internode_encryption.serial)
[ -n "$SERIAL" ] && [ "$SERIAL" != null ] || fail "no internal cp certificate after create"
ok "$CTL" cluster certificate rotate --json
expect_eq "rotation generation" "$(json .generation)" 1
# keys are made in the background: the new serial shows shortly after
k=0
while ok "$CTL" cluster certificate show --json &&
      [ "$(json .ccs_internode_encryption.serial)" = "$SERIAL" ]; do
	k=$((k + 1)); [ $k -gt 100 ] && fail "rotation kept the serial"
	sleep 0.1
done
ok "$CTL" cluster certificate rotate
# Customer certificates: a CA, two RSA leaves with chains, one ECDSA leaf.
mkcert() { # NAME KEYTYPE-ARGS...
	n=$1; shift
	openssl req -newkey "$@" -nodes -keyout "$T/$n.key" -out "$T/$n.csr" -subj "/CN=$n/O=acme" 2>/dev/null &&
	openssl x509 -req -in "$T/$n.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial \
		-days 365 -extfile "$T/ext" -out "$T/$n.leaf" 2>/dev/null &&
	cat "$T/$n.leaf" "$T/ca.pem" >"$T/$n.pem" || fail "openssl: making $n"
}
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/ca.key" -out "$T/ca.pem" -days 400 \
	-subj "/CN=acme CA" -addext basicConstraints=critical,CA:TRUE \
	-addext keyUsage=keyCertSign 2>/dev/null || fail "openssl: CA"
printf 'extendedKeyUsage=serverAuth,clientAuth\n' >"$T/ext"
mkcert shared rsa:2048
mkcert dpine rsa:2048
mkcert ecdsa ec -pkeyopt ec_paramgen_curve:P-256
set_certs() { # DPINE-NAME CPINE-NAME
	rc "$RC" "$CTL" cluster certificate set internal dpine_certificate_file "$T/$1.pem" \
		dpine_key_file "$T/$1.key" cpine_certificate_file "$T/$2.pem" cpine_key_file "$T/$2.key"
}
RC=1 set_certs ecdsa ecdsa;                               err_has "ECDSA keys are not supported"
cp "$T/shared.leaf" "$T/leafonly.pem"; cp "$T/shared.key" "$T/leafonly.key"
RC=1 set_certs leafonly leafonly;                         err_has "chain is missing"
cp "$T/shared.pem" "$T/mismatch.pem"; cp "$T/dpine.key" "$T/mismatch.key"
RC=1 set_certs mismatch mismatch;                         err_has "private key does not match"
ok "$CTL" cluster certificate show --json
expect_eq "still internal after refusals" "$(json .mode)" internal
RC=0 set_certs shared shared
ok "$CTL" cluster certificate show --json
expect_eq "mode after upload" "$(json .mode)" customer
expect_eq "one cert for both planes" "$(json .ccs_internode_encryption.serial)" \
	"$(json .data_internode_encryption.serial)"
expect_eq "cp subject" "$(json .ccs_internode_encryption.subject | grep -o 'CN=shared')" CN=shared
json '.. | objects | keys[]' | grep -qi 'key$' && fail "certificate GET shows a key field"
RC=0 set_certs dpine shared
ok "$CTL" cluster certificate show --json
expect_eq "separate dp subject" "$(json .data_internode_encryption.subject | grep -o 'CN=dpine')" CN=dpine
expect_eq "separate cp subject" "$(json .ccs_internode_encryption.subject | grep -o 'CN=shared')" CN=shared
rc 1 "$CTL" cluster certificate rotate;                   err_has "not rotated"
rc 1 "$CTL" cluster certificate set internal dpine_certificate_file "$T/none.pem" \
	dpine_key_file "$T/shared.key"
err_has "none.pem"

# --- join (control plane endpoints) ---------------------------------------
# Without the control plane these endpoints are absent: a clean error, exit 1.
rc 1 "$CTL" cluster join token=abc address=10.0.0.1
rc 2 "$CTL" cluster join

# --- status, alerts ---------------------------------------------------------
ok "$CTL" status --json
expect_eq "status cluster" "$(json .cluster_id)" "$CID"
expect_eq "status node" "$(json '.nodes[0].name')" n1
expect_eq "status offload" "$(json '.nodes[0].offload')" software
expect_eq "status alerts" "$(json '[.alerts[].name] | index("kernel_tls_unavailable") != null')" true
expect_eq "status cert mode" "$(json '.nodes[0].certificates.mode')" customer
[ "$(json '.nodes[0].certificates.data_internode_encryption.seconds_left')" -gt 86400 ] ||
	fail "status: no certificate expiry"
ok "$CTL" status
grep -q "node 1 (n1)" "$T/out" || fail "status: $(cat "$T/out")"
grep -q "kernel_tls_unavailable" "$T/out" || fail "status alerts: $(cat "$T/out")"
ok "$CTL" alerts --json
expect_eq "alerts" "$(json '.[] | select(.name == "kernel_tls_unavailable") | .severity')" warning

# --- metrics (curl speaks HTTP over the Unix socket too) --------------------
if command -v curl >/dev/null; then
	VER=$(jq -r .version "$T/s1/config.json")
	curl -s --unix-socket "$INE_API_SOCKET" http://localhost/metrics >"$T/out"
	grep -q "^ine_config_version $VER\$" "$T/out" || fail "metrics version: $(grep version "$T/out")"
	grep -q '^ine_alerts 1$' "$T/out" || fail "metrics alerts: $(grep alerts "$T/out")"
	grep -q '^ine_certificate_expiry_seconds{plane="data"} [0-9]' "$T/out" || fail "metrics cert expiry"
fi

# --- SIGHUP: good config swapped in whole; bad config refused -------------
VER=$(jq -r .version "$T/s1/config.json")
jq '.policy.data_internode_encryption = false | .version += 1' "$T/s1/config.json" >"$T/new.json"
cp "$T/new.json" "$T/s1/config.json"
kill -HUP "$PID"; sleep 0.3
ok "$CTL" cluster show --json
expect_eq "reloaded version" "$(json .version)" $((VER + 1))
expect_eq "reloaded policy" "$(json .policy.data_internode_encryption)" false
# A configuration with a dangling reference: refused, old one keeps running.
jq '.bdbs[0].targets = [{"name":"x","node":9,"address":"10.0.0.9:1"}] | .version += 1' \
	"$T/s1/config.json" >"$T/bad.json"
cp "$T/bad.json" "$T/s1/config.json"
kill -HUP "$PID"; sleep 0.3
kill -0 "$PID" || fail "ined died on a bad reload"
grep -q "reload refused.*targets\[0\].node: no node 9" "$T/n1.log" || fail "bad reload not logged"
ok "$CTL" cluster show --json
expect_eq "version after bad reload" "$(json .version)" $((VER + 1))
printf '{ not json' >"$T/s1/config.json"
kill -HUP "$PID"; sleep 0.3
kill -0 "$PID" || fail "ined died on a corrupt reload"
ok "$CTL" db list --json
expect_eq "dbs after corrupt reload" "$(json length)" 2
# The next write replaces the file with the configuration in force.
ok "$CTL" tune db 2 data_internode_encryption disabled
jq -e . "$T/s1/config.json" >/dev/null || fail "config.json not rewritten"

# --- restart keeps state; SIGTERM exits cleanly -----------------------------
node_stop 1; st=$?; PID=
expect_eq "ined exit status" $st 0
[ -e "$INE_API_SOCKET" ] && fail "socket left behind"
rc 1 "$CTL" status;                                        err_has "is ined running"
start
ok "$CTL" db show 2 --json
expect_eq "state after restart" "$(json .data_internode_encryption)" false
ok "$CTL" cluster show --json
expect_eq "cluster after restart" "$(json .id)" "$CID"
# A second agent on the same socket refuses to start.
"$INED" --no-modules --state-dir "$T/state2" --api-socket "$INE_API_SOCKET" $PORTARG 2>"$T/err2"
[ $? -ne 0 ] || fail "second ined started on a live socket"
grep -q "another ined" "$T/err2" || fail "second ined: $(cat "$T/err2")"
rc 2 "$INED" --bogus
echo "t-api: ok"
