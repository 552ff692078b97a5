/* server-api/pki.c — the device CA and certificates (mamori-server). The only
 * server file that calls OpenSSL's X.509/PEM/key API: failures become
 * negative errno here (-ENOMEM, -EBADMSG for bad input, -EIO otherwise). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "alloc-util.h"
#include "fileio.h"
#include "pki.h"
#include "random-util.h"
#include "strutil.h"
#include "terminal_id.h"

_Static_assert(TERMINAL_ID_MAX <= PKI_TERMINAL_ID, "a valid terminal ID fits a certificate CN buffer");

#define PEM_FILE_MAX (64 * 1024)

DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_PKEY *, EVP_PKEY_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(X509 *, X509_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(X509_REQ *, X509_REQ_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(BIO *, BIO_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(BIGNUM *, BN_free)
#define _cleanup_pkey_ _cleanup_(EVP_PKEY_freep)
#define _cleanup_x509_ _cleanup_(X509_freep)
#define _cleanup_req_  _cleanup_(X509_REQ_freep)
#define _cleanup_bio_  _cleanup_(BIO_freep)
#define _cleanup_bn_   _cleanup_(BN_freep)

struct pki {
	EVP_PKEY *key;
	X509 *cert;
	char *pem;
	char fpr[PKI_FPR_HEX];
};

static int ssl_err(void)
{
	unsigned long e = ERR_peek_last_error();

	ERR_clear_error();
	return ERR_GET_REASON(e) == ERR_R_MALLOC_FAILURE ? -ENOMEM : -EIO;
}

static int new_p256(EVP_PKEY **ret)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");

	if (!k)
		return ssl_err();
	*ret = k;
	return 0;
}

/* Serialise with a PEM writer into a new NUL-terminated string. */
static int bio_text(BIO *b, char **ret)
{
	char *data, *s;
	long n = BIO_get_mem_data(b, &data);

	if (n < 0)
		return -EIO;
	s = malloc((size_t)n + 1);
	if (!s)
		return -ENOMEM;
	memcpy(s, data, (size_t)n);
	s[n] = 0;
	*ret = s;
	return 0;
}

static int write_key(const char *path, EVP_PKEY *k)
{
	_cleanup_bio_ BIO *b = BIO_new(BIO_s_mem());
	_cleanup_free_ char *s = NULL;
	int r;

	if (!b || !PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL))
		return ssl_err();
	r = bio_text(b, &s);
	if (r < 0)
		return r;
	r = write_file_atomic(path, s, strlen(s), 0600);
	OPENSSL_cleanse(s, strlen(s));
	return r;
}

static int cert_pem(X509 *c, char **ret)
{
	_cleanup_bio_ BIO *b = BIO_new(BIO_s_mem());

	if (!b || !PEM_write_bio_X509(b, c))
		return ssl_err();
	return bio_text(b, ret);
}

static int write_cert(const char *path, X509 *c)
{
	_cleanup_free_ char *s = NULL;
	int r = cert_pem(c, &s);

	return r < 0 ? r : write_file_atomic(path, s, strlen(s), 0644);
}

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!ext)
		return ssl_err();
	ok = X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : ssl_err();
}

static int serial_hex(const ASN1_INTEGER *ai, char ret[PKI_SERIAL_MAX])
{
	_cleanup_bn_ BIGNUM *bn = ASN1_INTEGER_to_BN(ai, NULL);
	char *h;
	int r;

	if (!bn || !(h = BN_bn2hex(bn)))
		return ssl_err();
	for (char *c = h; *c; c++)
		if (*c >= 'A' && *c <= 'F')
			*c = (char)(*c - 'A' + 'a');
	r = strscpy(ret, PKI_SERIAL_MAX, h);
	OPENSSL_free(h);
	return r < 0 ? -EBADMSG : 0;
}

/* A new certificate skeleton: random 128-bit serial, validity, subject CN. */
static int cert_new(const char *cn, int64_t seconds, EVP_PKEY *pub, X509 **ret)
{
	_cleanup_x509_ X509 *c = X509_new();
	_cleanup_bn_ BIGNUM *bn = NULL;
	unsigned char rnd[16];
	X509_NAME *name;

	if (!c)
		return ssl_err();
	if (random_bytes(rnd, sizeof(rnd), false) < 0)
		return -EIO;
	rnd[0] = (unsigned char)((rnd[0] & 0x7f) | 0x40); /* positive, always 16 bytes */
	bn = BN_bin2bn(rnd, sizeof(rnd), NULL);
	if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(c)) || !X509_set_version(c, X509_VERSION_3) ||
	    !X509_gmtime_adj(X509_getm_notBefore(c), -PKI_CLOCK_SKEW_S) ||
	    !X509_time_adj_ex(X509_getm_notAfter(c), 0, (long)seconds, NULL) || !X509_set_pubkey(c, pub))
		return ssl_err();
	name = X509_get_subject_name(c);
	if (!X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, (const unsigned char *)"mamori", -1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0))
		return ssl_err();
	*ret = TAKE_PTR(c);
	return 0;
}

static int sign(X509 *c, EVP_PKEY *key)
{
	if (!key) /* a CA loaded without its key (pki_load_cert): the signer's work */
		return -EPERM;
	return X509_sign(c, key, EVP_PKEY_get_id(key) == EVP_PKEY_ED25519 ? NULL : EVP_sha256()) > 0 ? 0 : ssl_err();
}

int pki_create_ca(const char *key_path, const char *cert_path, const char *cn, int days)
{
	_cleanup_pkey_ EVP_PKEY *k = NULL;
	_cleanup_x509_ X509 *c = NULL;
	struct stat st;
	int r;

	if (stat(key_path, &st) == 0 || stat(cert_path, &st) == 0)
		return -EEXIST;
	if ((r = new_p256(&k)) < 0 || (r = cert_new(cn, (int64_t)days * 86400, k, &c)) < 0)
		return r;
	if (!X509_set_issuer_name(c, X509_get_subject_name(c)))
		return ssl_err();
	if ((r = add_ext(c, c, NID_basic_constraints, "critical,CA:TRUE,pathlen:0")) < 0 ||
	    (r = add_ext(c, c, NID_key_usage, "critical,keyCertSign,cRLSign")) < 0 ||
	    (r = add_ext(c, c, NID_subject_key_identifier, "hash")) < 0 || (r = sign(c, k)) < 0)
		return r;
	if ((r = write_key(key_path, k)) < 0)
		return r;
	return write_cert(cert_path, c);
}

static int fingerprint(X509 *c, char ret[PKI_FPR_HEX])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (!X509_digest(c, EVP_sha256(), md, &n) || n != 32)
		return ssl_err();
	hex_encode(md, n, ret);
	return 0;
}

void pki_free(struct pki *p)
{
	if (!p)
		return;
	EVP_PKEY_free(p->key);
	X509_free(p->cert);
	free(p->pem);
	free(p);
}

/* The CA's PEM text and fingerprint from its loaded certificate; p is
 * *ret's on success, freed on failure. */
static int pki_finish(struct pki *p, struct pki **ret)
{
	int r;

	if ((r = cert_pem(p->cert, &p->pem)) < 0 || (r = fingerprint(p->cert, p->fpr)) < 0) {
		pki_free(p);
		return r;
	}
	*ret = p;
	return 0;
}

int pki_load(const char *key_path, const char *cert_path, struct pki **ret)
{
	_cleanup_free_ char *kb = NULL, *cb = NULL;
	_cleanup_bio_ BIO *kbio = NULL, *cbio = NULL;
	struct pki *p;
	size_t kl, cl;
	int r;

	if ((r = read_file_capped(key_path, PEM_FILE_MAX, &kb, &kl)) < 0 ||
	    (r = read_file_capped(cert_path, PEM_FILE_MAX, &cb, &cl)) < 0)
		return r;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	kbio = BIO_new_mem_buf(kb, (int)kl);
	cbio = BIO_new_mem_buf(cb, (int)cl);
	if (kbio)
		p->key = PEM_read_bio_PrivateKey(kbio, NULL, NULL, NULL);
	if (cbio)
		p->cert = PEM_read_bio_X509(cbio, NULL, NULL, NULL);
	OPENSSL_cleanse(kb, kl);
	if (!p->key || !p->cert || X509_check_private_key(p->cert, p->key) != 1) {
		ERR_clear_error();
		pki_free(p);
		return -EBADMSG;
	}
	return pki_finish(p, ret);
}

int pki_load_cert(const char *cert_path, struct pki **ret)
{
	_cleanup_free_ char *cb = NULL;
	_cleanup_bio_ BIO *cbio = NULL;
	struct pki *p;
	size_t cl;
	int r;

	if ((r = read_file_capped(cert_path, PEM_FILE_MAX, &cb, &cl)) < 0)
		return r;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	cbio = BIO_new_mem_buf(cb, (int)cl);
	if (cbio)
		p->cert = PEM_read_bio_X509(cbio, NULL, NULL, NULL);
	if (!p->cert) {
		ERR_clear_error();
		pki_free(p);
		return -EBADMSG;
	}
	return pki_finish(p, ret);
}

const char *pki_ca_pem(const struct pki *p)
{
	return p->pem;
}

const char *pki_ca_fingerprint(const struct pki *p)
{
	return p->fpr;
}

static bool is_ip(const char *s)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

int pki_issue_server(struct pki *p, const char *key_path, const char *cert_path, const char *const *names, int days)
{
	_cleanup_pkey_ EVP_PKEY *k = NULL;
	_cleanup_x509_ X509 *c = NULL;
	char san[4096] = "";
	size_t used = 0;
	int r;

	for (size_t i = 0; names && names[i]; i++) {
		r = snprintf(san + used, sizeof(san) - used, "%s%s:%s", used ? "," : "", is_ip(names[i]) ? "IP" : "DNS",
		             names[i]);
		if (r < 0 || (size_t)r >= sizeof(san) - used)
			return -ENAMETOOLONG;
		used += (size_t)r;
	}
	if (!used)
		return -EINVAL;
	if ((r = new_p256(&k)) < 0 || (r = cert_new(names[0], (int64_t)days * 86400, k, &c)) < 0)
		return r;
	if (!X509_set_issuer_name(c, X509_get_subject_name(p->cert)))
		return ssl_err();
	if ((r = add_ext(c, p->cert, NID_basic_constraints, "critical,CA:FALSE")) < 0 ||
	    (r = add_ext(c, p->cert, NID_key_usage, "critical,digitalSignature")) < 0 ||
	    (r = add_ext(c, p->cert, NID_ext_key_usage, "serverAuth")) < 0 ||
	    (r = add_ext(c, p->cert, NID_subject_alt_name, san)) < 0 ||
	    (r = add_ext(c, p->cert, NID_authority_key_identifier, "keyid:always")) < 0 || (r = sign(c, p->key)) < 0)
		return r;
	if ((r = write_key(key_path, k)) < 0)
		return r;
	return write_cert(cert_path, c);
}

static int name_cn(X509_NAME *name, char ret[PKI_TERMINAL_ID])
{
	int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
	const ASN1_STRING *s;
	int len;

	if (i < 0 || X509_NAME_get_index_by_NID(name, NID_commonName, i) >= 0)
		return -EBADMSG; /* none, or more than one: ambiguous */
	s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
	len = ASN1_STRING_length(s);
	if (len <= 0 || len >= PKI_TERMINAL_ID || memchr(ASN1_STRING_get0_data(s), 0, (size_t)len))
		return -EBADMSG;
	memcpy(ret, ASN1_STRING_get0_data(s), (size_t)len);
	ret[len] = 0;
	return 0;
}

int pki_sign_csr(struct pki *p, const char *csr_pem, size_t len, const char *terminal_id, int64_t seconds,
                 char **ret_pem, char ret_serial[PKI_SERIAL_MAX], int64_t *ret_not_after_us)
{
	_cleanup_bio_ BIO *b = NULL;
	_cleanup_req_ X509_REQ *req = NULL;
	_cleanup_x509_ X509 *c = NULL;
	_cleanup_free_ char *pem = NULL;
	char cn[PKI_TERMINAL_ID], san[PKI_TERMINAL_ID + 32], serial[PKI_SERIAL_MAX];
	EVP_PKEY *pub;
	int64_t not_after;
	struct tm tm;
	int r;

	if (len == 0 || len > PKI_CSR_MAX || !terminal_id_valid(terminal_id))
		return -EBADMSG;
	b = BIO_new_mem_buf(csr_pem, (int)len);
	if (!b)
		return -ENOMEM;
	req = PEM_read_bio_X509_REQ(b, NULL, NULL, NULL);
	if (!req) {
		ERR_clear_error();
		return -EBADMSG;
	}
	pub = X509_REQ_get0_pubkey(req);
	if (!pub || X509_REQ_verify(req, pub) != 1) {
		ERR_clear_error();
		return -EBADMSG;
	}
	/* only keys as strong as the CA's: P-256 or Ed25519 */
	if (EVP_PKEY_get_id(pub) == EVP_PKEY_EC) {
		char group[32];
		size_t gl;

		if (!EVP_PKEY_get_utf8_string_param(pub, "group", group, sizeof(group), &gl) ||
		    strcmp(group, "prime256v1") != 0) {
			ERR_clear_error();
			return -EBADMSG;
		}
	} else if (EVP_PKEY_get_id(pub) != EVP_PKEY_ED25519) {
		return -EBADMSG;
	}
	if (name_cn(X509_REQ_get_subject_name(req), cn) < 0 || strcmp(cn, terminal_id) != 0)
		return -EBADMSG;
	if ((r = cert_new(terminal_id, seconds, pub, &c)) < 0)
		return r;
	if (xsnprintf(san, sizeof(san), "URI:urn:mamori:terminal:%s", terminal_id) < 0)
		return -EBADMSG;
	if (!X509_set_issuer_name(c, X509_get_subject_name(p->cert)))
		return ssl_err();
	if ((r = add_ext(c, p->cert, NID_basic_constraints, "critical,CA:FALSE")) < 0 ||
	    (r = add_ext(c, p->cert, NID_key_usage, "critical,digitalSignature")) < 0 ||
	    (r = add_ext(c, p->cert, NID_ext_key_usage, "clientAuth")) < 0 ||
	    (r = add_ext(c, p->cert, NID_subject_alt_name, san)) < 0 ||
	    (r = add_ext(c, p->cert, NID_authority_key_identifier, "keyid:always")) < 0 || (r = sign(c, p->key)) < 0)
		return r;
	if ((r = serial_hex(X509_get0_serialNumber(c), serial)) < 0 || (r = cert_pem(c, &pem)) < 0)
		return r;
	if (!ASN1_TIME_to_tm(X509_get0_notAfter(c), &tm))
		return ssl_err();
	not_after = (int64_t)timegm(&tm) * 1000000;
	*ret_pem = TAKE_PTR(pem);
	memcpy(ret_serial, serial, PKI_SERIAL_MAX);
	*ret_not_after_us = not_after;
	return 0;
}

int pki_cert_identity(X509 *cert, char ret_serial[PKI_SERIAL_MAX], char ret_cn[PKI_TERMINAL_ID],
                      int64_t *ret_not_after_us)
{
	char serial[PKI_SERIAL_MAX], cn[PKI_TERMINAL_ID];
	struct tm tm;
	int r;

	if (!cert)
		return -EINVAL;
	if ((r = serial_hex(X509_get0_serialNumber(cert), serial)) < 0 ||
	    (r = name_cn(X509_get_subject_name(cert), cn)) < 0)
		return r;
	if (!ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm))
		return ssl_err();
	memcpy(ret_serial, serial, PKI_SERIAL_MAX);
	memcpy(ret_cn, cn, PKI_TERMINAL_ID);
	*ret_not_after_us = (int64_t)timegm(&tm) * 1000000;
	return 0;
}

int pki_pem_fingerprint(const char *pem, size_t len, char ret_hex[PKI_FPR_HEX])
{
	_cleanup_bio_ BIO *b = BIO_new_mem_buf(pem, (int)len);
	_cleanup_x509_ X509 *c = NULL;
	char fpr[PKI_FPR_HEX];
	int r;

	if (!b)
		return -ENOMEM;
	c = PEM_read_bio_X509(b, NULL, NULL, NULL);
	if (!c) {
		ERR_clear_error();
		return -EBADMSG;
	}
	r = fingerprint(c, fpr);
	if (r < 0)
		return r;
	memcpy(ret_hex, fpr, PKI_FPR_HEX);
	return 0;
}
