/* server-api/http.c — HTTPS listeners on libevent evhttp + OpenSSL
 * bufferevents, routing and bounded bodies (mamori-server). The only server
 * file that calls libevent, zlib and OpenSSL's SSL API; their failures become
 * negative errno or an HTTP error reply here. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/http_struct.h> /* in-process requests only: the method of a request made here */
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <zlib.h>

#include "alloc-util.h"
#include "http.h"
#include "json-util.h"
#include "log.h"
#include "strutil.h"

#define PATH_MAX_LEN 1024

/* cJSON's printed strings go back to cJSON (its hooks may not be malloc). */
static void cjson_freep(char **p)
{
	if (*p)
		cJSON_free(*p);
}

/* One accepted connection, tied to its SSL object (ex_data): it goes when
 * libevent frees the connection. */
struct conn {
	struct conn *prev, *next;
	struct http_listener *l;
	SSL *ssl;
	char src[HTTP_PEER_MAX]; /* the client's address, once looked up */
	bool checked;            /* source counted */
	bool in_request;         /* a complete request is being handled */
	int64_t since_us;        /* accepted, or the previous answer sent */
};

#define LOG_INTERVAL_US  (10 * 1000000LL)
#define ACCEPT_BACKOFF_S 0
#define ACCEPT_BACKOFF_U 250000

struct http_listener {
	struct evhttp *http;
	struct event_base *base;
	struct evconnlistener *lev;
	SSL_CTX *ctx;
	const struct http_route *const *tables;
	const size_t *sizes;
	void *userdata;
	size_t max_body;
	/* connection limits (http.h) */
	struct conn *conns;
	unsigned n_conns, max_conns, max_per_source;
	int64_t deadline_us;
	bool paused_full, paused_error;
	struct event *check_ev, *sweep_ev, *resume_ev;
	/* refusals and accept errors, logged once per LOG_INTERVAL_US */
	uint64_t accept_errors, refused_source, cut_deadline;
	int last_errno;
	int64_t last_log_us;
	int64_t last_flush_us; /* --tls-session-cache: expired sessions removed (sweep) */
	char name[16];
};

/* The listeners, to find ours from libevent's accept error callback (whose
 * argument is evhttp's). */
#define LISTENERS_MAX 4
static struct http_listener *listeners[LISTENERS_MAX];
static int conn_index = -1;

struct http_req {
	struct evhttp_request *ev;
	struct http_listener *l;
	char path[PATH_MAX_LEN];
	char segs[PATH_MAX_LEN]; /* the path split at '/', for params */
	const char *params[HTTP_PARAMS_MAX];
	struct evkeyvalq query;
	bool query_parsed, replied;
	char *body;
	size_t body_len;
	bool body_read;
	bool deferred; /* answered later, from the loop (http_req_defer) */
	/* http_req_json's -ENOTUNIQ: the member named twice (67 bytes: the reply
	 * shows at most 64, cut before a character) */
	char twice[68];
	/* in-process requests (http_local_request): no connection, no TLS */
	X509 *local_peer;
	struct http_local_reply *local_reply;
};

/* ---- TLS ----------------------------------------------------------------- */

/* Session tickets of the device listener: the keys of period p are
 * HMAC-SHA256(secret, label ‖ p) for the name, the AES-256-CBC key and the
 * HMAC key; a ticket of period p - 1 is still accepted (and renewed), older
 * ones fall back to a full handshake. Every instance with the same secret
 * (the data directory's ticket.key) makes and takes the same tickets. */
static int ticket_secret_index = -1;

static int ticket_derive(const unsigned char *secret, const char *label, uint64_t period, unsigned char out[32])
{
	unsigned char msg[16];
	size_t n = strlen(label), outlen = 0;

	if (n > 8)
		return -EINVAL;
	memset(msg, 0, sizeof(msg));
	memcpy(msg, label, n);
	for (int i = 0; i < 8; i++)
		msg[8 + i] = (unsigned char)(period >> (56 - 8 * i));
	if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, secret, HTTP_TICKET_SECRET, msg, sizeof(msg), out, 32,
	               &outlen) ||
	    outlen != 32)
		return -EIO;
	return 0;
}

static int ticket_cb(SSL *ssl, unsigned char key_name[16], unsigned char iv[EVP_MAX_IV_LENGTH], EVP_CIPHER_CTX *cctx,
                     EVP_MAC_CTX *hctx, int enc)
{
	const unsigned char *secret = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ticket_secret_index);
	uint64_t now = (uint64_t)time(NULL) / HTTP_TICKET_PERIOD_S;
	unsigned char name[32], aes[32], mac[32];
	OSSL_PARAM params[3];
	int ret = 1;

	if (!secret)
		return -1;
	if (enc) {
		if (ticket_derive(secret, "name", now, name) < 0 || RAND_bytes(iv, 16) != 1)
			return -1;
		memcpy(key_name, name, 16);
	} else {
		uint64_t p = now;

		for (unsigned back = 0;; back++) {
			if (back > 1 || back > now)
				return 0; /* not ours, or too old: a full handshake */
			p = now - back;
			if (ticket_derive(secret, "name", p, name) < 0)
				return -1;
			if (CRYPTO_memcmp(key_name, name, 16) == 0)
				break;
		}
		ret = p == now ? 1 : 2; /* 2: accepted, a new ticket is sent */
		now = p;
	}
	if (ticket_derive(secret, "aes", now, aes) < 0 || ticket_derive(secret, "mac", now, mac) < 0)
		return -1;
	params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, mac, sizeof(mac));
	params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
	params[2] = OSSL_PARAM_construct_end();
	if (EVP_MAC_CTX_set_params(hctx, params) != 1 ||
	    (enc ? EVP_EncryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, aes, iv)
	         : EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, aes, iv)) != 1)
		ret = -1;
	OPENSSL_cleanse(aes, sizeof(aes));
	OPENSSL_cleanse(mac, sizeof(mac));
	return ret;
}

/* A ticket that decrypted: resumed only while the client certificate it
 * carries is still valid — an expired certificate never comes back through
 * a resumed session (a full handshake then refuses it). Revocation is
 * checked per request by the handlers (http_req_peer_cert). */
static SSL_TICKET_RETURN ticket_decrypted(SSL *ssl, SSL_SESSION *sess, const unsigned char *name, size_t name_len,
                                          SSL_TICKET_STATUS status, void *arg)
{
	X509 *peer;

	(void)ssl, (void)name, (void)name_len, (void)arg;
	switch (status) {
	case SSL_TICKET_SUCCESS:
	case SSL_TICKET_SUCCESS_RENEW:
		peer = SSL_SESSION_get0_peer(sess);
		if (!peer || X509_cmp_current_time(X509_get0_notAfter(peer)) <= 0)
			return SSL_TICKET_RETURN_IGNORE_RENEW;
		return status == SSL_TICKET_SUCCESS ? SSL_TICKET_RETURN_USE : SSL_TICKET_RETURN_USE_RENEW;
	case SSL_TICKET_FATAL_ERR_MALLOC:
	case SSL_TICKET_FATAL_ERR_OTHER:
		return SSL_TICKET_RETURN_ABORT;
	default:
		return SSL_TICKET_RETURN_IGNORE_RENEW;
	}
}

/* A session lives no longer than the client certificate it carries: its
 * lifetime (the ticket's lifetime hint, the cache's expiry) is cut to the
 * certificate's notAfter, so that an expired certificate never comes back
 * through a resumed session. Called before each ticket is made; a notAfter
 * that cannot be read gives a lifetime of 0 (not resumable). */
static int session_within_certificate(SSL *ssl, void *arg)
{
	SSL_SESSION *sess = SSL_get_session(ssl);
	X509 *peer = sess ? SSL_SESSION_get0_peer(sess) : NULL;
	int days = 0, secs = 0;
	long left;

	(void)arg;
	if (!sess)
		return 1;
	if (!peer || ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(peer)) != 1)
		left = 0;
	else
		left = (long)days * 86400 + secs;
	if (left < 0)
		left = 0;
	if (left < SSL_SESSION_get_timeout(sess))
		(void)SSL_SESSION_set_timeout(sess, left);
	return 1;
}

/* --tls-session-cache: a resumed connection gets no new ticket. The
 * decision falls when the ClientHello was read (the session is known), before
 * the server's flight; OpenSSL sends tickets after the client's Finished. */
static void no_ticket_on_resumption(const SSL *ssl, int where, int ret)
{
	(void)ret;
	if ((where & SSL_CB_ACCEPT_LOOP) && SSL_session_reused((SSL *)ssl) == 1)
		(void)SSL_set_num_tickets((SSL *)ssl, 0);
}

static int tls_context(const struct http_listener_options *o, SSL_CTX **ret)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	STACK_OF(X509_NAME) * names;

	if (!ctx)
		goto fail;
	if (!SSL_CTX_set_min_proto_version(ctx, o->allow_tls12 ? TLS1_2_VERSION : TLS1_3_VERSION))
		goto fail;
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
	/* TLS 1.2 (--tls12): forward-secret AEAD suites only, no CBC */
	if (o->allow_tls12 && SSL_CTX_set_cipher_list(ctx, "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL") != 1)
		goto fail;
	if (!o->resumption) {
		/* no session can be resumed: every connection is a full handshake
		 * that verifies the client certificate as it is now (a resumed
		 * session would carry a certificate that has since expired) */
		SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
		if (SSL_CTX_set_num_tickets(ctx, 0) != 1)
			goto fail;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, o->cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, o->key, SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1)
		goto fail;
	/* the certificate file's chain as it is, as nginx sends it: without this
	 * OpenSSL built the chain again from the client-CA store at every
	 * handshake (an X509_verify_cert a connection: 8 % of the server's
	 * instructions a full handshake, issue 18) and sent the CA the agents
	 * already pin */
	SSL_CTX_set_mode(ctx, SSL_MODE_NO_AUTO_CHAIN);
	if (o->resumption && o->client_ca && o->session_cache > 0) {
		/* mutual TLS (device listener), --tls-session-cache: the sessions
		 * stay in this process, the ticket is their ID (TLS 1.3 stateful
		 * tickets): a resumption finds the session with its decoded client
		 * certificate. One ticket after a full handshake, none after a
		 * resumption (no_ticket_on_resumption: the agent keeps only tickets
		 * of full handshakes, and each would be one more entry). Expiry and
		 * revocation are checked per request (device_auth). */
		if (o->session_lifetime_s > 0)
			(void)SSL_CTX_set_timeout(ctx, o->session_lifetime_s);
		SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER | SSL_SESS_CACHE_NO_AUTO_CLEAR);
		(void)SSL_CTX_sess_set_cache_size(ctx, (long)o->session_cache);
		if (SSL_CTX_set_num_tickets(ctx, 1) != 1 ||
		    SSL_CTX_set_session_ticket_cb(ctx, session_within_certificate, NULL, NULL) != 1)
			goto fail;
		SSL_CTX_set_info_callback(ctx, no_ticket_on_resumption);
	} else if (o->resumption && o->client_ca) {
		/* mutual TLS (device listener): stateless tickets only, one per
		 * handshake (an agent keeps the newest), keys from the shared
		 * secret; no server-side cache (instances do not share one) */
		if (o->session_lifetime_s > 0)
			(void)SSL_CTX_set_timeout(ctx, o->session_lifetime_s);
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
		if (SSL_CTX_set_num_tickets(ctx, 1) != 1 ||
		    SSL_CTX_set_session_ticket_cb(ctx, session_within_certificate, ticket_decrypted, NULL) != 1)
			goto fail;
		if (o->ticket_secret) {
			if (ticket_secret_index < 0)
				ticket_secret_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
			if (ticket_secret_index < 0 ||
			    SSL_CTX_set_ex_data(ctx, ticket_secret_index, (void *)o->ticket_secret) != 1 ||
			    SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_cb) != 1)
				goto fail;
		}
	}
	if (o->client_ca) {
		if (SSL_CTX_load_verify_locations(ctx, o->client_ca, NULL) != 1)
			goto fail;
		names = SSL_load_client_CA_file(o->client_ca);
		if (!names)
			goto fail;
		SSL_CTX_set_client_CA_list(ctx, names);
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
		SSL_CTX_set_verify_depth(ctx, 2);
		if (SSL_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT) != 1 ||
		    SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"mamori-device", 13) != 1)
			goto fail;
	}
	*ret = ctx;
	return 0;
fail:
	log_error("TLS: %s", ERR_reason_error_string(ERR_peek_last_error()) ?: "unknown error");
	ERR_clear_error();
	SSL_CTX_free(ctx);
	return -EINVAL;
}

static int64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Refusals are logged as counts, once per interval: a flood must not turn
 * into a flood of log lines. */
static void log_counts(struct http_listener *l, bool force)
{
	int64_t now = mono_us();

	if (!l->accept_errors && !l->refused_source && !l->cut_deadline)
		return;
	if (!force && now - l->last_log_us < LOG_INTERVAL_US)
		return;
	if (l->accept_errors)
		log_warning("%s listener: %" PRIu64 " accept errors (last: %s), accepting paused %d ms after each",
		            l->name, l->accept_errors, strerror(l->last_errno), ACCEPT_BACKOFF_U / 1000);
	if (l->refused_source)
		log_warning("%s listener: %" PRIu64 " connections closed: more than %u from one address", l->name,
		            l->refused_source, l->max_per_source);
	if (l->cut_deadline)
		log_warning("%s listener: %" PRIu64 " connections cut: no complete request within %" PRId64 " s",
		            l->name, l->cut_deadline, l->deadline_us / 1000000);
	l->accept_errors = l->refused_source = l->cut_deadline = 0;
	l->last_log_us = now;
}

static void accepting(struct http_listener *l)
{
	bool want = !l->paused_error && l->n_conns < l->max_conns;

	if (!l->lev)
		return;
	if (want && l->paused_full) {
		l->paused_full = false;
		if (!l->paused_error)
			evconnlistener_enable(l->lev);
	} else if (!want && !l->paused_full && !l->paused_error) {
		l->paused_full = l->n_conns >= l->max_conns;
		evconnlistener_disable(l->lev);
	}
}

static void conn_cut(struct conn *c)
{
	int fd = SSL_get_fd(c->ssl);

	/* libevent sees the end of the stream and frees the connection */
	if (fd >= 0)
		(void)shutdown(fd, SHUT_RDWR);
}

/* ex_data free callback: the SSL object (and so the connection) is gone. */
static void conn_gone(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
	struct conn *c = ptr;
	struct http_listener *l;
	SSL *ssl = parent;

	(void)ad, (void)idx, (void)argl, (void)argp;
	/* libevent frees the connection without a close_notify of ours, and
	 * SSL_free drops the session of such a connection from the session
	 * cache (--tls-session-cache) as if it had failed. A handshake that
	 * finished and was not ended by a fatal alert (which removes the session
	 * itself) leaves a good session: say the shutdown was sent. */
	if (ssl && SSL_is_init_finished(ssl))
		SSL_set_shutdown(ssl, SSL_get_shutdown(ssl) | SSL_SENT_SHUTDOWN);
	if (!c)
		return;
	l = c->l;
	if (!l) {
		free(c); /* its listener is gone (http_listener_free) */
		return;
	}
	if (c->prev)
		c->prev->next = c->next;
	else
		l->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	l->n_conns--;
	free(c);
	accepting(l);
}

/* New connections: count them per source address and close those beyond
 * the cap (the address is known only once libevent has set the socket). */
static void check_new(evutil_socket_t fd, short what, void *arg)
{
	struct http_listener *l = arg;

	(void)fd, (void)what;
	for (struct conn *c = l->conns; c; c = c->next) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int sfd = SSL_get_fd(c->ssl);
		unsigned same = 0;

		if (c->checked || sfd < 0)
			continue;
		c->checked = true;
		if (getpeername(sfd, (struct sockaddr *)&ss, &sl) < 0 ||
		    getnameinfo((struct sockaddr *)&ss, sl, c->src, sizeof(c->src), NULL, 0, NI_NUMERICHOST) != 0)
			(void)strscpy(c->src, sizeof(c->src), "?");
		for (struct conn *o = l->conns; o; o = o->next)
			if (o->checked && strcmp(o->src, c->src) == 0)
				same++;
		if (same > l->max_per_source) {
			l->refused_source++;
			c->src[0] = 0; /* no longer counted against its address */
			conn_cut(c);
		}
	}
	log_counts(l, false);
}

#define SESSION_FLUSH_US (10 * 1000000LL)

/* Every second: cut connections that have not delivered a complete request
 * within the deadline (a client dripping a byte at a time is cut off, not
 * only an idle one). */
static void sweep(evutil_socket_t fd, short what, void *arg)
{
	struct http_listener *l = arg;
	int64_t now = mono_us();

	(void)fd, (void)what;
	for (struct conn *c = l->conns; c; c = c->next)
		if (!c->in_request && c->since_us && now - c->since_us > l->deadline_us) {
			c->since_us = 0; /* once */
			l->cut_deadline++;
			conn_cut(c);
		}
	/* the expired sessions leave the cache every SESSION_FLUSH_US (a walk of
	 * the cache; OpenSSL's own flush every 255 handshakes is off): their
	 * memory, and no resumption past --tls-resume-seconds by a client that
	 * offers a session beyond the lifetime it was told */
	if (l->ctx && SSL_CTX_get_session_cache_mode(l->ctx) & SSL_SESS_CACHE_SERVER &&
	    now - l->last_flush_us >= SESSION_FLUSH_US) {
		l->last_flush_us = now;
		SSL_CTX_flush_sessions(l->ctx, (long)time(NULL));
	}
	log_counts(l, false);
}

static void resume_accept(evutil_socket_t fd, short what, void *arg)
{
	struct http_listener *l = arg;

	(void)fd, (void)what;
	l->paused_error = false;
	l->paused_full = false;
	if (l->n_conns < l->max_conns)
		evconnlistener_enable(l->lev);
	else
		l->paused_full = true;
}

/* accept() failed (EMFILE, ENFILE, ENOBUFS...): pause accepting for a
 * moment instead of spinning on a listener that stays readable. */
static void accept_error(struct evconnlistener *lev, void *arg)
{
	const struct timeval backoff = {ACCEPT_BACKOFF_S, ACCEPT_BACKOFF_U};
	struct http_listener *l = NULL;

	(void)arg;
	for (size_t i = 0; i < LISTENERS_MAX; i++)
		if (listeners[i] && listeners[i]->lev == lev)
			l = listeners[i];
	if (!l)
		return;
	l->last_errno = errno;
	l->accept_errors++;
	l->paused_error = true;
	evconnlistener_disable(lev);
	(void)event_add(l->resume_ev, &backoff);
	log_counts(l, false);
}

static struct conn *conn_of(const struct http_req *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req->ev);
	struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
	SSL *ssl = bev ? bufferevent_openssl_get_ssl(bev) : NULL;

	return ssl && conn_index >= 0 ? SSL_get_ex_data(ssl, conn_index) : NULL;
}

static struct bufferevent *bevcb(struct event_base *base, void *arg)
{
	struct http_listener *l = arg;
	struct bufferevent *bev;
	SSL *ssl = SSL_new(l->ctx);
	struct conn *c = calloc(1, sizeof(*c));

	if (!ssl || !c || SSL_set_ex_data(ssl, conn_index, c) != 1) {
		free(c);
		SSL_free(ssl);
		return NULL;
	}
	c->l = l, c->ssl = ssl, c->since_us = mono_us();
	c->next = l->conns;
	if (l->conns)
		l->conns->prev = c;
	l->conns = c;
	l->n_conns++;
	accepting(l);
	event_active(l->check_ev, EV_TIMEOUT, 0);
	bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
	                                     BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (bev)
		bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	else
		SSL_free(ssl); /* conn_gone unlinks c */
	return bev;
}

/* ---- requests -------------------------------------------------------------- */

unsigned http_req_method(const struct http_req *req)
{
	switch (evhttp_request_get_command(req->ev)) {
	case EVHTTP_REQ_GET:
		return HTTP_GET;
	case EVHTTP_REQ_POST:
		return HTTP_POST;
	case EVHTTP_REQ_PUT:
		return HTTP_PUT;
	case EVHTTP_REQ_DELETE:
		return HTTP_DELETE;
	default:
		return 0;
	}
}

const char *http_req_path(const struct http_req *req)
{
	return req->path;
}

const char *http_req_param(const struct http_req *req, unsigned i)
{
	return i < HTTP_PARAMS_MAX ? req->params[i] : NULL;
}

const char *http_req_query(struct http_req *req, const char *key)
{
	const char *q;

	if (!req->query_parsed) {
		TAILQ_INIT(&req->query);
		q = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req->ev));
		if (q && evhttp_parse_query_str(q, &req->query) < 0)
			evhttp_clear_headers(&req->query);
		req->query_parsed = true;
	}
	return evhttp_find_header(&req->query, key);
}

const char *http_req_header(const struct http_req *req, const char *name)
{
	return evhttp_find_header(evhttp_request_get_input_headers(req->ev), name);
}

X509 *http_req_peer_cert(const struct http_req *req)
{
	if (req->local_reply)
		return req->local_peer;
	struct evhttp_connection *conn = evhttp_request_get_connection(req->ev);
	struct bufferevent *bev = conn ? evhttp_connection_get_bufferevent(conn) : NULL;
	SSL *ssl = bev ? bufferevent_openssl_get_ssl(bev) : NULL;

	if (!ssl || SSL_get_verify_result(ssl) != X509_V_OK)
		return NULL;
	return SSL_get0_peer_certificate(ssl);
}

unsigned long http_listener_sessions(const struct http_listener *l)
{
	long n = l && l->ctx ? SSL_CTX_sess_number(l->ctx) : 0;

	return n > 0 ? (unsigned long)n : 0;
}

bool http_req_tls_resumed(const struct http_req *req)
{
	struct evhttp_connection *conn = req->local_reply ? NULL : evhttp_request_get_connection(req->ev);
	struct bufferevent *bev = conn ? evhttp_connection_get_bufferevent(conn) : NULL;
	SSL *ssl = bev ? bufferevent_openssl_get_ssl(bev) : NULL;

	return ssl && SSL_session_reused(ssl) == 1;
}

static int gunzip(const unsigned char *in, size_t n, size_t cap, char **ret, size_t *ret_len)
{
	z_stream zs = {0};
	size_t alloc = n * 4 + 1024, used = 0;
	char *out;
	int zr, r = 0;

	if (alloc > cap + 1)
		alloc = cap + 1;
	out = malloc(alloc + 1);
	if (!out)
		return -ENOMEM;
	if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) {
		free(out);
		return -ENOMEM;
	}
	zs.next_in = (unsigned char *)in;
	zs.avail_in = (uInt)n;
	for (;;) {
		if (used == alloc) {
			size_t na = alloc * 2 > cap + 1 ? cap + 1 : alloc * 2;
			char *no;

			if (na <= alloc) {
				r = -E2BIG;
				break;
			}
			no = realloc(out, na + 1);
			if (!no) {
				r = -ENOMEM;
				break;
			}
			out = no, alloc = na;
		}
		zs.next_out = (unsigned char *)out + used;
		zs.avail_out = (uInt)(alloc - used);
		zr = inflate(&zs, Z_NO_FLUSH);
		used = alloc - zs.avail_out;
		if (used > cap) {
			r = -E2BIG;
			break;
		}
		if (zr == Z_STREAM_END) {
			if (zs.avail_in != 0)
				r = -EBADMSG; /* trailing bytes (a second member) are refused */
			break;
		}
		if (zr != Z_OK || (zs.avail_in == 0 && zs.avail_out != 0)) {
			r = -EBADMSG; /* broken or truncated stream */
			break;
		}
	}
	inflateEnd(&zs);
	if (r < 0) {
		free(out);
		return r;
	}
	out[used] = 0;
	*ret = out;
	*ret_len = used;
	return 0;
}

int http_req_body(struct http_req *req, size_t cap, const char **ret, size_t *ret_len)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req->ev);
	size_t n = evbuffer_get_length(in);
	const char *enc = http_req_header(req, "Content-Encoding");
	unsigned char *raw;
	int r;

	if (!req->body_read) {
		if (n > req->l->max_body || n > cap)
			return -E2BIG;
		raw = evbuffer_pullup(in, -1);
		if (n && !raw)
			return -ENOMEM;
		if (enc && strcasecmp(enc, "gzip") == 0) {
			r = gunzip(raw, n, cap, &req->body, &req->body_len);
			if (r < 0)
				return r;
		} else if (enc && strcasecmp(enc, "identity") != 0) {
			return -EPROTO;
		} else {
			req->body = malloc(n + 1);
			if (!req->body)
				return -ENOMEM;
			if (n)
				memcpy(req->body, raw, n);
			req->body[n] = 0;
			req->body_len = n;
		}
		req->body_read = true;
	}
	if (req->body_len > cap)
		return -E2BIG;
	*ret = req->body;
	*ret_len = req->body_len;
	return 0;
}

/* One JSON value and nothing after it but white space (RFC 8259 2): a body
 * with trailing bytes ("{...} {...}", "{...}x") is refused, never read up to
 * its first value (fail closed, issue 19.3). */
static int json_exact(struct http_req *req, const char *b, size_t n, cJSON **ret)
{
	const char *end = NULL, *name = NULL;
	cJSON *j = n ? cJSON_ParseWithLengthOpts(b, n, &end, false) : NULL;
	int r;

	if (!j)
		return -EBADMSG;
	for (; end && end < b + n; end++)
		if (*end != ' ' && *end != '\t' && *end != '\n' && *end != '\r') {
			cJSON_Delete(j);
			return -EBADMSG;
		}
	r = json_member_twice(j, &name);
	if (r != 0) {
		if (r > 0)
			(void)strscpy(req->twice, sizeof(req->twice), name); /* cut: named in the reply */
		cJSON_Delete(j);
		return r > 0 ? -ENOTUNIQ : r;
	}
	*ret = j;
	return 0;
}

int http_req_json(struct http_req *req, size_t cap, cJSON **ret)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req->ev);
	const char *enc = http_req_header(req, "Content-Encoding");
	const char *b;
	size_t n;
	int r;

	if (!req->body_read && !enc) {
		/* parsed where it lies: no copy (cJSON needs no NUL with a length) */
		n = evbuffer_get_length(in);
		if (n > req->l->max_body || n > cap)
			return -E2BIG;
		b = (const char *)evbuffer_pullup(in, -1);
		return json_exact(req, b, n, ret);
	}
	r = http_req_body(req, cap, &b, &n);
	if (r < 0)
		return r;
	return json_exact(req, b, n, ret);
}

/* ---- replies ---------------------------------------------------------------- */

static const char *reason(int code)
{
	switch (code) {
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 202:
		return "Accepted";
	case 204:
		return "No Content";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 409:
		return "Conflict";
	case 413:
		return "Payload Too Large";
	case 415:
		return "Unsupported Media Type";
	case 429:
		return "Too Many Requests";
	case 503:
		return "Service Unavailable";
	default:
		return code < 500 ? "Error" : "Internal Server Error";
	}
}

void http_add_header(struct http_req *req, const char *name, const char *value)
{
	evhttp_add_header(evhttp_request_get_output_headers(req->ev), name, value);
}

void http_reply_data(struct http_req *req, int code, const char *content_type, const void *data, size_t len)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req->ev);
	struct evbuffer *b = evbuffer_new();

	if (req->replied)
		return;
	req->replied = true;
	if (req->local_reply) {
		req->local_reply->code = code;
		req->local_reply->body = malloc(len + 1);
		if (req->local_reply->body) {
			if (len)
				memcpy(req->local_reply->body, data, len);
			req->local_reply->body[len] = '\0';
			req->local_reply->len = len;
		}
		if (b)
			evbuffer_free(b);
		return;
	}
	if (content_type)
		evhttp_add_header(h, "Content-Type", content_type);
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	{
		/* looked up before the reply: evhttp may free the request (and
		 * the connection) in evhttp_send_reply */
		struct evhttp_connection *conn = evhttp_request_get_connection(req->ev);
		struct bufferevent *bev = conn ? evhttp_connection_get_bufferevent(conn) : NULL;
		struct conn *c = conn_of(req);

		if (c) {
			c->in_request = false;
			c->since_us = mono_us(); /* the next request's deadline starts */
		}
		if (!b || (len && evbuffer_add(b, data, len) < 0)) {
			evhttp_send_error(req->ev, 500, NULL);
		} else {
			evhttp_send_reply(req->ev, code, reason(code), b);
			/* headers and body are separate chains: made one, they leave
			 * in one TLS record and one write (the write happens later in
			 * the loop) */
			if (bev)
				(void)evbuffer_pullup(bufferevent_get_output(bev), -1);
		}
	}
	if (b)
		evbuffer_free(b);
}

void http_reply_json(struct http_req *req, int code, const cJSON *body)
{
	_cleanup_(cjson_freep) char *s = body ? cJSON_PrintUnformatted(body) : NULL;

	if (body && !s) {
		http_reply_data(req, 500, "application/json", "{\"error\":\"no_memory\"}", 21);
		return;
	}
	if (!body) {
		http_reply_data(req, code, NULL, NULL, 0);
		return;
	}
	http_reply_data(req, code, "application/json; charset=utf-8", s, strlen(s));
}

void http_reply_error(struct http_req *req, int code, const char *error, const char *ja, const char *en,
                      const cJSON *extra)
{
	_cleanup_json_ cJSON *o = cJSON_CreateObject();
	cJSON *m;

	if (!o || !cJSON_AddStringToObject(o, "error", error) || !(m = cJSON_AddObjectToObject(o, "message")) ||
	    !cJSON_AddStringToObject(m, "ja", ja) || !cJSON_AddStringToObject(m, "en", en)) {
		http_reply_data(req, code, "application/json", "{\"error\":\"no_memory\"}", 21);
		return;
	}
	for (const cJSON *c = extra ? extra->child : NULL; c; c = c->next) {
		cJSON *dup = cJSON_Duplicate(c, true);

		if (dup)
			cJSON_AddItemToObject(o, c->string, dup);
	}
	http_reply_json(req, code, o);
}

void http_reply_body_error(struct http_req *req, int err)
{
	switch (err) {
	case -E2BIG:
		http_reply_error(req, 413, "too_large", "リクエストの本文が上限を超えています",
		                 "the request body is larger than the limit", NULL);
		break;
	case -EPROTO:
		http_reply_error(req, 415, "unsupported_encoding", "対応していない Content-Encoding です",
		                 "unsupported Content-Encoding (gzip or identity)", NULL);
		break;
	case -EBADMSG:
		http_reply_error(req, 400, "malformed", "本文が JSON (または gzip) として読めません",
		                 "the body is not valid JSON (or gzip)", NULL);
		break;
	case -ENOTUNIQ: {
		_cleanup_json_ cJSON *x = cJSON_CreateObject();
		/* the name is the client's (cut at 64 bytes): escaped as
		 * api_refuse_unknown_field does, so the reply stays UTF-8 */
		_cleanup_free_ char *name = escape_untrusted(req->twice, strlen(req->twice), 64);

		if (x)
			cJSON_AddStringToObject(x, "field", name ?: "?");
		http_reply_error(
		        req, 400, "duplicate_field",
		        "同じ名前のメンバーが 2 回あります (どちらを読むかは決められません)",
		        "a member is named twice in one object (which one counts is not for the reader to guess)", x);
		break;
	}
	default:
		http_reply_error(req, 500, "internal", "サーバー内部のエラーです", "internal server error", NULL);
	}
}

/* ---- routing ------------------------------------------------------------------ */

/* Match path against pattern; '*' segments capture into params. */
static bool route_match(struct http_req *req, const char *pattern)
{
	const char *p = pattern, *s = req->path;
	char *w = req->segs;
	unsigned np = 0;

	while (*p && *s) {
		if (*p == '*' && (p[1] == '/' || p[1] == 0) && p[-1] == '/') {
			size_t n = strcspn(s, "/");

			if (n == 0 || np >= HTTP_PARAMS_MAX)
				return false;
			memcpy(w, s, n);
			w[n] = 0;
			req->params[np++] = w;
			w += n + 1;
			s += n;
			p++;
			continue;
		}
		if (*p != *s)
			return false;
		p++, s++;
	}
	return *p == 0 && *s == 0;
}

static void req_free(struct http_req *req)
{
	if (req->query_parsed)
		evhttp_clear_headers(&req->query);
	free(req->body);
	free(req);
}

void http_req_defer(struct http_req *req)
{
	req->deferred = true;
}

bool http_req_can_defer(const struct http_req *req)
{
	return !req->local_reply;
}

void http_req_hold(struct http_req *req)
{
	struct conn *c = conn_of(req);
	int fd = c ? SSL_get_fd(c->ssl) : -1, one = 1, idle = 10, intvl = 5, cnt = 2;

	req->deferred = true;
	if (fd < 0)
		return;
	(void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
}

void http_req_abandon(struct http_req *req)
{
	req_free(req);
}

bool http_req_client_gone(const struct http_req *req)
{
	struct conn *c;
	struct pollfd p = {.events = POLLIN | POLLRDHUP};

	if (req->local_reply)
		return false;
	if (!evhttp_request_get_connection(req->ev) || !(c = conn_of(req)) || (p.fd = SSL_get_fd(c->ssl)) < 0)
		return true;
	if (poll(&p, 1, 0) < 0)
		return false;
	return (p.revents & (POLLIN | POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0;
}

void http_req_release(struct http_req *req)
{
	if (!req->replied)
		http_reply_error(req, 500, "internal", "サーバー内部のエラーです", "internal server error", NULL);
	req_free(req);
}

int http_req_peer(const struct http_req *req, char buf[HTTP_PEER_MAX])
{
	struct evhttp_connection *conn = evhttp_request_get_connection(req->ev);
	char *addr = NULL;
	ev_uint16_t port = 0;

	if (req->local_reply)
		return strscpy(buf, HTTP_PEER_MAX, "local") < 0 ? -EINVAL : 0;
	if (!conn)
		return -ENOTCONN;
	evhttp_connection_get_peer(conn, &addr, &port);
	if (!addr || strscpy(buf, HTTP_PEER_MAX, addr) < 0)
		return -EINVAL;
	return 0;
}

/* More than one Content-Length (libevent uses the first): a request that a
 * proxy in front might frame differently is refused, whatever the values. */
static bool content_length_conflict(const struct http_req *req)
{
	const struct evkeyvalq *h = evhttp_request_get_input_headers(req->ev);
	const struct evkeyval *kv;
	unsigned n = 0;

	TAILQ_FOREACH(kv, h, next)
	if (strcasecmp(kv->key, "Content-Length") == 0 || strcasecmp(kv->key, "Transfer-Encoding") == 0)
		n++;
	return n > 1;
}

static void dispatch(struct http_listener *l, struct evhttp_request *ev, X509 *local_peer,
                     struct http_local_reply *local_reply)
{
	struct http_req *req = calloc(1, sizeof(*req));
	const char *uri_path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(ev));
	const struct http_route *found = NULL;
	bool path_known = false;
	struct conn *c;
	unsigned m;

	if (!req) {
		evhttp_send_error(ev, 503, NULL);
		return;
	}
	req->ev = ev, req->l = l, req->local_peer = local_peer, req->local_reply = local_reply;
	c = local_reply ? NULL : conn_of(req);
	if (!c && !local_reply) {
		/* not one of our TLS connections (libevent falls back to plain
		 * TCP if making the TLS one failed): nothing is served over it */
		evhttp_send_error(ev, 503, NULL);
		free(req);
		return;
	}
	if (c)
		c->in_request = true;
	if (content_length_conflict(req)) {
		http_add_header(req, "Connection", "close");
		http_reply_error(req, 400, "bad_content_length", "Content-Length が複数あります",
		                 "more than one Content-Length header", NULL);
		goto done;
	}
	if (!uri_path || strscpy(req->path, sizeof(req->path), uri_path) < 0 || strchr(req->path, '%')) {
		http_reply_error(req, 404, "not_found", "そのパスはありません", "no such path", NULL);
		goto done;
	}
	m = http_req_method(req);
	for (size_t t = 0; l->tables[t] && !found; t++)
		for (size_t i = 0; i < l->sizes[t]; i++) {
			memset(req->params, 0, sizeof(req->params));
			if (!route_match(req, l->tables[t][i].path))
				continue;
			path_known = true;
			if (l->tables[t][i].method & m) {
				found = &l->tables[t][i];
				break;
			}
		}
	if (!found) {
		if (path_known)
			http_reply_error(req, 405, "method_not_allowed", "このメソッドは使えません",
			                 "method not allowed", NULL);
		else
			http_reply_error(req, 404, "not_found", "そのパスはありません", "no such path", NULL);
		goto done;
	}
	found->handler(l->userdata, req);
	/* an in-process request has no loop to come back to: its server runs
	 * without a worker pool, so nothing is deferred (http_local_request) */
	if (req->deferred && !req->local_reply)
		return; /* the handler's completion answers and releases it */
	if (req->deferred)
		abort();
	if (!req->replied)
		http_reply_error(req, 500, "internal", "サーバー内部のエラーです", "internal server error", NULL);
done:
	req_free(req);
}

static void gencb(struct evhttp_request *ev, void *arg)
{
	dispatch(arg, ev, NULL, NULL);
}

int http_local_request(const struct http_listener_options *o, unsigned method, const char *uri,
                       const char *const *headers, const void *body, size_t len, X509 *peer,
                       struct http_local_reply *ret)
{
	struct http_listener l = {
	        .tables = o->tables, .sizes = o->table_sizes, .userdata = o->userdata, .max_body = o->max_body};
	struct evhttp_request *ev = evhttp_request_new(NULL, NULL);
	int r = 0;

	*ret = (struct http_local_reply){0};
	if (!ev)
		return -ENOMEM;
	ev->type = method == HTTP_GET    ? EVHTTP_REQ_GET
	           : method == HTTP_POST ? EVHTTP_REQ_POST
	           : method == HTTP_PUT  ? EVHTTP_REQ_PUT
	                                 : EVHTTP_REQ_DELETE;
	ev->uri_elems = evhttp_uri_parse(uri);
	if (!ev->uri_elems) {
		r = -EINVAL;
		goto out;
	}
	for (size_t i = 0; headers && headers[i] && headers[i + 1]; i += 2)
		if (evhttp_add_header(evhttp_request_get_input_headers(ev), headers[i], headers[i + 1]) < 0) {
			r = -EINVAL;
			goto out;
		}
	if (len && evbuffer_add(evhttp_request_get_input_buffer(ev), body, len) < 0) {
		r = -ENOMEM;
		goto out;
	}
	dispatch(&l, ev, peer, ret);
	if (!ret->body)
		r = -ENOMEM;
out:
	evhttp_request_free(ev);
	return r;
}

void http_local_reply_clear(struct http_local_reply *r)
{
	free(r->body);
	*r = (struct http_local_reply){0};
}

static int parse_listen(const char *listen, char *host, size_t hostsz, uint16_t *port)
{
	const char *colon = strrchr(listen, ':');
	int64_t p;

	if (!colon || colon == listen || parse_int64(colon + 1, 0, 65535, &p) < 0)
		return -EINVAL;
	if (listen[0] == '[') {
		if (colon[-1] != ']' || (size_t)(colon - listen - 2) >= hostsz)
			return -EINVAL;
		memcpy(host, listen + 1, (size_t)(colon - listen - 2));
		host[colon - listen - 2] = 0;
	} else {
		if ((size_t)(colon - listen) >= hostsz)
			return -EINVAL;
		memcpy(host, listen, (size_t)(colon - listen));
		host[colon - listen] = 0;
	}
	*port = (uint16_t)p;
	return 0;
}

void http_listener_free(struct http_listener *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < LISTENERS_MAX; i++)
		if (listeners[i] == l)
			listeners[i] = NULL;
	l->lev = NULL; /* freed by evhttp_free, before the connections */
	if (l->http)
		evhttp_free(l->http);
	/* a connection whose bufferevent had a callback pending (an answer
	 * queued at shutdown) is freed later, by event_base_free: it no longer
	 * counts here */
	for (struct conn *c = l->conns, *next; c; c = next) {
		next = c->next;
		c->l = NULL;
		c->prev = c->next = NULL;
	}
	l->conns = NULL;
	log_counts(l, true);
	if (l->check_ev)
		event_free(l->check_ev);
	if (l->sweep_ev)
		event_free(l->sweep_ev);
	if (l->resume_ev)
		event_free(l->resume_ev);
	SSL_CTX_free(l->ctx);
	free(l);
}

int http_listener_new(struct event_base *base, const struct http_listener_options *o, struct http_listener **ret,
                      uint16_t *ret_port)
{
	struct http_listener *l;
	struct evhttp_bound_socket *bound;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[256];
	uint16_t port;
	int r;

	r = parse_listen(o->listen, host, sizeof(host), &port);
	if (r < 0)
		return r;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->tables = o->tables;
	l->sizes = o->table_sizes;
	l->userdata = o->userdata;
	l->max_body = o->max_body;
	l->base = base;
	l->max_conns = o->max_conns ?: 1;
	l->max_per_source = o->max_conns_per_source ?: 1;
	l->deadline_us = (int64_t)o->timeout_s * 1000000;
	(void)strscpy(l->name, sizeof(l->name), o->name ?: "https");
	if (conn_index < 0) {
		conn_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, conn_gone);
		if (conn_index < 0) {
			r = -ENOMEM;
			goto fail;
		}
	}
	{
		const struct timeval second = {1, 0};

		l->check_ev = event_new(base, -1, 0, check_new, l);
		l->sweep_ev = event_new(base, -1, EV_PERSIST, sweep, l);
		l->resume_ev = evtimer_new(base, resume_accept, l);
		if (!l->check_ev || !l->sweep_ev || !l->resume_ev || event_add(l->sweep_ev, &second) < 0) {
			r = -ENOMEM;
			goto fail;
		}
	}
	r = tls_context(o, &l->ctx);
	if (r < 0)
		goto fail;
	l->http = evhttp_new(base);
	if (!l->http) {
		r = -ENOMEM;
		goto fail;
	}
	evhttp_set_bevcb(l->http, bevcb, l);
	evhttp_set_gencb(l->http, gencb, l);
	evhttp_set_timeout(l->http, o->timeout_s);
	evhttp_set_max_body_size(l->http, (ev_ssize_t)o->max_body);
	evhttp_set_max_headers_size(l->http, HTTP_HEADERS_MAX);
	evhttp_set_allowed_methods(l->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE);
	bound = evhttp_bind_socket_with_handle(l->http, host, port);
	if (!bound) {
		r = -EADDRNOTAVAIL;
		goto fail;
	}
	if (getsockname(evhttp_bound_socket_get_fd(bound), (struct sockaddr *)&ss, &sl) < 0) {
		r = -errno;
		goto fail;
	}
	{
		/* inherited by every accepted connection: a reply never waits for
		 * the client's delayed ACK (Nagle) */
		int one = 1;

		(void)setsockopt(evhttp_bound_socket_get_fd(bound), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	l->lev = evhttp_bound_socket_get_listener(bound);
	evconnlistener_set_error_cb(l->lev, accept_error);
	for (size_t i = 0; i < LISTENERS_MAX; i++)
		if (!listeners[i]) {
			listeners[i] = l;
			break;
		}
	port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
	                                      : ((struct sockaddr_in *)&ss)->sin_port);
	*ret = l;
	*ret_port = port;
	return 0;
fail:
	http_listener_free(l);
	return r;
}
