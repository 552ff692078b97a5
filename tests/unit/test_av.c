/* tests/unit/test_av.c — av module parts that need no clamd: .cvd header
 * parsing, recorded `mdatp health` replies (mdatp cannot be installed on
 * the build machines), the generic adapter on a fixture /proc, the AV-4
 * baseline and tamper.detected events, a hostile peer on the clamd socket,
 * and the evaluation of each check into pass and fail. */
#include <errno.h>
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

#include "av/av.h"
#include "av/av_clamd.h"
#include "av/av_mdatp.h"
#include "av/av_watch.h"
#include "fileio.h"
#include "rootpath.h"

static char root[256];
static int n_events;
static char *last_payload;

static int recorder(struct mamori_ctx *ctx, const struct mamori_event *ev, uint64_t *ret_seq)
{
	(void)ctx;
	(void)ret_seq;
	assert_string_equal(ev->type, "tamper.detected");
	assert_string_equal(ev->reqs, "AV-4");
	n_events++;
	free(last_payload);
	last_payload = cJSON_PrintUnformatted(ev->payload);
	return 0;
}

static struct mamori_ctx ctx = {.emit = recorder};

static void put(const char *rel, const char *content, size_t len)
{
	char p[1024], d[1024];

	snprintf(p, sizeof(p), "%s%s", root, rel);
	snprintf(d, sizeof(d), "%s", p);
	*strrchr(d, '/') = '\0';
	assert_int_equal(mkdir_p(d, 0755), 0);
	assert_int_equal(write_file_atomic(p, content, len, 0644), 0);
}

static int setup(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/mamori-test-av.XXXXXX");
	assert_non_null(mkdtemp(root));
	assert_int_equal(root_set(root), 0);
	n_events = 0;
	return 0;
}

static int teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
	free(last_payload);
	last_payload = NULL;
	root_set("/");
	return 0;
}

static void test_cvd_header(void **state)
{
	char h[600];
	struct av_cvd_header c;

	(void)state;
	memset(h, 0, sizeof(h));
	snprintf(h, sizeof(h), "ClamAV-VDB:14 Nov 2023 08-26 -0500:27093:2047658:90:%032d:dsig:svc.clamav:1699968360",
	         0);
	assert_int_equal(av_clamd_parse_cvd_header(h, 512, &c), 0);
	assert_int_equal(c.version, 27093);
	assert_int_equal(c.sigs, 2047658);
	assert_int_equal(c.build_time, 1699968360);
	assert_string_equal(c.builder, "svc.clamav");
	/* no stime: the time string is used (08:26 -0500 = 13:26 UTC) */
	memset(h, ' ', 512);
	memcpy(h, "ClamAV-VDB:14 Nov 2023 08-26 -0500:27093:5:90", 45);
	assert_int_equal(av_clamd_parse_cvd_header(h, 512, &c), 0);
	assert_int_equal(c.build_time, 1699968360);
	/* truncated, wrong magic, garbage numbers, control bytes */
	assert_int_equal(av_clamd_parse_cvd_header(h, 100, &c), -EBADMSG);
	memcpy(h, "ClamAV-VDX", 10);
	assert_int_equal(av_clamd_parse_cvd_header(h, 512, &c), -EBADMSG);
	memset(h, 0, sizeof(h));
	snprintf(h, sizeof(h), "ClamAV-VDB:x:abc:1:2");
	assert_int_equal(av_clamd_parse_cvd_header(h, 512, &c), -EBADMSG);
	memset(h, 0, sizeof(h));
	snprintf(h, sizeof(h), "ClamAV-VDB:x:1:1:2:\x01:y:z:1");
	assert_int_equal(av_clamd_parse_cvd_header(h, 512, &c), -EBADMSG);
	memset(h, 0xff, 512);
	assert_int_equal(av_clamd_parse_cvd_header(h, 512, &c), -EBADMSG);
}

static void test_version_reply(void **state)
{
	char e[64], d[32];
	int64_t t = 0;

	(void)state;
	assert_int_equal(
	        av_clamd_parse_version("ClamAV 1.0.5/27150/Sat Jan 13 09:37:50 2024", e, sizeof(e), d, sizeof(d), &t),
	        0);
	assert_string_equal(e, "1.0.5");
	assert_string_equal(d, "27150");
	assert_true(t > 1705000000 && t < 1705300000);
	assert_int_equal(av_clamd_parse_version("ClamAV 1.4.6", e, sizeof(e), d, sizeof(d), &t), 0);
	assert_string_equal(e, "1.4.6");
	assert_int_equal(av_clamd_parse_version("HTTP/1.1 200 OK", e, sizeof(e), d, sizeof(d), &t), -EBADMSG);
	assert_int_equal(av_clamd_parse_version("ClamAV \x1b[31m", e, sizeof(e), d, sizeof(d), &t), -EBADMSG);
}

static char *slurp_fixture(const char *name, size_t *len)
{
	char p[1024];
	char *buf = NULL;
	const char *src = getenv("MAMORI_SRC");

	snprintf(p, sizeof(p), "%s/tests/fixtures/av/%s", src ? src : ".", name);
	assert_int_equal(read_file_capped(p, 1 << 20, &buf, len), 0);
	return buf;
}

static void test_mdatp(void **state)
{
	struct av_status st;
	size_t len;
	char *j;

	(void)state;
	/* wrapped values, definitions_updated in epoch ms */
	j = slurp_fixture("mdatp-health-wrapped.json", &len);
	assert_int_equal(av_mdatp_parse_health(j, len, 1709003600, &st), 0);
	free(j);
	assert_true(st.resident);
	assert_true(st.healthy_known && st.healthy);
	assert_true(st.on_access_known && st.on_access);
	assert_true(st.have_definitions);
	assert_int_equal(st.definitions_time, 1709000000);
	assert_string_equal(st.engine_version, "1.1.24030.4");
	/* plain values, minutes ago, unhealthy and rtp off */
	j = slurp_fixture("mdatp-health-plain-unhealthy.json", &len);
	assert_int_equal(av_mdatp_parse_health(j, len, 1709003600, &st), 0);
	free(j);
	assert_true(st.healthy_known && !st.healthy);
	assert_true(st.on_access_known && !st.on_access);
	assert_int_equal(st.definitions_time, 1709003600 - 7200 * 60);
	/* real-time protection on, but passive mode: detects, never blocks
	 * (AV-1, issue 21): not protecting */
	j = slurp_fixture("mdatp-health-passive.json", &len);
	assert_int_equal(av_mdatp_parse_health(j, len, 1709003600, &st), 0);
	free(j);
	assert_true(st.resident);
	assert_true(st.on_access_known && !st.on_access);
	assert_non_null(strstr(st.on_access_detail, "passive_mode_enabled=true"));
	/* garbage */
	assert_int_equal(av_mdatp_parse_health("not json", 8, 0, &st), -EBADMSG);
	assert_int_equal(av_mdatp_parse_health("[1,2]", 5, 0, &st), -EBADMSG);
	assert_int_equal(av_mdatp_parse_health("{\"x\":1}", 7, 0, &st), -EBADMSG);
	assert_int_equal(av_mdatp_parse_health("{\"healthy\":tr", 13, 0, &st), -EBADMSG);
}

static const struct check_result *find(const struct check_report *rep, const char *id)
{
	for (size_t i = 0; i < rep->n; i++)
		if (strcmp(rep->results[i]->id, id) == 0)
			return rep->results[i];
	fail_msg("no result %s", id);
	return NULL;
}

static void settings(const char *json, struct av_settings *s)
{
	cJSON *j = cJSON_Parse(json);

	assert_non_null(j);
	assert_int_equal(av_settings_from_json(j, s), 0);
	cJSON_Delete(j);
}

static void test_mdatp_standin_and_evaluate(void **state)
{
	struct check_report rep = {0};
	struct av_settings s;
	struct av_status st;
	char p[600];
	const char *src = getenv("MAMORI_SRC");
	char script[1200];

	(void)state;
	settings("{\"product\":\"mdatp\",\"max_definitions_age_hours\":48}", &s);
	/* not installed: AV-1 fails */
	assert_int_equal(av_backend_for(s.product)->gather(&s, NULL, time(NULL), &st), 0);
	assert_int_equal(av_evaluate(&s, &st, time(NULL), &rep), 0);
	assert_int_equal(find(&rep, "av.resident")->status, CHECK_FAIL);
	check_report_clear(&rep);
	/* a stand-in mdatp printing a recorded unhealthy reply */
	snprintf(script, sizeof(script), "#!/bin/sh\ncat '%s/tests/fixtures/av/mdatp-health-plain-unhealthy.json'\n",
	         src ? src : ".");
	put("/usr/bin/mdatp", script, strlen(script));
	snprintf(p, sizeof(p), "%s/usr/bin/mdatp", root);
	assert_int_equal(chmod(p, 0755), 0);
	assert_int_equal(av_backend_for(s.product)->gather(&s, NULL, time(NULL), &st), 0);
	assert_int_equal(av_evaluate(&s, &st, time(NULL), &rep), 0);
	assert_int_equal(find(&rep, "av.resident")->status, CHECK_FAIL); /* unhealthy */
	assert_int_equal(find(&rep, "av.on_access")->status, CHECK_FAIL);
	assert_int_equal(find(&rep, "av.definitions")->status, CHECK_FAIL); /* 5 days */
	assert_int_equal(find(&rep, "av.full_scan")->status, CHECK_NOT_APPLICABLE);
	for (size_t i = 0; i < rep.n; i++)
		if (rep.results[i]->status == CHECK_FAIL)
			assert_non_null(rep.results[i]->remedy_en);
	check_report_clear(&rep);
}

static void test_generic(void **state)
{
	struct check_report rep = {0};
	struct av_settings s;
	struct av_status st;

	(void)state;
	settings(
	        "{\"product\":\"generic\",\"generic\":{\"process\":\"fooavd\",\"definitions\":\"/opt/fooav/defs.dat\"},"
	        "\"max_definitions_age_hours\":24}",
	        &s);
	put("/proc/1/comm", "systemd\n", 8);
	assert_int_equal(av_backend_for(s.product)->gather(&s, NULL, time(NULL), &st), 0);
	assert_int_equal(av_evaluate(&s, &st, time(NULL), &rep), 0);
	assert_int_equal(find(&rep, "av.resident")->status, CHECK_FAIL);
	assert_int_equal(find(&rep, "av.definitions")->status, CHECK_FAIL);
	check_report_clear(&rep);
	put("/proc/4242/comm", "fooavd\n", 7);
	put("/opt/fooav/defs.dat", "x", 1);
	assert_int_equal(av_backend_for(s.product)->gather(&s, NULL, time(NULL), &st), 0);
	assert_int_equal(av_evaluate(&s, &st, time(NULL), &rep), 0);
	assert_int_equal(find(&rep, "av.resident")->status, CHECK_PASS);
	assert_int_equal(find(&rep, "av.definitions")->status, CHECK_PASS);
	assert_int_equal(find(&rep, "av.on_access")->status, CHECK_NOT_APPLICABLE);
	check_report_clear(&rep);
}

static void test_settings(void **state)
{
	struct av_settings s;
	cJSON *j;

	(void)state;
	assert_int_equal(av_settings_from_json(NULL, &s), 0);
	assert_int_equal(s.product, AV_PRODUCT_CLAMAV);
	assert_string_equal(s.clamd_socket, AV_DEFAULT_SOCKET);
	j = cJSON_Parse("{\"product\":\"norton\"}");
	assert_int_equal(av_settings_from_json(j, &s), -EINVAL);
	cJSON_Delete(j);
	j = cJSON_Parse("{\"watch\":[\"relative/path\"]}");
	assert_int_equal(av_settings_from_json(j, &s), -EINVAL);
	cJSON_Delete(j);
	j = cJSON_Parse("{\"max_definitions_age_hours\":1.5}");
	assert_int_equal(av_settings_from_json(j, &s), -EINVAL);
	cJSON_Delete(j);
}

static void test_watch_tamper(void **state)
{
	struct check_report rep = {0};
	struct av_settings s;
	struct av_watch *w = calloc(1, sizeof(*w));
	char sd[512];

	(void)state;
	assert_non_null(w);
	settings("{\"watch\":[\"/etc/clamav/clamd.conf\",\"/etc/clamav/freshclam.conf\"]}", &s);
	put("/etc/clamav/clamd.conf", "LocalSocket /run/clamav/clamd.ctl\n", 34);
	put("/etc/clamav/freshclam.conf", "Checks 24\n", 10);
	snprintf(sd, sizeof(sd), "%s/var/lib/mamori", root);
	assert_int_equal(av_watch_init(w, &s, sd), 0);
	assert_true(w->inotify_fd >= 0);
	assert_int_equal(av_watch_scan(w, &ctx), 0);
	assert_int_equal(av_watch_evaluate(w, &rep), 0);
	assert_int_equal(find(&rep, "av.config_integrity")->status, CHECK_PASS);
	check_report_clear(&rep);

	/* a member of staff edits the config: inotify reports it, one event */
	put("/etc/clamav/clamd.conf", "LocalSocket /tmp/x\n", 19);
	assert_int_equal(av_watch_on_ready(w, &ctx), 1);
	assert_int_equal(n_events, 1);
	assert_non_null(strstr(last_payload, "\"path\":\"/etc/clamav/clamd.conf\""));
	assert_non_null(strstr(last_payload, "\"old\":\""));
	assert_int_equal(av_watch_scan(w, &ctx), 1);
	assert_int_equal(n_events, 1); /* not repeated for the same content */
	assert_int_equal(av_watch_evaluate(w, &rep), 0);
	assert_int_equal(find(&rep, "av.config_integrity")->status, CHECK_FAIL);
	check_report_clear(&rep);

	/* the baseline survives a restart: still failing, no new event */
	av_watch_done(w);
	assert_int_equal(av_watch_init(w, &s, sd), 0);
	assert_int_equal(av_watch_scan(w, &ctx), 1);
	assert_int_equal(n_events, 1);
	/* deleting the file is another change */
	{
		char p[600];
		snprintf(p, sizeof(p), "%s/etc/clamav/freshclam.conf", root);
		assert_int_equal(unlink(p), 0);
	}
	assert_int_equal(av_watch_scan(w, &ctx), 2);
	assert_int_equal(n_events, 2);
	assert_non_null(strstr(last_payload, "\"new\":\"absent\""));

	/* approved: re-baseline, passes again */
	assert_int_equal(av_watch_rebaseline(w), 0);
	assert_int_equal(av_watch_scan(w, &ctx), 0);
	assert_int_equal(av_watch_evaluate(w, &rep), 0);
	assert_int_equal(find(&rep, "av.config_integrity")->status, CHECK_PASS);
	check_report_clear(&rep);
	av_watch_done(w);
	free(w);
}

/* A peer on the clamd socket that answers with `reply` (len bytes) or
 * stays silent (len < 0). */
static pid_t fake_clamd(const char *sock, const char *reply, ssize_t len)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	pid_t pid;

	assert_true(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	unlink(sock);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 4), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int c = accept(fd, NULL, NULL);
		char buf[64];

		if (c >= 0 && read(c, buf, sizeof(buf)) > 0 && len >= 0) {
			for (ssize_t o = 0; o < len;) {
				ssize_t n = write(c, reply + o, (size_t)(len - o));
				if (n <= 0)
					break;
				o += n;
			}
		}
		if (len < 0)
			pause();
		_exit(0);
	}
	close(fd);
	return pid;
}

static void reap(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static void test_hostile_socket(void **state)
{
	char sock[600], reply[AV_CLAMD_REPLY_MAX];
	char *big = malloc(100000);
	struct check_report rep = {0};
	struct av_settings s;
	struct av_status st;
	pid_t pid;

	(void)state;
	assert_non_null(big);
	memset(big, 'A', 100000);
	snprintf(sock, sizeof(sock), "%s/clamd.sock", root);
	/* endless reply without terminator: capped */
	pid = fake_clamd(sock, big, 100000);
	assert_int_equal(av_clamd_command("/clamd.sock", "PING", 2000, reply, sizeof(reply)), -EBADMSG);
	reap(pid);
	/* trailing bytes after the terminator */
	pid = fake_clamd(sock, "PONG\0junk", 9);
	assert_int_equal(av_clamd_command("/clamd.sock", "PING", 2000, reply, sizeof(reply)), -EBADMSG);
	reap(pid);
	/* silence: the deadline holds */
	pid = fake_clamd(sock, NULL, -1);
	assert_int_equal(av_clamd_command("/clamd.sock", "PING", 300, reply, sizeof(reply)), -ETIMEDOUT);
	reap(pid);
	/* garbage answer to PING: not resident */
	pid = fake_clamd(sock, "\xff\xfe garbage\0", 11);
	settings("{\"clamd_socket\":\"/clamd.sock\",\"clamd_database_dir\":\"/db\"}", &s);
	assert_int_equal(av_backend_for(s.product)->gather(&s, NULL, time(NULL), &st), 0);
	assert_int_equal(av_evaluate(&s, &st, time(NULL), &rep), 0);
	assert_int_equal(find(&rep, "av.resident")->status, CHECK_FAIL);
	assert_int_equal(find(&rep, "av.definitions")->status, CHECK_FAIL);
	check_report_clear(&rep);
	reap(pid);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_cvd_header),
	        cmocka_unit_test(test_version_reply),
	        cmocka_unit_test(test_mdatp),
	        cmocka_unit_test_setup_teardown(test_mdatp_standin_and_evaluate, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_generic, setup, teardown),
	        cmocka_unit_test(test_settings),
	        cmocka_unit_test_setup_teardown(test_watch_tamper, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_hostile_socket, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
