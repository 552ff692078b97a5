/* common/sha256.h — SHA-256 (FIPS 180-4), freestanding: no libcrypto, no
 * allocation (every process; mamorid, the USB gate, hashes device
 * descriptors with it in its decision path without linking OpenSSL, as
 * systemd's src/fundamental/sha256.c does for the boot loader), and
 * HMAC-SHA-256 for every process. Bulk hashing in processes that link
 * libcrypto goes through common/digest.h (OpenSSL's SHA-NI code).
 * Tested against OpenSSL and the NIST vectors (tests/unit/test_sha256.c). */
#ifndef MAMORI_SHA256_H
#define MAMORI_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_SIZE 32

struct sha256_ctx {
	uint32_t h[8];
	uint64_t total; /* bytes hashed so far */
	uint8_t buf[64];
	size_t buflen;
};

void sha256_init(struct sha256_ctx *ctx);
void sha256_update(struct sha256_ctx *ctx, const void *data, size_t len);
void sha256_final(struct sha256_ctx *ctx, uint8_t ret[SHA256_DIGEST_SIZE]);

/* One buffer; always 0 (the int is kept for the callers' error paths). */
int sha256_buf(const void *data, size_t len, uint8_t ret[SHA256_DIGEST_SIZE]);

/* HMAC-SHA-256 (RFC 2104; RFC 4231 vectors in tests/unit/test_sha256.c).
 * The key pads and inner state are wiped before returning. */
void hmac_sha256(const void *key, size_t keylen, const void *msg, size_t len, uint8_t ret[SHA256_DIGEST_SIZE]);

#endif
