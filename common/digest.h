/* common/digest.h — OpenSSL's message digests over a file descriptor, for
 * the files a process hashes whole (mamori-worker: integrity baselines, AV
 * signature files, dpkg md5sums). Knows nothing of mamori; links libcrypto,
 * so mamorid (the USB gate) never uses it — buffers in memory are hashed
 * with the freestanding common/sha256.h everywhere. */
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

#endif
