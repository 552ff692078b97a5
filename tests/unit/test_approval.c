/* tests/unit/test_approval.c — approval data (protocol/approval.c) and its
 * verification and installation on the terminal (agent/net/approval_verify.c;
 * issue 16, OPS-4) with real Ed25519 keys in a temporary state directory:
 * a signed document is installed and loads again; the same version is
 * "unchanged"; refused are a lower version (rollback), a flipped byte, another
 * key, another terminal, an unknown or duplicate field, an approval of an
 * unknown kind or whose version is above the document's; an installed
 * document whose signature no longer matches loads as an error (none applies). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "approval.h"
#include "approval_verify.h"
#include "policy_sign.h"
#include "testutil.h"

#define ID   "00112233445566778899aabbccddeeff"
#define HASH "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static int setup(void **state)
{
	*state = tu_keys_new();
	return 0;
}

static int teardown(void **state)
{
	tu_keys_free(*state);
	return 0;
}

static void doc(char *buf, size_t n, const char *tid, int version, const char *extra)
{
	snprintf(buf, n,
	         "{\"type\":\"mamori.approvals\",\"terminal_id\":\"%s\",\"version\":%d,\"issued_at\":1800000000,"
	         "\"approvals\":[{\"id\":\"" ID "\",\"request_id\":\"" ID "\",\"kind\":\"device\",\"hash\":\"" HASH
	         "\",\"person\":\"tanaka\",\"access\":\"ro\",\"not_after\":1800003600,\"approved_by\":\"shonin\","
	         "\"version\":%d}]%s}",
	         tid, version, version, extra);
}

static int install(struct tu_keys *f, const char *key, const char *d)
{
	char sig[POLICY_SIG_B64_LEN + 1], why[256];

	assert_int_equal(policy_sign_buf(key, d, strlen(d), sig), 0);
	return approval_install(f->dir, f->pub, "pc-a", d, strlen(d), sig, why, sizeof(why));
}

static void test_install_and_load(void **state)
{
	struct tu_keys *f = *state;
	static struct approval_doc d;
	char buf[2048], why[256];

	assert_int_equal(approval_load(f->dir, f->pub, "pc-a", &d, why, sizeof(why)), -ENOENT);
	doc(buf, sizeof(buf), "pc-a", 2, "");
	assert_int_equal(install(f, f->key, buf), 0);
	assert_int_equal(approval_load(f->dir, f->pub, "pc-a", &d, why, sizeof(why)), 0);
	assert_int_equal(d.version, 2);
	assert_int_equal(d.n, 1);
	assert_string_equal(d.a[0].hash, HASH);
	assert_string_equal(d.a[0].person, "tanaka");
	assert_int_equal(d.a[0].access, APPROVAL_RO);
	assert_int_equal(install(f, f->key, buf), 1); /* the same version: unchanged */
	doc(buf, sizeof(buf), "pc-a", 1, "");
	assert_int_equal(install(f, f->key, buf), -ESTALE); /* no rollback */
	doc(buf, sizeof(buf), "pc-a", 3, "");
	assert_int_equal(install(f, f->key, buf), 0);
	/* the installed signature no longer matches: nothing applies */
	{
		char p[600];
		FILE *fp;

		snprintf(p, sizeof(p), "%s/%s", f->dir, APPROVAL_FILE);
		fp = fopen(p, "r+");
		assert_non_null(fp);
		fseek(fp, 20, SEEK_SET);
		fputc('X', fp);
		fclose(fp);
	}
	assert_true(approval_load(f->dir, f->pub, "pc-a", &d, why, sizeof(why)) < 0);
}

static void test_refused(void **state)
{
	struct tu_keys *f = *state;
	char buf[2048], sig[POLICY_SIG_B64_LEN + 1], why[256];

	doc(buf, sizeof(buf), "pc-a", 1, "");
	assert_true(install(f, f->key2, buf) < 0); /* another key */
	doc(buf, sizeof(buf), "pc-b", 1, "");
	assert_true(install(f, f->key, buf) < 0); /* another terminal */
	doc(buf, sizeof(buf), "pc-a", 1, ",\"user\":\"x\"");
	assert_true(install(f, f->key, buf) < 0); /* unknown field */
	doc(buf, sizeof(buf), "pc-a", 1, ",\"version\":9");
	assert_true(install(f, f->key, buf) < 0); /* duplicate field */
	/* a flipped byte after signing */
	doc(buf, sizeof(buf), "pc-a", 1, "");
	assert_int_equal(policy_sign_buf(f->key, buf, strlen(buf), sig), 0);
	buf[strlen(buf) - 20] ^= 1;
	assert_true(approval_install(f->dir, f->pub, "pc-a", buf, strlen(buf), sig, why, sizeof(why)) < 0);
}

static void test_parse(void **state)
{
	static struct approval_doc d;
	const char *why;
	char buf[2048];

	(void)state;
	doc(buf, sizeof(buf), "pc-a", 1, "");
	assert_int_equal(approval_doc_parse(buf, strlen(buf), &d, &why), 0);
	/* an unknown kind, an access that is not ro/rw, a version above the document's */
	doc(buf, sizeof(buf), "pc-a", 1, "");
	memcpy(strstr(buf, "\"device\""), "\"printr\"", 8);
	assert_int_equal(approval_doc_parse(buf, strlen(buf), &d, &why), -EBADMSG);
	doc(buf, sizeof(buf), "pc-a", 1, "");
	memcpy(strstr(buf, "\"ro\""), "\"rx\"", 4);
	assert_int_equal(approval_doc_parse(buf, strlen(buf), &d, &why), -EBADMSG);
	doc(buf, sizeof(buf), "pc-a", 1, "");
	memcpy(strstr(buf, "\"version\":1}"), "\"version\":2}", 12);
	assert_int_equal(approval_doc_parse(buf, strlen(buf), &d, &why), -EBADMSG);
	assert_int_equal(approval_doc_parse("[]", 2, &d, &why), -EBADMSG);
}

/* The parse of ok with the first `from` replaced by `to` (as long). */
static int parse_mutated(const char *ok, const char *from, const char *to)
{
	static struct approval_doc d;
	const char *why;
	char buf[2048];

	snprintf(buf, sizeof(buf), "%s", ok);
	assert_non_null(strstr(buf, from));
	assert_int_equal(strlen(from), strlen(to));
	memcpy(strstr(buf, from), to, strlen(to));
	return approval_doc_parse(buf, strlen(buf), &d, &why);
}

/* A carry-out (CARRY-2): the medium, a named person, the window, rw only. */
static void test_parse_carry_out(void **state)
{
	static struct approval_doc d;
	const char *why;
	const char *ok = "{\"type\":\"mamori.approvals\",\"terminal_id\":\"pc-a\",\"version\":3,\"issued_at\":5,"
	                 "\"approvals\":[{\"id\":\"" ID "\",\"request_id\":\"" ID "\",\"kind\":\"carry-out\","
	                 "\"medium\":{\"vendor\":\"0781\",\"product\":\"5567\",\"serial\":\"S-1\"},"
	                 "\"person\":\"tanaka\",\"access\":\"rw\",\"not_before\":100,\"not_after\":200,"
	                 "\"approved_by\":\"user:shonin\",\"version\":3}]}";

	(void)state;
	assert_int_equal(approval_doc_parse(ok, strlen(ok), &d, &why), 0);
	assert_int_equal(d.a[0].kind, APPROVAL_CARRY_OUT);
	assert_int_equal(d.a[0].vendor, 0x0781);
	assert_int_equal(d.a[0].product, 0x5567);
	assert_string_equal(d.a[0].serial, "S-1");
	assert_string_equal(d.a[0].person, "tanaka");
	assert_int_equal(d.a[0].not_before, 100);
	/* read-only: a carry-out permits writing */
	assert_int_equal(parse_mutated(ok, "\"rw\"", "\"ro\""), -EBADMSG);
	/* anyone: a carry-out names its person */
	assert_int_equal(parse_mutated(ok, "\"tanaka\"", "null    "), -EBADMSG);
	/* a device's hash instead of the medium; a medium without a serial */
	assert_int_equal(parse_mutated(ok, "\"medium\"", "\"hash\"  "), -EBADMSG);
	assert_int_equal(parse_mutated(ok, "\"serial\"", "\"serail\""), -EBADMSG);
	assert_int_equal(parse_mutated(ok, "\"0781\"", "\"0G81\""), -EBADMSG);
	/* the window backwards */
	assert_int_equal(parse_mutated(ok, "\"not_before\":100", "\"not_before\":300"), -EBADMSG);
	/* an escaped NUL: cJSON would read the serial "S\u0000-1" as "S", and the
	 * approval would name another stick */
	{
		char buf[2048];
		const char *at = strstr(ok, "S-1");

		snprintf(buf, sizeof(buf), "%.*sS\\u0000-1%s", (int)(at - ok), ok, at + 3);
		assert_int_equal(approval_doc_parse(buf, strlen(buf), &d, &why), -EBADMSG);
		snprintf(buf, sizeof(buf), "%.*sS\\\\u0000-1%s", (int)(at - ok), ok, at + 3);
		assert_int_equal(approval_doc_parse(buf, strlen(buf), &d, &why), 0); /* a backslash, as text */
		assert_string_equal(d.a[0].serial, "S\\u0000-1");
	}
}

/* an approved exception of a requirement (issue 16.3): its own exact fields */
static void test_parse_exception(void **state)
{
	static struct approval_doc d;
	const char *why;
	char buf[2048];
	const char *fmt = "{\"type\":\"mamori.approvals\",\"terminal_id\":\"pc-a\",\"version\":1,\"issued_at\":1,"
	                  "\"approvals\":[{\"id\":\"" ID "\",\"request_id\":\"" ID
	                  "\",\"kind\":\"exception\",\"requirement\":\"%s\",\"person\":null,"
	                  "\"not_after\":1800003600,\"approved_by\":\"shonin\",\"version\":1%s}]}";

	(void)state;
	snprintf(buf, sizeof(buf), fmt, "MEDIA-2", "");
	assert_int_equal(approval_doc_parse(buf, strlen(buf), &d, &why), 0);
	assert_int_equal(d.n, 1);
	assert_int_equal(d.a[0].kind, APPROVAL_EXCEPTION);
	assert_string_equal(d.a[0].requirement, "MEDIA-2");
	assert_string_equal(d.a[0].person, "");
	assert_int_equal(d.a[0].not_after, 1800003600);
	/* a device's field in an exception, a malformed requirement: refused */
	snprintf(buf, sizeof(buf), fmt, "MEDIA-2", ",\"access\":\"ro\"");
	assert_int_equal(approval_doc_parse(buf, strlen(buf), &d, &why), -EBADMSG);
	snprintf(buf, sizeof(buf), fmt, "media-2", "");
	assert_int_equal(approval_doc_parse(buf, strlen(buf), &d, &why), -EBADMSG);
	snprintf(buf, sizeof(buf), fmt, "MEDIA-", "");
	assert_int_equal(approval_doc_parse(buf, strlen(buf), &d, &why), -EBADMSG);
	snprintf(buf, sizeof(buf), fmt, "ABCDEFGHIJKLMNOP-1", "");
	assert_int_equal(approval_doc_parse(buf, strlen(buf), &d, &why), -EBADMSG);
	assert_true(approval_requirement_form("OPS-3"));
	assert_false(approval_requirement_form("OPS-3x"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_install_and_load, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
	        cmocka_unit_test(test_parse),
	        cmocka_unit_test(test_parse_carry_out),
	        cmocka_unit_test(test_parse_exception),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
