/* server-api/api_web.c — the browser dashboard on the admin listener
 * (mamori-server): serves its built files (the www directory: index.html
 * and assets/, made by `make www` from dashboard/) under a strict
 * Content-Security-Policy (no inline script, nothing from another origin),
 * and keeps its sessions: the bearer token of a login made by the dashboard
 * lives only in a cookie `__Host-mamori_session` (HttpOnly; Secure;
 * SameSite=Strict; Path=/), ends after --web-idle-seconds unused (idle
 * time-out) or --session-seconds after the login (absolute, the
 * credential's expiry), and is accepted only on requests that carry the
 * X-Mamori-CSRF header, come from the same origin (Origin and
 * Sec-Fetch-Site when the browser sends them). The loop thread only.
 *
 * A dashboard session lives in the store (web_session_*, by the token's
 * hash), not in this process: every instance on one store (issue 18.3)
 * sees its last use, its logout and its time-out at the next request.
 * There is no per-instance cache: each request reads and moves the last
 * use in the store, so a logout through any instance ends the session
 * everywhere at once. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "alloc-util.h"
#include "api_device.h"
#include "api_web.h"
#include "fileio.h"
#include "json-util.h"
#include "log.h"
#include "server.h"
#include "strutil.h"

#define WEB_FILE_MAX (8 * 1024 * 1024)

static void security_headers(struct http_req *req)
{
	http_add_header(req, "Content-Security-Policy", API_WEB_CSP);
	http_add_header(req, "X-Frame-Options", "DENY");
	http_add_header(req, "Referrer-Policy", "no-referrer");
	http_add_header(req, "Cross-Origin-Opener-Policy", "same-origin");
	http_add_header(req, "Cross-Origin-Resource-Policy", "same-origin");
	http_add_header(req, "Strict-Transport-Security", "max-age=31536000");
}

/* The cookie's token, or NULL. Only base64url characters are accepted. */
static bool cookie_token(struct http_req *req, char token[CRYPTO_TOKEN_MAX])
{
	const char *h = http_req_header(req, "Cookie"), *p;
	size_t n;

	if (!h)
		return false;
	for (p = h; (p = strstr(p, API_WEB_COOKIE "=")); p++) {
		if (p != h && p[-1] != ' ' && p[-1] != ';')
			continue;
		p += strlen(API_WEB_COOKIE "=");
		n = strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");
		if (n == 0 || n >= CRYPTO_TOKEN_MAX || (p[n] && p[n] != ';'))
			return false;
		memcpy(token, p, n);
		token[n] = 0;
		return true;
	}
	return false;
}

bool api_web_has_session_cookie(struct http_req *req)
{
	const char *h = http_req_header(req, "Cookie");

	return h && strstr(h, API_WEB_COOKIE "=");
}

/* Same-origin conditions (CSRF): the custom header, and Origin /
 * Sec-Fetch-Site when present. */
static bool same_origin(struct http_req *req, const char **why)
{
	const char *csrf = http_req_header(req, API_WEB_CSRF_HEADER), *origin = http_req_header(req, "Origin"),
	           *site = http_req_header(req, "Sec-Fetch-Site"), *host = http_req_header(req, "Host");

	if (!csrf || strcmp(csrf, "1") != 0)
		return *why = "no " API_WEB_CSRF_HEADER " header", false;
	if (site && strcmp(site, "same-origin") != 0)
		return *why = "Sec-Fetch-Site is not same-origin", false;
	if (origin && (!host || !startswith(origin, "https://") || strcmp(origin + 8, host) != 0))
		return *why = "Origin is another site", false;
	return true;
}

int api_web_session(struct server *srv, struct http_req *req, char token[CRYPTO_TOKEN_MAX])
{
	char hash[CRYPTO_SHA256_HEX];
	const char *why = NULL;
	int r;

	if (!same_origin(req, &why)) {
		server_audit(srv, "web", http_req_path(req), NULL, "refused", why);
		http_reply_error(req, 403, "csrf", "別のサイトからの要求は受け付けません (CSRF)",
		                 "a request from another site is refused (CSRF)", NULL);
		return -EACCES;
	}
	if (!cookie_token(req, token) || crypto_sha256_hex(token, strlen(token), hash) < 0)
		r = -ENOENT;
	else
		r = STORE_CALL(srv->store, web_session_touch, hash, server_now_us(), srv->cfg.web_idle_s * 1000000);
	if (r == -ETIMEDOUT) {
		server_audit(srv, "web", "session.idle_timeout", NULL, "ok", NULL);
		http_reply_error(req, 401, "session_idle", "一定時間操作がなかったためログアウトしました",
		                 "the session ended after a time without use", NULL);
		return -EACCES;
	}
	if (r == -ENOENT) {
		http_reply_error(req, 401, "unauthenticated", "セッションが無効か期限切れです",
		                 "the session or token is invalid or expired", NULL);
		return -EACCES;
	}
	if (r < 0) {
		log_error_errno(r, "store: %m");
		http_reply_error(req, 503, "store_unavailable", "サーバーの記録領域が使えません",
		                 "the store is unavailable", NULL);
		return r;
	}
	return 0;
}

bool api_web_login_wanted(struct http_req *req)
{
	return http_req_header(req, API_WEB_CSRF_HEADER) != NULL;
}

static void set_cookie(struct http_req *req, const char *token, int64_t max_age_s)
{
	char c[256];

	if (xsnprintf(c, sizeof(c), API_WEB_COOKIE "=%s; Path=/; Max-Age=%lld; HttpOnly; Secure; SameSite=Strict",
	              token, (long long)max_age_s) == 0)
		http_add_header(req, "Set-Cookie", c);
}

void api_web_login_reply(struct server *srv, struct http_req *req, const char *token, int64_t expires_us,
                         const char *role, const char *user)
{
	_cleanup_json_ cJSON *out = cJSON_CreateObject();
	char hash[CRYPTO_SHA256_HEX], exp[32];
	const char *why = NULL;
	int64_t now = server_now_us();
	int r;

	if (!same_origin(req, &why)) {
		/* the session was made: end it at once, nobody gets its token */
		if (crypto_sha256_hex(token, strlen(token), hash) == 0)
			(void)STORE_CALL(srv->store, cred_delete, hash);
		server_audit(srv, user, "session.login", user, "refused", why);
		return http_reply_error(req, 403, "csrf", "別のサイトからの要求は受け付けません (CSRF)",
		                        "a request from another site is refused (CSRF)", NULL);
	}
	if (crypto_sha256_hex(token, strlen(token), hash) < 0)
		return http_reply_error(req, 500, "internal", "サーバー内部のエラーです", "internal server error",
		                        NULL);
	if ((r = STORE_CALL(srv->store, web_session_add, hash, now)) < 0) {
		(void)STORE_CALL(srv->store, cred_delete, hash); /* no half-made session */
		log_error_errno(r, "store: %m");
		return http_reply_error(req, 503, "store_unavailable", "サーバーの記録領域が使えません",
		                        "the store is unavailable", NULL);
	}
	server_format_time(expires_us, exp);
	if (!out || !cJSON_AddStringToObject(out, "user", user) || !cJSON_AddStringToObject(out, "role", role) ||
	    !cJSON_AddStringToObject(out, "expires_at", exp) ||
	    !cJSON_AddNumberToObject(out, "idle_seconds", (double)srv->cfg.web_idle_s))
		return http_reply_error(req, 500, "no_memory", "メモリ不足です", "out of memory", NULL);
	set_cookie(req, token, (expires_us - now) / 1000000);
	http_reply_json(req, 200, out);
}

/* POST /admin/v1/web/logout: ends the cookie's session and clears the cookie. */
static void handle_logout(void *userdata, struct http_req *req)
{
	struct server *srv = userdata;
	char token[CRYPTO_TOKEN_MAX], hash[CRYPTO_SHA256_HEX];
	struct store_cred c;
	bool known;
	int r;

	if (api_web_session(srv, req, token) < 0)
		return;
	if (api_no_body(srv, req, NULL, "session.logout", NULL) < 0)
		return;
	if ((r = crypto_sha256_hex(token, strlen(token), hash)) < 0)
		return http_reply_error(req, 500, "internal", "サーバー内部のエラーです", "internal server error",
		                        NULL);
	known = STORE_CALL(srv->store, cred_get, hash, server_now_us(), &c) == 0;
	if ((r = STORE_CALL(srv->store, web_session_end, hash)) < 0) {
		log_error_errno(r, "store: %m");
		return http_reply_error(req, 503, "store_unavailable", "サーバーの記録領域が使えません",
		                        "the store is unavailable", NULL);
	}
	if (known) /* else ended meanwhile (another instance): nothing to write */
		server_audit(srv, c.principal, "session.logout", c.principal, "ok", "dashboard");
	set_cookie(req, "", 0);
	http_reply_json(req, 204, NULL);
}

static const char *content_type(const char *name)
{
	static const struct {
		const char *ext, *type;
	} types[] = {
	        {".html", "text/html; charset=utf-8"},
	        {".js", "text/javascript; charset=utf-8"},
	        {".css", "text/css; charset=utf-8"},
	        {".svg", "image/svg+xml"},
	        {".png", "image/png"},
	        {".woff2", "font/woff2"},
	        {".json", "application/json; charset=utf-8"},
	};
	const char *dot = strrchr(name, '.');

	for (size_t i = 0; dot && i < ELEMENTSOF(types); i++)
		if (strcmp(dot, types[i].ext) == 0)
			return types[i].type;
	return NULL; /* not a kind of file the dashboard has: not served */
}

static void serve_file(struct server *srv, struct http_req *req, const char *rel)
{
	_cleanup_free_ char *buf = NULL;
	const char *type = content_type(rel);
	char path[PATH_MAX];
	size_t len = 0;
	int r;

	security_headers(req);
	if (!type || xsnprintf(path, sizeof(path), "%s/%s", srv->cfg.www_dir, rel) < 0)
		return http_reply_error(req, 404, "not_found", "そのパスはありません", "no such path", NULL);
	r = read_file_capped(path, WEB_FILE_MAX, &buf, &len);
	if (r == -ENOENT && strcmp(rel, "index.html") == 0)
		return http_reply_error(req, 404, "no_dashboard",
		                        "ダッシュボードのファイルがありません (make www / --www DIR)",
		                        "the dashboard's files are not installed (make www / --www DIR)", NULL);
	if (r < 0)
		return http_reply_error(req, 404, "not_found", "そのパスはありません", "no such path", NULL);
	http_reply_data(req, 200, type, buf, len);
}

static void handle_index(void *userdata, struct http_req *req)
{
	serve_file(userdata, req, "index.html");
}

/* GET /assets/NAME: one file of the bundle; names are [A-Za-z0-9._-], no
 * leading dot (no way out of the directory). */
static void handle_asset(void *userdata, struct http_req *req)
{
	const char *name = http_req_param(req, 0);
	char rel[256];

	if (!name || name[0] == '.' ||
	    strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") != strlen(name) ||
	    xsnprintf(rel, sizeof(rel), "assets/%s", name) < 0) {
		security_headers(req);
		return http_reply_error(req, 404, "not_found", "そのパスはありません", "no such path", NULL);
	}
	serve_file(userdata, req, rel);
}

const struct http_route api_web_routes[] = {
        {HTTP_GET, "/", handle_index},
        {HTTP_GET, "/assets/*", handle_asset},
        {HTTP_POST, "/admin/v1/web/logout", handle_logout},
};
const size_t api_web_routes_n = ELEMENTSOF(api_web_routes);
