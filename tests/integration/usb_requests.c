/* tests/integration/usb_requests.c — requests to the approver end to end
 * (issue 16; OPS-3, OPS-4, MEDIA-1, LOG-2): the real mamorid + mamori-worker
 * on a umockdev testbed, enrolled with a real mamori-server (usb_requests.sh
 * starts it; the server steps are usb_requests_steps.bash):
 *
 * - a stick is blocked; `mamorictl request device` run as uid 65534
 *   (nobody, not in the socket's group) journals request.created naming
 *   "nobody" (SO_PEERCRED) and reaches the server through the worker's sync;
 * - the same user cannot use any other control command, and a request whose
 *   body names a person ("user") is refused (unknown field) and journaled;
 * - the requester's own account cannot approve (403, OPS-4); another
 *   approver can, and the still-plugged stick becomes authorized=1 without
 *   replugging (time measured);
 * - the approval ends by the agent's clock: the stick is deauthorized, and
 *   blocked again when it is plugged in anew;
 * - an exception request is rejected with a reason;
 * - a carry-out (CARRY-2, MEDIA-2) of the stick, asked as nobody (a body
 *   naming another person is refused), cannot be approved by the requester
 *   (OPS-4), nor read-only or for anyone; approved read-write by shonin, it
 *   reaches the agent as signed approval data (approval.applied kind
 *   carry-out with the request id, the medium and the window; the policy
 *   version stays). That the carry module then allows writing within the
 *   window only is tests/integration/carry.c test_approval_data_carry_out;
 * - an emergency code entered offline (OPS-3) becomes a request that an
 *   approver acknowledges — not the person who used it (OPS-4);
 * - a request made while the server is stopped is journaled, its sync
 *   fails, and once the server is back the worker's own retries bring it
 *   to the inbox with the right person, without a second command (16.1). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <umockdev.h>

#include "control.h"
#include "json-util.h"
#include "strutil.h"

#include "gate_testbed.h"

/* The worker's report after a posture pass now (the control socket's
 * "check", with the approval data in force): the exception of result `id`,
 * "" if none, NULL when the result is not in the report. The whole answer
 * in prep/check.json. */
static const char *result_exception(const char *id, char *buf, size_t n)
{
	_cleanup_json_ cJSON *o = control("{\"cmd\":\"check\"}");
	_cleanup_free_ char *t = o ? cJSON_PrintUnformatted(o) : NULL;
	const cJSON *it;
	char p[4096];
	FILE *f;

	if (!t)
		return NULL;
	snprintf(p, sizeof(p), "%s/check.json", prep);
	if ((f = fopen(p, "w"))) {
		fputs(t, f);
		fclose(f);
	}
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(o, "results"))
	{
		const char *x = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "exception"));

		if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "id")) ?: "", id) != 0)
			continue;
		snprintf(buf, n, "%s", x ? x : "");
		return buf;
	}
	return NULL;
}

/* one control request as uid/gid 65534 (nobody, no supplementary group): the answer */
static char *control_as_nobody(const char *req)
{
	char sock[4096], *resp = NULL;
	int fds[2], st;
	pid_t p;
	static char out[65536];
	ssize_t n;

	snprintf(sock, sizeof(sock), "%s/run/mamori/mamorid.sock", tbroot);
	assert_int_equal(pipe(fds), 0);
	p = fork();
	assert_true(p >= 0);
	if (p == 0) {
		close(fds[0]);
		if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
			_exit(3);
		if (control_call(sock, req, 3000, &resp) < 0)
			_exit(4);
		if (write(fds[1], resp, strlen(resp)) < 0)
			_exit(5);
		_exit(0);
	}
	close(fds[1]);
	n = read(fds[0], out, sizeof(out) - 1);
	close(fds[0]);
	assert_int_equal(waitpid(p, &st, 0), p);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	out[n > 0 ? n : 0] = '\0';
	return out;
}

/* Whether `mamorictl journal export` passes the jq -e filter (its
 * variables in jqargs, e.g. "--arg r ID") within 20 s. */
static bool journal_shows(const char *jqargs, const char *filter)
{
	char c[4096];

	for (int i = 0; i < 100; i++) {
		snprintf(c, sizeof(c),
		         "%s/mamorictl --root %s journal export --format jsonl | jq -e -s %s '%s' >/dev/null", bindir,
		         tbroot, jqargs, filter);
		if (run_quiet(c) == 0)
			return true;
		usleep(200000);
	}
	return false;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* `mamorictl request device PORT` as nobody; the server's id of it in id */
static void request_port(const char *port, char *id, size_t idsz)
{
	char cmd[8192];

	snprintf(cmd, sizeof(cmd),
	         "runuser -u nobody -- %s/mamorictl --root %s --lang en request device %s > %s/out4.txt 2>&1", bindir,
	         tbroot, port, prep);
	assert_int_equal(run(cmd), 0);
	assert_int_equal(step("wait_request device"), 0);
	assert_true(strscpy(id, idsz, step_out()) >= 0);
}

static void test_requests(void **state)
{
	char cmd[16384], id[64], id2[64], id3[64], rid[64];
	char *dev, *cam, *rw;
	const char *ans;
	double t0, dt;
	time_t until, carry_until;

	(void)state;
	assert_int_equal(testbed_install_root(), 0);
	assert_int_equal(step("enroll %s pc-req", tbroot), 0);
	/* a person at the terminal can reach the socket (it is 0666; the
	 * directories on the way are the test's) */
	snprintf(cmd, sizeof(cmd), "chmod 0755 %s %s/etc %s/etc/mamori", tbroot, tbroot, tbroot);
	assert_int_equal(run(cmd), 0);
	gate_start("gate.log");
	snprintf(cmd, sizeof(cmd), "chmod 0755 %s/run", tbroot);
	assert_int_equal(run(cmd), 0);

	dev = insert(3, "dead", "beef", "REQ1"); /* blocked by the default */
	usleep(500000);
	assert_string_equal(attr(dev, "authorized"), "0");

	/* nobody may not use the administrators' commands ... */
	ans = control_as_nobody("{\"cmd\":\"status\"}");
	assert_non_null(strstr(ans, "\"ok\":false"));
	assert_non_null(strstr(ans, "permission denied"));
	/* ... nor speak for somebody else: a person in the body is refused */
	ans = control_as_nobody("{\"cmd\":\"request\",\"args\":{\"kind\":\"device\",\"user\":\"shonin\"}}");
	assert_non_null(strstr(ans, "\"ok\":false"));
	assert_non_null(strstr(ans, "unknown_field"));
	ans = control_as_nobody("{\"cmd\":\"request\",\"args\":{\"kind\":\"device\",\"uid\":0}}");
	assert_non_null(strstr(ans, "unknown_field"));

	/* the request, as the person at the terminal: the last blocked device */
	snprintf(cmd, sizeof(cmd),
	         "runuser -u nobody -- %s/mamorictl --root %s --lang en --json request device > %s/out.txt 2> "
	         "%s/err.txt",
	         bindir, tbroot, prep, prep);
	assert_int_equal(run(cmd), 0);
	{
		_cleanup_json_ cJSON *o = cJSON_Parse(prep_read("out.txt"));
		const cJSON *d = cJSON_GetObjectItemCaseSensitive(o, "device");

		assert_non_null(o);
		assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "user")), "nobody");
		assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, "uid")), 65534);
		assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "serial")), "REQ1");
		assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "port")), "1-3");
	}
	/* an exception request too (rejected below) */
	until = time(NULL) + 86400;
	snprintf(cmd, sizeof(cmd),
	         "runuser -u nobody -- %s/mamorictl --root %s --lang en request exception --requirement MEDIA-2 "
	         "--until $(date -u -d @%lld +%%Y-%%m-%%dT%%H:%%M:%%SZ) --reason 'scanner driver' > %s/out2.txt 2>&1",
	         bindir, tbroot, (long long)until, prep);
	assert_int_equal(run(cmd), 0);

	/* the worker's sync brings both to the server */
	snprintf(cmd, sizeof(cmd), "%s/mamorictl --root %s journal export --format jsonl > %s/requests.jsonl", bindir,
	         tbroot, prep);
	assert_int_equal(run(cmd), 0);
	assert_int_equal(step("wait_request device"), 0);
	assert_true(strscpy(id, sizeof(id), step_out()) >= 0);
	assert_int_equal(step("wait_request exception"), 0);
	assert_true(strscpy(id2, sizeof(id2), step_out()) >= 0);

	/* an approver of another department neither sees nor decides it (issue 16.2) */
	assert_int_equal(step("dept_refused %s", id), 0);
	/* the dashboard's inbox shows it, and who may decide it (OPS-4 visible) */
	assert_int_equal(step("inbox %s shonin", id), 0);
	assert_string_equal(step_out(), "true ");
	assert_int_equal(step("inbox %s nobody", id), 0);
	assert_string_equal(step_out(), "false OPS-4: requester cannot approve");
	/* OPS-4: the requester's own account cannot approve */
	until = time(NULL) + 40;
	assert_int_equal(step("approve %s nobody %lld", id, (long long)until), 0);
	assert_string_equal(step_out(), "403");
	/* fail closed on the body (issue 19.3), with an until that is valid
	 * by itself: an unknown field, a member named twice (the first "rw"
	 * was taken before), bytes after the object — each refused, nothing
	 * approved */
	{
		static const char *const bodies[] = {
		        "{\"scope\":\"terminal\",\"person\":\"requester\",\"access\":\"ro\",\"until\":\"%s\","
		        "\"requested_by\":\"shonin\"}",
		        "{\"scope\":\"terminal\",\"person\":\"requester\",\"access\":\"rw\",\"access\":\"ro\","
		        "\"until\":\"%s\"}",
		        "{\"scope\":\"terminal\",\"person\":\"requester\",\"access\":\"ro\",\"until\":\"%s\"} {}",
		        /* a device's authorization holds for whoever uses the
		         * terminal: "the requester only" is refused, not ignored */
		        "{\"scope\":\"terminal\",\"person\":\"requester\",\"access\":\"ro\",\"until\":\"%s\"}",
		};
		time_t tu = until;
		struct tm tm;
		char ub[32], body[256];

		assert_true(strftime(ub, sizeof(ub), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&tu, &tm)) > 0);
		for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
			assert_true(snprintf(body, sizeof(body), bodies[i], ub) < (int)sizeof(body));
#pragma GCC diagnostic pop
			assert_int_equal(step("approve %s shonin %lld '%s'", id, (long long)until, body), 0);
			assert_string_equal(step_out(), "400");
			assert_string_equal(attr(dev, "authorized"), "0");
		}
	}

	/* another approver: the still-plugged stick is authorized, no replug */
	assert_int_equal(step("approve %s shonin %lld", id, (long long)until), 0);
	assert_string_equal(step_out(), "200");
	t0 = now_s();
	assert_true(wait_attr(dev, "authorized", "1", 15000));
	dt = now_s() - t0;
	printf("approval → authorized=1 in %.2f s (check-in every 2 s while a request waits)\n", dt);
	assert_true(dt <= 5.0); /* issue 16: within 5 s, no replug */
	/* decided once: a second approval is refused */
	assert_int_equal(step("approve %s shonin %lld", id, (long long)until), 0);
	assert_string_equal(step_out(), "409");

	/* a carry-out of the stick (CARRY-2): a body naming a person is refused */
	carry_until = time(NULL) + 86400;
	ans = control_as_nobody("{\"cmd\":\"request\",\"args\":{\"kind\":\"carry-out\",\"medium\":\"1-3\","
	                        "\"until\":4102444800,\"purpose\":\"x\",\"user\":\"shonin\"}}");
	assert_non_null(strstr(ans, "unknown_field"));
	snprintf(cmd, sizeof(cmd),
	         "runuser -u nobody -- %s/mamorictl --root %s --lang en --json request carry-out --medium 1-3 "
	         "--until $(date -u -d @%lld +%%Y-%%m-%%dT%%H:%%M:%%SZ) --purpose 'council minutes' > %s/out3.txt "
	         "2>&1",
	         bindir, tbroot, (long long)carry_until, prep);
	assert_int_equal(run(cmd), 0);
	{
		_cleanup_json_ cJSON *o = cJSON_Parse(prep_read("out3.txt"));
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "medium");

		assert_non_null(o);
		assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "user")), "nobody");
		assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "serial")), "REQ1");
		assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "vendor")), "dead");
		assert_true(strscpy(rid, sizeof(rid),
		                    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "request_id"))) >= 0);
	}
	assert_int_equal(step("wait_request carry-out"), 0);
	assert_true(strscpy(id3, sizeof(id3), step_out()) >= 0);
	assert_int_equal(step("approve %s nobody %lld '{\"scope\":\"terminal\",\"person\":\"requester\",\"access\":"
	                      "\"rw\",\"until\":\"2099-01-01T00:00:00Z\"}'",
	                      id3, 0LL),
	                 0);
	assert_string_equal(step_out(), "403"); /* OPS-4 */
	assert_int_equal(step("approve %s shonin %lld '{\"scope\":\"terminal\",\"person\":\"requester\",\"access\":"
	                      "\"ro\",\"until\":\"2099-01-01T00:00:00Z\"}'",
	                      id3, 0LL),
	                 0);
	assert_string_equal(step_out(), "400"); /* a carry-out permits writing */
	assert_int_equal(step("approve %s shonin %lld '{\"scope\":\"terminal\",\"person\":\"anyone\",\"access\":"
	                      "\"rw\",\"until\":\"2099-01-01T00:00:00Z\"}'",
	                      id3, 0LL),
	                 0);
	assert_string_equal(step_out(), "400"); /* it names its person */
	/* never longer than asked for (issue 16.2): the request's until + 1 h is refused */
	assert_int_equal(step("approve_err %s shonin %lld", id3, (long long)carry_until + 3600), 0);
	assert_string_equal(step_out(), "409 until_beyond_request");
	assert_int_equal(step("approve_rw %s shonin %lld", id3, (long long)time(NULL) + 3600), 0);
	assert_string_equal(step_out(), "200");
	{
		char a[96];

		snprintf(a, sizeof(a), "--arg r %s", rid);
		assert_true(journal_shows(
		        a, "[.[] | select(.type==\"approval.applied\" and .payload.kind==\"carry-out\" "
		           "and .payload.request_id==$r and .payload.person==\"nobody\" and "
		           ".payload.access==\"rw\" and .payload.medium.serial==\"REQ1\")] | length == 1"));
	}

	/* access (issue 16.2): a read-only approval lets in only what can be
	 * held read-only (storage, BLKROSET); a camera (class 06) cannot be,
	 * so "ro" is refused when it is approved, "rw" lets it in */
	cam = insert_class(6, "cafe", "0006", "CAM1", 0x06);
	usleep(500000);
	assert_string_equal(attr(cam, "authorized"), "0");
	request_port("1-6", id3, sizeof(id3));
	/* the request names the device at that port, as the gate saw it (the
	 * worker once sent the previously asked-for device's identity) */
	assert_int_equal(step("device_serial %s", id3), 0);
	assert_string_equal(step_out(), "CAM1");
	assert_int_equal(step("approve %s shonin %lld", id3, (long long)time(NULL) + 3600), 0);
	assert_string_equal(step_out(), "400");
	assert_int_equal(step("approve_rw %s shonin %lld", id3, (long long)time(NULL) + 3600), 0);
	assert_string_equal(step_out(), "200");
	assert_true(wait_attr(cam, "authorized", "1", 15000));
	/* withdrawn before its until (a lost device, a changed duty): a reason
	 * is required; the terminal gets data without it at its next check-in,
	 * journals approval.withdrawn, and the gate takes the still-plugged
	 * camera's authorization away again */
	assert_int_equal(step("revoke %s ''", id3), 0);
	assert_string_equal(step_out(), "400 invalid");
	assert_int_equal(step("revoke %s 'lost on the way'", id3), 0);
	assert_string_equal(step_out(), "200 revoked");
	t0 = now_s();
	assert_true(wait_attr(cam, "authorized", "0", 15000));
	printf("revocation → authorized=0 in %.2f s\n", now_s() - t0);
	{
		char a[96];

		snprintf(a, sizeof(a), "--arg i %s", id3);
		assert_true(journal_shows(a, "[.[] | select(.type==\"approval.withdrawn\" and .payload.id==$i and "
		                             ".payload.kind==\"device\")] | length == 1"));
	}
	/* ... pushed, not only fetched at the next check-in: the server queued a
	 * signed sync for the terminal (its long poll got it), which the worker
	 * verified and ran (a terminal out of its 2-s request window would
	 * otherwise wait for its check-in interval) */
	assert_true(journal_shows("", "[.[] | select(.type==\"command.executed\" and .payload.type==\"sync\")] | "
	                              "length == 1"));
	/* revoked once: not again */
	assert_int_equal(step("revoke %s 'again'", id3), 0);
	assert_string_equal(step_out(), "409 not_approved");
	/* a stick approved "rw": its storage follows the policy (writable here) */
	rw = insert(7, "dead", "beef", "RW1");
	usleep(500000);
	assert_string_equal(attr(rw, "authorized"), "0");
	request_port("1-7", id3, sizeof(id3));
	assert_int_equal(step("device_serial %s", id3), 0);
	assert_string_equal(step_out(), "RW1");
	assert_int_equal(step("approve_rw %s shonin %lld", id3, (long long)time(NULL) + 3600), 0);
	assert_string_equal(step_out(), "200");
	assert_true(wait_attr(rw, "authorized", "1", 15000));

	/* the exception request: rejected with a reason */
	assert_int_equal(step("reject %s 'use the shared scanner'", id2), 0);
	assert_string_equal(step_out(), "200");
	/* only an approval is revoked */
	assert_int_equal(step("revoke %s 'x'", id2), 0);
	assert_string_equal(step_out(), "409 not_approved");

	/* an exception of a requirement (issue 16.3): an unknown requirement ID
	 * is refused at the terminal; one of LOG-2 (the testbed root enables no
	 * time daemon: timesync.daemon fails) is approved, delivered as signed
	 * approval data, journaled approval.applied and reported as the approved
	 * exception of the request until its end by the agent's clock */
	{
		char xrid[64], exc[64], want[96];
		time_t until3 = time(NULL) + 25;
		const char *x;

		snprintf(cmd, sizeof(cmd),
		         "runuser -u nobody -- %s/mamorictl --root %s --lang en --json request exception --requirement "
		         "ZZZ-9 --until $(date -u -d @%lld +%%Y-%%m-%%dT%%H:%%M:%%SZ) --reason r > %s/out3.txt 2>&1",
		         bindir, tbroot, (long long)until3 + 3600, prep);
		assert_int_not_equal(run_quiet(cmd), 0);
		assert_non_null(strstr(prep_read("out3.txt"), "unknown_requirement"));
		x = result_exception("timesync.daemon", exc, sizeof(exc));
		assert_non_null(x); /* in the report, and failing */
		assert_string_equal(x, "");
		snprintf(
		        cmd, sizeof(cmd),
		        "runuser -u nobody -- %s/mamorictl --root %s --lang en --json request exception --requirement "
		        "LOG-2 --until $(date -u -d @%lld +%%Y-%%m-%%dT%%H:%%M:%%SZ) --reason 'stand-alone terminal' > "
		        "%s/out3.txt 2>&1",
		        bindir, tbroot, (long long)until3, prep);
		assert_int_equal(run(cmd), 0);
		{
			_cleanup_json_ cJSON *o = cJSON_Parse(prep_read("out3.txt"));

			assert_non_null(o);
			snprintf(xrid, sizeof(xrid), "%s",
			         cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "request_id")) ?: "");
		}
		assert_int_equal(strlen(xrid), 32);
		snprintf(want, sizeof(want), "request-%s", xrid);
		assert_int_equal(step("wait_request exception"), 0);
		assert_true(strscpy(id2, sizeof(id2), step_out()) >= 0);
		/* the exception's until bounds the approval (issue 16.2) */
		assert_int_equal(step("approve_err %s shonin %lld", id2, (long long)until3 + 600), 0);
		assert_string_equal(step_out(), "409 until_beyond_request");
		/* an exception holds for the terminal: "the requester only" is refused */
		{
			char ub[32];
			time_t tu = until3;
			struct tm tm;

			assert_true(strftime(ub, sizeof(ub), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&tu, &tm)) > 0);
			assert_int_equal(
			        step("approve %s shonin %lld '{\"scope\":\"terminal\",\"person\":\"requester\","
			             "\"access\":\"ro\",\"until\":\"%s\"}'",
			             id2, 0LL, ub),
			        0);
			assert_string_equal(step_out(), "400");
		}
		assert_int_equal(step("approve %s shonin %lld", id2, (long long)until3), 0);
		assert_string_equal(step_out(), "200");
		for (int i = 0; i < 75; i++) {
			x = result_exception("timesync.daemon", exc, sizeof(exc));
			if (x && strcmp(x, want) == 0)
				break;
			usleep(200000);
		}
		assert_non_null(x);
		assert_string_equal(x, want);
		assert_non_null(strstr(prep_read("check.json"), "exception_clock_synchronised"));
		/* ended by the agent's clock, with no server asked */
		while (time(NULL) <= until3)
			usleep(200000);
		x = result_exception("timesync.daemon", exc, sizeof(exc));
		assert_non_null(x);
		assert_string_equal(x, "");
	}

	/* the approval ends by the agent's clock, with the server gone (no
	 * server tells it): deauthorized ... */
	assert_int_equal(step("server_stop"), 0);
	while (time(NULL) < until)
		usleep(200000);
	assert_true(wait_attr(dev, "authorized", "0", 8000));
	/* ... and blocked again at its next insertion: the gate decided it
	 * again (a usb.blocked of this stick journaled after the removal, not
	 * only an authorized attribute left at 0) */
	umockdev_testbed_uevent(tb, dev, "remove");
	usleep(300000);
	{
		char *head, a[64];
		long long h;

		snprintf(cmd, sizeof(cmd), "%s/mamorictl --root %s journal status > %s/jstatus.txt", bindir, tbroot,
		         prep);
		assert_int_equal(run(cmd), 0);
		head = strstr(prep_read("jstatus.txt"), "\nhead ");
		assert_non_null(head);
		h = strtoll(head + 6, NULL, 10);
		assert_true(h > 0);
		umockdev_testbed_uevent(tb, dev, "add");
		snprintf(a, sizeof(a), "--argjson h %lld", h);
		assert_true(journal_shows(
		        a,
		        "[.[] | select(.seq > $h and .type==\"usb.blocked\" and .payload.device.serial==\"REQ1\")] | "
		        "length == 1"));
	}
	assert_string_equal(attr(dev, "authorized"), "0");
	assert_int_equal(step("server_start"), 0);

	/* OPS-3: an emergency code used offline becomes a request after the
	 * fact, which an approver — not the person who used it — acknowledges */
	assert_int_equal(testbed_ctl("exception init-secret"), 0);
	assert_int_equal(testbed_ctl("exception make-code --secret %s/var/lib/mamori/terminal.secret "
	                             "--scope check:timesync.kernel_sync --hours 2",
	                             tbroot),
	                 0);
	{
		const char *o = strstr(prep_read("out.txt"), "code: ");
		char code[32];

		assert_non_null(o);
		snprintf(code, sizeof(code), "%.14s", o + 6);
		assert_int_equal(
		        testbed_ctl("exception enter %s --scope check:timesync.kernel_sync --person nobody", code), 0);
	}
	{
		_cleanup_json_ cJSON *r = control("{\"cmd\":\"check\"}"); /* a pass journals exception.applied */
		assert_non_null(r);
	}
	assert_int_equal(step("wait_emergency 90"), 0); /* the sync's backoff after the server's absence */
	assert_true(strscpy(id, sizeof(id), step_out()) >= 0);
	assert_int_equal(step("approve %s shonin %lld", id, (long long)time(NULL) + 3600), 0);
	assert_string_equal(step_out(), "409"); /* acknowledged, never approved */
	assert_int_equal(step("acknowledge %s nobody", id), 0);
	assert_string_equal(step_out(), "403"); /* OPS-4: not the person who used it */
	assert_int_equal(step("acknowledge %s shonin", id), 0);
	assert_string_equal(step_out(), "200");
	assert_int_equal(step("acknowledge %s shonin", id), 0);
	assert_string_equal(step_out(), "409");

	/* offline (issue 16.1): with the server stopped, a carry-out asked at
	 * the terminal is journaled and its sync fails; once the server is back
	 * the worker's own retries bring it to the inbox, naming the person,
	 * without a second command */
	assert_int_equal(step("server_stop"), 0);
	{
		char orid[64];
		time_t t_up;

		snprintf(cmd, sizeof(cmd),
		         "runuser -u nobody -- %s/mamorictl --root %s --lang en --json request carry-out --medium 1-7 "
		         "--until $(date -u -d @%lld +%%Y-%%m-%%dT%%H:%%M:%%SZ) --purpose 'offline minutes' > "
		         "%s/out5.txt 2>&1",
		         bindir, tbroot, (long long)time(NULL) + 86400, prep);
		assert_int_equal(run(cmd), 0);
		{
			_cleanup_json_ cJSON *o = cJSON_Parse(prep_read("out5.txt"));

			assert_non_null(o);
			assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "user")),
			                    "nobody");
			assert_true(strscpy(orid, sizeof(orid),
			                    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "request_id"))) >=
			            0);
		}
		/* queued: in the journal, and the worker's sync (armed 1 s after the
		 * request) fails against the stopped server */
		snprintf(cmd, sizeof(cmd),
		         "%s/mamorictl --root %s journal export --format jsonl | jq -e -s --arg r %s "
		         "'[.[] | select(.type==\"request.created\" and .payload.request_id==$r)] | length == 1' "
		         ">/dev/null",
		         bindir, tbroot, orid);
		assert_int_equal(run(cmd), 0);
		snprintf(cmd, sizeof(cmd), "grep -c 'server sync failed' %s/gate.log > %s/fails0.txt", prep, prep);
		(void)run_quiet(cmd);
		{
			long before = strtol(prep_read("fails0.txt"), NULL, 10), now = before;

			for (int i = 0; i < 100 && now <= before; i++) {
				usleep(100000);
				(void)run_quiet(cmd);
				now = strtol(prep_read("fails0.txt"), NULL, 10);
			}
			printf("offline: the worker's sync failed %ld time(s) while the server was down\n",
			       now - before);
			assert_true(now > before);
		}
		assert_int_equal(step("server_start"), 0);
		t_up = time(NULL);
		assert_int_equal(step("wait_request_id %s 90", orid), 0);
		printf("offline request in the inbox %lld s after the server came back\n",
		       (long long)(time(NULL) - t_up));
		assert_non_null(strstr(step_out(), " nobody pending"));
	}

	gate_stop();
	/* the journal, for the driver's checks */
	snprintf(cmd, sizeof(cmd), "%s/mamorictl --root %s journal export --format jsonl > %s/requests.jsonl", bindir,
	         tbroot, prep);
	assert_int_equal(run(cmd), 0);
	g_free(dev);
	g_free(cam);
	g_free(rw);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_requests)};

	return testbed_run("usb_requests", "1", tests);
}
