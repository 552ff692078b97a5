/* agent/ctl/ctl_commands.c — `mamorictl commands`: the remote commands this
 * terminal received, as its journal recorded them (docs/COMMANDS.md; MDM-1,
 * MDM-2, OPS-5). mamorictl, run by staff and auditors; reads the journal
 * read-only while mamori-worker writes it. One row per command id: type,
 * requester and approvers, when it arrived (Japan time), the outcome
 * (executed, failed, refused with the reason) and the detail. Exit: 0 ok, 2
 * usage error or the journal could not be read. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc-util.h"
#include "ctl.h"
#include "json-util.h"
#include "journal.h"
#include "rootpath.h"
#include "strutil.h"

/* Japan time, with the zone: "2026-12-05 09:00:00 JST" */
static void jst(int64_t us, char buf[32])
{
	time_t t = (time_t)(us / 1000000) + 9 * 3600;
	struct tm tm;

	if (!gmtime_r(&t, &tm) || strftime(buf, 32, "%Y-%m-%d %H:%M:%S JST", &tm) == 0)
		snprintf(buf, 32, "?");
}

/* Printable: control characters become '?' (nothing steers the terminal). */
static void printable(const char *s, char *out, size_t outsz)
{
	size_t o = 0;

	for (const unsigned char *c = (const unsigned char *)(s ? s : ""); *c && o + 1 < outsz; c++)
		out[o++] = (*c < 0x20 || *c == 0x7f) ? '?' : (char)*c;
	out[o] = '\0';
}

static const char *str(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : "";
}

int ctl_commands(struct ctl_env *env, int argc, char **argv)
{
	_cleanup_json_ cJSON *rows = cJSON_CreateArray();
	struct journal_iter *it = NULL;
	struct journal_record rec;
	char dir[PATH_MAX];
	int r;

	if (argc > 1) {
		fprintf(stderr, "%s\n",
		        L(env, "使い方: mamorictl [--json] commands", "usage: mamorictl [--json] commands"));
		return 2;
	}
	(void)argv;
	r = root_path(dir, sizeof(dir), env->config.state_dir);
	if (r == 0)
		r = journal_iter_open(dir, 0, &it);
	if (r < 0 || !rows) {
		fprintf(stderr, "mamorictl commands: %s: %s\n",
		        L(env, "ジャーナルを読めません", "cannot read the journal"), strerror(r < 0 ? -r : ENOMEM));
		return 2;
	}
	while ((r = journal_iter_next(it, &rec)) == 1) {
		_cleanup_json_ cJSON *j = NULL;
		const cJSON *p;
		const char *id, *outcome = NULL;
		cJSON *row = NULL, *x;

		if (!startswith(rec.type, "command.") && strcmp(rec.type, "tamper.detected") != 0)
			continue;
		j = cJSON_ParseWithLength(rec.canon, rec.canon_len);
		p = cJSON_GetObjectItemCaseSensitive(j, "payload");
		if (strcmp(rec.type, "tamper.detected") == 0 && strcmp(str(p, "what"), "command") != 0)
			continue;
		id = str(p, "command_id");
		if (!id[0] && strcmp(rec.type, "tamper.detected") != 0)
			continue;
		cJSON_ArrayForEach(x, rows) if (id[0] && strcmp(str(x, "id"), id) == 0) row = x;
		if (!row || strcmp(rec.type, "tamper.detected") == 0) {
			char t[32];

			row = cJSON_CreateObject();
			if (!row || !cJSON_AddItemToArray(rows, row))
				break;
			jst(rec.time_us, t);
			cJSON_AddStringToObject(row, "id", id);
			cJSON_AddStringToObject(row, "received", t);
			cJSON_AddStringToObject(row, "type", str(p, "type"));
			cJSON_AddStringToObject(row, "requested_by", str(p, "requested_by"));
			cJSON_AddItemToObject(
			        row, "approved_by",
			        cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(p, "approved_by"), true));
			cJSON_AddStringToObject(row, "outcome", "received");
			cJSON_AddStringToObject(row, "detail", "");
		}
		if (strcmp(rec.type, "command.executed") == 0)
			outcome = "executed";
		else if (strcmp(rec.type, "command.failed") == 0)
			outcome = "failed";
		else if (strcmp(rec.type, "tamper.detected") == 0 || strcmp(rec.type, "command.refused") == 0)
			outcome = "refused";
		if (outcome) {
			char d[512];

			if (strcmp(outcome, "refused") == 0)
				(void)xsnprintf(d, sizeof(d), "%s: %s", str(p, "reason"), str(p, "detail"));
			else
				(void)strscpy(d, sizeof(d), str(p, "detail"));
			cJSON_ReplaceItemInObjectCaseSensitive(row, "outcome", cJSON_CreateString(outcome));
			cJSON_ReplaceItemInObjectCaseSensitive(row, "detail", cJSON_CreateString(d));
		}
	}
	journal_iter_free(it);
	if (r < 0) {
		fprintf(stderr, "mamorictl commands: %s\n", strerror(-r));
		return 2;
	}
	if (env->json) {
		_cleanup_free_ char *s = cJSON_PrintUnformatted(rows);

		printf("%s\n", s ? s : "[]");
		return 0;
	}
	printf("%-23s  %-8s  %-32s  %-9s  %-10s  %s\n", L(env, "受信 (日本時間)", "received (JST)"),
	       L(env, "種別", "type"), "id", L(env, "結果", "outcome"), L(env, "依頼者", "requester"),
	       L(env, "詳細", "detail"));
	{
		const cJSON *x;

		cJSON_ArrayForEach(x, rows)
		{
			char req[64], det[512], typ[32];

			printable(str(x, "requested_by"), req, sizeof(req));
			printable(str(x, "detail"), det, sizeof(det));
			printable(str(x, "type"), typ, sizeof(typ));
			printf("%-23s  %-8s  %-32s  %-9s  %-10s  %s\n", str(x, "received"), typ[0] ? typ : "-",
			       str(x, "id")[0] ? str(x, "id") : "-", str(x, "outcome"), req[0] ? req : "-", det);
		}
	}
	return 0;
}
