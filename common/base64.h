/* common/base64.h — base64 (RFC 4648 §4, padded) and base64url (§5, without
 * padding): strict, canonical decoding; no library, so that mamorid, which
 * links no libcrypto (issue 19.2), shares the one implementation (every
 * process: mamorid, mamori-worker, mamorictl, mamori-server). */
#ifndef MAMORI_BASE64_H
#define MAMORI_BASE64_H

#include <stddef.h>

/* Characters of the encoding of n bytes, without the NUL. */
#define BASE64_LEN(n)    (((n) + 2) / 3 * 4)
#define BASE64URL_LEN(n) (((n)*4 + 2) / 3)

/* Encode n bytes into out (BASE64_LEN(n) / BASE64URL_LEN(n) characters and
 * a NUL). 0, -ENOBUFS when outsz is too small, -E2BIG for an absurd n. */
int base64_encode(const void *in, size_t n, char *out, size_t outsz);
int base64url_encode(const void *in, size_t n, char *out, size_t outsz);

/* Decode the n characters at in into out (at most outsz bytes); *ret_len
 * gets the byte count. -EINVAL for anything that is not the canonical
 * encoding of some bytes: a character outside the alphabet (whitespace,
 * NUL, the other variant's), a length no encoding has, padding missing,
 * misplaced or present in base64url, non-zero unused bits. -ENOBUFS when
 * out is too small. */
int base64_decode(const char *in, size_t n, void *out, size_t outsz, size_t *ret_len);
int base64url_decode(const char *in, size_t n, void *out, size_t outsz, size_t *ret_len);

#endif
