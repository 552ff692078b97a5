/* tests/integration/usb_local.c — local USB exceptions and the decision
 * stream against the real mamorid + mamori-worker on a umockdev testbed (run
 * by usb_local.sh under umockdev-wrapper; issue 12.6, OPS-3, MEDIA-1):
 *
 * - `mamorictl usb allow PORT` lets a blocked device in at once (no
 *   replug), `usb block PORT` takes an allowed one away at once;
 * - the exception survives a restart of mamorid (the worker persisted it);
 * - an --until exception ends by the agent's clock and the device is
 *   deauthorized; a window beyond max_hours is refused;
 * - `usb exceptions` lists them with who (uid 0 from SO_PEERCRED) and why;
 *   `usb revoke` ends one at once;
 * - a new policy version ends --permanent ones; a policy that forbids local
 *   allow exceptions ends the ones in force and refuses new ones (journaled);
 * - `usb watch` streams the decisions, ends with 0 on SIGINT and when the
 *   agent stops. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <umockdev.h>

#include "control.h"
#include "json-util.h"

#include "gate_testbed.h"

/* `usb exceptions --json`, parsed */
static cJSON *exceptions(void)
{
	assert_int_equal(testbed_ctl("usb exceptions --json"), 0);
	return cJSON_Parse(prep_read("out.txt"));
}

static const cJSON *exception_for(const cJSON *ex, const char *serial)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(ex, "exceptions"))
	{
		const cJSON *dev = cJSON_GetObjectItemCaseSensitive(it, "device");
		const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(dev, "serial"));
		if (s && strcmp(s, serial) == 0)
			return it;
	}
	return NULL;
}

/* `mamorictl usb watch` in the background: its pid (output to prep/NAME) */
static pid_t watch_start(const char *name, bool json)
{
	pid_t p = fork();

	assert_true(p >= 0);
	if (p == 0) {
		char path[4096], out[4096], bin[4096];
		snprintf(path, sizeof(path), "%s/%s", prep, name);
		snprintf(out, sizeof(out), "%s/%s.err", prep, name);
		snprintf(bin, sizeof(bin), "%s/mamorictl", bindir);
		unsetenv("LD_PRELOAD");
		if (!freopen(path, "w", stdout) || !freopen(out, "w", stderr))
			_exit(126);
		execl(bin, "mamorictl", "--root", tbroot, "--lang", "en", "usb", "watch", json ? "--json" : NULL,
		      (char *)NULL);
		_exit(127);
	}
	return p;
}

/* the watcher's exit status within ms, or -1 if it still runs */
static int watch_wait(pid_t p, int ms)
{
	int st;

	for (int i = 0; i < ms / 20; i++) {
		pid_t r = waitpid(p, &st, WNOHANG);
		if (r == p)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		usleep(20000);
	}
	kill(p, SIGKILL);
	waitpid(p, &st, 0);
	return -1;
}

static void install_policy(int version)
{
	char cmd[8192];

	snprintf(cmd, sizeof(cmd),
	         "cp %s/policy%d.json %s/var/lib/mamori/policy.json && cp %s/policy%d.json.sig "
	         "%s/var/lib/mamori/policy.json.sig",
	         prep, version, tbroot, prep, version, tbroot);
	assert_int_equal(run(cmd), 0);
}

static void test_local_exceptions(void **state)
{
	char cmd[16384], until[64], id_b[80];
	char *a, *b, *c;
	pid_t w1, w2;
	cJSON *ex;
	const cJSON *e;
	time_t t;
	struct tm tm;

	(void)state;
	snprintf(cmd, sizeof(cmd),
	         "mkdir -p %s/etc/mamori %s/var/lib/mamori && cp %s/agent.conf %s/policy.pub %s/etc/mamori/", tbroot,
	         tbroot, prep, prep, tbroot);
	assert_int_equal(run(cmd), 0);
	install_policy(3);
	gate_start("gate.log");
	w1 = watch_start("watch1.jsonl", true);
	w2 = watch_start("watch2.txt", false);

	a = insert(3, "0781", "5581", "KIOSK1"); /* allowed by the policy */
	b = insert(4, "dead", "beef", "LOCAL1"); /* blocked by the default */
	c = insert(5, "dead", "beef", "SHORT1"); /* blocked by the default */
	assert_true(wait_attr(a, "authorized", "1", 3000));
	usleep(300000);
	assert_string_equal(attr(b, "authorized"), "0");
	assert_string_equal(attr(c, "authorized"), "0");
	/* allow: at once, without replug */
	assert_int_equal(testbed_ctl("usb allow 1-4 --reason \"contractor meter \\\"M-7\\\"\""), 0);
	assert_true(wait_attr(b, "authorized", "1", 3000));
	ex = exceptions();
	e = exception_for(ex, "LOCAL1");
	assert_non_null(e);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "action")), "allow");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "reason")),
	                    "contractor meter \"M-7\"");
	assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(e, "uid")), 0);
	assert_true(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(e, "pid")) > 0);
	/* bounded: the policy's default window (8 h) */
	{
		double na = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(e, "not_after"));
		double now = (double)time(NULL);
		assert_true(na > now + 8 * 3600 - 60 && na <= now + 8 * 3600 + 5);
	}
	snprintf(id_b, sizeof(id_b), "%s", cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "id")));
	cJSON_Delete(ex);

	/* block: at once; --permanent = until the next policy version */
	assert_int_equal(testbed_ctl("usb block 1-3 --permanent --reason 'reported lost'"), 0);
	assert_true(wait_attr(a, "authorized", "0", 3000));

	/* not root: refused and journaled, whoever can reach the socket (the
	 * mamori group) — uid 65534 with gid 0 here */
	{
		char sock[4096];
		pid_t p;
		int st;

		snprintf(cmd, sizeof(cmd), "chmod 0711 %s %s/run && chmod 0755 %s/run/mamori", tbroot, tbroot, tbroot);
		assert_int_equal(run(cmd), 0);
		snprintf(sock, sizeof(sock), "%s/run/mamori/mamorid.sock", tbroot);
		p = fork();
		assert_true(p >= 0);
		if (p == 0) {
			char *resp = NULL;
			static const char req[] = "{\"cmd\":\"usb_allow\",\"args\":{\"device\":{\"hash\":"
			                          "\""
			                          "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
			                          "\"},\"reason\":\"not root\"}}";

			if (setgroups(0, NULL) < 0 || setgid(0) < 0 || setuid(65534) < 0)
				_exit(3);
			if (control_call(sock, req, 3000, &resp) < 0)
				_exit(4);
			_exit(strstr(resp, "\"ok\":false") && strstr(resp, "not_root") ? 0 : 5);
		}
		assert_int_equal(waitpid(p, &st, 0), p);
		assert_true(WIFEXITED(st));
		assert_int_equal(WEXITSTATUS(st), 0);
	}

	/* a window beyond usb.local_exceptions.max_hours (24) is refused */
	assert_int_not_equal(testbed_ctl("usb allow 1-5 --hours 25 --reason long"), 0);
	assert_non_null(strstr(prep_read("err.txt"), "window_too_long"));
	assert_string_equal(attr(c, "authorized"), "0");
	/* a reason is required */
	assert_int_equal(testbed_ctl("usb allow 1-5"), 2);

	/* --until: ends by the agent's clock, the device goes */
	t = time(NULL) + 3;
	gmtime_r(&t, &tm);
	strftime(until, sizeof(until), "%Y-%m-%dT%H:%M:%SZ", &tm);
	assert_int_equal(testbed_ctl("usb allow 1-5 --until %s --reason 'three seconds'", until), 0);
	assert_true(wait_attr(c, "authorized", "1", 3000));
	assert_true(wait_attr(c, "authorized", "0", 6000));

	/* `usb watch` ends cleanly on SIGINT */
	assert_int_equal(kill(w2, SIGINT), 0);
	assert_int_equal(watch_wait(w2, 3000), 0);

	/* persisted: a new mamorid (and worker) applies the exceptions again */
	gate_stop();
	assert_int_equal(watch_wait(w1, 3000), 0); /* the stream ends with the agent */
	gate_start("gate2.log");
	assert_true(wait_attr(b, "authorized", "1", 5000));
	usleep(500000);
	assert_string_equal(attr(a, "authorized"), "0");

	/* revoke: at once */
	assert_int_equal(testbed_ctl("usb revoke %s --reason 'meter returned'", id_b), 0);
	assert_true(wait_attr(b, "authorized", "0", 3000));
	assert_int_not_equal(testbed_ctl("usb revoke %s", id_b), 0); /* gone */

	/* a new policy version that forbids local allow exceptions: the timed
	 * allow ends (policy_forbids), the --permanent block ends (new version) */
	assert_int_equal(testbed_ctl("usb allow 1-4 --reason again"), 0);
	assert_true(wait_attr(b, "authorized", "1", 3000));
	install_policy(4);
	assert_int_equal(testbed_ctl("reload"), 0);
	assert_true(wait_attr(b, "authorized", "0", 5000));
	assert_true(wait_attr(a, "authorized", "1", 5000));
	ex = exceptions();
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(ex, "exceptions")), 0);
	cJSON_Delete(ex);
	/* … and refuses new ones, journaled */
	assert_int_not_equal(testbed_ctl("usb allow 1-4 --reason 'not here'"), 0);
	assert_non_null(strstr(prep_read("err.txt"), "policy_forbids"));
	usleep(300000);
	assert_string_equal(attr(b, "authorized"), "0");
	/* blocking stays possible */
	assert_int_equal(testbed_ctl("usb block 1-3 --reason 'still possible'"), 0);
	assert_true(wait_attr(a, "authorized", "0", 3000));

	/* what the gate recorded is journaled before it stops (else it waits in
	 * gate.spool for the next mamorid) */
	for (int i = 0; i < 50; i++) {
		snprintf(cmd, sizeof(cmd),
		         "%s/mamorictl --root %s journal export --format jsonl | jq -e -s "
		         "'map(select(.type==\"usb.exception_ended\" "
		         "and .payload.reason==\"policy_changed\")) | length > 0' >/dev/null 2>&1",
		         bindir, tbroot);
		if (run_quiet(cmd) == 0)
			break;
		usleep(100000);
	}
	gate_stop();

	/* the journal: who, why, every end */
	snprintf(cmd, sizeof(cmd), "%s/mamorictl --root %s journal export --format jsonl > %s/usb_local.jsonl", bindir,
	         tbroot, prep);
	assert_int_equal(run(cmd), 0);
	{
		static const char *const want[] = {
		        "select(.type==\"usb.exception_added\" and .payload.action==\"allow\" and .payload.uid==0 and "
		        ".payload.reason==\"contractor meter \\\"M-7\\\"\" and .payload.device.serial==\"LOCAL1\")",
		        "select(.type==\"usb.exception_added\" and .payload.action==\"block\" and "
		        ".payload.permanent==true)",
		        "select(.type==\"usb.exception_ended\" and .payload.reason==\"expired\")",
		        "select(.type==\"usb.exception_ended\" and .payload.reason==\"policy_forbids\")",
		        "select(.type==\"usb.exception_ended\" and .payload.reason==\"policy_changed\")",
		        "select(.type==\"usb.exception_revoked\" and .payload.reason==\"meter returned\")",
		        "select(.type==\"usb.exception_refused\" and .payload.reason==\"policy_forbids\")",
		        "select(.type==\"usb.exception_refused\" and .payload.reason==\"window_too_long\")",
		        "select(.type==\"usb.exception_refused\" and .payload.reason==\"not_root\" and "
		        ".payload.uid==65534)",
		        "select(.type==\"usb.allowed\" and .payload.reason==\"local_exception\")",
		        "select(.type==\"usb.blocked\" and .payload.reason==\"local_exception\")",
		};
		for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
			snprintf(cmd, sizeof(cmd), "test -n \"$(jq -c '%s' %s/usb_local.jsonl)\"", want[i], prep);
			if (run(cmd) != 0) {
				snprintf(cmd, sizeof(cmd),
				         "jq -c 'select(.type|startswith(\"usb.exception\"))|[.type,.payload]' "
				         "%s/usb_local.jsonl >&2",
				         prep);
				run(cmd);
				snprintf(cmd, sizeof(cmd),
				         "grep -i 'exception_ended\\|cannot record\\|refused' %s/gate2.log | tail -30 "
				         ">&2",
				         prep);
				run(cmd);
				fail_msg("no journal record for: %s", want[i]);
			}
		}
	}
	/* the CSV register names the device of an exception, and who */
	snprintf(cmd, sizeof(cmd),
	         "%s/mamorictl --root %s journal export --format csv > %s/register.csv && "
	         "grep -q '\"usb.exception_added\",\"warning\",\"[^\"]*\",\"root\",\"dead:beef LOCAL1\"' "
	         "%s/register.csv",
	         bindir, tbroot, prep, prep);
	if (run(cmd) != 0)
		fail_msg("CSV register: usb.exception_added:\n%s", prep_read("register.csv"));

	/* the stream saw the decisions as they happened */
	snprintf(cmd, sizeof(cmd),
	         "jq -e -s 'map(select(.type==\"usb.allowed\" and .payload.reason==\"local_exception\")) | length > 0' "
	         "%s/watch1.jsonl >/dev/null && jq -e -s 'map(select(.type==\"usb.exception_added\")) | length > 0' "
	         "%s/watch1.jsonl >/dev/null && grep -q 'usb.allowed' %s/watch2.txt",
	         prep, prep, prep);
	if (run(cmd) != 0)
		fail_msg("watch output:\n%s\n---\n%s", prep_read("watch1.jsonl"), prep_read("watch2.txt"));
	snprintf(cmd, sizeof(cmd), "%s/mamorictl --root %s journal verify >/dev/null", bindir, tbroot);
	assert_int_equal(run(cmd), 0);
	g_free(a);
	g_free(b);
	g_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_local_exceptions)};

	return testbed_run("usb_local", "1", tests);
}
