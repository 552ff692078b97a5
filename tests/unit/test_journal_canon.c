/* tests/unit/test_journal_canon.c — the canonical bytes (docs/EVENTS.md) and
 * the exact-bytes encoding of untrusted strings. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
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

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_rules),       cmocka_unit_test(test_rejects),
	        cmocka_unit_test(test_idempotent),  cmocka_unit_test(test_base64_roundtrip),
	        cmocka_unit_test(test_bytes_value), cmocka_unit_test(test_record),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
