/* policy/exception_store.c — state_dir/exceptions.json: emergency exceptions
 * entered on this terminal (mamorictl adds, mamori-worker applies and marks
 * reported). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "exception_store.h"
#include "fileio.h"
#include "policy_schema.h"
#include "sha256.h"
#include "strutil.h"
#include "json-util.h"

static int lock_store(const char *path)
{
	char lpath[4096];
	int fd;

	if (xsnprintf(lpath, sizeof(lpath), "%s.lock", path) < 0)
		return -ENAMETOOLONG;
	fd = open(lpath, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

static bool get_str(const cJSON *o, const char *k, char *buf, size_t bufsz, bool allow_empty)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) && (allow_empty || v->valuestring[0]) && strscpy(buf, bufsz, v->valuestring) == 0;
}

static bool get_time(const cJSON *o, const char *k, int64_t *ret)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	time_t t;

	if (!cJSON_IsString(v) || policy_time_parse(v->valuestring, &t) < 0)
		return false;
	*ret = t;
	return true;
}

static int parse_entry(const cJSON *o, struct exception_entry *e)
{
	const cJSON *rep = cJSON_GetObjectItemCaseSensitive(o, "reported");
	struct exception_scope sc;

	memset(e, 0, sizeof(*e));
	if (!cJSON_IsObject(o) || !get_str(o, "id", e->id, sizeof(e->id), false) ||
	    !get_str(o, "scope", e->scope, sizeof(e->scope), false) ||
	    !get_str(o, "code_sha256", e->code_sha256, sizeof(e->code_sha256), false) ||
	    !get_str(o, "person", e->person, sizeof(e->person), true) || !get_time(o, "not_before", &e->not_before) ||
	    !get_time(o, "not_after", &e->not_after) || !get_time(o, "entered_at", &e->entered_at) ||
	    !cJSON_IsBool(rep))
		return -EBADMSG;
	if (exception_scope_parse(e->scope, &sc) < 0 || !policy_format_valid(POLICY_FORMAT_SHA256, e->code_sha256) ||
	    !policy_format_valid(POLICY_FORMAT_ID, e->id) || e->not_after <= e->not_before)
		return -EBADMSG;
	e->reported = cJSON_IsTrue(rep);
	return 0;
}

int exception_store_load(const char *path, struct exception_store **ret)
{
	_cleanup_free_ char *buf = NULL;
	_cleanup_free_ struct exception_store *s = NULL;
	_cleanup_(cJSON_Deletep) cJSON *doc = NULL;
	const cJSON *entries, *ver, *it;
	size_t len;
	int r;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	r = read_file_capped(path, EXCEPTION_STORE_FILE_MAX, &buf, &len);
	if (r == -ENOENT) {
		*ret = TAKE_PTR(s);
		return 0;
	}
	if (r == -EFBIG)
		return -EBADMSG;
	if (r < 0)
		return r;
	doc = cJSON_ParseWithLength(buf, len);
	if (!doc)
		return -EBADMSG;
	ver = cJSON_GetObjectItemCaseSensitive(doc, "version");
	entries = cJSON_GetObjectItemCaseSensitive(doc, "entries");
	if (!cJSON_IsNumber(ver) || ver->valuedouble != 1 || !cJSON_IsArray(entries) ||
	    cJSON_GetArraySize(entries) > EXCEPTION_STORE_MAX)
		return -EBADMSG;
	cJSON_ArrayForEach(it, entries)
	{
		r = parse_entry(it, &s->e[s->n]);
		if (r < 0)
			return r;
		s->n++;
	}
	*ret = TAKE_PTR(s);
	return 0;
}

static int save(const char *path, const struct exception_store *s)
{
	_cleanup_(cJSON_Deletep) cJSON *doc = cJSON_CreateObject();
	_cleanup_free_ char *text = NULL;
	cJSON *arr;

	if (!doc || !cJSON_AddNumberToObject(doc, "version", 1) || !(arr = cJSON_AddArrayToObject(doc, "entries")))
		return -ENOMEM;
	for (size_t i = 0; i < s->n; i++) {
		const struct exception_entry *e = &s->e[i];
		cJSON *o = cJSON_CreateObject();
		char nb[32], na[32], at[32];

		if (!o || !cJSON_AddItemToArray(arr, o))
			return cJSON_Delete(o), -ENOMEM;
		if (policy_time_format(e->not_before, nb, sizeof(nb)) < 0 ||
		    policy_time_format(e->not_after, na, sizeof(na)) < 0 ||
		    policy_time_format(e->entered_at, at, sizeof(at)) < 0)
			return -EINVAL;
		if (!cJSON_AddStringToObject(o, "id", e->id) || !cJSON_AddStringToObject(o, "kind", "emergency") ||
		    !cJSON_AddStringToObject(o, "scope", e->scope) ||
		    !cJSON_AddStringToObject(o, "code_sha256", e->code_sha256) ||
		    !cJSON_AddStringToObject(o, "not_before", nb) || !cJSON_AddStringToObject(o, "not_after", na) ||
		    !cJSON_AddStringToObject(o, "entered_at", at) || !cJSON_AddStringToObject(o, "person", e->person) ||
		    !cJSON_AddBoolToObject(o, "reported", e->reported) ||
		    !cJSON_AddStringToObject(o, "requirements", "OPS-3"))
			return -ENOMEM;
	}
	text = cJSON_Print(doc);
	if (!text)
		return -ENOMEM;
	return write_file_atomic(path, text, strlen(text), 0600);
}

int exception_entry_init(struct exception_entry *e, const char *code, const char *scope, time_t not_before,
                         time_t not_after, time_t now, const char *person)
{
	char norm[EXCEPTION_CODE_LEN + 1];
	unsigned char md[32];
	struct exception_scope sc;
	int r;

	r = exception_code_normalize(code, norm);
	if (r < 0)
		return r;
	if (exception_scope_parse(scope, &sc) < 0 || not_after <= not_before)
		return -EINVAL;
	(void)sha256_buf(norm, strlen(norm), md);
	memset(e, 0, sizeof(*e));
	hex_encode(md, 32, e->code_sha256);
	memcpy(e->id, "EMG-", 4);
	memcpy(e->id + 4, e->code_sha256, 12);
	e->id[16] = '\0';
	if (strscpy(e->scope, sizeof(e->scope), scope) < 0 ||
	    (person && strscpy(e->person, sizeof(e->person), person) < 0))
		return -EINVAL;
	e->not_before = not_before;
	e->not_after = not_after;
	e->entered_at = now;
	e->reported = false;
	return 0;
}

int exception_store_add(const char *path, const struct exception_entry *e, time_t now)
{
	_cleanup_close_ int lock = -1;
	_cleanup_free_ struct exception_store *s = NULL;
	size_t o = 0;
	int r;

	lock = lock_store(path);
	if (lock < 0)
		return lock;
	r = exception_store_load(path, &s);
	if (r < 0)
		return r;
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->e[i].code_sha256, e->code_sha256) == 0)
			return -EALREADY;
	/* prune: reported, and ended more than a week ago */
	for (size_t i = 0; i < s->n; i++)
		if (!(s->e[i].reported && s->e[i].not_after + EXCEPTION_STORE_KEEP < now))
			s->e[o++] = s->e[i];
	s->n = o;
	if (s->n >= EXCEPTION_STORE_MAX)
		return -ENOSPC;
	s->e[s->n++] = *e;
	return save(path, s);
}

int exception_store_mark_reported(const char *path, const char *id)
{
	_cleanup_close_ int lock = -1;
	_cleanup_free_ struct exception_store *s = NULL;
	int r;

	lock = lock_store(path);
	if (lock < 0)
		return lock;
	r = exception_store_load(path, &s);
	if (r < 0)
		return r;
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->e[i].id, id) == 0) {
			if (s->e[i].reported)
				return 0;
			s->e[i].reported = true;
			return save(path, s);
		}
	return -ENOENT;
}

bool exception_store_applies(const struct exception_store *s, const char *check_id, const struct policy_device_id *dev,
                             const char *person, time_t now, const char **ret_id)
{
	for (size_t i = 0; s && i < s->n; i++) {
		const struct exception_entry *e = &s->e[i];
		struct exception_scope sc;

		if (now < e->not_before || now >= e->not_after)
			continue;
		if (exception_scope_parse(e->scope, &sc) < 0 || !exception_scope_matches(&sc, check_id, dev, person))
			continue;
		if (ret_id)
			*ret_id = e->id;
		return true;
	}
	return false;
}
