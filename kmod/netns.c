// SPDX-License-Identifier: GPL-2.0
/*
 * Finding a namespace's state. The bottom of the module: the guard, the
 * registry and the netlink handlers all call ine_net(); this file calls
 * none of them. Setting the state up and tearing it down, which does call
 * them, is pernet.c's.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <net/netns/generic.h>
#include "netns.h"

unsigned int ine_net_id __read_mostly;

struct ine_net *ine_net(const struct net *net)
{
	return net_generic(net, ine_net_id);
}
