// SPDX-License-Identifier: GPL-2.0
/* test_api.c — every REST endpoint, good and bad input, over the real Unix
 * socket: the server (api + daemon with a temp state dir) runs its event
 * loop in a thread; the test is the client, using inectl's HTTP client. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <event2/event.h>

#include "api/api.h"
#include "api/api_routes.h"
#include "daemon/daemon.h"
#include "../../tools/inectl/http.h"

static struct {
	char dir[64];
	char sock[96];
	struct event_base *base;
	struct daemon *d;
	struct api *api;
	struct api_ops ops;
	struct api_routes rt;
	pthread_t thr;
	int stop[2];
	struct event *stop_ev;
	/* certs_set recorder */
	int certs_calls;
	char certs_seen[2][64];
	/* async commit hook */
	struct api_req *held;
	struct config *held_cfg;
} S;

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	event_base_loopbreak(S.base);
}

static void *loop(void *arg)
{
	(void)arg;
	event_base_dispatch(S.base);
	return NULL;
}

static int rec_certs_set(void *ctx, struct api_req *req, const struct api_cert_upload *up,
			 char *err, size_t errlen)
{
	(void)ctx;
	(void)req;
	S.certs_calls++;
	for (int p = 0; p < 2; p++)
		snprintf(S.certs_seen[p], sizeof(S.certs_seen[p]), "%.40s",
			 up->certificate[p] ? up->certificate[p] + 28 : "-");
	if (up->key[0] && strstr(up->key[0], "WRONG")) {
		snprintf(err, errlen, "ccs_internode_encryption: key does not match certificate");
		return -EINVAL;
	}
	return 0;
}

static void start(void)
{
	char err[CONFIG_ERR_MAX] = "";
	struct api_options ao = { 0 };

	snprintf(S.dir, sizeof(S.dir), "/tmp/ine-api-XXXXXX");
	cr_assert(mkdtemp(S.dir));
	snprintf(S.sock, sizeof(S.sock), "%s/api.sock", S.dir);
	S.base = event_base_new();
	cr_assert(S.base);
	cr_assert_eq(daemon_new(S.base, S.dir, &S.d, err, sizeof(err)), 0, "%s", err);
	S.ops = daemon_api_ops;
	S.ops.certs_set = rec_certs_set;
	ao.socket_path = S.sock;
	ao.body_max = 4096;
	cr_assert_eq(api_create(S.base, &ao, &S.ops, S.d, &S.api), 0);
	S.rt = (struct api_routes){ &S.ops, S.d };
	cr_assert_eq(api_routes_register(S.api, &S.rt), 0);
	cr_assert_eq(pipe(S.stop), 0);
	S.stop_ev = event_new(S.base, S.stop[0], EV_READ, on_stop, NULL);
	event_add(S.stop_ev, NULL);
	cr_assert_eq(pthread_create(&S.thr, NULL, loop, NULL), 0);
	setenv("INE_API_SOCKET", S.sock, 1);
}

static void stop(void)
{
	if (write(S.stop[1], "x", 1) != 1)
		abort();
	pthread_join(S.thr, NULL);
}

static void teardown(void)
{
	char cmd[128];

	api_destroy(S.api);
	S.api = NULL;
	event_free(S.stop_ev);
	daemon_free(S.d);
	S.d = NULL;
	event_base_free(S.base);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", S.dir);
	if (system(cmd))
		fprintf(stderr, "cleanup of %s failed\n", S.dir);
}

static void fini(void)
{
	stop();
	teardown();
}

TestSuite(api, .init = start, .fini = fini);

/* One request; returns the status, *out the parsed JSON (or NULL). */
static long call(const char *method, const char *path, const char *body, json_t **out)
{
	char *resp = NULL, err[256];
	long status = 0;
	json_error_t je;

	cr_assert_eq(http_request(S.sock, method, path, body, &status, &resp, NULL, err,
				  sizeof(err)), 0, "%s", err);
	if (out)
		*out = json_loads(resp, JSON_DECODE_ANY, &je);
	free(resp);
	return status;
}

/* Asserts an error reply with error_code `code` whose description names
 * `needle`. */
static void expect_error(const char *method, const char *path, const char *body, long want,
			 const char *code, const char *needle)
{
	json_t *j = NULL;
	long st = call(method, path, body, &j);
	const char *ec, *desc;

	cr_expect_eq(st, want, "%s %s %s: status %ld, wanted %ld", method, path,
		     body ? body : "", st, want);
	cr_assert(j != NULL, "%s %s: error reply is not JSON", method, path);
	ec = json_string_value(json_object_get(j, "error_code"));
	desc = json_string_value(json_object_get(j, "description"));
	cr_expect(ec && !strcmp(ec, code), "%s %s: error_code %s, wanted %s", method, path,
		  ec ? ec : "(none)", code);
	cr_expect(desc && strstr(desc, needle), "%s %s: description \"%s\" lacks \"%s\"",
		  method, path, desc ? desc : "(none)", needle);
	json_decref(j);
}

static json_int_t version(void)
{
	json_t *j = NULL;
	json_int_t v;

	cr_assert_eq(call("GET", "/v1/config", NULL, &j), 200);
	v = json_integer_value(json_object_get(j, "version"));
	json_decref(j);
	return v;
}

static void create_cluster(void)
{
	json_t *j = NULL;

	cr_assert_eq(call("POST", "/v1/cluster", "{\"name\": \"c1\", \"node_name\": \"n1\"}",
			  &j), 200);
	cr_assert_str_eq(json_string_value(json_object_get(j, "name")), "c1");
	json_decref(j);
}

Test(api, socket_is_root_only_0600)
{
	struct stat st;

	cr_assert_eq(stat(S.sock, &st), 0);
	cr_expect(S_ISSOCK(st.st_mode));
	cr_expect_eq(st.st_mode & 0777, 0600);
	cr_expect_eq(st.st_uid, 0u);
}

Test(api, non_root_peer_gets_403)
{
	pid_t pid;
	int status;

	cr_assert_eq(getuid(), 0u, "this test needs root");
	/* Relax the mode so uid 65534 can connect at all; the per-request
	 * SO_PEERCRED check must still refuse it. */
	cr_assert_eq(chmod(S.sock, 0666), 0);
	cr_assert_eq(chmod(S.dir, 0711), 0);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		char *resp = NULL, err[128];
		long code = 0;

		if (setgid(65534) || setuid(65534))
			_exit(90);
		if (http_request(S.sock, "GET", "/v1/bdbs", NULL, &code, &resp, NULL, err,
				 sizeof(err)))
			_exit(91);
		_exit(code == 403 && strstr(resp, "\"forbidden\"") ? 0 : 92);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
	/* Root still gets in. */
	cr_expect_eq(call("GET", "/v1/bdbs", NULL, NULL), 200);
}

Test(api, second_server_on_live_socket_refused)
{
	struct api *other = NULL;
	struct api_options ao = { .socket_path = S.sock };

	cr_expect_eq(api_create(S.base, &ao, &S.ops, S.d, &other), -EADDRINUSE);
}

Test(api, routing_errors)
{
	expect_error("GET", "/v1/nothing", NULL, 404, "not_found", "/v1/nothing");
	expect_error("DELETE", "/v1/cluster/policy", NULL, 405, "method_not_allowed",
		     "/v1/cluster/policy");
	expect_error("GET", "/v1/bdbs/0", NULL, 404, "not_found", "/v1/bdbs/0");
	expect_error("GET", "/v1/bdbs/99999999999", NULL, 404, "not_found", "/v1/bdbs");
	expect_error("GET", "/v1/bdbs/abc", NULL, 404, "not_found", "/v1/bdbs/abc");
}

Test(api, writes_need_a_cluster)
{
	expect_error("POST", "/v1/bdbs", "{\"name\": \"db1\"}", 409, "no_cluster", "not in a cluster");
	expect_error("PUT", "/v1/cluster/policy", "{\"data_internode_encryption\": true}", 409,
		     "no_cluster", "cluster");
	expect_error("POST", "/v1/cluster/certificates/rotate", NULL, 409, "no_cluster",
		     "cluster");
	expect_error("GET", "/v1/cluster", NULL, 404, "no_cluster", "not in a cluster");
	cr_expect_eq(version(), 0);
}

Test(api, cluster_create)
{
	json_t *j = NULL;

	expect_error("POST", "/v1/cluster", "{}", 400, "invalid_parameter", "body.name: missing");
	expect_error("POST", "/v1/cluster", "{\"name\": \"c 1\"}", 400, "invalid_parameter",
		     "body.name");
	expect_error("POST", "/v1/cluster", "{\"name\": \"c1\", \"size\": 3}", 400,
		     "unknown_field", "body.size");
	expect_error("POST", "/v1/cluster", "{\"name\": \"c1\", \"address\": 7}", 400,
		     "invalid_parameter", "body.address");
	create_cluster();
	expect_error("POST", "/v1/cluster", "{\"name\": \"c2\"}", 409, "cluster_exists", "c1");
	cr_assert_eq(call("GET", "/v1/cluster", NULL, &j), 200);
	cr_expect_str_eq(json_string_value(json_object_get(j, "name")), "c1");
	cr_expect_eq(strlen(json_string_value(json_object_get(j, "id"))), 36);
	json_decref(j);
	cr_assert_eq(call("GET", "/v1/nodes", NULL, &j), 200);
	cr_assert_eq(json_array_size(j), 1);
	cr_expect_str_eq(json_string_value(json_object_get(json_array_get(j, 0), "name")), "n1");
	json_decref(j);
	cr_expect_eq(call("GET", "/v1/nodes/1", NULL, NULL), 200);
	expect_error("GET", "/v1/nodes/2", NULL, 404, "node_not_found", "node 2");
	cr_expect_eq(daemon_self(S.d), 1u);
}

Test(api, bdbs_create_follow_policy)
{
	json_t *j = NULL;

	create_cluster();
	cr_assert_eq(call("POST", "/v1/bdbs", "{\"name\": \"db1\"}", &j), 200);
	cr_expect_eq(json_integer_value(json_object_get(j, "uid")), 1);
	cr_expect(json_is_false(json_object_get(j, "data_internode_encryption")));
	json_decref(j);

	cr_assert_eq(call("PUT", "/v1/cluster/policy", "{\"data_internode_encryption\": true}",
			  &j), 200);
	cr_expect(json_is_true(json_object_get(j, "data_internode_encryption")));
	json_decref(j);
	cr_assert_eq(call("GET", "/v1/cluster/policy", NULL, &j), 200);
	cr_expect(json_is_true(json_object_get(j, "data_internode_encryption")));
	json_decref(j);

	cr_assert_eq(call("POST", "/v1/bdbs", "{\"name\": \"db2\"}", &j), 200);
	cr_expect_eq(json_integer_value(json_object_get(j, "uid")), 2);
	cr_expect(json_is_true(json_object_get(j, "data_internode_encryption")),
		  "a new database did not take the policy default");
	json_decref(j);
	/* An explicit setting wins over the policy. */
	cr_assert_eq(call("POST", "/v1/bdbs",
			  "{\"name\": \"db3\", \"data_internode_encryption\": false, \"uid\": 7,"
			  " \"targets\": [{\"name\": \"s1\", \"node\": 1, \"address\": \"127.0.0.1:6379\"}]}",
			  &j), 200);
	cr_expect(json_is_false(json_object_get(j, "data_internode_encryption")));
	cr_expect_eq(json_integer_value(json_object_get(j, "uid")), 7);
	json_decref(j);
	cr_assert_eq(call("GET", "/v1/bdbs", NULL, &j), 200);
	cr_expect_eq(json_array_size(j), 3);
	json_decref(j);
	/* The live config is what the API said, and it is on disk. */
	stop();
	cr_expect_eq(daemon_config(S.d)->n_bdbs, 3);
	cr_expect(daemon_config(S.d)->policy_encrypt);
	{
		struct config *disk = NULL;
		char err[CONFIG_ERR_MAX], path[128];

		snprintf(path, sizeof(path), "%s/config.json", S.dir);
		cr_assert_eq(config_load(path, &disk, err, sizeof(err)), 0, "%s", err);
		cr_expect_eq(disk->version, daemon_config(S.d)->version);
		cr_expect_eq(disk->n_bdbs, 3);
		config_free(disk);
	}
	teardown();
	cr_assert_eq(pipe(S.stop), 0);  /* fini runs stop/teardown again: re-arm */
	S.base = event_base_new();
	S.stop_ev = event_new(S.base, S.stop[0], EV_READ, on_stop, NULL);
	event_add(S.stop_ev, NULL);
	pthread_create(&S.thr, NULL, loop, NULL);
}

Test(api, bdbs_create_bad_input_changes_nothing)
{
	json_int_t v;

	create_cluster();
	cr_assert_eq(call("POST", "/v1/bdbs", "{\"name\": \"db1\"}", NULL), 200);
	v = version();
	expect_error("POST", "/v1/bdbs", "{\"name\": \"db2\"", 400, "invalid_json", "line 1");
	expect_error("POST", "/v1/bdbs", "[1]", 400, "invalid_json", "expected a JSON object");
	expect_error("POST", "/v1/bdbs", "", 400, "invalid_json", "missing");
	expect_error("POST", "/v1/bdbs", "{\"name\": \"db2\", \"name\": \"x\"}", 400,
		     "invalid_json", "duplicate");
	expect_error("POST", "/v1/bdbs", "{}", 400, "invalid_parameter", "body.name: missing");
	expect_error("POST", "/v1/bdbs", "{\"name\": \"db2\", \"memory_size\": 1}", 400,
		     "invalid_parameter", "body.memory_size: unknown field");
	expect_error("POST", "/v1/bdbs", "{\"name\": 5}", 400, "invalid_parameter",
		     "body.name: expected a string");
	expect_error("POST", "/v1/bdbs", "{\"name\": \"db2\", \"data_internode_encryption\": \"yes\"}",
		     400, "invalid_parameter", "body.data_internode_encryption");
	expect_error("POST", "/v1/bdbs", "{\"name\": \"db1\"}", 400, "invalid_config",
		     "\"db1\" used twice");
	expect_error("POST", "/v1/bdbs", "{\"name\": \"db2\", \"uid\": 1}", 409, "bdb_exists",
		     "database 1");
	expect_error("POST", "/v1/bdbs",
		     "{\"name\": \"db2\", \"targets\": [{\"name\": \"s\", \"node\": 4, "
		     "\"address\": \"10.0.0.1:1\"}]}", 400, "invalid_config", "targets[0].node: no node 4");
	expect_error("POST", "/v1/bdbs",
		     "{\"name\": \"db2\", \"targets\": [{\"name\": \"s\", \"node\": 1, "
		     "\"address\": \"h\"}]}", 400, "invalid_parameter", "body.targets[0].address");
	expect_error("POST", "/v1/bdbs",
		     "{\"name\": \"db2\", \"targets\": [{\"name\": \"s\", \"node\": 1, "
		     "\"address\": \"redis.local:6379\"}]}", 400, "invalid_parameter",
		     "not a numeric IPv4 or IPv6 address");
	cr_expect_eq(version(), v, "a refused request changed the configuration");
}

Test(api, bdb_get_put_delete)
{
	json_t *j = NULL;
	json_int_t v;

	create_cluster();
	cr_assert_eq(call("POST", "/v1/bdbs", "{\"name\": \"db1\"}", NULL), 200);
	v = version();
	cr_assert_eq(call("PUT", "/v1/bdbs/1", "{\"data_internode_encryption\": true}", &j), 200);
	cr_expect(json_is_true(json_object_get(j, "data_internode_encryption")));
	json_decref(j);
	cr_expect_eq(version(), v + 1, "a change must bump the version");
	cr_assert_eq(call("GET", "/v1/bdbs/1", NULL, &j), 200);
	cr_expect(json_is_true(json_object_get(j, "data_internode_encryption")));
	cr_expect_str_eq(json_string_value(json_object_get(j, "name")), "db1");
	json_decref(j);
	v = version();
	expect_error("PUT", "/v1/bdbs/2", "{\"data_internode_encryption\": true}", 404,
		     "bdb_not_found", "database 2");
	expect_error("GET", "/v1/bdbs/2", NULL, 404, "bdb_not_found", "database 2");
	expect_error("PUT", "/v1/bdbs/1", "{\"data_internode_encryption\": 1}", 400,
		     "invalid_parameter", "body.data_internode_encryption: expected true or false");
	expect_error("PUT", "/v1/bdbs/1", "{\"data_internode_encryption\": false, \"x\": 1}", 400,
		     "invalid_parameter", "body.x: unknown field");
	expect_error("PUT", "/v1/bdbs/1", "{}", 400, "invalid_parameter", "nothing to change");
	expect_error("PUT", "/v1/bdbs/1", "{\"uid\": 3}", 400, "invalid_parameter", "body.uid");
	expect_error("PUT", "/v1/bdbs/1", "nope", 400, "invalid_json", "body");
	cr_expect_eq(version(), v);
	cr_assert_eq(call("GET", "/v1/bdbs/1", NULL, &j), 200);
	cr_expect(json_is_true(json_object_get(j, "data_internode_encryption")),
		  "a refused PUT changed the database");
	json_decref(j);
	cr_expect_eq(call("DELETE", "/v1/bdbs/1", NULL, NULL), 200);
	expect_error("GET", "/v1/bdbs/1", NULL, 404, "bdb_not_found", "database 1");
}

Test(api, oversized_body_413)
{
	size_t n = 6000;  /* body_max is 4096 in this suite */
	char *big = malloc(n + 1);
	json_int_t v;

	create_cluster();
	v = version();
	memset(big, ' ', n);
	memcpy(big, "{\"name\": \"db1\"}", 15);
	big[n] = '\0';
	expect_error("POST", "/v1/bdbs", big, 413, "body_too_large", "limit 4096");
	free(big);
	/* Far beyond: libevent's own cap; still 413 and nothing changed. */
	n = 64 * 1024;
	big = malloc(n + 1);
	memset(big, ' ', n);
	big[n] = '\0';
	cr_expect_eq(call("POST", "/v1/bdbs", big, NULL), 413);
	free(big);
	cr_expect_eq(version(), v);
}

Test(api, policy_bad_input)
{
	create_cluster();
	expect_error("PUT", "/v1/cluster/policy", "{}", 400, "invalid_parameter",
		     "data_internode_encryption: missing");
	expect_error("PUT", "/v1/cluster/policy", "{\"data_internode_encryption\": null}", 400,
		     "invalid_parameter", "expected true or false");
	expect_error("PUT", "/v1/cluster/policy",
		     "{\"data_internode_encryption\": true, \"tls\": 1}", 400, "unknown_field",
		     "body.tls");
}

Test(api, certificates)
{
	static const char crt[] = "-----BEGIN CERTIFICATE-----\\nAAAA-cp\\n-----END CERTIFICATE-----\\n";
	static const char crt2[] = "-----BEGIN CERTIFICATE-----\\nBBBB-dp\\n-----END CERTIFICATE-----\\n";
	static const char key[] = "-----BEGIN PRIVATE KEY-----\\nKKKK\\n-----END PRIVATE KEY-----\\n";
	char body[1024];
	json_t *j = NULL;

	create_cluster();
	cr_assert_eq(call("GET", "/v1/cluster/certificates", NULL, &j), 200);
	cr_expect_str_eq(json_string_value(json_object_get(j, "mode")), "internal");
	cr_expect_null(json_object_get(j, "key"));
	json_decref(j);

	snprintf(body, sizeof(body),
		 "{\"certificates\": [{\"name\": \"ccs_internode_encryption\", \"key\": \"%s\","
		 " \"certificate\": \"%s\"}, {\"name\": \"data_internode_encryption\","
		 " \"key\": \"%s\", \"certificate\": \"%s\"}]}", key, crt, key, crt2);
	cr_expect_eq(call("PUT", "/v1/cluster/certificates", body, NULL), 200);
	cr_expect_eq(S.certs_calls, 1);
	cr_expect(!strncmp(S.certs_seen[0], "AAAA-cp", 7), "cp got %s", S.certs_seen[0]);
	cr_expect(!strncmp(S.certs_seen[1], "BBBB-dp", 7), "dp got %s", S.certs_seen[1]);

	/* PKI's refusal comes back as 400 with its message. */
	snprintf(body, sizeof(body),
		 "{\"certificates\": [{\"name\": \"ccs_internode_encryption\", "
		 "\"key\": \"-----BEGIN PRIVATE KEY-----WRONG\", \"certificate\": \"%s\"}]}", crt);
	expect_error("PUT", "/v1/cluster/certificates", body, 400, "invalid_certificate",
		     "key does not match");

	expect_error("PUT", "/v1/cluster/certificates", "{\"certificates\": []}", 400,
		     "invalid_parameter", "body.certificates");
	expect_error("PUT", "/v1/cluster/certificates", "{\"certs\": []}", 400, "unknown_field",
		     "body.certs");
	snprintf(body, sizeof(body),
		 "{\"certificates\": [{\"name\": \"proxy\", \"key\": \"%s\", \"certificate\": \"%s\"}]}",
		 key, crt);
	expect_error("PUT", "/v1/cluster/certificates", body, 400, "invalid_parameter",
		     "\"proxy\" is not");
	snprintf(body, sizeof(body),
		 "{\"certificates\": [{\"name\": \"data_internode_encryption\", \"key\": \"%s\","
		 " \"certificate\": \"%s\"}, {\"name\": \"data_internode_encryption\","
		 " \"key\": \"%s\", \"certificate\": \"%s\"}]}", key, crt, key, crt);
	expect_error("PUT", "/v1/cluster/certificates", body, 400, "invalid_parameter",
		     "given twice");
	snprintf(body, sizeof(body),
		 "{\"certificates\": [{\"name\": \"data_internode_encryption\", \"key\": \"%s\","
		 " \"certificate\": \"hello\"}]}", key);
	expect_error("PUT", "/v1/cluster/certificates", body, 400, "invalid_certificate",
		     "certificates[0].certificate: not a PEM certificate");
	snprintf(body, sizeof(body),
		 "{\"certificates\": [{\"name\": \"data_internode_encryption\", \"key\": 3,"
		 " \"certificate\": \"%s\"}]}", crt);
	expect_error("PUT", "/v1/cluster/certificates", body, 400, "invalid_parameter",
		     "certificates[0].key: expected a string");
	snprintf(body, sizeof(body),
		 "{\"certificates\": [{\"name\": \"data_internode_encryption\","
		 " \"certificate\": \"%s\"}]}", crt);
	expect_error("PUT", "/v1/cluster/certificates", body, 400, "invalid_parameter",
		     "needs name, key and certificate");
	cr_expect_eq(S.certs_calls, 2, "bad bodies must not reach PKI");
}

Test(api, certificates_rotate)
{
	json_t *j = NULL;

	create_cluster();
	cr_assert_eq(call("POST", "/v1/cluster/certificates/rotate", NULL, &j), 200);
	cr_expect_eq(json_integer_value(json_object_get(j, "generation")), 1);
	json_decref(j);
	cr_assert_eq(call("POST", "/v1/cluster/certificates/rotate", "", &j), 200);
	cr_expect_eq(json_integer_value(json_object_get(j, "generation")), 2);
	json_decref(j);
	expect_error("GET", "/v1/cluster/certificates/rotate", NULL, 405, "method_not_allowed",
		     "rotate");
}

Test(api, status_alerts_metrics)
{
	json_t *j = NULL, *n;
	char *text = NULL, err[128];
	long st = 0;

	create_cluster();
	cr_assert_eq(call("GET", "/v1/status", NULL, &j), 200);
	cr_expect_str_eq(json_string_value(json_object_get(j, "cluster_name")), "c1");
	n = json_array_get(json_object_get(j, "nodes"), 0);
	cr_assert(n != NULL);
	cr_expect_eq(json_integer_value(json_object_get(n, "uid")), 1);
	cr_expect_str_eq(json_string_value(json_object_get(n, "name")), "n1");
	cr_expect(json_is_array(json_object_get(n, "sessions")));
	cr_expect(json_is_object(json_object_get(n, "certificates")));
	/* This daemon has no control plane, so nothing listens on 3342. */
	cr_expect(json_is_null(json_object_get(n, "listener")));
	cr_expect_str_eq(json_string_value(json_object_get(n, "offload")),
			 daemon_ktls_available(S.d) ? "kernel" : "software");
	json_decref(j);

	cr_assert_eq(call("GET", "/v1/cluster/alerts", NULL, &j), 200);
	cr_expect(json_is_array(j));
	cr_expect_eq(json_array_size(j) > 0, !daemon_ktls_available(S.d),
		     "kTLS unavailability must raise exactly that alert");
	json_decref(j);

	cr_assert_eq(http_request(S.sock, "GET", "/metrics", NULL, &st, &text, NULL, err,
				  sizeof(err)), 0);
	cr_expect_eq(st, 200);
	cr_expect(strstr(text, "# TYPE ine_sessions gauge"));
	cr_expect(strstr(text, "ine_sessions{plane=\"data\",state=\"offloaded\"} 0"));
	cr_expect(strstr(text, "ine_config_version 1\n"), "%s", text);
	cr_expect(strstr(text, "ine_guard_dropped_total 0"));
	cr_expect(!strstr(text, "ine_listener_"), "no listener, no listener metrics");
	free(text);
}

Test(api, routes)
{
	json_t *j = NULL;

	create_cluster();
	cr_assert_eq(call("POST", "/v1/bdbs",
			  "{\"name\": \"db1\", \"targets\": [{\"name\": \"s1\", \"node\": 1,"
			  " \"address\": \"127.0.0.1:6379\"}]}", NULL), 200);
	cr_assert_eq(call("POST", "/v1/routes",
			  "{\"bdb\": 1, \"listen_port\": 16379, \"peer_node\": 1, \"target\": \"s1\"}",
			  &j), 200);
	cr_expect_eq(json_integer_value(json_object_get(j, "uid")), 1);
	/* One node, and it is the peer: valid, but nothing listens yet. */
	cr_expect(strstr(json_string_value(json_object_get(j, "warning")) ?: "",
			 "no node listens on port 16379"), "no warning for a route without listener");
	json_decref(j);
	expect_error("POST", "/v1/routes",
		     "{\"bdb\": 1, \"listen_port\": 3342, \"peer_node\": 1, \"target\": \"s1\"}",
		     400, "invalid_config", "internode port");
	expect_error("POST", "/v1/routes",
		     "{\"bdb\": 1, \"listen_port\": 16379, \"peer_node\": 1, \"target\": \"s1\"}",
		     400, "invalid_config", "16379 already used");
	expect_error("POST", "/v1/routes",
		     "{\"bdb\": 9, \"listen_port\": 16380, \"peer_node\": 1, \"target\": \"s1\"}",
		     404, "bdb_not_found", "database 9");
	expect_error("POST", "/v1/routes",
		     "{\"bdb\": 1, \"listen_port\": 16380, \"peer_node\": 1, \"target\": \"s2\"}",
		     400, "invalid_config", "no target \"s2\"");
	expect_error("POST", "/v1/routes", "{\"bdb\": 1, \"listen_port\": 16380}", 400,
		     "invalid_parameter", "body.peer_node: missing");
	expect_error("DELETE", "/v1/bdbs/1", NULL, 409, "bdb_in_use", "route 1");
	cr_assert_eq(call("GET", "/v1/routes", NULL, &j), 200);
	cr_expect_eq(json_array_size(j), 1);
	json_decref(j);
	cr_expect_eq(call("GET", "/v1/routes/1", NULL, NULL), 200);
	cr_expect_eq(call("DELETE", "/v1/routes/1", NULL, NULL), 200);
	expect_error("DELETE", "/v1/routes/1", NULL, 404, "route_not_found", "route 1");
}

/* The control plane's redirect: the commit hook defers, completes later. */
static void finish_held(evutil_socket_t fd, short what, void *arg)
{
	char err[CONFIG_ERR_MAX] = "";
	int rc;

	(void)fd;
	(void)what;
	(void)arg;
	rc = daemon_config_apply(S.d, S.held_cfg, err, sizeof(err));
	api_req_done(S.held, rc, err);
}

static int hold_commit(void *arg, struct api_req *req, struct config *next, char *err,
		       size_t errlen)
{
	struct timeval tv = { 0, 50000 };

	(void)arg;
	(void)err;
	(void)errlen;
	S.held = req;
	S.held_cfg = next;
	event_base_once(S.base, -1, EV_TIMEOUT, finish_held, NULL, &tv);
	return API_PENDING;
}

static int refuse_commit(void *arg, struct api_req *req, struct config *next, char *err,
			 size_t errlen)
{
	(void)arg;
	(void)req;
	config_free(next);
	snprintf(err, errlen, "primary node 1 is unreachable");
	return -EAGAIN;
}

Test(api, commit_hook_async_and_refusal)
{
	json_t *j = NULL;

	create_cluster();
	daemon_set_commit_hook(S.d, hold_commit, NULL);
	cr_assert_eq(call("POST", "/v1/bdbs", "{\"name\": \"db1\"}", &j), 200);
	cr_expect_eq(json_integer_value(json_object_get(j, "uid")), 1);
	json_decref(j);
	cr_expect_eq(call("GET", "/v1/bdbs/1", NULL, NULL), 200);
	daemon_set_commit_hook(S.d, refuse_commit, NULL);
	expect_error("POST", "/v1/bdbs", "{\"name\": \"db2\"}", 503, "unavailable",
		     "primary node 1 is unreachable");
	daemon_set_commit_hook(S.d, NULL, NULL);
	expect_error("GET", "/v1/bdbs/2", NULL, 404, "bdb_not_found", "database 2");
}

/* The control plane's peer list becomes node entries shaped like ours. */
static json_t *fake_peers(void *arg)
{
	(void)arg;
	return json_pack("[{s:i, s:s, s:s, s:b, s:b, s:{s:i, s:s, s:s, s:[]}, s:i},"
			 " {s:i, s:s, s:s, s:b, s:b, s:n, s:s}]",
			 "node_id", 2, "name", "n2", "address", "10.0.0.2", "primary", 0,
			 "connected", 1, "status", "uid", 2, "name", "n2", "offload", "kernel",
			 "sessions", "status_age_s", 3,
			 "node_id", 3, "name", "n3", "address", "10.0.0.3", "primary", 0,
			 "connected", 0, "status", "error", "connection refused");
}

Test(api, status_includes_peers)
{
	json_t *j = NULL, *n;

	create_cluster();
	daemon_set_status_peers(S.d, fake_peers, NULL);
	cr_assert_eq(call("GET", "/v1/status", NULL, &j), 200);
	cr_assert_eq(json_array_size(json_object_get(j, "nodes")), 3);
	n = json_array_get(json_object_get(j, "nodes"), 1);
	cr_expect_eq(json_integer_value(json_object_get(n, "uid")), 2);
	cr_expect_str_eq(json_string_value(json_object_get(n, "offload")), "kernel");
	cr_expect(json_is_true(json_object_get(n, "reachable")));
	cr_expect_eq(json_integer_value(json_object_get(n, "status_age_s")), 3);
	n = json_array_get(json_object_get(j, "nodes"), 2);
	cr_expect_eq(json_integer_value(json_object_get(n, "uid")), 3);
	cr_expect_str_eq(json_string_value(json_object_get(n, "name")), "n3");
	cr_expect(json_is_false(json_object_get(n, "reachable")));
	cr_expect(json_is_false(json_object_get(n, "connected")), "control plane fields kept");
	cr_expect_str_eq(json_string_value(json_object_get(n, "error")), "connection refused");
	json_decref(j);
}
