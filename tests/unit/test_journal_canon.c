/* tests/unit/test_journal_canon.c — the canonical bytes (docs/EVENTS.md) and
 * the exact-bytes encoding of untrusted strings. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "journal_canon.h"
#include "strutil.h"

static char *canon_of(const char *json, int *ret)
{
	struct buf b = {0};
	cJSON *o = cJSON_Parse(json);

	assert_non_null(o);
	*ret = journal_canon_payload(o, &b);
	cJSON_Delete(o);
	if (*ret < 0) {
		buf_free(&b);
		return NULL;
	}
	return b.data;
}

/* The rules of docs/EVENTS.md on a small example: keys sorted by bytes, no
 * whitespace, only '"' '\\' and C0 controls escaped, integers only. */
static void test_rules(void **state)
{
	int r;
	char *c = canon_of("{\"b\": 1, \"a\": {\"z\": [true, null, -0, 9007199254740991], \"\\u00e9\": "
	                   "\"\\u0001\\n\\\"\\\\/\\u00e9\"},"
	                   " \"B\": false}",
	                   &r);

	(void)state;
	assert_int_equal(r, 0);
	assert_string_equal(c, "{\"B\":false,\"a\":{\"z\":[true,null,0,9007199254740991],\"\xc3\xa9\":"
	                       "\"\\u0001\\n\\\"\\\\/\xc3\xa9\"},\"b\":1}");
	free(c);
}

static void test_rejects(void **state)
{
	static const char *bad[] = {
	        "{\"x\": 0.5}", "{\"x\": 9007199254740992}", "{\"x\": 1e300}", "{\"a\": 1, \"a\": 2}", "{\"$x\": 1}",
	        "[1]",          "{\"$bytes\": \"!!\"}",
	};
	char deep[64] = "{\"a\":";
	int r;

	(void)state;
	/* nesting one level deeper than JOURNAL_DEPTH_MAX */
	for (int i = 0; i < JOURNAL_DEPTH_MAX + 1; i++)
		strncat(deep, "[", sizeof(deep) - strlen(deep) - 1);
	strncat(deep, "1", sizeof(deep) - strlen(deep) - 1);
	for (int i = 0; i < JOURNAL_DEPTH_MAX + 1; i++)
		strncat(deep, "]", sizeof(deep) - strlen(deep) - 1);
	strncat(deep, "}", sizeof(deep) - strlen(deep) - 1);
	assert_null(canon_of(deep, &r));
	assert_int_equal(r, -EINVAL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *c = canon_of(bad[i], &r);

		assert_null(c);
		assert_int_equal(r, -EINVAL);
	}
	assert_int_equal(journal_canon_check_head("usb.blocked", SEV_INFO, "MEDIA-1,CARRY-1"), 0);
	assert_int_equal(journal_canon_check_head("usb", SEV_INFO, NULL), -EINVAL);
	assert_int_equal(journal_canon_check_head("usb.Blocked", SEV_INFO, NULL), -EINVAL);
	assert_int_equal(journal_canon_check_head("usb.blocked", _SEV_MAX, NULL), -EINVAL);
	assert_int_equal(journal_canon_check_head("usb.blocked", SEV_INFO, "media-1"), -EINVAL);
	assert_int_equal(journal_canon_check_head("usb.blocked", SEV_INFO, "MEDIA-"), -EINVAL);
}

/* canonical(parse(canonical(x))) == canonical(x) */
static void test_idempotent(void **state)
{
	struct buf b = {0}, b2 = {0};
	cJSON *o = cJSON_CreateObject(), *back;
	char bytes[300];

	(void)state;
	for (size_t i = 0; i < sizeof(bytes); i++)
		bytes[i] = (char)(i * 37 + 1);
	cJSON_AddItemToObject(o, "bin", journal_canon_bytes_value(bytes, sizeof(bytes)));
	cJSON_AddStringToObject(o, "ctl", "\x01\x02\x1f\x7f");
	cJSON_AddNumberToObject(o, "neg", -42);
	assert_int_equal(journal_canon_payload(o, &b), 0);
	assert_true(utf8_valid(b.data, b.len));
	back = cJSON_ParseWithLength(b.data, b.len);
	assert_non_null(back);
	assert_int_equal(journal_canon_payload(back, &b2), 0);
	assert_int_equal(b.len, b2.len);
	assert_memory_equal(b.data, b2.data, b.len);
	cJSON_Delete(o);
	cJSON_Delete(back);
	buf_free(&b);
	buf_free(&b2);
}

static void test_base64_roundtrip(void **state)
{
	(void)state;
	srand(4);
	for (size_t n = 0; n < 200; n++) {
		struct buf b = {0};
		unsigned char in[200];
		char *out = NULL;
		size_t outlen = 0;

		for (size_t i = 0; i < n; i++)
			in[i] = (unsigned char)rand();
		assert_int_equal(journal_base64_encode(in, n, &b), 0);
		assert_int_equal(b.len, (n + 2) / 3 * 4);
		assert_int_equal(journal_base64_decode(b.data ? b.data : "", b.len, &out, &outlen), 0);
		assert_int_equal(outlen, n);
		assert_memory_equal(out, in, n);
		free(out);
		buf_free(&b);
	}
	{
		char *out = NULL;
		size_t n;

		assert_int_equal(journal_base64_decode("QQ=", 3, &out, &n), -EINVAL);
		assert_int_equal(journal_base64_decode("QR==", 4, &out, &n), -EINVAL); /* non-zero pad bits */
		assert_int_equal(journal_base64_decode("Q===", 4, &out, &n), -EINVAL);
		assert_int_equal(journal_base64_decode("QQ==QQ==", 8, &out, &n), -EINVAL);
		assert_null(out);
	}
}

static void test_bytes_value(void **state)
{
	static const char nul[] = {'a', 0, 'b'};
	char *got = NULL;
	size_t n;
	cJSON *v;

	(void)state;
	v = journal_canon_bytes_value("plain 日本語", strlen("plain 日本語"));
	assert_true(cJSON_IsString(v));
	cJSON_Delete(v);
	v = journal_canon_bytes_value(nul, sizeof(nul));
	assert_true(cJSON_IsObject(v));
	assert_int_equal(journal_canon_value_bytes(v, &got, &n), 0);
	assert_int_equal(n, 3);
	assert_memory_equal(got, nul, 3);
	free(got);
	cJSON_Delete(v);
}

static void test_record(void **state)
{
	struct buf b = {0};
	struct journal_canon_head h = {.chain = "0123456789abcdef0123456789abcdef",
	                               .seq = 7,
	                               .time_us = 1700000000123456,
	                               .synced = false,
	                               .type = "carry.out",
	                               .severity = SEV_NOTICE,
	                               .reqs = "CARRY-1,MEDIA-2"};

	(void)state;
	assert_int_equal(journal_canon_record(&h, "{}", 2, &b), 0);
	assert_string_equal(
	        b.data,
	        "{\"chain\":\"0123456789abcdef0123456789abcdef\",\"payload\":{},\"reqs\":[\"CARRY-1\",\"MEDIA-2\"],"
	        "\"seq\":7,\"severity\":\"notice\",\"synced\":false,\"time_us\":1700000000123456,"
	        "\"type\":\"carry.out\"}");
	h.seq = 0;
	assert_int_equal(journal_canon_record(&h, "{}", 2, &b), -EINVAL);
	buf_free(&b);
}

/* ---- the encoder against a plain reading of docs/EVENTS.md ---------------
 * The encoder scans strings eight bytes at a time (issue 23.3); this
 * reference reads one byte at a time and validates UTF-8 by RFC 3629 itself,
 * and the two must agree on every random payload, byte for byte and in
 * what they refuse. */
static bool ref_utf8(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned c = p[i], len, min;
		uint32_t cp;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			len = 2, cp = c & 0x1f, min = 0x80;
		else if (c >= 0xe0 && c <= 0xef)
			len = 3, cp = c & 0x0f, min = 0x800;
		else if (c >= 0xf0 && c <= 0xf4)
			len = 4, cp = c & 0x07, min = 0x10000;
		else
			return false;
		if (n - i < len)
			return false;
		for (unsigned k = 1; k < len; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (p[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += len;
	}
	return true;
}

static void ref_str(struct buf *b, const char *s)
{
	buf_put(b, "\"", 1, BUF_NO_MAX);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		char e[8];

		if (*p == '"' || *p == '\\')
			snprintf(e, sizeof(e), "\\%c", *p);
		else if (*p == '\b' || *p == '\f' || *p == '\n' || *p == '\r' || *p == '\t')
			snprintf(e, sizeof(e), "\\%c", "bfnrt"[strchr("\b\f\n\r\t", *p) - "\b\f\n\r\t"]);
		else if (*p < 0x20)
			snprintf(e, sizeof(e), "\\u%04x", *p);
		else
			e[0] = (char)*p, e[1] = 0;
		buf_puts(b, e, BUF_NO_MAX);
	}
	buf_put(b, "\"", 1, BUF_NO_MAX);
}

static int ref_cmp(const void *a, const void *b)
{
	return strcmp((*(const cJSON *const *)a)->string, (*(const cJSON *const *)b)->string);
}

static int ref_value(struct buf *b, const cJSON *v, unsigned depth)
{
	if (depth > JOURNAL_DEPTH_MAX)
		return -EINVAL;
	if (cJSON_IsNull(v) || cJSON_IsTrue(v) || cJSON_IsFalse(v))
		return buf_puts(b, cJSON_IsNull(v) ? "null" : cJSON_IsTrue(v) ? "true" : "false", BUF_NO_MAX);
	if (cJSON_IsNumber(v)) {
		if (v->valuedouble != (double)(int64_t)v->valuedouble || v->valuedouble > 9007199254740991.0 ||
		    v->valuedouble < -9007199254740991.0)
			return -EINVAL;
		return buf_printf(b, BUF_NO_MAX, "%lld", (long long)v->valuedouble);
	}
	if (cJSON_IsString(v)) {
		if (ref_utf8((const unsigned char *)v->valuestring, strlen(v->valuestring))) {
			ref_str(b, v->valuestring);
			return 0;
		}
		buf_puts(b, "{\"$bytes\":\"", BUF_NO_MAX);
		journal_base64_encode(v->valuestring, strlen(v->valuestring), b);
		return buf_puts(b, "\"}", BUF_NO_MAX);
	}
	if (cJSON_IsArray(v)) {
		buf_puts(b, "[", BUF_NO_MAX);
		for (const cJSON *c = v->child; c; c = c->next) {
			int r;

			if (c != v->child)
				buf_puts(b, ",", BUF_NO_MAX);
			if ((r = ref_value(b, c, depth + 1)) < 0)
				return r;
		}
		return buf_puts(b, "]", BUF_NO_MAX);
	}
	{
		const cJSON *kids[64];
		size_t n = 0;

		for (const cJSON *c = v->child; c; c = c->next) {
			if (c->string[0] == '$' || !ref_utf8((const unsigned char *)c->string, strlen(c->string)))
				return -EINVAL;
			assert_true(n < 64);
			kids[n++] = c;
		}
		qsort(kids, n, sizeof(*kids), ref_cmp);
		buf_puts(b, "{", BUF_NO_MAX);
		for (size_t i = 0; i < n; i++) {
			int r;

			if (i > 0 && strcmp(kids[i - 1]->string, kids[i]->string) == 0)
				return -EINVAL;
			if (i > 0)
				buf_puts(b, ",", BUF_NO_MAX);
			ref_str(b, kids[i]->string);
			buf_puts(b, ":", BUF_NO_MAX);
			if ((r = ref_value(b, kids[i], depth + 1)) < 0)
				return r;
		}
		return buf_puts(b, "}", BUF_NO_MAX);
	}
}

static uint64_t rng = 88172645463325252u;

static unsigned rnd(void)
{
	rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
	return (unsigned)rng;
}

/* strings that put escapes, multibyte and broken sequences at every offset of an 8-byte word */
static void rnd_str(char *o, size_t max)
{
	static const char *const pieces[] = {
	        "a",
	        "Z",
	        "0",
	        "\"",
	        "\\",
	        "\n",
	        "\t",
	        "\x01",
	        "\x1f",
	        " ",
	        "/",
	        "\x7f",
	        "\xc3\xa9",
	        "\xe5\xa0\xb1",
	        "\xf0\x9f\x98\x80",
	        "\xff",
	        "\xc3",
	        "\xe5\xa0",
	        "\xed\xa0\x80",
	        "\xc0\xaf",
	        "\xf4\x90\x80\x80",
	        "$",
	        "abcdefgh",
	        "ABCDEFGHIJKLMNOP",
	        "\x80",
	        "\b",
	        "\f",
	        "\r",
	        "\x1b",
	};
	size_t n = rnd() % 40, l = 0;

	o[0] = 0;
	for (size_t i = 0; i < n; i++) {
		const char *p = pieces[rnd() % (sizeof(pieces) / sizeof(pieces[0]))];
		size_t pl = strlen(p);

		if (l + pl + 1 > max)
			break;
		memcpy(o + l, p, pl + 1);
		l += pl;
	}
}

static cJSON *rnd_value(int depth);

static cJSON *rnd_object(int depth)
{
	cJSON *o = cJSON_CreateObject();
	int n = (int)(rnd() % (depth > 2 ? 3 : 12));

	for (int i = 0; i < n; i++) {
		char k[64];

		if (rnd() % 16)
			snprintf(k, sizeof(k), "k%u", rnd() % 400);
		else
			rnd_str(k, sizeof(k));
		cJSON_AddItemToObject(o, k, rnd_value(depth + 1));
	}
	return o;
}

static cJSON *rnd_value(int depth)
{
	char s[256];

	switch (rnd() % (depth > 4 ? 4 : 6)) {
	case 0:
		rnd_str(s, sizeof(s));
		return cJSON_CreateString(s);
	case 1:
		return cJSON_CreateNumber((double)((int)(rnd() % 2000000) - 1000000));
	case 2:
		return rnd() % 40 ? cJSON_CreateBool(rnd() % 2) : cJSON_CreateNumber(0.5);
	case 3:
		return cJSON_CreateNull();
	case 4:
		return rnd_object(depth);
	default: {
		cJSON *a = cJSON_CreateArray();

		for (int i = (int)(rnd() % 5); i > 0; i--)
			cJSON_AddItemToArray(a, rnd_value(depth + 1));
		return a;
	}
	}
}

static void test_reference(void **state)
{
	struct buf got = {0}, want = {0};
	unsigned ok = 0, bytes = 0, refused = 0;

	(void)state;
	for (int i = 0; i < 20000; i++) {
		cJSON *o = rnd_object(0);
		int r = journal_canon_payload(o, &got), w;

		want.len = 0;
		w = ref_value(&want, o, 0);
		assert_int_equal(r < 0 ? r : 0, w < 0 ? w : 0);
		if (r == 0) {
			assert_int_equal(got.len, want.len);
			assert_memory_equal(got.data, want.data, got.len);
			ok++;
			bytes += strstr(got.data, "$bytes") != NULL;
		} else
			refused++;
		cJSON_Delete(o);
	}
	/* the corpus exercised both outcomes and both string forms */
	assert_true(ok > 2000 && refused > 2000 && bytes > 500);
	buf_free(&got);
	buf_free(&want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_rules),       cmocka_unit_test(test_rejects),
	        cmocka_unit_test(test_idempotent),  cmocka_unit_test(test_base64_roundtrip),
	        cmocka_unit_test(test_bytes_value), cmocka_unit_test(test_record),
	        cmocka_unit_test(test_reference),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
