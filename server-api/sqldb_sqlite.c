/* server-api/sqldb_sqlite.c — the SQLite engine of sqldb.h (mamori-server):
 * a thin layer over sqlite3 statements; result codes become negative errno
 * in sql_errno() (common/sqlite-util.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "sqldb.h"
#include "sqlite-util.h"

struct lite_db {
	struct sqldb base;
	sqlite3 *db;
};

struct lite_stmt {
	struct sqldb_stmt base;
	sqlite3_stmt *st;
};

static sqlite3 *LDB(const struct sqldb *db)
{
	return ((const struct lite_db *)db)->db;
}

static sqlite3_stmt *LST(struct sqldb_stmt *st)
{
	return ((struct lite_stmt *)st)->st;
}

static void lite_close(struct sqldb *db)
{
	sqlite3_close(LDB(db));
	free(db);
}

static const char *lite_errmsg(const struct sqldb *db)
{
	return sqlite3_errmsg(LDB(db));
}

static int lite_exec(struct sqldb *db, const char *sql)
{
	return sql_errno(sqlite3_exec(LDB(db), sql, NULL, NULL, NULL));
}

static int lite_prepare(struct sqldb *db, const char *sql, bool persistent, struct sqldb_stmt **ret)
{
	struct lite_stmt *st = calloc(1, sizeof(*st));
	int rc;

	if (!st)
		return -ENOMEM;
	rc = sqlite3_prepare_v3(LDB(db), sql, -1, persistent ? SQLITE_PREPARE_PERSISTENT : 0, &st->st, NULL);
	if (rc != SQLITE_OK) {
		free(st);
		return sql_errno(rc);
	}
	st->base.db = db;
	*ret = &st->base;
	return 0;
}

static void lite_finalize(struct sqldb_stmt *st)
{
	sqlite3_finalize(LST(st));
	free(st);
}

static void lite_reset(struct sqldb_stmt *st)
{
	sqlite3_reset(LST(st));
	sqlite3_clear_bindings(LST(st));
}

static int lite_bind_text(struct sqldb_stmt *st, int i, const char *v)
{
	return sql_errno(v ? sqlite3_bind_text(LST(st), i, v, -1, SQLITE_STATIC) : sqlite3_bind_null(LST(st), i));
}

static int lite_bind_int(struct sqldb_stmt *st, int i, int64_t v)
{
	return sql_errno(sqlite3_bind_int64(LST(st), i, v));
}

static int lite_bind_blob(struct sqldb_stmt *st, int i, const void *v, size_t n)
{
	return sql_errno(sqlite3_bind_blob64(LST(st), i, v, n, SQLITE_STATIC));
}

static int lite_bind_null_int(struct sqldb_stmt *st, int i)
{
	return sql_errno(sqlite3_bind_null(LST(st), i));
}

static int lite_step(struct sqldb_stmt *st)
{
	int rc = sqlite3_step(LST(st));

	if (rc == SQLITE_ROW)
		return 1;
	sqlite3_reset(LST(st));
	return rc == SQLITE_DONE ? 0 : sql_errno(rc);
}

static int64_t lite_changes(struct sqldb *db)
{
	return sqlite3_changes64(LDB(db));
}

static bool lite_col_null(struct sqldb_stmt *st, int i)
{
	return sqlite3_column_type(LST(st), i) == SQLITE_NULL;
}

static int64_t lite_col_int64(struct sqldb_stmt *st, int i)
{
	return sqlite3_column_int64(LST(st), i);
}

static const char *lite_col_text(struct sqldb_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(LST(st), i);
}

static const void *lite_col_blob(struct sqldb_stmt *st, int i)
{
	return sqlite3_column_blob(LST(st), i);
}

static size_t lite_col_bytes(struct sqldb_stmt *st, int i)
{
	return (size_t)sqlite3_column_bytes(LST(st), i);
}

/* Copy every page of src into dst, in steps (the source may be written
 * meanwhile: the backup API restarts and stays consistent). */
static int lite_copy(sqlite3 *dst, sqlite3 *src)
{
	sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
	int rc;

	if (!b)
		return sql_errno(sqlite3_errcode(dst));
	do {
		rc = sqlite3_backup_step(b, 256);
		if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
			sqlite3_sleep(20);
	} while (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
	(void)sqlite3_backup_finish(b);
	return rc == SQLITE_DONE ? 0 : sql_errno(rc);
}

static int lite_backup(struct sqldb *db, const char *file)
{
	sqlite3 *dst = NULL;
	int fd, r;

	/* made here, 0600, never over an existing file */
	fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	close(fd);
	r = sql_errno(sqlite3_open_v2(file, &dst, SQLITE_OPEN_READWRITE, NULL));
	if (r == 0)
		r = lite_copy(dst, LDB(db));
	/* one self-contained file: no WAL beside it */
	if (r == 0)
		r = sql_errno(sqlite3_exec(dst, "PRAGMA journal_mode = DELETE", NULL, NULL, NULL));
	sqlite3_close(dst);
	if (r < 0)
		(void)unlink(file);
	return r;
}

static int lite_restore(struct sqldb *db, const char *file)
{
	sqlite3 *src = NULL;
	sqlite3_stmt *st = NULL;
	int r, rc;

	rc = sqlite3_prepare_v2(LDB(db), "SELECT count(*) FROM sqlite_master", -1, &st, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW)
		rc = sqlite3_column_int64(st, 0) == 0 ? SQLITE_OK : SQLITE_CONSTRAINT;
	sqlite3_finalize(st);
	if (rc != SQLITE_OK)
		return rc == SQLITE_CONSTRAINT ? -EEXIST : sql_errno(rc);
	r = sql_errno(sqlite3_open_v2(file, &src, SQLITE_OPEN_READONLY, NULL));
	/* an SQLite database at all (not a pg_dump archive, not garbage) */
	if (r == 0 && sqlite3_exec(src, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL) != SQLITE_OK)
		r = -EPROTO;
	if (r == 0)
		r = lite_copy(LDB(db), src);
	sqlite3_close(src);
	return r;
}

static const struct sqldb_engine_ops lite_ops = {
        .close = lite_close,
        .errmsg = lite_errmsg,
        .exec = lite_exec,
        .prepare = lite_prepare,
        .finalize = lite_finalize,
        .reset = lite_reset,
        .bind_text = lite_bind_text,
        .bind_int = lite_bind_int,
        .bind_blob = lite_bind_blob,
        .bind_null_int = lite_bind_null_int,
        .step = lite_step,
        .changes = lite_changes,
        .col_null = lite_col_null,
        .col_int64 = lite_col_int64,
        .col_text = lite_col_text,
        .col_blob = lite_col_blob,
        .col_bytes = lite_col_bytes,
        .backup = lite_backup,
        .restore = lite_restore,
};

int sqldb_open_sqlite(const char *path, struct sqldb **ret)
{
	struct lite_db *d = calloc(1, sizeof(*d));
	int rc;

	if (!d)
		return -ENOMEM;
	d->base.ops = &lite_ops;
	d->base.engine = SQLDB_SQLITE;
	rc = sqlite3_open_v2(path, &d->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		sqlite3_close(d->db);
		free(d);
		return sql_errno(rc);
	}
	sqlite3_busy_timeout(d->db, 5000);
	sqlite3_extended_result_codes(d->db, 1);
	*ret = &d->base;
	return 0;
}
