# PKI helper targets.
# pki-seeds: regenerate fuzz/seeds/fuzz_pem from the unit corpus of hostile
# uploads (tests/unit/test_pki_customer.c).
pki-seeds: tests/unit/unit-tests
	mkdir -p fuzz/seeds/fuzz_pem
	INE_PKI_SEED_DIR=$(CURDIR)/fuzz/seeds/fuzz_pem tests/unit/unit-tests --filter 'pki_customer/*'

.PHONY: pki-seeds
