/* server-api/identity.h — comparing people's names and staff numbers the way
 * people read them (mamori-server): Unicode NFKC with case folding (ICU's
 * NFKC_Casefold), so that full-width and half-width forms, and upper and
 * lower case, give the same key: "ＣＩＳＯ" = "CISO" = "ciso", "１２３" = "123".
 * The only file that calls ICU. */
#ifndef MAMORI_IDENTITY_H
#define MAMORI_IDENTITY_H

#include <stddef.h>

/* The NFKC_Casefold key of UTF-8 text, UTF-8 in buf. -EINVAL for text that
 * is not valid UTF-8, -ENOBUFS if it does not fit. */
int identity_key(const char *text, char *buf, size_t bufsz);
/* NFKC only (no case folding): how a display name is stored. */
int identity_nfkc(const char *text, char *buf, size_t bufsz);

#endif
