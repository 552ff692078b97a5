/* server-api/archive.c — moves a terminal's oldest event records to
 * compressed, hash-recorded archive files and reads them back (mamori-server:
 * `mamori-server archive`, the server's retention job, and store_verify.c;
 * LOG-1, issue 18.5). The format and the crash rules are in archive.h. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <zlib.h>

#include "alloc-util.h"
#include "archive.h"
#include "crypto.h"
#include "fileio.h"
#include "json-util.h"
#include "log.h"
#include "strutil.h"

#define ARCHIVE_FORMAT  "mamori-events-archive"
#define ARCHIVE_VERSION 1
/* a file stops taking records past this many bytes of JSON lines (a record
 * is far smaller than the room left up to ARCHIVE_PLAIN_MAX) */
#define ARCHIVE_BODY_SOFT (ARCHIVE_PLAIN_MAX / 2)

int archive_parse_days(const char *s, int64_t *ret_days)
{
	int64_t v;

	if (!s)
		return -EINVAL;
	if (strcmp(s, "forever") == 0)
		return *ret_days = 0, 0;
	/* digits only (strtoll alone would take " 10" and "+10") */
	if (!(*s >= '1' && *s <= '9') || parse_int64(s, 1, ARCHIVE_DAYS_MAX, &v) < 0)
		return -EINVAL;
	*ret_days = v;
	return 0;
}

/* ---- writing -------------------------------------------------------------- */

struct batch {
	FILE *body; /* JSON lines of the records */
	char *buf;
	size_t len;
	int64_t before_us;
	size_t max_bytes;
	uint64_t n, first_seq, last_seq;
	int64_t first_received_us, last_received_us;
	char last_hash[STORE_HASH_HEX];
	bool young; /* stopped at a record not old enough: nothing more to move */
	bool big;   /* stopped at the size bound: the next file takes the rest */
};

static int batch_cb(const struct store_event_row *e, void *userdata)
{
	struct batch *b = userdata;
	_cleanup_json_ cJSON *o = NULL;
	_cleanup_free_ char *canon = NULL, *line = NULL;

	if (e->received_us >= b->before_us) {
		b->young = true;
		return -ECANCELED;
	}
	if ((size_t)ftello(b->body) > b->max_bytes) {
		b->big = true;
		return -ECANCELED;
	}
	if (!e->hash || strlen(e->hash) != 64 || !e->type || memchr(e->canon, 0, e->canon_len))
		return -EPROTO; /* a stored record the file could not hold exactly */
	canon = strndup(e->canon, e->canon_len);
	o = cJSON_CreateObject();
	if (!canon || !o || !cJSON_AddNumberToObject(o, "seq", (double)e->seq) ||
	    !cJSON_AddNumberToObject(o, "time_us", (double)e->time_us) ||
	    !cJSON_AddNumberToObject(o, "received_us", (double)e->received_us) ||
	    !cJSON_AddStringToObject(o, "type", e->type) || !cJSON_AddStringToObject(o, "hash", e->hash) ||
	    !cJSON_AddStringToObject(o, "canon", canon) || !(line = cJSON_PrintUnformatted(o)))
		return -ENOMEM;
	if (fputs(line, b->body) < 0 || fputc('\n', b->body) < 0)
		return -ENOMEM;
	if (b->n++ == 0) {
		b->first_seq = e->seq;
		b->first_received_us = e->received_us;
	}
	b->last_seq = e->seq;
	b->last_received_us = e->received_us;
	(void)strscpy(b->last_hash, sizeof(b->last_hash), e->hash);
	return 0;
}

static int last_archive_cb(const struct store_archive *a, void *userdata)
{
	*(struct store_archive *)userdata = *a;
	return 0;
}

/* gzip of head ‖ body in *ret (malloc'd); deterministic: no time or name in
 * the gzip header. */
static int gzip2(const char *head, size_t hn, const char *body, size_t bn, char **ret, size_t *ret_len)
{
	z_stream z = {0};
	size_t cap, len;
	_cleanup_free_ char *out = NULL;
	int r;

	if (hn + bn > ARCHIVE_PLAIN_MAX)
		return -EFBIG;
	if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	cap = deflateBound(&z, hn + bn) + 64;
	out = malloc(cap);
	if (!out) {
		deflateEnd(&z);
		return -ENOMEM;
	}
	z.next_out = (Bytef *)out;
	z.avail_out = (uInt)cap;
	z.next_in = (Bytef *)head;
	z.avail_in = (uInt)hn;
	r = deflate(&z, Z_NO_FLUSH);
	if (r == Z_OK) {
		z.next_in = (Bytef *)body;
		z.avail_in = (uInt)bn;
		r = deflate(&z, Z_FINISH);
	}
	len = z.total_out;
	deflateEnd(&z);
	if (r != Z_STREAM_END)
		return -EIO;
	*ret = TAKE_PTR(out);
	*ret_len = len;
	return 0;
}

static int header_line(const char *terminal_id, const struct batch *b, const char *prev_hash, char **ret)
{
	_cleanup_json_ cJSON *h = cJSON_CreateObject();
	char *s;

	if (!h || !cJSON_AddStringToObject(h, "format", ARCHIVE_FORMAT) ||
	    !cJSON_AddNumberToObject(h, "version", ARCHIVE_VERSION) ||
	    !cJSON_AddStringToObject(h, "terminal_id", terminal_id) ||
	    !cJSON_AddNumberToObject(h, "first_seq", (double)b->first_seq) ||
	    !cJSON_AddNumberToObject(h, "last_seq", (double)b->last_seq) ||
	    !cJSON_AddNumberToObject(h, "records", (double)b->n) ||
	    !cJSON_AddStringToObject(h, "prev_hash", prev_hash) ||
	    !cJSON_AddStringToObject(h, "last_hash", b->last_hash) || !(s = cJSON_PrintUnformatted(h)))
		return -ENOMEM;
	*ret = s;
	return 0;
}

/* One file of terminal_id's oldest records: 1 written and recorded, 0
 * nothing (left) to archive, negative error; *ret_more: it was full (more
 * records may be old enough). */
static int archive_one(struct store *s, const struct archive_options *o, const char *terminal_id,
                       struct archive_stats *st, bool *ret_more)
{
	struct batch b = {.before_us = o->before_us,
	                  .max_bytes =
	                          o->max_bytes && o->max_bytes < ARCHIVE_BODY_SOFT ? o->max_bytes : ARCHIVE_BODY_SOFT};
	struct store_archive prev = {0}, a = {0};
	_cleanup_free_ char *head = NULL, *gz = NULL;
	char path[PATH_MAX], tid_hash[CRYPTO_SHA256_HEX];
	size_t gzlen = 0;
	int r;

	*ret_more = false;
	if ((r = STORE_CALL(s, archive_list, terminal_id, last_archive_cb, &prev)) < 0)
		return r;
	b.body = open_memstream(&b.buf, &b.len);
	if (!b.body)
		return -ENOMEM;
	r = STORE_CALL(s, events_oldest, terminal_id, o->max_records ? o->max_records : ARCHIVE_RECORDS_MAX, batch_cb,
	               &b);
	if (fclose(b.body) != 0 && r >= 0)
		r = -ENOMEM;
	if (r == -ECANCELED)
		r = 0;
	if (r < 0 || b.n == 0)
		goto out;
	*ret_more = b.big || (!b.young && b.n == (o->max_records ? o->max_records : ARCHIVE_RECORDS_MAX));
	a = (struct store_archive){
	        .first_seq = b.first_seq,
	        .last_seq = b.last_seq,
	        .n_records = b.n,
	        .first_received_us = b.first_received_us,
	        .last_received_us = b.last_received_us,
	        .created_us = o->now_us,
	};
	(void)strscpy(a.terminal_id, sizeof(a.terminal_id), terminal_id);
	(void)strscpy(a.prev_hash, sizeof(a.prev_hash), prev.last_hash);
	(void)strscpy(a.last_hash, sizeof(a.last_hash), b.last_hash);
	if ((r = header_line(terminal_id, &b, a.prev_hash, &head)) < 0)
		goto out;
	{
		size_t hn = strlen(head);
		_cleanup_free_ char *hl = malloc(hn + 2);

		if (!hl) {
			r = -ENOMEM;
			goto out;
		}
		memcpy(hl, head, hn);
		hl[hn] = '\n', hl[hn + 1] = 0;
		if ((r = gzip2(hl, hn + 1, b.buf, b.len, &gz, &gzlen)) < 0)
			goto out;
	}
	if ((r = crypto_sha256_hex(terminal_id, strlen(terminal_id), tid_hash)) < 0 ||
	    (r = crypto_sha256_hex(gz, gzlen, a.sha256)) < 0)
		goto out;
	a.bytes = gzlen;
	if (xsnprintf(a.file, sizeof(a.file), "events-%.16s-%020" PRIu64 "-%020" PRIu64 ".jsonl.gz", tid_hash,
	              a.first_seq, a.last_seq) < 0 ||
	    xsnprintf(path, sizeof(path), "%s/%s", o->dir, a.file) < 0) {
		r = -ENAMETOOLONG;
		goto out;
	}
	/* 1: the file, durable (temp, fsync, rename, fsync of the folder) */
	if ((r = write_file_atomic(path, gz, gzlen, 0400)) < 0) {
		log_error_errno(r, "保存ファイルを書けません / cannot write archive %s: %m", path);
		goto out;
	}
	if (o->after_write && (r = o->after_write(path, o->userdata)) < 0)
		goto out;
	/* 2: recorded, and the records deleted, in one transaction */
	r = STORE_CALL(s, archive_add, &a);
	if (r == -ESTALE || r == -EEXIST) {
		/* another archiver (or an upload) changed these records meanwhile:
		 * the next run takes them; the file is left (archive.h: orphan) */
		log_warning("archive %s: the store changed meanwhile; left for the next run", a.file);
		st->skipped++;
		*ret_more = false;
		r = 0;
		goto out;
	}
	if (r < 0)
		goto out;
	st->files++;
	st->records += b.n;
	st->bytes += gzlen;
	r = 1;
out:
	free(b.buf);
	return r;
}

struct ids {
	char (*id)[STORE_ID_MAX];
	size_t n, cap;
};

static int ids_cb(const struct store_device *d, const char *compliance_json, void *userdata)
{
	struct ids *l = userdata;

	(void)compliance_json;
	if (d->events == 0)
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		void *p = realloc(l->id, cap * sizeof(*l->id));

		if (!p)
			return -ENOMEM;
		l->id = p, l->cap = cap;
	}
	(void)strscpy(l->id[l->n++], STORE_ID_MAX, d->terminal_id);
	return 0;
}

int archive_run(struct store *s, const struct archive_options *o, struct archive_stats *ret)
{
	struct archive_stats st = {0};
	struct ids l = {0};
	int r;

	if (!o->dir || !o->dir[0])
		return -EINVAL;
	if ((r = mkdir_p(o->dir, 0700)) < 0)
		return r;
	if ((r = STORE_CALL(s, device_list, NULL, ids_cb, &l)) < 0)
		goto out;
	for (size_t i = 0; i < l.n; i++) {
		bool more = true;

		while (more) {
			if (o->max_files && st.files >= o->max_files)
				goto out;
			if ((r = archive_one(s, o, l.id[i], &st, &more)) < 0)
				goto out;
		}
	}
	r = 0;
out:
	free(l.id);
	if (r >= 0)
		*ret = st;
	return r;
}

struct summary {
	uint64_t records, files, first_seq, last_seq;
	int64_t through_us;
};

static int summary_cb(const struct store_archive *a, void *userdata)
{
	struct summary *m = userdata;

	if (m->files++ == 0)
		m->first_seq = a->first_seq;
	m->records += a->n_records;
	m->last_seq = a->last_seq;
	m->through_us = a->last_received_us;
	return 0;
}

int archive_summary(struct store *s, const char *terminal_id, cJSON *obj)
{
	struct summary m = {0};
	char t[32];
	time_t secs;
	struct tm tm;
	cJSON *o;
	int r = STORE_CALL(s, archive_list, terminal_id, summary_cb, &m);

	if (r < 0 || m.files == 0)
		return r;
	secs = (time_t)(m.through_us / 1000000);
	if (!gmtime_r(&secs, &tm) || strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return -EINVAL;
	if (!(o = cJSON_AddObjectToObject(obj, "archived")) ||
	    !cJSON_AddNumberToObject(o, "records", (double)m.records) ||
	    !cJSON_AddNumberToObject(o, "first_seq", (double)m.first_seq) ||
	    !cJSON_AddNumberToObject(o, "last_seq", (double)m.last_seq) ||
	    !cJSON_AddNumberToObject(o, "files", (double)m.files) || !cJSON_AddStringToObject(o, "through", t))
		return -ENOMEM;
	return 0;
}

/* ---- reading -------------------------------------------------------------- */

static int gunzip(const char *in, size_t n, char **ret, size_t *ret_len)
{
	z_stream z = {0};
	size_t cap = n * 4 + 4096, len = 0;
	_cleanup_free_ char *out = NULL;
	int r;

	if (inflateInit2(&z, 15 + 16) != Z_OK)
		return -ENOMEM;
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)n;
	do {
		if (len + 1 >= cap) {
			char *p;

			if (cap >= ARCHIVE_PLAIN_MAX + 1) {
				r = Z_DATA_ERROR; /* larger than any file this writes */
				break;
			}
			cap = cap * 2 > ARCHIVE_PLAIN_MAX + 1 ? ARCHIVE_PLAIN_MAX + 1 : cap * 2;
			p = realloc(out, cap);
			if (!p) {
				inflateEnd(&z);
				return -ENOMEM;
			}
			out = p;
		} else if (!out && !(out = malloc(cap))) {
			inflateEnd(&z);
			return -ENOMEM;
		}
		z.next_out = (Bytef *)out + len;
		z.avail_out = (uInt)(cap - 1 - len);
		r = inflate(&z, Z_NO_FLUSH);
		len = z.total_out;
	} while (r == Z_OK);
	inflateEnd(&z);
	/* one gzip member, nothing after it */
	if (r != Z_STREAM_END || z.avail_in != 0)
		return -EPROTO;
	out[len] = 0;
	*ret = TAKE_PTR(out);
	*ret_len = len;
	return 0;
}

/* An integer field of o: a number that is a whole value in [min, 2^53]. */
static int int_field(const cJSON *o, const char *key, int64_t min, int64_t *ret)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsNumber(v) || v->valuedouble < (double)min || v->valuedouble > 9007199254740992.0 ||
	    v->valuedouble != (double)(int64_t)v->valuedouble)
		return -EPROTO;
	*ret = (int64_t)v->valuedouble;
	return 0;
}

static const char *str_field(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool is_hash(const char *h, bool empty_ok)
{
	if (!h)
		return false;
	if (!*h)
		return empty_ok;
	if (strlen(h) != 64)
		return false;
	for (const char *p = h; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

static int check_header(const cJSON *h, const struct store_archive *a)
{
	static const char *const keys[] = {"format",   "version", "terminal_id", "first_seq",
	                                   "last_seq", "records", "prev_hash",   "last_hash"};
	const char *f = str_field(h, "format"), *tid = str_field(h, "terminal_id"), *ph = str_field(h, "prev_hash"),
	           *lh = str_field(h, "last_hash");
	int64_t ver, first, last, n;

	if (!cJSON_IsObject(h) || cJSON_GetArraySize(h) != (int)ELEMENTSOF(keys))
		return -EPROTO;
	for (size_t i = 0; i < ELEMENTSOF(keys); i++)
		if (!cJSON_GetObjectItemCaseSensitive(h, keys[i]))
			return -EPROTO; /* an unknown key in place of a known one */
	if (!f || strcmp(f, ARCHIVE_FORMAT) != 0 || int_field(h, "version", 1, &ver) < 0 || ver != ARCHIVE_VERSION ||
	    !tid || int_field(h, "first_seq", 1, &first) < 0 || int_field(h, "last_seq", 1, &last) < 0 ||
	    int_field(h, "records", 1, &n) < 0 || !is_hash(ph, true) || !is_hash(lh, false))
		return -EPROTO;
	if (strcmp(tid, a->terminal_id) != 0 || (uint64_t)first != a->first_seq || (uint64_t)last != a->last_seq ||
	    (uint64_t)n != a->n_records || strcmp(ph, a->prev_hash) != 0 || strcmp(lh, a->last_hash) != 0)
		return -EPROTO;
	return 0;
}

int archive_parse(const char *data, size_t len, const struct store_archive *a, store_event_cb cb, void *userdata)
{
	static const char *const keys[] = {"seq", "time_us", "received_us", "type", "hash", "canon"};
	const char *p = data, *end = data + len;
	uint64_t n = 0, last = 0;
	char last_hash[STORE_HASH_HEX] = "";
	bool header = true;
	int r;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		_cleanup_json_ cJSON *o = NULL;

		if (!nl)
			return -EPROTO; /* every line ends with a newline */
		o = cJSON_ParseWithLength(p, (size_t)(nl - p));
		p = nl + 1;
		if (!o)
			return -EPROTO;
		if (header) {
			if ((r = check_header(o, a)) < 0)
				return r;
			header = false;
			continue;
		}
		int64_t seq, t, rcv;
		const char *type = str_field(o, "type"), *hash = str_field(o, "hash"), *canon = str_field(o, "canon");

		if (!cJSON_IsObject(o) || cJSON_GetArraySize(o) != (int)ELEMENTSOF(keys) ||
		    int_field(o, "seq", 1, &seq) < 0 || int_field(o, "time_us", INT64_MIN / 2, &t) < 0 ||
		    int_field(o, "received_us", 0, &rcv) < 0 || !type || !is_hash(hash, false) || !canon)
			return -EPROTO;
		if ((n == 0 && (uint64_t)seq != a->first_seq) || (n > 0 && (uint64_t)seq <= last) ||
		    (uint64_t)seq > a->last_seq || ++n > a->n_records)
			return -EPROTO;
		last = (uint64_t)seq;
		(void)strscpy(last_hash, sizeof(last_hash), hash);
		struct store_event_row e = {
		        .terminal_id = a->terminal_id,
		        .seq = (uint64_t)seq,
		        .hash = hash,
		        .received_us = rcv,
		        .canon = canon,
		        .canon_len = strlen(canon),
		        .time_us = t,
		        .type = type,
		};
		if ((r = cb(&e, userdata)) < 0)
			return r;
	}
	if (header || n != a->n_records || last != a->last_seq || strcmp(last_hash, a->last_hash) != 0)
		return -EPROTO;
	return 0;
}

int archive_decode(const void *gz, size_t n, const struct store_archive *a, store_event_cb cb, void *userdata)
{
	_cleanup_free_ char *plain = NULL;
	size_t plen = 0;
	int r = gunzip(gz, n, &plain, &plen);

	return r < 0 ? r : archive_parse(plain, plen, a, cb, userdata);
}

int archive_read(const char *dir, const struct store_archive *a, store_event_cb cb, void *userdata)
{
	_cleanup_free_ char *buf = NULL;
	char path[PATH_MAX], hex[CRYPTO_SHA256_HEX];
	size_t len = 0;
	int r;

	if (!dir || !*a->file || strchr(a->file, '/') || xsnprintf(path, sizeof(path), "%s/%s", dir, a->file) < 0)
		return -EINVAL;
	r = read_file_capped(path, ARCHIVE_FILE_MAX, &buf, &len);
	if (r == -ENOENT)
		return r;
	if (r < 0)
		return r == -EFBIG || r == -E2BIG ? -EBADMSG : r;
	if ((r = crypto_sha256_hex(buf, len, hex)) < 0)
		return r;
	if (len != a->bytes || strcmp(hex, a->sha256) != 0)
		return -EBADMSG;
	return archive_decode(buf, len, a, cb, userdata);
}
