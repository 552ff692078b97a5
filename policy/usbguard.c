/* policy/usbguard.c — USBGuard rules.conf → mamori usb.rules (mamorictl,
 * admin side). */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "alloc-util.h"
#include "policy_schema.h"
#include "usb_lang.h"
#include "strutil.h"
#include "usbguard.h"
#include "json-util.h"

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
	bool failed, converted;
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
	uint32_t hx;

	st->used = 0;

	while (*s) {
		struct token *t;

		if (*s == ' ' || *s == '\t' || *s == '\r') {
			s++;
			continue;
		}
		if (*s == '#')
			break; /* a comment runs to the end of the line */
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
					/* USBGuard knows \" \\ and \xHH only (others: "Unknown escape sequence") */
					if (*s == '"' || *s == '\\')
						t->text[o++] = *s;
					else if (*s == 'x' && s[1] && hex_u32(s + 1, 2, false, &hx) == 0) {
						t->text[o++] = (char)hx;
						if (t->text[o - 1] == '\0') {
							issue(c, USBGUARD_ISSUE_VALUE,
							      "string with a NUL byte (\\x00) cannot be matched");
							return -EINVAL;
						}
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

			int depth = 0;

			t->kind = TOK_WORD;
			/* a condition such as allowed-matches(id 1234:5678) is one word */
			while (*s && (depth > 0 || !strchr(" \t\r{}\"", *s))) {
				depth += *s == '(' ? 1 : *s == ')' ? -1 : 0;
				t->text[o++] = *s++;
			}
			t->text[o] = '\0';
			st->used += o + 1;
		}
	}
	*ret_n = n;
	return 0;
}

/* One attribute's operator and values. */
struct attr {
	const char *op; /* NULL or a USBGuard set operator */
	bool braces;    /* { ... } given */
	size_t n;
	const char *v[VALUES_MAX];
	bool is_string[VALUES_MAX];
};

static bool is_operator(const char *w)
{
	return usb_setop_from_usbguard(w) != _USB_OP_INVALID;
}

/* Read [operator] value | [operator] { values } starting at toks[*i]. */
static int read_attr(struct line_ctx *c, const char *name, struct token *toks, size_t n, size_t *i, struct attr *a)
{
	char d[96];

	memset(a, 0, sizeof(*a));
	(void)xsnprintf(d, sizeof(d), "%s: expected a value or { values }", name);
	if (*i < n && toks[*i].kind == TOK_WORD && is_operator(toks[*i].text))
		a->op = toks[(*i)++].text;
	if (*i >= n) {
		issue(c, USBGUARD_ISSUE_SYNTAX, d);
		return -EINVAL;
	}
	if (toks[*i].kind == TOK_OPEN) {
		a->braces = true;
		for ((*i)++; *i < n && toks[*i].kind != TOK_CLOSE; (*i)++) {
			if (toks[*i].kind == TOK_OPEN) {
				issue(c, USBGUARD_ISSUE_SYNTAX, d);
				return -EINVAL;
			}
			if (a->n >= VALUES_MAX) {
				issue(c, USBGUARD_ISSUE_TOO_MANY, name);
				return -EINVAL;
			}
			a->is_string[a->n] = toks[*i].kind == TOK_STRING;
			a->v[a->n++] = toks[*i].text;
		}
		if (*i >= n || a->n == 0) {
			/* USBGuard: "{ }" is a parse error */
			issue(c, USBGUARD_ISSUE_SYNTAX, d);
			return -EINVAL;
		}
		(*i)++;
		return 0;
	}
	if (toks[*i].kind == TOK_CLOSE || a->op) {
		/* "one-of x" without braces is not USBGuard syntax */
		issue(c, USBGUARD_ISSUE_SYNTAX, d);
		return -EINVAL;
	}
	a->is_string[0] = toks[*i].kind == TOK_STRING;
	a->v[a->n++] = toks[(*i)++].text;
	return 0;
}

/* USBGuard attribute name → mamori attribute; string-valued or not. */
static const struct {
	const char *ug;
	enum usb_attr attr;
	bool string;
} attr_map[] = {
        {"id", USB_ATTR_ID, false},
        {"hash", USB_ATTR_USBGUARD_HASH, true},
        {"parent-hash", USB_ATTR_PARENT_HASH, true},
        {"name", USB_ATTR_NAME, true},
        {"serial", USB_ATTR_SERIAL, true},
        {"via-port", USB_ATTR_PORT, true},
        {"with-interface", USB_ATTR_INTERFACES, false},
        {"with-connect-type", USB_ATTR_CONNECT_TYPE, true},
};

static int attr_index(const char *name)
{
	for (size_t k = 0; k < ELEMENTSOF(attr_map); k++)
		if (strcmp(attr_map[k].ug, name) == 0)
			return (int)k;
	return -1;
}

static void lower(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'F')
			*s = (char)(*s - 'A' + 'a');
}

/* What USBGuard's parser itself accepts for ids and interface types:
 * vvvv:pppp, vvvv:*, *:*; cc:ss:pp, cc:ss:*, cc:*:* (a * only at the end). */
static bool ug_syntax_ok(enum usb_attr at, const char *v)
{
	static const char hx[] = "0123456789abcdefABCDEF";

	if (at == USB_ATTR_INTERFACES) {
		size_t n = strlen(v);

		if (n == 8)
			return strspn(v, hx) == 2 && v[2] == ':' && strspn(v + 3, hx) == 2 && v[5] == ':' &&
			       (strspn(v + 6, hx) == 2 || strcmp(v + 6, "*") == 0);
		if (n == 7)
			return strspn(v, hx) == 2 && v[2] == ':' && strspn(v + 3, hx) == 2 && strcmp(v + 5, ":*") == 0;
		if (n == 6)
			return strspn(v, hx) == 2 && strcmp(v + 2, ":*:*") == 0;
		return false;
	}
	if (at == USB_ATTR_ID)
		return strcmp(v, "*:*") == 0 ||
		       (strlen(v) >= 6 && strspn(v, hx) == 4 && v[4] == ':' &&
		        ((strlen(v) == 9 && strspn(v + 5, hx) == 4) || strcmp(v + 5, "*") == 0));
	return true;
}

/* Add the attribute as a match member; 0, -EINVAL (value cannot be
 * represented: issue recorded) or -ENOMEM. */
static int add_attr(struct line_ctx *c, cJSON *match, int ai, const struct attr *a)
{
	enum usb_attr at = attr_map[ai].attr;
	const char *base = usb_attr_to_string(at);
	char key[64], d[320];
	cJSON *arr = NULL;
	bool scalar = !a->braces && !a->op && at != USB_ATTR_INTERFACES;
	enum usb_setop op = a->op ? usb_setop_from_usbguard(a->op) : USB_OP_EQUALS;

	if (a->n == 0)
		return 0; /* an empty set applies to every device in USBGuard: no condition */
	if (a->n > USB_MATCH_SET_MAX) {
		(void)xsnprintf(d, sizeof(d), "%s: %zu values, mamori holds at most %d per set", attr_map[ai].ug, a->n,
		                USB_MATCH_SET_MAX);
		issue(c, USBGUARD_ISSUE_TOO_MANY, d);
		return -EINVAL;
	}
	for (size_t k = 0; k < a->n; k++) {
		char v[USBGUARD_LINE_MAX];

		if (a->is_string[k] != attr_map[ai].string) {
			(void)xsnprintf(d, sizeof(d), "%s: value %s must %sbe quoted", attr_map[ai].ug, a->v[k],
			                attr_map[ai].string ? "" : "not ");
			issue(c, USBGUARD_ISSUE_SYNTAX, d);
			return -EINVAL;
		}
		if (strscpy(v, sizeof(v), a->v[k]) < 0)
			return -EINVAL;
		if (!ug_syntax_ok(at, v)) {
			(void)xsnprintf(d, sizeof(d), "%s %.60s: not USBGuard syntax (USBGuard refuses the file)",
			                attr_map[ai].ug, v);
			issue(c, USBGUARD_ISSUE_SYNTAX, d);
			return -EINVAL;
		}
		if (at == USB_ATTR_ID && strpbrk(v, "ABCDEF")) {
			(void)xsnprintf(d, sizeof(d),
			                "id %.60s: upper-case hex (USBGuard compares the text; the kernel's "
			                "ids are lower-case)",
			                v);
			issue(c, USBGUARD_ISSUE_VALUE, d);
			return -EINVAL;
		}
		if (!usb_match_value_valid(at, v) ||
		    (attr_map[ai].string && !policy_format_valid(POLICY_FORMAT_TEXT, v) && v[0])) {
			(void)xsnprintf(d, sizeof(d), "%s \"%.200s\": %s", attr_map[ai].ug, a->v[k],
			                at == USB_ATTR_SERIAL || at == USB_ATTR_NAME || at == USB_ATTR_CONNECT_TYPE
			                        ? "control bytes, invalid UTF-8 or over 255 bytes cannot be matched"
			                        : "not a valid value");
			issue(c, USBGUARD_ISSUE_VALUE, d);
			return -EINVAL;
		}
	}
	if (scalar) {
		char v[USBGUARD_LINE_MAX];

		(void)strscpy(v, sizeof(v), a->v[0]);
		if (!attr_map[ai].string)
			lower(v);
		return cJSON_AddStringToObject(match, base, v) ? 0 : -ENOMEM;
	}
	if (!a->op && at == USB_ATTR_INTERFACES)
		(void)xsnprintf(key, sizeof(key), "%s", base); /* the set's default, equals */
	else
		(void)xsnprintf(key, sizeof(key), "%s_%s", base, usb_setop_to_usbguard(op));
	for (char *p = key; *p; p++)
		if (*p == '-')
			*p = '_';
	if (!usb_match_key_find(key)) {
		(void)xsnprintf(d, sizeof(d), "%s %s", attr_map[ai].ug, a->op ? a->op : "");
		issue(c, USBGUARD_ISSUE_OPERATOR, d);
		return -EINVAL;
	}
	arr = cJSON_AddArrayToObject(match, key);
	if (!arr)
		return -ENOMEM;
	for (size_t k = 0; k < a->n; k++) {
		char v[USBGUARD_LINE_MAX];
		cJSON *sv;

		(void)strscpy(v, sizeof(v), a->v[k]);
		if (!attr_map[ai].string)
			lower(v);
		sv = cJSON_CreateString(v);
		if (!sv || !cJSON_AddItemToArray(arr, sv)) {
			cJSON_Delete(sv);
			return -ENOMEM;
		}
	}
	return 0;
}

/* `if [operator] condition | if [operator] { conditions }` at toks[*i].
 * Returns 1 (always true: no condition), 0 (never true: the rule never
 * applies) or -EINVAL (a condition USBGuard evaluates at run time, or bad
 * syntax; issue recorded). */
static int condition(struct line_ctx *c, struct token *toks, size_t n, size_t *i)
{
	struct attr a;
	bool any_true = false, all_true = true;
	enum usb_setop op;

	if (read_attr(c, "if", toks, n, i, &a) < 0)
		return -EINVAL;
	op = a.op ? usb_setop_from_usbguard(a.op) : USB_OP_EQUALS;
	for (size_t k = 0; k < a.n; k++) {
		bool t;

		if (a.is_string[k])
			goto runtime;
		if (strcmp(a.v[k], "true") == 0 || strcmp(a.v[k], "!false") == 0)
			t = true;
		else if (strcmp(a.v[k], "false") == 0 || strcmp(a.v[k], "!true") == 0)
			t = false;
		else
			goto runtime;
		any_true |= t;
		all_true &= t;
	}
	/* constants only: one value, or a set under all-of / one-of / none-of */
	if (a.n == 1 && !a.op)
		return all_true ? 1 : 0;
	if (op == USB_OP_ALL_OF)
		return all_true ? 1 : 0;
	if (op == USB_OP_ONE_OF)
		return any_true ? 1 : 0;
	if (op == USB_OP_NONE_OF)
		return any_true ? 0 : 1;
runtime : {
	char d[200];
	(void)xsnprintf(d, sizeof(d),
	                "if %s%s%.100s: conditions are evaluated by USBGuard at run time (time, matches, "
	                "randomness, other rules); mamori has none",
	                a.op ? a.op : "", a.op ? " " : "", a.n ? a.v[0] : "");
	issue(c, USBGUARD_ISSUE_CONDITION, d);
	return -EINVAL;
}
}

static cJSON *new_rule(struct line_ctx *c, const char *action, bool reject, const char *label, cJSON *match,
                       bool broadened)
{
	cJSON *rule = cJSON_CreateObject(), *reqs;
	char id[64], comment[USBGUARD_LINE_MAX + 256];

	/* takes match in every case */
	if (!rule || !cJSON_AddItemToObject(rule, "match", match)) {
		cJSON_Delete(rule);
		cJSON_Delete(match);
		return NULL;
	}
	(void)xsnprintf(id, sizeof(id), "usbguard-L%u", c->line);
	(void)xsnprintf(comment, sizeof(comment), "imported from USBGuard rules.conf line %u%s%s%s%.200s", c->line,
	                reject ? " (reject → block)" : "",
	                broadened ? " (broadened: conditions mamori cannot check were dropped)" : "",
	                label ? "; label: " : "", label ? label : "");
	if (!policy_format_valid(POLICY_FORMAT_TEXT, comment))
		(void)xsnprintf(comment, sizeof(comment), "imported from USBGuard rules.conf line %u", c->line);
	if (!cJSON_AddStringToObject(rule, "id", id) || !cJSON_AddStringToObject(rule, "action", action) ||
	    !(reqs = cJSON_AddArrayToObject(rule, "requirements")) ||
	    !cJSON_AddItemToArray(reqs, cJSON_CreateString("MEDIA-1")) ||
	    !cJSON_AddStringToObject(rule, "comment", comment)) {
		cJSON_Delete(rule);
		return NULL;
	}
	return rule;
}

/* A block line that cannot be read, with partial: block every device from here on. */
static int add_block_all(struct line_ctx *c, bool reject, cJSON *out)
{
	cJSON *match = cJSON_CreateObject(), *rule;

	if (!match || !cJSON_AddStringToObject(match, "id", "*:*")) {
		cJSON_Delete(match);
		return -ENOMEM;
	}
	rule = new_rule(c, "block", reject, NULL, match, true);
	if (!rule)
		return -ENOMEM;
	if (!cJSON_AddItemToArray(out, rule)) {
		cJSON_Delete(rule);
		return -ENOMEM;
	}
	c->issues->rules_broadened++;
	return 0;
}

/* Convert one tokenised rule into at most one mamori rule appended to out.
 * An allow rule with anything mamori cannot check is refused (dropping an
 * allow never widens); a block rule is, with `partial`, kept without those
 * attributes (a block that matches more never widens), or as a block of every
 * device when the line cannot be read at all. */
static int convert(struct line_ctx *c, struct token *toks, size_t n, bool partial, cJSON *out)
{
	_cleanup_(cJSON_Deletep) cJSON *match = cJSON_CreateObject();
	const char *action, *label = NULL;
	bool reject, line_bad = false, attr_bad = false, never = false, seen_if = false,
	             seen[ELEMENTSOF(attr_map)] = {false};
	size_t i = 1;
	cJSON *rule;
	int r;

	if (!match)
		return -ENOMEM;
	if (toks[0].kind != TOK_WORD || (strcmp(toks[0].text, "allow") != 0 && strcmp(toks[0].text, "block") != 0 &&
	                                 strcmp(toks[0].text, "reject") != 0)) {
		issue(c, USBGUARD_ISSUE_TARGET, toks[0].text);
		return 0; /* not a rule of any target: nothing to keep or to widen */
	}
	reject = strcmp(toks[0].text, "reject") == 0;
	action = reject ? "block" : toks[0].text;

	/* optional bare device id after the target: the id attribute */
	if (i < n && toks[i].kind == TOK_WORD && strchr(toks[i].text, ':') && attr_index(toks[i].text) < 0 &&
	    !is_operator(toks[i].text)) {
		struct attr a = {.n = 1, .v = {toks[i].text}};

		seen[0] = true;
		r = add_attr(c, match, 0, &a);
		if (r == -ENOMEM)
			return r;
		if (r < 0)
			line_bad = true; /* a malformed id: USBGuard refuses the file */
		i++;
	}
	while (i < n && !line_bad) {
		const char *name = toks[i].text;
		struct attr a;
		int ai;

		if (toks[i].kind != TOK_WORD) {
			char d[96];
			(void)xsnprintf(d, sizeof(d), "unexpected %.60s", name);
			issue(c, USBGUARD_ISSUE_SYNTAX, d);
			line_bad = true;
			break;
		}
		i++;
		if (strcmp(name, "if") == 0) {
			if (seen_if) {
				issue(c, USBGUARD_ISSUE_DUPLICATE, name);
				line_bad = true;
				break;
			}
			seen_if = true;
			r = condition(c, toks, n, &i);
			if (r < 0)
				attr_bad = true;
			else if (r == 0)
				never = true;
			continue;
		}
		if (strcmp(name, "label") == 0) {
			if (read_attr(c, name, toks, n, &i, &a) < 0) {
				line_bad = true;
				break;
			}
			label = a.n ? a.v[0] : NULL;
			continue;
		}
		ai = attr_index(name);
		if (ai < 0) {
			char d[96];
			(void)xsnprintf(d, sizeof(d), "unknown attribute %.60s", name);
			issue(c, USBGUARD_ISSUE_ATTRIBUTE, d);
			line_bad = true;
			break;
		}
		if (seen[ai]) {
			issue(c, USBGUARD_ISSUE_DUPLICATE, name);
			line_bad = true;
			break;
		}
		seen[ai] = true;
		if (read_attr(c, name, toks, n, &i, &a) < 0) {
			line_bad = true;
			break;
		}
		r = add_attr(c, match, ai, &a);
		if (r == -ENOMEM)
			return r;
		if (r < 0)
			attr_bad = true;
	}
	if (never)
		return 0; /* `if false`: the rule never applies, in USBGuard as here */
	if (line_bad || attr_bad) {
		if (strcmp(action, "allow") == 0 || !partial)
			return 0; /* refused: the issues say why */
		if (line_bad) {
			/* the line cannot be read: block every device from here on */
			cJSON_Delete(match);
			match = cJSON_CreateObject();
			if (!match)
				return -ENOMEM;
		}
		c->issues->rules_broadened++;
	}
	if (cJSON_GetArraySize(out) >= USBGUARD_RULES_MAX) {
		issue(c, USBGUARD_ISSUE_TOO_MANY, "more than 1024 rules");
		return 0;
	}
	/* no condition at all: every device (USBGuard's catch-all rule) */
	if (!match->child && !cJSON_AddStringToObject(match, "id", "*:*"))
		return -ENOMEM;
	rule = new_rule(c, action, reject, label, TAKE_PTR(match), line_bad || attr_bad);
	if (!rule)
		return -ENOMEM;
	if (!cJSON_AddItemToArray(out, rule)) {
		cJSON_Delete(rule);
		return -ENOMEM;
	}
	c->converted = !(line_bad || attr_bad);
	return 0;
}

int usbguard_import(const char *buf, size_t len, bool partial, cJSON **ret_rules, struct usbguard_issues *issues)
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
		int r;

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
		r = tokenize(&c, s, toks, store, &n);
		if (r < 0) {
			issues->lines_total++;
			issues->lines_refused++;
			/* a block line that cannot be read: with partial, block everything */
			if (partial && (startswith(s, "block") || startswith(s, "reject"))) {
				r = add_block_all(&c, startswith(s, "reject"), out);
				if (r < 0)
					return r;
			}
			continue;
		}
		if (n == 0)
			continue;
		issues->lines_total++;
		r = convert(&c, toks, n, partial, out);
		if (r < 0)
			return r;
		if (c.failed)
			issues->lines_refused++;
		else
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
        [USBGUARD_ISSUE_CONDITION] = "condition mamori cannot evaluate, line not converted",
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
        [USBGUARD_ISSUE_CONDITION] = "mamori が評価できない条件のため変換していません",
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
