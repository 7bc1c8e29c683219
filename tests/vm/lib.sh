# SPDX-License-Identifier: GPL-2.0
# The VM tests' part of the kit (sourced by tests/vm/t-*.sh, as root in the
# VM, from the repository's top directory): tests/lib/ine.sh, with every
# node in its network namespace nodeI (tools/vm/nodes.sh: ine_mknodes), the
# kernel's TLS and ine.ko, and Redis helpers.
. tools/vm/nodes.sh
NODE_NS=${NODE_NS:-1}
# The emulated VM is slow to start an agent and to answer under load.
INE_START_SECS=${INE_START_SECS:-30}
INE_API_TIMEOUT=${INE_API_TIMEOUT:-600}
. tests/lib/ine.sh

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
# ns_tls_stat I KEY: /proc/net/tls_stat in node I's namespace
ns_tls_stat() { ip netns exec node$1 awk -v k="$2" '$1 == k {print $2}' /proc/net/tls_stat; }

R() { local n=$1; shift; ip netns exec node$n redis-cli "$@"; }
# redis_synced MNODE MPORT RNODE RPORT: the replica's link is up and both
# sides hold the same data (DEBUG DIGEST needs --enable-debug-command).
redis_link_up() { R $1 -p $2 info replication | grep -q 'master_link_status:up'; }
redis_synced() {
	redis_link_up $3 $4 && [ "$(R $1 -p $2 debug digest)" = "$(R $3 -p $4 debug digest)" ] &&
	[ "$(R $1 -p $2 dbsize)" = "$(R $3 -p $4 dbsize)" ]
}
