# Shared helpers for tests/vm/t-*.sh (sourced; run as root in the VM from
# the repository's top directory).
. tools/vm/nodes.sh
TOP=$(pwd)
T=$(mktemp -d /tmp/ine-test.XXXXXX)

fail() { echo "FAIL: $*" >&2; exit 1; }
note() { echo "  $*"; }
# expect_eq WHAT GOT WANT
expect_eq() { [ "$2" = "$3" ] || fail "$1: got '$2', want '$3'"; }

# Load kernel TLS and our module (built by `make module KDIR=<VM headers>`).
# aesni_intel: without it the kernel's gcm(aes) is the generic C code,
# which under emulation is slower than OpenSSL's and skews every ratio.
load_tls() {
	modprobe tls || fail "modprobe tls"
	modprobe aesni_intel 2>/dev/null || note "aesni_intel not loaded: generic kernel AES"
}
load_ine() {
	lsmod | grep -q '^ine ' && return 0
	insmod "$TOP/ine.ko" || fail "insmod ine.ko"
}
tls_stat() { awk -v k="$1" '$1 == k {print $2}' /proc/net/tls_stat; }

# ---- a cluster of agents in node namespaces (t-*-cluster, t-fault, demo) ----
# A test's own die() (which dumps its logs) wins over plain fail().
ine_die() { if command -v die >/dev/null 2>&1; then die "$@"; else fail "$@"; fi; }
N() { n=$1; shift; ip netns exec node$n "$@"; }
# inectl against node N's agent, whose API socket is $T/nN.sock
I() { n=$1; shift; INE_API_SOCKET="$T/n$n.sock" ip netns exec node$n ./inectl "$@"; }
R() { n=$1; shift; ip netns exec node$n redis-cli "$@"; }
# wait_for SECS CMD...: until CMD succeeds (1 if it never does)
wait_for() {
	s=$1; shift; k=0
	until "$@" >/dev/null 2>&1; do
		k=$((k + 1)); [ $k -gt $((s * 10)) ] && return 1
		sleep 0.1
	done
}
# wait_eq SECS WANT CMD...: until CMD prints WANT, else die saying what it printed
wait_eq() {
	s=$1 want=$2; shift 2; k=0
	while :; do
		got=$("$@" 2>/dev/null)
		[ "$got" = "$want" ] && return 0
		k=$((k + 1)); [ $k -gt $((s * 10)) ] && ine_die "$*: got '$got', want '$want'"
		sleep 0.1
	done
}
# ine_cluster_form NODES NAME: node 1 creates the cluster, nodes 2..NODES
# join it with a fresh token each (addresses 10.77.0.<i>).
ine_cluster_form() {
	I 1 cluster create name=$2 node_name=n1 address=10.77.0.1 >/dev/null ||
		ine_die "cluster create on node1"
	i=2
	while [ $i -le $1 ]; do
		tok=$(I 1 cluster join-token) || ine_die "join token for node$i"
		I $i cluster join token="$tok" node_name=n$i address=10.77.0.$i >/dev/null ||
			ine_die "node$i join"
		i=$((i + 1))
	done
}
# redis_synced MNODE MPORT RNODE RPORT: the replica's link is up and both
# sides hold the same data (DEBUG DIGEST needs --enable-debug-command).
redis_link_up() { R $1 -p $2 info replication | grep -q 'master_link_status:up'; }
redis_synced() {
	redis_link_up $3 $4 && [ "$(R $1 -p $2 debug digest)" = "$(R $3 -p $4 debug digest)" ] &&
	[ "$(R $1 -p $2 dbsize)" = "$(R $3 -p $4 dbsize)" ]
}
