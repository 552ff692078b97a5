/* agent/worker/daemon_sync.h — reporting to mamori-server from mamori-worker.
 *
 * Each sync (check-in with the latest posture report, upload of every
 * unacknowledged journal record, download of a newer signed policy,
 * certificate renewal) runs in a child that execs `mamorictl server sync`,
 * so that a slow or absent server never blocks the loop, the worker links no
 * libcurl, and the child never touches the journal writer's SQLite
 * connection: it reads the journal through its own, and the parent
 * acknowledges what the server holds (journal_ack) when the child is done. Offline, nothing is lost: the
 * journal is the queue; retries back off exponentially with jitter. */
#ifndef MAMORI_DAEMON_SYNC_H
#define MAMORI_DAEMON_SYNC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct daemon_sync {
	pid_t child;
	unsigned failures;
	bool enrolled;    /* checked before each sync: not enrolled, no child */
	bool clock_wrong; /* the last sync failed TLS because of this terminal's clock (LOG-2) */
	bool again;       /* asked for while a child ran (a command's result, a critical
	                   * event written after it read them): another follows it */
};

/* What a sync came to: from `mamorictl --json server sync`'s exit status
 * (0 ok, 1 refused, other failed) and its "policy_updated". */
enum sync_outcome { SYNC_OK, SYNC_FAILED, SYNC_POLICY, SYNC_REVOKED };

#endif
