/* server-api/api_admin.h — the admin API under /admin/v1 on the admin
 * listener (mamori-server): accounts, sessions, API tokens, enrollment
 * tokens, terminals, events, findings, policies, audit. */
#ifndef MAMORI_API_ADMIN_H
#define MAMORI_API_ADMIN_H

#include <stddef.h>

#include "http.h"

extern const struct http_route api_admin_routes[];
extern const size_t api_admin_routes_n;

/* For the other admin handlers (api_command.c). What a request needs:
 * reading, requesting an operational action (operator, ciso) or approving
 * (approver, ciso). Replies (401/403, audited) and returns negative when
 * refused; otherwise the actor's name (account, or "token:NAME"). */
enum api_admin_need { ADMIN_NEED_READ, ADMIN_NEED_OPERATE, ADMIN_NEED_APPROVE };
struct server;
int api_admin_authorize(struct server *srv, struct http_req *req, enum api_admin_need need, char *ret_name,
                        size_t namesz);
/* OPS-4 by person, the same rule as policy approval: 0 allowed, -EPERM (why
 * says which rule) or a store error. */
int api_admin_ops4_allowed(struct server *srv, const char *approver, const char *requester, const char **why);

#endif
