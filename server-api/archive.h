/* server-api/archive.h — retention of event records (LOG-1, issue 18.5;
 * mamori-server: `mamori-server archive`, and the server's hourly job when
 * --retention-days is given). Records older than the retention period are
 * moved out of the store into compressed archive files, never deleted:
 *
 *  1. a terminal's oldest records (never its head, the record the next
 *     upload chains onto) received before the cut-off are written, in seq
 *     order, to DIR/NAME as gzip (zlib) of JSON lines, through a temporary
 *     file, fsync and rename (write_file_atomic);
 *  2. then, in one durable transaction, the file (name, SHA-256 of its
 *     bytes, first/last seq, the chain hash before its first record and of
 *     its last) is recorded in the store's archives table and its records
 *     are deleted from events (store_ops.archive_add).
 *
 * A crash between 1 and 2 leaves a file no row names (an orphan, ignored by
 * verification; its records are still in the store and are archived again,
 * to the same name when the range is the same) and nothing lost. A file's
 * bytes depend only on its records, so two archivers writing one range
 * write the same bytes.
 *
 * File format (after gunzip), one JSON object per line:
 *   {"format":"mamori-events-archive","version":1,"terminal_id":…,
 *    "first_seq":…,"last_seq":…,"records":…,"prev_hash":…,"last_hash":…}
 *   {"seq":…,"time_us":…,"received_us":…,"type":…,"hash":…,"canon":"…"}…
 * canon is the record's canonical bytes (the journal's JSON) as a JSON
 * string; hash chains as in the store (SHA-256(previous hash ‖ canon)). */
#ifndef MAMORI_ARCHIVE_H
#define MAMORI_ARCHIVE_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define ARCHIVE_RECORDS_MAX 5000                /* records in one file */
#define ARCHIVE_PLAIN_MAX   (64u * 1024 * 1024) /* a file's bytes after gunzip, at most */
#define ARCHIVE_FILE_MAX    (64u * 1024 * 1024) /* a file's bytes, at most */
#define ARCHIVE_DAYS_MAX    36500

struct archive_options {
	const char *dir;   /* the archive folder (made 0700 when missing) */
	int64_t before_us; /* records received by the server before this are archived */
	int64_t now_us;
	unsigned max_records; /* per file; 0: ARCHIVE_RECORDS_MAX */
	unsigned max_files;   /* files written by this run, at most; 0: no limit */
	size_t max_bytes;     /* a file takes no more record after this many bytes of lines; 0: 32 MiB */
	/* fault hook (tests): called with the file's path after it was written
	 * and before the store records it; a negative return stops the run
	 * there, returned */
	int (*after_write)(const char *path, void *userdata);
	void *userdata;
};

struct archive_stats {
	uint64_t files, records, bytes;
	uint64_t skipped; /* ranges another writer changed meanwhile (-ESTALE): left for the next run */
};

/* Archive every terminal's records received before o->before_us (store
 * order: terminals as device_list, records by seq). 0 with *ret filled, or
 * the first error (files and records archived before it stay archived). */
int archive_run(struct store *s, const struct archive_options *o, struct archive_stats *ret);

/* Read the archive file a names in dir: -ENOENT missing, -EBADMSG its
 * SHA-256 or size is not the recorded one, -EPROTO its contents are not
 * a's records (archive_parse); otherwise each record to cb, in order (id
 * 0), and 0. */
int archive_read(const char *dir, const struct store_archive *a, store_event_cb cb, void *userdata);

/* A file's bytes (gzip) gunzipped and parsed (archive_parse): -EPROTO when
 * they are not one gzip member of at most ARCHIVE_PLAIN_MAX bytes. */
int archive_decode(const void *gz, size_t n, const struct store_archive *a, store_event_cb cb, void *userdata);

/* Parse a gunzipped archive: 0 and each record to cb when the header and
 * every record are well formed, the seqs ascend from a->first_seq to
 * a->last_seq, there are a->n_records, and the header's chain hashes and
 * terminal are a's; -EPROTO otherwise (cb may have seen records before the
 * fault). The hashes are not recomputed here (store_verify.c walks them). */
int archive_parse(const char *data, size_t len, const struct store_archive *a, store_event_cb cb, void *userdata);

/* What the store moved of terminal_id's records to archive files, for the
 * readers of records (GET /admin/v1/events?terminal=, the investigation
 * search): adds to obj {"archived": {"records", "first_seq", "last_seq",
 * "files", "through"}} (through: the last archived record's reception
 * time, RFC 3339 UTC), or nothing when none was moved. */
struct cJSON;
int archive_summary(struct store *s, const char *terminal_id, struct cJSON *obj);

/* The retention period: "forever" (0) or a number of days 1..ARCHIVE_DAYS_MAX;
 * anything else -EINVAL. */
int archive_parse_days(const char *s, int64_t *ret_days);

#endif
