/* tests/unit/test_server_archive.c — retention of the server's event records
 * (LOG-1, issue 18.5; server-api/archive.h) on both engines (SQLite, and a
 * real PostgreSQL 15 cluster the test starts): records made by the real
 * journal and uploaded through chain_ingest, the oldest moved to gzip files
 * (read back here by zlib itself) and verified across the boundary by
 * store_verify; a changed byte, a file re-made with a changed record and a
 * file removed are failures; a process killed between writing a file and
 * recording it loses nothing and duplicates nothing; newer records and the
 * head stay in the store; a backup restored with its archive files verifies
 * every chain. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>
#include <zlib.h>

#include "archive.h"
#include "chain.h"
#include "crypto.h"
#include "fileio.h"
#include "journal.h"
#include "json-util.h"
#include "pgtest.h"
#include "store.h"
#include "store_verify.h"
#include "strutil.h"
#include "testutil.h"

#define RECORDS 12
#define DAY     (86400LL * 1000000)
#define T_OLD   1700000000000000LL /* 2023-11 */
#define T_NEW   (T_OLD + 400 * DAY)
#define T_MID   (T_OLD + 200 * DAY)

static struct pgt cluster; /* .dir set: the stores are on PostgreSQL */
static char *dir;
static char adir[600];

static void new_url(const char *name, char *url, size_t n)
{
	if (cluster.dir)
		pgt_newdb(&cluster, url, n);
	else
		snprintf(url, n, "sqlite:%s/%s.db", dir, name);
}

static void raw_sql(const char *url, const char *sql)
{
	sqlite3 *db = NULL;
	char *err = NULL;

	if (cluster.dir) {
		pgt_sql(&cluster, url, sql);
		return;
	}
	assert_int_equal(sqlite3_open(url + strlen("sqlite:"), &db), SQLITE_OK);
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", sql, err);
	sqlite3_close(db);
}

/* Terminal pc-t's journal of RECORDS records: the first n_old uploaded at
 * T_OLD, the others at T_NEW (chain_ingest, as the device API does). The
 * uploads are kept in *ret_old / *ret_new (for resending). */
static void fill(struct store *st, int t, int n_old, cJSON **ret_old, cJSON **ret_new)
{
	char jdir[700], id[16], tok[16];
	struct journal_options o = {.dir = jdir};
	struct journal *j = NULL;
	struct journal_iter *it = NULL;
	struct journal_record rec;
	struct store_device d = {0};
	struct store_cert c = {.not_after_us = T_NEW * 2};
	struct chain_result res;
	cJSON *old = cJSON_CreateArray(), *neu = cJSON_CreateArray();
	int k = 0;

	snprintf(jdir, sizeof(jdir), "%s/journal-%d", dir, t);
	snprintf(id, sizeof(id), "pc-%d", t);
	snprintf(tok, sizeof(tok), "tok-%d", t);
	strscpy(d.terminal_id, sizeof(d.terminal_id), id);
	strscpy(c.terminal_id, sizeof(c.terminal_id), id);
	strscpy(c.serial, sizeof(c.serial), tok);
	assert_int_equal(STORE_CALL(st, token_add, tok, "g", "", T_NEW * 2, "op"), 0);
	assert_int_equal(STORE_CALL(st, enroll, tok, T_OLD, &d, &c), 0);
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
	assert_int_equal(journal_iter_open(jdir, 0, &it), 0);
	while (journal_iter_next(it, &rec) == 1) {
		cJSON *e = cJSON_CreateObject();

		cJSON_AddStringToObject(e, "hash", rec.hash_hex);
		cJSON_AddItemToObject(e, "record", cJSON_ParseWithLength(rec.canon, rec.canon_len));
		cJSON_AddItemToArray(k++ < n_old ? old : neu, e);
	}
	journal_iter_free(it);
	assert_int_equal(k, RECORDS);
	assert_int_equal(chain_ingest(st, id, old, T_OLD, &res), 0);
	assert_int_equal(res.stored, n_old);
	if (n_old < RECORDS) {
		assert_int_equal(chain_ingest(st, id, neu, T_NEW, &res), 0);
		assert_int_equal(res.stored, RECORDS - n_old);
	}
	*ret_old = old;
	*ret_new = neu;
}

static struct store_verify verify_in(const char *url, const char *archive_dir)
{
	struct store *st = NULL;
	struct store_verify v;

	assert_int_equal(store_open(url, &st), 0);
	assert_int_equal(store_verify(st, archive_dir, &v), 0);
	store_close(st);
	return v;
}

static void assert_verified(const struct store_verify *v, uint64_t archived)
{
	assert_int_equal(v->terminals, 2);
	assert_int_equal(v->events, 2 * RECORDS);
	assert_int_equal(v->bad_terminals, 0);
	assert_int_equal(v->bad_archives, 0);
	assert_string_equal(v->first_bad_archive, "");
	assert_int_equal(v->archived_events, archived);
}

struct seqs {
	uint64_t seq[64];
	char hash[64][STORE_HASH_HEX];
	size_t n;
};

static int seqs_cb(const struct store_event_row *e, void *userdata)
{
	struct seqs *s = userdata;

	assert_true(s->n < 64);
	s->seq[s->n] = e->seq;
	strscpy(s->hash[s->n], STORE_HASH_HEX, e->hash);
	s->n++;
	return 0;
}

/* The records a terminal still holds in the store, by seq. */
static struct seqs live(struct store *st, const char *id)
{
	struct store_event_filter f = {.terminal_id = id, .limit = 1000};
	struct seqs s = {0};

	assert_int_equal(STORE_CALL(st, events_list, &f, seqs_cb, &s), 0);
	return s;
}

struct arcs {
	struct store_archive a[32];
	size_t n;
};

static int arcs_cb(const struct store_archive *a, void *userdata)
{
	struct arcs *l = userdata;

	assert_true(l->n < 32);
	l->a[l->n++] = *a;
	return 0;
}

static struct arcs arcs_of(const char *url, const char *id)
{
	struct store *st = NULL;
	struct arcs l = {0};

	assert_int_equal(store_open(url, &st), 0);
	assert_int_equal(STORE_CALL(st, archive_list, id, arcs_cb, &l), 0);
	store_close(st);
	return l;
}

static char *file_of(const struct store_archive *a)
{
	char *p = NULL;

	assert_true(asprintf(&p, "%s/%s", adir, a->file) > 0);
	return p;
}

/* gunzip with zlib's own file reader: the oracle of the format */
static size_t zcat(const char *path, char *buf, size_t n)
{
	gzFile g = gzopen(path, "rb");
	int len;

	assert_non_null(g);
	len = gzread(g, buf, (unsigned)n - 1);
	assert_true(len > 0);
	assert_int_equal(gzclose(g), Z_OK);
	buf[len] = 0;
	return (size_t)len;
}

static void free_uploads(cJSON *u[4])
{
	for (int i = 0; i < 4; i++)
		cJSON_Delete(u[i]);
}

/* Archive, verify across the boundary, newer records untouched, resends of
 * archived records; tampering found. */
static void test_archive_verify(void **state)
{
	char url[1024];
	struct store *st = NULL;
	struct archive_options o = {.dir = adir, .before_us = T_MID, .now_us = T_NEW, .max_records = 3};
	struct archive_stats as;
	struct store_verify v;
	struct seqs before, after;
	struct chain_result res;
	cJSON *up[4];

	(void)state;
	dir = tu_mkdtemp();
	snprintf(adir, sizeof(adir), "%s/archive", dir);
	new_url("a", url, sizeof(url));
	assert_int_equal(store_open(url, &st), 0);
	fill(st, 0, 8, &up[0], &up[1]);       /* 8 old, 4 new */
	fill(st, 1, RECORDS, &up[2], &up[3]); /* all old: all but the head go */
	before = live(st, "pc-0");
	assert_int_equal(before.n, RECORDS);

	assert_int_equal(archive_run(st, &o, &as), 0);
	assert_int_equal(as.records, 8 + (RECORDS - 1));
	assert_int_equal(as.files, 3 + 4); /* 3+3+2 and 3+3+3+2 */
	assert_int_equal(as.skipped, 0);
	/* the newer records and the heads are untouched */
	after = live(st, "pc-0");
	assert_int_equal(after.n, 4);
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(after.seq[i], 9 + i);
		assert_string_equal(after.hash[i], before.hash[8 + i]);
	}
	after = live(st, "pc-1");
	assert_int_equal(after.n, 1);
	assert_int_equal(after.seq[0], RECORDS);
	/* nothing more is old enough: a second run moves nothing */
	assert_int_equal(archive_run(st, &o, &as), 0);
	assert_int_equal(as.files, 0);
	/* an agent resending archived records: held already, not a fork */
	assert_int_equal(chain_ingest(st, "pc-1", up[2], T_NEW, &res), 0);
	assert_int_equal(res.stored, 0);
	assert_int_equal(res.broken, _FINDING_INVALID);
	assert_int_equal(res.duplicates, RECORDS);
	assert_int_equal(res.acked_seq, RECORDS);
	store_close(st);
	free_uploads(up);

	v = verify_in(url, adir);
	assert_verified(&v, 19);
	assert_int_equal(v.archives, 7);

	/* the files are gzip of the records, first line the header */
	struct arcs l = arcs_of(url, "pc-0");
	assert_int_equal(l.n, 3);
	assert_int_equal(l.a[0].first_seq, 1);
	assert_int_equal(l.a[0].last_seq, 3);
	assert_string_equal(l.a[0].prev_hash, "");
	assert_string_equal(l.a[1].prev_hash, l.a[0].last_hash);
	assert_int_equal(l.a[2].last_seq, 8);
	assert_string_equal(l.a[2].last_hash, before.hash[7]);
	assert_int_equal(l.a[0].first_received_us, T_OLD);
	{
		_cleanup_free_ char *p = file_of(&l.a[1]);
		char plain[65536], hex[CRYPTO_SHA256_HEX];
		_cleanup_free_ char *raw = NULL;
		size_t rawlen = 0;
		struct stat sb;

		zcat(p, plain, sizeof(plain));
		assert_non_null(
		        strstr(plain, "{\"format\":\"mamori-events-archive\",\"version\":1,\"terminal_id\":\"pc-0\""));
		assert_non_null(strstr(plain, "資料-3.txt")); /* seq 4: the fourth record */
		assert_int_equal(read_file_capped(p, 1 << 20, &raw, &rawlen), 0);
		assert_int_equal(crypto_sha256_hex(raw, rawlen, hex), 0);
		assert_string_equal(hex, l.a[1].sha256);
		assert_int_equal(stat(p, &sb), 0);
		assert_int_equal(sb.st_mode & 0777, 0400);
	}

	/* without the archive folder: the archives are missing */
	v = verify_in(url, NULL);
	assert_int_equal(v.bad_archives, 2);
	assert_int_equal(v.bad_terminals, 2);
	assert_int_equal(v.first_bad_archive_error, -ENOENT);

	/* one byte changed in a file: its hash differs */
	{
		_cleanup_free_ char *p = file_of(&l.a[1]);
		_cleanup_free_ char *raw = NULL;
		size_t rawlen = 0;

		assert_int_equal(read_file_capped(p, 1 << 20, &raw, &rawlen), 0);
		raw[rawlen / 2] ^= 0x01;
		assert_int_equal(chmod(p, 0600), 0);
		assert_int_equal(write_file_atomic(p, raw, rawlen, 0600), 0);
		v = verify_in(url, adir);
		assert_int_equal(v.bad_archives, 1);
		assert_string_equal(v.first_bad_archive, l.a[1].file);
		assert_int_equal(v.first_bad_archive_error, -EBADMSG);
		assert_int_equal(v.bad_terminals, 1);
		assert_string_equal(v.first_bad, "pc-0");
		assert_int_equal(v.first_bad_seq, 4);
		raw[rawlen / 2] ^= 0x01; /* put back: verifies again */
		assert_int_equal(write_file_atomic(p, raw, rawlen, 0400), 0);
		v = verify_in(url, adir);
		assert_verified(&v, 19);
	}

	/* a file re-made with one record changed and the store's hash of the
	 * file changed to match: the chain inside it breaks at that record */
	{
		_cleanup_free_ char *p = file_of(&l.a[1]);
		char plain[65536], hex[CRYPTO_SHA256_HEX], *at, sql[512];
		size_t n = zcat(p, plain, sizeof(plain));
		gzFile g;
		_cleanup_free_ char *raw = NULL, *keep = NULL;
		size_t rawlen = 0, keeplen = 0;

		assert_int_equal(read_file_capped(p, 1 << 20, &keep, &keeplen), 0);
		at = strstr(plain, "資料-4.txt"); /* seq 5 */
		assert_non_null(at);
		memcpy(at, "資料-X", strlen("資料-X"));
		assert_int_equal(unlink(p), 0);
		g = gzopen(p, "wb");
		assert_non_null(g);
		assert_int_equal(gzwrite(g, plain, (unsigned)n), (int)n);
		assert_int_equal(gzclose(g), Z_OK);
		assert_int_equal(read_file_capped(p, 1 << 20, &raw, &rawlen), 0);
		assert_int_equal(crypto_sha256_hex(raw, rawlen, hex), 0);
		snprintf(sql, sizeof(sql), "UPDATE archives SET sha256 = '%s', bytes = %zu WHERE file = '%s'", hex,
		         rawlen, l.a[1].file);
		raw_sql(url, sql);
		v = verify_in(url, adir);
		assert_int_equal(v.bad_archives, 0); /* the file is the one recorded… */
		assert_int_equal(v.bad_terminals, 1);
		assert_string_equal(v.first_bad, "pc-0");
		assert_int_equal(v.first_bad_seq, 5); /* …but its record 5 does not chain */
		/* put back */
		assert_int_equal(unlink(p), 0);
		assert_int_equal(write_file_atomic(p, keep, keeplen, 0400), 0);
		snprintf(sql, sizeof(sql), "UPDATE archives SET sha256 = '%s', bytes = %zu WHERE file = '%s'",
		         l.a[1].sha256, keeplen, l.a[1].file);
		raw_sql(url, sql);
		v = verify_in(url, adir);
		assert_verified(&v, 19);
	}

	/* the first record left in the store no longer chains onto the last
	 * archived one (the archive's last record changed in the store's view):
	 * the boundary is checked */
	{
		char sql[512];

		snprintf(sql, sizeof(sql), "UPDATE events SET hash = '%s' WHERE terminal_id = 'pc-0' AND seq = 9",
		         before.hash[7]);
		raw_sql(url, sql);
		v = verify_in(url, adir);
		assert_int_equal(v.bad_archives, 0);
		assert_int_equal(v.bad_terminals, 1);
		assert_int_equal(v.first_bad_seq, 9);
		snprintf(sql, sizeof(sql), "UPDATE events SET hash = '%s' WHERE terminal_id = 'pc-0' AND seq = 9",
		         before.hash[8]);
		raw_sql(url, sql);
	}

	/* an archive file removed: missing, never passed */
	{
		_cleanup_free_ char *p = file_of(&l.a[2]);

		assert_int_equal(unlink(p), 0);
		v = verify_in(url, adir);
		assert_int_equal(v.bad_archives, 1);
		assert_string_equal(v.first_bad_archive, l.a[2].file);
		assert_int_equal(v.first_bad_archive_error, -ENOENT);
		assert_int_equal(v.bad_terminals, 1);
		assert_int_equal(v.first_bad_seq, 7);
	}
	tu_rmtree(dir);
	free(dir);
}

static int die_hook(const char *path, void *userdata)
{
	(void)userdata;
	if (access(path, F_OK) != 0)
		_exit(3);
	_exit(7); /* the process dies between the file and the store */
}

static int fail_hook(const char *path, void *userdata)
{
	(void)path, (void)userdata;
	return -EIO;
}

/* Killed between writing a file and recording it: nothing lost, nothing
 * seen twice; the next run finishes the move. */
static void test_archive_crash(void **state)
{
	char url[1024];
	struct store *st = NULL;
	struct archive_options o = {.dir = adir, .before_us = T_MID, .now_us = T_NEW};
	struct archive_stats as;
	struct store_verify v;
	cJSON *up[4];
	int status = 0;
	pid_t pid;

	(void)state;
	dir = tu_mkdtemp();
	snprintf(adir, sizeof(adir), "%s/archive", dir);
	new_url("c", url, sizeof(url));
	assert_int_equal(store_open(url, &st), 0);
	fill(st, 0, 8, &up[0], &up[1]);
	fill(st, 1, RECORDS, &up[2], &up[3]);
	free_uploads(up);
	store_close(st);

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct store *cs = NULL;

		o.after_write = die_hook;
		if (store_open(url, &cs) < 0)
			_exit(2);
		(void)archive_run(cs, &o, &as);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 7);
	/* the file is there, the store holds every record and no archive */
	assert_int_equal(arcs_of(url, NULL).n, 0);
	assert_int_equal(store_open(url, &st), 0);
	assert_int_equal(live(st, "pc-0").n, RECORDS);
	assert_int_equal(live(st, "pc-1").n, RECORDS);
	store_close(st);
	v = verify_in(url, adir);
	assert_verified(&v, 0);
	assert_int_equal(v.archives, 0);

	/* a hook that fails (not a death): the run stops with its error, the
	 * same state */
	assert_int_equal(store_open(url, &st), 0);
	o.after_write = fail_hook;
	assert_int_equal(archive_run(st, &o, &as), -EIO);
	assert_int_equal(arcs_of(url, NULL).n, 0);
	assert_int_equal(live(st, "pc-0").n, RECORDS);
	o.after_write = NULL;
	/* the next run moves everything, once; files cut by size (one record
	 * each here) are followed by the next file */
	o.max_bytes = 1;
	assert_int_equal(archive_run(st, &o, &as), 0);
	assert_int_equal(as.records, 8 + RECORDS - 1);
	assert_int_equal(as.files, 8 + RECORDS - 1);
	assert_int_equal(live(st, "pc-0").n, 4);
	assert_int_equal(live(st, "pc-1").n, 1);
	store_close(st);
	v = verify_in(url, adir);
	assert_verified(&v, 8 + RECORDS - 1);
	assert_int_equal(v.archives, 8 + RECORDS - 1);
	tu_rmtree(dir);
	free(dir);
}

/* A backup of an archived store, restored into an empty one: every chain
 * verifies with the archive files, and fails without them. The store refuses
 * to record a file that is not the records it holds. */
static void test_archive_backup_restore(void **state)
{
	char src[1024], dst[1024], file[700];
	struct store *st = NULL;
	struct archive_options o = {.dir = adir, .before_us = T_MID, .now_us = T_NEW};
	struct archive_stats as;
	struct store_verify v;
	cJSON *up[4];

	(void)state;
	dir = tu_mkdtemp();
	snprintf(adir, sizeof(adir), "%s/archive", dir);
	snprintf(file, sizeof(file), "%s/backup", dir);
	new_url("s", src, sizeof(src));
	new_url("d", dst, sizeof(dst));
	assert_int_equal(store_open(src, &st), 0);
	fill(st, 0, 8, &up[0], &up[1]);
	fill(st, 1, 5, &up[2], &up[3]);
	free_uploads(up);
	assert_int_equal(archive_run(st, &o, &as), 0);
	assert_int_equal(as.records, 8 + 5);
	/* archive_add: only the records held, in order, after the last archive */
	{
		struct arcs l = {0};
		struct store_archive a;

		assert_int_equal(STORE_CALL(st, archive_list, "pc-0", arcs_cb, &l), 0);
		assert_int_equal(l.n, 1);
		a = l.a[0];
		strscpy(a.file, sizeof(a.file), "other.jsonl.gz");
		assert_int_equal(STORE_CALL(st, archive_add, &a), -ESTALE); /* already moved */
		a.first_seq = 9, a.last_seq = 10, a.n_records = 2;
		strscpy(a.prev_hash, sizeof(a.prev_hash), l.a[0].last_hash);
		assert_int_equal(STORE_CALL(st, archive_add, &a), -ESTALE); /* not seq 10's hash */
		a.n_records = 3;
		assert_int_equal(STORE_CALL(st, archive_add, &a), -ESTALE);
		a.first_seq = 0;
		assert_int_equal(STORE_CALL(st, archive_add, &a), -EINVAL);
		assert_int_equal(live(st, "pc-0").n, 4);
	}
	assert_int_equal(STORE_CALL(st, backup, file), 0);
	store_close(st);
	assert_int_equal(store_restore(dst, file), 0);
	v = verify_in(dst, adir);
	assert_verified(&v, 13);
	assert_int_equal(v.archives, 2);
	v = verify_in(dst, NULL);
	assert_int_equal(v.bad_archives, 2);
	tu_rmtree(dir);
	free(dir);
}

static void test_retention_days(void **state)
{
	static const char *const bad[] = {"",        "0",   "-1",  "36501", "1.5",  "10d",
	                                  "Forever", " 10", "+10", "010",   "never"};
	int64_t d = -1;

	(void)state;
	assert_int_equal(archive_parse_days("forever", &d), 0);
	assert_int_equal(d, 0);
	assert_int_equal(archive_parse_days("1825", &d), 0);
	assert_int_equal(d, 1825);
	assert_int_equal(archive_parse_days("36500", &d), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(archive_parse_days(bad[i], &d), -EINVAL);
	assert_int_equal(archive_parse_days(NULL, &d), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_archive_verify),
	        cmocka_unit_test(test_archive_crash),
	        cmocka_unit_test(test_archive_backup_restore),
	};
	const struct CMUnitTest once[] = {
	        cmocka_unit_test(test_retention_days),
	};
	int failed = cmocka_run_group_tests_name("retention", once, NULL, NULL);

	failed += cmocka_run_group_tests_name("sqlite", tests, NULL, NULL);
	pgt_start(&cluster);
	failed += cmocka_run_group_tests_name("postgresql", tests, NULL, NULL);
	pgt_stop(&cluster);
	return failed;
}
