/* server-api/chain.h — re-verification of uploaded journal records against
 * the terminal's hash chain, and storing them (mamori-server).
 *
 * The server re-computes every record's canonical bytes with the agent's own
 * code (protocol/journal_canon.c, docs/EVENTS.md) and
 * hash = SHA-256(previous hash ‖ canonical bytes), starting from the last
 * record it holds for the terminal. Rules, record by record:
 *  - seq ≤ held head: a record the server has — same hash: a duplicate
 *    (skipped: an upload whose answer was lost is simply sent again); other
 *    hash: chain_fork.
 *  - seq = head + 1, same chain: its hash must be SHA-256(head hash ‖ bytes),
 *    else hash_mismatch.
 *  - seq > head + 1, same chain: chain_gap.
 *  - another chain id: accepted only as the start of a new chain (hash =
 *    SHA-256(32 zero bytes ‖ bytes), as the journal makes after it moved a
 *    damaged file aside) whose first record is the journal's recovery
 *    record (tamper.detected, what = journal: agent/journal.c) naming the
 *    held chain, starting right after the old chain's end, with a last good
 *    record that agrees with what the server holds; otherwise hash_mismatch.
 *    It is recorded as an UNACKNOWLEDGED chain_restart, and the chain before
 *    it is kept (store_chain.prev_*) until an administrator acknowledges it
 *    (issue 17 finding 3: a forged record with a stolen certificate at seq
 *    1,000,000 used to swallow every later real event).
 *  - while a restart is unacknowledged, a record that continues the chain
 *    before it (prev head + 1, hash over the prev head) proves that chain
 *    alive: the restart was not this terminal's journal. A chain_fork
 *    finding is recorded and the server follows the original chain again.
 *  - acked_seq is given for the chain the batch (or the check-in) is on,
 *    never beyond what the server stored from that chain (chain_acked_for):
 *    a restart cannot make the terminal drop records it has not delivered.
 *  - nothing held yet: the first record starts the chain (from zero: verified;
 *    otherwise chain_start_unverified is recorded and its hash is taken).
 * Records before the first break are stored and acknowledged (nothing the
 * terminal sent in good order is lost); the break is recorded as a tamper
 * finding (once per terminal, kind and seq) and the rest of the batch is
 * refused. */
#ifndef MAMORI_CHAIN_H
#define MAMORI_CHAIN_H

#include <stdint.h>

#include <cjson/cJSON.h>

#include "store.h"

#define CHAIN_BATCH_MAX 10000
/* a record dated further ahead of the server's clock is a future_time finding */
#define CHAIN_FUTURE_TOLERANCE_US (300LL * 1000000)

struct chain_result {
	uint64_t acked_seq;             /* the server holds everything up to here */
	unsigned stored, duplicates;    /* records of this batch */
	enum store_finding_kind broken; /* _FINDING_INVALID if the batch continued the chain */
	uint64_t bad_seq;               /* the record that broke it */
	char detail[256];
};

/* Verify and store a batch (the "records" array of POST /api/v1/events).
 * Returns 0 with *ret filled (check ret->broken), -EINVAL when the batch is
 * malformed (nothing stored; ret->detail says why), or the store's error. */
int chain_ingest(struct store *st, const char *terminal_id, const cJSON *records, int64_t now_us,
                 struct chain_result *ret);

/* What the server acknowledges to a terminal whose journal is on
 * agent_chain (NULL or "" = the held chain): the held head for the held
 * chain, the stored head of the chain before an unacknowledged restart for
 * that one, 0 for a chain the server holds nothing of. */
uint64_t chain_acked_for(const struct store_chain *held, const char *agent_chain);

/* The canonical bytes of one uploaded record object. -EINVAL if it is not a
 * well-formed journal record. */
struct buf;
int chain_record_canon(const cJSON *record, struct buf *out, uint64_t *ret_seq, int64_t *ret_time_us,
                       const char **ret_type, const char **ret_chain);

#endif
