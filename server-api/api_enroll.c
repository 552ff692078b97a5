/* server-api/api_enroll.c — GET /enroll/v1/ca and POST /enroll/v1
 * (mamori-server, admin listener; no client certificate).
 *
 * The terminal made its key pair itself and sends only a CSR; the token is
 * checked (known, unused, unexpired), then the certificate is signed, then
 * the token is consumed and the terminal created in one transaction — a
 * certificate is given out only if that transaction committed. Every refusal
 * is recorded in the audit trail. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "alloc-util.h"
#include "api_device.h"
#include "api_enroll.h"
#include "crypto.h"
#include "json-util.h"
#include "log.h"
#include "server.h"
#include "strutil.h"
#include "terminal_id.h"

_Static_assert(TERMINAL_ID_MAX <= STORE_ID_MAX, "a valid terminal ID fits the store");

static void handle_ca(void *userdata, struct http_req *req)
{
	struct server *srv = userdata;
	const char *pem = pki_ca_pem(srv->pki);

	http_reply_data(req, 200, "application/x-pem-file", pem, strlen(pem));
}

/* https://HOST:DEVICE_PORT from the Host header the terminal used (or the
 * configured --device-url). Only plain host names and addresses pass. */
static int device_url(struct server *srv, struct http_req *req, char *buf, size_t bufsz)
{
	const char *host = http_req_header(req, "Host");
	char h[256];
	size_t n;

	if (srv->cfg.device_url[0])
		return strscpy(buf, bufsz, srv->cfg.device_url);
	if (!host)
		return -EINVAL;
	if (host[0] == '[')
		n = strcspn(host, "]") + 1;
	else
		n = strcspn(host, ":");
	if (n == 0 || n >= sizeof(h))
		return -EINVAL;
	memcpy(h, host, n);
	h[n] = 0;
	for (size_t i = 0; i < n; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]", h[i]))
			return -EINVAL;
	return xsnprintf(buf, bufsz, "https://%s:%u", h, srv->device_port);
}

static void token_refused(struct server *srv, struct http_req *req, const char *tid, int r)
{
	const char *code = r == -EALREADY ? "token_used" : r == -ETIMEDOUT ? "token_expired" : "token_unknown";

	server_audit(srv, "enroll", "terminal.enroll", tid, code, NULL);
	if (r == -EALREADY)
		http_reply_error(req, 403, code, "この登録トークンは使用済みです (一度しか使えません)",
		                 "this enrollment token was already used (single use)", NULL);
	else if (r == -ETIMEDOUT)
		http_reply_error(req, 403, code, "この登録トークンは期限切れです", "this enrollment token has expired",
		                 NULL);
	else
		http_reply_error(req, 403, code, "登録トークンが正しくありません", "unknown enrollment token", NULL);
}

static void handle_enroll(void *userdata, struct http_req *req)
{
	struct server *srv = userdata;
	_cleanup_json_ cJSON *body = NULL, *out = NULL;
	_cleanup_free_ char *pem = NULL;
	struct store_device d = {0};
	struct store_cert c = {0};
	struct store_policy p = {0};
	const cJSON *tok, *csr, *tid, *host;
	char th[CRYPTO_SHA256_HEX], group[STORE_ID_MAX], na[32], url[600];
	int64_t now = server_now_us();
	int r;

	r = http_req_json(req, SERVER_JSON_SMALL, &body);
	if (r < 0) {
		server_audit(srv, "enroll", "terminal.enroll", NULL, "refused",
		             r == -E2BIG    ? "body too large"
		             : r == -EPROTO ? "unsupported encoding"
		                            : "malformed body");
		return http_reply_body_error(req, r);
	}
	if (!cJSON_IsObject(body)) {
		server_audit(srv, "enroll", "terminal.enroll", NULL, "refused", "not a JSON object");
		return http_reply_error(req, 400, "invalid", "JSON オブジェクトが必要です", "a JSON object is expected",
		                        NULL);
	}
	{
		static const char *const fields[] = {"token", "csr", "terminal_id", "hostname", NULL};
		const char *u = api_unknown_field(body, fields);
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(body, "terminal_id");

		if (u)
			return api_refuse_unknown_field(
			        srv, req, "enroll", "terminal.enroll",
			        cJSON_IsString(t) && terminal_id_valid(t->valuestring) ? t->valuestring : NULL, u);
	}
	tok = cJSON_GetObjectItemCaseSensitive(body, "token");
	csr = cJSON_GetObjectItemCaseSensitive(body, "csr");
	tid = cJSON_GetObjectItemCaseSensitive(body, "terminal_id");
	host = cJSON_GetObjectItemCaseSensitive(body, "hostname");
	if (!cJSON_IsString(tok) || strlen(tok->valuestring) > 256 || !cJSON_IsString(csr) ||
	    strlen(csr->valuestring) > PKI_CSR_MAX || !cJSON_IsString(tid) || !terminal_id_valid(tid->valuestring) ||
	    (host && (!cJSON_IsString(host) || strlen(host->valuestring) > 255 ||
	              !utf8_valid(host->valuestring, strlen(host->valuestring))))) {
		/* issue 17.14: malformed enrollments are recorded too (the
		 * terminal ID only when it is a valid one) */
		server_audit(srv, "enroll", "terminal.enroll",
		             cJSON_IsString(tid) && terminal_id_valid(tid->valuestring) ? tid->valuestring : NULL,
		             "refused", "malformed request");
		return http_reply_error(
		        req, 400, "invalid",
		        "token, csr, terminal_id ([A-Za-z0-9][A-Za-z0-9._-]*, 128 文字まで) が必要です",
		        "token, csr and terminal_id ([A-Za-z0-9][A-Za-z0-9._-]*, up to 128) are required", NULL);
	}
	if (crypto_sha256_hex(tok->valuestring, strlen(tok->valuestring), th) < 0)
		return http_reply_error(req, 500, "internal", "サーバー内部のエラーです", "internal server error",
		                        NULL);
	r = STORE_CALL(srv->store, token_peek, th, now, group);
	if (r == -ENOENT || r == -EALREADY || r == -ETIMEDOUT)
		return token_refused(srv, req, tid->valuestring, r);
	if (r < 0)
		return http_reply_error(req, 503, "store_unavailable", "サーバーの記録領域が使えません",
		                        "the store is unavailable", NULL);
	r = signer_sign_csr(srv->signer, csr->valuestring, strlen(csr->valuestring), tid->valuestring,
	                    srv->cfg.device_cert_seconds, &pem, c.serial, &c.not_after_us);
	if (r == -EBADMSG) {
		server_audit(srv, "enroll", "terminal.enroll", tid->valuestring, "bad_csr", NULL);
		return http_reply_error(req, 400, "bad_csr",
		                        "CSR が不正です (P-256 または Ed25519 の鍵、CN = 端末ID が必要)",
		                        "invalid CSR (needs a P-256 or Ed25519 key and CN = terminal_id)", NULL);
	}
	if (r < 0)
		return http_reply_error(req, 500, "ca_error", "証明書を発行できません", "cannot issue the certificate",
		                        NULL);
	(void)strscpy(d.terminal_id, sizeof(d.terminal_id), tid->valuestring);
	(void)strscpy(d.hostname, sizeof(d.hostname), host ? host->valuestring : "");
	(void)strscpy(c.terminal_id, sizeof(c.terminal_id), tid->valuestring);
	r = STORE_CALL(srv->store, enroll, th, now, &d, &c);
	if (r == -ENOENT || r == -EALREADY || r == -ETIMEDOUT)
		return token_refused(srv, req, tid->valuestring, r);
	if (r == -EEXIST) {
		server_audit(srv, "enroll", "terminal.enroll", tid->valuestring, "already_enrolled", NULL);
		return http_reply_error(req, 409, "already_enrolled",
		                        "この端末IDは登録済みです。再登録するには先に失効させてください (MDM-3)",
		                        "this terminal ID is already enrolled; revoke it first to enroll again (MDM-3)",
		                        NULL);
	}
	if (r < 0)
		return http_reply_error(req, 503, "store_unavailable", "サーバーの記録領域が使えません",
		                        "the store is unavailable", NULL);
	api_device_invalidate(srv); /* a terminal ID enrolled again after revocation */
	server_audit(srv, "enroll", "terminal.enroll", tid->valuestring, "ok", group);
	log_notice("terminal %s enrolled in group %s (certificate %s)", tid->valuestring, group, c.serial);

	server_format_time(c.not_after_us, na);
	out = cJSON_CreateObject();
	if (!out || !cJSON_AddStringToObject(out, "terminal_id", tid->valuestring) ||
	    !cJSON_AddStringToObject(out, "group", group) || !cJSON_AddStringToObject(out, "certificate", pem) ||
	    !cJSON_AddStringToObject(out, "ca", pki_ca_pem(srv->pki)) ||
	    !cJSON_AddStringToObject(out, "not_after", na) ||
	    !cJSON_AddStringToObject(out, "policy_public_key", srv->policy_pub_pem) ||
	    !cJSON_AddStringToObject(out, "command_public_key", srv->command_pub_pem))
		return http_reply_error(req, 500, "no_memory", "メモリ不足です", "out of memory", NULL);
	if (device_url(srv, req, url, sizeof(url)) == 0)
		cJSON_AddStringToObject(out, "device_url", url);
	r = STORE_CALL(srv->store, policy_current, group, &p);
	if (r == 0) {
		cJSON *po = cJSON_AddObjectToObject(out, "policy");

		if (!po || !cJSON_AddNumberToObject(po, "version", (double)p.version) ||
		    !cJSON_AddStringToObject(po, "document", p.document) ||
		    !cJSON_AddStringToObject(po, "signature", p.signature)) {
			store_policy_clear(&p);
			return http_reply_error(req, 500, "no_memory", "メモリ不足です", "out of memory", NULL);
		}
		store_policy_clear(&p);
	} else {
		cJSON_AddNullToObject(out, "policy");
	}
	http_reply_json(req, 201, out);
}

const struct http_route api_enroll_routes[] = {
        {HTTP_GET, "/enroll/v1/ca", handle_ca},
        {HTTP_POST, "/enroll/v1", handle_enroll},
};
const size_t api_enroll_routes_n = ELEMENTSOF(api_enroll_routes);
