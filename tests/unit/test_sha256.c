/* tests/unit/test_sha256.c — the freestanding SHA-256 (common/sha256.c)
 * against the NIST FIPS 180-4 example vectors and against OpenSSL, whole and
 * fed in pieces of every size across block boundaries (issue 19.2); its
 * HMAC-SHA-256 against RFC 4231 and OpenSSL's HMAC() for keys shorter than,
 * as long as and longer than a block (the exception codes' MAC, issue 19.1). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "sha256.h"
#include "strutil.h"

static void hex_of(const uint8_t md[32], char out[65])
{
	hex_encode(md, 32, out);
}

/* NIST CSRC "SHA256.pdf" / FIPS 180-2 appendix B and the long-message vector */
static void test_nist_vectors(void **state)
{
	static const struct {
		const char *msg;
		size_t repeat;
		const char *hex;
	} v[] = {
	        {"abc", 1, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
	        {"", 1, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
	        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 1,
	         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
	        {"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopq"
	         "rst"
	         "nopqrstu",
	         1, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"},
	        {"a", 1000000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"},
	};
	char out[65];

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct sha256_ctx c;
		uint8_t md[32];

		sha256_init(&c);
		for (size_t k = 0; k < v[i].repeat; k++)
			sha256_update(&c, v[i].msg, strlen(v[i].msg));
		sha256_final(&c, md);
		hex_of(md, out);
		assert_string_equal(out, v[i].hex);
	}
}

/* Every length 0…300 (all padding cases), random bytes, whole and in pieces,
 * against OpenSSL's EVP SHA-256. */
static void test_against_openssl(void **state)
{
	uint8_t data[1200];
	uint32_t x = 2463534242u;

	(void)state;
	for (size_t i = 0; i < sizeof(data); i++) {
		x ^= x << 13, x ^= x >> 17, x ^= x << 5;
		data[i] = (uint8_t)x;
	}
	for (size_t len = 0; len <= sizeof(data); len += len < 300 ? 1 : 97) {
		uint8_t want[32], got[32];
		unsigned n = 0;

		assert_true(EVP_Digest(data, len, want, &n, EVP_sha256(), NULL) == 1);
		assert_int_equal(sha256_buf(data, len, got), 0);
		assert_memory_equal(got, want, 32);
		for (size_t piece = 1; piece <= 130; piece += piece < 4 ? 1 : 21) {
			struct sha256_ctx c;

			sha256_init(&c);
			for (size_t off = 0; off < len; off += piece)
				sha256_update(&c, data + off, len - off < piece ? len - off : piece);
			sha256_final(&c, got);
			assert_memory_equal(got, want, 32);
		}
	}
}

static void test_hmac(void **state)
{
	static const struct {
		uint8_t key_byte;
		size_t key_len;
		const char *key, *msg, *want;
	} rfc4231[] = {
	        {0x0b, 20, NULL, "Hi There", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
	        {0, 4, "Jefe", "what do ya want for nothing?",
	         "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
	        {0xaa, 131, NULL, "Test Using Larger Than Block-Size Key - Hash Key First",
	         "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
	};
	uint8_t key[200], data[300], got[32], want[32];
	char hex[65];

	(void)state;
	for (size_t i = 0; i < sizeof(rfc4231) / sizeof(rfc4231[0]); i++) {
		if (rfc4231[i].key)
			memcpy(key, rfc4231[i].key, rfc4231[i].key_len);
		else
			memset(key, rfc4231[i].key_byte, rfc4231[i].key_len);
		hmac_sha256(key, rfc4231[i].key_len, rfc4231[i].msg, strlen(rfc4231[i].msg), got);
		hex_of(got, hex);
		assert_string_equal(hex, rfc4231[i].want);
	}
	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(i * 7 + 1);
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 13 + 5);
	for (size_t kl = 0; kl <= sizeof(key); kl += kl < 70 ? 1 : 43)
		for (size_t ml = 0; ml <= sizeof(data); ml += 61) {
			unsigned n = 0;

			assert_non_null(HMAC(EVP_sha256(), key, (int)kl, data, ml, want, &n));
			assert_int_equal(n, 32);
			hmac_sha256(key, kl, data, ml, got);
			assert_memory_equal(got, want, 32);
		}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_nist_vectors),
	        cmocka_unit_test(test_against_openssl),
	        cmocka_unit_test(test_hmac),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
