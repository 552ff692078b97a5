/* tests/unit/test_policy_sign.c — Ed25519 signing and the verified load
 * (policy/policy_sign.c) with real OpenSSL keys in a temporary directory:
 * accept, and refuse a wrong key, a flipped byte (document or signature), a
 * missing or malformed signature, an older version, a signed but invalid
 * document, a key that is not Ed25519. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "policy-test-util.h"
#include "policy_sign.h"

struct fx {
	char *dir;
	char key[512], pub[512], key2[512], pub2[512], doc[512], sig[512];
};

static void pathf(char *buf, size_t sz, const char *dir, const char *name)
{
	snprintf(buf, sz, "%s/%s", dir, name);
}

static void write_doc(struct fx *f, int64_t version)
{
	char doc[256];
	int n = snprintf(doc, sizeof(doc), "{\"schema\":1,\"version\":%lld,\"segment\":\"mynumber\"}\n",
	                 (long long)version);

	ptest_write(f->doc, doc, (size_t)n);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char prefix[512];

	f->dir = ptest_tmpdir();
	pathf(prefix, sizeof(prefix), f->dir, "ciso");
	if (policy_keygen(prefix) < 0)
		return -1;
	pathf(f->key, sizeof(f->key), f->dir, "ciso.key");
	pathf(f->pub, sizeof(f->pub), f->dir, "ciso.pub");
	pathf(prefix, sizeof(prefix), f->dir, "other");
	if (policy_keygen(prefix) < 0)
		return -1;
	pathf(f->key2, sizeof(f->key2), f->dir, "other.key");
	pathf(f->pub2, sizeof(f->pub2), f->dir, "other.pub");
	pathf(f->doc, sizeof(f->doc), f->dir, "policy.json");
	pathf(f->sig, sizeof(f->sig), f->dir, "policy.json.sig");
	write_doc(f, 7);
	if (policy_sign_file(f->key, f->doc, NULL) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	ptest_rm_rf(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

static int load(struct fx *f, int64_t min, char *err, size_t errsz)
{
	struct mamori_policy *p = NULL;
	int r = policy_load_verified(f->doc, NULL, f->pub, min, &p, err, errsz);

	if (r == 0) {
		assert_non_null(p);
		policy_free(p);
	} else
		assert_null(p);
	return r;
}

static void test_keygen_files(void **state)
{
	struct fx *f = *state;
	struct stat st;
	char prefix[512];
	size_t len;
	char *sig;

	assert_int_equal(stat(f->key, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(stat(f->pub, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	/* never overwrite a signing key */
	pathf(prefix, sizeof(prefix), f->dir, "ciso");
	assert_int_equal(policy_keygen(prefix), -EEXIST);
	/* the signature file is one base64 line */
	sig = ptest_read_file(f->sig, &len);
	assert_non_null(sig);
	assert_int_equal(len, POLICY_SIG_B64_LEN + 1);
	assert_int_equal(sig[POLICY_SIG_B64_LEN], '\n');
	free(sig);
}

static void test_accept(void **state)
{
	struct fx *f = *state;
	struct mamori_policy *p = NULL;
	char err[512] = "";

	assert_int_equal(policy_load_verified(f->doc, f->sig, f->pub, 7, &p, err, sizeof(err)), 0);
	assert_int_equal(policy_version(p), 7);
	assert_string_equal(policy_segment(p), "mynumber");
	policy_free(p);
	assert_int_equal(load(f, 0, err, sizeof(err)), 0);
}

static void test_wrong_key(void **state)
{
	struct fx *f = *state;
	struct mamori_policy *p = NULL;
	char err[512] = "";

	assert_int_equal(policy_load_verified(f->doc, NULL, f->pub2, 0, &p, err, sizeof(err)), POLICY_E_SIGNATURE);
	assert_null(p);
	assert_non_null(strstr(err, "does not verify"));
	/* signed with the other key, checked with the right one */
	assert_int_equal(policy_sign_file(f->key2, f->doc, NULL), 0);
	assert_int_equal(load(f, 0, err, sizeof(err)), POLICY_E_SIGNATURE);
	assert_int_equal(policy_sign_file(f->key, f->doc, NULL), 0);
	assert_int_equal(load(f, 0, err, sizeof(err)), 0);
}

static void flip(const char *path, size_t at)
{
	size_t len;
	char *b = ptest_read_file(path, &len);

	assert_non_null(b);
	assert_true(at < len);
	b[at] ^= 0x01;
	ptest_write(path, b, len);
	free(b);
}

static void test_flipped_byte(void **state)
{
	struct fx *f = *state;
	char err[512];
	size_t len;
	char *orig = ptest_read_file(f->doc, &len);

	/* every byte position of the document matters, including whitespace */
	for (size_t at = 0; at < len; at += 7) {
		flip(f->doc, at);
		assert_int_equal(load(f, 0, err, sizeof(err)), POLICY_E_SIGNATURE);
		flip(f->doc, at);
	}
	assert_int_equal(load(f, 0, err, sizeof(err)), 0);
	/* a flipped bit in the signature */
	flip(f->sig, 10);
	assert_int_equal(load(f, 0, err, sizeof(err)), POLICY_E_SIGNATURE);
	flip(f->sig, 10);
	assert_int_equal(load(f, 0, err, sizeof(err)), 0);
	/* an appended byte */
	ptest_write(f->doc, "{\"schema\":1,\"version\":7,\"segment\":\"mynumber\"}\n ", len + 1);
	assert_int_equal(load(f, 0, err, sizeof(err)), POLICY_E_SIGNATURE);
	ptest_write(f->doc, orig, len);
	free(orig);
}

static void test_bad_signature_file(void **state)
{
	struct fx *f = *state;
	char err[512];
	size_t len;
	char *sig = ptest_read_file(f->sig, &len);
	char buf[200];

	/* missing */
	assert_int_equal(remove(f->sig), 0);
	assert_int_equal(load(f, 0, err, sizeof(err)), POLICY_E_SIGNATURE);
	assert_non_null(strstr(err, "missing"));
	/* empty, truncated, trailing garbage, raw bytes, not base64 */
	ptest_write(f->sig, "", 0);
	assert_int_equal(load(f, 0, err, sizeof(err)), POLICY_E_SIGNATURE);
	ptest_write(f->sig, sig, 40);
	assert_int_equal(load(f, 0, err, sizeof(err)), POLICY_E_SIGNATURE);
	memcpy(buf, sig, POLICY_SIG_B64_LEN);
	memcpy(buf + POLICY_SIG_B64_LEN, "\nXX", 3);
	ptest_write(f->sig, buf, POLICY_SIG_B64_LEN + 3);
	assert_int_equal(load(f, 0, err, sizeof(err)), POLICY_E_SIGNATURE);
	memcpy(buf, sig, POLICY_SIG_B64_LEN);
	buf[5] = '*';
	ptest_write(f->sig, buf, POLICY_SIG_B64_LEN);
	assert_int_equal(load(f, 0, err, sizeof(err)), POLICY_E_SIGNATURE);
	/* without the trailing newline it is still accepted */
	ptest_write(f->sig, sig, POLICY_SIG_B64_LEN);
	assert_int_equal(load(f, 0, err, sizeof(err)), 0);
	ptest_write(f->sig, sig, len);
	free(sig);
}

static void test_older_version(void **state)
{
	struct fx *f = *state;
	char err[512];

	/* a correctly signed version 7 is refused when 8 is current */
	assert_int_equal(load(f, 8, err, sizeof(err)), POLICY_E_ROLLBACK);
	assert_non_null(strstr(err, "rollback"));
	assert_int_equal(load(f, 7, err, sizeof(err)), 0);
	/* a newer one signed and accepted */
	write_doc(f, 9);
	assert_int_equal(policy_sign_file(f->key, f->doc, NULL), 0);
	assert_int_equal(load(f, 8, err, sizeof(err)), 0);
	write_doc(f, 7);
	assert_int_equal(policy_sign_file(f->key, f->doc, NULL), 0);
}

static void test_signed_but_invalid(void **state)
{
	struct fx *f = *state;
	char err[512];
	struct policy_errors errs;
	struct mamori_policy *p = NULL;
	static const char bad[] =
	        "{\"schema\":1,\"version\":10,\"segment\":\"mynumber\",\"usb\":{\"default\":\"open\"}}";

	ptest_write(f->doc, bad, sizeof(bad) - 1);
	assert_int_equal(policy_sign_file(f->key, f->doc, NULL), 0);
	policy_errors_init(&errs);
	assert_int_equal(policy_load_verified_errs(f->doc, NULL, f->pub, 0, &p, err, sizeof(err), &errs),
	                 POLICY_E_INVALID);
	assert_null(p);
	assert_true(policy_errors_find(&errs, POLICY_ERROR_ENUM, "usb.default"));
	assert_non_null(strstr(err, "usb.default"));
	/* an invalid document whose signature is also bad is a signature problem:
	 * nothing unverified is parsed */
	flip(f->doc, 3);
	assert_int_equal(load(f, 0, err, sizeof(err)), POLICY_E_SIGNATURE);
	write_doc(f, 7);
	assert_int_equal(policy_sign_file(f->key, f->doc, NULL), 0);
}

static void test_bad_keys(void **state)
{
	struct fx *f = *state;
	struct mamori_policy *p = NULL;
	char err[512], path[512];
	EVP_PKEY *ec;
	FILE *out;

	/* missing public key */
	pathf(path, sizeof(path), f->dir, "nosuch.pub");
	assert_int_equal(policy_load_verified(f->doc, NULL, path, 0, &p, err, sizeof(err)), POLICY_E_KEY);
	/* a P-256 key is not accepted even though PEM parses */
	ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	assert_non_null(ec);
	pathf(path, sizeof(path), f->dir, "ec.pub");
	out = fopen(path, "w");
	assert_non_null(out);
	assert_int_equal(PEM_write_PUBKEY(out, ec), 1);
	fclose(out);
	assert_int_equal(policy_load_verified(f->doc, NULL, path, 0, &p, err, sizeof(err)), POLICY_E_KEY);
	pathf(path, sizeof(path), f->dir, "ec.key");
	out = fopen(path, "w");
	assert_non_null(out);
	assert_int_equal(PEM_write_PrivateKey(out, ec, NULL, NULL, 0, NULL, NULL), 1);
	fclose(out);
	EVP_PKEY_free(ec);
	assert_int_equal(policy_sign_file(path, f->doc, NULL), -ENOKEY);
	/* the private key file given as public key */
	assert_int_equal(policy_load_verified(f->doc, NULL, f->key, 0, &p, err, sizeof(err)), POLICY_E_KEY);
	assert_null(p);
	/* missing document */
	pathf(path, sizeof(path), f->dir, "nosuch.json");
	assert_int_equal(policy_load_verified(path, NULL, f->pub, 0, &p, err, sizeof(err)), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_keygen_files),       cmocka_unit_test(test_accept),
	        cmocka_unit_test(test_wrong_key),          cmocka_unit_test(test_flipped_byte),
	        cmocka_unit_test(test_bad_signature_file), cmocka_unit_test(test_older_version),
	        cmocka_unit_test(test_signed_but_invalid), cmocka_unit_test(test_bad_keys),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
