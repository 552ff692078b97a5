/* policy/policy_sign.h — Ed25519 signing and verification of policy
 * documents, and loading a policy only if its signature verifies (mamori-worker,
 * mamorictl; key generation and signing are admin-side mamorictl commands).
 *
 * The signature is detached: FILE.sig holds the standard base64 (RFC 4648,
 * with padding) of the 64-byte Ed25519 signature over the exact bytes of
 * FILE, on one line (a trailing newline is allowed, nothing else). Keys are
 * PEM: PKCS#8 "PRIVATE KEY" and SubjectPublicKeyInfo "PUBLIC KEY" (OpenSSL
 * only behind common/ed25519.h); callers see negative errno codes. */
#ifndef MAMORI_POLICY_SIGN_H
#define MAMORI_POLICY_SIGN_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "policy.h"

/* Codes of policy_load_verified() (and policy_verify_buf()). Anything else is
 * the negative errno of reading the policy file (-ENOENT: no policy) or -ENOMEM. */
#define POLICY_E_SIGNATURE (-EBADMSG) /* signature missing, malformed, or not valid for these bytes and key */
#define POLICY_E_ROLLBACK  (-ESTALE)  /* valid, but version lower than min_version */
#define POLICY_E_INVALID   (-EINVAL)  /* signature good, document invalid (schema/semantics) */
#define POLICY_E_KEY       (-ENOKEY)  /* public key missing, unreadable or not Ed25519 (configuration) */
#define POLICY_E_TOO_BIG   (-EFBIG)   /* document or signature larger than its cap */

#define POLICY_SIG_B64_LEN  88 /* base64 of 64 bytes */
#define POLICY_KEY_FILE_MAX (16 * 1024)

/* Create PREFIX.key (0600) and PREFIX.pub (0644). -EEXIST if either exists:
 * a signing key is never overwritten. */
int policy_keygen(const char *prefix);

/* Sign len bytes with the private key in key_path; writes the base64
 * signature (POLICY_SIG_B64_LEN chars + NUL) into ret_b64. */
int policy_sign_buf(const char *key_path, const void *data, size_t len, char ret_b64[POLICY_SIG_B64_LEN + 1]);

/* Sign file into sig_path (NULL: FILE.sig), written atomically, 0644. */
int policy_sign_file(const char *key_path, const char *file, const char *sig_path);

/* Verify sig (the text of a .sig file, siglen bytes) over data with the
 * public key in pubkey_path. 0, POLICY_E_SIGNATURE or POLICY_E_KEY. */
int policy_verify_buf(const char *pubkey_path, const void *data, size_t len, const char *sig, size_t siglen);

/* Read json_path and sig_path (NULL: json_path + ".sig"), verify the
 * signature with pubkey_path, only then parse and validate, and refuse a
 * version lower than min_version (equal is accepted: a reload). Paths are
 * used as given (the caller resolves them under the root prefix). On success
 * *ret owns the policy. On failure *ret is untouched and err (if errsz > 0)
 * holds one English line for the log; for POLICY_E_INVALID, errs (may be
 * NULL) holds every problem. */
int policy_load_verified_errs(const char *json_path, const char *sig_path, const char *pubkey_path, int64_t min_version,
                              struct mamori_policy **ret, char *err, size_t errsz, struct policy_errors *errs);

/* The same without the error list (the daemon's entry point). */
int policy_load_verified(const char *json_path, const char *sig_path, const char *pubkey_path, int64_t min_version,
                         struct mamori_policy **ret, char *err, size_t errsz);

#endif
