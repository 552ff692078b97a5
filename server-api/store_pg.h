/* server-api/store_pg.h — the PostgreSQL backend's ops table (mamori-server):
 * store_open() picks it for "postgresql://…" (a libpq URI). The operations
 * are store_sql.c's, on the libpq engine of sqldb_pg.c. */
#ifndef MAMORI_STORE_PG_H
#define MAMORI_STORE_PG_H

#include "store.h"

extern const struct store_ops store_pg_ops;

#endif
