/* tests/integration/fake_logind.c — a stand-in for systemd-logind on a
 * private D-Bus system bus that tests/integration/e2e_lock.sh starts
 * (dbus-daemon with its own socket under the test's root), for the `lock`
 * command's session ending (MDM-1). A fake, and why: a real systemd-logind
 * needs systemd as PID 1 of its machine (it creates scopes through it); it
 * cannot run in this test's root without booting a container, and the
 * machine's own logind holds the sessions of the build machine, which no
 * test may end. What is real: the D-Bus daemon, the wire protocol and
 * logind's interface as the agent calls it (org.freedesktop.login1.Manager
 * ListSessions / TerminateSession, the Session object's Class property).
 *
 *   fake_logind LOG ID:UID:USER:CLASS...
 * serves those sessions; every TerminateSession appends "terminated ID USER"
 * to LOG and removes the session. Prints "ready" when it owns the name. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>

#define MAX_SESSIONS 16

struct session {
	char id[32], user[64], cls[32], path[128];
	unsigned uid;
	int alive;
};

static struct session sessions[MAX_SESSIONS];
static int n_sessions;
static const char *log_path;

static int list_sessions(sd_bus_message *m, void *userdata, sd_bus_error *err)
{
	sd_bus_message *reply = NULL;
	int r;

	(void)userdata;
	(void)err;
	if ((r = sd_bus_message_new_method_return(m, &reply)) < 0 ||
	    (r = sd_bus_message_open_container(reply, 'a', "(susso)")) < 0)
		return r;
	for (int i = 0; i < n_sessions; i++)
		if (sessions[i].alive && (r = sd_bus_message_append(reply, "(susso)", sessions[i].id, sessions[i].uid,
		                                                    sessions[i].user, "seat0", sessions[i].path)) < 0)
			return r;
	if ((r = sd_bus_message_close_container(reply)) < 0)
		return r;
	r = sd_bus_send(NULL, reply, NULL);
	sd_bus_message_unref(reply);
	return r;
}

static int terminate_session(sd_bus_message *m, void *userdata, sd_bus_error *err)
{
	const char *id;
	int r;

	(void)userdata;
	if ((r = sd_bus_message_read(m, "s", &id)) < 0)
		return r;
	for (int i = 0; i < n_sessions; i++)
		if (sessions[i].alive && strcmp(sessions[i].id, id) == 0) {
			FILE *f = fopen(log_path, "a");

			if (f) {
				fprintf(f, "terminated %s %s\n", id, sessions[i].user);
				fclose(f);
			}
			sessions[i].alive = 0;
			return sd_bus_reply_method_return(m, "");
		}
	return sd_bus_error_setf(err, "org.freedesktop.login1.NoSuchSession", "No session '%s' known", id);
}

static int get_class(sd_bus *bus, const char *path, const char *interface, const char *property, sd_bus_message *reply,
                     void *userdata, sd_bus_error *err)
{
	(void)bus;
	(void)interface;
	(void)property;
	(void)userdata;
	for (int i = 0; i < n_sessions; i++)
		if (strcmp(sessions[i].path, path) == 0)
			return sd_bus_message_append(reply, "s", sessions[i].cls);
	return sd_bus_error_setf(err, SD_BUS_ERROR_UNKNOWN_OBJECT, "no session at %s", path);
}

static int find_session(sd_bus *bus, const char *path, const char *interface, void *userdata, void **found,
                        sd_bus_error *err)
{
	(void)bus;
	(void)interface;
	(void)userdata;
	(void)err;
	for (int i = 0; i < n_sessions; i++)
		if (sessions[i].alive && strcmp(sessions[i].path, path) == 0) {
			*found = &sessions[i];
			return 1;
		}
	return 0;
}

static const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("ListSessions", "", "a(susso)", list_sessions, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("TerminateSession", "s", "", terminate_session, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

static const sd_bus_vtable session_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Class", "s", get_class, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_VTABLE_END,
};

int main(int argc, char **argv)
{
	sd_bus *bus = NULL;
	int r;

	if (argc < 2) {
		fprintf(stderr, "usage: fake_logind LOG ID:UID:USER:CLASS...\n");
		return 2;
	}
	log_path = argv[1];
	for (int i = 2; i < argc && n_sessions < MAX_SESSIONS; i++) {
		struct session *s = &sessions[n_sessions];

		if (sscanf(argv[i], "%31[^:]:%u:%63[^:]:%31s", s->id, &s->uid, s->user, s->cls) != 4) {
			fprintf(stderr, "fake_logind: bad session %s\n", argv[i]);
			return 2;
		}
		{
			char id[sizeof(s->id)];

			memcpy(id, s->id, sizeof(id));
			snprintf(s->path, sizeof(s->path), "/org/freedesktop/login1/session/_%s", id);
		}
		s->alive = 1;
		n_sessions++;
	}
	/* DBUS_SYSTEM_BUS_ADDRESS: the test's own bus */
	if ((r = sd_bus_open_system(&bus)) < 0 ||
	    (r = sd_bus_add_object_vtable(bus, NULL, "/org/freedesktop/login1", "org.freedesktop.login1.Manager",
	                                  manager_vtable, NULL)) < 0 ||
	    (r = sd_bus_add_fallback_vtable(bus, NULL, "/org/freedesktop/login1/session",
	                                    "org.freedesktop.login1.Session", session_vtable, find_session, NULL)) <
	            0 ||
	    (r = sd_bus_request_name(bus, "org.freedesktop.login1", 0)) < 0) {
		fprintf(stderr, "fake_logind: %s\n", strerror(-r));
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
