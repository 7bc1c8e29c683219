/* SPDX-License-Identifier: GPL-2.0 */
/* Benchmark seams (testing.c): exported in symbol namespace INE_TEST only. */
#ifndef INE_TESTING_H
#define INE_TESTING_H

#include <linux/types.h>

struct net;
struct sock;

/* Registers n stand-in sessions on sk in net, keyed &keys[0..n-1]; the
 * number registered, or -errno if none could be (the first failure stops). */
int ine_test_sessions_add(struct net *net, struct sock *sk, const u8 *keys,
			  unsigned int n);
/* Deletes the stand-ins keyed &keys[0..n-1]; the number deleted. */
int ine_test_sessions_del(struct net *net, const u8 *keys, unsigned int n);
/* Whether the guard's lookup finds key in net's registry. */
bool ine_test_lookup(struct net *net, const void *key);

#endif
