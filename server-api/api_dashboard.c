/* server-api/api_dashboard.c — the admin API of the browser dashboard
 * (mamori-server, admin listener, loop thread):
 *   GET /admin/v1/dashboard/overview    compliance per requirement ID, per
 *       group and per department (部署), terminals not seen for longer than
 *       allowed, open incidents, the 90-day trend (daily figures in the store)
 *   GET /admin/v1/dashboard/terminals   one page of the terminal list, sorted,
 *       filtered and paged by the store in SQL (10,000 terminals: `make bench`)
 *   GET /admin/v1/dashboard/terminals/{id}/certificates   serial, validity,
 *       revocation of each certificate issued to the terminal
 *   GET /admin/v1/dashboard/approvals   pending policy versions, requests from
 *                                       terminals (issue 16), and whether
 *       this account may approve each (OPS-4: not your own)
 *   GET /admin/v1/dashboard/events      investigation search over all
 *       terminals (OPS-6), JSON or CSV; every search is audited
 *   GET /metrics                         Prometheus text (terminals by status,
 *       compliance per requirement ID, events and findings stored, pending
 *       approvals) for other dashboards, with a read-only API token
 * Unknown sort keys, filters and formats are refused (400), never defaulted. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "alloc-util.h"
#include "api_admin.h"
#include "api_request.h"
#include "api_dashboard.h"
#include "archive.h"
#include "api_device.h"
#include "json-util.h"
#include "log.h"
#include "pki.h"
#include "server.h"
#include "strutil.h"
#include "workpool.h"

#define STALE_INTERVALS   3       /* not seen for 3 check-in intervals: stale (a finding) */
#define STALE_LIST_MAX    200     /* stale terminals named in the overview */
#define INCIDENTS_MAX     100     /* findings in the overview */
#define PAGE_MAX          500     /* terminals a page */
#define SEARCH_SCAN_MAX   2000000 /* events one search reads at most */
#define SEARCH_RESULT_MAX 10000
#define TREND_DAYS        90
#define JST_OFFSET_S      (9 * 3600) /* Japan has no daylight saving time */

#define no_memory    api_admin_no_memory
#define store_failed api_admin_store_failed

static int64_t stale_after_us(const struct server *srv)
{
	return STALE_INTERVALS * srv->cfg.checkin_interval_s * 1000000;
}

static bool is_stale(const struct server *srv, const struct store_device *d, int64_t now)
{
	int64_t seen = d->last_seen_us ? d->last_seen_us : d->enrolled_us;

	return !d->revoked && now - seen > stale_after_us(srv);
}

static cJSON *counts_of(cJSON *parent, const char *key)
{
	cJSON *o = cJSON_GetObjectItemCaseSensitive(parent, key);

	if (!o && (o = cJSON_CreateObject()) && !cJSON_AddItemToObject(parent, key, o))
		o = NULL;
	return o;
}

static int bump(cJSON *o, const char *key, double by)
{
	cJSON *n = cJSON_GetObjectItemCaseSensitive(o, key);

	if (n)
		return cJSON_SetNumberValue(n, n->valuedouble + by), 0;
	return cJSON_AddNumberToObject(o, key, by) ? 0 : -ENOMEM;
}

/* The terminal's compliance as the admin API reports it: a chain finding is
 * a LOG-1 failure. Caller frees. */
static cJSON *compliance_of(const struct store_device *d, const char *compliance)
{
	cJSON *c = compliance ? cJSON_Parse(compliance) : NULL;

	if (!c)
		c = cJSON_CreateObject();
	if (c && d->findings) {
		cJSON_DeleteItemFromObjectCaseSensitive(c, "LOG-1");
		cJSON_AddStringToObject(c, "LOG-1", "fail");
	}
	return c;
}

static unsigned failing_count(const cJSON *c)
{
	const cJSON *it;
	unsigned n = 0;

	cJSON_ArrayForEach(it, c) if (cJSON_IsString(it) && strcmp(it->valuestring, "fail") == 0) n++;
	return n;
}

/* ---- overview ---- */

struct overview {
	struct server *srv;
	int64_t now;
	cJSON *reqs, *groups, *depts, *stale;
	uint64_t total, active, revoked, stale_n, compliant;
};

static int overview_cb(const struct store_device *d, const char *compliance, void *userdata)
{
	struct overview *o = userdata;
	_cleanup_json_ cJSON *c = NULL;
	const cJSON *it;
	cJSON *g, *dp;
	bool stale, ok;
	char t[32];

	o->total++;
	if (d->revoked) {
		o->revoked++;
		return 0;
	}
	o->active++;
	if (!(c = compliance_of(d, compliance)) || !(g = counts_of(o->groups, d->group[0] ? d->group : "-")) ||
	    !(dp = counts_of(o->depts, d->department)))
		return -ENOMEM;
	ok = failing_count(c) == 0;
	stale = is_stale(o->srv, d, o->now);
	o->compliant += ok;
	if (bump(g, "terminals", 1) < 0 || bump(g, "compliant", ok) < 0 || bump(g, "stale", stale) < 0 ||
	    bump(dp, "terminals", 1) < 0 || bump(dp, "compliant", ok) < 0 || bump(dp, "stale", stale) < 0)
		return -ENOMEM;
	cJSON_ArrayForEach(it, c)
	{
		cJSON *r;

		if (!cJSON_IsString(it))
			continue;
		if (!(r = counts_of(o->reqs, it->string)) || bump(r, it->valuestring, 1) < 0)
			return -ENOMEM;
	}
	if (stale) {
		cJSON *s;

		o->stale_n++;
		if (cJSON_GetArraySize(o->stale) >= STALE_LIST_MAX)
			return 0;
		if (!(s = cJSON_CreateObject()) || !cJSON_AddItemToArray(o->stale, s) ||
		    !cJSON_AddStringToObject(s, "terminal_id", d->terminal_id) ||
		    !cJSON_AddStringToObject(s, "hostname", d->hostname) ||
		    !cJSON_AddStringToObject(s, "group", d->group) ||
		    !cJSON_AddStringToObject(s, "department", d->department))
			return -ENOMEM;
		if (d->last_seen_us) {
			server_format_time(d->last_seen_us, t);
			if (!cJSON_AddStringToObject(s, "last_seen", t))
				return -ENOMEM;
		} else if (!cJSON_AddNullToObject(s, "last_seen")) {
			return -ENOMEM;
		}
	}
	return 0;
}

static int incident_cb(const struct store_finding *f, void *userdata)
{
	cJSON *arr = userdata, *o = cJSON_CreateObject();
	char t[32];

	server_format_time(f->time_us, t);
	if (!o || !cJSON_AddItemToArray(arr, o) || !cJSON_AddStringToObject(o, "terminal_id", f->terminal_id) ||
	    !cJSON_AddStringToObject(o, "kind", store_finding_to_string(f->kind)) ||
	    !cJSON_AddNumberToObject(o, "seq", (double)f->seq) || !cJSON_AddStringToObject(o, "detail", f->detail) ||
	    !cJSON_AddStringToObject(o, "time", t))
		return -ENOMEM;
	return 0;
}

static int by_key(const void *a, const void *b)
{
	return strcmp((*(const cJSON *const *)a)->string, (*(const cJSON *const *)b)->string);
}

/* {"ID": {"pass": n, ...}} → sorted [{"id","pass","fail","excepted","other","rate"}] */
static cJSON *requirement_rows(cJSON *reqs, bool with_name, const char *name_key)
{
	_cleanup_json_ cJSON *arr = cJSON_CreateArray();
	_cleanup_free_ cJSON **v = NULL;
	size_t n = (size_t)cJSON_GetArraySize(reqs), i = 0;
	cJSON *it;

	if (!arr || (n && !(v = calloc(n, sizeof(*v)))))
		return NULL;
	cJSON_ArrayForEach(it, reqs) v[i++] = it;
	if (n)
		qsort(v, n, sizeof(*v), by_key);
	for (i = 0; i < n; i++) {
		cJSON *row = cJSON_CreateObject(), *x;
		double pass = 0, fail = 0, exc = 0, other = 0, total = 0;

		cJSON_ArrayForEach(x, v[i])
		{
			if (!cJSON_IsNumber(x))
				continue;
			if (strcmp(x->string, "pass") == 0)
				pass = x->valuedouble;
			else if (strcmp(x->string, "fail") == 0)
				fail = x->valuedouble;
			else if (strcmp(x->string, "excepted") == 0)
				exc = x->valuedouble;
			else if (with_name)
				continue;
			else
				other += x->valuedouble;
		}
		if (with_name) { /* groups: terminals, compliant, stale */
			const cJSON *t = cJSON_GetObjectItemCaseSensitive(v[i], "terminals"),
			            *c = cJSON_GetObjectItemCaseSensitive(v[i], "compliant"),
			            *s = cJSON_GetObjectItemCaseSensitive(v[i], "stale");

			total = t ? t->valuedouble : 0;
			if (!row || !cJSON_AddItemToArray(arr, row) ||
			    !cJSON_AddStringToObject(row, name_key, v[i]->string) ||
			    !cJSON_AddNumberToObject(row, "terminals", total) ||
			    !cJSON_AddNumberToObject(row, "compliant", c ? c->valuedouble : 0) ||
			    !cJSON_AddNumberToObject(row, "stale", s ? s->valuedouble : 0) ||
			    !cJSON_AddNumberToObject(row, "rate", total ? (c ? c->valuedouble : 0) / total : 0))
				return NULL;
			continue;
		}
		total = pass + fail + exc + other;
		if (!row || !cJSON_AddItemToArray(arr, row) || !cJSON_AddStringToObject(row, name_key, v[i]->string) ||
		    !cJSON_AddNumberToObject(row, "pass", pass) || !cJSON_AddNumberToObject(row, "fail", fail) ||
		    !cJSON_AddNumberToObject(row, "excepted", exc) || !cJSON_AddNumberToObject(row, "other", other) ||
		    !cJSON_AddNumberToObject(row, "rate", total ? (pass + exc) / total : 0))
			return NULL;
	}
	return TAKE_PTR(arr);
}

/* ---- the 90-day trend ----
 * A day's figures are the active terminals and those failing no requirement
 * at the last snapshot taken that day (Japan time): the server takes one
 * every hour and at each overview request, and keeps one row a day
 * (store: daily). Days the server did not run have no figures: the trend
 * shows a gap, never an invented value. The latest check-in of each terminal
 * is what counts, as everywhere in the overview. */

static void jst_day(int64_t days, char out[11])
{
	time_t t = (time_t)(days * 86400);
	struct tm tm;

	gmtime_r(&t, &tm);
	(void)strftime(out, 11, "%Y-%m-%d", &tm);
}

static int64_t jst_days(int64_t us)
{
	int64_t s = us / 1000000 + JST_OFFSET_S;

	return s >= 0 ? s / 86400 : (s - 86399) / 86400;
}

static int64_t last_daily_us; /* the loop thread's last record from an overview */

static int daily_record(struct server *srv, int64_t now, uint64_t active, uint64_t compliant)
{
	struct store_daily d = {.terminals = active, .compliant = compliant, .updated_us = now};

	jst_day(jst_days(now), d.day);
	return STORE_CALL(srv->store, daily_put, &d);
}

int api_dashboard_snapshot(struct server *srv)
{
	_cleanup_json_ cJSON *reqs = cJSON_CreateObject(), *groups = cJSON_CreateObject(),
	                     *depts = cJSON_CreateObject(), *stale = cJSON_CreateArray();
	struct overview o = {
	        .srv = srv, .now = server_now_us(), .reqs = reqs, .groups = groups, .depts = depts, .stale = stale};
	int r;

	if (!reqs || !groups || !depts || !stale)
		return -ENOMEM;
	(void)api_device_flush(srv);
	if ((r = STORE_CALL(srv->store, device_list, NULL, overview_cb, &o)) < 0)
		return r;
	return daily_record(srv, o.now, o.active, o.compliant);
}

static int trend_cb(const struct store_daily *d, void *userdata)
{
	cJSON *o = cJSON_CreateObject();

	if (!o || !cJSON_AddItemToArray(userdata, o) || !cJSON_AddStringToObject(o, "day", d->day) ||
	    !cJSON_AddNumberToObject(o, "terminals", (double)d->terminals) ||
	    !cJSON_AddNumberToObject(o, "compliant", (double)d->compliant) ||
	    !cJSON_AddNumberToObject(o, "rate", d->terminals ? (double)d->compliant / (double)d->terminals : 0))
		return -ENOMEM;
	return 0;
}

static void handle_overview(void *userdata, struct http_req *req)
{
	struct server *srv = userdata;
	_cleanup_json_ cJSON *out = cJSON_CreateObject(), *reqs = cJSON_CreateObject(), *groups = cJSON_CreateObject(),
	                     *depts = cJSON_CreateObject();
	struct overview o = {.srv = srv, .now = server_now_us(), .reqs = reqs, .groups = groups, .depts = depts};
	char actor[API_ACTOR_MAX], since[11];
	enum store_role role;
	cJSON *t, *rows, *inc, *trend;
	int r;

	if (api_admin_auth(srv, req, API_PERM_READ, actor, &role) < 0)
		return;
	(void)api_device_flush(srv);
	if (!out || !reqs || !groups || !depts || !(o.stale = cJSON_AddArrayToObject(out, "stale")))
		return no_memory(req);
	r = STORE_CALL(srv->store, device_list, NULL, overview_cb, &o);
	if (r < 0)
		return r == -ENOMEM ? no_memory(req) : store_failed(req, r);
	if (!(t = cJSON_AddObjectToObject(out, "terminals")) || !cJSON_AddNumberToObject(t, "total", (double)o.total) ||
	    !cJSON_AddNumberToObject(t, "active", (double)o.active) ||
	    !cJSON_AddNumberToObject(t, "revoked", (double)o.revoked) ||
	    !cJSON_AddNumberToObject(t, "stale", (double)o.stale_n) ||
	    !cJSON_AddNumberToObject(t, "compliant", (double)o.compliant) ||
	    !cJSON_AddNumberToObject(out, "stale_after_seconds", (double)(stale_after_us(srv) / 1000000)))
		return no_memory(req);
	if (!(rows = requirement_rows(reqs, false, "id")) || !cJSON_AddItemToObject(out, "requirements", rows))
		return no_memory(req);
	if (!(rows = requirement_rows(groups, true, "group")) || !cJSON_AddItemToObject(out, "groups", rows))
		return no_memory(req);
	/* per department (部署, "" = none set), apart from groups (issue 15) */
	if (!(rows = requirement_rows(depts, true, "department")) || !cJSON_AddItemToObject(out, "departments", rows))
		return no_memory(req);
	/* the trend: today's figures refreshed (at most every 10 s: a write to
	 * the store), then the last 90 days */
	if (o.now - last_daily_us >= 10 * 1000000 || jst_days(o.now) != jst_days(last_daily_us)) {
		if ((r = daily_record(srv, o.now, o.active, o.compliant)) < 0)
			log_warning_errno(r, "cannot record today's compliance figures: %m");
		else
			last_daily_us = o.now;
	}
	jst_day(jst_days(o.now) - (TREND_DAYS - 1), since);
	if (!(trend = cJSON_AddArrayToObject(out, "trend")) || !cJSON_AddNumberToObject(out, "trend_days", TREND_DAYS))
		return no_memory(req);
	r = STORE_CALL(srv->store, daily_list, since, trend_cb, trend);
	if (r < 0)
		return r == -ENOMEM ? no_memory(req) : store_failed(req, r);
	if (!(inc = cJSON_AddArrayToObject(out, "incidents")))
		return no_memory(req);
	r = STORE_CALL(srv->store, findings_list, NULL, INCIDENTS_MAX, incident_cb, inc);
	if (r < 0)
		return r == -ENOMEM ? no_memory(req) : store_failed(req, r);
	http_reply_json(req, 200, out);
}

/* ---- terminal list ---- */

/* Sort keys and status filters by name; the store sorts, filters and pages
 * (SQL, issue 15: the whole list is never read for one page). */
static const char *const sort_names[_STORE_SORT_MAX] = {
        [STORE_SORT_ID] = "terminal_id",        [STORE_SORT_HOST] = "hostname",
        [STORE_SORT_GROUP] = "group",           [STORE_SORT_DEPT] = "department",
        [STORE_SORT_SEEN] = "last_seen",        [STORE_SORT_VERSION] = "agent_version",
        [STORE_SORT_POLICY] = "policy_version", [STORE_SORT_FAILING] = "failing",
};
static const char *const status_names[_STORE_STATUS_MAX] = {
        [STORE_STATUS_ANY] = "any",     [STORE_STATUS_ACTIVE] = "active",   [STORE_STATUS_REVOKED] = "revoked",
        [STORE_STATUS_STALE] = "stale", [STORE_STATUS_FAILING] = "failing", [STORE_STATUS_COMPLIANT] = "compliant",
};

static int lookup(const char *const *names, int n, const char *s)
{
	for (int i = 0; i < n; i++)
		if (strcmp(names[i], s) == 0)
			return i;
	return -1;
}

struct term_page {
	struct server *srv;
	int64_t now;
	cJSON *arr;
};

static int term_row_cb(const struct store_device *d, unsigned failing, const char *failing_ids, void *userdata)
{
	struct term_page *p = userdata;
	_cleanup_json_ cJSON *ids = cJSON_Parse(failing_ids);
	cJSON *o = cJSON_CreateObject(), *f;
	char t[32];

	if (!o || !cJSON_AddItemToArray(p->arr, o))
		return cJSON_Delete(o), -ENOMEM;
	if (!cJSON_IsArray(ids)) {
		cJSON_Delete(ids);
		if (!(ids = cJSON_CreateArray()))
			return -ENOMEM;
	}
	if (d->findings) { /* a chain finding fails LOG-1 (compliance_of) */
		cJSON *it, *next;

		for (it = ids->child; it; it = next) {
			next = it->next;
			if (cJSON_IsString(it) && strcmp(it->valuestring, "LOG-1") == 0)
				cJSON_Delete(cJSON_DetachItemViaPointer(ids, it));
		}
		if (!(f = cJSON_CreateString("LOG-1")) || !cJSON_AddItemToArray(ids, f))
			return cJSON_Delete(f), -ENOMEM;
	}
	if (!cJSON_AddStringToObject(o, "terminal_id", d->terminal_id) ||
	    !cJSON_AddStringToObject(o, "hostname", d->hostname) || !cJSON_AddStringToObject(o, "group", d->group) ||
	    !cJSON_AddStringToObject(o, "department", d->department) ||
	    !cJSON_AddStringToObject(o, "status",
	                             d->retired                    ? "retired"
	                             : d->revoked                  ? "revoked"
	                             : is_stale(p->srv, d, p->now) ? "stale"
	                                                           : "active") ||
	    !cJSON_AddStringToObject(o, "agent_version", d->agent_version) ||
	    !cJSON_AddNumberToObject(o, "policy_version", (double)d->policy_version) ||
	    !cJSON_AddNumberToObject(o, "failing", failing) ||
	    !cJSON_AddNumberToObject(o, "tamper_findings", (double)d->findings) ||
	    !cJSON_AddItemToObject(o, "failing_requirements", ids))
		return -ENOMEM;
	ids = NULL;
	if (d->last_seen_us) {
		server_format_time(d->last_seen_us, t);
		if (!cJSON_AddStringToObject(o, "last_seen", t))
			return -ENOMEM;
	} else if (!cJSON_AddNullToObject(o, "last_seen")) {
		return -ENOMEM;
	}
	return 0;
}

static const char *nonempty(const char *s)
{
	return s && *s ? s : NULL;
}

static void handle_terminals(void *userdata, struct http_req *req)
{
	struct server *srv = userdata;
	_cleanup_json_ cJSON *out = cJSON_CreateObject();
	const char *sort = http_req_query(req, "sort"), *order = http_req_query(req, "order"),
	           *status = http_req_query(req, "status"), *off_s = http_req_query(req, "offset"),
	           *lim_s = http_req_query(req, "limit");
	struct term_page p = {.srv = srv, .now = server_now_us()};
	struct store_device_query q = {.q = nonempty(http_req_query(req, "q")),
	                               .group = nonempty(http_req_query(req, "group")),
	                               .department = nonempty(http_req_query(req, "department")),
	                               .requirement = nonempty(http_req_query(req, "requirement")),
	                               .limit = 50};
	char actor[API_ACTOR_MAX];
	enum store_role role;
	uint64_t total = 0;
	int r;

	if (api_admin_auth(srv, req, API_PERM_READ, actor, &role) < 0)
		return;
	if ((sort && lookup(sort_names, _STORE_SORT_MAX, sort) < 0) ||
	    (status && lookup(status_names, _STORE_STATUS_MAX, status) < 0) ||
	    (order && strcmp(order, "asc") != 0 && strcmp(order, "desc") != 0) ||
	    (off_s && parse_int64(off_s, 0, INT32_MAX, &q.offset) < 0) ||
	    (lim_s && parse_int64(lim_s, 1, PAGE_MAX, &q.limit) < 0) || (q.q && strlen(q.q) > 128))
		return http_reply_error(req, 400, "invalid",
		                        "sort, order, status, offset, limit (1〜500) または q が不正です",
		                        "invalid sort, order, status, offset, limit (1..500) or q", NULL);
	if (sort)
		q.sort = (enum store_sort)lookup(sort_names, _STORE_SORT_MAX, sort);
	if (status)
		q.status = (enum store_status)lookup(status_names, _STORE_STATUS_MAX, status);
	q.desc = order && strcmp(order, "desc") == 0;
	q.stale_before_us = p.now - stale_after_us(srv);
	(void)api_device_flush(srv);
	if (!out || !(p.arr = cJSON_CreateArray()))
		return no_memory(req);
	r = STORE_CALL(srv->store, device_page, &q, &total, term_row_cb, &p);
	if (r < 0) {
		cJSON_Delete(p.arr);
		return r == -ENOMEM ? no_memory(req) : store_failed(req, r);
	}
	if (!cJSON_AddNumberToObject(out, "total", (double)total) ||
	    !cJSON_AddNumberToObject(out, "offset", (double)q.offset) ||
	    !cJSON_AddNumberToObject(out, "limit", (double)q.limit) ||
	    !cJSON_AddStringToObject(out, "sort", sort_names[q.sort]) ||
	    !cJSON_AddStringToObject(out, "order", q.desc ? "desc" : "asc") ||
	    !cJSON_AddItemToObject(out, "terminals", p.arr)) {
		cJSON_Delete(p.arr);
		return no_memory(req);
	}
	http_reply_json(req, 200, out);
}

/* ---- a terminal's certificates (terminal detail) ---- */

struct certs {
	int64_t now;
	cJSON *arr;
};

static int cert_cb(const struct store_cert *c, void *userdata)
{
	struct certs *cs = userdata;
	cJSON *o = cJSON_CreateObject();
	char t[32];

	if (!o || !cJSON_AddItemToArray(cs->arr, o) || !cJSON_AddStringToObject(o, "serial", c->serial) ||
	    !cJSON_AddBoolToObject(o, "revoked", c->revoked) ||
	    !cJSON_AddBoolToObject(o, "expired", c->not_after_us <= cs->now))
		return -ENOMEM;
	server_format_time(c->not_after_us, t);
	if (!cJSON_AddStringToObject(o, "not_after", t))
		return -ENOMEM;
	if (c->issued_us) { /* pki.c backdates notBefore by PKI_CLOCK_SKEW_S */
		server_format_time(c->issued_us - PKI_CLOCK_SKEW_S * 1000000LL, t);
		if (!cJSON_AddStringToObject(o, "not_before", t))
			return -ENOMEM;
		server_format_time(c->issued_us, t);
		if (!cJSON_AddStringToObject(o, "issued_at", t))
			return -ENOMEM;
	} else if (!cJSON_AddNullToObject(o, "not_before") || !cJSON_AddNullToObject(o, "issued_at")) {
		return -ENOMEM;
	}
	return 0;
}

/* GET /admin/v1/dashboard/terminals/{id}/certificates: serial, validity and
 * revocation of every certificate issued to the terminal, newest first. */
static void handle_certificates(void *userdata, struct http_req *req)
{
	struct server *srv = userdata;
	_cleanup_json_ cJSON *out = cJSON_CreateObject();
	const char *id = http_req_param(req, 0);
	struct certs cs = {.now = server_now_us()};
	struct store_device d;
	char actor[API_ACTOR_MAX];
	enum store_role role;
	int r;

	if (api_admin_auth(srv, req, API_PERM_READ, actor, &role) < 0)
		return;
	r = STORE_CALL(srv->store, device_get, id, &d);
	if (r == -ENOENT)
		return http_reply_error(req, 404, "not_found", "その端末はありません", "no such terminal", NULL);
	if (r < 0)
		return store_failed(req, r);
	if (!out || !cJSON_AddStringToObject(out, "terminal_id", d.terminal_id) ||
	    !(cs.arr = cJSON_AddArrayToObject(out, "certificates")))
		return no_memory(req);
	r = STORE_CALL(srv->store, cert_list, d.terminal_id, cert_cb, &cs);
	if (r < 0)
		return r == -ENOMEM ? no_memory(req) : store_failed(req, r);
	http_reply_json(req, 200, out);
}

/* GET /admin/v1/dashboard/me: who is logged in, with which role and
 * permissions (the dashboard shows only what the role may do; the server
 * still checks every request). */
static void handle_me(void *userdata, struct http_req *req)
{
	struct server *srv = userdata;
	_cleanup_json_ cJSON *out = cJSON_CreateObject();
	char actor[API_ACTOR_MAX];
	enum store_role role;
	cJSON *p;

	if (api_admin_auth(srv, req, API_PERM_READ, actor, &role) < 0)
		return;
	if (!out || !cJSON_AddStringToObject(out, "user", actor) ||
	    !cJSON_AddStringToObject(out, "role", store_role_to_string(role)) ||
	    !(p = cJSON_AddObjectToObject(out, "may")) ||
	    !cJSON_AddBoolToObject(p, "approve", api_admin_role_may(role, API_PERM_POLICY_APPROVE)) ||
	    !cJSON_AddBoolToObject(p, "audit", api_admin_role_may(role, API_PERM_AUDIT)) ||
	    !cJSON_AddBoolToObject(p, "accounts", api_admin_role_may(role, API_PERM_ACCOUNTS)))
		return no_memory(req);
	http_reply_json(req, 200, out);
}

/* ---- approvals ---- */

struct approvals {
	struct server *srv;
	const char *actor;
	enum store_role role;
	cJSON *arr;
	int err;
};

static int approval_cb(const struct store_group *g, void *userdata)
{
	struct approvals *a = userdata;
	struct store_policy p = {0};
	const char *why = NULL;
	bool may;
	cJSON *o;
	int r;

	if (g->pending_version <= g->policy_version)
		return 0;
	r = STORE_CALL(a->srv->store, policy_get, g->name, g->pending_version, &p);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	may = api_admin_role_may(a->role, API_PERM_POLICY_APPROVE);
	if (!may)
		why = "role";
	else if (api_admin_ops4_allowed(a->srv, a->actor, p.uploaded_by, &why) < 0)
		may = false;
	o = cJSON_CreateObject();
	r = (!o || !cJSON_AddItemToArray(a->arr, o) || !cJSON_AddStringToObject(o, "kind", "policy") ||
	     !cJSON_AddStringToObject(o, "group", g->name) ||
	     !cJSON_AddNumberToObject(o, "version", (double)g->pending_version) ||
	     !cJSON_AddNumberToObject(o, "published_version", (double)g->policy_version) ||
	     !cJSON_AddStringToObject(o, "sha256", p.sha256) ||
	     !cJSON_AddStringToObject(o, "uploaded_by", p.uploaded_by) ||
	     !cJSON_AddBoolToObject(o, "can_approve", may) ||
	     (!may && !cJSON_AddStringToObject(o, "reason", why ?: "")))
	            ? -ENOMEM
	            : 0;
	store_policy_clear(&p);
	return r;
}

/* requests from terminals (issue 16): whether this user may decide each */
static int request_cb(const struct store_request *q, void *userdata)
{
	struct approvals *a = userdata;
	const char *why = NULL;
	char t[32];
	bool may = api_admin_role_may(a->role, API_PERM_POLICY_APPROVE);
	cJSON *o;
	char dept[STORE_ID_MAX];
	int r = api_request_visible(a->srv, a->actor, q, &why, dept);

	if (r == -EPERM)
		return 0; /* another department's: not in this inbox (issue 16.2) */
	if (r < 0)
		return r;
	why = NULL;
	if (!may)
		why = "role";
	else if (q->person[0] && api_admin_ops4_allowed(a->srv, a->actor, q->person, &why) < 0)
		may = false;
	server_format_time(q->created_us, t);
	o = cJSON_CreateObject();
	if (!o || !cJSON_AddItemToArray(a->arr, o) || !cJSON_AddStringToObject(o, "id", q->id) ||
	    !cJSON_AddStringToObject(o, "kind", q->kind) ||
	    !cJSON_AddStringToObject(o, "terminal_id", q->terminal_id) ||
	    !cJSON_AddStringToObject(o, "department", q->department) ||
	    !cJSON_AddStringToObject(o, "terminal_department", dept) ||
	    !cJSON_AddStringToObject(o, "person", q->person) || !cJSON_AddStringToObject(o, "status", q->status) ||
	    !cJSON_AddItemToObject(o, "request", cJSON_Parse(q->body[0] ? q->body : "{}")) ||
	    !cJSON_AddStringToObject(o, "created", t) || !cJSON_AddBoolToObject(o, "can_decide", may) ||
	    (!may && !cJSON_AddStringToObject(o, "reason", why ?: "")))
		return -ENOMEM;
	return 0;
}

static void handle_approvals(void *userdata, struct http_req *req)
{
	struct server *srv = userdata;
	_cleanup_json_ cJSON *out = cJSON_CreateObject();
	char actor[API_ACTOR_MAX];
	struct approvals a = {.srv = srv, .actor = actor};
	int r;

	if (api_admin_auth(srv, req, API_PERM_READ, actor, &a.role) < 0)
		return;
	if (!out || !cJSON_AddStringToObject(out, "user", actor) ||
	    !cJSON_AddStringToObject(out, "role", store_role_to_string(a.role)) ||
	    !(a.arr = cJSON_AddArrayToObject(out, "pending")))
		return no_memory(req);
	r = STORE_CALL(srv->store, group_list, approval_cb, &a);
	if (r == 0 && !(a.arr = cJSON_AddArrayToObject(out, "requests")))
		r = -ENOMEM;
	if (r == 0)
		r = STORE_CALL(srv->store, request_list, "pending", 500, request_cb, &a);
	if (r == 0)
		r = STORE_CALL(srv->store, request_list, "pending_ack", 500, request_cb, &a);
	if (r < 0)
		return r == -ENOMEM ? no_memory(req) : store_failed(req, r);
	http_reply_json(req, 200, out);
}

/* ---- investigation ---- */

struct search {
	const char *q;
	int64_t since_us, until_us;
	cJSON *arr;
	size_t matched, scanned;
	int64_t last_id;
	bool csv;
	char *csvbuf;
	size_t csvlen, csvcap;
};

static int csv_append(struct search *s, const char *p, size_t n)
{
	if (s->csvlen + n + 1 > s->csvcap) {
		size_t cap = (s->csvcap ? s->csvcap * 2 : 65536) + n;
		char *nb = realloc(s->csvbuf, cap);

		if (!nb)
			return -ENOMEM;
		s->csvbuf = nb, s->csvcap = cap;
	}
	memcpy(s->csvbuf + s->csvlen, p, n);
	s->csvlen += n;
	s->csvbuf[s->csvlen] = 0;
	return 0;
}

/* One CSV field, quoted; a leading = + - @ (a formula in a spreadsheet) gets a ' first. */
static int csv_field(struct search *s, const char *v, size_t n, bool last)
{
	int r = csv_append(s, "\"", 1);

	if (r == 0 && n && strchr("=+-@\t\r", v[0]))
		r = csv_append(s, "'", 1);
	for (size_t i = 0; r == 0 && i < n; i++)
		r = v[i] == '"' ? csv_append(s, "\"\"", 2) : csv_append(s, v + i, 1);
	if (r == 0)
		r = csv_append(s, last ? "\"\r\n" : "\",", last ? 3 : 2);
	return r;
}

static int search_cb(const struct store_event_row *e, void *userdata)
{
	struct search *s = userdata;
	char t[32], num[32];
	cJSON *o, *rec;

	s->scanned++;
	s->last_id = e->id;
	if ((s->since_us && e->received_us < s->since_us) || (s->until_us && e->received_us >= s->until_us))
		return 0;
	if (s->q && !memmem(e->canon, e->canon_len, s->q, strlen(s->q)))
		return 0;
	if (s->matched >= SEARCH_RESULT_MAX)
		return 0;
	s->matched++;
	server_format_time(e->received_us, t);
	if (s->csv) {
		(void)xsnprintf(num, sizeof(num), "%" PRIu64, e->seq);
		return csv_field(s, e->terminal_id, strlen(e->terminal_id), false) ?: csv_field(s, num, strlen(num), false)
		               ?: csv_field(s, t, strlen(t), false) ?: csv_field(s, e->canon, e->canon_len, true);
	}
	if (!(o = cJSON_CreateObject()) || !cJSON_AddItemToArray(s->arr, o))
		return -ENOMEM;
	rec = cJSON_ParseWithLength(e->canon, e->canon_len);
	if (!cJSON_AddNumberToObject(o, "id", (double)e->id) ||
	    !cJSON_AddStringToObject(o, "terminal_id", e->terminal_id) ||
	    !cJSON_AddNumberToObject(o, "seq", (double)e->seq) || !cJSON_AddStringToObject(o, "received_at", t) ||
	    !rec || !cJSON_AddItemToObject(o, "record", rec)) {
		cJSON_Delete(rec);
		return -ENOMEM;
	}
	return 0;
}

static void handle_events(void *userdata, struct http_req *req)
{
	struct server *srv = userdata;
	_cleanup_json_ cJSON *out = cJSON_CreateObject();
	const char *since = http_req_query(req, "since"), *until = http_req_query(req, "until"),
	           *format = http_req_query(req, "format");
	struct store_event_filter f = {.terminal_id = http_req_query(req, "terminal"),
	                               .type_prefix = http_req_query(req, "type"),
	                               .limit = 1000};
	struct search s = {.q = http_req_query(req, "q")};
	char actor[API_ACTOR_MAX], detail[STORE_TEXT_MAX];
	enum store_role role;
	int r;

	if (api_admin_auth(srv, req, API_PERM_READ, actor, &role) < 0)
		return;
	if ((since && api_admin_parse_time(since, &s.since_us) < 0) ||
	    (until && api_admin_parse_time(until, &s.until_us) < 0) ||
	    (format && strcmp(format, "json") != 0 && strcmp(format, "csv") != 0) || (s.q && strlen(s.q) > 256))
		return http_reply_error(req, 400, "invalid",
		                        "since/until (RFC 3339 UTC)、format (json|csv) または q が不正です",
		                        "invalid since/until (RFC 3339 UTC), format (json|csv) or q", NULL);
	if (f.terminal_id && !*f.terminal_id)
		f.terminal_id = NULL;
	if (f.type_prefix && !*f.type_prefix)
		f.type_prefix = NULL;
	if (s.q && !*s.q)
		s.q = NULL;
	s.csv = format && strcmp(format, "csv") == 0;
	/* OPS-6: who looked at what is itself recorded */
	(void)xsnprintf(detail, sizeof(detail), "terminal=%s type=%s q=%s since=%s until=%s format=%s",
	                f.terminal_id ?: "*", f.type_prefix ?: "*", s.q ?: "", since ?: "", until ?: "",
	                s.csv ? "csv" : "json");
	server_audit(srv, actor, "investigation.search", f.terminal_id ?: "*", "ok", detail);
	if (!out || !(s.arr = cJSON_AddArrayToObject(out, "events")))
		return no_memory(req);
	if (s.csv && csv_append(&s, "\xEF\xBB\xBF\"terminal_id\",\"seq\",\"received_at\",\"record\"\r\n", 48) < 0)
		return no_memory(req);
	do {
		size_t before = s.scanned;

		r = STORE_CALL(srv->store, events_list, &f, search_cb, &s);
		if (r < 0 || s.scanned == before)
			break;
		f.after_id = s.last_id;
	} while (s.scanned < SEARCH_SCAN_MAX && s.matched < SEARCH_RESULT_MAX);
	if (r < 0) {
		free(s.csvbuf);
		return r == -ENOMEM ? no_memory(req) : store_failed(req, r);
	}
	if (s.csv) {
		http_add_header(req, "Content-Disposition", "attachment; filename=\"mamori-events.csv\"");
		http_reply_data(req, 200, "text/csv; charset=utf-8", s.csvbuf, s.csvlen);
		free(s.csvbuf);
		return;
	}
	/* LOG-1: this terminal's records moved to archive files are said so (archive.h) */
	if (f.terminal_id && (r = archive_summary(srv->store, f.terminal_id, out)) < 0)
		return r == -ENOMEM ? no_memory(req) : store_failed(req, r);
	if (!cJSON_AddNumberToObject(out, "matched", (double)s.matched) ||
	    !cJSON_AddNumberToObject(out, "scanned", (double)s.scanned) ||
	    !cJSON_AddBoolToObject(out, "truncated", s.matched >= SEARCH_RESULT_MAX || s.scanned >= SEARCH_SCAN_MAX))
		return no_memory(req);
	http_reply_json(req, 200, out);
}

/* ---- Prometheus ---- */

/* A label value from a terminal's report: \, " and newlines escaped
 * (Prometheus text format); anything else but printable ASCII becomes _ —
 * except in a valid UTF-8 string that fits whole (a department's name, which
 * the API checked): its non-ASCII characters are kept. */
static void label_value(const char *s, char *out, size_t outsz)
{
	size_t o = 0, n = strlen(s);
	bool keep = 2 * n + 1 <= outsz && utf8_valid(s, n);

	for (; *s && o + 3 < outsz; s++) {
		unsigned char c = (unsigned char)*s;

		if (c >= 0x80 && keep) {
			out[o++] = (char)c;
			continue;
		}
		if (c == '\\' || c == '"')
			out[o++] = '\\', out[o++] = (char)c;
		else if (c == '\n')
			out[o++] = '\\', out[o++] = 'n';
		else
			out[o++] = c >= 0x20 && c < 0x7f ? (char)c : '_';
	}
	out[o] = 0;
}

struct command_counts {
	FILE *b;
	uint64_t n[4]; /* pending_approval, queued, delivered, other */
};

static int command_count_cb(const char *status, uint64_t n, void *userdata)
{
	static const char *const waiting[] = {"pending_approval", "queued", "delivered"};
	struct command_counts *c = userdata;
	size_t i = 0;

	while (i < ELEMENTSOF(waiting) && strcmp(status ?: "", waiting[i]) != 0)
		i++;
	c->n[i] += n;
	return 0;
}

/* The check-in latency histogram and the queues' depths (issue 15.5). */
static int metrics_queues(struct server *srv, FILE *b, const struct api_device_metrics *mp)
{
	const struct api_device_metrics m = *mp;
	struct command_counts cc = {.b = b};
	int r;

	fprintf(b, "# HELP mamori_checkin_duration_seconds Time to handle a check-in, from the complete request to the "
	           "answer queued (refused ones too).\n"
	           "# TYPE mamori_checkin_duration_seconds histogram\n");
	for (size_t i = 0; i < API_DEVICE_LATENCY_BUCKETS - 1; i++)
		fprintf(b, "mamori_checkin_duration_seconds_bucket{le=\"%g\"} %" PRIu64 "\n",
		        api_device_latency_bounds[i], m.checkin_buckets[i]);
	fprintf(b,
	        "mamori_checkin_duration_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n"
	        "mamori_checkin_duration_seconds_sum %.9f\nmamori_checkin_duration_seconds_count %" PRIu64 "\n",
	        m.checkin_buckets[API_DEVICE_LATENCY_BUCKETS - 1], m.checkin_seconds_sum,
	        m.checkin_buckets[API_DEVICE_LATENCY_BUCKETS - 1]);
	fprintf(b,
	        "# HELP mamori_checkins_tls_resumed_total Check-ins whose TLS connection resumed a session (a ticket) "
	        "instead of a full handshake.\n"
	        "# TYPE mamori_checkins_tls_resumed_total counter\nmamori_checkins_tls_resumed_total %" PRIu64 "\n",
	        m.checkins_tls_resumed);
	fprintf(b,
	        "# HELP mamori_checkin_approval_documents_total Check-in answers that carried approval data, each "
	        "signed for that answer (sent only to a terminal without the current version).\n"
	        "# TYPE mamori_checkin_approval_documents_total counter\nmamori_checkin_approval_documents_total "
	        "%" PRIu64 "\n",
	        m.checkin_grants);
	fprintf(b,
	        "# HELP mamori_tls_sessions_cached TLS sessions the device listener holds for resumption "
	        "(--tls-session-cache; about 3 KB each).\n"
	        "# TYPE mamori_tls_sessions_cached gauge\nmamori_tls_sessions_cached %lu\n",
	        http_listener_sessions(srv->device_listener));
	fprintf(b,
	        "# HELP mamori_event_upload_commits_total Store commits of event uploads (group commit: the uploads "
	        "handled together share one).\n"
	        "# TYPE mamori_event_upload_commits_total counter\nmamori_event_upload_commits_total %" PRIu64 "\n"
	        "# HELP mamori_event_uploads_committed_total Event uploads stored by those commits.\n"
	        "# TYPE mamori_event_uploads_committed_total counter\nmamori_event_uploads_committed_total %" PRIu64
	        "\n",
	        m.upload_commits, m.uploads_committed);
	if ((r = STORE_CALL(srv->store, command_counts, command_count_cb, &cc)) < 0)
		return r;
	fprintf(b,
	        "# HELP mamori_queue_depth Items waiting: check-ins held in memory not yet written, password hashes "
	        "waiting or running, commands waiting for approval, queued for a terminal, delivered without a "
	        "result.\n"
	        "# TYPE mamori_queue_depth gauge\n"
	        "mamori_queue_depth{queue=\"checkins_unwritten\"} %" PRIu64 "\n"
	        "mamori_queue_depth{queue=\"password_hashing\"} %zu\n"
	        "mamori_queue_depth{queue=\"commands_pending_approval\"} %" PRIu64 "\n"
	        "mamori_queue_depth{queue=\"commands_queued\"} %" PRIu64 "\n"
	        "mamori_queue_depth{queue=\"commands_delivered\"} %" PRIu64 "\n",
	        m.checkins_pending, srv->pool ? workpool_pending(srv->pool) : (size_t)0, cc.n[0], cc.n[1], cc.n[2]);
	return 0;
}

/* NAME{LABEL="...",compliant="true|false"} per row of {"x": {"terminals","compliant"}}. */
static void compliant_split(FILE *b, const char *name, const char *label, const char *what, const cJSON *rows)
{
	const cJSON *r;
	char lv[256];

	fprintf(b, "# HELP %s Active terminals per %s and whether compliant.\n# TYPE %s gauge\n", name, what, name);
	cJSON_ArrayForEach(r, rows)
	{
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(r, "terminals"),
		            *c = cJSON_GetObjectItemCaseSensitive(r, "compliant");
		double all = t ? t->valuedouble : 0, ok = c ? c->valuedouble : 0;

		label_value(r->string, lv, sizeof(lv));
		fprintf(b, "%s{%s=\"%s\",compliant=\"true\"} %.0f\n", name, label, lv, ok);
		fprintf(b, "%s{%s=\"%s\",compliant=\"false\"} %.0f\n", name, label, lv, all - ok);
	}
}

static int pending_cb(const struct store_group *g, void *userdata)
{
	*(uint64_t *)userdata += g->pending_version > g->policy_version;
	return 0;
}

struct sums {
	uint64_t events, findings;
};

static int sums_cb(const struct store_device *d, const char *compliance, void *userdata)
{
	struct sums *s = userdata;

	(void)compliance;
	s->events += d->events, s->findings += d->findings;
	return 0;
}

static void handle_metrics(void *userdata, struct http_req *req)
{
	struct server *srv = userdata;
	_cleanup_json_ cJSON *reqs = cJSON_CreateObject(), *groups = cJSON_CreateObject(), *stale = cJSON_CreateArray(),
	                     *depts = cJSON_CreateObject();
	struct overview o = {
	        .srv = srv, .now = server_now_us(), .reqs = reqs, .groups = groups, .depts = depts, .stale = stale};
	_cleanup_free_ char *text = NULL;
	size_t text_len = 0;
	FILE *b;
	struct sums sums = {0};
	struct api_device_metrics dm;
	uint64_t pending = 0;
	char actor[API_ACTOR_MAX], lv[96], gv[96];
	enum store_role role;
	const cJSON *r, *st;
	int e;

	if (api_admin_auth(srv, req, API_PERM_READ, actor, &role) < 0)
		return;
	if (!reqs || !groups || !stale || !depts)
		return no_memory(req);
	api_device_metrics(srv, &dm); /* before the flush: the check-ins it writes were waiting */
	(void)api_device_flush(srv);
	if ((e = STORE_CALL(srv->store, device_list, NULL, overview_cb, &o)) < 0 ||
	    (e = STORE_CALL(srv->store, device_list, NULL, sums_cb, &sums)) < 0 ||
	    (e = STORE_CALL(srv->store, group_list, pending_cb, &pending)) < 0)
		return e == -ENOMEM ? no_memory(req) : store_failed(req, e);
	if (!(b = open_memstream(&text, &text_len)))
		return no_memory(req);
	fprintf(b,
	        "# HELP mamori_terminals Enrolled terminals by status (stale: not seen for %d check-in intervals).\n"
	        "# TYPE mamori_terminals gauge\n",
	        STALE_INTERVALS);
	fprintf(b, "mamori_terminals{status=\"active\"} %" PRIu64 "\n", o.active - o.stale_n);
	fprintf(b, "mamori_terminals{status=\"stale\"} %" PRIu64 "\n", o.stale_n);
	fprintf(b, "mamori_terminals{status=\"revoked\"} %" PRIu64 "\n", o.revoked);
	fprintf(b,
	        "# HELP mamori_terminals_compliant Active terminals failing no requirement.\n"
	        "# TYPE mamori_terminals_compliant gauge\nmamori_terminals_compliant %" PRIu64 "\n",
	        o.compliant);
	fprintf(b, "# HELP mamori_compliance_terminals Active terminals per requirement ID and status.\n"
	           "# TYPE mamori_compliance_terminals gauge\n");
	cJSON_ArrayForEach(r, reqs)
	{
		label_value(r->string, lv, sizeof(lv));
		cJSON_ArrayForEach(st, r)
		{
			label_value(st->string, gv, sizeof(gv));
			fprintf(b, "mamori_compliance_terminals{requirement=\"%s\",status=\"%s\"} %.0f\n", lv, gv,
			        st->valuedouble);
		}
	}
	compliant_split(b, "mamori_group_terminals", "group", "group", groups);
	compliant_split(b, "mamori_department_terminals", "department", "department (部署)", depts);
	fprintf(b,
	        "# HELP mamori_events_stored Verified journal records held by the server.\n"
	        "# TYPE mamori_events_stored gauge\nmamori_events_stored %" PRIu64 "\n",
	        sums.events);
	fprintf(b,
	        "# HELP mamori_tamper_findings Chain findings recorded (LOG-1, OPS-5).\n"
	        "# TYPE mamori_tamper_findings gauge\nmamori_tamper_findings %" PRIu64 "\n",
	        sums.findings);
	fprintf(b,
	        "# HELP mamori_pending_approvals Policy versions waiting for a second person (OPS-4).\n"
	        "# TYPE mamori_pending_approvals gauge\nmamori_pending_approvals %" PRIu64 "\n",
	        pending);
	if ((e = metrics_queues(srv, b, &dm)) < 0) {
		fclose(b);
		return e == -ENOMEM ? no_memory(req) : store_failed(req, e);
	}
	if (fclose(b) != 0 || !text)
		return no_memory(req);
	http_reply_data(req, 200, "text/plain; version=0.0.4; charset=utf-8", text, text_len);
}

const struct http_route api_dashboard_routes[] = {
        {HTTP_GET, "/admin/v1/dashboard/me", handle_me},
        {HTTP_GET, "/admin/v1/dashboard/overview", handle_overview},
        {HTTP_GET, "/admin/v1/dashboard/terminals", handle_terminals},
        {HTTP_GET, "/admin/v1/dashboard/terminals/*/certificates", handle_certificates},
        {HTTP_GET, "/admin/v1/dashboard/approvals", handle_approvals},
        {HTTP_GET, "/admin/v1/dashboard/events", handle_events},
        {HTTP_GET, "/metrics", handle_metrics},
};
const size_t api_dashboard_routes_n = ELEMENTSOF(api_dashboard_routes);
