/* server-api/api_admin.h — the admin API under /admin/v1 on the admin
 * listener (mamori-server): accounts, sessions, API tokens, enrollment
 * tokens, terminals, events, findings, policies, audit. */
#ifndef MAMORI_API_ADMIN_H
#define MAMORI_API_ADMIN_H

#include <stddef.h>

#include "http.h"

extern const struct http_route api_admin_routes[];
extern const size_t api_admin_routes_n;

#endif
