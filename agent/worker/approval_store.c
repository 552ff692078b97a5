/* agent/worker/approval_store.c — approval data in force (mamori-worker; issue
 * 16, OPS-3, OPS-4, MEDIA-1). See approval_store.h.
 *
 * An approval of a device becomes an allow element of the set of local
 * exceptions the gate holds (id "approval-<server id>"): the gate decides
 * with its own matcher (modules/usb/usb.c apply_local), decides present
 * devices again when the set changes — a blocked device still plugged in is
 * authorized without replugging — and ends it at not_after by its clock
 * (usb.exception_ended, reason expired). Whether that clock was
 * synchronised is in every journal record (`synced`, LOG-2), and in
 * approval.applied's `clock_synchronised`. The approval's access is the
 * element's action: "ro" → allow_ro (only the storage interfaces, held
 * read-only; a device without storage stays blocked: nothing else can be
 * held read-only), "rw" → allow_rw (the medium under the policy's media
 * rules, as a device the policy allows; on a mynumber terminal
 * write_requires_approval still holds it read-only without a carry-out).
 *
 * A carry-out (CARRY-2, MEDIA-2) goes to the carry module instead, as an
 * element of the shape of the policy's carry.approvals (id
 * "request-<request id>", person, medium {vendor, product, serial},
 * not_before, not_after in RFC 3339 UTC) through ctx->approved_carry: the
 * module compiles it with the same parser and judges it with the same
 * matcher (modules/usb/usb_rules.c) as an approval held in the policy, and
 * names it in its carry.out and carry.write_gate records.
 * An approved exception of a requirement (issue 16.3) marks the failing
 * posture results of that requirement as excepted until its not_after by
 * the agent's clock (approval_store_apply_exceptions). */
#include <errno.h>
#include <limits.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timex.h>
#include <time.h>

#include "alloc-util.h"
#include "buf.h"
#include "approval_verify.h"
#include "command_verify.h"
#include "fileio.h"
#include "json-util.h"
#include "log.h"
#include "module.h"
#include "policy_reqs.h"
#include "result.h"
#include "rootpath.h"
#include "strutil.h"
#include "approval_store.h"

#define APPLIED_FILE "approvals.applied" /* one server id per line: journaled already */

static struct approval_doc *in_force; /* NULL: none */

static bool clock_synced(void)
{
	struct timex tx = {.modes = 0}; /* only read, never set */
	int st = adjtimex(&tx);

	return st >= 0 && st != TIME_ERROR && !(tx.status & STA_UNSYNC);
}

static bool applied_before(const char *list, const char *id)
{
	size_t n = strlen(id);

	for (const char *p = list; p && *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);

		if (len == n && memcmp(p, id, n) == 0)
			return true;
		p = nl ? nl + 1 : NULL;
	}
	return false;
}

/* An approval in force that the new data (NULL: none) no longer holds,
 * before its not_after: withdrawn on the server (POST
 * /admin/v1/requests/{id}/revoke) or no longer there. Recorded once, when
 * the data without it is installed; the gate and the carry module stop
 * honouring it with the same reload. One that has ended by the clock is
 * not recorded again (usb.exception_ended, carry.write_gate say so). */
static void record_withdrawn(struct mamori_ctx *ctx, const struct approval_doc *old, const struct approval_doc *new)
{
	time_t now = time(NULL);

	for (size_t i = 0; old && i < old->n; i++) {
		const struct approval *a = &old->a[i];
		_cleanup_json_ cJSON *ev = NULL;
		bool kept = false;

		for (size_t k = 0; new &&k < new->n && !kept; k++)
			kept = strcmp(new->a[k].id, a->id) == 0;
		if (kept || a->not_after <= (int64_t)now)
			continue;
		if (!(ev = cJSON_CreateObject()))
			return;
		cJSON_AddStringToObject(ev, "id", a->id);
		cJSON_AddStringToObject(ev, "request_id", a->request_id);
		cJSON_AddStringToObject(ev, "kind",
		                        a->kind == APPROVAL_DEVICE      ? "device"
		                        : a->kind == APPROVAL_EXCEPTION ? "exception"
		                                                        : "carry-out");
		cJSON_AddNumberToObject(ev, "not_after", (double)a->not_after);
		if (new)
			cJSON_AddNumberToObject(ev, "version", (double)new->version);
		else
			cJSON_AddNullToObject(ev, "version");
		cJSON_AddBoolToObject(ev, "clock_synchronised", clock_synced());
		if (mamori_emit(ctx, "approval.withdrawn", SEV_NOTICE, "OPS-3,OPS-4,MEDIA-1", ev) < 0)
			log_error("cannot journal approval.withdrawn %s", a->id);
	}
}

bool approval_store_reload(struct mamori_ctx *ctx, const char *state_dir, const char *policy_key)
{
	_cleanup_free_ struct approval_doc *d = calloc(1, sizeof(*d));
	_cleanup_free_ char *applied = NULL;
	char state[PATH_MAX], pub[PATH_MAX], tid[TERMINAL_ID_MAX], why[256], ap[PATH_MAX + 32];
	size_t alen = 0;
	struct buf add = {0};
	bool changed;
	int r;

	if (!d || root_path(state, sizeof(state), state_dir) < 0 || root_path(pub, sizeof(pub), policy_key) < 0)
		return false;
	if (command_terminal_id(state, tid) < 0)
		return false; /* not enrolled: no approval data */
	r = approval_load(state, pub, tid, d, why, sizeof(why));
	if (r == -ENOENT) {
		record_withdrawn(ctx, in_force, NULL);
		changed = in_force != NULL;
		free(in_force);
		in_force = NULL;
		return changed;
	}
	if (r < 0) {
		_cleanup_json_ cJSON *ev = cJSON_CreateObject();

		log_error("%s: none applies", why);
		if (ev && cJSON_AddStringToObject(ev, "reason", why) &&
		    mamori_emit(ctx, "approval.refused", SEV_ERROR, "OPS-3,OPS-4", ev) < 0)
			log_error("cannot journal approval.refused");
		changed = in_force != NULL;
		free(in_force);
		in_force = NULL;
		return changed;
	}
	if (xsnprintf(ap, sizeof(ap), "%s/%s", state, APPLIED_FILE) < 0)
		return false;
	(void)read_file_capped(ap, 1024 * 1024, &applied, &alen);
	for (size_t i = 0; i < d->n; i++) {
		const struct approval *a = &d->a[i];
		_cleanup_json_ cJSON *ev = NULL;

		if (applied_before(applied, a->id))
			continue;
		ev = cJSON_CreateObject();
		if (!ev)
			break;
		if (a->kind == APPROVAL_EXCEPTION && !policy_requirement_known(a->requirement)) {
			/* fail closed: an exception of a requirement this agent does
			 * not know covers nothing, and says so once */
			cJSON_AddStringToObject(ev, "reason", "unknown_requirement");
			cJSON_AddStringToObject(ev, "id", a->id);
			cJSON_AddStringToObject(ev, "request_id", a->request_id);
			cJSON_AddStringToObject(ev, "requirement", a->requirement);
			if (mamori_emit(ctx, "approval.refused", SEV_ERROR, "OPS-3,OPS-4", ev) < 0)
				continue;
			if (buf_printf(&add, 1024 * 1024, "%s\n", a->id) < 0)
				break;
			continue;
		}
		cJSON_AddStringToObject(ev, "id", a->id);
		cJSON_AddStringToObject(ev, "request_id", a->request_id);
		if (a->kind == APPROVAL_DEVICE) {
			cJSON_AddStringToObject(ev, "kind", "device");
			cJSON_AddStringToObject(ev, "hash", a->hash);
		} else if (a->kind == APPROVAL_EXCEPTION) {
			cJSON_AddStringToObject(ev, "kind", "exception");
			cJSON_AddStringToObject(ev, "requirement", a->requirement);
		} else {
			cJSON *m = cJSON_AddObjectToObject(ev, "medium");
			char v[8];

			cJSON_AddStringToObject(ev, "kind", "carry-out");
			snprintf(v, sizeof(v), "%04x", a->vendor);
			cJSON_AddStringToObject(m, "vendor", v);
			snprintf(v, sizeof(v), "%04x", a->product);
			cJSON_AddStringToObject(m, "product", v);
			cJSON_AddStringToObject(m, "serial", a->serial);
			cJSON_AddNumberToObject(ev, "not_before", (double)a->not_before);
		}
		if (a->person[0])
			cJSON_AddStringToObject(ev, "person", a->person);
		else
			cJSON_AddNullToObject(ev, "person");
		if (a->kind != APPROVAL_EXCEPTION) /* a device's, a carry-out's (always rw) */
			cJSON_AddStringToObject(ev, "access", a->access == APPROVAL_RO ? "ro" : "rw");
		cJSON_AddNumberToObject(ev, "not_after", (double)a->not_after);
		cJSON_AddStringToObject(ev, "approved_by", a->approved_by);
		cJSON_AddNumberToObject(ev, "version", (double)d->version);
		cJSON_AddBoolToObject(ev, "expired", a->not_after <= (int64_t)time(NULL));
		cJSON_AddBoolToObject(ev, "clock_synchronised", clock_synced());
		/* journaled before it is applied: the gate acts on a durable record */
		if (mamori_emit(ctx, "approval.applied", SEV_NOTICE, "OPS-3,OPS-4,MEDIA-1", ev) < 0) {
			log_error("cannot journal approval.applied %s: not applied", a->id);
			continue;
		}
		if (buf_printf(&add, 1024 * 1024, "%s\n", a->id) < 0)
			break;
	}
	if (add.len) {
		struct buf all = {0};

		if (buf_put(&all, applied, alen, BUF_NO_MAX) == 0 &&
		    buf_put(&all, add.data, add.len, BUF_NO_MAX) == 0 &&
		    write_file_atomic(ap, all.data, all.len, 0600) < 0)
			log_warning("cannot record the approvals journaled (%s)", ap);
		buf_free(&all);
	}
	buf_free(&add);
	changed = !in_force || in_force->version != d->version;
	if (changed)
		record_withdrawn(ctx, in_force, d);
	free(in_force);
	in_force = TAKE_PTR(d);
	return changed;
}

void approval_store_exceptions(cJSON *arr, size_t max)
{
	time_t now = time(NULL);
	size_t n = 0;

	for (size_t i = 0; in_force && i < in_force->n && n < max; i++) {
		const struct approval *a = &in_force->a[i];
		cJSON *e;
		char id[64];

		if (a->kind != APPROVAL_DEVICE || a->not_after <= (int64_t)now ||
		    xsnprintf(id, sizeof(id), "approval-%s", a->id) < 0)
			continue; /* not a device's, or ended by the agent's clock */
		e = cJSON_CreateObject();
		if (!e)
			return;
		cJSON_AddStringToObject(e, "id", id);
		/* the approval's access, enforced by the gate (usb_local.h) */
		cJSON_AddStringToObject(e, "action", a->access == APPROVAL_RO ? "allow_ro" : "allow_rw");
		cJSON_AddStringToObject(e, "hash", a->hash);
		cJSON_AddNumberToObject(e, "not_after", (double)a->not_after);
		cJSON_AddNumberToObject(e, "policy_version", 0);
		cJSON_AddItemToArray(arr, e);
		n++;
	}
}

static int rfc3339(int64_t t, char buf[32])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return -EINVAL;
	return 0;
}

cJSON *approval_store_carry(void)
{
	cJSON *arr = cJSON_CreateArray();

	for (size_t i = 0; arr && in_force && i < in_force->n; i++) {
		const struct approval *a = &in_force->a[i];
		char id[48], nb[32], na[32], v[8];
		cJSON *e, *m;

		/* ended ones stay: the module reports approval_expired for them */
		if (a->kind != APPROVAL_CARRY_OUT || xsnprintf(id, sizeof(id), "request-%s", a->request_id) < 0 ||
		    rfc3339(a->not_before, nb) < 0 || rfc3339(a->not_after, na) < 0)
			continue;
		e = cJSON_CreateObject();
		if (!e || !cJSON_AddItemToArray(arr, e)) {
			cJSON_Delete(e);
			break;
		}
		cJSON_AddStringToObject(e, "id", id);
		cJSON_AddStringToObject(e, "person", a->person);
		m = cJSON_AddObjectToObject(e, "medium");
		snprintf(v, sizeof(v), "%04x", a->vendor);
		cJSON_AddStringToObject(m, "vendor", v);
		snprintf(v, sizeof(v), "%04x", a->product);
		cJSON_AddStringToObject(m, "product", v);
		cJSON_AddStringToObject(m, "serial", a->serial);
		cJSON_AddStringToObject(e, "not_before", nb);
		cJSON_AddStringToObject(e, "not_after", na);
	}
	return arr;
}

void approval_store_apply_exceptions(struct check_report *rep)
{
	time_t now = time(NULL);
	bool synced = clock_synced();

	for (size_t i = 0; in_force && i < in_force->n; i++) {
		const struct approval *a = &in_force->a[i];
		char id[48], until[64];
		struct tm tm;
		time_t na = (time_t)a->not_after;

		if (a->kind != APPROVAL_EXCEPTION || a->not_after <= (int64_t)now ||
		    !policy_requirement_known(a->requirement))
			continue; /* ended by the agent's clock, offline too (LOG-2) */
		if (xsnprintf(id, sizeof(id), "request-%s", a->request_id) < 0)
			continue;
		/* Japan time with its zone, as people read it */
		na += 9 * 3600;
		if (!gmtime_r(&na, &tm) || strftime(until, sizeof(until), "%Y-%m-%dT%H:%M:%S+09:00", &tm) == 0)
			continue;
		for (size_t j = 0; j < rep->n; j++) {
			struct check_result *res = rep->results[j];
			bool covers = false;

			if (res->exception || (res->status != CHECK_FAIL && res->status != CHECK_ERROR))
				continue;
			for (size_t k = 0; k < res->n_reqs && !covers; k++)
				covers = strcmp(res->reqs[k], a->requirement) == 0;
			if (!covers || check_result_set_exception(res, id) < 0)
				continue;
			(void)check_result_evidence(res, "exception_until", "%s", until);
			(void)check_result_evidence(res, "exception_clock_synchronised", "%s",
			                            synced ? "true" : "false");
		}
	}
}
