/* SPDX-License-Identifier: GPL-2.0 */
/* api_routes.h — the built-in REST endpoints (api_routes.c).
 *
 * Registered by whoever created the api (after api_create, before any other
 * part adds or overrides routes).  The handlers read the configuration and
 * call the ops through `rt`, which they get as their route argument: it must
 * outlive the api. */
#ifndef INE_API_ROUTES_H
#define INE_API_ROUTES_H

#include "api/api.h"

struct api_routes {
	const struct api_ops *ops;
	void *ctx;
};

int api_routes_register(struct api *api, const struct api_routes *rt);

#endif /* INE_API_ROUTES_H */
