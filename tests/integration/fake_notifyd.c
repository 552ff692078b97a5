/* tests/integration/fake_notifyd.c — a stand-in for a desktop notification
 * server (org.freedesktop.Notifications) on the private D-Bus session bus
 * that tests/integration/usb_notify_request.c starts, for the blocked
 * device's "申請する / Request" action (issue 16.1).
 *
 * A fake, and why: Debian's notification servers (notification-daemon,
 * xfce4-notifyd, dunst, the GNOME/KDE shells) need a display (X11 or
 * Wayland) and a person to press the button; none runs headless here. What
 * is real: the dbus-daemon, the wire protocol, sd-bus in mamorictl, and the
 * interface as the specification defines it (Notify susssasa{sv}i → u,
 * the ActionInvoked us and NotificationClosed uu signals).
 *
 *   fake_notifyd LOG MODE
 * MODE invoke: a notification with a "request" action is answered by
 * ActionInvoked(id, "request") as if the person pressed it, then
 * NotificationClosed(id, 2); close: only NotificationClosed(id, 2) (the
 * person dismissed it). Every Notify appends one line to LOG:
 *   notify ID uid=UID actions=K1|L1|K2|L2 summary=S body=B
 * (the caller's uid as the bus daemon knows it). Prints "ready" once it
 * owns the name. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>

static const char *log_path, *mode;
static uint32_t next_id = 1;

static int notify(sd_bus_message *m, void *userdata, sd_bus_error *err)
{
	const char *app, *icon, *summary, *body, *a;
	char actions[1024] = "";
	bool has_request = false, key = true;
	uint32_t replaces, id = next_id++;
	size_t n;
	uid_t uid = (uid_t)-1;
	int32_t timeout;
	FILE *f;
	int r;

	(void)userdata;
	(void)err;
	if ((r = sd_bus_message_read(m, "susss", &app, &replaces, &icon, &summary, &body)) < 0 ||
	    (r = sd_bus_message_enter_container(m, 'a', "s")) < 0)
		return r;
	while ((r = sd_bus_message_read(m, "s", &a)) > 0) {
		if (key && strcmp(a, "request") == 0)
			has_request = true;
		key = !key;
		n = strlen(actions);
		(void)snprintf(actions + n, sizeof(actions) - n, "%s%s", n ? "|" : "", a);
	}
	if (r < 0 || (r = sd_bus_message_exit_container(m)) < 0 || (r = sd_bus_message_skip(m, "a{sv}")) < 0 ||
	    (r = sd_bus_message_read(m, "i", &timeout)) < 0)
		return r;
	/* the caller's uid as the bus daemon authenticated it */
	{
		sd_bus_message *reply = NULL;
		uint32_t u;

		if (sd_bus_call_method(sd_bus_message_get_bus(m), "org.freedesktop.DBus", "/org/freedesktop/DBus",
		                       "org.freedesktop.DBus", "GetConnectionUnixUser", NULL, &reply, "s",
		                       sd_bus_message_get_sender(m)) >= 0 &&
		    sd_bus_message_read(reply, "u", &u) >= 0)
			uid = (uid_t)u;
		sd_bus_message_unref(reply);
	}
	f = fopen(log_path, "a");
	if (f) {
		fprintf(f, "notify %u uid=%d actions=%s summary=%s body=%s\n", id, (int)uid, actions, summary, body);
		fclose(f);
	}
	if ((r = sd_bus_reply_method_return(m, "u", id)) < 0)
		return r;
	if (strcmp(mode, "invoke") == 0 && has_request &&
	    (r = sd_bus_emit_signal(sd_bus_message_get_bus(m), "/org/freedesktop/Notifications",
	                            "org.freedesktop.Notifications", "ActionInvoked", "us", id, "request")) < 0)
		return r;
	return sd_bus_emit_signal(sd_bus_message_get_bus(m), "/org/freedesktop/Notifications",
	                          "org.freedesktop.Notifications", "NotificationClosed", "uu", id, 2u);
}

static int capabilities(sd_bus_message *m, void *userdata, sd_bus_error *err)
{
	sd_bus_message *reply = NULL;
	int r;

	(void)userdata;
	(void)err;
	if ((r = sd_bus_message_new_method_return(m, &reply)) < 0)
		return r;
	r = sd_bus_message_append(reply, "as", 2, "actions", "body");
	if (r >= 0)
		r = sd_bus_send(NULL, reply, NULL);
	sd_bus_message_unref(reply);
	return r;
}

static const sd_bus_vtable vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("Notify", "susssasa{sv}i", "u", notify, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("GetCapabilities", "", "as", capabilities, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL("ActionInvoked", "us", 0),
        SD_BUS_SIGNAL("NotificationClosed", "uu", 0),
        SD_BUS_VTABLE_END,
};

int main(int argc, char **argv)
{
	sd_bus *bus = NULL;
	int r;

	if (argc != 3 || (strcmp(argv[2], "invoke") != 0 && strcmp(argv[2], "close") != 0)) {
		fprintf(stderr, "usage: fake_notifyd LOG invoke|close\n");
		return 2;
	}
	log_path = argv[1];
	mode = argv[2];
	/* DBUS_SESSION_BUS_ADDRESS: the test's own bus */
	if ((r = sd_bus_open_user(&bus)) < 0 ||
	    (r = sd_bus_add_object_vtable(bus, NULL, "/org/freedesktop/Notifications", "org.freedesktop.Notifications",
	                                  vtable, NULL)) < 0 ||
	    (r = sd_bus_request_name(bus, "org.freedesktop.Notifications", 0)) < 0) {
		fprintf(stderr, "fake_notifyd: %s\n", strerror(-r));
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		r = sd_bus_process(bus, NULL);
		if (r < 0)
			return 1;
		if (r > 0)
			continue;
		if (sd_bus_wait(bus, (uint64_t)-1) < 0)
			return 1;
	}
}
