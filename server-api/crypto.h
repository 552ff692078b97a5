/* server-api/crypto.h — hashing, random secrets and password hashing for the
 * server (mamori-server). OpenSSL's digest, random and KDF API is called only
 * here; callers see negative errno.
 *
 * Tokens (enrollment tokens, session and API tokens, the bootstrap secret)
 * are 256 random bits, base64url without padding after a short prefix
 * ("mt1_", "ms1_", "ma1_", "mb1_"). Tokens are stored as SHA-256 (they have
 * full entropy); passwords and the bootstrap secret as scrypt. */
#ifndef MAMORI_SRV_CRYPTO_H
#define MAMORI_SRV_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CRYPTO_TOKEN_MAX  64 /* prefix + 43 base64url characters + NUL fits */
#define CRYPTO_SHA256_HEX 65
#define CRYPTO_PWHASH_MAX 160

/* scrypt cost: N = 2^15, r = 8, p = 1 (32 MiB, ~0.1 s), as RFC 7914 suggests
 * for interactive logins. */
#define CRYPTO_SCRYPT_LOG2N 15
#define CRYPTO_SCRYPT_R     8
#define CRYPTO_SCRYPT_P     1

int crypto_random(void *buf, size_t n);

/* A new token: prefix followed by base64url of 32 random bytes. */
int crypto_token(const char *prefix, char ret[CRYPTO_TOKEN_MAX]);

/* SHA-256 of n bytes; hex (65 bytes with NUL) or raw (32 bytes). */
int crypto_sha256_hex(const void *p, size_t n, char ret[CRYPTO_SHA256_HEX]);
int crypto_sha256(const void *p, size_t n, uint8_t ret[32]);
/* SHA-256(a ‖ b) — one step of the journal's hash chain. */
int crypto_sha256_2(const void *a, size_t an, const void *b, size_t bn, uint8_t ret[32]);

/* "scrypt$<log2N>$<r>$<p>$<salt b64>$<hash b64>" of a password. */
int crypto_password_hash(const char *password, char ret[CRYPTO_PWHASH_MAX]);
/* 0 if password matches encoded, -EACCES if not, -EINVAL if encoded is not
 * one of ours. The comparison takes the same time either way. */
int crypto_password_verify(const char *password, const char *encoded);

/* Constant-time equality of two NUL-terminated strings of equal length. */
bool crypto_streq(const char *a, const char *b);

#endif
