/* server-api/sqldb.h — the SQL engines under the store (mamori-server): one
 * statement API with an SQLite engine (sqldb_sqlite.c) and a PostgreSQL
 * engine (sqldb_pg.c, libpq), so that the store's operations (store_sql.c)
 * are written once, as SQL text with binds and row reads, and run on both.
 *
 * SQL text uses SQLite's placeholders, `?` and `?N`; the PostgreSQL engine
 * rewrites them to `$n` outside string literals. Binds are typed (text,
 * 64-bit integer, blob, integer NULL) because PostgreSQL must know every
 * parameter's type. Pointers given to a bind are borrowed until the
 * statement is stepped or reset, as with SQLITE_STATIC. Every function
 * returns 0 (or a count) / a negative errno; none logs except where said. */
#ifndef MAMORI_SQLDB_H
#define MAMORI_SQLDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum sqldb_engine {
	SQLDB_SQLITE,
	SQLDB_PG,
};

struct sqldb;
struct sqldb_stmt;

/* path: an SQLite file (created if absent). conninfo: a libpq URI or
 * key=value string. */
int sqldb_open_sqlite(const char *path, struct sqldb **ret);
int sqldb_open_pg(const char *conninfo, struct sqldb **ret);
void sqldb_close(struct sqldb *db);
/* WAL checkpoints made so far by an SQLite connection's checkpoint thread
 * (sqldb_sqlite.c); 0 for PostgreSQL or before the thread started. */
uint64_t sqldb_sqlite_checkpoints(struct sqldb *db);
enum sqldb_engine sqldb_engine(const struct sqldb *db);
/* The engine's last error text (for a log line), never NULL. */
const char *sqldb_errmsg(const struct sqldb *db);

/* Run one or more statements without parameters (DDL, BEGIN, …). */
int sqldb_exec(struct sqldb *db, const char *sql);

/* Prepare sql; persistent: kept for many uses (the store keeps it). A
 * statement prepared per call (not persistent) goes back, reset, to a
 * cache of SQLDB_STMT_CACHE idle statements when finalized, and the next
 * prepare of the same text takes it from there: no SQL is parsed (SQLite)
 * or planned (PostgreSQL, a named prepared statement) again per call. */
int sqldb_prepare(struct sqldb *db, const char *sql, bool persistent, struct sqldb_stmt **ret);
void sqldb_finalize(struct sqldb_stmt *st);
/* Forget the last result and every bind. */
void sqldb_reset(struct sqldb_stmt *st);

int sqldb_bind_text(struct sqldb_stmt *st, int i, const char *v); /* NULL binds a text NULL */
int sqldb_bind_int(struct sqldb_stmt *st, int i, int64_t v);
int sqldb_bind_blob(struct sqldb_stmt *st, int i, const void *v, size_t n);
int sqldb_bind_null_int(struct sqldb_stmt *st, int i); /* an integer NULL */

/* Run (first call) or advance: 1 a row is there, 0 no more rows, negative
 * error (-EEXIST for a constraint, as common/sqlite-util.h). */
int sqldb_step(struct sqldb_stmt *st);
/* Rows changed by the last INSERT/UPDATE/DELETE of the connection. */
int64_t sqldb_changes(struct sqldb *db);

/* Columns of the current row. Text is NUL-terminated (NULL for SQL NULL);
 * integers of SQL NULL are 0, booleans 1/0. Pointers live until the next
 * step or reset. */
bool sqldb_col_null(struct sqldb_stmt *st, int i);
int64_t sqldb_col_int64(struct sqldb_stmt *st, int i);
const char *sqldb_col_text(struct sqldb_stmt *st, int i);
const void *sqldb_col_blob(struct sqldb_stmt *st, int i);
size_t sqldb_col_bytes(struct sqldb_stmt *st, int i);

/* A consistent copy of the whole database in file (made, mode 0600; an
 * existing file is -EEXIST). SQLite: the online backup API, the copy is a
 * database file; PostgreSQL: pg_dump --format=custom (one snapshot), run
 * from Debian's postgresql-client. */
int sqldb_backup(struct sqldb *db, const char *file);
/* Load file, made by sqldb_backup of the same engine, into db, which must
 * hold no table (-EEXIST otherwise). PostgreSQL: pg_restore in one
 * transaction, stopping at the first error. -EPROTO: not such a file. */
int sqldb_restore(struct sqldb *db, const char *file);

/* Engine-private: the function table both engines fill. */
struct sqldb_engine_ops {
	void (*close)(struct sqldb *db);
	const char *(*errmsg)(const struct sqldb *db);
	int (*exec)(struct sqldb *db, const char *sql);
	int (*prepare)(struct sqldb *db, const char *sql, bool persistent, struct sqldb_stmt **ret);
	void (*finalize)(struct sqldb_stmt *st);
	void (*reset)(struct sqldb_stmt *st);
	int (*bind_text)(struct sqldb_stmt *st, int i, const char *v);
	int (*bind_int)(struct sqldb_stmt *st, int i, int64_t v);
	int (*bind_blob)(struct sqldb_stmt *st, int i, const void *v, size_t n);
	int (*bind_null_int)(struct sqldb_stmt *st, int i);
	int (*step)(struct sqldb_stmt *st);
	int64_t (*changes)(struct sqldb *db);
	bool (*col_null)(struct sqldb_stmt *st, int i);
	int64_t (*col_int64)(struct sqldb_stmt *st, int i);
	const char *(*col_text)(struct sqldb_stmt *st, int i);
	const void *(*col_blob)(struct sqldb_stmt *st, int i);
	size_t (*col_bytes)(struct sqldb_stmt *st, int i);
	int (*backup)(struct sqldb *db, const char *file);
	int (*restore)(struct sqldb *db, const char *file);
};

#define SQLDB_STMT_CACHE 64

struct sqldb {
	const struct sqldb_engine_ops *ops;
	enum sqldb_engine engine;
	/* idle statements prepared per call, the most recently used last
	 * (sqldb.c; the engines allocate struct sqldb zeroed) */
	struct sqldb_stmt *idle[SQLDB_STMT_CACHE];
	unsigned n_idle;
};

struct sqldb_stmt {
	struct sqldb *db;
	char *cache_sql; /* its text, when it goes back to the cache at finalize (sqldb.c) */
};

#endif
