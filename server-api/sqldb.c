/* server-api/sqldb.c — the statement API of sqldb.h, dispatched to the
 * engine of the connection (mamori-server). */
#include <stdlib.h>
#include <string.h>

#include "sqldb.h"

static void engine_finalize(struct sqldb_stmt *st)
{
	free(st->cache_sql);
	st->cache_sql = NULL;
	st->db->ops->finalize(st);
}

void sqldb_close(struct sqldb *db)
{
	if (!db)
		return;
	for (unsigned i = 0; i < db->n_idle; i++)
		engine_finalize(db->idle[i]);
	db->n_idle = 0;
	db->ops->close(db);
}

enum sqldb_engine sqldb_engine(const struct sqldb *db)
{
	return db->engine;
}

const char *sqldb_errmsg(const struct sqldb *db)
{
	return db->ops->errmsg(db);
}

int sqldb_exec(struct sqldb *db, const char *sql)
{
	return db->ops->exec(db, sql);
}

int sqldb_prepare(struct sqldb *db, const char *sql, bool persistent, struct sqldb_stmt **ret)
{
	int r;

	if (!persistent)
		for (unsigned i = db->n_idle; i-- > 0;)
			if (strcmp(db->idle[i]->cache_sql, sql) == 0) {
				*ret = db->idle[i];
				memmove(&db->idle[i], &db->idle[i + 1], (db->n_idle - i - 1) * sizeof(db->idle[0]));
				db->n_idle--;
				return 0;
			}
	r = db->ops->prepare(db, sql, persistent, ret);
	if (r == 0 && !persistent)
		(*ret)->cache_sql = strdup(sql); /* NULL (no memory): finalized for good, not cached */
	return r;
}

void sqldb_finalize(struct sqldb_stmt *st)
{
	struct sqldb *db;

	if (!st)
		return;
	db = st->db;
	if (!st->cache_sql)
		return engine_finalize(st);
	st->db->ops->reset(st); /* no row, no bind kept */
	if (db->n_idle == SQLDB_STMT_CACHE) {
		engine_finalize(db->idle[0]); /* the least recently used */
		memmove(&db->idle[0], &db->idle[1], (db->n_idle - 1) * sizeof(db->idle[0]));
		db->n_idle--;
	}
	db->idle[db->n_idle++] = st;
}

void sqldb_reset(struct sqldb_stmt *st)
{
	if (st)
		st->db->ops->reset(st);
}

int sqldb_bind_text(struct sqldb_stmt *st, int i, const char *v)
{
	return st->db->ops->bind_text(st, i, v);
}

int sqldb_bind_int(struct sqldb_stmt *st, int i, int64_t v)
{
	return st->db->ops->bind_int(st, i, v);
}

int sqldb_bind_blob(struct sqldb_stmt *st, int i, const void *v, size_t n)
{
	return st->db->ops->bind_blob(st, i, v, n);
}

int sqldb_bind_null_int(struct sqldb_stmt *st, int i)
{
	return st->db->ops->bind_null_int(st, i);
}

int sqldb_step(struct sqldb_stmt *st)
{
	return st->db->ops->step(st);
}

int64_t sqldb_changes(struct sqldb *db)
{
	return db->ops->changes(db);
}

bool sqldb_col_null(struct sqldb_stmt *st, int i)
{
	return st->db->ops->col_null(st, i);
}

int64_t sqldb_col_int64(struct sqldb_stmt *st, int i)
{
	return st->db->ops->col_int64(st, i);
}

const char *sqldb_col_text(struct sqldb_stmt *st, int i)
{
	return st->db->ops->col_text(st, i);
}

const void *sqldb_col_blob(struct sqldb_stmt *st, int i)
{
	return st->db->ops->col_blob(st, i);
}

size_t sqldb_col_bytes(struct sqldb_stmt *st, int i)
{
	return st->db->ops->col_bytes(st, i);
}

int sqldb_backup(struct sqldb *db, const char *file)
{
	return db->ops->backup(db, file);
}

int sqldb_restore(struct sqldb *db, const char *file)
{
	return db->ops->restore(db, file);
}
