/* policy/policy.c — parsing a policy document into a validated
 * struct mamori_policy, and the cross-field rules the schema cannot express
 * (mamori-worker, mamorictl). */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "alloc-util.h"
#include "fileio.h"
#include "policy.h"
#include "policy_schema.h"
#include "strutil.h"
#include "json-util.h"

struct mamori_policy {
	cJSON *doc;
	int64_t version;
	const char *segment; /* points into doc */
	char sha256[65];     /* of the exact bytes verified ("" when not known) */
};

static void *(*mem_malloc)(size_t) = malloc;
static void (*mem_free)(void *) = free;
static bool hooks_installed;
/* Set when an allocation failed: cJSON reports an allocation failure like a
 * syntax error, this tells the two apart. */
static _Thread_local bool alloc_failed;

/* cJSON's allocations go through policy_mem_alloc (process-wide, plain
 * malloc unless a test set hooks), so that a failure is noticed and the
 * torture test reaches them. */
static void install_hooks(void)
{
	cJSON_Hooks hooks = {.malloc_fn = policy_mem_alloc, .free_fn = policy_mem_free};

	if (hooks_installed)
		return;
	cJSON_InitHooks(&hooks);
	hooks_installed = true;
}

void policy_mem_set_hooks(void *(*malloc_fn)(size_t), void (*free_fn)(void *))
{
	mem_malloc = malloc_fn ? malloc_fn : malloc;
	mem_free = free_fn ? free_fn : free;
	install_hooks();
}

void *policy_mem_alloc(size_t n)
{
	void *p = mem_malloc(n);

	if (!p)
		alloc_failed = true;
	return p;
}

void policy_mem_free(void *p)
{
	if (p)
		mem_free(p);
}

/* ---- cross-field rules ----------------------------------------------------- */

static const char *get_string(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void path_of(char *buf, size_t bufsz, const char *array, int i, const char *key)
{
	(void)xsnprintf(buf, bufsz, "%s[%d].%s", array, i, key);
}

/* Entries of `array` (a top-level or nested array path) that name a person and
 * an approver: OPS-4 forbids the two to be the same; not_after must follow
 * not_before. */
static void check_grants(const cJSON *arr, const char *path, const char *person_key, struct policy_errors *errs)
{
	const cJSON *e;
	int i = 0;
	char where[POLICY_PATH_MAX];

	if (!cJSON_IsArray(arr))
		return;
	cJSON_ArrayForEach(e, arr)
	{
		const char *who = get_string(e, person_key), *approver = get_string(e, "approver");
		const char *nb = get_string(e, "not_before"), *na = get_string(e, "not_after");
		time_t tb, ta;

		if (who && approver && strcmp(who, approver) == 0) {
			path_of(where, sizeof(where), path, i, "approver");
			policy_errors_add(errs, POLICY_ERROR_SAME_PERSON, where, NULL);
		}
		if (nb && na && policy_time_parse(nb, &tb) == 0 && policy_time_parse(na, &ta) == 0 && ta <= tb) {
			path_of(where, sizeof(where), path, i, "not_after");
			policy_errors_add(errs, POLICY_ERROR_TIME_ORDER, where, NULL);
		}
		if (++i >= 1024)
			break;
	}
}

static void check_semantics(const cJSON *doc, struct policy_errors *errs)
{
	const cJSON *carry = cJSON_GetObjectItemCaseSensitive(doc, "carry");

	check_grants(cJSON_GetObjectItemCaseSensitive(doc, "exceptions"), "exceptions", "requester", errs);
	if (cJSON_IsObject(carry))
		check_grants(cJSON_GetObjectItemCaseSensitive(carry, "approvals"), "carry.approvals", "person", errs);
}

/* ---- parsing ------------------------------------------------------------------ */

static bool only_whitespace(const char *p, const char *end)
{
	for (; p < end; p++)
		if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
			return false;
	return true;
}

int policy_parse(const char *buf, size_t len, struct mamori_policy **ret, struct policy_errors *errs)
{
	_cleanup_(cJSON_Deletep) cJSON *doc = NULL;
	_cleanup_free_ struct policy_errors *local = NULL; /* 22 KB: not on the stack (mamorid's VmHWM) */
	struct mamori_policy *p;
	const char *end = NULL;
	char arg[32];
	size_t before;

	if (!errs) {
		local = malloc(sizeof(*local));
		if (!local)
			return -ENOMEM;
		policy_errors_init(local);
		errs = local;
	}
	before = errs->n + errs->dropped;
	if (len > POLICY_SIZE_MAX) {
		(void)xsnprintf(arg, sizeof(arg), "%d", POLICY_SIZE_MAX);
		policy_errors_add(errs, POLICY_ERROR_TOO_BIG, "", arg);
		return -EFBIG;
	}
	/* a NUL, raw or escaped, would end a string where cJSON reads it */
	if (!buf || !utf8_valid(buf, len) || memchr(buf, '\0', len) || json_escaped_nul(buf, len)) {
		policy_errors_add(errs, POLICY_ERROR_ENCODING, "", NULL);
		return -EINVAL;
	}
	install_hooks();
	alloc_failed = false;
	doc = cJSON_ParseWithLengthOpts(buf, len, &end, false);
	if (!doc) {
		if (alloc_failed) {
			policy_errors_add(errs, POLICY_ERROR_NOMEM, "", NULL);
			return -ENOMEM;
		}
		end = cJSON_GetErrorPtr();
		(void)xsnprintf(arg, sizeof(arg), "%zu",
		                end && end >= buf && end <= buf + len ? (size_t)(end - buf) : len);
		policy_errors_add(errs, POLICY_ERROR_SYNTAX, "", arg);
		return -EINVAL;
	}
	if (end && !only_whitespace(end, buf + len)) {
		(void)xsnprintf(arg, sizeof(arg), "%zu", (size_t)(end - buf));
		policy_errors_add(errs, POLICY_ERROR_SYNTAX, "", arg);
		return -EINVAL;
	}
	(void)policy_schema_validate(doc, errs);
	check_semantics(doc, errs);
	if (errs->n + errs->dropped > before)
		return -EINVAL;

	p = policy_mem_alloc(sizeof(*p));
	if (!p) {
		policy_errors_add(errs, POLICY_ERROR_NOMEM, "", NULL);
		return -ENOMEM;
	}
	p->version = (int64_t)cJSON_GetObjectItemCaseSensitive(doc, "version")->valuedouble;
	p->segment = cJSON_GetObjectItemCaseSensitive(doc, "segment")->valuestring;
	p->doc = TAKE_PTR(doc);
	*ret = p;
	return 0;
}

/* ---- usb.rules one rule at a time (mamorid) ------------------------------------ */

static const char *skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

/* One JSON value after whitespace at *pos, parsed alone; *pos moves past it.
 * It must begin with `first` ('"', '{'; 0: any value). A value parsed alone
 * is the value the whole document's parse makes of it, but for what cJSON
 * allows before a document and JSON does not inside one: a byte-order mark. */
static cJSON *parse_one(const char **pos, const char *end, char first)
{
	const char *p = skip_ws(*pos, end), *e = NULL;
	cJSON *v;

	if (p >= end || (first && *p != first) || (unsigned char)*p == 0xEF)
		return NULL;
	v = cJSON_ParseWithLengthOpts(p, (size_t)(end - p), &e, false);
	if (v && (!e || e <= p || e > end)) {
		cJSON_Delete(v);
		v = NULL;
	}
	if (v)
		*pos = e;
	return v;
}

/* A key and its colon; NULL when the text is not that. */
static cJSON *parse_key(const char **pos, const char *end)
{
	cJSON *k = parse_one(pos, end, '"');
	const char *p;

	if (!k)
		return NULL;
	p = skip_ws(*pos, end);
	if (p >= end || *p != ':' || !cJSON_IsString(k)) {
		cJSON_Delete(k);
		return NULL;
	}
	*pos = p + 1;
	return k;
}

/* The '[' of the first "rules" member of the first top-level "usb" member,
 * every value before it parsed alone as cJSON parses it in the document;
 * NULL for anything else (no such array, text that is not JSON). */
static const char *find_usb_rules(const char *buf, const char *end)
{
	const char *p = skip_ws(buf, end);
	bool in_usb = false;

	if (p >= end || *p != '{')
		return NULL;
	p++;
	for (;;) {
		cJSON *k = parse_key(&p, end);
		bool descend;

		if (!k)
			return NULL;
		descend = strcmp(k->valuestring, in_usb ? "rules" : "usb") == 0;
		cJSON_Delete(k);
		p = skip_ws(p, end);
		if (descend && in_usb)
			return p < end && *p == '[' ? p : NULL;
		if (descend) {
			if (p >= end || *p != '{')
				return NULL;
			p++;
			in_usb = true;
			continue;
		}
		{
			cJSON *v = parse_one(&p, end, 0);

			if (!v)
				return NULL;
			cJSON_Delete(v);
		}
		p = skip_ws(p, end);
		if (p >= end || *p != ',')
			return NULL; /* the object ends before a usb.rules */
		p++;
	}
}

void policy_array_iter_init(struct policy_array_iter *it, const char *text, size_t len)
{
	*it = (struct policy_array_iter){.p = text, .end = text + len};
}

int policy_array_iter_next(struct policy_array_iter *it, cJSON **ret)
{
	const char *p = skip_ws(it->p, it->end);

	*ret = NULL;
	if (it->done)
		return 0;
	if (it->n == 0 && !it->opened) {
		if (p >= it->end || *p != '[')
			return -EINVAL;
		it->opened = true;
		p = skip_ws(p + 1, it->end);
		if (p < it->end && *p == ']') {
			it->done = true;
			it->p = p + 1;
			return 0;
		}
	} else {
		if (p >= it->end)
			return -EINVAL;
		if (*p == ']') {
			it->done = true;
			it->p = p + 1;
			return 0;
		}
		if (*p != ',')
			return -EINVAL;
		p++;
	}
	/* every item of the arrays read this way is an object */
	*ret = parse_one(&p, it->end, '{');
	if (!*ret)
		return -EINVAL;
	it->p = p;
	it->n++;
	return 1;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Each rule of the array at rs validated as the document's validator does
 * (schema, count, unique ids); *ret_end after its ']', *ret_n rules. 0, or
 * negative when any of it is not so. */
static int check_rules(const char *rs, const char *end, const char **ret_end, size_t *ret_n)
{
	_cleanup_free_ struct policy_errors *errs = malloc(sizeof(*errs));
	_cleanup_free_ char **ids = NULL;
	int64_t max = policy_schema_max_items("usb", "rules");
	struct policy_array_iter it;
	size_t n = 0;
	cJSON *rule;
	int r = 0;

	if (!errs || max < 0 || !(ids = calloc((size_t)max + 1, sizeof(*ids))))
		return -ENOMEM;
	policy_errors_init(errs);
	policy_array_iter_init(&it, rs, (size_t)(end - rs));
	while (r == 0 && (r = policy_array_iter_next(&it, &rule)) > 0) {
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(rule, "id");

		r = (int64_t)n >= max ? -E2BIG : policy_schema_validate_item("usb", "rules", n, rule, errs);
		if (r == 0 && !(ids[n] = strdup(cJSON_GetStringValue(id))))
			r = -ENOMEM; /* the schema requires a string id */
		cJSON_Delete(rule);
		if (r == 0)
			n++;
	}
	if (r == 0) {
		qsort(ids, n, sizeof(*ids), cmp_str);
		for (size_t i = 1; i < n && r == 0; i++)
			if (strcmp(ids[i - 1], ids[i]) == 0)
				r = -EEXIST;
	}
	for (size_t i = 0; i < n; i++)
		free(ids[i]);
	*ret_end = it.p;
	*ret_n = n;
	return r;
}

int policy_parse_usb_streamed(const char *buf, size_t len, struct mamori_policy **ret, struct policy_errors *errs)
{
	const char *end = buf + len, *rs, *re = NULL;
	_cleanup_free_ struct policy_errors *shell_errs = NULL;
	_cleanup_free_ char *shell = NULL;
	struct mamori_policy *p = NULL;
	cJSON *usb, *raw;
	char *copy;
	size_t n = 0, sl;

	if (!buf || len > POLICY_SIZE_MAX || !utf8_valid(buf, len) || memchr(buf, '\0', len) ||
	    json_escaped_nul(buf, len))
		return policy_parse(buf, len, ret, errs);
	install_hooks();
	rs = find_usb_rules(buf, end);
	if (!rs || check_rules(rs, end, &re, &n) < 0)
		return policy_parse(buf, len, ret, errs);
	/* the document with "rules": [] — validated whole; the rules were */
	sl = (size_t)(rs - buf) + 2 + (size_t)(end - re);
	shell = malloc(sl);
	shell_errs = malloc(sizeof(*shell_errs));
	if (!shell || !shell_errs)
		return policy_parse(buf, len, ret, errs);
	memcpy(shell, buf, (size_t)(rs - buf));
	memcpy(shell + (rs - buf), "[]", 2);
	memcpy(shell + (rs - buf) + 2, re, (size_t)(end - re));
	policy_errors_init(shell_errs);
	if (policy_parse(shell, sl, &p, shell_errs) < 0)
		return policy_parse(buf, len, ret, errs);
	free(TAKE_PTR(shell));
	/* the rules' text in place of the empty array, as a raw node */
	usb = cJSON_GetObjectItemCaseSensitive(p->doc, "usb");
	copy = policy_mem_alloc((size_t)(re - rs) + 1);
	raw = copy ? cJSON_CreateRaw("") : NULL;
	if (!raw || !cJSON_ReplaceItemInObjectCaseSensitive(usb, "rules", raw)) {
		cJSON_Delete(raw);
		policy_mem_free(copy);
		policy_free(p);
		return policy_parse(buf, len, ret, errs);
	}
	memcpy(copy, rs, (size_t)(re - rs));
	copy[re - rs] = '\0';
	policy_mem_free(raw->valuestring);
	raw->valuestring = copy;
	raw->valueint = (int)n;
	raw->valuedouble = (double)n;
	*ret = p;
	return 0;
}

int policy_load_unsigned(const char *path, struct mamori_policy **ret, struct policy_errors *errs)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	int r;

	r = read_file_capped(path, POLICY_SIZE_MAX, &buf, &len);
	if (r == -EFBIG) {
		char arg[32];

		(void)xsnprintf(arg, sizeof(arg), "%d", POLICY_SIZE_MAX);
		policy_errors_add(errs, POLICY_ERROR_TOO_BIG, "", arg);
	}
	if (r < 0)
		return r;
	return policy_parse(buf, len, ret, errs);
}

void policy_free(struct mamori_policy *p)
{
	if (!p)
		return;
	cJSON_Delete(p->doc);
	policy_mem_free(p);
}

const cJSON *policy_section(const struct mamori_policy *p, const char *name)
{
	const cJSON *s;

	if (!p || !name || strcmp(name, "schema") == 0 || strcmp(name, "version") == 0 ||
	    strcmp(name, "segment") == 0 || strcmp(name, "name") == 0)
		return NULL;
	s = cJSON_GetObjectItemCaseSensitive(p->doc, name);
	return cJSON_IsObject(s) || cJSON_IsArray(s) ? s : NULL;
}

const char *policy_sha256(const struct mamori_policy *p)
{
	return p ? p->sha256 : "";
}

void policy_set_sha256(struct mamori_policy *p, const char *hex)
{
	if (p)
		strscpy(p->sha256, sizeof(p->sha256), hex ? hex : "");
}

int64_t policy_version(const struct mamori_policy *p)
{
	return p ? p->version : 0;
}

const char *policy_segment(const struct mamori_policy *p)
{
	return p ? p->segment : NULL;
}

const cJSON *policy_document(const struct mamori_policy *p)
{
	return p ? p->doc : NULL;
}
