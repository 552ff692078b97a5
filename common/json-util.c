/* common/json-util.c — see json-util.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "json-util.h"
#include "alloc-util.h"

static int cmp_name(const void *a, const void *b)
{
	return strcmp((*(const cJSON *const *)a)->string, (*(const cJSON *const *)b)->string);
}

/* One object's members, n of them (n >= 2): pairwise for a few, sorted
 * beyond (a body of many members costs n log n, not n²). */
static int object_twice(const cJSON *o, size_t n, const char **ret)
{
	const cJSON *small[16], **all = small, *c;
	size_t k = 0;
	int r = 0;

	if (n > ELEMENTSOF(small) && !(all = malloc(n * sizeof(*all))))
		return -ENOMEM;
	for (c = o->child; c; c = c->next)
		all[k++] = c;
	if (n > ELEMENTSOF(small))
		qsort(all, n, sizeof(*all), cmp_name);
	for (size_t a = 1; a < n && !r; a++) /* sorted: neighbours; a few: every earlier one */
		for (size_t z = n > ELEMENTSOF(small) ? a - 1 : 0; z < a && !r; z++)
			if (strcmp(all[z]->string, all[a]->string) == 0) {
				*ret = all[a]->string;
				r = 1;
			}
	if (all != small)
		free(all);
	return r;
}

/* The depth is cJSON's nesting limit; the frames on the way down are
 * small (object_twice's list is not on the recursion path). */
int json_member_twice(const cJSON *j, const char **ret)
{
	size_t n = 0;
	int r;

	if (!cJSON_IsObject(j) && !cJSON_IsArray(j))
		return 0;
	for (const cJSON *c = j->child; c; c = c->next, n++)
		if ((r = json_member_twice(c, ret)) != 0)
			return r;
	return cJSON_IsObject(j) && n >= 2 ? object_twice(j, n, ret) : 0;
}

bool json_escaped_nul(const char *buf, size_t len)
{
	bool in_string = false;

	for (size_t i = 0; i < len; i++) {
		if (!in_string) {
			in_string = buf[i] == '"';
		} else if (buf[i] == '"') {
			in_string = false;
		} else if (buf[i] == '\\') {
			if (len - i > 5 && memcmp(buf + i + 1, "u0000", 5) == 0)
				return true;
			i++; /* the escaped character: \\ or \" does not end or start anything */
		}
	}
	return false;
}
