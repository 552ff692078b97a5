/* protocol/approval.c — the exact parser of approval data (protocol/approval.h);
 * runs in the root part of `mamorictl server sync` and in mamori-worker. */
#include <errno.h>
#include <stdlib.h>
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
	/* a carry-out (CARRY-2): the medium's identity instead of a descriptor
	 * hash, and the window's start */
	static const char *const c_keys[] = {"id",         "request_id", "kind",        "medium",  "person", "access",
	                                     "not_before", "not_after",  "approved_by", "version", NULL};
	static const char *const m_keys[] = {"vendor", "product", "serial", NULL};
	/* an exception of one requirement (issue 16.3) */
	static const char *const x_keys[] = {"id",        "request_id",  "kind",    "requirement", "person",
	                                     "not_after", "approved_by", "version", NULL};
	_cleanup_json_ cJSON *doc = NULL;
	const cJSON *arr, *it;
	struct approval_doc *d = ret;
	char type[32];

	*ret_why = "not a JSON object";
	if (len > APPROVAL_DOC_MAX)
		return (*ret_why = "too large"), -EBADMSG;
	if (memchr(buf, '\0', len) || json_escaped_nul(buf, len))
		return (*ret_why = "holds a NUL character (a serial or a name would end there)"), -EBADMSG;
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
		const cJSON *k = cJSON_IsObject(it) ? cJSON_GetObjectItemCaseSensitive(it, "kind") : NULL;

		if (!cJSON_IsString(k))
			return (*ret_why = "an approval of an unknown kind"), -EBADMSG;
		if (strcmp(k->valuestring, "device") == 0)
			a->kind = APPROVAL_DEVICE;
		else if (strcmp(k->valuestring, "carry-out") == 0)
			a->kind = APPROVAL_CARRY_OUT;
		else if (strcmp(k->valuestring, "exception") == 0)
			a->kind = APPROVAL_EXCEPTION;
		else
			return (*ret_why = "an approval of an unknown kind"), -EBADMSG;
		if (!exact_keys(it, a->kind == APPROVAL_DEVICE      ? a_keys
		                    : a->kind == APPROVAL_CARRY_OUT ? c_keys
		                                                    : x_keys) ||
		    !get_str(it, "kind", kind, sizeof(kind), false))
			return (*ret_why = "an approval with a missing, unknown or duplicate field"), -EBADMSG;
		if (!get_str(it, "id", a->id, sizeof(a->id), false) || !hex_lower_exact(a->id, 32) ||
		    !get_str(it, "request_id", a->request_id, sizeof(a->request_id), false) ||
		    !hex_lower_exact(a->request_id, 32))
			return (*ret_why = "an approval's id or request_id"), -EBADMSG;
		if (a->kind == APPROVAL_DEVICE) {
			if (!get_str(it, "hash", a->hash, sizeof(a->hash), false) || !hex_lower_exact(a->hash, 64))
				return (*ret_why = "an approval's hash"), -EBADMSG;
		} else if (a->kind == APPROVAL_EXCEPTION) {
			if (!get_str(it, "requirement", a->requirement, sizeof(a->requirement), false) ||
			    !approval_requirement_form(a->requirement))
				return (*ret_why = "an approval's requirement"), -EBADMSG;
		} else {
			const cJSON *m = cJSON_GetObjectItemCaseSensitive(it, "medium");
			char v[8], p[8];

			if (!cJSON_IsObject(m) || !exact_keys(m, m_keys) ||
			    !get_str(m, "vendor", v, sizeof(v), false) || !get_str(m, "product", p, sizeof(p), false) ||
			    !hex_lower_exact(v, 4) || !hex_lower_exact(p, 4) ||
			    !get_str(m, "serial", a->serial, sizeof(a->serial), false))
				return (*ret_why = "a carry-out's medium (vendor, product: 4 hex; serial)"), -EBADMSG;
			a->vendor = (uint16_t)strtoul(v, NULL, 16);
			a->product = (uint16_t)strtoul(p, NULL, 16);
			if (!get_int(it, "not_before", 1, &a->not_before))
				return (*ret_why = "a carry-out's not_before"), -EBADMSG;
		}
		/* a carry-out names its person; a device or an exception may be anyone's */
		if (!get_str(it, "person", a->person, sizeof(a->person), a->kind != APPROVAL_CARRY_OUT) ||
		    !get_str(it, "approved_by", a->approved_by, sizeof(a->approved_by), false))
			return (*ret_why = "an approval's person or approved_by"), -EBADMSG;
		if (a->kind != APPROVAL_EXCEPTION) {
			if (!get_str(it, "access", access, sizeof(access), false) ||
			    (strcmp(access, "ro") != 0 && strcmp(access, "rw") != 0))
				return (*ret_why = "an approval's access is not ro or rw"), -EBADMSG;
			a->access = access[1] == 'o' ? APPROVAL_RO : APPROVAL_RW;
		}
		if (a->kind == APPROVAL_CARRY_OUT && a->access != APPROVAL_RW)
			return (*ret_why = "a carry-out allows writing: its access is rw"), -EBADMSG;
		if (!get_int(it, "not_after", 1, &a->not_after) || !get_int(it, "version", 1, &a->version) ||
		    a->version > d->version || (a->kind == APPROVAL_CARRY_OUT && a->not_after < a->not_before))
			return (*ret_why = "an approval's not_after or version"), -EBADMSG;
		d->n++;
	}
	return 0;
}
