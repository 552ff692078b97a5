/* common/sha256.c — SHA-256 through OpenSSL (see sha256.h). */
#include <errno.h>

#include <openssl/evp.h>

#include "sha256.h"

int sha256_buf(const void *data, size_t len, uint8_t ret[32])
{
	unsigned int n = 0;

	if (!EVP_Digest(data, len, ret, &n, EVP_sha256(), NULL) || n != 32)
		return -EIO;
	return 0;
}
