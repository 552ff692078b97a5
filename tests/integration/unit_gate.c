/* tests/integration/unit_gate.c — the USB gate's sysfs writes and the
 * blocked-device notification under the shipped unit's settings (issue 11.2;
 * run by unit_privileges.sh under umockdev-wrapper). mamorid is started
 * through MAMORI_UNIT_RUN, a script that applies the capability sets, secure
 * bits, no_new_privs and SystemCallFilter= parsed from installer/mamorid.service
 * (setpriv + itests/unitexec). On a umockdev testbed:
 *  - the root hub's authorized_default goes 1 -> 0 (written by the gate);
 *  - a device present at start with authorized=1 that the signed policy
 *    blocks is set to 0 (present_devices "apply"), one it allows plugged
 *    later goes 0 -> 1 (MEDIA-1);
 *  - a blocked device plugged later reaches the active session's user as an
 *    org.freedesktop.Notifications.Notify call on a real session bus: a
 *    dbus-daemon run as that user (nobody) for this test; the oracle is
 *    dbus-monitor on that bus. The notify child (setpriv to the user, then
 *    gdbus) runs under the worker's inherited filter and capabilities. */
#include <signal.h>
#include <stdbool.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <umockdev.h>

#include "gate_testbed.h"

#define SESSION_UID 65534 /* nobody: a user with a passwd entry that is not root */

static bool monitor_has(const char *want, int ms)
{
	for (int i = 0; i < ms / 50; i++) {
		if (strstr(prep_read("monitor.log"), want))
			return true;
		usleep(50000);
	}
	return strstr(prep_read("monitor.log"), want) != NULL;
}

static void test_unit_gate(void **state)
{
	char cmd[16384];
	const char *wrap = getenv("MAMORI_UNIT_RUN");
	char *present, *allowed, *blocked;

	(void)state;
	assert_non_null(wrap);
	snprintf(cmd, sizeof(cmd),
	         "mkdir -p %s/etc/mamori %s/var/lib/mamori %s/run/systemd/sessions %s/run/user/%d && "
	         "cp %s/agent.conf %s/policy.pub %s/etc/mamori/ && "
	         "cp %s/policy.json %s/policy.json.sig %s/var/lib/mamori/ && "
	         "chmod o+x %s %s/run %s/run/user && chown %d:%d %s/run/user/%d && "
	         "printf 'UID=%d\\nUSER=nobody\\nACTIVE=1\\nSTATE=active\\nTYPE=x11\\nCLASS=user\\n' "
	         ">%s/run/systemd/sessions/1",
	         tbroot, tbroot, tbroot, tbroot, SESSION_UID, prep, prep, tbroot, prep, prep, tbroot, tbroot, tbroot,
	         tbroot, SESSION_UID, SESSION_UID, tbroot, SESSION_UID, SESSION_UID, tbroot);
	assert_int_equal(run(cmd), 0);
	/* the session bus of the user, and dbus-monitor on it (both as that user) */
	snprintf(cmd, sizeof(cmd),
	         "setpriv --reuid=%d --regid=%d --clear-groups dbus-daemon --session "
	         "--address=unix:path=%s/run/user/%d/bus --fork --print-pid >%s/dbus.pid && "
	         "for i in $(seq 50); do [ -S %s/run/user/%d/bus ] && break; sleep 0.1; done && "
	         "{ DBUS_SESSION_BUS_ADDRESS=unix:path=%s/run/user/%d/bus setsid setpriv --reuid=%d --regid=%d "
	         "--clear-groups dbus-monitor --session \"interface='org.freedesktop.Notifications'\" "
	         ">%s/monitor.log 2>&1 </dev/null & echo $! >%s/monitor.pid; } && sleep 0.5",
	         SESSION_UID, SESSION_UID, tbroot, SESSION_UID, prep, tbroot, SESSION_UID, tbroot, SESSION_UID,
	         SESSION_UID, SESSION_UID, prep, prep);
	assert_int_equal(run(cmd), 0);

	/* present before the agent starts, authorized by the kernel's default */
	present = insert(2, "dead", "beef", "PRESENT1");
	assert_string_equal(attr(present, "authorized"), "1");
	assert_string_equal(attr(hub, "authorized_default"), "1");

	gate = fork();
	assert_true(gate >= 0);
	if (gate == 0) {
		char path[4096], log[4096];
		snprintf(path, sizeof(path), "%s/mamorid", bindir);
		snprintf(log, sizeof(log), "%s/gate.log", prep);
		if (!freopen(log, "w", stderr))
			_exit(126);
		execl(wrap, wrap, path, "--root", tbroot, "--foreground", "--log-level", "debug", (char *)NULL);
		_exit(127);
	}
	/* the gate, under the unit's settings, writes the hub's default ... */
	assert_true(wait_attr(hub, "authorized_default", "0", 5000));
	assert_true(worker_pid(8000) > 0);
	/* ... takes the blocked present device away ... */
	assert_true(wait_attr(present, "authorized", "0", 5000));
	/* ... and lets the allowed one in */
	allowed = insert(3, "0781", "5581", "ALLOWED1");
	assert_true(wait_attr(allowed, "authorized", "1", 3000));
	blocked = insert(4, "dead", "beef", "BLOCKED1");
	usleep(300000);
	assert_string_equal(attr(blocked, "authorized"), "0");
	/* the person at the desktop is told (a real bus; dbus-monitor judges) */
	if (!monitor_has("member=Notify", 8000) || !monitor_has("USB device blocked", 1000)) {
		fprintf(stderr, "unit_gate: no Notify call on the session bus; dbus-monitor saw:\n%s\n",
		        prep_read("monitor.log"));
		fail();
	}
	assert_true(monitor_has("dead:beef", 100));
	gate_stop();
	g_free(present);
	g_free(allowed);
	g_free(blocked);
}

static void stop_bus(void)
{
	char cmd[8192];

	snprintf(cmd, sizeof(cmd),
	         "for f in %s/monitor.pid %s/dbus.pid; do [ -s $f ] && kill \"$(head -1 $f)\" 2>/dev/null; done; true",
	         prep, prep);
	run_quiet(cmd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_unit_gate)};
	int rc;

	if (testbed_setup("unit_gate", "1") < 0)
		return 1;
	rc = cmocka_run_group_tests_name("unit_gate", tests, NULL, NULL);
	stop_bus();
	testbed_teardown();
	return rc;
}
