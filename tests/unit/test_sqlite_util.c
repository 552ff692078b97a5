/* tests/unit/test_sqlite_util.c — common/sqlite-util.c against a real SQLite
 * (test process): the errors the journal and the server's store meet become
 * the errno both used to map by hand (issue 19: one mapping, not two). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "sqlite-util.h"

static char dir[] = "/tmp/mamori-sqlite-util.XXXXXX";

static void test_real_errors(void **state)
{
	char path[64], junk[64];
	sqlite3 *db = NULL;
	int rc, fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/db", dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_extended_result_codes(db, 1);
	assert_int_equal(sql_errno(sqlite3_exec(db, "CREATE TABLE t(k INTEGER PRIMARY KEY)", NULL, NULL, NULL)), 0);
	assert_int_equal(sql_errno(sqlite3_exec(db, "INSERT INTO t VALUES(1)", NULL, NULL, NULL)), 0);
	/* the same key twice: a constraint (extended code SQLITE_CONSTRAINT_PRIMARYKEY) */
	rc = sqlite3_exec(db, "INSERT INTO t VALUES(1)", NULL, NULL, NULL);
	assert_int_not_equal(rc, SQLITE_CONSTRAINT); /* extended codes are on */
	assert_int_equal(sql_errno(rc), -EEXIST);
	/* a table that is not there: the server's fault (-EIO), a foreign file's (-EBADMSG) */
	rc = sqlite3_exec(db, "SELECT * FROM nosuch", NULL, NULL, NULL);
	assert_int_equal(rc, SQLITE_ERROR);
	assert_int_equal(sql_errno(rc), -EIO);
	assert_int_equal(sql_errno_untrusted(rc), -EBADMSG);
	assert_int_equal(sql_errno_untrusted(SQLITE_CONSTRAINT_UNIQUE), -EEXIST);
	sqlite3_close(db);
	/* a file that is no database */
	snprintf(junk, sizeof(junk), "%s/junk", dir);
	fd = open(junk, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	for (int i = 0; i < 64; i++)
		assert_int_equal(write(fd, "this is not an SQLite file.....\n", 32), 32);
	close(fd);
	assert_int_equal(sqlite3_open(junk, &db), SQLITE_OK);
	rc = sqlite3_exec(db, "SELECT * FROM sqlite_master", NULL, NULL, NULL);
	assert_int_equal(rc, SQLITE_NOTADB);
	assert_int_equal(sql_errno(rc), -EBADMSG);
	sqlite3_close(db);
	/* a folder that is not there */
	rc = sqlite3_open_v2("/nonexistent-mamori/db", &db, SQLITE_OPEN_READWRITE, NULL);
	assert_int_equal(sql_errno(rc), -ENOENT);
	sqlite3_close(db);
	assert_int_equal(sql_errno(SQLITE_ROW), 0);
	assert_int_equal(sql_errno(SQLITE_DONE), 0);
	assert_int_equal(sql_errno(SQLITE_BUSY_SNAPSHOT), -EBUSY);
	assert_int_equal(sql_errno(SQLITE_FULL), -ENOSPC);
	assert_int_equal(sql_errno(SQLITE_READONLY_DBMOVED), -EROFS);
	unlink(path);
	unlink(junk);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_real_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
