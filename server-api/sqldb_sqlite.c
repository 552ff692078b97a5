/* server-api/sqldb_sqlite.c — the SQLite engine of sqldb.h (mamori-server):
 * a thin layer over sqlite3 statements; result codes become negative errno
 * in sql_errno() (common/sqlite-util.h). WAL checkpoints run on a thread
 * of their own (below). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "sqldb.h"
#include "sqlite-util.h"

/* Checkpoints off the caller's thread (issue 18). SQLite copies the WAL
 * back into the database file in the commit that crosses
 * wal_autocheckpoint (1000 pages): on mamori-server's event loop, up to
 * 4 MB of writes and an fsync of the database file while every
 * connection waits — the check-in latency's tail at 100,000 terminals.
 * Here that commit only wakes a thread which checkpoints over a
 * connection of its own (PASSIVE: it never waits for the writer or a
 * reader; SQLite's WAL is made for a checkpointer beside the writer). The
 * thread starts with the first WAL that reaches CKPT_FRAMES (a command
 * that writes little never starts one); it is stopped before the main
 * connection closes, which then checkpoints what is left, as before.
 * SQLite starts the WAL file over only when a checkpoint has copied all of
 * it; one that the writer's next commits keep outrunning is finished by
 * the writer itself at CKPT_INLINE_FRAMES (32 MB): the WAL stays bounded. */
#define CKPT_FRAMES        1000
#define CKPT_INLINE_FRAMES (8 * CKPT_FRAMES)
#define CKPT_GAP_MS        100

struct checkpointer {
	pthread_t th;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool started, failed, pending, stop;
	sqlite3 *db;
	uint64_t runs; /* checkpoints made by the thread */
};

struct lite_db {
	struct sqldb base;
	sqlite3 *db;
	struct checkpointer ck;
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

static void *ckpt_main(void *arg)
{
	struct checkpointer *ck = arg;
	struct timespec until;

	pthread_mutex_lock(&ck->lock);
	for (;;) {
		int rc;

		while (!ck->pending && !ck->stop)
			pthread_cond_wait(&ck->wake, &ck->lock);
		if (ck->stop)
			break;
		ck->pending = false;
		pthread_mutex_unlock(&ck->lock);
		clock_gettime(CLOCK_MONOTONIC, &until);
		rc = sqlite3_wal_checkpoint_v2(ck->db, "main", SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
		pthread_mutex_lock(&ck->lock);
		if (rc == SQLITE_OK)
			ck->runs++;
		/* at most one run every CKPT_GAP_MS: each copies what the
		 * commits of the gap added (two fsyncs a run, not a run after
		 * every commit while the WAL is long) */
		until.tv_nsec += CKPT_GAP_MS * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		while (!ck->stop && pthread_cond_timedwait(&ck->wake, &ck->lock, &until) == 0)
			;
	}
	pthread_mutex_unlock(&ck->lock);
	return NULL;
}

static int ckpt_start(struct lite_db *d)
{
	struct checkpointer *ck = &d->ck;
	const char *file = sqlite3_db_filename(d->db, "main");
	sigset_t all, old;
	int r;

	if (!file || !*file) /* in memory or temporary: nothing to checkpoint */
		return -EINVAL;
	r = sql_errno(sqlite3_open_v2(file, &ck->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL));
	if (r == 0) /* the WAL made durable before its pages are copied, the file after */
		r = sql_errno(sqlite3_exec(ck->db, "PRAGMA synchronous = FULL", NULL, NULL, NULL));
	if (r < 0) {
		sqlite3_close(ck->db);
		ck->db = NULL;
		return r;
	}
	pthread_mutex_init(&ck->lock, NULL);
	{ /* timed waits on the monotonic clock */
		pthread_condattr_t a;

		pthread_condattr_init(&a);
		pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
		pthread_cond_init(&ck->wake, &a);
		pthread_condattr_destroy(&a);
	}
	/* signals stay with the process's own threads */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = -pthread_create(&ck->th, NULL, ckpt_main, ck);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r < 0) {
		pthread_cond_destroy(&ck->wake);
		pthread_mutex_destroy(&ck->lock);
		sqlite3_close(ck->db);
		ck->db = NULL;
		return r;
	}
	ck->started = true;
	return 0;
}

/* After each commit in WAL mode (it replaces SQLite's own autocheckpoint). */
static int wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
	struct lite_db *d = arg;
	struct checkpointer *ck = &d->ck;

	if (frames < CKPT_FRAMES)
		return SQLITE_OK;
	if (!ck->started && !ck->failed && ckpt_start(d) < 0)
		ck->failed = true;
	if (!ck->started || frames >= CKPT_INLINE_FRAMES) { /* here, as SQLite would */
		(void)sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
		return SQLITE_OK;
	}
	pthread_mutex_lock(&ck->lock);
	ck->pending = true;
	pthread_cond_signal(&ck->wake);
	pthread_mutex_unlock(&ck->lock);
	return SQLITE_OK;
}

uint64_t sqldb_sqlite_checkpoints(struct sqldb *db)
{
	struct lite_db *d = (struct lite_db *)db;
	uint64_t n;

	if (db->engine != SQLDB_SQLITE || !d->ck.started)
		return 0;
	pthread_mutex_lock(&d->ck.lock);
	n = d->ck.runs;
	pthread_mutex_unlock(&d->ck.lock);
	return n;
}

static void lite_close(struct sqldb *db)
{
	struct lite_db *d = (struct lite_db *)db;
	struct checkpointer *ck = &d->ck;

	if (ck->started) {
		pthread_mutex_lock(&ck->lock);
		ck->stop = true;
		pthread_cond_signal(&ck->wake);
		pthread_mutex_unlock(&ck->lock);
		pthread_join(ck->th, NULL);
		pthread_cond_destroy(&ck->wake);
		pthread_mutex_destroy(&ck->lock);
		sqlite3_close(ck->db);
	}
	sqlite3_close(d->db);
	free(d);
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
	(void)sqlite3_wal_hook(d->db, wal_hook, d);
	*ret = &d->base;
	return 0;
}
