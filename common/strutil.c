/* common/strutil.c — bounded string helpers and escaping of untrusted text
 * (any process). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strutil.h"

int strscpy(char *dst, size_t dstsz, const char *src)
{
	size_t n;

	if (dstsz == 0)
		return -ENAMETOOLONG;
	n = strnlen(src, dstsz);
	if (n >= dstsz) {
		memcpy(dst, src, dstsz - 1);
		dst[dstsz - 1] = '\0';
		return -ENAMETOOLONG;
	}
	memcpy(dst, src, n + 1);
	return 0;
}

int xsnprintf(char *dst, size_t dstsz, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vsnprintf(dst, dstsz, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -EINVAL;
	if ((size_t)r >= dstsz)
		return -ENAMETOOLONG;
	return 0;
}

int parse_int64(const char *s, int64_t min, int64_t max, int64_t *ret)
{
	char *end = NULL;
	long long v;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	if (errno != 0 || end == s || *end != '\0')
		return -EINVAL;
	if (v < min || v > max)
		return -ERANGE;
	*ret = v;
	return 0;
}

char *strstrip(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
		*--e = '\0';
	return s;
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	size_t len;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, cp = c & 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	if (cp >= 0xd800 && cp <= 0xdfff)
		return 0;
	return len;
}

/* A valid sequence of l bytes that a terminal or a spreadsheet would act on
 * instead of showing: C1 controls (U+0080..U+009F move cursors) and the
 * bidirectional formatting characters (U+061C, U+200E/F, U+202A..U+202E,
 * U+2066..U+2069), with which "gpj.exe" can be made to read as "exe.jpg". */
static bool is_display_control(const unsigned char *p, size_t l)
{
	if (l == 2)
		return (p[0] == 0xc2 && p[1] < 0xa0) || (p[0] == 0xd8 && p[1] == 0x9c);
	if (l == 3 && p[0] == 0xe2 && p[1] == 0x80)
		return p[2] == 0x8e || p[2] == 0x8f || (p[2] >= 0xaa && p[2] <= 0xae);
	if (l == 3 && p[0] == 0xe2 && p[1] == 0x81)
		return p[2] >= 0xa6 && p[2] <= 0xa9;
	return false;
}

bool text_is_plain(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;

	while (n > 0) {
		size_t l = utf8_seq(p, n);

		if (l == 0 || p[0] < 0x20 || p[0] == 0x7f || is_display_control(p, l))
			return false;
		p += l;
		n -= l;
	}
	return true;
}

bool utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;

	while (n > 0) {
		size_t l = utf8_seq(p, n);
		if (l == 0)
			return false;
		p += l;
		n -= l;
	}
	return true;
}

char *escape_untrusted(const char *s, size_t n, size_t maxin)
{
	const unsigned char *p = (const unsigned char *)s;
	bool cut = false;
	char *out, *o;

	if (maxin && n > maxin) {
		/* the cut goes before a character it would split: a valid
		 * sequence across the limit is left out whole, not shown as the
		 * \xHH of its first bytes */
		size_t at = maxin;

		while (at > 0 && maxin - at < 3 && (p[at] & 0xc0) == 0x80)
			at--;
		if (at < maxin && utf8_seq(p + at, n - at) > maxin - at)
			maxin = at;
		n = maxin;
		cut = true;
	}
	/* worst case: every byte becomes \xHH, plus the ellipsis and NUL */
	out = malloc(n * 4 + sizeof("…"));
	if (!out)
		return NULL;
	o = out;
	while (n > 0) {
		unsigned c = *p;
		size_t l;

		if (c == '\\' || c == '"') {
			*o++ = '\\';
			*o++ = (char)c;
			p++, n--;
			continue;
		}
		if (c == '\n' || c == '\t' || c == '\r') {
			*o++ = '\\';
			*o++ = c == '\n' ? 'n' : c == '\t' ? 't' : 'r';
			p++, n--;
			continue;
		}
		l = utf8_seq(p, n);
		/* escaped byte by byte: the continuation bytes then fail utf8_seq */
		if (l > 1 && is_display_control(p, l))
			l = 0;
		if (l == 0 || c < 0x20 || c == 0x7f) {
			static const char hx[] = "0123456789abcdef";
			*o++ = '\\';
			*o++ = 'x';
			*o++ = hx[c >> 4];
			*o++ = hx[c & 15];
			p++, n--;
			continue;
		}
		memcpy(o, p, l);
		o += l;
		p += l;
		n -= l;
	}
	if (cut) {
		memcpy(o, "…", sizeof("…") - 1);
		o += sizeof("…") - 1;
	}
	*o = '\0';
	return out;
}

void hex_encode(const uint8_t *in, size_t n, char *out)
{
	static const char hx[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hx[in[i] >> 4];
		out[2 * i + 1] = hx[in[i] & 15];
	}
	out[2 * n] = '\0';
}

int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int hex_digit_lower(char c)
{
	return c >= 'A' && c <= 'F' ? -1 : hex_digit(c);
}

int hex_u32(const char *s, size_t n, bool lower_only, uint32_t *ret)
{
	uint32_t v = 0;

	if (n == 0 || n > 8)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		int d = lower_only ? hex_digit_lower(s[i]) : hex_digit(s[i]);

		if (d < 0)
			return -EINVAL;
		v = v << 4 | (uint32_t)d;
	}
	*ret = v;
	return 0;
}

int hex_decode(const char *s, size_t n, uint8_t *out, size_t outlen)
{
	if (n != outlen * 2)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		int v = hex_digit_lower(s[i]);

		if (v < 0)
			return -EINVAL;
		if (i % 2 == 0)
			out[i / 2] = (uint8_t)(v << 4);
		else
			out[i / 2] |= (uint8_t)v;
	}
	return 0;
}

bool streq_ptr(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

bool startswith(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool hex_lower_exact(const char *s, size_t n)
{
	if (!s || strlen(s) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}
