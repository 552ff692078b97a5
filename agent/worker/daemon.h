/* agent/worker/daemon.h — mamori-worker's state and its one epoll loop
 * (mamori-worker; mamorictl check uses its module lifecycle).
 *
 * One thread, one epoll set: signalfd (TERM/INT stop, HUP reload), a timerfd
 * for periodic posture passes, a timerfd for the systemd watchdog, the
 * control socket and its clients, and every fd the modules ask for. */
#ifndef MAMORI_DAEMON_H
#define MAMORI_DAEMON_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "config.h"
#include "module.h"
#include "result.h"

struct daemon_options {
	const char *root;        /* root prefix ("" or "/" = real root) */
	const char *config_path; /* system path of agent.conf (resolved under root) */
	const char *policy_path; /* --policy FILE (real path, not under root); NULL = configured */
	bool unsigned_policy;    /* --unsigned: accept policy_path without signature (audit run) */
	bool foreground;         /* log to stderr */
	bool audit_only;         /* --audit: never change the system */
	bool once;               /* run one posture pass, print nothing, exit (tests/bench) */
	int ipc_fd;              /* mamori-worker: the socket to mamorid (protocol/ipc.h); -1 = standalone */
	/* NULL-terminated module list; NULL = the static registry. Tests pass their own. */
	const struct mamori_module *const *modules;
};

enum module_state { MODULE_OFF, MODULE_ACTIVE, MODULE_FAILED };

struct module_slot {
	const struct mamori_module *mod;
	enum module_state state;
	int init_error; /* negative errno when MODULE_FAILED */
	void *data;     /* the module's state (core-owned, agent/sdk/module.h) */
	int fds[MAMORI_MODULE_MAX_FDS];
	size_t n_fds;
};

struct daemon;

/* Create the daemon: config, policy, modules initialised. Does not serve yet.
 * On error, err holds a message for the administrator. */
int daemon_new(const struct daemon_options *opts, struct daemon **ret, char *err, size_t errsz);
void daemon_free(struct daemon *d);

/* Serve until SIGTERM/SIGINT. Returns 0 on clean stop. */
int daemon_run(struct daemon *d);

/* Run a posture pass over every active module (also used by the control
 * socket). The report stays owned by the daemon until the next pass. */
const struct check_report *daemon_check(struct daemon *d);

/* Re-read agent.conf and the policy, then tell modules (SIGHUP). A bad
 * config or policy keeps the running one. */
int daemon_reload(struct daemon *d);

/* Handle everything mamorid sent on the IPC socket (worker; the loop calls
 * it when the socket is readable). */
void daemon_ipc_dispatch(struct daemon *d);

/* Status document for `mamorictl status` (caller owns). */
cJSON *daemon_status_json(struct daemon *d);

/* Process one control-socket request (one JSON object) from a peer with uid
 * peer_uid; returns the JSON response text the caller frees. Never fails on
 * bad input: garbage gets {"ok":false,"error":…}. NULL only on OOM. */
char *daemon_control_request(struct daemon *d, const char *req, size_t len, uid_t peer_uid);

/* The control socket refused connections (too many of one uid, or of all;
 * issue 16): journals control.refused with how many since the last one.
 * The caller calls it at most once a minute. */
void daemon_control_refused(struct daemon *d, uid_t uid, uint64_t count, bool all);

#endif
