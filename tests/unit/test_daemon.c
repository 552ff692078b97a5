/* tests/unit/test_daemon.c — module registry, module lifecycle (a failing
 * module reports error and the daemon lives on), the JSON report shape, and
 * control requests with garbage input. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon.h"
#include "ipc.h"
#include "json-util.h"
#include "media.h"
#include "log.h"
#include "module.h"
#include "testutil.h"

/* Two real modules of the test's own, on core-owned state (issue 19.5):
 * one that cannot start (its open() fails), one that works and emits an
 * event from its check. */
struct good_state {
	struct mamori_ctx *ctx;
};

static int failing_open(struct mamori_ctx *ctx, void *state)
{
	(void)ctx, (void)state;
	return -ENODEV;
}

static int good_checks;
static struct mamori_ctx *good_ctx;
static enum check_status good_status = CHECK_PASS;

static int good_open(struct mamori_ctx *ctx, void *state)
{
	((struct good_state *)state)->ctx = good_ctx = ctx;
	return 0;
}

static int good_check(void *state, struct check_report *rep)
{
	struct check_result *r = check_report_add(rep, "good", "good.thing", "LOCK-1,LOCK-2");

	assert_non_null(state);
	good_checks++;
	assert_non_null(r);
	check_result_set(r, good_status, "良好", "good");
	check_result_evidence(r, "value", "%d", 42);
	if (good_status != CHECK_PASS)
		check_result_remedy(r, "直す", "fix it");
	return 0;
}

static int erring_check(void *state, struct check_report *rep)
{
	(void)state, (void)rep;
	return -EIO;
}

static const struct mamori_module failing = {.name = "failing",
                                             .caps = MAMORI_CAP_CHECK,
                                             .state_size = sizeof(struct good_state),
                                             .open = failing_open,
                                             .check = good_check};
static const struct mamori_module good = {.name = "good",
                                          .caps = MAMORI_CAP_CHECK,
                                          .state_size = sizeof(struct good_state),
                                          .open = good_open,
                                          .check = good_check};
static const struct mamori_module erring = {.name = "erring", .caps = MAMORI_CAP_CHECK, .check = erring_check};
static const struct mamori_module *const test_modules[] = {&failing, &good, &erring, NULL};

static char *root;

static int setup(void **state)
{
	(void)state;
	root = tu_mkdtemp();
	tu_write(root, "etc/mamori/agent.conf", "language = en\ncheck_interval = 3600\n");
	log_open("test", true, LOG_ERR);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tu_rmtree(root);
	free(root);
	return 0;
}

static struct daemon *new_daemon(void)
{
	struct daemon_options o = {.root = root, .foreground = true, .modules = test_modules};
	struct daemon *d = NULL;
	char err[256];

	assert_int_equal(daemon_new(&o, &d, err, sizeof(err)), 0);
	return d;
}

static void test_registry(void **state)
{
	(void)state;
	assert_true(module_count() >= 1);
	assert_non_null(module_find("timesync"));
	assert_null(module_find("nope"));
	for (size_t i = 0; mamori_modules[i]; i++) {
		const struct mamori_module *m = mamori_modules[i];
		assert_non_null(m->name);
		/* capability bits and operations agree */
		if (m->caps & MAMORI_CAP_CHECK)
			assert_non_null(m->check);
		if (m->caps & MAMORI_CAP_ENFORCE)
			assert_non_null(m->enforce);
		if (m->caps & MAMORI_CAP_WATCH) {
			assert_non_null(m->fds);
			assert_non_null(m->on_ready);
		}
		assert_ptr_equal(module_find(m->name), m);
	}
}

static void test_failing_module_reports_error(void **state)
{
	struct daemon *d = new_daemon();
	const struct check_report *rep;
	_cleanup_json_ cJSON *j = NULL;
	const cJSON *res, *it, *sum;
	int seen = 0;

	(void)state;
	good_checks = 0;
	rep = daemon_check(d);
	assert_int_equal(good_checks, 1); /* the good module still ran */
	j = check_report_to_json(rep);
	assert_non_null(j);
	res = cJSON_GetObjectItemCaseSensitive(j, "results");
	assert_int_equal(cJSON_GetArraySize(res), 4); /* + agent.journal */
	cJSON_ArrayForEach(it, res)
	{
		const char *id = cJSON_GetObjectItemCaseSensitive(it, "id")->valuestring;
		const char *st = cJSON_GetObjectItemCaseSensitive(it, "status")->valuestring;
		const cJSON *reqs = cJSON_GetObjectItemCaseSensitive(it, "requirements");

		assert_true(cJSON_IsArray(reqs));
		assert_true(cJSON_GetArraySize(reqs) >= 1);
		assert_true(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(it, "evidence")));
		assert_non_null(
		        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(it, "summary"), "ja"));
		if (strcmp(id, "agent.journal") == 0) {
			/* the daemon's own journal under the temporary root works (LOG-1) */
			assert_string_equal(st, "pass");
			seen++;
		} else if (strcmp(id, "failing") == 0 || strcmp(id, "erring") == 0) {
			assert_string_equal(st, "error");
			assert_non_null(cJSON_GetObjectItemCaseSensitive(it, "remedy"));
			seen++;
		} else {
			assert_string_equal(id, "good.thing");
			assert_string_equal(st, "pass");
			assert_string_equal(cJSON_GetArrayItem(reqs, 1)->valuestring, "LOCK-2");
			assert_string_equal(cJSON_GetObjectItemCaseSensitive(
			                            cJSON_GetObjectItemCaseSensitive(it, "evidence"), "value")
			                            ->valuestring,
			                    "42");
			seen++;
		}
	}
	assert_int_equal(seen, 4);
	sum = cJSON_GetObjectItemCaseSensitive(j, "summary");
	assert_int_equal(cJSON_GetObjectItemCaseSensitive(sum, "pass")->valueint, 2);
	assert_int_equal(cJSON_GetObjectItemCaseSensitive(sum, "error")->valueint, 2);
	daemon_free(d);
}

static void test_control_requests(void **state)
{
	struct daemon *d = new_daemon();
	static const char *const garbage[] = {
	        "",
	        "not json",
	        "{",
	        "[]",
	        "42",
	        "{\"cmd\":42}",
	        "{\"cmd\":\"rm -rf /\"}",
	        "{\"nocmd\":1}",
	        "\xff\xfe\x00garbage",
	        "{\"cmd\":\"status\"",
	        "null",
	        /* exact requests (issue 19 item 3): no extra or repeated field */
	        "{\"cmd\":\"status\",\"verbose\":true}",
	        "{\"cmd\":\"status\",\"cmd\":\"reload\"}",
	        "{\"cmd\":\"status\",\"cmd\":\"status\"}",
	};
	char *resp;

	(void)state;
	for (size_t i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++) {
		_cleanup_json_ cJSON *j = NULL;

		resp = daemon_control_request(d, garbage[i], strlen(garbage[i]) + (i == 8 ? 10 : 0), 0);
		assert_non_null(resp);
		j = cJSON_Parse(resp);
		assert_non_null(j);
		assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(j, "ok")));
		assert_true(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "error")));
		free(resp);
	}
	/* oversized */
	{
		size_t n = 70 * 1024;
		char *big = malloc(n);
		assert_non_null(big);
		memset(big, ' ', n);
		resp = daemon_control_request(d, big, n, 0);
		assert_non_null(strstr(resp, "too large"));
		free(resp);
		free(big);
	}
	/* reload needs root */
	resp = daemon_control_request(d, "{\"cmd\":\"reload\"}", 16, 1000);
	assert_non_null(strstr(resp, "permission denied"));
	free(resp);
	/* status works and names the modules with their state */
	resp = daemon_control_request(d, "{\"cmd\":\"status\"}", 16, 1000);
	assert_non_null(strstr(resp, "\"ok\":true"));
	assert_non_null(strstr(resp, "{\"name\":\"failing\",\"state\":\"error\""));
	assert_non_null(strstr(resp, "{\"name\":\"good\",\"state\":\"active\"}"));
	free(resp);
	/* report runs a pass when none ran yet */
	good_checks = 0;
	resp = daemon_control_request(d, "{\"cmd\":\"report\"}", 16, 1000);
	assert_int_equal(good_checks, 1);
	assert_non_null(strstr(resp, "\"good.thing\""));
	free(resp);
	daemon_free(d);
}

/* A status change between passes is a posture.changed event (OPS-1). */
static int n_changed;
static int record_emit(struct mamori_ctx *ctx, const struct mamori_event *ev, uint64_t *ret_seq)
{
	(void)ctx, (void)ret_seq;
	if (strcmp(ev->type, "posture.changed") == 0) {
		const cJSON *to = cJSON_GetObjectItemCaseSensitive(ev->payload, "to");
		assert_string_equal(to->valuestring, "fail");
		n_changed++;
	}
	return 0;
}

static void test_posture_changed(void **state)
{
	struct daemon *d = new_daemon();

	(void)state;
	good_ctx->emit = record_emit;
	n_changed = 0;
	good_status = CHECK_PASS;
	daemon_check(d);
	daemon_check(d);
	assert_int_equal(n_changed, 0);
	good_status = CHECK_FAIL;
	daemon_check(d);
	assert_int_equal(n_changed, 1);
	daemon_check(d);
	assert_int_equal(n_changed, 1);
	good_status = CHECK_PASS;
	daemon_free(d);
}

static void test_bad_config_refuses(void **state)
{
	struct daemon_options o = {.root = root, .foreground = true, .modules = test_modules};
	struct daemon *d = NULL;
	char err[256];

	(void)state;
	tu_write(root, "etc/mamori/bad.conf", "language = en\nmodules = timesync, nosuch\n");
	o.config_path = "/etc/mamori/bad.conf";
	assert_int_equal(daemon_new(&o, &d, err, sizeof(err)), -EINVAL);
	assert_null(d);
	assert_non_null(strstr(err, "invalid configuration"));
}

/* What mamorid sends reaches the worker: media records into the registry
 * (for the carry module), events into the journal, each acknowledged in
 * order; a malformed record is refused with an error ack. */
static void test_ipc_from_gate(void **state)
{
	struct daemon_options o = {.root = root, .foreground = true, .modules = test_modules};
	struct daemon *d = NULL;
	const struct media_entry *e;
	char err[256];
	int sv[2];
	static const char *const msgs[] = {
	        "{\"op\":\"media\",\"id\":1,\"present\":true,\"devnum\":2049,\"devnode\":\"/dev/sdb1\","
	        "\"auth_path\":\"/testbed/usb1/1-3\",\"decision\":\"ro\",\"readonly\":true,"
	        "\"identity\":{\"vendor\":\"0781\",\"serial\":\"S1\"}}",
	        "{\"op\":\"emit\",\"id\":2,\"type\":\"usb.readonly\",\"severity\":\"info\",\"reqs\":\"MEDIA-4\","
	        "\"payload\":{\"a\":1}}",
	        "{\"op\":\"media\",\"id\":3,\"present\":true,\"devnum\":\"x\"}",
	        "{\"op\":\"media\",\"id\":4,\"present\":false,\"devnum\":2049,\"devnode\":\"/dev/sdb1\","
	        "\"auth_path\":\"/testbed/usb1/1-3\",\"decision\":\"ro\",\"readonly\":true}",
	};

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	o.ipc_fd = sv[1];
	assert_int_equal(daemon_new(&o, &d, err, sizeof(err)), 0);
	for (size_t i = 0; i < 2; i++)
		assert_int_equal(send(sv[0], msgs[i], strlen(msgs[i]), 0), (ssize_t)strlen(msgs[i]));
	daemon_ipc_dispatch(d);
	e = media_lookup(makedev(8, 1));
	assert_non_null(e);
	assert_string_equal(e->devnode, "/dev/sdb1");
	assert_true(e->readonly);
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(e->identity, "serial")->valuestring, "S1");
	for (int id = 1; id <= 2; id++) {
		cJSON *ack = NULL;
		assert_int_equal(ipc_recv(sv[0], &ack, NULL), 0);
		assert_string_equal(ipc_op(ack), "ack");
		assert_int_equal(cJSON_GetObjectItemCaseSensitive(ack, "id")->valueint, id);
		assert_null(cJSON_GetObjectItemCaseSensitive(ack, "error"));
		if (id == 2) /* durable in the journal: it has a sequence number */
			assert_true(cJSON_GetObjectItemCaseSensitive(ack, "seq")->valueint >= 1);
		cJSON_Delete(ack);
	}
	for (size_t i = 2; i < 4; i++)
		assert_int_equal(send(sv[0], msgs[i], strlen(msgs[i]), 0), (ssize_t)strlen(msgs[i]));
	daemon_ipc_dispatch(d);
	{
		/* the malformed one (3) is refused and counted, never completed with
		 * defaults (issue 19.3): no ack for it, the next one is acked */
		cJSON *ack = NULL, *st;
		assert_int_equal(ipc_recv(sv[0], &ack, NULL), 0);
		assert_int_equal(cJSON_GetObjectItemCaseSensitive(ack, "id")->valueint, 4);
		cJSON_Delete(ack);
		st = daemon_status_json(d);
		assert_int_equal(
		        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(st, "ipc"), "refused")
		                ->valueint,
		        1);
		cJSON_Delete(st);
	}
	assert_null(media_lookup(makedev(8, 1)));
	daemon_free(d); /* closes sv[1] */
	close(sv[0]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_registry),           cmocka_unit_test(test_failing_module_reports_error),
	        cmocka_unit_test(test_control_requests),   cmocka_unit_test(test_posture_changed),
	        cmocka_unit_test(test_bad_config_refuses), cmocka_unit_test(test_ipc_from_gate),
	};
	return cmocka_run_group_tests_name("daemon", tests, setup, teardown);
}
