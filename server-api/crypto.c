/* server-api/crypto.c — SHA-256, random tokens, scrypt password hashes
 * (mamori-server). The only server file that calls OpenSSL's KDF API; the
 * SHA-256 is common/digest.h's, random bytes common/random-util.h's,
 * base64url common/base64.h's; failures become negative errno. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "base64.h"
#include "crypto.h"
#include "digest.h"
#include "random-util.h"
#include "strutil.h"

#define SALT_LEN      16
#define PWKEY_LEN     32
#define SCRYPT_MAXMEM (64u * 1024 * 1024)

int crypto_random(void *buf, size_t n)
{
	return random_bytes(buf, n, false);
}

int crypto_token(const char *prefix, char ret[CRYPTO_TOKEN_MAX])
{
	uint8_t rnd[32];
	size_t pl = strlen(prefix);
	int r;

	if (pl + 44 > CRYPTO_TOKEN_MAX)
		return -EINVAL;
	r = crypto_random(rnd, sizeof(rnd));
	if (r < 0)
		return r;
	memcpy(ret, prefix, pl);
	r = base64url_encode(rnd, sizeof(rnd), ret + pl, CRYPTO_TOKEN_MAX - pl);
	OPENSSL_cleanse(rnd, sizeof(rnd));
	return r;
}

int crypto_sha256_2(const void *a, size_t an, const void *b, size_t bn, uint8_t ret[32])
{
	return digest_sha256_once(a, an, b, bn, ret); /* common/digest.h: the one SHA-256 path */
}

int crypto_sha256(const void *p, size_t n, uint8_t ret[32])
{
	return crypto_sha256_2(p, n, NULL, 0, ret);
}

int crypto_sha256_hex(const void *p, size_t n, char ret[CRYPTO_SHA256_HEX])
{
	uint8_t md[32];
	int r = crypto_sha256(p, n, md);

	if (r < 0)
		return r;
	hex_encode(md, sizeof(md), ret);
	return 0;
}

static int scrypt(const char *password, const uint8_t *salt, size_t saltlen, unsigned log2n, unsigned rr, unsigned pp,
                  uint8_t out[PWKEY_LEN])
{
	if (!EVP_PBE_scrypt(password, strlen(password), salt, saltlen, (uint64_t)1 << log2n, rr, pp, SCRYPT_MAXMEM, out,
	                    PWKEY_LEN)) {
		ERR_clear_error();
		return -EIO;
	}
	return 0;
}

int crypto_password_hash(const char *password, char ret[CRYPTO_PWHASH_MAX])
{
	uint8_t salt[SALT_LEN], key[PWKEY_LEN];
	char s64[32], k64[48];
	int r;

	if ((r = crypto_random(salt, sizeof(salt))) < 0 ||
	    (r = scrypt(password, salt, sizeof(salt), CRYPTO_SCRYPT_LOG2N, CRYPTO_SCRYPT_R, CRYPTO_SCRYPT_P, key)) < 0)
		return r;
	r = base64url_encode(salt, sizeof(salt), s64, sizeof(s64));
	if (r >= 0)
		r = base64url_encode(key, sizeof(key), k64, sizeof(k64));
	OPENSSL_cleanse(key, sizeof(key));
	if (r < 0)
		return r;
	return xsnprintf(ret, CRYPTO_PWHASH_MAX, "scrypt$%u$%u$%u$%s$%s", CRYPTO_SCRYPT_LOG2N, CRYPTO_SCRYPT_R,
	                 CRYPTO_SCRYPT_P, s64, k64) < 0
	               ? -ENOBUFS
	               : 0;
}

int crypto_password_verify(const char *password, const char *encoded)
{
	unsigned log2n, rr, pp;
	char s64[64], k64[64];
	uint8_t salt[64], want[64], key[PWKEY_LEN];
	size_t saltlen, wantlen;
	int n = 0, r;

	if (!encoded ||
	    sscanf(encoded, "scrypt$%u$%u$%u$%63[A-Za-z0-9_-]$%63[A-Za-z0-9_-]%n", &log2n, &rr, &pp, s64, k64, &n) !=
	            5 ||
	    encoded[n] != 0)
		return -EINVAL;
	if (log2n < 10 || log2n > 20 || rr < 1 || rr > 32 || pp < 1 || pp > 16 ||
	    base64url_decode(s64, strlen(s64), salt, sizeof(salt), &saltlen) < 0 ||
	    base64url_decode(k64, strlen(k64), want, sizeof(want), &wantlen) < 0 || wantlen != PWKEY_LEN)
		return -EINVAL;
	r = scrypt(password, salt, saltlen, log2n, rr, pp, key);
	if (r < 0)
		return r;
	r = CRYPTO_memcmp(key, want, PWKEY_LEN) == 0 ? 0 : -EACCES;
	OPENSSL_cleanse(key, sizeof(key));
	return r;
}

bool crypto_streq(const char *a, const char *b)
{
	size_t n = strlen(a);

	return n == strlen(b) && CRYPTO_memcmp(a, b, n) == 0;
}
