/* api_routes.h — the built-in REST endpoints (api_routes.c), registered by
 * api_create before any other part adds or overrides routes. */
#ifndef INE_API_ROUTES_H
#define INE_API_ROUTES_H

#include "api/api.h"

int api_routes_register(struct api *api);

/* The ops table and context a request's api was created with (api.c). */
const struct api_ops *api_ops_get(struct api_req *req, void **ctx);

#endif /* INE_API_ROUTES_H */
