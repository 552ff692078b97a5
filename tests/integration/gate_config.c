/* tests/integration/gate_config.c — mamorid fails closed on its configuration
 * (issue 11.1, MEDIA-1), as processes on a umockdev testbed (run by
 * gate_config.sh under umockdev-wrapper):
 *  - a typo (`modules = all,usbb`) stops mamorid with EX_CONFIG, naming the
 *    line, the key and the wrong word, and the root hub keeps
 *    authorized_default=0 (new devices stay blocked);
 *  - a module list without usb (`modules = timesync`) does not switch the
 *    gate off: the hub gets 0 and devices are decided;
 *  - `usb_gate = off`, the one way to switch it off, is journaled
 *    (agent.usb_gate_off) and reported as the failed check agent.usb_gate,
 *    and the hub's authorized_default stays 0. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
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

#include "gate_testbed.h"

static int port = 2, runs;

/* Install agent.conf (text) and the signed policy, start mamorid; its stderr
 * goes to prep/gate-N.log (returned in logpath). */
static void start_gate(const char *conf, char *logpath, size_t logsz)
{
	char cmd[8192];
	FILE *f;

	if (gate > 0) { /* a failed test left one running */
		kill(gate, SIGKILL);
		waitpid(gate, NULL, 0);
	}
	snprintf(cmd, sizeof(cmd),
	         "rm -rf %s/var/lib/mamori %s/run/mamori && mkdir -p %s/etc/mamori %s/var/lib/mamori && "
	         "cp %s/policy.pub %s/etc/mamori/ && cp %s/policy.json %s/policy.json.sig %s/var/lib/mamori/",
	         tbroot, tbroot, tbroot, tbroot, prep, tbroot, prep, prep, tbroot);
	assert_int_equal(run(cmd), 0);
	snprintf(cmd, sizeof(cmd), "%s/etc/mamori/agent.conf", tbroot);
	f = fopen(cmd, "we");
	assert_non_null(f);
	fputs(conf, f);
	fclose(f);
	snprintf(logpath, logsz, "%s/gate-%d.log", prep, ++runs);
	gate = fork();
	assert_true(gate >= 0);
	if (gate == 0) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/mamorid", bindir);
		if (!freopen(logpath, "w", stderr))
			_exit(126);
		execl(path, "mamorid", "--root", tbroot, "--foreground", (char *)NULL);
		_exit(127);
	}
}

/* mamorid's exit status within ms, or -1 if it is still running */
static int wait_exit(int ms)
{
	for (int i = 0; i < ms / 20; i++) {
		int st;
		if (waitpid(gate, &st, WNOHANG) == gate) {
			gate = 0;
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		}
		usleep(20000);
	}
	return -1;
}

static void stop_gate(void)
{
	int st;

	if (gate <= 0)
		return;
	kill(gate, SIGTERM);
	waitpid(gate, &st, 0);
	gate = 0;
}

static bool file_contains(const char *path, const char *want)
{
	static char buf[1 << 16];
	FILE *f = fopen(path, "re");
	size_t n = 0;

	if (f) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	return strstr(buf, want) != NULL;
}

static void test_typo_stops_the_agent(void **state)
{
	char log[4096];
	char *dev;
	int rc;

	(void)state;
	/* the hub as an earlier run (or the kernel command line) left it */
	umockdev_testbed_set_attribute(tb, hub, "authorized_default", "0");
	start_gate("language = en\nmodules = all,usbb\n", log, sizeof(log));
	rc = wait_exit(5000);
	if (rc != 78)
		fail_msg("mamorid with `modules = all,usbb`: exit %d (want 78, EX_CONFIG; -1 = still running)", rc);
	if (!file_contains(log, "agent.conf:2: key 'modules': unknown module 'usbb'"))
		fail_msg("mamorid did not name line 2, the key and the word 'usbb' (see %s)", log);
	assert_string_equal(attr(hub, "authorized_default"), "0");
	/* nothing decides: a new device stays blocked */
	dev = insert(port++, "0781", "5581", "TYPO1");
	usleep(300000);
	assert_string_equal(attr(dev, "authorized"), "0");
	assert_string_equal(attr(hub, "authorized_default"), "0");
	g_free(dev);
}

static void test_module_list_keeps_the_gate(void **state)
{
	char log[4096];
	char *a, *b;

	(void)state;
	umockdev_testbed_set_attribute(tb, hub, "authorized_default", "1");
	start_gate("language = en\ncheck_interval = 3600\nmodules = timesync\n", log, sizeof(log));
	if (!wait_attr(hub, "authorized_default", "0", 8000))
		fail_msg("`modules = timesync` switched the USB gate off (hub authorized_default=%s)",
		         attr(hub, "authorized_default"));
	a = insert(port++, "0781", "5581", "LIST1");
	assert_true(wait_attr(a, "authorized", "1", 5000));
	b = insert(port++, "dead", "beef", "LIST2");
	usleep(300000);
	assert_string_equal(attr(b, "authorized"), "0");
	assert_int_equal(wait_exit(0), -1);
	stop_gate();
	g_free(a);
	g_free(b);
}

static void test_usb_gate_off_is_reported(void **state)
{
	char log[4096], cmd[8192];
	bool found = false;

	(void)state;
	umockdev_testbed_set_attribute(tb, hub, "authorized_default", "0");
	start_gate("language = en\ncheck_interval = 3600\nusb_gate = off\n", log, sizeof(log));
	/* the failed check, in the report the server receives with a check-in */
	for (int i = 0; i < 100 && !found; i++) {
		_cleanup_json_ cJSON *rep = control("{\"cmd\":\"report\"}");
		const cJSON *res = rep ? cJSON_GetObjectItemCaseSensitive(rep, "results") : NULL, *it;

		cJSON_ArrayForEach(it, res)
		{
			const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id");
			const cJSON *st = cJSON_GetObjectItemCaseSensitive(it, "status");
			if (cJSON_IsString(id) && strcmp(id->valuestring, "agent.usb_gate") == 0 &&
			    cJSON_IsString(st) && strcmp(st->valuestring, "fail") == 0)
				found = true;
		}
		if (!found)
			usleep(100000);
	}
	if (!found)
		fail_msg("no failed agent.usb_gate check in the posture report");
	assert_string_equal(attr(hub, "authorized_default"), "0");
	stop_gate();
	/* journaled */
	snprintf(cmd, sizeof(cmd), "%s/mamorictl --root %s --lang en journal show 2>&1 | grep -q agent.usb_gate_off",
	         bindir, tbroot);
	if (run(cmd) != 0) {
		snprintf(cmd, sizeof(cmd), "%s/mamorictl --root %s --lang en journal show >&2", bindir, tbroot);
		run(cmd);
		fail_msg("agent.usb_gate_off is not in the journal");
	}
	assert_string_equal(attr(hub, "authorized_default"), "0");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_typo_stops_the_agent),
	        cmocka_unit_test(test_module_list_keeps_the_gate),
	        cmocka_unit_test(test_usb_gate_off_is_reported),
	};

	return testbed_run("gate_config", "0", tests);
}
