/* agent/sdk/notify.h — desktop notifications to the person at the terminal
 * (mamorid and mamori-worker; used by the usb and carry modules).
 *
 * There is no D-Bus library among our dependencies, so a notification is a
 * child process: `gdbus call --session … org.freedesktop.Notifications.Notify`,
 * run as the active session's user (setpriv) with that user's session bus
 * found through logind's /run/systemd/sessions (under the root prefix).
 * Sending never blocks: posix_spawn, then children are reaped later with
 * WNOHANG; at most max_inflight run at once, more are dropped and counted.
 * No session or no bus is an error for the caller, never a delay.
 *
 * A blocked device's notification offers "申請する / Request" (issue 16.1):
 * then the child is `mamorictl notify-request` as that user (sd-bus, see
 * agent/ctl/ctl_notify.c), which shows it with the action, waits for the
 * person at most NOTIFY_ACTION_TIMEOUT_MS and files the request through the
 * control socket — the person is that socket's peer, never an argument. */
#ifndef MAMORI_NOTIFY_H
#define MAMORI_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define NOTIFY_TEXT_MAX          1024  /* summary and body are cut to this many bytes */
#define NOTIFY_SESSION_MAX       256   /* session files looked at */
#define NOTIFY_ACTION_TIMEOUT_MS 60000 /* a notification with the request action is shown (and waited for) this long */

struct notify;

/* 0 and *ret, or -ENOMEM/-EINVAL. max_inflight 1..64. */
int notify_new(unsigned max_inflight, struct notify **ret);

/* Reap what has finished and forget the rest (they are not killed: a
 * notification finishes on its own within its timeout). Accepts NULL. */
struct notify *notify_free(struct notify *n);

/* Show summary/body (UTF-8) on the active graphical session. Returns 0 when a
 * child was started, -ENXIO when there is no active session with a bus,
 * -EBUSY when max_inflight children are still running (dropped), or -errno. */
int notify_send(struct notify *n, const char *summary, const char *body);

/* The same with the "申請する / Request" action for device (a port or a
 * descriptor hash as `mamorictl request device` takes it; NULL: none, as
 * notify_send). Without mamorictl installed it is shown without the action. */
int notify_send_request(struct notify *n, const char *summary, const char *body, const char *device);

/* Reap finished children (non-blocking). Returns how many are still running. */
size_t notify_reap(struct notify *n);

size_t notify_dropped(const struct notify *n);

/* The active session's user and bus address ("unix:path=…"). 0, -ENXIO, or -errno. */
int notify_find_session(uid_t *ret_uid, char *bus, size_t bussz);

#endif
