/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The agent holds every node key, the TLS traffic secrets it hands to the
 * kernel and, on a primary, the cluster CA key.  None of it may land in a
 * core dump or be read by a debugger attached by another user:
 *  - the process is not dumpable (PR_SET_DUMPABLE 0: no core, no ptrace
 *    attach without CAP_SYS_PTRACE, /proc/<pid>/mem closed);
 *  - RLIMIT_CORE is 0 (the systemd unit says LimitCORE=0 as well);
 *  - OpenSSL's secure heap is on: private-key numbers live in a locked
 *    region marked MADV_DONTDUMP and wiped when freed.
 */
#ifndef INE_CORE_HARDEN_H
#define INE_CORE_HARDEN_H

#include <stddef.h>

#define HARDEN_SECURE_HEAP	(1u << 20)	/* bytes; a power of two */

/* Best effort, logged: a failure of one measure does not stop the agent
 * (mlock may be limited by RLIMIT_MEMLOCK in a container). */
void harden_process(void);

#endif
