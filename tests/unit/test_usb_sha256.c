/* tests/unit/test_usb_sha256.c — modules/usb/usb_sha256.c against known
 * vectors and against OpenSSL on random lengths and split points (unit test). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/sha.h>

#include "strutil.h"
#include "usb/usb_sha256.h"

static void hash_hex(const void *d, size_t n, char out[65])
{
	struct usb_sha256 c;
	uint8_t h[32];

	usb_sha256_init(&c);
	usb_sha256_update(&c, d, n);
	usb_sha256_final(&c, h);
	hex_encode(h, 32, out);
}

static void test_vectors(void **s)
{
	(void)s;
	char out[65];

	hash_hex("", 0, out);
	assert_string_equal(out, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	hash_hex("abc", 3, out);
	assert_string_equal(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	hash_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, out);
	assert_string_equal(out, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void test_against_openssl(void **s)
{
	(void)s;
	static uint8_t buf[5000];
	uint8_t a[32], b[32];

	srand(7);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)rand();
	for (size_t n = 0; n < sizeof(buf); n += 1 + n / 3) {
		struct usb_sha256 c;
		size_t cut = n ? (size_t)rand() % n : 0;

		usb_sha256_init(&c);
		usb_sha256_update(&c, buf, cut);
		usb_sha256_update(&c, buf + cut, n - cut);
		usb_sha256_final(&c, a);
		SHA256(buf, n, b);
		assert_memory_equal(a, b, 32);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_vectors),
	        cmocka_unit_test(test_against_openssl),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
