/* tests/unit/test_schema_extremes.c — what the validator accepts, the agent
 * loads. The policy schema (policy/policy_schema.c) is the one definition of
 * the format; every module converts its section into its own settings with
 * its own bounds (rule ids in fixed buffers, counts it allocates for). A
 * document that `mamorictl policy check` and the server call valid but that
 * a module refuses keeps every terminal on its old rules — or, on a first
 * policy, on the gate's built-in ones — while the city believes the new
 * policy is in force.
 *
 * The oracle is the schema table itself: for every member of it (walked at
 * run time, so a member added later is covered without editing this test) a
 * document is generated with that one member at its limit — a string at its
 * longest, an array or map at its most items, an integer at its largest, an
 * object with every optional member present; and again at its lower limit —
 * and the rest small but valid.
 * policy_parse() must accept each (else the generator is wrong: the test
 * fails, it does not skip), and then the settings loader of every module
 * that reads the section (mamori-worker's modules and the gate's usb module,
 * through the module table) must accept it too. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "module.h"
#include "policy.h"
#include "policy_reqs.h"
#include "policy_schema.h"
#include "usb/usb.h"

extern const struct mamori_module *const mamori_modules[];

#define PATH_LEN 256

struct gen {
	const char *target; /* the path at its limit */
	bool low;           /* the lower limit: shortest, fewest, smallest */
	unsigned uniq;      /* makes ids, map keys and free text distinct */
	unsigned hits;      /* times the target was generated */
};

static cJSON *gen_node(struct gen *g, const struct policy_schema_node *n, const char *path);

/* a string of exactly len bytes valid for f, or NULL when f has none of
 * that length; u makes it distinct */
static char *fmt_candidate(enum policy_format f, size_t len, unsigned u)
{
	static const char *const fixed[] = {
	        "0781",          "08",    "08:06:50",        "*:*:*",      "08:*:*",     "1-1",
	        "2-1.4.3",       "usb1",  "0781:5567",       "abcd:*",     "*:*",        "debian:12",
	        "ubuntu:24.04",  "usb.*", "screenlock.idle", "2028-06-30", "10.0.0.0/8", "192.168.100.100/32",
	        "2001:db8::/32", NULL,
	};
	char *s = calloc(len + 1, 1);
	char num[16];
	size_t nl;

	assert_non_null(s);
	nl = (size_t)snprintf(num, sizeof(num), "%u", u);
	switch (f) {
	case POLICY_FORMAT_NONE:
	case POLICY_FORMAT_TEXT:
		/* distinct (a requester is never its approver): the number first */
		memset(s, 'x', len);
		memcpy(s, num, nl < len ? nl : len);
		break;
	case POLICY_FORMAT_ID:
	case POLICY_FORMAT_PACKAGE:
		memset(s, 'a', len);
		if (nl < len)
			memcpy(s + len - nl, num, nl);
		break;
	case POLICY_FORMAT_SHA256:
		memset(s, 'a', len);
		if (nl < len)
			memcpy(s + len - nl, num, nl);
		break;
	case POLICY_FORMAT_OS_ID:
		/* "debian:" and a distinct version */
		if (len > 7 + nl) {
			memcpy(s, "debian:", 7);
			memset(s + 7, '1', len - 7);
			memcpy(s + len - nl, num, nl);
		}
		break;
	case POLICY_FORMAT_BASE64:
		memset(s, 'A', len);
		if (len)
			s[len - 1] = '=';
		break;
	case POLICY_FORMAT_ABS_PATH:
		/* components of at most 200 bytes: a path the file system could hold */
		for (size_t i = 0; i < len; i++)
			s[i] = i % 201 == 0 ? '/' : 'p';
		if (len > 1 && s[len - 1] == '/')
			s[len - 1] = 'p';
		break;
	case POLICY_FORMAT_TIME: {
		char t[32];

		snprintf(t, sizeof(t), "2026-11-23T%02u:%02u:%02uZ", 9 + u / 3600 % 12, u / 60 % 60, u % 60);
		if (strlen(t) == len)
			memcpy(s, t, len);
		break;
	}
	case POLICY_FORMAT_REQUIREMENT: {
		const char *id;

		for (size_t i = 0; (id = policy_requirement_at(i)); i++)
			if (strlen(id) == len && policy_requirement_endpoint(id, NULL)) {
				memcpy(s, id, len);
				break;
			}
		break;
	}
	default:
		for (size_t i = 0; fixed[i]; i++)
			if (strlen(fixed[i]) == len && policy_format_valid(f, fixed[i])) {
				memcpy(s, fixed[i], len);
				break;
			}
		break;
	}
	if (strlen(s) != len || !policy_format_valid(f, s)) {
		free(s);
		return NULL;
	}
	return s;
}

/* the longest (at the limit) or a short valid string between lo and hi */
static cJSON *gen_string(struct gen *g, const struct policy_schema_node *n, bool limit)
{
	int64_t lo = n->min > 0 ? n->min : 0, hi = n->max > 0 ? n->max : 64;
	unsigned u = ++g->uniq;
	cJSON *v;

	if (n->enums)
		return cJSON_CreateString(n->enums[0]);
	if (limit && g->low) {
		for (int64_t len = lo; len <= hi; len++) {
			char *s = fmt_candidate(n->format, (size_t)len, u);

			if (s) {
				v = cJSON_CreateString(s);
				free(s);
				return v;
			}
		}
	} else if (limit) {
		for (int64_t len = hi; len >= lo; len--) {
			char *s = fmt_candidate(n->format, (size_t)len, u);

			if (s) {
				v = cJSON_CreateString(s);
				free(s);
				return v;
			}
		}
	} else {
		/* short, but long enough to be distinct */
		for (int64_t len = lo > 8 ? lo : 8; len <= hi; len++) {
			char *s = fmt_candidate(n->format, (size_t)len, u);

			if (s) {
				v = cJSON_CreateString(s);
				free(s);
				return v;
			}
		}
		for (int64_t len = lo; len < 8 && len <= hi; len++) {
			char *s = fmt_candidate(n->format, (size_t)len, u);

			if (s) {
				v = cJSON_CreateString(s);
				free(s);
				return v;
			}
		}
	}
	fail_msg("no %s string of %lld..%lld bytes", policy_format_to_string(n->format), (long long)lo, (long long)hi);
	return NULL;
}

static bool on_the_way(const char *path, const char *target)
{
	size_t l = strlen(path);

	return strncmp(path, target, l) == 0 && (target[l] == '\0' || target[l] == '.' || target[l] == '[');
}

static cJSON *gen_node(struct gen *g, const struct policy_schema_node *n, const char *path)
{
	bool limit = strcmp(path, g->target) == 0;
	char sub[PATH_LEN];
	cJSON *v = NULL;

	if (limit)
		g->hits++;
	switch (n->type) {
	case POLICY_TYPE_OBJECT:
		v = cJSON_CreateObject();
		for (const struct policy_schema_node *m = n->members; m && m->key; m++) {
			snprintf(sub, sizeof(sub), "%s%s%s", path, path[0] ? "." : "", m->key);
			if (m->required || (limit && !g->low) || on_the_way(sub, g->target))
				cJSON_AddItemToObject(v, m->key, gen_node(g, m, sub));
		}
		if ((n->flags & POLICY_SCHEMA_NONEMPTY) && !v->child && n->members && n->members[0].key) {
			snprintf(sub, sizeof(sub), "%s%s%s", path, path[0] ? "." : "", n->members[0].key);
			cJSON_AddItemToObject(v, n->members[0].key, gen_node(g, &n->members[0], sub));
		}
		break;
	case POLICY_TYPE_ARRAY:
	case POLICY_TYPE_MAP: {
		int64_t k = limit ? (g->low ? n->min : n->max) : (n->min > 1 ? n->min : 1);

		if (k > 4096)
			k = 4096;
		snprintf(sub, sizeof(sub), "%s[]", path);
		v = n->type == POLICY_TYPE_ARRAY ? cJSON_CreateArray() : cJSON_CreateObject();
		for (int64_t i = 0; i < k; i++) {
			cJSON *item = gen_node(g, n->items, sub);

			if (n->type == POLICY_TYPE_ARRAY) {
				cJSON_AddItemToArray(v, item);
			} else {
				struct policy_schema_node key = {
				        .type = POLICY_TYPE_STRING, .format = n->key_format, .min = 1, .max = 64};
				cJSON *kv = gen_string(g, &key, false);

				cJSON_AddItemToObject(v, kv->valuestring, item);
				cJSON_Delete(kv);
			}
		}
		break;
	}
	case POLICY_TYPE_STRING:
	case POLICY_TYPE_STRING_OR_NULL:
		v = gen_string(g, n, limit);
		break;
	case POLICY_TYPE_INT:
		v = cJSON_CreateNumber((double)(limit && !g->low ? n->max : n->min));
		break;
	case POLICY_TYPE_BOOL:
		v = cJSON_CreateBool(limit && !g->low);
		break;
	default:
		fail_msg("%s: schema type %d", path, (int)n->type);
	}
	assert_non_null(v);
	return v;
}

/* every path of the schema, in table order */
static void collect(const struct policy_schema_node *n, const char *path, char (*paths)[PATH_LEN], size_t *np,
                    size_t max)
{
	char sub[PATH_LEN];

	assert_true(*np < max);
	snprintf(paths[(*np)++], PATH_LEN, "%s", path);
	if (n->type == POLICY_TYPE_OBJECT) {
		for (const struct policy_schema_node *m = n->members; m && m->key; m++) {
			snprintf(sub, sizeof(sub), "%s%s%s", path, path[0] ? "." : "", m->key);
			collect(m, sub, paths, np, max);
		}
	} else if (n->type == POLICY_TYPE_ARRAY || n->type == POLICY_TYPE_MAP) {
		snprintf(sub, sizeof(sub), "%s[]", path);
		collect(n->items, sub, paths, np, max);
	}
}

/* the settings loader of one module on the policy; 0 when it has none */
static int load_module(const struct mamori_module *m, const struct mamori_policy *p, char *why, size_t whysz)
{
	const cJSON *sec[MAMORI_MODULE_MAX_SECTIONS + 1] = {0};
	void *settings;
	int r = 0;

	if (!m->section || (!m->settings_load && !m->settings_load_sections))
		return 0;
	settings = calloc(1, m->settings_size ? m->settings_size : 1);
	assert_non_null(settings);
	sec[0] = policy_section(p, m->section);
	if (m->settings_load_sections) {
		for (size_t i = 0; m->more_sections && m->more_sections[i]; i++) {
			assert_true(i + 1 < MAMORI_MODULE_MAX_SECTIONS);
			sec[i + 1] = policy_section(p, m->more_sections[i]);
		}
		r = m->settings_load_sections(sec, settings);
	} else {
		r = m->settings_load(sec[0], settings);
	}
	if (r >= 0 && m->settings_done)
		m->settings_done(settings);
	free(settings);
	snprintf(why, whysz, "module %s: %d (%s)", m->name, r, r < 0 ? strerror(-r) : "ok");
	return r;
}

static void every_limit_loads(bool low)
{
	static char paths[4096][PATH_LEN];
	const char *at = low ? "at its lower limit" : "at its limit";
	size_t np = 0, checked = 0, refused = 0;

	collect(&policy_schema_root, "", paths, &np, 4096);
	assert_true(np > 100); /* the walk reached the sections */
	for (size_t i = 0; i < np; i++) {
		struct gen g = {.target = paths[i], .low = low};
		cJSON *doc = gen_node(&g, &policy_schema_root, "");
		char *text = cJSON_PrintUnformatted(doc);
		struct mamori_policy *p = NULL;
		static struct policy_errors errs;
		char why[128];

		assert_non_null(text);
		assert_true(g.hits > 0);
		policy_errors_init(&errs);
		if (strlen(text) > POLICY_SIZE_MAX) {
			/* a limit no document can reach: the size cap comes first */
			free(text);
			cJSON_Delete(doc);
			continue;
		}
		if (policy_parse(text, strlen(text), &p, &errs) < 0) {
			policy_errors_print(&errs, stderr, "en");
			fail_msg("%s %s: the generated document does not validate", paths[i], at);
		}
		/* every refusal is listed, not only the first */
		for (size_t k = 0; mamori_modules[k]; k++)
			if (load_module(mamori_modules[k], p, why, sizeof(why)) < 0) {
				print_error("%s %s: valid, but %s\n", paths[i], at, why);
				refused++;
			}
		if (load_module(&usb_module, p, why, sizeof(why)) < 0) {
			print_error("%s %s: valid, but %s\n", paths[i], at, why);
			refused++;
		}
		checked++;
		policy_free(p);
		free(text);
		cJSON_Delete(doc);
	}
	print_message("%zu schema paths, %zu documents %s valid, %zu refusals by a module\n", np, checked,
	              low ? "at a lower limit" : "at a limit", refused);
	assert_int_equal(refused, 0);
	assert_true(checked > np * 9 / 10);
}

/* the longest string, the most items, the largest integer, every member */
static void test_every_limit_loads(void **state)
{
	(void)state;
	every_limit_loads(false);
}

/* the shortest string, the fewest items (none where none is allowed), the
 * smallest integer, false */
static void test_every_lower_limit_loads(void **state)
{
	(void)state;
	every_limit_loads(true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_every_limit_loads),
	        cmocka_unit_test(test_every_lower_limit_loads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
