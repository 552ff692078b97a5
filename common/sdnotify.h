/* common/sdnotify.h — the systemd notification protocol (mamorid; knows nothing of mamori).
 *
 * A datagram to $NOTIFY_SOCKET (path or '@' abstract name). Implemented
 * here because it is a few lines and libsystemd is not one of our
 * dependencies. Without NOTIFY_SOCKET every call is a no-op. */
#ifndef MAMORI_SDNOTIFY_H
#define MAMORI_SDNOTIFY_H

#include <stdint.h>

/* Send state ("READY=1", "WATCHDOG=1", "STOPPING=1", "STATUS=…").
 * Returns 1 if sent, 0 if not under systemd, negative errno on failure. */
int sd_notify_send(const char *state);

/* Watchdog interval in µs from $WATCHDOG_USEC (if $WATCHDOG_PID is ours or unset), else 0. */
uint64_t sd_watchdog_usec(void);

#endif
