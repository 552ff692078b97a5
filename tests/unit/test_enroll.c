/* tests/unit/test_enroll.c — the terminal's identity (agent/net/enroll.c) with
 * real OpenSSL: key pair and CSR (self-signed, CN = terminal ID, P-256),
 * installing a certificate only if it matches the key and names the
 * terminal (device.pem, 0600), the terminal ID's sources under the root
 * prefix, the enrollment state file, and enroll_run() refusing bad
 * arguments before any network traffic. */
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
#include <openssl/x509.h>

#include "enroll.h"
#include "rootpath.h"
#include "testutil.h"
#include "transport.h"

static X509_REQ *parse_csr(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509_REQ *r = PEM_read_bio_X509_REQ(b, NULL, NULL, NULL);

	BIO_free(b);
	return r;
}

static void test_key_and_csr(void **state)
{
	char *key = NULL, *csr = NULL, cn[64];
	X509_REQ *req;
	EVP_PKEY *pub;
	char group[32];
	size_t gl;

	(void)state;
	assert_int_equal(enroll_make_key_csr("pc-001", &key, &csr), 0);
	assert_non_null(strstr(key, "BEGIN PRIVATE KEY"));
	req = parse_csr(csr);
	assert_non_null(req);
	pub = X509_REQ_get0_pubkey(req);
	assert_int_equal(X509_REQ_verify(req, pub), 1);
	assert_int_equal(EVP_PKEY_get_id(pub), EVP_PKEY_EC);
	assert_true(EVP_PKEY_get_utf8_string_param(pub, "group", group, sizeof(group), &gl));
	assert_string_equal(group, "prime256v1");
	assert_true(X509_NAME_get_text_by_NID(X509_REQ_get_subject_name(req), NID_commonName, cn, sizeof(cn)) > 0);
	assert_string_equal(cn, "pc-001");
	X509_REQ_free(req);
	free(key);
	free(csr);
	assert_int_equal(enroll_make_key_csr("bad id/../x", &key, &csr), -EINVAL);
	assert_int_equal(enroll_make_key_csr("", &key, &csr), -EINVAL);
}

/* A certificate for the CSR's key, self-signed, with subject CN = cn. */
static char *self_sign(const char *key_pem, const char *cn)
{
	BIO *kb = BIO_new_mem_buf(key_pem, -1), *out = BIO_new(BIO_s_mem());
	EVP_PKEY *k = PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL);
	X509 *c = X509_new();
	char *data, *s;
	long n;

	assert_non_null(k);
	ASN1_INTEGER_set(X509_get_serialNumber(c), 1);
	X509_gmtime_adj(X509_getm_notBefore(c), 0);
	X509_gmtime_adj(X509_getm_notAfter(c), 3600);
	X509_set_pubkey(c, k);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(c), "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(c, X509_get_subject_name(c));
	assert_true(X509_sign(c, k, EVP_sha256()) > 0);
	PEM_write_bio_X509(out, c);
	n = BIO_get_mem_data(out, &data);
	s = malloc((size_t)n + 1);
	assert_non_null(s);
	memcpy(s, data, (size_t)n); /* not NUL-terminated: no strndup */
	s[n] = 0;
	BIO_free(kb);
	BIO_free(out);
	X509_free(c);
	EVP_PKEY_free(k);
	return s;
}

static void test_install_identity(void **state)
{
	char *dir = tu_mkdtemp(), *key = NULL, *csr = NULL, *key2 = NULL, *csr2 = NULL, *cert, *other, *wrong;
	char path[512];
	struct stat st;

	(void)state;
	snprintf(path, sizeof(path), "%s/%s", dir, TRANSPORT_DEVICE_PEM);
	assert_int_equal(enroll_make_key_csr("pc-001", &key, &csr), 0);
	assert_int_equal(enroll_make_key_csr("pc-001", &key2, &csr2), 0);
	cert = self_sign(key, "pc-001");
	other = self_sign(key2, "pc-001");
	wrong = self_sign(key, "pc-999");
	assert_int_equal(enroll_install_identity(dir, key, other, "pc-001"), -EBADMSG); /* another key's certificate */
	assert_int_equal(enroll_install_identity(dir, key, wrong, "pc-001"), -EBADMSG); /* another terminal */
	assert_int_equal(enroll_install_identity(dir, key, "garbage", "pc-001"), -EBADMSG);
	assert_int_equal(stat(path, &st), -1); /* nothing written */
	assert_int_equal(enroll_install_identity(dir, key, cert, "pc-001"), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	free(key), free(csr), free(key2), free(csr2), free(cert), free(other), free(wrong);
	tu_rmtree(dir);
	free(dir);
}

/* One rule for agent and server (protocol/terminal_id.c). */
static void test_terminal_id_rule(void **state)
{
	char id[TERMINAL_ID_MAX + 1];
	(void)state;

	assert_true(terminal_id_valid("kaikei-pc-01"));
	assert_true(terminal_id_valid("A.b_c-9"));
	assert_false(terminal_id_valid(NULL));
	assert_false(terminal_id_valid(""));
	assert_false(terminal_id_valid("-leading"));
	assert_false(terminal_id_valid(".hidden"));
	assert_false(terminal_id_valid("../etc"));
	assert_false(terminal_id_valid("a/b"));
	assert_false(terminal_id_valid("no spaces"));
	assert_false(terminal_id_valid("日本"));
	memset(id, 'a', TERMINAL_ID_MAX - 1);
	id[TERMINAL_ID_MAX - 1] = '\0';
	assert_true(terminal_id_valid(id)); /* 128 bytes */
	id[TERMINAL_ID_MAX - 1] = 'a';
	id[TERMINAL_ID_MAX] = '\0';
	assert_false(terminal_id_valid(id)); /* 129 */
}

static void test_terminal_id_sources(void **state)
{
	char *root = tu_mkdtemp(), id[ENROLL_ID_MAX];

	(void)state;
	assert_int_equal(root_set(root), 0);
	assert_int_equal(enroll_default_terminal_id("kaikei-pc-01", id), 0);
	assert_string_equal(id, "kaikei-pc-01");
	assert_int_equal(enroll_default_terminal_id("no spaces", id), -EINVAL);
	tu_write(root, "etc/machine-id", "0123456789abcdef0123456789abcdef\n");
	assert_int_equal(enroll_default_terminal_id("", id), 0);
	assert_string_equal(id, "0123456789abcdef0123456789abcdef");
	assert_int_equal(root_set(""), 0);
	tu_rmtree(root);
	free(root);
}

static void test_state_file(void **state)
{
	char *dir = tu_mkdtemp();
	struct enroll_state s;

	(void)state;
	assert_int_equal(enroll_state_load(dir, &s), -ENOENT);
	tu_write(dir, TRANSPORT_ENROLL_STATE, "{not json");
	assert_int_equal(enroll_state_load(dir, &s), -EBADMSG);
	tu_write(dir, TRANSPORT_ENROLL_STATE,
	         "{\"admin_url\":\"https://s:8444\",\"device_url\":\"https://s:8443\",\"terminal_id\":\"pc\","
	         "\"group\":\"kaikei\"}");
	assert_int_equal(enroll_state_load(dir, &s), 0);
	assert_string_equal(s.device_url, "https://s:8443");
	assert_string_equal(s.group, "kaikei");
	tu_rmtree(dir);
	free(dir);
}

static void test_run_refuses_bad_arguments(void **state)
{
	char *dir = tu_mkdtemp(), err[256];
	struct enroll_result res;
	struct enroll_options o = {.server_url = "https://127.0.0.1:1",
	                           .token = "mt1_x",
	                           .ca_fingerprint = "00:11",
	                           .terminal_id = "pc-1",
	                           .state_dir = dir,
	                           .timeout_s = 2};

	(void)state;
	assert_int_equal(enroll_run(&o, &res, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "fingerprint"));
	o.ca_fingerprint =
	        "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:8Z";
	assert_int_equal(enroll_run(&o, &res, err, sizeof(err)), -EINVAL);
	o.ca_fingerprint =
	        "ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89";
	o.server_url = "http://127.0.0.1:1";
	assert_int_equal(enroll_run(&o, &res, err, sizeof(err)), -EINVAL);
	o.server_url = "https://127.0.0.1:1";
	o.token = "";
	assert_int_equal(enroll_run(&o, &res, err, sizeof(err)), -EINVAL);
	o.token = "mt1_x";
	o.terminal_id = "-leading-dash";
	assert_int_equal(enroll_run(&o, &res, err, sizeof(err)), -EINVAL);
	o.terminal_id = "pc-1";
	/* well-formed, but nothing listens: a network error, nothing written */
	assert_true(enroll_run(&o, &res, err, sizeof(err)) < 0);
	char path[512];
	struct stat st;
	snprintf(path, sizeof(path), "%s/%s", dir, TRANSPORT_DEVICE_PEM);
	assert_int_equal(stat(path, &st), -1);
	tu_rmtree(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_key_and_csr),      cmocka_unit_test(test_install_identity),
	        cmocka_unit_test(test_terminal_id_rule), cmocka_unit_test(test_terminal_id_sources),
	        cmocka_unit_test(test_state_file),       cmocka_unit_test(test_run_refuses_bad_arguments),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
