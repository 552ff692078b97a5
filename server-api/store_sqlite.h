/* server-api/store_sqlite.h — the SQLite backend's ops table (mamori-server; store_sql.c).
 * store_open() picks it for "sqlite:PATH" and for a bare path. */
#ifndef MAMORI_STORE_SQLITE_H
#define MAMORI_STORE_SQLITE_H

#include "store.h"

extern const struct store_ops store_sqlite_ops;

/* The statement of every check-in's reads (store_sql.c, both engines),
 * for the test that lets SQLite count what it reads. Its binds, in order:
 * terminal, terminal, re-delivery time (µs), now (s), now, terminal,
 * terminal. */
extern const char store_sql_checkin_reads[];
#define STORE_CHECKIN_READS_BINDS 7

#endif
