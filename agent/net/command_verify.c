/* agent/net/command_verify.c — verification of remote commands, the replay
 * store, the inbox and the results (agent/net/command_verify.h). Runs as root
 * in the root part of `mamorictl server sync` and in mamori-worker. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alloc-util.h"
#include "command_verify.h"
#include "fileio.h"
#include "json-util.h"
#include "sha256.h"
#include "policy_sign.h"
#include "strutil.h"

#define SEEN_MAX (8 * 1024 * 1024)

const char *command_refusal_reason(int code)
{
	switch (code) {
	case COMMAND_E_KEY:
		return "key";
	case COMMAND_E_SIGNATURE:
		return "signature";
	case COMMAND_E_TERMINAL:
		return "terminal";
	case COMMAND_E_EXPIRED:
		return "expired";
	case COMMAND_E_REPLAY:
		return "replayed";
	default:
		return "invalid";
	}
}

static int dir_path(const char *state_dir, const char *sub, char *buf, size_t bufsz)
{
	return xsnprintf(buf, bufsz, "%s/%s%s%s", state_dir, COMMAND_DIR, sub ? "/" : "", sub ? sub : "");
}

static int ensure_dirs(const char *state_dir)
{
	char p[PATH_MAX];
	int r;

	if ((r = dir_path(state_dir, "inbox", p, sizeof(p))) < 0 || (r = mkdir_p(p, 0700)) < 0)
		return r;
	if ((r = dir_path(state_dir, "results", p, sizeof(p))) < 0 || (r = mkdir_p(p, 0700)) < 0)
		return r;
	return 0;
}

int command_seen_state(const char *state_dir, const char *id)
{
	_cleanup_free_ char *buf = NULL;
	char p[PATH_MAX];
	size_t len, idl = strlen(id);
	int r, state = COMMAND_UNSEEN;

	if ((r = dir_path(state_dir, "seen", p, sizeof(p))) < 0)
		return r;
	r = read_file_capped(p, SEEN_MAX, &buf, &len);
	if (r == -ENOENT)
		return COMMAND_UNSEEN;
	if (r < 0)
		return r;
	for (char *line = buf; line && *line;) {
		char *nl = strchr(line, '\n');

		/* "<id> <not_after>\n" at receipt, "<id> <not_after> done\n" once its result is stored */
		if (strncmp(line, id, idl) == 0 && line[idl] == ' ') {
			const char *sp = strchr(line + idl + 1, ' ');

			if (sp && (!nl || sp < nl) && strncmp(sp, " done", 5) == 0 && (sp[5] == '\n' || !sp[5]))
				return COMMAND_FINISHED;
			state = COMMAND_RECEIVED;
		}
		line = nl ? nl + 1 : NULL;
	}
	return state;
}

int command_seen(const char *state_dir, const char *id)
{
	int r = command_seen_state(state_dir, id);

	return r < 0 ? r : r == COMMAND_UNSEEN ? 0 : COMMAND_E_REPLAY;
}

static int seen_append(const char *state_dir, const char *id, int64_t not_after, bool done)
{
	char p[PATH_MAX], line[128];
	int fd, r = 0, n;

	if ((r = ensure_dirs(state_dir)) < 0 || (r = dir_path(state_dir, "seen", p, sizeof(p))) < 0)
		return r;
	n = snprintf(line, sizeof(line), "%s %" PRId64 "%s\n", id, not_after, done ? " done" : "");
	if (n < 0 || (size_t)n >= sizeof(line))
		return -EINVAL;
	fd = open(p, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	if (write(fd, line, (size_t)n) != n || fdatasync(fd) < 0)
		r = errno ? -errno : -EIO;
	close(fd);
	return r;
}

int command_seen_add(const char *state_dir, const char *id, int64_t not_after)
{
	return seen_append(state_dir, id, not_after, false);
}

int command_seen_done(const char *state_dir, const char *id, int64_t not_after)
{
	return seen_append(state_dir, id, not_after, true);
}

int command_finished(const char *state_dir, const char *id)
{
	char p[PATH_MAX];
	int r = command_seen_state(state_dir, id);

	if (r < 0 || r == COMMAND_FINISHED)
		return r < 0 ? r : 1;
	/* the result stored, the crash came before the done mark */
	if (xsnprintf(p, sizeof(p), "%s/%s/results/%s.json", state_dir, COMMAND_DIR, id) == 0 && access(p, F_OK) == 0)
		return 1;
	if (xsnprintf(p, sizeof(p), "%s/%s/reported/%s.json", state_dir, COMMAND_DIR, id) == 0 && access(p, F_OK) == 0)
		return 1;
	return 0;
}

/* The id of an envelope that did not verify, for the report: only if it
 * looks like one (the server matches it against its own commands). */
static void peek_id(const char *env, size_t len, char ret[COMMAND_ID_LEN + 1])
{
	_cleanup_json_ cJSON *j = cJSON_ParseWithLength(env, len);
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "id");

	ret[0] = '\0';
	if (cJSON_IsString(id) && strlen(id->valuestring) == COMMAND_ID_LEN &&
	    strspn(id->valuestring, "0123456789abcdef") == COMMAND_ID_LEN)
		memcpy(ret, id->valuestring, COMMAND_ID_LEN + 1);
}

int command_verify(const struct command_verify_ctx *c, const char *env, size_t len, const char *sig,
                   struct command_envelope *ret, char ret_id[COMMAND_ID_LEN + 1], char *why, size_t whysz)
{
	struct command_envelope e;
	char key[PATH_MAX], perr[256] = "";
	int r;

	peek_id(env, len, ret_id);
	if (xsnprintf(key, sizeof(key), "%s/%s", c->state_dir, COMMAND_KEY_FILE) < 0)
		return COMMAND_E_KEY;
	if (access(key, R_OK) < 0) {
		snprintf(why, whysz, "no command key is pinned (%s): no command is accepted", key);
		return COMMAND_E_KEY;
	}
	r = policy_verify_buf(key, env, len, sig ? sig : "", sig ? strlen(sig) : 0);
	if (r == POLICY_E_KEY) {
		snprintf(why, whysz, "the pinned command key %s is unreadable or not Ed25519", key);
		return COMMAND_E_KEY;
	}
	if (r < 0) {
		snprintf(why, whysz, "the signature does not verify with the pinned command key");
		return COMMAND_E_SIGNATURE;
	}
	if (command_parse(env, len, &e, perr, sizeof(perr)) < 0) {
		snprintf(why, whysz, "signed, but not a valid command: %s", perr);
		return COMMAND_E_INVALID;
	}
	memcpy(ret_id, e.id, sizeof(e.id));
	if (strcmp(e.terminal_id, c->terminal_id) != 0) {
		snprintf(why, whysz, "the command is for terminal %s, this is %s", e.terminal_id, c->terminal_id);
		return COMMAND_E_TERMINAL;
	}
	if (e.issued_at > c->now_s + COMMAND_CLOCK_SKEW_S || c->now_s >= e.not_after) {
		snprintf(why, whysz, "outside its validity window (%" PRId64 " .. %" PRId64 ", now %" PRId64 ")",
		         e.issued_at, e.not_after, c->now_s);
		return COMMAND_E_EXPIRED;
	}
	r = command_seen(c->state_dir, e.id);
	if (r == COMMAND_E_REPLAY) {
		/* valid in every other respect: the caller tells a re-delivery
		 * (no result yet) from a replay (command_finished) */
		snprintf(why, whysz, "command %s was accepted before (replay)", e.id);
		*ret = e;
		return r;
	}
	if (r < 0) {
		snprintf(why, whysz, "cannot read the replay store: %s", strerror(-r));
		return COMMAND_E_REPLAY; /* fail closed */
	}
	*ret = e;
	return 0;
}

int command_inbox_put(const struct command_verify_ctx *c, const char *env, size_t len, const char *sig, char *why,
                      size_t whysz)
{
	struct command_envelope e = {0};
	char id[COMMAND_ID_LEN + 1], p[PATH_MAX];
	int r, w;

	if ((w = ensure_dirs(c->state_dir)) < 0) {
		snprintf(why, whysz, "cannot create %s/%s: %s", c->state_dir, COMMAND_DIR, strerror(-w));
		return w;
	}
	r = command_verify(c, env, len, sig, &e, id, why, whysz);
	/* an id accepted before, otherwise valid, goes to the worker too: it
	 * tells a re-delivery (the server has no result: executed then, or
	 * resumed if it never finished) from a replay (issue 14 point 2) */
	if (r == COMMAND_E_REPLAY && e.id[0])
		r = 0;
	if (r == 0) {
		_cleanup_free_ char *buf = malloc(len + 1 + strlen(sig) + 1);

		if (!buf)
			return -ENOMEM;
		memcpy(buf, env, len);
		buf[len] = '\n';
		memcpy(buf + len + 1, sig, strlen(sig) + 1);
		if ((w = xsnprintf(p, sizeof(p), "%s/%s/inbox/%s.cmd", c->state_dir, COMMAND_DIR, e.id)) < 0 ||
		    (w = write_file_atomic(p, buf, strlen(buf), 0600)) < 0) {
			snprintf(why, whysz, "cannot write %s: %s", p, strerror(-w));
			return w;
		}
		return 0;
	}
	{
		_cleanup_json_ cJSON *j = cJSON_CreateObject();
		_cleanup_free_ char *txt = NULL;
		uint8_t md[32];
		char hex[65];

		(void)sha256_buf(env, len, md);
		hex_encode(md, 32, hex);
		if (!j || !cJSON_AddStringToObject(j, "command_id", id) ||
		    !cJSON_AddStringToObject(j, "reason", command_refusal_reason(r)) ||
		    !cJSON_AddStringToObject(j, "detail", why) || !cJSON_AddStringToObject(j, "sha256", hex) ||
		    !(txt = cJSON_PrintUnformatted(j)))
			return -ENOMEM;
		if ((w = xsnprintf(p, sizeof(p), "%s/%s/inbox/refused-%s.json", c->state_dir, COMMAND_DIR, hex)) < 0 ||
		    (w = write_file_atomic(p, txt, strlen(txt), 0600)) < 0)
			return w;
	}
	return r;
}

int command_result_write(const char *state_dir, const char *id, const char *status, const char *detail)
{
	_cleanup_json_ cJSON *j = cJSON_CreateObject();
	_cleanup_free_ char *txt = NULL;
	char p[PATH_MAX], d[COMMAND_RESULT_MAX];
	int r;

	if (strlen(id) != COMMAND_ID_LEN || strspn(id, "0123456789abcdef") != COMMAND_ID_LEN)
		return -EINVAL;
	(void)strscpy(d, sizeof(d), detail ? detail : ""); /* truncated, never refused */
	if ((r = ensure_dirs(state_dir)) < 0)
		return r;
	if (!j || !cJSON_AddStringToObject(j, "id", id) || !cJSON_AddStringToObject(j, "status", status) ||
	    !cJSON_AddStringToObject(j, "detail", d) || !(txt = cJSON_PrintUnformatted(j)))
		return -ENOMEM;
	if ((r = xsnprintf(p, sizeof(p), "%s/%s/results/%s.json", state_dir, COMMAND_DIR, id)) < 0)
		return r;
	return write_file_atomic(p, txt, strlen(txt), 0600);
}

void command_ids_free(char **ids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
}

int command_results_collect(const char *state_dir, char **ret_json, char ***ret_ids, size_t *ret_n)
{
	_cleanup_json_ cJSON *arr = cJSON_CreateArray();
	char p[PATH_MAX];
	char **ids = NULL;
	size_t n = 0;
	DIR *dir;
	struct dirent *de;
	int r;

	if (!arr || (r = dir_path(state_dir, "results", p, sizeof(p))) < 0)
		return -ENOMEM;
	dir = opendir(p);
	while (dir && (de = readdir(dir)) && n < 64) {
		_cleanup_free_ char *buf = NULL;
		char f[PATH_MAX];
		size_t len;
		cJSON *j;
		char **nids;

		if (strlen(de->d_name) != COMMAND_ID_LEN + 5 || strcmp(de->d_name + COMMAND_ID_LEN, ".json") != 0)
			continue;
		if (xsnprintf(f, sizeof(f), "%s/%s", p, de->d_name) < 0 ||
		    read_file_capped(f, COMMAND_RESULT_MAX * 2, &buf, &len) < 0 ||
		    !(j = cJSON_ParseWithLength(buf, len)))
			continue;
		nids = realloc(ids, (n + 1) * sizeof(*ids));
		if (!nids || !(nids[n] = strndup(de->d_name, COMMAND_ID_LEN))) {
			cJSON_Delete(j);
			ids = nids ? nids : ids;
			command_ids_free(ids, n);
			closedir(dir);
			return -ENOMEM;
		}
		ids = nids;
		n++;
		cJSON_AddItemToArray(arr, j);
	}
	if (dir)
		closedir(dir);
	*ret_json = cJSON_PrintUnformatted(arr);
	if (!*ret_json) {
		command_ids_free(ids, n);
		return -ENOMEM;
	}
	*ret_ids = ids;
	*ret_n = n;
	return 0;
}

/* Reported results are kept in reported/ (a re-delivered or replayed id is
 * answered with its result) until no envelope of theirs can still be valid. */
#define REPORTED_KEEP_S (COMMAND_VALIDITY_MAX_S + COMMAND_CLOCK_SKEW_S + 86400)

void command_results_remove(const char *state_dir, char **ids, size_t n)
{
	char p[PATH_MAX], q[PATH_MAX];
	struct dirent *de;
	time_t now = time(NULL);
	DIR *dir;

	if (dir_path(state_dir, "reported", q, sizeof(q)) < 0 || mkdir_p(q, 0700) < 0)
		return;
	for (size_t i = 0; i < n; i++)
		if (xsnprintf(p, sizeof(p), "%s/%s/results/%s.json", state_dir, COMMAND_DIR, ids[i]) == 0 &&
		    xsnprintf(q, sizeof(q), "%s/%s/reported/%s.json", state_dir, COMMAND_DIR, ids[i]) == 0 &&
		    rename(p, q) < 0)
			(void)unlink(p);
	if (dir_path(state_dir, "reported", q, sizeof(q)) < 0 || !(dir = opendir(q)))
		return;
	while ((de = readdir(dir))) {
		struct stat st;

		if (strlen(de->d_name) == COMMAND_ID_LEN + 5 && strcmp(de->d_name + COMMAND_ID_LEN, ".json") == 0 &&
		    fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    (int64_t)(now - st.st_mtime) > REPORTED_KEEP_S)
			(void)unlinkat(dirfd(dir), de->d_name, 0);
	}
	closedir(dir);
}

int command_result_rereport(const char *state_dir, const char *id)
{
	char p[PATH_MAX], q[PATH_MAX];

	if (xsnprintf(p, sizeof(p), "%s/%s/reported/%s.json", state_dir, COMMAND_DIR, id) < 0 ||
	    xsnprintf(q, sizeof(q), "%s/%s/results/%s.json", state_dir, COMMAND_DIR, id) < 0)
		return -ENAMETOOLONG;
	if (access(q, F_OK) == 0)
		return 0; /* not reported yet: goes with the next check-in */
	return rename(p, q) < 0 ? -errno : 0;
}

int command_terminal_id(const char *state_dir, char ret[TERMINAL_ID_MAX])
{
	_cleanup_free_ char *buf = NULL;
	_cleanup_json_ cJSON *j = NULL;
	const cJSON *id;
	char p[PATH_MAX];
	size_t len;
	int r;

	if ((r = xsnprintf(p, sizeof(p), "%s/enroll.json", state_dir)) < 0 ||
	    (r = read_file_capped(p, 64 * 1024, &buf, &len)) < 0)
		return r;
	j = cJSON_ParseWithLength(buf, len);
	id = cJSON_GetObjectItemCaseSensitive(j, "terminal_id");
	if (!cJSON_IsString(id) || !terminal_id_valid(id->valuestring))
		return -EINVAL;
	return strscpy(ret, TERMINAL_ID_MAX, id->valuestring);
}

int command_enroll_field(const char *state_dir, const char *field, char *buf, size_t bufsz)
{
	_cleanup_free_ char *txt = NULL;
	_cleanup_json_ cJSON *j = NULL;
	const cJSON *v;
	char p[PATH_MAX];
	size_t len;
	int r;

	if ((r = xsnprintf(p, sizeof(p), "%s/enroll.json", state_dir)) < 0 ||
	    (r = read_file_capped(p, 64 * 1024, &txt, &len)) < 0)
		return r;
	j = cJSON_ParseWithLength(txt, len);
	v = cJSON_GetObjectItemCaseSensitive(j, field);
	if (!cJSON_IsString(v))
		return -ENOENT;
	return strscpy(buf, bufsz, v->valuestring);
}
