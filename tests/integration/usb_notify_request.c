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
 * uid that is not the session's this way.
 *
 * Then the per-uid bounds of the control socket on the same real worker
 * (issue 16; limits() below). */
#include <errno.h>
#include <grp.h>
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

#include "alloc-util.h"
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

/* The per-uid bounds of the 0666 control socket (issue 16), on the real
 * worker: uid 65534 holding CONTROL_MAX_CLIENTS_PER_UID connections gets a
 * clear refusal for one more (control.refused journaled, counted in
 * status), and with REQUEST_QUEUED_PER_UID_MAX requests waiting to be sent
 * (no server here: none is ever sent) the next is refused
 * (too_many_queued) — the queued ones stay in the journal. */
static void limits(void)
{
	char cmd[8192], sock[4096], c;
	int ready[2], done[2], st;
	pid_t p;

	snprintf(sock, sizeof(sock), "%s/run/mamori/mamorid.sock", tbroot);
	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(done), 0);
	p = fork();
	assert_true(p >= 0);
	if (p == 0) {
		int fds[CONTROL_MAX_CLIENTS_PER_UID];

		close(ready[0]);
		close(done[1]);
		if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
			_exit(3);
		for (size_t i = 0; i < ELEMENTSOF(fds); i++) {
			struct sockaddr_un sa = {.sun_family = AF_UNIX};

			fds[i] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
			(void)strscpy(sa.sun_path, sizeof(sa.sun_path), sock);
			if (fds[i] < 0 || connect(fds[i], (struct sockaddr *)&sa, sizeof(sa)) < 0)
				_exit(4);
		}
		if (write(ready[1], "r", 1) != 1 || read(done[0], &c, 1) < 0)
			_exit(5);
		_exit(0);
	}
	close(ready[1]);
	close(done[0]);
	assert_int_equal(read(ready[0], &c, 1), 1);
	usleep(300000); /* the worker accepted them */
	snprintf(cmd, sizeof(cmd),
	         "runuser -u nobody -- %s/mamorictl --root %s --lang en request device 1-3 > %s/lim.out 2> %s/lim.err",
	         bindir, tbroot, prep, prep);
	assert_int_equal(run_quiet(cmd), 1);
	assert_non_null(strstr(prep_read("lim.err"), "too many connections of this user at once"));
	assert_non_null(strstr(prep_read("lim.err"), "同時接続が多すぎます"));
	assert_int_equal(write(done[1], "d", 1), 1);
	assert_int_equal(waitpid(p, &st, 0), p);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	close(ready[0]);
	close(done[1]);
	usleep(300000); /* the worker saw them go */

	/* 15 more (the notification made one): the bound, then a refusal */
	snprintf(cmd, sizeof(cmd),
	         "for i in $(seq 15); do runuser -u nobody -- %s/mamorictl --root %s --lang en request exception "
	         "--requirement OPS-1 --until $(date -u -d @%lld +%%Y-%%m-%%dT%%H:%%M:%%SZ) --reason r > /dev/null || "
	         "exit 1; done",
	         bindir, tbroot, (long long)time(NULL) + 86400);
	assert_int_equal(run(cmd), 0);
	snprintf(cmd, sizeof(cmd),
	         "runuser -u nobody -- %s/mamorictl --root %s --lang en request exception --requirement OPS-1 --until "
	         "$(date -u -d @%lld +%%Y-%%m-%%dT%%H:%%M:%%SZ) --reason r > %s/lim.out 2> %s/lim.err",
	         bindir, tbroot, (long long)time(NULL) + 86400, prep, prep);
	assert_int_equal(run_quiet(cmd), 1);
	assert_non_null(strstr(prep_read("lim.err"), "too many of this user's requests wait to be sent"));
	{
		_cleanup_json_ cJSON *s = control("{\"cmd\":\"status\"}");

		assert_non_null(s);
		assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(s, "control_refused")), 1);
		assert_int_equal(
		        (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(s, "requests_refused_queue_full")),
		        1);
	}
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

	limits();

	gate_stop();
	{
		_cleanup_json_ cJSON *c = requests_created();
		const cJSON *r = cJSON_GetArrayItem(c, 0), *d = cJSON_GetObjectItemCaseSensitive(r, "device"), *it;

		assert_non_null(c);
		/* the notification's, then the 15 of limits(): none lost */
		assert_int_equal(cJSON_GetArraySize(c), 16);
		cJSON_ArrayForEach(it, c)
		{
			assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(it, "uid")), 65534);
		}
		snprintf(cmd, sizeof(cmd),
		         "jq -e -s '[.[] | select(.type == \"request.refused\" and .payload.reason == "
		         "\"too_many_queued\" and .payload.uid == 65534)] | length == 1' %s/notify.jsonl >/dev/null && "
		         "jq -e -s '[.[] | select(.type == \"control.refused\" and .payload.reason == "
		         "\"too_many_of_uid\" and .payload.uid == 65534 and .payload.refused == 1)] | length == 1' "
		         "%s/notify.jsonl >/dev/null",
		         prep, prep);
		assert_int_equal(run(cmd), 0);
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
