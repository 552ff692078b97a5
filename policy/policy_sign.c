/* policy/policy_sign.c — Ed25519 keys, detached signatures over policy
 * documents and the verified load (mamori-worker, mamorictl). Keys and
 * signatures through common/ed25519.h, base64 through common/base64.h. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base64.h"
#include "ed25519.h"
#include "fileio.h"
#include "policy_sign.h"
#include "sha256.h"
#include "strutil.h"

#define SIG_FILE_MAX 4096

static void set_err(char *err, size_t errsz, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errsz, const char *fmt, ...)
{
	va_list ap;

	if (!err || errsz == 0)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
}

/* Load a PEM key; private or public. -ENOKEY unless it is Ed25519. */
static int load_key(const char *path, bool private, struct ed25519_key **ret)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	int r;

	r = read_file_capped(path, POLICY_KEY_FILE_MAX, &buf, &len);
	if (r < 0)
		return r == -ENOMEM ? r : -ENOKEY;
	r = ed25519_key_from_pem(buf, len, private, ret);
	if (private)
		explicit_bzero(buf, len);
	return r;
}

int policy_keygen(const char *prefix)
{
	_cleanup_ed25519_key_ struct ed25519_key *k = NULL;
	_cleanup_free_ char *priv = NULL, *pub = NULL;
	char kpath[4096], ppath[4096];
	size_t privlen, publen;
	int r;

	if (xsnprintf(kpath, sizeof(kpath), "%s.key", prefix) < 0 ||
	    xsnprintf(ppath, sizeof(ppath), "%s.pub", prefix) < 0)
		return -ENAMETOOLONG;
	if (access(kpath, F_OK) == 0 || access(ppath, F_OK) == 0)
		return -EEXIST;
	r = ed25519_key_generate(&k);
	if (r < 0)
		return r;
	r = ed25519_key_to_pem(k, true, &priv, &privlen);
	if (r < 0)
		return r;
	r = ed25519_key_to_pem(k, false, &pub, &publen);
	if (r < 0)
		return r;
	r = write_file_atomic(kpath, priv, privlen, 0600);
	explicit_bzero(priv, privlen);
	if (r < 0)
		return r;
	r = write_file_atomic(ppath, pub, publen, 0644);
	if (r < 0) {
		(void)unlink(kpath);
		return r;
	}
	return 0;
}

int policy_sign_buf(const char *key_path, const void *data, size_t len, char ret_b64[POLICY_SIG_B64_LEN + 1])
{
	_cleanup_ed25519_key_ struct ed25519_key *k = NULL;
	uint8_t sig[ED25519_SIG_LEN];
	int r;

	r = load_key(key_path, true, &k);
	if (r < 0)
		return r;
	r = ed25519_sign(k, data, len, sig);
	if (r < 0)
		return r;
	return base64_encode(sig, sizeof(sig), ret_b64, POLICY_SIG_B64_LEN + 1);
}

int policy_sign_file(const char *key_path, const char *file, const char *sig_path)
{
	_cleanup_free_ char *buf = NULL;
	char b64[POLICY_SIG_B64_LEN + 2], spath[4096];
	size_t len;
	int r;

	if (!sig_path) {
		if (xsnprintf(spath, sizeof(spath), "%s.sig", file) < 0)
			return -ENAMETOOLONG;
		sig_path = spath;
	}
	r = read_file_capped(file, POLICY_SIZE_MAX, &buf, &len);
	if (r < 0)
		return r;
	r = policy_sign_buf(key_path, buf, len, b64);
	if (r < 0)
		return r;
	b64[POLICY_SIG_B64_LEN] = '\n';
	b64[POLICY_SIG_B64_LEN + 1] = '\0';
	return write_file_atomic(sig_path, b64, POLICY_SIG_B64_LEN + 1, 0644);
}

/* Strict decoding: the canonical base64 of 64 bytes (88 characters),
 * optionally followed by one newline (CRLF tolerated). */
static int decode_sig(const char *text, size_t len, uint8_t sig[ED25519_SIG_LEN])
{
	size_t n;

	if (len > 0 && text[len - 1] == '\n')
		len--;
	if (len > 0 && text[len - 1] == '\r')
		len--;
	if (len != POLICY_SIG_B64_LEN || base64_decode(text, len, sig, ED25519_SIG_LEN, &n) < 0 || n != ED25519_SIG_LEN)
		return -EBADMSG;
	return 0;
}

int policy_verify_buf(const char *pubkey_path, const void *data, size_t len, const char *sigtext, size_t siglen)
{
	_cleanup_ed25519_key_ struct ed25519_key *k = NULL;
	uint8_t sig[ED25519_SIG_LEN];
	int r;

	r = load_key(pubkey_path, false, &k);
	if (r < 0)
		return r == -ENOMEM ? r : POLICY_E_KEY;
	if (decode_sig(sigtext, siglen, sig) < 0)
		return POLICY_E_SIGNATURE;
	r = ed25519_verify(k, data, len, sig);
	return r == -EBADMSG ? POLICY_E_SIGNATURE : r;
}

int policy_load_verified_errs(const char *json_path, const char *sig_path, const char *pubkey_path, int64_t min_version,
                              struct mamori_policy **ret, char *err, size_t errsz, struct policy_errors *errs)
{
	_cleanup_free_ char *buf = NULL, *sig = NULL;
	_cleanup_policy_free_ struct mamori_policy *p = NULL;
	struct policy_errors local;
	char spath[4096];
	size_t len, siglen;
	int r;

	if (!errs) {
		policy_errors_init(&local);
		errs = &local;
	}
	if (!sig_path) {
		if (xsnprintf(spath, sizeof(spath), "%s.sig", json_path) < 0)
			return -ENAMETOOLONG;
		sig_path = spath;
	}
	r = read_file_capped(json_path, POLICY_SIZE_MAX, &buf, &len);
	if (r == -EFBIG) {
		set_err(err, errsz, "policy %s is larger than %d bytes", json_path, POLICY_SIZE_MAX);
		return POLICY_E_TOO_BIG;
	}
	if (r < 0) {
		set_err(err, errsz, "cannot read policy %s: %s", json_path, strerror(-r));
		return r;
	}
	r = read_file_capped(sig_path, SIG_FILE_MAX, &sig, &siglen);
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		set_err(err, errsz, "signature %s missing or unreadable: %s", sig_path, strerror(-r));
		return POLICY_E_SIGNATURE;
	}
	r = policy_verify_buf(pubkey_path, buf, len, sig, siglen);
	if (r == POLICY_E_KEY) {
		set_err(err, errsz, "public key %s missing, unreadable or not Ed25519", pubkey_path);
		return r;
	}
	if (r == POLICY_E_SIGNATURE) {
		set_err(err, errsz, "signature %s does not verify for %s with key %s", sig_path, json_path,
		        pubkey_path);
		return r;
	}
	if (r < 0) {
		set_err(err, errsz, "cannot verify %s: %s", json_path, strerror(-r));
		return r;
	}
	r = policy_parse(buf, len, &p, errs);
	if (r == -EINVAL) {
		char first[512] = "";

		(void)policy_error_format(errs, 0, "en", first, sizeof(first));
		set_err(err, errsz, "policy %s is signed but invalid (%zu errors; first: %s)", json_path,
		        errs->n + errs->dropped, first);
		return POLICY_E_INVALID;
	}
	if (r < 0) {
		set_err(err, errsz, "cannot parse policy %s: %s", json_path, strerror(-r));
		return r;
	}
	if (policy_version(p) < min_version) {
		set_err(err, errsz, "policy %s has version %" PRId64 ", lower than the current %" PRId64 " (rollback)",
		        json_path, policy_version(p), min_version);
		return POLICY_E_ROLLBACK;
	}
	{
		uint8_t md[32];
		char hex[65];

		if (sha256_buf(buf, len, md) < 0) {
			set_err(err, errsz, "cannot hash policy %s", json_path);
			return -EIO;
		}
		hex_encode(md, 32, hex);
		policy_set_sha256(p, hex);
	}
	*ret = TAKE_PTR(p);
	return 0;
}

int policy_load_verified(const char *json_path, const char *sig_path, const char *pubkey_path, int64_t min_version,
                         struct mamori_policy **ret, char *err, size_t errsz)
{
	return policy_load_verified_errs(json_path, sig_path, pubkey_path, min_version, ret, err, errsz, NULL);
}
