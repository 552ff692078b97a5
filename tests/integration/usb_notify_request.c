/* tests/integration/usb_notify_request.c — the blocked device's desktop
 * notification offers "申請する / Request" and, pressed, files the request
 * as the session's user (issue 16.1; OPS-4, MEDIA-1): the real mamorid +
 * mamori-worker on a umockdev testbed, a logind session file of uid 65534
 * (nobody) under the root prefix, a real dbus-daemon as that user's
 * session bus (made here, under the root prefix's /run/user/65534), and on
 * it tests/integration/fake_notifyd.c — a fake notification server (no
 * real one runs without a display; see that file) that presses the button.
 *
 * Oracles: the notification server sees Notify from uid 65534 with the
 * actions ["request", "申請する / Request"]; the worker journals
 * request.created for the blocked device (its descriptor hash, with the
 * vendor/product the gate saw) with uid 65534 and user "nobody" — the
 * socket's peer, although mamorid runs as root; a second notification says
 * it was filed. A notification dismissed without the button files nothing.
 * The helper takes no argument naming a person, and run as another user
 * (uid 1) it cannot reach the session user's bus: no request is made for a
 * uid that is not the session's this way. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <umockdev.h>

#include "control.h"
#include "json-util.h"
#include "strutil.h"

#include "gate_testbed.h"

static char udir[1024], itests[1024];

/* the fake notification server's log: its lines */
static const char *notify_log(void)
{
	static char buf[65536];
	char p[4200];
	FILE *f;
	size_t n;

	snprintf(p, sizeof(p), "%s/notify.log", udir);
	buf[0] = '\0';
	f = fopen(p, "re");
	if (!f)
		return buf;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static int lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static bool wait_lines(int want, int ms)
{
	char cmd[4096];

	for (int i = 0; i < ms / 100; i++) {
		if (lines(notify_log()) >= want)
			return true;
		usleep(100000);
	}
	/* what there is to see of why */
	fprintf(stderr, "notification server's log:\n%s", notify_log());
	snprintf(cmd, sizeof(cmd), "cat %s/notifyd.out %s/bus.log >&2; ls -la %s >&2; grep -i notif %s/gate.log >&2",
	         udir, prep, udir, prep);
	(void)run_quiet(cmd);
	return false;
}

/* fake_notifyd in mode as nobody on the session bus; its pid file in udir */
static void notifyd_start(const char *mode)
{
	char cmd[16384];

	snprintf(cmd, sizeof(cmd),
	         "rm -f %s/notifyd.out; setpriv --reuid=65534 --regid=65534 --clear-groups env "
	         "DBUS_SESSION_BUS_ADDRESS=unix:path=%s/bus %s/fake_notifyd %s/notify.log %s > %s/notifyd.out 2>&1 & "
	         "echo $! > %s/notifyd.pid; for i in $(seq 50); do grep -q ready %s/notifyd.out && exit 0; sleep 0.1; "
	         "done; exit 1",
	         udir, udir, itests, udir, mode, udir, prep, udir);
	assert_int_equal(run(cmd), 0);
}

static void notifyd_stop(void)
{
	char cmd[8192];

	snprintf(cmd, sizeof(cmd), "kill $(cat %s/notifyd.pid) && sleep 0.2", prep);
	assert_int_equal(run(cmd), 0);
}

/* the journal's request.created records (exported after the gate stopped) */
static cJSON *requests_created(void)
{
	char cmd[8192];

	snprintf(cmd, sizeof(cmd),
	         "%s/mamorictl --root %s journal export --format jsonl > %s/notify.jsonl && jq -s -c '[.[] | "
	         "select(.type == \"request.created\") | .payload]' %s/notify.jsonl > %s/created.json",
	         bindir, tbroot, prep, prep, prep);
	assert_int_equal(run(cmd), 0);
	return cJSON_Parse(prep_read("created.json"));
}

static void test_notify_request(void **state)
{
	char cmd[16384], self[1024];
	char *dev, *dev2;
	ssize_t n;

	(void)state;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	assert_true(n > 0);
	self[n] = '\0';
	*strrchr(self, '/') = '\0';
	snprintf(itests, sizeof(itests), "%s", self);
	snprintf(udir, sizeof(udir), "%s/run/user/65534", tbroot);

	assert_int_equal(testbed_install_root(), 0);
	/* the person's session as logind records it, and the session bus
	 * (a real dbus-daemon as uid 65534, its socket where logind's
	 * user runtime directory puts it) */
	snprintf(cmd, sizeof(cmd),
	         "set -e; chmod 0755 %s %s/etc %s/etc/mamori; mkdir -p %s/run/systemd/sessions %s; chmod 0755 %s/run; "
	         "printf 'UID=65534\\nUSER=nobody\\nACTIVE=1\\nCLASS=user\\nTYPE=x11\\n' > %s/run/systemd/sessions/2; "
	         "chown 65534:65534 %s; chmod 0700 %s",
	         tbroot, tbroot, tbroot, tbroot, udir, tbroot, tbroot, udir, udir);
	assert_int_equal(run(cmd), 0);
	snprintf(cmd, sizeof(cmd),
	         "cat > %s/etc/session-bus.conf <<EOF\n"
	         "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
	         " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
	         "<busconfig><type>session</type><listen>unix:path=%s/bus</listen><auth>EXTERNAL</auth>\n"
	         "<policy context=\"default\"><allow send_destination=\"*\" eavesdrop=\"true\"/>"
	         "<allow eavesdrop=\"true\"/><allow own=\"*\"/></policy></busconfig>\n"
	         "EOF\n"
	         "setpriv --reuid=65534 --regid=65534 --clear-groups dbus-daemon --config-file=%s/etc/session-bus.conf "
	         "--nofork --nopidfile > %s/bus.log 2>&1 & echo $! > %s/bus.pid; "
	         "for i in $(seq 50); do [ -S %s/bus ] && exit 0; sleep 0.1; done; exit 1",
	         tbroot, udir, tbroot, prep, prep, udir);
	assert_int_equal(run(cmd), 0);
	notifyd_start("invoke");

	gate_start("gate.log");
	/* a device found by the gate's first enumeration is "present" and
	 * nobody is told of it: plug it in once that is over */
	sleep(1);
	dev = insert(3, "dead", "beef", "NOTE1"); /* blocked by the default */
	assert_true(wait_attr(dev, "authorized", "0", 3000));

	/* the notification with the action, as the session's user; pressed,
	 * the request is filed and a second notification says so */
	assert_true(wait_lines(2, 15000));
	{
		const char *l = notify_log(), *second = strchr(l, '\n') + 1;

		fprintf(stderr, "notification server's log:\n%s", l);
		assert_true(startswith(l, "notify 1 uid=65534 actions=request|申請する / Request summary=USB device "
		                          "blocked body="));
		assert_non_null(strstr(l, "mamorictl request device 1-3"));
		assert_true(startswith(second,
		                       "notify 2 uid=65534 actions= summary=USB device requested body=Requested "
		                       "(request "));
	}

	/* the helper names nobody: a person as an argument is a usage error */
	snprintf(cmd, sizeof(cmd),
	         "%s/mamorictl --root %s --lang en notify-request --device 1-3 --summary s --body b --user root "
	         "2>/dev/null",
	         bindir, tbroot);
	assert_int_equal(run_quiet(cmd), 2);
	/* another user (uid 1, not the session's) cannot use the session's bus
	 * to file as the session's user */
	snprintf(cmd, sizeof(cmd),
	         "setpriv --reuid=1 --regid=1 --clear-groups env DBUS_SESSION_BUS_ADDRESS=unix:path=%s/bus "
	         "%s/mamorictl --root %s --lang en notify-request --device 1-3 --summary s --body b --timeout-ms 1000 "
	         "2>/dev/null",
	         udir, bindir, tbroot);
	assert_int_equal(run_quiet(cmd), 1);
	assert_int_equal(lines(notify_log()), 2);

	/* dismissed without the button: shown, nothing filed */
	notifyd_stop();
	notifyd_start("close");
	dev2 = insert(4, "dead", "bee2", "NOTE2");
	assert_true(wait_attr(dev2, "authorized", "0", 3000));
	assert_true(wait_lines(3, 15000));
	{
		const char *third = strchr(strchr(notify_log(), '\n') + 1, '\n') + 1;

		assert_true(startswith(third,
		                       "notify 1 uid=65534 actions=request|申請する / Request summary=USB device "
		                       "blocked body="));
		assert_non_null(strstr(third, "mamorictl request device 1-4"));
	}
	sleep(1);
	assert_int_equal(lines(notify_log()), 3);

	gate_stop();
	{
		_cleanup_json_ cJSON *c = requests_created();
		const cJSON *r = cJSON_GetArrayItem(c, 0), *d = cJSON_GetObjectItemCaseSensitive(r, "device");

		assert_non_null(c);
		assert_int_equal(cJSON_GetArraySize(c), 1);
		assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(r, "uid")), 65534);
		assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "user")), "nobody");
		assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "kind")), "device");
		/* named by its descriptor hash, with what the gate saw of it */
		assert_int_equal(strlen(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "hash"))), 64);
		assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "vendor")), "dead");
		assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "product")), "beef");
		assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "serial")), "NOTE1");
	}
	snprintf(cmd, sizeof(cmd), "kill $(cat %s/notifyd.pid) $(cat %s/bus.pid)", prep, prep);
	(void)run(cmd);
	g_free(dev);
	g_free(dev2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_notify_request)};
	int rc;

	if (testbed_setup("usb_notify_request", "1") < 0)
		return 1;
	rc = cmocka_run_group_tests_name("usb_notify_request", tests, NULL, NULL);
	testbed_teardown();
	return rc;
}
