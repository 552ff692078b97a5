/* common/strutil.h — bounded string helpers and escaping of untrusted text
 * (any process). Utility code: never logs. */
#ifndef MAMORI_STRUTIL_H
#define MAMORI_STRUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Copy at most dstsz-1 bytes of src and NUL-terminate. Returns 0, or -ENAMETOOLONG
 * when src did not fit (dst then holds the truncated prefix). */
int strscpy(char *dst, size_t dstsz, const char *src);

/* snprintf that reports truncation: 0 on success, -ENAMETOOLONG if cut. */
int xsnprintf(char *dst, size_t dstsz, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Parse a whole decimal string into [min,max]. 0 or -EINVAL/-ERANGE. */
int parse_int64(const char *s, int64_t min, int64_t max, int64_t *ret);

/* Remove leading and trailing ASCII whitespace in place; returns s+offset. */
char *strstrip(char *s);

/* true if [s, s+n) is valid UTF-8 with no overlong forms or surrogates. */
bool utf8_valid(const char *s, size_t n);

/* true if [s, s+n) is valid UTF-8 that can be shown as is: no C0, DEL, C1
 * control and no bidirectional formatting character (U+202E …). */
bool text_is_plain(const char *s, size_t n);

/* Escape n bytes of untrusted data for printing on one line: printable ASCII
 * and valid UTF-8 pass through, '\\' and '"' are backslashed, control bytes
 * become \n \t \r or \xHH, invalid UTF-8 bytes, C1 controls and bidi
 * formatting characters become \xHH per byte. At most maxin input
 * bytes are looked at (0 = no cap); a cut is marked with "…". Returns a new
 * string the caller frees, or NULL on allocation failure. */
char *escape_untrusted(const char *s, size_t n, size_t maxin);

/* Hex-encode n bytes into out (2n+1 bytes). */
void hex_encode(const uint8_t *in, size_t n, char *out);
/* The value of one hex digit (either case), -1 for anything else. */
int hex_digit(char c);
/* Exactly n lower-case hex digits and nothing after them (NULL: false). */
bool hex_lower_exact(const char *s, size_t n);
/* The value of one lower-case hex digit, -1 for anything else (formats
 * that are lower case only: canonical digests, the policy's USB language). */
int hex_digit_lower(char c);
/* Exactly n hex digits (1..8, upper- and lower-case or lower-case only) as
 * a number into *ret; -EINVAL for any other length or character. */
int hex_u32(const char *s, size_t n, bool lower_only, uint32_t *ret);
/* Exactly outlen*2 lower-case hex digits (the form hex_encode writes) into
 * out; -EINVAL for any other length or character. */
int hex_decode(const char *s, size_t n, uint8_t *out, size_t outlen);

bool streq_ptr(const char *a, const char *b);
bool startswith(const char *s, const char *prefix);

#endif
