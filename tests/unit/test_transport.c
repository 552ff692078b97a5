/* tests/unit/test_transport.c — the agent's transport (agent/net/transport.c)
 * without a server: exponential backoff with jitter and its bounds, the
 * persisted acknowledgement, refusing to run unenrolled or on a non-https
 * URL, and a real libcurl connection to a closed port on 127.0.0.1 failing
 * cleanly and counting for the backoff (the end-to-end tests cover the
 * exchanges with mamori-server). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "transport.h"
#include "testutil.h"

static void test_backoff_bounds(void **state)
{
	(void)state;
	assert_int_equal(transport_backoff_ms(0, 0.5), 0);
	/* full jitter over [d/2, d], d = 5 s · 2^(n-1) */
	assert_int_equal(transport_backoff_ms(1, 0.0), 2500);
	assert_true(transport_backoff_ms(1, 0.999) <= 5000 && transport_backoff_ms(1, 0.999) >= 4990);
	assert_int_equal(transport_backoff_ms(2, 0.0), 5000);
	assert_int_equal(transport_backoff_ms(3, 0.0), 10000);
	/* capped at one hour, even after a very long outage */
	assert_int_equal(transport_backoff_ms(12, 0.0), 1800000);
	assert_true(transport_backoff_ms(1000, 0.999) <= 3600000);
	assert_true(transport_backoff_ms(1000, 0.999) >= 3590000);
	/* a bad random value cannot push it out of range */
	assert_int_equal(transport_backoff_ms(1, 7.0), 2500);
	assert_int_equal(transport_backoff_ms(1, -1.0), 2500);
}

/* Two terminals (here: fresh processes) that failed the same number of times
 * draw different delays: the retry jitter comes from getrandom, not from an
 * unseeded rand() that gave every process the same sequence (issue 19 item 6). */
static void test_retry_jitter_differs_per_process(void **state)
{
	uint64_t v[6];
	bool all_same = true;

	(void)state;
	for (int i = 0; i < 6; i++) {
		int fds[2];
		pid_t pid;

		assert_int_equal(pipe(fds), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			uint64_t d = transport_retry_delay_ms(10);
			_exit(write(fds[1], &d, sizeof(d)) == sizeof(d) ? 0 : 1);
		}
		close(fds[1]);
		assert_int_equal(read(fds[0], &v[i], sizeof(v[i])), sizeof(v[i]));
		close(fds[0]);
		assert_int_equal(waitpid(pid, NULL, 0), pid);
		/* d = 5 s · 2^9 = 2560 s; jitter in [d/2, d] */
		assert_true(v[i] >= 1280000 && v[i] <= 2560000);
		if (i > 0 && v[i] != v[0])
			all_same = false;
	}
	assert_false(all_same);
}

static void test_acked_state(void **state)
{
	char *dir = tu_mkdtemp();
	uint64_t v = 99;

	(void)state;
	assert_int_equal(transport_acked_read(dir, &v), 0);
	assert_int_equal(v, 0);
	tu_write(dir, TRANSPORT_UPLOAD_STATE, "42\n");
	assert_int_equal(transport_acked_read(dir, &v), 0);
	assert_int_equal(v, 42);
	tu_write(dir, TRANSPORT_UPLOAD_STATE, "4x2\n");
	v = 7;
	assert_int_equal(transport_acked_read(dir, &v), -EBADMSG);
	assert_int_equal(v, 7); /* untouched on failure */
	tu_rmtree(dir);
	free(dir);
}

static void test_not_enrolled(void **state)
{
	char *dir = tu_mkdtemp();
	struct transport_options o = {.state_dir = dir};
	struct transport *t = NULL;
	char err[256] = "";

	(void)state;
	assert_int_equal(transport_new(&o, &t, err, sizeof(err)), -ENOENT);
	assert_null(t);
	assert_non_null(strstr(err, "not enrolled"));
	tu_write(dir, TRANSPORT_ENROLL_STATE,
	         "{\"admin_url\":\"https://a\",\"device_url\":\"http://"
	         "plain:80\",\"terminal_id\":\"pc\",\"group\":\"g\"}");
	assert_int_equal(transport_new(&o, &t, err, sizeof(err)), -EINVAL);
	tu_write(dir, TRANSPORT_ENROLL_STATE, "{\"admin_url\":1}");
	assert_int_equal(transport_new(&o, &t, err, sizeof(err)), -EBADMSG);
	tu_rmtree(dir);
	free(dir);
}

static int closed_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	close(fd); /* nothing listens there now */
	return ntohs(sa.sin_port);
}

static void test_server_down_counts_for_backoff(void **state)
{
	char *dir = tu_mkdtemp();
	struct transport_options o = {.state_dir = dir, .timeout_s = 5};
	struct transport_result res;
	struct transport *t = NULL;
	char state_json[256], err[512] = "";
	uint64_t d1, d2;

	(void)state;
	snprintf(
	        state_json, sizeof(state_json),
	        "{\"admin_url\":\"https://127.0.0.1:1\",\"device_url\":\"https://127.0.0.1:%d\",\"terminal_id\":\"pc\","
	        "\"group\":\"g\"}",
	        closed_port());
	tu_write(dir, TRANSPORT_ENROLL_STATE, state_json);
	assert_int_equal(transport_new(&o, &t, err, sizeof(err)), 0);
	assert_int_equal(transport_next_delay_ms(t, 120), 120000);
	assert_true(transport_sync_once(t, NULL, &res, err, sizeof(err)) < 0);
	assert_true(err[0] != 0);
	assert_int_equal(transport_failures(t), 1);
	d1 = transport_next_delay_ms(t, 120);
	assert_true(d1 >= 2500 && d1 <= 5000);
	assert_true(transport_sync_once(t, NULL, &res, err, sizeof(err)) < 0);
	d2 = transport_next_delay_ms(t, 120);
	assert_true(d2 >= 5000 && d2 <= 10000);
	assert_int_equal(res.uploaded, 0);
	transport_free(t);
	tu_rmtree(dir);
	free(dir);
}

static void test_conn_refused(void **state)
{
	struct transport_conn *c = NULL;
	struct transport_response resp = {0};
	struct transport_request rq = {.method = "POST", .body = "{}", .body_len = 2, .gzip = true};
	char url[64], err[512] = "";

	(void)state;
	snprintf(url, sizeof(url), "https://127.0.0.1:%d/x", closed_port());
	rq.url = url;
	/* no CA file is an error, never "verification off" (issue 19 item 6) */
	assert_int_equal(transport_conn_new(NULL, NULL, 5, &c), -EINVAL);
	assert_int_equal(transport_conn_new("", NULL, 5, &c), -EINVAL);
	assert_null(c);
	assert_int_equal(transport_conn_new_unverified(5, &c), 0);
	assert_int_equal(transport_conn_request(c, &rq, &resp, err, sizeof(err)), -ECONNREFUSED);
	assert_non_null(strstr(err, url));
	assert_null(resp.body);
	rq.url = "http://127.0.0.1:1/plain"; /* only https is spoken */
	assert_true(transport_conn_request(c, &rq, &resp, err, sizeof(err)) < 0);
	transport_conn_free(c);
}

/* issue 11.6: a NULL CA silently turned verification off. */
static void test_ca_required(void **state)
{
	struct transport_conn *c = NULL;

	(void)state;
	assert_int_equal(transport_conn_new(NULL, NULL, 5, &c), -EINVAL);
	assert_null(c);
	assert_int_equal(transport_conn_new("", NULL, 5, &c), -EINVAL);
	assert_null(c);
	assert_int_equal(transport_conn_new("/nonexistent/server-ca.pem", NULL, 5, &c), -ENOENT);
	assert_null(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_backoff_bounds),
	        cmocka_unit_test(test_acked_state),
	        cmocka_unit_test(test_ca_required),
	        cmocka_unit_test(test_not_enrolled),
	        cmocka_unit_test(test_server_down_counts_for_backoff),
	        cmocka_unit_test(test_conn_refused),
	        cmocka_unit_test(test_retry_jitter_differs_per_process),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
