// SPDX-License-Identifier: GPL-2.0
/* harden.c — keep secrets out of core dumps and debuggers (see harden.h). */
#include <errno.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <openssl/crypto.h>

#include "core/harden.h"
#include "core/log.h"

void harden_process(void)
{
	struct rlimit no_core = { 0, 0 };

	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0))
		log_warn("harden: PR_SET_DUMPABLE: %s", strerror(errno));
	if (setrlimit(RLIMIT_CORE, &no_core))
		log_warn("harden: RLIMIT_CORE: %s", strerror(errno));
	/* minsize 16: OpenSSL's smallest secure allocation unit. */
	if (CRYPTO_secure_malloc_init(HARDEN_SECURE_HEAP, 16) != 1)
		log_warn("harden: no OpenSSL secure heap (mlock limit?): private keys "
			 "stay in the ordinary heap, still out of core dumps");
}
