// SPDX-License-Identifier: GPL-2.0
/* Per network namespace state, set up and torn down with the namespace. */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <net/netns/generic.h>
#include "netns.h"
#include "session.h"
#include "guard.h"

static int __net_init ine_net_init(struct net *net)
{
	struct ine_net *in = ine_net(net);
	int ret;

	in->net = net;
	ret = ine_registry_init(in);
	if (ret)
		return ret;
	ret = ine_guard_init(in);
	if (ret)
		goto err_guard;
	return 0;

err_guard:
	ine_registry_exit(in);
	return ret;
}

static void __net_exit ine_net_exit(struct net *net)
{
	struct ine_net *in = ine_net(net);

	ine_guard_exit(in);
	ine_registry_exit(in);
}

static struct pernet_operations ine_net_ops = {
	.init = ine_net_init,
	.exit = ine_net_exit,
	.id = &ine_net_id,
	.size = sizeof(struct ine_net),
};

int ine_netns_init(void)
{
	return register_pernet_subsys(&ine_net_ops);
}

void ine_netns_exit(void)
{
	unregister_pernet_subsys(&ine_net_ops);
}
