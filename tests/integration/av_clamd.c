/* tests/integration/av_clamd.c — the ClamAV adapter against the real clamd
 * that av_clamd.sh started on $AV_TMP/clamd.sock: PING/PONG, VERSION,
 * EICAR and clean files through INSTREAM, a CONTSCAN full scan driven by
 * av_clamd_scan_feed, the definitions' age from a .cvd header, and a dead
 * socket as an AV-1 failure. */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "av/av.h"
#include "av/av_clamd.h"
#include "config.h"
#include "fileio.h"
#include "module.h"
#include "policy.h"
#include "rootpath.h"

static const char *tmp;
static struct av_settings s;

static const struct check_result *find(const struct check_report *rep, const char *id)
{
	for (size_t i = 0; i < rep->n; i++)
		if (strcmp(rep->results[i]->id, id) == 0)
			return rep->results[i];
	fail_msg("no result %s", id);
	return NULL;
}

static void write_cvd(const char *name, int64_t stime)
{
	char hdr[512], p[700], dir[600];

	memset(hdr, ' ', sizeof(hdr));
	int n = snprintf(hdr, sizeof(hdr), "ClamAV-VDB:01 Jan 2024 00-00 +0000:27150:2050000:90:%032d:sig:mamori:%lld",
	                 0, (long long)stime);
	hdr[n] = ' ';
	snprintf(dir, sizeof(dir), "%s/defs", tmp);
	assert_int_equal(mkdir_p(dir, 0755), 0);
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	assert_int_equal(write_file_atomic(p, hdr, sizeof(hdr), 0644), 0);
}

static int setup(void **state)
{
	char p[600], cfg[1200];
	cJSON *j;

	(void)state;
	tmp = getenv("AV_TMP");
	assert_non_null(tmp);
	/* the real root: clamd sees the real file system */
	assert_int_equal(root_set("/"), 0);
	snprintf(p, sizeof(p), "%s/clamd.sock", tmp);
	snprintf(cfg, sizeof(cfg),
	         "{\"product\":\"clamav\",\"clamd_socket\":\"%s\",\"clamd_database_dir\":\"%s/defs\","
	         "\"max_definitions_age_hours\":48,\"full_scan_interval_days\":7,\"watch\":[]}",
	         p, tmp);
	j = cJSON_Parse(cfg);
	assert_non_null(j);
	assert_int_equal(av_settings_from_json(j, &s), 0);
	cJSON_Delete(j);
	return 0;
}

static void test_ping_version(void **state)
{
	char reply[AV_CLAMD_REPLY_MAX], eng[64], db[32];
	int64_t t = -1;

	(void)state;
	assert_int_equal(av_clamd_command(s.clamd_socket, "PING", 5000, reply, sizeof(reply)), 4);
	assert_string_equal(reply, "PONG");
	assert_true(av_clamd_command(s.clamd_socket, "VERSION", 5000, reply, sizeof(reply)) > 0);
	assert_int_equal(av_clamd_parse_version(reply, eng, sizeof(eng), db, sizeof(db), &t), 0);
	assert_true(strlen(eng) > 0);
	print_message("clamd VERSION: %s\n", reply);
}

static void test_scan_files(void **state)
{
	struct av_scan_result r;
	char p[600];

	(void)state;
	snprintf(p, sizeof(p), "%s/scan/eicar.com", tmp);
	assert_int_equal(av_scan_file(&s, p, &r), 0);
	assert_true(r.infected);
	assert_non_null(strstr(r.signature, "Mamori-EICAR-Test"));
	snprintf(p, sizeof(p), "%s/scan/clean.txt", tmp);
	assert_int_equal(av_scan_file(&s, p, &r), 0);
	assert_false(r.infected);
	/* over the stream cap: refused before anything is sent */
	s.instream_max = 4;
	assert_int_equal(av_scan_file(&s, p, &r), -EFBIG);
	s.instream_max = AV_INSTREAM_MAX;
	snprintf(p, sizeof(p), "%s/scan/missing", tmp);
	assert_int_equal(av_scan_file(&s, p, &r), -ENOENT);
}

static void test_full_scan(void **state)
{
	struct av_clamd_scan *scan = NULL;
	char p[600], sd[600];
	int64_t last;
	int r = 0;

	(void)state;
	snprintf(p, sizeof(p), "%s/scan", tmp);
	assert_int_equal(av_clamd_scan_begin(&s, p, &scan), 0);
	for (int i = 0; i < 300 && r == 0; i++) {
		struct pollfd pf = {.fd = av_clamd_scan_fd(scan), .events = POLLIN};
		assert_true(poll(&pf, 1, 100) >= 0);
		r = av_clamd_scan_feed(scan);
	}
	assert_int_equal(r, 1);
	assert_int_equal(av_clamd_scan_found(scan), 1);
	snprintf(sd, sizeof(sd), "%s/state", tmp);
	assert_int_equal(av_clamd_record_full_scan(sd, (int64_t)time(NULL), av_clamd_scan_found(scan),
	                                           av_clamd_scan_errors(scan), 1),
	                 0);
	av_clamd_scan_free(scan);
	assert_int_equal(av_clamd_last_full_scan(sd, &last), 0);
	assert_true(last > 0);
}

static void eval_now(const char *state_dir, struct check_report *rep)
{
	struct av_status st;

	assert_int_equal(av_backend_for(s.product)->gather(&s, state_dir, time(NULL), &st), 0);
	assert_int_equal(av_evaluate(&s, &st, time(NULL), rep), 0);
}

static void test_status_pass_and_fail(void **state)
{
	struct check_report rep = {0};
	char sd[600], good[600];

	(void)state;
	snprintf(sd, sizeof(sd), "%s/state", tmp);
	/* fresh definitions, a recorded clean full scan, clamd up (test_full_scan's
	 * found EICAR: a scan that found malware fails AV-3, see below) */
	write_cvd("daily.cvd", (int64_t)time(NULL) - 3600);
	write_cvd("main.cvd", (int64_t)time(NULL) - 2 * 3600);
	assert_int_equal(av_clamd_record_full_scan(sd, (int64_t)time(NULL), 0, 0, 1), 0);
	eval_now(sd, &rep);
	assert_int_equal(find(&rep, "av.resident")->status, CHECK_PASS);
	assert_int_equal(find(&rep, "av.definitions")->status, CHECK_PASS);
	assert_int_equal(find(&rep, "av.engine")->status, CHECK_PASS);
	assert_int_equal(find(&rep, "av.full_scan")->status, CHECK_PASS);
	/* no clamonacc runs in the test */
	assert_int_equal(find(&rep, "av.on_access")->status, CHECK_FAIL);
	check_report_clear(&rep);

	/* definitions 5 days old: AV-2 fails */
	write_cvd("daily.cvd", (int64_t)time(NULL) - 5 * 86400);
	eval_now(sd, &rep);
	assert_int_equal(find(&rep, "av.definitions")->status, CHECK_FAIL);
	check_report_clear(&rep);

	/* the older of main and daily decides (issue 21, AV-2): a fresh main
	 * with a 500-hour-old daily is stale, and so is the reverse */
	write_cvd("main.cvd", (int64_t)time(NULL) - 600);
	write_cvd("daily.cvd", (int64_t)time(NULL) - 500 * 3600);
	eval_now(sd, &rep);
	assert_int_equal(find(&rep, "av.definitions")->status, CHECK_FAIL);
	check_report_clear(&rep);
	write_cvd("main.cvd", (int64_t)time(NULL) - 500 * 3600);
	write_cvd("daily.cvd", (int64_t)time(NULL) - 600);
	eval_now(sd, &rep);
	assert_int_equal(find(&rep, "av.definitions")->status, CHECK_FAIL);
	check_report_clear(&rep);
	write_cvd("main.cvd", (int64_t)time(NULL) - 600);
	write_cvd("daily.cvd", (int64_t)time(NULL) - 600);
	eval_now(sd, &rep);
	assert_int_equal(find(&rep, "av.definitions")->status, CHECK_PASS);
	check_report_clear(&rep);

	/* a truncated header: error, with the reason */
	snprintf(good, sizeof(good), "%s/defs/daily.cvd", tmp);
	assert_int_equal(write_file_atomic(good, "ClamAV-VDB:01 Jan", 17, 0644), 0);
	eval_now(sd, &rep);
	assert_int_equal(find(&rep, "av.definitions")->status, CHECK_ERROR);
	check_report_clear(&rep);

	/* dead socket: AV-1 fails, no scan state: AV-3 fails */
	snprintf(s.clamd_socket, sizeof(s.clamd_socket), "%s/nothing-here.sock", tmp);
	snprintf(sd, sizeof(sd), "%s/empty-state", tmp);
	eval_now(sd, &rep);
	assert_int_equal(find(&rep, "av.resident")->status, CHECK_FAIL);
	assert_int_equal(find(&rep, "av.engine")->status, CHECK_FAIL);
	assert_int_equal(find(&rep, "av.full_scan")->status, CHECK_FAIL);
	assert_non_null(find(&rep, "av.resident")->remedy_ja);
	check_report_clear(&rep);
}

/* ---- the scheduled full scan through the module (AV-3, issue 22) ---------------- */

static cJSON *events;

static int capture(struct mamori_ctx *ctx, const struct mamori_event *ev, uint64_t *ret_seq)
{
	cJSON *o = cJSON_CreateObject();

	(void)ctx;
	cJSON_AddStringToObject(o, "type", ev->type);
	cJSON_AddStringToObject(o, "reqs", ev->reqs);
	cJSON_AddItemToObject(o, "payload", cJSON_Duplicate(ev->payload, true));
	cJSON_AddItemToArray(events, o);
	if (ret_seq)
		*ret_seq = (uint64_t)cJSON_GetArraySize(events);
	return 0;
}

static const cJSON *event(const char *type)
{
	const cJSON *e, *hit = NULL;

	cJSON_ArrayForEach(e, events) if (strcmp(cJSON_GetObjectItem(e, "type")->valuestring, type) == 0) hit =
	        cJSON_GetObjectItem(e, "payload");
	return hit;
}

static void test_scheduled_full_scan_detections(void **state)
{
	static struct agent_config cfg;
	struct mamori_policy *pol = NULL;
	struct mamori_ctx ctx = {.lang = "en", .emit = capture};
	struct check_report rep = {0};
	struct av_status st;
	char doc[2048];
	const cJSON *d, *f;
	void *av = NULL;

	(void)state;
	events = cJSON_CreateArray();
	snprintf(cfg.state_dir, sizeof(cfg.state_dir), "%s/state-module", tmp);
	snprintf(doc, sizeof(doc),
	         "{\"schema\":1,\"version\":1,\"segment\":\"lgwan\",\"av\":{\"product\":\"clamav\",\"clamd_socket\":"
	         "\"%s/clamd.sock\",\"clamd_database_dir\":\"%s/defs\",\"full_scan_interval_days\":7,"
	         "\"full_scan_paths\":[\"%s/scan\"],\"watch\":[]}}",
	         tmp, tmp, tmp);
	assert_int_equal(policy_parse(doc, strlen(doc), &pol, NULL), 0);
	ctx.policy = pol;
	ctx.config = &cfg;
	assert_int_equal(mamori_module_start(&av_module, &ctx, &av), 0);
	assert_int_equal(av_module.enforce(av), 0); /* no full scan recorded: it is due */
	for (int i = 0; i < 300 && !event("av.full_scan"); i++) {
		int fds[MAMORI_MODULE_MAX_FDS], n = av_module.fds(av, fds, MAMORI_MODULE_MAX_FDS);
		struct pollfd pf[MAMORI_MODULE_MAX_FDS];

		for (int k = 0; k < n; k++)
			pf[k] = (struct pollfd){.fd = fds[k], .events = POLLIN};
		assert_true(poll(pf, (nfds_t)n, 100) >= 0);
		for (int k = 0; k < n; k++)
			if (pf[k].revents)
				assert_int_equal(av_module.on_ready(av, pf[k].fd, pf[k].revents), 0);
	}
	/* the detection is an incident with its file */
	d = event("av.detected");
	assert_non_null(d);
	assert_non_null(strstr(cJSON_GetObjectItem(d, "path")->valuestring, "/scan/eicar.com"));
	assert_string_equal(cJSON_GetObjectItem(d, "signature")->valuestring, "Mamori-EICAR-Test.UNOFFICIAL");
	assert_string_equal(cJSON_GetObjectItem(d, "source")->valuestring, "full_scan");
	/* the scan's result is recorded, and AV-3 judges it */
	f = event("av.full_scan");
	assert_non_null(f);
	assert_string_equal(cJSON_GetObjectItem(f, "result")->valuestring, "infected");
	assert_int_equal(cJSON_GetObjectItem(f, "found")->valueint, 1);
	assert_int_equal(av_backend_for(s.product)->gather(&s, cfg.state_dir, time(NULL), &st), 0);
	assert_true(st.have_full_scan_result);
	assert_int_equal(st.last_full_scan_found, 1);
	assert_int_equal(av_evaluate(&s, &st, time(NULL), &rep), 0);
	assert_int_equal(find(&rep, "av.full_scan")->status, CHECK_FAIL);
	check_report_clear(&rep);
	mamori_module_stop(&av_module, av);
	policy_free(pol);
	cJSON_Delete(events);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_ping_version),
	        cmocka_unit_test(test_scan_files),
	        cmocka_unit_test(test_full_scan),
	        cmocka_unit_test(test_scheduled_full_scan_detections),
	        cmocka_unit_test(test_status_pass_and_fail),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
