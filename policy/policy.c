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
	if (!buf || !utf8_valid(buf, len) || memchr(buf, '\0', len)) {
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
