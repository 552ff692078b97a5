/* agent/daemon_sync.h — reporting to mamori-server from mamori-worker.
 *
 * Each sync (check-in with the latest posture report, upload of every
 * unacknowledged journal record, download of a newer signed policy,
 * certificate renewal) runs in a short-lived child process, so that a slow
 * or absent server never blocks the loop and the child never touches the
 * journal writer's SQLite connection: it reads the journal through its own
 * connection, and the parent acknowledges what the server holds
 * (journal_ack) when the child is done. Offline, nothing is lost: the
 * journal is the queue; retries back off exponentially with jitter. */
#ifndef MAMORI_DAEMON_SYNC_H
#define MAMORI_DAEMON_SYNC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct daemon_sync {
	pid_t child;
	unsigned failures;
	bool enrolled;
	uint64_t next_ms; /* delay the parent arms its timer with */
};

enum sync_outcome { SYNC_OK = 0, SYNC_FAILED = 1, SYNC_POLICY = 2, SYNC_REVOKED = 3, SYNC_NOT_ENROLLED = 4 };

#endif
