/* tests/unit/test_ed25519.c — common/ed25519.c against the RFC 8032 §7.1
 * test vectors (exact signatures from the secret keys, verification with
 * the public keys), refusal of altered messages and signatures and of keys
 * of another type, the PEM round trip; and common/random-util.c (issue 19.1). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "ed25519.h"
#include "random-util.h"
#include "strutil.h"

static const struct {
	const char *secret, *public, *msg, *sig;
} rfc8032[] = {
        {"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
         "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
         "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
         "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"},
        {"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
         "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
         "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
         "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
        {"c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
         "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
         "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
         "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"},
};

static size_t unhex(const char *h, uint8_t *out, size_t outsz)
{
	size_t n = strlen(h) / 2;

	assert_true(n <= outsz);
	assert_int_equal(hex_decode(h, strlen(h), out, n), 0);
	return n;
}

static void test_rfc8032_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rfc8032) / sizeof(rfc8032[0]); i++) {
		_cleanup_ed25519_key_ struct ed25519_key *sk = NULL, *pk = NULL;
		uint8_t secret[32], public[32], msg[8] = {0}, want[64], sig[64];
		size_t mlen;

		unhex(rfc8032[i].secret, secret, sizeof(secret));
		unhex(rfc8032[i].public, public, sizeof(public));
		mlen = unhex(rfc8032[i].msg, msg, sizeof(msg));
		unhex(rfc8032[i].sig, want, sizeof(want));
		assert_int_equal(ed25519_key_from_raw(secret, true, &sk), 0);
		assert_int_equal(ed25519_key_from_raw(public, false, &pk), 0);
		assert_int_equal(ed25519_sign(sk, msg, mlen, sig), 0);
		assert_memory_equal(sig, want, 64); /* Ed25519 is deterministic */
		assert_int_equal(ed25519_verify(pk, msg, mlen, want), 0);
		assert_int_equal(ed25519_verify(sk, msg, mlen, want), 0);
		/* one bit of the signature, of the message, or one more byte */
		sig[i * 7] ^= 0x01;
		assert_int_equal(ed25519_verify(pk, msg, mlen, sig), -EBADMSG);
		msg[0] ^= 0x80;
		assert_int_equal(ed25519_verify(pk, msg, mlen ? mlen : 1, want), -EBADMSG);
		/* a public key signs nothing */
		assert_int_equal(ed25519_sign(pk, msg, mlen, sig), -ENOKEY);
	}
}

static void test_pem_round_trip(void **state)
{
	_cleanup_ed25519_key_ struct ed25519_key *k = NULL, *priv = NULL, *pub = NULL;
	_cleanup_free_ char *ptext = NULL, *stext = NULL;
	size_t plen, slen;
	uint8_t sig[64];

	(void)state;
	assert_int_equal(ed25519_key_generate(&k), 0);
	assert_int_equal(ed25519_key_to_pem(k, true, &stext, &slen), 0);
	assert_int_equal(ed25519_key_to_pem(k, false, &ptext, &plen), 0);
	assert_non_null(memmem(stext, slen, "-----BEGIN PRIVATE KEY-----", 27));
	assert_non_null(memmem(ptext, plen, "-----BEGIN PUBLIC KEY-----", 26));
	assert_int_equal(ed25519_key_from_pem(stext, slen, true, &priv), 0);
	assert_int_equal(ed25519_key_from_pem(ptext, plen, false, &pub), 0);
	assert_int_equal(ed25519_sign(priv, "policy", 6, sig), 0);
	assert_int_equal(ed25519_verify(pub, "policy", 6, sig), 0);
	assert_int_equal(ed25519_verify(pub, "Policy", 6, sig), -EBADMSG);
	/* the halves are not interchangeable as PEM */
	{
		struct ed25519_key *x = NULL;
		assert_int_equal(ed25519_key_from_pem(ptext, plen, true, &x), -ENOKEY);
		assert_int_equal(ed25519_key_from_pem(stext, slen, false, &x), -ENOKEY);
		assert_int_equal(ed25519_key_from_pem("garbage", 7, false, &x), -ENOKEY);
		assert_null(x);
	}
}

/* A P-256 key is a valid PEM key, but not Ed25519: refused. */
static void test_other_key_type(void **state)
{
	EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	BIO *bio = BIO_new(BIO_s_mem());
	struct ed25519_key *x = NULL;
	char *data;
	long n;

	(void)state;
	assert_non_null(ec);
	assert_non_null(bio);
	assert_int_equal(PEM_write_bio_PUBKEY(bio, ec), 1);
	n = BIO_get_mem_data(bio, &data);
	assert_true(n > 0);
	assert_int_equal(ed25519_key_from_pem(data, (size_t)n, false, &x), -ENOKEY);
	assert_null(x);
	BIO_free(bio);
	EVP_PKEY_free(ec);
}

/* The whole buffer, its end included, is filled; two draws differ. (The
 * short-read loop is not reached here: kernels from 5.18 on return a whole
 * large request at once, older ones at most 32 MiB - 1.) */
static void test_random_bytes(void **state)
{
	size_t big = 40u << 20;
	uint8_t *b = calloc(1, big), zero[64] = {0}, a[32], c[32];

	(void)state;
	assert_non_null(b);
	assert_int_equal(random_bytes(b, big, false), 0);
	assert_memory_not_equal(b + big - sizeof(zero), zero, sizeof(zero));
	assert_memory_not_equal(b + (33u << 20), zero, sizeof(zero));
	free(b);
	assert_int_equal(random_bytes(a, sizeof(a), false), 0);
	assert_int_equal(random_bytes(c, sizeof(c), true), 0);
	assert_memory_not_equal(a, c, sizeof(a));
	assert_int_equal(random_bytes(a, 0, false), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_rfc8032_vectors),
	        cmocka_unit_test(test_pem_round_trip),
	        cmocka_unit_test(test_other_key_type),
	        cmocka_unit_test(test_random_bytes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
