/* protocol/journal_canon.h — the canonical bytes of a journal record and the
 * exact-bytes encoding of untrusted strings (mamori-worker, mamorictl, and mamori-server's
 * verifier, which must produce the same bytes; mamorid's usb module encodes
 * descriptor strings with journal_canon_bytes_value).
 *
 * Pure code: no I/O, no logging, no library other than cJSON. The format is
 * specified in docs/EVENTS.md ("Canonical bytes"); this file is the reference
 * implementation. A record's hash is SHA-256(previous hash ‖ these bytes). */
#ifndef MAMORI_JOURNAL_CANON_H
#define MAMORI_JOURNAL_CANON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "event.h"

#define JOURNAL_RECORD_MAX  (1024 * 1024) /* canonical bytes of one record */
#define JOURNAL_DEPTH_MAX   16            /* nesting of payload objects/arrays */
#define JOURNAL_TYPE_MAX    64
#define JOURNAL_REQS_MAX    16 /* requirement IDs per event */
#define JOURNAL_REQ_LEN_MAX 16
#define JOURNAL_INT_MAX     9007199254740991LL /* 2^53-1: exact in every JSON reader */
#define JOURNAL_BYTES_KEY   "$bytes"           /* {"$bytes": base64} = a string that is not UTF-8 */

/* Records are built in common/buf.h buffers, reused across records to keep
 * appends allocation-free (buf_free() releases one). Append n bytes (kept
 * NUL-terminated): -E2BIG beyond JOURNAL_RECORD_MAX, -ENOMEM. */
int journal_buf_append(struct buf *b, const void *p, size_t n);

/* What goes into one record besides the payload. */
struct journal_canon_head {
	const char *chain; /* 32 hex characters */
	uint64_t seq;
	int64_t time_us; /* CLOCK_REALTIME, microseconds since the epoch (UTC) */
	bool synced;     /* kernel clock synchronised at time_us (LOG-2) */
	const char *type;
	enum event_severity severity;
	const char *reqs; /* comma-separated IDs, may be NULL */
};

/* Check an event's type, severity and requirement IDs. 0 or -EINVAL. */
int journal_canon_check_head(const char *type, enum event_severity sev, const char *reqs);

/* Serialise a payload (an object, or NULL for {}) canonically into *out
 * (replacing its contents). Strings that are not valid UTF-8 become
 * {"$bytes": base64}. -EINVAL: not an object, a non-integer or too large
 * number, a key that is not UTF-8 or starts with '$', a duplicate key, nesting
 * deeper than JOURNAL_DEPTH_MAX. -E2BIG: larger than JOURNAL_RECORD_MAX.
 * -ENOMEM. On error *out holds garbage. */
int journal_canon_payload(const cJSON *payload, struct buf *out);

/* The canonical record: the head fields and an already canonical payload
 * (from journal_canon_payload) into *out. Same errors. */
int journal_canon_record(const struct journal_canon_head *h, const char *payload, size_t payload_len, struct buf *out);

/* For emitters: a JSON value holding n untrusted bytes exactly — a string if
 * they are valid UTF-8 without NUL, else {"$bytes": base64}. Caller owns it;
 * NULL on allocation failure. */
cJSON *journal_canon_bytes_value(const void *p, size_t n);

/* The exact bytes a payload value holds (a string or {"$bytes": …}), NUL-
 * terminated for convenience (the bytes may contain NUL: use *ret_len).
 * -EINVAL if v is neither; caller frees *ret. */
int journal_canon_value_bytes(const cJSON *v, char **ret, size_t *ret_len);

/* Base64 (RFC 4648, with padding). decode: -EINVAL on bad input. */
int journal_base64_encode(const void *p, size_t n, struct buf *out);
int journal_base64_decode(const char *s, size_t n, char **ret, size_t *ret_len);

#endif
