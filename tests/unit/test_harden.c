// SPDX-License-Identifier: GPL-2.0
/* The agent's process hardening (core/harden.c): no core dumps, not
 * dumpable, private keys in OpenSSL's secure heap (locked, MADV_DONTDUMP).
 * Each Criterion test runs in its own process, so hardening it is safe. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <criterion/criterion.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "core/harden.h"
#include "pki/pki_internal.h"

/* Kilobytes of our mappings flagged "dd" (MADV_DONTDUMP) in smaps (the
 * kernel's own [vvar]/[vdso] carry it too, so compare before and after). */
static unsigned long dontdump_kb(void)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	unsigned long size = 0, kb = 0;

	cr_assert(f);
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "Size:", 5))
			size = strtoul(line + 5, NULL, 10);
		else if (!strncmp(line, "VmFlags:", 8) && strstr(line, " dd"))
			kb += size;
	}
	fclose(f);
	return kb;
}

Test(harden, process)
{
	unsigned long kb0 = dontdump_kb();
	struct rlimit rl;

	harden_process();
	cr_expect_eq(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 0, "still dumpable");
	cr_assert_eq(getrlimit(RLIMIT_CORE, &rl), 0);
	cr_expect_eq(rl.rlim_cur, 0);
	cr_expect_eq(rl.rlim_max, 0);
	cr_expect(CRYPTO_secure_malloc_initialized(), "no secure heap");
	cr_expect_geq(dontdump_kb() - kb0, HARDEN_SECURE_HEAP / 1024,
		      "the secure heap is not marked MADV_DONTDUMP (%lu KiB before, %lu after)",
		      kb0, dontdump_kb());
}

Test(harden, private_keys_in_the_secure_heap)
{
	size_t before;
	EVP_PKEY *k;

	harden_process();
	before = CRYPTO_secure_used();
	k = pki_rsa_keygen(2048);
	cr_assert(k);
	cr_expect_gt(CRYPTO_secure_used(), before, "a new node key is not in the secure heap");
	EVP_PKEY_free(k);
}
