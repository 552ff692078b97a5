/* server-api/http.h — HTTPS listeners, routing, bounded request bodies and
 * JSON replies on libevent's evhttp with OpenSSL bufferevents (mamori-server).
 *
 * The only server file that calls libevent and zlib. Every listener is TLS
 * (1.3; 1.2 only when configured). A listener made with a client CA requires
 * a client certificate at the handshake (SSL_VERIFY_PEER |
 * SSL_VERIFY_FAIL_IF_NO_PEER_CERT, purpose sslclient): a connection without
 * one, or with one from another CA, or expired, never reaches a handler.
 *
 * Limits (a slow or hostile client costs little): headers 16 KiB, bodies
 * max_body bytes on the wire and as many after gzip decoding; an idle
 * keep-alive connection at most timeout seconds, and a complete request must
 * arrive within timeout seconds of the accept or of the previous answer (a
 * client dripping one byte per second is cut off too); at most max_conns
 * connections (then accepting pauses until one closes) and
 * max_conns_per_source from one address (more are closed at once); an
 * accept() error (EMFILE...) pauses accepting for 250 ms, and refusals are
 * logged as counts once per 10 s. More than one Content-Length (or
 * Transfer-Encoding) header: 400 and the connection closed. */
#ifndef MAMORI_HTTP_H
#define MAMORI_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <openssl/ssl.h>

#define HTTP_HEADERS_MAX (16 * 1024)
#define HTTP_PARAMS_MAX  4

#define HTTP_TICKET_SECRET   32
#define HTTP_TICKET_PERIOD_S 3600 /* a ticket key is used this long, and accepted one period more */

struct event_base;
struct http_listener;
struct http_req;

enum http_method { HTTP_GET = 1, HTTP_POST = 2, HTTP_PUT = 4, HTTP_DELETE = 8 };

/* A route: method and path; '*' as a whole path segment matches one
 * segment, available as http_req_param(req, i) in order. */
struct http_route {
	unsigned method;
	const char *path;
	void (*handler)(void *userdata, struct http_req *req);
};

struct http_listener_options {
	const char *listen;     /* "ADDR:PORT", "[v6]:PORT"; port 0 = any free port */
	const char *cert, *key; /* server certificate chain and key (PEM files) */
	const char *client_ca;  /* PEM: require client certificates issued by it; NULL = none */
	bool allow_tls12;       /* also TLS 1.2 (default 1.3 only) */
	int timeout_s;          /* idle timeout, and the deadline of a whole request */
	bool resumption;        /* allow TLS session resumption (tickets, cache) */
	/* with client_ca and resumption: the secret (HTTP_TICKET_SECRET bytes) the
	 * session-ticket keys are derived from, one key per HTTP_TICKET_PERIOD_S,
	 * so that every instance sharing the data directory resumes the others'
	 * sessions; NULL: OpenSSL's random per-process keys. A resumed session
	 * carries the client certificate of its full handshake
	 * (http_req_peer_cert): handlers check it per request (revocation,
	 * expiry), as after a full handshake. */
	const unsigned char *ticket_secret;
	int session_lifetime_s; /* resumption: a session older than this is a full handshake again */
	/* with client_ca and resumption: > 0 keeps up to this many sessions in
	 * this process (TLS 1.3 stateful tickets: the ticket is an ID) instead
	 * of stateless tickets — a resumption then decodes nothing (a ticket
	 * carries the client certificate, decoded again at every visit), but
	 * only this instance can resume its sessions */
	unsigned session_cache;
	unsigned max_conns;                     /* open connections; at the cap, accepting pauses */
	unsigned max_conns_per_source;          /* open connections from one address; beyond: closed */
	const char *name;                       /* for the log ("device", "admin") */
	size_t max_body;                        /* request body cap, on the wire and decoded */
	const struct http_route *const *tables; /* NULL-terminated list of route tables ... */
	const size_t *table_sizes;              /* ... and their lengths */
	void *userdata;
};

/* Bind and serve on base. *ret_port: the port actually bound. */
int http_listener_new(struct event_base *base, const struct http_listener_options *o, struct http_listener **ret,
                      uint16_t *ret_port);
void http_listener_free(struct http_listener *l);
/* TLS sessions held in the listener's cache (--tls-session-cache; 0 without one) */
unsigned long http_listener_sessions(const struct http_listener *l);

/* ---- requests ---- */
unsigned http_req_method(const struct http_req *req);
const char *http_req_path(const struct http_req *req);
const char *http_req_param(const struct http_req *req, unsigned i);
/* A query parameter (decoded), NULL if absent. */
const char *http_req_query(struct http_req *req, const char *key);
const char *http_req_header(const struct http_req *req, const char *name);
/* The client's address (numeric), for throttling and the audit trail.
 * -ENOTCONN once the client has gone. */
#define HTTP_PEER_MAX 64
int http_req_peer(const struct http_req *req, char buf[HTTP_PEER_MAX]);
/* The handler answers later (from a callback on the loop thread): the
 * request stays valid after the handler returns, until http_req_release(),
 * which the handler's completion must call once after its reply (a 500 is
 * sent if it did not reply). A client that goes away meanwhile costs
 * nothing: the reply is then dropped. */
void http_req_defer(struct http_req *req);
void http_req_release(struct http_req *req);
/* Whether the request can be deferred: false for an in-process request
 * (http_local_request), which must be answered before its handler returns. */
bool http_req_can_defer(const struct http_req *req);
/* A long poll (api_command.c): deferred like http_req_defer, and its socket
 * gets TCP keep-alive probes (10 s idle, 2 × 5 s) so that a client that
 * vanished without closing shows as gone within about 20 s. */
void http_req_hold(struct http_req *req);
/* At shutdown, after the loop ended: forget a held request without an
 * answer (an answer queued now would outlive the listener); freeing the
 * listener closes its connection. */
void http_req_abandon(struct http_req *req);
/* Whether the client of a held request has gone: its connection closed,
 * reset or failed, or it sent anything while waiting for the answer (a
 * long-poll client sends nothing; TLS close_notify is bytes). Checked
 * before a command is handed to it. */
bool http_req_client_gone(const struct http_req *req);
/* The verified client certificate, NULL on a listener without client CA. Borrowed. */
X509 *http_req_peer_cert(const struct http_req *req);
/* Whether the request's TLS connection resumed a session (a ticket) rather
 * than making a full handshake (OpenSSL's SSL_session_reused). */
bool http_req_tls_resumed(const struct http_req *req);

/* The body, gzip-decoded if Content-Encoding says so, at most cap bytes,
 * NUL-terminated (borrowed until the request is answered). -E2BIG beyond
 * cap, -EBADMSG for a broken gzip stream, -EPROTO for another encoding. */
int http_req_body(struct http_req *req, size_t cap, const char **ret, size_t *ret_len);
/* The body parsed as one JSON value (cJSON_ParseWithLength). Caller owns
 * *ret. -EBADMSG if it is not JSON or has anything but white space after
 * the value; -ENOTUNIQ if an object, at any depth, names a member twice
 * (http_reply_body_error: 400 duplicate_field naming it). */
int http_req_json(struct http_req *req, size_t cap, cJSON **ret);

/* ---- replies (exactly one per request) ---- */
void http_reply_json(struct http_req *req, int code, const cJSON *body);
void http_reply_data(struct http_req *req, int code, const char *content_type, const void *data, size_t len);
/* {"error": code_word, "message": {"ja": ja, "en": en}} plus `extra`'s members (may be NULL). */
void http_reply_error(struct http_req *req, int code, const char *error, const char *ja, const char *en,
                      const cJSON *extra);
/* An error for a negative errno from http_req_body/json (413, 400, 415). */
void http_reply_body_error(struct http_req *req, int err);
void http_add_header(struct http_req *req, const char *name, const char *value);

/* ---- in-process requests (fuzz harnesses: tests/fuzz/fuzz_server_api.c) ----
 * The routing and the handlers of a listener made with o, without socket or
 * TLS: method (HTTP_*), uri ("/path?query"), request headers as a
 * NULL-terminated list of name, value pairs (may be NULL), the body, and the client certificate the TLS layer would have verified
 * (NULL: none). *ret gets the status and the body of the one reply. */
struct http_local_reply {
	int code;
	char *body; /* NUL-terminated, owned */
	size_t len;
};
int http_local_request(const struct http_listener_options *o, unsigned method, const char *uri,
                       const char *const *headers, const void *body, size_t len, X509 *peer,
                       struct http_local_reply *ret);
void http_local_reply_clear(struct http_local_reply *r);

#endif
