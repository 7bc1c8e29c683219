/* SPDX-License-Identifier: GPL-2.0 */
/* http.h — inectl's client for the agent's REST API on its Unix socket
 * (libcurl does the HTTP; jansson the JSON).  The socket is $INE_API_SOCKET
 * or /run/ine/api.sock. */
#ifndef INECTL_HTTP_H
#define INECTL_HTTP_H

#include <stddef.h>
#include <jansson.h>

const char *http_socket_path(void);

/* One request.  body may be NULL.  On return 0, *status is the HTTP status
 * and *resp (malloc'd, NUL-terminated, caller frees) the body.  -errno when
 * the agent could not be reached; *err (if given) says why. */
int http_request(const char *sock, const char *method, const char *path,
		 const char *body, long *status, char **resp, size_t *resp_len,
		 char *err, size_t errlen);

/* For inectl's subcommands: sends `body` (may be NULL), returns 0 and the
 * parsed reply in *out (may be NULL to discard) on 2xx.  Otherwise prints
 * "inectl: <description> (<error_code>)" to stderr and returns 1. */
int http_json(const char *method, const char *path, const json_t *body, json_t **out);

#endif /* INECTL_HTTP_H */
