#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Kernel TLS end to end with the agent's TLS code (tests/vm/ktls_xfer.c):
# for each of the four suites, handshake, kTLS TX+RX (TLS 1.3 RX installed by
# us), sendfile both ways with sha256 checks, close_notify as EOF, a non-data
# record refused without a hang; then /proc/net/tls_stat must show it.
# Fails (never skips) when kernel TLS is not used.
# INE_KTLS_MIB sets the size per direction (default 8).
. tests/vm/lib.sh
load_tls
mib=${INE_KTLS_MIB:-8}
[ -x tests/vm/ktls_xfer ] || fail "tests/vm/ktls_xfer not built (make tests/vm/bins)"

tx0=$(tls_stat TlsTxSw); rx0=$(tls_stat TlsRxSw); de0=$(tls_stat TlsDecryptError)
tests/vm/ktls_xfer --mib "$mib" >"$T/ktls.out" 2>&1
rc=$?
cat "$T/ktls.out"
[ $rc -eq 0 ] || fail "ktls_xfer exit $rc"
tx1=$(tls_stat TlsTxSw); rx1=$(tls_stat TlsRxSw); de1=$(tls_stat TlsDecryptError)
note "TlsTxSw $tx0 -> $tx1, TlsRxSw $rx0 -> $rx1, TlsDecryptError $de0 -> $de1"
# 4 suites x 2 ends, each end kernel TX and RX.
[ $((tx1 - tx0)) -ge 8 ] || fail "TlsTxSw rose by $((tx1 - tx0)), want >= 8"
[ $((rx1 - rx0)) -ge 8 ] || fail "TlsRxSw rose by $((rx1 - rx0)), want >= 8"
expect_eq TlsDecryptError "$de1" "$de0"
expect_eq "suites passed" "$(grep -c '^RESULT .* s2c' "$T/ktls.out")" 4
expect_eq "sessions fully in the kernel" "$(grep -cE 'offload=kernel( |$)' "$T/ktls.out")" 8

# Same transfer without TLS, same VM run: the ratio is the number to read.
tests/vm/ktls_xfer --plain --mib "$mib" >"$T/plain.out" 2>&1 || { cat "$T/plain.out"; fail "plain transfer"; }
grep RESULT "$T/plain.out"
# ... and userspace TLS (OpenSSL, no kTLS) for one suite of each version.
for s in tls12-aes128 tls13-aes128; do
	tests/vm/ktls_xfer --software --suite $s --mib "$mib" >"$T/sw.out" 2>&1 || { cat "$T/sw.out"; fail "userspace TLS transfer $s"; }
	grep RESULT "$T/sw.out" | sed 's/^RESULT /RESULT userspace-/'
done
exit 0
