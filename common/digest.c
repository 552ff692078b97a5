/* common/digest.c — SHA-256 and file digests through OpenSSL's EVP
 * interface, the one file that calls it for a digest (mamori-worker,
 * mamorictl, mamori-server; see digest.h). */
#include <errno.h>
#include <unistd.h>

#include <stdlib.h>

#include <openssl/err.h>
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

struct digest_sha256 {
	EVP_MD_CTX *ctx;
	EVP_MD *md; /* fetched once: no per-message lookup */
};

struct digest_sha256 *digest_sha256_free(struct digest_sha256 *d)
{
	if (d) {
		EVP_MD_CTX_free(d->ctx);
		EVP_MD_free(d->md);
		free(d);
	}
	return NULL;
}

int digest_sha256_new(struct digest_sha256 **ret)
{
	struct digest_sha256 *d = calloc(1, sizeof(*d));

	if (!d)
		return -ENOMEM;
	d->md = EVP_MD_fetch(NULL, "SHA256", NULL);
	d->ctx = EVP_MD_CTX_new();
	if (!d->md || !d->ctx) {
		ERR_clear_error();
		digest_sha256_free(d);
		return -ENOMEM;
	}
	if (EVP_DigestInit_ex(d->ctx, d->md, NULL) != 1) {
		ERR_clear_error();
		digest_sha256_free(d);
		return -EIO;
	}
	*ret = d;
	return 0;
}

int digest_sha256_update(struct digest_sha256 *d, const void *data, size_t len)
{
	if (len > 0 && EVP_DigestUpdate(d->ctx, data, len) != 1) {
		ERR_clear_error();
		return -EIO;
	}
	return 0;
}

int digest_sha256_final(struct digest_sha256 *d, uint8_t ret[32])
{
	unsigned len = 0;

	if (EVP_DigestFinal_ex(d->ctx, ret, &len) != 1 || len != 32 || EVP_DigestInit_ex(d->ctx, d->md, NULL) != 1) {
		ERR_clear_error();
		(void)EVP_DigestInit_ex(d->ctx, d->md, NULL);
		return -EIO;
	}
	return 0;
}

int digest_sha256_2(struct digest_sha256 *d, const void *a, size_t an, const void *b, size_t bn, uint8_t ret[32])
{
	int r = digest_sha256_update(d, a, an);

	if (r == 0)
		r = digest_sha256_update(d, b, bn);
	if (r == 0)
		return digest_sha256_final(d, ret);
	(void)EVP_DigestInit_ex(d->ctx, d->md, NULL); /* the next message starts clean */
	return r;
}

int digest_sha256_once(const void *a, size_t an, const void *b, size_t bn, uint8_t ret[32])
{
	_cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *c = EVP_MD_CTX_new();
	unsigned len = 0;

	if (!c)
		return -ENOMEM;
	if (EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1 || (an > 0 && EVP_DigestUpdate(c, a, an) != 1) ||
	    (bn > 0 && EVP_DigestUpdate(c, b, bn) != 1) || EVP_DigestFinal_ex(c, ret, &len) != 1 || len != 32) {
		ERR_clear_error();
		return -EIO;
	}
	return 0;
}
