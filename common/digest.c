/* common/digest.c — file digests through OpenSSL's EVP interface, the one
 * place a worker-side file hash calls it (mamori-worker, mamorictl). */
#include <errno.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "alloc-util.h"
#include "digest.h"
#include "fileio.h"
#include "strutil.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_MD_CTX *, EVP_MD_CTX_free)

int digest_fd_hex(int fd, enum digest_alg alg, uint64_t max_bytes, char *ret_hex, size_t hexsz)
{
	_cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *c = NULL;
	unsigned char buf[65536], md[EVP_MAX_MD_SIZE];
	unsigned int want = alg == DIGEST_SHA256 ? 32 : 16, len = 0;
	uint64_t total = 0;

	if ((alg != DIGEST_SHA256 && alg != DIGEST_MD5) || hexsz < 2 * (size_t)want + 1)
		return -EINVAL;
	c = EVP_MD_CTX_new();
	if (!c)
		return -ENOMEM;
	if (EVP_DigestInit_ex(c, alg == DIGEST_SHA256 ? EVP_sha256() : EVP_md5(), NULL) != 1)
		return -EIO;
	for (;;) {
		ssize_t n = read_full(fd, buf, sizeof(buf));

		if (n < 0)
			return (int)n;
		if (n == 0)
			break;
		total += (uint64_t)n;
		if (max_bytes && total > max_bytes)
			return -EFBIG;
		if (EVP_DigestUpdate(c, buf, (size_t)n) != 1)
			return -EIO;
	}
	if (EVP_DigestFinal_ex(c, md, &len) != 1 || len != want)
		return -EIO;
	hex_encode(md, want, ret_hex);
	return 0;
}
