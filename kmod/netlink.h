/* SPDX-License-Identifier: GPL-2.0 */
/* The "ine" generic netlink family (commands of include/uapi/linux/ine.h). */
#ifndef INE_NETLINK_H
#define INE_NETLINK_H

#include <linux/types.h>

int ine_genl_init(void);
void ine_genl_uninit(void);

#endif
