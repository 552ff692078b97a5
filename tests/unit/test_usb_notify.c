/* tests/unit/test_usb_notify.c — agent/sdk/notify.c as the usb module uses it
 * (unit test; root: the notification runs as another user via setpriv).
 *
 * No session bus can run in CI, so `gdbus` is a fake script first on PATH
 * that records its arguments, uid and bus address: this tests how we find the
 * session (logind files under the root prefix), what we run and as whom, the
 * concurrency cap and reaping — not D-Bus itself. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "fileio.h"
#include "notify.h"
#include "rootpath.h"

static char root[64], bin[128], out[128];

static void put(const char *rel, const char *text, int mode)
{
	char p[512], d[512];
	snprintf(p, sizeof(p), "%s%s", root, rel);
	snprintf(d, sizeof(d), "%s", p);
	*strrchr(d, '/') = '\0';
	assert_int_equal(mkdir_p(d, 0755), 0);
	FILE *f = fopen(p, "we");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	chmod(p, (mode_t)mode);
}

static int setup(void **s)
{
	(void)s;
	char script[1024];
	snprintf(root, sizeof(root), "/tmp/mamori-notify.XXXXXX");
	assert_non_null(mkdtemp(root));
	chmod(root, 0755);
	snprintf(bin, sizeof(bin), "%s/bin", root);
	snprintf(out, sizeof(out), "%s/out", root);
	assert_int_equal(mkdir_p(out, 0777), 0);
	chmod(out, 0777);
	snprintf(script, sizeof(script),
	         "#!/bin/sh\n"
	         "{ id -u; echo \"$DBUS_SESSION_BUS_ADDRESS\"; printf '%%s\\n' \"$@\"; } > %s/call.$$\n"
	         "mv %s/call.$$ %s/call.done.$$\n",
	         out, out, out);
	put("/bin/gdbus", script, 0755);
	char path[1024];
	snprintf(path, sizeof(path), "%s:%s", bin, getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
	setenv("PATH", path, 1);
	assert_int_equal(root_set(root), 0);
	return 0;
}

static int teardown(void **s)
{
	(void)s;
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static char *wait_call(void)
{
	char cmd[256];
	for (int i = 0; i < 300; i++) {
		snprintf(cmd, sizeof(cmd), "cat %s/call.done.* 2>/dev/null", out);
		FILE *p = popen(cmd, "r");
		static char buf[4096];
		size_t n = fread(buf, 1, sizeof(buf) - 1, p);
		pclose(p);
		buf[n] = '\0';
		if (n)
			return buf;
		usleep(10000);
	}
	return NULL;
}

static void test_no_session(void **s)
{
	(void)s;
	struct notify *n = NULL;
	assert_int_equal(notify_new(2, &n), 0);
	assert_int_equal(notify_send(n, "x", "y"), -ENXIO);
	/* a session without a bus socket is no session either */
	put("/run/systemd/sessions/3", "UID=65534\nACTIVE=1\nCLASS=user\nTYPE=wayland\n", 0644);
	assert_int_equal(notify_send(n, "x", "y"), -ENXIO);
	notify_free(n);
	assert_int_equal(notify_new(0, &n), -EINVAL);
}

static void test_sends_as_session_user(void **s)
{
	(void)s;
	struct notify *n = NULL;
	char bus[600];
	if (geteuid() != 0)
		fail_msg("test_usb_notify must run as root (setpriv to the session user)");
	put("/run/systemd/sessions/2", "UID=0\nACTIVE=0\nCLASS=user\nTYPE=tty\n", 0644);
	put("/run/systemd/sessions/3", "UID=65534\nACTIVE=1\nCLASS=user\nTYPE=wayland\n", 0644);
	put("/run/systemd/sessions/4", "UID=1\nACTIVE=1\nCLASS=greeter\nTYPE=x11\n", 0644);
	put("/run/user/65534/bus", "", 0644);
	assert_int_equal(notify_new(2, &n), 0);
	assert_int_equal(notify_send(n, "USB機器の使用を止めました", "\"Stick\" \\ (0781:5581)\x07 です"), 0);
	char *c = wait_call();
	assert_non_null(c);
	fprintf(stderr, "fake gdbus got:\n%s", c);
	snprintf(bus, sizeof(bus), "65534\nunix:path=%s/run/user/65534/bus\n", root);
	assert_true(strncmp(c, bus, strlen(bus)) == 0);
	assert_non_null(strstr(c, "--method=org.freedesktop.Notifications.Notify"));
	assert_non_null(strstr(c, "\n\"USB機器の使用を止めました\"\n"));
	/* quotes and backslashes escaped for GVariant text, control bytes dropped */
	assert_non_null(strstr(c, "\n\"\\\"Stick\\\" \\\\ (0781:5581) です\"\n"));
	for (int i = 0; i < 200 && notify_reap(n) > 0; i++)
		usleep(10000);
	assert_int_equal(notify_reap(n), 0);
	notify_free(n);
}

static void test_cap_and_reap(void **s)
{
	(void)s;
	struct notify *n = NULL;
	put("/run/systemd/sessions/3", "UID=65534\nACTIVE=1\nCLASS=user\nTYPE=x11\n", 0644);
	put("/run/user/65534/bus", "", 0644);
	assert_int_equal(notify_new(1, &n), 0);
	/* a slow notification: the cap of 1 drops the second one */
	put("/bin/gdbus", "#!/bin/sh\nsleep 0.5\n", 0755);
	assert_int_equal(notify_send(n, "a", "b"), 0);
	assert_int_equal(notify_send(n, "a", "b"), -EBUSY);
	assert_int_equal(notify_dropped(n), 1);
	for (int i = 0; i < 300 && notify_reap(n) > 0; i++)
		usleep(10000);
	assert_int_equal(notify_reap(n), 0);
	assert_int_equal(notify_send(n, "a", "b"), 0);
	notify_free(n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_no_session, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_sends_as_session_user, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_cap_and_reap, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
