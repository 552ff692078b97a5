/* agent/net/enroll.c — key pair, CSR, CA pinning by fingerprint and the
 * enrollment exchange with mamori-server (mamorictl; renewal helpers used by
 * `mamorictl server sync`). OpenSSL errors become negative errno here. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "alloc-util.h"
#include "command_verify.h"
#include "enroll.h"
#include "fileio.h"
#include "json-util.h"
#include "policy_sign.h"
#include "rootpath.h"
#include "strutil.h"
#include "terminal_id.h"
#include "transport.h"

#define STATE_FILE_MAX (64 * 1024)
#define PEM_MAX        (64 * 1024)

DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_PKEY *, EVP_PKEY_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(X509 *, X509_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(X509_REQ *, X509_REQ_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(BIO *, BIO_free)

static int ssl_fail(void)
{
	ERR_clear_error();
	return -EIO;
}

int enroll_default_terminal_id(const char *configured, char ret[ENROLL_ID_MAX])
{
	char path[PATH_MAX], line[ENROLL_ID_MAX];

	if (configured && *configured)
		return terminal_id_valid(configured) ? strscpy(ret, ENROLL_ID_MAX, configured) : -EINVAL;
	if (root_path(path, sizeof(path), "/etc/machine-id") == 0 && read_one_line(path, line, sizeof(line)) == 0 &&
	    terminal_id_valid(strstrip(line)))
		return strscpy(ret, ENROLL_ID_MAX, strstrip(line));
	if (gethostname(line, sizeof(line) - 1) == 0 && terminal_id_valid(line))
		return strscpy(ret, ENROLL_ID_MAX, line);
	return -ENOENT;
}

static int bio_string(BIO *b, char **ret)
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

int enroll_make_key_csr(const char *terminal_id, char **ret_key_pem, char **ret_csr_pem)
{
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *k = NULL;
	_cleanup_(X509_REQ_freep) X509_REQ *req = NULL;
	_cleanup_(BIO_freep) BIO *kb = NULL, *cb = NULL;
	_cleanup_free_ char *key = NULL, *csr = NULL;
	X509_NAME *name;
	int r;

	if (!terminal_id_valid(terminal_id))
		return -EINVAL;
	k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	req = X509_REQ_new();
	kb = BIO_new(BIO_s_mem());
	cb = BIO_new(BIO_s_mem());
	if (!k || !req || !kb || !cb)
		return ssl_fail();
	name = X509_REQ_get_subject_name(req);
	if (!X509_REQ_set_version(req, 0) || !X509_REQ_set_pubkey(req, k) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)terminal_id, -1, -1, 0) ||
	    !X509_REQ_sign(req, k, EVP_sha256()) || !PEM_write_bio_PrivateKey(kb, k, NULL, NULL, 0, NULL, NULL) ||
	    !PEM_write_bio_X509_REQ(cb, req))
		return ssl_fail();
	if ((r = bio_string(kb, &key)) < 0 || (r = bio_string(cb, &csr)) < 0)
		return r;
	*ret_key_pem = TAKE_PTR(key);
	*ret_csr_pem = TAKE_PTR(csr);
	return 0;
}

int enroll_install_identity(const char *state_dir, const char *key_pem, const char *cert_pem, const char *terminal_id)
{
	_cleanup_(BIO_freep) BIO *kb = BIO_new_mem_buf(key_pem, -1), *cb = BIO_new_mem_buf(cert_pem, -1);
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *k = NULL;
	_cleanup_(X509_freep) X509 *c = NULL;
	_cleanup_free_ char *both = NULL;
	char path[PATH_MAX], cn[ENROLL_ID_MAX];
	size_t kl = strlen(key_pem), cl = strlen(cert_pem);
	int r;

	if (!kb || !cb)
		return -ENOMEM;
	k = PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL);
	c = PEM_read_bio_X509(cb, NULL, NULL, NULL);
	if (!k || !c || X509_check_private_key(c, k) != 1 ||
	    X509_NAME_get_text_by_NID(X509_get_subject_name(c), NID_commonName, cn, sizeof(cn)) <= 0 ||
	    strcmp(cn, terminal_id) != 0) {
		ERR_clear_error();
		return -EBADMSG;
	}
	both = malloc(kl + cl + 2);
	if (!both)
		return -ENOMEM;
	memcpy(both, key_pem, kl);
	memcpy(both + kl, cert_pem, cl + 1);
	if ((r = xsnprintf(path, sizeof(path), "%s/%s", state_dir, TRANSPORT_DEVICE_PEM)) < 0)
		return r;
	r = write_file_atomic(path, both, kl + cl, 0600);
	OPENSSL_cleanse(both, kl + cl);
	return r;
}

/* SHA-256 of the DER of the first certificate in pem, as 64 hex. */
static int pem_fingerprint(const char *pem, size_t len, char ret[65])
{
	_cleanup_(BIO_freep) BIO *b = BIO_new_mem_buf(pem, (int)len);
	_cleanup_(X509_freep) X509 *c = NULL;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (!b)
		return -ENOMEM;
	c = PEM_read_bio_X509(b, NULL, NULL, NULL);
	if (!c || !X509_digest(c, EVP_sha256(), md, &n) || n != 32) {
		ERR_clear_error();
		return -EBADMSG;
	}
	hex_encode(md, 32, ret);
	return 0;
}

/* "AB:cd:…" or "abcd…" → 64 lower-case hex, else -EINVAL. */
static int normalise_fingerprint(const char *in, char out[65])
{
	size_t o = 0;

	for (const char *p = in; *p; p++) {
		char c = *p;

		if (c == ':' || c == ' ')
			continue;
		if (c >= 'A' && c <= 'F')
			c = (char)(c - 'A' + 'a');
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) || o >= 64)
			return -EINVAL;
		out[o++] = c;
	}
	out[o] = 0;
	return o == 64 ? 0 : -EINVAL;
}

int enroll_state_load(const char *state_dir, struct enroll_state *ret)
{
	_cleanup_free_ char *buf = NULL;
	_cleanup_json_ cJSON *j = NULL;
	struct enroll_state s = {0};
	char path[PATH_MAX];
	const cJSON *v;
	size_t n;
	int r;

	if ((r = xsnprintf(path, sizeof(path), "%s/%s", state_dir, TRANSPORT_ENROLL_STATE)) < 0 ||
	    (r = read_file_capped(path, STATE_FILE_MAX, &buf, &n)) < 0)
		return r;
	j = cJSON_ParseWithLength(buf, n);
	if (!j)
		return -EBADMSG;
	struct {
		const char *key;
		char *dst;
		size_t sz;
	} f[] = {
	        {"admin_url", s.admin_url, sizeof(s.admin_url)},
	        {"device_url", s.device_url, sizeof(s.device_url)},
	        {"terminal_id", s.terminal_id, sizeof(s.terminal_id)},
	        {"group", s.group, sizeof(s.group)},
	};
	for (size_t i = 0; i < ELEMENTSOF(f); i++) {
		v = cJSON_GetObjectItemCaseSensitive(j, f[i].key);
		if (!cJSON_IsString(v) || strscpy(f[i].dst, f[i].sz, v->valuestring) < 0)
			return -EBADMSG;
	}
	*ret = s;
	return 0;
}

static int state_save(const char *state_dir, const struct enroll_state *s)
{
	_cleanup_json_ cJSON *j = cJSON_CreateObject();
	_cleanup_free_ char *txt = NULL;
	char path[PATH_MAX];
	int r;

	if (!j || !cJSON_AddStringToObject(j, "admin_url", s->admin_url) ||
	    !cJSON_AddStringToObject(j, "device_url", s->device_url) ||
	    !cJSON_AddStringToObject(j, "terminal_id", s->terminal_id) ||
	    !cJSON_AddStringToObject(j, "group", s->group) || !(txt = cJSON_Print(j)))
		return -ENOMEM;
	if ((r = xsnprintf(path, sizeof(path), "%s/%s", state_dir, TRANSPORT_ENROLL_STATE)) < 0)
		return r;
	return write_file_atomic(path, txt, strlen(txt), 0644);
}

static void answer_error(const struct transport_response *resp, char *err, size_t errsz)
{
	_cleanup_json_ cJSON *j = cJSON_ParseWithLength(resp->body, resp->len);
	const cJSON *code = cJSON_GetObjectItemCaseSensitive(j, "error");
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "message"), "en");

	snprintf(err, errsz, "the server refused the enrollment: HTTP %ld %s%s%s", resp->status,
	         cJSON_IsString(code) ? code->valuestring : "", cJSON_IsString(m) ? ": " : "",
	         cJSON_IsString(m) ? m->valuestring : "");
}

static int url_join(const char *base, const char *path, char *buf, size_t bufsz)
{
	size_t n = strlen(base);

	while (n > 0 && base[n - 1] == '/')
		n--;
	return xsnprintf(buf, bufsz, "%.*s%s", (int)n, base, path);
}

/* Fetch the CA over an unverified connection and accept it only if its
 * fingerprint is the one given; nothing secret is sent on that connection. */
static int pin_ca(const struct enroll_options *o, const char *want, const char *ca_path, char *err, size_t errsz)
{
	struct transport_conn *c = NULL;
	struct transport_response resp = {0};
	struct transport_request rq = {.method = "GET", .max_response = PEM_MAX};
	char url[700], got[65];
	int r;

	if ((r = url_join(o->server_url, "/enroll/v1/ca", url, sizeof(url))) < 0)
		return r;
	rq.url = url;
	if ((r = transport_conn_new_unverified(o->timeout_s, &c)) < 0)
		return r;
	r = transport_conn_request(c, &rq, &resp, err, errsz);
	transport_conn_free(c);
	if (r < 0)
		return r;
	if (resp.status != 200 || pem_fingerprint(resp.body, resp.len, got) < 0) {
		snprintf(err, errsz, "%s: no CA certificate (HTTP %ld)", url, resp.status);
		transport_response_clear(&resp);
		return -EBADMSG;
	}
	if (strcmp(got, want) != 0) {
		snprintf(err, errsz, "the server's CA fingerprint is %s, not the expected %s: not enrolling", got,
		         want);
		transport_response_clear(&resp);
		return -EPERM;
	}
	r = write_file_atomic(ca_path, resp.body, resp.len, 0644);
	transport_response_clear(&resp);
	if (r < 0)
		snprintf(err, errsz, "cannot write %s: %s", ca_path, strerror(-r));
	return r;
}

static int write_policy(const struct enroll_options *o, const cJSON *ans, int64_t *ret_version, char *err, size_t errsz)
{
	const cJSON *pk = cJSON_GetObjectItemCaseSensitive(ans, "policy_public_key");
	const cJSON *pol = cJSON_GetObjectItemCaseSensitive(ans, "policy");
	const cJSON *doc = cJSON_GetObjectItemCaseSensitive(pol, "document");
	const cJSON *sig = cJSON_GetObjectItemCaseSensitive(pol, "signature");
	const cJSON *ver = cJSON_GetObjectItemCaseSensitive(pol, "version");
	char sigpath[PATH_MAX];
	int r;

	*ret_version = 0;
	if (o->policy_key && cJSON_IsString(pk)) {
		char dir[PATH_MAX], *slash;

		(void)strscpy(dir, sizeof(dir), o->policy_key);
		slash = strrchr(dir, '/');
		if (slash && slash != dir) {
			*slash = 0;
			(void)mkdir_p(dir, 0755);
		}
		r = write_file_atomic(o->policy_key, pk->valuestring, strlen(pk->valuestring), 0644);
		if (r < 0) {
			snprintf(err, errsz, "cannot write the policy key %s: %s", o->policy_key, strerror(-r));
			return r;
		}
	}
	if (!o->policy_file || !cJSON_IsString(doc) || !cJSON_IsString(sig))
		return 0;
	/* only a document the key above signed is written (mamorid verifies it
	 * again, signature then document, before it uses it) */
	if (!o->policy_key || policy_verify_buf(o->policy_key, doc->valuestring, strlen(doc->valuestring),
	                                        sig->valuestring, strlen(sig->valuestring)) != 0) {
		snprintf(err, errsz, "the group's policy does not verify with the server's policy key");
		return -EBADMSG;
	}
	if ((r = xsnprintf(sigpath, sizeof(sigpath), "%s.sig", o->policy_file)) < 0 ||
	    (r = write_file_atomic(o->policy_file, doc->valuestring, strlen(doc->valuestring), 0644)) < 0 ||
	    (r = write_file_atomic(sigpath, sig->valuestring, strlen(sig->valuestring), 0644)) < 0) {
		snprintf(err, errsz, "cannot write the policy %s: %s", o->policy_file, strerror(-r));
		return r;
	}
	*ret_version = cJSON_IsNumber(ver) ? (int64_t)ver->valuedouble : 0;
	return 0;
}

int enroll_run(const struct enroll_options *o, struct enroll_result *ret, char *err, size_t errsz)
{
	_cleanup_free_ char *key = NULL, *csr = NULL, *body = NULL;
	_cleanup_json_ cJSON *req = cJSON_CreateObject(), *ans = NULL;
	struct transport_conn *c = NULL;
	struct transport_response resp = {0};
	struct transport_request rq = {.method = "POST", .max_response = 2 * 1024 * 1024};
	struct enroll_state st = {0};
	struct enroll_result res = {0};
	char want[65], ca_path[PATH_MAX], url[700], host[256] = "";
	const cJSON *cert, *grp, *durl, *na;
	int r;

	err[0] = 0;
	if (!o->server_url || !startswith(o->server_url, "https://")) {
		snprintf(err, errsz, "--server must be an https:// URL");
		return -EINVAL;
	}
	if (!o->token || !*o->token || strlen(o->token) > 256) {
		snprintf(err, errsz, "--token is required");
		return -EINVAL;
	}
	if (!o->ca_fingerprint || normalise_fingerprint(o->ca_fingerprint, want) < 0) {
		snprintf(err, errsz, "--ca-fingerprint must be the 64 hex digits of a SHA-256");
		return -EINVAL;
	}
	if (!terminal_id_valid(o->terminal_id)) {
		snprintf(err, errsz, "invalid terminal ID '%s'", o->terminal_id ?: "");
		return -EINVAL;
	}
	if ((r = mkdir_p(o->state_dir, 0755)) < 0) {
		snprintf(err, errsz, "cannot create %s: %s", o->state_dir, strerror(-r));
		return r;
	}
	if ((r = xsnprintf(ca_path, sizeof(ca_path), "%s/%s", o->state_dir, TRANSPORT_SERVER_CA)) < 0)
		return r;
	r = pin_ca(o, want, ca_path, err, errsz);
	if (r < 0)
		return r;

	r = enroll_make_key_csr(o->terminal_id, &key, &csr);
	if (r < 0) {
		snprintf(err, errsz, "cannot make a key pair: %s", strerror(-r));
		return r;
	}
	(void)gethostname(host, sizeof(host) - 1);
	if (!req || !cJSON_AddStringToObject(req, "token", o->token) || !cJSON_AddStringToObject(req, "csr", csr) ||
	    !cJSON_AddStringToObject(req, "terminal_id", o->terminal_id) ||
	    (host[0] && utf8_valid(host, strlen(host)) && !cJSON_AddStringToObject(req, "hostname", host)) ||
	    !(body = cJSON_PrintUnformatted(req)))
		return -ENOMEM;
	if ((r = url_join(o->server_url, "/enroll/v1", url, sizeof(url))) < 0)
		return r;
	rq.url = url;
	rq.body = body;
	rq.body_len = strlen(body);
	if ((r = transport_conn_new(ca_path, NULL, o->timeout_s, &c)) < 0)
		return r;
	r = transport_conn_request(c, &rq, &resp, err, errsz);
	transport_conn_free(c);
	if (r < 0)
		return r;
	if (resp.status != 201) {
		answer_error(&resp, err, errsz);
		r = resp.status == 403 ? -EACCES : resp.status == 409 ? -EEXIST : -EBADMSG;
		transport_response_clear(&resp);
		return r;
	}
	ans = cJSON_ParseWithLength(resp.body, resp.len);
	transport_response_clear(&resp);
	cert = cJSON_GetObjectItemCaseSensitive(ans, "certificate");
	grp = cJSON_GetObjectItemCaseSensitive(ans, "group");
	durl = cJSON_GetObjectItemCaseSensitive(ans, "device_url");
	na = cJSON_GetObjectItemCaseSensitive(ans, "not_after");
	if (!cJSON_IsString(cert) || !cJSON_IsString(grp) || !cJSON_IsString(durl) ||
	    !startswith(durl->valuestring, "https://")) {
		snprintf(err, errsz, "the server's answer lacks the certificate, group or device URL");
		return -EBADMSG;
	}
	r = enroll_install_identity(o->state_dir, key, cert->valuestring, o->terminal_id);
	OPENSSL_cleanse(key, strlen(key));
	if (r < 0) {
		snprintf(err, errsz, "the certificate does not match the key or terminal ID: %s", strerror(-r));
		return r;
	}
	/* the command key is pinned here, with the identity: a remote command
	 * (wipe, isolate, ...) is accepted only if it verifies with this key
	 * (agent/net/command_verify.h; MDM-1). A server that sends none gets
	 * no command accepted. */
	{
		const cJSON *ck = cJSON_GetObjectItemCaseSensitive(ans, "command_public_key");
		char kp[PATH_MAX];

		if (cJSON_IsString(ck) && strlen(ck->valuestring) < 4096 &&
		    startswith(ck->valuestring, "-----BEGIN PUBLIC KEY-----")) {
			if ((r = xsnprintf(kp, sizeof(kp), "%s/%s", o->state_dir, COMMAND_KEY_FILE)) < 0 ||
			    (r = write_file_atomic(kp, ck->valuestring, strlen(ck->valuestring), 0644)) < 0) {
				snprintf(err, errsz, "cannot pin the command key: %s", strerror(-r));
				return r;
			}
		}
	}
	if (strscpy(st.admin_url, sizeof(st.admin_url), o->server_url) < 0 ||
	    strscpy(st.device_url, sizeof(st.device_url), durl->valuestring) < 0 ||
	    strscpy(st.terminal_id, sizeof(st.terminal_id), o->terminal_id) < 0 ||
	    strscpy(st.group, sizeof(st.group), grp->valuestring) < 0)
		return -ENAMETOOLONG;
	r = state_save(o->state_dir, &st);
	if (r < 0) {
		snprintf(err, errsz, "cannot write the enrollment state: %s", strerror(-r));
		return r;
	}
	r = write_policy(o, ans, &res.policy_version, err, errsz);
	if (r < 0)
		return r;
	memcpy(res.terminal_id, st.terminal_id, sizeof(res.terminal_id));
	memcpy(res.group, st.group, sizeof(res.group));
	memcpy(res.device_url, st.device_url, sizeof(res.device_url));
	(void)strscpy(res.not_after, sizeof(res.not_after), cJSON_IsString(na) ? na->valuestring : "");
	*ret = res;
	return 0;
}
