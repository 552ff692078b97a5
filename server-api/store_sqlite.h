/* server-api/store_sqlite.h — the SQLite backend's ops table (mamori-server; store_sql.c).
 * store_open() picks it for "sqlite:PATH" and for a bare path. */
#ifndef MAMORI_STORE_SQLITE_H
#define MAMORI_STORE_SQLITE_H

#include "store.h"

extern const struct store_ops store_sqlite_ops;

#endif
