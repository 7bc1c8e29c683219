#!/bin/sh
# Regenerate the fixed test keys used by tests/unit/test_pki*.c.  Keys are
# committed so the suites do not spend seconds generating RSA keys in every
# forked test; they protect nothing.  Run from this directory.
set -eu
cd "$(dirname "$0")/keys"
for k in a b c d e f g h; do
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa2048-$k.pem
done
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out rsa3072.pem
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out rsa1024.pem
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:8200 -out rsa8200.pem
openssl genpkey -algorithm RSA-PSS -pkeyopt rsa_keygen_bits:2048 -out rsapss2048.pem
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec-p256.pem
openssl ec -in ec-p256.pem -out ec-p256-trad.pem 2>/dev/null
openssl genpkey -algorithm ED25519 -out ed25519.pem
openssl genpkey -algorithm ED448 -out ed448.pem
# the same RSA key (c) encrypted, PKCS#8 and traditional PEM encryption
openssl pkey -in rsa2048-c.pem -aes256 -passout pass:secret -out rsa2048-c-enc-pkcs8.pem
openssl pkey -in rsa2048-c.pem -traditional -aes256 -passout pass:secret -out rsa2048-c-enc-trad.pem
openssl pkey -in rsa2048-c.pem -traditional -out rsa2048-c-trad.pem
