/* agent/ctl/ctl_notify.c — `mamorictl notify-request --device PORT|HASH
 * --summary TEXT --body TEXT [--timeout-ms N]`: a blocked device's desktop
 * notification with the "申請する / Request" action (mamorictl, started by
 * agent/sdk/notify.c in mamorid as the active session's user — never by
 * root for itself; issue 16.1, OPS-4, MEDIA-1).
 *
 * On the session bus (DBUS_SESSION_BUS_ADDRESS, sd-bus): listen to
 * org.freedesktop.Notifications' signals first, then Notify with the
 * actions ["request", "申請する / Request"], then wait at most the timeout
 * (plus a little) for ActionInvoked or NotificationClosed of that id from
 * the server that answered the Notify (its unique name: another client of
 * the bus cannot press the button). "request" files the same request as
 * `mamorictl request device ID` through the control socket, where the
 * worker takes the person from the peer credentials — this program names
 * nobody, and run as anybody else it files for that somebody, never for the
 * session's user. The outcome is shown as a second notification. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <systemd/sd-bus.h>

#include "alloc-util.h"
#include "ctl.h"
#include "json-util.h"
#include "notify.h"
#include "strutil.h"

#define NOTIFY_DEST  "org.freedesktop.Notifications"
#define NOTIFY_PATH  "/org/freedesktop/Notifications"
#define NOTIFY_IFACE "org.freedesktop.Notifications"

struct wait_state {
	char *server; /* the unique name that answered Notify */
	uint32_t id;
	bool have_id, done, requested;
};

static int usage(struct ctl_env *env)
{
	fprintf(stderr, "%s",
	        L(env,
	          "使い方: mamorictl notify-request --device ポート名|ハッシュ --summary 見出し --body 本文 "
	          "[--timeout-ms ミリ秒]\n(mamorid が通知のために使います。申請は mamorictl request device)\n",
	          "usage: mamorictl notify-request --device PORT|HASH --summary TEXT --body TEXT [--timeout-ms MS]\n"
	          "(mamorid uses it for notifications; to ask, use mamorictl request device)\n"));
	return 2;
}

/* text for the bus: at most NOTIFY_TEXT_MAX bytes, no control bytes, valid
 * UTF-8 (a byte of a broken sequence becomes '?') */
static char *bus_text(const char *s)
{
	size_t n = strnlen(s, NOTIFY_TEXT_MAX), o = 0;
	char *out = malloc(n + 1);

	if (!out)
		return NULL;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80 && s[n] != '\0')
		n--;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f)
			continue;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	if (!utf8_valid(out, o))
		for (size_t i = 0; i < o; i++)
			if ((unsigned char)out[i] >= 0x80)
				out[i] = '?';
	return out;
}

static int on_signal(sd_bus_message *m, void *userdata, sd_bus_error *err)
{
	struct wait_state *w = userdata;
	const char *sender = sd_bus_message_get_sender(m), *action = NULL;
	uint32_t id = 0, reason = 0;

	(void)err;
	if (!w->have_id || !sender || !w->server || strcmp(sender, w->server) != 0)
		return 0; /* not the server that showed ours */
	if (sd_bus_message_is_signal(m, NOTIFY_IFACE, "ActionInvoked")) {
		if (sd_bus_message_read(m, "us", &id, &action) < 0 || id != w->id)
			return 0;
		if (strcmp(action, "request") == 0)
			w->requested = true;
		w->done = true;
	} else if (sd_bus_message_is_signal(m, NOTIFY_IFACE, "NotificationClosed")) {
		if (sd_bus_message_read(m, "uu", &id, &reason) < 0 || id != w->id)
			return 0;
		w->done = true;
	}
	return 0;
}

/* Notify(app, replaces, icon, summary, body, actions, hints, timeout) → id */
static int show(sd_bus *bus, const char *summary, const char *body, bool action, int timeout_ms, uint32_t *ret_id,
                char **ret_server)
{
	sd_bus_error err = SD_BUS_ERROR_NULL;
	sd_bus_message *reply = NULL;
	int r;

	if (action)
		r = sd_bus_call_method(bus, NOTIFY_DEST, NOTIFY_PATH, NOTIFY_IFACE, "Notify", &err, &reply,
		                       "susssasa{sv}i", "mamori", 0u, "dialog-warning", summary, body, 2, "request",
		                       "申請する / Request", 0, timeout_ms);
	else
		r = sd_bus_call_method(bus, NOTIFY_DEST, NOTIFY_PATH, NOTIFY_IFACE, "Notify", &err, &reply,
		                       "susssasa{sv}i", "mamori", 0u, "dialog-information", summary, body, 0, 0,
		                       timeout_ms);
	sd_bus_error_free(&err);
	if (r >= 0 && ret_id)
		r = sd_bus_message_read(reply, "u", ret_id);
	if (r >= 0 && ret_server) {
		const char *s = sd_bus_message_get_sender(reply);

		*ret_server = s ? strdup(s) : NULL;
		if (!*ret_server)
			r = -ENOMEM;
	}
	sd_bus_message_unref(reply);
	return r;
}

static uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* The request as `mamorictl request device ID` makes it; the outcome as a
 * second notification. 0 filed, 1 refused or unreachable. */
static int file_request(struct ctl_env *env, sd_bus *bus, const char *device)
{
	_cleanup_json_ cJSON *req = cJSON_CreateObject(), *ans = NULL;
	_cleanup_free_ char *msg = NULL;
	cJSON *args;
	const char *e;
	int r;

	if (!req || !cJSON_AddStringToObject(req, "cmd", "request") || !(args = cJSON_AddObjectToObject(req, "args")) ||
	    !cJSON_AddStringToObject(args, "kind", "device") || !cJSON_AddStringToObject(args, "device", device))
		return 1;
	ans = ctl_control_call(env, req);
	if (ans && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ans, "ok"))) {
		const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ans, "request_id"));

		r = asprintf(&msg,
		             L(env, "申請しました (申請番号 %s)。承認されると自動で使えるようになります。",
		               "Requested (request %s). The device works by itself once approved."),
		             id ? id : "?");
		if (r >= 0)
			(void)show(bus, L(env, "USB機器の使用を申請しました", "USB device requested"), msg, false,
			           10000, NULL, NULL);
		printf("%s\n", msg ? msg : "");
		return 0;
	}
	e = ans ? cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ans, "error")) : NULL;
	r = asprintf(&msg, L(env, "申請できませんでした: %s", "The request was refused: %s"),
	             e ? e : L(env, "mamorid に接続できません", "mamorid cannot be reached"));
	if (r >= 0) {
		_cleanup_free_ char *t = bus_text(msg);

		if (t)
			(void)show(bus, L(env, "USB機器の申請", "USB device request"), t, false, 10000, NULL, NULL);
	}
	fprintf(stderr, "%s\n", msg ? msg : "request refused");
	return 1;
}

int ctl_notify_request(struct ctl_env *env, int argc, char **argv)
{
	_cleanup_free_ char *summary = NULL, *body = NULL;
	const char *device = NULL, *s = NULL, *b = NULL;
	struct wait_state w = {0};
	sd_bus *bus = NULL;
	sd_bus_slot *slot = NULL;
	int64_t timeout_ms = NOTIFY_ACTION_TIMEOUT_MS;
	uint64_t deadline;
	int r, rc = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--device") == 0 && i + 1 < argc && !device)
			device = argv[++i];
		else if (strcmp(argv[i], "--summary") == 0 && i + 1 < argc && !s)
			s = argv[++i];
		else if (strcmp(argv[i], "--body") == 0 && i + 1 < argc && !b)
			b = argv[++i];
		else if (strcmp(argv[i], "--timeout-ms") == 0 && i + 1 < argc) {
			if (parse_int64(argv[++i], 1000, 600000, &timeout_ms) < 0)
				return usage(env);
		} else
			return usage(env); /* nothing names a person: the peer is the person */
	}
	if (!device || !device[0] || strlen(device) > 64 || !s || !b)
		return usage(env);
	summary = bus_text(s);
	body = bus_text(b);
	if (!summary || !body)
		return 1;
	r = sd_bus_open_user(&bus);
	if (r < 0) {
		fprintf(stderr, L(env, "セッションバスに接続できません: %s\n", "cannot reach the session bus: %s\n"),
		        strerror(-r));
		return 1;
	}
	/* listen before showing: an answer cannot slip between the two */
	r = sd_bus_match_signal(bus, &slot, NULL, NOTIFY_PATH, NOTIFY_IFACE, NULL, on_signal, &w);
	if (r >= 0)
		r = show(bus, summary, body, true, (int)timeout_ms, &w.id, &w.server);
	if (r < 0) {
		fprintf(stderr, L(env, "通知を表示できません: %s\n", "cannot show the notification: %s\n"),
		        strerror(-r));
		rc = 1;
		goto out;
	}
	w.have_id = true;
	deadline = now_usec() + (uint64_t)timeout_ms * 1000u + 2000000u;
	while (!w.done) {
		uint64_t t = now_usec();

		r = sd_bus_process(bus, NULL);
		if (r < 0) {
			rc = 1;
			goto out;
		}
		if (r > 0)
			continue;
		if (t >= deadline)
			break; /* nobody answered: nothing is filed */
		if (sd_bus_wait(bus, deadline - t) < 0) {
			rc = 1;
			goto out;
		}
	}
	if (w.requested)
		rc = file_request(env, bus, device);
out:
	sd_bus_slot_unref(slot);
	sd_bus_flush_close_unref(bus);
	free(w.server);
	return rc;
}
