/* agent/journal/journal.c — the event journal's store: SQLite (WAL, synchronous=FULL)
 * with a SHA-256 hash chain, quota, acknowledgement, pruning, recovery from
 * corruption, verification and reading (writer: mamori-worker; readers: mamorictl,
 * the uploader). The only file that calls SQLite for the journal: its error
 * codes become negative errno in sql_errno_untrusted() (common/sqlite-util.h);
 * the chain's SHA-256 is common/digest.h's (libcrypto, errors as -EIO).
 *
 * Schema (format 1):
 *   events(seq INTEGER PRIMARY KEY, time_us, type, canon BLOB, hash BLOB)
 *   meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID, keys:
 *     format   "1"
 *     chain    32 hex: random id of this chain
 *     anchor   "<seq> <hex>": the last pruned record (or the chain's start)
 *     head     "<seq> <hex>": the last record, written in every transaction
 *     acked    "<seq>": acknowledged by the server up to here
 *     overflow "<count> <first_us> <last_us>": events counted, not stored
 * time_us and type duplicate the canonical bytes so that queries need not
 * parse them; the verifier checks that they agree. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/timex.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "alloc-util.h"
#include "digest.h"
#include "fileio.h"
#include "journal.h"
#include "journal_canon.h"
#include "journal_side.h"
#include "log.h"
#include "random-util.h"
#include "sqlite-util.h"
#include "strutil.h"

#define HASH_LEN          32
#define PRUNE_CHUNK       64  /* records deleted per step when the quota is hit */
#define ITER_CHUNK        256 /* rows per read transaction of an iterator */
#define ROW_OVERHEAD      96  /* cell, record header, hash, time: bytes per row beyond canon+type */
#define BUSY_TIMEOUT_MS   5000
#define VERIFY_REASON_MAX 256
#define WAL_LIMIT         (4 * 1024 * 1024) /* bytes the WAL keeps after a checkpoint */
/* meta.format. 1: meta.head was rewritten in every transaction. 2: only when
 * records are deleted (a second page in every commit's WAL write, issue
 * 23.3); a format-1 file is read as format 2 and marked so when opened for
 * writing. */
#define FORMAT "2"

/* Everything that a transaction may change, snapshotted at BEGIN so that a
 * ROLLBACK restores the in-memory view too. */
struct jstate {
	uint64_t head_seq, anchor_seq, acked_seq;
	uint8_t head_hash[HASH_LEN], anchor_hash[HASH_LEN];
	/* meta.head: the head when records were last deleted (or the file made).
	 * The file ends at or after it; the head itself is the last record. */
	uint64_t floor_seq;
	uint8_t floor_hash[HASH_LEN];
	uint64_t overflow_count;
	int64_t overflow_first_us, overflow_last_us;
};

enum {
	DIRTY_ANCHOR = 1 << 0,
	DIRTY_ACKED = 1 << 1,
	DIRTY_OVERFLOW = 1 << 2,
};

struct hasher {
	struct digest_sha256 *d; /* common/digest.h: libcrypto's SHA-256, reused per record */
};

struct journal {
	sqlite3 *db;
	sqlite3_stmt *st_insert, *st_meta, *st_begin, *st_commit, *st_rollback, *st_pages, *st_free;
	int lock_fd;
	char dir[PATH_MAX], path[PATH_MAX];
	char chain[33];
	struct jstate s, saved;
	unsigned dirty;
	bool in_txn, in_batch, batch_failed;
	uint64_t quota_bytes, page_size;
	int64_t room; /* bytes believed free under the quota; re-measured when short */
	struct hasher h;
	struct buf pbuf, rbuf, mbuf;
	int64_t sync_checked_us;
	bool synced;
	/* outside the database (journal_side.h) */
	int side_fd;
	void *side_map; /* journal_side_map(), or NULL: pwrite */
	struct journal_side side;
	bool side_dirty;              /* side.loss changed: write it durably before returning */
	struct journal_loss txn_loss; /* records of the open transaction: lost if it rolls back */
	struct journal_loss flushing; /* what the journal.overflow record of this transaction reports */
	bool flushing_on;
	bool degraded; /* the disk was full: the reserve is released, appends are counted */
	int64_t reserve_try_us;
	bool recovering; /* writing the overflow record right after a failed commit */
	ino_t wal_ino;   /* the WAL the writer uses: deleted or replaced = tamper (LOG-1) */
	bool wal_known;
	char wal_problem[128]; /* set at commit when the WAL went away; handled by the next append */
};

/* ---- library wrappers ---------------------------------------------------- */

static int sql_fail(sqlite3 *db, int rc, const char *what)
{
	log_debug("journal: %s: %s (%d)", what, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc), rc);
	return sql_errno_untrusted(rc);
}

static int db_exec(sqlite3 *db, const char *sql)
{
	int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : sql_fail(db, rc, sql);
}

static int db_open(const char *path, bool rw, sqlite3 **ret)
{
	sqlite3 *db = NULL;
	int rc;

	rc = sqlite3_open_v2(path, &db, rw ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READONLY, NULL);
	if (rc != SQLITE_OK) {
		rc = sql_fail(db, rc, "open");
		sqlite3_close(db);
		return rc;
	}
	sqlite3_extended_result_codes(db, 1);
	sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
	*ret = db;
	return 0;
}

static int db_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **ret)
{
	int rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, ret, NULL);

	return rc == SQLITE_OK ? 0 : sql_fail(db, rc, sql);
}

static void stmt_finalizep(sqlite3_stmt **s)
{
	sqlite3_finalize(*s); /* accepts NULL */
}
#define _cleanup_stmt_ _cleanup_(stmt_finalizep)

static void db_closep(sqlite3 **db)
{
	sqlite3_close(*db); /* accepts NULL */
}
#define _cleanup_db_ _cleanup_(db_closep)

/* Run a statement that yields one integer (or none: *ret untouched, returns 0). */
static int db_int(sqlite3 *db, const char *sql, int64_t *ret)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int rc, r;

	r = db_prepare(db, sql, &st);
	if (r < 0)
		return r;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		if (sqlite3_column_type(st, 0) != SQLITE_NULL)
			*ret = sqlite3_column_int64(st, 0);
		return 0;
	}
	return rc == SQLITE_DONE ? 0 : sql_fail(db, rc, sql);
}

static int hasher_init(struct hasher *h)
{
	return digest_sha256_new(&h->d);
}

static void hasher_done(struct hasher *h)
{
	h->d = digest_sha256_free(h->d);
}

/* out = SHA-256(prev ‖ data) */
static int sha_chain(struct hasher *h, const uint8_t prev[HASH_LEN], const void *data, size_t n, uint8_t out[HASH_LEN])
{
	return digest_sha256_2(h->d, prev, HASH_LEN, data, n, out);
}

/* ---- small helpers ------------------------------------------------------- */

/* "<seq> <64 hex>" */
static int parse_seq_hash(const char *s, uint64_t *ret_seq, uint8_t ret_hash[HASH_LEN])
{
	const char *sp = s ? strchr(s, ' ') : NULL;
	char num[24];
	int64_t v;
	uint8_t h[HASH_LEN];

	if (!sp || (size_t)(sp - s) >= sizeof(num))
		return -EINVAL;
	memcpy(num, s, (size_t)(sp - s));
	num[sp - s] = 0;
	if (parse_int64(num, 0, JOURNAL_INT_MAX, &v) < 0 || hex_decode(sp + 1, strlen(sp + 1), h, HASH_LEN) < 0)
		return -EINVAL;
	*ret_seq = (uint64_t)v;
	memcpy(ret_hash, h, HASH_LEN);
	return 0;
}

static int64_t now_us(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* LOG-2: the kernel's view (adjtimex with modes = 0 only reads), asked at
 * most once a second; the coarse clock (a tick's resolution) is enough for
 * that and costs no clock read per record (issue 23.3). */
static bool clock_synced(struct journal *j)
{
	int64_t m = now_us(CLOCK_MONOTONIC_COARSE);
	struct timex tx = {.modes = 0};
	int st;

	if (j->sync_checked_us && m - j->sync_checked_us < 1000000)
		return j->synced;
	st = adjtimex(&tx);
	j->synced = st >= 0 && st != TIME_ERROR && !(tx.status & STA_UNSYNC);
	j->sync_checked_us = m;
	return j->synced;
}

static int random_chain_id(char out[33])
{
	uint8_t b[16];
	int r = random_bytes(b, sizeof(b), false);

	if (r < 0)
		return r;
	hex_encode(b, sizeof(b), out);
	return 0;
}

static int fsync_dir(const char *dir)
{
	_cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || fsync(fd) < 0)
		return -errno;
	return 0;
}

/* ---- meta ---------------------------------------------------------------- */

static int meta_get(sqlite3 *db, const char *key, char *buf, size_t bufsz)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	const unsigned char *v;
	int rc, r;

	r = db_prepare(db, "SELECT value FROM meta WHERE key = ?", &st);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		return -ENOENT;
	if (rc != SQLITE_ROW)
		return sql_fail(db, rc, "meta");
	v = sqlite3_column_text(st, 0);
	if (!v)
		return -ENOENT;
	return strscpy(buf, bufsz, (const char *)v) < 0 ? -EBADMSG : 0;
}

static int meta_put(struct journal *j, const char *key, const char *value)
{
	int rc;

	sqlite3_bind_text(j->st_meta, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(j->st_meta, 2, value, -1, SQLITE_STATIC);
	rc = sqlite3_step(j->st_meta);
	sqlite3_reset(j->st_meta);
	return rc == SQLITE_DONE ? 0 : sql_fail(j->db, rc, "meta put");
}

static int meta_put_seq_hash(struct journal *j, const char *key, uint64_t seq, const uint8_t hash[HASH_LEN])
{
	char v[24 + 2 * HASH_LEN + 2], hex[2 * HASH_LEN + 1];
	int r;

	hex_encode(hash, HASH_LEN, hex);
	r = xsnprintf(v, sizeof(v), "%" PRIu64 " %s", seq, hex);
	return r < 0 ? r : meta_put(j, key, v);
}

/* The persistent state as stored; -EBADMSG when missing or malformed. */
static int state_load(sqlite3 *db, char chain[33], struct jstate *s)
{
	char v[256];
	int64_t n;
	int r;

	*s = (struct jstate){0};
	if ((r = meta_get(db, "format", v, sizeof(v))) < 0)
		return r == -ENOENT ? -EBADMSG : r;
	if (!streq_ptr(v, "1") && !streq_ptr(v, FORMAT))
		return -EBADMSG;
	if ((r = meta_get(db, "chain", v, sizeof(v))) < 0)
		return r == -ENOENT ? -EBADMSG : r;
	if (strlen(v) != 32)
		return -EBADMSG;
	memcpy(chain, v, 33);
	if ((r = meta_get(db, "anchor", v, sizeof(v))) < 0 || parse_seq_hash(v, &s->anchor_seq, s->anchor_hash) < 0)
		return r == -ENOENT || r == 0 ? -EBADMSG : r;
	if ((r = meta_get(db, "head", v, sizeof(v))) < 0 || parse_seq_hash(v, &s->floor_seq, s->floor_hash) < 0)
		return r == -ENOENT || r == 0 ? -EBADMSG : r;
	/* the head is the last record: chain_verify sets it from its walk,
	 * journal_info from the last row */
	s->head_seq = s->floor_seq;
	memcpy(s->head_hash, s->floor_hash, HASH_LEN);
	if ((r = meta_get(db, "acked", v, sizeof(v))) < 0 || parse_int64(v, 0, JOURNAL_INT_MAX, &n) < 0)
		return r == -ENOENT || r == 0 ? -EBADMSG : r;
	s->acked_seq = (uint64_t)n;
	r = meta_get(db, "overflow", v, sizeof(v));
	if (r < 0)
		return r == -ENOENT ? -EBADMSG : r;
	{
		char *a = v, *b = strchr(a, ' '), *c = b ? strchr(b + 1, ' ') : NULL;
		int64_t cnt, f, l;

		if (!b || !c)
			return -EBADMSG;
		*b = *c = 0;
		if (parse_int64(a, 0, INT64_MAX, &cnt) < 0 || parse_int64(b + 1, INT64_MIN, INT64_MAX, &f) < 0 ||
		    parse_int64(c + 1, INT64_MIN, INT64_MAX, &l) < 0)
			return -EBADMSG;
		s->overflow_count = (uint64_t)cnt;
		s->overflow_first_us = f;
		s->overflow_last_us = l;
	}
	return 0;
}

/* ---- verification (shared by journal_open and journal_verify) ------------ */

struct vresult {
	uint64_t first_bad;     /* 0 = intact */
	uint64_t last_good_seq; /* the last record (or anchor) that checked out */
	uint8_t last_good_hash[HASH_LEN];
	uint64_t
	        max_seq; /* highest seq present in the file; for the recovery record, every seq the old chain used or reserved */
	char chain[33];
	struct jstate s;
	char reason[VERIFY_REASON_MAX];
};

static bool canon_agrees(const char *canon, size_t len, uint64_t seq, int64_t time_us, const char *type,
                         const char *chain)
{
	cJSON *o = cJSON_ParseWithLength(canon, len);
	const cJSON *v;
	bool ok = false;

	if (!cJSON_IsObject(o))
		goto out;
	v = cJSON_GetObjectItemCaseSensitive(o, "seq");
	if (!cJSON_IsNumber(v) || v->valuedouble != (double)seq)
		goto out;
	v = cJSON_GetObjectItemCaseSensitive(o, "time_us");
	if (!cJSON_IsNumber(v) || v->valuedouble != (double)time_us)
		goto out;
	v = cJSON_GetObjectItemCaseSensitive(o, "type");
	if (!cJSON_IsString(v) || !streq_ptr(v->valuestring, type))
		goto out;
	v = cJSON_GetObjectItemCaseSensitive(o, "chain");
	ok = cJSON_IsString(v) && streq_ptr(v->valuestring, chain);
out:
	cJSON_Delete(o);
	return ok;
}

#define BAD(vr, seq, ...)                                                                                              \
	do {                                                                                                           \
		(vr)->first_bad = (seq);                                                                               \
		(void)xsnprintf((vr)->reason, sizeof((vr)->reason), __VA_ARGS__);                                      \
	} while (0)

/* Walk the chain inside one read transaction. 0: the check ran (vr->first_bad
 * tells), -EBADMSG: not a readable journal (vr->reason), else errno. */
static int chain_verify(sqlite3 *db, struct hasher *h, struct vresult *vr)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	char ic[128] = "";
	uint64_t expect;
	uint8_t prev[HASH_LEN];
	bool floor_seen;
	int rc, r;

	*vr = (struct vresult){0};
	{
		_cleanup_stmt_ sqlite3_stmt *q = NULL;

		r = db_prepare(db, "PRAGMA quick_check", &q);
		if (r < 0) {
			(void)xsnprintf(vr->reason, sizeof(vr->reason), "not an SQLite database: %s",
			                sqlite3_errmsg(db));
			return r;
		}
		rc = sqlite3_step(q);
		if (rc == SQLITE_ROW && sqlite3_column_text(q, 0))
			(void)strscpy(ic, sizeof(ic), (const char *)sqlite3_column_text(q, 0));
		if (rc != SQLITE_ROW || !streq_ptr(ic, "ok")) {
			r = rc == SQLITE_ROW ? -EBADMSG : sql_fail(db, rc, "quick_check");
			(void)xsnprintf(vr->reason, sizeof(vr->reason), "database damaged: %s",
			                rc == SQLITE_ROW ? ic : sqlite3_errmsg(db));
			return r;
		}
	}
	(void)db_int(db, "SELECT max(seq) FROM events", (int64_t *)&vr->max_seq);
	r = state_load(db, vr->chain, &vr->s);
	if (r < 0) {
		(void)xsnprintf(vr->reason, sizeof(vr->reason), "journal metadata missing or malformed");
		return r;
	}
	expect = vr->s.anchor_seq + 1;
	memcpy(prev, vr->s.anchor_hash, HASH_LEN);
	vr->last_good_seq = vr->s.anchor_seq;
	memcpy(vr->last_good_hash, prev, HASH_LEN);
	floor_seen = vr->s.floor_seq == vr->s.anchor_seq && memcmp(vr->s.floor_hash, prev, HASH_LEN) == 0;
	if (vr->s.anchor_seq > vr->s.acked_seq) {
		BAD(vr, vr->s.acked_seq + 1, "records after the acknowledged seq %" PRIu64 " were removed",
		    vr->s.acked_seq);
		return 0;
	}
	r = db_prepare(db, "SELECT seq, time_us, type, canon, hash FROM events ORDER BY seq", &st);
	if (r < 0) {
		(void)xsnprintf(vr->reason, sizeof(vr->reason), "events table missing or malformed");
		return r;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		uint64_t seq = (uint64_t)sqlite3_column_int64(st, 0);
		int64_t t = sqlite3_column_int64(st, 1);
		const char *type = (const char *)sqlite3_column_text(st, 2);
		const void *canon = sqlite3_column_blob(st, 3);
		size_t clen = (size_t)sqlite3_column_bytes(st, 3);
		const void *hash = sqlite3_column_blob(st, 4);
		size_t hlen = (size_t)sqlite3_column_bytes(st, 4);
		uint8_t want[HASH_LEN];

		if (seq < expect) {
			BAD(vr, seq, "record %" PRIu64 " lies before the chain's anchor %" PRIu64, seq,
			    vr->s.anchor_seq);
			return 0;
		}
		if (seq > expect) {
			BAD(vr, expect, "record %" PRIu64 " is missing", expect);
			return 0;
		}
		if (!canon || clen > JOURNAL_RECORD_MAX || hlen != HASH_LEN || !type) {
			BAD(vr, seq, "record %" PRIu64 " is malformed", seq);
			return 0;
		}
		r = sha_chain(h, prev, canon, clen, want);
		if (r < 0)
			return r;
		if (memcmp(want, hash, HASH_LEN) != 0) {
			BAD(vr, seq, "record %" PRIu64 ": hash does not match its contents and the previous record",
			    seq);
			return 0;
		}
		if (!canon_agrees(canon, clen, seq, t, type, vr->chain)) {
			BAD(vr, seq, "record %" PRIu64 ": stored at the wrong place or its columns were changed", seq);
			return 0;
		}
		if (seq == vr->s.floor_seq && memcmp(want, vr->s.floor_hash, HASH_LEN) == 0)
			floor_seen = true;
		memcpy(prev, want, HASH_LEN);
		vr->last_good_seq = seq;
		memcpy(vr->last_good_hash, want, HASH_LEN);
		expect = seq + 1;
	}
	if (rc != SQLITE_DONE)
		return sql_fail(db, rc, "verify");
	/* the file may end after meta.head (records appended since), never
	 * before it; what ends after it is checked against journal.state
	 * (side_check) */
	if (vr->s.floor_seq > vr->last_good_seq)
		BAD(vr, vr->last_good_seq + 1, "records %" PRIu64 "..%" PRIu64 " at the end are missing",
		    vr->last_good_seq + 1, vr->s.floor_seq);
	else if (!floor_seen)
		BAD(vr, vr->s.floor_seq, "the recorded head %" PRIu64 " does not match record %" PRIu64,
		    vr->s.floor_seq, vr->s.floor_seq);
	vr->s.head_seq = vr->last_good_seq;
	memcpy(vr->s.head_hash, prev, HASH_LEN);
	return 0;
}

/* ---- writer: transactions ------------------------------------------------ */

static int stmt_run(struct journal *j, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : sql_fail(j->db, rc, what);
}

static void after_failed_commit(struct journal *j, int err);
static void check_wal(struct journal *j);

static enum journal_loss_cause loss_cause(int r)
{
	return r == -ENOSPC || r == -EDQUOT ? LOSS_DISK_FULL : LOSS_IO;
}

/* Write journal.state; durable when it carries a new count of lost events.
 * A failure here is logged: the in-memory count stays and goes with the next
 * write. */
static int side_sync(struct journal *j, bool durable)
{
	int r;

	if (j->side_fd < 0)
		return 0;
	r = journal_side_write(j->side_fd, j->side_map, &j->side, durable || j->side_dirty);
	if (r < 0)
		return log_error_errno(r, "journal: cannot write %s/%s", j->dir, JOURNAL_STATE_FILE);
	j->side_dirty = false;
	return 0;
}

/* One event that will not be stored: counted durably at the next side_sync
 * (at once outside a batch, at the batch's end inside one). */
static void loss_count(struct journal *j, const char *type, enum journal_loss_cause c)
{
	int64_t t = now_us(CLOCK_REALTIME);

	if (!j->side.loss.count)
		log_error("journal: events are being counted, not stored (%s)", journal_loss_cause_to_string(c));
	journal_loss_add(&j->side.loss, type, c, 1, t);
	j->side_dirty = true;
}

static int txn_begin(struct journal *j)
{
	int r = j->db ? stmt_run(j, j->st_begin, "begin") : -EIO;

	if (r < 0)
		return r;
	j->saved = j->s;
	j->dirty = 0;
	j->in_txn = true;
	j->txn_loss = (struct journal_loss){0};
	j->flushing_on = false;
	return 0;
}

/* Undo the transaction; its records (j->txn_loss) are counted as lost with
 * the cause of `err`. */
static void txn_rollback(struct journal *j, int err)
{
	if (!sqlite3_get_autocommit(j->db))
		(void)stmt_run(j, j->st_rollback, "rollback");
	j->s = j->saved;
	j->dirty = 0;
	j->room = 0; /* re-measure */
	j->in_txn = false;
	j->flushing_on = false;
	if (j->txn_loss.count) {
		if (!j->side.loss.count)
			log_error("journal: events are being counted, not stored (%s)",
			          journal_loss_cause_to_string(loss_cause(err)));
		journal_loss_merge(&j->side.loss, &j->txn_loss, loss_cause(err));
		j->side_dirty = true;
	}
	j->txn_loss = (struct journal_loss){0};
}

static int txn_commit(struct journal *j)
{
	char v[72];
	int r = 0;

	/* meta.head only moves with the anchor: a deletion may empty the table,
	 * and the file must still say where the chain stood */
	if (j->dirty & DIRTY_ANCHOR) {
		j->s.floor_seq = j->s.head_seq;
		memcpy(j->s.floor_hash, j->s.head_hash, HASH_LEN);
		r = meta_put_seq_hash(j, "head", j->s.floor_seq, j->s.floor_hash);
		if (r == 0)
			r = meta_put_seq_hash(j, "anchor", j->s.anchor_seq, j->s.anchor_hash);
	}
	if (r == 0 && (j->dirty & DIRTY_ACKED) && (r = xsnprintf(v, sizeof(v), "%" PRIu64, j->s.acked_seq)) == 0)
		r = meta_put(j, "acked", v);
	if (r == 0 && (j->dirty & DIRTY_OVERFLOW) &&
	    (r = xsnprintf(v, sizeof(v), "%" PRIu64 " %" PRId64 " %" PRId64, j->s.overflow_count,
	                   j->s.overflow_first_us, j->s.overflow_last_us)) == 0)
		r = meta_put(j, "overflow", v);
	if (r == 0)
		r = stmt_run(j, j->st_commit, "commit"); /* the fsync (synchronous=FULL) */
	if (r < 0) {
		log_error_errno(r, "journal: commit failed, %" PRIu64 " record(s) not stored; counted",
		                j->s.head_seq - j->saved.head_seq);
		txn_rollback(j, r);
		after_failed_commit(j, r);
		return r;
	}
	j->dirty = 0;
	j->in_txn = false;
	j->txn_loss = (struct journal_loss){0};
	j->side.head_seq = j->s.head_seq;
	hex_encode(j->s.head_hash, HASH_LEN, j->side.head_hash);
	if (j->flushing_on) {
		/* the journal.overflow record is durable: those counts are reported */
		journal_loss_sub(&j->side.loss, &j->flushing);
		j->side.loss_gen++;
		j->flushing_on = false;
		j->side_dirty = true;
	}
	/* the head goes out after each commit without an fsync of its own: the
	 * WAL was fsynced first, so journal.state never claims more than is durable */
	(void)side_sync(j, false);
	check_wal(j);
	return 0;
}

/* Open a transaction unless a batch holds one; *own says whether to commit. */
static int txn_enter(struct journal *j, bool *own)
{
	*own = !j->in_batch;
	if (j->in_batch)
		return j->batch_failed ? -EIO : 0;
	return txn_begin(j);
}

/* After a failure inside a transaction: roll back ours; poison a batch. */
static int txn_fail(struct journal *j, bool own, int r)
{
	if (own)
		txn_rollback(j, r);
	else
		j->batch_failed = true;
	return r;
}

/* ---- writer: records and quota ------------------------------------------- */

static int insert_record(struct journal *j, const char *type, enum event_severity sev, const char *reqs,
                         const char *payload, size_t plen, uint64_t *ret_seq)
{
	struct journal_canon_head hd = {
	        .chain = j->chain,
	        .seq = j->s.head_seq + 1,
	        .time_us = now_us(CLOCK_REALTIME),
	        .synced = clock_synced(j),
	        .type = type,
	        .severity = sev,
	        .reqs = reqs,
	};
	uint8_t hash[HASH_LEN];
	int rc, r;

	/* sequence numbers are never reused, whatever happens to this file
	 * later: they are reserved durably outside it before use */
	if (hd.seq > j->side.reserved) {
		j->side.reserved = hd.seq + JOURNAL_SEQ_STEP - 1;
		r = side_sync(j, true);
		if (r < 0)
			return r;
	}
	r = journal_canon_record(&hd, payload, plen, &j->rbuf);
	if (r < 0)
		return r;
	r = sha_chain(&j->h, j->s.head_hash, j->rbuf.data, j->rbuf.len, hash);
	if (r < 0)
		return r;
	sqlite3_bind_int64(j->st_insert, 1, (sqlite3_int64)hd.seq);
	sqlite3_bind_int64(j->st_insert, 2, hd.time_us);
	sqlite3_bind_text(j->st_insert, 3, type, -1, SQLITE_STATIC);
	sqlite3_bind_blob(j->st_insert, 4, j->rbuf.data, (int)j->rbuf.len, SQLITE_STATIC);
	sqlite3_bind_blob(j->st_insert, 5, hash, HASH_LEN, SQLITE_STATIC);
	rc = sqlite3_step(j->st_insert);
	sqlite3_reset(j->st_insert);
	if (rc != SQLITE_DONE)
		return sql_fail(j->db, rc, "insert");
	j->s.head_seq = hd.seq;
	memcpy(j->s.head_hash, hash, HASH_LEN);
	*ret_seq = hd.seq;
	if (!streq_ptr(type, "journal.overflow")) /* the report of a loss is not itself a lost event */
		journal_loss_add(&j->txn_loss, type, LOSS_IO, 1, hd.time_us);
	return 0;
}

static int64_t record_cost(size_t canon_len, const char *type)
{
	return (int64_t)(canon_len + strlen(type) + ROW_OVERHEAD) * 5 / 4;
}

/* Bytes free under the quota, measured from the pages in use. The WAL gets a
 * fifth of the quota (journal_size_limit), the database three quarters; the
 * rest absorbs page granularity and WAL frames written before a checkpoint. */
static int measure_room(struct journal *j)
{
	int64_t pages = 0, freel = 0, used;
	int rc;

	rc = sqlite3_step(j->st_pages);
	if (rc == SQLITE_ROW)
		pages = sqlite3_column_int64(j->st_pages, 0);
	sqlite3_reset(j->st_pages);
	if (rc != SQLITE_ROW)
		return sql_fail(j->db, rc, "page_count");
	rc = sqlite3_step(j->st_free);
	if (rc == SQLITE_ROW)
		freel = sqlite3_column_int64(j->st_free, 0);
	sqlite3_reset(j->st_free);
	if (rc != SQLITE_ROW)
		return sql_fail(j->db, rc, "freelist_count");
	used = (pages - freel + 2) * (int64_t)j->page_size; /* +2: a split may need fresh pages */
	j->room = (int64_t)(j->quota_bytes - j->quota_bytes / 4) - used;
	return 0;
}

/* Delete records anchor+1..cut (all acknowledged); the last becomes the anchor. */
static int delete_prefix(struct journal *j, uint64_t cut)
{
	_cleanup_stmt_ sqlite3_stmt *q = NULL, *d = NULL;
	int rc, r;

	if (cut <= j->s.anchor_seq)
		return 0;
	if (cut > j->s.acked_seq || cut > j->s.head_seq)
		return -EINVAL; /* never an unacknowledged record */
	r = db_prepare(j->db, "SELECT hash FROM events WHERE seq = ?", &q);
	if (r < 0)
		return r;
	sqlite3_bind_int64(q, 1, (sqlite3_int64)cut);
	rc = sqlite3_step(q);
	if (rc != SQLITE_ROW || sqlite3_column_bytes(q, 0) != HASH_LEN)
		return rc == SQLITE_ROW || rc == SQLITE_DONE ? -EBADMSG : sql_fail(j->db, rc, "anchor");
	memcpy(j->s.anchor_hash, sqlite3_column_blob(q, 0), HASH_LEN);
	r = db_prepare(j->db, "DELETE FROM events WHERE seq <= ?", &d);
	if (r < 0)
		return r;
	sqlite3_bind_int64(d, 1, (sqlite3_int64)cut);
	rc = sqlite3_step(d);
	if (rc != SQLITE_DONE)
		return sql_fail(j->db, rc, "prune");
	j->s.anchor_seq = cut;
	j->dirty |= DIRTY_ANCHOR;
	return 0;
}

/* Make room for `need` bytes, deleting the oldest acknowledged records if the
 * quota requires. -ENOSPC when only unacknowledged records are left. */
static int make_room(struct journal *j, int64_t need)
{
	int r;

	if (!j->quota_bytes)
		return 0;
	/* Far from the limit the estimate is enough; near it (the last eighth),
	 * every append measures, since records may use pages less fully than
	 * estimated. */
	if (j->room >= need + (int64_t)(j->quota_bytes / 8)) {
		j->room -= need;
		return 0;
	}
	for (;;) {
		uint64_t cut;

		r = measure_room(j);
		if (r < 0)
			return r;
		if (j->room >= need) {
			j->room -= need;
			return 0;
		}
		cut = j->s.anchor_seq + PRUNE_CHUNK;
		if (cut > j->s.acked_seq)
			cut = j->s.acked_seq;
		if (cut <= j->s.anchor_seq)
			return -ENOSPC;
		r = delete_prefix(j, cut);
		if (r < 0)
			return r;
	}
}

/* The journal.overflow payload for the counts in journal.state (canonical,
 * into mbuf: pbuf may hold the event being appended). */
static int overflow_payload(struct journal *j)
{
	const struct journal_loss *l = &j->side.loss;
	cJSON *o = cJSON_CreateObject(), *c, *t;
	int r = -ENOMEM;

	if (o && cJSON_AddNumberToObject(o, "dropped", (double)l->count) &&
	    cJSON_AddNumberToObject(o, "first_time_us", (double)l->first_us) &&
	    cJSON_AddNumberToObject(o, "last_time_us", (double)l->last_us) &&
	    cJSON_AddStringToObject(o, "where", "journal") && (c = cJSON_AddObjectToObject(o, "causes")) &&
	    (t = cJSON_AddObjectToObject(o, "types"))) {
		r = 0;
		for (int i = 0; r == 0 && i < _LOSS_CAUSE_MAX; i++)
			if (l->by_cause[i] &&
			    !cJSON_AddNumberToObject(c, journal_loss_cause_to_string((enum journal_loss_cause)i),
			                             (double)l->by_cause[i]))
				r = -ENOMEM;
		for (unsigned i = 0; r == 0 && i < l->n_types; i++)
			if (!cJSON_AddNumberToObject(t, l->by_type[i].type, (double)l->by_type[i].n))
				r = -ENOMEM;
		if (r == 0)
			r = journal_canon_payload(o, &j->mbuf);
	}
	cJSON_Delete(o);
	return r;
}

/* In a transaction: write the pending journal.overflow record if there is
 * room for it and `extra` more bytes. 0 when written or nothing pending,
 * -ENOSPC when there is still no room. The counts leave journal.state only
 * when this transaction commits (txn_commit). */
static int overflow_flush(struct journal *j, int64_t extra)
{
	char gen[24];
	uint64_t seq;
	int r;

	if (!j->side.loss.count || j->flushing_on)
		return 0;
	r = overflow_payload(j);
	if (r < 0)
		return r;
	r = make_room(j, record_cost(j->mbuf.len + 256, "journal.overflow") + extra);
	if (r < 0)
		return r;
	r = insert_record(j, "journal.overflow", SEV_CRITICAL, "LOG-1", (const char *)j->mbuf.data, j->mbuf.len, &seq);
	if (r < 0)
		return r;
	/* which count this record reports, in the same transaction: after a
	 * crash before journal.state is rewritten, it is not reported twice */
	if ((r = xsnprintf(gen, sizeof(gen), "%" PRIu64, j->side.loss_gen)) < 0 ||
	    (r = meta_put(j, "loss_flushed", gen)) < 0)
		return r;
	log_warning("journal: %" PRIu64 " event(s) were counted, not stored (journal.overflow seq %" PRIu64 ")",
	            j->side.loss.count, seq);
	j->flushing = j->side.loss;
	j->flushing_on = true;
	return 0;
}

/* After SQLite could not commit: the count is made durable, and on a full
 * disk the reserve is released and the WAL truncated so that the
 * journal.overflow record can be written at once. Until the reserve can be
 * taken again, events are counted instead of written (degraded). */
static void after_failed_commit(struct journal *j, int err)
{
	(void)side_sync(j, true);
	if (loss_cause(err) != LOSS_DISK_FULL || j->recovering)
		return;
	if (!j->degraded) {
		int r;

		j->degraded = true;
		j->reserve_try_us = now_us(CLOCK_MONOTONIC);
		r = journal_reserve_release(j->dir);
		if (r < 0)
			log_error_errno(r, "journal: cannot release the reserve");
		log_error("journal: the file system of %s is full; events are counted until room returns", j->dir);
	}
	(void)db_exec(j->db, "PRAGMA wal_checkpoint(TRUNCATE)");
	j->recovering = true;
	if (txn_begin(j) == 0) {
		int r = overflow_flush(j, 0);

		if (r == 0)
			(void)txn_commit(j);
		else
			txn_rollback(j, r);
	}
	j->recovering = false;
}

/* Degraded: room again once the reserve can be taken back. */
static bool leave_degraded(struct journal *j)
{
	int r;

	if (!j->degraded)
		return true;
	r = journal_reserve_take(j->dir);
	if (r < 0)
		return false;
	j->degraded = false;
	log_info("journal: the file system of %s has room again", j->dir);
	return true;
}

static int append_canon(struct journal *j, const char *type, enum event_severity sev, const char *reqs,
                        const char *payload, size_t plen, uint64_t *ret_seq)
{
	int64_t cost = record_cost(plen + 256, type);
	uint64_t seq = 0;
	bool own;
	int r;

	if (!leave_degraded(j)) {
		loss_count(j, type, LOSS_DISK_FULL);
		if (!j->in_batch)
			(void)side_sync(j, true);
		return -ENOSPC;
	}
	r = txn_enter(j, &own);
	if (r < 0) {
		loss_count(j, type, loss_cause(r));
		if (own)
			(void)side_sync(j, true);
		return r;
	}
	r = overflow_flush(j, cost);
	if (r == 0)
		r = make_room(j, cost);
	if (r == -ENOSPC) {
		if (!j->side.loss.by_cause[LOSS_QUOTA])
			log_error("journal: quota of %" PRIu64 " bytes is full of unacknowledged events; counting, not "
			          "storing",
			          j->quota_bytes);
		loss_count(j, type, LOSS_QUOTA);
		if (own) {
			/* nothing else happened in our transaction; the count goes to journal.state */
			if (j->txn_loss.count || j->flushing_on)
				r = txn_commit(j) < 0 ? -EIO : -ENOSPC;
			else
				txn_rollback(j, 0);
			(void)side_sync(j, true);
		}
		return -ENOSPC;
	}
	if (r == 0)
		r = insert_record(j, type, sev, reqs, payload, plen, &seq);
	if (r < 0) {
		loss_count(j, type, loss_cause(r));
		(void)txn_fail(j, own, r);
		if (own)
			(void)side_sync(j, true);
		return r;
	}
	if (own && (r = txn_commit(j)) < 0)
		return r;
	if (ret_seq)
		*ret_seq = seq;
	return 0;
}

/* A malformed or oversized event is replaced by a record saying so: loss is
 * never silent. */
static void append_rejected(struct journal *j, const struct mamori_event *ev, int err)
{
	cJSON *o = cJSON_CreateObject();
	size_t tl = ev->type ? strnlen(ev->type, 128) : 0;
	cJSON *t = journal_canon_bytes_value(ev->type ? ev->type : "", tl);
	int r = -ENOMEM;

	if (o && t && cJSON_AddItemToObject(o, "rejected_type", t)) {
		t = NULL;
		if (cJSON_AddStringToObject(o, "reason", err == -E2BIG ? "too_large" : "invalid") &&
		    cJSON_AddNumberToObject(o, "errno", -err))
			r = journal_canon_payload(o, &j->pbuf);
	}
	cJSON_Delete(t);
	cJSON_Delete(o);
	if (r == 0)
		r = append_canon(j, "journal.rejected", SEV_WARNING, "LOG-1", j->pbuf.data, j->pbuf.len, NULL);
	if (r < 0)
		log_error_errno(r, "journal: could not record a rejected event");
}

/* ---- writer: public ------------------------------------------------------ */

int journal_append(struct journal *j, const struct mamori_event *ev, uint64_t *ret_seq)
{
	int r;

	if (!j || !ev)
		return -EINVAL;
	if (j->in_batch && j->batch_failed) {
		loss_count(j, ev->type, LOSS_IO);
		return -EIO;
	}
	r = journal_canon_check_head(ev->type, ev->severity, ev->reqs);
	if (r == 0)
		r = journal_canon_payload(ev->payload, &j->pbuf);
	if (r < 0) {
		log_warning_errno(r, "journal: event rejected (%s)", r == -E2BIG ? "too large" : "malformed");
		append_rejected(j, ev, r);
		return r;
	}
	return append_canon(j, ev->type, ev->severity, ev->reqs, j->pbuf.data, j->pbuf.len, ret_seq);
}

int journal_batch_begin(struct journal *j)
{
	int r;

	if (!j)
		return -EINVAL;
	if (j->in_batch)
		return -EBUSY;
	r = txn_begin(j);
	if (r < 0)
		return r;
	j->in_batch = true;
	j->batch_failed = false;
	return 0;
}

int journal_batch_commit(struct journal *j)
{
	int r;

	if (!j)
		return -EINVAL;
	if (!j->in_batch)
		return -ENOENT;
	j->in_batch = false;
	if (j->batch_failed) {
		j->batch_failed = false;
		txn_rollback(j, -EIO);
		after_failed_commit(j, -EIO);
		return -EIO;
	}
	r = txn_commit(j);
	if (j->side_dirty)
		(void)side_sync(j, true); /* events counted during the batch */
	return r;
}

int journal_ack(struct journal *j, uint64_t seq)
{
	bool own;
	int r;

	if (!j)
		return -EINVAL;
	if (seq > j->s.head_seq)
		return -ERANGE;
	if (seq <= j->s.acked_seq)
		return 0;
	r = txn_enter(j, &own);
	if (r < 0)
		return r;
	j->s.acked_seq = seq;
	j->dirty |= DIRTY_ACKED;
	if (seq > j->side.acked_seq) {
		/* the server holds up to here: a journal that later has less went backwards */
		j->side.acked_seq = seq;
		(void)side_sync(j, true);
	}
	return own ? txn_commit(j) : 0;
}

/* The journal's own clock for retention: seconds the agent has run, added
 * up from a monotonic clock the caller reads (CLOCK_BOOTTIME), never from
 * the wall clock (issue 13: a jump of 800 days deleted every acknowledged
 * record). meta "age" = "<elapsed> <last monotonic reading> <boot id>"; a
 * reading from another boot or going backwards adds nothing, so time while
 * the terminal is off does not count: records are kept at least as long as
 * the policy says. */
static int age_advance(struct journal *j, int64_t now_mono_s, int64_t *ret_elapsed)
{
	char v[128], boot[40] = "-", oboot[40] = "";
	int64_t elapsed = 0, last = 0;
	int r;

	if (read_one_line("/proc/sys/kernel/random/boot_id", boot, sizeof(boot)) < 0 || strchr(boot, ' '))
		(void)strscpy(boot, sizeof(boot), "-");
	if (meta_get(j->db, "age", v, sizeof(v)) == 0) {
		char e[24], l[24];

		if (sscanf(v, "%23s %23s %39s", e, l, oboot) != 3 || parse_int64(e, 0, INT64_MAX, &elapsed) < 0 ||
		    parse_int64(l, INT64_MIN, INT64_MAX, &last) < 0)
			elapsed = last = 0, oboot[0] = 0;
	}
	if (streq_ptr(boot, oboot) && now_mono_s > last)
		elapsed += now_mono_s - last;
	r = xsnprintf(v, sizeof(v), "%" PRId64 " %" PRId64 " %s", elapsed, now_mono_s, boot);
	if (r == 0)
		r = meta_put(j, "age", v);
	if (r == 0)
		*ret_elapsed = elapsed;
	return r;
}

int journal_prune(struct journal *j, int64_t retention_seconds, int64_t now_mono_s)
{
	int64_t elapsed = 0, cut = 0;
	uint64_t before;
	bool own;
	int r;

	if (!j || retention_seconds < 0)
		return -EINVAL;
	r = txn_enter(j, &own);
	if (r < 0)
		return r;
	before = j->s.anchor_seq;
	r = age_advance(j, now_mono_s, &elapsed);
	if (r < 0)
		return txn_fail(j, own, r);
	{
		_cleanup_stmt_ sqlite3_stmt *m = NULL, *q = NULL;
		int rc;

		/* every record up to head is at least as old as this mark (the first
		 * mark of a head stays: it is the oldest claim) */
		r = db_prepare(j->db, "INSERT OR IGNORE INTO marks(seq, elapsed) VALUES(?, ?)", &m);
		if (r < 0)
			return txn_fail(j, own, r);
		sqlite3_bind_int64(m, 1, (sqlite3_int64)j->s.head_seq);
		sqlite3_bind_int64(m, 2, elapsed);
		rc = sqlite3_step(m);
		if (rc != SQLITE_DONE)
			return txn_fail(j, own, sql_fail(j->db, rc, "mark"));
		r = db_prepare(j->db, "SELECT max(seq) FROM marks WHERE elapsed <= ?", &q);
		if (r < 0)
			return txn_fail(j, own, r);
		sqlite3_bind_int64(q, 1, elapsed - retention_seconds);
		rc = sqlite3_step(q);
		if (rc != SQLITE_ROW)
			return txn_fail(j, own, sql_fail(j->db, rc, "prune"));
		if (sqlite3_column_type(q, 0) != SQLITE_NULL)
			cut = sqlite3_column_int64(q, 0);
	}
	if ((uint64_t)cut > j->s.acked_seq)
		cut = (int64_t)j->s.acked_seq; /* never an unacknowledged record */
	r = delete_prefix(j, (uint64_t)cut);
	if (r == 0) {
		char sql[96];

		if (xsnprintf(sql, sizeof(sql), "DELETE FROM marks WHERE seq < %" PRIu64, j->s.anchor_seq) == 0)
			r = db_exec(j->db, sql);
	}
	if (r == 0) {
		j->room = 0; /* re-measure: pages were freed */
		r = overflow_flush(j, 0);
		if (r == -ENOSPC)
			r = 0;
	}
	if (r < 0)
		return txn_fail(j, own, r);
	if (own && (r = txn_commit(j)) < 0)
		return r;
	return (int)((j->s.anchor_seq - before) > INT_MAX ? INT_MAX : j->s.anchor_seq - before);
}

int journal_head(struct journal *j, uint64_t *ret_seq, char ret_hash_hex[JOURNAL_HASH_HEX_LEN + 1])
{
	if (!j)
		return -EINVAL;
	if (ret_seq)
		*ret_seq = j->s.head_seq;
	if (ret_hash_hex)
		hex_encode(j->s.head_hash, HASH_LEN, ret_hash_hex);
	return 0;
}

/* ---- open, create, recover ----------------------------------------------- */

static int path_in(char *buf, size_t sz, const char *dir, const char *name)
{
	return xsnprintf(buf, sz, "%s/%s", dir, name);
}

/* A fresh journal file, created complete under a temporary name and renamed
 * into place, so that a crash never leaves a half-made journal behind. */
static int create_file(const char *dir, const char *path, uint64_t anchor_seq, char chain[33])
{
	_cleanup_db_ sqlite3 *db = NULL;
	char tmp[PATH_MAX], hex[2 * HASH_LEN + 1], sql[1024];
	uint8_t zero[HASH_LEN] = {0};
	int r;

	r = random_chain_id(chain);
	if (r < 0)
		return r;
	hex_encode(zero, HASH_LEN, hex);
	r = xsnprintf(tmp, sizeof(tmp), "%s.new", path);
	if (r < 0)
		return r;
	(void)unlink(tmp);
	r = db_open(tmp, true, &db);
	if (r < 0)
		return r;
	r = xsnprintf(sql, sizeof(sql),
	              "PRAGMA page_size=4096; PRAGMA journal_mode=DELETE; PRAGMA synchronous=FULL; BEGIN;"
	              "CREATE TABLE meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;"
	              "CREATE TABLE events(seq INTEGER PRIMARY KEY, time_us INTEGER NOT NULL, type TEXT NOT NULL,"
	              " canon BLOB NOT NULL, hash BLOB NOT NULL);"
	              "INSERT INTO meta VALUES('format','" FORMAT "'),('chain','%s'),('anchor','%" PRIu64 " %s'),"
	              "('head','%" PRIu64 " %s'),('acked','%" PRIu64 "'),('overflow','0 0 0');"
	              "COMMIT;",
	              chain, anchor_seq, hex, anchor_seq, hex, anchor_seq);
	if (r < 0)
		return r;
	r = db_exec(db, sql);
	if (r < 0)
		return r;
	sqlite3_close(db);
	db = NULL;
	r = rename_replace(tmp, path);
	if (r < 0)
		return r;
	return fsync_dir(dir);
}

static int prepare_writer(struct journal *j)
{
	int64_t ps = 4096;
	char sql[256];
	int r;

	/* The WAL gets a fifth of the quota, at most WAL_LIMIT: checkpoints
	 * start at half of that and truncate the file back to it. A WAL that
	 * may grow without bound filled a small disk before the quota counted
	 * (issue 13). */
	int64_t wal_limit =
	        j->quota_bytes && j->quota_bytes / 5 < WAL_LIMIT ? (int64_t)(j->quota_bytes / 5) : WAL_LIMIT;
	int64_t ckpt = wal_limit / 4096 / 2 + 8;
	r = xsnprintf(sql, sizeof(sql),
	              "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA cache_size=-512;"
	              " PRAGMA journal_size_limit=%" PRId64 ";"
	              "PRAGMA wal_autocheckpoint=%" PRId64 ";",
	              wal_limit, ckpt);
	if (r < 0)
		return r;
	r = db_exec(j->db, sql);
	if (r < 0)
		return r;
	/* retention marks (journal_prune); not part of the chain */
	r = db_exec(j->db, "CREATE TABLE IF NOT EXISTS marks(seq INTEGER PRIMARY KEY, elapsed INTEGER NOT NULL)");
	if (r < 0)
		return r;
	(void)db_int(j->db, "PRAGMA page_size", &ps);
	j->page_size = (uint64_t)ps;
	if ((r = db_prepare(j->db, "INSERT INTO events(seq, time_us, type, canon, hash) VALUES(?,?,?,?,?)",
	                    &j->st_insert)) < 0 ||
	    (r = db_prepare(j->db, "INSERT OR REPLACE INTO meta(key, value) VALUES(?,?)", &j->st_meta)) < 0 ||
	    (r = db_prepare(j->db, "BEGIN IMMEDIATE", &j->st_begin)) < 0 ||
	    (r = db_prepare(j->db, "COMMIT", &j->st_commit)) < 0 ||
	    (r = db_prepare(j->db, "ROLLBACK", &j->st_rollback)) < 0 ||
	    (r = db_prepare(j->db, "PRAGMA page_count", &j->st_pages)) < 0 ||
	    (r = db_prepare(j->db, "PRAGMA freelist_count", &j->st_free)) < 0)
		return r;
	return 0;
}

static void writer_close_db(struct journal *j)
{
	sqlite3_stmt **sts[] = {&j->st_insert,   &j->st_meta,  &j->st_begin, &j->st_commit,
	                        &j->st_rollback, &j->st_pages, &j->st_free};

	for (size_t i = 0; i < ELEMENTSOF(sts); i++) {
		sqlite3_finalize(*sts[i]);
		*sts[i] = NULL;
	}
	sqlite3_close(j->db);
	j->db = NULL;
}

/* Open the existing file and check it completely. 0: sound (state loaded),
 * -EBADMSG: not a sound journal (*vr says why and what was still good). */
static int open_existing(struct journal *j, struct vresult *vr)
{
	char v[16];
	int r;

	r = db_open(j->path, true, &j->db);
	if (r < 0)
		return r;
	r = chain_verify(j->db, &j->h, vr);
	if (r == 0 && vr->first_bad)
		r = -EBADMSG;
	if (r == 0)
		r = prepare_writer(j);
	/* before writing: marked for older readers, which would take records
	 * after meta.head for damage; not fatal (a full disk must not stop the
	 * journal: this code reads both formats alike) */
	if (r == 0 && meta_get(j->db, "format", v, sizeof(v)) == 0 && !streq_ptr(v, FORMAT) &&
	    db_exec(j->db, "UPDATE meta SET value = '" FORMAT "' WHERE key = 'format'") < 0)
		log_warning("journal: %s stays marked format %s for now", j->path, v);
	if (r == 0) {
		j->s = vr->s;
		memcpy(j->chain, vr->chain, sizeof(j->chain));
		return 0;
	}
	if (r == -EBADMSG && !vr->reason[0])
		(void)xsnprintf(vr->reason, sizeof(vr->reason), "%s", sqlite3_errmsg(j->db));
	writer_close_db(j);
	return r;
}

/* Move journal.db (and its WAL) aside as evidence. */
static int quarantine(struct journal *j, char *ret_name, size_t namesz)
{
	char name[96], to[PATH_MAX], from[PATH_MAX + 8], tow[PATH_MAX + 8];
	time_t t = time(NULL);
	struct tm tm;
	int r;

	gmtime_r(&t, &tm);
	for (int n = 0;; n++) {
		char stamp[32];

		strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
		r = n ? xsnprintf(name, sizeof(name), "%s.corrupt-%s-%d", JOURNAL_FILE, stamp, n)
		      : xsnprintf(name, sizeof(name), "%s.corrupt-%s", JOURNAL_FILE, stamp);
		if (r < 0)
			return r;
		r = path_in(to, sizeof(to), j->dir, name);
		if (r < 0)
			return r;
		if (access(to, F_OK) < 0)
			break;
		if (n > 1000)
			return -EEXIST;
	}
	if (rename(j->path, to) < 0)
		return -errno;
	if (xsnprintf(from, sizeof(from), "%s-wal", j->path) == 0 && xsnprintf(tow, sizeof(tow), "%s-wal", to) == 0)
		(void)rename(from, tow);
	if (xsnprintf(from, sizeof(from), "%s-shm", j->path) == 0)
		(void)unlink(from);
	r = fsync_dir(j->dir);
	if (r < 0)
		return r;
	return strscpy(ret_name, namesz, name);
}

/* The first record of a new chain: what was wrong, and the old chain's head
 * as far as this terminal knows it (the file's last good record, or the head
 * journal.state saw committed when the file lost records since), so that
 * the server can tell that the new chain continues the old one (LOG-1). */
static int append_tamper(struct journal *j, const struct vresult *vr, const char *old_name, uint64_t acked,
                         const struct journal_side *old)
{
	cJSON *o = cJSON_CreateObject();
	char hex[2 * HASH_LEN + 1];
	const char *old_head_hash = "";
	uint64_t old_head = vr->last_good_seq;
	struct mamori_event ev = {.type = "tamper.detected", .severity = SEV_CRITICAL, .reqs = "LOG-1,OPS-5"};
	int r = -ENOMEM;

	hex_encode(vr->last_good_hash, HASH_LEN, hex);
	if (vr->chain[0])
		old_head_hash = hex;
	if (old->head_seq > old_head && (!vr->chain[0] || streq_ptr(old->chain, vr->chain))) {
		old_head = old->head_seq;
		old_head_hash = old->head_hash;
	}
	if (o && cJSON_AddStringToObject(o, "what", "journal") && cJSON_AddStringToObject(o, "old_file", old_name) &&
	    /* a file too damaged to name its chain: journal.state still knows it */
	    cJSON_AddStringToObject(o, "old_chain", vr->chain[0] ? vr->chain : old->chain) &&
	    cJSON_AddNumberToObject(o, "first_bad_seq", (double)vr->first_bad) &&
	    cJSON_AddNumberToObject(o, "last_good_seq", (double)vr->last_good_seq) &&
	    cJSON_AddStringToObject(o, "last_good_hash", vr->chain[0] ? hex : "") &&
	    /* the highest seq the old chain may have used (its file's, or reserved in
	     * journal.state): the new chain starts right after it, as the server
	     * checks (max(old_max_seq, last_good_seq) + 1) */
	    cJSON_AddNumberToObject(o, "old_max_seq", (double)j->s.anchor_seq) &&
	    cJSON_AddNumberToObject(o, "old_head_seq", (double)old_head) &&
	    cJSON_AddStringToObject(o, "old_head_hash", old_head_hash) &&
	    cJSON_AddNumberToObject(o, "acked_seq", (double)acked)) {
		cJSON *reason = journal_canon_bytes_value(vr->reason, strlen(vr->reason));

		if (reason && cJSON_AddItemToObject(o, "reason", reason)) {
			ev.payload = o;
			r = journal_append(j, &ev, NULL);
		} else {
			cJSON_Delete(reason);
		}
	}
	cJSON_Delete(o);
	return r;
}

/* After a successful open of a sound file: does it agree with what this
 * terminal knows from outside it? A file of another chain, with fewer
 * records than were committed or acknowledged, or another record at the
 * committed head, is a replaced or rewound journal (a deleted WAL, an old
 * copy): damaged (LOG-1). Fills vr->first_bad and vr->reason. */
static void side_check(sqlite3 *db, const char *chain, const struct jstate *s, const struct journal_side *side,
                       uint64_t acked, struct vresult *vr)
{
	uint64_t head = s->head_seq;

	if (side->chain[0] && !streq_ptr(side->chain, chain)) {
		BAD(vr, s->anchor_seq + 1, "the journal file was replaced: its chain %s is not chain %s in %s", chain,
		    side->chain, JOURNAL_STATE_FILE);
		return;
	}
	if (acked > head) {
		BAD(vr, head + 1,
		    "the journal went backwards: it ends at seq %" PRIu64 " but the server acknowledged up to %" PRIu64,
		    head, acked);
		return;
	}
	if (side->chain[0] && side->head_seq > head) {
		BAD(vr, head + 1,
		    "the journal went backwards: records %" PRIu64 "..%" PRIu64
		    " were committed and are missing (WAL deleted or an older copy)",
		    head + 1, side->head_seq);
		return;
	}
	if (side->chain[0] && side->head_hash[0] && side->head_seq > s->anchor_seq) {
		_cleanup_stmt_ sqlite3_stmt *q = NULL;
		char hex[2 * HASH_LEN + 1] = "";

		if (db_prepare(db, "SELECT hash FROM events WHERE seq = ?", &q) == 0) {
			sqlite3_bind_int64(q, 1, (sqlite3_int64)side->head_seq);
			if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_bytes(q, 0) == HASH_LEN)
				hex_encode(sqlite3_column_blob(q, 0), HASH_LEN, hex);
		}
		if (!streq_ptr(hex, side->head_hash))
			BAD(vr, side->head_seq, "record %" PRIu64 " is not the one committed (the file was replaced)",
			    side->head_seq);
	}
}

/* The WAL the writer uses was deleted or replaced under it (LOG-1). What it
 * committed is still in the open (unlinked) WAL: checkpoint it into
 * journal.db, keep a replacement as evidence, start a fresh WAL, and record
 * the tampering in the chain. */
static void wal_rescue(struct journal *j, const char *why)
{
	char wal[PATH_MAX + 8], aside[PATH_MAX + 64];
	cJSON *o = cJSON_CreateObject();
	int r;

	log_error("journal: %s-wal was %s while in use; recovering its records", j->path, why);
	r = db_exec(j->db, "PRAGMA wal_checkpoint(TRUNCATE)");
	if (r < 0)
		log_error_errno(r, "journal: checkpoint of the lost WAL failed");
	if (streq_ptr(why, "replaced") && xsnprintf(wal, sizeof(wal), "%s-wal", j->path) == 0 &&
	    xsnprintf(aside, sizeof(aside), "%s-wal.replaced-%" PRId64, j->path, now_us(CLOCK_REALTIME) / 1000000) == 0)
		(void)rename(wal, aside);
	writer_close_db(j);
	j->wal_known = false;
	r = db_open(j->path, true, &j->db);
	if (r == 0)
		r = prepare_writer(j);
	if (r < 0) {
		log_error_errno(r, "journal: cannot reopen %s; events are counted, not stored", j->path);
		writer_close_db(j);
		cJSON_Delete(o);
		return;
	}
	if (o && cJSON_AddStringToObject(o, "what", "journal_wal") && cJSON_AddStringToObject(o, "reason", why) &&
	    cJSON_AddNumberToObject(o, "head_seq", (double)j->s.head_seq)) {
		struct mamori_event ev = {
		        .type = "tamper.detected", .severity = SEV_CRITICAL, .reqs = "LOG-1,OPS-5", .payload = o};

		if (journal_canon_payload(o, &j->mbuf) == 0)
			(void)append_canon(j, ev.type, ev.severity, ev.reqs, (const char *)j->mbuf.data, j->mbuf.len,
			                   NULL);
	}
	cJSON_Delete(o);
}

static void check_wal(struct journal *j)
{
	char wal[PATH_MAX + 8];
	struct statx st;
	const char *why = NULL;

	if (j->wal_problem[0] || xsnprintf(wal, sizeof(wal), "%s-wal", j->path) < 0)
		return;
	/* only the inode number: asking for a file's times (stat(2)) makes the
	 * kernel (multigrain timestamps, Linux >= 6.13) give its next write a
	 * fine-grained mtime, so every commit dirtied the WAL's inode and
	 * the commit's fdatasync wrote the inode table block as well (issue
	 * 23.3: single appends 0.66x -> 0.87x raw SQLite) */
	if (statx(AT_FDCWD, wal, 0, STATX_INO, &st) < 0)
		why = errno == ENOENT ? "deleted" : NULL;
	else if (!(st.stx_mask & STATX_INO))
		return;
	else if (!j->wal_known) {
		j->wal_ino = st.stx_ino;
		j->wal_known = true;
	} else if (st.stx_ino != j->wal_ino)
		why = "replaced";
	if (!why)
		return;
	(void)strscpy(j->wal_problem, sizeof(j->wal_problem), why);
	if (!j->in_batch && !j->in_txn) {
		wal_rescue(j, why);
		j->wal_problem[0] = 0;
	}
}

int journal_open(const struct journal_options *o, struct journal **ret)
{
	_cleanup_free_ struct journal *j = NULL;
	struct vresult vr = {0};
	char lock[PATH_MAX], old_name[96] = "";
	bool recovered = false, side_bad = false, side_fresh = false, side_lost = false;
	struct journal_side old_side;
	uint64_t acked;
	int r;

	if (!o || !o->dir || !ret)
		return -EINVAL;
	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	j->lock_fd = -1;
	j->side_fd = -1;
	j->quota_bytes = o->quota_bytes;
	if ((r = strscpy(j->dir, sizeof(j->dir), o->dir)) < 0 ||
	    (r = path_in(j->path, sizeof(j->path), o->dir, JOURNAL_FILE)) < 0 ||
	    (r = path_in(lock, sizeof(lock), o->dir, "journal.lock")) < 0)
		return r;
	r = mkdir_p(o->dir, 0700);
	if (r < 0)
		return log_error_errno(r, "journal: cannot create %s", o->dir);
	r = hasher_init(&j->h);
	if (r < 0)
		goto fail;
	/* one writer: a second daemon would fork the chain */
	j->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (j->lock_fd < 0 || flock(j->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		r = errno == EWOULDBLOCK ? -EBUSY : -errno;
		if (r != -EBUSY || !o->quiet_if_busy)
			log_error_errno(r, "journal: %s is in use by another writer", o->dir);
		goto fail;
	}
	r = journal_side_open(j->dir, &j->side_fd, &j->side);
	if (r == -EBADMSG) {
		/* damaged: what it said is lost, which is itself evidence */
		char sp[PATH_MAX];

		side_bad = true;
		if (path_in(sp, sizeof(sp), j->dir, JOURNAL_STATE_FILE) == 0)
			if (truncate(sp, 0) < 0)
				log_warning_errno(-errno, "journal: cannot reset %s", sp);
		r = journal_side_open(j->dir, &j->side_fd, &j->side);
	}
	if (r < 0) {
		log_error_errno(r, "journal: cannot open %s/%s", j->dir, JOURNAL_STATE_FILE);
		goto fail;
	}
	/* no slot ever written (gen 0: the file was missing, empty or zeroed):
	 * a new state, fine for a new journal, evidence beside one with
	 * records (below); every open writes a slot */
	side_fresh = !side_bad && j->side.gen == 0;
	r = journal_side_map(j->side_fd, &j->side_map);
	if (r < 0 && r != -EOPNOTSUPP)
		log_warning_errno(r, "journal: cannot map %s/%s; writing it with pwrite", j->dir, JOURNAL_STATE_FILE);
	acked = j->side.acked_seq > o->acked_seq ? j->side.acked_seq : o->acked_seq;
	old_side = j->side;
	if (journal_reserve_take(j->dir) < 0) {
		j->degraded = true;
		log_error("journal: no room for the reserve in %s; events are counted until room returns", j->dir);
	}
	if (access(j->path, F_OK) == 0) {
		r = open_existing(j, &vr);
		if (r == 0) {
			side_check(j->db, j->chain, &j->s, &j->side, acked, &vr);
			if (vr.first_bad) {
				r = -EBADMSG;
				writer_close_db(j);
			}
			/* the file's end could not be checked: what journal.state
			 * said is gone (deleted, emptied or zeroed — a truncation
			 * under the writer's mapping ends so too) */
			side_lost = !vr.first_bad && side_fresh && j->s.head_seq > 0;
		}
		if (r == -EBADMSG) {
			r = quarantine(j, old_name, sizeof(old_name));
			if (r < 0) {
				log_error_errno(r, "journal: %s is damaged (%s) and could not be moved aside", j->path,
				                vr.reason);
				goto fail;
			}
			log_error("journal: %s is damaged or was tampered with (%s); kept as %s, starting a new chain",
			          j->path, vr.reason, old_name);
			recovered = true;
		} else if (r < 0) {
			log_error_errno(r, "journal: cannot open %s", j->path);
			goto fail;
		}
	} else if (errno != ENOENT) {
		r = -errno;
		goto fail;
	} else if (j->side.chain[0] || j->side.head_seq || acked) {
		/* this terminal had a journal: its disappearance is tampering */
		memcpy(vr.chain, j->side.chain, sizeof(vr.chain));
		(void)xsnprintf(vr.reason, sizeof(vr.reason),
		                "the journal file is missing (it had records up to %" PRIu64 ")",
		                j->side.head_seq > acked ? j->side.head_seq : acked);
		vr.first_bad = 1;
		log_error("journal: %s", vr.reason);
		recovered = true;
	}
	if (!j->db) {
		/* the new chain continues above every seq ever used or acknowledged */
		uint64_t start = vr.max_seq > vr.last_good_seq ? vr.max_seq : vr.last_good_seq;

		if (j->side.reserved > start)
			start = j->side.reserved;
		if (j->side.head_seq > start)
			start = j->side.head_seq;
		if (acked > start)
			start = acked;
		/* the recovery record says where the old chain ended: every seq it
		 * used or reserved; the server expects the new chain right after it */
		vr.max_seq = start;
		r = create_file(j->dir, j->path, start, j->chain);
		if (r < 0) {
			log_error_errno(r, "journal: cannot create %s", j->path);
			goto fail;
		}
		if ((r = db_open(j->path, true, &j->db)) < 0 || (r = prepare_writer(j)) < 0 ||
		    (r = state_load(j->db, j->chain, &j->s)) < 0)
			goto fail;
	} else {
		int64_t flushed = -1;
		char v[32];

		if (meta_get(j->db, "loss_flushed", v, sizeof(v)) == 0 && parse_int64(v, 0, INT64_MAX, &flushed) == 0 &&
		    (uint64_t)flushed >= j->side.loss_gen && j->side.loss.count) {
			/* recorded by a journal.overflow whose commit journal.state did not see */
			j->side.loss = (struct journal_loss){0};
			j->side.loss_gen = (uint64_t)flushed + 1;
		}
		if (j->s.overflow_count) {
			/* a count of an older version, kept in meta: it joins journal.state */
			journal_loss_add(&j->side.loss, "unknown", LOSS_QUOTA, j->s.overflow_count,
			                 j->s.overflow_first_us);
			j->s.overflow_count = 0;
			j->s.overflow_first_us = j->s.overflow_last_us = 0;
			j->dirty |= DIRTY_OVERFLOW;
		}
	}
	/* journal.state follows this file from now on */
	memcpy(j->side.chain, j->chain, sizeof(j->chain));
	j->side.head_seq = j->s.head_seq;
	hex_encode(j->s.head_hash, HASH_LEN, j->side.head_hash);
	if (j->side.reserved < j->s.head_seq)
		j->side.reserved = j->s.head_seq;
	if (j->side.acked_seq < acked)
		j->side.acked_seq = acked;
	if ((r = side_sync(j, true)) < 0)
		goto fail;
	if (j->dirty & DIRTY_OVERFLOW) {
		bool own;

		if ((r = txn_enter(j, &own)) < 0 || (r = txn_commit(j)) < 0)
			goto fail;
	}
	/* an unreadable file names no chain: journal.state knows which it was */
	if (recovered && !vr.chain[0] && old_side.chain[0])
		memcpy(vr.chain, old_side.chain, sizeof(vr.chain));
	if (recovered && (r = append_tamper(j, &vr, old_name, acked, &old_side)) < 0)
		goto fail;
	if (side_bad || side_lost) {
		cJSON *p = cJSON_CreateObject();

		if (p && cJSON_AddStringToObject(p, "what", "journal_state") &&
		    cJSON_AddStringToObject(p, "reason",
		                            side_bad ? "journal.state was unreadable and was reset"
		                                     : "journal.state was missing or empty beside a journal with "
		                                       "records; where the journal ended could not be checked")) {
			struct mamori_event ev = {.type = "tamper.detected",
			                          .severity = SEV_CRITICAL,
			                          .reqs = "LOG-1,OPS-5",
			                          .payload = p};

			(void)journal_append(j, &ev, NULL);
		}
		cJSON_Delete(p);
	}
	/* events counted before a crash or while the disk was full */
	if (j->side.loss.count && !j->degraded) {
		bool own;

		if (txn_enter(j, &own) == 0) {
			r = overflow_flush(j, 0);
			if (r == 0)
				(void)txn_commit(j);
			else
				txn_rollback(j, r);
		}
	}
	*ret = TAKE_PTR(j);
	return 0;
fail:
	writer_close_db(j);
	hasher_done(&j->h);
	if (j->lock_fd >= 0)
		close(j->lock_fd);
	journal_side_unmap(j->side_map);
	if (j->side_fd >= 0)
		close(j->side_fd);
	return r;
}

void journal_close(struct journal *j)
{
	if (!j)
		return;
	if (j->in_batch) {
		int r = journal_batch_commit(j);

		if (r < 0)
			log_error_errno(r, "journal: the open batch could not be committed at close");
	}
	writer_close_db(j);
	hasher_done(&j->h);
	buf_free(&j->pbuf);
	buf_free(&j->rbuf);
	buf_free(&j->mbuf);
	journal_side_unmap(j->side_map);
	if (j->side_fd >= 0)
		close(j->side_fd);
	if (j->lock_fd >= 0)
		close(j->lock_fd);
	free(j);
}

/* ---- readers ------------------------------------------------------------- */

static int reader_open(const char *dir, sqlite3 **ret)
{
	char path[PATH_MAX];
	int r;

	if (!dir)
		return -EINVAL;
	r = path_in(path, sizeof(path), dir, JOURNAL_FILE);
	if (r < 0)
		return r;
	if (access(path, F_OK) < 0)
		return -errno;
	return db_open(path, false, ret);
}

int journal_verify(const char *dir, uint64_t *ret_first_bad, char *err, size_t errsz)
{
	_cleanup_db_ sqlite3 *db = NULL;
	struct hasher h = {0};
	struct journal_side side;
	bool have_side;
	struct vresult vr;
	int r;

	r = reader_open(dir, &db);
	if (r < 0) {
		if (err)
			(void)xsnprintf(err, errsz, "cannot open the journal in %s", dir ? dir : "(null)");
		return r;
	}
	/* journal.state before the snapshot: a writer updates it after each
	 * commit, so what it says then is in the snapshot taken after */
	have_side = journal_side_read(dir, &side) == 0;
	r = hasher_init(&h);
	if (r == 0)
		r = db_exec(db, "BEGIN"); /* one snapshot for the whole walk */
	if (r == 0) {
		r = chain_verify(db, &h, &vr);
		/* the end of the file is checked against journal.state (meta.head
		 * only moves when records are deleted) */
		if (r == 0 && !vr.first_bad && have_side)
			side_check(db, vr.chain, &vr.s, &side, side.acked_seq, &vr);
		(void)db_exec(db, "COMMIT");
	}
	hasher_done(&h);
	if (err && errsz)
		(void)xsnprintf(err, errsz, "%s", r == 0 && !vr.first_bad ? "" : vr.reason);
	if (r < 0)
		return r;
	if (ret_first_bad)
		*ret_first_bad = vr.first_bad;
	return 0;
}

int journal_info(const char *dir, struct journal_info *ret)
{
	_cleanup_db_ sqlite3 *db = NULL;
	struct journal_info info = {0};
	struct jstate s;
	char path[PATH_MAX];
	struct stat st;
	int64_t n = 0;
	int r;

	r = reader_open(dir, &db);
	if (r < 0)
		return r;
	if ((r = db_exec(db, "BEGIN")) < 0)
		return r;
	r = state_load(db, info.chain, &s);
	if (r == 0)
		r = db_int(db, "SELECT count(*) FROM events", &n);
	if (r == 0) {
		/* the head: the last record, when there is one after meta.head */
		_cleanup_stmt_ sqlite3_stmt *q = NULL;

		r = db_prepare(db, "SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1", &q);
		if (r == 0 && sqlite3_step(q) == SQLITE_ROW && (uint64_t)sqlite3_column_int64(q, 0) > s.head_seq &&
		    sqlite3_column_bytes(q, 1) == HASH_LEN) {
			s.head_seq = (uint64_t)sqlite3_column_int64(q, 0);
			memcpy(s.head_hash, sqlite3_column_blob(q, 1), HASH_LEN);
		}
	}
	(void)db_exec(db, "COMMIT");
	if (r < 0)
		return r;
	info.anchor_seq = s.anchor_seq;
	info.head_seq = s.head_seq;
	info.acked_seq = s.acked_seq;
	info.overflow_count = s.overflow_count;
	{
		struct journal_side side;

		/* counted, not yet written as journal.overflow */
		if (journal_side_read(dir, &side) == 0)
			info.overflow_count += side.loss.count;
	}
	info.records = (uint64_t)n;
	hex_encode(s.head_hash, HASH_LEN, info.head_hash);
	for (int i = 0; i < 2; i++)
		if (xsnprintf(path, sizeof(path), "%s/%s%s", dir, JOURNAL_FILE, i ? "-wal" : "") == 0 &&
		    stat(path, &st) == 0)
			info.file_bytes += (uint64_t)st.st_size;
	*ret = info;
	return 0;
}

struct journal_iter {
	sqlite3 *db;
	sqlite3_stmt *st;
	uint64_t after;
	unsigned in_chunk;
	bool in_txn, done;
	char *type, *canon;
};

int journal_iter_open(const char *dir, uint64_t after_seq, struct journal_iter **ret)
{
	_cleanup_db_ sqlite3 *db = NULL;
	struct journal_iter *it;
	sqlite3_stmt *st = NULL;
	int r;

	r = reader_open(dir, &db);
	if (r < 0)
		return r;
	r = db_prepare(db, "SELECT seq, time_us, type, canon, hash FROM events WHERE seq > ? ORDER BY seq LIMIT 256",
	               &st);
	if (r < 0)
		return r;
	it = calloc(1, sizeof(*it));
	if (!it) {
		sqlite3_finalize(st);
		return -ENOMEM;
	}
	it->db = TAKE_PTR(db);
	it->st = st;
	it->after = after_seq;
	*ret = it;
	return 0;
}

int journal_iter_next(struct journal_iter *it, struct journal_record *ret)
{
	int rc;

	if (!it || !ret)
		return -EINVAL;
	for (;;) {
		if (it->done)
			return 0;
		if (!it->in_txn) {
			/* short read transactions: a slow export must not hold up checkpoints */
			sqlite3_reset(it->st);
			sqlite3_bind_int64(it->st, 1, (sqlite3_int64)it->after);
			it->in_chunk = 0;
			it->in_txn = true;
		}
		rc = sqlite3_step(it->st);
		if (rc == SQLITE_ROW)
			break;
		it->in_txn = false;
		if (rc != SQLITE_DONE)
			return sql_fail(it->db, rc, "read");
		if (it->in_chunk < ITER_CHUNK)
			it->done = true;
	}
	{
		const char *type = (const char *)sqlite3_column_text(it->st, 2);
		const void *canon = sqlite3_column_blob(it->st, 3);
		int clen = sqlite3_column_bytes(it->st, 3);
		char *t, *c;

		if (!type || !canon || clen <= 0 || clen > JOURNAL_RECORD_MAX ||
		    sqlite3_column_bytes(it->st, 4) != HASH_LEN)
			return -EBADMSG;
		t = strdup(type);
		c = malloc((size_t)clen + 1);
		if (!t || !c) {
			free(t);
			free(c);
			return -ENOMEM;
		}
		memcpy(c, canon, (size_t)clen);
		c[clen] = 0;
		free(it->type);
		free(it->canon);
		it->type = t;
		it->canon = c;
		it->in_chunk++;
		it->after = (uint64_t)sqlite3_column_int64(it->st, 0);
		*ret = (struct journal_record){
		        .seq = it->after,
		        .time_us = sqlite3_column_int64(it->st, 1),
		        .type = t,
		        .canon = c,
		        .canon_len = (size_t)clen,
		};
		hex_encode(sqlite3_column_blob(it->st, 4), HASH_LEN, ret->hash_hex);
	}
	return 1;
}

void journal_iter_free(struct journal_iter *it)
{
	if (!it)
		return;
	sqlite3_finalize(it->st);
	sqlite3_close(it->db);
	free(it->type);
	free(it->canon);
	free(it);
}
