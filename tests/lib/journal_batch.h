/* tests/lib/journal_batch.h — a journal's records as the agent's transport
 * uploads them, for tests that feed the server's chain (test processes:
 * tests/unit/test_server_*.c, tests/integration/e2e_agent.c). No cmocka:
 * the e2e programs link it too. */
#ifndef MAMORI_TEST_JOURNAL_BATCH_H
#define MAMORI_TEST_JOURNAL_BATCH_H

#include <stdint.h>

#include <cjson/cJSON.h>

/* The records of the journal in dir after seq `after`, at most max, as a
 * JSON array of {"hash": hex, "record": the canonical record} into *ret
 * (the caller deletes it). Returns 0 or negative errno (nothing in *ret). */
int tu_journal_batch(const char *dir, uint64_t after, unsigned max, cJSON **ret);

#endif
