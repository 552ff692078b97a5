/* server-api/api_dashboard.h — the admin API the browser dashboard reads
 * (mamori-server, admin listener): /admin/v1/dashboard/{overview,terminals,
 * approvals,events}. Aggregations and server-side paging over the store. */
#ifndef MAMORI_API_DASHBOARD_H
#define MAMORI_API_DASHBOARD_H

#include <stddef.h>

#include "http.h"

struct server;

/* Record today's compliance figures (the 90-day trend of the overview): the
 * server's tick calls it every hour; each overview request refreshes them. */
int api_dashboard_snapshot(struct server *srv);

extern const struct http_route api_dashboard_routes[];
extern const size_t api_dashboard_routes_n;

#endif
