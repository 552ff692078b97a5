/* agent/worker/usb_local_store.c — local USB exceptions (mamori-worker; issue 12.6,
 * OPS-3, MEDIA-1): `mamorictl usb allow|block ID --reason TEXT` by root at
 * the terminal.
 *
 * What the policy says (usb.local_exceptions; absent: allow refused, block
 * permitted): allow/block permitted, default_hours (8), max_hours (24),
 * permanent. Every exception ends: at not_after (the agent's clock), or —
 * --permanent, only where the policy permits it — when a policy of another
 * version is in force, or at a revoke. A request the policy does not permit
 * is refused and journaled (usb.exception_refused). The file
 * state_dir/usb-local.json keeps them across restarts; the gate gets the
 * whole set (ipc `usb_local`) at every change and every worker start. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc-util.h"
#include "approval_store.h"
#include "event.h"
#include "fileio.h"
#include "ipc.h"
#include "json-util.h"
#include "log.h"
#include "module.h"
#include "policy.h"
#include "rootpath.h"
#include "strutil.h"
#include "usb/usb_local.h"
#include "usb_local_store.h"

#define LOCAL_FILE       "usb-local.json"
#define LOCAL_MAX        256 /* = modules/usb USB_LOCAL_MAX */
#define LOCAL_REASON_MAX 1024

struct limits {
	bool allow, block, permanent;
	int64_t default_h, max_h;
};

static void policy_limits(const struct mamori_policy *pol, struct limits *l)
{
	const cJSON *usb = pol ? policy_section(pol, "usb") : NULL;
	const cJSON *le = usb ? cJSON_GetObjectItemCaseSensitive(usb, "local_exceptions") : NULL, *v;

	*l = (struct limits){.allow = false, .block = true, .permanent = false, .default_h = 8, .max_h = 24};
	if (!le)
		return; /* the validator checked the kinds and ranges */
	l->allow = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(le, "allow"));
	if ((v = cJSON_GetObjectItemCaseSensitive(le, "block")))
		l->block = cJSON_IsTrue(v);
	l->permanent = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(le, "permanent"));
	if (cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(le, "max_hours")))
		l->max_h = (int64_t)v->valuedouble;
	if (cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(le, "default_hours")))
		l->default_h = (int64_t)v->valuedouble;
	if (l->default_h > l->max_h)
		l->default_h = l->max_h;
}

static int file_path(const char *state_dir, char *p, size_t n)
{
	return root_pathf(p, n, "%s/%s", state_dir, LOCAL_FILE);
}

/* The stored set ({"exceptions": [...], "next": N}); an empty one if none.
 * A file that does not parse is kept aside (.bad) and nothing applies:
 * an allow nobody can read must not stay in force. */
static cJSON *load(const char *state_dir)
{
	char p[4096];
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	cJSON *doc;

	if (file_path(state_dir, p, sizeof(p)) == 0 && read_file_capped(p, 4 * 1024 * 1024, &buf, &len) == 0) {
		doc = cJSON_ParseWithLength(buf, len);
		if (doc && cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(doc, "exceptions")))
			return doc;
		cJSON_Delete(doc);
		log_error("%s: unreadable: no local USB exception applies", p);
		{
			char bad[4200];
			if (xsnprintf(bad, sizeof(bad), "%s.bad", p) == 0)
				(void)rename(p, bad);
		}
	}
	doc = cJSON_CreateObject();
	if (doc && (!cJSON_AddArrayToObject(doc, "exceptions") || !cJSON_AddNumberToObject(doc, "next", 1))) {
		cJSON_Delete(doc);
		return NULL;
	}
	return doc;
}

static int save(const char *state_dir, const cJSON *doc)
{
	char p[4096];
	_cleanup_free_ char *t = cJSON_Print(doc);
	int r;

	if (!t)
		return -ENOMEM;
	r = file_path(state_dir, p, sizeof(p));
	if (r < 0)
		return r;
	return write_file_atomic(p, t, strlen(t), 0600);
}

static int64_t num(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : 0;
}

static const char *str(const cJSON *o, const char *k)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

static void send_set(const cJSON *doc, struct ipc_peer *peer)
{
	_cleanup_json_ cJSON *m = ipc_new(IPC_USB_LOCAL);
	cJSON *arr, *it;
	int r;

	if (!peer || peer->fd < 0 || !m || !(arr = cJSON_AddArrayToObject(m, "exceptions")))
		return;
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(doc, "exceptions"))
	{
		cJSON *e = cJSON_CreateObject();

		if (!e)
			return;
		cJSON_AddStringToObject(e, "id", str(it, "id") ? str(it, "id") : "");
		cJSON_AddStringToObject(e, "action", str(it, "action") ? str(it, "action") : "");
		cJSON_AddStringToObject(e, "hash", str(it, "hash") ? str(it, "hash") : "");
		cJSON_AddNumberToObject(e, "not_after", (double)num(it, "not_after"));
		cJSON_AddNumberToObject(e, "policy_version", (double)num(it, "policy_version"));
		cJSON_AddItemToArray(arr, e);
	}
	/* approvals of requests (issue 16): the same matcher in the gate decides */
	{
		int n = cJSON_GetArraySize(arr);
		approval_store_exceptions(arr, n < LOCAL_MAX ? (size_t)(LOCAL_MAX - n) : 0);
	}
	r = ipc_peer_send(peer, m, -1);
	if (r < 0)
		log_warning_errno(r, "cannot send the local USB exceptions to mamorid");
}

static void journal_event(struct mamori_ctx *ctx, const char *type, enum event_severity sev, cJSON *payload)
{
	int r = mamori_emit(ctx, type, sev, "OPS-3,MEDIA-1", payload);

	if (r < 0)
		log_error_errno(r, "cannot journal %s", type);
}

static cJSON *refuse(struct mamori_ctx *ctx, const char *reason, const char *msg, const char *action, const cJSON *args,
                     uid_t uid, pid_t pid)
{
	cJSON *out = cJSON_CreateObject();
	_cleanup_json_ cJSON *ev = cJSON_CreateObject();

	if (ev) {
		cJSON_AddStringToObject(ev, "action", action);
		cJSON_AddStringToObject(ev, "reason", reason);
		if (args && cJSON_GetObjectItemCaseSensitive(args, "device"))
			cJSON_AddItemToObject(ev, "device",
			                      cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(args, "device"), 1));
		if (args && cJSON_IsString(cJSON_GetObjectItemCaseSensitive(args, "id")))
			cJSON_AddStringToObject(ev, "id", str(args, "id"));
		if (args && cJSON_IsString(cJSON_GetObjectItemCaseSensitive(args, "reason")))
			cJSON_AddStringToObject(ev, "why", str(args, "reason"));
		control_who_json(ev, uid, pid);
		journal_event(ctx, "usb.exception_refused", SEV_WARNING, ev);
	}
	if (out) {
		cJSON_AddBoolToObject(out, "ok", 0);
		cJSON_AddStringToObject(out, "reason", reason);
		cJSON_AddStringToObject(out, "error", msg);
	}
	return out;
}

static bool valid_text(const cJSON *v, size_t max)
{
	return cJSON_IsString(v) && v->valuestring[0] && strlen(v->valuestring) <= max;
}

static bool valid_device(const cJSON *d)
{
	static const char *const keys[] = {"hash", "vendor", "product", "serial", "name", "port", NULL};
	const cJSON *s;

	if (!cJSON_IsObject(d) || !json_only_keys(d, keys) || !usb_local_is_hash(str(d, "hash")))
		return false;
	for (size_t i = 1; keys[i]; i++) {
		s = cJSON_GetObjectItemCaseSensitive(d, keys[i]);
		if (s && !cJSON_IsNull(s) && !(cJSON_IsString(s) && strlen(s->valuestring) <= 4096))
			return false;
	}
	return true;
}

static void prune_expired(cJSON *doc, time_t now, int64_t pv)
{
	cJSON *arr = cJSON_GetObjectItemCaseSensitive(doc, "exceptions");

	for (int i = cJSON_GetArraySize(arr) - 1; i >= 0; i--) {
		const cJSON *e = cJSON_GetArrayItem(arr, i);
		int64_t na = num(e, "not_after"), epv = num(e, "policy_version");

		/* the gate records the end (usb.exception_ended, by the same clock) */
		if ((na && (int64_t)now >= na) || (epv && epv != pv))
			cJSON_DeleteItemFromArray(arr, i);
	}
}

static cJSON *add(struct mamori_ctx *ctx, const struct mamori_policy *pol, const char *state_dir, struct ipc_peer *peer,
                  bool allow, const cJSON *args, uid_t uid, pid_t pid)
{
	static const char *const keys[] = {"device", "reason", "hours", "until", "permanent", NULL};
	const char *action = allow ? "allow" : "block";
	const cJSON *dev = cJSON_GetObjectItemCaseSensitive(args, "device");
	const cJSON *why = cJSON_GetObjectItemCaseSensitive(args, "reason");
	const cJSON *hours = cJSON_GetObjectItemCaseSensitive(args, "hours");
	const cJSON *until = cJSON_GetObjectItemCaseSensitive(args, "until");
	const cJSON *perm = cJSON_GetObjectItemCaseSensitive(args, "permanent");
	_cleanup_json_ cJSON *doc = NULL;
	cJSON *e, *out, *arr;
	struct limits lim;
	time_t now = time(NULL);
	int64_t na = 0, pv = pol ? policy_version(pol) : 0, next;
	char id[64];
	int r;

	if (uid != 0)
		return refuse(ctx, "not_root", "permission denied: local USB exceptions need root", action, NULL, uid,
		              pid);
	if (!args || !json_only_keys(args, keys) || !valid_device(dev) || !valid_text(why, LOCAL_REASON_MAX) ||
	    (hours && !cJSON_IsNumber(hours)) || (until && !cJSON_IsNumber(until)) || (perm && !cJSON_IsBool(perm)) ||
	    (!!hours + !!until + cJSON_IsTrue(perm)) > 1)
		return refuse(ctx, "bad_request",
		              "usage: a device (hash), a reason, and at most one of hours, until, permanent", action,
		              args, uid, pid);
	if (!pol)
		return refuse(ctx, "no_policy", "no policy in force: no local exception", action, args, uid, pid);
	policy_limits(pol, &lim);
	if (allow ? !lim.allow : !lim.block)
		return refuse(ctx, "policy_forbids",
		              allow ? "the policy does not permit local allow exceptions (usb.local_exceptions.allow)"
		                    : "the policy does not permit local block exceptions (usb.local_exceptions.block)",
		              action, args, uid, pid);
	if (cJSON_IsTrue(perm)) {
		if (!lim.permanent)
			return refuse(ctx, "permanent_not_permitted",
			              "the policy does not permit --permanent (usb.local_exceptions.permanent)", action,
			              args, uid, pid);
	} else if (until) {
		na = (int64_t)until->valuedouble;
		if (until->valuedouble != (double)na || na <= (int64_t)now)
			return refuse(ctx, "until_in_past", "--until is not in the future", action, args, uid, pid);
	} else {
		double h = hours ? hours->valuedouble : (double)lim.default_h;
		if (h != (double)(int64_t)h || h < 1)
			return refuse(ctx, "bad_request", "--hours: a whole number of hours, at least 1", action, args,
			              uid, pid);
		na = (int64_t)now + (int64_t)h * 3600;
	}
	if (na && na - (int64_t)now > lim.max_h * 3600)
		return refuse(ctx, "window_too_long", "longer than usb.local_exceptions.max_hours", action, args, uid,
		              pid);
	doc = load(state_dir);
	if (!doc)
		return NULL;
	prune_expired(doc, now, pv);
	arr = cJSON_GetObjectItemCaseSensitive(doc, "exceptions");
	if (cJSON_GetArraySize(arr) >= LOCAL_MAX)
		return refuse(ctx, "too_many", "too many local exceptions in force", action, args, uid, pid);
	next = num(doc, "next") > 0 ? num(doc, "next") : 1;
	if (xsnprintf(id, sizeof(id), "L%" PRId64 "-%" PRId64, (int64_t)now, next) < 0)
		return NULL;
	cJSON_DeleteItemFromObject(doc, "next");
	cJSON_AddNumberToObject(doc, "next", (double)(next + 1));
	e = cJSON_CreateObject();
	if (!e)
		return NULL;
	cJSON_AddStringToObject(e, "id", id);
	cJSON_AddStringToObject(e, "action", action);
	cJSON_AddStringToObject(e, "hash", str(dev, "hash"));
	cJSON_AddItemToObject(e, "device", cJSON_Duplicate(dev, 1));
	cJSON_AddStringToObject(e, "reason", why->valuestring);
	cJSON_AddNumberToObject(e, "created", (double)now);
	cJSON_AddNumberToObject(e, "not_after", (double)na);
	cJSON_AddBoolToObject(e, "permanent", na == 0);
	/* --permanent ends with the policy version; a timed one outlives it */
	cJSON_AddNumberToObject(e, "policy_version", na == 0 ? (double)pv : 0);
	control_who_json(e, uid, pid);
	cJSON_AddItemToArray(arr, e);
	r = save(state_dir, doc);
	if (r < 0) {
		cJSON *o = cJSON_CreateObject();
		log_error_errno(r, "cannot store a local USB exception");
		if (o) {
			cJSON_AddBoolToObject(o, "ok", 0);
			cJSON_AddStringToObject(o, "error", "cannot store the exception (state_dir)");
		}
		return o;
	}
	journal_event(ctx, "usb.exception_added", allow ? SEV_WARNING : SEV_NOTICE, e);
	send_set(doc, peer);
	out = cJSON_Duplicate(e, 1);
	if (out)
		cJSON_AddBoolToObject(out, "ok", 1);
	return out;
}

static cJSON *revoke_one(struct mamori_ctx *ctx, const struct mamori_policy *pol, const char *state_dir,
                         struct ipc_peer *peer, const cJSON *args, uid_t uid, pid_t pid)
{
	static const char *const keys[] = {"id", "reason", NULL};
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(args, "id");
	const cJSON *why = cJSON_GetObjectItemCaseSensitive(args, "reason");
	_cleanup_json_ cJSON *doc = NULL;
	cJSON *arr, *out;
	int r;

	if (uid != 0)
		return refuse(ctx, "not_root", "permission denied: local USB exceptions need root", "revoke", NULL, uid,
		              pid);
	if (!args || !json_only_keys(args, keys) || !valid_text(id, 64) || (why && !valid_text(why, LOCAL_REASON_MAX)))
		return refuse(ctx, "bad_request", "usage: an exception id (and a reason)", "revoke", args, uid, pid);
	doc = load(state_dir);
	if (!doc)
		return NULL;
	prune_expired(doc, time(NULL), pol ? policy_version(pol) : 0);
	arr = cJSON_GetObjectItemCaseSensitive(doc, "exceptions");
	for (int i = 0; i < cJSON_GetArraySize(arr); i++) {
		cJSON *e = cJSON_GetArrayItem(arr, i);

		if (strcmp(str(e, "id") ? str(e, "id") : "", id->valuestring) != 0)
			continue;
		e = cJSON_DetachItemFromArray(arr, i);
		r = save(state_dir, doc);
		if (r < 0) {
			cJSON_Delete(e);
			return refuse(ctx, "store_failed", "cannot store the change (state_dir)", "revoke", args, uid,
			              pid);
		}
		{
			_cleanup_json_ cJSON *ev = cJSON_CreateObject();
			if (ev) {
				cJSON_AddStringToObject(ev, "id", id->valuestring);
				cJSON_AddStringToObject(ev, "action", str(e, "action") ? str(e, "action") : "");
				cJSON_AddItemToObject(
				        ev, "device",
				        cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(e, "device"), 1));
				if (why)
					cJSON_AddStringToObject(ev, "reason", why->valuestring);
				else
					cJSON_AddNullToObject(ev, "reason");
				control_who_json(ev, uid, pid);
				journal_event(ctx, "usb.exception_revoked", SEV_NOTICE, ev);
			}
		}
		cJSON_Delete(e);
		send_set(doc, peer);
		out = cJSON_CreateObject();
		if (out) {
			cJSON_AddStringToObject(out, "revoked", id->valuestring);
			cJSON_AddBoolToObject(out, "ok", 1);
		}
		return out;
	}
	return refuse(ctx, "unknown_id", "no local exception in force has this id", "revoke", args, uid, pid);
}

cJSON *usb_local_request(struct mamori_ctx *ctx, const struct mamori_policy *pol, const char *state_dir,
                         struct ipc_peer *peer, enum control_cmd cmd, const cJSON *args, uid_t uid, pid_t pid)
{
	switch (cmd) {
	case CONTROL_USB_ALLOW:
	case CONTROL_USB_BLOCK:
		return add(ctx, pol, state_dir, peer, cmd == CONTROL_USB_ALLOW, args, uid, pid);
	case CONTROL_USB_REVOKE:
		return revoke_one(ctx, pol, state_dir, peer, args, uid, pid);
	case CONTROL_USB_EXCEPTIONS: {
		cJSON *doc = load(state_dir), *out;

		if (!doc)
			return NULL;
		prune_expired(doc, time(NULL), pol ? policy_version(pol) : 0);
		out = cJSON_CreateObject();
		if (out) {
			struct limits lim;
			cJSON *p = cJSON_AddObjectToObject(out, "policy");

			policy_limits(pol, &lim);
			if (p) {
				cJSON_AddBoolToObject(p, "allow", pol && lim.allow);
				cJSON_AddBoolToObject(p, "block", pol && lim.block);
				cJSON_AddBoolToObject(p, "permanent", pol && lim.permanent);
				cJSON_AddNumberToObject(p, "default_hours", (double)lim.default_h);
				cJSON_AddNumberToObject(p, "max_hours", (double)lim.max_h);
			}
			cJSON_AddNumberToObject(out, "now", (double)time(NULL));
			cJSON_AddItemToObject(out, "exceptions", cJSON_DetachItemFromObject(doc, "exceptions"));
			cJSON_AddBoolToObject(out, "ok", 1);
		}
		cJSON_Delete(doc);
		return out;
	}
	default:
		return NULL;
	}
}

void usb_local_sync(struct mamori_ctx *ctx, const struct mamori_policy *pol, const char *state_dir,
                    struct ipc_peer *peer)
{
	_cleanup_json_ cJSON *doc = load(state_dir);
	cJSON *arr;
	struct limits lim;
	bool changed = false;
	int n;

	if (!doc)
		return;
	policy_limits(pol, &lim);
	arr = cJSON_GetObjectItemCaseSensitive(doc, "exceptions");
	n = cJSON_GetArraySize(arr);
	prune_expired(doc, time(NULL), pol ? policy_version(pol) : 0);
	changed = cJSON_GetArraySize(arr) != n;
	/* a new policy that no longer permits them ends them (journaled) */
	for (int i = cJSON_GetArraySize(arr) - 1; i >= 0; i--) {
		const cJSON *e = cJSON_GetArrayItem(arr, i);
		bool allow = strcmp(str(e, "action") ? str(e, "action") : "", "allow") == 0;

		if (pol && (allow ? lim.allow : lim.block))
			continue;
		{
			_cleanup_json_ cJSON *ev = cJSON_CreateObject();
			if (ev) {
				cJSON_AddStringToObject(ev, "id", str(e, "id") ? str(e, "id") : "");
				cJSON_AddStringToObject(ev, "action", allow ? "allow" : "block");
				cJSON_AddStringToObject(ev, "hash", str(e, "hash") ? str(e, "hash") : "");
				cJSON_AddStringToObject(ev, "reason", "policy_forbids");
				journal_event(ctx, "usb.exception_ended", SEV_NOTICE, ev);
			}
		}
		cJSON_DeleteItemFromArray(arr, i);
		changed = true;
	}
	if (changed && save(state_dir, doc) < 0)
		log_error("cannot store the local USB exceptions");
	send_set(doc, peer);
}
