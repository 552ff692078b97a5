/* tests/unit/test_server_checkpoint.c — the SQLite engine's checkpoint
 * thread (server-api/sqldb_sqlite.c, issue 18) against a real SQLite file
 * (test process): the WAL is copied into the database file by the thread
 * while the connection that wrote it stays open and goes on writing and
 * reading, nothing written is lost or damaged, and the WAL stays bounded
 * when the writer never pauses. A connection that writes little starts no
 * thread. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "sqldb.h"
#include "testutil.h"

static char *dir;
static char path[600];

static int setup(void **state)
{
	(void)state;
	dir = tu_mkdtemp();
	snprintf(path, sizeof(path), "%s/db", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tu_rmtree(dir);
	free(dir);
	return 0;
}

static off_t size_of(const char *suffix)
{
	char p[640];
	struct stat st;

	snprintf(p, sizeof(p), "%s%s", path, suffix);
	return stat(p, &st) == 0 ? st.st_size : 0;
}

static struct sqldb *open_wal(void)
{
	struct sqldb *db = NULL;

	assert_int_equal(sqldb_open_sqlite(path, &db), 0);
	assert_int_equal(sqldb_exec(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
	                                "CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, v BLOB NOT NULL)"),
	                 0);
	return db;
}

/* n transactions of 10 rows of 3000 bytes (about 10 pages each) */
static void write_rows(struct sqldb *db, int n)
{
	for (int i = 0; i < n; i++)
		assert_int_equal(
		        sqldb_exec(db, "BEGIN; INSERT INTO t(v) SELECT randomblob(3000) FROM "
		                       "(WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 10) "
		                       "SELECT x FROM c); COMMIT"),
		        0);
}

static int64_t count_rows(struct sqldb *db)
{
	struct sqldb_stmt *st = NULL;
	int64_t n;

	assert_int_equal(sqldb_prepare(db, "SELECT count(*) FROM t", false, &st), 0);
	assert_int_equal(sqldb_step(st), 1);
	n = sqldb_col_int64(st, 0);
	sqldb_finalize(st);
	return n;
}

static bool wait_for(struct sqldb *db, uint64_t runs, off_t db_bytes)
{
	for (int i = 0; i < 1000; i++) {
		if (sqldb_sqlite_checkpoints(db) >= runs && size_of("") >= db_bytes)
			return true;
		nanosleep(&(struct timespec){.tv_nsec = 10 * 1000 * 1000}, NULL);
	}
	return false;
}

/* Past 1000 WAL pages the thread copies them into the database file; the
 * writer goes on meanwhile and everything reads back after a reopen. */
static void test_checkpoint_beside_the_writer(void **state)
{
	struct sqldb *db;
	off_t before;
	int64_t n;

	(void)state;
	db = open_wal();
	write_rows(db, 20); /* ~200 pages: below the threshold */
	assert_int_equal(sqldb_sqlite_checkpoints(db), 0);
	before = size_of("");
	assert_true(before < 100 * 4096);         /* the rows are in the WAL, not the file */
	write_rows(db, 130);                      /* past 1000 pages */
	assert_true(wait_for(db, 1, 500 * 4096)); /* its first 1000 WAL pages, ~830 of the table */
	/* the writer and its readers are not held while the thread works */
	write_rows(db, 150);
	assert_int_equal(count_rows(db), 3000);
	assert_true(wait_for(db, 2, 1500 * 4096));
	sqldb_close(db);
	/* closed: the last connection checkpointed the rest and removed the WAL */
	assert_int_equal(size_of("-wal"), 0);
	db = open_wal();
	n = count_rows(db);
	assert_int_equal(n, 3000);
	{
		struct sqldb_stmt *st = NULL;

		assert_int_equal(sqldb_prepare(db, "PRAGMA integrity_check", false, &st), 0);
		assert_int_equal(sqldb_step(st), 1);
		assert_string_equal(sqldb_col_text(st, 0), "ok");
		sqldb_finalize(st);
	}
	sqldb_close(db);
}

/* A writer that never pauses: the WAL file stays bounded (the writer
 * finishes a checkpoint the thread could not), about 8000 pages at most,
 * and the thread checkpoints at most every 100 ms. */
static void test_wal_bounded(void **state)
{
	struct sqldb *db;
	struct timespec t0, t1;
	off_t most = 0;
	double secs;

	(void)state;
	db = open_wal();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < 30; i++) {
		write_rows(db, 100);
		if (size_of("-wal") > most)
			most = size_of("-wal");
	}
	assert_int_equal(count_rows(db), 30000);
	assert_true(most > 0);
	assert_true(most <= (off_t)9000 * (4096 + 24));
	/* at most one checkpoint every 100 ms, not one after every commit
	 * while the WAL is long (3000 commits here) */
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	assert_true(sqldb_sqlite_checkpoints(db) >= 1);
	assert_true((double)sqldb_sqlite_checkpoints(db) <= secs * 10 + 2);
	sqldb_close(db);
}

/* A few writes (a mamori-server command, a small town's day): no thread. */
static void test_small_writer_no_thread(void **state)
{
	struct sqldb *db;

	(void)state;
	db = open_wal();
	write_rows(db, 5);
	assert_int_equal(sqldb_sqlite_checkpoints(db), 0);
	sqldb_close(db);
	db = open_wal();
	assert_int_equal(count_rows(db), 50);
	sqldb_close(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_checkpoint_beside_the_writer, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_wal_bounded, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_small_writer_no_thread, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
