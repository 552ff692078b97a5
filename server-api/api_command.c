/* server-api/api_command.c — remote commands on the server (mamori-server):
 * the admin API to request, approve, cancel and list them (/admin/v1/commands,
 * OPS-4 for two-person types), their signing with the command key, and their
 * delivery on the check-in answer and the results the agents report
 * (docs/COMMANDS.md). Every step is in the audit trail. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_admin.h"
#include "api_command.h"
#include "api_device.h"
#include "command.h"
#include "crypto.h"
#include "json-util.h"
#include "log.h"
#include "policy_sign.h"
#include "server.h"
#include "store.h"
#include "strutil.h"

#define VALIDITY_DEFAULT_S (7LL * 86400)

static void store_failed(struct http_req *req, int r)
{
	log_error_errno(r, "store: %m");
	http_reply_error(req, 503, "store_unavailable", "サーバーの記録領域が使えません", "the store is unavailable",
	                 NULL);
}

static void hex_random(char *buf, size_t nbytes)
{
	uint8_t raw[32];

	(void)crypto_random(raw, nbytes);
	for (size_t i = 0; i < nbytes; i++)
		snprintf(buf + 2 * i, 3, "%02x", raw[i]);
}

static cJSON *command_json(const struct store_command *c)
{
	cJSON *o = cJSON_CreateObject();
	char t[32];

	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "id", c->id);
	cJSON_AddStringToObject(o, "terminal_id", c->terminal_id);
	cJSON_AddStringToObject(o, "type", c->type);
	cJSON_AddItemToObject(o, "params", cJSON_Parse(c->params[0] ? c->params : "{}"));
	cJSON_AddNumberToObject(o, "issued_at", (double)c->issued_at);
	cJSON_AddNumberToObject(o, "not_after", (double)c->not_after);
	cJSON_AddStringToObject(o, "requested_by", c->requested_by);
	if (c->approved_by[0])
		cJSON_AddStringToObject(o, "approved_by", c->approved_by);
	else
		cJSON_AddNullToObject(o, "approved_by");
	cJSON_AddStringToObject(o, "status", c->status);
	cJSON_AddStringToObject(o, "result", c->result);
	server_format_time(c->created_us, t);
	cJSON_AddStringToObject(o, "created", t);
	server_format_time(c->updated_us, t);
	cJSON_AddStringToObject(o, "updated", t);
	return o;
}

/* Build the envelope of c from its stored facts and sign it; c becomes queued. */
static int sign_command(struct server *srv, struct store_command *c)
{
	struct command_envelope e = {0};
	_cleanup_json_ cJSON *params = cJSON_Parse(c->params);
	const cJSON *it;
	char sig[POLICY_SIG_B64_LEN + 1];
	int n, r;

	e.type = command_type_from_string(c->type);
	if (e.type == _CMD_INVALID || !cJSON_IsObject(params) || strscpy(e.id, sizeof(e.id), c->id) < 0 ||
	    strscpy(e.terminal_id, sizeof(e.terminal_id), c->terminal_id) < 0 ||
	    strscpy(e.nonce, sizeof(e.nonce), c->nonce) < 0 ||
	    strscpy(e.requested_by, sizeof(e.requested_by), c->requested_by) < 0)
		return -EINVAL;
	cJSON_ArrayForEach(it, params)
	{
		const struct command_param *p = command_types[e.type].params;
		unsigned i;

		for (i = 0; p[i].name && strcmp(p[i].name, it->string); i++)
			;
		if (!p[i].name || !cJSON_IsNumber(it))
			return -EINVAL;
		e.param[i] = (int64_t)it->valuedouble;
		e.has_param[i] = true;
	}
	e.issued_at = c->issued_at;
	e.not_after = c->not_after;
	if (c->approved_by[0]) {
		if (strscpy(e.approved_by[0], sizeof(e.approved_by[0]), c->approved_by) < 0)
			return -EINVAL;
		e.n_approved = 1;
	}
	n = command_canonical(&e, c->envelope, sizeof(c->envelope));
	if (n < 0)
		return n;
	r = signer_sign(srv->signer, SIGNER_KEY_COMMAND, c->envelope, (size_t)n, sig);
	if (r < 0)
		return r;
	(void)strscpy(c->signature, sizeof(c->signature), sig);
	(void)strscpy(c->status, sizeof(c->status), "queued");
	return 0;
}

/* params from the request: exactly the type's parameters (protocol/command.h) */
static int params_from(enum command_type t, const cJSON *in, char *out, size_t outsz, const char **why)
{
	struct command_envelope e = {.type = t};
	const cJSON *it;
	bool first = true;
	size_t n = 0;

	if (in && !cJSON_IsObject(in)) {
		*why = "params must be an object";
		return -EINVAL;
	}
	cJSON_ArrayForEach(it, in)
	{
		const struct command_param *p = command_types[t].params;
		unsigned i;

		for (i = 0; p[i].name && strcmp(p[i].name, it->string); i++)
			;
		if (!p[i].name) {
			*why = "a parameter this command type does not have";
			return -EINVAL;
		}
		if (!cJSON_IsNumber(it) || it->valuedouble < 0 || it->valuedouble > (double)p[i].max ||
		    it->valuedouble != (double)(int64_t)it->valuedouble || e.has_param[i]) {
			*why = "a parameter is not an integer in its range";
			return -EINVAL;
		}
		e.param[i] = (int64_t)it->valuedouble;
		e.has_param[i] = true;
	}
	n += (size_t)snprintf(out + n, outsz - n, "{");
	for (unsigned i = 0; command_types[t].params[i].name; i++) {
		if (!e.has_param[i]) {
			if (command_types[t].params[i].required) {
				*why = "a required parameter is missing";
				return -EINVAL;
			}
			continue;
		}
		n += (size_t)snprintf(out + n, outsz - n, "%s\"%s\":%" PRId64, first ? "" : ",",
		                      command_types[t].params[i].name, e.param[i]);
		first = false;
		if (n >= outsz)
			return -ENOBUFS;
	}
	if (n + 2 > outsz)
		return -ENOBUFS;
	snprintf(out + n, outsz - n, "}");
	return 0;
}

static const char *get_str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void bad(struct http_req *req, const char *ja, const char *en)
{
	http_reply_error(req, 400, "invalid", ja, en, NULL);
}

static void poll_wake(struct server *srv, const char *terminal_id);

/* POST /admin/v1/commands {terminal_id, type, params?, validity_seconds?} */
static void handle_request(struct server *srv, struct http_req *req)
{
	static const char *const fields[] = {"terminal_id", "type", "params", "validity_seconds", NULL};
	_cleanup_json_ cJSON *body = NULL, *out = NULL;
	struct store_command c = {0};
	struct store_device dev;
	char actor[API_ACTOR_MAX];
	const char *tid, *type, *why = "", *u;
	const cJSON *vs;
	enum command_type t;
	int64_t validity = VALIDITY_DEFAULT_S, now_us = server_now_us();
	int r;

	if (api_admin_auth(srv, req, API_PERM_OPERATE, actor, NULL) < 0)
		return;
	r = http_req_json(req, SERVER_JSON_SMALL, &body);
	if (r < 0)
		return http_reply_body_error(req, r);
	if (!cJSON_IsObject(body))
		return bad(req, "JSON オブジェクトが必要です", "a JSON object is expected");
	if ((u = api_unknown_field(body, fields))) /* the API's one answer: 400 unknown_field naming it, audited */
		return api_refuse_unknown_field(srv, req, actor, "command.request", NULL, u);
	tid = get_str(body, "terminal_id");
	type = get_str(body, "type");
	t = command_type_from_string(type);
	if (!tid || !terminal_id_valid(tid))
		return bad(req, "terminal_id が不正です", "terminal_id is missing or invalid");
	if (t == _CMD_INVALID)
		return bad(req, "不明なコマンド種別です", "unknown command type");
	vs = cJSON_GetObjectItemCaseSensitive(body, "validity_seconds");
	if (vs) {
		if (!cJSON_IsNumber(vs) || vs->valuedouble < 10 || vs->valuedouble > (double)COMMAND_VALIDITY_MAX_S ||
		    vs->valuedouble != (double)(int64_t)vs->valuedouble)
			return bad(req, "validity_seconds は 10〜2592000 の整数です",
			           "validity_seconds is an integer from 10 to 2592000");
		validity = (int64_t)vs->valuedouble;
	}
	if (params_from(t, cJSON_GetObjectItemCaseSensitive(body, "params"), c.params, sizeof(c.params), &why) < 0)
		return bad(req, "params が不正です", why);
	r = STORE_CALL(srv->store, device_get, tid, &dev);
	if (r == -ENOENT || (r == 0 && dev.revoked))
		return http_reply_error(req, 404, "not_found", "その端末はありません (または失効済み)",
		                        "no such terminal (or it is revoked)", NULL);
	if (r < 0)
		return store_failed(req, r);
	hex_random(c.id, COMMAND_ID_LEN / 2);
	hex_random(c.nonce, COMMAND_NONCE_LEN / 2);
	(void)strscpy(c.terminal_id, sizeof(c.terminal_id), tid);
	(void)strscpy(c.type, sizeof(c.type), command_types[t].name);
	(void)strscpy(c.requested_by, sizeof(c.requested_by), actor);
	c.issued_at = now_us / 1000000;
	c.not_after = c.issued_at + validity;
	c.created_us = c.updated_us = now_us;
	if (command_types[t].two_person) {
		(void)strscpy(c.status, sizeof(c.status), "pending_approval");
	} else if ((r = sign_command(srv, &c)) < 0) {
		log_error_errno(r, "signing command %s: %m", c.id);
		return http_reply_error(req, 500, "sign_failed", "コマンドに署名できません", "cannot sign the command",
		                        NULL);
	}
	r = STORE_CALL(srv->store, command_add, &c);
	if (r < 0)
		return store_failed(req, r);
	{
		char detail[128];

		(void)xsnprintf(detail, sizeof(detail), "%s %s %s", c.type, c.id, c.status);
		server_audit(srv, actor, "command.request", tid, "ok", detail);
	}
	out = command_json(&c);
	http_reply_json(req, 201, out);
	if (strcmp(c.status, "queued") == 0)
		poll_wake(srv, tid); /* an online terminal gets it now */
}

int api_command_push_sync(struct server *srv, const char *terminal_id, const char *actor, const char *why)
{
	struct store_command c = {0};
	const char *perr = "";
	int64_t now_us = server_now_us();
	char detail[160];
	int r;

	hex_random(c.id, COMMAND_ID_LEN / 2);
	hex_random(c.nonce, COMMAND_NONCE_LEN / 2);
	if (strscpy(c.terminal_id, sizeof(c.terminal_id), terminal_id) < 0 ||
	    strscpy(c.requested_by, sizeof(c.requested_by), actor) < 0 ||
	    params_from(CMD_SYNC, NULL, c.params, sizeof(c.params), &perr) < 0)
		return -EINVAL;
	(void)strscpy(c.type, sizeof(c.type), command_types[CMD_SYNC].name);
	c.issued_at = now_us / 1000000;
	/* worth a moment only: a terminal away longer gets the same at its
	 * first check-in */
	c.not_after = c.issued_at + API_COMMAND_PUSH_SYNC_S;
	c.created_us = c.updated_us = now_us;
	if ((r = sign_command(srv, &c)) < 0 || (r = STORE_CALL(srv->store, command_add, &c)) < 0)
		return r;
	(void)xsnprintf(detail, sizeof(detail), "%s %s %s (%.80s)", c.type, c.id, c.status, why);
	server_audit(srv, actor, "command.request", terminal_id, "ok", detail);
	poll_wake(srv, terminal_id);
	return 0;
}

/* POST /admin/v1/commands/{id}/approve (OPS-4) and /cancel */
static void handle_step(struct server *srv, struct http_req *req, bool approve)
{
	_cleanup_json_ cJSON *out = NULL;
	struct store_command c;
	const char *id = http_req_param(req, 0), *action = approve ? "command.approve" : "command.cancel";
	char actor[API_ACTOR_MAX], from[20], detail[128];
	int r;

	if (api_admin_auth(srv, req, approve ? API_PERM_POLICY_APPROVE : API_PERM_OPERATE, actor, NULL) < 0)
		return;
	if (api_no_body(srv, req, actor, action, id) < 0)
		return;
	if (!id || strlen(id) != COMMAND_ID_LEN || (r = STORE_CALL(srv->store, command_get, id, &c)) == -ENOENT)
		return http_reply_error(req, 404, "not_found", "そのコマンドはありません", "no such command", NULL);
	if (r < 0)
		return store_failed(req, r);
	(void)strscpy(from, sizeof(from), c.status);
	(void)xsnprintf(detail, sizeof(detail), "%s %s", c.type, c.id);
	if (approve) {
		if (strcmp(c.status, "pending_approval") != 0) {
			server_audit(srv, actor, action, c.terminal_id, "refused", "not waiting for approval");
			return http_reply_error(req, 409, "not_pending", "このコマンドは承認待ちではありません",
			                        "this command is not waiting for approval", NULL);
		}
		if (c.not_after <= server_now_us() / 1000000) {
			server_audit(srv, actor, action, c.terminal_id, "refused", "expired");
			return http_reply_error(req, 409, "expired", "このコマンドは期限切れです",
			                        "this command expired", NULL);
		}
		if (api_admin_ops4_check(srv, req, actor, c.requested_by, action, c.terminal_id) < 0)
			return; /* OPS-4: replied and audited */
		(void)strscpy(c.approved_by, sizeof(c.approved_by), actor);
		r = sign_command(srv, &c);
		if (r < 0) {
			log_error_errno(r, "signing command %s: %m", c.id);
			return http_reply_error(req, 500, "sign_failed", "コマンドに署名できません",
			                        "cannot sign the command", NULL);
		}
	} else {
		if (strcmp(c.status, "pending_approval") != 0 && strcmp(c.status, "queued") != 0) {
			server_audit(srv, actor, action, c.terminal_id, "refused", c.status);
			return http_reply_error(req, 409, "not_cancellable",
			                        "配信済みまたは終了したコマンドは取り消せません",
			                        "a delivered or finished command cannot be cancelled", NULL);
		}
		(void)strscpy(c.status, sizeof(c.status), "cancelled");
		(void)xsnprintf(c.result, sizeof(c.result), "cancelled by %s", actor);
	}
	c.updated_us = server_now_us();
	r = STORE_CALL(srv->store, command_set, &c, from);
	if (r == -ESTALE)
		return http_reply_error(req, 409, "changed", "コマンドの状態が変わりました。再度確認してください",
		                        "the command changed meanwhile; look again", NULL);
	if (r < 0)
		return store_failed(req, r);
	server_audit(srv, actor, action, c.terminal_id, "ok", detail);
	out = command_json(&c);
	http_reply_json(req, 200, out);
	if (approve)
		poll_wake(srv, c.terminal_id);
}

static int list_cb(const struct store_command *c, void *userdata)
{
	cJSON *o = command_json(c);

	if (!o || !cJSON_AddItemToArray(userdata, o))
		return -ENOMEM;
	return 0;
}

static void handle_commands(void *userdata, struct http_req *req)
{
	struct server *srv = userdata;
	_cleanup_json_ cJSON *arr = NULL;
	char actor[API_ACTOR_MAX];
	int r;

	if (http_req_method(req) == HTTP_POST)
		return handle_request(srv, req);
	if (api_admin_auth(srv, req, API_PERM_READ, actor, NULL) < 0)
		return;
	(void)STORE_CALL(srv->store, command_expire, server_now_us() / 1000000, server_now_us(), NULL);
	arr = cJSON_CreateArray();
	if (!arr)
		return http_reply_error(req, 500, "no_memory", "メモリ不足です", "out of memory", NULL);
	r = STORE_CALL(srv->store, command_list, http_req_query(req, "terminal"), 1000, list_cb, arr);
	if (r < 0)
		return store_failed(req, r);
	http_reply_json(req, 200, arr);
}

static void handle_command(void *userdata, struct http_req *req)
{
	struct server *srv = userdata;
	_cleanup_json_ cJSON *out = NULL;
	struct store_command c;
	const char *id = http_req_param(req, 0);
	char actor[API_ACTOR_MAX];
	int r;

	if (api_admin_auth(srv, req, API_PERM_READ, actor, NULL) < 0)
		return;
	(void)STORE_CALL(srv->store, command_expire, server_now_us() / 1000000, server_now_us(), NULL);
	if (!id || strlen(id) != COMMAND_ID_LEN || (r = STORE_CALL(srv->store, command_get, id, &c)) == -ENOENT)
		return http_reply_error(req, 404, "not_found", "そのコマンドはありません", "no such command", NULL);
	if (r < 0)
		return store_failed(req, r);
	out = command_json(&c);
	http_reply_json(req, 200, out);
}

static void handle_approve(void *userdata, struct http_req *req)
{
	handle_step(userdata, req, true);
}

static void handle_cancel(void *userdata, struct http_req *req)
{
	handle_step(userdata, req, false);
}

/* ---- the device side: results in, commands out ------------------------------------ */

static const char *const result_statuses[] = {"executed", "failed", "refused"};

static void apply_result(struct server *srv, const char *terminal_id, const cJSON *res)
{
	const char *id = get_str(res, "id"), *status = get_str(res, "status"), *detail = get_str(res, "detail");
	struct store_command c;
	char from[20], d[160];
	bool known = false;

	for (size_t i = 0; status && i < ELEMENTSOF(result_statuses); i++)
		known |= strcmp(status, result_statuses[i]) == 0;
	if (!id || !known || strlen(id) != COMMAND_ID_LEN || STORE_CALL(srv->store, command_get, id, &c) < 0 ||
	    strcmp(c.terminal_id, terminal_id) != 0)
		return; /* a result for nothing this terminal was sent: not ours to record */
	if (strcmp(c.status, "executed") == 0 || strcmp(c.status, "failed") == 0 || strcmp(c.status, "refused") == 0)
		return; /* reported before */
	(void)strscpy(from, sizeof(from), c.status);
	(void)strscpy(c.status, sizeof(c.status), status);
	(void)strscpy(c.result, sizeof(c.result), detail && utf8_valid(detail, strlen(detail)) ? detail : "");
	c.updated_us = server_now_us();
	if (STORE_CALL(srv->store, command_set, &c, from) == 0) {
		(void)xsnprintf(d, sizeof(d), "%s %s", c.type, c.id);
		server_audit(srv, terminal_id, "command.result", terminal_id, status, d);
		log_notice("command %s (%s) on %s: %s", c.id, c.type, terminal_id, status);
		/* MDM-3: the terminal uploaded its journal and reported; its
		 * certificates are revoked and it is marked retired */
		if (strcmp(c.type, "retire") == 0 && strcmp(status, "executed") == 0) {
			unsigned n = 0;
			int r = STORE_CALL(srv->store, device_retire, terminal_id, server_now_us(), &n);

			api_device_invalidate(srv); /* the cached identities: revoked from now on */

			(void)xsnprintf(d, sizeof(d), "retire %s: %u certificate(s) revoked", c.id, n);
			server_audit(srv, terminal_id, "terminal.retire", terminal_id, r < 0 ? "error" : "ok", d);
			if (r < 0)
				log_error("terminal %s: cannot mark it retired: %s", terminal_id, strerror(-r));
			else
				log_notice("terminal %s retired (%u certificates revoked)", terminal_id, n);
		}
	}
}

struct deliver_ctx {
	cJSON *arr;
	char redelivered[16][COMMAND_ID_LEN + 1]; /* the audit tells them apart */
	unsigned n_redelivered;
};

static int deliver_cb(const struct store_command *c, void *userdata)
{
	struct deliver_ctx *d = userdata;
	cJSON *o = cJSON_CreateObject();

	if (!o || !cJSON_AddStringToObject(o, "envelope", c->envelope) ||
	    !cJSON_AddStringToObject(o, "signature", c->signature) || !cJSON_AddItemToArray(d->arr, o)) {
		cJSON_Delete(o);
		return -ENOMEM;
	}
	if (strcmp(c->status, "delivered") == 0 && d->n_redelivered < ELEMENTSOF(d->redelivered))
		(void)strscpy(d->redelivered[d->n_redelivered++], COMMAND_ID_LEN + 1, c->id);
	return 0;
}

/* The queued, unexpired commands of terminal_id — and the delivered ones
 * without a result for cfg.redeliver_seconds (issue 14 point 2: the answer
 * that carried them may never have reached the agent, e.g. its network
 * child was killed with it; the agent answers an id it finished with its
 * result and never runs it twice, docs/COMMANDS.md) — marked delivered (one
 * transaction) and audited; *ret_json: their JSON array (caller frees),
 * NULL when there is none. MDM-1, MDM-2, MDM-3. */
static int deliver(struct server *srv, const char *terminal_id, char **ret_json)
{
	_cleanup_json_ cJSON *arr = cJSON_CreateArray();
	struct deliver_ctx d = {.arr = arr};
	int64_t now_us = server_now_us();
	int r;

	*ret_json = NULL;
	if (!arr)
		return -ENOMEM;
	/* no command_expire here: command_deliver hands out unexpired ones
	 * only, and marking the expired is the tick's (api_command_poll_tick),
	 * not a write transaction in every check-in (issue 23.5) */
	r = STORE_CALL(srv->store, command_deliver, terminal_id, now_us / 1000000, now_us,
	               api_command_redeliver_before(srv, now_us), deliver_cb, &d);
	if (r < 0)
		return r;
	if (cJSON_GetArraySize(arr) == 0)
		return 0;
	for (const cJSON *o = arr->child; o; o = o->next) {
		char id[COMMAND_ID_LEN + 1];
		bool again = false;

		/* the canonical envelope starts {"id":"<32 hex>" */
		(void)strscpy(id, sizeof(id), cJSON_GetObjectItemCaseSensitive(o, "envelope")->valuestring + 7);
		for (unsigned i = 0; i < d.n_redelivered; i++)
			again |= strcmp(d.redelivered[i], id) == 0;
		server_audit(srv, terminal_id, again ? "command.redeliver" : "command.deliver", terminal_id, "ok", id);
		if (again)
			log_notice("command %s re-delivered to %s: no result %d s after its delivery", id, terminal_id,
			           srv->cfg.redeliver_seconds);
	}
	{
		/* cJSON may allocate from the check-in's arena (api_device.c): copy */
		char *p = cJSON_PrintUnformatted(arr);

		*ret_json = p ? strdup(p) : NULL;
		cJSON_free(p);
	}
	return *ret_json ? 0 : -ENOMEM;
}

int64_t api_command_redeliver_before(const struct server *srv, int64_t now_us)
{
	return srv->cfg.redeliver_seconds > 0 ? now_us - (int64_t)srv->cfg.redeliver_seconds * 1000000 : 0;
}

int api_command_checkin(struct server *srv, const char *terminal_id, const cJSON *results, bool due, char **ret_json)
{
	const cJSON *it;

	*ret_json = NULL;
	if (cJSON_IsArray(results) && cJSON_GetArraySize(results) <= 64)
		cJSON_ArrayForEach(it, results) apply_result(srv, terminal_id, it);
	/* nothing due when the check-in's reads were made: nothing to deliver
	 * (one queued since goes with the long poll or the next check-in) */
	return due ? deliver(srv, terminal_id, ret_json) : 0;
}

/* ---- the long poll (docs/COMMANDS.md "Long poll") ----------------------------------
 *
 * At most cfg.max_polls requests are held, at most one per terminal (a new
 * one answers the older with 204: the terminal reconnected); each is
 * answered 204 after cfg.poll_seconds (api_command_poll_tick), or 200 with
 * the commands as soon as one is queued for its terminal (poll_wake). A
 * held request whose client has gone is answered (dropped) without a
 * command: what is queued stays queued for the next poll or check-in. */
#define POLL_RECHECK_US   (2 * 1000000LL)
#define POLL_RECHECK_LIST 256

struct held_poll {
	struct http_req *req; /* NULL: a free slot */
	char terminal_id[STORE_ID_MAX];
	int64_t deadline_us;
};

struct command_polls {
	unsigned n, max;
	uint64_t refused_full; /* logged as a count, at most once a minute */
	int64_t last_log_us;
	int64_t last_recheck_us; /* poll_recheck */
	struct held_poll slot[];
};

int api_command_poll_init(struct server *srv)
{
	unsigned max = srv->cfg.max_polls ? srv->cfg.max_polls : 1;

	srv->polls = calloc(1, sizeof(*srv->polls) + (size_t)max * sizeof(struct held_poll));
	if (!srv->polls)
		return -ENOMEM;
	srv->polls->max = max;
	return 0;
}

static void poll_end(struct server *srv, struct held_poll *h, int code, const char *commands_json)
{
	struct http_req *req = h->req;

	h->req = NULL;
	srv->polls->n--;
	if (code == 200) {
		_cleanup_free_ char *body = NULL;

		if (asprintf(&body, "{\"commands\":%s}", commands_json) < 0)
			http_reply_error(req, 500, "no_memory", "メモリ不足です", "out of memory", NULL);
		else
			http_reply_data(req, 200, "application/json; charset=utf-8", body, strlen(body));
	} else if (code == 204) {
		http_reply_json(req, 204, NULL);
	} else {
		http_req_abandon(req); /* shutting down: the connection closes with the listener */
		return;
	}
	http_req_release(req);
}

void api_command_poll_fini(struct server *srv)
{
	if (!srv->polls)
		return;
	for (unsigned i = 0; i < srv->polls->max; i++)
		if (srv->polls->slot[i].req)
			poll_end(srv, &srv->polls->slot[i], 503, NULL);
	free(srv->polls);
	srv->polls = NULL;
}

/* Terminals with a command due among the newest POLL_RECHECK_LIST: queued,
 * or delivered without a result for cfg.redeliver_seconds (what deliver()
 * sends again: a terminal that came back while its command was not yet
 * due holds a poll, and gets the command when it falls due, not after the
 * poll's cfg.poll_seconds). */
struct queued_set {
	char ids[POLL_RECHECK_LIST][STORE_ID_MAX];
	unsigned n;
	int64_t redeliver_before_us; /* 0: no re-delivery */
};

static int queued_cb(const struct store_command *c, void *userdata)
{
	struct queued_set *q = userdata;
	bool due = strcmp(c->status, "queued") == 0 ||
	           (strcmp(c->status, "delivered") == 0 && c->updated_us < q->redeliver_before_us);

	if (!due || q->n >= POLL_RECHECK_LIST)
		return 0;
	for (unsigned i = 0; i < q->n; i++)
		if (strcmp(q->ids[i], c->terminal_id) == 0)
			return 0;
	(void)strscpy(q->ids[q->n++], sizeof(q->ids[0]), c->terminal_id);
	return 0;
}

/* Several instances share one store (docs/OPERATIONS.md): a command queued
 * through another instance never calls this one's poll_wake. While polls
 * are held, the newest commands are read every POLL_RECHECK_US and a held
 * poll whose terminal has one due (queued_cb) is answered. One query for all held
 * polls; a command older than the newest POLL_RECHECK_LIST (an approval of
 * an old two-person command under a flood of new ones) waits for the poll's
 * end and the next poll or check-in. */
static void poll_recheck(struct server *srv, int64_t now)
{
	static struct queued_set q;
	int r;

	if (srv->polls->n == 0 || now - srv->polls->last_recheck_us < POLL_RECHECK_US)
		return;
	srv->polls->last_recheck_us = now;
	q.n = 0;
	q.redeliver_before_us =
	        srv->cfg.redeliver_seconds > 0 ? now - (int64_t)srv->cfg.redeliver_seconds * 1000000 : 0;
	r = STORE_CALL(srv->store, command_list, NULL, POLL_RECHECK_LIST, queued_cb, &q);
	if (r < 0) {
		log_warning_errno(r, "command long polls: cannot read the queue: %m");
		return;
	}
	for (unsigned i = 0; i < q.n; i++)
		poll_wake(srv, q.ids[i]);
}

void api_command_poll_tick(struct server *srv)
{
	int64_t now = server_now_us();

	if (!srv->polls)
		return;
	/* commands past their not_after are marked expired once a second (the
	 * admin views and the metrics read them; the admin views also mark
	 * them first) */
	(void)STORE_CALL(srv->store, command_expire, now / 1000000, now, NULL);
	poll_recheck(srv, now);
	for (unsigned i = 0; i < srv->polls->max && srv->polls->n; i++) {
		struct held_poll *h = &srv->polls->slot[i];

		if (h->req && (now >= h->deadline_us || http_req_client_gone(h->req)))
			poll_end(srv, h, 204, NULL);
	}
	if (srv->polls->refused_full && now - srv->polls->last_log_us > 60 * 1000000LL) {
		log_warning("command long polls: %" PRIu64 " refused, %u already held", srv->polls->refused_full,
		            srv->polls->max);
		srv->polls->refused_full = 0;
		srv->polls->last_log_us = now;
	}
}

/* A command was queued for terminal_id: its held poll, if any, gets it now. */
static void poll_wake(struct server *srv, const char *terminal_id)
{
	_cleanup_free_ char *json = NULL;
	struct held_poll *h = NULL;

	for (unsigned i = 0; srv->polls && i < srv->polls->max && !h; i++)
		if (srv->polls->slot[i].req && strcmp(srv->polls->slot[i].terminal_id, terminal_id) == 0)
			h = &srv->polls->slot[i];
	if (!h)
		return;
	if (http_req_client_gone(h->req))
		return poll_end(srv, h, 204, NULL); /* nothing delivered into a closed connection */
	if (deliver(srv, terminal_id, &json) < 0) {
		log_warning("command long poll of %s: cannot read the queue; it waits for the check-in", terminal_id);
		return poll_end(srv, h, 204, NULL);
	}
	if (json)
		poll_end(srv, h, 200, json);
}

void api_command_poll(struct server *srv, const char *terminal_id, struct http_req *req)
{
	_cleanup_free_ char *json = NULL;
	struct command_polls *p = srv->polls;
	struct held_poll *h = NULL;
	int r;

	r = deliver(srv, terminal_id, &json);
	if (r < 0) {
		log_error_errno(r, "store: %m");
		return http_reply_error(req, 503, "store_unavailable", "サーバーの記録領域が使えません",
		                        "the store is unavailable", NULL);
	}
	if (json) {
		_cleanup_free_ char *body = NULL;

		if (asprintf(&body, "{\"commands\":%s}", json) < 0)
			return http_reply_error(req, 500, "no_memory", "メモリ不足です", "out of memory", NULL);
		return http_reply_data(req, 200, "application/json; charset=utf-8", body, strlen(body));
	}
	/* nothing to hold in (in-process requests of the fuzz harness, a server
	 * without the poll table): "nothing now" at once */
	if (!p || !http_req_can_defer(req))
		return http_reply_json(req, 204, NULL);
	for (unsigned i = 0; i < p->max; i++) {
		if (p->slot[i].req && strcmp(p->slot[i].terminal_id, terminal_id) == 0)
			poll_end(srv, &p->slot[i], 204, NULL); /* the terminal reconnected: one per terminal */
		if (!p->slot[i].req && !h)
			h = &p->slot[i];
	}
	if (!h) {
		p->refused_full++;
		http_add_header(req, "Retry-After", "60");
		return http_reply_error(req, 503, "busy",
		                        "コマンド待ち受けの上限に達しています。後で再接続してください",
		                        "too many command long polls are held; poll again later", NULL);
	}
	(void)strscpy(h->terminal_id, sizeof(h->terminal_id), terminal_id);
	h->deadline_us = server_now_us() + (int64_t)srv->cfg.poll_seconds * 1000000;
	h->req = req;
	p->n++;
	http_req_hold(req);
}

const struct http_route api_command_routes[] = {
        {HTTP_GET | HTTP_POST, "/admin/v1/commands", handle_commands},
        {HTTP_GET, "/admin/v1/commands/*", handle_command},
        {HTTP_POST, "/admin/v1/commands/*/approve", handle_approve},
        {HTTP_POST, "/admin/v1/commands/*/cancel", handle_cancel},
};
const size_t api_command_routes_n = ELEMENTSOF(api_command_routes);
