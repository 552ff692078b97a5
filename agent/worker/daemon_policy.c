/* agent/worker/daemon_policy.c — which policy the agent runs, and the exceptions it
 * honours (mamori-worker). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc-util.h"
#include "approval_store.h"
#include "daemon.h"
#include "daemon_command.h"
#include "daemon_policy.h"
#include "exception_store.h"
#include "fileio.h"
#include "json-util.h"
#include "log.h"
#include "policy.h"
#include "policy_exception.h"
#include "policy_sign.h"
#include "rootpath.h"
#include "sha256.h"
#include "strutil.h"

#define POLICY_FILE_MAX (4 * 1024 * 1024)

/* An unsigned audit policy: read once, hash and parse the same bytes. */
static int load_unsigned(const char *path, struct mamori_policy **ret, struct policy_errors *errs)
{
	_cleanup_free_ char *buf = NULL;
	struct mamori_policy *p = NULL;
	uint8_t md[32];
	char hex[65];
	size_t len;
	int r;

	r = read_file_capped(path, POLICY_FILE_MAX, &buf, &len);
	if (r < 0)
		return r;
	r = policy_parse(buf, len, &p, errs);
	if (r < 0)
		return r;
	if (sha256_buf(buf, len, md) == 0) {
		hex_encode(md, 32, hex);
		policy_set_sha256(p, hex);
	}
	*ret = p;
	return 0;
}

/* Keep a verified copy for restarts: document then signature, each atomic. */
static int cache_policy(const struct agent_config *cfg, const char *json, const char *sig)
{
	char dir[PATH_MAX], dst[PATH_MAX], dsig[PATH_MAX];
	_cleanup_free_ char *a = NULL, *b = NULL;
	size_t la, lb;
	int r;

	if (root_path(dir, sizeof(dir), cfg->state_dir) < 0 ||
	    root_pathf(dst, sizeof(dst), "%s/policy.applied.json", cfg->state_dir) < 0 ||
	    root_pathf(dsig, sizeof(dsig), "%s/policy.applied.json.sig", cfg->state_dir) < 0)
		return -ENAMETOOLONG;
	if (strcmp(dst, json) == 0)
		return 0;
	r = read_file_capped(json, POLICY_FILE_MAX, &a, &la);
	if (r == 0)
		r = read_file_capped(sig, 4096, &b, &lb);
	if (r == 0)
		r = mkdir_p(dir, 0700);
	if (r == 0)
		r = write_file_atomic(dsig, b, lb, 0600);
	if (r == 0)
		r = write_file_atomic(dst, a, la, 0600);
	return r;
}

static void emit_refused(struct mamori_ctx *ctx, const char *path, int r, const char *why)
{
	_cleanup_json_ cJSON *p = cJSON_CreateObject();
	const char *reason = r == POLICY_E_SIGNATURE  ? "signature"
	                     : r == POLICY_E_ROLLBACK ? "rollback"
	                     : r == POLICY_E_INVALID  ? "invalid"
	                     : r == POLICY_E_KEY      ? "key"
	                     : r == POLICY_E_TOO_BIG  ? "too_big"
	                                              : "unreadable";

	if (!p)
		return;
	cJSON_AddStringToObject(p, "path", path);
	cJSON_AddStringToObject(p, "reason", reason);
	cJSON_AddStringToObject(p, "detail", why);
	mamori_emit(ctx, "policy.refused", SEV_ERROR, "OPS-1", p);
	if (r == POLICY_E_SIGNATURE || r == POLICY_E_ROLLBACK) {
		/* a document that claims to be policy but is not signed by the city,
		 * or an old one replayed: someone tampers */
		cJSON_DeleteItemFromObject(p, "detail");
		cJSON_AddStringToObject(p, "what", "policy");
		mamori_emit(ctx, "tamper.detected", SEV_CRITICAL, "CONF-1,OPS-5", p);
	}
}

/* Is sha the policy applied last time (the copy kept in state_dir)? Then a
 * restart applies nothing new and records nothing (issue 13: one
 * policy.applied per worker restart buried the real changes). */
static bool applied_before(const struct agent_config *cfg, const char *sha)
{
	_cleanup_free_ char *buf = NULL;
	char path[PATH_MAX], hex[65];
	uint8_t md[32];
	size_t n;

	if (root_pathf(path, sizeof(path), "%s/policy.applied.json", cfg->state_dir) < 0 ||
	    read_file_capped(path, POLICY_SIZE_MAX, &buf, &n) < 0 || sha256_buf(buf, n, md) < 0)
		return false;
	hex_encode(md, 32, hex);
	return streq_ptr(hex, sha);
}

static void emit_applied(struct mamori_ctx *ctx, const struct policy_state *st, const char *source)
{
	_cleanup_json_ cJSON *p = cJSON_CreateObject();

	if (!p)
		return;
	cJSON_AddNumberToObject(p, "version", (double)policy_version(st->current));
	cJSON_AddStringToObject(p, "segment", policy_segment(st->current));
	cJSON_AddStringToObject(p, "sha256", st->sha256);
	cJSON_AddStringToObject(p, "source", source);
	cJSON_AddBoolToObject(p, "signed", !st->unsigned_audit);
	mamori_emit(ctx, "policy.applied", SEV_NOTICE, "OPS-1", p);
}

int daemon_policy_load(struct policy_state *st, const struct daemon_options *o, struct mamori_ctx *ctx,
                       struct mamori_policy **ret_old, bool *ret_changed)
{
	const struct agent_config *cfg = ctx->config;
	char json[PATH_MAX], sig[PATH_MAX], pub[PATH_MAX], sha[65], err[1024];
	struct mamori_policy *p = NULL;
	int64_t min = st->current ? policy_version(st->current) : 0;
	int r;

	*ret_old = NULL;
	if (ret_changed)
		*ret_changed = false;

	if (o->policy_path && o->unsigned_policy) {
		struct policy_errors errs;

		/* explicit audit run: the file is the administrator's, not under the root */
		policy_errors_init(&errs);
		r = load_unsigned(o->policy_path, &p, &errs);
		if (r < 0) {
			policy_errors_print(&errs, stderr, ctx->lang);
			return log_error_errno(r, "%s: policy not usable", o->policy_path);
		}
		strscpy(sha, sizeof(sha), policy_sha256(p));
		if (st->current && strcmp(sha, st->sha256) == 0) {
			policy_free(p);
			return 0;
		}
		*ret_old = st->current;
		st->current = p;
		st->unsigned_audit = true;
		strscpy(st->sha256, sizeof(st->sha256), sha);
		log_full_errno(st->readonly ? LOG_DEBUG : LOG_WARNING, 0,
		               "running UNSIGNED policy %s (audit only, nothing is enforced)", o->policy_path);
		emit_applied(ctx, st, "unsigned");
		if (ret_changed)
			*ret_changed = true;
		return 0;
	}

	if (root_path(pub, sizeof(pub), cfg->policy_key) < 0)
		return -ENAMETOOLONG;
	if (o->policy_path) {
		if (strscpy(json, sizeof(json), o->policy_path) < 0)
			return -ENAMETOOLONG;
	} else if (root_path(json, sizeof(json), cfg->policy_file) < 0)
		return -ENAMETOOLONG;
	if (xsnprintf(sig, sizeof(sig), "%s.sig", json) < 0)
		return -ENAMETOOLONG;

	if (access(json, F_OK) == 0) {
		r = policy_load_verified(json, sig, pub, min, &p, err, sizeof(err));
		if (r == 0) {
			strscpy(sha, sizeof(sha), policy_sha256(p));
			if (st->current && strcmp(sha, st->sha256) == 0) {
				policy_free(p); /* same document: nothing to do */
				return 0;
			}
			bool again = !st->current && applied_before(cfg, sha);

			*ret_old = st->current;
			st->current = p;
			st->unsigned_audit = false;
			strscpy(st->sha256, sizeof(st->sha256), sha);
			r = st->readonly ? 0 : cache_policy(cfg, json, sig);
			if (r < 0)
				log_warning_errno(r, "cannot keep a copy of the applied policy");
			log_info("policy version %lld (%s) %s", (long long)policy_version(p), policy_segment(p),
			         again ? "in force (unchanged since the last start)" : "applied");
			if (!again)
				emit_applied(ctx, st, "file");
			if (ret_changed)
				*ret_changed = true;
			return 0;
		}
		log_error("policy %s refused: %s", json, err);
		emit_refused(ctx, json, r, err);
	}
	if (st->current)
		return 0; /* keep the running one */

	/* start-up without a usable new document: the last good one */
	if (root_pathf(json, sizeof(json), "%s/policy.applied.json", cfg->state_dir) < 0 ||
	    xsnprintf(sig, sizeof(sig), "%s.sig", json) < 0)
		return -ENAMETOOLONG;
	if (access(json, F_OK) != 0) {
		log_warning("no policy: running with the built-in defaults of every module");
		return 0;
	}
	r = policy_load_verified(json, sig, pub, 0, &p, err, sizeof(err));
	if (r < 0) {
		log_error("cached policy %s refused: %s", json, err);
		emit_refused(ctx, json, r, err);
		return 0;
	}
	st->current = p;
	strscpy(st->sha256, sizeof(st->sha256), policy_sha256(p));
	/* the copy of the policy applied before: nothing changed */
	log_info("policy version %lld (%s) in force (the last applied)", (long long)policy_version(p),
	         policy_segment(p));
	if (ret_changed)
		*ret_changed = true;
	return 0;
}

void daemon_policy_free(struct policy_state *st)
{
	policy_free(st->current);
	st->current = NULL;
}

void daemon_policy_apply_exceptions(struct policy_state *st, struct mamori_ctx *ctx, struct check_report *rep)
{
	const struct agent_config *cfg = ctx->config;
	struct exception_store *store = NULL;
	char path[PATH_MAX];
	time_t now = time(NULL);
	int r;

	if (root_pathf(path, sizeof(path), "%s/exceptions.json", cfg->state_dir) == 0) {
		r = exception_store_load(path, &store);
		if (r < 0 && r != -ENOENT)
			log_warning_errno(r, "%s: emergency exceptions not readable", path);
	}
	/* the offline unlock code (MDM-1): a code of its scope ends the lock */
	{
		char state[PATH_MAX];

		if (store && root_path(state, sizeof(state), cfg->state_dir) == 0)
			daemon_lock_unlock_by_code(ctx, state, store, (int64_t)now);
	}
	/* emergency codes entered at the terminal: journal each once (事後速やかに報告) */
	for (size_t i = 0; store && i < store->n; i++) {
		const struct exception_entry *e = &store->e[i];
		_cleanup_json_ cJSON *p = NULL;

		if (e->reported)
			continue;
		p = cJSON_CreateObject();
		if (!p)
			break;
		cJSON_AddStringToObject(p, "id", e->id);
		cJSON_AddStringToObject(p, "kind", "emergency");
		cJSON_AddStringToObject(p, "scope", e->scope);
		cJSON_AddStringToObject(p, "person", e->person);
		cJSON_AddNumberToObject(p, "not_before", (double)e->not_before);
		cJSON_AddNumberToObject(p, "not_after", (double)e->not_after);
		cJSON_AddNumberToObject(p, "entered_at", (double)e->entered_at);
		if (mamori_emit(ctx, "exception.applied", SEV_NOTICE, "OPS-3", p) == 0)
			exception_store_mark_reported(path, e->id);
	}
	for (size_t i = 0; i < rep->n; i++) {
		struct check_result *res = rep->results[i];
		const char *id = NULL;

		if (res->status != CHECK_FAIL && res->status != CHECK_ERROR)
			continue;
		if ((st->current && policy_exception_applies(st->current, res->id, NULL, NULL, now, &id)) ||
		    (store && exception_store_applies(store, res->id, NULL, NULL, now, &id)))
			check_result_set_exception(res, id);
	}
	/* exceptions of a requirement approved on the server (issue 16.3) */
	approval_store_apply_exceptions(rep);
	free(store);
}
