/* agent/net/transport.c — the agent's client of mamori-server: HTTPS with libcurl
 * (device certificate, pinned CA, keep-alive), gzip batches with zlib, the
 * sync (check-in, event upload from the journal, policy download, renewal)
 * and the backoff (mamorictl, also as the child that mamori-worker
 * runs for each sync). The only agent file that calls
 * libcurl and zlib: their codes become negative errno here. */
#include <errno.h>
#include <signal.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/ssl.h>
#include <zlib.h>

#include "alloc-util.h"
#include "buf.h"
#include "enroll.h"
#include "fileio.h"
#include "journal.h"
#include "json-util.h"
#include "log.h"
#include "policy.h"
#include "policy_sign.h"
#include "rootpath.h"
#include "sandbox.h"
#include "sha256.h"
#include "strutil.h"
#include "approval_verify.h"
#include "command_verify.h"
#include "transport.h"
#include "version.h"

#define DEFAULT_TIMEOUT_S    60
#define CONNECT_TIMEOUT_S    10
#define CHECKIN_RESPONSE_MAX (256 * 1024)
#define POLICY_RESPONSE_MAX  (POLICY_SIZE_MAX + 4096)

/* ---- TLS session resumption (issue 18) ----------------------------------------
 * A full handshake is most of the server's CPU a check-in (decoding the
 * client certificate, two ECDSA verifications, the key exchange); it gives
 * one session ticket a handshake. Each sync is a new process (mamori-worker
 * runs mamorictl), so the newest session is kept in the state directory
 * (TRANSPORT_TLS_SESSION, 0600, written by the root part; the sandboxed
 * network child hands it over as bytes) and offered at the next connection.
 * It is offered only under the key it was made with — the SHA-256 of the
 * pinned CA's and the device identity's bytes — so a session never carries
 * a trust anchor or an identity across a change of either (renewal,
 * enrollment again); the server checks the certificate it carries (expiry
 * at resumption, revocation per request). The process holds it as
 * [key][DER of the SSL_SESSION]: the root part never parses it.
 * A resumed session authenticates the server by its secret alone, so what
 * a child hands over is bounded (docs/ARCHITECTURE.md): only a session the
 * server gave on a connection whose certificate was verified (a full
 * handshake) is kept, and the root part drops the file TLS_SESSION_KEEP_S
 * after it was written — a session planted by a child that was taken over
 * serves at most that long, then a full handshake verifies the server. */
#define TLS_KEY_LEN        32
#define TLS_SESSION_MAX    (16 * 1024)
#define TLS_SESSION_KEEP_S 3600 /* mamori-server's default ticket lifetime (--tls-resume-seconds) */

struct transport_conn {
	CURL *curl;
	char err[CURL_ERROR_SIZE];
	int watch_fd;   /* the long poll's socket to its root part: a transfer ends when that closes */
	bool resumable; /* verified, with a device identity: sessions are kept and offered */
	unsigned char tls_key[TLS_KEY_LEN]; /* SHA-256 of the pinned CA and the identity */
};

static struct {
	unsigned char *blob;
	size_t len;
	bool fresh; /* came since the last load or save */
} tls_session;
static int tls_conn_index = -1;

static void tls_session_set(unsigned char *blob, size_t len, bool fresh)
{
	if (tls_session.blob)
		OPENSSL_cleanse(tls_session.blob, tls_session.len);
	free(tls_session.blob);
	tls_session.blob = blob;
	tls_session.len = blob ? len : 0;
	tls_session.fresh = blob && fresh;
}

int transport_tls_session_load(const char *state_dir)
{
	char path[PATH_MAX];
	char *blob = NULL;
	size_t n = 0;
	int r;

	struct stat st;
	time_t now = time(NULL);

	if (xsnprintf(path, sizeof(path), "%s/%s", state_dir, TRANSPORT_TLS_SESSION) < 0)
		return -ENAMETOOLONG;
	if (lstat(path, &st) == 0 &&
	    (!S_ISREG(st.st_mode) || st.st_mtime > now || now - st.st_mtime >= TLS_SESSION_KEEP_S)) {
		/* kept its time (or not a session file): a full handshake next */
		(void)unlink(path);
		tls_session_set(NULL, 0, false);
		return 0;
	}
	r = read_file_capped(path, TLS_SESSION_MAX, &blob, &n);
	if (r == -ENOENT) {
		tls_session_set(NULL, 0, false);
		return 0;
	}
	if (r < 0)
		return r;
	tls_session_set((unsigned char *)blob, n, false);
	return 0;
}

int transport_tls_session_save(const char *state_dir)
{
	char path[PATH_MAX];
	int r;

	if (!tls_session.fresh)
		return 0;
	if (xsnprintf(path, sizeof(path), "%s/%s", state_dir, TRANSPORT_TLS_SESSION) < 0)
		return -ENAMETOOLONG;
	r = write_file_atomic(path, tls_session.blob, tls_session.len, 0600);
	if (r == 0)
		tls_session.fresh = false;
	return r;
}

static struct transport_conn *tls_conn_of(const SSL *ssl)
{
	return tls_conn_index >= 0 ? SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), tls_conn_index) : NULL;
}

/* A session (TLS 1.3: a ticket after the handshake) of a resumable connection: the newest is kept. */
static int on_new_session(SSL *ssl, SSL_SESSION *sess)
{
	struct transport_conn *c = tls_conn_of(ssl);
	unsigned char *blob, *p;
	int n;

	/* only from a connection that verified the server's certificate */
	if (!c || !c->resumable || SSL_session_reused(ssl) || !SSL_SESSION_is_resumable(sess))
		return 0;
	n = i2d_SSL_SESSION(sess, NULL);
	if (n <= 0 || (size_t)n > TLS_SESSION_MAX - TLS_KEY_LEN || !(blob = malloc(TLS_KEY_LEN + (size_t)n)))
		return 0;
	memcpy(blob, c->tls_key, TLS_KEY_LEN);
	p = blob + TLS_KEY_LEN;
	if (i2d_SSL_SESSION(sess, &p) != n) {
		free(blob);
		return 0;
	}
	tls_session_set(blob, TLS_KEY_LEN + (size_t)n, true);
	return 0; /* the library keeps its reference: we hold the bytes */
}

/* At the start of a connection's handshake, before its ClientHello: the
 * kept session, if it was made under this connection's key and has not
 * expired. (libcurl offers only sessions of its own in-process cache.) */
static void on_tls_info(const SSL *ssl, int where, int ret)
{
	struct transport_conn *c;
	const unsigned char *p;
	SSL_SESSION *s;

	(void)ret;
	if (!(where & SSL_CB_HANDSHAKE_START) || !SSL_in_before(ssl) || SSL_get_session(ssl) ||
	    tls_session.len <= TLS_KEY_LEN || !(c = tls_conn_of(ssl)) || !c->resumable ||
	    CRYPTO_memcmp(tls_session.blob, c->tls_key, TLS_KEY_LEN) != 0)
		return;
	p = tls_session.blob + TLS_KEY_LEN;
	s = d2i_SSL_SESSION(NULL, &p, (long)(tls_session.len - TLS_KEY_LEN));
	if (s && SSL_SESSION_is_resumable(s) &&
	    (time_t)(SSL_SESSION_get_time(s) + SSL_SESSION_get_timeout(s)) > time(NULL))
		(void)SSL_set_session((SSL *)ssl, s);
	SSL_SESSION_free(s);
}

/* The key of a connection: SHA-256 over the CA's bytes, a NUL, the identity's bytes. */
static void tls_key(const void *ca, size_t ca_len, const void *id, size_t id_len, unsigned char key[TLS_KEY_LEN])
{
	struct sha256_ctx h;

	sha256_init(&h);
	sha256_update(&h, ca, ca_len);
	sha256_update(&h, "", 1);
	sha256_update(&h, id, id_len);
	sha256_final(&h, key);
	OPENSSL_cleanse(&h, sizeof(h));
}

/* ---- one connection ---------------------------------------------------------- */

/* libcurl's progress callback (about once a second, also while waiting):
 * the long poll's network child gives up when its root part has gone —
 * it holds no capability to be signalled by a root part that has none. */
static int on_progress(void *userdata, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct transport_conn *c = userdata;
	struct pollfd p = {.fd = c->watch_fd, .events = POLLIN};

	(void)dt, (void)dn, (void)ut, (void)un;
	if (c->watch_fd < 0 || poll(&p, 1, 0) <= 0)
		return 0;
	return (p.revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) ? 1 : 0; /* nothing is expected from it now */
}

/* The long poll: end the transfer when fd (the root part's socket) closes. */
static void conn_watch(struct transport_conn *c, int fd)
{
	c->watch_fd = fd;
	(void)curl_easy_setopt(c->curl, CURLOPT_XFERINFOFUNCTION, on_progress);
	(void)curl_easy_setopt(c->curl, CURLOPT_XFERINFODATA, c);
	(void)curl_easy_setopt(c->curl, CURLOPT_NOPROGRESS, 0L);
}

struct sink {
	struct transport_response *resp;
	size_t cap, alloc;
	bool over;
};

static int curl_errno(CURLcode c)
{
	switch (c) {
	case CURLE_OK:
		return 0;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return -EHOSTUNREACH;
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_WRITE_ERROR:
	case CURLE_FILESIZE_EXCEEDED:
		return -E2BIG;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		return -EINVAL;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
		return -EPROTO;
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
		return -ECONNRESET;
	default:
		return -EIO;
	}
}

static size_t on_body(char *p, size_t size, size_t n, void *userdata)
{
	struct sink *s = userdata;
	size_t len = size * n;
	struct transport_response *r = s->resp;

	if (r->len + len > s->cap) {
		s->over = true;
		return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
	}
	if (r->len + len + 1 > s->alloc) {
		size_t na = s->alloc ? s->alloc * 2 : 4096;
		char *nb;

		while (na < r->len + len + 1)
			na *= 2;
		nb = realloc(r->body, na);
		if (!nb)
			return 0;
		r->body = nb;
		s->alloc = na;
	}
	memcpy(r->body + r->len, p, len);
	r->len += len;
	r->body[r->len] = 0;
	return len;
}

static void header_value(const char *line, size_t n, const char *name, char *out, size_t outsz)
{
	size_t nl = strlen(name), v;

	if (n <= nl + 1 || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
		return;
	v = nl + 1;
	while (v < n && line[v] == ' ')
		v++;
	while (n > v && (line[n - 1] == '\r' || line[n - 1] == '\n' || line[n - 1] == ' '))
		n--;
	if (n - v < outsz) {
		memcpy(out, line + v, n - v);
		out[n - v] = 0;
	}
}

static size_t on_header(char *p, size_t size, size_t n, void *userdata)
{
	struct sink *s = userdata;
	size_t len = size * n;

	header_value(p, len, "Mamori-Policy-Signature", s->resp->policy_signature, sizeof(s->resp->policy_signature));
	header_value(p, len, "Mamori-Policy-Version", s->resp->policy_version, sizeof(s->resp->policy_version));
	return len;
}

/* Trust and identity of a connection: files (a root process) or bytes
 * already in memory (the sandboxed network child, which can open neither). */
struct conn_cfg {
	const char *ca_file, *client_pem;
	const char *ca_blob, *pem_blob;
	size_t ca_len, pem_len;
	bool verify;
};

/* The client certificate goes alone, not with the chain OpenSSL would
 * otherwise build from the pinned CA at every handshake: the server holds
 * that CA, and every certificate sent is one more it decodes per check-in
 * (OpenSSL 3.0's key decoders: ~15 % of the server's CPU a full handshake,
 * issue 18). */
static CURLcode leaf_only(CURL *curl, void *ssl_ctx, void *arg)
{
	struct transport_conn *c = arg;
	SSL_CTX *ctx = ssl_ctx;

	(void)curl;
	SSL_CTX_set_mode(ctx, SSL_MODE_NO_AUTO_CHAIN);
	/* resumption (above): libcurl has set the client session cache and its
	 * own new-session callback just before this; ours replaces it */
	if (c && c->resumable) {
		if (tls_conn_index < 0)
			tls_conn_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
		if (tls_conn_index < 0 || SSL_CTX_set_ex_data(ctx, tls_conn_index, c) != 1)
			return CURLE_OK; /* a full handshake */
		SSL_CTX_sess_set_new_cb(ctx, on_new_session);
		SSL_CTX_set_info_callback(ctx, on_tls_info);
	}
	return CURLE_OK;
}

/* Whether c keeps and offers sessions, and under which key (above). */
static void conn_resumable(struct transport_conn *c, const struct conn_cfg *cfg)
{
	_cleanup_free_ char *ca = NULL, *id = NULL;
	size_t ca_len = 0, id_len = 0;

	if (!cfg->verify || !(cfg->pem_blob || cfg->client_pem))
		return;
	if (cfg->pem_blob && cfg->ca_blob) {
		tls_key(cfg->ca_blob, cfg->ca_len, cfg->pem_blob, cfg->pem_len, c->tls_key);
		c->resumable = true;
	} else if (!cfg->pem_blob && !cfg->ca_blob && read_file_capped(cfg->ca_file, 1024 * 1024, &ca, &ca_len) == 0 &&
	           read_file_capped(cfg->client_pem, 1024 * 1024, &id, &id_len) == 0) {
		tls_key(ca, ca_len, id, id_len, c->tls_key);
		c->resumable = true;
	}
	if (id)
		OPENSSL_cleanse(id, id_len);
}

static int conn_new(const struct conn_cfg *cfg, int timeout_s, struct transport_conn **ret)
{
	static bool global_done;
	struct transport_conn *c;
	CURLcode e = CURLE_OK;

	if (!global_done) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			return -EIO;
		global_done = true;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->watch_fd = -1;
	c->curl = curl_easy_init();
	if (!c->curl) {
		free(c);
		return -ENOMEM;
	}
#define SET(opt, val)                                                                                                  \
	do {                                                                                                           \
		if (e == CURLE_OK)                                                                                     \
			e = curl_easy_setopt(c->curl, opt, val);                                                       \
	} while (0)
	SET(CURLOPT_ERRORBUFFER, c->err);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_PROTOCOLS_STR, "https");
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	SET(CURLOPT_CONNECTTIMEOUT, (long)CONNECT_TIMEOUT_S);
	SET(CURLOPT_TIMEOUT, (long)(timeout_s > 0 ? timeout_s : DEFAULT_TIMEOUT_S));
	SET(CURLOPT_TCP_KEEPALIVE, 1L);
	SET(CURLOPT_ACCEPT_ENCODING, "");
	SET(CURLOPT_USERAGENT, "mamori-agent/" MAMORI_VERSION);
	conn_resumable(c, cfg);
	SET(CURLOPT_SSL_CTX_FUNCTION, leaf_only);
	SET(CURLOPT_SSL_CTX_DATA, c);
	if (cfg->verify && cfg->ca_blob) {
		struct curl_blob b = {.data = (void *)cfg->ca_blob, .len = cfg->ca_len, .flags = CURL_BLOB_COPY};

		SET(CURLOPT_CAINFO, NULL);
		SET(CURLOPT_CAINFO_BLOB, &b);
		SET(CURLOPT_CAPATH, NULL);
		SET(CURLOPT_SSL_VERIFYPEER, 1L);
		SET(CURLOPT_SSL_VERIFYHOST, 2L);
	} else if (cfg->verify) {
		SET(CURLOPT_CAINFO, cfg->ca_file);
		SET(CURLOPT_CAPATH, NULL);
		SET(CURLOPT_SSL_VERIFYPEER, 1L);
		SET(CURLOPT_SSL_VERIFYHOST, 2L);
	} else {
		SET(CURLOPT_SSL_VERIFYPEER, 0L);
		SET(CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (cfg->pem_blob) {
		struct curl_blob b = {.data = (void *)cfg->pem_blob, .len = cfg->pem_len, .flags = CURL_BLOB_COPY};

		SET(CURLOPT_SSLCERT_BLOB, &b);
		SET(CURLOPT_SSLCERTTYPE, "PEM");
		SET(CURLOPT_SSLKEY_BLOB, &b);
		SET(CURLOPT_SSLKEYTYPE, "PEM");
	} else if (cfg->client_pem) {
		const char *client_pem = cfg->client_pem;

		SET(CURLOPT_SSLCERT, client_pem);
		SET(CURLOPT_SSLCERTTYPE, "PEM");
		SET(CURLOPT_SSLKEY, client_pem);
		SET(CURLOPT_SSLKEYTYPE, "PEM");
	}
#undef SET
	if (e != CURLE_OK) {
		transport_conn_free(c);
		return curl_errno(e);
	}
	*ret = c;
	return 0;
}

int transport_conn_new(const char *ca_file, const char *client_pem, int timeout_s, struct transport_conn **ret)
{
	struct conn_cfg cfg = {.ca_file = ca_file, .client_pem = client_pem, .verify = true};

	/* the pinned CA must be there and readable: never a connection without
	 * verification (issues 11.6, 19.6) */
	if (!ca_file || !ca_file[0])
		return -EINVAL;
	if (access(ca_file, R_OK) < 0)
		return -errno;

	return conn_new(&cfg, timeout_s, ret);
}

int transport_conn_new_unverified(int timeout_s, struct transport_conn **ret)
{
	struct conn_cfg cfg = {0};

	return conn_new(&cfg, timeout_s, ret);
}

void transport_conn_free(struct transport_conn *c)
{
	if (!c)
		return;
	curl_easy_cleanup(c->curl);
	free(c);
}

void transport_response_clear(struct transport_response *r)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
}

static int gzip_buf(const void *in, size_t n, char **ret, size_t *ret_len)
{
	z_stream zs = {0};
	size_t cap;
	char *out;
	int zr;

	if (deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	cap = deflateBound(&zs, (uLong)n) + 32;
	out = malloc(cap);
	if (!out) {
		deflateEnd(&zs);
		return -ENOMEM;
	}
	zs.next_in = (unsigned char *)in;
	zs.avail_in = (uInt)n;
	zs.next_out = (unsigned char *)out;
	zs.avail_out = (uInt)cap;
	zr = deflate(&zs, Z_FINISH);
	*ret_len = cap - zs.avail_out;
	deflateEnd(&zs);
	if (zr != Z_STREAM_END) {
		free(out);
		return -EIO;
	}
	*ret = out;
	return 0;
}

int transport_conn_request(struct transport_conn *c, const struct transport_request *rq, struct transport_response *ret,
                           char *err, size_t errsz)
{
	struct transport_response resp = {0};
	struct sink s = {.resp = &resp, .cap = rq->max_response ? rq->max_response : TRANSPORT_RESPONSE_MAX};
	struct curl_slist *h = NULL, *h2;
	_cleanup_free_ char *gz = NULL;
	const void *body = rq->body;
	size_t body_len = rq->body_len;
	CURLcode e = CURLE_OK;
	int r;

	if (rq->gzip && body) {
		r = gzip_buf(rq->body, rq->body_len, &gz, &body_len);
		if (r < 0)
			return r;
		body = gz;
	}
	h2 = curl_slist_append(h, "Content-Type: application/json");
	if (h2)
		h = h2;
	if (gz && (h2 = curl_slist_append(h, "Content-Encoding: gzip")))
		h = h2;
	if ((h2 = curl_slist_append(h, "Expect:"))) /* no 100-continue round trip */
		h = h2;
	c->err[0] = 0;
	e = curl_easy_setopt(c->curl, CURLOPT_URL, rq->url);
	if (e == CURLE_OK)
		e = curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, h);
	if (e == CURLE_OK)
		e = curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_body);
	if (e == CURLE_OK)
		e = curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &s);
	if (e == CURLE_OK)
		e = curl_easy_setopt(c->curl, CURLOPT_HEADERFUNCTION, on_header);
	if (e == CURLE_OK)
		e = curl_easy_setopt(c->curl, CURLOPT_HEADERDATA, &s);
	if (e == CURLE_OK)
		e = curl_easy_setopt(c->curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)s.cap);
	if (e == CURLE_OK && strcmp(rq->method, "GET") == 0) {
		e = curl_easy_setopt(c->curl, CURLOPT_HTTPGET, 1L);
	} else if (e == CURLE_OK) {
		e = curl_easy_setopt(c->curl, CURLOPT_POST, 1L);
		if (e == CURLE_OK)
			e = curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body ? body : "");
		if (e == CURLE_OK)
			e = curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? body_len : 0));
	}
	if (e == CURLE_OK)
		e = curl_easy_perform(c->curl);
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(h);
	if (e != CURLE_OK) {
		r = s.over ? -E2BIG : curl_errno(e);
		if (r == -EPROTO && (strstr(c->err, "not yet valid") || strstr(c->err, "has expired"))) {
			/* the certificate is judged with this terminal's clock: a clock a
			 * day behind makes a fresh server certificate "not yet valid"
			 * (issue 13, LOG-2) — say that the clock is the likely cause */
			char now[64];
			time_t t = time(NULL);
			struct tm tm;

			r = -EKEYEXPIRED;
			localtime_r(&t, &tm);
			if (strftime(now, sizeof(now), "%Y-%m-%d %H:%M:%S %Z", &tm) == 0)
				now[0] = 0;
			if (err && errsz)
				snprintf(err, errsz,
				         "%s: %s — this terminal's clock (%s) is probably wrong; TLS certificates are "
				         "checked against it (LOG-2) / 端末の時計 (%s) が狂っている可能性があります",
				         rq->url, c->err, now, now);
			transport_response_clear(&resp);
			return r;
		}
		if (err && errsz)
			snprintf(err, errsz, "%s: %s", rq->url,
			         s.over ? "response larger than the limit"
			                : (c->err[0] ? c->err : curl_easy_strerror(e)));
		transport_response_clear(&resp);
		return r;
	}
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &resp.status);
	if (!resp.body) {
		resp.body = strdup("");
		if (!resp.body)
			return -ENOMEM;
	}
	*ret = resp;
	return 0;
}

/* ---- sync ------------------------------------------------------------------------ */

struct transport {
	struct transport_options o;
	char state_dir[PATH_MAX], policy_file[PATH_MAX], policy_key[PATH_MAX];
	char device_url[512], pem[PATH_MAX], ca[PATH_MAX];
	struct transport_conn *conn;
	unsigned failures;
	struct enroll_state es; /* read by the root part, before any sandbox */
	/* privilege separation (transport_sync_once with o.sandbox_user): in the
	 * network child, the socket to the root part and the credentials it
	 * read for us; -1 / NULL in a process that does everything itself */
	int broker;
	char *ca_blob, *pem_blob;
	/* command results not yet reported (read by the root part before the
	 * exchange; removed after a successful sync) */
	char *results_json;
	char **result_ids;
	size_t n_result_ids;
	size_t ca_len, pem_len;
	/* the version of the approval data installed and verifying (read by
	 * the root part before the exchange; 0 = none), said in the check-in so
	 * that the server signs a document only when there is a newer one */
	int64_t approvals_version;
	/* the command long poll (transport_poll_run): the root part accepts
	 * only PS_COMMAND, and writes a byte to notify_fd after each */
	bool poll_mode;
	int notify_fd;
};

/* ---- the root part and the network child: typed messages ---------------------
 *
 * A frame is {uint32 type, uint32 length} and length bytes over a socketpair.
 * Child → root: PS_BATCH (u64 after), PS_ACKED (u64 seq), PS_POLICY (u32 n,
 * n bytes of document, the signature), PS_IDENTITY (u32 n, n bytes of key
 * PEM, the certificate PEM), PS_RESULT (the outcome, last). Root → child: the
 * same type with the answer: PS_BATCH the batch body (empty: nothing left),
 * the others an i32 result (PS_POLICY: + i64 version). Every length is
 * checked exactly; anything else ends the exchange (fail closed). */
enum {
	PS_BATCH = 1,
	PS_ACKED,
	PS_POLICY,
	PS_IDENTITY,
	PS_RESULT,
	PS_COMMAND, /* [u32 n][n bytes of envelope][signature]: the root part verifies (command_verify.h) */
	PS_APPROVALS, /* [u32 n][n bytes of document][signature]: the root part verifies and installs (approval_verify.h) */
	PS_SESSION, /* [u32 n][n bytes]: the newest TLS session, kept as bytes (never parsed) for the next child */
};
#define PS_FRAME_MAX (POLICY_RESPONSE_MAX + 4096)

struct ps_result {
	struct transport_result res;
	int32_t r;
	char err[1024];
	char sandbox[256];
};

static int io_full(int fd, void *buf, size_t n, bool wr)
{
	char *p = buf;

	while (n > 0) {
		ssize_t k = wr ? send(fd, p, n, MSG_NOSIGNAL) : read(fd, p, n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			return -EPIPE;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

static int ps_send(int fd, uint32_t type, const void *a, size_t alen, const void *b, size_t blen)
{
	uint32_t h[2] = {type, (uint32_t)(alen + blen)};
	int r;

	if (alen + blen > PS_FRAME_MAX)
		return -E2BIG;
	if ((r = io_full(fd, h, sizeof(h), true)) < 0 || (alen && (r = io_full(fd, (void *)a, alen, true)) < 0) ||
	    (blen && (r = io_full(fd, (void *)b, blen, true)) < 0))
		return r;
	return 0;
}

/* A frame of the expected type (0: any) into a NUL-terminated buffer. */
static int ps_recv(int fd, uint32_t want, uint32_t *ret_type, char **ret, size_t *ret_len)
{
	uint32_t h[2];
	_cleanup_free_ char *p = NULL;
	int r;

	if ((r = io_full(fd, h, sizeof(h), false)) < 0)
		return r;
	if ((want && h[0] != want) || h[1] > PS_FRAME_MAX)
		return -EBADMSG;
	p = malloc((size_t)h[1] + 1);
	if (!p)
		return -ENOMEM;
	if ((r = io_full(fd, p, h[1], false)) < 0)
		return r;
	p[h[1]] = '\0';
	if (ret_type)
		*ret_type = h[0];
	*ret = TAKE_PTR(p);
	*ret_len = h[1];
	return 0;
}

/* Child: a request [u32 alen][a][b] and its answer [i32 r][i64 v][reason].
 * The reason (English, from the root part) goes to err when r < 0. */
static int ps_call(struct transport *t, uint32_t type, const void *a, uint32_t alen, const void *b, size_t blen,
                   int64_t *ret_v, char *err, size_t errsz)
{
	_cleanup_free_ char *frame = NULL, *p = NULL;
	size_t n;
	int32_t r32;
	int r;

	if ((size_t)alen + blen + sizeof(alen) > PS_FRAME_MAX)
		return -E2BIG;
	frame = malloc(sizeof(alen) + alen + blen);
	if (!frame)
		return -ENOMEM;
	memcpy(frame, &alen, sizeof(alen));
	if (alen)
		memcpy(frame + sizeof(alen), a, alen);
	if (blen)
		memcpy(frame + sizeof(alen) + alen, b, blen);
	if ((r = ps_send(t->broker, type, frame, sizeof(alen) + alen + blen, NULL, 0)) < 0 ||
	    (r = ps_recv(t->broker, type, NULL, &p, &n)) < 0)
		return r;
	if (n < sizeof(r32) + sizeof(int64_t))
		return -EBADMSG;
	memcpy(&r32, p, sizeof(r32));
	if (ret_v)
		memcpy(ret_v, p + sizeof(r32), sizeof(*ret_v));
	if (r32 < 0 && err)
		snprintf(err, errsz, "%s", p + sizeof(r32) + sizeof(int64_t));
	return r32 > 0 ? -EBADMSG : r32;
}

/* Root part: the answer to a ps_call. */
static int ps_answer(int fd, uint32_t type, int32_t r, int64_t v, const char *reason)
{
	char head[sizeof(r) + sizeof(v)];

	memcpy(head, &r, sizeof(r));
	memcpy(head + sizeof(r), &v, sizeof(v));
	return ps_send(fd, type, head, sizeof(head), reason ? reason : "", reason ? strlen(reason) : 0);
}

static int acked_write(struct transport *t, uint64_t seq)
{
	char path[PATH_MAX], line[32];
	int r;

	if (t->broker >= 0)
		return ps_call(t, PS_ACKED, &seq, sizeof(seq), NULL, 0, NULL, NULL, 0);
	if (xsnprintf(path, sizeof(path), "%s/%s", t->state_dir, TRANSPORT_UPLOAD_STATE) < 0)
		return -ENAMETOOLONG;
	(void)xsnprintf(line, sizeof(line), "%" PRIu64 "\n", seq);
	r = write_file_atomic(path, line, strlen(line), 0644);
	if (r < 0)
		return r;
	if (t->o.journal) {
		r = journal_ack(t->o.journal, seq);
		if (r < 0 && r != -ERANGE)
			return r;
	}
	return 0;
}

void transport_free(struct transport *t)
{
	if (!t)
		return;
	transport_conn_free(t->conn);
	free(t->results_json);
	command_ids_free(t->result_ids, t->n_result_ids);
	free(t->ca_blob);
	free(t->pem_blob);
	free(t);
}

int transport_new(const struct transport_options *o, struct transport **ret, char *err, size_t errsz)
{
	_cleanup_free_ struct transport *t = calloc(1, sizeof(*t));
	struct enroll_state es;
	int r;

	if (!t)
		return -ENOMEM;
	t->o = *o;
	t->broker = -1;
	t->notify_fd = -1;
	if (strscpy(t->state_dir, sizeof(t->state_dir), o->state_dir) < 0 ||
	    strscpy(t->policy_file, sizeof(t->policy_file), o->policy_file ?: "") < 0 ||
	    strscpy(t->policy_key, sizeof(t->policy_key), o->policy_key ?: "") < 0 ||
	    xsnprintf(t->pem, sizeof(t->pem), "%s/%s", o->state_dir, TRANSPORT_DEVICE_PEM) < 0 ||
	    xsnprintf(t->ca, sizeof(t->ca), "%s/%s", o->state_dir, TRANSPORT_SERVER_CA) < 0)
		return -ENAMETOOLONG;
	t->o.state_dir = t->state_dir;
	r = enroll_state_load(o->state_dir, &es);
	t->es = es;
	if (r < 0) {
		snprintf(err, errsz, "not enrolled (%s/%s: %s)", o->state_dir, TRANSPORT_ENROLL_STATE, strerror(-r));
		return r;
	}
	r = strscpy(t->device_url, sizeof(t->device_url), o->server_url ?: es.device_url);
	if (r < 0 || !startswith(t->device_url, "https://")) {
		snprintf(err, errsz, "no https:// device URL");
		return -EINVAL;
	}
	*ret = TAKE_PTR(t);
	return 0;
}

unsigned transport_failures(const struct transport *t)
{
	return t->failures;
}

uint64_t transport_next_delay_ms(const struct transport *t, int64_t interval_s)
{
	if (t->failures == 0)
		return (uint64_t)(interval_s > 0 ? interval_s : 300) * 1000;
	return transport_retry_delay_ms(t->failures);
}

static int url_join(struct transport *t, const char *path, char *buf, size_t bufsz)
{
	size_t n = strlen(t->device_url);

	while (n > 0 && t->device_url[n - 1] == '/')
		n--;
	return xsnprintf(buf, bufsz, "%.*s%s", (int)n, t->device_url, path);
}

/* A request on the kept-alive connection; on a connection-level failure the
 * handle is dropped so that the next request starts afresh. */
static int request(struct transport *t, const char *method, const char *path, const void *body, size_t len, bool gz,
                   size_t max, struct transport_response *ret, char *err, size_t errsz)
{
	struct transport_request rq = {
	        .method = method, .body = body, .body_len = len, .gzip = gz, .max_response = max};
	char url[700];
	int r;

	if (url_join(t, path, url, sizeof(url)) < 0)
		return -ENAMETOOLONG;
	rq.url = url;
	if (!t->conn) {
		struct conn_cfg cfg = {.ca_file = t->ca,
		                       .client_pem = t->pem,
		                       .ca_blob = t->ca_blob,
		                       .ca_len = t->ca_len,
		                       .pem_blob = t->pem_blob,
		                       .pem_len = t->pem_len,
		                       .verify = true};

		r = conn_new(&cfg, t->o.timeout_s, &t->conn);
		if (r < 0) {
			snprintf(err, errsz, "cannot set up the HTTPS client: %s", strerror(-r));
			return r;
		}
		if (t->poll_mode && t->broker >= 0)
			conn_watch(t->conn, t->broker);
	}
	r = transport_conn_request(t->conn, &rq, ret, err, errsz);
	if (r < 0) {
		transport_conn_free(t->conn);
		t->conn = NULL;
	}
	return r;
}

static void server_error(const struct transport_response *resp, const char *what, char *err, size_t errsz)
{
	_cleanup_json_ cJSON *j = cJSON_ParseWithLength(resp->body, resp->len);
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "message"), "en");
	const cJSON *code = cJSON_GetObjectItemCaseSensitive(j, "error");
	const cJSON *det = cJSON_GetObjectItemCaseSensitive(j, "detail");

	snprintf(err, errsz, "%s: HTTP %ld %s%s%s%s%s", what, resp->status,
	         cJSON_IsString(code) ? code->valuestring : "", cJSON_IsString(m) ? ": " : "",
	         cJSON_IsString(m) ? m->valuestring : "", cJSON_IsString(det) ? " — " : "",
	         cJSON_IsString(det) ? det->valuestring : "");
}

static int status_errno(long status)
{
	if (status == 401 || status == 403)
		return -EACCES;
	if (status == 409)
		return -EPROTO;
	if (status == 413)
		return -E2BIG;
	if (status >= 500)
		return -EAGAIN;
	return -EBADMSG;
}

static cJSON *inventory(void)
{
	cJSON *o = cJSON_CreateObject();
	char path[PATH_MAX];
	_cleanup_free_ char *osr = NULL;
	struct utsname u;
	size_t n;

	if (!o)
		return NULL;
	if (uname(&u) == 0) {
		cJSON_AddStringToObject(o, "kernel", u.release);
		cJSON_AddStringToObject(o, "machine", u.machine);
	}
	if (root_path(path, sizeof(path), "/etc/os-release") == 0 && read_file_capped(path, 64 * 1024, &osr, &n) == 0) {
		for (char *line = osr, *nl; line && *line; line = nl ? nl + 1 : NULL) {
			nl = strchr(line, '\n');
			if (nl)
				*nl = 0;
			if (startswith(line, "PRETTY_NAME=")) {
				char *v = line + strlen("PRETTY_NAME=");
				size_t l = strlen(v);

				if (l >= 2 && v[0] == '"' && v[l - 1] == '"')
					v[l - 1] = 0, v++;
				if (utf8_valid(v, strlen(v)))
					cJSON_AddStringToObject(o, "os", v);
			}
		}
	}
	return o;
}

static int64_t local_policy_version(struct transport *t)
{
	struct mamori_policy *p = NULL;
	int64_t v = 0;

	if (!t->policy_file[0] || !t->policy_key[0])
		return 0;
	if (policy_load_verified(t->policy_file, NULL, t->policy_key, 0, &p, NULL, 0) == 0)
		v = policy_version(p);
	policy_free(p);
	return v;
}

/* The approval data's version installed, verified again (0: none, or a
 * copy that no longer verifies — the server then sends it again). */
static int64_t local_approvals_version(struct transport *t)
{
	_cleanup_free_ struct approval_doc *d = malloc(sizeof(*d));
	char why[256];

	if (!d || !t->policy_key[0] || !t->es.terminal_id[0] ||
	    approval_load(t->state_dir, t->policy_key, t->es.terminal_id, d, why, sizeof(why)) < 0)
		return 0;
	return d->version;
}

static int checkin(struct transport *t, const cJSON *report, const struct journal_info *ji, int64_t local_version,
                   cJSON **ret, char *err, size_t errsz)
{
	_cleanup_json_ cJSON *body = cJSON_CreateObject();
	_cleanup_free_ char *s = NULL;
	struct transport_response resp = {0};
	char host[256] = "";
	cJSON *j, *dup;
	int r;

	(void)gethostname(host, sizeof(host) - 1);
	if (!body || !cJSON_AddStringToObject(body, "agent_version", MAMORI_VERSION) ||
	    (host[0] && utf8_valid(host, strlen(host)) && !cJSON_AddStringToObject(body, "hostname", host)) ||
	    !cJSON_AddNumberToObject(body, "policy_version", (double)local_version) ||
	    !cJSON_AddNumberToObject(body, "approvals_version", (double)t->approvals_version) ||
	    !(j = cJSON_AddObjectToObject(body, "journal")))
		return -ENOMEM;
	if (ji) {
		if (!cJSON_AddStringToObject(j, "chain", ji->chain) ||
		    !cJSON_AddNumberToObject(j, "head_seq", (double)ji->head_seq) ||
		    !cJSON_AddStringToObject(j, "head_hash", ji->head_hash) ||
		    !cJSON_AddNumberToObject(j, "acked_seq", (double)ji->acked_seq))
			return -ENOMEM;
	} else if (!cJSON_AddNumberToObject(j, "head_seq", 0)) {
		return -ENOMEM;
	}
	if (report && (!(dup = cJSON_Duplicate(report, true)) || !cJSON_AddItemToObject(body, "report", dup)))
		return -ENOMEM;
	if (!(dup = inventory()) || !cJSON_AddItemToObject(body, "inventory", dup))
		return -ENOMEM;
	/* results of remote commands not yet reported (docs/COMMANDS.md) */
	if (t->n_result_ids > 0 && t->results_json &&
	    (!(dup = cJSON_Parse(t->results_json)) || !cJSON_AddItemToObject(body, "command_results", dup)))
		return -ENOMEM;
	s = cJSON_PrintUnformatted(body);
	if (!s)
		return -ENOMEM;
	r = request(t, "POST", "/api/v1/checkin", s, strlen(s), strlen(s) > 4096, CHECKIN_RESPONSE_MAX, &resp, err,
	            errsz);
	if (r < 0)
		return r;
	if (resp.status != 200) {
		server_error(&resp, "check-in", err, errsz);
		r = status_errno(resp.status);
		transport_response_clear(&resp);
		return r;
	}
	*ret = cJSON_ParseWithLength(resp.body, resp.len);
	transport_response_clear(&resp);
	if (!*ret) {
		snprintf(err, errsz, "check-in: the answer is not JSON");
		return -EBADMSG;
	}
	return 0;
}

/* Append to the batch being built (common/buf.h). */
static int gbuf_put(struct buf *b, const void *s, size_t n)
{
	return buf_put(b, s, n, BUF_NO_MAX);
}

/* The next batch of records after `after` from the journal, as the body of
 * POST /api/v1/events; *ret_n = 0 when there is none. Root part only. */
static int build_batch(struct transport *t, uint64_t after, struct buf *b, unsigned *ret_n, char *err, size_t errsz)
{
	unsigned batch_max = t->o.batch_max ? t->o.batch_max : TRANSPORT_BATCH_MAX;
	struct journal_iter *it = NULL;
	struct journal_record rec;
	unsigned n = 0;
	int r;

	r = journal_iter_open(t->state_dir, after, &it);
	if (r < 0) {
		snprintf(err, errsz, "cannot read the journal in %s: %s", t->state_dir, strerror(-r));
		return r;
	}
	b->len = 0;
	r = gbuf_put(b, "{\"records\":[", 12);
	while (r == 0 && n < batch_max && (b->len < TRANSPORT_BATCH_BYTES || n == 0)) {
		char head[96];

		r = journal_iter_next(it, &rec);
		if (r <= 0)
			break;
		(void)xsnprintf(head, sizeof(head), "%s{\"hash\":\"%s\",\"record\":", n ? "," : "", rec.hash_hex);
		if ((r = gbuf_put(b, head, strlen(head))) < 0 || (r = gbuf_put(b, rec.canon, rec.canon_len)) < 0 ||
		    (r = gbuf_put(b, "}", 1)) < 0)
			break;
		n++;
	}
	journal_iter_free(it);
	if (r < 0) {
		snprintf(err, errsz, "reading the journal: %s", strerror(-r));
		return r;
	}
	if (n > 0 && (r = gbuf_put(b, "]}", 2)) < 0)
		return r;
	*ret_n = n;
	return 0;
}

/* The network child asks the root part for the batch. */
static int fetch_batch(struct transport *t, uint64_t after, struct buf *b, unsigned *ret_n, char *err, size_t errsz)
{
	_cleanup_free_ char *p = NULL;
	size_t n;
	int r;

	if (t->broker < 0)
		return build_batch(t, after, b, ret_n, err, errsz);
	if ((r = ps_send(t->broker, PS_BATCH, &after, sizeof(after), NULL, 0)) < 0 ||
	    (r = ps_recv(t->broker, PS_BATCH, NULL, &p, &n)) < 0) {
		snprintf(err, errsz, "reading the journal (through the root part): %s", strerror(-r));
		return r;
	}
	b->len = 0;
	*ret_n = n > 0;
	return n ? gbuf_put(b, p, n) : 0;
}

static int upload(struct transport *t, uint64_t after, struct transport_result *res, char *err, size_t errsz)
{
	struct buf b = {0};
	int r = 0;

	for (;;) {
		struct transport_response resp = {0};
		_cleanup_json_ cJSON *ack = NULL;
		const cJSON *as;
		unsigned n = 0;

		r = fetch_batch(t, after, &b, &n, err, errsz);
		if (r < 0)
			break;
		if (n == 0)
			break;
		r = request(t, "POST", "/api/v1/events", b.data, b.len, true, 64 * 1024, &resp, err, errsz);
		if (r < 0)
			break;
		ack = cJSON_ParseWithLength(resp.body, resp.len);
		as = cJSON_GetObjectItemCaseSensitive(ack, "acked_seq");
		if (cJSON_IsNumber(as) && as->valuedouble >= 0 && (uint64_t)as->valuedouble > res->acked_seq) {
			res->acked_seq = (uint64_t)as->valuedouble;
			r = acked_write(t, res->acked_seq);
			if (r < 0) {
				snprintf(err, errsz, "recording the acknowledgement: %s", strerror(-r));
				transport_response_clear(&resp);
				break;
			}
		}
		if (resp.status != 200) {
			server_error(&resp, "event upload", err, errsz);
			res->chain_refused = resp.status == 409;
			r = status_errno(resp.status);
			transport_response_clear(&resp);
			break;
		}
		{
			const cJSON *st = cJSON_GetObjectItemCaseSensitive(ack, "stored");

			if (cJSON_IsNumber(st))
				res->uploaded += (uint64_t)st->valuedouble;
		}
		transport_response_clear(&resp);
		res->batches++;
		if (res->acked_seq <= after) {
			/* the server did not move: do not loop on the same batch */
			snprintf(err, errsz, "event upload: the server acknowledged nothing new (at %" PRIu64 ")",
			         after);
			r = -EPROTO;
			break;
		}
		after = res->acked_seq;
	}
	buf_free(&b);
	return r;
}

/* Write, verify (signature, schema, no downgrade) and install a downloaded
 * policy. Root part only: the network child hands the bytes over and this
 * check is made again here, whatever the child said. */
static int install_policy(struct transport *t, const char *doc, size_t len, const char *signature, int64_t current,
                          int64_t *ret_version, char *err, size_t errsz)
{
	struct mamori_policy *p = NULL;
	char tmp[PATH_MAX], tmpsig[PATH_MAX], sig[PATH_MAX], lerr[256] = "";
	int r;

	if (xsnprintf(tmp, sizeof(tmp), "%s.new", t->policy_file) < 0 ||
	    xsnprintf(tmpsig, sizeof(tmpsig), "%s.new.sig", t->policy_file) < 0 ||
	    xsnprintf(sig, sizeof(sig), "%s.sig", t->policy_file) < 0)
		return -ENAMETOOLONG;
	if ((r = write_file_atomic(tmp, doc, len, 0644)) < 0 ||
	    (r = write_file_atomic(tmpsig, signature, strlen(signature), 0644)) < 0) {
		snprintf(err, errsz, "writing %s: %s", tmp, strerror(-r));
		return r;
	}
	/* the same check mamorid makes: signature first, then the document, and
	 * never a version below the one in force */
	r = policy_load_verified(tmp, tmpsig, t->policy_key, current, &p, lerr, sizeof(lerr));
	if (r < 0) {
		snprintf(err, errsz, "the downloaded policy is refused: %s", lerr);
		(void)unlink(tmp);
		(void)unlink(tmpsig);
		return r;
	}
	/* the document first, its signature last: the daemon reads both on
	 * SIGHUP, and a document without its signature is refused, never used */
	if ((r = rename_replace(tmp, t->policy_file)) < 0 || (r = rename_replace(tmpsig, sig)) < 0) {
		snprintf(err, errsz, "installing %s: %s", t->policy_file, strerror(-r));
		(void)unlink(tmp);
		(void)unlink(tmpsig);
		policy_free(p);
		return r;
	}
	*ret_version = policy_version(p);
	policy_free(p);
	return 0;
}

static int fetch_policy(struct transport *t, int64_t current, struct transport_result *res, char *err, size_t errsz)
{
	struct transport_response resp = {0};
	int64_t version = 0;
	int r;

	if (!t->policy_file[0] || !t->policy_key[0])
		return 0;
	r = request(t, "GET", "/api/v1/policy", NULL, 0, false, POLICY_RESPONSE_MAX, &resp, err, errsz);
	if (r < 0)
		return r;
	if (resp.status != 200) {
		server_error(&resp, "policy download", err, errsz);
		r = status_errno(resp.status);
	} else if (t->broker >= 0) {
		/* the root part writes, verifies and installs it */
		r = ps_call(t, PS_POLICY, resp.body, (uint32_t)resp.len, resp.policy_signature,
		            strlen(resp.policy_signature), &version, err, errsz);
	} else {
		r = install_policy(t, resp.body, resp.len, resp.policy_signature, current, &version, err, errsz);
	}
	if (r == 0) {
		res->policy_updated = true;
		res->policy_version = version;
	}
	transport_response_clear(&resp);
	return r;
}

static int renew(struct transport *t, char *err, size_t errsz)
{
	_cleanup_free_ char *key = NULL, *csr = NULL, *s = NULL;
	_cleanup_json_ cJSON *body = cJSON_CreateObject(), *ans = NULL;
	struct transport_response resp = {0};
	const struct enroll_state *es = &t->es;
	const cJSON *cert;
	int r;

	if (!body || (r = enroll_make_key_csr(es->terminal_id, &key, &csr)) < 0 ||
	    !cJSON_AddStringToObject(body, "csr", csr) || !(s = cJSON_PrintUnformatted(body))) {
		snprintf(err, errsz, "renewal: cannot make a key and CSR");
		return -ENOMEM;
	}
	r = request(t, "POST", "/api/v1/renew", s, strlen(s), false, 64 * 1024, &resp, err, errsz);
	if (r < 0)
		return r;
	if (resp.status != 200) {
		server_error(&resp, "renewal", err, errsz);
		r = status_errno(resp.status);
		transport_response_clear(&resp);
		return r;
	}
	ans = cJSON_ParseWithLength(resp.body, resp.len);
	transport_response_clear(&resp);
	cert = cJSON_GetObjectItemCaseSensitive(ans, "certificate");
	if (!cJSON_IsString(cert)) {
		snprintf(err, errsz, "renewal: no certificate in the answer");
		return -EBADMSG;
	}
	if (t->broker >= 0) {
		/* the root part checks key, certificate and CN, and installs them;
		 * this child goes on with the new identity from memory */
		size_t kl = strlen(key), cl = strlen(cert->valuestring);
		char *both;

		r = ps_call(t, PS_IDENTITY, key, (uint32_t)kl, cert->valuestring, cl, NULL, NULL, 0);
		if (r == 0) {
			both = malloc(kl + cl + 1);
			if (!both)
				return -ENOMEM;
			memcpy(both, key, kl);
			memcpy(both + kl, cert->valuestring, cl + 1);
			if (t->pem_blob)
				OPENSSL_cleanse(t->pem_blob, t->pem_len);
			free(t->pem_blob);
			t->pem_blob = both;
			t->pem_len = kl + cl;
		}
	} else {
		r = enroll_install_identity(t->state_dir, key, cert->valuestring, es->terminal_id);
	}
	if (r < 0) {
		snprintf(err, errsz, "renewal: cannot install the new certificate: %s", strerror(-r));
		return r;
	}
	/* the next request must present the new certificate */
	transport_conn_free(t->conn);
	t->conn = NULL;
	return 0;
}

/* Remote commands in the check-in answer: [{"envelope": TEXT, "signature":
 * B64}]. This side (the network child when privileges are split) only
 * checks the shape and forwards the bytes; verification, the replay store and
 * the inbox are the root part's (command_verify.h). A refused command counts
 * in res->commands_refused; the sync goes on. */
static int forward_commands(struct transport *t, const cJSON *cmds, struct transport_result *res, char *err,
                            size_t errsz)
{
	const cJSON *c;

	if (!cmds)
		return 0;
	if (!cJSON_IsArray(cmds) || cJSON_GetArraySize(cmds) > TRANSPORT_COMMANDS_MAX) {
		snprintf(err, errsz, "check-in: \"commands\" is not an array of at most %d", TRANSPORT_COMMANDS_MAX);
		return -EBADMSG;
	}
	cJSON_ArrayForEach(c, cmds)
	{
		const cJSON *env = cJSON_GetObjectItemCaseSensitive(c, "envelope");
		const cJSON *sig = cJSON_GetObjectItemCaseSensitive(c, "signature");
		const char *es = cJSON_IsString(env) ? env->valuestring : "";
		const char *ss = cJSON_IsString(sig) ? sig->valuestring : "";
		size_t el = strlen(es), sl = strlen(ss);
		char why[512] = "";
		int r;

		if (el == 0 || el >= COMMAND_CANON_MAX || sl >= COMMAND_SIG_MAX) {
			/* still handed over: the root part records the refusal */
			el = el >= COMMAND_CANON_MAX ? COMMAND_CANON_MAX - 1 : el;
			sl = sl >= COMMAND_SIG_MAX ? 0 : sl;
		}
		if (t->broker >= 0) {
			r = ps_call(t, PS_COMMAND, es, (uint32_t)el, ss, sl, NULL, why, sizeof(why));
			if (r == -EBADMSG && !why[0]) {
				snprintf(err, errsz, "the root part refused the command frame");
				return r;
			}
		} else {
			struct command_verify_ctx vc = {t->state_dir, t->es.terminal_id, (int64_t)time(NULL)};
			_cleanup_free_ char *e2 = strndup(es, el), *s2 = strndup(ss, sl);

			if (!e2 || !s2)
				return -ENOMEM;
			r = command_inbox_put(&vc, e2, el, s2, why, sizeof(why));
		}
		if (r == 0)
			res->commands++;
		else
			res->commands_refused++;
	}
	return 0;
}

/* Approval data in the check-in answer (issue 16): {"document": TEXT,
 * "signature": B64} or null. Handed over as bytes; the root part verifies
 * (policy key, format, terminal, no rollback) and installs; mamori-worker
 * applies what is installed after the sync. A refusal is recorded in res
 * (the sync goes on: the group policy and the journal still matter). */
static int forward_approvals(struct transport *t, const cJSON *g, struct transport_result *res, char *err, size_t errsz)
{
	const cJSON *doc = cJSON_GetObjectItemCaseSensitive(g, "document");
	const cJSON *sig = cJSON_GetObjectItemCaseSensitive(g, "signature");
	char why[512] = "";
	size_t dl;
	int r;

	if (!g || cJSON_IsNull(g))
		return 0;
	if (!cJSON_IsObject(g) || !cJSON_IsString(doc) || !cJSON_IsString(sig) ||
	    (dl = strlen(doc->valuestring)) > APPROVAL_DOC_MAX || strlen(sig->valuestring) > 256 || !t->policy_key[0]) {
		res->approvals = -1;
		log_warning("check-in: \"grants\" is not {document, signature}: refused");
		return 0;
	}
	if (t->broker >= 0) {
		int64_t v = 0;

		r = ps_call(t, PS_APPROVALS, doc->valuestring, (uint32_t)dl, sig->valuestring, strlen(sig->valuestring),
		            &v, why, sizeof(why));
		if (r == 0)
			r = (int)v;
	} else
		r = approval_install(t->state_dir, t->policy_key, t->es.terminal_id, doc->valuestring, dl,
		                     sig->valuestring, why, sizeof(why));
	if (r < 0) {
		res->approvals = -1;
		log_warning("%s", why[0] ? why : "approval data refused");
		(void)err;
		(void)errsz;
		return 0;
	}
	res->approvals = r == 0 ? 1 : 0;
	return 0;
}

/* The exchange with the server: check-in, upload, policy, renewal. In the
 * network child everything that touches a file goes through t->broker. */
static int exchange(struct transport *t, const cJSON *report, const struct journal_info *jip, int64_t local_version,
                    struct transport_result *ret, char *err, size_t errsz)
{
	struct transport_result res = {0};
	struct journal_info ji = {0};
	_cleanup_json_ cJSON *ans = NULL;
	const cJSON *ev, *pol, *cert, *iv;
	bool have_journal = jip != NULL;
	uint64_t after = 0;
	int r;

	if (jip) {
		ji = *jip;
		res.head_seq = ji.head_seq;
	}
	r = checkin(t, report, have_journal ? &ji : NULL, local_version, &ans, err, errsz);
	if (r < 0)
		goto fail;
	ev = cJSON_GetObjectItemCaseSensitive(ans, "events");
	pol = cJSON_GetObjectItemCaseSensitive(ans, "policy");
	cert = cJSON_GetObjectItemCaseSensitive(ans, "certificate");
	iv = cJSON_GetObjectItemCaseSensitive(ans, "checkin_interval_seconds");
	if (cJSON_IsNumber(iv))
		res.checkin_interval_s = (int64_t)iv->valuedouble;
	/* remote commands: handed over as bytes, judged by the root part */
	r = forward_commands(t, cJSON_GetObjectItemCaseSensitive(ans, "commands"), &res, err, errsz);
	if (r < 0)
		goto fail;
	r = forward_approvals(t, cJSON_GetObjectItemCaseSensitive(ans, "grants"), &res, err, errsz);
	if (r < 0)
		goto fail;
	{
		const cJSON *a = cJSON_GetObjectItemCaseSensitive(ev, "acked_seq");

		/* start after what the server holds — it may hold less than we
		 * think (restored from a backup): records still here go again */
		if (cJSON_IsNumber(a) && a->valuedouble >= 0)
			after = (uint64_t)a->valuedouble;
	}
	res.acked_seq = after;
	if (after > 0 && (r = acked_write(t, after)) < 0) {
		snprintf(err, errsz, "recording the acknowledgement: %s", strerror(-r));
		goto fail;
	}
	if (have_journal && ji.head_seq < after) {
		/* the server holds more than this journal: it went backwards (truncated,
		 * an older copy) and what it holds now cannot be uploaded (LOG-1) */
		snprintf(err, errsz,
		         "the journal ends at seq %" PRIu64 " but the server holds up to %" PRIu64
		         ": the journal went backwards; its records cannot be uploaded until mamori-worker "
		         "reopens it and starts a new chain",
		         ji.head_seq, after);
		r = -ESTALE;
		goto fail;
	}
	if (have_journal && ji.head_seq > after) {
		r = upload(t, after, &res, err, errsz);
		if (r < 0)
			goto fail;
		if (res.acked_seq < ji.head_seq) {
			snprintf(err, errsz,
			         "the server holds up to seq %" PRIu64 " of %" PRIu64 ": not everything was uploaded",
			         res.acked_seq, ji.head_seq);
			r = -EPROTO;
			goto fail;
		}
	}
	{
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(pol, "version");

		if (cJSON_IsNumber(v))
			res.policy_version = (int64_t)v->valuedouble;
	}
	if (res.policy_version > local_version) {
		r = fetch_policy(t, local_version, &res, err, errsz);
		if (r < 0)
			goto fail;
	}
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cert, "renew"))) {
		r = renew(t, err, errsz);
		if (r < 0)
			goto fail;
		res.renewed = true;
	}
	*ret = res;
	return 0;
fail:
	*ret = res;
	return r;
}

/* The long poll: tell the worker that the inbox changed (a verified command
 * or a refusal to journal). A write to a worker that went away ends this
 * process (SIGPIPE): nothing polls for nobody. */
static void poll_notify(struct transport *t)
{
	if (t->notify_fd >= 0 && write(t->notify_fd, "c\n", 2) < 0)
		log_debug("command poll: cannot tell the worker: %s", strerror(errno));
}

/* The long poll's exchange (docs/COMMANDS.md "Long poll"): one request held
 * by the server after another, on the kept-alive connection; the commands
 * of a 200 go the same way as a check-in's (forward_commands); 204: again.
 * Returns only on a failure (err says which). */
static int poll_loop(struct transport *t, struct transport_result *res, char *err, size_t errsz)
{
	static const char *const fields[] = {"commands", NULL};

	for (;;) {
		struct transport_response resp = {0};
		_cleanup_json_ cJSON *ans = NULL;
		int r = request(t, "POST", "/api/v1/commands/poll", NULL, 0, false, CHECKIN_RESPONSE_MAX, &resp, err,
		                errsz);

		if (r < 0)
			return r;
		if (resp.status == 204) {
			transport_response_clear(&resp);
			continue;
		}
		if (resp.status != 200) {
			server_error(&resp, "command poll", err, errsz);
			r = status_errno(resp.status);
			transport_response_clear(&resp);
			return r;
		}
		ans = cJSON_ParseWithLength(resp.body, resp.len);
		transport_response_clear(&resp);
		if (!cJSON_IsObject(ans) || !cJSON_GetObjectItemCaseSensitive(ans, "commands")) {
			snprintf(err, errsz, "command poll: the answer is not {\"commands\": [...]}");
			return -EBADMSG;
		}
		for (const cJSON *it = ans->child; it; it = it->next) {
			bool known = false;

			for (size_t i = 0; fields[i]; i++)
				known |= strcmp(it->string, fields[i]) == 0;
			if (!known) {
				snprintf(err, errsz, "command poll: unknown field \"%.64s\" in the answer", it->string);
				return -EBADMSG;
			}
		}
		r = forward_commands(t, cJSON_GetObjectItemCaseSensitive(ans, "commands"), res, err, errsz);
		if (r < 0)
			return r;
		if (t->broker < 0)
			poll_notify(t); /* no root part: this process put them in the inbox */
	}
}

/* Root part: answer the network child until its result (or its end). */
static int broker_serve(struct transport *t, int fd, int64_t local_version, struct ps_result *ret)
{
	struct buf b = {0};
	int r;

	for (;;) {
		_cleanup_free_ char *p = NULL;
		char why[512] = "";
		uint32_t type, alen;
		size_t n;
		int64_t v = 0;

		r = ps_recv(fd, 0, &type, &p, &n);
		if (r < 0)
			break;
		if (type == PS_RESULT) {
			if (n != sizeof(*ret)) {
				r = -EBADMSG;
				break;
			}
			memcpy(ret, p, sizeof(*ret));
			ret->err[sizeof(ret->err) - 1] = '\0';
			ret->sandbox[sizeof(ret->sandbox) - 1] = '\0';
			r = 0;
			break;
		}
		if (t->poll_mode && type != PS_COMMAND) {
			r = -EBADMSG; /* the poll's child asks for nothing else */
			break;
		}
		if (type == PS_BATCH) {
			uint64_t after;
			unsigned cnt = 0;

			if (n != sizeof(after)) {
				r = -EBADMSG;
				break;
			}
			memcpy(&after, p, sizeof(after));
			r = build_batch(t, after, &b, &cnt, why, sizeof(why));
			if (r < 0)
				break;
			r = ps_send(fd, PS_BATCH, b.data, cnt ? b.len : 0, NULL, 0);
			if (r < 0)
				break;
			continue;
		}
		/* the others: [u32 alen][a][b] */
		if (n < sizeof(alen)) {
			r = -EBADMSG;
			break;
		}
		memcpy(&alen, p, sizeof(alen));
		if (alen > n - sizeof(alen)) {
			r = -EBADMSG;
			break;
		}
		switch (type) {
		case PS_ACKED: {
			uint64_t seq;

			if (alen != sizeof(seq) || n != sizeof(alen) + sizeof(seq)) {
				r = -EBADMSG;
				break;
			}
			memcpy(&seq, p + sizeof(alen), sizeof(seq));
			r = acked_write(t, seq);
			break;
		}
		case PS_POLICY: {
			/* [doc][signature]: the signature is text, the document any bytes */
			const char *doc = p + sizeof(alen), *sig = doc + alen;

			if (!t->policy_file[0] || !t->policy_key[0] || strlen(sig) != n - sizeof(alen) - alen) {
				r = -EBADMSG;
				break;
			}
			r = install_policy(t, doc, alen, sig, local_version, &v, why, sizeof(why));
			break;
		}
		case PS_COMMAND: {
			/* [envelope][signature], both text; the verdict goes back, the
			 * refusal is written for the worker to journal */
			const char *sig = p + sizeof(alen) + alen;
			struct command_verify_ctx vc = {t->state_dir, t->es.terminal_id, (int64_t)time(NULL)};
			_cleanup_free_ char *env = strndup(p + sizeof(alen), alen);

			if (!env || strlen(env) != alen || strlen(sig) != n - sizeof(alen) - alen) {
				r = -EBADMSG;
				break;
			}
			r = command_inbox_put(&vc, env, alen, sig, why, sizeof(why));
			break;
		}
		case PS_APPROVALS: {
			/* [document][signature], both text: verified and installed here
			 * whatever the child said; v = 1 when the version is installed already */
			const char *sig = p + sizeof(alen) + alen;
			_cleanup_free_ char *doc = strndup(p + sizeof(alen), alen);

			if (!doc || strlen(doc) != alen || strlen(sig) != n - sizeof(alen) - alen ||
			    !t->policy_key[0]) {
				r = -EBADMSG;
				break;
			}
			r = approval_install(t->state_dir, t->policy_key, t->es.terminal_id, doc, alen, sig, why,
			                     sizeof(why));
			if (r == 1) {
				v = 1;
				r = 0;
			}
			break;
		}
		case PS_SESSION: {
			unsigned char *blob;

			if (alen != n - sizeof(alen) || alen <= TLS_KEY_LEN || alen > TLS_SESSION_MAX) {
				r = -EBADMSG;
				break;
			}
			blob = malloc(alen);
			if (!blob) {
				r = -ENOMEM;
				break;
			}
			memcpy(blob, p + sizeof(alen), alen);
			OPENSSL_cleanse(p, n);
			tls_session_set(blob, alen, true);
			r = transport_tls_session_save(t->state_dir);
			break;
		}
		case PS_IDENTITY: {
			char *key = p + sizeof(alen), *cert = key + alen;
			char save = *cert;

			/* key and certificate as two NUL-terminated strings */
			*cert = '\0';
			if (strlen(key) != alen) {
				r = -EBADMSG;
				break;
			}
			*cert = save;
			if (strlen(cert) != n - sizeof(alen) - alen) {
				r = -EBADMSG;
				break;
			}
			{
				_cleanup_free_ char *k = strndup(key, alen);

				r = k ? enroll_install_identity(t->state_dir, k, cert, t->es.terminal_id) : -ENOMEM;
				if (k)
					OPENSSL_cleanse(k, alen);
			}
			OPENSSL_cleanse(key, alen);
			break;
		}
		default:
			r = -EBADMSG;
		}
		if (r == -EBADMSG && !why[0])
			snprintf(why, sizeof(why), "malformed message from the network child");
		if (ps_answer(fd, type, r, v, why) < 0 || r == -EBADMSG)
			break;
		if (type == PS_COMMAND)
			poll_notify(t);
	}
	buf_free(&b);
	return r;
}

static int load_credentials(struct transport *t)
{
	int r;

	/* read again for each child (the long poll starts many) */
	free(t->ca_blob);
	if (t->pem_blob)
		OPENSSL_cleanse(t->pem_blob, t->pem_len);
	free(t->pem_blob);
	t->ca_blob = t->pem_blob = NULL;
	r = read_file_capped(t->ca, 1024 * 1024, &t->ca_blob, &t->ca_len);

	if (r < 0)
		return r;
	return read_file_capped(t->pem, 1024 * 1024, &t->pem_blob, &t->pem_len);
}

/* The long poll's network child, for the root part's signal handler: a
 * stopped poll takes its child along (PR_SET_PDEATHSIG is the second line). */
static volatile pid_t poll_child;

static void poll_on_signal(int sig)
{
	(void)sig;
	if (poll_child > 0)
		(void)kill(poll_child, SIGKILL);
	_exit(0);
}

/* Privilege separation: this (root) process keeps the files; a child that
 * dropped to the sandbox user, lost every capability and runs under the
 * network-client seccomp filter talks to the server and parses its
 * answers, and asks for journal batches and the writing of results. */
static int sync_privsep(struct transport *t, const cJSON *report, const struct journal_info *ji, int64_t local_version,
                        struct transport_result *ret, char *err, size_t errsz)
{
	/* the long poll's child runs poll_loop instead of exchange */
	struct ps_result out = {0};
	uid_t uid;
	gid_t gid;
	bool dynamic;
	int sv[2], r, status = 0;
	pid_t pid;

	r = sandbox_lookup_user(t->o.sandbox_user, &uid, &gid, &dynamic);
	if (r < 0) {
		snprintf(err, errsz, "no user to run the network part as (%s): %s", t->o.sandbox_user, strerror(-r));
		return r;
	}
	r = load_credentials(t);
	if (r < 0) {
		snprintf(err, errsz, "cannot read the device identity in %s: %s", t->state_dir, strerror(-r));
		return r;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		r = -errno;
		close(sv[0]);
		close(sv[1]);
		return r;
	}
	if (pid == 0) {
		struct ps_result res = {0};

		close(sv[0]);
		t->broker = sv[1];
		/* the root part's writer handle is not ours to use */
		t->o.journal = NULL;
		if (sandbox_drop_privileges(uid, gid) < 0)
			_exit(125); /* fail closed: never talk to the server as root */
		/* the network child outlives nothing: when its root part ends, so
		 * does it (set after the uid change, which clears it). A sync child
		 * left running after the agent stopped finished its check-in and
		 * took commands meant for the next start (e2e_commands.sh). */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() == 1)
			_exit(125);
		if (sandbox_seccomp_network_client() < 0)
			_exit(125);
		(void)sandbox_describe_self(res.sandbox, sizeof(res.sandbox));
		if (t->poll_mode)
			res.r = poll_loop(t, &res.res, res.err, sizeof(res.err));
		else
			res.r = exchange(t, report, ji, local_version, &res.res, res.err, sizeof(res.err));
		/* the newest TLS session, for the next sync's child (a failure
		 * costs the next sync a full handshake, nothing else) */
		if (!t->poll_mode && tls_session.fresh)
			(void)ps_call(t, PS_SESSION, tls_session.blob, (uint32_t)tls_session.len, NULL, 0, NULL, NULL,
			              0);
		(void)ps_send(t->broker, PS_RESULT, &res, sizeof(res), NULL, 0);
		_exit(0);
	}
	close(sv[1]);
	if (t->poll_mode)
		poll_child = pid;
	r = broker_serve(t, sv[0], local_version, &out);
	close(sv[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	poll_child = 0;
	if (r < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		if (WIFSIGNALED(status))
			snprintf(err, errsz, "the network child was killed by signal %d%s", WTERMSIG(status),
			         WTERMSIG(status) == SIGSYS ? " (a syscall its seccomp filter forbids)" : "");
		else if (WIFEXITED(status) && WEXITSTATUS(status) == 125)
			snprintf(err, errsz, "the network child could not drop its privileges");
		else
			snprintf(err, errsz, "the network child ended without a result (%s)",
			         strerror(r < 0 ? -r : EPROTO));
		*ret = out.res;
		return r < 0 ? r : -ECHILD;
	}
	*ret = out.res;
	(void)xsnprintf(ret->sandbox, sizeof(ret->sandbox), "%s%s", out.sandbox, dynamic ? " dynamic-uid" : "");
	if (out.r < 0)
		snprintf(err, errsz, "%s", out.err);
	return out.r;
}

int transport_sync_once(struct transport *t, const cJSON *report, struct transport_result *ret, char *err, size_t errsz)
{
	struct journal_info ji;
	bool have_journal;
	int64_t local_version;
	int r;

	err[0] = 0;
	memset(ret, 0, sizeof(*ret));
	/* what needs the files is read here, by the root part */
	have_journal = journal_info(t->state_dir, &ji) == 0;
	local_version = local_policy_version(t);
	t->approvals_version = local_approvals_version(t);
	/* results of remote commands go with this check-in */
	free(t->results_json);
	command_ids_free(t->result_ids, t->n_result_ids);
	t->results_json = NULL;
	t->result_ids = NULL;
	t->n_result_ids = 0;
	if (command_results_collect(t->state_dir, &t->results_json, &t->result_ids, &t->n_result_ids) < 0)
		t->results_json = NULL;
	/* the last sync's TLS session (a failure: a full handshake) */
	if (transport_tls_session_load(t->state_dir) < 0)
		tls_session_set(NULL, 0, false);
	if (t->o.sandbox_user && geteuid() == 0) {
		r = sync_privsep(t, report, have_journal ? &ji : NULL, local_version, ret, err, errsz);
	} else {
		r = exchange(t, report, have_journal ? &ji : NULL, local_version, ret, err, errsz);
		(void)transport_tls_session_save(t->state_dir);
	}
	if (have_journal && ret->head_seq == 0)
		ret->head_seq = ji.head_seq;
	if (r < 0)
		t->failures++;
	else
		t->failures = 0;
	/* the check-in carried them and the server answered: reported */
	if (r == 0)
		command_results_remove(t->state_dir, t->result_ids, t->n_result_ids);
	ret->results_reported = r == 0 ? (unsigned)t->n_result_ids : 0;
	return r;
}

int transport_poll_run(struct transport *t, int notify_fd, char *err, size_t errsz)
{
	unsigned failures = 0;

	t->poll_mode = true;
	t->notify_fd = notify_fd;
	{
		struct sigaction sa = {.sa_handler = poll_on_signal};

		sigemptyset(&sa.sa_mask);
		(void)sigaction(SIGTERM, &sa, NULL);
		(void)sigaction(SIGINT, &sa, NULL);
		(void)sigaction(SIGHUP, &sa, NULL);
	}
	for (;;) {
		struct transport_result res = {0};
		struct timespec a, b;
		uint64_t ms;
		int r;

		err[0] = 0;
		clock_gettime(CLOCK_MONOTONIC, &a);
		/* the syncs' newest TLS session (the poll's own are not kept) */
		if (transport_tls_session_load(t->state_dir) < 0)
			tls_session_set(NULL, 0, false);
		if (t->o.sandbox_user && geteuid() == 0)
			r = sync_privsep(t, NULL, NULL, 0, &res, err, errsz);
		else
			r = poll_loop(t, &res, err, errsz);
		clock_gettime(CLOCK_MONOTONIC, &b);
		if (r == -EACCES)
			return r; /* revoked or not this server's: the check-ins say so */
		/* a poll that served a minute and then failed (the server restarted)
		 * starts the backoff afresh */
		if (b.tv_sec - a.tv_sec >= 60)
			failures = 0;
		failures++;
		ms = transport_retry_delay_ms(failures);
		if (ms > TRANSPORT_POLL_RETRY_MAX_S * 1000)
			ms = TRANSPORT_POLL_RETRY_MAX_S * 1000;
		fprintf(stderr, "mamorictl: command poll: %s; again in %llu ms\n", err[0] ? err : strerror(-r),
		        (unsigned long long)ms);
		{
			struct timespec d = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000};

			while (nanosleep(&d, &d) < 0 && errno == EINTR)
				;
		}
	}
}
