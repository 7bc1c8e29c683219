/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tls_keyguard.h — kernel TLS keys never reach an application (issue 20).
 *
 * The broker hands libine apps a socket with kernel TLS installed, and on
 * such a socket getsockopt(SOL_TLS, TLS_TX/TLS_RX) returns the crypto
 * state: key, salt, IV and record sequence, both directions. ined loads a
 * tiny cgroup getsockopt BPF program (hand-assembled, raw bpf(2), no
 * libbpf) and links it to the cgroup v2 root, so it runs for every process
 * of the host (and of every network namespace: the cgroup tree is shared).
 *
 * The getsockopt hook runs AFTER the kernel has copied the answer into the
 * caller's buffer, so rejecting the call (return 0, EPERM) would leave the
 * key bytes there. The program instead overwrites every byte the kernel
 * returned for SOL_TLS TLS_TX/TLS_RX with zeros, which the kernel then
 * copies back over the caller's buffer: the call returns a crypto_info of
 * version 0, cipher 0, key/IV/salt/seq all zero. Other options pass
 * untouched. ined itself never reads these back.
 *
 * The link is a bpf_link: closing its fd (at exit, or the process dying)
 * detaches it, so a killed agent leaves nothing behind.
 *
 * Without the guard (no cgroup v2, no CONFIG_CGROUP_BPF, no CAP_BPF or
 * CAP_SYS_ADMIN) keyguard_ktls_install() never installs kernel TLS on a
 * brokered connection: the app gets the software relay's socketpair and
 * the keys stay in ined; the broker reports mode software.
 */
#ifndef INE_TLS_KEYGUARD_H
#define INE_TLS_KEYGUARD_H

#include <stdbool.h>

struct tls_conn;

/* Load and link the program; 0 or -errno (logged). Idempotent. cgroup:
 * the cgroup v2 directory to link to, NULL for the mount found in
 * /proc/self/mounts. */
int keyguard_start(const char *cgroup);
void keyguard_stop(void);
bool keyguard_active(void);

/* For a connection whose fd an application will hold: kernel TLS only if
 * the guard is active; else the session stays in OpenSSL (its captured RX
 * secret wiped) and 0 is returned. Otherwise as ktls_conn_install(). */
int keyguard_ktls_install(struct tls_conn *tc);

#endif
