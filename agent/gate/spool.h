/* agent/gate/spool.h — mamorid's spool of events not yet acknowledged by
 * the worker (issue 13, item 2; LOG-1): they survive a crash, kill -9 or a
 * SIGTERM of the gate and are sent again by the next one. Runs in mamorid.
 *
 * <state_dir>/gate.spool, append-only lines: "E <id> <json>" for each emit
 * message, "A <id>" when the worker acknowledged everything up to id. The
 * decision path only appends (one write(2), no fsync: the page cache keeps
 * it across a crash of the process); fdatasync is batched off the decision
 * path (spool_sync, at acknowledgements and on the watchdog tick) and runs
 * in a thread of its own, never in the gate's loop (issue 23.4). The file
 * is emptied whenever nothing is pending. */
#ifndef MAMORI_GATE_SPOOL_H
#define MAMORI_GATE_SPOOL_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#define SPOOL_FILE "gate.spool"

/* Open (creating) dir/gate.spool; every emit message still pending in it is
 * handed to requeue (which takes ownership) in order; then the file starts
 * over. Returns how many were requeued, or negative errno. */
int spool_open(const char *dir, void (*requeue)(cJSON *msg));
/* The emit message id, as printed for the worker (json, len bytes), is
 * queued. */
void spool_append(uint64_t id, const char *json, size_t len);
/* Everything up to id is acknowledged; `empty`: nothing is pending. */
void spool_ack(uint64_t id, bool empty);
/* fdatasync if something was written since the last one: asks the syncer
 * thread and returns at once (in spool_open and spool_close it runs here). */
void spool_sync(void);
void spool_close(void);

#endif
