/* common/sha256.h — SHA-256 through OpenSSL (processes that link libcrypto:
 * mamori-worker, mamorictl, the server, tests). mamorid, the USB gate, does
 * not link libcrypto (it would double its memory); it asks the worker. */
#ifndef MAMORI_SHA256_H
#define MAMORI_SHA256_H

#include <stddef.h>
#include <stdint.h>

int sha256_buf(const void *data, size_t len, uint8_t ret[32]);

#endif
