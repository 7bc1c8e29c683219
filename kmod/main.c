// SPDX-License-Identifier: GPL-2.0
/*
 * ine.ko — internode encryption: knows every encrypted internode session,
 * answers status queries over generic netlink and guards the internode
 * ports against plaintext. See include/uapi/linux/ine.h.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/rcupdate.h>
#include <net/genetlink.h>
#include "guard.h"
#include "netns.h"
#include "netlink.h"
#include "version.h"

static int __init ine_mod_init(void)
{
	int ret;

	if (ine_guard_param_mode() < 0) {
		pr_err("guard=%s: the guard mode is off, audit or enforce\n", ine_guard_param_name());
		return -EINVAL;
	}
	ret = ine_netns_init();
	if (ret)
		goto err_netns;
	ret = ine_genl_init();
	if (ret)
		goto err_genl;
	pr_info("version %s loaded, guard %s\n", INE_VERSION, ine_guard_param_name());
	return 0;

err_genl:
	ine_netns_exit();
err_netns:
	return ret;
}

static void __exit ine_mod_exit(void)
{
	ine_genl_uninit();
	ine_netns_exit();
	rcu_barrier();	/* session_free_rcu() is our code */
}

module_init(ine_mod_init);
module_exit(ine_mod_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("ine: internode encryption session registry and plaintext guard");
MODULE_VERSION(INE_VERSION);
MODULE_ALIAS_GENL_FAMILY(INE_GENL_NAME);
