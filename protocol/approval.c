/* protocol/approval.c — the exact parser of approval data (protocol/approval.h);
 * runs in the root part of `mamorictl server sync` and in mamori-worker. */
#include <errno.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "alloc-util.h"
#include "approval.h"
#include "json-util.h"
#include "strutil.h"

/* exactly these keys, each once */
static bool exact_keys(const cJSON *o, const char *const *keys)
{
	size_t want = 0, have = 0;
	const cJSON *it;

	for (; keys[want]; want++)
		;
	cJSON_ArrayForEach(it, o)
	{
		size_t k;

		for (k = 0; keys[k]; k++)
			if (it->string && strcmp(it->string, keys[k]) == 0)
				break;
		if (!keys[k])
			return false;
		for (const cJSON *p = o->child; p != it; p = p->next)
			if (strcmp(p->string, it->string) == 0)
				return false;
		have++;
	}
	return have == want;
}

static bool get_int(const cJSON *o, const char *k, int64_t min, int64_t *ret)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	if (!cJSON_IsNumber(v) || v->valuedouble < (double)min || v->valuedouble > 9007199254740991.0 ||
	    v->valuedouble != (double)(int64_t)v->valuedouble)
		return false;
	*ret = (int64_t)v->valuedouble;
	return true;
}

static bool get_str(const cJSON *o, const char *k, char *buf, size_t bufsz, bool null_ok)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	if (null_ok && cJSON_IsNull(v)) {
		buf[0] = '\0';
		return true;
	}
	return cJSON_IsString(v) && v->valuestring[0] && utf8_valid(v->valuestring, strlen(v->valuestring)) &&
	       strscpy(buf, bufsz, v->valuestring) >= 0;
}

bool approval_requirement_form(const char *s)
{
	size_t i = 0, n;

	if (!s || strlen(s) >= APPROVAL_REQUIREMENT_MAX)
		return false;
	while (s[i] >= 'A' && s[i] <= 'Z')
		i++;
	if (i == 0 || s[i] != '-')
		return false;
	n = ++i;
	while (s[i] >= '0' && s[i] <= '9')
		i++;
	return i > n && s[i] == '\0';
}

int approval_doc_parse(const char *buf, size_t len, struct approval_doc *ret, const char **ret_why)
{
	static const char *const doc_keys[] = {"type", "terminal_id", "version", "issued_at", "approvals", NULL};
	static const char *const a_keys[] = {"id",     "request_id", "kind",        "hash",    "person",
	                                     "access", "not_after",  "approved_by", "version", NULL};
	static const char *const x_keys[] = {"id",        "request_id",  "kind",    "requirement", "person",
	                                     "not_after", "approved_by", "version", NULL};
	_cleanup_json_ cJSON *doc = NULL;
	const cJSON *arr, *it;
	struct approval_doc *d = ret;
	char type[32];

	*ret_why = "not a JSON object";
	if (len > APPROVAL_DOC_MAX)
		return (*ret_why = "too large"), -EBADMSG;
	doc = cJSON_ParseWithLength(buf, len);
	if (!cJSON_IsObject(doc))
		return -EBADMSG;
	memset(d, 0, sizeof(*d));
	if (!exact_keys(doc, doc_keys))
		return (*ret_why = "missing, unknown or duplicate field"), -EBADMSG;
	if (!get_str(doc, "type", type, sizeof(type), false) || strcmp(type, APPROVAL_TYPE) != 0)
		return (*ret_why = "type is not " APPROVAL_TYPE), -EBADMSG;
	if (!get_str(doc, "terminal_id", d->terminal_id, sizeof(d->terminal_id), false) ||
	    !get_int(doc, "version", 0, &d->version) || !get_int(doc, "issued_at", 0, &d->issued_at))
		return (*ret_why = "terminal_id, version or issued_at"), -EBADMSG;
	arr = cJSON_GetObjectItemCaseSensitive(doc, "approvals");
	if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) > APPROVAL_MAX)
		return (*ret_why = "approvals is not an array of at most 256"), -EBADMSG;
	cJSON_ArrayForEach(it, arr)
	{
		struct approval *a = &d->a[d->n];
		char kind[16], access[8];

		if (!cJSON_IsObject(it) || !get_str(it, "kind", kind, sizeof(kind), false) ||
		    (strcmp(kind, "device") != 0 && strcmp(kind, "exception") != 0))
			return (*ret_why = "an approval of an unknown kind"), -EBADMSG;
		a->kind = kind[0] == 'd' ? APPROVAL_DEVICE : APPROVAL_EXCEPTION;
		if (!exact_keys(it, a->kind == APPROVAL_DEVICE ? a_keys : x_keys))
			return (*ret_why = "an approval with a missing, unknown or duplicate field"), -EBADMSG;
		if (!get_str(it, "id", a->id, sizeof(a->id), false) || !hex_lower_exact(a->id, 32) ||
		    !get_str(it, "request_id", a->request_id, sizeof(a->request_id), false) ||
		    !hex_lower_exact(a->request_id, 32))
			return (*ret_why = "an approval's id or request_id"), -EBADMSG;
		if (a->kind == APPROVAL_EXCEPTION) {
			if (!get_str(it, "requirement", a->requirement, sizeof(a->requirement), false) ||
			    !approval_requirement_form(a->requirement))
				return (*ret_why = "an approval's requirement"), -EBADMSG;
		} else if (!get_str(it, "hash", a->hash, sizeof(a->hash), false) || !hex_lower_exact(a->hash, 64))
			return (*ret_why = "an approval's hash"), -EBADMSG;
		if (!get_str(it, "person", a->person, sizeof(a->person), true) ||
		    !get_str(it, "approved_by", a->approved_by, sizeof(a->approved_by), false))
			return (*ret_why = "an approval's person or approved_by"), -EBADMSG;
		if (a->kind == APPROVAL_DEVICE) {
			if (!get_str(it, "access", access, sizeof(access), false) ||
			    (strcmp(access, "ro") != 0 && strcmp(access, "rw") != 0))
				return (*ret_why = "an approval's access is not ro or rw"), -EBADMSG;
			a->access = access[1] == 'o' ? APPROVAL_RO : APPROVAL_RW;
		}
		if (!get_int(it, "not_after", 1, &a->not_after) || !get_int(it, "version", 1, &a->version) ||
		    a->version > d->version)
			return (*ret_why = "an approval's not_after or version"), -EBADMSG;
		d->n++;
	}
	return 0;
}
