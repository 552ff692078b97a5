/* modules/screenlock/screenlock_logind.h — systemd-logind idle settings and
 * systemd time spans (mamori-worker).
 *
 * logind's IdleAction=lock locks every session of a desktop that listens to
 * logind (GNOME, KDE); StopIdleSessionSec= ends idle sessions (LOCK-2).
 * Read from /etc/systemd/logind.conf and logind.conf.d/ *.conf (later files
 * win, as systemd does), under the root prefix. */
#ifndef MAMORI_SCREENLOCK_LOGIND_H
#define MAMORI_SCREENLOCK_LOGIND_H

#include <stdint.h>

#include "screenlock.h"

/* Parse a systemd time span ("900", "15min", "1h 30min", "infinity") into
 * whole seconds; infinity is INT64_MAX. -EINVAL on anything else. */
int screenlock_parse_timespan(const char *s, int64_t *ret_sec);

/* Read logind.conf(.d). Always fills *ret (ret->err set on a problem).
 * Returns 0. */
int screenlock_logind_read(struct screenlock_logind *ret);

#endif
