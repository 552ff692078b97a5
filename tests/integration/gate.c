/* tests/integration/gate.c — mamorid (the USB gate) and mamori-worker as
 * processes, on a umockdev testbed (run by gate.sh under umockdev-wrapper):
 * the gate fails closed at start, decides devices with the signed policy the
 * worker verified, keeps deciding while the worker is killed (MEDIA-1), the
 * worker is restarted, and every decision — also those made while it was
 * down — reaches the journal exactly once, in a chain that verifies (LOG-1).
 * A retired terminal (MDM-3) blocks every device after a restart. */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <umockdev.h>

#include "control.h"
#include "json-util.h"
#include "strutil.h"

#include "gate_testbed.h"

static cJSON *status(void)
{
	return control("{\"cmd\":\"status\"}");
}

/* true once the worker's status has key == want (within ms) */
static bool status_number(const char *key, double want, int ms)
{
	for (int i = 0; i < ms / 50; i++) {
		_cleanup_json_ cJSON *s = status();
		const cJSON *v = s ? cJSON_GetObjectItemCaseSensitive(s, key) : NULL;

		if (cJSON_IsNumber(v) && v->valuedouble == want)
			return true;
		usleep(50000);
	}
	return false;
}

static void test_gate_and_worker(void **state)
{
	char cmd[8192], out[65536];
	pid_t w1, w2;
	char *a, *b, *c, *dd, *e, *x;
	FILE *f;
	int st;

	(void)state;
	assert_int_equal(testbed_install_root(), 0);

	notify_listen();
	assert_true(testbed_start_gate("w") > 0);
	/* fail closed at start: the hub's default is 0 before anything is decided */
	assert_true(wait_attr(hub, "authorized_default", "0", 5000));
	w1 = worker_pid(5000);
	assert_true(w1 > 0);
	/* systemd hears READY=1 from mamorid once the gate decides */
	assert_true(notify_expect("READY=1", 5000));

	/* the signed policy (verified by the worker) decides */
	a = insert(3, "0781", "5581", "ALLOWED1");
	assert_true(wait_attr(a, "authorized", "1", 2000));
	/* its disk appears: the medium the gate decided reaches the worker's
	 * registry (agent/sdk/media.h), where the carry module follows it (CARRY-1) */
	{
		char node[4096], *intf, *blk;

		intf = umockdev_testbed_add_device(tb, "usb", "1-3:1.0", a, "authorized", "0", NULL, "DEVTYPE",
		                                   "usb_interface", "INTERFACE", "8/6/80", "PRODUCT", "781/5581/100",
		                                   NULL);
		assert_non_null(intf);
		if (!auto_uevent)
			umockdev_testbed_uevent(tb, intf, "add");
		snprintf(node, sizeof(node), "%s/dev", tbroot);
		g_mkdir_with_parents(node, 0755);
		snprintf(node, sizeof(node), "%s/dev/sdq", tbroot);
		FILE *img = fopen(node, "we");
		assert_non_null(img);
		assert_int_equal(ftruncate(fileno(img), 1 << 20), 0);
		fclose(img);
		blk = umockdev_testbed_add_device(tb, "block", "sdq", intf, "ro", "0", NULL, "DEVTYPE", "disk",
		                                  "DEVNAME", "/dev/sdq", "MAJOR", "8", "MINOR", "16", NULL);
		assert_non_null(blk);
		if (!auto_uevent)
			umockdev_testbed_uevent(tb, blk, "add");
		assert_true(status_number("media", 1, 3000));
		umockdev_testbed_uevent(tb, blk, "remove");
		umockdev_testbed_remove_device(tb, blk);
		assert_true(status_number("media", 0, 3000));
		g_free(blk);
		g_free(intf);
	}
	b = insert(4, "dead", "beef", "UNKNOWN1");
	usleep(200000);
	assert_string_equal(attr(b, "authorized"), "0");

	/* an approved exception (OPS-3) lets one blocked device in; an expired one does not */
	e = insert(7, "dead", "beef", "EXCEPT1");
	assert_true(wait_attr(e, "authorized", "1", 2000));
	x = insert(8, "dead", "beef", "EXPIRED1");
	usleep(200000);
	assert_string_equal(attr(x, "authorized"), "0");

	/* the worker dies: the gate keeps deciding, with the same policy */
	assert_int_equal(kill(w1, SIGKILL), 0);
	c = insert(5, "0781", "5581", "ALLOWED2");
	assert_true(wait_attr(c, "authorized", "1", 2000));
	dd = insert(6, "dead", "beef", "UNKNOWN2");
	usleep(200000);
	assert_string_equal(attr(dd, "authorized"), "0");

	/* … and restarts it */
	w2 = worker_pid(8000);
	assert_true(w2 > 0);
	assert_true(w2 != w1);

	assert_int_equal(kill(gate, SIGTERM), 0);
	assert_true(notify_expect("STOPPING=1", 5000));
	assert_int_equal(waitpid(gate, &st, 0), gate);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);

	/* every decision is in the journal once, also those made while the worker was down */
	assert_int_equal(testbed_ctl("journal show"), 0);
	(void)strscpy(out, sizeof(out), prep_read("out.txt")); /* a longer journal is cut, as fread cut it */
	static const char *const want[][2] = {
	        {"usb.allowed", "ALLOWED1"},
	        {"usb.blocked", "UNKNOWN1"},
	        {"usb.allowed", "ALLOWED2"},
	        {"usb.blocked", "UNKNOWN2"},
	};
	for (size_t i = 0; i < 4; i++) {
		int count = 0;
		for (char *line = out; line && *line;) {
			char *nl = strchr(line, '\n');
			if (nl)
				*nl = '\0';
			/* device decisions only: the disk of ALLOWED1 has its own (devnode=…) */
			if (strstr(line, want[i][0]) && strstr(line, want[i][1]) && !strstr(line, "devnode="))
				count++;
			if (nl)
				*nl = '\n';
			line = nl ? nl + 1 : NULL;
		}
		if (count != 1)
			fail_msg("%s for %s: %d events\n%s", want[i][0], want[i][1], count, out);
	}
	/* every identity has its descriptor hash, also those decided while the
	 * worker was down: the gate hashes itself (common/sha256.c, issue 19.2) */
	snprintf(cmd, sizeof(cmd),
	         "%s/mamorictl --root %s journal export --format jsonl > %s/events.jsonl 2>&1 && "
	         "n=$(grep -E '\"usb\\.(allowed|blocked)\"' %s/events.jsonl | grep -vc devnode) && [ \"$n\" -ge 6 ] && "
	         "! grep -E '\"usb\\.(allowed|blocked)\"' %s/events.jsonl | grep -v devnode | "
	         "grep -Ev '\"device\":\\{[^}]*\"hash\":\"[0-9a-f]{64}\"' >&2",
	         bindir, tbroot, prep, prep, prep);
	if (run(cmd) != 0)
		fail_msg("a decision's identity lacks its descriptor hash (lines above)");
	snprintf(cmd, sizeof(cmd), "%s/mamorictl --root %s journal verify >/dev/null", bindir, tbroot);
	assert_int_equal(run(cmd), 0);

	/* MDM-3: a retired terminal (state_dir/retired, written by `retire`)
	 * blocks every device from the start on: those the policy allows and
	 * the one its exception let in are taken back, a new allowed one stays
	 * out, with the same signed policy from the worker */
	snprintf(cmd, sizeof(cmd), "%s/var/lib/mamori/retired", tbroot);
	f = fopen(cmd, "we");
	assert_non_null(f);
	fputs("0123456789abcdef0123456789abcdef 1800000000\n", f);
	fclose(f);
	assert_string_equal(attr(a, "authorized"), "1");
	assert_true(testbed_start_gate("a") > 0);
	assert_true(worker_pid(8000) > 0);
	assert_true(wait_attr(a, "authorized", "0", 5000));
	assert_true(wait_attr(c, "authorized", "0", 2000));
	assert_true(wait_attr(e, "authorized", "0", 2000));
	{
		char *y = insert(9, "0781", "5581", "ALLOWED3");

		usleep(500000);
		assert_string_equal(attr(y, "authorized"), "0");
		g_free(y);
	}
	assert_int_equal(kill(gate, SIGTERM), 0);
	assert_int_equal(waitpid(gate, &st, 0), gate);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	g_free(a);
	g_free(b);
	g_free(c);
	g_free(dd);
	g_free(e);
	g_free(x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_gate_and_worker)};

	return testbed_run("gate", "1", tests);
}
