/* policy/policy_errors.c — the list of problems found in a policy document and
 * its Japanese/English messages (mamori-worker, mamorictl). */
#include <errno.h>
#include <string.h>

#include "alloc-util.h"
#include "policy_errors.h"
#include "strutil.h"

static const char *const code_names[_POLICY_ERROR_MAX] = {
        [POLICY_ERROR_SYNTAX] = "syntax",
        [POLICY_ERROR_TOO_BIG] = "too-big",
        [POLICY_ERROR_ENCODING] = "encoding",
        [POLICY_ERROR_NOMEM] = "nomem",
        [POLICY_ERROR_TYPE] = "type",
        [POLICY_ERROR_UNKNOWN_KEY] = "unknown-key",
        [POLICY_ERROR_DUPLICATE_KEY] = "duplicate-key",
        [POLICY_ERROR_MISSING] = "missing",
        [POLICY_ERROR_RANGE] = "range",
        [POLICY_ERROR_ENUM] = "enum",
        [POLICY_ERROR_FORMAT] = "format",
        [POLICY_ERROR_LENGTH] = "length",
        [POLICY_ERROR_COUNT] = "count",
        [POLICY_ERROR_EMPTY] = "empty",
        [POLICY_ERROR_UNKNOWN_REQUIREMENT] = "unknown-requirement",
        [POLICY_ERROR_DUPLICATE_ID] = "duplicate-id",
        [POLICY_ERROR_SAME_PERSON] = "same-person",
        [POLICY_ERROR_TIME_ORDER] = "time-order",
};

/* printf formats with at most one %s (the arg). */
static const char *const msg_en[_POLICY_ERROR_MAX] = {
        [POLICY_ERROR_SYNTAX] = "JSON syntax error near byte %s",
        [POLICY_ERROR_TOO_BIG] = "document is larger than %s bytes",
        [POLICY_ERROR_ENCODING] = "document is not valid UTF-8 or holds a NUL character (raw or \\u0000)",
        [POLICY_ERROR_NOMEM] = "out of memory while reading the policy",
        [POLICY_ERROR_TYPE] = "expected %s",
        [POLICY_ERROR_UNKNOWN_KEY] = "unknown key",
        [POLICY_ERROR_DUPLICATE_KEY] = "duplicate key",
        [POLICY_ERROR_MISSING] = "required key is missing",
        [POLICY_ERROR_RANGE] = "value out of range (allowed %s)",
        [POLICY_ERROR_ENUM] = "must be one of: %s",
        [POLICY_ERROR_FORMAT] = "invalid format: expected %s",
        [POLICY_ERROR_LENGTH] = "length out of range (allowed %s bytes)",
        [POLICY_ERROR_COUNT] = "number of items out of range (allowed %s)",
        [POLICY_ERROR_EMPTY] = "must contain at least one key",
        [POLICY_ERROR_UNKNOWN_REQUIREMENT] = "unknown requirement ID \"%s\"",
        [POLICY_ERROR_DUPLICATE_ID] = "duplicate id \"%s\"",
        [POLICY_ERROR_SAME_PERSON] = "the approver must be a different person (OPS-4)",
        [POLICY_ERROR_TIME_ORDER] = "not_after must be later than not_before",
};

static const char *const msg_ja[_POLICY_ERROR_MAX] = {
        [POLICY_ERROR_SYNTAX] = "JSON の構文エラーです（%s バイト付近）",
        [POLICY_ERROR_TOO_BIG] = "文書が大きすぎます（上限 %s バイト）",
        [POLICY_ERROR_ENCODING] = "文書が UTF-8 として正しくないか、NUL 文字（そのまま、または \\u0000）を含みます",
        [POLICY_ERROR_NOMEM] = "ポリシー読み込み中にメモリが不足しました",
        [POLICY_ERROR_TYPE] = "%sである必要があります",
        [POLICY_ERROR_UNKNOWN_KEY] = "未知のキーです",
        [POLICY_ERROR_DUPLICATE_KEY] = "キーが重複しています",
        [POLICY_ERROR_MISSING] = "必須のキーがありません",
        [POLICY_ERROR_RANGE] = "値が範囲外です（許容範囲 %s）",
        [POLICY_ERROR_ENUM] = "次のいずれかである必要があります: %s",
        [POLICY_ERROR_FORMAT] = "形式が正しくありません（%s）",
        [POLICY_ERROR_LENGTH] = "長さが範囲外です（許容 %s バイト）",
        [POLICY_ERROR_COUNT] = "要素数が範囲外です（許容 %s）",
        [POLICY_ERROR_EMPTY] = "少なくとも一つのキーが必要です",
        [POLICY_ERROR_UNKNOWN_REQUIREMENT] = "未知の要件 ID です: \"%s\"",
        [POLICY_ERROR_DUPLICATE_ID] = "id が重複しています: \"%s\"",
        [POLICY_ERROR_SAME_PERSON] = "承認者は申請者と別の人でなければなりません（OPS-4 兼務の禁止）",
        [POLICY_ERROR_TIME_ORDER] = "not_after は not_before より後でなければなりません",
};

static const struct {
	const char *en, *ja;
} type_names[] = {
        {"object", "オブジェクト"}, {"array", "配列"},     {"string", "文字列"},
        {"integer", "整数"},        {"boolean", "真偽値"}, {"string or null", "文字列または null"},
};

/* The arg may come from the document: escape it into the fixed buffer without
 * allocating (errors are recorded on the out-of-memory path too). Control bytes,
 * quotes and backslashes become \xHH; bytes >= 0x80 pass only if the whole arg
 * is valid UTF-8; a cut never splits a UTF-8 sequence. */
static void escape_into(char *dst, size_t dstsz, const char *src)
{
	static const char hx[] = "0123456789abcdef";
	size_t len = strlen(src), o = 0;
	bool utf8 = utf8_valid(src, len);

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)src[i];
		bool plain = c >= 0x20 && c != 0x7f && c != '\\' && c != '"' && (c < 0x80 || utf8);

		if (plain) {
			size_t seq = 1;

			if (c >= 0xf0)
				seq = 4;
			else if (c >= 0xe0)
				seq = 3;
			else if (c >= 0xc0)
				seq = 2;
			if (o + seq + 1 > dstsz || i + seq > len)
				break;
			memcpy(dst + o, src + i, seq);
			o += seq;
			i += seq - 1;
		} else {
			if (o + 5 > dstsz)
				break;
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hx[c >> 4];
			dst[o++] = hx[c & 15];
		}
	}
	dst[o] = '\0';
}

/* Only the counts: every entry is written whole when added. A cleared
 * array (22 KB) touched that much stack at each parse; in mamorid the
 * pages stay resident (issue 23: the gate's VmHWM). */
void policy_errors_init(struct policy_errors *errs)
{
	errs->n = 0;
	errs->dropped = 0;
}

void policy_errors_add(struct policy_errors *errs, enum policy_error_code code, const char *path, const char *arg)
{
	struct policy_error *e;

	if (!errs)
		return;
	if (errs->n >= POLICY_ERRORS_MAX) {
		errs->dropped++;
		return;
	}
	e = &errs->e[errs->n++];
	e->code = code;
	(void)strscpy(e->path, sizeof(e->path), path ? path : "");
	e->arg[0] = '\0';
	if (arg)
		escape_into(e->arg, sizeof(e->arg), arg);
}

int policy_errors_find(const struct policy_errors *errs, enum policy_error_code code, const char *path)
{
	for (size_t i = 0; i < errs->n; i++)
		if (errs->e[i].code == code && (!path || strcmp(errs->e[i].path, path) == 0))
			return 1;
	return 0;
}

const char *policy_error_code_to_string(enum policy_error_code code)
{
	if (code < 0 || code >= _POLICY_ERROR_MAX)
		return NULL;
	return code_names[code];
}

int policy_error_format(const struct policy_errors *errs, size_t i, const char *lang, char *buf, size_t bufsz)
{
	const struct policy_error *e;
	bool en = lang && lang[0] == 'e';
	const char *arg, *fmt;
	char msg[512];
	int r;

	if (i >= errs->n)
		return -EINVAL;
	e = &errs->e[i];
	if (e->code < 0 || e->code >= _POLICY_ERROR_MAX)
		return -EINVAL;
	arg = e->arg;
	if (e->code == POLICY_ERROR_TYPE && !en)
		for (size_t k = 0; k < ELEMENTSOF(type_names); k++)
			if (strcmp(type_names[k].en, arg) == 0)
				arg = type_names[k].ja;
	fmt = en ? msg_en[e->code] : msg_ja[e->code];
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	r = xsnprintf(msg, sizeof(msg), fmt, arg);
#pragma GCC diagnostic pop
	if (r < 0 && r != -ENAMETOOLONG)
		return r;
	return xsnprintf(buf, bufsz, "%s: %s", e->path[0] ? e->path : "(document)", msg);
}

void policy_errors_print(const struct policy_errors *errs, FILE *f, const char *lang)
{
	char line[1024];

	for (size_t i = 0; i < errs->n; i++)
		if (policy_error_format(errs, i, lang, line, sizeof(line)) != -EINVAL)
			fprintf(f, "%s\n", line);
	if (errs->dropped > 0) {
		if (lang && lang[0] == 'e')
			fprintf(f, "... and %zu more errors\n", errs->dropped);
		else
			fprintf(f, "…ほかに %zu 件のエラーがあります\n", errs->dropped);
	}
}
