/* server-api/identity.c — NFKC (+ case folding) of names with ICU's unorm2
 * (mamori-server). */
#include <errno.h>
#include <string.h>

#include <unicode/unorm2.h>
#include <unicode/ustring.h>

#include "identity.h"

#define UMAX 512

static int normalize(const UNormalizer2 *n, UErrorCode e, const char *text, char *buf, size_t bufsz)
{
	UChar in[UMAX], out[UMAX];
	int32_t inlen = 0, outlen, u8len = 0;

	if (U_FAILURE(e) || !n)
		return -EIO;
	u_strFromUTF8(in, UMAX, &inlen, text, -1, &e);
	if (U_FAILURE(e) || inlen >= UMAX)
		return e == U_BUFFER_OVERFLOW_ERROR || inlen >= UMAX ? -ENOBUFS : -EINVAL;
	outlen = unorm2_normalize(n, in, inlen, out, UMAX, &e);
	if (U_FAILURE(e) || outlen >= UMAX)
		return -ENOBUFS;
	u_strToUTF8(buf, (int32_t)bufsz, &u8len, out, outlen, &e);
	if (U_FAILURE(e) || (size_t)u8len >= bufsz)
		return -ENOBUFS;
	buf[u8len] = 0;
	return 0;
}

int identity_key(const char *text, char *buf, size_t bufsz)
{
	UErrorCode e = U_ZERO_ERROR;
	const UNormalizer2 *n = unorm2_getNFKCCasefoldInstance(&e);

	return normalize(n, e, text, buf, bufsz);
}

int identity_nfkc(const char *text, char *buf, size_t bufsz)
{
	UErrorCode e = U_ZERO_ERROR;
	const UNormalizer2 *n = unorm2_getNFKCInstance(&e);

	return normalize(n, e, text, buf, bufsz);
}
