/* policy/usbguard.c — USBGuard rules.conf → mamori usb.rules (mamorictl,
 * admin side). */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "alloc-util.h"
#include "policy_schema.h"
#include "strutil.h"
#include "usbguard.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(cJSON *, cJSON_Delete);

#define TOKENS_MAX 512
#define VALUES_MAX 64

enum tok_kind { TOK_WORD, TOK_STRING, TOK_OPEN, TOK_CLOSE };

struct token {
	enum tok_kind kind;
	char *text; /* into the line's token store */
};

/* Token texts of one line: never longer than the line plus a NUL each. */
struct token_store {
	char buf[2 * USBGUARD_LINE_MAX + 2];
	size_t used;
};

struct line_ctx {
	unsigned line;
	struct usbguard_issues *issues;
	bool failed;
};

static void issue(struct line_ctx *c, enum usbguard_issue_code code, const char *detail)
{
	struct usbguard_issue *e;
	size_t o = 0;

	c->failed = true;
	if (c->issues->n >= USBGUARD_ISSUES_MAX) {
		c->issues->dropped++;
		return;
	}
	e = &c->issues->e[c->issues->n++];
	e->line = c->line;
	e->code = code;
	/* printable ASCII only; anything else as \xHH (the detail echoes input) */
	for (const unsigned char *p = (const unsigned char *)(detail ? detail : ""); *p && o + 5 < sizeof(e->detail);
	     p++) {
		if (*p >= 0x20 && *p < 0x7f && *p != '\\')
			e->detail[o++] = (char)*p;
		else {
			static const char hx[] = "0123456789abcdef";
			e->detail[o++] = '\\', e->detail[o++] = 'x', e->detail[o++] = hx[*p >> 4];
			e->detail[o++] = hx[*p & 15];
		}
	}
	e->detail[o] = '\0';
}

/* Split one line into tokens. Strings: "..." with \" \\ \xHH escapes. */
static int tokenize(struct line_ctx *c, const char *s, struct token *toks, struct token_store *st, size_t *ret_n)
{
	size_t n = 0;

	st->used = 0;

	while (*s) {
		struct token *t;

		if (*s == ' ' || *s == '\t' || *s == '\r') {
			s++;
			continue;
		}
		if (n >= TOKENS_MAX) {
			issue(c, USBGUARD_ISSUE_TOO_MANY, "too many tokens");
			return -E2BIG;
		}
		t = &toks[n++];
		t->text = st->buf + st->used;
		if (*s == '{' || *s == '}') {
			t->kind = *s == '{' ? TOK_OPEN : TOK_CLOSE;
			t->text[0] = *s++;
			t->text[1] = '\0';
			st->used += 2;
		} else if (*s == '"') {
			size_t o = 0;

			t->kind = TOK_STRING;
			for (s++;; s++) {
				if (*s == '\0') {
					issue(c, USBGUARD_ISSUE_SYNTAX, "unterminated string");
					return -EINVAL;
				}
				if (*s == '"') {
					s++;
					break;
				}
				if (*s == '\\') {
					s++;
					if (*s == '"' || *s == '\\')
						t->text[o++] = *s;
					else if (*s == 'x' && s[1] && s[2] && strchr("0123456789abcdefABCDEF", s[1]) &&
					         strchr("0123456789abcdefABCDEF", s[2])) {
						char hx[3] = {s[1], s[2], 0};
						t->text[o++] = (char)strtol(hx, NULL, 16);
						s += 2;
					} else {
						issue(c, USBGUARD_ISSUE_SYNTAX, "unsupported escape in string");
						return -EINVAL;
					}
				} else
					t->text[o++] = *s;
			}
			t->text[o] = '\0';
			st->used += o + 1;
		} else {
			size_t o = 0;

			t->kind = TOK_WORD;
			while (*s && !strchr(" \t\r{}\"", *s))
				t->text[o++] = *s++;
			t->text[o] = '\0';
			st->used += o + 1;
		}
	}
	*ret_n = n;
	return 0;
}

/* One attribute's operator and values. */
struct attr {
	const char *op; /* NULL, "one-of", "all-of", "none-of", "equals", "equals-ordered", "match-all" */
	size_t n;
	const char *v[VALUES_MAX];
	bool is_string[VALUES_MAX];
};

static const char *const operators[] = {"one-of", "all-of", "none-of", "equals", "equals-ordered", "match-all", NULL};

static bool is_operator(const char *w)
{
	for (const char *const *o = operators; *o; o++)
		if (strcmp(*o, w) == 0)
			return true;
	return false;
}

/* Read [operator] value | [operator] { values } starting at toks[*i]. */
static int read_attr(struct line_ctx *c, const char *name, struct token *toks, size_t n, size_t *i, struct attr *a)
{
	memset(a, 0, sizeof(*a));
	if (*i < n && toks[*i].kind == TOK_WORD && is_operator(toks[*i].text))
		a->op = toks[(*i)++].text;
	if (*i >= n) {
		issue(c, USBGUARD_ISSUE_SYNTAX, name);
		return -EINVAL;
	}
	if (toks[*i].kind == TOK_OPEN) {
		for ((*i)++; *i < n && toks[*i].kind != TOK_CLOSE; (*i)++) {
			if (toks[*i].kind == TOK_OPEN || a->n >= VALUES_MAX) {
				issue(c, USBGUARD_ISSUE_SYNTAX, name);
				return -EINVAL;
			}
			a->is_string[a->n] = toks[*i].kind == TOK_STRING;
			a->v[a->n++] = toks[*i].text;
		}
		if (*i >= n || a->n == 0) {
			issue(c, USBGUARD_ISSUE_SYNTAX, name);
			return -EINVAL;
		}
		(*i)++;
		return 0;
	}
	if (toks[*i].kind == TOK_CLOSE) {
		issue(c, USBGUARD_ISSUE_SYNTAX, name);
		return -EINVAL;
	}
	if (a->op && strcmp(a->op, "match-all") != 0) {
		/* "one-of x" without braces is not USBGuard syntax */
		issue(c, USBGUARD_ISSUE_SYNTAX, name);
		return -EINVAL;
	}
	a->is_string[0] = toks[*i].kind == TOK_STRING;
	a->v[a->n++] = toks[(*i)++].text;
	return 0;
}

/* Single-valued attributes become alternatives (one rule each). */
enum slot { SLOT_ID, SLOT_SERIAL, SLOT_NAME, SLOT_HASH, SLOT_PORT, SLOT_CONNECT, _SLOT_MAX };

struct conv {
	struct attr slot[_SLOT_MAX];
	bool have[_SLOT_MAX];
	struct attr iface;
	bool have_iface;
	const char *label;
};

static const char *const slot_names[_SLOT_MAX] = {"id", "serial", "name", "hash", "via-port", "with-connect-type"};

static int slot_of(const char *name)
{
	for (int s = 0; s < _SLOT_MAX; s++)
		if (strcmp(slot_names[s], name) == 0)
			return s;
	return -1;
}

static void lower(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'F')
			*s = (char)(*s - 'A' + 'a');
}

/* Check a value of a slot; ids and interfaces are normalised in place. */
static bool value_ok(struct line_ctx *c, int slot, const char *v)
{
	char buf[USBGUARD_LINE_MAX];
	bool ok = true;

	if (strscpy(buf, sizeof(buf), v) < 0)
		return false;
	switch (slot) {
	case SLOT_ID: {
		char *colon = strchr(buf, ':');

		lower(buf);
		ok = colon && (strcmp(colon + 1, "*") == 0 || policy_format_valid(POLICY_FORMAT_USB_ID, colon + 1));
		if (ok) {
			*colon = '\0';
			ok = strcmp(buf, "*") == 0 || policy_format_valid(POLICY_FORMAT_USB_ID, buf);
			/* "*:1234" cannot be expressed as a product without vendor meaningfully; allow it */
		}
		break;
	}
	case SLOT_SERIAL:
	case SLOT_NAME:
		ok = *v && strlen(v) <= 256 && policy_format_valid(POLICY_FORMAT_TEXT, v);
		break;
	case SLOT_HASH:
		ok = strlen(v) <= 128 && policy_format_valid(POLICY_FORMAT_BASE64, v);
		break;
	case SLOT_PORT:
		ok = strlen(v) <= 64 && policy_format_valid(POLICY_FORMAT_USB_PORT, v);
		break;
	case SLOT_CONNECT:
		ok = strcmp(v, "hotplug") == 0 || strcmp(v, "hardwired") == 0 || strcmp(v, "unknown") == 0;
		break;
	default:
		ok = false;
	}
	if (!ok) {
		char d[256];
		(void)xsnprintf(d, sizeof(d), "%s \"%.200s\"", slot_names[slot], v);
		issue(c, USBGUARD_ISSUE_VALUE, d);
	}
	return ok;
}

static bool add_str(cJSON *o, const char *k, const char *v)
{
	return cJSON_AddStringToObject(o, k, v) != NULL;
}

static int add_slot(cJSON *match, int slot, const char *v)
{
	char buf[USBGUARD_LINE_MAX];

	switch (slot) {
	case SLOT_ID: {
		char *colon;

		if (strscpy(buf, sizeof(buf), v) < 0)
			return -EINVAL;
		lower(buf);
		colon = strchr(buf, ':');
		*colon = '\0';
		if (strcmp(buf, "*") != 0 && !add_str(match, "vendor", buf))
			return -ENOMEM;
		if (strcmp(colon + 1, "*") != 0 && !add_str(match, "product", colon + 1))
			return -ENOMEM;
		return 0;
	}
	case SLOT_SERIAL:
		return add_str(match, "serial", v) ? 0 : -ENOMEM;
	case SLOT_NAME:
		return add_str(match, "name", v) ? 0 : -ENOMEM;
	case SLOT_HASH:
		return add_str(match, "usbguard_hash", v) ? 0 : -ENOMEM;
	case SLOT_PORT:
		return add_str(match, "port", v) ? 0 : -ENOMEM;
	case SLOT_CONNECT:
		return add_str(match, "connect_type", v) ? 0 : -ENOMEM;
	default:
		return -EINVAL;
	}
}

static int add_interfaces(cJSON *match, const struct attr *a)
{
	const char *key = "interfaces";
	cJSON *arr;

	if (a->op && strcmp(a->op, "one-of") == 0)
		key = "interfaces_any";
	else if (a->op && strcmp(a->op, "all-of") == 0)
		key = "interfaces_all";
	else if (a->op && strcmp(a->op, "none-of") == 0)
		key = "interfaces_none";
	arr = cJSON_AddArrayToObject(match, key);
	if (!arr)
		return -ENOMEM;
	for (size_t i = 0; i < a->n; i++) {
		char buf[16];
		cJSON *s;

		if (strscpy(buf, sizeof(buf), a->v[i]) < 0)
			return -EINVAL;
		lower(buf);
		s = cJSON_CreateString(buf);
		if (!s || !cJSON_AddItemToArray(arr, s)) {
			cJSON_Delete(s);
			return -ENOMEM;
		}
	}
	return 0;
}

/* Convert one tokenised rule into 0..USBGUARD_EXPAND_MAX rules appended to out. */
static int convert(struct line_ctx *c, struct token *toks, size_t n, cJSON *out)
{
	struct conv cv;
	const char *action;
	bool reject = false;
	size_t i = 1, combos = 1;
	size_t idx[_SLOT_MAX] = {0};
	int r;

	memset(&cv, 0, sizeof(cv));
	if (toks[0].kind != TOK_WORD || (strcmp(toks[0].text, "allow") != 0 && strcmp(toks[0].text, "block") != 0 &&
	                                 strcmp(toks[0].text, "reject") != 0)) {
		issue(c, USBGUARD_ISSUE_TARGET, toks[0].text);
		return 0;
	}
	reject = strcmp(toks[0].text, "reject") == 0;
	action = reject ? "block" : toks[0].text;

	/* optional bare device id after the target */
	if (i < n && toks[i].kind == TOK_WORD && strchr(toks[i].text, ':') && slot_of(toks[i].text) < 0 &&
	    !is_operator(toks[i].text)) {
		cv.slot[SLOT_ID].v[0] = toks[i].text;
		cv.slot[SLOT_ID].n = 1;
		cv.have[SLOT_ID] = true;
		i++;
	}
	while (i < n) {
		const char *name = toks[i].text;
		struct attr a;
		int s;

		if (toks[i].kind != TOK_WORD) {
			issue(c, USBGUARD_ISSUE_SYNTAX, name);
			return 0;
		}
		i++;
		if (strcmp(name, "if") == 0 || strcmp(name, "condition") == 0 || strcmp(name, "parent-hash") == 0 ||
		    (slot_of(name) < 0 && strcmp(name, "with-interface") != 0 && strcmp(name, "label") != 0)) {
			/* cannot express: report and do not guess at the rest of the line */
			issue(c, USBGUARD_ISSUE_ATTRIBUTE, name);
			return 0;
		}
		if (read_attr(c, name, toks, n, &i, &a) < 0)
			return 0;
		if (a.op && (strcmp(a.op, "equals-ordered") == 0 || strcmp(a.op, "match-all") == 0)) {
			char d[96];
			(void)xsnprintf(d, sizeof(d), "%s %s", name, a.op);
			issue(c, USBGUARD_ISSUE_OPERATOR, d);
			return 0;
		}
		if (strcmp(name, "label") == 0) {
			cv.label = a.v[0];
			continue;
		}
		if (strcmp(name, "with-interface") == 0) {
			if (cv.have_iface) {
				issue(c, USBGUARD_ISSUE_DUPLICATE, name);
				return 0;
			}
			for (size_t k = 0; k < a.n; k++) {
				char buf[16];
				if (a.is_string[k] || strscpy(buf, sizeof(buf), a.v[k]) < 0 ||
				    (lower(buf), !policy_format_valid(POLICY_FORMAT_USB_IFACE, buf))) {
					char d[96];
					(void)xsnprintf(d, sizeof(d), "with-interface \"%.60s\"", a.v[k]);
					issue(c, USBGUARD_ISSUE_VALUE, d);
					return 0;
				}
			}
			if (a.n > 32) {
				issue(c, USBGUARD_ISSUE_TOO_MANY, "with-interface");
				return 0;
			}
			cv.iface = a;
			cv.have_iface = true;
			continue;
		}
		s = slot_of(name);
		if (cv.have[s]) {
			issue(c, USBGUARD_ISSUE_DUPLICATE, name);
			return 0;
		}
		/* single-valued: one value, or one-of (alternatives), or a
		 * one-element all-of/equals */
		if (a.op && strcmp(a.op, "one-of") != 0 && !(a.n == 1 && strcmp(a.op, "none-of") != 0)) {
			char d[96];
			(void)xsnprintf(d, sizeof(d), "%s %s", name, a.op);
			issue(c, USBGUARD_ISSUE_OPERATOR, d);
			return 0;
		}
		for (size_t k = 0; k < a.n; k++) {
			if (s == SLOT_ID && a.is_string[k]) {
				issue(c, USBGUARD_ISSUE_VALUE, a.v[k]);
				return 0;
			}
			if (!value_ok(c, s, a.v[k]))
				return 0;
		}
		cv.slot[s] = a;
		cv.have[s] = true;
	}
	if (cv.have[SLOT_ID] && !value_ok(c, SLOT_ID, cv.slot[SLOT_ID].v[0]))
		return 0;
	for (int s = 0; s < _SLOT_MAX; s++)
		if (cv.have[s]) {
			combos *= cv.slot[s].n;
			if (combos > USBGUARD_EXPAND_MAX) {
				issue(c, USBGUARD_ISSUE_TOO_MANY, "one-of expansion");
				return 0;
			}
		}

	for (size_t k = 0; k < combos; k++) {
		_cleanup_(cJSON_Deletep) cJSON *rule = cJSON_CreateObject();
		cJSON *match, *reqs, *s1;
		char id[64], comment[USBGUARD_LINE_MAX + 128];
		size_t rem = k;

		if (cJSON_GetArraySize(out) >= USBGUARD_RULES_MAX) {
			issue(c, USBGUARD_ISSUE_TOO_MANY, "more than 1024 rules");
			return 0;
		}
		if (combos == 1)
			(void)xsnprintf(id, sizeof(id), "usbguard-L%u", c->line);
		else
			(void)xsnprintf(id, sizeof(id), "usbguard-L%u-%zu", c->line, k + 1);
		if (!rule || !add_str(rule, "id", id) || !add_str(rule, "action", action))
			return -ENOMEM;
		match = cJSON_AddObjectToObject(rule, "match");
		if (!match)
			return -ENOMEM;
		for (int s = 0; s < _SLOT_MAX; s++) {
			if (!cv.have[s])
				continue;
			idx[s] = rem % cv.slot[s].n;
			rem /= cv.slot[s].n;
			r = add_slot(match, s, cv.slot[s].v[idx[s]]);
			if (r < 0)
				return r;
		}
		if (cv.have_iface && (r = add_interfaces(match, &cv.iface)) < 0)
			return r;
		if (cJSON_GetArraySize(match) == 0) {
			issue(c, USBGUARD_ISSUE_CATCH_ALL, toks[0].text);
			return 0;
		}
		reqs = cJSON_AddArrayToObject(rule, "requirements");
		s1 = cJSON_CreateString("MEDIA-1");
		if (!reqs || !s1 || !cJSON_AddItemToArray(reqs, s1))
			return cJSON_Delete(s1), -ENOMEM;
		if (cv.have_iface) {
			cJSON *s2 = cJSON_CreateString("MEDIA-5");
			if (!s2 || !cJSON_AddItemToArray(reqs, s2))
				return cJSON_Delete(s2), -ENOMEM;
		}
		(void)xsnprintf(comment, sizeof(comment), "imported from USBGuard rules.conf line %u%s%s%.200s",
		                c->line, reject ? " (reject → block)" : "", cv.label ? "; label: " : "",
		                cv.label ? cv.label : "");
		if (!policy_format_valid(POLICY_FORMAT_TEXT, comment))
			(void)xsnprintf(comment, sizeof(comment), "imported from USBGuard rules.conf line %u", c->line);
		if (!add_str(rule, "comment", comment))
			return -ENOMEM;
		if (!cJSON_AddItemToArray(out, rule))
			return -ENOMEM;
		rule = NULL;
	}
	return 0;
}

int usbguard_import(const char *buf, size_t len, cJSON **ret_rules, struct usbguard_issues *issues)
{
	_cleanup_(cJSON_Deletep) cJSON *out = NULL;
	_cleanup_free_ struct token *toks = NULL;
	_cleanup_free_ struct token_store *store = NULL;
	struct usbguard_issues local;
	char line[USBGUARD_LINE_MAX + 1];
	unsigned lineno = 0;
	const char *p = buf, *end = buf + len;

	if (!issues)
		issues = &local;
	memset(issues, 0, sizeof(*issues));
	if (len > USBGUARD_FILE_MAX)
		return -EFBIG;
	out = cJSON_CreateArray();
	toks = calloc(TOKENS_MAX, sizeof(*toks));
	store = malloc(sizeof(*store));
	if (!out || !toks || !store)
		return -ENOMEM;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = (nl ? nl : end) - p;
		struct line_ctx c = {.line = ++lineno, .issues = issues};
		char *s;
		size_t n = 0;
		int before = cJSON_GetArraySize(out), r;

		if (l > USBGUARD_LINE_MAX || memchr(p, '\0', l)) {
			issue(&c, l > USBGUARD_LINE_MAX ? USBGUARD_ISSUE_LINE_TOO_LONG : USBGUARD_ISSUE_SYNTAX, "");
			p = nl ? nl + 1 : end;
			continue;
		}
		memcpy(line, p, l);
		line[l] = '\0';
		p = nl ? nl + 1 : end;
		s = strstrip(line);
		if (!*s || *s == '#')
			continue;
		if (tokenize(&c, s, toks, store, &n) < 0 || n == 0)
			continue;
		r = convert(&c, toks, n, out);
		if (r < 0)
			return r;
		if (!c.failed && cJSON_GetArraySize(out) > before)
			issues->lines_converted++;
	}
	issues->rules_out = (unsigned)cJSON_GetArraySize(out);
	*ret_rules = TAKE_PTR(out);
	return 0;
}

static const char *const issue_en[_USBGUARD_ISSUE_MAX] = {
        [USBGUARD_ISSUE_SYNTAX] = "syntax error, line not converted",
        [USBGUARD_ISSUE_TARGET] = "unknown rule target, line not converted",
        [USBGUARD_ISSUE_ATTRIBUTE] = "attribute has no mamori equivalent, line not converted",
        [USBGUARD_ISSUE_OPERATOR] = "operator cannot be converted for this attribute, line not converted",
        [USBGUARD_ISSUE_VALUE] = "value outside mamori's format, line not converted",
        [USBGUARD_ISSUE_CATCH_ALL] = "rule without conditions: set usb.default instead, line not converted",
        [USBGUARD_ISSUE_DUPLICATE] = "attribute given twice, line not converted",
        [USBGUARD_ISSUE_TOO_MANY] = "over a limit, line not converted",
        [USBGUARD_ISSUE_LINE_TOO_LONG] = "line longer than 4096 bytes, not converted",
};

static const char *const issue_ja[_USBGUARD_ISSUE_MAX] = {
        [USBGUARD_ISSUE_SYNTAX] = "構文エラーのため変換していません",
        [USBGUARD_ISSUE_TARGET] = "未知のルール種別のため変換していません",
        [USBGUARD_ISSUE_ATTRIBUTE] = "mamori に対応する属性がないため変換していません",
        [USBGUARD_ISSUE_OPERATOR] = "この属性の演算子は変換できないため変換していません",
        [USBGUARD_ISSUE_VALUE] = "値が mamori の形式に合わないため変換していません",
        [USBGUARD_ISSUE_CATCH_ALL] = "条件のないルールです。usb.default で設定してください（変換していません）",
        [USBGUARD_ISSUE_DUPLICATE] = "同じ属性が二回あるため変換していません",
        [USBGUARD_ISSUE_TOO_MANY] = "上限を超えるため変換していません",
        [USBGUARD_ISSUE_LINE_TOO_LONG] = "4096 バイトを超える行のため変換していません",
};

void usbguard_issues_print(const struct usbguard_issues *issues, const char *name, FILE *f, const char *lang)
{
	bool en = lang && lang[0] == 'e';

	for (size_t i = 0; i < issues->n; i++) {
		const struct usbguard_issue *e = &issues->e[i];

		if (e->code < 0 || e->code >= _USBGUARD_ISSUE_MAX)
			continue;
		fprintf(f, "%s:%u: %s%s%s\n", name, e->line, en ? issue_en[e->code] : issue_ja[e->code],
		        e->detail[0] ? ": " : "", e->detail);
	}
	if (issues->dropped)
		fprintf(f, en ? "... and %zu more\n" : "…ほかに %zu 件\n", issues->dropped);
}
