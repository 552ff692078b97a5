/* agent/worker/daemon_command.c — mamori-worker executes the remote commands
 * that the root part of `mamorictl server sync` verified and put in the inbox
 * (agent/net/command_verify.h, docs/COMMANDS.md): it verifies each again,
 * records it in the replay store and journals `command.received` before
 * anything runs, executes it once, journals `command.executed` or
 * `command.failed`, leaves the result for the next check-in and marks the id
 * done. An id accepted before is never run again once done; one the agent
 * died on before its result is run then (`command.resumed`). Refusals the
 * root part wrote are journaled as `tamper.detected` (what: command) and
 * reported. The terminal lock (`lock`, `unlock`, the dead-man rule) is
 * agent/worker/lock.c. MDM-1, MDM-2, MDM-3, OPS-4, OPS-5. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc-util.h"
#include "command_verify.h"
#include "daemon_command.h"
#include "fileio.h"
#include "json-util.h"
#include "log.h"
#include "module.h"
#include "config.h"
#include "rootpath.h"
#include "strutil.h"
#include "isolate.h"
#include "journal.h"
#include "exception_store.h"
#include "lock.h"
#include "wipe.h"

#define INBOX_MAX 64

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void journal_refusal(struct mamori_ctx *ctx, const char *state_dir, const char *path)
{
	_cleanup_free_ char *buf = NULL;
	_cleanup_json_ cJSON *j = NULL, *p = cJSON_CreateObject();
	const cJSON *id, *reason, *detail, *sha;
	size_t len;

	if (read_file_capped(path, 16 * 1024, &buf, &len) < 0 || !(j = cJSON_ParseWithLength(buf, len))) {
		(void)unlink(path);
		return;
	}
	id = cJSON_GetObjectItemCaseSensitive(j, "command_id");
	reason = cJSON_GetObjectItemCaseSensitive(j, "reason");
	detail = cJSON_GetObjectItemCaseSensitive(j, "detail");
	sha = cJSON_GetObjectItemCaseSensitive(j, "sha256");
	if (!p || !cJSON_AddStringToObject(p, "what", "command") ||
	    !cJSON_AddStringToObject(p, "reason", cJSON_IsString(reason) ? reason->valuestring : "invalid") ||
	    !cJSON_AddStringToObject(p, "detail", cJSON_IsString(detail) ? detail->valuestring : "") ||
	    !cJSON_AddStringToObject(p, "command_id", cJSON_IsString(id) ? id->valuestring : "") ||
	    !cJSON_AddStringToObject(p, "sha256", cJSON_IsString(sha) ? sha->valuestring : ""))
		return;
	if (mamori_emit(ctx, "tamper.detected", SEV_CRITICAL, "MDM-1,OPS-4,OPS-5", p) < 0)
		return; /* stays in the inbox: journaled at the next pass */
	log_error("remote command refused (%s): %s", cJSON_IsString(reason) ? reason->valuestring : "invalid",
	          cJSON_IsString(detail) ? detail->valuestring : "");
	/* a replay's id was executed before: its result stands */
	if (cJSON_IsString(id) && id->valuestring[0] &&
	    !(cJSON_IsString(reason) && strcmp(reason->valuestring, "replayed") == 0))
		(void)command_result_write(state_dir, id->valuestring, "refused",
		                           cJSON_IsString(reason) ? reason->valuestring : "invalid");
	(void)unlink(path);
}

static cJSON *envelope_payload(const struct command_envelope *e)
{
	cJSON *p = cJSON_CreateObject(), *a;

	if (!p || !cJSON_AddStringToObject(p, "command_id", e->id) ||
	    !cJSON_AddStringToObject(p, "type", command_type_to_string(e->type)) ||
	    !cJSON_AddStringToObject(p, "requested_by", e->requested_by) ||
	    !(a = cJSON_AddArrayToObject(p, "approved_by")) ||
	    !cJSON_AddNumberToObject(p, "issued_at", (double)e->issued_at) ||
	    !cJSON_AddNumberToObject(p, "not_after", (double)e->not_after)) {
		cJSON_Delete(p);
		return NULL;
	}
	for (unsigned i = 0; i < e->n_approved; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(e->approved_by[i]));
	return p;
}

/* `wipe` (MDM-1): every configured LUKS volume loses every keyslot, then
 * every configured data path is removed; each step journaled. The
 * credentials go last, in wipe_finish(), after the journal and the result
 * were uploaded. */
static int wipe(struct mamori_ctx *ctx, const struct agent_config *cfg, char *detail, size_t detailsz)
{
	char list[2048], *save = NULL, *tok;
	size_t off = 0;
	unsigned volumes = 0, keyslots = 0, paths = 0, problems = 0;

	for (int pass = 0; pass < 2; pass++) {
		(void)strscpy(list, sizeof(list), pass == 0 ? cfg->wipe_volumes : cfg->wipe_paths);
		for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
			_cleanup_json_ cJSON *p = cJSON_CreateObject();
			char path[PATH_MAX], err[512] = "";
			unsigned a = 0, b = 0;
			int r;

			while (*tok == ' ' || *tok == '\t')
				tok++;
			for (char *e = tok + strlen(tok); e > tok && (e[-1] == ' ' || e[-1] == '\t'); e--)
				e[-1] = '\0';
			if (!*tok)
				continue;
			r = root_path(path, sizeof(path), tok);
			if (r == 0)
				r = pass == 0 ? wipe_volume(path, &a, err, sizeof(err))
				              : wipe_path(path, &a, &b, err, sizeof(err));
			if (r == -ENOENT && pass == 1)
				r = 0; /* already gone */
			if (r < 0 || b > 0)
				problems++;
			if (r == 0 && pass == 0) {
				volumes++;
				keyslots += a;
			} else if (r == 0) {
				paths++;
			}
			if (p && cJSON_AddStringToObject(p, "step", pass == 0 ? "volume" : "path") &&
			    cJSON_AddStringToObject(p, "path", tok) &&
			    cJSON_AddStringToObject(p, "result",
			                            r < 0   ? "failed"
			                            : b > 0 ? "partial"
			                                    : "done") &&
			    cJSON_AddNumberToObject(p, pass == 0 ? "keyslots_destroyed" : "removed", a) &&
			    (pass == 0 || cJSON_AddNumberToObject(p, "left", b)))
				cJSON_AddStringToObject(p, "detail", err);
			(void)mamori_emit(ctx, "command.wipe_step", r < 0 ? SEV_ERROR : SEV_NOTICE, "MDM-1", p);
			if (r < 0 || b > 0)
				off += (size_t)snprintf(detail + off, off < detailsz ? detailsz - off : 0, "%s; ", err);
		}
	}
	if (off < detailsz)
		snprintf(detail + off, detailsz - off,
		         "%u volume(s) crypto-erased (%u keyslots destroyed), %u data path(s) removed, %u problem(s)",
		         volumes, keyslots, paths, problems);
	return problems ? -EIO : 0;
}

/* After the result: upload (the server learns what happened while this
 * terminal can still authenticate), then destroy the credentials, then power
 * off unless wipe_power_off = no. */
static void wipe_finish(struct mamori_ctx *ctx, const struct agent_config *cfg, const struct daemon_command_ops *ops,
                        void *userdata, const char *state_dir)
{
	_cleanup_json_ cJSON *p = cJSON_CreateObject();
	int n;

	if (ops->sync_blocking)
		ops->sync_blocking(userdata);
	n = wipe_credentials(state_dir);
	if (p && cJSON_AddStringToObject(p, "step", "credentials") && cJSON_AddNumberToObject(p, "removed", n))
		(void)mamori_emit(ctx, "command.wipe_step", SEV_NOTICE, "MDM-1", p);
	log_notice("wipe: %d credential file(s) destroyed; this terminal can no longer reach the server", n);
	if (cfg->wipe_power_off) {
		pid_t pid = fork();

		log_notice("wipe: powering off");
		if (pid == 0) {
			execl("/bin/systemctl", "systemctl", "poweroff", (char *)NULL);
			_exit(127);
		}
	}
}

/* `collect` (OPS-5, OPS-6): the evidence bundle for the CSIRT, bounded,
 * journaled as one `command.evidence` record — uploaded with the check-in
 * like every record, inside the hash chain. Journal records are copied as
 * their canonical bytes with seq and hash (the chain can be re-checked from
 * them); earlier bundles (command.evidence) are not copied again. */
#define EVIDENCE_JOURNAL_MAX (192 * 1024) /* bytes of records since since_seq, oldest first */
#define EVIDENCE_HISTORY_MAX (128 * 1024) /* bytes of usb.* and carry.* records, newest kept */
#define EVIDENCE_POSTURE_MAX (64 * 1024)  /* the last posture report */

static cJSON *record_json(const struct journal_record *rec)
{
	cJSON *o = cJSON_CreateObject();

	if (!o || !cJSON_AddNumberToObject(o, "seq", (double)rec->seq) ||
	    !cJSON_AddStringToObject(o, "hash", rec->hash_hex) || !cJSON_AddStringToObject(o, "record", rec->canon)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

static int collect(struct mamori_ctx *ctx, const char *state_dir, const struct command_envelope *e, char *detail,
                   size_t detailsz)
{
	_cleanup_json_ cJSON *p = cJSON_CreateObject();
	cJSON *jarr, *harr;
	struct journal_iter *it = NULL;
	struct journal_record rec;
	int64_t since = 0;
	uint64_t next_seq = 0, last_seq = 0;
	size_t jbytes = 0, hbytes = 0, hdropped = 0, nj = 0, nh = 0;
	char path[PATH_MAX];
	int r;

	(void)command_param_get(e, "since_seq", &since);
	if (!p || !cJSON_AddStringToObject(p, "command_id", e->id) ||
	    !cJSON_AddNumberToObject(p, "since_seq", (double)since) || !(jarr = cJSON_AddArrayToObject(p, "journal")) ||
	    !(harr = cJSON_AddArrayToObject(p, "usb_carry")))
		return -ENOMEM;
	/* the journal since since_seq, oldest first, until the bound */
	r = journal_iter_open(state_dir, (uint64_t)since, &it);
	while (r >= 0 && (r = journal_iter_next(it, &rec)) == 1) {
		cJSON *o;

		last_seq = rec.seq;
		if (strcmp(rec.type, "command.evidence") == 0)
			continue;
		if (jbytes + rec.canon_len > EVIDENCE_JOURNAL_MAX) {
			next_seq = rec.seq; /* the CSIRT continues with since_seq = next_seq - 1 */
			break;
		}
		if (!(o = record_json(&rec))) {
			r = -ENOMEM;
			break;
		}
		cJSON_AddItemToArray(jarr, o);
		jbytes += rec.canon_len;
		nj++;
	}
	journal_iter_free(it);
	it = NULL;
	if (r < 0) {
		snprintf(detail, detailsz, "the journal cannot be read: %s", strerror(-r));
		return r;
	}
	/* USB and carry history, the whole journal, newest kept */
	r = journal_iter_open(state_dir, 0, &it);
	while (r >= 0 && (r = journal_iter_next(it, &rec)) == 1) {
		cJSON *o;

		if (!startswith(rec.type, "usb.") && !startswith(rec.type, "carry."))
			continue;
		if (!(o = record_json(&rec))) {
			r = -ENOMEM;
			break;
		}
		cJSON_AddItemToArray(harr, o);
		hbytes += rec.canon_len;
		nh++;
		while (hbytes > EVIDENCE_HISTORY_MAX && cJSON_GetArraySize(harr) > 0) {
			cJSON *first = cJSON_DetachItemFromArray(harr, 0);
			cJSON *rc = cJSON_GetObjectItemCaseSensitive(first, "record");

			hbytes -= cJSON_IsString(rc) ? strlen(rc->valuestring) : 0;
			cJSON_Delete(first);
			hdropped++;
			nh--;
		}
	}
	journal_iter_free(it);
	if (r < 0) {
		snprintf(detail, detailsz, "the journal cannot be read: %s", strerror(-r));
		return r;
	}
	/* the last posture report (the one the last check-in carried) */
	if (xsnprintf(path, sizeof(path), "%s/report.json", state_dir) == 0) {
		_cleanup_free_ char *buf = NULL;
		size_t len = 0;
		cJSON *rep = NULL;

		r = read_file_capped(path, EVIDENCE_POSTURE_MAX, &buf, &len);
		if (r == 0 && !(rep = cJSON_ParseWithLength(buf, len)))
			r = -EBADMSG;
		if (r == 0)
			cJSON_AddItemToObject(p, "posture", rep);
		else {
			cJSON_AddNullToObject(p, "posture");
			cJSON_AddStringToObject(p, "posture_error", strerror(-r));
		}
	}
	if (!cJSON_AddNumberToObject(p, "journal_records", (double)nj) ||
	    !cJSON_AddBoolToObject(p, "journal_complete", next_seq == 0) ||
	    !cJSON_AddNumberToObject(p, "journal_next_seq", (double)next_seq) ||
	    !cJSON_AddNumberToObject(p, "journal_head_seq", (double)last_seq) ||
	    !cJSON_AddNumberToObject(p, "usb_carry_records", (double)nh) ||
	    !cJSON_AddNumberToObject(p, "usb_carry_dropped", (double)hdropped))
		return -ENOMEM;
	r = mamori_emit(ctx, "command.evidence", SEV_NOTICE, "OPS-5,OPS-6", p);
	if (r < 0) {
		snprintf(detail, detailsz, "the evidence bundle could not be journaled: %s", strerror(-r));
		return r;
	}
	snprintf(detail, detailsz,
	         "evidence bundle journaled as command.evidence: %zu journal record(s) after seq %lld%s, %zu usb/carry "
	         "record(s)%s, posture report %s",
	         nj, (long long)since, next_seq ? " (bound reached: continue after the last one)" : "", nh,
	         hdropped ? " (older ones left out: bound)" : "",
	         cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(p, "posture")) ? "missing" : "included");
	return 0;
}

/* `retire` (MDM-3), first part: the terminal is marked retired (durably,
 * before anything else) and mamorid blocks every USB device from now on,
 * also after a restart. The rest — the journal uploaded, the result
 * reported (the server then revokes the certificate and marks the terminal
 * retired), the credentials destroyed — is retire_finish(). */
static int retire(const struct daemon_command_ops *ops, void *userdata, const char *state_dir,
                  const struct command_envelope *e, char *detail, size_t detailsz)
{
	char path[PATH_MAX], txt[128];
	int r;

	if (xsnprintf(path, sizeof(path), "%s/%s", state_dir, COMMAND_RETIRED_FILE) < 0 ||
	    xsnprintf(txt, sizeof(txt), "%s %lld\n", e->id, (long long)time(NULL)) < 0)
		return -ENAMETOOLONG;
	r = write_file_atomic(path, txt, strlen(txt), 0600);
	if (r < 0) {
		snprintf(detail, detailsz, "cannot mark the terminal retired (state_dir/%s): %s", COMMAND_RETIRED_FILE,
		         strerror(-r));
		return r;
	}
	if (ops->usb_close)
		ops->usb_close(userdata);
	snprintf(detail, detailsz,
	         "retired: the USB gate blocks every device from now on (also after a restart); the journal is "
	         "uploaded, then the credentials are destroyed");
	return 0;
}

/* The journal (command.executed included) reaches the server before the
 * result: the server revokes the certificate when it reads the result, so
 * nothing could be uploaded after it. Then the credentials go. */
static void retire_finish(struct mamori_ctx *ctx, const struct daemon_command_ops *ops, void *userdata,
                          const char *state_dir, const struct command_envelope *e, const char *detail)
{
	_cleanup_json_ cJSON *p = cJSON_CreateObject();
	int n;

	if (ops->sync_blocking)
		ops->sync_blocking(userdata);
	(void)command_result_write(state_dir, e->id, "executed", detail);
	(void)command_seen_done(state_dir, e->id, e->not_after);
	if (ops->sync_blocking)
		ops->sync_blocking(userdata);
	n = wipe_credentials(state_dir);
	if (p && cJSON_AddStringToObject(p, "command_id", e->id) &&
	    cJSON_AddNumberToObject(p, "credentials_removed", n))
		(void)mamori_emit(ctx, "command.retired", SEV_NOTICE, "MDM-3", p);
	log_notice("retire: %d credential file(s) destroyed; this terminal no longer reaches the server", n);
}

/* The policy's terminal_lock.maintenance_account ("" when none). */
static void maintenance_account(struct mamori_ctx *ctx, char *buf, size_t bufsz)
{
	const cJSON *v =
	        cJSON_GetObjectItemCaseSensitive(mamori_policy_section(ctx, "terminal_lock"), "maintenance_account");

	buf[0] = '\0';
	if (cJSON_IsString(v) && strscpy(buf, bufsz, v->valuestring) < 0)
		buf[0] = '\0';
}

/* `lock` and the dead-man rule (MDM-1): lock.c does it, terminal.locked
 * (critical: uploaded at once, the incident of a lost terminal) says so. */
static int lock_now(struct mamori_ctx *ctx, const char *state_dir, struct lock_info *li, char *detail, size_t detailsz)
{
	_cleanup_json_ cJSON *p = cJSON_CreateObject();
	int r = lock_apply(state_dir, li, detail, detailsz);

	if (p && cJSON_AddStringToObject(p, "reason", li->reason) && cJSON_AddStringToObject(p, "by", li->by) &&
	    cJSON_AddStringToObject(p, "maintenance_account", li->maint) &&
	    cJSON_AddNumberToObject(p, "since", (double)li->since) &&
	    cJSON_AddStringToObject(p, "result", r < 0 ? "failed" : "done") &&
	    cJSON_AddStringToObject(p, "detail", detail))
		(void)mamori_emit(ctx, "terminal.locked", SEV_CRITICAL, "MDM-1", p);
	if (r < 0)
		log_error("terminal lock: %s", detail);
	else
		log_notice("terminal lock: %s", detail);
	return r;
}

static int unlock_now(struct mamori_ctx *ctx, const char *state_dir, const char *by, char *detail, size_t detailsz)
{
	_cleanup_json_ cJSON *p = cJSON_CreateObject();
	int r;

	if (!lock_active(state_dir)) {
		/* still run: a notice left by a crash between the two unlinks goes */
		r = lock_release(state_dir, detail, detailsz);
		if (r == 0)
			snprintf(detail, detailsz, "the terminal was not locked; logins are possible");
		return r;
	}
	r = lock_release(state_dir, detail, detailsz);
	if (p && cJSON_AddStringToObject(p, "by", by) &&
	    cJSON_AddStringToObject(p, "result", r < 0 ? "failed" : "done") &&
	    cJSON_AddStringToObject(p, "detail", detail))
		(void)mamori_emit(ctx, "terminal.unlocked", r < 0 ? SEV_ERROR : SEV_NOTICE, "MDM-1", p);
	log_notice("terminal unlock (%s): %s", by, detail);
	return r;
}

/* Execute one verified command. 0 executed (detail says what), negative
 * failed (detail says why). */
static int execute(struct mamori_ctx *ctx, const struct agent_config *cfg, const struct daemon_command_ops *ops,
                   void *userdata, const char *state_dir, const struct command_envelope *e, char *detail,
                   size_t detailsz)
{
	switch (e->type) {
	case CMD_ISOLATE:
	case CMD_RELEASE: {
		char url[512];
		int r;

		if (e->type == CMD_RELEASE)
			return isolate_release(state_dir, detail, detailsz);
		r = command_enroll_field(state_dir, "device_url", url, sizeof(url));
		if (r < 0) {
			snprintf(detail, detailsz, "no device URL in enroll.json: %s", strerror(-r));
			return r;
		}
		return isolate_apply(state_dir, url, cfg->isolate_dhcp_dns, e->id, detail, detailsz);
	}
	case CMD_WIPE:
		return wipe(ctx, cfg, detail, detailsz);
	case CMD_RETIRE:
		return retire(ops, userdata, state_dir, e, detail, detailsz);
	case CMD_SCAN:
		if (!ops->scan_now) {
			snprintf(detail, detailsz, "no scan in this process");
			return -EOPNOTSUPP;
		}
		return ops->scan_now(userdata, e->id, detail, detailsz);
	case CMD_COLLECT:
		return collect(ctx, state_dir, e, detail, detailsz);
	case CMD_LOCK: {
		struct lock_info li = {.reason = "command"};

		(void)strscpy(li.by, sizeof(li.by), e->id);
		maintenance_account(ctx, li.maint, sizeof(li.maint));
		return lock_now(ctx, state_dir, &li, detail, detailsz);
	}
	case CMD_UNLOCK:
		return unlock_now(ctx, state_dir, e->id, detail, detailsz);
	case CMD_SYNC:
		if (ops->sync_now)
			ops->sync_now(userdata);
		snprintf(detail, detailsz, "check-in and policy download started");
		return 0;
	default:
		snprintf(detail, detailsz, "command %s is not implemented by this agent",
		         command_type_to_string(e->type));
		return -EOPNOTSUPP;
	}
}

/* An id this terminal accepted before and finished (issue 14 point 2,
 * MDM-1): it never runs again. Its result not yet reported: the server
 * re-delivered it because the answer that carried it was lost (a network
 * child killed with the agent, a connection gone); journaled as
 * command.redelivered, the result goes with the next check-in. Its result
 * reported already: a replay (or a server that lost what it was told),
 * journaled as tamper.detected reason replayed, and the first result is
 * reported again — it stands. */
static void answer_finished(struct mamori_ctx *ctx, const char *state_dir, const struct command_envelope *e,
                            const char *path)
{
	_cleanup_json_ cJSON *p = cJSON_CreateObject();
	char res[PATH_MAX];
	bool unreported = xsnprintf(res, sizeof(res), "%s/%s/results/%s.json", state_dir, COMMAND_DIR, e->id) == 0 &&
	                  access(res, F_OK) == 0;
	int r;

	if (unreported) {
		if (!p || !cJSON_AddStringToObject(p, "command_id", e->id) ||
		    !cJSON_AddStringToObject(p, "type", command_type_to_string(e->type)) ||
		    mamori_emit(ctx, "command.redelivered", SEV_NOTICE, command_types[e->type].reqs, p) < 0)
			return; /* stays in the inbox: journaled at the next pass */
		log_notice("remote command %s delivered again: executed before, its result goes with the next check-in",
		           e->id);
	} else {
		r = command_result_rereport(state_dir, e->id);
		if (!p || !cJSON_AddStringToObject(p, "what", "command") ||
		    !cJSON_AddStringToObject(p, "reason", "replayed") ||
		    !cJSON_AddStringToObject(
		            p, "detail",
		            r == 0 ? "executed and reported before: not run again, its result reported "
		                     "again"
		                   : "executed and reported before: not run again") ||
		    !cJSON_AddStringToObject(p, "command_id", e->id) || !cJSON_AddStringToObject(p, "sha256", "") ||
		    mamori_emit(ctx, "tamper.detected", SEV_CRITICAL, "MDM-1,OPS-4,OPS-5", p) < 0)
			return;
		log_error("remote command refused (replayed): %s was executed and reported before", e->id);
	}
	(void)unlink(path);
}

/* The policy's commands.accept (MDM-1, MDM-2; policy/policy_schema.c): with
 * a `commands` object, only the types it lists run. Without one (no policy
 * yet, or a policy that does not restrict them) every verified command
 * runs: the signature, the terminal, the window and OPS-4 still hold. */
static bool accepted_by_policy(const struct mamori_ctx *ctx, enum command_type t)
{
	const cJSON *sec = mamori_policy_section(ctx, "commands"), *acc, *it;

	if (!sec)
		return true;
	acc = cJSON_GetObjectItemCaseSensitive(sec, "accept");
	cJSON_ArrayForEach(it, acc) if (cJSON_IsString(it) &&
	                                strcmp(it->valuestring, command_type_to_string(t)) == 0) return true;
	return false; /* the schema requires accept: a missing list accepts nothing */
}

static void run_one(struct mamori_ctx *ctx, const struct agent_config *cfg, const struct daemon_command_ops *ops,
                    void *userdata, const struct command_verify_ctx *vc, const char *path)
{
	_cleanup_free_ char *buf = NULL;
	_cleanup_json_ cJSON *p = NULL;
	struct command_envelope e = {0};
	char id[COMMAND_ID_LEN + 1], why[512] = "", detail[COMMAND_RESULT_MAX] = "";
	bool resumed = false;
	char *nl;
	size_t len;
	int r;

	if (read_file_capped(path, COMMAND_CANON_MAX + COMMAND_SIG_MAX + 2, &buf, &len) < 0 ||
	    !(nl = memchr(buf, '\n', len))) {
		(void)unlink(path);
		return;
	}
	*nl = '\0';
	/* again, here: the inbox is only a hand-over, the worker decides */
	r = command_verify(vc, buf, (size_t)(nl - buf), nl + 1, &e, id, why, sizeof(why));
	if (r == COMMAND_E_REPLAY && e.id[0]) {
		/* accepted before: finished (never again), or the agent died
		 * between command.received and its result — run it now, once */
		int f = command_finished(vc->state_dir, e.id);

		if (f < 0) {
			log_error_errno(f, "remote command %s: cannot read the replay store; not executed", e.id);
			return; /* stays in the inbox */
		}
		if (f == 1)
			return answer_finished(ctx, vc->state_dir, &e, path);
		resumed = true;
		r = 0;
	}
	if (r < 0) {
		_cleanup_json_ cJSON *t = cJSON_CreateObject();

		if (t && cJSON_AddStringToObject(t, "what", "command") &&
		    cJSON_AddStringToObject(t, "reason", command_refusal_reason(r)) &&
		    cJSON_AddStringToObject(t, "detail", why) && cJSON_AddStringToObject(t, "command_id", id) &&
		    cJSON_AddStringToObject(t, "sha256", "") &&
		    mamori_emit(ctx, "tamper.detected", SEV_CRITICAL, "MDM-1,OPS-4,OPS-5", t) < 0)
			return;
		log_error("remote command refused (%s): %s", command_refusal_reason(r), why);
		if (id[0] && r != COMMAND_E_REPLAY)
			(void)command_result_write(vc->state_dir, id, "refused", command_refusal_reason(r));
		(void)unlink(path);
		return;
	}
	/* received: in the replay store before anything else, also when the
	 * policy refuses it — a refusal is this id's one result, as final as a
	 * run: the same envelope arriving again after the policy changed (a
	 * re-delivery, a replay within its window) is answered from the store,
	 * never run (MDM-1, OPS-5) */
	r = resumed ? 0 : command_seen_add(vc->state_dir, e.id, e.not_after);
	if (r < 0) {
		log_error_errno(r, "remote command %s: cannot record it in the replay store; not executed", e.id);
		return; /* stays in the inbox */
	}
	if (!accepted_by_policy(ctx, e.type)) {
		_cleanup_json_ cJSON *t = cJSON_CreateObject();

		if (!t || !cJSON_AddStringToObject(t, "command_id", e.id) ||
		    !cJSON_AddStringToObject(t, "type", command_type_to_string(e.type)) ||
		    !cJSON_AddStringToObject(t, "reason", "policy") ||
		    !cJSON_AddStringToObject(t, "detail", "the policy's commands.accept does not list this type") ||
		    mamori_emit(ctx, "command.refused", SEV_WARNING, "MDM-1,MDM-2", t) < 0)
			return; /* stays in the inbox: journaled at the next pass */
		log_warning("remote command %s (%s) refused: not in the policy's commands.accept", e.id,
		            command_type_to_string(e.type));
		(void)command_result_write(vc->state_dir, e.id, "refused",
		                           "not in the policy's commands.accept (MDM-1, MDM-2)");
		(void)command_seen_done(vc->state_dir, e.id, e.not_after);
		(void)unlink(path);
		return;
	}
	p = envelope_payload(&e);
	if (!p || mamori_emit(ctx, resumed ? "command.resumed" : "command.received", SEV_NOTICE,
	                      command_types[e.type].reqs, p) < 0)
		log_error("remote command %s: %s could not be journaled", e.id,
		          resumed ? "command.resumed" : "command.received");
	(void)unlink(path);
	log_notice("remote command %s (%s) requested by %s: %s", e.id, command_type_to_string(e.type), e.requested_by,
	           resumed ? "accepted before and never finished (the agent stopped): executing now" : "executing");
	r = execute(ctx, cfg, ops, userdata, vc->state_dir, &e, detail, sizeof(detail));
	cJSON_DeleteItemFromObjectCaseSensitive(p, "approved_by");
	cJSON_DeleteItemFromObjectCaseSensitive(p, "requested_by");
	cJSON_DeleteItemFromObjectCaseSensitive(p, "issued_at");
	cJSON_DeleteItemFromObjectCaseSensitive(p, "not_after");
	if (p)
		cJSON_AddStringToObject(p, "detail", detail);
	(void)mamori_emit(ctx, r == 0 ? "command.executed" : "command.failed", r == 0 ? SEV_NOTICE : SEV_ERROR,
	                  command_types[e.type].reqs, p);
	if (e.type == CMD_RETIRE && r == 0) {
		retire_finish(ctx, ops, userdata, vc->state_dir, &e, detail);
		return;
	}
	(void)command_result_write(vc->state_dir, e.id, r == 0 ? "executed" : "failed", detail);
	/* finished: a re-delivery or a replay of this id never runs it again */
	(void)command_seen_done(vc->state_dir, e.id, e.not_after);
	if (e.type == CMD_WIPE)
		wipe_finish(ctx, cfg, ops, userdata, vc->state_dir);
}

int daemon_commands_process(struct mamori_ctx *ctx, const struct agent_config *cfg, const char *state_dir,
                            const struct daemon_command_ops *ops, void *userdata)
{
	char inbox[PATH_MAX], tid[TERMINAL_ID_MAX];
	char *names[INBOX_MAX];
	size_t n = 0;
	struct dirent *de;
	DIR *dir;
	int r;

	if (xsnprintf(inbox, sizeof(inbox), "%s/%s/inbox", state_dir, COMMAND_DIR) < 0)
		return -ENAMETOOLONG;
	dir = opendir(inbox);
	if (!dir)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(dir)) && n < INBOX_MAX) {
		if (de->d_name[0] == '.' || (!strstr(de->d_name, ".cmd") && !strstr(de->d_name, ".json")) ||
		    strstr(de->d_name, ".tmp"))
			continue;
		if (!(names[n] = strdup(de->d_name)))
			break;
		n++;
	}
	closedir(dir);
	if (n == 0)
		return 0;
	qsort(names, n, sizeof(names[0]), name_cmp);
	r = command_terminal_id(state_dir, tid);
	for (size_t i = 0; i < n; i++) {
		char path[PATH_MAX];

		if (xsnprintf(path, sizeof(path), "%s/%s", inbox, names[i]) == 0) {
			if (startswith(names[i], "refused-"))
				journal_refusal(ctx, state_dir, path);
			else if (r == 0) {
				struct command_verify_ctx vc = {state_dir, tid, (int64_t)time(NULL)};

				run_one(ctx, cfg, ops, userdata, &vc, path);
			}
		}
		free(names[i]);
	}
	if (ops->report_now)
		ops->report_now(userdata);
	return (int)n;
}

/* Locked until an unlock: re-applied at every start (MDM-1), with the
 * maintenance account of the policy as it is now. */
static void lock_start(struct mamori_ctx *ctx, const char *state_dir)
{
	_cleanup_json_ cJSON *p = NULL;
	struct lock_info li;
	char detail[1024] = "", maint[sizeof(li.maint)];
	int r;

	if (!lock_active(state_dir))
		return;
	r = lock_read(state_dir, &li);
	if (r < 0) {
		/* a damaged record is still a lock: fail closed */
		li = (struct lock_info){.reason = "command", .by = "unreadable lock.json"};
	}
	maintenance_account(ctx, maint, sizeof(maint));
	if (ctx->policy)
		(void)strscpy(li.maint, sizeof(li.maint), maint);
	r = lock_apply(state_dir, &li, detail, sizeof(detail));
	p = cJSON_CreateObject();
	if (p && cJSON_AddStringToObject(p, "reason", li.reason) && cJSON_AddStringToObject(p, "by", li.by) &&
	    cJSON_AddStringToObject(p, "result", r < 0 ? "failed" : "done") &&
	    cJSON_AddStringToObject(p, "detail", detail))
		(void)mamori_emit(ctx, "terminal.lock_reapplied", r < 0 ? SEV_CRITICAL : SEV_NOTICE, "MDM-1", p);
	if (r < 0)
		log_error("terminal lock could not be re-applied: %s", detail);
	else
		log_notice("terminal lock re-applied: %s", detail);
}

void daemon_lock_deadman(struct mamori_ctx *ctx, const char *state_dir, int64_t now)
{
	const cJSON *days =
	        cJSON_GetObjectItemCaseSensitive(mamori_policy_section(ctx, "terminal_lock"), "offline_lock_days");
	struct lock_info li = {.reason = "offline"};
	char detail[1024] = "";
	int64_t last = 0;
	int r;

	if (!cJSON_IsNumber(days) || days->valuedouble < 1 || lock_active(state_dir))
		return;
	r = lock_contact_read(state_dir, &last);
	if (r == -ENOENT) {
		/* never recorded (first start with the rule): the count starts now */
		(void)lock_contact_write(state_dir, now);
		return;
	}
	if (r == 0 && now - last < (int64_t)days->valuedouble * 86400)
		return;
	/* an unreadable record counts as too old: fail closed */
	if (xsnprintf(li.by, sizeof(li.by), "offline_lock_days=%d", days->valueint) < 0)
		return;
	maintenance_account(ctx, li.maint, sizeof(li.maint));
	if (ctx->audit_only) {
		log_warning("dead-man rule: no contact with the server for %d day(s) or more; audit only, not locked",
		            days->valueint);
		return;
	}
	log_warning("dead-man rule (MDM-1): no contact with the server since %lld, %d day(s) allowed: locking",
	            (long long)last, days->valueint);
	(void)lock_now(ctx, state_dir, &li, detail, sizeof(detail));
}

void daemon_lock_unlock_by_code(struct mamori_ctx *ctx, const char *state_dir, const struct exception_store *store,
                                int64_t now)
{
	struct lock_info li;
	char detail[1024] = "", by[64];

	if (!store || !lock_active(state_dir) || lock_read(state_dir, &li) < 0)
		return; /* an unreadable record is ended by a signed unlock only */
	for (size_t i = 0; i < store->n; i++) {
		const struct exception_entry *e = &store->e[i];

		if (strcmp(e->scope, LOCK_UNLOCK_SCOPE) != 0 || now < e->not_before || now >= e->not_after ||
		    e->entered_at < li.since)
			continue;
		if (xsnprintf(by, sizeof(by), "code %s", e->id) < 0)
			return;
		(void)unlock_now(ctx, state_dir, by, detail, sizeof(detail));
		return;
	}
}

void daemon_commands_start(struct mamori_ctx *ctx, const struct agent_config *cfg, const char *state_dir)
{
	_cleanup_json_ cJSON *p = NULL;
	char url[512], detail[1024] = "";
	int r;

	lock_start(ctx, state_dir);
	if (!isolate_active(state_dir))
		return;
	/* isolated until a signed release: re-applied at every start (MDM-2, AV-5) */
	r = command_enroll_field(state_dir, "device_url", url, sizeof(url));
	if (r == 0)
		r = isolate_apply(state_dir, url, cfg->isolate_dhcp_dns, NULL, detail, sizeof(detail));
	else
		snprintf(detail, sizeof(detail), "no device URL in enroll.json");
	p = cJSON_CreateObject();
	if (p && cJSON_AddStringToObject(p, "result", r < 0 ? "failed" : "done") &&
	    cJSON_AddStringToObject(p, "detail", detail))
		(void)mamori_emit(ctx, "command.isolation_reapplied", r < 0 ? SEV_CRITICAL : SEV_NOTICE, "MDM-2,AV-5",
		                  p);
	if (r < 0)
		log_error("network isolation could not be re-applied: %s", detail);
	else
		log_notice("network isolation re-applied: %s", detail);
}
