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
};

/* 0 with *ret filled (check bad_terminals and audit_bad_id), or the store's
 * error. A chain verifies when each stored record's hash is SHA-256 of the
 * previous stored record's hash and its canonical bytes, or of 32 zero bytes
 * and them (a chain start: the first record, or a restart the server
 * recorded as a chain_restart finding at that seq); the
 * terminal's first stored record may be an unverified start (taken as
 * given, as chain.c took it); and the last is the terminal's head with as
 * many records as its counter. */
int store_verify(struct store *s, struct store_verify *ret);

#endif
