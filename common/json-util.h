/* common/json-util.h — cleanup helpers for cJSON (any process). */
#ifndef MAMORI_JSON_UTIL_H
#define MAMORI_JSON_UTIL_H

#include <stdbool.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "alloc-util.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(cJSON *, cJSON_Delete)
#define _cleanup_json_ _cleanup_(cJSON_Deletep)

/* Every member of o is named in keys (NULL-terminated): an unknown field is
 * an error, never ignored. Says nothing of missing ones. */
static inline bool json_only_keys(const cJSON *o, const char *const *keys)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, o)
	{
		size_t k;

		for (k = 0; keys[k]; k++)
			if (it->string && strcmp(it->string, keys[k]) == 0)
				break;
		if (!keys[k])
			return false;
	}
	return true;
}

/* A member named twice in one object, anywhere in j: 1 and *ret its name
 * (borrowed from j), 0 if none, -ENOMEM. RFC 8259 leaves which of the two
 * counts to the reader (cJSON: the first), so an input with one is refused
 * whole, never read one way here and another way elsewhere — nested
 * objects included, which no list of members looks into. n log n for an
 * object of many members. */
int json_member_twice(const cJSON *j, const char **ret);

/* true when a string of the JSON text buf[0..len) holds the escape \u0000.
 * cJSON decodes it into a C string as the string's end: "AB\u0000CD" is
 * read as "AB" — a serial, an id or a path that means something else than
 * what was written (and signed). Inputs where a string is a name refuse it,
 * as they refuse a raw NUL byte. */
bool json_escaped_nul(const char *buf, size_t len);

#endif
