/* common/base64.c — base64 and base64url (RFC 4648), encoder and strict
 * decoder (every process; see base64.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include "base64.h"

static const char std_abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url_abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int encode(const char *abc, bool pad, const uint8_t *s, size_t n, char *out, size_t outsz)
{
	size_t o = 0;

	if (n > SIZE_MAX / 4 - 1)
		return -E2BIG;
	if (outsz <= (pad ? BASE64_LEN(n) : BASE64URL_LEN(n)))
		return -ENOBUFS;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v =
		        (uint32_t)s[i] << 16 | (i + 1 < n ? (uint32_t)s[i + 1] << 8 : 0) | (i + 2 < n ? s[i + 2] : 0);

		out[o++] = abc[(v >> 18) & 63];
		out[o++] = abc[(v >> 12) & 63];
		if (i + 1 < n)
			out[o++] = abc[(v >> 6) & 63];
		else if (pad)
			out[o++] = '=';
		if (i + 2 < n)
			out[o++] = abc[v & 63];
		else if (pad)
			out[o++] = '=';
	}
	out[o] = '\0';
	return 0;
}

static int value(const char *abc, char c)
{
	for (int i = 0; i < 64; i++)
		if (abc[i] == c)
			return i;
	return -1;
}

static int decode(const char *abc, bool pad, const char *s, size_t n, uint8_t *out, size_t outsz, size_t *ret_len)
{
	uint32_t acc = 0;
	size_t o = 0;
	int bits = 0;

	if (pad) {
		if (n % 4 != 0)
			return -EINVAL;
		/* one or two '=' end the last group; the rest of the group then
		 * has 3 or 2 characters, which the checks below hold to */
		if (n > 0 && s[n - 1] == '=')
			n--;
		if (n > 0 && s[n - 1] == '=' && n % 4 == 3)
			n--;
	}
	if (n % 4 == 1)
		return -EINVAL; /* 6 bits: no byte */
	if (n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0) > outsz)
		return -ENOBUFS;
	for (size_t i = 0; i < n; i++) {
		int v = value(abc, s[i]);

		if (v < 0)
			return -EINVAL;
		acc = (acc << 6 | (uint32_t)v) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	if (acc & ((1u << bits) - 1))
		return -EINVAL; /* non-canonical: unused bits set */
	*ret_len = o;
	return 0;
}

int base64_encode(const void *in, size_t n, char *out, size_t outsz)
{
	return encode(std_abc, true, in, n, out, outsz);
}

int base64url_encode(const void *in, size_t n, char *out, size_t outsz)
{
	return encode(url_abc, false, in, n, out, outsz);
}

int base64_decode(const char *in, size_t n, void *out, size_t outsz, size_t *ret_len)
{
	return decode(std_abc, true, in, n, out, outsz, ret_len);
}

int base64url_decode(const char *in, size_t n, void *out, size_t outsz, size_t *ret_len)
{
	return decode(url_abc, false, in, n, out, outsz, ret_len);
}
