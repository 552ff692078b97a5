/* server-api/api_media.c — the media register (台帳) on the admin listener
 * (mamori-server; MEDIA-6, issue 16.5): list, add, retire, CSV import and
 * export under /admin/v1/media. Reading needs any role; changing needs an
 * operational role (operator, ciso) as terminals' revocation does. Every
 * change, refused or done, and every export is in the audit trail. Whether
 * a medium was sanitised comes from the terminals' journals
 * (store_media.sanitized_*), never from a request. The carry-out register
 * (/admin/v1/carry-outs, CARRY-2, issue 16.4) joins each uploaded carry.out
 * with the approved request it names and the register's medium. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc-util.h"
#include "api_admin.h"
#include "api_media.h"
#include "json-util.h"
#include "media_csv.h"
#include "server.h"
#include "store.h"
#include "strutil.h"

#define MEDIA_CSV_BODY_MAX (1024 * 1024)

/* The Japan-time calendar date and time of a time in microseconds. */
static void jst(int64_t us, char date[11], char when[32])
{
	time_t t = (time_t)(us / 1000000) + 9 * 3600;
	struct tm tm;

	if (!gmtime_r(&t, &tm)) {
		date[0] = when[0] = 0;
		return;
	}
	if (date)
		(void)strftime(date, 11, "%Y-%m-%d", &tm);
	if (when)
		(void)strftime(when, 32, "%Y-%m-%d %H:%M:%S JST", &tm);
}

static int media_cb(const struct store_media *m, void *userdata)
{
	cJSON *arr = userdata, *o = cJSON_CreateObject(), *id, *s;
	char t[32];

	if (!o || !cJSON_AddItemToArray(arr, o))
		return -ENOMEM;
	cJSON_AddStringToObject(o, "management_no", m->mgmt_no);
	cJSON_AddStringToObject(o, "department", m->department);
	cJSON_AddStringToObject(o, "owner", m->owner);
	id = cJSON_AddObjectToObject(o, "identity");
	if (!id)
		return -ENOMEM;
	cJSON_AddStringToObject(id, "vendor", m->vendor);
	cJSON_AddStringToObject(id, "product", m->product);
	cJSON_AddStringToObject(id, "serial", m->serial);
	cJSON_AddStringToObject(o, "registered", m->registered);
	if (m->retired[0])
		cJSON_AddStringToObject(o, "retired", m->retired);
	else
		cJSON_AddNullToObject(o, "retired");
	cJSON_AddStringToObject(o, "registered_by", m->created_by);
	if (!m->sanitized_us) {
		cJSON_AddNullToObject(o, "sanitized");
		return 0;
	}
	s = cJSON_AddObjectToObject(o, "sanitized");
	if (!s)
		return -ENOMEM;
	server_format_time(m->sanitized_us, t);
	cJSON_AddStringToObject(s, "time", t);
	cJSON_AddStringToObject(s, "terminal_id", m->sanitized_terminal);
	cJSON_AddNumberToObject(s, "seq", (double)m->sanitized_seq);
	cJSON_AddStringToObject(s, "method", m->sanitized_method);
	cJSON_AddStringToObject(s, "operator", m->sanitized_by);
	return 0;
}

static void refuse(struct http_req *req, int code, const char *error, const char *ja, const char *en,
                   const char *detail)
{
	_cleanup_json_ cJSON *x = detail ? cJSON_CreateObject() : NULL;

	if (x)
		cJSON_AddStringToObject(x, "detail", detail);
	http_reply_error(req, code, error, ja, en, x);
}

/* GET: the register; POST: one medium (JSON) */
static void handle_media(void *userdata, struct http_req *req)
{
	struct server *srv = userdata;
	char actor[API_ACTOR_MAX], err[MEDIA_CSV_ERR_MAX], today[11];
	_cleanup_json_ cJSON *body = NULL, *out = NULL;
	struct store_media m = {0};
	const cJSON *id, *it;
	size_t bad = 0;
	int r;

	if (http_req_method(req) == HTTP_GET) {
		cJSON *arr;

		if (api_admin_auth(srv, req, API_PERM_READ, actor, NULL) < 0)
			return;
		out = cJSON_CreateObject();
		if (!out || !(arr = cJSON_AddArrayToObject(out, "media")))
			return api_admin_no_memory(req);
		r = STORE_CALL(srv->store, media_list, media_cb, arr);
		if (r < 0)
			return r == -ENOMEM ? api_admin_no_memory(req) : api_admin_store_failed(req, r);
		return http_reply_json(req, 200, out);
	}
	if (api_admin_auth(srv, req, API_PERM_OPERATE, actor, NULL) < 0)
		return;
	r = http_req_json(req, 64 * 1024, &body);
	if (r < 0)
		return http_reply_body_error(req, r);
	/* exact: these members, each a string (identity: an object of three) */
	id = cJSON_GetObjectItemCaseSensitive(body, "identity");
	r = cJSON_IsObject(body) && cJSON_IsObject(id) ? 0 : -EINVAL;
	const cJSON *bo = cJSON_IsObject(body) ? body : NULL, *io = cJSON_IsObject(id) ? id : NULL;

	cJSON_ArrayForEach(it, bo)
	{
		static const char *const keys[] = {"management_no", "department", "owner", "registered", NULL};
		bool known = strcmp(it->string, "identity") == 0;

		for (const char *const *k = keys; *k && !known; k++)
			known = strcmp(it->string, *k) == 0 && cJSON_IsString(it);
		if (!known)
			r = -EINVAL;
	}
	cJSON_ArrayForEach(it, io)
	{
		if (!cJSON_IsString(it) || (strcmp(it->string, "vendor") != 0 && strcmp(it->string, "product") != 0 &&
		                            strcmp(it->string, "serial") != 0))
			r = -EINVAL;
	}
#define COPY(f, o, k)                                                                                                  \
	do {                                                                                                           \
		const char *v_ = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));                         \
		if (r == 0 && v_ && strscpy(m.f, sizeof(m.f), v_) < 0)                                                 \
			r = -EINVAL;                                                                                   \
		if (r == 0 && !v_ && strcmp(k, "registered") != 0)                                                     \
			r = -EINVAL;                                                                                   \
	} while (0)
	COPY(mgmt_no, body, "management_no");
	COPY(department, body, "department");
	COPY(owner, body, "owner");
	COPY(registered, body, "registered");
	COPY(vendor, id, "vendor");
	COPY(product, id, "product");
	COPY(serial, id, "serial");
#undef COPY
	jst(server_now_us(), today, NULL);
	if (r < 0)
		(void)strscpy(err, sizeof(err),
		              "management_no, department, owner, identity {vendor, product, serial} (and registered) "
		              "are required, nothing else, within their lengths");
	else
		r = media_check(&m, today, err, sizeof(err));
	if (r < 0) {
		server_audit(srv, actor, "media.add", m.mgmt_no, "refused", err);
		return refuse(req, 400, "invalid", "媒体の記載が不正です", "the medium is not valid", err);
	}
	r = STORE_CALL(srv->store, media_add, &m, 1, actor, server_now_us(), &bad);
	if (r == -EEXIST) {
		server_audit(srv, actor, "media.add", m.mgmt_no, "refused", "exists");
		return refuse(req, 409, "exists", "その管理番号か、廃止されていない同じ識別子の媒体がすでにあります",
		              "the management number, or an unretired medium of this identity, exists", NULL);
	}
	if (r < 0)
		return api_admin_store_failed(req, r);
	server_audit(srv, actor, "media.add", m.mgmt_no, "ok", NULL);
	out = cJSON_CreateArray();
	if (!out || media_cb(&m, out) < 0)
		return api_admin_no_memory(req);
	http_reply_json(req, 201, cJSON_GetArrayItem(out, 0));
}

/* POST /admin/v1/media/{management_no}/retire {"retired"?: date} */
static void handle_retire(void *userdata, struct http_req *req)
{
	struct server *srv = userdata;
	const char *no = http_req_param(req, 0);
	char actor[API_ACTOR_MAX], today[11];
	_cleanup_json_ cJSON *body = NULL, *out = NULL;
	struct store_media m = {0};
	const cJSON *it;
	int r;

	if (api_admin_auth(srv, req, API_PERM_OPERATE, actor, NULL) < 0)
		return;
	r = http_req_json(req, 4096, &body);
	if (r < 0)
		return http_reply_body_error(req, r);
	jst(server_now_us(), today, NULL);
	/* the checks of media_check on a medium whose other fields are valid */
	(void)strscpy(m.mgmt_no, sizeof(m.mgmt_no), no ? no : "");
	(void)strscpy(m.department, sizeof(m.department), "-");
	(void)strscpy(m.owner, sizeof(m.owner), "-");
	(void)strscpy(m.vendor, sizeof(m.vendor), "0000");
	(void)strscpy(m.product, sizeof(m.product), "0000");
	(void)strscpy(m.registered, sizeof(m.registered), "1970-01-01");
	(void)strscpy(m.retired, sizeof(m.retired), today);
	r = cJSON_IsObject(body) ? 0 : -EINVAL;
	const cJSON *bo = r == 0 ? body : NULL;

	cJSON_ArrayForEach(it, bo)
	{
		if (strcmp(it->string, "retired") != 0 || !cJSON_IsString(it) ||
		    strscpy(m.retired, sizeof(m.retired), it->valuestring) < 0)
			r = -EINVAL;
	}
	if (r == 0) {
		char err[MEDIA_CSV_ERR_MAX];
		r = media_check(&m, today, err, sizeof(err));
	}
	if (r < 0) {
		server_audit(srv, actor, "media.retire", no ?: "", "refused", "invalid request");
		return refuse(req, 400, "invalid", "{} か {\"retired\": \"YYYY-MM-DD\"} を送ってください",
		              "send {} or {\"retired\": \"YYYY-MM-DD\"}", NULL);
	}
	r = STORE_CALL(srv->store, media_retire, m.mgmt_no, m.retired, actor, server_now_us());
	if (r == -ENOENT)
		return http_reply_error(req, 404, "not_found", "その管理番号の媒体はありません", "no such medium",
		                        NULL);
	if (r == -EALREADY) {
		server_audit(srv, actor, "media.retire", m.mgmt_no, "refused", "retired already");
		return http_reply_error(req, 409, "retired", "その媒体はすでに廃止されています",
		                        "the medium is retired already", NULL);
	}
	if (r < 0)
		return api_admin_store_failed(req, r);
	server_audit(srv, actor, "media.retire", m.mgmt_no, "ok", m.retired);
	out = cJSON_CreateObject();
	if (!out || !cJSON_AddStringToObject(out, "management_no", m.mgmt_no) ||
	    !cJSON_AddStringToObject(out, "retired", m.retired))
		return api_admin_no_memory(req);
	http_reply_json(req, 200, out);
}

/* POST /admin/v1/media/import (text/csv): all rows or none */
static void handle_import(void *userdata, struct http_req *req)
{
	struct server *srv = userdata;
	char actor[API_ACTOR_MAX], err[MEDIA_CSV_ERR_MAX], today[11], detail[64];
	const char *ct = http_req_header(req, "Content-Type"), *data;
	_cleanup_free_ struct store_media *rows = NULL;
	_cleanup_json_ cJSON *out = NULL;
	size_t len, n = 0, bad = 0;
	int r;

	if (api_admin_auth(srv, req, API_PERM_OPERATE, actor, NULL) < 0)
		return;
	if (!ct || strncasecmp(ct, "text/csv", 8) != 0 || (ct[8] && ct[8] != ';')) {
		server_audit(srv, actor, "media.import", NULL, "refused", "not text/csv");
		return http_reply_error(req, 415, "unsupported_media_type", "Content-Type: text/csv で送ってください",
		                        "send Content-Type: text/csv", NULL);
	}
	r = http_req_body(req, MEDIA_CSV_BODY_MAX, &data, &len);
	if (r < 0)
		return http_reply_body_error(req, r);
	jst(server_now_us(), today, NULL);
	r = media_csv_parse(data, len, today, &rows, &n, err, sizeof(err));
	if (r == -ENOMEM)
		return api_admin_no_memory(req);
	if (r < 0) {
		server_audit(srv, actor, "media.import", NULL, "refused", err);
		return refuse(req, 400, "invalid_csv", "CSV が不正です。何も取り込んでいません",
		              "the CSV is not valid; nothing was imported", err);
	}
	r = STORE_CALL(srv->store, media_add, rows, n, actor, server_now_us(), &bad);
	if (r == -EEXIST) {
		(void)xsnprintf(err, sizeof(err),
		                "row %zu: management_no %s, or an unretired medium of this identity, exists", bad + 2,
		                rows[bad].mgmt_no);
		server_audit(srv, actor, "media.import", NULL, "refused", err);
		return refuse(req, 409, "exists", "登録済みの媒体と重なります。何も取り込んでいません",
		              "a row conflicts with the register; nothing was imported", err);
	}
	if (r < 0)
		return api_admin_store_failed(req, r);
	(void)xsnprintf(detail, sizeof(detail), "%zu media", n);
	server_audit(srv, actor, "media.import", NULL, "ok", detail);
	out = cJSON_CreateObject();
	if (!out || !cJSON_AddNumberToObject(out, "imported", (double)n))
		return api_admin_no_memory(req);
	http_reply_json(req, 200, out);
}

struct export
{
	FILE *f;
	int r;
};

static int export_cb(const struct store_media *m, void *userdata)
{
	struct export *e = userdata;
	char when[32] = "";

	if (m->sanitized_us)
		jst(m->sanitized_us, NULL, when);
	return media_csv_write_row(e->f, m, when);
}

/* GET /admin/v1/media/export: UTF-8 with a BOM (Excel) */
static void handle_export(void *userdata, struct http_req *req)
{
	struct server *srv = userdata;
	char actor[API_ACTOR_MAX];
	_cleanup_free_ char *data = NULL;
	struct export e = {0};
	size_t len = 0;
	int r;

	if (api_admin_auth(srv, req, API_PERM_READ, actor, NULL) < 0)
		return;
	e.f = open_memstream(&data, &len);
	if (!e.f)
		return api_admin_no_memory(req);
	r = media_csv_write_header(e.f);
	if (r == 0)
		r = STORE_CALL(srv->store, media_list, export_cb, &e);
	if (fclose(e.f) != 0 && r == 0)
		r = -EIO;
	if (r < 0)
		return r == -EIO || r == -ENOMEM ? api_admin_no_memory(req) : api_admin_store_failed(req, r);
	server_audit(srv, actor, "media.export", NULL, "ok", "csv");
	http_add_header(req, "Content-Disposition", "attachment; filename=\"mamori-media.csv\"");
	http_reply_data(req, 200, "text/csv; charset=utf-8", data, len);
}

static int carry_out_cb(const struct store_carry_out *c, void *userdata)
{
	cJSON *arr = userdata, *o = cJSON_CreateObject(), *m, *q, *w;
	char t[32];

	if (!o || !cJSON_AddItemToArray(arr, o))
		return -ENOMEM;
	server_format_time(c->time_us, t);
	cJSON_AddNumberToObject(o, "id", (double)c->event_id);
	cJSON_AddStringToObject(o, "terminal_id", c->terminal_id);
	cJSON_AddNumberToObject(o, "seq", (double)c->seq);
	cJSON_AddStringToObject(o, "time", t);
	cJSON_AddStringToObject(o, "user", c->user);
	cJSON_AddStringToObject(o, "path", c->path);
	if (c->size >= 0)
		cJSON_AddNumberToObject(o, "size", (double)c->size);
	else
		cJSON_AddNullToObject(o, "size");
	if (c->sha256[0])
		cJSON_AddStringToObject(o, "sha256", c->sha256);
	else
		cJSON_AddNullToObject(o, "sha256");
	if (!(m = cJSON_AddObjectToObject(o, "medium")))
		return -ENOMEM;
	cJSON_AddStringToObject(m, "vendor", c->vendor);
	cJSON_AddStringToObject(m, "product", c->product);
	cJSON_AddStringToObject(m, "serial", c->serial);
	if (c->mgmt_no[0])
		cJSON_AddStringToObject(m, "management_no", c->mgmt_no);
	else
		cJSON_AddNullToObject(m, "management_no");
	if (c->approval[0])
		cJSON_AddStringToObject(o, "approval", c->approval);
	else
		cJSON_AddNullToObject(o, "approval");
	if (!c->request_sid[0]) {
		cJSON_AddNullToObject(o, "request");
		return 0;
	}
	if (!(q = cJSON_AddObjectToObject(o, "request")))
		return -ENOMEM;
	cJSON_AddStringToObject(q, "id", c->request_sid);
	cJSON_AddStringToObject(q, "request_id", c->request_id);
	cJSON_AddStringToObject(q, "requester", c->requester);
	cJSON_AddStringToObject(q, "approved_by", c->approved_by);
	cJSON_AddStringToObject(q, "purpose", c->purpose);
	if (!(w = cJSON_AddObjectToObject(q, "window")))
		return -ENOMEM;
	server_format_time(c->approved_us, t);
	cJSON_AddStringToObject(w, "not_before", t);
	server_format_time(c->not_after * 1000000, t);
	cJSON_AddStringToObject(w, "not_after", t);
	return 0;
}

/* GET /admin/v1/carry-outs: the carry-out register (持ち出し台帳; CARRY-2,
 * issue 16.4) — every carry.out the terminals uploaded, each with the
 * approved request it was made under (who asked, who approved, the
 * window, the purpose) and the register's medium. Any role, like the
 * events it is read from. ?terminal=ID, ?after=EVENT_ID, ?limit=1..1000. */
static void handle_carry_outs(void *userdata, struct http_req *req)
{
	struct server *srv = userdata;
	char actor[API_ACTOR_MAX];
	const char *term = http_req_query(req, "terminal"), *after = http_req_query(req, "after"),
	           *lim = http_req_query(req, "limit");
	_cleanup_json_ cJSON *out = NULL;
	int64_t a = 0, n = 100;
	cJSON *arr;
	int r;

	if (api_admin_auth(srv, req, API_PERM_READ, actor, NULL) < 0)
		return;
	if ((after && parse_int64(after, 0, INT64_MAX, &a) < 0) || (lim && parse_int64(lim, 1, 1000, &n) < 0) ||
	    (term && (!term[0] || strlen(term) >= STORE_ID_MAX)))
		return refuse(req, 400, "invalid", "terminal、after または limit (1〜1000) が不正です",
		              "invalid terminal, after or limit (1..1000)", NULL);
	out = cJSON_CreateObject();
	if (!out || !(arr = cJSON_AddArrayToObject(out, "carry_outs")))
		return api_admin_no_memory(req);
	r = STORE_CALL(srv->store, carry_out_list, term, a, (unsigned)n, carry_out_cb, arr);
	if (r < 0)
		return r == -ENOMEM ? api_admin_no_memory(req) : api_admin_store_failed(req, r);
	http_reply_json(req, 200, out);
}

const struct http_route api_media_routes[] = {
        {HTTP_GET | HTTP_POST, "/admin/v1/media", handle_media}, {HTTP_POST, "/admin/v1/media/import", handle_import},
        {HTTP_GET, "/admin/v1/media/export", handle_export},     {HTTP_POST, "/admin/v1/media/*/retire", handle_retire},
        {HTTP_GET, "/admin/v1/carry-outs", handle_carry_outs},
};
const size_t api_media_routes_n = ELEMENTSOF(api_media_routes);
