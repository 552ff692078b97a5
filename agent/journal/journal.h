/* agent/journal/journal.h — the durable, hash-chained, bounded event journal
 * (LOG-1, LOG-2, OPS-5, CARRY-1). The writer runs in mamori-worker; mamorictl and
 * the uploader read it through journal_iter_* and journal_verify.
 *
 * Storage: SQLite in WAL mode, synchronous=FULL, one file <dir>/journal.db.
 * Each record holds hash = SHA-256(previous hash ‖ canonical bytes)
 * (journal_canon.h, docs/EVENTS.md). This is the only file that calls SQLite
 * or OpenSSL for the journal; their error codes become negative errno here.
 *
 * Durability contract:
 *  - Outside a batch, journal_append() returns after the record is fsynced.
 *  - Between journal_batch_begin() and journal_batch_commit(), appends return
 *    their seq at once and become durable together when the commit returns 0
 *    (one fsync per batch). The daemon opens a batch at the start of one loop
 *    iteration and commits it before it acts on anything it journalled. If the
 *    commit fails, none of the batch's records exist (they are counted as lost).
 *  - Unacknowledged records are never deleted. An event that cannot be
 *    stored — quota full of unacknowledged records (-ENOSPC), file system
 *    full (-ENOSPC), a failed commit (its whole batch) — is counted per type
 *    in journal.state (journal_side.h), durably, before the call returns; one
 *    journal.overflow record with the counts is written as soon as room
 *    returns. On a full file system the reserve (journal.reserve) is released
 *    so that this record can be written at once; until the reserve can be
 *    taken again, events are counted, not written.
 *
 * A journal is used from one thread. Readers (other processes) may run while
 * the writer works. */
#ifndef MAMORI_JOURNAL_H
#define MAMORI_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "event.h"

#define JOURNAL_FILE         "journal.db"
#define JOURNAL_HASH_HEX_LEN 64

struct journal;

struct journal_options {
	const char *dir;      /* state directory, already resolved under the root prefix */
	uint64_t quota_bytes; /* bound on the database file; 0 = unbounded */
	uint64_t acked_seq;   /* acknowledged by the server as known elsewhere (upload.state); a
	                       * journal ending below it went backwards and is treated as damaged */
	bool quiet_if_busy;   /* -EBUSY without an error log (mamorictl while mamori-worker writes) */
};

/* Open (creating if needed) the journal in o->dir. The existing file is
 * checked (SQLite integrity, the whole hash chain, and against journal.state
 * and o->acked_seq: same chain, not fewer records than were committed or
 * acknowledged, the committed head unchanged). A file that is not a sound
 * journal is renamed to journal.db.corrupt-<UTC time> (kept as evidence); a
 * missing file of a terminal that had one is tampering too. The new chain
 * starts above every seq ever reserved, committed or acknowledged, with a
 * tamper.detected record naming the old chain's head. Caller closes *ret. */
int journal_open(const struct journal_options *o, struct journal **ret);

/* Commits an open batch (its error is logged), closes. Accepts NULL. */
void journal_close(struct journal *j);

/* Append one event; *ret_seq (may be NULL) gets its sequence number. Durable
 * on return unless inside a batch (see above). -EINVAL / -E2BIG: the event is
 * malformed or too large — a journal.rejected record saying so is stored
 * instead. -ENOSPC: quota full of unacknowledged records; counted. */
int journal_append(struct journal *j, const struct mamori_event *ev, uint64_t *ret_seq);

/* -EBUSY if a batch is already open. */
int journal_batch_begin(struct journal *j);
/* One fsync for every append since begin. -ENOENT if no batch is open. */
int journal_batch_commit(struct journal *j);

/* Everything up to seq has reached the server. -ERANGE if seq > head;
 * a seq at or below the current acknowledgement changes nothing. */
int journal_ack(struct journal *j, uint64_t seq);

/* Delete acknowledged records older than retention_seconds (only a prefix
 * of the chain: the hash of the last deleted record becomes the anchor).
 * Age is the journal's own running time, added up from now_mono_s, a
 * monotonic reading (CLOCK_BOOTTIME seconds) — never the wall clock, so a
 * clock jump cannot delete evidence (issue 13). Each call marks the head
 * with the current age; records up to a mark older than the retention go.
 * Returns how many were deleted, or negative errno. */
int journal_prune(struct journal *j, int64_t retention_seconds, int64_t now_mono_s);

/* The last record: seq (0 when empty) and hash (hex). */
int journal_head(struct journal *j, uint64_t *ret_seq, char ret_hash_hex[JOURNAL_HASH_HEX_LEN + 1]);

/* Read-only check of the journal in dir, safe while mamorid writes it.
 * Returns 0 when the check ran: *ret_first_bad = 0 if intact, otherwise the
 * first sequence number that is changed, missing or out of place (err says
 * what). -EBADMSG: the file is not a readable journal at all (err says why).
 * Other negative errno: could not check (missing file, I/O). */
int journal_verify(const char *dir, uint64_t *ret_first_bad, char *err, size_t errsz);

/* Facts about a journal for `mamorictl journal status` and the uploader. */
struct journal_info {
	char chain[33];
	uint64_t anchor_seq, head_seq, acked_seq, overflow_count;
	uint64_t records;
	uint64_t file_bytes;
	char head_hash[JOURNAL_HASH_HEX_LEN + 1];
};
int journal_info(const char *dir, struct journal_info *ret);

/* Records with seq > after_seq in order, read-only (another process may be
 * appending). */
struct journal_iter;
struct journal_record {
	uint64_t seq;
	int64_t time_us;
	const char *type;  /* borrowed until the next call */
	const char *canon; /* canonical JSON bytes (NUL-terminated), borrowed */
	size_t canon_len;
	char hash_hex[JOURNAL_HASH_HEX_LEN + 1];
};
int journal_iter_open(const char *dir, uint64_t after_seq, struct journal_iter **ret);
/* 1 and *ret filled, 0 at the end, or negative errno. */
int journal_iter_next(struct journal_iter *it, struct journal_record *ret);
void journal_iter_free(struct journal_iter *it);

#endif
