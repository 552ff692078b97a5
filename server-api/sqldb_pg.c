/* server-api/sqldb_pg.c — the PostgreSQL engine of sqldb.h (mamori-server),
 * on libpq. A statement keeps its SQL text with SQLite's `?`/`?N`
 * placeholders rewritten to `$n`, and its typed binds; the first step runs
 * it (PQexecParams the first time, a named prepared statement from then on:
 * text results, blobs sent and read as bytea) and later steps walk the
 * result's rows. SQLSTATE classes become negative errno:
 * 23 (integrity) -EEXIST as SQLITE_CONSTRAINT does, 40 (serialization,
 * deadlock) -EAGAIN, 53 (resources) -ENOSPC, a lost connection -EIO. */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "alloc-util.h"
#include "log.h"
#include "proc-util.h"
#include "sqldb.h"

#define OID_BYTEA 17
#define OID_INT8  20
#define OID_TEXT  25

/* What the store's SQL assumes of a session: UTF-8 text, quiet notices,
 * READ COMMITTED (a conditional UPDATE re-reads the row another writer
 * moved: events_append's precondition). */
#define PG_SESSION                                                                                                     \
	"SET client_encoding = 'UTF8'; SET client_min_messages = warning;"                                             \
	" SET default_transaction_isolation = 'read committed'"

struct pg_db {
	struct sqldb base;
	PGconn *conn;
	char *conninfo; /* for pg_dump and pg_restore */
	bool lost;      /* the server ended the session (57P0x, 08xxx): connect again */
	uint64_t epoch; /* bumped at each reconnect: the session's prepared statements are gone */
	uint64_t next_name;
	int64_t changes;
	char err[256];
};

struct pg_stmt {
	struct sqldb_stmt base;
	char *sql;
	int nparams;
	unsigned *types; /* Oid */
	const char **values;
	int *lengths, *formats;
	char (*ints)[24];
	PGresult *res;
	int row, nrows;
	/* a named prepared statement (from the second run on: one planned
	 * once, executed many times), for the parameter types it was made for */
	char name[24];
	unsigned *ptypes;
	uint64_t epoch;
	unsigned runs;
	unsigned char **blobs; /* unescaped bytea of the current row, by column (malloc) */
	size_t *blob_len;
	int ncols;
};

static struct pg_db *PDB(const struct sqldb *db)
{
	return (struct pg_db *)db;
}

static struct pg_stmt *PST(struct sqldb_stmt *st)
{
	return (struct pg_stmt *)st;
}

static void pg_close(struct sqldb *db)
{
	PQfinish(PDB(db)->conn);
	free(PDB(db)->conninfo);
	free(db);
}

static const char *pg_errmsg(const struct sqldb *db)
{
	return PDB(db)->err;
}

/* The result's status as 0 or a negative errno; keeps the message. */
static int pg_result_errno(struct pg_db *d, PGresult *res)
{
	ExecStatusType t = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	const char *state;

	if (t == PGRES_COMMAND_OK || t == PGRES_TUPLES_OK || t == PGRES_EMPTY_QUERY)
		return 0;
	(void)snprintf(d->err, sizeof(d->err), "%s", res ? PQresultErrorMessage(res) : PQerrorMessage(d->conn));
	d->err[strcspn(d->err, "\n")] = 0;
	state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	if (PQstatus(d->conn) != CONNECTION_OK || !state || strncmp(state, "57P0", 4) == 0 ||
	    strncmp(state, "08", 2) == 0) {
		d->lost = true;
		return -EIO;
	}
	if (strncmp(state, "23", 2) == 0)
		return -EEXIST;
	if (strncmp(state, "40", 2) == 0)
		return -EAGAIN;
	if (strncmp(state, "53", 2) == 0)
		return -ENOSPC;
	if (strncmp(state, "42501", 5) == 0 || strncmp(state, "28", 2) == 0)
		return -EACCES;
	if (strncmp(state, "22", 2) == 0)
		return -EINVAL;
	return -EIO;
}

/* A connection lost (the database restarted, a standby promoted behind
 * the same address) is made again before the next statement: the one that
 * saw it failed with -EIO (its transaction is gone), the next ones work. */
static void pg_reconnect(struct pg_db *d)
{
	if (PQstatus(d->conn) == CONNECTION_OK && !d->lost)
		return;
	d->lost = false;
	d->epoch++;
	PQreset(d->conn);
	if (PQstatus(d->conn) == CONNECTION_OK) {
		PGresult *res = PQexec(d->conn, PG_SESSION);

		PQclear(res);
		log_notice("store: reconnected to PostgreSQL");
	}
}

static int pg_exec(struct sqldb *db, const char *sql)
{
	struct pg_db *d = PDB(db);
	PGresult *res;

	pg_reconnect(d);
	res = PQexec(d->conn, sql);
	int r = pg_result_errno(d, res);

	if (r == 0)
		d->changes = strtoll(PQcmdTuples(res) ?: "0", NULL, 10);
	PQclear(res);
	return r;
}

/* `?N` → `$N`, `?` → `$k` (k counting), outside '…' and "…"; *ret_n: the
 * highest parameter number. */
static int rewrite(const char *sql, char **ret, int *ret_n)
{
	size_t n = strlen(sql);
	char *out = malloc(n * 4 + 1), *o = out;
	int next = 0, max = 0;
	char quote = 0;

	if (!out)
		return -ENOMEM;
	for (const char *p = sql; *p; p++) {
		if (quote) {
			if (*p == quote)
				quote = 0;
			*o++ = *p;
		} else if (*p == '\'' || *p == '"') {
			quote = *p;
			*o++ = *p;
		} else if (*p == '?') {
			int v;

			if (p[1] >= '0' && p[1] <= '9') {
				char *end;
				long l = strtol(p + 1, &end, 10);

				if (l < 1 || l > 999) {
					free(out);
					return -EINVAL;
				}
				v = (int)l;
				p = end - 1;
			} else {
				v = ++next;
			}
			/* "$999" is 4 bytes for the 1 of "?": out has 4 per byte */
			o += snprintf(o, (size_t)(out + n * 4 + 1 - o), "$%d", v);
			if (v > max)
				max = v;
		} else {
			*o++ = *p;
		}
	}
	*o = 0;
	*ret = out;
	*ret_n = max;
	return 0;
}

static void pg_clear_result(struct pg_stmt *st)
{
	for (int i = 0; st->blobs && i < st->ncols; i++)
		free(st->blobs[i]);
	free(st->blobs);
	free(st->blob_len);
	st->blobs = NULL;
	st->blob_len = NULL;
	st->ncols = 0;
	PQclear(st->res);
	st->res = NULL;
	st->row = -1;
	st->nrows = 0;
}

static void pg_reset(struct sqldb_stmt *base)
{
	struct pg_stmt *st = PST(base);

	pg_clear_result(st);
	for (int i = 0; i < st->nparams; i++) {
		st->values[i] = NULL;
		st->types[i] = OID_TEXT;
		st->lengths[i] = 0;
		st->formats[i] = 0;
	}
}

static void pg_finalize(struct sqldb_stmt *base)
{
	struct pg_stmt *st = PST(base);

	pg_clear_result(st);
	free(st->sql);
	free(st->types);
	free(st->values);
	free(st->lengths);
	free(st->formats);
	free(st->ints);
	free(st->ptypes);
	free(st);
}

static int pg_prepare(struct sqldb *db, const char *sql, bool persistent, struct sqldb_stmt **ret)
{
	struct pg_stmt *st = calloc(1, sizeof(*st));
	int r, n = 0;

	(void)persistent; /* prepared on the server at the second run: types come from the binds */
	if (!st)
		return -ENOMEM;
	st->base.db = db;
	st->row = -1;
	if ((r = rewrite(sql, &st->sql, &n)) < 0) {
		free(st);
		return r;
	}
	st->nparams = n;
	st->types = calloc((size_t)n + 1, sizeof(*st->types));
	st->values = calloc((size_t)n + 1, sizeof(*st->values));
	st->lengths = calloc((size_t)n + 1, sizeof(*st->lengths));
	st->formats = calloc((size_t)n + 1, sizeof(*st->formats));
	st->ints = calloc((size_t)n + 1, sizeof(*st->ints));
	st->ptypes = calloc((size_t)n + 1, sizeof(*st->ptypes));
	if (!st->types || !st->values || !st->lengths || !st->formats || !st->ints || !st->ptypes) {
		pg_finalize(&st->base);
		return -ENOMEM;
	}
	pg_reset(&st->base);
	*ret = &st->base;
	return 0;
}

static int pg_param(struct pg_stmt *st, int i)
{
	if (i < 1 || i > st->nparams)
		return -ERANGE;
	pg_clear_result(st); /* a bind after a run starts the next run */
	return i - 1;
}

static int pg_bind_text(struct sqldb_stmt *base, int i, const char *v)
{
	struct pg_stmt *st = PST(base);
	int k = pg_param(st, i);

	if (k < 0)
		return k;
	st->types[k] = OID_TEXT;
	st->values[k] = v;
	st->formats[k] = 0;
	return 0;
}

static int pg_bind_int(struct sqldb_stmt *base, int i, int64_t v)
{
	struct pg_stmt *st = PST(base);
	int k = pg_param(st, i);

	if (k < 0)
		return k;
	(void)snprintf(st->ints[k], sizeof(st->ints[k]), "%" PRId64, v);
	st->types[k] = OID_INT8;
	st->values[k] = st->ints[k];
	st->formats[k] = 0;
	return 0;
}

static int pg_bind_blob(struct sqldb_stmt *base, int i, const void *v, size_t n)
{
	struct pg_stmt *st = PST(base);
	int k = pg_param(st, i);

	if (k < 0)
		return k;
	if (n > INT32_MAX)
		return -E2BIG;
	st->types[k] = OID_BYTEA;
	st->values[k] = v ? v : "";
	st->lengths[k] = (int)n;
	st->formats[k] = 1;
	return 0;
}

static int pg_bind_null_int(struct sqldb_stmt *base, int i)
{
	struct pg_stmt *st = PST(base);
	int k = pg_param(st, i);

	if (k < 0)
		return k;
	st->types[k] = OID_INT8;
	st->values[k] = NULL;
	return 0;
}

/* The first run of a statement is PQexecParams (one round trip, planned
 * for this run); from the second on it is a named prepared statement of
 * the session (PQprepare once, then PQexecPrepared: parsed and planned
 * once). Prepared again after a reconnect or for other parameter types. */
static PGresult *pg_run(struct pg_db *d, struct pg_stmt *st)
{
	size_t tsz = (size_t)st->nparams * sizeof(*st->types);

	if (st->runs++ == 0)
		return PQexecParams(d->conn, st->sql, st->nparams, st->types, st->values, st->lengths, st->formats, 0);
	if (!st->name[0] || st->epoch != d->epoch || (tsz && memcmp(st->ptypes, st->types, tsz) != 0)) {
		PGresult *res;

		(void)snprintf(st->name, sizeof(st->name), "m%" PRIu64, ++d->next_name);
		res = PQprepare(d->conn, st->name, st->sql, st->nparams, st->types);
		if (pg_result_errno(d, res) < 0) {
			st->name[0] = 0;
			return res; /* its error is the run's */
		}
		PQclear(res);
		if (tsz)
			memcpy(st->ptypes, st->types, tsz);
		st->epoch = d->epoch;
	}
	return PQexecPrepared(d->conn, st->name, st->nparams, st->values, st->lengths, st->formats, 0);
}

static int pg_step(struct sqldb_stmt *base)
{
	struct pg_stmt *st = PST(base);
	struct pg_db *d = PDB(base->db);
	int r;

	if (!st->res) {
		pg_reconnect(d);
		st->res = pg_run(d, st);
		r = pg_result_errno(d, st->res);
		if (r < 0) {
			log_debug("store: postgresql: %s", d->err);
			pg_clear_result(st);
			return r;
		}
		d->changes = strtoll(PQcmdTuples(st->res) ?: "0", NULL, 10);
		st->nrows = PQntuples(st->res);
		st->ncols = PQnfields(st->res);
		st->blobs = calloc((size_t)st->ncols + 1, sizeof(*st->blobs));
		st->blob_len = calloc((size_t)st->ncols + 1, sizeof(*st->blob_len));
		if (!st->blobs || !st->blob_len) {
			pg_clear_result(st);
			return -ENOMEM;
		}
		st->row = -1;
	}
	for (int c = 0; c < st->ncols; c++) {
		free(st->blobs[c]);
		st->blobs[c] = NULL;
	}
	if (st->row + 1 >= st->nrows) {
		pg_clear_result(st); /* as SQLite: done resets, the binds stay */
		return 0;
	}
	st->row++;
	return 1;
}

static int64_t pg_changes(struct sqldb *db)
{
	return PDB(db)->changes;
}

static bool pg_col_null(struct sqldb_stmt *base, int i)
{
	struct pg_stmt *st = PST(base);

	return !st->res || i >= st->ncols || PQgetisnull(st->res, st->row, i);
}

static const char *pg_col_text(struct sqldb_stmt *base, int i)
{
	struct pg_stmt *st = PST(base);

	if (pg_col_null(base, i))
		return NULL;
	if (PQftype(st->res, i) == OID_BYTEA)
		return sqldb_col_blob(base, i); /* the bytes, NUL-terminated below */
	return PQgetvalue(st->res, st->row, i);
}

static int64_t pg_col_int64(struct sqldb_stmt *base, int i)
{
	const char *v = pg_col_text(base, i);

	if (!v)
		return 0;
	if (strcmp(v, "t") == 0)
		return 1;
	if (strcmp(v, "f") == 0)
		return 0;
	return strtoll(v, NULL, 10);
}

static const void *pg_col_blob(struct sqldb_stmt *base, int i)
{
	struct pg_stmt *st = PST(base);

	if (pg_col_null(base, i))
		return NULL;
	if (PQftype(st->res, i) != OID_BYTEA)
		return PQgetvalue(st->res, st->row, i);
	if (!st->blobs[i]) {
		size_t n = 0;
		unsigned char *u = PQunescapeBytea((const unsigned char *)PQgetvalue(st->res, st->row, i), &n);

		if (!u)
			return NULL;
		st->blobs[i] = malloc(n + 1); /* NUL-terminated: also read as text */
		if (st->blobs[i]) {
			memcpy(st->blobs[i], u, n);
			st->blobs[i][n] = 0;
			st->blob_len[i] = n;
		}
		PQfreemem(u);
	}
	return st->blobs[i];
}

static size_t pg_col_bytes(struct sqldb_stmt *base, int i)
{
	struct pg_stmt *st = PST(base);

	if (pg_col_null(base, i))
		return 0;
	if (PQftype(st->res, i) != OID_BYTEA)
		return (size_t)PQgetlength(st->res, st->row, i);
	(void)pg_col_blob(base, i);
	return st->blob_len[i];
}

/* Debian's client programs (postgresql-client): the wrapper picks the
 * version of the cluster's. */
#define PG_DUMP          "/usr/bin/pg_dump"
#define PG_RESTORE       "/usr/bin/pg_restore"
#define PG_TOOL_DEADLINE (12 * 3600 * 1000) /* a large store takes long; never forever */

static int pg_tool(struct pg_db *d, char *const argv[])
{
	_cleanup_free_ char *out = NULL;
	size_t n = 0;
	int status = 0, r;

	r = spawn_capture(argv, NULL, PG_TOOL_DEADLINE, 4096, &out, &n, &status);
	if (r < 0) {
		(void)snprintf(d->err, sizeof(d->err), "%s could not run (postgresql-client)", argv[0]);
		return r;
	}
	if (status != 0) {
		(void)snprintf(d->err, sizeof(d->err), "%s exited with %d", argv[0], status);
		return -EIO;
	}
	return 0;
}

static int pg_backup(struct sqldb *db, const char *file)
{
	struct pg_db *d = PDB(db);
	_cleanup_free_ char *dbarg = NULL, *farg = NULL;
	int fd, r;

	fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	close(fd);
	if (asprintf(&dbarg, "--dbname=%s", d->conninfo) < 0 || asprintf(&farg, "--file=%s", file) < 0) {
		(void)unlink(file);
		return -ENOMEM;
	}
	char *argv[] = {PG_DUMP, "--format=custom", "--no-owner", "--no-privileges", farg, dbarg, NULL};
	r = pg_tool(d, argv);
	if (r < 0)
		(void)unlink(file);
	return r;
}

static int pg_restore(struct sqldb *db, const char *file)
{
	struct pg_db *d = PDB(db);
	_cleanup_free_ char *dbarg = NULL;
	char magic[5] = {0};
	PGresult *res;
	int fd, r;
	ssize_t k;

	/* a pg_dump custom archive ("PGDMP"), not an SQLite file or garbage */
	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	k = read(fd, magic, sizeof(magic));
	close(fd);
	if (k != (ssize_t)sizeof(magic) || memcmp(magic, "PGDMP", 5) != 0)
		return -EPROTO;
	res = PQexec(d->conn, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'");
	r = pg_result_errno(d, res);
	if (r == 0 && strcmp(PQgetvalue(res, 0, 0), "0") != 0)
		r = -EEXIST;
	PQclear(res);
	if (r < 0)
		return r;
	if (asprintf(&dbarg, "--dbname=%s", d->conninfo) < 0)
		return -ENOMEM;
	char *argv[] = {PG_RESTORE,
	                "--exit-on-error",
	                "--single-transaction",
	                "--no-owner",
	                "--no-privileges",
	                dbarg,
	                (char *)file,
	                NULL};
	return pg_tool(d, argv);
}

static const struct sqldb_engine_ops pg_ops = {
        .close = pg_close,
        .errmsg = pg_errmsg,
        .exec = pg_exec,
        .prepare = pg_prepare,
        .finalize = pg_finalize,
        .reset = pg_reset,
        .bind_text = pg_bind_text,
        .bind_int = pg_bind_int,
        .bind_blob = pg_bind_blob,
        .bind_null_int = pg_bind_null_int,
        .step = pg_step,
        .changes = pg_changes,
        .col_null = pg_col_null,
        .col_int64 = pg_col_int64,
        .col_text = pg_col_text,
        .col_blob = pg_col_blob,
        .col_bytes = pg_col_bytes,
        .backup = pg_backup,
        .restore = pg_restore,
};

static void pg_notice(void *arg, const char *message)
{
	(void)arg;
	log_debug("store: postgresql: %s", message);
}

int sqldb_open_pg(const char *conninfo, struct sqldb **ret)
{
	struct pg_db *d = calloc(1, sizeof(*d));
	int r;

	if (!d)
		return -ENOMEM;
	d->base.ops = &pg_ops;
	d->base.engine = SQLDB_PG;
	d->conninfo = strdup(conninfo);
	d->conn = d->conninfo ? PQconnectdb(conninfo) : NULL;
	if (!d->conn || PQstatus(d->conn) != CONNECTION_OK) {
		log_error("store: cannot connect to PostgreSQL: %s",
		          d->conn ? PQerrorMessage(d->conn) : "out of memory");
		PQfinish(d->conn);
		free(d->conninfo);
		free(d);
		return -ECONNREFUSED;
	}
	(void)PQsetNoticeProcessor(d->conn, pg_notice, NULL);
	r = pg_exec(&d->base, PG_SESSION);
	if (r < 0) {
		log_error("store: postgresql: %s", d->err);
		pg_close(&d->base);
		return r;
	}
	*ret = &d->base;
	return 0;
}
