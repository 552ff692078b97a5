/* common/ed25519.h — Ed25519 (RFC 8032) keys, signatures and their
 * verification: the one place that calls OpenSSL's signature API (policy
 * documents, commands, approvals; mamori-worker, mamorictl, mamori-server —
 * never mamorid, which links no libcrypto). Failures are negative errno. */
#ifndef MAMORI_ED25519_H
#define MAMORI_ED25519_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alloc-util.h"

#define ED25519_KEY_LEN 32
#define ED25519_SIG_LEN 64

struct ed25519_key; /* a private or a public key */

/* A PEM key: PKCS#8 "PRIVATE KEY" (private) or SubjectPublicKeyInfo
 * "PUBLIC KEY". -ENOKEY for anything else or a key of another type. */
int ed25519_key_from_pem(const void *pem, size_t len, bool private, struct ed25519_key **ret);
/* A raw 32-byte secret (RFC 8032 §5.1.5's k) or public key. */
int ed25519_key_from_raw(const uint8_t raw[ED25519_KEY_LEN], bool private, struct ed25519_key **ret);
/* A new private key from the kernel's random source. */
int ed25519_key_generate(struct ed25519_key **ret);
/* PEM text of the private or public half (*ret owned by the caller; a
 * private key's text is the caller's to wipe). */
int ed25519_key_to_pem(const struct ed25519_key *k, bool private, char **ret, size_t *ret_len);
void ed25519_key_free(struct ed25519_key *k);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct ed25519_key *, ed25519_key_free);
#define _cleanup_ed25519_key_ _cleanup_(ed25519_key_freep)

/* Sign len bytes with a private key. */
int ed25519_sign(const struct ed25519_key *k, const void *msg, size_t len, uint8_t sig[ED25519_SIG_LEN]);
/* 0 when sig is valid for msg under k (private or public), -EBADMSG when
 * not, another negative errno when it cannot be judged. */
int ed25519_verify(const struct ed25519_key *k, const void *msg, size_t len, const uint8_t sig[ED25519_SIG_LEN]);

#endif
