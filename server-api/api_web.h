/* server-api/api_web.h — the browser dashboard's side of the admin listener
 * (mamori-server): its built files (index.html, assets/) from the www
 * directory with a strict Content-Security-Policy, and its session cookie
 * (HttpOnly; Secure; SameSite=Strict) with an idle and an absolute time-out
 * and a CSRF check on every request that uses it. */
#ifndef MAMORI_API_WEB_H
#define MAMORI_API_WEB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "http.h"

struct server;

#define API_WEB_COOKIE "__Host-mamori_session"
/* The header every dashboard request carries (a cross-site form or image
 * cannot set it; a cross-site fetch with it needs a CORS preflight that
 * this server never grants). */
#define API_WEB_CSRF_HEADER "X-Mamori-CSRF"

/* The Content-Security-Policy of every dashboard page and file. */
#define API_WEB_CSP                                                                                                  \
	"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "         \
	"font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

/* Whether the request carries the session cookie (and no Authorization header
 * was given: a bearer token wins). */
bool api_web_has_session_cookie(struct http_req *req);
/* Check the CSRF conditions (custom header, Origin, Sec-Fetch-Site) and the
 * idle time-out of the cookie's session; on success *token is the session's
 * bearer token for the usual check (absolute expiry, role). Replies (401/403)
 * and returns negative when refused. */
int api_web_session(struct server *srv, struct http_req *req, char token[CRYPTO_TOKEN_MAX]);
/* A login from the dashboard (it sends the CSRF header)? */
bool api_web_login_wanted(struct http_req *req);
/* Answer a successful dashboard login: the token goes into the cookie only,
 * the body has the role, user and expiry. */
void api_web_login_reply(struct server *srv, struct http_req *req, const char *token, int64_t expires_us,
                         const char *role, const char *user);

extern const struct http_route api_web_routes[];
extern const size_t api_web_routes_n;

#endif
