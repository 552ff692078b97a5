/* tests/unit/test_server_chain.c — the server's re-verification of uploaded
 * journal records (server-api/chain.c) with records made by the real journal
 * (agent/journal/journal.c) and stored in a real SQLite store: from genesis, resent
 * batches (duplicates, none twice), overlaps, gaps, changed records, forks,
 * foreign chains, a start the server cannot verify, a genuine chain restart
 * after the journal moved a damaged file aside, malformed batches, and the
 * canonical bytes being a fixed point of the server's parse. */
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
#include "journal_side.h"
#include "journal_canon.h"
#include "json-util.h"
#include "store.h"
#include "strutil.h"
#include "pgtest.h"
#include "journal_batch.h"
#include "testutil.h"

#define NOW 1700000000000000LL

static char *dir, jdir[512];
static struct store *st;
static struct pgt cluster; /* .dir set: the store is on PostgreSQL */

static int setup(void **state)
{
	char url[1024];
	struct store_device d = {.terminal_id = "pc-1"};
	struct store_cert c = {.serial = "01", .terminal_id = "pc-1", .not_after_us = NOW * 2};

	(void)state;
	dir = tu_mkdtemp();
	snprintf(jdir, sizeof(jdir), "%s/journal", dir);
	if (cluster.dir)
		pgt_newdb(&cluster, url, sizeof(url));
	else
		snprintf(url, sizeof(url), "sqlite:%s/server.db", dir);
	assert_int_equal(store_open(url, &st), 0);
	assert_int_equal(STORE_CALL(st, token_add, "t", "g", "", NOW * 2, "op"), 0);
	assert_int_equal(STORE_CALL(st, enroll, "t", NOW, &d, &c), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	store_close(st);
	tu_rmtree(dir);
	free(dir);
	return 0;
}

static void append(int n)
{
	struct journal_options o = {.dir = jdir};
	struct journal *j = NULL;
	static int k;

	tu_write(jdir, ".keep", "");
	assert_int_equal(journal_open(&o, &j), 0);
	for (int i = 0; i < n; i++, k++) {
		_cleanup_json_ cJSON *p = cJSON_CreateObject();
		char raw[5] = {'a', (char)0xff, 0, 'b', (char)k};
		char path[64];

		snprintf(path, sizeof(path), "/media/usb/資料-%d.txt", k);
		cJSON_AddStringToObject(p, "path", path);
		cJSON_AddNumberToObject(p, "size", k);
		cJSON_AddItemToObject(p, "serial", journal_canon_bytes_value(raw, sizeof(raw)));
		cJSON_AddStringToObject(p, "note", "tab\there \"quoted\" \\ /");
		struct mamori_event ev = {.type = "carry.out", .severity = SEV_NOTICE, .reqs = "CARRY-1", .payload = p};
		assert_int_equal(journal_append(j, &ev, NULL), 0);
	}
	journal_close(j);
}

/* Records after `after`, at most max, as the transport sends them. */
static cJSON *batch(uint64_t after, unsigned max)
{
	cJSON *arr = NULL;

	assert_int_equal(tu_journal_batch(jdir, after, max, &arr), 0);
	return arr;
}

static int64_t real_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* the server's clock at ingest: the real one, as the records' dates are */
static int64_t server_clock_offset_us;

static struct chain_result ingest(cJSON *b, int expect)
{
	struct chain_result r = {0};

	assert_int_equal(chain_ingest(st, "pc-1", b, real_now_us() + server_clock_offset_us, &r), expect);
	cJSON_Delete(b);
	return r;
}

static int count_cb(const struct store_finding *f, void *userdata)
{
	int *n = userdata;

	n[f->kind]++;
	return 0;
}

static void findings(int n[_FINDING_MAX])
{
	memset(n, 0, sizeof(int) * _FINDING_MAX);
	assert_int_equal(STORE_CALL(st, findings_list, "pc-1", 100, count_cb, n), 0);
}

static void test_genesis_and_duplicates(void **state)
{
	struct chain_result r;
	struct store_device d;
	int f[_FINDING_MAX];

	(void)state;
	append(8);
	r = ingest(batch(0, 5), 0);
	assert_int_equal(r.broken, _FINDING_INVALID);
	assert_int_equal(r.stored, 5);
	assert_int_equal(r.acked_seq, 5);
	/* the answer was lost: the same batch again stores nothing */
	r = ingest(batch(0, 5), 0);
	assert_int_equal(r.stored, 0);
	assert_int_equal(r.duplicates, 5);
	assert_int_equal(r.acked_seq, 5);
	/* an overlap: 3..8 */
	r = ingest(batch(2, 100), 0);
	assert_int_equal(r.duplicates, 3);
	assert_int_equal(r.stored, 3);
	assert_int_equal(r.acked_seq, 8);
	assert_int_equal(STORE_CALL(st, device_get, "pc-1", &d), 0);
	assert_int_equal(d.events, 8);
	findings(f);
	for (int k = 0; k < _FINDING_MAX; k++)
		assert_int_equal(f[k], 0);
}

static void test_gap(void **state)
{
	struct chain_result r;
	cJSON *b;
	int f[_FINDING_MAX];

	(void)state;
	append(6);
	ingest(batch(0, 3), 0);
	b = batch(3, 3);
	cJSON_DeleteItemFromArray(b, 0); /* 5, 6 without 4 */
	r = ingest(b, 0);
	assert_int_equal(r.broken, FINDING_CHAIN_GAP);
	assert_int_equal(r.bad_seq, 5);
	assert_int_equal(r.stored, 0);
	assert_int_equal(r.acked_seq, 3);
	findings(f);
	assert_int_equal(f[FINDING_CHAIN_GAP], 1);
	/* the genuine records still go through */
	r = ingest(batch(3, 3), 0);
	assert_int_equal(r.stored, 3);
	assert_int_equal(r.acked_seq, 6);
}

static void test_changed_record_keeps_prefix(void **state)
{
	struct chain_result r;
	cJSON *b, *pl;
	int f[_FINDING_MAX];

	(void)state;
	append(6);
	ingest(batch(0, 3), 0);
	b = batch(3, 3);
	pl = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(b, 1), "record"),
	                                      "payload");
	cJSON_ReplaceItemInObjectCaseSensitive(pl, "size", cJSON_CreateNumber(999999));
	r = ingest(b, 0);
	assert_int_equal(r.broken, FINDING_HASH_MISMATCH);
	assert_int_equal(r.bad_seq, 5);
	assert_int_equal(r.stored, 1); /* seq 4 was good and is kept */
	assert_int_equal(r.acked_seq, 4);
	findings(f);
	assert_int_equal(f[FINDING_HASH_MISMATCH], 1);
	/* the same forgery again is not recorded twice */
	b = batch(4, 2);
	pl = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(b, 0), "record"),
	                                      "payload");
	cJSON_ReplaceItemInObjectCaseSensitive(pl, "size", cJSON_CreateNumber(999999));
	ingest(b, 0);
	findings(f);
	assert_int_equal(f[FINDING_HASH_MISMATCH], 1);
}

static void test_fork_and_foreign_chain(void **state)
{
	struct chain_result r;
	cJSON *b, *rec;
	int f[_FINDING_MAX];

	(void)state;
	append(4);
	ingest(batch(0, 3), 0);
	b = batch(1, 1); /* seq 2, held; sent again changed */
	rec = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(b, 0), "record");
	cJSON_ReplaceItemInObjectCaseSensitive(rec, "severity", cJSON_CreateString("debug"));
	r = ingest(b, 0);
	assert_int_equal(r.broken, FINDING_CHAIN_FORK);
	assert_int_equal(r.bad_seq, 2);
	b = batch(3, 1);
	rec = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(b, 0), "record");
	cJSON_ReplaceItemInObjectCaseSensitive(rec, "chain", cJSON_CreateString("0123456789abcdef0123456789abcdef"));
	r = ingest(b, 0);
	assert_int_equal(r.broken, FINDING_HASH_MISMATCH);
	/* acknowledged for the batch's chain: the server holds nothing of it
	 * (issue 17: never more than was stored from the chain the sender is on) */
	assert_int_equal(r.acked_seq, 0);
	findings(f);
	assert_int_equal(f[FINDING_CHAIN_FORK], 1);
	assert_int_equal(f[FINDING_HASH_MISMATCH], 1);
}

static void test_unverified_start(void **state)
{
	struct chain_result r;
	int f[_FINDING_MAX];

	(void)state;
	append(6);
	r = ingest(batch(2, 2), 0); /* 3, 4: the server never saw 1, 2 */
	assert_int_equal(r.broken, _FINDING_INVALID);
	assert_int_equal(r.stored, 2);
	assert_int_equal(r.acked_seq, 4);
	findings(f);
	assert_int_equal(f[FINDING_CHAIN_START_UNVERIFIED], 1);
	/* from there on every link is verified */
	r = ingest(batch(4, 2), 0);
	assert_int_equal(r.stored, 2);
	assert_int_equal(r.broken, _FINDING_INVALID);
}

static void test_restart_after_damaged_journal(void **state)
{
	char path[600];
	sqlite3 *db = NULL;
	struct chain_result r;
	uint64_t seqs[8] = {0};
	int f[_FINDING_MAX], n = 0;
	cJSON *b, *it;

	(void)state;
	append(3);
	ingest(batch(0, 3), 0);
	/* someone edits a record: mamorid moves the file aside at the next open
	 * and starts a new chain above every seq it reserved, with tamper.detected */
	snprintf(path, sizeof(path), "%s/journal.db", jdir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "UPDATE events SET canon = replace(canon, 'carry', 'CARRY') WHERE seq = 2",
	                              NULL, NULL, NULL),
	                 SQLITE_OK);
	sqlite3_close(db);
	append(1);
	b = batch(3, 10);
	cJSON_ArrayForEach(it, b) seqs[n++] =
	        (uint64_t)cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(it, "record"), "seq")
	                ->valuedouble;
	assert_int_equal(n, 2);
	assert_int_equal(seqs[0], JOURNAL_SEQ_STEP + 1);
	r = ingest(b, 0);
	assert_int_equal(r.broken, _FINDING_INVALID);
	assert_int_equal(r.stored, 2);
	assert_int_equal(r.acked_seq, JOURNAL_SEQ_STEP + 2);
	findings(f);
	assert_int_equal(f[FINDING_CHAIN_RESTART], 1);
}

static void test_malformed(void **state)
{
	struct chain_result r = {0};
	cJSON *b, *rec;

	(void)state;
	append(3);
	assert_int_equal(chain_ingest(st, "pc-1", NULL, NOW, &r), -EINVAL);
	b = cJSON_CreateArray();
	ingest(b, -EINVAL); /* empty */
	b = batch(0, 3);
	cJSON_AddItemToArray(b, cJSON_Duplicate(cJSON_GetArrayItem(b, 0), true)); /* not ascending */
	ingest(b, -EINVAL);
	b = batch(0, 1);
	rec = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(b, 0), "record");
	cJSON_AddStringToObject(rec, "extra", "not hashed"); /* a ninth key */
	ingest(b, -EINVAL);
	b = batch(0, 1);
	rec = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(b, 0), "record");
	cJSON_ReplaceItemInObjectCaseSensitive(rec, "seq", cJSON_CreateNumber(1.5));
	ingest(b, -EINVAL);
	b = batch(0, 1);
	rec = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(b, 0), "record");
	cJSON_ReplaceItemInObjectCaseSensitive(rec, "reqs",
	                                       cJSON_CreateStringArray((const char *[]){"CARRY-1,X-2"}, 1));
	ingest(b, -EINVAL);
	b = batch(0, 1);
	cJSON_ReplaceItemInObjectCaseSensitive(cJSON_GetArrayItem(b, 0), "hash", cJSON_CreateString("xyz"));
	ingest(b, -EINVAL);
	/* nothing of it was stored */
	struct store_device d;
	assert_int_equal(STORE_CALL(st, device_get, "pc-1", &d), 0);
	assert_int_equal(d.events, 0);
	r = ingest(batch(0, 3), 0);
	assert_int_equal(r.stored, 3);
}

static void test_canonical_fixed_point(void **state)
{
	struct journal_iter *it = NULL;
	struct journal_record rec;
	struct buf out = {0};
	unsigned n = 0;

	(void)state;
	append(5);
	assert_int_equal(journal_iter_open(jdir, 0, &it), 0);
	while (journal_iter_next(it, &rec) == 1) {
		_cleanup_json_ cJSON *o = cJSON_ParseWithLength(rec.canon, rec.canon_len);
		const char *type, *chain;
		uint64_t seq;
		int64_t t;

		assert_int_equal(chain_record_canon(o, &out, &seq, &t, &type, &chain), 0);
		assert_int_equal(out.len, rec.canon_len);
		assert_memory_equal(out.data, rec.canon, rec.canon_len);
		assert_int_equal(seq, rec.seq);
		n++;
	}
	journal_iter_free(it);
	buf_free(&out);
	assert_int_equal(n, 5);
}

/* Records dated ahead of the server's clock by more than the tolerance:
 * accepted, and one future_time finding per upload (issue 13, LOG-2). */
static void test_future_dated(void **state)
{
	struct chain_result r;
	int f[_FINDING_MAX];

	(void)state;
	append(3);
	server_clock_offset_us = -CHAIN_FUTURE_TOLERANCE_US / 2; /* within the tolerance */
	r = ingest(batch(0, 1), 0);
	assert_int_equal(r.stored, 1);
	findings(f);
	assert_int_equal(f[FINDING_FUTURE_TIME], 0);
	server_clock_offset_us = -86400LL * 1000000; /* the terminal is a day ahead */
	r = ingest(batch(1, 10), 0);
	server_clock_offset_us = 0;
	assert_int_equal(r.broken, _FINDING_INVALID);
	assert_int_equal(r.stored, 2);
	findings(f);
	assert_int_equal(f[FINDING_FUTURE_TIME], 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_genesis_and_duplicates, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_gap, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_changed_record_keeps_prefix, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_fork_and_foreign_chain, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_unverified_start, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_restart_after_damaged_journal, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_canonical_fixed_point, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_future_dated, setup, teardown),
	};
	int failed = cmocka_run_group_tests_name("sqlite", tests, NULL, NULL);

	pgt_start(&cluster);
	failed += cmocka_run_group_tests_name("postgresql", tests, NULL, NULL);
	pgt_stop(&cluster);
	return failed;
}
