/* protocol/journal_canon.c — canonical JSON of journal records and exact-bytes
 * encoding of untrusted strings (mamori-worker, mamorictl, mamori-server; and
 * mamorid, whose usb module encodes descriptor strings with it). Pure; see
 * journal_canon.h and docs/EVENTS.md. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "alloc-util.h"
#include "base64.h"
#include "buf.h"
#include "journal_canon.h"
#include "strutil.h"

/* Records are common/buf.h buffers capped at JOURNAL_RECORD_MAX. */
static __attribute__((noinline)) int rec_grow(struct buf *b, const void *p, size_t n)
{
	return buf_put(b, p, n, JOURNAL_RECORD_MAX);
}

static inline int rec_put(struct buf *b, const void *p, size_t n)
{
	/* the common case without a call (issue 23.3: the journal's CPU per
	 * record): room already there, within the record bound; the same
	 * checks and result as buf_put's */
	if (b->data && n < b->alloc - b->len && b->len <= JOURNAL_RECORD_MAX && n <= JOURNAL_RECORD_MAX - b->len) {
		memcpy(b->data + b->len, p, n);
		b->len += n;
		b->data[b->len] = 0;
		return 0;
	}
	return rec_grow(b, p, n);
}

int journal_buf_append(struct buf *b, const void *p, size_t n)
{
	return rec_put(b, p, n);
}

static inline int rec_puts(struct buf *b, const char *s)
{
	return rec_put(b, s, strlen(s));
}

/* rec_put of one byte, without memcpy */
static inline int rec_putc(struct buf *b, char c)
{
	if (b->data && b->len + 1 < b->alloc && b->len < JOURNAL_RECORD_MAX) {
		b->data[b->len++] = c;
		b->data[b->len] = 0;
		return 0;
	}
	return rec_grow(b, &c, 1);
}

static int buf_put_u64(struct buf *b, uint64_t v)
{
	char tmp[24];
	size_t i = sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return rec_put(b, tmp + i, sizeof(tmp) - i);
}

static int buf_put_i64(struct buf *b, int64_t v)
{
	int r;

	if (v < 0) {
		r = rec_putc(b, '-');
		if (r < 0)
			return r;
		return buf_put_u64(b, (uint64_t)0 - (uint64_t)v);
	}
	return buf_put_u64(b, (uint64_t)v);
}

int journal_base64_encode(const void *p, size_t n, struct buf *out)
{
	_cleanup_free_ char *t = NULL;
	int r;

	if (n > JOURNAL_RECORD_MAX)
		return -E2BIG;
	t = malloc(BASE64_LEN(n) + 1);
	if (!t)
		return -ENOMEM;
	r = base64_encode(p, n, t, BASE64_LEN(n) + 1);
	if (r < 0)
		return r;
	return rec_put(out, t, BASE64_LEN(n));
}

int journal_base64_decode(const char *s, size_t n, char **ret, size_t *ret_len)
{
	_cleanup_free_ char *out = NULL;
	size_t o;
	int r;

	if (n > JOURNAL_RECORD_MAX)
		return -EINVAL;
	out = malloc(n / 4 * 3 + 1);
	if (!out)
		return -ENOMEM;
	r = base64_decode(s, n, out, n / 4 * 3, &o);
	if (r < 0)
		return -EINVAL;
	out[o] = 0;
	*ret_len = o;
	*ret = TAKE_PTR(out);
	return 0;
}

/* Word-at-a-time scans (issue 23.3: the journal's CPU per record): eight
 * bytes loaded with memcpy, never past n. A word whose mask is 0 has no
 * byte of the kind; one that has is then read byte by byte. (The masks are
 * the classic "has a zero byte" / "has a byte less than" tests: exact in
 * whether any byte matches, which is all that is used.) */
#define ONES  UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)

static inline uint64_t load8(const char *p)
{
	uint64_t w;

	memcpy(&w, p, sizeof(w));
	return w;
}

/* non-zero when the word holds a byte a JSON string escapes: '"', '\\' or a C0 control */
static inline uint64_t escape_mask(uint64_t w)
{
	uint64_t q = w ^ (ONES * '"'), bs = w ^ (ONES * '\\');

	return (((w - ONES * 0x20) & ~w) | ((q - ONES) & ~q) | ((bs - ONES) & ~bs)) & HIGHS;
}

/* A JSON string of valid UTF-8 (checked by the caller): only '"', '\\' and
 * C0 controls are escaped; everything else is copied byte for byte. */
static int put_string(struct buf *b, const char *s, size_t n)
{
	static const char hx[] = "0123456789abcdef";
	size_t run = 0, i = 0;
	int r;

	r = rec_putc(b, '"');
	if (r < 0)
		return r;
	while (i < n) {
		unsigned char c;
		char esc[7];
		size_t el = 2;

		if (n - i >= 8 && !escape_mask(load8(s + i))) {
			i += 8;
			continue;
		}
		c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\') {
			i++;
			continue;
		}
		r = rec_put(b, s + run, i - run);
		if (r < 0)
			return r;
		run = ++i;
		esc[0] = '\\';
		switch (c) {
		case '"':
		case '\\':
			esc[1] = (char)c;
			break;
		case '\b':
			esc[1] = 'b';
			break;
		case '\f':
			esc[1] = 'f';
			break;
		case '\n':
			esc[1] = 'n';
			break;
		case '\r':
			esc[1] = 'r';
			break;
		case '\t':
			esc[1] = 't';
			break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = hx[c >> 4];
			esc[5] = hx[c & 15];
			el = 6;
		}
		r = rec_put(b, esc, el);
		if (r < 0)
			return r;
	}
	r = rec_put(b, s + run, n - run);
	if (r < 0)
		return r;
	return rec_putc(b, '"');
}

/* A string value from outside: as a JSON string when it is UTF-8, otherwise
 * as {"$bytes":"base64"} so that the stored bytes are exact and the record
 * stays valid UTF-8 JSON. */
static bool text_valid(const char *s, size_t n)
{
	size_t i = 0;

	/* ASCII: the common case, no decoding */
	while (n - i >= 8 && !(load8(s + i) & HIGHS))
		i += 8;
	while (i < n && !((unsigned char)s[i] & 0x80))
		i++;
	return i == n || utf8_valid(s + i, n - i);
}

static int put_string_value(struct buf *b, const char *s)
{
	size_t n = strlen(s);
	int r;

	if (text_valid(s, n))
		return put_string(b, s, n);
	r = rec_puts(b, "{\"" JOURNAL_BYTES_KEY "\":\"");
	if (r < 0)
		return r;
	r = journal_base64_encode(s, n, b);
	if (r < 0)
		return r;
	return rec_puts(b, "\"}");
}

/* A member and the length of its name (measured once). */
struct kid {
	const cJSON *c;
	size_t n;
};

/* strcmp's order (unsigned bytes, a prefix first): UTF-8 byte order = code point order */
static int kid_cmp(const struct kid *x, const struct kid *y)
{
	unsigned char a = (unsigned char)x->c->string[0], z = (unsigned char)y->c->string[0];
	int d;

	if (a != z) /* most names differ in their first byte: no call */
		return a < z ? -1 : 1;
	d = memcmp(x->c->string, y->c->string, x->n < y->n ? x->n : y->n);

	return d ? d : (x->n > y->n) - (x->n < y->n);
}

static int cmp_key(const void *a, const void *b)
{
	return kid_cmp(a, b);
}

static int put_value(struct buf *b, const cJSON *v, unsigned depth);

static int put_object(struct buf *b, const cJSON *o, unsigned depth)
{
	_cleanup_free_ struct kid *heap = NULL;
	struct kid small[16], *kids = small;
	size_t n = 0, i = 0;
	int r;

	for (const cJSON *c = o->child; c; c = c->next)
		n++;
	if (n == 1 && o->child->string && strcmp(o->child->string, JOURNAL_BYTES_KEY) == 0) {
		/* an emitter's journal_canon_bytes_value(): kept if it decodes */
		_cleanup_free_ char *raw = NULL;
		size_t rawlen;
		const cJSON *c = o->child;

		if (!cJSON_IsString(c) || !c->valuestring ||
		    journal_base64_decode(c->valuestring, strlen(c->valuestring), &raw, &rawlen) < 0)
			return -EINVAL;
		r = rec_puts(b, "{\"" JOURNAL_BYTES_KEY "\":");
		if (r < 0)
			return r;
		r = put_string(b, c->valuestring, strlen(c->valuestring));
		if (r < 0)
			return r;
		return rec_putc(b, '}');
	}
	if (n > JOURNAL_RECORD_MAX / 4)
		return -E2BIG;
	if (n > ELEMENTSOF(small)) {
		kids = heap = calloc(n, sizeof(*kids));
		if (!heap)
			return -ENOMEM;
	}
	for (const cJSON *c = o->child; c; c = c->next) {
		size_t kl;

		if (!c->string || c->string[0] == '$' || !text_valid(c->string, kl = strlen(c->string)))
			return -EINVAL;
		kids[i++] = (struct kid){c, kl};
	}
	if (n > ELEMENTSOF(small))
		qsort(kids, n, sizeof(*kids), cmp_key);
	else /* a few keys: insertion sort, without qsort's indirect calls */
		for (size_t a = 1; a < n; a++) {
			struct kid k = kids[a];
			size_t z = a;

			for (; z > 0 && kid_cmp(&kids[z - 1], &k) > 0; z--)
				kids[z] = kids[z - 1];
			kids[z] = k;
		}
	r = rec_putc(b, '{');
	if (r < 0)
		return r;
	for (i = 0; i < n; i++) {
		if (i > 0 && kid_cmp(&kids[i - 1], &kids[i]) == 0)
			return -EINVAL; /* duplicate key: the meaning would be reader-dependent */
		if (i > 0 && (r = rec_putc(b, ',')) < 0)
			return r;
		r = put_string(b, kids[i].c->string, kids[i].n);
		if (r < 0)
			return r;
		r = rec_putc(b, ':');
		if (r < 0)
			return r;
		r = put_value(b, kids[i].c, depth + 1);
		if (r < 0)
			return r;
	}
	return rec_putc(b, '}');
}

static int put_value(struct buf *b, const cJSON *v, unsigned depth)
{
	int r;

	if (depth > JOURNAL_DEPTH_MAX)
		return -EINVAL;
	/* cJSON's own cJSON_IsNull() … tests, without a call each */
	switch (v->type & 0xff) {
	case cJSON_NULL:
		return rec_puts(b, "null");
	case cJSON_True:
		return rec_puts(b, "true");
	case cJSON_False:
		return rec_puts(b, "false");
	case cJSON_Number: {
		double d = v->valuedouble;

		/* integers only: every reader agrees on them (no float formatting rules) */
		if (!(d >= -(double)JOURNAL_INT_MAX && d <= (double)JOURNAL_INT_MAX) || (double)(int64_t)d != d)
			return -EINVAL;
		return buf_put_i64(b, (int64_t)d);
	}
	case cJSON_String:
		return v->valuestring ? put_string_value(b, v->valuestring) : -EINVAL;
	case cJSON_Array: {
		bool first = true;

		r = rec_putc(b, '[');
		if (r < 0)
			return r;
		for (const cJSON *c = v->child; c; c = c->next) {
			if (!first && (r = rec_putc(b, ',')) < 0)
				return r;
			first = false;
			r = put_value(b, c, depth + 1);
			if (r < 0)
				return r;
		}
		return rec_putc(b, ']');
	}
	case cJSON_Object:
		return put_object(b, v, depth);
	default:
		return -EINVAL; /* cJSON_Raw and invalid nodes */
	}
}

int journal_canon_payload(const cJSON *payload, struct buf *out)
{
	out->len = 0;
	if (!payload)
		return rec_puts(out, "{}");
	if (!cJSON_IsObject(payload))
		return -EINVAL;
	return put_object(out, payload, 0);
}

static bool type_valid(const char *t)
{
	size_t n = t ? strlen(t) : 0;
	bool dot = false;

	if (n == 0 || n > JOURNAL_TYPE_MAX || t[0] == '.' || t[n - 1] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = t[i];

		if (c == '.') {
			if (t[i + 1] == '.')
				return false;
			dot = true;
		} else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
			return false;
		}
	}
	return dot;
}

/* Walk "A-1,B-2": calls fn for each ID; -EINVAL on a malformed list. */
static int reqs_walk(const char *reqs, int (*fn)(struct buf *b, const char *id, size_t n), struct buf *b)
{
	const char *p = reqs;
	unsigned count = 0;
	int r;

	if (!reqs || !*reqs)
		return 0;
	for (;;) {
		size_t n = strcspn(p, ",");
		size_t letters = 0, digits = 0;

		if (n == 0 || n > JOURNAL_REQ_LEN_MAX || ++count > JOURNAL_REQS_MAX)
			return -EINVAL;
		while (letters < n && p[letters] >= 'A' && p[letters] <= 'Z')
			letters++;
		if (letters == 0 || letters + 1 >= n || p[letters] != '-')
			return -EINVAL;
		for (size_t i = letters + 1; i < n; i++, digits++)
			if (p[i] < '0' || p[i] > '9')
				return -EINVAL;
		if (fn && (r = fn(b, p, n)) < 0)
			return r;
		if (!p[n])
			return 0;
		p += n + 1;
	}
}

int journal_canon_check_head(const char *type, enum event_severity sev, const char *reqs)
{
	if (!type_valid(type) || !event_severity_to_string(sev))
		return -EINVAL;
	return reqs_walk(reqs, NULL, NULL);
}

static int put_req(struct buf *b, const char *id, size_t n)
{
	int r;

	if (b->data[b->len - 1] != '[' && (r = rec_putc(b, ',')) < 0)
		return r;
	return put_string(b, id, n);
}

int journal_canon_record(const struct journal_canon_head *h, const char *payload, size_t payload_len, struct buf *out)
{
	int r;

	r = journal_canon_check_head(h->type, h->severity, h->reqs);
	if (r < 0)
		return r;
	if (!h->chain || strlen(h->chain) != 32 || h->seq < 1 || h->seq > (uint64_t)JOURNAL_INT_MAX ||
	    h->time_us > JOURNAL_INT_MAX || h->time_us < -JOURNAL_INT_MAX)
		return -EINVAL;
	out->len = 0;
	/* keys in byte order: chain payload reqs seq severity synced time_us type */
	if ((r = rec_puts(out, "{\"chain\":\"")) < 0 || (r = rec_puts(out, h->chain)) < 0 ||
	    (r = rec_puts(out, "\",\"payload\":")) < 0 || (r = rec_put(out, payload, payload_len)) < 0 ||
	    (r = rec_puts(out, ",\"reqs\":[")) < 0 || (r = reqs_walk(h->reqs, put_req, out)) < 0 ||
	    (r = rec_puts(out, "],\"seq\":")) < 0 || (r = buf_put_u64(out, h->seq)) < 0 ||
	    (r = rec_puts(out, ",\"severity\":\"")) < 0 ||
	    (r = rec_puts(out, event_severity_to_string(h->severity))) < 0 ||
	    (r = rec_puts(out, h->synced ? "\",\"synced\":true,\"time_us\":" : "\",\"synced\":false,\"time_us\":")) <
	            0 ||
	    (r = buf_put_i64(out, h->time_us)) < 0 || (r = rec_puts(out, ",\"type\":\"")) < 0 ||
	    (r = rec_puts(out, h->type)) < 0 || (r = rec_puts(out, "\"}")) < 0)
		return r;
	return 0;
}

cJSON *journal_canon_bytes_value(const void *p, size_t n)
{
	struct buf b = {0};
	cJSON *o, *v;

	if (utf8_valid(p, n) && !memchr(p, 0, n)) {
		_cleanup_free_ char *s = strndup(p, n);

		return s ? cJSON_CreateString(s) : NULL;
	}
	if (journal_base64_encode(p, n, &b) < 0 || !b.data) {
		buf_free(&b);
		return NULL;
	}
	o = cJSON_CreateObject();
	v = o ? cJSON_AddStringToObject(o, JOURNAL_BYTES_KEY, b.data) : NULL;
	buf_free(&b);
	if (!v) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

int journal_canon_value_bytes(const cJSON *v, char **ret, size_t *ret_len)
{
	const cJSON *b;
	char *s;

	if (cJSON_IsString(v) && v->valuestring) {
		s = strdup(v->valuestring);
		if (!s)
			return -ENOMEM;
		*ret_len = strlen(s);
		*ret = s;
		return 0;
	}
	b = cJSON_IsObject(v) ? cJSON_GetObjectItemCaseSensitive(v, JOURNAL_BYTES_KEY) : NULL;
	if (!cJSON_IsString(b) || !b->valuestring || v->child->next)
		return -EINVAL;
	return journal_base64_decode(b->valuestring, strlen(b->valuestring), ret, ret_len);
}
