/* server-api/api_dashboard.c — the admin API of the browser dashboard
 * (mamori-server, admin listener, loop thread):
 *   GET /admin/v1/dashboard/overview    compliance per requirement ID and per
 *       group, terminals not seen for longer than allowed, open incidents
 *   GET /admin/v1/dashboard/terminals   one page of the terminal list, sorted
 *       and filtered on the server (10,000 terminals: `make bench`)
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
#include "api_dashboard.h"
#include "api_device.h"
#include "json-util.h"
#include "log.h"
#include "server.h"
#include "strutil.h"

#define STALE_INTERVALS   3       /* not seen for 3 check-in intervals: stale (a finding) */
#define STALE_LIST_MAX    200     /* stale terminals named in the overview */
#define INCIDENTS_MAX     100     /* findings in the overview */
#define PAGE_MAX          500     /* terminals a page */
#define SEARCH_SCAN_MAX   2000000 /* events one search reads at most */
#define SEARCH_RESULT_MAX 10000

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
	cJSON *reqs, *groups, *stale;
	uint64_t total, active, revoked, stale_n, compliant;
};

static int overview_cb(const struct store_device *d, const char *compliance, void *userdata)
{
	struct overview *o = userdata;
	_cleanup_json_ cJSON *c = NULL;
	const cJSON *it;
	cJSON *g;
	bool stale, ok;
	char t[32];

	o->total++;
	if (d->revoked) {
		o->revoked++;
		return 0;
	}
	o->active++;
	if (!(c = compliance_of(d, compliance)) || !(g = counts_of(o->groups, d->group[0] ? d->group : "-")))
		return -ENOMEM;
	ok = failing_count(c) == 0;
	stale = is_stale(o->srv, d, o->now);
	o->compliant += ok;
	if (bump(g, "terminals", 1) < 0 || bump(g, "compliant", ok) < 0 || bump(g, "stale", stale) < 0)
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
		    !cJSON_AddStringToObject(s, "group", d->group))
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

static void handle_overview(void *userdata, struct http_req *req)
{
	struct server *srv = userdata;
	_cleanup_json_ cJSON *out = cJSON_CreateObject(), *reqs = cJSON_CreateObject(), *groups = cJSON_CreateObject();
	struct overview o = {.srv = srv, .now = server_now_us(), .reqs = reqs, .groups = groups};
	char actor[API_ACTOR_MAX];
	enum store_role role;
	cJSON *t, *rows, *inc;
	int r;

	if (api_admin_auth(srv, req, API_PERM_READ, actor, &role) < 0)
		return;
	(void)api_device_flush(srv);
	if (!out || !reqs || !groups || !(o.stale = cJSON_AddArrayToObject(out, "stale")))
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
	if (!(inc = cJSON_AddArrayToObject(out, "incidents")))
		return no_memory(req);
	r = STORE_CALL(srv->store, findings_list, NULL, INCIDENTS_MAX, incident_cb, inc);
	if (r < 0)
		return r == -ENOMEM ? no_memory(req) : store_failed(req, r);
	http_reply_json(req, 200, out);
}

/* ---- terminal list ---- */

enum sort_key { SORT_ID, SORT_HOST, SORT_GROUP, SORT_SEEN, SORT_VERSION, SORT_POLICY, SORT_FAILING, _SORT_MAX };
static const char *const sort_names[_SORT_MAX] = {
        [SORT_ID] = "terminal_id",  [SORT_HOST] = "hostname",         [SORT_GROUP] = "group",
        [SORT_SEEN] = "last_seen",  [SORT_VERSION] = "agent_version", [SORT_POLICY] = "policy_version",
        [SORT_FAILING] = "failing",
};
enum status_filter { ST_ANY, ST_ACTIVE, ST_REVOKED, ST_STALE, ST_FAILING, ST_COMPLIANT, _ST_MAX };
static const char *const status_names[_ST_MAX] = {
        [ST_ANY] = "any",     [ST_ACTIVE] = "active",   [ST_REVOKED] = "revoked",
        [ST_STALE] = "stale", [ST_FAILING] = "failing", [ST_COMPLIANT] = "compliant",
};

static int lookup(const char *const *names, int n, const char *s)
{
	for (int i = 0; i < n; i++)
		if (strcmp(names[i], s) == 0)
			return i;
	return -1;
}

struct term_row {
	struct store_device d;
	unsigned failing;
	bool stale;
	char failing_ids[160]; /* "A,B,C" (cut) */
};

struct term_list {
	struct server *srv;
	int64_t now;
	const char *q, *group, *requirement;
	enum status_filter st;
	struct term_row *rows;
	size_t n, cap, total_seen;
};

static bool contains_ci(const char *hay, const char *needle)
{
	return strcasestr(hay, needle) != NULL;
}

static int term_cb(const struct store_device *d, const char *compliance, void *userdata)
{
	struct term_list *l = userdata;
	_cleanup_json_ cJSON *c = NULL;
	struct term_row *row;
	const cJSON *it;
	bool stale = is_stale(l->srv, d, l->now);
	unsigned failing;

	l->total_seen++;
	if (l->q && !contains_ci(d->terminal_id, l->q) && !contains_ci(d->hostname, l->q))
		return 0;
	if (l->st == ST_ACTIVE && d->revoked)
		return 0;
	if (l->st == ST_REVOKED && !d->revoked)
		return 0;
	if (l->st == ST_STALE && !stale)
		return 0;
	if (!(c = compliance_of(d, compliance)))
		return -ENOMEM;
	if (l->requirement) { /* the requirement view: terminals that fail this ID */
		const cJSON *st = cJSON_GetObjectItemCaseSensitive(c, l->requirement);

		if (!cJSON_IsString(st) || strcmp(st->valuestring, "fail") != 0 || d->revoked)
			return 0;
	}
	failing = failing_count(c);
	if ((l->st == ST_FAILING && (failing == 0 || d->revoked)) ||
	    (l->st == ST_COMPLIANT && (failing != 0 || d->revoked)))
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		struct term_row *nr = reallocarray(l->rows, cap, sizeof(*nr));

		if (!nr)
			return -ENOMEM;
		l->rows = nr, l->cap = cap;
	}
	row = &l->rows[l->n++];
	row->d = *d;
	row->failing = failing;
	row->stale = stale;
	row->failing_ids[0] = 0;
	cJSON_ArrayForEach(it, c)
	{
		size_t len = strlen(row->failing_ids);

		if (!cJSON_IsString(it) || strcmp(it->valuestring, "fail") != 0)
			continue;
		if (len + strlen(it->string) + 2 >= sizeof(row->failing_ids))
			break;
		(void)xsnprintf(row->failing_ids + len, sizeof(row->failing_ids) - len, "%s%s", len ? "," : "",
		                it->string);
	}
	return 0;
}

static int cmp_rows(const void *pa, const void *pb, void *arg)
{
	const struct term_row *a = pa, *b = pb;
	enum sort_key k = *(const enum sort_key *)arg;
	int c = 0;

	switch (k) {
	case SORT_ID:
		break;
	case SORT_HOST:
		c = strcmp(a->d.hostname, b->d.hostname);
		break;
	case SORT_GROUP:
		c = strcmp(a->d.group, b->d.group);
		break;
	case SORT_SEEN:
		c = (a->d.last_seen_us > b->d.last_seen_us) - (a->d.last_seen_us < b->d.last_seen_us);
		break;
	case SORT_VERSION:
		c = strcmp(a->d.agent_version, b->d.agent_version);
		break;
	case SORT_POLICY:
		c = (a->d.policy_version > b->d.policy_version) - (a->d.policy_version < b->d.policy_version);
		break;
	case SORT_FAILING:
		c = (a->failing > b->failing) - (a->failing < b->failing);
		break;
	default:
		abort();
	}
	return c ? c : strcmp(a->d.terminal_id, b->d.terminal_id); /* a total order: stable pages */
}

static void handle_terminals(void *userdata, struct http_req *req)
{
	struct server *srv = userdata;
	_cleanup_json_ cJSON *out = cJSON_CreateObject();
	const char *sort = http_req_query(req, "sort"), *order = http_req_query(req, "order"),
	           *status = http_req_query(req, "status"), *off_s = http_req_query(req, "offset"),
	           *lim_s = http_req_query(req, "limit");
	struct term_list l = {.srv = srv,
	                      .now = server_now_us(),
	                      .q = http_req_query(req, "q"),
	                      .group = http_req_query(req, "group"),
	                      .requirement = http_req_query(req, "requirement")};
	_cleanup_free_ struct term_row *rows_owner = NULL;
	char actor[API_ACTOR_MAX], t[32];
	enum store_role role;
	enum sort_key key = SORT_ID;
	int64_t offset = 0, limit = 50;
	bool desc = false;
	cJSON *arr;
	int r, k;

	if (api_admin_auth(srv, req, API_PERM_READ, actor, &role) < 0)
		return;
	if ((sort && (k = lookup(sort_names, _SORT_MAX, sort)) < 0) ||
	    (status && lookup(status_names, _ST_MAX, status) < 0) ||
	    (order && strcmp(order, "asc") != 0 && strcmp(order, "desc") != 0) ||
	    (off_s && parse_int64(off_s, 0, INT32_MAX, &offset) < 0) ||
	    (lim_s && parse_int64(lim_s, 1, PAGE_MAX, &limit) < 0) || (l.q && strlen(l.q) > 128))
		return http_reply_error(req, 400, "invalid",
		                        "sort, order, status, offset, limit (1〜500) または q が不正です",
		                        "invalid sort, order, status, offset, limit (1..500) or q", NULL);
	if (sort)
		key = (enum sort_key)lookup(sort_names, _SORT_MAX, sort);
	if (status)
		l.st = (enum status_filter)lookup(status_names, _ST_MAX, status);
	desc = order && strcmp(order, "desc") == 0;
	if (l.q && !*l.q)
		l.q = NULL;
	if (l.group && !*l.group)
		l.group = NULL;
	if (l.requirement && !*l.requirement)
		l.requirement = NULL;
	(void)api_device_flush(srv);
	r = STORE_CALL(srv->store, device_list, l.group, term_cb, &l);
	rows_owner = l.rows;
	if (r < 0)
		return r == -ENOMEM ? no_memory(req) : store_failed(req, r);
	if (l.n)
		qsort_r(l.rows, l.n, sizeof(*l.rows), cmp_rows, &key);
	if (!out || !cJSON_AddNumberToObject(out, "total", (double)l.n) ||
	    !cJSON_AddNumberToObject(out, "offset", (double)offset) ||
	    !cJSON_AddNumberToObject(out, "limit", (double)limit) ||
	    !cJSON_AddStringToObject(out, "sort", sort_names[key]) ||
	    !cJSON_AddStringToObject(out, "order", desc ? "desc" : "asc") ||
	    !(arr = cJSON_AddArrayToObject(out, "terminals")))
		return no_memory(req);
	for (int64_t i = offset; i < offset + limit && (size_t)i < l.n; i++) {
		const struct term_row *row = &l.rows[desc ? l.n - 1 - (size_t)i : (size_t)i];
		cJSON *o = cJSON_CreateObject(), *f, *tok;
		char ids[sizeof(row->failing_ids)], *save = NULL;

		if (!o || !cJSON_AddItemToArray(arr, o) ||
		    !cJSON_AddStringToObject(o, "terminal_id", row->d.terminal_id) ||
		    !cJSON_AddStringToObject(o, "hostname", row->d.hostname) ||
		    !cJSON_AddStringToObject(o, "group", row->d.group) ||
		    !cJSON_AddStringToObject(o, "status",
		                             row->d.revoked ? "revoked"
		                             : row->stale   ? "stale"
		                                            : "active") ||
		    !cJSON_AddStringToObject(o, "agent_version", row->d.agent_version) ||
		    !cJSON_AddNumberToObject(o, "policy_version", (double)row->d.policy_version) ||
		    !cJSON_AddNumberToObject(o, "failing", row->failing) ||
		    !cJSON_AddNumberToObject(o, "tamper_findings", (double)row->d.findings) ||
		    !(f = cJSON_AddArrayToObject(o, "failing_requirements")))
			return no_memory(req);
		(void)strscpy(ids, sizeof(ids), row->failing_ids);
		for (char *p = strtok_r(ids, ",", &save); p; p = strtok_r(NULL, ",", &save))
			if (!(tok = cJSON_CreateString(p)) || !cJSON_AddItemToArray(f, tok))
				return no_memory(req);
		if (row->d.last_seen_us) {
			server_format_time(row->d.last_seen_us, t);
			if (!cJSON_AddStringToObject(o, "last_seen", t))
				return no_memory(req);
		} else if (!cJSON_AddNullToObject(o, "last_seen")) {
			return no_memory(req);
		}
	}
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

	if (!may)
		why = "role";
	else if (q->person[0] && api_admin_ops4_allowed(a->srv, a->actor, q->person, &why) < 0)
		may = false;
	server_format_time(q->created_us, t);
	o = cJSON_CreateObject();
	if (!o || !cJSON_AddItemToArray(a->arr, o) || !cJSON_AddStringToObject(o, "id", q->id) ||
	    !cJSON_AddStringToObject(o, "kind", q->kind) ||
	    !cJSON_AddStringToObject(o, "terminal_id", q->terminal_id) ||
	    !cJSON_AddStringToObject(o, "department", q->group) || !cJSON_AddStringToObject(o, "person", q->person) ||
	    !cJSON_AddStringToObject(o, "status", q->status) ||
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
	if (!cJSON_AddNumberToObject(out, "matched", (double)s.matched) ||
	    !cJSON_AddNumberToObject(out, "scanned", (double)s.scanned) ||
	    !cJSON_AddBoolToObject(out, "truncated", s.matched >= SEARCH_RESULT_MAX || s.scanned >= SEARCH_SCAN_MAX))
		return no_memory(req);
	http_reply_json(req, 200, out);
}

/* ---- Prometheus ---- */

/* A label value from a terminal's report: \, " and newlines escaped
 * (Prometheus text format); anything else but printable ASCII becomes _. */
static void label_value(const char *s, char *out, size_t outsz)
{
	size_t o = 0;

	for (; *s && o + 3 < outsz; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '\\' || c == '"')
			out[o++] = '\\', out[o++] = (char)c;
		else if (c == '\n')
			out[o++] = '\\', out[o++] = 'n';
		else
			out[o++] = c >= 0x20 && c < 0x7f ? (char)c : '_';
	}
	out[o] = 0;
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
	_cleanup_json_ cJSON *reqs = cJSON_CreateObject(), *groups = cJSON_CreateObject(), *stale = cJSON_CreateArray();
	struct overview o = {.srv = srv, .now = server_now_us(), .reqs = reqs, .groups = groups, .stale = stale};
	_cleanup_free_ char *text = NULL;
	size_t text_len = 0;
	FILE *b;
	struct sums sums = {0};
	uint64_t pending = 0;
	char actor[API_ACTOR_MAX], lv[96], gv[96];
	enum store_role role;
	const cJSON *r, *st;
	int e;

	if (api_admin_auth(srv, req, API_PERM_READ, actor, &role) < 0)
		return;
	if (!reqs || !groups || !stale)
		return no_memory(req);
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
	fprintf(b, "# HELP mamori_group_terminals Active terminals per group and whether compliant.\n"
	           "# TYPE mamori_group_terminals gauge\n");
	cJSON_ArrayForEach(r, groups)
	{
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(r, "terminals"),
		            *c = cJSON_GetObjectItemCaseSensitive(r, "compliant");

		label_value(r->string, lv, sizeof(lv));
		fprintf(b, "mamori_group_terminals{group=\"%s\",compliant=\"true\"} %.0f\n", lv,
		        c ? c->valuedouble : 0);
		fprintf(b, "mamori_group_terminals{group=\"%s\",compliant=\"false\"} %.0f\n", lv,
		        (t ? t->valuedouble : 0) - (c ? c->valuedouble : 0));
	}
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
	if (fclose(b) != 0 || !text)
		return no_memory(req);
	http_reply_data(req, 200, "text/plain; version=0.0.4; charset=utf-8", text, text_len);
}

const struct http_route api_dashboard_routes[] = {
        {HTTP_GET, "/admin/v1/dashboard/me", handle_me},
        {HTTP_GET, "/admin/v1/dashboard/overview", handle_overview},
        {HTTP_GET, "/admin/v1/dashboard/terminals", handle_terminals},
        {HTTP_GET, "/admin/v1/dashboard/approvals", handle_approvals},
        {HTTP_GET, "/admin/v1/dashboard/events", handle_events},
        {HTTP_GET, "/metrics", handle_metrics},
};
const size_t api_dashboard_routes_n = ELEMENTSOF(api_dashboard_routes);
