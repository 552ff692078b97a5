/* server-api/api_request.c — requests to the approver (mamori-server; issue 16,
 * OPS-3, OPS-4, MEDIA-1).
 *
 * A request is made from the journal record a terminal uploaded: the agent
 * journals `request.created` with the person taken from the control
 * socket's peer credentials, so the record is the evidence and the upload
 * the (offline-proof) transport. An emergency code used at the terminal
 * (`exception.applied`, kind emergency, OPS-3) becomes an after-the-fact
 * request that an approver acknowledges.
 *
 * The admin API lists them and approves (scope: this terminal or its
 * department; this person or anyone; ro or rw; until), rejects (a reason)
 * or acknowledges; the approver is never the requester (OPS-4, the same
 * rule as for policies and commands: api_admin_ops4_allowed). Every step is
 * in the audit trail. Only an account for the department of the request's
 * terminal (or for every department: ciso, "*") sees and decides it
 * (issue 16.2). Approved device requests reach the terminals as
 * approval data signed with the policy key (protocol/approval.h) in the
 * check-in answer, separate from the group policy.
 *
 * A carry-out (CARRY-2, MEDIA-2) names the person, the medium's identity
 * (vendor, product, serial) and the window: approved for the requester
 * only (a carry-out for "anyone" is refused), always read-write (it is a
 * permission to write: "ro" is refused), from the decision to `until`. The
 * agent's carry module judges it as it judges the policy's carry.approvals
 * and names it in every carry.out record (`approval`: request-<request id>).
 *
 * Approved exception requests reach them the same way (issue 16.3: kind
 * exception, the requirement ID, which must be one of REQUIREMENTS.md at
 * approval and at delivery). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_admin.h"
#include "api_command.h"
#include "api_device.h"
#include "api_request.h"
#include "approval.h"
#include "crypto.h"
#include "json-util.h"
#include "log.h"
#include "policy_reqs.h"
#include "policy_sign.h"
#include "server.h"
#include "sha256.h"
#include "store.h"
#include "strutil.h"

#define APPROVAL_UNTIL_MAX_S (366LL * 86400)
/* how far above the store's version a terminal's may be and still raise
 * it (api_request_grants): the approvals and department changes lost with
 * a restored store, with a wide margin */
#define GRANTS_RAISE_MAX 1000000

static const char *get_str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void hex_random(char *buf, size_t nbytes)
{
	uint8_t raw[32];

	(void)crypto_random(raw, nbytes);
	for (size_t i = 0; i < nbytes; i++)
		snprintf(buf + 2 * i, 3, "%02x", raw[i]);
}

/* ---- from the uploaded records --------------------------------------------------- */

/* A carry-out's medium as protocol/approval.h delivers it (CARRY-2). */
static bool carry_medium_ok(const cJSON *m)
{
	const char *s = get_str(m, "serial");

	return hex_lower_exact(get_str(m, "vendor"), 4) && hex_lower_exact(get_str(m, "product"), 4) && s && s[0] &&
	       strlen(s) < APPROVAL_SERIAL_MAX && utf8_valid(s, strlen(s));
}

static void ingest_one(struct server *srv, const char *terminal_id, const char *department, const cJSON *rec)
{
	_cleanup_free_ struct store_request *q = calloc(1, sizeof(*q));
	const char *type = get_str(rec, "type");
	const cJSON *pl = cJSON_GetObjectItemCaseSensitive(rec, "payload"),
	            *seq = cJSON_GetObjectItemCaseSensitive(rec, "seq");
	char *body = NULL;
	const char *person, *kind;
	char detail[160];
	int r;

	if (!q || !type || !cJSON_IsObject(pl) || !cJSON_IsNumber(seq))
		return;
	if (strcmp(type, "request.created") == 0) {
		kind = get_str(pl, "kind");
		person = get_str(pl, "user");
		if (!kind ||
		    (strcmp(kind, "device") != 0 && strcmp(kind, "exception") != 0 && strcmp(kind, "carry-out") != 0) ||
		    !person || !person[0] || !hex_lower_exact(get_str(pl, "request_id"), 32))
			return; /* the record is stored; as a request it is not one */
		if (strcmp(kind, "device") == 0 &&
		    !hex_lower_exact(get_str(cJSON_GetObjectItemCaseSensitive(pl, "device"), "hash"), 64))
			return;
		if (strcmp(kind, "carry-out") == 0 && !carry_medium_ok(cJSON_GetObjectItemCaseSensitive(pl, "medium")))
			return;
		(void)strscpy(q->request_id, sizeof(q->request_id), get_str(pl, "request_id"));
		(void)strscpy(q->status, sizeof(q->status), "pending");
	} else if (strcmp(type, "exception.applied") == 0) {
		const char *id = get_str(pl, "id");
		struct sha256_ctx c;
		uint8_t h[SHA256_DIGEST_SIZE];

		kind = get_str(pl, "kind");
		if (!kind || strcmp(kind, "emergency") != 0 || !id)
			return;
		kind = "emergency";
		person = get_str(pl, "person") ? get_str(pl, "person") : "";
		/* the exception's id, whatever its form, as 32 hex digits */
		sha256_init(&c);
		sha256_update(&c, id, strlen(id));
		sha256_final(&c, h);
		for (size_t i = 0; i < 16; i++)
			snprintf(q->request_id + 2 * i, 3, "%02x", h[i]);
		(void)strscpy(q->status, sizeof(q->status), "pending_ack");
	} else
		return;
	body = cJSON_PrintUnformatted(pl); /* cJSON's allocator: cJSON_free */
	r = body ? strscpy(q->body, sizeof(q->body), body) : -ENOMEM;
	cJSON_free(body);
	if (r < 0 || strscpy(q->person, sizeof(q->person), person) < 0)
		return;
	hex_random(q->id, 16);
	(void)strscpy(q->terminal_id, sizeof(q->terminal_id), terminal_id);
	(void)strscpy(q->department, sizeof(q->department), department);
	(void)strscpy(q->kind, sizeof(q->kind), kind);
	(void)strscpy(q->decision, sizeof(q->decision), "{}");
	q->seq = (uint64_t)seq->valuedouble;
	q->created_us = server_now_us();
	r = STORE_CALL(srv->store, request_add, q);
	if (r == -EEXIST)
		return; /* uploaded again (at least once) */
	if (r < 0) {
		log_error_errno(r, "terminal %s: cannot store request %s: %m", terminal_id, q->request_id);
		return;
	}
	(void)xsnprintf(detail, sizeof(detail), "%s %s by %.64s", q->kind, q->id, q->person);
	server_audit(srv, terminal_id, "request.received", terminal_id, "ok", detail);
}

cJSON *api_request_candidates(const cJSON *records)
{
	cJSON *out = NULL;
	const cJSON *rec;

	/* each element is {"hash", "record": the canonical record} */
	cJSON_ArrayForEach(rec, records)
	{
		const cJSON *r = cJSON_GetObjectItemCaseSensitive(rec, "record");
		const char *t = get_str(r, "type");

		if (!t || (strcmp(t, "request.created") != 0 && strcmp(t, "exception.applied") != 0))
			continue;
		if (!out && !(out = cJSON_CreateArray()))
			return NULL;
		cJSON_AddItemToArray(out, cJSON_Duplicate(r, 1));
	}
	return out;
}

void api_request_ingest(struct server *srv, const char *terminal_id, const cJSON *records, uint64_t acked_seq)
{
	struct store_device dev;
	const cJSON *rec;
	bool any = false;

	cJSON_ArrayForEach(rec, records)
	{
		const char *t = get_str(rec, "type");
		const cJSON *seq = cJSON_GetObjectItemCaseSensitive(rec, "seq");

		if (t && (strcmp(t, "request.created") == 0 || strcmp(t, "exception.applied") == 0) &&
		    cJSON_IsNumber(seq) && seq->valuedouble <= (double)acked_seq)
			any = true;
	}
	if (!any || STORE_CALL(srv->store, device_get, terminal_id, &dev) < 0)
		return;
	cJSON_ArrayForEach(rec, records)
	{
		const cJSON *seq = cJSON_GetObjectItemCaseSensitive(rec, "seq");

		if (cJSON_IsNumber(seq) && seq->valuedouble <= (double)acked_seq)
			ingest_one(srv, terminal_id, dev.department, rec);
	}
}

/* ---- the admin API ------------------------------------------------------------------ */

/* Issue 16.2: a request is seen and decided only by an account for the
 * department of its terminal (the terminal's department now, as an
 * administrator set it), or for every department (ciso, "*"). 0 yes,
 * -EPERM no (*why), other negative: the store. */
int api_request_visible(struct server *srv, const char *actor, const struct store_request *q, const char **why,
                        char ret_dept[STORE_ID_MAX])
{
	char dept[STORE_ID_MAX];
	struct store_device dev;
	int r = STORE_CALL(srv->store, device_get, q->terminal_id, &dev), all;

	if (r < 0 && r != -ENOENT)
		return r;
	if (r == -ENOENT)
		dev.department[0] = '\0';
	if (ret_dept)
		(void)strscpy(ret_dept, STORE_ID_MAX, dev.department);
	all = api_admin_actor_department(srv, actor, dept);
	if (all == 1)
		return 0;
	if (all == -ENOENT) {
		*why = "department: this account approves for no department";
		return -EPERM;
	}
	if (all < 0)
		return all;
	if (!dev.department[0] || strcmp(dev.department, dept) != 0) {
		*why = "department: the terminal is of another department";
		return -EPERM;
	}
	return 0;
}

/* 403 for a request of another department (audited); 0 when visible, with
 * its terminal's department now in dept (NULL: not wanted) */
static int refuse_other_department(struct server *srv, struct http_req *req, const char *actor, const char *action,
                                   const struct store_request *q, char dept[STORE_ID_MAX])
{
	const char *why = "";
	int r = api_request_visible(srv, actor, q, &why, dept);

	if (r == 0)
		return 0;
	if (r != -EPERM) {
		api_admin_store_failed(req, r);
		return r;
	}
	server_audit(srv, actor, action, q->terminal_id, "refused", why);
	http_reply_error(req, 403, "other_department",
	                 "この申請は担当部署の端末のものではありません。その部署の承認者か CISO が判断します",
	                 "this request is from a terminal of a department you do not approve for; an approver of "
	                 "that department or a CISO decides it",
	                 NULL);
	return -EPERM;
}

static cJSON *request_json(const struct store_request *q)
{
	cJSON *o = cJSON_CreateObject();
	char t[32];

	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "id", q->id);
	cJSON_AddStringToObject(o, "terminal_id", q->terminal_id);
	cJSON_AddStringToObject(o, "department", q->department);
	cJSON_AddStringToObject(o, "request_id", q->request_id);
	cJSON_AddStringToObject(o, "kind", q->kind);
	cJSON_AddStringToObject(o, "person", q->person);
	cJSON_AddItemToObject(o, "request", cJSON_Parse(q->body[0] ? q->body : "{}"));
	cJSON_AddNumberToObject(o, "seq", (double)q->seq);
	cJSON_AddStringToObject(o, "status", q->status);
	server_format_time(q->created_us, t);
	cJSON_AddStringToObject(o, "created", t);
	if (q->decided_by[0]) {
		cJSON_AddStringToObject(o, "decided_by", q->decided_by);
		server_format_time(q->decided_us, t);
		cJSON_AddStringToObject(o, "decided", t);
		cJSON_AddItemToObject(o, "decision", cJSON_Parse(q->decision));
	} else {
		cJSON_AddNullToObject(o, "decided_by");
		cJSON_AddNullToObject(o, "decided");
		cJSON_AddNullToObject(o, "decision");
	}
	if (q->version > 0)
		cJSON_AddNumberToObject(o, "version", (double)q->version);
	else
		cJSON_AddNullToObject(o, "version");
	/* OPS-4 shown where the approver decides */
	cJSON_AddStringToObject(o, "rule",
	                        "OPS-4: 申請者本人は承認できません / the requester cannot approve their own request");
	return o;
}

struct listing {
	struct server *srv;
	const char *actor;
	cJSON *arr;
};

static int list_cb(const struct store_request *q, void *userdata)
{
	struct listing *l = userdata;
	const char *why;
	cJSON *o;
	int r = api_request_visible(l->srv, l->actor, q, &why, NULL);

	if (r == -EPERM)
		return 0; /* another department's (issue 16.2) */
	if (r < 0)
		return r;
	o = request_json(q);
	if (!o || !cJSON_AddItemToArray(l->arr, o)) {
		cJSON_Delete(o);
		return -ENOMEM;
	}
	return 0;
}

static void handle_list(void *userdata, struct http_req *req)
{
	struct server *srv = userdata;
	_cleanup_json_ cJSON *arr = NULL;
	const char *status = http_req_query(req, "status");
	char actor[API_ACTOR_MAX];
	int r;

	if (api_admin_auth(srv, req, API_PERM_READ, actor, NULL) < 0)
		return;
	if (status && strcmp(status, "pending") != 0 && strcmp(status, "approved") != 0 &&
	    strcmp(status, "rejected") != 0 && strcmp(status, "pending_ack") != 0 &&
	    strcmp(status, "acknowledged") != 0 && strcmp(status, "revoked") != 0)
		return http_reply_error(req, 400, "invalid", "status が不正です", "unknown status", NULL);
	arr = cJSON_CreateArray();
	if (!arr)
		return api_admin_no_memory(req);
	r = STORE_CALL(srv->store, request_list, status, 1000, list_cb,
	               &(struct listing){.srv = srv, .actor = actor, .arr = arr});
	if (r < 0)
		return api_admin_store_failed(req, r);
	http_reply_json(req, 200, arr);
}

static int load(struct server *srv, struct http_req *req, struct store_request *q)
{
	const char *id = http_req_param(req, 0);
	int r;

	if (!hex_lower_exact(id, 32) || (r = STORE_CALL(srv->store, request_get, id, q)) == -ENOENT) {
		http_reply_error(req, 404, "not_found", "その申請はありません", "no such request", NULL);
		return -ENOENT;
	}
	if (r < 0) {
		api_admin_store_failed(req, r);
		return r;
	}
	return 0;
}

static void handle_get(void *userdata, struct http_req *req)
{
	struct server *srv = userdata;
	_cleanup_free_ struct store_request *q = malloc(sizeof(*q));
	_cleanup_json_ cJSON *out = NULL;
	char actor[API_ACTOR_MAX];

	if (api_admin_auth(srv, req, API_PERM_READ, actor, NULL) < 0)
		return;
	if (!q)
		return api_admin_no_memory(req);
	if (load(srv, req, q) < 0)
		return;
	if (refuse_other_department(srv, req, actor, "request.get", q, NULL) < 0)
		return;
	out = request_json(q);
	http_reply_json(req, 200, out);
}

static void bad(struct http_req *req, const char *ja, const char *en)
{
	http_reply_error(req, 400, "invalid", ja, en, NULL);
}

/* A refused decision step (400): audited with the English reason (issue
 * 16.2: every step is in the audit trail, refusals too). */
static void bad_audited(struct server *srv, struct http_req *req, const char *actor, const char *action,
                        const char *terminal_id, const char *ja, const char *en)
{
	server_audit(srv, actor, action, terminal_id, "refused", en);
	bad(req, ja, en);
}

/* Can "ro" be enforced on the requested device? The gate holds only storage
 * read-only (BLKROSET) and lets in nothing else of a read-only approval
 * (modules/usb/usb_local.h): a device whose recorded interfaces include no
 * mass storage would get nothing. A request without the list (named by its
 * hash) is left to the gate, which blocks such a device and records why. */
static bool read_only_enforceable(const struct store_request *q)
{
	_cleanup_json_ cJSON *body = cJSON_Parse(q->body);
	const cJSON *ifs = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(body, "device"),
	                                                    "interfaces"),
	            *it;

	if (!cJSON_IsArray(ifs))
		return true;
	cJSON_ArrayForEach(it, ifs)
	{
		if (cJSON_IsString(it) && strncmp(it->valuestring, "08:", 3) == 0)
			return true;
	}
	return false;
}

enum step { STEP_APPROVE, STEP_REJECT, STEP_ACKNOWLEDGE, STEP_REVOKE };

/* A revocation (withdrawal before until): the approval's decision stays as
 * it was, with {by, at, reason} of the revocation added, and so do its
 * approver and time (the carry-out register names them for what was
 * written before). */
static int decision_revoked(struct store_request *q, const char *actor, const char *reason)
{
	_cleanup_json_ cJSON *d = cJSON_Parse(q->decision);
	cJSON *rv;
	char *text, t[32];
	int r;

	if (!cJSON_IsObject(d) || cJSON_GetObjectItemCaseSensitive(d, "revoked"))
		return -EBADMSG;
	server_format_time(server_now_us(), t);
	if (!(rv = cJSON_AddObjectToObject(d, "revoked")) || !cJSON_AddStringToObject(rv, "by", actor) ||
	    !cJSON_AddStringToObject(rv, "at", t) || !cJSON_AddStringToObject(rv, "reason", reason))
		return -ENOMEM;
	text = cJSON_PrintUnformatted(d);
	r = text ? strscpy(q->decision, sizeof(q->decision), text) : -ENOMEM;
	cJSON_free(text);
	return r < 0 ? r : 0;
}

/* A revocation reaches the terminals it concerns now, not at their next
 * check-in (a lost stick): a `sync` command for each, handed to its held
 * long poll (api_command_push_sync). A department-wide approval: the
 * department's terminals, at most PUSH_MAX (the others at their next
 * check-in, logged). A failure is logged: the check-in still brings it. */
#define PUSH_MAX 1000
struct push {
	struct server *srv;
	const char *actor;
	char why[64];
	unsigned n, failed;
};

static int push_one(const struct store_device *d, unsigned failing, const char *failing_ids, void *userdata)
{
	struct push *p = userdata;

	(void)failing;
	(void)failing_ids;
	if (d->revoked)
		return 0;
	if (api_command_push_sync(p->srv, d->terminal_id, p->actor, p->why) < 0)
		p->failed++;
	p->n++;
	return 0;
}

static void push_revocation(struct server *srv, const struct store_request *q, const char *actor)
{
	struct push p = {.srv = srv, .actor = actor};
	uint64_t total = 0;
	int r = 0;

	(void)xsnprintf(p.why, sizeof(p.why), "request.revoke %s", q->id);
	if (strcmp(q->scope, "department") == 0 && q->department[0]) {
		struct store_device_query dq = {.department = q->department,
		                                .status = STORE_STATUS_ACTIVE,
		                                .sort = STORE_SORT_ID,
		                                .limit = PUSH_MAX};

		r = STORE_CALL(srv->store, device_page, &dq, &total, push_one, &p);
	} else {
		struct store_device d;

		if ((r = STORE_CALL(srv->store, device_get, q->terminal_id, &d)) == 0)
			r = push_one(&d, 0, NULL, &p);
		else if (r == -ENOENT)
			r = 0; /* the terminal was deleted: nobody to tell */
	}
	if (r < 0 || p.failed)
		log_warning("revocation %s: a sync could not be queued for %u terminal(s)%s; they lose it at their "
		            "next check-in",
		            q->id, p.failed, r < 0 ? " (store)" : "");
	if (total > PUSH_MAX)
		log_warning("revocation %s: %" PRIu64
		            " terminals of department %s, a sync queued for the first %u; the "
		            "others lose it at their next check-in",
		            q->id, total, q->department, PUSH_MAX);
}

/* POST /admin/v1/requests/{id}/approve|reject|acknowledge|revoke */
static void handle_step(struct server *srv, struct http_req *req, enum step step)
{
	static const char *const approve_keys[] = {"scope", "person", "access", "until", NULL};
	static const char *const reject_keys[] = {"reason", NULL};
	static const char *const ack_keys[] = {"note", NULL};
	static const char *const actions[] = {"request.approve", "request.reject", "request.acknowledge",
	                                      "request.revoke"};
	const char *action = actions[step];
	_cleanup_free_ struct store_request *q = malloc(sizeof(*q));
	_cleanup_json_ cJSON *body = NULL, *dec = NULL, *out = NULL;
	char *dec_text = NULL;
	char actor[API_ACTOR_MAX], from[16], detail[200], dept[STORE_ID_MAX] = "";
	const char *u;
	int64_t version = 0;
	int r;

	if (api_admin_auth(srv, req, API_PERM_POLICY_APPROVE, actor, NULL) < 0)
		return;
	if (!q)
		return api_admin_no_memory(req);
	if (load(srv, req, q) < 0)
		return;
	if (refuse_other_department(srv, req, actor, action, q, dept) < 0)
		return;
	r = http_req_json(req, SERVER_JSON_SMALL, &body);
	if (r < 0)
		return http_reply_body_error(req, r);
	if (!cJSON_IsObject(body))
		return bad_audited(srv, req, actor, action, q->terminal_id, "JSON オブジェクトが必要です",
		                   "a JSON object is expected");
	u = api_unknown_field(body, step == STEP_APPROVE                         ? approve_keys
	                            : step == STEP_REJECT || step == STEP_REVOKE ? reject_keys
	                                                                         : ack_keys);
	if (u) /* 400 unknown_field naming it, audited (the API's one answer for it) */
		return api_refuse_unknown_field(srv, req, actor, action, q->terminal_id, u);
	(void)xsnprintf(detail, sizeof(detail), "%s %s by %.64s", q->kind, q->id, q->person);
	if (strcmp(q->kind, "emergency") == 0 ? step != STEP_ACKNOWLEDGE : step == STEP_ACKNOWLEDGE) {
		server_audit(srv, actor, action, q->terminal_id, "refused", "wrong step for the kind");
		return http_reply_error(
		        req, 409, "wrong_kind", "緊急コードの使用は確認 (acknowledge) のみ、それ以外は承認か却下です",
		        "an emergency code's use is acknowledged; other requests are approved or rejected", NULL);
	}
	(void)strscpy(from, sizeof(from), q->status);
	if (step == STEP_REVOKE) {
		/* withdrawn before its until (a lost stick, a changed duty): the
		 * terminals get approval data without it (a new version), pushed
		 * to them (push_revocation) or at their next check-in. Taking a
		 * right away needs no second person: OPS-4 guards granting, and
		 * the requester may give theirs up. */
		const char *reason = get_str(body, "reason");

		if (strcmp(from, "approved") != 0) {
			server_audit(srv, actor, action, q->terminal_id, "refused", "not approved");
			return http_reply_error(req, 409, "not_approved", "この申請は承認されていません",
			                        "this request is not approved", NULL);
		}
		if (q->not_after <= server_now_us() / 1000000) {
			server_audit(srv, actor, action, q->terminal_id, "refused", "ended already");
			return http_reply_error(req, 409, "ended", "この承認は期限切れです (取り消す必要はありません)",
			                        "this approval has ended already (nothing to revoke)", NULL);
		}
		if (!reason || !reason[0] || strlen(reason) > 1024 || !utf8_valid(reason, strlen(reason)))
			return bad_audited(srv, req, actor, action, q->terminal_id,
			                   "取り消しの理由 (reason) が必要です",
			                   "a reason (1 to 1024 bytes) is required");
		if ((r = decision_revoked(q, actor, reason)) < 0)
			return bad_audited(srv, req, actor, action, q->terminal_id, "判断の内容が長すぎます",
			                   "the decision is too long");
		(void)strscpy(q->status, sizeof(q->status), "revoked");
		goto store;
	}
	if (strcmp(from, step == STEP_ACKNOWLEDGE ? "pending_ack" : "pending") != 0) {
		server_audit(srv, actor, action, q->terminal_id, "refused", "already decided");
		return http_reply_error(req, 409, "not_pending", "この申請は処理済みです",
		                        "this request was decided already", NULL);
	}
	/* OPS-4: never the requester (same account name or staff number) */
	if (q->person[0] && api_admin_ops4_check(srv, req, actor, q->person, action, q->terminal_id) < 0)
		return; /* replied and audited */
	dec = cJSON_CreateObject();
	if (!dec)
		return api_admin_no_memory(req);
	if (step == STEP_APPROVE) {
		const char *scope = get_str(body, "scope"), *person = get_str(body, "person"),
		           *access = get_str(body, "access"), *until = get_str(body, "until");
		int64_t until_us = 0, now_us = server_now_us();

		if (!scope || (strcmp(scope, "terminal") != 0 && strcmp(scope, "department") != 0))
			return bad_audited(srv, req, actor, action, q->terminal_id,
			                   "scope は terminal か department です", "scope: terminal or department");
		if (!person || (strcmp(person, "requester") != 0 && strcmp(person, "anyone") != 0))
			return bad_audited(srv, req, actor, action, q->terminal_id,
			                   "person は requester か anyone です", "person: requester or anyone");
		/* department-wide: the terminals of the department the approver
		 * was checked against (the terminal's now), never a policy group */
		if (strcmp(scope, "department") == 0 && !dept[0]) {
			server_audit(srv, actor, action, q->terminal_id, "refused", "department scope, no department");
			return http_reply_error(req, 409, "no_department",
			                        "この端末には部署が設定されていないため、部署全体には承認できません "
			                        "(scope は terminal)",
			                        "this terminal has no department: it cannot be approved for a "
			                        "department (scope: terminal)",
			                        NULL);
		}
		if (!access || (strcmp(access, "ro") != 0 && strcmp(access, "rw") != 0))
			return bad_audited(srv, req, actor, action, q->terminal_id, "access は ro か rw です",
			                   "access: ro or rw");
		if (!until || api_admin_parse_time(until, &until_us) < 0 || until_us <= now_us ||
		    until_us - now_us > APPROVAL_UNTIL_MAX_S * 1000000)
			return bad_audited(srv, req, actor, action, q->terminal_id,
			                   "until は 1 年以内の将来の日時 (RFC 3339) です",
			                   "until: a time (RFC 3339) in the future, at most a year ahead");
		/* never longer than asked for (issue 16.2): the requester's
		 * until (a carry-out's window, an exception's end) bounds the
		 * approver's; a request without one (a device) has no bound here */
		{
			_cleanup_json_ cJSON *rb = cJSON_Parse(q->body);
			const cJSON *asked = cJSON_GetObjectItemCaseSensitive(rb, "until");

			if (asked && (!cJSON_IsNumber(asked) || until_us / 1000000 > (int64_t)asked->valuedouble)) {
				char why[96];

				(void)xsnprintf(why, sizeof(why), "until beyond the request's (%.0f)",
				                cJSON_IsNumber(asked) ? asked->valuedouble : -1.0);
				server_audit(srv, actor, action, q->terminal_id, "refused", why);
				return http_reply_error(
				        req, 409, "until_beyond_request",
				        "承認の期限 (until) は申請された期限より後にできません",
				        "until: the approval cannot last longer than the request asked for", NULL);
			}
		}
		/* a device's authorization and an exception hold for the
		 * terminal, whoever uses it: "the requester only" would be
		 * accepted and never enforced (fail closed) */
		if (strcmp(q->kind, "carry-out") != 0 && strcmp(person, "anyone") != 0)
			return bad_audited(srv, req, actor, action, q->terminal_id,
			                   "機器と例外の承認は端末に対するもので、その端末を使う誰にでも効きます "
			                   "(person は anyone)",
			                   "a device or exception approval holds for the terminal, for whoever uses it "
			                   "(person: anyone)");
		/* a carry-out names its person and allows writing (CARRY-2) */
		if (strcmp(q->kind, "carry-out") == 0 && strcmp(person, "requester") != 0)
			return bad_audited(
			        srv, req, actor, action, q->terminal_id,
			        "持ち出しの承認は申請者本人に限ります (person は requester、CARRY-2)",
			        "a carry-out is approved for the requester only (person: requester; CARRY-2)");
		if (strcmp(q->kind, "device") == 0 && strcmp(access, "ro") == 0 && !read_only_enforceable(q)) {
			return bad_audited(
			        srv, req, actor, action, q->terminal_id,
			        "この機器には記憶装置 (クラス 08) がなく、読み取り専用にできません。rw "
			        "で承認するか却下して"
			        "ください",
			        "this device has no storage interface (class 08): read-only cannot be enforced on it; "
			        "approve rw or reject");
		}
		if (strcmp(q->kind, "carry-out") == 0 && strcmp(access, "rw") != 0)
			return bad_audited(srv, req, actor, action, q->terminal_id,
			                   "持ち出しの承認は書き込みの許可です (access は rw、CARRY-2)",
			                   "a carry-out approval permits writing (access: rw; CARRY-2)");
		if (strcmp(q->kind, "exception") == 0) {
			/* fail closed (issue 16.3): an exception of a requirement the
			 * server does not know is never approved */
			_cleanup_json_ cJSON *rb = cJSON_Parse(q->body);
			const char *rq = get_str(rb, "requirement");

			if (!rq || !approval_requirement_form(rq) || !policy_requirement_known(rq)) {
				server_audit(srv, actor, action, q->terminal_id, "refused", "unknown requirement");
				return http_reply_error(req, 409, "unknown_requirement",
				                        "申請された要件 ID は REQUIREMENTS.md にないため承認できません",
				                        "the requirement ID asked for is not one of REQUIREMENTS.md: "
				                        "it cannot be approved",
				                        NULL);
			}
		}
		cJSON_AddStringToObject(dec, "scope", scope);
		cJSON_AddStringToObject(dec, "person", person);
		cJSON_AddStringToObject(dec, "access", access);
		cJSON_AddStringToObject(dec, "until", until);
		(void)strscpy(q->scope, sizeof(q->scope), scope);
		(void)strscpy(q->status, sizeof(q->status), "approved");
		q->not_after = until_us / 1000000;
	} else if (step == STEP_REJECT) {
		const char *reason = get_str(body, "reason");

		if (!reason || !reason[0] || strlen(reason) > 1024 || !utf8_valid(reason, strlen(reason)))
			return bad_audited(srv, req, actor, action, q->terminal_id, "却下の理由 (reason) が必要です",
			                   "a reason (1 to 1024 bytes) is required");
		cJSON_AddStringToObject(dec, "reason", reason);
		(void)strscpy(q->status, sizeof(q->status), "rejected");
	} else {
		const char *note = get_str(body, "note");

		if (cJSON_GetObjectItemCaseSensitive(body, "note") &&
		    (!note || strlen(note) > 1024 || !utf8_valid(note, strlen(note))))
			return bad_audited(srv, req, actor, action, q->terminal_id, "note が不正です",
			                   "note: at most 1024 bytes of text");
		if (note)
			cJSON_AddStringToObject(dec, "note", note);
		(void)strscpy(q->status, sizeof(q->status), "acknowledged");
	}
	dec_text = cJSON_PrintUnformatted(dec);
	r = dec_text ? strscpy(q->decision, sizeof(q->decision), dec_text) : -ENOMEM;
	cJSON_free(dec_text);
	if (r < 0)
		return bad_audited(srv, req, actor, action, q->terminal_id, "判断の内容が長すぎます",
		                   "the decision is too long");
	(void)strscpy(q->decided_by, sizeof(q->decided_by), actor);
	(void)strscpy(q->department, sizeof(q->department), dept); /* decided for this one */
	q->decided_us = server_now_us();
store:
	r = STORE_CALL(srv->store, request_decide, q, from, &version);
	if (r == -ESTALE)
		return http_reply_error(req, 409, "changed", "申請の状態が変わりました。再度確認してください",
		                        "the request changed meanwhile; look again", NULL);
	if (r < 0)
		return api_admin_store_failed(req, r);
	q->version = version;
	server_audit(srv, actor, action, q->terminal_id, "ok", detail);
	if (step == STEP_REVOKE)
		push_revocation(srv, q, actor);
	out = request_json(q);
	http_reply_json(req, 200, out);
}

static void handle_approve(void *userdata, struct http_req *req)
{
	handle_step(userdata, req, STEP_APPROVE);
}

static void handle_reject(void *userdata, struct http_req *req)
{
	handle_step(userdata, req, STEP_REJECT);
}

static void handle_acknowledge(void *userdata, struct http_req *req)
{
	handle_step(userdata, req, STEP_ACKNOWLEDGE);
}

static void handle_revoke(void *userdata, struct http_req *req)
{
	handle_step(userdata, req, STEP_REVOKE);
}

/* ---- the approval data for a terminal ----------------------------------------------- */

/* A carry-out: the medium, the requester, from the decision to until. */
static int grant_carry(const struct store_request *q, const cJSON *body, cJSON *arr)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(body, "medium");
	cJSON *a, *mo;

	if (!carry_medium_ok(m) || !q->person[0] || cJSON_GetArraySize(arr) >= APPROVAL_MAX)
		return 0; /* not deliverable: left out, never guessed */
	a = cJSON_CreateObject();
	if (!a || !cJSON_AddItemToArray(arr, a))
		return cJSON_Delete(a), -ENOMEM;
	if (!cJSON_AddStringToObject(a, "id", q->id) || !cJSON_AddStringToObject(a, "request_id", q->request_id) ||
	    !cJSON_AddStringToObject(a, "kind", "carry-out") || !(mo = cJSON_AddObjectToObject(a, "medium")) ||
	    !cJSON_AddStringToObject(mo, "vendor", get_str(m, "vendor")) ||
	    !cJSON_AddStringToObject(mo, "product", get_str(m, "product")) ||
	    !cJSON_AddStringToObject(mo, "serial", get_str(m, "serial")) ||
	    !cJSON_AddStringToObject(a, "person", q->person) || !cJSON_AddStringToObject(a, "access", "rw") ||
	    !cJSON_AddNumberToObject(a, "not_before", (double)(q->decided_us / 1000000)) ||
	    !cJSON_AddNumberToObject(a, "not_after", (double)q->not_after) ||
	    !cJSON_AddStringToObject(a, "approved_by", q->decided_by) ||
	    !cJSON_AddNumberToObject(a, "version", (double)q->version))
		return -ENOMEM;
	return 0;
}

/* an approved exception of a requirement (issue 16.3): {id, request_id,
 * kind exception, requirement, person, not_after, approved_by, version} */
static int grant_exception(const struct store_request *q, const cJSON *dec, const cJSON *body, cJSON *arr)
{
	const char *rq = get_str(body, "requirement"), *person = get_str(dec, "person");
	cJSON *a;

	if (!rq || !approval_requirement_form(rq) || !policy_requirement_known(rq) || !person)
		return 0; /* not deliverable: left out, never guessed */
	a = cJSON_CreateObject();
	if (!a || !cJSON_AddItemToArray(arr, a))
		return cJSON_Delete(a), -ENOMEM;
	if (!cJSON_AddStringToObject(a, "id", q->id) || !cJSON_AddStringToObject(a, "request_id", q->request_id) ||
	    !cJSON_AddStringToObject(a, "kind", "exception") || !cJSON_AddStringToObject(a, "requirement", rq) ||
	    !(strcmp(person, "anyone") == 0 ? cJSON_AddNullToObject(a, "person")
	                                    : cJSON_AddStringToObject(a, "person", q->person)) ||
	    !cJSON_AddNumberToObject(a, "not_after", (double)q->not_after) ||
	    !cJSON_AddStringToObject(a, "approved_by", q->decided_by) ||
	    !cJSON_AddNumberToObject(a, "version", (double)q->version))
		return -ENOMEM;
	return 0;
}

static int grant_cb(const struct store_request *q, void *userdata)
{
	_cleanup_json_ cJSON *dec = cJSON_Parse(q->decision), *body = cJSON_Parse(q->body);
	const char *hash = get_str(cJSON_GetObjectItemCaseSensitive(body, "device"), "hash");
	const char *person = get_str(dec, "person"), *access = get_str(dec, "access");
	cJSON *a;

	if (cJSON_GetArraySize(userdata) >= APPROVAL_MAX)
		return 0;
	if (strcmp(q->kind, "carry-out") == 0)
		return grant_carry(q, body, userdata);
	if (strcmp(q->kind, "exception") == 0)
		return grant_exception(q, dec, body, userdata);
	if (!hash || !person || !access)
		return 0; /* not deliverable: left out, never guessed */
	a = cJSON_CreateObject();
	if (!a || !cJSON_AddItemToArray(userdata, a))
		return cJSON_Delete(a), -ENOMEM;
	if (!cJSON_AddStringToObject(a, "id", q->id) || !cJSON_AddStringToObject(a, "request_id", q->request_id) ||
	    !cJSON_AddStringToObject(a, "kind", "device") || !cJSON_AddStringToObject(a, "hash", hash) ||
	    !(strcmp(person, "anyone") == 0 ? cJSON_AddNullToObject(a, "person")
	                                    : cJSON_AddStringToObject(a, "person", q->person)) ||
	    !cJSON_AddStringToObject(a, "access", access) ||
	    !cJSON_AddNumberToObject(a, "not_after", (double)q->not_after) ||
	    !cJSON_AddStringToObject(a, "approved_by", q->decided_by) ||
	    !cJSON_AddNumberToObject(a, "version", (double)q->version))
		return -ENOMEM;
	return 0;
}

int api_request_grants(struct server *srv, const char *terminal_id, int64_t held_version, int64_t redeliver_before_us,
                       bool *ret_commands_due, char **ret_json)
{
	_cleanup_json_ cJSON *doc = cJSON_CreateObject(), *out = NULL;
	char *text = NULL;
	cJSON *arr;
	char sig[POLICY_SIG_B64_LEN + 1], *p;
	int64_t now = server_now_us() / 1000000;
	struct store_checkin_reads q = {
	        .terminal_id = terminal_id, .now_s = now, .redeliver_before_us = redeliver_before_us};
	int r;

	*ret_json = NULL;
	*ret_commands_due = false;
	if (!doc || !cJSON_AddStringToObject(doc, "type", APPROVAL_TYPE) ||
	    !cJSON_AddStringToObject(doc, "terminal_id", terminal_id) || !(arr = cJSON_CreateArray()))
		return -ENOMEM;
	r = STORE_CALL(srv->store, checkin_reads, &q, grant_cb, arr);
	if (r < 0) {
		cJSON_Delete(arr);
		return r;
	}
	*ret_commands_due = q.commands_due;
	if (held_version > q.max_version) {
		/* the terminal holds a version this store never issued: a store
		 * restored from a backup (or a terminal that lies, which only
		 * hurts itself): the store's version for it goes above, or it
		 * would refuse this document and every approval until the
		 * sequence passed its version. Bounded: a number far above
		 * what any store issues moves nothing (fail closed: it keeps
		 * what it has). */
		char detail[160];
		int64_t v = 0;

		if (held_version - q.max_version > GRANTS_RAISE_MAX) {
			(void)xsnprintf(detail, sizeof(detail),
			                "holds version %" PRId64 ", the store %" PRId64 ": not raised", held_version,
			                q.max_version);
			server_audit(srv, "device", "approvals.version_raise", terminal_id, "refused", detail);
		} else if ((r = STORE_CALL(srv->store, grants_raise, terminal_id, held_version, &v)) < 0) {
			cJSON_Delete(arr);
			return r;
		} else {
			(void)xsnprintf(detail, sizeof(detail),
			                "holds version %" PRId64 ", the store %" PRId64 " (restored?): now %" PRId64,
			                held_version, q.max_version, v);
			server_audit(srv, "device", "approvals.version_raise", terminal_id, "ok", detail);
			log_warning("approval data: terminal %s %s", terminal_id, detail);
			q.max_version = v;
		}
	}
	if (q.max_version == 0 || q.max_version == held_version) {
		cJSON_Delete(arr);
		return 0; /* nothing was ever approved; the terminal has this version */
	}
	if (!cJSON_AddNumberToObject(doc, "version", (double)q.max_version) ||
	    !cJSON_AddNumberToObject(doc, "issued_at", (double)now) || !cJSON_AddItemToObject(doc, "approvals", arr))
		return -ENOMEM;
	text = cJSON_PrintUnformatted(doc); /* cJSON's allocator (the check-in's arena) */
	if (!text)
		return -ENOMEM;
	r = signer_sign(srv->signer, SIGNER_KEY_POLICY, text, strlen(text), sig);
	out = r < 0 ? NULL : cJSON_CreateObject();
	if (r == 0 && (!out || !cJSON_AddStringToObject(out, "document", text) ||
	               !cJSON_AddStringToObject(out, "signature", sig)))
		r = -ENOMEM;
	cJSON_free(text);
	if (r < 0)
		return r;
	p = cJSON_PrintUnformatted(out);
	/* cJSON may allocate from the check-in's arena (api_device.c): copy */
	*ret_json = p ? strdup(p) : NULL;
	cJSON_free(p);
	return *ret_json ? 0 : -ENOMEM;
}

const struct http_route api_request_routes[] = {
        {HTTP_GET, "/admin/v1/requests", handle_list},
        {HTTP_GET, "/admin/v1/requests/*", handle_get},
        {HTTP_POST, "/admin/v1/requests/*/approve", handle_approve},
        {HTTP_POST, "/admin/v1/requests/*/reject", handle_reject},
        {HTTP_POST, "/admin/v1/requests/*/acknowledge", handle_acknowledge},
        {HTTP_POST, "/admin/v1/requests/*/revoke", handle_revoke},
};
const size_t api_request_routes_n = ELEMENTSOF(api_request_routes);
