/* tests/integration/gate_spool.c — events the worker had not acknowledged
 * survive the gate (issue 13, item 2; LOG-1): mamorid and mamori-worker as
 * processes on a umockdev testbed (run by gate_spool.sh under
 * umockdev-wrapper). The worker is killed so that the gate's decisions stay
 * queued during its restart back-off; then the gate is killed with SIGKILL,
 * and in a second scenario stopped with SIGTERM. The devices are removed before the next gate starts
 * (it would decide them again), so every decision in the journal comes from
 * the spool. The old gate kept them in memory only: none reached the
 * journal. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <umockdev.h>

#include "control.h"
#include "json-util.h"
#include "strutil.h"

#include "gate_testbed.h"

static void start_gate(void)
{
	assert_true(testbed_start_gate("a") > 0);
}

static void unplug(char *p)
{
	umockdev_testbed_uevent(tb, p, "remove");
	umockdev_testbed_remove_device(tb, p);
	g_free(p);
}

/* how many journal lines have both strings (device decisions only) */
static int journaled(const char *type, const char *serial)
{
	char out[131072];
	int count = 0;

	assert_int_equal(testbed_ctl("journal show"), 0);
	(void)strscpy(out, sizeof(out), prep_read("out.txt")); /* a longer journal is cut, as fread cut it */
	for (char *line = out; line && *line;) {
		char *nl = strchr(line, '\n');

		if (nl)
			*nl = '\0';
		if (strstr(line, type) && strstr(line, serial) && !strstr(line, "devnode="))
			count++;
		line = nl ? nl + 1 : NULL;
	}
	return count;
}

static void stop_gate(void)
{
	int st;

	assert_int_equal(kill(gate, SIGTERM), 0);
	assert_int_equal(waitpid(gate, &st, 0), gate);
	assert_true(WIFEXITED(st));
}

static void test_spool(void **state)
{
	char cmd[8192];
	pid_t w;
	char *b, *c, *d;

	(void)state;
	assert_int_equal(testbed_install_root(), 0);

	/* 1. kill -9 of the gate while the worker is in restart back-off: its
	 * decisions are queued, unacknowledged */
	start_gate();
	w = worker_pid(8000);
	assert_true(w > 0);
	assert_int_equal(kill(w, SIGKILL), 0);
	usleep(100000); /* the gate saw it die and waits (1 s) before the restart */
	b = insert(4, "dead", "beef", "SPOOLB1");
	c = insert(5, "0781", "5581", "SPOOLA2");
	assert_true(wait_attr(c, "authorized", "1", 600));
	assert_string_equal(attr(b, "authorized"), "0");
	usleep(300000); /* its events follow the authorization */
	assert_int_equal(kill(gate, SIGKILL), 0);
	assert_int_equal(waitpid(gate, NULL, 0), gate);
	usleep(200000);
	unplug(b);
	unplug(c);
	start_gate();
	assert_true(worker_pid(8000) > 0);
	usleep(1000000);

	/* 2. SIGTERM of the gate while the worker is in restart back-off */
	w = worker_pid(3000);
	assert_true(w > 0);
	assert_int_equal(kill(w, SIGKILL), 0);
	usleep(100000); /* the gate saw it die and waits before the restart */
	d = insert(6, "dead", "beef", "SPOOLB3");
	usleep(300000);
	assert_string_equal(attr(d, "authorized"), "0");
	stop_gate();
	unplug(d);
	start_gate();
	assert_true(worker_pid(8000) > 0);
	usleep(1000000);
	stop_gate();
	gate = 0;

	/* 3. a kill -9 loop: each round a worker dies, two devices are decided
	 * in its back-off, mamorid is killed (issue 13 "Must show"). */
	{
		enum { ROUNDS = 8 };
		int produced = 0, found = 0, counted;
		char serial[32];

		start_gate();
		for (int i = 0; i < ROUNDS; i++) {
			char *p[2];

			w = worker_pid(8000);
			assert_true(w > 0);
			assert_int_equal(kill(w, SIGKILL), 0);
			usleep(100000);
			for (int k = 0; k < 2; k++) {
				snprintf(serial, sizeof(serial), "LOOP%02d%d", i, k);
				p[k] = insert(10 + k, "dead", "beef", serial);
				produced++;
			}
			usleep(400000);
			assert_int_equal(kill(gate, SIGKILL), 0);
			assert_int_equal(waitpid(gate, NULL, 0), gate);
			unplug(p[0]);
			unplug(p[1]);
			start_gate();
		}
		assert_true(worker_pid(8000) > 0);
		usleep(1000000);
		stop_gate();
		gate = 0;
		for (int i = 0; i < ROUNDS; i++)
			for (int k = 0; k < 2; k++) {
				snprintf(serial, sizeof(serial), "LOOP%02d%d", i, k);
				found += journaled("usb.blocked", serial) >= 1;
			}
		{
			char out[64] = "";

			snprintf(cmd, sizeof(cmd),
			         "%s/mamorictl --root %s journal export --format jsonl | jq -s '[.[] | select(.type == "
			         "\"journal.overflow\") | .payload.dropped] | add // 0' > %s/counted.txt",
			         bindir, tbroot, prep);
			assert_int_equal(run(cmd), 0);
			snprintf(cmd, sizeof(cmd), "%s/counted.txt", prep);
			usbtb_read_line(cmd, out, sizeof(out));
			counted = (int)strtol(out, NULL, 10);
		}
		printf("# %-26s %9s %10s %14s %10s\n", "scenario", "produced", "journaled", "counted lost",
		       "delivered");
		printf("# %-26s %9d %10d %14d %10s\n", "gate kill -9 loop", produced, found, counted,
		       "n/a (no server)");
		assert_int_equal(found + counted, produced);
	}

	assert_int_equal(journaled("usb.blocked", "SPOOLB1"), 1);
	assert_int_equal(journaled("usb.allowed", "SPOOLA2"), 1);
	assert_int_equal(journaled("usb.blocked", "SPOOLB3"), 1);
	snprintf(cmd, sizeof(cmd), "%s/mamorictl --root %s journal verify >/dev/null", bindir, tbroot);
	assert_int_equal(run(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_spool)};

	return testbed_run("gate_spool", "1", tests);
}
