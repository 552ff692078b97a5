/* tests/unit/test_base64.c — common/base64.c against the RFC 4648 §10 test
 * vectors, base64url (§5), strict refusal of every non-canonical input, and
 * OpenSSL's EVP_EncodeBlock as the oracle over every length up to 300
 * (issue 19.1). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "base64.h"

static const struct {
	const char *raw, *b64, *url;
} rfc[] = {
        {"", "", ""},
        {"f", "Zg==", "Zg"},
        {"fo", "Zm8=", "Zm8"},
        {"foo", "Zm9v", "Zm9v"},
        {"foob", "Zm9vYg==", "Zm9vYg"},
        {"fooba", "Zm9vYmE=", "Zm9vYmE"},
        {"foobar", "Zm9vYmFy", "Zm9vYmFy"},
};

static void test_rfc4648_vectors(void **state)
{
	char out[64];
	uint8_t dec[64];
	size_t n;

	(void)state;
	for (size_t i = 0; i < sizeof(rfc) / sizeof(rfc[0]); i++) {
		size_t len = strlen(rfc[i].raw);

		assert_int_equal(base64_encode(rfc[i].raw, len, out, sizeof(out)), 0);
		assert_string_equal(out, rfc[i].b64);
		assert_int_equal(strlen(out), BASE64_LEN(len));
		assert_int_equal(base64url_encode(rfc[i].raw, len, out, sizeof(out)), 0);
		assert_string_equal(out, rfc[i].url);
		assert_int_equal(strlen(out), BASE64URL_LEN(len));
		assert_int_equal(base64_decode(rfc[i].b64, strlen(rfc[i].b64), dec, sizeof(dec), &n), 0);
		assert_int_equal(n, len);
		assert_memory_equal(dec, rfc[i].raw, len);
		assert_int_equal(base64url_decode(rfc[i].url, strlen(rfc[i].url), dec, sizeof(dec), &n), 0);
		assert_int_equal(n, len);
		assert_memory_equal(dec, rfc[i].raw, len);
	}
}

/* The two alphabets differ in 62 and 63 (RFC 4648 tables 1 and 2). */
static void test_alphabets(void **state)
{
	static const uint8_t hi[] = {0xfb, 0xff, 0xbf};
	char out[16];
	uint8_t dec[8];
	size_t n;

	(void)state;
	assert_int_equal(base64_encode(hi, sizeof(hi), out, sizeof(out)), 0);
	assert_string_equal(out, "+/+/");
	assert_int_equal(base64url_encode(hi, sizeof(hi), out, sizeof(out)), 0);
	assert_string_equal(out, "-_-_");
	assert_int_equal(base64_decode("+/+/", 4, dec, sizeof(dec), &n), 0);
	assert_int_equal(n, 3);
	assert_memory_equal(dec, hi, 3);
	assert_int_equal(base64url_decode("-_-_", 4, dec, sizeof(dec), &n), 0);
	assert_memory_equal(dec, hi, 3);
	assert_int_equal(base64_decode("-_-_", 4, dec, sizeof(dec), &n), -EINVAL);
	assert_int_equal(base64url_decode("+/+/", 4, dec, sizeof(dec), &n), -EINVAL);
}

static void test_refusals(void **state)
{
	static const char *const bad[] = {
	        "Zg",        /* padding missing */
	        "Zg=",       /* length */
	        "Zh==",      /* unused bits set: not the canonical "Zg==" */
	        "Zm9=",      /* the same with one '=' */
	        "Z===",      /* 6 bits: no byte */
	        "====",      /* padding only */
	        "=Zg=",      /* padding first */
	        "Zm8=Zm8=",  /* padding inside */
	        "Zm9v\n",    /* whitespace */
	        " Zm9v",     /* whitespace */
	        "Zm\x00v",   /* NUL inside (length 4) */
	        "Zm9vYg=\n", /* a newline for the padding */
	};
	uint8_t dec[16];
	size_t n;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t len = i == 10 ? 4 : strlen(bad[i]);

		if (base64_decode(bad[i], len, dec, sizeof(dec), &n) != -EINVAL)
			fail_msg("accepted: \"%s\"", bad[i]);
	}
	assert_int_equal(base64url_decode("Zg==", 4, dec, sizeof(dec), &n), -EINVAL); /* no padding in base64url */
	assert_int_equal(base64url_decode("Z", 1, dec, sizeof(dec), &n), -EINVAL);
	assert_int_equal(base64url_decode("Zh", 2, dec, sizeof(dec), &n), -EINVAL);
	/* the output buffer is respected */
	assert_int_equal(base64_decode("Zm9vYmFy", 8, dec, 5, &n), -ENOBUFS);
	assert_int_equal(base64_decode("Zm9vYmFy", 8, dec, 6, &n), 0);
	{
		char out[8];
		assert_int_equal(base64_encode("foobar", 6, out, 8), -ENOBUFS); /* 8 characters + NUL */
		assert_int_equal(base64url_encode("fooba", 5, out, 8), 0);      /* 7 + NUL */
		assert_string_equal(out, "Zm9vYmE");
	}
}

/* OpenSSL judges: every length 0..300 of varied bytes encodes as
 * EVP_EncodeBlock does and decodes back. */
static void test_against_openssl(void **state)
{
	uint8_t in[300], dec[300];
	char mine[BASE64_LEN(300) + 1], ossl[BASE64_LEN(300) + 1];
	size_t n;

	(void)state;
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 167 + 13);
	for (size_t len = 0; len <= sizeof(in); len++) {
		int k = EVP_EncodeBlock((unsigned char *)ossl, in, (int)len);

		assert_int_equal(base64_encode(in, len, mine, sizeof(mine)), 0);
		assert_int_equal(k, (int)strlen(mine));
		assert_string_equal(mine, ossl);
		assert_int_equal(base64_decode(mine, strlen(mine), dec, sizeof(dec), &n), 0);
		assert_int_equal(n, len);
		assert_memory_equal(dec, in, len);
		assert_int_equal(base64url_encode(in, len, mine, sizeof(mine)), 0);
		assert_int_equal(base64url_decode(mine, strlen(mine), dec, sizeof(dec), &n), 0);
		assert_int_equal(n, len);
		assert_memory_equal(dec, in, len);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_rfc4648_vectors),
	        cmocka_unit_test(test_alphabets),
	        cmocka_unit_test(test_refusals),
	        cmocka_unit_test(test_against_openssl),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
