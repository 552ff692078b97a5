/* tests/integration/gate_stress.c — the USB gate never stalls (issue 11.3,
 * MEDIA-1, LOG-1), mamorid and mamori-worker as processes on a umockdev
 * testbed (run by gate_stress.sh under umockdev-wrapper):
 *  - back-log: the worker is stopped (SIGSTOP) while 2,500 devices are
 *    plugged (5,000 events: attached + decision); every device is decided,
 *    none waits for the worker (the old gate waited 5 s for a digest, then
 *    blocked in a send on the full socket);
 *  - double kill: the stopped worker is killed, then its replacement while it
 *    starts, with the back-log queued and devices still being plugged; the
 *    third worker takes the back-log;
 *  - every decision is in the journal (at least once) or counted in a
 *    journal.overflow record; mamorid still stops on SIGTERM;
 *  - supervision (issue 11.4): a SIGSTOPped worker is killed and replaced
 *    within the bound agent/gate/gate.c states (GATE_HUNG_MS + GATE_PING_MS +
 *    back-off + start), decisions meanwhile keep their latency and their
 *    descriptor hash, and the systemd watchdog is fed only while both
 *    processes are healthy. */
#include <dirent.h>
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

#include "gate_testbed.h"

#define N_BACKLOG 2500 /* devices plugged while the worker is stopped */
#define N_RESTART 300  /* devices plugged while workers are killed and restarted */
#define BATCH     10
/* a stall detector, not a speed target (make bench measures latency) */
#define DECIDE_MS 10000

static char **devs;
static bool *allowed;
static int n_devs, first_s; /* devices S%05d from first_s on */

static long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* the worker mamorid runs now (its only child but notification helpers) */
static pid_t worker_of_gate(void)
{
	char p[64], buf[256];
	FILE *f;
	pid_t found = 0;

	snprintf(p, sizeof(p), "/proc/%d/task/%d/children", (int)gate, (int)gate);
	f = fopen(p, "re");
	if (!f)
		return 0;
	while (fscanf(f, "%255s", buf) == 1) {
		char comm[64], cp[64];
		pid_t c = (pid_t)strtol(buf, NULL, 10);
		snprintf(cp, sizeof(cp), "/proc/%d/comm", (int)c);
		usbtb_read_line(cp, comm, sizeof(comm));
		if (strncmp(comm, "mamori-worker", 13) == 0)
			found = c;
	}
	fclose(f);
	return found;
}

/* Plug n devices in batches; each batch's allowed devices must be authorized
 * before the next (blocked ones are checked in the journal). */
static void plug(int n, const char *what)
{
	for (int b = 0; b < n; b += BATCH) {
		int first = n_devs;
		long t0 = now_ms();

		for (int i = b; i < n && i < b + BATCH; i++) {
			char serial[32];
			bool ok = n_devs % 10 != 0;

			snprintf(serial, sizeof(serial), "S%05d", n_devs);
			allowed[n_devs] = ok;
			devs[n_devs] = insert(n_devs + 2, ok ? "0781" : "dead", ok ? "5581" : "beef", serial);
			n_devs++;
		}
		for (int i = first; i < n_devs; i++)
			if (allowed[i] && !wait_attr(devs[i], "authorized", "1", (int)(DECIDE_MS - (now_ms() - t0))))
				fail_msg("%s: device S%05d not decided within %d ms (the gate stalled)", what, i,
				         DECIDE_MS);
		if (n_devs % 500 == 0)
			fprintf(stderr, "%s: %d devices decided\n", what, n_devs);
	}
}

/* workers a test stopped: a failed test must not leave one holding the
 * journal for the next */
static pid_t stopped_workers[8];
static int n_stopped;

static void stop_worker(pid_t w)
{
	assert_int_equal(kill(w, SIGSTOP), 0);
	if (n_stopped < 8)
		stopped_workers[n_stopped++] = w;
}

static void start_gate(void)
{
	if (gate > 0) {
		kill(gate, SIGKILL);
		waitpid(gate, NULL, 0);
		gate = 0;
	}
	for (int i = 0; i < n_stopped; i++)
		kill(stopped_workers[i], SIGKILL);
	n_stopped = 0;

	assert_int_equal(testbed_install_root(), 0);
	assert_true(testbed_start_gate("w") > 0);
}

/* Devices S… whose decision is neither journaled nor counted as lost. */
static int count_missing(bool final)
{
	char cmd[8192], path[4096];
	_cleanup_free_ bool *seen = calloc((size_t)n_devs, sizeof(bool));
	unsigned long long lost = 0;
	int missing = 0;
	FILE *f;
	char *line = NULL;
	size_t cap = 0;

	assert_non_null(seen);
	snprintf(path, sizeof(path), "%s/events.jsonl", prep);
	snprintf(cmd, sizeof(cmd), "%s/mamorictl --root %s journal export --format jsonl > %s", bindir, tbroot, path);
	assert_int_equal(run(cmd), 0);
	f = fopen(path, "re");
	assert_non_null(f);
	while (getline(&line, &cap, f) > 0) {
		_cleanup_json_ cJSON *r = cJSON_Parse(line);
		const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "type"));
		const cJSON *p = cJSON_GetObjectItemCaseSensitive(r, "payload");
		const char *serial = cJSON_GetStringValue(
		        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(p, "device"), "serial"));

		if (!type)
			continue;
		if (strcmp(type, "journal.overflow") == 0) {
			const cJSON *n = cJSON_GetObjectItemCaseSensitive(p, "lost");
			if (!cJSON_IsNumber(n))
				n = cJSON_GetObjectItemCaseSensitive(p, "dropped");
			lost += cJSON_IsNumber(n) ? (unsigned long long)n->valuedouble : 0;
		}
		if ((strcmp(type, "usb.allowed") == 0 || strcmp(type, "usb.blocked") == 0) && serial &&
		    serial[0] == 'S') {
			int i = (int)strtol(serial + 1, NULL, 10);
			if (i >= 0 && i < n_devs) {
				seen[i] = true;
				if (strcmp(type, "usb.allowed") == 0 && !allowed[i])
					fail_msg("S%05d allowed, the policy blocks it", i);
			}
		}
	}
	free(line);
	fclose(f);
	for (int i = first_s; i < n_devs; i++)
		missing += !seen[i];
	if (final)
		fprintf(stderr, "journal: %d devices, %d decisions missing, %llu events counted as lost\n",
		        n_devs - first_s, missing, lost);
	return (unsigned long long)missing > lost ? (int)((unsigned long long)missing - lost) : 0;
}

static void test_backlog_and_double_kill(void **state)
{
	pid_t w1, w2 = 0, w3;
	long t0;
	int st;

	(void)state;
	first_s = n_devs;
	start_gate();
	w1 = worker_pid(10000);
	assert_true(w1 > 0);

	/* 1. the worker hangs: 5,000 events pile up, the gate decides on */
	stop_worker(w1);
	plug(N_BACKLOG, "worker stopped");

	/* 2. double kill: the worker (the stopped one, or the one the gate's
	 * supervision already put in its place), then its replacement as it
	 * starts */
	{
		pid_t cur = worker_of_gate();
		kill(w1, SIGKILL);
		if (cur > 0 && cur != w1)
			kill(cur, SIGKILL);
		w1 = cur > 0 ? cur : w1;
	}
	t0 = now_ms();
	while (now_ms() - t0 < 10000) {
		pid_t c = worker_of_gate();
		if (c > 0 && c != w1) {
			w2 = c;
			break;
		}
		usleep(2000);
	}
	assert_true(w2 > 0);
	assert_int_equal(kill(w2, SIGKILL), 0);
	plug(N_RESTART, "workers killed");

	/* 3. the third takes the back-log */
	w3 = worker_pid(30000);
	assert_true(w3 > 0 && w3 != w1 && w3 != w2);
	/* the journal catches up with the gate's queue */
	t0 = now_ms();
	while (count_missing(false) > 0 && now_ms() - t0 < 120000)
		sleep(2);
	/* SIGTERM is served: no deadlock anywhere */
	assert_int_equal(kill(gate, SIGTERM), 0);
	t0 = now_ms();
	while (waitpid(gate, &st, WNOHANG) != gate) {
		if (now_ms() - t0 > 10000)
			fail_msg("mamorid did not stop within 10 s of SIGTERM");
		usleep(20000);
	}
	gate = 0;
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	if (count_missing(true) > 0)
		fail_msg("decisions are neither journaled nor counted as lost");
}

/* 22 s: GATE_HUNG_MS 20 s + GATE_PING_MS 1 s + 1 s back-off; + 8 s to start
 * (ASan, two shared cores) */
#define REPLACED_MS 30000

static long decide_ms(const char *vid, const char *pid, const char *serial)
{
	long t0 = now_ms();
	char *d = insert(n_devs + 2, vid, pid, serial);

	allowed[n_devs] = true;
	devs[n_devs++] = d;
	if (!wait_attr(d, "authorized", "1", DECIDE_MS))
		fail_msg("%s not decided within %d ms", serial, DECIDE_MS);
	return now_ms() - t0;
}

static void test_stopped_worker_is_replaced(void **state)
{
	char cmd[8192];
	long normal = 0, stopped = 0, t0, replaced;
	pid_t w1, w2;
	int st;

	(void)state;
	n_devs = 0;
	notify_listen();
	setenv("WATCHDOG_USEC", "1000000", 1); /* fed every 0.5 s while healthy */
	start_gate();
	w1 = worker_pid(10000);
	assert_true(w1 > 0);
	assert_true(notify_expect("WATCHDOG=1", 3000));
	for (int i = 0; i < 5; i++) {
		char serial[32];
		snprintf(serial, sizeof(serial), "N%05d", i);
		normal += decide_ms("0781", "5581", serial);
	}
	stop_worker(w1);
	t0 = now_ms();
	/* decisions go on at their pace while the worker does not answer */
	for (int i = 0; i < 5; i++) {
		char serial[32];
		snprintf(serial, sizeof(serial), "H%05d", i);
		stopped += decide_ms("0781", "5581", serial);
	}
	fprintf(stderr, "decision latency: %ld ms normal, %ld ms with the worker stopped (5 devices each)\n",
	        normal / 5, stopped / 5);
	/* the watchdog is no longer fed once the worker is silent (5 s) */
	while (now_ms() - t0 < 6500)
		usleep(100000);
	notify_drain();
	if (notify_expect("WATCHDOG=1", 2000))
		fail_msg("the systemd watchdog is fed while the worker does not answer");
	/* replaced within the bound */
	for (;;) {
		w2 = worker_pid(500);
		if (w2 > 0 && w2 != w1)
			break;
		if (now_ms() - t0 > REPLACED_MS)
			fail_msg("the stopped worker was not replaced within %d ms", REPLACED_MS);
	}
	replaced = now_ms() - t0;
	fprintf(stderr, "stopped worker replaced and ready after %ld ms (bound %d ms)\n", replaced, REPLACED_MS);
	assert_int_not_equal(kill(w1, 0), 0);           /* the stopped one is gone */
	assert_true(notify_expect("WATCHDOG=1", 3000)); /* healthy again: fed again */
	/* a stopped worker does not hold the gate's stop either */
	stop_worker(w2);
	assert_int_equal(kill(gate, SIGTERM), 0);
	t0 = now_ms();
	while (waitpid(gate, &st, WNOHANG) != gate) {
		if (now_ms() - t0 > 10000)
			fail_msg("mamorid did not stop within 10 s of SIGTERM with its worker stopped");
		usleep(20000);
	}
	gate = 0;
	assert_int_not_equal(kill(w2, 0), 0);
	/* the decisions made meanwhile are journaled with their hash */
	snprintf(
	        cmd, sizeof(cmd),
	        "%s/mamorictl --root %s journal export --format jsonl > %s/stop.jsonl && "
	        "[ $(grep '\"usb.allowed\"' %s/stop.jsonl | grep -v devnode | grep -c '\"serial\":\"H0000') -ge 5 ] && "
	        "! grep '\"usb.allowed\"' %s/stop.jsonl | grep -v devnode | grep '\"serial\":\"H0000' | "
	        "grep -Ev '\"device\":\\{[^}]*\"hash\":\"[0-9a-f]{64}\"' >&2",
	        bindir, tbroot, prep, prep, prep);
	if (run(cmd) != 0)
		fail_msg("decisions made while the worker was stopped are missing or lack their hash");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_stopped_worker_is_replaced),
	        cmocka_unit_test(test_backlog_and_double_kill),
	};
	int rc;

	devs = calloc(N_BACKLOG + N_RESTART + 10, sizeof(*devs));
	allowed = calloc(N_BACKLOG + N_RESTART + 10, sizeof(*allowed));
	if (!devs || !allowed || testbed_setup("gate_stress", "1") < 0)
		return 1;
	rc = cmocka_run_group_tests_name("gate_stress", tests, NULL, NULL);
	testbed_teardown();
	for (int i = 0; i < n_devs; i++)
		g_free(devs[i]);
	free(devs);
	free(allowed);
	return rc;
}
