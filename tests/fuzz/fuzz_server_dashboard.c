/* tests/fuzz/fuzz_server_dashboard.c — libFuzzer harness for what the
 * dashboard's side of mamori-server parses (fuzz program): the query strings
 * of /admin/v1/dashboard/{terminals,events,report} (api_dashboard.c,
 * api_report.c), the body of PUT /admin/v1/dashboard/clauses/{ID}, and the
 * session cookie with the CSRF header (api_web.c), through the real routing
 * (http_local_request) on a real SQLite store with one bootstrapped CISO.
 *
 * Input: byte 0 picks the target, the rest is the query, body or cookie:
 *   0 terminals?…  1 events?…  2 report?…  3 PUT clauses/LOCK-1 body
 *   4 Cookie: header to /admin/v1/dashboard/me (X-Mamori-CSRF: 1)
 * Properties: no crash, no sanitizer report; a status in 200..499 or 503,
 * never 500; a JSON answer is one object. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "api_admin.h"
#include "api_dashboard.h"
#include "api_device.h"
#include "api_report.h"
#include "api_web.h"
#include "http.h"
#include "log.h"
#include "server.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct server *srv;
static char bearer[CRYPTO_TOKEN_MAX + 16];
static char datadir[] = "/tmp/mamori-fuzz-dash.XXXXXX";
static const struct http_route *const tables[] = {api_admin_routes, api_dashboard_routes, api_report_routes,
                                                  api_web_routes, NULL};
static size_t sizes[4];
static struct http_listener_options o = {.max_body = 65536, .tables = tables, .table_sizes = sizes};

static void cleanup(void)
{
	char cmd[128];

	if (srv)
		api_device_fini(srv);
	server_free(srv);
	if (snprintf(cmd, sizeof(cmd), "rm -rf --one-file-system '%s'", datadir) < (int)sizeof(cmd) &&
	    strncmp(datadir, "/tmp/mamori-fuzz-dash.", 22) == 0 && system(cmd) != 0)
		fprintf(stderr, "fuzz_server_dashboard: cannot remove %s\n", datadir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct server_config cfg = {.timeout_s = 30,
	                            .device_cert_seconds = 365LL * 86400,
	                            .checkin_interval_s = 300,
	                            .session_seconds = 8 * 3600,
	                            .web_idle_s = 900,
	                            .names = {"localhost", NULL}};
	char secret[CRYPTO_TOKEN_MAX], body[512];
	struct http_local_reply rep;
	cJSON *j;

	(void)argc, (void)argv;
	log_open("fuzz_server_dashboard", false, LOG_CRIT);
	if (!mkdtemp(datadir))
		abort();
	atexit(cleanup);
	(void)snprintf(cfg.data_dir, sizeof(cfg.data_dir), "%s", datadir);
	if (server_init(&cfg, false, &srv, secret) < 0 || api_device_init(srv) < 0 || !secret[0])
		abort();
	o.userdata = srv;
	sizes[0] = api_admin_routes_n, sizes[1] = api_dashboard_routes_n, sizes[2] = api_report_routes_n;
	sizes[3] = api_web_routes_n;
	(void)snprintf(body, sizeof(body),
	               "{\"secret\":\"%s\",\"username\":\"ciso\",\"password\":\"fuzz-password-123\"}", secret);
	if (http_local_request(&o, HTTP_POST, "/admin/v1/bootstrap", NULL, body, strlen(body), NULL, &rep) < 0 ||
	    rep.code != 201)
		abort();
	http_local_reply_clear(&rep);
	(void)snprintf(body, sizeof(body), "{\"username\":\"ciso\",\"password\":\"fuzz-password-123\"}");
	if (http_local_request(&o, HTTP_POST, "/admin/v1/login", NULL, body, strlen(body), NULL, &rep) < 0 ||
	    rep.code != 200 || !(j = cJSON_ParseWithLength(rep.body, rep.len)))
		abort();
	(void)snprintf(bearer, sizeof(bearer), "Bearer %s",
	               cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "token")));
	cJSON_Delete(j);
	http_local_reply_clear(&rep);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const paths[] = {"/admin/v1/dashboard/terminals", "/admin/v1/dashboard/events",
	                                    "/admin/v1/dashboard/report"};
	const char *hdr[] = {"Authorization", bearer, NULL, NULL, NULL, NULL};
	char uri[2048], cookie[1024];
	struct http_local_reply rep;
	unsigned m = HTTP_GET, e;
	const void *body = NULL;
	size_t blen = 0;

	if (size < 1 || size > 1000)
		return 0;
	e = data[0] % 5;
	if (e < 3) {
		(void)snprintf(uri, sizeof(uri), "%s?%.*s", paths[e], (int)(size - 1), (const char *)data + 1);
		if (strlen(uri) != strlen(paths[e]) + size) /* a NUL inside: no such URI on the wire */
			return 0;
	} else if (e == 3) {
		(void)snprintf(uri, sizeof(uri), "/admin/v1/dashboard/clauses/LOCK-1");
		m = HTTP_PUT, body = data + 1, blen = size - 1;
	} else {
		(void)snprintf(uri, sizeof(uri), "/admin/v1/dashboard/me");
		(void)snprintf(cookie, sizeof(cookie), "%.*s", (int)(size - 1), (const char *)data + 1);
		hdr[0] = "Cookie", hdr[1] = cookie, hdr[2] = API_WEB_CSRF_HEADER, hdr[3] = "1";
	}
	if (http_local_request(&o, m, uri, hdr, body, blen, NULL, &rep) < 0)
		return 0;
	if (getenv("MAMORI_FUZZ_VERBOSE"))
		fprintf(stderr, "%s %d %.120s\n", uri, rep.code, rep.body ? rep.body : "");
	if (rep.code < 200 || (rep.code >= 500 && rep.code != 503))
		__builtin_trap();
	if (rep.len && rep.body[0] == '{') {
		cJSON *j = cJSON_ParseWithLength(rep.body, rep.len);

		if (!cJSON_IsObject(j))
			__builtin_trap();
		cJSON_Delete(j);
	}
	http_local_reply_clear(&rep);
	return 0;
}
