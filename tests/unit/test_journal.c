/* tests/unit/test_journal.c — the journal store against real SQLite and
 * OpenSSL in a temporary directory: chain, tampering (real SQL on the file),
 * quota and overflow, acknowledgement and pruning, hostile strings, corrupt
 * and torn files. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/timex.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/sha.h>
#include <sqlite3.h>

#include "alloc-util.h"
#include "journal.h"
#include "journal_canon.h"
#include "journal_side.h"
#include "strutil.h"

static char dir[256];

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(p);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/mamori-tj.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char fs[300];

	(void)state;
	snprintf(fs, sizeof(fs), "%s/fs", dir);
	(void)umount2(fs, MNT_DETACH); /* a disk_full test that failed half-way */
	return nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static struct journal *jopen(uint64_t quota)
{
	struct journal_options o = {.dir = dir, .quota_bytes = quota};
	struct journal *j = NULL;

	assert_int_equal(journal_open(&o, &j), 0);
	assert_non_null(j);
	return j;
}

static uint64_t add(struct journal *j, const char *type, int n, size_t padding)
{
	cJSON *p = cJSON_CreateObject();
	uint64_t seq = 0;
	char *pad = calloc(1, padding + 1);

	assert_non_null(pad);
	memset(pad, 'x', padding);
	cJSON_AddNumberToObject(p, "n", n);
	cJSON_AddStringToObject(p, "pad", pad);
	struct mamori_event ev = {.type = type, .severity = SEV_INFO, .reqs = "LOG-1,CARRY-1", .payload = p};
	assert_int_equal(journal_append(j, &ev, &seq), 0);
	cJSON_Delete(p);
	free(pad);
	return seq;
}

static void sql(const char *q)
{
	char path[512];
	sqlite3 *db;
	char *msg = NULL;

	snprintf(path, sizeof(path), "%s/journal.db", dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	if (sqlite3_exec(db, q, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", q, msg);
	sqlite3_close(db);
}

static uint64_t verify(void)
{
	uint64_t bad = 12345;
	char err[256];

	assert_int_equal(journal_verify(dir, &bad, err, sizeof(err)), 0);
	if (bad)
		printf("# verify: first bad %llu: %s\n", (unsigned long long)bad, err);
	return bad;
}

static void make(int n)
{
	struct journal *j = jopen(0);

	for (int i = 1; i <= n; i++)
		assert_int_equal(add(j, "usb.attached", i, 10), (uint64_t)i);
	journal_close(j);
}

/* The chain recomputed here with OpenSSL's one-shot SHA256, independently of
 * journal.c: hash(n) = SHA-256(hash(n-1) ‖ canon(n)), hash(0) = 32 zero bytes. */
static void test_chain_recomputed(void **state)
{
	struct journal_iter *it = NULL;
	struct journal_record rec;
	unsigned char prev[32] = {0}, buf[4096], h[32];
	char hex[65], head_hex[65];
	uint64_t n = 0, head;
	struct journal *j;

	(void)state;
	make(25);
	assert_int_equal(verify(), 0);
	assert_int_equal(journal_iter_open(dir, 0, &it), 0);
	while (journal_iter_next(it, &rec) == 1) {
		cJSON *o = cJSON_ParseWithLength(rec.canon, rec.canon_len);

		assert_int_equal(rec.seq, ++n);
		assert_true(rec.canon_len + 32 <= sizeof(buf));
		memcpy(buf, prev, 32);
		memcpy(buf + 32, rec.canon, rec.canon_len);
		SHA256(buf, 32 + rec.canon_len, h);
		hex_encode(h, 32, hex);
		assert_string_equal(hex, rec.hash_hex);
		memcpy(prev, h, 32);
		assert_non_null(o);
		assert_int_equal(cJSON_GetObjectItem(o, "seq")->valuedouble, (double)rec.seq);
		assert_string_equal(cJSON_GetObjectItem(o, "type")->valuestring, "usb.attached");
		assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "payload"), "n")->valuedouble, (double)n);
		assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(o, "reqs"), 1)->valuestring, "CARRY-1");
		cJSON_Delete(o);
	}
	journal_iter_free(it);
	assert_int_equal(n, 25);
	/* reopening continues the chain */
	j = jopen(0);
	assert_int_equal(add(j, "usb.blocked", 26, 0), 26);
	assert_int_equal(journal_head(j, &head, head_hex), 0);
	assert_int_equal(head, 26);
	journal_close(j);
	assert_int_equal(verify(), 0);
	assert_int_equal(journal_iter_open(dir, 25, &it), 0);
	assert_int_equal(journal_iter_next(it, &rec), 1);
	assert_string_equal(rec.hash_hex, head_hex);
	assert_int_equal(journal_iter_next(it, &rec), 0);
	journal_iter_free(it);
}

static void test_tamper_edit(void **state)
{
	(void)state;
	make(10);
	sql("UPDATE events SET canon = CAST(replace(CAST(canon AS TEXT), 'xxxx', 'xxxy') AS BLOB) WHERE seq = 7");
	assert_int_equal(verify(), 7);
}

static void test_tamper_edit_rehash(void **state)
{
	(void)state;
	/* the attacker also rewrites the edited record's own hash: the next one breaks */
	make(10);
	sql("UPDATE events SET canon = CAST(replace(CAST(canon AS TEXT), 'xxxx', 'xxxy') AS BLOB),"
	    " hash = (SELECT hash FROM events WHERE seq = 2) WHERE seq = 5");
	assert_int_equal(verify(), 5);
}

static void test_tamper_column(void **state)
{
	(void)state;
	make(10);
	sql("UPDATE events SET type = 'usb.allowed' WHERE seq = 3");
	assert_int_equal(verify(), 3);
}

static void test_tamper_delete(void **state)
{
	(void)state;
	make(10);
	sql("DELETE FROM events WHERE seq = 4");
	assert_int_equal(verify(), 4);
}

static void test_tamper_delete_tail(void **state)
{
	(void)state;
	make(10);
	sql("DELETE FROM events WHERE seq >= 9");
	assert_int_equal(verify(), 9);
}

static void test_tamper_reorder(void **state)
{
	(void)state;
	make(10);
	/* swap records 3 and 4 completely (contents and hashes) */
	sql("UPDATE events SET seq = 1000 WHERE seq = 3; UPDATE events SET seq = 3 WHERE seq = 4;"
	    "UPDATE events SET seq = 4 WHERE seq = 1000;");
	assert_int_equal(verify(), 3);
}

static void test_tamper_anchor(void **state)
{
	struct journal *j;

	(void)state;
	make(10);
	/* pretending unacknowledged records were pruned */
	sql("DELETE FROM events WHERE seq <= 3; UPDATE meta SET value = '3 ' || hex(zeroblob(32)) WHERE key = "
	    "'anchor'");
	assert_int_equal(verify(), 1);
	(void)j;
}

/* meta.head ("the floor") moves only when records are deleted, not in every
 * commit (issue 23.3: it was a second page in each commit's WAL write): the
 * file may end after it, never before it; after it, journal.state says
 * where the file ended (test_tamper_delete_tail). */
static void meta_value(const char *key, char *buf, size_t sz)
{
	char path[512];
	sqlite3 *db;
	sqlite3_stmt *st;

	snprintf(path, sizeof(path), "%s/journal.db", dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = ?", -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	snprintf(buf, sz, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	sqlite3_close(db);
}

/* The type of record seq of the journal in dir, and whether its canonical
 * bytes contain `needle` (NULL: any). */
static bool record_is(uint64_t seq, const char *type, const char *needle)
{
	struct journal_iter *it = NULL;
	struct journal_record rec;
	bool ok = false;

	assert_int_equal(journal_iter_open(dir, seq - 1, &it), 0);
	if (journal_iter_next(it, &rec) == 1 && rec.seq == seq)
		ok = strcmp(rec.type, type) == 0 && (!needle || strstr(rec.canon, needle));
	journal_iter_free(it);
	return ok;
}

static void drop_state_file(void)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, JOURNAL_STATE_FILE);
	assert_int_equal(unlink(path), 0);
}

static void test_head_floor(void **state)
{
	struct journal_info info;
	struct journal *j;
	time_t now = time(NULL);
	char v[128];

	(void)state;
	j = jopen(0);
	for (int i = 1; i <= 10; i++)
		add(j, "posture.changed", i, 10);
	meta_value("head", v, sizeof(v));
	assert_true(startswith(v, "0 ")); /* appends alone never rewrite it */
	meta_value("format", v, sizeof(v));
	assert_string_equal(v, "2");
	/* every record acknowledged and pruned: the table is empty, the floor
	 * carries the chain's head across the reopen */
	assert_int_equal(journal_ack(j, 10), 0);
	assert_int_equal(journal_prune(j, 0, now + 10), 10);
	journal_close(j);
	meta_value("head", v, sizeof(v));
	assert_true(startswith(v, "10 "));
	assert_int_equal(journal_info(dir, &info), 0);
	assert_int_equal(info.head_seq, 10);
	assert_int_equal(info.records, 0);
	j = jopen(0);
	for (int i = 11; i <= 20; i++)
		assert_int_equal(add(j, "posture.changed", i, 10), (uint64_t)i);
	assert_int_equal(journal_ack(j, 14), 0);
	assert_int_equal(journal_prune(j, 0, now + 20), 4); /* anchor 14, floor 20 */
	for (int i = 21; i <= 22; i++)
		add(j, "posture.changed", i, 10);
	journal_close(j);
	meta_value("head", v, sizeof(v));
	assert_true(startswith(v, "20 "));
	assert_int_equal(journal_info(dir, &info), 0);
	assert_int_equal(info.head_seq, 22);
	assert_int_equal(verify(), 0);
	/* without journal.state the file still may not end before the floor */
	drop_state_file();
	sql("DELETE FROM events WHERE seq >= 19");
	assert_int_equal(verify(), 19);
}

static void test_head_floor_hash(void **state)
{
	(void)state;
	make(10);
	drop_state_file();
	sql("UPDATE meta SET value = '8 ' || hex(zeroblob(32)) WHERE key = 'head'");
	assert_int_equal(verify(), 8);
}

/* A file of format 1 (meta.head rewritten in every commit) is read as it is
 * and marked format 2 once opened for writing. */
static void test_format1_file(void **state)
{
	struct journal *j;
	char v[128];

	(void)state;
	make(5);
	sql("UPDATE meta SET value = '1' WHERE key = 'format';"
	    "UPDATE meta SET value = '5 ' || lower(hex((SELECT hash FROM events WHERE seq = 5))) WHERE key = 'head'");
	assert_int_equal(verify(), 0);
	j = jopen(0);
	meta_value("format", v, sizeof(v));
	assert_string_equal(v, "2");
	assert_int_equal(add(j, "posture.changed", 6, 10), 6);
	journal_close(j);
	assert_int_equal(verify(), 0);
	sql("UPDATE meta SET value = '3' WHERE key = 'format'"); /* a format this code does not know */
	{
		uint64_t bad = 0;
		char err[256];

		assert_int_equal(journal_verify(dir, &bad, err, sizeof(err)), -EBADMSG);
	}
}

/* journal.state written through the mapping (ext4, tmpfs) and with pwrite
 * (elsewhere): a reader sees the newest slot either way. */
static void test_side_write_paths(void **state)
{
	struct journal_side s, back;
	void *map = NULL;
	int fd = -1, r;

	(void)state;
	assert_int_equal(journal_side_open(dir, &fd, &s), 0);
	r = journal_side_map(fd, &map);
	assert_true(r == 0 || r == -EOPNOTSUPP);
	for (int i = 0; i < 4; i++) {
		s.head_seq = 100 + (uint64_t)i;
		s.reserved = 200;
		assert_int_equal(journal_side_write(fd, i % 2 ? NULL : map, &s, i == 3), 0);
		assert_int_equal(journal_side_read(dir, &back), 0);
		assert_int_equal(back.head_seq, 100 + (uint64_t)i);
		assert_int_equal(back.gen, s.gen);
	}
	journal_side_unmap(map);
	close(fd);
}

/* journal.state deleted, cut to nothing (also what a truncation under the
 * writer's mapping leaves once the worker restarts) or zeroed, beside a journal
 * with records: the end of the file can no longer be checked, and that is
 * recorded (LOG-1); the chain goes on. */
static void test_state_file_lost(void **state)
{
	struct journal *j;
	char path[512];
	uint64_t head = 0;

	(void)state;
	make(10);
	drop_state_file();
	j = jopen(0);
	assert_int_equal(journal_head(j, &head, NULL), 0);
	assert_int_equal(head, 11);
	journal_close(j);
	assert_true(record_is(11, "tamper.detected", "missing or empty"));
	snprintf(path, sizeof(path), "%s/%s", dir, JOURNAL_STATE_FILE);
	assert_int_equal(truncate(path, 0), 0);
	j = jopen(0);
	assert_int_equal(add(j, "usb.attached", 13, 10), 13); /* 12: the record of the emptied file */
	journal_close(j);
	assert_true(record_is(12, "tamper.detected", "missing or empty"));
	/* with journal.state in place nothing more is recorded */
	j = jopen(0);
	assert_int_equal(add(j, "usb.attached", 14, 10), 14);
	journal_close(j);
	assert_int_equal(verify(), 0);
	/* its size kept, its contents zeroed: no slot left either */
	{
		char zero[4096] = {0};
		int fd = open(path, O_WRONLY | O_CLOEXEC);

		assert_true(fd >= 0);
		assert_int_equal(pwrite(fd, zero, sizeof(zero), 0), (ssize_t)sizeof(zero));
		close(fd);
	}
	j = jopen(0);
	assert_int_equal(add(j, "usb.attached", 16, 10), 16);
	journal_close(j);
	assert_true(record_is(15, "tamper.detected", "missing or empty"));
	assert_int_equal(verify(), 0);
}

static void test_batch(void **state)
{
	struct journal *j;
	uint64_t s1, s2;

	(void)state;
	j = jopen(0);
	assert_int_equal(journal_batch_commit(j), -ENOENT);
	assert_int_equal(journal_batch_begin(j), 0);
	assert_int_equal(journal_batch_begin(j), -EBUSY);
	s1 = add(j, "carry.out", 1, 100);
	for (int i = 2; i < 100; i++)
		add(j, "carry.out", i, 100);
	s2 = add(j, "carry.out", 100, 100);
	assert_int_equal(s2 - s1, 99);
	assert_int_equal(journal_ack(j, s2), 0); /* an ack inside a batch is part of it */
	assert_int_equal(journal_batch_commit(j), 0);
	journal_close(j);
	assert_int_equal(verify(), 0);
	{
		struct journal_info info;

		assert_int_equal(journal_info(dir, &info), 0);
		assert_int_equal(info.head_seq, 100);
		assert_int_equal(info.acked_seq, 100);
		assert_int_equal(info.records, 100);
	}
}

static void test_second_writer(void **state)
{
	struct journal_options o = {.dir = dir};
	struct journal *j, *k = NULL;

	(void)state;
	j = jopen(0);
	assert_int_equal(journal_open(&o, &k), -EBUSY);
	assert_null(k);
	journal_close(j);
}

static void test_ack_prune(void **state)
{
	struct journal *j;
	time_t now = time(NULL);

	(void)state;
	j = jopen(0);
	for (int i = 1; i <= 10; i++)
		add(j, "posture.changed", i, 10);
	assert_int_equal(journal_ack(j, 11), -ERANGE);
	assert_int_equal(journal_prune(j, 0, now + 10), 0); /* nothing acknowledged */
	assert_int_equal(journal_ack(j, 6), 0);
	assert_int_equal(journal_ack(j, 2), 0);           /* never backwards */
	assert_int_equal(journal_prune(j, 3600, now), 0); /* too young */
	assert_int_equal(journal_prune(j, 0, now + 10), 6);
	assert_int_equal(add(j, "posture.changed", 11, 10), 11);
	journal_close(j);
	assert_int_equal(verify(), 0);
	{
		struct journal_info info;

		assert_int_equal(journal_info(dir, &info), 0);
		assert_int_equal(info.anchor_seq, 6);
		assert_int_equal(info.records, 5);
	}
	/* reopen after pruning: the anchor carries the chain */
	j = jopen(0);
	assert_int_equal(add(j, "posture.changed", 12, 10), 12);
	journal_close(j);
	assert_int_equal(verify(), 0);
}

/* Retention counts the journal's running time from a monotonic reading,
 * not the wall clock (issue 13, item 5). */
static void test_prune_by_running_time(void **state)
{
	struct journal *j;

	(void)state;
	j = jopen(0);
	for (int i = 1; i <= 10; i++)
		add(j, "posture.changed", i, 10);
	assert_int_equal(journal_ack(j, 10), 0);
	assert_int_equal(journal_prune(j, 86400, 1000), 0); /* marks 10 at age 0 */
	for (int i = 11; i <= 15; i++)
		add(j, "posture.changed", i, 10);
	assert_int_equal(journal_ack(j, 15), 0);
	assert_int_equal(journal_prune(j, 86400, 1000 + 3600), 0);   /* marks 15 at age 1 h */
	assert_int_equal(journal_prune(j, 86400, 1000 + 86400), 10); /* 1..10 are a day old */
	assert_int_equal(journal_prune(j, 86400, 500), 0);           /* a reading going back adds nothing */
	journal_close(j);
	j = jopen(0);
	assert_int_equal(journal_prune(j, 86400, 1000 + 86400 + 3600), 5); /* the age survives a restart */
	journal_close(j);
	assert_int_equal(verify(), 0);
}

static uint64_t disk_bytes(void)
{
	struct journal_info info;

	assert_int_equal(journal_info(dir, &info), 0);
	return info.file_bytes;
}

static void test_quota_overflow(void **state)
{
	const uint64_t quota = 256 * 1024;
	struct journal_iter *it = NULL;
	struct journal_record rec;
	struct journal *j;
	uint64_t seq = 0, last = 0, acked;
	int dropped = 0, stored = 0;
	bool saw_marker = false;

	(void)state;
	j = jopen(quota);
	/* nothing acknowledged: fill up, then count */
	for (int i = 0; i < 400; i++) {
		cJSON *p = cJSON_CreateObject();
		struct mamori_event ev = {.type = "carry.out", .severity = SEV_INFO, .payload = p};
		char pad[2048];
		int r;

		memset(pad, 'a' + i % 26, sizeof(pad) - 1);
		pad[sizeof(pad) - 1] = 0;
		cJSON_AddStringToObject(p, "file", pad);
		r = journal_append(j, &ev, &seq);
		cJSON_Delete(p);
		if (r == -ENOSPC) {
			dropped++;
		} else {
			assert_int_equal(r, 0);
			assert_int_equal(dropped, 0); /* no storing after the first drop */
			stored++;
			last = seq;
		}
	}
	printf("# stored %d, dropped %d, %llu bytes on disk\n", stored, dropped, (unsigned long long)disk_bytes());
	assert_true(stored > 30); /* one 2 KiB record per 4 KiB page in 3/4 of 256 KiB */
	assert_true(dropped > 0);
	assert_true(disk_bytes() <= quota);
	/* the server acknowledges half: room returns, the marker comes first */
	acked = last / 2;
	assert_int_equal(journal_ack(j, acked), 0);
	seq = add(j, "usb.attached", 1, 10);
	assert_int_equal(seq, last + 2);
	journal_close(j);
	assert_int_equal(verify(), 0);
	assert_int_equal(journal_iter_open(dir, 0, &it), 0);
	{
		uint64_t first = 0, n = 0;

		while (journal_iter_next(it, &rec) == 1) {
			if (!first)
				first = rec.seq;
			n++;
			if (rec.seq == last + 1) {
				cJSON *o = cJSON_ParseWithLength(rec.canon, rec.canon_len);

				assert_string_equal(rec.type, "journal.overflow");
				assert_int_equal(
				        cJSON_GetObjectItem(cJSON_GetObjectItem(o, "payload"), "dropped")->valuedouble,
				        dropped);
				cJSON_Delete(o);
				saw_marker = true;
			}
		}
		/* only acknowledged records went; every unacknowledged one is there */
		assert_true(first > 1);
		assert_true(first <= acked + 1);
		assert_int_equal(n, seq - first + 1);
	}
	journal_iter_free(it);
	assert_true(saw_marker);
	assert_true(disk_bytes() <= quota);
}

static void test_quota_rolling(void **state)
{
	const uint64_t quota = 256 * 1024;
	struct journal *j;
	uint64_t seq = 0;

	(void)state;
	j = jopen(quota);
	for (int i = 1; i <= 1500; i++) {
		if (i % 50 == 1)
			assert_int_equal(journal_batch_begin(j), 0);
		seq = add(j, "carry.in", i, 1000);
		assert_int_equal(journal_ack(j, seq), 0);
		if (i % 50 == 0)
			assert_int_equal(journal_batch_commit(j), 0);
	}
	assert_int_equal(seq, 1500);
	journal_close(j);
	printf("# %llu bytes on disk for a %llu quota\n", (unsigned long long)disk_bytes(), (unsigned long long)quota);
	assert_true(disk_bytes() <= quota);
	assert_int_equal(verify(), 0);
}

static void test_hostile_strings(void **state)
{
	static const char bad_utf8[] = "USB\xff\xfe\x80 \xc0\xaf disk \xed\xa0\x80";
	static const char controls[] = "name\x1b[31m\r\n\t\x01\x7f\xc2\x85"
	                               "end";
	static const unsigned char with_nul[] = {'a', 0, 'b', 0xff, 0};
	struct journal_iter *it = NULL;
	struct journal_record rec;
	char *big = malloc(64 * 1024 + 1);
	struct journal *j;
	cJSON *p = cJSON_CreateObject();
	uint64_t seq;

	(void)state;
	assert_non_null(big);
	for (size_t i = 0; i < 64 * 1024; i++)
		big[i] = (char)(1 + (i * 7919) % 255); /* every byte value but NUL, mostly invalid UTF-8 */
	big[64 * 1024] = 0;
	cJSON_AddStringToObject(p, "serial", bad_utf8);
	cJSON_AddStringToObject(p, "product", controls);
	cJSON_AddStringToObject(p, "big", big);
	cJSON_AddItemToObject(p, "raw", journal_canon_bytes_value(with_nul, sizeof(with_nul)));
	j = jopen(0);
	struct mamori_event ev = {.type = "usb.attached", .severity = SEV_NOTICE, .reqs = "MEDIA-1", .payload = p};
	assert_int_equal(journal_append(j, &ev, &seq), 0);
	journal_close(j);
	cJSON_Delete(p);
	assert_int_equal(verify(), 0);
	assert_int_equal(journal_iter_open(dir, 0, &it), 0);
	assert_int_equal(journal_iter_next(it, &rec), 1);
	assert_true(utf8_valid(rec.canon, rec.canon_len)); /* the record itself is always UTF-8 JSON */
	{
		cJSON *o = cJSON_ParseWithLength(rec.canon, rec.canon_len), *pl = cJSON_GetObjectItem(o, "payload");
		struct {
			const char *key;
			const void *want;
			size_t len;
		} cases[] = {
		        {"serial", bad_utf8, sizeof(bad_utf8) - 1},
		        {"product", controls, sizeof(controls) - 1},
		        {"big", big, 64 * 1024},
		        {"raw", with_nul, sizeof(with_nul)},
		};

		assert_non_null(pl);
		for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
			char *got = NULL;
			size_t n = 0;

			assert_int_equal(journal_canon_value_bytes(cJSON_GetObjectItem(pl, cases[i].key), &got, &n), 0);
			assert_int_equal(n, cases[i].len);
			assert_memory_equal(got, cases[i].want, n);
			free(got);
		}
		/* the invalid ones are stored as {"$bytes":…}, the valid one as a string */
		assert_true(cJSON_IsObject(cJSON_GetObjectItem(pl, "serial")));
		assert_true(cJSON_IsString(cJSON_GetObjectItem(pl, "product")));
		cJSON_Delete(o);
	}
	journal_iter_free(it);
	free(big);
}

static void test_rejected(void **state)
{
	struct journal_iter *it = NULL;
	struct journal_record rec;
	struct journal *j;
	cJSON *p = cJSON_CreateObject();
	char *huge = malloc(2 * 1024 * 1024);
	uint64_t seq = 77;
	int n = 0;

	(void)state;
	assert_non_null(huge);
	memset(huge, 'z', 2 * 1024 * 1024 - 1);
	huge[2 * 1024 * 1024 - 1] = 0;
	j = jopen(0);
	cJSON_AddNumberToObject(p, "ratio", 0.5);
	struct mamori_event ev = {.type = "av.detected", .severity = SEV_INFO, .payload = p};
	assert_int_equal(journal_append(j, &ev, &seq), -EINVAL);
	assert_int_equal(seq, 77); /* ret_ untouched on failure */
	cJSON_DeleteItemFromObject(p, "ratio");
	cJSON_AddStringToObject(p, "x", huge);
	assert_int_equal(journal_append(j, &ev, &seq), -E2BIG);
	ev.type = "Bad Type\xff";
	ev.payload = NULL;
	assert_int_equal(journal_append(j, &ev, &seq), -EINVAL);
	ev.type = "usb.blocked";
	ev.reqs = "MEDIA-1,,";
	assert_int_equal(journal_append(j, &ev, &seq), -EINVAL);
	journal_close(j);
	cJSON_Delete(p);
	free(huge);
	assert_int_equal(verify(), 0);
	assert_int_equal(journal_iter_open(dir, 0, &it), 0);
	while (journal_iter_next(it, &rec) == 1) {
		assert_string_equal(rec.type, "journal.rejected");
		n++;
	}
	journal_iter_free(it);
	assert_int_equal(n, 4);
}

static int count_corrupt(char *name, size_t sz)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		if (startswith(e->d_name, "journal.db.corrupt-") && !strstr(e->d_name, "-wal")) {
			n++;
			snprintf(name, sz, "%s", e->d_name);
		}
	closedir(d);
	return n;
}

static cJSON *first_record(uint64_t *ret_seq)
{
	struct journal_iter *it = NULL;
	struct journal_record rec;
	cJSON *o;

	assert_int_equal(journal_iter_open(dir, 0, &it), 0);
	assert_int_equal(journal_iter_next(it, &rec), 1);
	o = cJSON_ParseWithLength(rec.canon, rec.canon_len);
	*ret_seq = rec.seq;
	journal_iter_free(it);
	assert_non_null(o);
	return o;
}

static void test_corrupt_file(void **state)
{
	char path[512], name[256] = "";
	struct journal *j;
	cJSON *o;
	uint64_t seq;
	int fd;

	(void)state;
	make(5);
	snprintf(path, sizeof(path), "%s/journal.db", dir);
	fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "garbage garbage garbage garbage!", 32, 0), 32);
	close(fd);
	{
		uint64_t bad;
		char err[256];

		assert_int_equal(journal_verify(dir, &bad, err, sizeof(err)), -EBADMSG);
		printf("# verify says: %s\n", err);
	}
	j = jopen(0);
	/* the new chain continues above every seq reserved in journal.state */
	assert_int_equal(add(j, "usb.attached", 1, 0), JOURNAL_SEQ_STEP + 2);
	journal_close(j);
	assert_int_equal(count_corrupt(name, sizeof(name)), 1);
	o = first_record(&seq);
	assert_int_equal(seq, JOURNAL_SEQ_STEP + 1);
	assert_string_equal(cJSON_GetObjectItem(o, "type")->valuestring, "tamper.detected");
	assert_string_equal(cJSON_GetObjectItem(o, "severity")->valuestring, "critical");
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "payload"), "old_file")->valuestring, name);
	cJSON_Delete(o);
	assert_int_equal(verify(), 0);
}

static void test_tampered_file_reopened(void **state)
{
	struct journal_iter *it = NULL;
	struct journal_record rec;
	char name[256], good_hash[65];
	struct journal *j;
	cJSON *o, *pl;
	uint64_t seq;

	(void)state;
	make(8);
	assert_int_equal(journal_iter_open(dir, 4, &it), 0);
	assert_int_equal(journal_iter_next(it, &rec), 1);
	assert_int_equal(rec.seq, 5);
	snprintf(good_hash, sizeof(good_hash), "%s", rec.hash_hex);
	journal_iter_free(it);
	sql("UPDATE events SET canon = CAST(replace(CAST(canon AS TEXT), 'usb.attached', 'usb.attachee') AS BLOB) "
	    "WHERE seq = 6");
	j = jopen(0);
	journal_close(j);
	assert_int_equal(count_corrupt(name, sizeof(name)), 1);
	o = first_record(&seq);
	pl = cJSON_GetObjectItem(o, "payload");
	assert_int_equal(seq, JOURNAL_SEQ_STEP + 1); /* sequence numbers stay unique across chains */
	assert_string_equal(cJSON_GetObjectItem(o, "type")->valuestring, "tamper.detected");
	assert_int_equal(cJSON_GetObjectItem(pl, "first_bad_seq")->valuedouble, 6);
	assert_int_equal(cJSON_GetObjectItem(pl, "last_good_seq")->valuedouble, 5);
	assert_string_equal(cJSON_GetObjectItem(pl, "last_good_hash")->valuestring, good_hash);
	cJSON_Delete(o);
	assert_int_equal(verify(), 0);
}

static int copy_file(const char *from, const char *to, off_t cut)
{
	_cleanup_free_ char *buf = NULL;
	FILE *f = fopen(from, "rb"), *g;
	size_t n;

	if (!f)
		return -1;
	buf = malloc(64 << 20);
	n = fread(buf, 1, 64 << 20, f);
	fclose(f);
	if (cut >= 0 && (size_t)cut < n)
		n = (size_t)cut;
	g = fopen(to, "wb");
	fwrite(buf, 1, n, g);
	fclose(g);
	return (int)n;
}

/* A crash snapshot (the files as they are while the writer is open) whose WAL
 * ends in a torn frame, then garbage after the last frame. */
static void test_torn_wal(void **state)
{
	char src[600], dst[600], orig[256];
	struct journal *j;
	struct stat st;

	(void)state;
	j = jopen(0);
	for (int i = 1; i <= 60; i++)
		add(j, "usb.attached", i, 200);
	assert_int_equal(xsnprintf(orig, sizeof(orig), "%s", dir), 0);
	for (int round = 0; round < 2; round++) {
		struct journal *k;
		uint64_t head = 0;
		int n;

		assert_int_equal(xsnprintf(dir, sizeof(dir), "%s/snap%d", orig, round), 0);
		assert_int_equal(mkdir(dir, 0700), 0);
		snprintf(src, sizeof(src), "%s/journal.db", orig);
		snprintf(dst, sizeof(dst), "%s/journal.db", dir);
		assert_true(copy_file(src, dst, -1) > 0);
		snprintf(src, sizeof(src), "%s/journal.db-wal", orig);
		snprintf(dst, sizeof(dst), "%s/journal.db-wal", dir);
		assert_int_equal(stat(src, &st), 0);
		/* cut in the middle of the last frames / add garbage */
		n = copy_file(src, dst, round == 0 ? st.st_size - 3000 : -1);
		assert_true(n > 0);
		if (round == 1) {
			FILE *f = fopen(dst, "ab");

			fputs("torn torn torn torn torn torn torn torn", f);
			fclose(f);
		}
		k = jopen(0);
		assert_int_equal(journal_head(k, &head, NULL), 0);
		/* recovered up to a valid frame; the copy has no journal.state,
		 * which the journal records first */
		assert_true(head >= 51 && head <= 61);
		assert_true(record_is(head, "tamper.detected", "\"what\":\"journal_state\""));
		assert_int_equal(add(k, "usb.blocked", 0, 0), head + 1);
		journal_close(k);
		assert_int_equal(verify(), 0);
	}
	assert_int_equal(xsnprintf(dir, sizeof(dir), "%s", orig), 0);
	journal_close(j);
}

static void test_clock_flag(void **state)
{
	struct timex tx = {.modes = 0};
	int st = adjtimex(&tx);
	bool synced = st >= 0 && st != TIME_ERROR && !(tx.status & STA_UNSYNC);
	cJSON *o;
	uint64_t seq;

	(void)state;
	make(1);
	o = first_record(&seq);
	assert_int_equal(cJSON_IsTrue(cJSON_GetObjectItem(o, "synced")), synced);
	cJSON_Delete(o);
}

/* ---- issue 13: loss is counted durably; the journal never rewinds -------- */

/* Records in dir: events that are not journal.* / tamper.*, and the sum of
 * the journal.overflow counts. */
static void tally(uint64_t *ret_events, uint64_t *ret_dropped, int *ret_tamper_wal)
{
	struct journal_iter *it = NULL;
	struct journal_record rec;

	*ret_events = *ret_dropped = 0;
	if (ret_tamper_wal)
		*ret_tamper_wal = 0;
	assert_int_equal(journal_iter_open(dir, 0, &it), 0);
	while (journal_iter_next(it, &rec) == 1) {
		cJSON *o = cJSON_ParseWithLength(rec.canon, rec.canon_len);
		cJSON *pl = cJSON_GetObjectItem(o, "payload");

		if (strcmp(rec.type, "journal.overflow") == 0) {
			*ret_dropped += (uint64_t)cJSON_GetObjectItem(pl, "dropped")->valuedouble;
			assert_non_null(cJSON_GetObjectItem(pl, "types"));
			assert_non_null(cJSON_GetObjectItem(pl, "causes"));
		} else if (strcmp(rec.type, "tamper.detected") == 0) {
			if (ret_tamper_wal && strcmp(cJSON_GetObjectItem(pl, "what")->valuestring, "journal_wal") == 0)
				(*ret_tamper_wal)++;
		} else {
			(*ret_events)++;
		}
		cJSON_Delete(o);
	}
	journal_iter_free(it);
}

static int try_add(struct journal *j, int n)
{
	cJSON *p = cJSON_CreateObject();
	struct mamori_event ev = {.type = "usb.attached", .severity = SEV_INFO, .reqs = "MEDIA-1", .payload = p};
	char pad[512];
	int r;

	memset(pad, 'a' + n % 26, sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = 0;
	cJSON_AddNumberToObject(p, "n", n);
	cJSON_AddStringToObject(p, "pad", pad);
	r = journal_append(j, &ev, NULL);
	cJSON_Delete(p);
	return r;
}

/* A full file system below the quota (issue 13, item 1): on a 2 MiB tmpfs
 * that the test mounts, a filler takes every free byte; events in batches
 * are then counted, the process dies without closing, and after the filler
 * goes the reopened journal writes journal.overflow: produced = journaled +
 * counted. */
static void disk_full(uint64_t quota)
{
	char fs[300], filler[400];
	const int before = 5, during = 300;
	uint64_t events, dropped;
	pid_t pid;
	int st;

	snprintf(fs, sizeof(fs), "%s/fs", dir);
	assert_int_equal(mkdir(fs, 0700), 0);
	if (mount("tmpfs", fs, "tmpfs", 0, "size=2m") < 0) {
		printf("# cannot mount a tmpfs (%s): skipped\n", strerror(errno));
		skip();
	}
	snprintf(filler, sizeof(filler), "%s/filler", fs);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct journal_options o = {.dir = fs, .quota_bytes = quota};
		struct journal *j = NULL;
		char buf[65536];
		int fd, failed = 0;

		if (journal_open(&o, &j) < 0)
			_exit(10);
		for (int i = 0; i < before; i++)
			if (try_add(j, i) < 0)
				_exit(11);
		memset(buf, 'f', sizeof(buf));
		fd = open(filler, O_WRONLY | O_CREAT, 0600);
		while (write(fd, buf, sizeof(buf)) > 0)
			;
		while (write(fd, buf, 1) > 0)
			;
		close(fd);
		for (int i = 0; i < during; i += 10) {
			bool ok = journal_batch_begin(j) == 0;

			for (int k = 0; k < 10; k++)
				if (try_add(j, before + i + k) < 0)
					ok = false;
			if (journal_batch_commit(j) < 0 || !ok)
				failed++;
		}
		printf("# %d of %d batches failed on the full disk\n", failed, during / 10);
		_exit(failed ? 0 : 12); /* a crash: nothing is closed */
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_int_equal(unlink(filler), 0);
	{
		struct journal_options o = {.dir = fs, .quota_bytes = quota};
		struct journal *j = NULL;

		assert_int_equal(journal_open(&o, &j), 0);
		assert_int_equal(try_add(j, 9999), 0);
		journal_close(j);
	}
	{
		char save[256];

		snprintf(save, sizeof(save), "%s", dir);
		snprintf(dir, sizeof(dir), "%.200s", fs);
		tally(&events, &dropped, NULL);
		assert_int_equal(verify(), 0);
		snprintf(dir, sizeof(dir), "%s", save);
	}
	printf("# produced %d, journaled %llu, counted %llu\n", before + during + 1, (unsigned long long)events,
	       (unsigned long long)dropped);
	assert_true(dropped > 0);
	assert_int_equal(events + dropped, before + during + 1);
	assert_int_equal(umount2(fs, MNT_DETACH), 0);
}

static void test_disk_full(void **state)
{
	(void)state;
	disk_full(0);
}

static void test_disk_full_quota(void **state)
{
	(void)state;
	disk_full(128 * 1024 * 1024); /* the default quota, far above the disk */
}

static void test_counted_types(void **state)
{
	struct journal_loss l = {0}, sub;

	(void)state;
	for (int i = 0; i < 40; i++) {
		char t[32];

		snprintf(t, sizeof(t), "t.x%d", i % 20);
		journal_loss_add(&l, t, i % 2 ? LOSS_QUOTA : LOSS_DISK_FULL, 1, 100 + i);
	}
	assert_int_equal(l.count, 40);
	assert_int_equal(l.first_us, 100);
	assert_int_equal(l.last_us, 139);
	assert_int_equal(l.n_types, JOURNAL_LOSS_TYPES);
	assert_string_equal(l.by_type[JOURNAL_LOSS_TYPES - 1].type, "other");
	assert_int_equal(l.by_cause[LOSS_QUOTA], 20);
	sub = l;
	journal_loss_add(&l, "t.new", LOSS_IO, 3, 200);
	journal_loss_sub(&l, &sub);
	assert_int_equal(l.count, 3);
	assert_int_equal(l.by_cause[LOSS_IO], 3);
}

static void copy_to(const char *name, const char *to)
{
	char a[512], b[512], cmd[1200];

	snprintf(a, sizeof(a), "%s/%s", dir, name);
	snprintf(b, sizeof(b), "%s/%s", dir, to);
	snprintf(cmd, sizeof(cmd), "cp -p '%s' '%s'", a, b);
	assert_int_equal(system(cmd), 0);
}

/* An older copy of journal.db put back (issue 13, items 3 and 4): the old
 * code reopened it and reused seqs 6..10. */
static void test_older_copy_is_damage(void **state)
{
	char a[512], b[512];
	struct journal *j;
	cJSON *o, *pl;
	uint64_t seq;

	(void)state;
	make(5);
	copy_to("journal.db", "old.db");
	j = jopen(0);
	for (int i = 6; i <= 10; i++)
		assert_int_equal(add(j, "usb.attached", i, 10), (uint64_t)i);
	journal_close(j);
	snprintf(a, sizeof(a), "%s/old.db", dir);
	snprintf(b, sizeof(b), "%s/journal.db", dir);
	assert_int_equal(rename(a, b), 0);
	j = jopen(0);
	assert_true(add(j, "usb.attached", 11, 10) > 10);
	journal_close(j);
	o = first_record(&seq);
	pl = cJSON_GetObjectItem(o, "payload");
	assert_string_equal(cJSON_GetObjectItem(o, "type")->valuestring, "tamper.detected");
	assert_true(seq > 10);
	assert_int_equal(cJSON_GetObjectItem(pl, "old_head_seq")->valuedouble, 10);
	assert_non_null(strstr(cJSON_GetObjectItem(pl, "reason")->valuestring, "backwards"));
	cJSON_Delete(o);
}

/* The server acknowledged more than the journal holds (a truncated file). */
static void test_behind_acked_is_damage(void **state)
{
	struct journal_options o = {.dir = dir, .acked_seq = 19450};
	struct journal *j = NULL;
	cJSON *rec, *pl;
	uint64_t seq;

	(void)state;
	make(2);
	assert_int_equal(journal_open(&o, &j), 0);
	journal_close(j);
	rec = first_record(&seq);
	pl = cJSON_GetObjectItem(rec, "payload");
	assert_string_equal(cJSON_GetObjectItem(rec, "type")->valuestring, "tamper.detected");
	assert_int_equal(seq, 19451);
	assert_int_equal(cJSON_GetObjectItem(pl, "acked_seq")->valuedouble, 19450);
	cJSON_Delete(rec);
}

/* journal.db deleted: a terminal that had a journal does not start over
 * silently. */
static void test_missing_file_is_damage(void **state)
{
	char p[512];
	cJSON *rec;
	uint64_t seq;
	struct journal *j;

	(void)state;
	make(3);
	snprintf(p, sizeof(p), "%s/journal.db", dir);
	assert_int_equal(unlink(p), 0);
	j = jopen(0);
	journal_close(j);
	rec = first_record(&seq);
	assert_string_equal(cJSON_GetObjectItem(rec, "type")->valuestring, "tamper.detected");
	assert_true(seq > 3);
	cJSON_Delete(rec);
}

/* Deleting journal.db-wal while the writer runs, then a crash (issue 13,
 * item 4): the old code lost every record since the last checkpoint and
 * reused their seqs. */
static void wal_gone(bool commit_after)
{
	char wal[512];
	uint64_t events, dropped;
	int tw, st;
	pid_t pid;

	snprintf(wal, sizeof(wal), "%s/journal.db-wal", dir);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct journal_options o = {.dir = dir};
		struct journal *j = NULL;

		if (journal_open(&o, &j) < 0)
			_exit(10);
		for (int i = 0; i < 20; i++)
			if (try_add(j, i) < 0)
				_exit(11);
		if (unlink(wal) < 0)
			_exit(12);
		if (commit_after && try_add(j, 20) < 0)
			_exit(13);
		_exit(0); /* a crash */
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	{
		struct journal *j = jopen(0);

		journal_close(j);
	}
	assert_int_equal(verify(), 0);
	tally(&events, &dropped, &tw);
	if (commit_after) {
		/* noticed at the next commit: nothing lost, the deletion recorded */
		assert_int_equal(events, 21);
		assert_int_equal(tw, 1);
	} else {
		cJSON *rec;
		uint64_t seq;

		rec = first_record(&seq);
		assert_string_equal(cJSON_GetObjectItem(rec, "type")->valuestring, "tamper.detected");
		assert_true(seq > 20); /* no seq used twice */
		assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(rec, "payload"), "old_head_seq")->valuedouble,
		                 20);
		cJSON_Delete(rec);
	}
}

static void test_wal_deleted_then_commit(void **state)
{
	(void)state;
	wal_gone(true);
}

static void test_wal_deleted_then_crash(void **state)
{
	(void)state;
	wal_gone(false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_chain_recomputed, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_tamper_edit, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_tamper_edit_rehash, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_tamper_column, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_tamper_delete, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_tamper_delete_tail, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_tamper_reorder, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_tamper_anchor, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_head_floor, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_head_floor_hash, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_format1_file, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_side_write_paths, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_state_file_lost, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_batch, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_second_writer, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_ack_prune, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_prune_by_running_time, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_quota_overflow, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_quota_rolling, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_hostile_strings, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_rejected, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_corrupt_file, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_tampered_file_reopened, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_torn_wal, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_clock_flag, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_disk_full, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_disk_full_quota, setup, teardown),
	        cmocka_unit_test(test_counted_types),
	        cmocka_unit_test_setup_teardown(test_older_copy_is_damage, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_behind_acked_is_damage, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_missing_file_is_damage, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_wal_deleted_then_commit, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_wal_deleted_then_crash, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
