/* tests/unit/test_server_backup.c — backup and restore of the server's store
 * on both engines (issue 18.5, LOG-1): a copy made while the store is open
 * (SQLite's online backup API; pg_dump of a real PostgreSQL 15 cluster the
 * test starts), restored into an empty store and verified chain by chain
 * (store_verify.h) against records made by the real journal; a restore
 * over a store that holds data, or of the other engine's backup, refused;
 * a record changed, a record removed or an audit row changed after the
 * restore found by the verification. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "chain.h"
#include "journal.h"
#include "json-util.h"
#include "pgtest.h"
#include "store.h"
#include "store_verify.h"
#include "strutil.h"
#include "journal_batch.h"
#include "testutil.h"

#define RECORDS 12
#define NOW     1700000000000000LL

static struct pgt cluster; /* .dir set: the stores are on PostgreSQL */
static char *dir;

static void new_url(const char *name, char *url, size_t n)
{
	if (cluster.dir)
		pgt_newdb(&cluster, url, n);
	else
		snprintf(url, n, "sqlite:%s/%s.db", dir, name);
}

static void raw_sql(const char *url, const char *sqlite_sql, const char *pg_sql)
{
	sqlite3 *db = NULL;
	char *err = NULL;

	if (cluster.dir) {
		pgt_sql(&cluster, url, pg_sql);
		return;
	}
	assert_int_equal(sqlite3_open(url + strlen("sqlite:"), &db), SQLITE_OK);
	if (sqlite3_exec(db, sqlite_sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", sqlite_sql, err);
	sqlite3_close(db);
}

/* Terminal t's journal with RECORDS records, uploaded through chain_ingest. */
static void fill(struct store *st, int t)
{
	char jdir[600], id[16], tok[16];
	struct journal_options o = {.dir = jdir};
	struct journal *j = NULL;
	struct store_device d = {0};
	struct store_cert c = {.not_after_us = NOW * 2};
	struct chain_result res;
	cJSON *arr = NULL;
	struct timespec ts;

	snprintf(jdir, sizeof(jdir), "%s/journal-%d", dir, t);
	snprintf(id, sizeof(id), "pc-%d", t);
	snprintf(tok, sizeof(tok), "tok-%d", t);
	strscpy(d.terminal_id, sizeof(d.terminal_id), id);
	strscpy(c.terminal_id, sizeof(c.terminal_id), id);
	strscpy(c.serial, sizeof(c.serial), tok);
	assert_int_equal(STORE_CALL(st, token_add, tok, "g", "", NOW * 2, "op"), 0);
	assert_int_equal(STORE_CALL(st, enroll, tok, NOW, &d, &c), 0);
	tu_write(jdir, ".keep", "");
	assert_int_equal(journal_open(&o, &j), 0);
	for (int i = 0; i < RECORDS; i++) {
		_cleanup_json_ cJSON *p = cJSON_CreateObject();
		char path[64];

		snprintf(path, sizeof(path), "/media/usb/資料-%d.txt", i);
		cJSON_AddStringToObject(p, "path", path);
		struct mamori_event ev = {.type = "carry.out", .severity = SEV_NOTICE, .reqs = "CARRY-1", .payload = p};
		assert_int_equal(journal_append(j, &ev, NULL), 0);
	}
	journal_close(j);
	assert_int_equal(tu_journal_batch(jdir, 0, RECORDS, &arr), 0);
	clock_gettime(CLOCK_REALTIME, &ts);
	assert_int_equal(chain_ingest(st, id, arr, (int64_t)ts.tv_sec * 1000000, &res), 0);
	assert_int_equal(res.stored, RECORDS);
	cJSON_Delete(arr);
}

static struct store_verify verify(const char *url)
{
	struct store *st = NULL;
	struct store_verify v;

	assert_int_equal(store_open(url, &st), 0);
	assert_int_equal(store_verify(st, NULL, &v), 0);
	store_close(st);
	return v;
}

static void test_backup_restore(void **state)
{
	char src[1024], dst[1024], file[600], other[600];
	struct store *st = NULL;
	struct store_audit a = {.time_us = NOW, .actor = "ciso", .action = "terminal.revoke", .result = "ok"};
	struct store_verify v;

	(void)state;
	dir = tu_mkdtemp();
	new_url("src", src, sizeof(src));
	new_url("dst", dst, sizeof(dst));
	snprintf(file, sizeof(file), "%s/backup", dir);
	assert_int_equal(store_open(src, &st), 0);
	fill(st, 0);
	fill(st, 1);
	assert_int_equal(STORE_CALL(st, audit_add, &a), 0);
	assert_int_equal(STORE_CALL(st, audit_add, &a), 0);
	/* while the store is open and in use */
	assert_int_equal(STORE_CALL(st, backup, file), 0);
	assert_int_equal(STORE_CALL(st, backup, file), -EEXIST); /* never over a file */
	store_close(st);

	assert_int_equal(store_restore(dst, file), 0);
	v = verify(dst);
	assert_int_equal(v.terminals, 2);
	assert_int_equal(v.events, 2 * RECORDS);
	assert_int_equal(v.bad_terminals, 0);
	assert_int_equal(v.audit_rows, 2);
	assert_int_equal(v.audit_bad_id, 0);
	/* the restored store is a store: the source's data, its schema */
	assert_int_equal(store_open(dst, &st), 0);
	struct store_device d;
	assert_int_equal(STORE_CALL(st, device_get, "pc-1", &d), 0);
	assert_int_equal(d.chain.head_seq, RECORDS);
	store_close(st);
	/* never over a store that holds data */
	assert_int_equal(store_restore(dst, file), -EEXIST);
	/* not a backup of this engine */
	snprintf(other, sizeof(other), "%s/not-a-backup", dir);
	tu_write(dir, "not-a-backup", "SQLite format 3 is not what this is; nor PGDMP\n");
	char empty[1024];
	new_url("empty", empty, sizeof(empty));
	assert_int_equal(store_restore(empty, other), -EPROTO);

	/* a record changed after the backup was made: found, with its seq */
	raw_sql(dst,
	        "UPDATE events SET canon = CAST(replace(CAST(canon AS TEXT), '資料-3', '資料-X') AS BLOB) "
	        "WHERE terminal_id = 'pc-1' AND seq = 4",
	        "UPDATE events SET canon = convert_to(replace(convert_from(canon, 'UTF8'), '資料-3', '資料-X'), "
	        "'UTF8') WHERE terminal_id = 'pc-1' AND seq = 4");
	v = verify(dst);
	assert_int_equal(v.bad_terminals, 1);
	assert_string_equal(v.first_bad, "pc-1");
	assert_int_equal(v.first_bad_seq, 4);
	/* the last record removed: the head no longer matches */
	raw_sql(dst, "DELETE FROM events WHERE terminal_id = 'pc-0' AND seq = 12",
	        "DELETE FROM events WHERE terminal_id = 'pc-0' AND seq = 12");
	v = verify(dst);
	assert_int_equal(v.bad_terminals, 2);
	/* an audit row changed */
	raw_sql(dst, "UPDATE audit SET actor = 'someone' WHERE id = 2",
	        "UPDATE audit SET actor = 'someone' WHERE id = 2");
	v = verify(dst);
	assert_int_equal(v.audit_bad_id, 2);
	tu_rmtree(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_backup_restore),
	};
	int failed = cmocka_run_group_tests_name("sqlite", tests, NULL, NULL);

	pgt_start(&cluster);
	failed += cmocka_run_group_tests_name("postgresql", tests, NULL, NULL);
	pgt_stop(&cluster);
	return failed;
}
