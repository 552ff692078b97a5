/* modules/posture/timesync.h — clock synchronisation check, LOG-2 (mamori-worker).
 *
 * Logs are evidence only if their times are right (LOG-2: M 8.1②, T 第7 2(3)).
 * The check reads the kernel's view (adjtimex: STA_UNSYNC / TIME_ERROR), which
 * time daemons are enabled and configured (chrony, systemd-timesyncd, ntpd/
 * ntpsec, openntpd), and whether more than one is enabled (they fight over the
 * clock). */
#ifndef MAMORI_TIMESYNC_H
#define MAMORI_TIMESYNC_H

#include <stdbool.h>

#include "module.h"

enum timesync_daemon {
	TSD_CHRONY,
	TSD_TIMESYNCD,
	TSD_NTPD,
	TSD_NTPSEC,
	TSD_OPENNTPD,
	_TSD_MAX,
	_TSD_INVALID = -1,
};

#define TIMESYNC_MAX_SERVERS 8

struct timesync_facts {
	/* kernel */
	int adjtimex_state;  /* return of adjtimex(): TIME_OK … TIME_ERROR, or -errno */
	int adjtimex_status; /* timex.status bits */
	long maxerror_us, esterror_us;
	bool kernel_is_host; /* a root prefix is set: the clock is this machine's, not the root's */
	/* per daemon */
	bool enabled[_TSD_MAX];   /* systemd unit enabled (wants/ symlink) */
	bool running[_TSD_MAX];   /* a process of that name in /proc */
	bool installed[_TSD_MAX]; /* its configuration file exists */
	unsigned n_servers[_TSD_MAX];
	char servers[_TSD_MAX][TIMESYNC_MAX_SERVERS][128]; /* first configured servers/pools */
};

const char *timesync_daemon_name(enum timesync_daemon d);

/* Read the facts from the system under the root prefix (adjtimex is the
 * real, read-only kernel call). */
int timesync_gather(struct timesync_facts *ret);

/* Turn facts into results (timesync.kernel_sync, timesync.daemon). Pure. */
int timesync_evaluate(const struct timesync_facts *f, struct check_report *rep);

extern const struct mamori_module timesync_module;

#endif
