/* server-api/store_verify.h — checks a whole store against its own
 * evidence (mamori-server, after `mamori-server restore`; issue 18.5):
 * every terminal's stored records re-verified as a hash chain, and the
 * audit trail's chain. */
#ifndef MAMORI_STORE_VERIFY_H
#define MAMORI_STORE_VERIFY_H

#include <stdint.h>

#include "store.h"

struct store_verify {
	uint64_t terminals, events, audit_rows;
	uint64_t bad_terminals;       /* chains that do not verify */
	char first_bad[STORE_ID_MAX]; /* "" = none */
	uint64_t first_bad_seq;       /* its first record that does not verify */
	int64_t audit_bad_id;         /* 0 = the audit trail verifies */
	/* archive files (archive.h, LOG-1): how many the store records, how
	 * many records they hold, and those missing, changed or not the
	 * records the store says (each also makes its terminal's chain bad) */
	uint64_t archives, archived_events, bad_archives;
	char first_bad_archive[STORE_ARCHIVE_NAME]; /* "" = none */
	int first_bad_archive_error;                /* -ENOENT missing, -EBADMSG hash, -EPROTO contents */
};

/* 0 with *ret filled (check bad_terminals and audit_bad_id), or the store's
 * error. A chain verifies when each stored record's hash is SHA-256 of the
 * previous stored record's hash and its canonical bytes, or of 32 zero bytes
 * and them (a chain start: the first record, or a restart the server
 * recorded as a chain_restart finding at that seq); the
 * terminal's first stored record may be an unverified start (taken as
 * given, as chain.c took it); and the last is the terminal's head with as
 * many records as its counter.
 *
 * A terminal's archived records (archive_dir: the folder of the archive
 * files; NULL when there is none: a recorded archive is then missing) are
 * walked first, in seq order, file by file, each file's SHA-256 checked
 * against the store's before it is read; the first record left in the store
 * must chain onto the last archived one, and the counter counts both. */
int store_verify(struct store *s, const char *archive_dir, struct store_verify *ret);

#endif
