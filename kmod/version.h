/* SPDX-License-Identifier: GPL-2.0 */
#ifndef INE_VERSION_H
#define INE_VERSION_H
#define INE_VERSION "0.1.0"
#endif
