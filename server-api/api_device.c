/* server-api/api_device.c — POST /api/v1/checkin, POST /api/v1/events,
 * GET /api/v1/policy, POST /api/v1/renew (mamori-server, device listener).
 *
 * Every handler starts with device_auth(): the verified client certificate's
 * serial must be one this server issued, neither it nor its terminal revoked
 * (a revocation takes effect on the next request: it invalidates the identity
 * cache), and its CN must be the terminal ID the certificate was issued for.
 *
 * Check-ins are answered at once and written a second later, coalesced per
 * terminal, in one transaction (api_device_flush): a check-in is state that
 * the next one replaces, not evidence — events are written and fsynced
 * before their acknowledgement. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc-util.h"
#include "api_command.h"
#include "api_request.h"
#include "api_device.h"
#include "chain.h"
#include "json-util.h"
#include "log.h"
#include "pki.h"
#include "policy.h"
#include "server.h"
#include "strutil.h"

#define CACHE_SLOTS 64
#define AUTH_SLOTS  4096 /* identity cache, direct-mapped by serial */
/* re-read from the store at least this often: a revocation made through
 * another instance sharing the store takes effect here within it (this
 * instance's own revocations at once: auth_generation) */
#define AUTH_TTL_US          (5 * 1000000LL)
#define PENDING_SLOTS        8192 /* open addressing, at most half used */
#define PENDING_FLUSH_AT     (PENDING_SLOTS / 2)
#define PENDING_BYTES_MAX    (32u * 1024 * 1024) /* reports waiting in memory */
#define CACHE_TTL_US         (10 * 1000000LL)    /* re-read at least this often (another instance may publish) */
#define REPORT_RESULTS_MAX   1024
#define CHECKIN_INTERVAL_MIN 30
#define CHECKIN_ANSWER_MAX   4096
#define RENEWALS_PER_DAY     2 /* besides the enrollment: a failed install can be retried once */

/* What a check-in answer needs from a group's policy, without parsing the
 * document on every check-in. */
struct policy_facts {
	char group[STORE_ID_MAX];
	const struct server *srv;
	uint64_t generation;
	int64_t loaded_us;
	int64_t version;
	char sha256[STORE_HASH_HEX];
	char *approvals_json, *exceptions_json; /* JSON arrays of ids */
	int64_t checkin_interval_s;             /* 0 = server default */
};

static struct policy_facts cache[CACHE_SLOTS];
static unsigned cache_next;

struct device_ctx {
	struct store_device dev;
	char serial[PKI_SERIAL_MAX];
	int64_t not_after_us;
};

struct auth_entry {
	bool used;
	char serial[PKI_SERIAL_MAX];
	char cn[PKI_TERMINAL_ID];
	struct store_device dev;
	bool cert_revoked;
	uint64_t generation;
	int64_t loaded_us;
};

struct pending {
	bool used;
	struct store_chain head;
	bool has_head;
	char terminal_id[STORE_ID_MAX];
	char agent_version[65];
	int64_t time_us, policy_version;
	char *hostname, *report, *compliance, *inventory;
};

#define UPLOAD_GROUP_MAX   128                 /* uploads in one commit; more: committed at once */
#define UPLOAD_GROUP_BYTES (32u * 1024 * 1024) /* their bodies in one commit; more: committed at once */
/* One upload: parsed and authenticated in its handler, stored in a group
 * (upload_ingest), answered after the group's commit (upload_reply). */
struct upload {
	struct http_req *req;
	struct device_ctx d;
	cJSON *body, *cands;
	struct chain_result res;
	int r;
};

struct device_state {
	struct auth_entry auth[AUTH_SLOTS];
	struct pending pending[PENDING_SLOTS];
	size_t n_pending, pending_bytes;
	struct upload uploads[UPLOAD_GROUP_MAX]; /* waiting for the group commit */
	size_t n_uploads, upload_bytes;
	uint64_t groups, grouped;                     /* group commits, uploads in them */
	uint64_t latency[API_DEVICE_LATENCY_BUCKETS]; /* per bucket, not cumulative */
	double latency_sum_s;
	uint64_t tls_resumed; /* check-ins over a resumed TLS session (issue 18) */
	uint64_t grants;      /* check-in answers with approval data (signed for it) */
};

const double api_device_latency_bounds[API_DEVICE_LATENCY_BUCKETS - 1] = {
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
};

void api_device_metrics(const struct server *srv, struct api_device_metrics *ret)
{
	const struct device_state *ds = srv->device_state;
	uint64_t sum = 0;

	memset(ret, 0, sizeof(*ret));
	if (!ds)
		return;
	for (size_t i = 0; i < API_DEVICE_LATENCY_BUCKETS; i++)
		ret->checkin_buckets[i] = sum += ds->latency[i];
	ret->checkin_seconds_sum = ds->latency_sum_s;
	ret->checkins_pending = ds->n_pending;
	ret->checkins_pending_bytes = ds->pending_bytes;
	ret->checkins_tls_resumed = ds->tls_resumed;
	ret->checkin_grants = ds->grants;
	ret->upload_commits = ds->groups;
	ret->uploads_committed = ds->grouped;
}

static void latency_observe(struct device_state *ds, double s)
{
	size_t i = 0;

	while (i < API_DEVICE_LATENCY_BUCKETS - 1 && s > api_device_latency_bounds[i])
		i++;
	ds->latency[i]++;
	ds->latency_sum_s += s;
}

/* A check-in parses and frees a few hundred small cJSON nodes. While one is
 * handled, cJSON allocates from this arena (bump pointer, nothing freed
 * one by one) and everything is dropped when it ends; anything kept past
 * the request is copied out with strdup(). Outside a check-in, and when the
 * arena is full, allocations go to malloc. Installed through the policy
 * module's hooks (policy_mem_set_hooks), which own cJSON's global hooks. */
#define ARENA_SIZE (256 * 1024)

static struct {
	char *base;
	size_t used;
	bool active;
} arena;

static void *arena_malloc(size_t n)
{
	size_t a = (n + 15) & ~(size_t)15;

	if (arena.active && arena.base && a <= ARENA_SIZE - arena.used) {
		void *p = arena.base + arena.used;

		arena.used += a;
		return p;
	}
	return malloc(n);
}

static void arena_free(void *p)
{
	if (arena.base && (char *)p >= arena.base && (char *)p < arena.base + ARENA_SIZE)
		return;
	free(p);
}

/* A string printed by cJSON, copied to the heap (it may live in the arena). */
static char *arena_strdup(char *s)
{
	char *c = s ? strdup(s) : NULL;

	if (s)
		cJSON_free(s);
	return c;
}

static bool arena_begin(void)
{
	arena.used = 0;
	arena.active = true;
	return true;
}

static void arena_endp(bool *on)
{
	if (*on) {
		arena.active = false;
		arena.used = 0;
	}
}

static uint32_t fnv1a(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static void pending_clear(struct pending *p)
{
	free(p->hostname);
	free(p->report);
	free(p->compliance);
	free(p->inventory);
	memset(p, 0, sizeof(*p));
}

int api_device_init(struct server *srv)
{
	srv->device_state = calloc(1, sizeof(*srv->device_state));
	if (!srv->device_state)
		return -ENOMEM;
	if (!arena.base) {
		arena.base = malloc(ARENA_SIZE);
		if (arena.base)
			policy_mem_set_hooks(arena_malloc, arena_free);
	}
	return 0;
}

int api_device_flush(struct server *srv)
{
	struct device_state *ds = srv->device_state;
	_cleanup_free_ struct store_checkin *cs = NULL;
	size_t n = 0, written = 0;
	int r;

	if (!ds || ds->n_pending == 0)
		return 0;
	cs = calloc(ds->n_pending, sizeof(*cs));
	if (!cs)
		return -ENOMEM;
	for (size_t i = 0; i < PENDING_SLOTS; i++) {
		struct pending *p = &ds->pending[i];

		if (!p->used)
			continue;
		cs[n++] = (struct store_checkin){
		        .terminal_id = p->terminal_id,
		        .time_us = p->time_us,
		        .agent_version = p->agent_version,
		        .hostname = p->hostname,
		        .policy_version = p->policy_version,
		        .report_json = p->report,
		        .compliance_json = p->compliance,
		        .inventory_json = p->inventory,
		        .head = p->has_head ? &p->head : NULL,
		};
	}
	r = STORE_CALL(srv->store, checkin_many, cs, n, &written);
	if (r < 0)
		return log_error_errno(r, "store: writing %zu check-ins: %m", n); /* kept: tried again */
	for (size_t i = 0; i < PENDING_SLOTS; i++)
		if (ds->pending[i].used)
			pending_clear(&ds->pending[i]);
	ds->n_pending = 0;
	ds->pending_bytes = 0;
	return (int)written;
}

void api_device_fini(struct server *srv)
{
	if (!srv->device_state)
		return;
	(void)api_device_flush(srv);
	for (size_t i = 0; i < PENDING_SLOTS; i++)
		pending_clear(&srv->device_state->pending[i]);
	free(srv->device_state);
	srv->device_state = NULL;
	policy_mem_set_hooks(NULL, NULL);
	free(arena.base);
	arena.base = NULL;
}

void api_device_invalidate(struct server *srv)
{
	srv->auth_generation++;
}

/* The slot for terminal_id (its pending check-in, or a free one). */
static struct pending *pending_slot(struct device_state *ds, const char *terminal_id)
{
	for (uint32_t i = fnv1a(terminal_id) % PENDING_SLOTS;; i = (i + 1) % PENDING_SLOTS) {
		struct pending *p = &ds->pending[i];

		if (!p->used || strcmp(p->terminal_id, terminal_id) == 0)
			return p;
	}
}

/* The identity behind a certificate, from the cache or the store. */
static int identity(struct server *srv, const char *serial, const char *cn, struct auth_entry **ret)
{
	struct auth_entry *e = &srv->device_state->auth[fnv1a(serial) % AUTH_SLOTS];
	int64_t now = server_now_us();
	struct store_cert cert;
	int r;

	if (e->used && strcmp(e->serial, serial) == 0 && strcmp(e->cn, cn) == 0 &&
	    e->generation == srv->auth_generation && now - e->loaded_us < AUTH_TTL_US) {
		*ret = e;
		return 0;
	}
	e->used = false;
	r = STORE_CALL(srv->store, cert_get, serial, &cert);
	if (r < 0)
		return r;
	if (strcmp(cert.terminal_id, cn) != 0)
		return -ENOENT;
	r = STORE_CALL(srv->store, device_get, cn, &e->dev);
	if (r < 0)
		return r;
	(void)strscpy(e->serial, sizeof(e->serial), serial);
	(void)strscpy(e->cn, sizeof(e->cn), cn);
	e->cert_revoked = cert.revoked;
	e->generation = srv->auth_generation;
	e->loaded_us = now;
	e->used = true;
	*ret = e;
	return 0;
}

static void identity_forget(struct server *srv, const char *serial)
{
	struct auth_entry *e = &srv->device_state->auth[fnv1a(serial) % AUTH_SLOTS];

	if (strcmp(e->serial, serial) == 0)
		e->used = false;
}

static int device_auth(struct server *srv, struct http_req *req, struct device_ctx *ret)
{
	struct device_ctx d = {0};
	struct auth_entry *e;
	char cn[PKI_TERMINAL_ID];
	X509 *peer = http_req_peer_cert(req);
	int r;

	if (!peer || pki_cert_identity(peer, d.serial, cn, &d.not_after_us) < 0) {
		http_reply_error(req, 403, "no_certificate", "端末証明書がありません", "no device certificate", NULL);
		return -EACCES;
	}
	if (d.not_after_us <= server_now_us()) {
		/* the handshake refuses an expired certificate; this catches one
		 * carried over by anything that skips it (a resumed session) */
		server_audit(srv, "device", "device.refused", cn, "expired", d.serial);
		http_reply_error(req, 403, "expired", "端末証明書の有効期限が切れています",
		                 "the device certificate has expired", NULL);
		return -EACCES;
	}
	r = identity(srv, d.serial, cn, &e);
	if (r == -ENOENT) {
		server_audit(srv, "device", "device.refused", cn, "unknown_certificate", d.serial);
		http_reply_error(req, 403, "unknown_certificate", "このサーバーが発行した証明書ではありません",
		                 "this certificate was not issued by this server", NULL);
		return -EACCES;
	}
	if (r < 0) {
		log_error_errno(r, "store: reading terminal %s: %m", cn);
		http_reply_error(req, 503, "store_unavailable", "サーバーの記録領域が使えません",
		                 "the store is unavailable", NULL);
		return r;
	}
	if (e->cert_revoked || e->dev.revoked) {
		server_audit(srv, "device", "device.refused", cn, "revoked", d.serial);
		http_reply_error(req, 403, "revoked", "この端末の証明書は失効しています (MDM-3)",
		                 "this terminal's certificate is revoked (MDM-3)", NULL);
		return -EACCES;
	}
	d.dev = e->dev;
	*ret = d;
	return 0;
}

static void store_failed(struct http_req *req, int r, const char *what)
{
	log_error_errno(r, "store: %s: %m", what);
	http_reply_error(req, 503, "store_unavailable", "サーバーの記録領域が使えません。後で再送してください",
	                 "the store is unavailable; send again later", NULL);
}

/* ---- policy facts cache -------------------------------------------------------- */

static char *ids_json(const cJSON *arr)
{
	_cleanup_json_ cJSON *out = cJSON_CreateArray();
	const cJSON *c;

	if (!out)
		return NULL;
	cJSON_ArrayForEach(c, arr)
	{
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(c, "id");

		if (cJSON_IsString(id) && !cJSON_AddItemToArray(out, cJSON_CreateString(id->valuestring)))
			return NULL;
	}
	return cJSON_PrintUnformatted(out);
}

static void facts_clear(struct policy_facts *f)
{
	free(f->approvals_json);
	free(f->exceptions_json);
	memset(f, 0, sizeof(*f));
}

static int policy_facts(struct server *srv, const char *group, const struct policy_facts **ret)
{
	struct store_policy p = {0};
	struct policy_facts *f = NULL;
	int64_t now = server_now_us();
	_cleanup_json_ cJSON *doc = NULL;
	int r;

	for (unsigned i = 0; i < CACHE_SLOTS; i++)
		if (cache[i].srv == srv && strcmp(cache[i].group, group) == 0) {
			f = &cache[i];
			break;
		}
	if (f && f->generation == srv->policy_generation && now - f->loaded_us < CACHE_TTL_US) {
		*ret = f;
		return 0;
	}
	if (!f)
		f = &cache[cache_next++ % CACHE_SLOTS];
	facts_clear(f);
	r = STORE_CALL(srv->store, policy_current, group, &p);
	if (r < 0 && r != -ENOENT)
		return r;
	(void)strscpy(f->group, sizeof(f->group), group);
	f->srv = srv;
	f->generation = srv->policy_generation;
	f->loaded_us = now;
	if (r == 0) {
		const cJSON *rep, *iv;

		f->version = p.version;
		memcpy(f->sha256, p.sha256, sizeof(f->sha256));
		doc = cJSON_ParseWithLength(p.document, p.document_len);
		f->approvals_json = ids_json(
		        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, "carry"), "approvals"));
		f->exceptions_json = ids_json(cJSON_GetObjectItemCaseSensitive(doc, "exceptions"));
		rep = cJSON_GetObjectItemCaseSensitive(doc, "reporting");
		iv = cJSON_GetObjectItemCaseSensitive(rep, "checkin_interval_seconds");
		if (cJSON_IsNumber(iv) && iv->valuedouble >= CHECKIN_INTERVAL_MIN && iv->valuedouble <= 86400)
			f->checkin_interval_s = (int64_t)iv->valuedouble;
		store_policy_clear(&p);
		if (!f->approvals_json || !f->exceptions_json) {
			facts_clear(f);
			return -ENOMEM;
		}
	}
	*ret = f;
	return 0;
}

/* ---- check-in ---------------------------------------------------------------------- */

static int status_rank(const char *s)
{
	static const char *const order[] = {"not_applicable", "pass", "excepted", "error", "fail"};

	for (int i = 0; i < (int)ELEMENTSOF(order); i++)
		if (s && strcmp(s, order[i]) == 0)
			return i;
	return -1;
}

cJSON *api_device_compliance(const cJSON *report)
{
	const cJSON *results = cJSON_GetObjectItemCaseSensitive(report, "results"), *res;
	_cleanup_json_ cJSON *out = NULL;
	unsigned n = 0;

	if (!cJSON_IsArray(results))
		return NULL;
	out = cJSON_CreateObject();
	if (!out)
		return NULL;
	cJSON_ArrayForEach(res, results)
	{
		const cJSON *st = cJSON_GetObjectItemCaseSensitive(res, "status");
		const cJSON *reqs = cJSON_GetObjectItemCaseSensitive(res, "requirements"), *id;
		const cJSON *exc = cJSON_GetObjectItemCaseSensitive(res, "exception");
		const char *status;

		if (++n > REPORT_RESULTS_MAX)
			break;
		if (!cJSON_IsString(st) || status_rank(st->valuestring) < 0)
			continue;
		status = st->valuestring;
		if (strcmp(status, "fail") == 0 && cJSON_IsString(exc))
			status = "excepted"; /* OPS-3: an approved exception covers it */
		cJSON_ArrayForEach(id, reqs)
		{
			cJSON *cur;

			if (!cJSON_IsString(id) || strlen(id->valuestring) > 16)
				continue;
			cur = cJSON_GetObjectItemCaseSensitive(out, id->valuestring);
			if (!cur) {
				if (!cJSON_AddStringToObject(out, id->valuestring, status))
					return NULL;
			} else if (status_rank(status) > status_rank(cur->valuestring)) {
				if (!cJSON_ReplaceItemInObjectCaseSensitive(out, id->valuestring,
				                                            cJSON_CreateString(status)))
					return NULL;
			}
		}
	}
	return TAKE_PTR(out);
}

struct checkin_answer {
	const char *terminal_id, *now, *not_after;
	const struct policy_facts *pf;
	const struct store_chain *chain;
	const char *agent_chain; /* the journal the terminal reported; NULL = none */
	bool renew;
	int64_t interval;
	const char *commands_json; /* api_command_checkin; NULL = none */
	const char *grants_json;   /* api_request_grants; NULL = none */
};

/* snprintf's contract: the length the whole answer needs. */
static int checkin_answer(const struct checkin_answer *a, char *buf, size_t bufsz)
{
	char sha[96] = "";
	uint64_t acked = chain_acked_for(a->chain, a->agent_chain);
	bool prev = a->agent_chain && a->chain->restart_seq && strcmp(a->agent_chain, a->chain->prev_chain) == 0;

	if (a->pf->version)
		(void)xsnprintf(sha, sizeof(sha), ",\"sha256\":\"%s\"", a->pf->sha256);
	return snprintf(buf, bufsz,
	                "{\"terminal_id\":\"%s\",\"server_time\":\"%s\",\"policy\":{\"version\":%" PRId64
	                "%s},\"events\":{\"acked_seq\":%" PRIu64 ",\"chain\":\"%s\",\"head_hash\":\"%s\"},"
	                "\"approvals\":%s,\"exceptions\":%s,\"commands\":%s,\"grants\":%s,"
	                "\"certificate\":{\"not_after\":\"%s\",\"renew\":%s},\"checkin_interval_seconds\":%" PRId64 "}",
	                a->terminal_id, a->now, a->pf->version, sha, acked,
	                prev ? a->chain->prev_chain : a->chain->chain,
	                prev ? a->chain->prev_head_hash : a->chain->head_hash, a->pf->approvals_json ?: "[]",
	                a->pf->exceptions_json ?: "[]", a->commands_json ?: "[]", a->grants_json ?: "null",
	                a->not_after, a->renew ? "true" : "false", a->interval);
}

static const char *opt_string(const cJSON *o, const char *key, size_t max)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsString(v) || !v->valuestring || strlen(v->valuestring) > max ||
	    !utf8_valid(v->valuestring, strlen(v->valuestring)))
		return NULL;
	return v->valuestring;
}

const char *api_unknown_field(const cJSON *o, const char *const *allowed)
{
	const cJSON *c;

	if (!cJSON_IsObject(o))
		return NULL;
	cJSON_ArrayForEach(c, o)
	{
		size_t i = 0;

		while (allowed[i] && (!c->string || strcmp(c->string, allowed[i]) != 0))
			i++;
		if (!allowed[i])
			return c->string ?: "";
		/* a member named twice is refused too: which of the two the
		 * handler would read is not the sender's to guess (issue 19.3;
		 * a request body never gets here with one: http_req_json refuses
		 * it as duplicate_field, at any depth) */
		for (const cJSON *d = o->child; d != c; d = d->next)
			if (d->string && strcmp(d->string, c->string) == 0)
				return c->string;
	}
	return NULL;
}

void api_refuse_unknown_field(struct server *srv, struct http_req *req, const char *actor, const char *action,
                              const char *target, const char *field)
{
	_cleanup_json_ cJSON *x = cJSON_CreateObject();
	/* the name is the client's: its first 64 bytes, escaped (escape_untrusted:
	 * what is not UTF-8 or not printable as \xHH, a cut inside a character
	 * too), so that the reply and the audit row stay UTF-8 text */
	_cleanup_free_ char *name = escape_untrusted(field, strlen(field), 64);
	char detail[320], ja[360], en[360];

	(void)xsnprintf(detail, sizeof(detail), "unknown field %s", name ?: "?");
	if (actor) /* NULL: before authentication (login, bootstrap), not audited */
		server_audit(srv, actor, action, target, "unknown_field", detail);
	(void)xsnprintf(ja, sizeof(ja), "知らないフィールドです: %s", detail + 14);
	(void)xsnprintf(en, sizeof(en), "unknown field: %s", detail + 14);
	if (x)
		cJSON_AddStringToObject(x, "field", detail + 14);
	http_reply_error(req, 400, "unknown_field", ja, en, x);
}

int api_no_body(struct server *srv, struct http_req *req, const char *actor, const char *action, const char *target)
{
	_cleanup_json_ cJSON *j = NULL;
	const char *b;
	size_t n;
	int r = http_req_body(req, 4096, &b, &n);

	if (r == 0) {
		size_t i = 0;

		while (i < n && strchr(" \t\r\n", b[i]))
			i++;
		if (i == n)
			return 0; /* nothing */
		if (http_req_json(req, 4096, &j) == 0 && cJSON_IsObject(j) && !j->child)
			return 0; /* {} */
	}
	if (actor)
		server_audit(srv, actor, action, target, "refused", "a body where none is taken");
	http_reply_error(req, 400, "unexpected_body", "この操作は本文を受け付けません", "this action takes no body",
	                 NULL);
	return -EBADMSG;
}

/* What the agent sends (agent/net/transport.c); terminal_id is accepted and
 * ignored (the certificate says who it is). */
static const char *const checkin_fields[] = {
        "agent_version", "hostname",    "policy_version",  "journal",           "report",
        "inventory",     "terminal_id", "command_results", "approvals_version", NULL};
/* one result of a remote command (docs/COMMANDS.md) */
static const char *const command_result_fields[] = {"id", "status", "detail", NULL};
static const char *const checkin_journal_fields[] = {"chain", "head_seq", "head_hash", "acked_seq", NULL};
static const char *const events_fields[] = {"records", NULL};
static const char *const renew_fields[] = {"csr", NULL};

static void bad_request(struct http_req *req, const char *ja, const char *en)
{
	http_reply_error(req, 400, "invalid", ja, en, NULL);
}

static void checkin(struct server *srv, struct http_req *req)
{
	struct device_ctx d;
	_cleanup_free_ char *report_s = NULL, *compliance_s = NULL, *inventory_s = NULL;
	const struct policy_facts *pf;
	const cJSON *report, *inventory, *journal, *pv, *av;
	int64_t approvals_version = -1; /* not said (an older agent): sent as before */
	struct store_checkin c = {0};
	struct store_chain head = {0};
	const char *agent_chain = NULL;
	char now_s[32], na_s[32];
	int r;

	if (device_auth(srv, req, &d) < 0)
		return;
	r = policy_facts(srv, d.dev.group, &pf);
	if (r < 0)
		return store_failed(req, r, "policy");

	/* from here to the end, cJSON works in the arena (declared before the
	 * JSON so that it is released after them) */
	_cleanup_(arena_endp) __attribute__((unused)) bool in_arena = arena_begin();
	_cleanup_json_ cJSON *body = NULL, *compliance = NULL;

	r = http_req_json(req, SERVER_CHECKIN_MAX, &body);
	if (r < 0)
		return http_reply_body_error(req, r);
	if (!cJSON_IsObject(body) || !(c.agent_version = opt_string(body, "agent_version", 64)))
		return bad_request(req, "agent_version (文字列) が必要です", "agent_version (string) is required");
	{
		const char *u = api_unknown_field(body, checkin_fields);
		char jf[80];

		if (!u && (u = api_unknown_field(cJSON_GetObjectItemCaseSensitive(body, "journal"),
		                                 checkin_journal_fields))) {
			(void)xsnprintf(jf, sizeof(jf), "journal.%.64s", u);
			u = jf;
		}
		{
			const cJSON *cr = cJSON_GetObjectItemCaseSensitive(body, "command_results"), *it;

			cJSON_ArrayForEach(it, cr) if (!u && (u = api_unknown_field(it, command_result_fields)))
			{
				(void)xsnprintf(jf, sizeof(jf), "command_results[].%.48s", u);
				u = jf;
			}
		}
		if (u)
			return api_refuse_unknown_field(srv, req, "device", "checkin", d.dev.terminal_id, u);
	}
	c.time_us = server_now_us();
	c.hostname = opt_string(body, "hostname", 255);
	pv = cJSON_GetObjectItemCaseSensitive(body, "policy_version");
	c.policy_version = cJSON_IsNumber(pv) && pv->valuedouble >= 0 && pv->valuedouble < 9007199254740992.0
	                           ? (int64_t)pv->valuedouble
	                           : 0;
	/* the approval data version the terminal has installed: a whole
	 * number or the member is refused, not taken as "none" */
	av = cJSON_GetObjectItemCaseSensitive(body, "approvals_version");
	if (av) {
		if (!cJSON_IsNumber(av) || av->valuedouble < 0 || av->valuedouble >= 9007199254740992.0 ||
		    av->valuedouble != (double)(int64_t)av->valuedouble)
			return bad_request(req, "approvals_version は 0 以上の整数です",
			                   "approvals_version must be a whole number, 0 or more");
		approvals_version = (int64_t)av->valuedouble;
	}
	report = cJSON_GetObjectItemCaseSensitive(body, "report");
	if (cJSON_IsObject(report)) {
		compliance = api_device_compliance(report);
		report_s = arena_strdup(cJSON_PrintBuffered(report, 4096, false));
		compliance_s = compliance ? arena_strdup(cJSON_PrintUnformatted(compliance)) : NULL;
	}
	inventory = cJSON_GetObjectItemCaseSensitive(body, "inventory");
	if (cJSON_IsObject(inventory)) {
		inventory_s = arena_strdup(cJSON_PrintUnformatted(inventory));
		if (inventory_s && strlen(inventory_s) > SERVER_INVENTORY_MAX)
			return http_reply_error(req, 413, "too_large", "inventory が上限 (256 KiB) を超えています",
			                        "inventory is larger than 256 KiB", NULL);
	}
	journal = cJSON_GetObjectItemCaseSensitive(body, "journal");
	if (cJSON_IsObject(journal)) {
		const cJSON *hs = cJSON_GetObjectItemCaseSensitive(journal, "head_seq");
		const cJSON *ch = cJSON_GetObjectItemCaseSensitive(journal, "chain");

		if (cJSON_IsString(ch) && strlen(ch->valuestring) == 32 &&
		    strspn(ch->valuestring, "0123456789abcdef") == 32)
			agent_chain = ch->valuestring;

		if (cJSON_IsNumber(hs) && hs->valuedouble >= 0 && hs->valuedouble < 9007199254740992.0) {
			head.head_seq = (uint64_t)hs->valuedouble;
			c.head = &head;
		}
	}
	/* the terminal ID is the certificate's; a "terminal_id" in the body is
	 * ignored. Queued, replacing an earlier one not yet written. */
	{
		struct device_state *ds = srv->device_state;
		struct pending *p = pending_slot(ds, d.dev.terminal_id);
		bool was_used = p->used;

		pending_clear(p);
		p->used = true;
		(void)strscpy(p->terminal_id, sizeof(p->terminal_id), d.dev.terminal_id);
		(void)strscpy(p->agent_version, sizeof(p->agent_version), c.agent_version);
		p->time_us = c.time_us;
		p->policy_version = c.policy_version;
		p->has_head = c.head != NULL;
		p->head = head;
		p->hostname = c.hostname ? strdup(c.hostname) : NULL;
		p->report = TAKE_PTR(report_s);
		p->compliance = TAKE_PTR(compliance_s);
		p->inventory = TAKE_PTR(inventory_s);
		if (!was_used)
			ds->n_pending++;
		ds->pending_bytes += (p->report ? strlen(p->report) : 0) + (p->inventory ? strlen(p->inventory) : 0);
		if (ds->n_pending >= PENDING_FLUSH_AT || ds->pending_bytes >= PENDING_BYTES_MAX)
			(void)api_device_flush(srv);
	}
	/* approvals of its requests, signed with the policy key (issue 16),
	 * read in one statement with whether a command is due */
	_cleanup_free_ char *grants_json = NULL;
	bool commands_due = false;
	r = api_request_grants(srv, d.dev.terminal_id, approvals_version,
	                       api_command_redeliver_before(srv, server_now_us()), &commands_due, &grants_json);
	if (r < 0)
		return store_failed(req, r, "approvals");
	srv->device_state->grants += grants_json != NULL;
	/* remote commands: the results it reports, the commands queued for it */
	_cleanup_free_ char *commands_json = NULL;
	r = api_command_checkin(srv, d.dev.terminal_id, cJSON_GetObjectItemCaseSensitive(body, "command_results"),
	                        commands_due, &commands_json);
	if (r < 0)
		return store_failed(req, r, "commands");
	server_format_time(c.time_us, now_s);
	server_format_time(d.not_after_us, na_s);
	/* written directly: every value is an ID, a time, hex or JSON made by
	 * this server (the check-in rate depends on it) */
	{
		struct checkin_answer a = {
		        .terminal_id = d.dev.terminal_id,
		        .now = now_s,
		        .not_after = na_s,
		        .pf = pf,
		        .chain = &d.dev.chain,
		        .agent_chain = agent_chain,
		        .renew = d.not_after_us - c.time_us < srv->cfg.device_cert_seconds * 1000000 / 3,
		        .interval = pf->checkin_interval_s ? pf->checkin_interval_s : srv->cfg.checkin_interval_s,
		        .commands_json = commands_json,
		        .grants_json = grants_json,
		};
		char buf[CHECKIN_ANSWER_MAX];
		_cleanup_free_ char *big = NULL;
		int n = checkin_answer(&a, buf, sizeof(buf));

		if (n >= 0 && (size_t)n >= sizeof(buf)) {
			/* long lists of approvals and exceptions (each ≤ 1024 ids) */
			big = malloc((size_t)n + 1);
			n = big ? checkin_answer(&a, big, (size_t)n + 1) : -1;
		}
		if (n < 0)
			return http_reply_error(req, 500, "no_memory", "メモリ不足です", "out of memory", NULL);
		http_reply_data(req, 200, "application/json; charset=utf-8", big ?: buf, (size_t)n);
	}
}

/* Every check-in's handling time goes into the latency histogram (/metrics),
 * refused ones too. */
static void handle_checkin(void *userdata, struct http_req *req)
{
	struct server *srv = userdata;
	struct timespec a, b;

	clock_gettime(CLOCK_MONOTONIC, &a);
	checkin(srv, req);
	clock_gettime(CLOCK_MONOTONIC, &b);
	if (srv->device_state) {
		latency_observe(srv->device_state,
		                (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9);
		srv->device_state->tls_resumed += http_req_tls_resumed(req);
	}
}

/* ---- events ------------------------------------------------------------------------ */

static void upload_ingest(struct server *srv, struct upload *u)
{
	u->r = chain_ingest(srv->store, u->d.dev.terminal_id, cJSON_GetObjectItemCaseSensitive(u->body, "records"),
	                    server_now_us(), &u->res);
	identity_forget(srv, u->d.serial); /* its chain head moved: re-read at the next request */
	if (u->r == 0 && u->cands)         /* the requests among what the server now holds */
		api_request_ingest(srv, u->d.dev.terminal_id, u->cands, u->res.acked_seq);
}

/* The answer to an upload whose writes are committed (commit 0), or a 503
 * when the commit failed: nothing of it is acknowledged then. */
static void upload_reply(struct upload *u, int commit)
{
	struct http_req *req = u->req;
	const struct chain_result *res = &u->res;
	_cleanup_json_ cJSON *out = NULL;

	if (u->r == -EINVAL) {
		_cleanup_json_ cJSON *x = cJSON_CreateObject();

		cJSON_AddStringToObject(x, "detail", res->detail);
		return http_reply_error(req, 400, "invalid_records", "ジャーナルの記録として不正な形式です",
		                        "the batch holds malformed journal records", x);
	}
	if (u->r < 0)
		return store_failed(req, u->r, "events");
	if (commit < 0)
		return store_failed(req, commit, "events (commit)");
	if (res->broken != _FINDING_INVALID) {
		_cleanup_json_ cJSON *x = cJSON_CreateObject();

		log_warning("terminal %s: %s at seq %" PRIu64 ": %s", u->d.dev.terminal_id,
		            store_finding_to_string(res->broken), res->bad_seq, res->detail);
		if (!x || !cJSON_AddNumberToObject(x, "acked_seq", (double)res->acked_seq) ||
		    !cJSON_AddNumberToObject(x, "seq", (double)res->bad_seq) ||
		    !cJSON_AddNumberToObject(x, "stored", res->stored) ||
		    !cJSON_AddStringToObject(x, "detail", res->detail))
			return http_reply_error(req, 500, "no_memory", "メモリ不足です", "out of memory", NULL);
		return http_reply_error(req, 409, store_finding_to_string(res->broken),
		                        "イベントの連鎖が途切れています。改ざんの疑いとして記録しました (LOG-1)",
		                        "the event chain does not continue; recorded as suspected tampering (LOG-1)",
		                        x);
	}
	out = cJSON_CreateObject();
	if (!out || !cJSON_AddNumberToObject(out, "acked_seq", (double)res->acked_seq) ||
	    !cJSON_AddNumberToObject(out, "stored", res->stored) ||
	    !cJSON_AddNumberToObject(out, "duplicates", res->duplicates))
		return http_reply_error(req, 500, "no_memory", "メモリ不足です", "out of memory", NULL);
	http_reply_json(req, 200, out);
}

static void upload_free(struct upload *u)
{
	cJSON_Delete(u->body);
	cJSON_Delete(u->cands);
	memset(u, 0, sizeof(*u));
}

static int upload_cmp(const void *a, const void *b)
{
	return strcmp(((const struct upload *)a)->d.dev.terminal_id, ((const struct upload *)b)->d.dev.terminal_id);
}

void api_device_uploads_commit(struct server *srv)
{
	struct device_state *ds = srv->device_state;
	size_t n;
	int r;

	if (!ds || ds->n_uploads == 0)
		return;
	n = ds->n_uploads;
	ds->n_uploads = 0; /* a handler run from here queues for the next group */
	ds->upload_bytes = 0;
	/* one order of terminals for every instance: two groups on one
	 * PostgreSQL database lock the same heads in the same order */
	qsort(ds->uploads, n, sizeof(ds->uploads[0]), upload_cmp);
	r = srv->store->ops->group_begin(srv->store);
	if (r < 0)
		log_error_errno(r, "store: cannot begin a group of %zu uploads: %m", n);
	for (size_t i = 0; i < n; i++)
		if (r < 0)
			ds->uploads[i].r = r;
		else
			upload_ingest(srv, &ds->uploads[i]);
	if (r >= 0) {
		r = STORE_CALL(srv->store, group_end, 0);
		if (r < 0)
			log_error_errno(r, "store: committing a group of %zu uploads: %m", n);
	}
	ds->groups++;
	ds->grouped += n;
	for (size_t i = 0; i < n; i++) {
		upload_reply(&ds->uploads[i], r);
		http_req_release(ds->uploads[i].req);
		upload_free(&ds->uploads[i]);
	}
}

/* POST /api/v1/events: records of the terminal's journal. Queued when the
 * server groups commits (srv->upload_kick): every upload handled in the same
 * turn of the loop — more of them while a commit waits for the disk — is
 * stored in one transaction with one fsync, and each is answered only after
 * that commit (an acknowledgement still means durable, LOG-1). */
static void handle_events(void *userdata, struct http_req *req)
{
	struct server *srv = userdata;
	struct device_state *ds = srv->device_state;
	struct upload u = {.req = req};
	int r;

	if (device_auth(srv, req, &u.d) < 0)
		return;
	r = http_req_json(req, SERVER_BODY_MAX, &u.body);
	if (r < 0)
		return http_reply_body_error(req, r);
	{
		const char *u_field = api_unknown_field(u.body, events_fields);

		if (u_field) {
			api_refuse_unknown_field(srv, req, "device", "events.upload", u.d.dev.terminal_id, u_field);
			return upload_free(&u);
		}
	}
	/* requests to the approver among them (issue 16), copied: chain_ingest takes the strings */
	u.cands = api_request_candidates(cJSON_GetObjectItemCaseSensitive(u.body, "records"));
	if (ds && srv->upload_kick && http_req_can_defer(req)) {
		const char *raw;
		size_t len = 0;

		if (ds->n_uploads == UPLOAD_GROUP_MAX)
			api_device_uploads_commit(srv);
		http_req_defer(req);
		ds->uploads[ds->n_uploads++] = u;
		if (ds->n_uploads == 1)
			srv->upload_kick(srv);
		/* parsed batches held in memory: bounded (each ≤ SERVER_BODY_MAX) */
		if (http_req_body(req, SERVER_BODY_MAX, &raw, &len) == 0)
			ds->upload_bytes += len;
		if (ds->upload_bytes >= UPLOAD_GROUP_BYTES)
			api_device_uploads_commit(srv);
		return;
	}
	upload_ingest(srv, &u);
	upload_reply(&u, 0);
	upload_free(&u);
}

/* ---- policy ---------------------------------------------------------------------------- */

static void handle_policy(void *userdata, struct http_req *req)
{
	struct server *srv = userdata;
	struct device_ctx d;
	struct store_policy p = {0};
	char v[32];
	int r;

	if (device_auth(srv, req, &d) < 0)
		return;
	r = STORE_CALL(srv->store, policy_current, d.dev.group, &p);
	if (r == -ENOENT)
		return http_reply_error(req, 404, "no_policy", "このグループのポリシーはまだありません",
		                        "this group has no policy yet", NULL);
	if (r < 0)
		return store_failed(req, r, "policy");
	(void)xsnprintf(v, sizeof(v), "%" PRId64, p.version);
	http_add_header(req, "Mamori-Policy-Version", v);
	http_add_header(req, "Mamori-Policy-Signature", p.signature);
	http_reply_data(req, 200, "application/json", p.document, p.document_len);
	store_policy_clear(&p);
}

/* ---- renewal ----------------------------------------------------------------------------- */

static void handle_renew(void *userdata, struct http_req *req)
{
	struct server *srv = userdata;
	struct device_ctx d;
	_cleanup_json_ cJSON *body = NULL, *out = NULL;
	_cleanup_free_ char *pem = NULL;
	struct store_cert c = {0};
	const char *csr;
	char na[32], detail[96];
	unsigned revoked = 0;
	int64_t now;
	int r;

	if (device_auth(srv, req, &d) < 0)
		return;
	r = http_req_json(req, SERVER_JSON_SMALL, &body);
	if (r < 0)
		return http_reply_body_error(req, r);
	{
		const char *u = api_unknown_field(body, renew_fields);

		if (u)
			return api_refuse_unknown_field(srv, req, "device", "certificate.renew", d.dev.terminal_id, u);
	}
	csr = opt_string(body, "csr", PKI_CSR_MAX);
	if (!csr)
		return bad_request(req, "csr (PEM) が必要です", "csr (PEM) is required");
	now = server_now_us();
	if (d.not_after_us - now > srv->cfg.device_cert_seconds * 1000000 / 3) {
		/* renewal is due in the last third of the validity (the check-in
		 * answer says when): a stolen key cannot mint fresh certificates */
		server_audit(srv, "device", "certificate.renew", d.dev.terminal_id, "refused", "not due");
		return http_reply_error(req, 409, "renewal_not_due",
		                        "証明書の更新は有効期間の最後の 3 分の 1 に入ってからです",
		                        "renewal is possible in the last third of the certificate's validity", NULL);
	}
	r = signer_sign_csr(srv->signer, csr, strlen(csr), d.dev.terminal_id, srv->cfg.device_cert_seconds, &pem,
	                    c.serial, &c.not_after_us);
	if (r == -EBADMSG)
		return bad_request(req, "CSR が不正か、端末IDが証明書と一致しません",
		                   "the CSR is invalid or does not name this terminal");
	if (r < 0)
		return http_reply_error(req, 500, "ca_error", "証明書を発行できません", "cannot issue the certificate",
		                        NULL);
	(void)strscpy(c.terminal_id, sizeof(c.terminal_id), d.dev.terminal_id);
	r = STORE_CALL(srv->store, cert_renew, &c, now, now - 86400 * 1000000LL, RENEWALS_PER_DAY + 1, &revoked);
	if (r == -EDQUOT) {
		server_audit(srv, "device", "certificate.renew", d.dev.terminal_id, "refused", "daily limit");
		return http_reply_error(req, 429, "renewal_limit", "本日の証明書更新の上限に達しました",
		                        "too many certificates issued to this terminal today", NULL);
	}
	if (r < 0)
		return store_failed(req, r, "renewal");
	srv->auth_generation++; /* the older certificates are revoked from now on */
	(void)xsnprintf(detail, sizeof(detail), "%s (%u older revoked)", c.serial, revoked);
	server_audit(srv, "device", "certificate.renew", d.dev.terminal_id, "ok", detail);
	server_format_time(c.not_after_us, na);
	out = cJSON_CreateObject();
	if (!out || !cJSON_AddStringToObject(out, "certificate", pem) ||
	    !cJSON_AddStringToObject(out, "ca", pki_ca_pem(srv->pki)) || !cJSON_AddStringToObject(out, "not_after", na))
		return http_reply_error(req, 500, "no_memory", "メモリ不足です", "out of memory", NULL);
	http_reply_json(req, 200, out);
}

/* POST /api/v1/commands/poll (no body): the command long poll (api_command.h) */
static void handle_poll(void *userdata, struct http_req *req)
{
	struct server *srv = userdata;
	struct device_ctx d;

	if (device_auth(srv, req, &d) < 0)
		return;
	api_command_poll(srv, d.dev.terminal_id, req);
}

const struct http_route api_device_routes[] = {
        {HTTP_POST, "/api/v1/checkin", handle_checkin}, {HTTP_POST, "/api/v1/commands/poll", handle_poll},
        {HTTP_POST, "/api/v1/events", handle_events},   {HTTP_GET, "/api/v1/policy", handle_policy},
        {HTTP_POST, "/api/v1/renew", handle_renew},
};
const size_t api_device_routes_n = ELEMENTSOF(api_device_routes);
