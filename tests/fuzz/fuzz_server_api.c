/* tests/fuzz/fuzz_server_api.c — libFuzzer harness for mamori-server's
 * request bodies (fuzz program): the real routing and handlers
 * (server-api/api_device.c, api_enroll.c, api_admin.c) on a real SQLite
 * store, called in-process through http_local_request (no socket, no TLS).
 * Set up once: a data directory under /tmp, an account bootstrapped and
 * logged in, one terminal enrolled with a real CSR, whose certificate
 * stands for the verified TLS client certificate of the device API.
 *
 * Input: byte 0 picks the endpoint, the rest is the body —
 *   0 POST /api/v1/checkin   1 POST /api/v1/events   2 POST /api/v1/renew
 *   (device API, as the enrolled terminal)   3 POST /enroll/v1 (enrollment)
 *   4..9 the admin API as the logged-in CISO: login, accounts,
 *   enrollment-tokens, api-tokens, PUT groups/fuzz/policy, bootstrap
 *   10 POST /api/v1/events with Content-Encoding: gzip, 11 POST /admin/v1/groups,
 *   12 POST /api/v1/commands/poll (device), 13 POST /admin/v1/commands,
 *   14 POST /admin/v1/media, 15 PUT /admin/v1/terminals/fuzz-1/department,
 *   16 POST /admin/v1/password (wrong old password: the body is read, the
 *   password never changes), 17 POST /admin/v1/terminals/fuzz-none/revoke,
 *   18 POST /admin/v1/media/FUZZ-NONE/retire (both read the body before the
 *   404), 19..33 POST /admin/v1/requests/{id}/approve|reject|acknowledge
 *   (api_request.c) on the five requests made at set-up through the real
 *   ingestion of uploaded records (api_request_ingest): 19 + 3 × request +
 *   step, requests 0 device with storage, 1 device without (no "ro"),
 *   2 carry-out, 3 exception (MEDIA-1), 4 emergency use (acknowledged);
 *   steps 0 approve, 1 reject, 2 acknowledge. 34..38 POST
 *   /admin/v1/requests/{id}/revoke on requests 0..4, each approved for a
 *   week first (the emergency use left pending_ack: revoked is wrong_kind).
 *   A decided request is put back to pending after each input, so every
 *   input meets the same state.
 *   "@UNTIL@" in a request-step body stands for a time a week ahead (RFC
 *   3339), so seeds that approve keep approving whatever the date. The
 *   media CSV import has its own harness (fuzz_server_media_csv).
 * Terminal bodies with members the API does not declare are refused (400
 * unknown_field): seeds *-unknown-field* keep that path covered; a member
 * named twice anywhere (400 duplicate_field): seeds *-duplicate*.
 * Properties: no crash, no sanitizer report; every answer is one JSON
 * object (or empty) with a status in 200..499 or 503 — never 500. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/pem.h>

#include "api_admin.h"
#include "api_command.h"
#include "api_device.h"
#include "api_enroll.h"
#include "api_media.h"
#include "api_request.h"
#include "enroll.h"
#include "http.h"
#include "log.h"
#include "server.h"
#include "store.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct server *srv;
static X509 *peer;
static char bearer[CRYPTO_TOKEN_MAX + 16];
static char datadir[] = "/tmp/mamori-fuzz-server.XXXXXX";
static const struct http_route *const dev_tables[] = {api_device_routes, NULL};
static const struct http_route *const adm_tables[] = {api_enroll_routes,  api_admin_routes, api_command_routes,
                                                      api_request_routes, api_media_routes, NULL};
static size_t dev_sizes[1], adm_sizes[5];
static struct http_listener_options dev_o = {
        .max_body = SERVER_BODY_MAX, .tables = dev_tables, .table_sizes = dev_sizes};
static struct http_listener_options adm_o = {
        .max_body = SERVER_POLICY_MAX + 4096, .tables = adm_tables, .table_sizes = adm_sizes};

static void cleanup(void)
{
	char cmd[128];

	if (srv)
		api_device_fini(srv);
	server_free(srv);
	X509_free(peer);
	/* only the directory made above, only under /tmp */
	if (snprintf(cmd, sizeof(cmd), "rm -rf --one-file-system '%s'", datadir) < (int)sizeof(cmd) &&
	    strncmp(datadir, "/tmp/mamori-fuzz-server.", 24) == 0 && system(cmd) != 0)
		fprintf(stderr, "fuzz_server_api: cannot remove %s\n", datadir);
}

/* A request that must succeed during set-up; returns the answer parsed. */
static cJSON *must(const struct http_listener_options *o, unsigned m, const char *uri, const char *body, int want)
{
	const char *h[] = {"Authorization", bearer, NULL};
	struct http_local_reply rep;
	cJSON *j;

	if (http_local_request(o, m, uri, bearer[0] ? h : NULL, body, strlen(body), NULL, &rep) < 0 ||
	    rep.code != want || !(j = cJSON_ParseWithLength(rep.body, rep.len))) {
		fprintf(stderr, "fuzz_server_api: set-up %s: HTTP %d %s\n", uri, rep.code, rep.body ? rep.body : "");
		abort();
	}
	http_local_reply_clear(&rep);
	return j;
}

/* The five requests (see above), made from uploaded journal records as
 * api_device.c hands them over after an upload; their server ids in req_ids. */
#define FUZZ_UNTIL_FAR "4102444800" /* 2100-01-01: the requests' own bound */
static const char *const req_records[] = {
        ("{\"type\":\"request.created\",\"seq\":1,\"payload\":{\"kind\":\"device\",\"user\":\"tanaka\","
         "\"request_id\":\"00000000000000000000000000000001\",\"device\":{\"hash\":"
         "\"1111111111111111111111111111111111111111111111111111111111111111\",\"interfaces\":[\"08:06:50\"]}}}"),
        ("{\"type\":\"request.created\",\"seq\":2,\"payload\":{\"kind\":\"device\",\"user\":\"tanaka\","
         "\"request_id\":\"00000000000000000000000000000002\",\"device\":{\"hash\":"
         "\"2222222222222222222222222222222222222222222222222222222222222222\",\"interfaces\":[\"03:01:01\"]}}}"),
        ("{\"type\":\"request.created\",\"seq\":3,\"payload\":{\"kind\":\"carry-out\",\"user\":\"tanaka\","
         "\"request_id\":\"00000000000000000000000000000003\",\"medium\":{\"vendor\":\"0781\",\"product\":"
         "\"5581\",\"serial\":\"4C530001\"},\"until\":" FUZZ_UNTIL_FAR "}}"),
        ("{\"type\":\"request.created\",\"seq\":4,\"payload\":{\"kind\":\"exception\",\"user\":\"tanaka\","
         "\"request_id\":\"00000000000000000000000000000004\",\"requirement\":\"MEDIA-1\",\"until\":" FUZZ_UNTIL_FAR
         "}}"),
        ("{\"type\":\"exception.applied\",\"seq\":5,\"payload\":{\"kind\":\"emergency\",\"id\":\"em-1\","
         "\"person\":\"tanaka\"}}"),
};
#define N_REQ (sizeof(req_records) / sizeof(req_records[0]))
static char req_ids[N_REQ][33];

static int note_request(const struct store_request *q, void *userdata)
{
	(void)userdata;
	if (q->seq >= 1 && q->seq <= N_REQ)
		memcpy(req_ids[q->seq - 1], q->id, sizeof(req_ids[0]));
	return 0;
}

static void make_requests(void)
{
	cJSON *recs = cJSON_CreateArray();

	for (size_t i = 0; i < N_REQ; i++)
		if (!cJSON_AddItemToArray(recs, cJSON_Parse(req_records[i])))
			abort();
	api_request_ingest(srv, "fuzz-1", recs, N_REQ);
	cJSON_Delete(recs);
	if (STORE_CALL(srv->store, request_list, NULL, 100, note_request, NULL) < 0)
		abort();
	for (size_t i = 0; i < N_REQ; i++)
		if (!req_ids[i][0])
			abort(); /* the ingestion refused a record the harness relies on */
}

/* Back to what set-up made: pending (an emergency use: pending_ack). */
static void reset_request(size_t i)
{
	struct store_request *q = malloc(sizeof(*q));
	char from[sizeof(q->status)];

	if (!q || STORE_CALL(srv->store, request_get, req_ids[i], q) < 0)
		abort();
	if (strcmp(q->status, strcmp(q->kind, "emergency") == 0 ? "pending_ack" : "pending") != 0) {
		memcpy(from, q->status, sizeof(from));
		(void)snprintf(q->status, sizeof(q->status), "%s",
		               strcmp(q->kind, "emergency") == 0 ? "pending_ack" : "pending");
		q->scope[0] = q->decided_by[0] = '\0';
		(void)snprintf(q->decision, sizeof(q->decision), "{}");
		q->not_after = q->decided_us = 0;
		if (STORE_CALL(srv->store, request_decide, q, from, NULL) < 0)
			abort();
	}
	free(q);
}

/* What a revocation needs to find: the request approved, in force for a
 * week (an emergency use stays pending_ack). */
static void approve_request(size_t i)
{
	struct store_request *q = malloc(sizeof(*q));
	char from[sizeof(q->status)];

	if (!q || STORE_CALL(srv->store, request_get, req_ids[i], q) < 0)
		abort();
	if (strcmp(q->kind, "emergency") != 0) {
		memcpy(from, q->status, sizeof(from));
		(void)snprintf(q->status, sizeof(q->status), "approved");
		(void)snprintf(q->scope, sizeof(q->scope), "terminal");
		(void)snprintf(q->decided_by, sizeof(q->decided_by), "approver");
		(void)snprintf(q->decision, sizeof(q->decision),
		               "{\"scope\":\"terminal\",\"person\":\"anyone\",\"access\":\"rw\",\"until\":\"x\"}");
		q->decided_us = (int64_t)time(NULL) * 1000000;
		q->not_after = (int64_t)time(NULL) + 7 * 86400;
		if (STORE_CALL(srv->store, request_decide, q, from, NULL) < 0)
			abort();
	}
	free(q);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct server_config cfg = {.timeout_s = 30,
	                            .device_cert_seconds = 365LL * 86400,
	                            .checkin_interval_s = 300,
	                            .session_seconds = 8 * 3600,
	                            .web_idle_s = 900,
	                            .names = {"localhost", NULL}};
	char secret[CRYPTO_TOKEN_MAX], body[4096];
	_cleanup_free_ char *key = NULL, *csr = NULL;
	cJSON *j;
	BIO *b;

	(void)argc, (void)argv;
	log_open("fuzz_server_api", false, LOG_CRIT);
	if (!mkdtemp(datadir))
		abort();
	atexit(cleanup);
	(void)snprintf(cfg.data_dir, sizeof(cfg.data_dir), "%s", datadir);
	(void)snprintf(cfg.device_url, sizeof(cfg.device_url), "https://127.0.0.1:1");
	if (server_init(&cfg, false, &srv, secret) < 0 || api_device_init(srv) < 0 || !secret[0])
		abort();
	dev_o.userdata = adm_o.userdata = srv;
	dev_sizes[0] = api_device_routes_n;
	adm_sizes[0] = api_enroll_routes_n;
	adm_sizes[1] = api_admin_routes_n;
	adm_sizes[2] = api_command_routes_n;
	adm_sizes[3] = api_request_routes_n;
	adm_sizes[4] = api_media_routes_n;

	(void)snprintf(body, sizeof(body),
	               "{\"secret\":\"%s\",\"username\":\"ciso\",\"password\":\"fuzz-password-123\"}", secret);
	cJSON_Delete(must(&adm_o, HTTP_POST, "/admin/v1/bootstrap", body, 201));
	j = must(&adm_o, HTTP_POST, "/admin/v1/login", "{\"username\":\"ciso\",\"password\":\"fuzz-password-123\"}",
	         200);
	(void)snprintf(bearer, sizeof(bearer), "Bearer %s",
	               cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "token")));
	cJSON_Delete(j);
	cJSON_Delete(must(&adm_o, HTTP_POST, "/admin/v1/groups", "{\"name\":\"fuzz\"}", 201));
	j = must(&adm_o, HTTP_POST, "/admin/v1/enrollment-tokens", "{\"group\":\"fuzz\"}", 201);
	if (enroll_make_key_csr("fuzz-1", &key, &csr) < 0)
		abort();
	{
		cJSON *e = cJSON_CreateObject();
		char *s;

		cJSON_AddStringToObject(e, "token", cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "token")));
		cJSON_AddStringToObject(e, "csr", csr);
		cJSON_AddStringToObject(e, "terminal_id", "fuzz-1");
		s = cJSON_PrintUnformatted(e);
		cJSON_Delete(e);
		cJSON_Delete(j);
		j = must(&adm_o, HTTP_POST, "/enroll/v1", s, 201);
		free(s);
	}
	b = BIO_new_mem_buf(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "certificate")), -1);
	peer = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	cJSON_Delete(j);
	if (!peer)
		abort();
	make_requests();
	return 0;
}

static const struct {
	bool device;
	unsigned method;
	const char *uri;
	bool gzip;
} endpoints[] = {
        {true, HTTP_POST, "/api/v1/checkin", false},
        {true, HTTP_POST, "/api/v1/events", false},
        {true, HTTP_POST, "/api/v1/renew", false},
        {false, HTTP_POST, "/enroll/v1", false},
        {false, HTTP_POST, "/admin/v1/login", false},
        {false, HTTP_POST, "/admin/v1/accounts", false},
        {false, HTTP_POST, "/admin/v1/enrollment-tokens", false},
        {false, HTTP_POST, "/admin/v1/api-tokens", false},
        {false, HTTP_PUT, "/admin/v1/groups/fuzz/policy", false},
        {false, HTTP_POST, "/admin/v1/bootstrap", false},
        {true, HTTP_POST, "/api/v1/events", true},
        {false, HTTP_POST, "/admin/v1/groups", false},
        {true, HTTP_POST, "/api/v1/commands/poll", false},
        {false, HTTP_POST, "/admin/v1/commands", false},
        {false, HTTP_POST, "/admin/v1/media", false},
        {false, HTTP_PUT, "/admin/v1/terminals/fuzz-1/department", false},
        {false, HTTP_POST, "/admin/v1/password", false},
        {false, HTTP_POST, "/admin/v1/terminals/fuzz-none/revoke", false},
        {false, HTTP_POST, "/admin/v1/media/FUZZ-NONE/retire", false},
};
#define N_ENDPOINTS (sizeof(endpoints) / sizeof(endpoints[0]))
static const char *const steps[] = {"approve", "reject", "acknowledge"};

/* A request-step body with "@UNTIL@" replaced by a week from now. */
static char *with_until(const uint8_t *data, size_t size, size_t *ret_len)
{
	static const char mark[] = "@UNTIL@";
	char until[32];
	time_t t = time(NULL) + 7 * 86400;
	struct tm tm;
	char *out = malloc(size * 4 + 1), *o = out;

	if (!out || !gmtime_r(&t, &tm) || !strftime(until, sizeof(until), "%Y-%m-%dT%H:%M:%SZ", &tm))
		abort();
	for (size_t i = 0; i < size;)
		if (size - i >= sizeof(mark) - 1 && memcmp(data + i, mark, sizeof(mark) - 1) == 0) {
			o = mempcpy(o, until, strlen(until)); /* 20 bytes for 7: within size * 4 */
			i += sizeof(mark) - 1;
		} else
			*o++ = (char)data[i++];
	*ret_len = (size_t)(o - out);
	return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *hdr[] = {"Authorization", bearer, NULL, NULL, NULL};
	struct http_local_reply rep;
	char uri[128];
	cJSON *j;
	unsigned e;
	int r;

	if (size < 1)
		return 0;
	e = data[0] % (N_ENDPOINTS + 4 * N_REQ);
	if (e >= N_ENDPOINTS + 3 * N_REQ) { /* a revocation of one of the five, approved first */
		size_t q = e - N_ENDPOINTS - 3 * N_REQ;

		approve_request(q);
		(void)snprintf(uri, sizeof(uri), "/admin/v1/requests/%s/revoke", req_ids[q]);
		r = http_local_request(&adm_o, HTTP_POST, uri, hdr, (const char *)data + 1, size - 1, NULL, &rep);
		reset_request(q);
	} else if (e >= N_ENDPOINTS) { /* a step of the request API on one of the five */
		size_t q = (e - N_ENDPOINTS) / 3, len;
		char *body = with_until(data + 1, size - 1, &len);

		(void)snprintf(uri, sizeof(uri), "/admin/v1/requests/%s/%s", req_ids[q], steps[(e - N_ENDPOINTS) % 3]);
		r = http_local_request(&adm_o, HTTP_POST, uri, hdr, body, len, NULL, &rep);
		free(body);
		reset_request(q);
	} else {
		if (endpoints[e].gzip) {
			hdr[2] = "Content-Encoding";
			hdr[3] = "gzip";
		}
		(void)snprintf(uri, sizeof(uri), "%s", endpoints[e].uri);
		r = http_local_request(endpoints[e].device ? &dev_o : &adm_o, endpoints[e].method, uri, hdr, data + 1,
		                       size - 1, endpoints[e].device ? peer : NULL, &rep);
	}
	if (r < 0)
		return 0;
	if (getenv("MAMORI_FUZZ_VERBOSE")) /* what a seed reaches */
		fprintf(stderr, "%s %d %.120s\n", uri, rep.code, rep.body ? rep.body : "");
	if (rep.code < 200 || (rep.code >= 500 && rep.code != 503))
		__builtin_trap(); /* 500: a handler failed on input it should have refused */
	if (rep.len) {
		j = cJSON_ParseWithLength(rep.body, rep.len);
		if (!cJSON_IsObject(j))
			__builtin_trap();
		cJSON_Delete(j);
	}
	http_local_reply_clear(&rep);
	(void)api_device_flush(srv);
	return 0;
}
