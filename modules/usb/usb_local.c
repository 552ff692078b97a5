/* modules/usb/usb_local.c — the local USB exceptions in force in the gate
 * (mamorid): exact parsing of the worker's `usb_local` message and the
 * look-up the decision makes (issue 12.6, OPS-3, MEDIA-1). */
#include <errno.h>
#include <string.h>

#include "alloc-util.h"
#include "strutil.h"
#include "usb_local.h"

static const char *const fields[] = {"id", "action", "hash", "not_after", "policy_version"};

bool usb_local_is_hash(const char *s)
{
	size_t i;

	for (i = 0; s && s[i]; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return s && i == 64;
}

static bool is_id(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      s[i] == '-' || s[i] == '_' || s[i] == '.'))
			return false;
	return i > 0 && i <= 64;
}

static bool whole_nonneg(const cJSON *v)
{
	return cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble <= 9007199254740991.0 &&
	       v->valuedouble == (double)(int64_t)v->valuedouble;
}

static int parse_one(const cJSON *o, struct usb_local *e, const char **why)
{
	const cJSON *it, *id = NULL, *action = NULL, *hash = NULL, *na = NULL, *pv = NULL;

	if (!cJSON_IsObject(o))
		return *why = "usb_local: an exception is not an object", -EBADMSG;
	cJSON_ArrayForEach(it, o)
	{
		const cJSON **slot[] = {&id, &action, &hash, &na, &pv};
		size_t k;

		for (k = 0; k < ELEMENTSOF(fields); k++)
			if (it->string && strcmp(it->string, fields[k]) == 0)
				break;
		if (k == ELEMENTSOF(fields))
			return *why = "usb_local: unknown field in an exception", -EBADMSG;
		if (*slot[k])
			return *why = "usb_local: a field given twice", -EBADMSG;
		*slot[k] = it;
	}
	if (!cJSON_IsString(id) || !is_id(id->valuestring))
		return *why = "usb_local: id missing or invalid", -EBADMSG;
	if (!cJSON_IsString(action) || usb_local_action_from_string(action->valuestring) < 0)
		return *why = "usb_local: action missing or not allow/block/allow_ro/allow_rw", -EBADMSG;
	if (!cJSON_IsString(hash) || !usb_local_is_hash(hash->valuestring))
		return *why = "usb_local: hash missing or not 64 lower-case hex digits", -EBADMSG;
	if (!whole_nonneg(na) || !whole_nonneg(pv))
		return *why = "usb_local: not_after/policy_version missing or not a whole number", -EBADMSG;
	/* never unbounded: either a time or a policy version ends it */
	if (na->valuedouble == 0 && pv->valuedouble == 0)
		return *why = "usb_local: an exception without an end", -EBADMSG;
	strscpy(e->id, sizeof(e->id), id->valuestring);
	strscpy(e->hash, sizeof(e->hash), hash->valuestring);
	e->action = (enum usb_local_action)usb_local_action_from_string(action->valuestring);
	e->not_after = (int64_t)na->valuedouble;
	e->policy_version = (int64_t)pv->valuedouble;
	return 0;
}

static const char *const action_names[] = {
        [USB_LOCAL_ALLOW] = "allow",
        [USB_LOCAL_BLOCK] = "block",
        [USB_LOCAL_ALLOW_RO] = "allow_ro",
        [USB_LOCAL_ALLOW_RW] = "allow_rw",
};

int usb_local_action_from_string(const char *s)
{
	for (size_t i = 0; i < ELEMENTSOF(action_names); i++)
		if (s && strcmp(s, action_names[i]) == 0)
			return (int)i;
	return -EINVAL;
}

const char *usb_local_action_to_string(enum usb_local_action a)
{
	return (size_t)a < ELEMENTSOF(action_names) ? action_names[a] : "invalid";
}

int usb_local_parse(const cJSON *arr, struct usb_local_set *ret, const char **ret_why)
{
	static struct usb_local_set s; /* mamorid is single-threaded; the set is large */
	const cJSON *it;
	int r;

	if (!cJSON_IsArray(arr))
		return *ret_why = "usb_local: exceptions is not an array", -EBADMSG;
	if (cJSON_GetArraySize(arr) > USB_LOCAL_MAX)
		return *ret_why = "usb_local: too many exceptions", -EBADMSG;
	s.n = 0;
	cJSON_ArrayForEach(it, arr)
	{
		r = parse_one(it, &s.e[s.n], ret_why);
		if (r < 0)
			return r;
		s.n++;
	}
	*ret = s;
	return 0;
}

static bool in_force(const struct usb_local *e, time_t now, int64_t pv)
{
	if (e->not_after && (int64_t)now >= e->not_after)
		return false;
	if (e->policy_version && e->policy_version != pv)
		return false;
	return true;
}

const struct usb_local *usb_local_find(const struct usb_local_set *s, const char *hash_hex, time_t now, int64_t pv)
{
	const struct usb_local *found = NULL;

	if (!s || !hash_hex || !hash_hex[0])
		return NULL;
	for (size_t i = 0; i < s->n; i++) {
		const struct usb_local *e = &s->e[i];

		if (strcmp(e->hash, hash_hex) != 0 || !in_force(e, now, pv))
			continue;
		if (e->action == USB_LOCAL_BLOCK)
			return e;
		if (!found)
			found = e;
	}
	return found;
}

size_t usb_local_prune(struct usb_local_set *s, time_t now, int64_t pv, struct usb_local *ended, size_t max)
{
	size_t n = 0, w = 0;

	for (size_t i = 0; i < s->n; i++) {
		if (in_force(&s->e[i], now, pv)) {
			s->e[w++] = s->e[i];
			continue;
		}
		if (n < max)
			ended[n] = s->e[i];
		n++;
	}
	s->n = w;
	return n;
}
