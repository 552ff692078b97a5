/* common/digest.h — the one SHA-256 path of the processes that link
 * libcrypto (mamori-worker, mamorictl, mamori-server): OpenSSL's SHA-256
 * (SHA-NI/AVX2 assembly, ~7x the freestanding one on this class of CPU) for
 * bulk hashing — whole files (integrity baselines, AV signature files, files
 * carried out to media, dpkg md5sums) and hash chains (the agent's journal,
 * the server's record chain). Knows nothing of mamori. mamorid (the USB gate)
 * never links it: it and small one-off buffers use the freestanding
 * common/sha256.h, which also holds HMAC-SHA-256. No other file calls
 * OpenSSL's EVP digest functions (certificate fingerprints, X509_digest, and
 * certificate signing stay with the X509 code of agent/net/enroll.c and
 * server-api/pki.c). */
#ifndef MAMORI_DIGEST_H
#define MAMORI_DIGEST_H

#include <stddef.h>
#include <stdint.h>

enum digest_alg {
	DIGEST_SHA256, /* 32 bytes, 64 hex digits */
	DIGEST_MD5,    /* 16 bytes, 32 hex digits: dpkg's md5sums only */
	_DIGEST_ALG_MAX,
	_DIGEST_ALG_INVALID = -1,
};

/* Read fd to its end and write the digest as lower-case hex with a NUL into
 * ret_hex (hexsz at least 2 * size + 1). max_bytes caps what is read (0: no
 * cap). Returns 0, -EFBIG past the cap, -errno of a failed read, -ENOMEM,
 * -EINVAL (alg or hexsz) or -EIO (OpenSSL); ret_hex is written only on
 * success. */
int digest_fd_hex(int fd, enum digest_alg alg, uint64_t max_bytes, char *ret_hex, size_t hexsz);

/* A reusable streaming SHA-256 (one per thread): new returns it ready for
 * update; final writes the digest and leaves it ready for the next message.
 * Return 0, -ENOMEM or -EIO (OpenSSL; its error queue is cleared). */
struct digest_sha256;
int digest_sha256_new(struct digest_sha256 **ret);
struct digest_sha256 *digest_sha256_free(struct digest_sha256 *d);
int digest_sha256_update(struct digest_sha256 *d, const void *data, size_t len);
int digest_sha256_final(struct digest_sha256 *d, uint8_t ret[32]);
/* SHA-256(a ‖ b) with the context above (hash chains: previous hash ‖ record). */
int digest_sha256_2(struct digest_sha256 *d, const void *a, size_t an, const void *b, size_t bn, uint8_t ret[32]);
/* The same without a context kept (any thread; mamori-server's hash workers). */
int digest_sha256_once(const void *a, size_t an, const void *b, size_t bn, uint8_t ret[32]);

#endif
