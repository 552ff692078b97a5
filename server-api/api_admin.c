/* server-api/api_admin.c — the admin API under /admin/v1 (mamori-server,
 * admin listener): bootstrap of the first administrator, sessions, accounts
 * with roles, read-only API tokens, enrollment tokens, terminals and their
 * compliance per requirement ID, events, tamper findings, group policies
 * (upload, then approval by another person: OPS-4), revocation (MDM-3) and
 * the audit trail. Every action that changes something is recorded with who
 * did it, whether it succeeded or was refused.
 *
 * Who may do what (docs/API.md):
 *   viewer    read
 *   operator  read, enrollment tokens, revoke, upload policies
 *   approver  read, upload and approve policies (not their own), audit
 *   ciso      everything, accounts and API tokens
 *   API token read only (GET), as a viewer */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>

#include "alloc-util.h"
#include "api_admin.h"
#include "archive.h"
#include "api_device.h"
#include "api_web.h"
#include "crypto.h"
#include "identity.h"
#include "json-util.h"
#include "log.h"
#include "policy.h"
#include "policy_errors.h"
#include "policy_sign.h"
#include "server.h"
#include "strutil.h"
#include "textdiff.h"
#include "time-util.h"
#include "throttle.h"
#include "workpool.h"

#define PASSWORD_MIN      12
#define PASSWORD_MAX      1024
#define LIST_MAX          1000
#define LIST_DEFAULT      100
#define BEARER_PREFIX     "Bearer "
#define OPS4_CREATED_DAYS 30 /* docs/API.md "OPS-4 by person" */

enum perm {
	P_READ = 1 << 0,
	P_ENROLL = 1 << 1,
	P_REVOKE = 1 << 2,
	P_POLICY_UPLOAD = 1 << 3,
	P_POLICY_APPROVE = 1 << 4,
	P_AUDIT = 1 << 5,
	P_ACCOUNTS = 1 << 6,
};

_Static_assert((int)API_PERM_READ == (int)P_READ && (int)API_PERM_OPERATE == (int)P_REVOKE &&
                       (int)API_PERM_POLICY_APPROVE == (int)P_POLICY_APPROVE && (int)API_PERM_AUDIT == (int)P_AUDIT &&
                       (int)API_PERM_ACCOUNTS == (int)P_ACCOUNTS && (int)API_PERM_POLICY_UPLOAD == (int)P_POLICY_UPLOAD,
               "api_admin.h's permission bits");

static const unsigned role_perms[_ROLE_MAX] = {
        [ROLE_VIEWER] = P_READ,
        [ROLE_OPERATOR] = P_READ | P_ENROLL | P_REVOKE | P_POLICY_UPLOAD,
        [ROLE_APPROVER] = P_READ | P_POLICY_UPLOAD | P_POLICY_APPROVE | P_AUDIT,
        [ROLE_CISO] = P_READ | P_ENROLL | P_REVOKE | P_POLICY_UPLOAD | P_POLICY_APPROVE | P_AUDIT | P_ACCOUNTS,
};

struct actor {
	char name[STORE_ID_MAX + 8]; /* account name or "token:NAME" */
	char token_hash[CRYPTO_SHA256_HEX];
	struct store_cred cred;
};

static void no_memory(struct http_req *req)
{
	http_reply_error(req, 500, "no_memory", "メモリ不足です", "out of memory", NULL);
}

static void store_failed(struct http_req *req, int r)
{
	log_error_errno(r, "store: %m");
	http_reply_error(req, 503, "store_unavailable", "サーバーの記録領域が使えません", "the store is unavailable",
	                 NULL);
}

/* Check the bearer token and the permission; replies and returns negative
 * when refused. */
static int admin_auth(struct server *srv, struct http_req *req, unsigned perm, struct actor *ret)
{
	const char *h = http_req_header(req, "Authorization");
	char web_token[CRYPTO_TOKEN_MAX];
	struct actor a = {0};
	int r;

	/* the dashboard's cookie session (api_web.c: idle time-out, CSRF) */
	if (!h && api_web_has_session_cookie(req)) {
		if (api_web_session(srv, req, web_token) < 0)
			return -EACCES; /* answered */
		h = web_token;
	} else if (!h || strncasecmp(h, BEARER_PREFIX, strlen(BEARER_PREFIX)) != 0 || strlen(h) > 256) {
		/* RFC 7235 2.1: the scheme is case-insensitive ("bearer" too) */
		http_reply_error(req, 401, "unauthenticated", "ログインが必要です (Authorization: Bearer)",
		                 "authentication required (Authorization: Bearer)", NULL);
		return -EACCES;
	} else {
		h += strlen(BEARER_PREFIX);
		/* a dashboard session's token is used only as its cookie, where
		 * the idle time-out and the same-origin checks apply: as a bearer
		 * token it would escape both (a stolen cookie replayed by a
		 * script). web_session_touch answers for web sessions only. */
		r = crypto_sha256_hex(h, strlen(h), a.token_hash);
		if (r == 0)
			r = STORE_CALL(srv->store, web_session_touch, a.token_hash, server_now_us(),
			               srv->cfg.web_idle_s * 1000000);
		if (r == 0 || r == -ETIMEDOUT) {
			server_audit(srv, "web", http_req_path(req), NULL, "refused",
			             "dashboard session token as bearer");
			http_reply_error(req, 401, "unauthenticated",
			                 "ダッシュボードのセッションは Cookie でのみ使えます",
			                 "a dashboard session is used only through its cookie", NULL);
			return -EACCES;
		}
		if (r != -ENOENT) {
			store_failed(req, r);
			return r;
		}
	}
	if ((r = crypto_sha256_hex(h, strlen(h), a.token_hash)) < 0 ||
	    (r = STORE_CALL(srv->store, cred_get, a.token_hash, server_now_us(), &a.cred)) < 0) {
		if (r == -ENOENT) {
			http_reply_error(req, 401, "unauthenticated", "セッションが無効か期限切れです",
			                 "the session or token is invalid or expired", NULL);
			return -EACCES;
		}
		store_failed(req, r);
		return r;
	}
	if (a.cred.kind == CRED_API_TOKEN)
		(void)xsnprintf(a.name, sizeof(a.name), "token:%s", a.cred.principal);
	else
		(void)strscpy(a.name, sizeof(a.name), a.cred.principal);
	if ((a.cred.kind == CRED_API_TOKEN && (http_req_method(req) != HTTP_GET || perm != P_READ)) ||
	    !(role_perms[a.cred.role] & perm)) {
		server_audit(srv, a.name, http_req_path(req), NULL, "forbidden", store_role_to_string(a.cred.role));
		http_reply_error(req, 403, "forbidden", "この操作の権限がありません", "your role does not allow this",
		                 NULL);
		return -EACCES;
	}
	*ret = a;
	return 0;
}

/* The members of each admin body (docs/API.md): nothing else is read. */
static const char *const bootstrap_fields[] = {"secret", "username", "password", "staff_no", "display_name", NULL};
static const char *const login_fields[] = {"username", "password", NULL};
static const char *const password_fields[] = {"old_password", "new_password", NULL};
static const char *const account_fields[] = {"username",     "password",   "role", "staff_no",
                                             "display_name", "department", NULL};
static const char *const api_token_fields[] = {"name", "expires_in_seconds", NULL};
static const char *const enrollment_token_fields[] = {"group", "department", "expires_in_seconds", NULL};
static const char *const revoke_fields[] = {"reason", NULL};
static const char *const department_fields[] = {"department", NULL};
static const char *const group_fields[] = {"name", NULL};

/* The admin API's members that are numbers; every other member of an admin
 * body is a string (valid UTF-8). */
static const char *const number_fields[] = {"expires_in_seconds", NULL};

/* A JSON object whose members are all in `fields` (NULL-terminated), each
 * once and of its type: anything else is refused with 400 and never read as
 * absent (fail closed, issue 19.3). actor/action: who is refused for the
 * audit trail (actor NULL before authentication: not audited). */
static int body_object(struct server *srv, struct http_req *req, const char *actor, const char *action,
                       const char *const *fields, cJSON **ret)
{
	_cleanup_json_ cJSON *b = NULL;
	const cJSON *it;
	const char *u;
	int r = http_req_json(req, SERVER_JSON_SMALL, &b);

	if (r < 0) {
		http_reply_body_error(req, r);
		return r;
	}
	if (!cJSON_IsObject(b)) {
		http_reply_error(req, 400, "invalid", "JSON オブジェクトが必要です", "a JSON object is expected", NULL);
		return -EINVAL;
	}
	if ((u = api_unknown_field(b, fields))) {
		api_refuse_unknown_field(srv, req, actor, action, NULL, u);
		return -EINVAL;
	}
	cJSON_ArrayForEach(it, b)
	{
		bool number = false;

		for (const char *const *n = number_fields; *n && !number; n++)
			number = strcmp(*n, it->string) == 0;
		if (number ? !cJSON_IsNumber(it)
		           : !cJSON_IsString(it) || !utf8_valid(it->valuestring, strlen(it->valuestring))) {
			_cleanup_json_ cJSON *x = cJSON_CreateObject();
			char en[128];

			(void)xsnprintf(en, sizeof(en), "%s: a %s is expected", it->string,
			                number ? "number" : "string (UTF-8)");
			if (x)
				cJSON_AddStringToObject(x, "field", it->string);
			http_reply_error(req, 400, "invalid",
			                 number ? "数値が必要な項目です" : "文字列が必要な項目です", en, x);
			return -EINVAL;
		}
	}
	*ret = TAKE_PTR(b);
	return 0;
}

static const char *get_str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) && v->valuestring && utf8_valid(v->valuestring, strlen(v->valuestring))
	               ? v->valuestring
	               : NULL;
}

static int get_int(const cJSON *o, const char *key, int64_t min, int64_t max, int64_t dflt, int64_t *ret)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!v) {
		*ret = dflt;
		return 0;
	}
	if (!cJSON_IsNumber(v) || v->valuedouble < (double)min || v->valuedouble > (double)max ||
	    (double)(int64_t)v->valuedouble != v->valuedouble)
		return -EINVAL;
	*ret = (int64_t)v->valuedouble;
	return 0;
}

static bool name_valid(const char *s, bool lower_only)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (!lower_only && c >= 'A' && c <= 'Z');

		if (!ok && (i == 0 || !(c == '-' || c == '_' || (!lower_only && c == '.'))))
			return false;
	}
	return true;
}

/* A department (部署, issue 15) as a city names it: "総務課", "会計課 出納係".
 * 1..96 bytes of valid UTF-8 with no control character (C0, DEL, C1); the
 * dashboard shows it as text. */
bool api_admin_department_valid(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > 96 || !utf8_valid(s, n))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f || (c == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] < 0xa0))
			return false;
	}
	return true;
}

/* ---- bootstrap, login, logout ----------------------------------------------------------- */

static int new_session(struct server *srv, const char *user, enum store_role role, char token[CRYPTO_TOKEN_MAX],
                       int64_t *ret_expires)
{
	struct store_cred c = {.kind = CRED_SESSION, .role = role};
	char th[CRYPTO_SHA256_HEX];
	int64_t now = server_now_us();
	int r;

	(void)strscpy(c.principal, sizeof(c.principal), user);
	c.expires_us = now + srv->cfg.session_seconds * 1000000;
	if ((r = crypto_token("ms1_", token)) < 0 || (r = crypto_sha256_hex(token, strlen(token), th)) < 0)
		return r;
	r = STORE_CALL(srv->store, cred_add, th, &c, user, now);
	if (r == 0)
		*ret_expires = c.expires_us;
	return r;
}

static bool password_ok(const char *pw)
{
	size_t n = pw ? strlen(pw) : 0;

	return n >= PASSWORD_MIN && n <= PASSWORD_MAX;
}

/* ---- password work off the loop ------------------------------------------------------------ */

/* One scrypt job: verify `pw` against `enc` (when pw is set), then — if that
 * matched or there was nothing to verify — hash `newpw` (when set). Runs on
 * the worker pool; finish() runs on the loop with the results. */
struct pwjob {
	struct server *srv;
	struct http_req *req;
	char *pw, *newpw;
	char enc[256];
	int verify_r, hash_r;
	char hash[CRYPTO_PWHASH_MAX];
	bool async, known;
	char user[STORE_ID_MAX], key[STORE_ID_MAX * 2], peer[HTTP_PEER_MAX], src_key[64];
	struct store_account acc; /* account creation: the account to add */
	struct actor actor;
	enum store_role role;
	void (*finish)(struct pwjob *j);
};

static void free_secret(char *s)
{
	if (s) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
}

static void pwjob_free(struct pwjob *j)
{
	if (!j)
		return;
	free_secret(j->pw);
	free_secret(j->newpw);
	OPENSSL_cleanse(j->hash, sizeof(j->hash));
	free(j);
}

static void pwjob_work(void *ctx)
{
	struct pwjob *j = ctx;

	j->verify_r = j->pw ? crypto_password_verify(j->pw, j->enc) : 0;
	j->hash_r = j->newpw && j->verify_r == 0 ? crypto_password_hash(j->newpw, j->hash) : 0;
}

static void pwjob_done(void *ctx, int cancelled)
{
	struct pwjob *j = ctx;

	if (cancelled)
		http_reply_error(j->req, 503, "shutting_down", "サーバーを停止しています", "the server is stopping",
		                 NULL);
	else
		j->finish(j);
	if (j->async)
		http_req_release(j->req);
	pwjob_free(j);
}

/* Run j (owned from here on): on the pool when there is one, answering 503
 * busy when its queue is full. */
static void pwjob_run(struct pwjob *j)
{
	int r;

	if (!j->srv->pool) {
		pwjob_work(j);
		pwjob_done(j, 0);
		return;
	}
	r = workpool_submit(j->srv->pool, pwjob_work, pwjob_done, j);
	if (r < 0) {
		http_add_header(j->req, "Retry-After", "1");
		http_reply_error(j->req, 503, "busy", "混み合っています。しばらくしてから再試行してください",
		                 "the server is busy, try again shortly", NULL);
		pwjob_free(j);
		return;
	}
	j->async = true;
	http_req_defer(j->req);
}

static struct pwjob *pwjob_new(struct server *srv, struct http_req *req, const char *pw, const char *newpw)
{
	struct pwjob *j = calloc(1, sizeof(*j));

	if (!j)
		return NULL;
	j->srv = srv, j->req = req;
	if ((pw && !(j->pw = strdup(pw))) || (newpw && !(j->newpw = strdup(newpw)))) {
		pwjob_free(j);
		return NULL;
	}
	return j;
}

/* A hash in our format that no password matches: unknown user names cost one
 * scrypt like known ones (no timing oracle). */
static const char *dummy_hash(void)
{
	static char h[CRYPTO_PWHASH_MAX];

	if (!h[0])
		(void)xsnprintf(h, sizeof(h), "scrypt$%u$%u$%u$%s$%s", CRYPTO_SCRYPT_LOG2N, CRYPTO_SCRYPT_R,
		                CRYPTO_SCRYPT_P, "bWFtb3JpLWR1bW15LXNhbHQ",
		                "bm8tcGFzc3dvcmQtbWF0Y2hlcy10aGlzLWR1bW15LWg");
	return h;
}

/* The key an account name is found and throttled by: NFKC + case folding
 * (identity.h), so that CISO and ciso are one account. */
static int account_key(const char *user, char buf[STORE_ID_MAX * 2])
{
	return identity_key(user, buf, STORE_ID_MAX * 2);
}

/* Login throttles (throttle.h), kept in the store so that every instance
 * counts the same failures (issue 18.3). An address: 20 failures, then one
 * every 30 s; locks of 30 s doubling to 15 min. An account: 5 failures (one
 * forgotten per 5 min), then locks of 1 min doubling to 15 min. */
#define THROTTLE_SRC  "src"
#define THROTTLE_ACCT "acct"
static const struct throttle_policy throttle_src = {20, 30 * 1000000LL, 30 * 1000000LL, 900 * 1000000LL};
static const struct throttle_policy throttle_acct = {5, 300 * 1000000LL, 60 * 1000000LL, 900 * 1000000LL};

static void count_failure(struct server *srv, const char *kind, const char *key)
{
	int r = STORE_CALL(srv->store, throttle_fail, kind, key,
	                   strcmp(kind, THROTTLE_SRC) == 0 ? &throttle_src : &throttle_acct, server_now_us());

	if (r < 0)
		log_error_errno(r, "store: cannot count a failed login (%s): %m", kind);
}

/* This instance's fast path for a flood of refused logins: the keys the
 * store said were locked, and until when. It only ever refuses: a key
 * found here is answered 429 without asking the store, a key not here (or
 * whose lock has ended) is asked. The store never shortens a lock (only a
 * success clears an account, and a locked account cannot log in), so the
 * answer is the store's; in the one race (a login whose password was being
 * checked when another instance locked the account succeeds and clears
 * it), this instance goes on refusing until the lock it saw ends — at most
 * the longest lock (15 min), never an attempt more. Fixed size: when full,
 * the entry whose lock ends first is replaced. */
#define LOCK_CACHE_MAX 256
static struct {
	char key[STORE_ID_MAX * 2 + 8]; /* "kind:key"; "" = free */
	int64_t until_us;
} lock_cache[LOCK_CACHE_MAX];

static int64_t lock_cached(const char *kind, const char *key, int64_t now)
{
	char k[sizeof(lock_cache[0].key)];

	if (xsnprintf(k, sizeof(k), "%s:%s", kind, key) < 0)
		return 0;
	for (size_t i = 0; i < LOCK_CACHE_MAX; i++)
		if (lock_cache[i].key[0] && strcmp(lock_cache[i].key, k) == 0)
			return lock_cache[i].until_us > now ? lock_cache[i].until_us - now : 0;
	return 0;
}

static void lock_remember(const char *kind, const char *key, int64_t until_us)
{
	char k[sizeof(lock_cache[0].key)];
	size_t slot = 0;

	if (xsnprintf(k, sizeof(k), "%s:%s", kind, key) < 0)
		return;
	for (size_t i = 0; i < LOCK_CACHE_MAX; i++) {
		if (!lock_cache[i].key[0] || strcmp(lock_cache[i].key, k) == 0) {
			slot = i;
			break;
		}
		if (lock_cache[i].until_us < lock_cache[slot].until_us)
			slot = i;
	}
	(void)strscpy(lock_cache[slot].key, sizeof(lock_cache[slot].key), k);
	lock_cache[slot].until_us = until_us;
}

/* The wait before key may try (0: now), from the fast path or the store. */
static int throttle_wait(struct server *srv, const char *kind, const char *key, int64_t now, int64_t *ret)
{
	int64_t w = lock_cached(kind, key, now);
	int r = 0;

	if (w == 0 && (r = STORE_CALL(srv->store, throttle_check, kind, key, now, &w)) == 0 && w > 0)
		lock_remember(kind, key, now + w);
	*ret = w;
	return r;
}

/* Answer 429 (and count it) when the client's address or the account is
 * locked; 503 when the store cannot say (fail closed). */
static bool throttled(struct server *srv, struct http_req *req, const char *src_key, const char *acct_key,
                      const char *peer)
{
	int64_t now = server_now_us(), w1 = 0, w2 = 0, w;
	int r = throttle_wait(srv, THROTTLE_SRC, src_key, now, &w1);

	if (r == 0 && w1 == 0 && acct_key)
		r = throttle_wait(srv, THROTTLE_ACCT, acct_key, now, &w2);
	if (r < 0) {
		store_failed(req, r);
		return true;
	}
	w = w1 > w2 ? w1 : w2;
	char ra[24];

	if (w <= 0)
		return false;
	if (!srv->login_agg.unknown && !srv->login_agg.locked)
		srv->login_agg.since_us = now;
	srv->login_agg.locked++;
	(void)strscpy(srv->login_agg.last_source, sizeof(srv->login_agg.last_source), peer);
	(void)xsnprintf(ra, sizeof(ra), "%" PRId64, (w + 999999) / 1000000);
	http_add_header(req, "Retry-After", ra);
	http_reply_error(req, 429, "too_many_attempts",
	                 "失敗が多すぎるため一時的にロックされています。Retry-After 秒後に再試行してください",
	                 "too many failed attempts: locked for now, retry after Retry-After seconds", NULL);
	return true;
}

/* The person an account belongs to, from a request body: staff_no (NFKC
 * folded: [0-9a-z-], 1..32) and display_name (NFKC, 1..64 bytes, no control
 * characters). required = false: both may be absent (bootstrap). Fills the
 * name, the keys and the identity of *ret; -EINVAL if invalid. */
static int person_from(const cJSON *body, const char *user, bool required, struct store_account *ret)
{
	const char *staff = get_str(body, "staff_no"), *disp = get_str(body, "display_name");
	struct store_account a = {0};

	if (account_key(user, a.name_key) < 0)
		return -EINVAL;
	(void)strscpy(a.username, sizeof(a.username), user);
	if (!staff && !disp && !required) {
		*ret = a;
		return 0;
	}
	if (!staff || !disp || strlen(staff) > 64 || strlen(disp) > 64 ||
	    identity_key(staff, a.staff_key, sizeof(a.staff_key)) < 0 ||
	    identity_nfkc(disp, a.display_name, sizeof(a.display_name)) < 0 || !a.staff_key[0] ||
	    strlen(a.staff_key) > 32 ||
	    strspn(a.staff_key, "0123456789abcdefghijklmnopqrstuvwxyz-") != strlen(a.staff_key) || !a.display_name[0] ||
	    strlen(a.display_name) > 64)
		return -EINVAL;
	for (const unsigned char *c = (const unsigned char *)a.display_name; *c; c++)
		if (*c < 0x20 || *c == 0x7f)
			return -EINVAL;
	(void)strscpy(a.staff_no, sizeof(a.staff_no), a.staff_key);
	*ret = a;
	return 0;
}

/* OPS-4, by person (docs/API.md): may `approver` approve what `requester`
 * asked for? Not the same account, not the same person (staff number), and
 * not an account the approver created in the last OPS4_CREATED_DAYS days (a
 * CISO could otherwise create a second identity and approve with it).
 * 0 yes, -EPERM no (why says which rule), or the store's error. */
static int ops4_allowed(struct server *srv, const char *approver, const char *requester, const char **why)
{
	struct store_account ap, rq;
	char k[STORE_ID_MAX * 2];
	int r;

	if (strcmp(approver, requester) == 0) {
		*why = "OPS-4: requester cannot approve";
		return -EPERM;
	}
	if (account_key(approver, k) < 0 || (r = STORE_CALL(srv->store, account_get, k, &ap)) < 0)
		return -EPERM; /* an API token or an account that is gone approves nothing */
	if (account_key(requester, k) < 0)
		return -EPERM;
	r = STORE_CALL(srv->store, account_get, k, &rq);
	if (r == -ENOENT)
		return 0; /* the requester's account is gone: it is someone else */
	if (r < 0)
		return r;
	if (strcmp(ap.name_key, rq.name_key) == 0 || (ap.staff_key[0] && strcmp(ap.staff_key, rq.staff_key) == 0)) {
		*why = "OPS-4: the same person (staff number) requested it";
		return -EPERM;
	}
	if (strcmp(rq.created_by, ap.username) == 0 &&
	    server_now_us() - rq.created_us < (int64_t)OPS4_CREATED_DAYS * 86400 * 1000000) {
		*why = "OPS-4: requested by an account the approver created recently";
		return -EPERM;
	}
	return 0;
}

static void bootstrap_finish(struct pwjob *j)
{
	struct server *srv = j->srv;
	struct http_req *req = j->req;
	_cleanup_json_ cJSON *out = NULL;
	struct store_account a = {.role = ROLE_CISO};
	char stored[CRYPTO_PWHASH_MAX];
	uint64_t n = 0;
	int r;

	if (j->verify_r != 0) {
		count_failure(srv, THROTTLE_SRC, j->src_key);
		server_audit(srv, "bootstrap", "account.bootstrap", j->user, "refused", "wrong secret");
		return http_reply_error(req, 403, "wrong_secret", "ブートストラップ秘密が違います",
		                        "wrong bootstrap secret", NULL);
	}
	if (j->hash_r < 0)
		return store_failed(req, j->hash_r);
	/* another bootstrap may have won while this one was hashing */
	r = STORE_CALL(srv->store, account_count, &n);
	if (r < 0)
		return store_failed(req, r);
	r = STORE_CALL(srv->store, meta_get, "bootstrap_secret", stored, sizeof(stored));
	if (n > 0 || r == -ENOENT) {
		server_audit(srv, "bootstrap", "account.bootstrap", j->user, "refused", "already used");
		return http_reply_error(req, 403, "bootstrap_used", "初期管理者はすでに作成済みです",
		                        "the first administrator was already created", NULL);
	}
	a = j->acc;
	a.role = ROLE_CISO;
	(void)strscpy(a.pwhash, sizeof(a.pwhash), j->hash);
	a.created_us = server_now_us();
	if ((r = STORE_CALL(srv->store, account_add, &a)) < 0 ||
	    (r = STORE_CALL(srv->store, meta_delete, "bootstrap_secret")) < 0)
		return store_failed(req, r);
	server_audit(srv, "bootstrap", "account.bootstrap", j->user, "ok", "ciso");
	out = cJSON_CreateObject();
	if (!out || !cJSON_AddStringToObject(out, "username", j->user) ||
	    !cJSON_AddStringToObject(out, "role", "ciso") || !cJSON_AddStringToObject(out, "staff_no", a.staff_no) ||
	    !cJSON_AddStringToObject(out, "display_name", a.display_name) ||
	    !cJSON_AddStringToObject(out, "status", "active"))
		return no_memory(req);
	http_reply_json(req, 201, out);
}

static void handle_bootstrap(void *userdata, struct http_req *req)
{
	struct server *srv = userdata;
	_cleanup_json_ cJSON *body = NULL;
	const char *secret, *user, *pw;
	struct store_account acc;
	char stored[CRYPTO_PWHASH_MAX], peer[HTTP_PEER_MAX] = "?", src_key[64];
	struct pwjob *j;
	uint64_t n = 0;
	int r;

	if (body_object(srv, req, NULL, "account.bootstrap", bootstrap_fields, &body) < 0)
		return;
	secret = get_str(body, "secret");
	user = get_str(body, "username");
	pw = get_str(body, "password");
	if (!secret || strlen(secret) > 256 || !name_valid(user, false) || !password_ok(pw) ||
	    person_from(body, user, false, &acc) < 0) {
		server_audit(srv, "bootstrap", "account.bootstrap", user, "refused", "invalid request");
		return http_reply_error(req, 400, "invalid", "secret, username, password (12 文字以上) が必要です",
		                        "secret, username and password (12 characters or more) are required", NULL);
	}
	(void)http_req_peer(req, peer);
	throttle_addr_key(peer, src_key);
	if (throttled(srv, req, src_key, NULL, peer))
		return;
	r = STORE_CALL(srv->store, account_count, &n);
	if (r < 0)
		return store_failed(req, r);
	r = STORE_CALL(srv->store, meta_get, "bootstrap_secret", stored, sizeof(stored));
	if (n > 0 || r == -ENOENT) {
		server_audit(srv, "bootstrap", "account.bootstrap", user, "refused", "already used");
		return http_reply_error(req, 403, "bootstrap_used", "初期管理者はすでに作成済みです",
		                        "the first administrator was already created", NULL);
	}
	if (r < 0)
		return store_failed(req, r);
	j = pwjob_new(srv, req, secret, pw);
	if (!j)
		return no_memory(req);
	(void)strscpy(j->enc, sizeof(j->enc), stored);
	(void)strscpy(j->user, sizeof(j->user), user);
	(void)strscpy(j->src_key, sizeof(j->src_key), src_key);
	j->acc = acc;
	j->finish = bootstrap_finish;
	pwjob_run(j);
}

static void login_finish(struct pwjob *j)
{
	struct server *srv = j->srv;
	struct http_req *req = j->req;
	_cleanup_json_ cJSON *out = NULL;
	struct store_account a;
	char token[CRYPTO_TOKEN_MAX], exp[32];
	int64_t expires = 0, now = server_now_us();
	int r;

	if (!j->known || j->verify_r != 0) {
		if (j->verify_r == -EINVAL && j->known)
			log_error("account %s: the stored password hash is not in our format", j->user);
		count_failure(srv, THROTTLE_SRC, j->src_key);
		count_failure(srv, THROTTLE_ACCT, j->key);
		if (j->known) {
			char detail[128];

			(void)xsnprintf(detail, sizeof(detail), "wrong password (from %s)", j->peer);
			server_audit(srv, j->user, "session.login", j->user, "refused", detail);
		} else {
			/* invented names are counted, not written one by one: they
			 * cannot push real actions out of the audit trail */
			if (!srv->login_agg.unknown && !srv->login_agg.locked)
				srv->login_agg.since_us = now;
			srv->login_agg.unknown++;
			(void)strscpy(srv->login_agg.last_source, sizeof(srv->login_agg.last_source), j->peer);
		}
		return http_reply_error(req, 401, "bad_credentials", "ユーザー名またはパスワードが違います",
		                        "wrong user name or password", NULL);
	}
	/* the account as it is now (it may have changed while hashing) */
	r = STORE_CALL(srv->store, account_get, j->key, &a);
	if (r == -ENOENT)
		return http_reply_error(req, 401, "bad_credentials", "ユーザー名またはパスワードが違います",
		                        "wrong user name or password", NULL);
	if (r < 0)
		return store_failed(req, r);
	if ((r = STORE_CALL(srv->store, throttle_clear, THROTTLE_ACCT, j->key)) < 0)
		log_error_errno(r, "store: cannot clear an account's throttle: %m");
	if (a.pending) {
		server_audit(srv, a.username, "session.login", a.username, "refused", "account pending approval");
		return http_reply_error(req, 403, "account_pending", "このアカウントは別の CISO の承認待ちです (OPS-4)",
		                        "this account waits for a second CISO's approval (OPS-4)", NULL);
	}
	if (a.disabled) {
		server_audit(srv, a.username, "session.login", a.username, "refused", "account disabled");
		return http_reply_error(req, 403, "account_disabled", "このアカウントは無効にされています",
		                        "this account is disabled", NULL);
	}
	r = new_session(srv, a.username, a.role, token, &expires);
	if (r < 0)
		return store_failed(req, r);
	server_audit(srv, a.username, "session.login", a.username, "ok", j->peer);
	if (api_web_login_wanted(req)) /* the dashboard: an HttpOnly cookie, no token in the body */
		return api_web_login_reply(srv, req, token, expires, store_role_to_string(a.role), a.username);
	server_format_time(expires, exp);
	out = cJSON_CreateObject();
	if (!out || !cJSON_AddStringToObject(out, "token", token) || !cJSON_AddStringToObject(out, "expires_at", exp) ||
	    !cJSON_AddStringToObject(out, "role", store_role_to_string(a.role)))
		return no_memory(req);
	http_reply_json(req, 200, out);
}

static void handle_login(void *userdata, struct http_req *req)
{
	struct server *srv = userdata;
	_cleanup_json_ cJSON *body = NULL;
	struct store_account a;
	const char *user, *pw;
	char peer[HTTP_PEER_MAX] = "?", src_key[64], key[STORE_ID_MAX * 2];
	struct pwjob *j;
	int r;

	if (body_object(srv, req, NULL, "account.login", login_fields, &body) < 0)
		return;
	user = get_str(body, "username");
	pw = get_str(body, "password");
	(void)http_req_peer(req, peer);
	throttle_addr_key(peer, src_key);
	if (!name_valid(user, false) || !pw || strlen(pw) > PASSWORD_MAX || account_key(user, key) < 0) {
		/* no account can have such a name: no hash to hide anything behind */
		count_failure(srv, THROTTLE_SRC, src_key);
		if (!srv->login_agg.unknown && !srv->login_agg.locked)
			srv->login_agg.since_us = server_now_us();
		srv->login_agg.unknown++;
		(void)strscpy(srv->login_agg.last_source, sizeof(srv->login_agg.last_source), peer);
		return http_reply_error(req, 401, "bad_credentials", "ユーザー名またはパスワードが違います",
		                        "wrong user name or password", NULL);
	}
	if (throttled(srv, req, src_key, key, peer))
		return;
	r = STORE_CALL(srv->store, account_get, key, &a);
	if (r < 0 && r != -ENOENT)
		return store_failed(req, r);
	j = pwjob_new(srv, req, pw, NULL);
	if (!j)
		return no_memory(req);
	j->known = r == 0;
	(void)strscpy(j->enc, sizeof(j->enc), j->known ? a.pwhash : dummy_hash());
	(void)strscpy(j->user, sizeof(j->user), user);
	(void)strscpy(j->key, sizeof(j->key), key);
	(void)strscpy(j->peer, sizeof(j->peer), peer);
	(void)strscpy(j->src_key, sizeof(j->src_key), src_key);
	j->finish = login_finish;
	pwjob_run(j);
}

static void handle_logout(void *userdata, struct http_req *req)
{
	struct server *srv = userdata;
	struct actor a;
	int r;

	if (admin_auth(srv, req, P_READ, &a) < 0)
		return;
	if (api_no_body(srv, req, a.name, http_req_path(req), NULL) < 0)
		return;
	if (a.cred.kind != CRED_SESSION)
		return http_reply_error(req, 400, "not_a_session", "API トークンはログアウトできません",
		                        "an API token is not a session", NULL);
	r = STORE_CALL(srv->store, cred_delete, a.token_hash);
	if (r < 0)
		return store_failed(req, r);
	server_audit(srv, a.name, "session.logout", a.name, "ok", NULL);
	http_reply_json(req, 204, NULL);
}

/* ---- sessions and API tokens: list and end (issue 17.6) ---------------------------------------- */

struct cred_page {
	cJSON *arr;
	const char *current_id; /* the caller's own session */
};

static int cred_cb(const struct store_cred_row *c, void *userdata)
{
	struct cred_page *pg = userdata;
	cJSON *o = cJSON_CreateObject();
	char created[32], exp[32];
	bool session = c->cred.kind == CRED_SESSION;

	server_format_time(c->created_us, created);
	server_format_time(c->cred.expires_us, exp);
	if (!o || !cJSON_AddItemToArray(pg->arr, o) || !cJSON_AddStringToObject(o, "id", c->id) ||
	    !cJSON_AddStringToObject(o, session ? "username" : "name", c->cred.principal) ||
	    (session && !cJSON_AddStringToObject(o, "role", store_role_to_string(c->cred.role) ?: "invalid")) ||
	    (!session && !cJSON_AddStringToObject(o, "created_by", c->created_by ?: "")) ||
	    !cJSON_AddStringToObject(o, "created_at", created) || !cJSON_AddStringToObject(o, "expires_at", exp) ||
	    (session && !cJSON_AddBoolToObject(o, "current", pg->current_id && strcmp(pg->current_id, c->id) == 0)))
		return -ENOMEM;
	return 0;
}

/* 200 {"sessions"|"api_tokens": [...]}: the unexpired ones of `principal`
 * (NULL = everyone's). Never a token nor the hash it is found by. */
static void cred_list_reply(struct server *srv, struct http_req *req, const struct actor *a, enum store_cred_kind kind,
                            const char *principal)
{
	_cleanup_json_ cJSON *out = cJSON_CreateObject();
	char cur[STORE_CRED_ID_LEN + 1];
	struct cred_page pg = {.current_id = cur};
	int r;

	(void)strscpy(cur, sizeof(cur), a->token_hash);
	if (!out || !(pg.arr = cJSON_AddArrayToObject(out, kind == CRED_SESSION ? "sessions" : "api_tokens")))
		return no_memory(req);
	r = STORE_CALL(srv->store, cred_list, kind, principal, server_now_us(), cred_cb, &pg);
	if (r < 0)
		return r == -ENOMEM ? no_memory(req) : store_failed(req, r);
	http_reply_json(req, 200, out);
}

/* GET /admin/v1/sessions[?account=NAME|?all=true]: one's own sessions; a
 * ciso may list another account's or everyone's. */
static void handle_sessions(void *userdata, struct http_req *req)
{
	struct server *srv = userdata;
	const char *account = http_req_query(req, "account"), *all = http_req_query(req, "all");
	struct actor a;

	if (admin_auth(srv, req, P_READ, &a) < 0)
		return;
	if (a.cred.kind != CRED_SESSION) {
		server_audit(srv, a.name, "session.list", NULL, "refused", "an API token has no sessions");
		return http_reply_error(req, 403, "forbidden", "API トークンにはセッションがありません",
		                        "an API token has no sessions", NULL);
	}
	if (all && strcmp(all, "true") != 0) {
		server_audit(srv, a.name, "session.list", NULL, "refused", "invalid query");
		return http_reply_error(req, 400, "invalid", "all は true のみです", "all may only be true", NULL);
	}
	if ((all || (account && strcmp(account, a.name) != 0)) && !(role_perms[a.cred.role] & P_ACCOUNTS)) {
		server_audit(srv, a.name, "session.list", all ? "*" : account, "refused", "not a ciso");
		return http_reply_error(req, 403, "forbidden", "他のアカウントのセッションは CISO のみ見られます",
		                        "only a ciso may see other accounts' sessions", NULL);
	}
	cred_list_reply(srv, req, &a, CRED_SESSION, all ? NULL : account ?: a.name);
}

/* DELETE /admin/v1/sessions/{id}: end one's own session, or (ciso) anyone's:
 * its token is refused from the next request on. */
static void handle_session_kill(void *userdata, struct http_req *req)
{
	struct server *srv = userdata;
	const char *id = http_req_param(req, 0);
	char who[STORE_ID_MAX] = "", detail[48];
	bool ciso;
	struct actor a;
	int r;

	if (admin_auth(srv, req, P_READ, &a) < 0)
		return;
	if (api_no_body(srv, req, a.name, http_req_path(req), NULL) < 0)
		return;
	if (a.cred.kind != CRED_SESSION) {
		server_audit(srv, a.name, "session.kill", id, "refused", "an API token has no sessions");
		return http_reply_error(req, 403, "forbidden", "API トークンにはセッションがありません",
		                        "an API token has no sessions", NULL);
	}
	ciso = role_perms[a.cred.role] & P_ACCOUNTS;
	(void)xsnprintf(detail, sizeof(detail), "session %.16s", id);
	r = STORE_CALL(srv->store, cred_revoke, CRED_SESSION, id, ciso ? NULL : a.name, who);
	if (r == -ENOENT) {
		server_audit(srv, a.name, "session.kill", NULL, "refused", detail);
		return http_reply_error(req, 404, "not_found", "そのセッションはありません", "no such session", NULL);
	}
	if (r < 0)
		return store_failed(req, r);
	server_audit(srv, a.name, "session.kill", who, "ok", detail);
	http_reply_json(req, 204, NULL);
}

/* DELETE /admin/v1/api-tokens/{id} (ciso): the token is refused from its next
 * request on. */
static void handle_api_token_revoke(void *userdata, struct http_req *req)
{
	struct server *srv = userdata;
	const char *id = http_req_param(req, 0);
	char name[STORE_ID_MAX] = "", detail[48];
	struct actor a;
	int r;

	if (admin_auth(srv, req, P_ACCOUNTS, &a) < 0)
		return;
	if (api_no_body(srv, req, a.name, http_req_path(req), NULL) < 0)
		return;
	(void)xsnprintf(detail, sizeof(detail), "token %.16s", id);
	r = STORE_CALL(srv->store, cred_revoke, CRED_API_TOKEN, id, NULL, name);
	if (r == -ENOENT) {
		server_audit(srv, a.name, "api_token.revoke", NULL, "refused", detail);
		return http_reply_error(req, 404, "not_found", "その API トークンはありません", "no such API token",
		                        NULL);
	}
	if (r < 0)
		return store_failed(req, r);
	server_audit(srv, a.name, "api_token.revoke", name, "ok", detail);
	http_reply_json(req, 204, NULL);
}

int api_admin_auth(struct server *srv, struct http_req *req, unsigned perm, char actor[API_ACTOR_MAX],
                   enum store_role *ret_role)
{
	struct actor a;
	int r = admin_auth(srv, req, perm, &a);

	if (r < 0)
		return r;
	(void)strscpy(actor, API_ACTOR_MAX, a.name);
	if (ret_role)
		*ret_role = a.cred.kind == CRED_API_TOKEN ? ROLE_VIEWER : a.cred.role;
	return 0;
}

void api_admin_no_memory(struct http_req *req)
{
	no_memory(req);
}

void api_admin_store_failed(struct http_req *req, int r)
{
	store_failed(req, r);
}

int api_admin_ops4_allowed(struct server *srv, const char *approver, const char *requester, const char **why)
{
	return ops4_allowed(srv, approver, requester, why);
}

int api_admin_ops4_check(struct server *srv, struct http_req *req, const char *actor, const char *requester,
                         const char *action, const char *target)
{
	const char *why = "";
	int r = ops4_allowed(srv, actor, requester, &why);

	if (r == 0)
		return 0;
	if (r != -EPERM) {
		store_failed(req, r);
		return r;
	}
	server_audit(srv, actor, action, target, "refused", why);
	http_reply_error(req, 403, "same_person",
	                 "依頼・申請した本人 (同じ職員番号) や、最近そのアカウントを作成した人は承認できません。"
	                 "別の承認者が必要です (OPS-4)",
	                 "the requester (same staff number), or whoever recently created the requester's "
	                 "account, cannot approve (OPS-4)",
	                 NULL);
	return -EPERM;
}

int api_admin_actor_department(struct server *srv, const char *actor, char dept[STORE_ID_MAX])
{
	struct store_account a;
	char k[STORE_ID_MAX * 2];
	int r;

	dept[0] = '\0';
	if (strncmp(actor, "token:", 6) == 0 || account_key(actor, k) < 0 ||
	    (r = STORE_CALL(srv->store, account_get, k, &a)) == -ENOENT)
		return -ENOENT; /* an API token, or an account that is gone */
	if (r < 0)
		return r;
	if (a.disabled || a.pending)
		return -ENOENT;
	if (a.role == ROLE_CISO || strcmp(a.department, "*") == 0)
		return 1;
	if (!a.department[0])
		return -ENOENT;
	(void)strscpy(dept, STORE_ID_MAX, a.department);
	return 0;
}

bool api_admin_role_may(enum store_role role, unsigned perm)
{
	return role >= 0 && role < _ROLE_MAX && (role_perms[role] & perm) == perm;
}

/* ---- accounts and API tokens ----------------------------------------------------------------- */

static int account_cb(const struct store_account *acc, void *userdata)
{
	cJSON *arr = userdata, *o = cJSON_CreateObject();
	char t[32];

	server_format_time(acc->created_us, t);
	if (!o || !cJSON_AddItemToArray(arr, o) || !cJSON_AddStringToObject(o, "username", acc->username) ||
	    !cJSON_AddStringToObject(o, "role", store_role_to_string(acc->role) ?: "invalid") ||
	    !cJSON_AddStringToObject(o, "created_at", t) || !cJSON_AddStringToObject(o, "staff_no", acc->staff_no) ||
	    !cJSON_AddStringToObject(o, "display_name", acc->display_name) ||
	    !cJSON_AddStringToObject(o, "created_by", acc->created_by) ||
	    !cJSON_AddStringToObject(o, "department", acc->department) ||
	    !cJSON_AddStringToObject(o, "status",
	                             acc->disabled  ? "disabled"
	                             : acc->pending ? "pending"
	                                            : "active"))
		return -ENOMEM;
	return 0;
}

static void account_create_finish(struct pwjob *j)
{
	struct server *srv = j->srv;
	struct http_req *req = j->req;
	_cleanup_json_ cJSON *out = NULL;
	struct store_account acc = j->acc;
	const char *role = store_role_to_string(acc.role);
	int r = j->hash_r;

	(void)strscpy(acc.pwhash, sizeof(acc.pwhash), j->hash);
	acc.created_us = server_now_us();
	if (r == 0)
		r = STORE_CALL(srv->store, account_add, &acc);
	if (r == -EEXIST) {
		server_audit(srv, j->actor.name, "account.create", acc.username, "refused",
		             "name or staff number taken");
		return http_reply_error(
		        req, 409, "exists",
		        "そのユーザー名または職員番号はすでに使われています (大文字・全角も同じとみなします)",
		        "that user name or staff number is taken (case and width do not count)", NULL);
	}
	if (r < 0)
		return store_failed(req, r);
	server_audit(srv, j->actor.name, "account.create", acc.username, acc.pending ? "pending" : "ok", role);
	out = cJSON_CreateObject();
	if (!out || !cJSON_AddStringToObject(out, "username", acc.username) ||
	    !cJSON_AddStringToObject(out, "role", role) || !cJSON_AddStringToObject(out, "staff_no", acc.staff_no) ||
	    !cJSON_AddStringToObject(out, "display_name", acc.display_name) ||
	    !cJSON_AddStringToObject(out, "department", acc.department) ||
	    !cJSON_AddStringToObject(out, "status", acc.pending ? "pending" : "active"))
		return no_memory(req);
	http_reply_json(req, 201, out);
}

/* A ciso disables an account (not their own): it cannot log in and its
 * sessions end at once. */
static void handle_account_disable(void *userdata, struct http_req *req)
{
	struct server *srv = userdata;
	_cleanup_json_ cJSON *out = NULL;
	const char *name = http_req_param(req, 0);
	struct store_account acc;
	char key[STORE_ID_MAX * 2];
	unsigned n = 0;
	struct actor a;
	int r;

	if (admin_auth(srv, req, P_ACCOUNTS, &a) < 0)
		return;
	if (api_no_body(srv, req, a.name, http_req_path(req), NULL) < 0)
		return;
	if (!name_valid(name, false) || account_key(name, key) < 0 ||
	    (r = STORE_CALL(srv->store, account_get, key, &acc)) == -ENOENT) {
		server_audit(srv, a.name, "account.disable", name, "refused", "no such account");
		return http_reply_error(req, 404, "not_found", "そのアカウントはありません", "no such account", NULL);
	}
	if (r < 0)
		return store_failed(req, r);
	if (strcmp(acc.username, a.name) == 0) {
		server_audit(srv, a.name, "account.disable", acc.username, "refused", "own account");
		return http_reply_error(req, 409, "own_account", "自分のアカウントは無効にできません",
		                        "you cannot disable your own account", NULL);
	}
	r = STORE_CALL(srv->store, account_disable, acc.username, &n);
	if (r == -ENOENT) {
		server_audit(srv, a.name, "account.disable", acc.username, "refused", "already disabled");
		return http_reply_error(req, 409, "already_disabled", "すでに無効です", "already disabled", NULL);
	}
	if (r < 0)
		return store_failed(req, r);
	server_audit(srv, a.name, "account.disable", acc.username, "ok", NULL);
	out = cJSON_CreateObject();
	if (!out || !cJSON_AddStringToObject(out, "username", acc.username) ||
	    !cJSON_AddStringToObject(out, "status", "disabled") || !cJSON_AddNumberToObject(out, "sessions_ended", n))
		return no_memory(req);
	http_reply_json(req, 200, out);
}

static void password_finish(struct pwjob *j)
{
	struct server *srv = j->srv;
	int r = 0;

	if (j->verify_r != 0) {
		count_failure(srv, THROTTLE_ACCT, j->key);
		server_audit(srv, j->user, "account.password", j->user, "refused", "wrong old password");
		return http_reply_error(j->req, 403, "wrong_password", "現在のパスワードが違います",
		                        "the current password is wrong", NULL);
	}
	if (j->hash_r < 0 || (r = STORE_CALL(srv->store, account_set_password, j->user, j->hash)) < 0)
		return store_failed(j->req, j->hash_r < 0 ? j->hash_r : r);
	server_audit(srv, j->user, "account.password", j->user, "ok", NULL);
	http_reply_json(j->req, 204, NULL);
}

/* POST /admin/v1/password {"old_password","new_password"}: one's own, with
 * the current one (hashed on the pool; failures count for the account's
 * throttle like failed logins). */
static void handle_password(void *userdata, struct http_req *req)
{
	struct server *srv = userdata;
	_cleanup_json_ cJSON *body = NULL;
	const char *old, *new;
	struct store_account acc;
	char key[STORE_ID_MAX * 2], peer[HTTP_PEER_MAX] = "?", src_key[64];
	struct pwjob *j;
	struct actor a;
	int r;

	if (admin_auth(srv, req, P_READ, &a) < 0)
		return;
	if (a.cred.kind != CRED_SESSION)
		return http_reply_error(req, 400, "not_a_session", "API トークンにパスワードはありません",
		                        "an API token has no password", NULL);
	if (body_object(srv, req, a.name, "account.password", password_fields, &body) < 0)
		return;
	old = get_str(body, "old_password");
	new = get_str(body, "new_password");
	if (!old || strlen(old) > PASSWORD_MAX || !password_ok(new) || account_key(a.name, key) < 0) {
		server_audit(srv, a.name, "account.password", a.name, "refused", "invalid request");
		return http_reply_error(req, 400, "invalid", "old_password と new_password (12 文字以上) が必要です",
		                        "old_password and new_password (12+ characters) are required", NULL);
	}
	(void)http_req_peer(req, peer);
	throttle_addr_key(peer, src_key);
	if (throttled(srv, req, src_key, key, peer))
		return;
	r = STORE_CALL(srv->store, account_get, key, &acc);
	if (r < 0)
		return store_failed(req, r);
	j = pwjob_new(srv, req, old, new);
	if (!j)
		return no_memory(req);
	(void)strscpy(j->enc, sizeof(j->enc), acc.pwhash);
	(void)strscpy(j->user, sizeof(j->user), acc.username);
	(void)strscpy(j->key, sizeof(j->key), key);
	j->finish = password_finish;
	pwjob_run(j);
}

/* A second CISO (another person, who did not create the requester recently)
 * makes a pending approver or ciso account usable (OPS-4). */
static void handle_account_approve(void *userdata, struct http_req *req)
{
	struct server *srv = userdata;
	_cleanup_json_ cJSON *out = NULL;
	const char *name = http_req_param(req, 0), *why = "";
	struct store_account acc;
	char key[STORE_ID_MAX * 2];
	struct actor a;
	int r;

	if (admin_auth(srv, req, P_ACCOUNTS, &a) < 0)
		return;
	if (api_no_body(srv, req, a.name, http_req_path(req), NULL) < 0)
		return;
	if (!name_valid(name, false) || account_key(name, key) < 0 ||
	    (r = STORE_CALL(srv->store, account_get, key, &acc)) == -ENOENT || (r == 0 && !acc.pending)) {
		server_audit(srv, a.name, "account.approve", name, "refused", "no such pending account");
		return http_reply_error(req, 404, "not_found", "承認待ちのそのアカウントはありません",
		                        "no such pending account", NULL);
	}
	if (r < 0)
		return store_failed(req, r);
	/* the request is the creation: by acc.created_by; and the account
	 * itself is a person who may not approve their own */
	r = ops4_allowed(srv, a.name, acc.created_by[0] ? acc.created_by : acc.username, &why);
	if (r == 0)
		r = ops4_allowed(srv, a.name, acc.username, &why);
	if (r == -EPERM) {
		server_audit(srv, a.name, "account.approve", acc.username, "refused", why);
		return http_reply_error(
		        req, 403, "same_person",
		        "作成を依頼した本人、または最近その人を作成した人は承認できません (OPS-4)",
		        "the requester, or whoever recently created the requester, cannot approve (OPS-4)", NULL);
	}
	if (r < 0 || (r = STORE_CALL(srv->store, account_activate, acc.name_key, a.name)) < 0)
		return r == -ENOENT ? http_reply_error(req, 404, "not_found", "承認待ちのそのアカウントはありません",
		                                       "no such pending account", NULL)
		                    : store_failed(req, r);
	server_audit(srv, a.name, "account.approve", acc.username, "ok", store_role_to_string(acc.role));
	out = cJSON_CreateObject();
	if (!out || !cJSON_AddStringToObject(out, "username", acc.username) ||
	    !cJSON_AddStringToObject(out, "status", "active") || !cJSON_AddStringToObject(out, "approved_by", a.name))
		return no_memory(req);
	http_reply_json(req, 200, out);
}

static void handle_accounts(void *userdata, struct http_req *req)
{
	struct server *srv = userdata;
	_cleanup_json_ cJSON *body = NULL, *out = NULL;
	struct store_account acc = {0};
	struct actor a;
	const char *user, *pw, *role;
	int r;

	if (admin_auth(srv, req, P_ACCOUNTS, &a) < 0)
		return;
	if (http_req_method(req) == HTTP_GET) {
		cJSON *arr;

		out = cJSON_CreateObject();
		if (!out || !(arr = cJSON_AddArrayToObject(out, "accounts")))
			return no_memory(req);
		r = STORE_CALL(srv->store, account_list, account_cb, arr);
		if (r < 0)
			return store_failed(req, r);
		return http_reply_json(req, 200, out);
	}
	if (body_object(srv, req, a.name, "account.create", account_fields, &body) < 0)
		return;
	user = get_str(body, "username");
	pw = get_str(body, "password");
	role = get_str(body, "role");
	acc.role = store_role_from_string(role);
	if (!name_valid(user, false) || !password_ok(pw) || acc.role == _ROLE_INVALID ||
	    person_from(body, user, true, &acc) < 0) {
		server_audit(srv, a.name, "account.create", user ?: "", "refused", "invalid request");
		return http_reply_error(
		        req, 400, "invalid",
		        "username, password (12 文字以上), role (viewer|operator|approver|ciso), staff_no, "
		        "display_name "
		        "が必要です",
		        "username, password (12+ characters), role (viewer|operator|approver|ciso), staff_no and "
		        "display_name are required",
		        NULL);
	}
	acc.role = store_role_from_string(role);
	/* the department it approves for (issue 16.2): a department, "*" for
	 * every department, or none (it then sees no request) */
	if (cJSON_GetObjectItemCaseSensitive(body, "department")) {
		const char *dept = get_str(body, "department");

		if (!dept || (strcmp(dept, "*") != 0 && !api_admin_department_valid(dept))) {
			server_audit(srv, a.name, "account.create", user, "refused", "invalid department");
			return http_reply_error(
			        req, 400, "invalid",
			        "department は部署名 (1〜96 バイトの UTF-8、制御文字なし) か \"*\" (全部署) です",
			        "department: a department (1..96 bytes of UTF-8, no control character) or \"*\" (every "
			        "department)",
			        NULL);
		}
		(void)strscpy(acc.department, sizeof(acc.department), dept);
	}
	(void)strscpy(acc.created_by, sizeof(acc.created_by), a.name);
	/* OPS-4: who can approve is decided by two CISOs, not one */
	acc.pending = acc.role == ROLE_APPROVER || acc.role == ROLE_CISO;
	{
		struct pwjob *j = pwjob_new(srv, req, NULL, pw);

		if (!j)
			return no_memory(req);
		(void)strscpy(j->user, sizeof(j->user), user);
		j->acc = acc;
		j->actor = a;
		j->finish = account_create_finish;
		pwjob_run(j);
	}
}

static void handle_api_tokens(void *userdata, struct http_req *req)
{
	struct server *srv = userdata;
	_cleanup_json_ cJSON *body = NULL, *out = NULL;
	struct store_cred c = {.kind = CRED_API_TOKEN, .role = ROLE_VIEWER};
	char token[CRYPTO_TOKEN_MAX], th[CRYPTO_SHA256_HEX], exp[32];
	const char *name;
	int64_t secs, now = server_now_us();
	struct actor a;
	int r;

	if (admin_auth(srv, req, P_ACCOUNTS, &a) < 0)
		return;
	if (http_req_method(req) == HTTP_GET)
		return cred_list_reply(srv, req, &a, CRED_API_TOKEN, NULL);
	if (body_object(srv, req, a.name, "api_token.create", api_token_fields, &body) < 0)
		return;
	name = get_str(body, "name");
	if (!name || strlen(name) == 0 || strlen(name) > 128 ||
	    get_int(body, "expires_in_seconds", 60, 63072000, 31536000, &secs) < 0) {
		server_audit(srv, a.name, "api_token.create", name, "refused", "invalid request");
		return http_reply_error(req, 400, "invalid", "name (128 バイトまで) と expires_in_seconds が必要です",
		                        "name (up to 128 bytes) and a valid expires_in_seconds are required", NULL);
	}
	(void)strscpy(c.principal, sizeof(c.principal), name);
	c.expires_us = now + secs * 1000000;
	if ((r = crypto_token("ma1_", token)) < 0 || (r = crypto_sha256_hex(token, strlen(token), th)) < 0 ||
	    (r = STORE_CALL(srv->store, cred_add, th, &c, a.name, now)) < 0)
		return store_failed(req, r);
	server_audit(srv, a.name, "api_token.create", name, "ok", "read-only");
	server_format_time(c.expires_us, exp);
	out = cJSON_CreateObject();
	if (!out || !cJSON_AddStringToObject(out, "token", token) || !cJSON_AddStringToObject(out, "name", name) ||
	    !cJSON_AddStringToObject(out, "expires_at", exp))
		return no_memory(req);
	http_reply_json(req, 201, out);
}

/* ---- enrollment tokens ---------------------------------------------------------------------------- */

static void handle_enrollment_tokens(void *userdata, struct http_req *req)
{
	struct server *srv = userdata;
	_cleanup_json_ cJSON *body = NULL, *out = NULL;
	char token[CRYPTO_TOKEN_MAX], th[CRYPTO_SHA256_HEX], exp[32];
	const char *group, *dept;
	int64_t secs, expires;
	struct actor a;
	int r;

	if (admin_auth(srv, req, P_ENROLL, &a) < 0)
		return;
	if (body_object(srv, req, a.name, "enrollment_token.create", enrollment_token_fields, &body) < 0)
		return;
	group = get_str(body, "group");
	dept = get_str(body, "department"); /* optional: the terminal's 部署 (issue 15) */
	if (!name_valid(group, true) || get_int(body, "expires_in_seconds", 60, 2592000, 86400, &secs) < 0 ||
	    (cJSON_GetObjectItemCaseSensitive(body, "department") && !api_admin_department_valid(dept))) {
		server_audit(srv, a.name, "enrollment_token.create", group, "refused", "invalid request");
		return http_reply_error(req, 400, "invalid",
		                        "group ([a-z0-9][a-z0-9_-]*) と expires_in_seconds (60〜2592000) が必要です"
		                        " (department は 1〜96 バイトの UTF-8、制御文字なし)",
		                        "group ([a-z0-9][a-z0-9_-]*) and expires_in_seconds (60..2592000) are required"
		                        " (department: 1..96 bytes of UTF-8, no control character)",
		                        NULL);
	}
	/* issue 17.15: a token names a group that exists (POST /admin/v1/groups);
	 * a typo must not make a new group that no policy covers */
	r = STORE_CALL(srv->store, group_exists, group);
	if (r == -ENOENT) {
		server_audit(srv, a.name, "enrollment_token.create", group, "refused", "no such group");
		return http_reply_error(req, 404, "no_such_group",
		                        "そのグループはありません (先に POST /admin/v1/groups で作成してください)",
		                        "no such group (create it first: POST /admin/v1/groups)", NULL);
	}
	if (r < 0)
		return store_failed(req, r);
	expires = server_now_us() + secs * 1000000;
	if ((r = crypto_token("mt1_", token)) < 0 || (r = crypto_sha256_hex(token, strlen(token), th)) < 0 ||
	    (r = STORE_CALL(srv->store, token_add, th, group, dept ?: "", expires, a.name)) < 0)
		return store_failed(req, r);
	server_audit(srv, a.name, "enrollment_token.create", group, "ok", dept ? dept : NULL);
	server_format_time(expires, exp);
	out = cJSON_CreateObject();
	if (!out || !cJSON_AddStringToObject(out, "token", token) || !cJSON_AddStringToObject(out, "group", group) ||
	    !cJSON_AddStringToObject(out, "department", dept ?: "") ||
	    !cJSON_AddStringToObject(out, "expires_at", exp) ||
	    !cJSON_AddStringToObject(out, "ca_fingerprint", pki_ca_fingerprint(srv->pki)))
		return no_memory(req);
	http_reply_json(req, 201, out);
}

/* ---- terminals, compliance ------------------------------------------------------------------------- */

static cJSON *terminal_json(const struct store_device *d, const char *compliance)
{
	_cleanup_json_ cJSON *o = cJSON_CreateObject();
	cJSON *j, *c;
	char t[32];

	if (!o || !cJSON_AddStringToObject(o, "terminal_id", d->terminal_id) ||
	    !cJSON_AddStringToObject(o, "group", d->group) ||
	    !cJSON_AddStringToObject(o, "department", d->department) ||
	    !cJSON_AddStringToObject(o, "status",
	                             d->retired   ? "retired"
	                             : d->revoked ? "revoked"
	                                          : "active") ||
	    !cJSON_AddStringToObject(o, "hostname", d->hostname) ||
	    !cJSON_AddStringToObject(o, "agent_version", d->agent_version) ||
	    !cJSON_AddNumberToObject(o, "policy_version", (double)d->policy_version) ||
	    !cJSON_AddNumberToObject(o, "events_stored", (double)d->events) ||
	    !cJSON_AddNumberToObject(o, "tamper_findings", (double)d->findings))
		return NULL;
	server_format_time(d->enrolled_us, t);
	if (!cJSON_AddStringToObject(o, "enrolled_at", t))
		return NULL;
	if (d->last_seen_us) {
		server_format_time(d->last_seen_us, t);
		if (!cJSON_AddStringToObject(o, "last_seen", t))
			return NULL;
	} else if (!cJSON_AddNullToObject(o, "last_seen")) {
		return NULL;
	}
	if (!(j = cJSON_AddObjectToObject(o, "journal")) || !cJSON_AddStringToObject(j, "chain", d->chain.chain) ||
	    !cJSON_AddNumberToObject(j, "head_seq", (double)d->chain.head_seq) ||
	    !cJSON_AddNumberToObject(j, "acked_seq", (double)d->chain.head_seq) ||
	    !cJSON_AddStringToObject(j, "head_hash", d->chain.head_hash))
		return NULL;
	if (d->chain.restart_seq) {
		/* a new chain not yet acknowledged: the one before it may go on */
		cJSON *rs = cJSON_AddObjectToObject(j, "restart_pending");

		if (!rs || !cJSON_AddNumberToObject(rs, "seq", (double)d->chain.restart_seq) ||
		    !cJSON_AddStringToObject(rs, "previous_chain", d->chain.prev_chain) ||
		    !cJSON_AddNumberToObject(rs, "previous_head_seq", (double)d->chain.prev_head_seq))
			return NULL;
	}
	c = compliance ? cJSON_Parse(compliance) : cJSON_CreateObject();
	if (!c || !cJSON_AddItemToObject(o, "compliance", c))
		return NULL;
	/* LOG-1: a broken chain is a failure of the log's protection */
	if (d->findings) {
		cJSON *cur = cJSON_GetObjectItemCaseSensitive(c, "LOG-1");

		if (cur)
			cJSON_ReplaceItemInObjectCaseSensitive(c, "LOG-1", cJSON_CreateString("fail"));
		else
			cJSON_AddStringToObject(c, "LOG-1", "fail");
	}
	return TAKE_PTR(o);
}

static int terminal_cb(const struct store_device *d, const char *compliance, void *userdata)
{
	cJSON *arr = userdata, *o = terminal_json(d, compliance);

	if (!o || !cJSON_AddItemToArray(arr, o)) {
		cJSON_Delete(o);
		return -ENOMEM;
	}
	return 0;
}

static void handle_terminals(void *userdata, struct http_req *req)
{
	struct server *srv = userdata;
	_cleanup_json_ cJSON *out = cJSON_CreateObject();
	const char *group = http_req_query(req, "group");
	struct actor a;
	cJSON *arr;
	int r;

	if (admin_auth(srv, req, P_READ, &a) < 0)
		return;
	(void)api_device_flush(srv); /* the latest check-ins first */
	if (!out || !(arr = cJSON_AddArrayToObject(out, "terminals")))
		return no_memory(req);
	r = STORE_CALL(srv->store, device_list, group, terminal_cb, arr);
	if (r < 0)
		return store_failed(req, r);
	http_reply_json(req, 200, out);
}

struct compliance_acc {
	cJSON *reqs;
	uint64_t terminals;
};

static int compliance_cb(const struct store_device *d, const char *compliance, void *userdata)
{
	struct compliance_acc *acc = userdata;
	_cleanup_json_ cJSON *c = NULL;
	const cJSON *it;

	if (d->revoked)
		return 0;
	acc->terminals++;
	c = compliance ? cJSON_Parse(compliance) : NULL;
	if (d->findings) {
		if (!c)
			c = cJSON_CreateObject();
		cJSON_DeleteItemFromObjectCaseSensitive(c, "LOG-1");
		cJSON_AddStringToObject(c, "LOG-1", "fail");
	}
	cJSON_ArrayForEach(it, c)
	{
		cJSON *counts = cJSON_GetObjectItemCaseSensitive(acc->reqs, it->string), *n;

		if (!cJSON_IsString(it))
			continue;
		if (!counts && !(counts = cJSON_AddObjectToObject(acc->reqs, it->string)))
			return -ENOMEM;
		n = cJSON_GetObjectItemCaseSensitive(counts, it->valuestring);
		if (n)
			cJSON_SetNumberValue(n, n->valuedouble + 1);
		else if (!cJSON_AddNumberToObject(counts, it->valuestring, 1))
			return -ENOMEM;
	}
	return 0;
}

static void handle_compliance(void *userdata, struct http_req *req)
{
	struct server *srv = userdata;
	_cleanup_json_ cJSON *out = cJSON_CreateObject();
	struct compliance_acc acc = {0};
	struct actor a;
	int r;

	if (admin_auth(srv, req, P_READ, &a) < 0)
		return;
	(void)api_device_flush(srv); /* the latest check-ins first */
	if (!out || !(acc.reqs = cJSON_AddObjectToObject(out, "requirements")))
		return no_memory(req);
	r = STORE_CALL(srv->store, device_list, http_req_query(req, "group"), compliance_cb, &acc);
	if (r < 0)
		return store_failed(req, r);
	if (!cJSON_AddNumberToObject(out, "terminals", (double)acc.terminals))
		return no_memory(req);
	http_reply_json(req, 200, out);
}

static void handle_terminal(void *userdata, struct http_req *req)
{
	struct server *srv = userdata;
	_cleanup_json_ cJSON *out = NULL;
	_cleanup_free_ char *report = NULL;
	const char *id = http_req_param(req, 0);
	struct store_device d;
	struct actor a;
	int r;

	if (admin_auth(srv, req, P_READ, &a) < 0)
		return;
	(void)api_device_flush(srv); /* the latest check-ins first */
	r = STORE_CALL(srv->store, device_get, id, &d);
	if (r == -ENOENT)
		return http_reply_error(req, 404, "not_found", "その端末はありません", "no such terminal", NULL);
	if (r < 0 || (r = STORE_CALL(srv->store, device_report, id, &report)) < 0)
		return store_failed(req, r);
	/* compliance: from the stored report (device_get does not carry it) */
	{
		_cleanup_json_ cJSON *rep = report ? cJSON_Parse(report) : NULL;
		_cleanup_json_ cJSON *comp = rep ? api_device_compliance(rep) : NULL;
		char *cs = comp ? cJSON_PrintUnformatted(comp) : NULL;

		out = terminal_json(&d, cs);
		cJSON_free(cs);
		if (!out)
			return no_memory(req);
		if (rep)
			cJSON_AddItemToObject(out, "report", TAKE_PTR(rep));
	}
	http_reply_json(req, 200, out);
}

static void handle_revoke(void *userdata, struct http_req *req)
{
	struct server *srv = userdata;
	_cleanup_json_ cJSON *body = NULL, *out = NULL;
	const char *id = http_req_param(req, 0), *reason = NULL;
	const char *b;
	size_t blen;
	unsigned n = 0;
	struct actor a;
	int r;

	if (admin_auth(srv, req, P_REVOKE, &a) < 0)
		return;
	r = http_req_body(req, SERVER_JSON_SMALL, &b, &blen);
	if (r < 0)
		return http_reply_body_error(req, r);
	if (blen) {
		if (body_object(srv, req, a.name, "terminal.revoke", revoke_fields, &body) < 0)
			return;
		reason = get_str(body, "reason");
	}
	r = STORE_CALL(srv->store, device_revoke, id, server_now_us(), &n);
	if (r == -ENOENT) {
		server_audit(srv, a.name, "terminal.revoke", id, "not_found", reason);
		return http_reply_error(req, 404, "not_found", "その端末はありません", "no such terminal", NULL);
	}
	if (r < 0)
		return store_failed(req, r);
	api_device_invalidate(srv); /* refused from its next request on */
	server_audit(srv, a.name, "terminal.revoke", id, "ok", reason);
	log_notice("terminal %s revoked by %s (%u certificates)", id, a.name, n);
	out = cJSON_CreateObject();
	if (!out || !cJSON_AddStringToObject(out, "terminal_id", id) ||
	    !cJSON_AddNumberToObject(out, "revoked_certificates", n))
		return no_memory(req);
	http_reply_json(req, 200, out);
}

/* PUT /admin/v1/terminals/{id}/department {"department": "総務課"} (operator,
 * ciso: who may enroll may place a terminal; "" = none). Audited with the
 * department before and after (issue 15). */
static void handle_department(void *userdata, struct http_req *req)
{
	struct server *srv = userdata;
	_cleanup_json_ cJSON *body = NULL, *out = NULL;
	const char *id = http_req_param(req, 0), *dept;
	char detail[STORE_ID_MAX * 2 + 16];
	struct store_device d;
	struct actor a;
	int r;

	if (admin_auth(srv, req, P_ENROLL, &a) < 0)
		return;
	if (body_object(srv, req, a.name, "terminal.department", department_fields, &body) < 0)
		return;
	dept = get_str(body, "department");
	if (!dept || (*dept && !api_admin_department_valid(dept)) || cJSON_GetArraySize(body) != 1) {
		server_audit(srv, a.name, "terminal.department", id, "refused", "invalid request");
		return http_reply_error(
		        req, 400, "invalid",
		        "department (1〜96 バイトの UTF-8、制御文字なし。\"\" で解除) だけを送ってください",
		        "send only department (1..96 bytes of UTF-8, no control character; \"\" clears it)", NULL);
	}
	r = STORE_CALL(srv->store, device_get, id, &d);
	if (r == 0)
		r = STORE_CALL(srv->store, device_set_department, id, dept);
	if (r == -ENOENT) {
		server_audit(srv, a.name, "terminal.department", id, "not_found", dept);
		return http_reply_error(req, 404, "not_found", "その端末はありません", "no such terminal", NULL);
	}
	if (r < 0)
		return store_failed(req, r);
	api_device_invalidate(srv); /* this instance's cached identities: the new department now */
	(void)xsnprintf(detail, sizeof(detail), "%s -> %s", d.department, dept);
	server_audit(srv, a.name, "terminal.department", id, "ok", detail);
	out = cJSON_CreateObject();
	if (!out || !cJSON_AddStringToObject(out, "terminal_id", id) ||
	    !cJSON_AddStringToObject(out, "department", dept) ||
	    !cJSON_AddStringToObject(out, "previous", d.department))
		return no_memory(req);
	http_reply_json(req, 200, out);
}

/* A chain restart (chain.h) stays a finding, and the chain before it may
 * still continue, until someone with the revoke permission acknowledges it
 * here, naming the restart's seq (what they looked at). */
static void handle_restart_ack(void *userdata, struct http_req *req)
{
	struct server *srv = userdata;
	_cleanup_json_ cJSON *out = NULL;
	const char *id = http_req_param(req, 0);
	char detail[64];
	int64_t seq;
	struct actor a;
	int r;

	if (admin_auth(srv, req, P_REVOKE, &a) < 0)
		return;
	if (api_no_body(srv, req, a.name, http_req_path(req), NULL) < 0)
		return;
	if (parse_int64(http_req_param(req, 1), 1, 9007199254740991LL, &seq) < 0) {
		server_audit(srv, a.name, "chain.restart.ack", id, "refused", "invalid seq");
		return http_reply_error(req, 404, "not_found", "その連鎖の再開はありません", "no such chain restart",
		                        NULL);
	}
	(void)xsnprintf(detail, sizeof(detail), "seq %" PRId64, seq);
	r = STORE_CALL(srv->store, chain_restart_ack, id, (uint64_t)seq);
	if (r == -ENOENT) {
		server_audit(srv, a.name, "chain.restart.ack", id, "refused", "no such pending restart");
		return http_reply_error(req, 404, "not_found", "その連鎖の再開は保留中ではありません",
		                        "no pending chain restart at that seq", NULL);
	}
	if (r < 0)
		return store_failed(req, r);
	api_device_invalidate(srv);
	server_audit(srv, a.name, "chain.restart.ack", id, "ok", detail);
	out = cJSON_CreateObject();
	if (!out || !cJSON_AddStringToObject(out, "terminal_id", id) ||
	    !cJSON_AddNumberToObject(out, "acknowledged_seq", (double)seq))
		return no_memory(req);
	http_reply_json(req, 200, out);
}

/* ---- events, findings, audit ------------------------------------------------------------------ */

static int event_cb(const struct store_event_row *e, void *userdata)
{
	cJSON *arr = userdata, *o = cJSON_CreateObject(), *rec;
	char t[32];

	if (!o || !cJSON_AddItemToArray(arr, o))
		return -ENOMEM;
	server_format_time(e->received_us, t);
	rec = cJSON_ParseWithLength(e->canon, e->canon_len);
	if (!cJSON_AddNumberToObject(o, "id", (double)e->id) ||
	    !cJSON_AddStringToObject(o, "terminal_id", e->terminal_id) ||
	    !cJSON_AddNumberToObject(o, "seq", (double)e->seq) || !cJSON_AddStringToObject(o, "hash", e->hash) ||
	    !cJSON_AddStringToObject(o, "received_at", t) || !rec || !cJSON_AddItemToObject(o, "record", rec)) {
		cJSON_Delete(rec);
		return -ENOMEM;
	}
	return 0;
}

static int list_limit(struct http_req *req, unsigned *ret)
{
	const char *l = http_req_query(req, "limit");
	int64_t v = LIST_DEFAULT;

	if (l && parse_int64(l, 1, LIST_MAX, &v) < 0)
		return -EINVAL;
	*ret = (unsigned)v;
	return 0;
}

static void handle_events(void *userdata, struct http_req *req)
{
	struct server *srv = userdata;
	_cleanup_json_ cJSON *out = cJSON_CreateObject();
	struct store_event_filter f = {.terminal_id = http_req_query(req, "terminal"),
	                               .type_prefix = http_req_query(req, "type")};
	const char *after = http_req_query(req, "after");
	struct actor a;
	cJSON *arr;
	int r;

	if (admin_auth(srv, req, P_READ, &a) < 0)
		return;
	if (list_limit(req, &f.limit) < 0 || (after && parse_int64(after, 0, INT64_MAX, &f.after_id) < 0))
		return http_reply_error(req, 400, "invalid", "limit (1〜1000) または after が不正です",
		                        "invalid limit (1..1000) or after", NULL);
	if (!out || !(arr = cJSON_AddArrayToObject(out, "events")))
		return no_memory(req);
	r = STORE_CALL(srv->store, events_list, &f, event_cb, arr);
	/* LOG-1: the records of this terminal moved to archive files are said
	 * so, not silently absent (archive.h) */
	if (r >= 0 && f.terminal_id && *f.terminal_id)
		r = archive_summary(srv->store, f.terminal_id, out);
	if (r < 0)
		return r == -ENOMEM ? no_memory(req) : store_failed(req, r);
	http_reply_json(req, 200, out);
}

static int finding_cb(const struct store_finding *f, void *userdata)
{
	cJSON *arr = userdata, *o = cJSON_CreateObject();
	char t[32];

	server_format_time(f->time_us, t);
	if (!o || !cJSON_AddItemToArray(arr, o) || !cJSON_AddStringToObject(o, "terminal_id", f->terminal_id) ||
	    !cJSON_AddStringToObject(o, "kind", store_finding_to_string(f->kind)) ||
	    !cJSON_AddNumberToObject(o, "seq", (double)f->seq) ||
	    !cJSON_AddNumberToObject(o, "expected_seq", (double)f->expected_seq) ||
	    !cJSON_AddStringToObject(o, "detail", f->detail) || !cJSON_AddStringToObject(o, "time", t))
		return -ENOMEM;
	return 0;
}

static void handle_findings(void *userdata, struct http_req *req)
{
	struct server *srv = userdata;
	_cleanup_json_ cJSON *out = cJSON_CreateObject();
	struct actor a;
	unsigned limit;
	cJSON *arr;
	int r;

	if (admin_auth(srv, req, P_READ, &a) < 0)
		return;
	if (list_limit(req, &limit) < 0)
		return http_reply_error(req, 400, "invalid", "limit (1〜1000) が不正です", "invalid limit (1..1000)",
		                        NULL);
	if (!out || !(arr = cJSON_AddArrayToObject(out, "findings")))
		return no_memory(req);
	r = STORE_CALL(srv->store, findings_list, http_req_query(req, "terminal"), limit, finding_cb, arr);
	if (r < 0)
		return store_failed(req, r);
	http_reply_json(req, 200, out);
}

struct audit_page {
	cJSON *arr;
	int64_t last_id;
};

static int audit_cb(const struct store_audit *au, void *userdata)
{
	struct audit_page *pg = userdata;
	cJSON *o = cJSON_CreateObject();
	char t[32];

	server_format_time(au->time_us, t);
	if (!o || !cJSON_AddItemToArray(pg->arr, o) || !cJSON_AddNumberToObject(o, "id", (double)au->id) ||
	    !cJSON_AddStringToObject(o, "time", t) || !cJSON_AddStringToObject(o, "actor", au->actor) ||
	    !cJSON_AddStringToObject(o, "action", au->action) ||
	    !cJSON_AddStringToObject(o, "target", au->target ?: "") ||
	    !cJSON_AddStringToObject(o, "result", au->result) ||
	    !cJSON_AddStringToObject(o, "detail", au->detail ?: "") ||
	    !cJSON_AddStringToObject(o, "hash", au->hash ?: ""))
		return -ENOMEM;
	pg->last_id = au->id;
	return 0;
}

/* An RFC 3339 UTC time ("2024-01-02T03:04:05Z") as microseconds. */
static int parse_time(const char *s, int64_t *ret)
{
	return rfc3339_parse_us(s, 0, ret);
}

int api_admin_parse_time(const char *s, int64_t *ret)
{
	return parse_time(s, ret);
}

/* GET /admin/v1/audit?actor=&action=&target=&since=&until=&before=&limit= —
 * newest first, limit rows a page (1..1000); next_before pages on to older
 * rows, to the first one: nothing is out of reach. */
static void handle_audit(void *userdata, struct http_req *req)
{
	struct server *srv = userdata;
	_cleanup_json_ cJSON *out = cJSON_CreateObject();
	struct store_audit_filter f = {.actor = http_req_query(req, "actor"),
	                               .action = http_req_query(req, "action"),
	                               .target = http_req_query(req, "target")};
	const char *since = http_req_query(req, "since"), *until = http_req_query(req, "until"),
	           *before = http_req_query(req, "before");
	struct audit_page pg = {0};
	struct actor a;
	int r;

	if (admin_auth(srv, req, P_AUDIT, &a) < 0)
		return;
	if (list_limit(req, &f.limit) < 0 || (since && parse_time(since, &f.since_us) < 0) ||
	    (until && parse_time(until, &f.until_us) < 0) ||
	    (before && parse_int64(before, 1, INT64_MAX, &f.before_id) < 0)) {
		server_audit(srv, a.name, "audit.list", NULL, "refused", "invalid query");
		return http_reply_error(req, 400, "invalid",
		                        "limit (1〜1000)、since/until (RFC 3339 UTC)、before (行 ID) が不正です",
		                        "invalid limit (1..1000), since/until (RFC 3339 UTC) or before (row id)", NULL);
	}
	server_audit_flush(srv, true); /* counted failed logins are shown too */
	if (!out || !(pg.arr = cJSON_AddArrayToObject(out, "audit")))
		return no_memory(req);
	r = STORE_CALL(srv->store, audit_list, &f, audit_cb, &pg);
	if (r < 0)
		return r == -ENOMEM ? no_memory(req) : store_failed(req, r);
	if (!((unsigned)cJSON_GetArraySize(pg.arr) == f.limit && pg.last_id > 1
	              ? cJSON_AddNumberToObject(out, "next_before", (double)pg.last_id)
	              : cJSON_AddNullToObject(out, "next_before")))
		return no_memory(req);
	http_reply_json(req, 200, out);
}

/* GET /admin/v1/audit/verify — recompute the audit trail's hash chain. */
static void handle_audit_verify(void *userdata, struct http_req *req)
{
	struct server *srv = userdata;
	_cleanup_json_ cJSON *out = cJSON_CreateObject();
	uint64_t rows = 0;
	int64_t bad = 0;
	struct actor a;
	int r;

	if (admin_auth(srv, req, P_AUDIT, &a) < 0)
		return;
	r = STORE_CALL(srv->store, audit_verify, &rows, &bad);
	if (r < 0)
		return store_failed(req, r);
	if (!out || !cJSON_AddNumberToObject(out, "rows", (double)rows) ||
	    !cJSON_AddBoolToObject(out, "intact", bad == 0) ||
	    !(bad ? cJSON_AddNumberToObject(out, "first_bad_id", (double)bad)
	          : cJSON_AddNullToObject(out, "first_bad_id")))
		return no_memory(req);
	if (bad)
		log_error("audit trail: row %" PRId64 " does not verify: the audit table was changed", bad);
	http_reply_json(req, 200, out);
}

/* ---- groups and policies ----------------------------------------------------------------------------- */

static int group_cb(const struct store_group *g, void *userdata)
{
	cJSON *arr = userdata, *o = cJSON_CreateObject();

	if (!o || !cJSON_AddItemToArray(arr, o) || !cJSON_AddStringToObject(o, "name", g->name) ||
	    !cJSON_AddNumberToObject(o, "terminals", (double)g->terminals) ||
	    !(g->policy_version ? cJSON_AddNumberToObject(o, "policy_version", (double)g->policy_version)
	                        : cJSON_AddNullToObject(o, "policy_version")) ||
	    !(g->pending_version > g->policy_version
	              ? cJSON_AddNumberToObject(o, "pending_version", (double)g->pending_version)
	              : cJSON_AddNullToObject(o, "pending_version")))
		return -ENOMEM;
	return 0;
}

/* POST /admin/v1/groups {"name"}: groups are made explicitly, by whoever may
 * make enrollment tokens (issue 17.15). */
static void group_create(struct server *srv, struct http_req *req)
{
	_cleanup_json_ cJSON *body = NULL, *out = NULL;
	const char *name;
	struct actor a;
	int r;

	if (admin_auth(srv, req, P_ENROLL, &a) < 0)
		return;
	if (body_object(srv, req, a.name, "group.create", group_fields, &body) < 0) {
		server_audit(srv, a.name, "group.create", NULL, "refused", "malformed body");
		return;
	}
	name = get_str(body, "name");
	if (!name_valid(name, true)) {
		server_audit(srv, a.name, "group.create", name, "refused", "invalid name");
		return http_reply_error(req, 400, "invalid", "name ([a-z0-9][a-z0-9_-]*, 64 文字まで) が必要です",
		                        "name ([a-z0-9][a-z0-9_-]*, up to 64) is required", NULL);
	}
	r = STORE_CALL(srv->store, group_add, name, a.name, server_now_us());
	if (r == -EEXIST) {
		server_audit(srv, a.name, "group.create", name, "refused", "exists");
		return http_reply_error(req, 409, "exists", "そのグループはすでにあります", "that group exists", NULL);
	}
	if (r < 0)
		return store_failed(req, r);
	server_audit(srv, a.name, "group.create", name, "ok", NULL);
	out = cJSON_CreateObject();
	if (!out || !cJSON_AddStringToObject(out, "name", name))
		return no_memory(req);
	http_reply_json(req, 201, out);
}

static void handle_groups(void *userdata, struct http_req *req)
{
	struct server *srv = userdata;
	_cleanup_json_ cJSON *out = cJSON_CreateObject();
	struct actor a;
	cJSON *arr;
	int r;

	if (http_req_method(req) == HTTP_POST)
		return group_create(srv, req);
	if (admin_auth(srv, req, P_READ, &a) < 0)
		return;
	(void)api_device_flush(srv); /* the latest check-ins first */
	if (!out || !(arr = cJSON_AddArrayToObject(out, "groups")))
		return no_memory(req);
	r = STORE_CALL(srv->store, group_list, group_cb, arr);
	if (r < 0)
		return store_failed(req, r);
	http_reply_json(req, 200, out);
}

static void reply_policy_state(struct http_req *req, int code, const struct store_policy *p)
{
	_cleanup_json_ cJSON *out = cJSON_CreateObject();

	if (!out || !cJSON_AddStringToObject(out, "group", p->group) ||
	    !cJSON_AddNumberToObject(out, "version", (double)p->version) ||
	    !cJSON_AddStringToObject(out, "status", p->published ? "published" : "pending") ||
	    !cJSON_AddStringToObject(out, "sha256", p->sha256) ||
	    !cJSON_AddStringToObject(out, "uploaded_by", p->uploaded_by) ||
	    (p->published && !cJSON_AddStringToObject(out, "approved_by", p->approved_by)))
		return no_memory(req);
	http_reply_json(req, code, out);
}

static void handle_policy_upload(void *userdata, struct http_req *req)
{
	struct server *srv = userdata;
	const char *group = http_req_param(req, 0);
	_cleanup_(policy_freep) struct mamori_policy *pol = NULL;
	struct policy_errors errs;
	struct store_policy p = {0};
	const char *doc;
	size_t len;
	struct actor a;
	int r;

	if (admin_auth(srv, req, P_POLICY_UPLOAD, &a) < 0)
		return;
	if (!name_valid(group, true))
		return http_reply_error(req, 400, "invalid", "グループ名が不正です", "invalid group name", NULL);
	r = http_req_body(req, SERVER_POLICY_MAX, &doc, &len);
	if (r < 0)
		return http_reply_body_error(req, r);
	policy_errors_init(&errs);
	r = policy_parse(doc, len, &pol, &errs);
	if (r < 0) {
		_cleanup_json_ cJSON *x = cJSON_CreateObject();
		cJSON *ja = x ? cJSON_AddArrayToObject(x, "errors_ja") : NULL;
		cJSON *en = x ? cJSON_AddArrayToObject(x, "errors_en") : NULL;
		char line[512];

		for (size_t i = 0; ja && en && i < errs.n; i++) {
			if (policy_error_format(&errs, i, "ja", line, sizeof(line)) >= 0)
				cJSON_AddItemToArray(ja, cJSON_CreateString(line));
			if (policy_error_format(&errs, i, "en", line, sizeof(line)) >= 0)
				cJSON_AddItemToArray(en, cJSON_CreateString(line));
		}
		server_audit(srv, a.name, "policy.upload", group, "invalid", NULL);
		return http_reply_error(req, r == -EFBIG ? 413 : 400, "invalid_policy",
		                        "ポリシーが不正です (errors_ja を参照)",
		                        "the policy is invalid (see errors_en)", x);
	}
	(void)strscpy(p.group, sizeof(p.group), group);
	p.version = policy_version(pol);
	p.document = (char *)doc;
	p.document_len = len;
	(void)strscpy(p.uploaded_by, sizeof(p.uploaded_by), a.name);
	if ((r = crypto_sha256_hex(doc, len, p.sha256)) < 0)
		return store_failed(req, r);
	r = STORE_CALL(srv->store, policy_put_pending, &p, server_now_us());
	if (r == -EEXIST || r == -ESTALE) {
		server_audit(srv, a.name, "policy.upload", group, "refused",
		             r == -ESTALE ? "version not higher" : "exists");
		return http_reply_error(req, 409, r == -ESTALE ? "version_not_higher" : "version_exists",
		                        "version は公開中のものより大きく、未使用でなければなりません",
		                        "version must be higher than the published one and not used before", NULL);
	}
	if (r < 0)
		return store_failed(req, r);
	char detail[64];
	(void)xsnprintf(detail, sizeof(detail), "version %" PRId64, p.version);
	server_audit(srv, a.name, "policy.upload", group, "ok", detail);
	reply_policy_state(req, 202, &p);
}

static void handle_policy_approve(void *userdata, struct http_req *req)
{
	struct server *srv = userdata;
	const char *group = http_req_param(req, 0);
	struct store_policy p = {0};
	char sig[POLICY_SIG_B64_LEN + 1], detail[64];
	int64_t version;
	struct actor a;
	int r;

	if (admin_auth(srv, req, P_POLICY_APPROVE, &a) < 0)
		return;
	if (api_no_body(srv, req, a.name, http_req_path(req), NULL) < 0)
		return;
	if (!name_valid(group, true) || parse_int64(http_req_param(req, 1), 1, 9007199254740991LL, &version) < 0) {
		server_audit(srv, a.name, "policy.approve", group, "refused", "invalid group or version");
		return http_reply_error(req, 404, "not_found", "そのポリシーはありません", "no such policy", NULL);
	}
	(void)xsnprintf(detail, sizeof(detail), "version %" PRId64, version);
	r = STORE_CALL(srv->store, policy_get, group, version, &p);
	if (r == -ENOENT) {
		server_audit(srv, a.name, "policy.approve", group, "refused", "no such version");
		return http_reply_error(req, 404, "not_found", "そのポリシーはありません", "no such policy", NULL);
	}
	if (r < 0)
		return store_failed(req, r);
	if (p.published) {
		store_policy_clear(&p);
		server_audit(srv, a.name, "policy.approve", group, "refused", "already published");
		return http_reply_error(req, 409, "already_published", "このポリシーは公開済みです",
		                        "this policy is already published", NULL);
	}
	{
		const char *why = "";

		r = ops4_allowed(srv, a.name, p.uploaded_by, &why);
		if (r < 0 && r != -EPERM) {
			store_policy_clear(&p);
			return store_failed(req, r);
		}
	}
	if (r == -EPERM) {
		store_policy_clear(&p);
		server_audit(srv, a.name, "policy.approve", group, "refused", "OPS-4: uploader cannot approve");
		return http_reply_error(req, 403, "same_person",
		                        "登録した本人 (同じ職員番号) や、最近その登録者を作成した人は承認できません。"
		                        "別の承認者が必要です (OPS-4)",
		                        "the person who uploaded a policy (same staff number), or who recently created "
		                        "the uploader's account, cannot approve it (OPS-4)",
		                        NULL);
	}
	r = signer_sign(srv->signer, SIGNER_KEY_POLICY, p.document, p.document_len, sig);
	if (r < 0) {
		store_policy_clear(&p);
		log_error_errno(r, "signing the policy of %s: %m", group);
		return http_reply_error(req, 500, "sign_failed", "ポリシーに署名できません", "cannot sign the policy",
		                        NULL);
	}
	r = STORE_CALL(srv->store, policy_publish, group, version, sig, a.name, server_now_us());
	if (r < 0) {
		store_policy_clear(&p);
		return r == -ENOENT ? http_reply_error(req, 409, "already_published", "このポリシーは公開済みです",
		                                       "this policy is already published", NULL)
		                    : store_failed(req, r);
	}
	srv->policy_generation++;
	server_audit(srv, a.name, "policy.approve", group, "ok", detail);
	log_notice("policy %s version %" PRId64 " published (uploaded by %s, approved by %s)", group, version,
	           p.uploaded_by, a.name);
	p.published = true;
	(void)strscpy(p.approved_by, sizeof(p.approved_by), a.name);
	reply_policy_state(req, 200, &p);
	store_policy_clear(&p);
}

/* GET /admin/v1/groups/{group}/policy/{version} — what an approver approves
 * (issue 17.11): the version's exact document, and a unified diff (whole
 * documents, textdiff.h) from the version in force (or from nothing when
 * none is published). Read by those who upload or approve policies. */
static void handle_policy_view(void *userdata, struct http_req *req)
{
	struct server *srv = userdata;
	const char *group = http_req_param(req, 0);
	_cleanup_json_ cJSON *out = cJSON_CreateObject();
	_cleanup_free_ char *diff = NULL;
	struct store_policy p = {0}, cur = {0};
	char la[STORE_ID_MAX + 48], lb[STORE_ID_MAX + 48];
	int64_t version;
	struct actor a;
	cJSON *c;
	int r;

	if (admin_auth(srv, req, P_POLICY_UPLOAD | P_POLICY_APPROVE, &a) < 0)
		return;
	if (!name_valid(group, true) || parse_int64(http_req_param(req, 1), 1, 9007199254740991LL, &version) < 0 ||
	    (r = STORE_CALL(srv->store, policy_get, group, version, &p)) == -ENOENT)
		return http_reply_error(req, 404, "not_found", "そのポリシーはありません", "no such policy", NULL);
	if (r < 0)
		return store_failed(req, r);
	r = STORE_CALL(srv->store, policy_current, group, &cur);
	if (r < 0 && r != -ENOENT) {
		store_policy_clear(&p);
		return store_failed(req, r);
	}
	(void)xsnprintf(la, sizeof(la), "%s/policy version %" PRId64 " (in force)", group, cur.version);
	if (r == -ENOENT)
		(void)xsnprintf(la, sizeof(la), "/dev/null");
	(void)xsnprintf(lb, sizeof(lb), "%s/policy version %" PRId64 " (%s)", group, p.version,
	                p.published ? "published" : "pending");
	r = textdiff_unified(cur.document, cur.document_len, p.document, p.document_len, la, lb, &diff);
	if (r < 0 || !out || !cJSON_AddStringToObject(out, "group", p.group) ||
	    !cJSON_AddNumberToObject(out, "version", (double)p.version) ||
	    !cJSON_AddStringToObject(out, "status", p.published ? "published" : "pending") ||
	    !cJSON_AddStringToObject(out, "sha256", p.sha256) ||
	    !cJSON_AddStringToObject(out, "uploaded_by", p.uploaded_by) ||
	    !(p.published ? cJSON_AddStringToObject(out, "approved_by", p.approved_by)
	                  : cJSON_AddNullToObject(out, "approved_by")) ||
	    !cJSON_AddStringToObject(out, "document", p.document ?: "") ||
	    !(cur.document ? (c = cJSON_AddObjectToObject(out, "in_force")) != NULL &&
	                             cJSON_AddNumberToObject(c, "version", (double)cur.version) &&
	                             cJSON_AddStringToObject(c, "sha256", cur.sha256)
	                   : cJSON_AddNullToObject(out, "in_force") != NULL) ||
	    !cJSON_AddStringToObject(out, "diff", diff)) {
		store_policy_clear(&p);
		store_policy_clear(&cur);
		return no_memory(req);
	}
	store_policy_clear(&p);
	store_policy_clear(&cur);
	http_reply_json(req, 200, out);
}

const struct http_route api_admin_routes[] = {
        {HTTP_POST, "/admin/v1/bootstrap", handle_bootstrap},
        {HTTP_POST, "/admin/v1/login", handle_login},
        {HTTP_POST, "/admin/v1/logout", handle_logout},
        {HTTP_GET | HTTP_POST, "/admin/v1/accounts", handle_accounts},
        {HTTP_POST, "/admin/v1/accounts/*/approve", handle_account_approve},
        {HTTP_POST, "/admin/v1/accounts/*/disable", handle_account_disable},
        {HTTP_POST, "/admin/v1/password", handle_password},
        {HTTP_GET | HTTP_POST, "/admin/v1/api-tokens", handle_api_tokens},
        {HTTP_DELETE, "/admin/v1/api-tokens/*", handle_api_token_revoke},
        {HTTP_GET, "/admin/v1/sessions", handle_sessions},
        {HTTP_DELETE, "/admin/v1/sessions/*", handle_session_kill},
        {HTTP_POST, "/admin/v1/enrollment-tokens", handle_enrollment_tokens},
        {HTTP_GET, "/admin/v1/terminals", handle_terminals},
        {HTTP_GET, "/admin/v1/terminals/*", handle_terminal},
        {HTTP_POST, "/admin/v1/terminals/*/revoke", handle_revoke},
        {HTTP_PUT, "/admin/v1/terminals/*/department", handle_department},
        {HTTP_POST, "/admin/v1/terminals/*/chain-restart/*/ack", handle_restart_ack},
        {HTTP_GET, "/admin/v1/events", handle_events},
        {HTTP_GET, "/admin/v1/findings", handle_findings},
        {HTTP_GET, "/admin/v1/compliance", handle_compliance},
        {HTTP_GET | HTTP_POST, "/admin/v1/groups", handle_groups},
        {HTTP_GET, "/admin/v1/groups/*/policy/*", handle_policy_view},
        {HTTP_PUT, "/admin/v1/groups/*/policy", handle_policy_upload},
        {HTTP_POST, "/admin/v1/groups/*/policy/*/approve", handle_policy_approve},
        {HTTP_GET, "/admin/v1/audit", handle_audit},
        {HTTP_GET, "/admin/v1/audit/verify", handle_audit_verify},
};
const size_t api_admin_routes_n = ELEMENTSOF(api_admin_routes);
