/* modules/av/av_mdatp.c — Microsoft Defender for Endpoint adapter (mamori-worker):
 * runs `mdatp health --output json` (under the root prefix, with a deadline
 * and an output cap) and parses the reply. mdatp cannot be installed on the
 * build machines: the parser is tested on recorded replies, the runner with a
 * stand-in program under a test root. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "alloc-util.h"
#include "proc-util.h"
#include "av_mdatp.h"
#include "rootpath.h"
#include "strutil.h"
#include "json-util.h"

/* `key: X` or `key: {"value": X, ...}` */
static const cJSON *get_value(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (cJSON_IsObject(v))
		v = cJSON_GetObjectItemCaseSensitive(v, "value");
	return v;
}

static int get_bool(const cJSON *o, const char *key, bool *ret)
{
	const cJSON *v = get_value(o, key);

	if (cJSON_IsBool(v)) {
		*ret = cJSON_IsTrue(v);
		return 0;
	}
	if (cJSON_IsString(v) && (strcmp(v->valuestring, "true") == 0 || strcmp(v->valuestring, "false") == 0)) {
		*ret = strcmp(v->valuestring, "true") == 0;
		return 0;
	}
	return -ENOENT;
}

static int get_number(const cJSON *o, const char *key, double *ret)
{
	const cJSON *v = get_value(o, key);
	int64_t i;

	if (cJSON_IsNumber(v) && isfinite(v->valuedouble)) {
		*ret = v->valuedouble;
		return 0;
	}
	if (cJSON_IsString(v) && parse_int64(v->valuestring, INT64_MIN, INT64_MAX, &i) == 0) {
		*ret = (double)i;
		return 0;
	}
	return -ENOENT;
}

static void get_string(const cJSON *o, const char *key, char *buf, size_t sz)
{
	const cJSON *v = get_value(o, key);

	if (cJSON_IsString(v)) {
		_cleanup_free_ char *e = escape_untrusted(v->valuestring, strlen(v->valuestring), sz);
		if (e)
			strscpy(buf, sz, e);
	}
}

int av_mdatp_parse_health(const char *json, size_t len, time_t now, struct av_status *ret)
{
	_cleanup_(cJSON_Deletep) cJSON *o = NULL;
	struct av_status st = {0};
	bool b, rtp_avail = true;
	double d;
	int known = 0;

	if (len > AV_MDATP_OUTPUT_MAX)
		return -EFBIG;
	o = cJSON_ParseWithLength(json, len);
	if (!cJSON_IsObject(o))
		return -EBADMSG;

	if (get_bool(o, "healthy", &b) == 0) {
		st.healthy_known = true;
		st.healthy = b;
		known++;
	}
	/* resident: the daemon answered; licensed and engine loaded make it real */
	st.resident = true;
	xsnprintf(st.resident_detail, sizeof(st.resident_detail), "mdatp health answered");
	if (get_bool(o, "licensed", &b) == 0) {
		known++;
		if (!b) {
			st.resident = false;
			xsnprintf(st.resident_detail, sizeof(st.resident_detail), "mdatp: not licensed");
		}
	}
	{
		char els[128] = "";

		get_string(o, "engine_load_status", els, sizeof(els));
		if (els[0] && strstr(els, "succeeded") == NULL && strstr(els, "Succeeded") == NULL) {
			st.resident = false;
			xsnprintf(st.resident_detail, sizeof(st.resident_detail), "mdatp engine: %s", els);
		}
	}
	if (get_bool(o, "real_time_protection_available", &b) == 0)
		rtp_avail = b;
	if (get_bool(o, "real_time_protection_enabled", &b) == 0) {
		known++;
		st.on_access_known = true;
		st.on_access = b && rtp_avail;
		xsnprintf(st.on_access_detail, sizeof(st.on_access_detail), "real_time_protection_enabled=%s%s",
		          b ? "true" : "false", rtp_avail ? "" : " (not available)");
	}
	/* AV-1: in passive mode Defender scans on access but never blocks or
	 * remediates: it does not protect (issue 21) */
	if (get_bool(o, "passive_mode_enabled", &b) == 0 && b) {
		st.on_access_known = true;
		st.on_access = false;
		xsnprintf(st.on_access_detail, sizeof(st.on_access_detail),
		          "passive_mode_enabled=true (detects, never blocks)");
	} else if (get_value(o, "passive_mode_enabled") && get_bool(o, "passive_mode_enabled", &b) < 0) {
		st.on_access_known = true;
		st.on_access = false;
		xsnprintf(st.on_access_detail, sizeof(st.on_access_detail), "passive_mode_enabled unreadable");
	}
	get_string(o, "engine_version", st.engine_version, sizeof(st.engine_version));
	get_string(o, "definitions_version", st.definitions_version, sizeof(st.definitions_version));
	if (st.engine_version[0])
		known++;

	if (get_number(o, "definitions_updated_minutes_ago", &d) == 0 && d >= 0 && d < 1e9) {
		st.have_definitions = true;
		st.definitions_time = (int64_t)now - (int64_t)d * 60;
		xsnprintf(st.definitions_detail, sizeof(st.definitions_detail), "definitions_updated_minutes_ago=%.0f",
		          d);
		known++;
	} else if (get_number(o, "definitions_updated", &d) == 0 && d > 0) {
		/* epoch milliseconds in newer releases, seconds in older ones */
		if (d > 1e11)
			d /= 1000;
		if (d < 1e11) {
			st.have_definitions = true;
			st.definitions_time = (int64_t)d;
			xsnprintf(st.definitions_detail, sizeof(st.definitions_detail), "definitions_updated=%.0f", d);
			known++;
		}
	}
	if (!st.have_definitions)
		xsnprintf(st.definitions_detail, sizeof(st.definitions_detail), "mdatp reports no definitions date");
	/* mdatp keeps its own scan history; the agent does not read it yet */
	st.full_scan_known = false;
	if (known == 0)
		return -EBADMSG;
	*ret = st;
	return 0;
}

/* The program's stdout if it exited 0 (common/spawn.h). */
static int run_capture(char *const argv[], int timeout_ms, size_t cap, char **ret_out, size_t *ret_len)
{
	int ex = 0, r = spawn_capture(argv, NULL, timeout_ms, cap, ret_out, ret_len, &ex);

	if (r < 0)
		return r == -ENOENT || r == -EACCES ? -ENOEXEC : r;
	if (ex != 0) {
		free(*ret_out);
		*ret_out = NULL;
		return ex == 127 ? -ENOEXEC : -EIO;
	}
	return 0;
}

static int mdatp_gather(const struct av_settings *s, const char *state_dir, time_t now, struct av_status *ret)
{
	_cleanup_free_ char *out = NULL;
	char bin[PATH_MAX];
	char *argv[] = {bin, (char *)"health", (char *)"--output", (char *)"json", NULL};
	struct av_status st = {0};
	size_t len = 0;
	int r;

	(void)s;
	(void)state_dir;
	r = root_path(bin, sizeof(bin), AV_MDATP_PATH);
	if (r < 0)
		return r;
	if (access(bin, X_OK) < 0) {
		xsnprintf(st.resident_detail, sizeof(st.resident_detail), "%s: %s", AV_MDATP_PATH, strerror(errno));
		*ret = st;
		return 0;
	}
	r = run_capture(argv, AV_MDATP_TIMEOUT_MS, AV_MDATP_OUTPUT_MAX, &out, &len);
	if (r == 0)
		r = av_mdatp_parse_health(out, len, now, &st);
	if (r < 0) {
		st = (struct av_status){0};
		xsnprintf(st.resident_detail, sizeof(st.resident_detail), "mdatp health: %s", strerror(-r));
	}
	*ret = st;
	return 0;
}

const struct av_backend av_backend_mdatp = {
        .name = "mdatp",
        .gather = mdatp_gather,
};
