/* agent/sdk/result.c — check results and the report that owns them (mamori-worker, mamorictl). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc-util.h"
#include "buf.h"
#include "result.h"
#include "strutil.h"

static const char *const status_names[_CHECK_STATUS_MAX] = {
        [CHECK_PASS] = "pass",
        [CHECK_FAIL] = "fail",
        [CHECK_ERROR] = "error",
        [CHECK_NOT_APPLICABLE] = "not_applicable",
};

const char *check_status_to_string(enum check_status s)
{
	if (s < 0 || s >= _CHECK_STATUS_MAX)
		return NULL;
	return status_names[s];
}

enum check_status check_status_from_string(const char *s)
{
	for (int i = 0; i < _CHECK_STATUS_MAX; i++)
		if (s && strcmp(s, status_names[i]) == 0)
			return (enum check_status)i;
	return _CHECK_STATUS_INVALID;
}

static void result_free(struct check_result *r)
{
	if (!r)
		return;
	free(r->id);
	free(r->module);
	for (size_t i = 0; i < r->n_evidence; i++) {
		free(r->evidence[i].key);
		free(r->evidence[i].value);
	}
	free(r->summary_ja);
	free(r->summary_en);
	free(r->remedy_ja);
	free(r->remedy_en);
	free(r->exception);
	free(r);
}

/* Requirement IDs are few and short (REQUIREMENTS.md has ~40): results point
 * into this intern table instead of owning copies. */
static const char *req_intern(const char *p, size_t l)
{
	static char pool[128][16];
	static size_t npool;

	if (l == 0 || l >= sizeof(pool[0]))
		return NULL;
	for (size_t i = 0; i < npool; i++)
		if (strncmp(pool[i], p, l) == 0 && pool[i][l] == '\0')
			return pool[i];
	if (npool >= ELEMENTSOF(pool))
		return NULL;
	memcpy(pool[npool], p, l);
	pool[npool][l] = '\0';
	return pool[npool++];
}

int check_result_add_req(struct check_result *r, const char *id)
{
	const char *s = req_intern(id, strlen(id));

	if (!s)
		return -EINVAL;
	if (r->n_reqs >= CHECK_MAX_REQS)
		return -E2BIG;
	r->reqs[r->n_reqs++] = s;
	return 0;
}

static int set_reqs(struct check_result *r, const char *csv)
{
	const char *p = csv;

	r->n_reqs = 0;
	while (p && *p) {
		const char *c = strchr(p, ',');
		size_t l = c ? (size_t)(c - p) : strlen(p);
		const char *id = req_intern(p, l);

		if (!id)
			return -EINVAL;
		if (r->n_reqs >= CHECK_MAX_REQS)
			return -E2BIG;
		r->reqs[r->n_reqs++] = id;
		p = c ? c + 1 : NULL;
	}
	return 0;
}

struct check_result *check_report_add(struct check_report *rep, const char *module, const char *id,
                                      const char *reqs_csv)
{
	struct check_result *r;

	if (rep->n == rep->alloc) {
		size_t na = rep->alloc ? rep->alloc * 2 : 16;
		struct check_result **nr = realloc(rep->results, na * sizeof(*nr));
		if (!nr)
			return NULL;
		rep->results = nr;
		rep->alloc = na;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->status = CHECK_ERROR; /* a check that never sets its status is an error */
	r->id = strdup(id);
	r->module = strdup(module);
	if (!r->id || !r->module || set_reqs(r, reqs_csv) < 0) {
		result_free(r);
		return NULL;
	}
	rep->results[rep->n++] = r;
	return r;
}

static int replace_str(char **dst, const char *src)
{
	char *n = NULL;

	if (src) {
		n = strdup(src);
		if (!n)
			return -ENOMEM;
	}
	free(*dst);
	*dst = n;
	return 0;
}

int check_result_set(struct check_result *r, enum check_status st, const char *summary_ja, const char *summary_en)
{
	r->status = st;
	if (replace_str(&r->summary_ja, summary_ja) < 0 || replace_str(&r->summary_en, summary_en) < 0)
		return -ENOMEM;
	return 0;
}

int check_result_remedy(struct check_result *r, const char *ja, const char *en)
{
	if (replace_str(&r->remedy_ja, ja) < 0 || replace_str(&r->remedy_en, en) < 0)
		return -ENOMEM;
	return 0;
}

int check_result_evidence(struct check_result *r, const char *key, const char *fmt, ...)
{
	char buf[CHECK_VALUE_MAX];
	va_list ap;
	int n;

	if (r->n_evidence >= CHECK_MAX_EVIDENCE)
		return -E2BIG;
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	r->evidence[r->n_evidence].key = strdup(key);
	r->evidence[r->n_evidence].value = strdup(buf);
	if (!r->evidence[r->n_evidence].key || !r->evidence[r->n_evidence].value) {
		free(r->evidence[r->n_evidence].key);
		free(r->evidence[r->n_evidence].value);
		return -ENOMEM;
	}
	r->n_evidence++;
	return 0;
}

int check_result_set_exception(struct check_result *r, const char *exception_id)
{
	return replace_str(&r->exception, exception_id);
}

struct check_result *check_report_error(struct check_report *rep, const char *module, const char *reqs_csv, int err,
                                        const char *what)
{
	char ja[512], en[512];
	struct check_result *r;

	r = check_report_add(rep, module, module, reqs_csv);
	if (!r)
		return NULL;
	snprintf(en, sizeof(en), "%s failed: %s", what, strerror(err < 0 ? -err : err));
	snprintf(ja, sizeof(ja), "%s を実行できませんでした: %s", what, strerror(err < 0 ? -err : err));
	check_result_set(r, CHECK_ERROR, ja, en);
	check_result_evidence(r, "errno", "%d", err < 0 ? -err : err);
	check_result_remedy(r, "mamorid のログ (journalctl -u mamorid) を確認してください。",
	                    "Check the mamorid log (journalctl -u mamorid).");
	return r;
}

void check_report_clear(struct check_report *rep)
{
	for (size_t i = 0; i < rep->n; i++)
		result_free(rep->results[i]);
	free(rep->results);
	rep->results = NULL;
	rep->n = rep->alloc = 0;
}

static cJSON *pair(const char *ja, const char *en)
{
	cJSON *o = cJSON_CreateObject();

	if (!o)
		return NULL;
	if (!cJSON_AddStringToObject(o, "ja", ja ? ja : "") || !cJSON_AddStringToObject(o, "en", en ? en : "")) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

cJSON *check_report_to_json(const struct check_report *rep)
{
	cJSON *root = cJSON_CreateObject(), *arr, *sum;
	unsigned counts[_CHECK_STATUS_MAX] = {0}, excepted = 0;

	if (!root)
		return NULL;
	arr = cJSON_AddArrayToObject(root, "results");
	if (!arr)
		goto oom;
	for (size_t i = 0; i < rep->n; i++) {
		const struct check_result *r = rep->results[i];
		cJSON *o = cJSON_CreateObject(), *reqs, *ev, *x;

		if (!o)
			goto oom;
		cJSON_AddItemToArray(arr, o);
		if (!cJSON_AddStringToObject(o, "id", r->id) || !cJSON_AddStringToObject(o, "module", r->module) ||
		    !cJSON_AddStringToObject(o, "status", check_status_to_string(r->status)))
			goto oom;
		reqs = cJSON_AddArrayToObject(o, "requirements");
		if (!reqs)
			goto oom;
		for (size_t j = 0; j < r->n_reqs; j++) {
			x = cJSON_CreateString(r->reqs[j]);
			if (!x)
				goto oom;
			cJSON_AddItemToArray(reqs, x);
		}
		ev = cJSON_AddObjectToObject(o, "evidence");
		if (!ev)
			goto oom;
		for (size_t j = 0; j < r->n_evidence; j++)
			if (!cJSON_AddStringToObject(ev, r->evidence[j].key, r->evidence[j].value))
				goto oom;
		x = pair(r->summary_ja, r->summary_en);
		if (!x)
			goto oom;
		cJSON_AddItemToObject(o, "summary", x);
		if (r->remedy_ja || r->remedy_en) {
			x = pair(r->remedy_ja, r->remedy_en);
			if (!x)
				goto oom;
			cJSON_AddItemToObject(o, "remedy", x);
		}
		if (r->exception && !cJSON_AddStringToObject(o, "exception", r->exception))
			goto oom;
		if (r->exception)
			excepted++;
		if (r->status >= 0 && r->status < _CHECK_STATUS_MAX)
			counts[r->status]++;
	}
	sum = cJSON_AddObjectToObject(root, "summary");
	if (!sum)
		goto oom;
	for (int s = 0; s < _CHECK_STATUS_MAX; s++)
		if (!cJSON_AddNumberToObject(sum, status_names[s], counts[s]))
			goto oom;
	if (!cJSON_AddNumberToObject(sum, "excepted", excepted))
		goto oom;
	return root;
oom:
	cJSON_Delete(root);
	return NULL;
}

/* The text report (common/buf.h); the first failure is remembered. */
struct sbuf {
	struct buf b;
	bool oom;
};

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;

	if (b->oom)
		return;
	va_start(ap, fmt);
	b->oom = buf_vprintf(&b->b, BUF_NO_MAX, fmt, ap) < 0;
	va_end(ap);
}

char *check_report_to_text(const struct check_report *rep, const char *lang)
{
	static const char *const ja_status[] = {"適合", "不適合", "エラー", "対象外"};
	static const char *const en_status[] = {"PASS", "FAIL", "ERROR", "N/A"};
	bool ja = streq_ptr(lang, "ja");
	struct sbuf b = {0};

	for (size_t i = 0; i < rep->n; i++) {
		const struct check_result *r = rep->results[i];
		const char *st =
		        r->status >= 0 && r->status < _CHECK_STATUS_MAX ? (ja ? ja_status : en_status)[r->status] : "?";

		sb_printf(&b, "[%s] %s (", st, r->id);
		for (size_t j = 0; j < r->n_reqs; j++)
			sb_printf(&b, "%s%s", j ? ", " : "", r->reqs[j]);
		sb_printf(&b, ")");
		if (r->exception)
			sb_printf(&b, ja ? " [例外措置 %s]" : " [exception %s]", r->exception);
		sb_printf(&b, "\n");
		if ((ja ? r->summary_ja : r->summary_en))
			sb_printf(&b, "    %s\n", ja ? r->summary_ja : r->summary_en);
		for (size_t j = 0; j < r->n_evidence; j++) {
			_cleanup_free_ char *v =
			        escape_untrusted(r->evidence[j].value, strlen(r->evidence[j].value), 256);
			sb_printf(&b, "      %s: %s\n", r->evidence[j].key, v ? v : "?");
		}
		if (r->status != CHECK_PASS && (ja ? r->remedy_ja : r->remedy_en))
			sb_printf(&b, "    %s %s\n", ja ? "対処:" : "Fix:", ja ? r->remedy_ja : r->remedy_en);
	}
	if (!b.b.data && !b.oom)
		sb_printf(&b, "%s", "");
	if (b.oom) {
		buf_free(&b.b);
		return NULL;
	}
	return buf_steal(&b.b);
}
