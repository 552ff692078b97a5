/* server-api/api_admin.h — the admin API under /admin/v1 on the admin
 * listener (mamori-server): accounts, sessions, API tokens, enrollment
 * tokens, terminals, events, findings, policies, audit. */
#ifndef MAMORI_API_ADMIN_H
#define MAMORI_API_ADMIN_H

#include <stdbool.h>
#include <stddef.h>

#include "http.h"
#include "store.h"

struct server;

/* For the admin API's other files (api_dashboard.c): the permission bits of
 * api_admin.c, and its check of the bearer token or the dashboard's session
 * cookie; replies and returns negative when refused. *actor: the account
 * name or "token:NAME"; *ret_role: the account's role (viewer for a token). */
enum {
	API_PERM_READ = 1 << 0,
	API_PERM_OPERATE = 1 << 2, /* operational actions: revoke, commands, media (operator, ciso) */
	API_PERM_POLICY_UPLOAD = 1 << 3,
	API_PERM_POLICY_APPROVE = 1 << 4,
	API_PERM_AUDIT = 1 << 5,
	API_PERM_ACCOUNTS = 1 << 6,
};
#define API_ACTOR_MAX (129 + 8)
int api_admin_auth(struct server *srv, struct http_req *req, unsigned perm, char actor[API_ACTOR_MAX],
                   enum store_role *ret_role /* NULL: not wanted */);
bool api_admin_role_may(enum store_role role, unsigned perm);
/* Whose requests from terminals an actor may see and decide (issue 16.2):
 * 1 every department's (a ciso, or an account of department "*"), 0 those
 * of terminals of department *dept, -ENOENT none (an API token, an account
 * without department, pending or disabled), other negative: the store. */
int api_admin_actor_department(struct server *srv, const char *actor, char dept[STORE_ID_MAX]);
/* A department name (部署): 1..96 bytes of UTF-8, no control character. */
bool api_admin_department_valid(const char *s);
/* OPS-4 (docs/API.md "OPS-4 by person"): 0 if approver may approve what
 * requester asked for, -EPERM with *why if not. */
int api_admin_ops4_allowed(struct server *srv, const char *approver, const char *requester, const char **why);
/* OPS-4 for an approval step of the admin API (commands, requests): 0 when
 * actor may approve what requester asked for; otherwise the reply is sent
 * (403 same_person, audited as `action` on target "refused"; 503 when the
 * store fails) and the result is negative. */
int api_admin_ops4_check(struct server *srv, struct http_req *req, const char *actor, const char *requester,
                         const char *action, const char *target);

/* The admin API's common replies (500 out of memory, 503 store failed, logged). */
void api_admin_no_memory(struct http_req *req);
void api_admin_store_failed(struct http_req *req, int r);
/* An RFC 3339 UTC time ("2024-01-02T03:04:05Z") as microseconds; -EINVAL. */
int api_admin_parse_time(const char *s, int64_t *ret);

extern const struct http_route api_admin_routes[];
extern const size_t api_admin_routes_n;

#endif
