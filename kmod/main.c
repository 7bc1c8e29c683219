// SPDX-License-Identifier: GPL-2.0
/* Placeholder; the genetlink family lands with issue 3. */
#include <linux/module.h>

static int __init ine_init(void) { return 0; }
static void __exit ine_exit(void) { }
module_init(ine_init);
module_exit(ine_exit);
MODULE_LICENSE("GPL");
