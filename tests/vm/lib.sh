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
