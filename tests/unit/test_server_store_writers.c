/* tests/unit/test_server_store_writers.c — two writers on one PostgreSQL
 * store at once (issue 18.2): two processes, each with its own connection
 * as two mamori-server instances behind a load balancer have, take the
 * same terminals' event uploads (chain_ingest, the server's path of POST
 * /api/v1/events) and check-ins at the same time, each resending what was
 * not acknowledged as an agent does. Afterwards every chain must be exact:
 * each record stored once, none lost, the stored bytes and hashes equal to
 * the journal's and the hash chain re-verifying from its start, the event
 * counters equal to the rows, no finding; and a record sent changed from
 * both processes at once is still a fork, recorded once. And a server's
 * connection cut by a database restart is made again: the statement that
 * saw the cut fails, the next one works, nothing stored is lost.
 *
 * The records are made by the real journal (agent/journal/journal.c); the
 * database is a real PostgreSQL 15 cluster the test starts
 * (tests/lib/pgtest.h). The processes are the store and chain layers of
 * the server, not whole HTTP servers: what two instances share is the
 * database, and that is what is under test here. */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "chain.h"
#include "crypto.h"
#include "journal.h"
#include "journal_canon.h"
#include "json-util.h"
#include "pgtest.h"
#include "store.h"
#include "strutil.h"
#include "journal_batch.h"
#include "testutil.h"

#define TERMINALS 4
#define RECORDS   60
#define NOW       1700000000000000LL

static struct pgt cluster;
static char *dir, url[1024];

static void jdir_of(int t, char *buf, size_t n)
{
	snprintf(buf, n, "%s/journal-%d", dir, t);
}

static void make_journal(int t)
{
	char jdir[600];
	struct journal_options o = {.dir = jdir};
	struct journal *j = NULL;

	jdir_of(t, jdir, sizeof(jdir));
	tu_write(jdir, ".keep", "");
	assert_int_equal(journal_open(&o, &j), 0);
	for (int i = 0; i < RECORDS; i++) {
		_cleanup_json_ cJSON *p = cJSON_CreateObject();
		char path[64];

		snprintf(path, sizeof(path), "/media/usb/資料-%d-%d.txt", t, i);
		cJSON_AddStringToObject(p, "path", path);
		cJSON_AddNumberToObject(p, "size", i);
		struct mamori_event ev = {.type = "carry.out", .severity = SEV_NOTICE, .reqs = "CARRY-1", .payload = p};
		assert_int_equal(journal_append(j, &ev, NULL), 0);
	}
	journal_close(j);
}

/* Records of terminal t after `after`, at most max, as the transport sends
 * them; NULL on error (the writers run in forked children, without cmocka). */
static cJSON *batch(int t, uint64_t after, unsigned max)
{
	char jdir[600];
	cJSON *arr = NULL;

	jdir_of(t, jdir, sizeof(jdir));
	return tu_journal_batch(jdir, after, max, &arr) < 0 ? NULL : arr;
}

static int64_t real_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void terminal_id(int t, char buf[16])
{
	snprintf(buf, 16, "pc-%d", t);
}

/* One writer (a child process; no cmocka here): uploads every terminal's
 * records in batches of varying size, in its own order, resending after a
 * refused (-EAGAIN: the other writer moved the head) or unacknowledged
 * batch, with a check-in after each batch. Exit status: 0 or the step
 * that failed. */
static int writer(int w)
{
	struct store *st = NULL;
	uint64_t after[TERMINALS] = {0};
	unsigned retries = 0, done = 0;
	int r;

	if ((r = store_open(url, &st)) < 0) {
		fprintf(stderr, "writer %d: open: %d\n", w, r);
		return 2;
	}
	for (unsigned round = 0; done < TERMINALS; round++) {
		done = 0;
		for (int k = 0; k < TERMINALS; k++) {
			int t = w == 0 ? k : TERMINALS - 1 - k;
			char id[16];
			struct chain_result res = {0};
			cJSON *b;

			terminal_id(t, id);
			if (after[t] >= RECORDS) {
				done++;
				continue;
			}
			b = batch(t, after[t], 1 + (round * 7 + (unsigned)t * 3 + (unsigned)w) % 9);
			if (!b)
				return 3;
			r = chain_ingest(st, id, b, real_now_us(), &res);
			cJSON_Delete(b);
			if (r == -EAGAIN) {
				retries++; /* the agent resends: its batch was not acknowledged */
				continue;
			}
			if (r < 0 || res.broken != _FINDING_INVALID) {
				fprintf(stderr, "writer %d: %s after %" PRIu64 ": %d broken %d: %s\n", w, id, after[t],
				        r, res.broken, res.detail);
				store_close(st);
				return 4;
			}
			after[t] = res.acked_seq; /* may be ahead: the other writer stored more */
			struct store_checkin c = {.terminal_id = id,
			                          .time_us = NOW + round,
			                          .agent_version = w == 0 ? "1.0" : "1.1",
			                          .hostname = id,
			                          .compliance_json = "{\"LOG-1\":\"pass\"}"};
			size_t n = 0;
			if ((r = STORE_CALL(st, checkin_many, &c, 1, &n)) < 0 || n != 1) {
				fprintf(stderr, "writer %d: check-in %s: %d\n", w, id, r);
				store_close(st);
				return 5;
			}
		}
	}
	fprintf(stderr, "writer %d: done, %u batches refused and resent\n", w, retries);
	store_close(st);
	return 0;
}

static void run_two(int (*fn)(int))
{
	pid_t pid[2];
	int status;

	for (int w = 0; w < 2; w++) {
		pid[w] = fork();
		assert_true(pid[w] >= 0);
		if (pid[w] == 0)
			_exit(fn(w));
	}
	for (int w = 0; w < 2; w++) {
		assert_int_equal(waitpid(pid[w], &status, 0), pid[w]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
}

struct verify {
	cJSON *journal; /* the journal's records, in order */
	uint64_t n;
	uint8_t prev[32];
};

static int verify_cb(const struct store_event_row *e, void *userdata)
{
	struct verify *v = userdata;
	const cJSON *it = cJSON_GetArrayItem(v->journal, (int)v->n);
	_cleanup_free_ char *canon = NULL;
	uint8_t h[32];
	char hex[65];

	assert_non_null(it);
	v->n++;
	assert_int_equal(e->seq, v->n); /* in order, none twice, none missing */
	/* the stored hash is the chain's: SHA-256(previous hash ‖ canonical bytes) */
	assert_int_equal(crypto_sha256_2(v->prev, 32, e->canon, e->canon_len, h), 0);
	hex_encode(h, 32, hex);
	assert_string_equal(hex, e->hash);
	assert_string_equal(e->hash, cJSON_GetObjectItemCaseSensitive(it, "hash")->valuestring);
	memcpy(v->prev, h, 32);
	return 0;
}

static int finding_cb(const struct store_finding *f, void *userdata)
{
	int *n = userdata;

	n[f->kind]++;
	return 0;
}

static void verify_all(struct store *st)
{
	for (int t = 0; t < TERMINALS; t++) {
		char id[16];
		struct verify v = {.journal = batch(t, 0, RECORDS + 1)};
		struct store_event_filter f = {.terminal_id = id, .limit = 10 * RECORDS};
		struct store_device d;
		int nf[_FINDING_MAX] = {0};

		terminal_id(t, id);
		assert_non_null(v.journal);
		assert_int_equal(cJSON_GetArraySize(v.journal), RECORDS);
		assert_int_equal(STORE_CALL(st, events_list, &f, verify_cb, &v), 0);
		assert_int_equal(v.n, RECORDS);
		assert_int_equal(STORE_CALL(st, device_get, id, &d), 0);
		assert_int_equal(d.chain.head_seq, RECORDS);
		assert_int_equal(d.events, RECORDS); /* the counter too: nothing counted twice */
		assert_int_equal(STORE_CALL(st, findings_list, id, 100, finding_cb, nf), 0);
		for (int k = 0; k < _FINDING_MAX; k++)
			assert_int_equal(nf[k], 0);
		cJSON_Delete(v.journal);
	}
}

/* Both writers send seq RECORDS - 1 again, changed, at once. */
static int forker(int w)
{
	struct store *st = NULL;
	struct chain_result res = {0};
	cJSON *b = batch(0, RECORDS - 2, 1), *pl;
	int r;

	if (!b || store_open(url, &st) < 0)
		return 2;
	pl = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(b, 0), "record"),
	                                      "payload");
	cJSON_ReplaceItemInObjectCaseSensitive(pl, "size", cJSON_CreateNumber(1000 + w));
	r = chain_ingest(st, "pc-0", b, real_now_us(), &res);
	cJSON_Delete(b);
	store_close(st);
	if (r < 0 || res.broken != FINDING_CHAIN_FORK || res.bad_seq != RECORDS - 1) {
		fprintf(stderr, "forker %d: %d broken %d seq %" PRIu64 "\n", w, r, res.broken, res.bad_seq);
		return 3;
	}
	return 0;
}

static void test_two_writers(void **state)
{
	struct store *st = NULL;
	int nf[_FINDING_MAX] = {0};

	(void)state;
	dir = tu_mkdtemp();
	pgt_newdb(&cluster, url, sizeof(url));
	assert_int_equal(store_open(url, &st), 0);
	for (int t = 0; t < TERMINALS; t++) {
		char id[16], tok[16];
		struct store_device d = {0};
		struct store_cert c = {.not_after_us = NOW * 2};

		terminal_id(t, id);
		snprintf(tok, sizeof(tok), "tok-%d", t);
		strscpy(d.terminal_id, sizeof(d.terminal_id), id);
		strscpy(c.terminal_id, sizeof(c.terminal_id), id);
		strscpy(c.serial, sizeof(c.serial), tok);
		assert_int_equal(STORE_CALL(st, token_add, tok, "g", "", NOW * 2, "op"), 0);
		assert_int_equal(STORE_CALL(st, enroll, tok, NOW, &d, &c), 0);
		make_journal(t);
	}
	store_close(st); /* no connection crosses the fork */
	run_two(writer);
	assert_int_equal(store_open(url, &st), 0);
	verify_all(st);
	store_close(st);

	run_two(forker);
	assert_int_equal(store_open(url, &st), 0);
	assert_int_equal(STORE_CALL(st, findings_list, "pc-0", 100, finding_cb, nf), 0);
	assert_int_equal(nf[FINDING_CHAIN_FORK], 1); /* once, though both saw it */
	store_close(st);
	tu_rmtree(dir);
	free(dir);
}

static void test_reconnect(void **state)
{
	struct store *st = NULL;
	struct store_device d;
	char v[16];
	int r;

	(void)state;
	pgt_newdb(&cluster, url, sizeof(url));
	assert_int_equal(store_open(url, &st), 0);
	assert_int_equal(STORE_CALL(st, meta_set, "k", "before"), 0);
	pgt_restart(&cluster);
	r = STORE_CALL(st, meta_get, "k", v, sizeof(v));
	assert_true(r == 0 || r == -EIO); /* the cut is seen by at most one statement */
	assert_int_equal(STORE_CALL(st, meta_get, "k", v, sizeof(v)), 0);
	assert_string_equal(v, "before");
	assert_int_equal(STORE_CALL(st, meta_set, "k", "after"), 0);
	assert_int_equal(STORE_CALL(st, device_get, "nope", &d), -ENOENT);
	store_close(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_two_writers),
	        cmocka_unit_test(test_reconnect),
	};
	int failed;

	pgt_start(&cluster);
	failed = cmocka_run_group_tests_name("postgresql", tests, NULL, NULL);
	pgt_stop(&cluster);
	return failed;
}
