/* tests/unit/test_software.c — SOFT-1 allow/deny evaluation and the
 * posture.changed events of inventory changes, on generated dpkg status
 * files in a temporary root with an event recorder as ctx->emit. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fileio.h"
#include "posture/software.h"
#include "rootpath.h"

static char root[256], statusp[512], sd[512];
static int n_events;
static char last_type[64];
static char *last_payload;

static int recorder(struct mamori_ctx *ctx, const struct mamori_event *ev, uint64_t *ret_seq)
{
	(void)ctx;
	(void)ret_seq;
	n_events++;
	snprintf(last_type, sizeof(last_type), "%s", ev->type);
	free(last_payload);
	last_payload = cJSON_PrintUnformatted(ev->payload);
	return 0;
}

static struct mamori_ctx ctx = {.emit = recorder};

static void write_status(const char *s)
{
	assert_int_equal(write_file_atomic(statusp, s, strlen(s), 0644), 0);
}

static int setup(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/mamori-test-soft.XXXXXX");
	assert_non_null(mkdtemp(root));
	assert_int_equal(root_set(root), 0);
	snprintf(statusp, sizeof(statusp), "%s/var/lib/dpkg", root);
	assert_int_equal(mkdir_p(statusp, 0755), 0);
	snprintf(statusp, sizeof(statusp), "%s/var/lib/dpkg/status", root);
	snprintf(sd, sizeof(sd), "%s/var/lib/mamori", root);
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

#define PKG(n, v) "Package: " n "\nStatus: install ok installed\nArchitecture: amd64\nVersion: " v "\n\n"

static enum check_status eval(const char *policy, const char *status, char *evid, size_t sz)
{
	struct software_settings s;
	struct patch_pkglist l = {0};
	struct check_report rep = {0};
	enum check_status st;
	cJSON *j = cJSON_Parse(policy);

	assert_non_null(j);
	assert_int_equal(software_settings_from_json(j, &s), 0);
	cJSON_Delete(j);
	write_status(status);
	assert_int_equal(patch_dpkg_read(statusp, &l, NULL), 0);
	assert_int_equal(software_evaluate(&s, &l, &rep), 0);
	assert_int_equal(rep.n, 1);
	assert_string_equal(rep.results[0]->reqs[0], "SOFT-1");
	st = rep.results[0]->status;
	evid[0] = '\0';
	for (size_t i = 0; i < rep.results[0]->n_evidence; i++)
		if (strcmp(rep.results[0]->evidence[i].key, "packages") == 0)
			snprintf(evid, sz, "%s", rep.results[0]->evidence[i].value);
	if (st == CHECK_FAIL)
		assert_non_null(rep.results[0]->remedy_ja);
	check_report_clear(&rep);
	patch_pkglist_free(&l);
	software_settings_done(&s);
	return st;
}

static void test_denylist(void **state)
{
	char e[1024];

	(void)state;
	assert_int_equal(eval("{\"mode\":\"denylist\",\"deny\":[\"telnetd\",\"*-games\"]}",
	                      PKG("bash", "5.2") PKG("coreutils", "9.1"), e, sizeof(e)),
	                 CHECK_PASS);
	assert_int_equal(eval("{\"mode\":\"denylist\",\"deny\":[\"telnetd\",\"*-games\"]}",
	                      PKG("bash", "5.2") PKG("bsd-games", "2.17") PKG("telnetd", "0.17"), e, sizeof(e)),
	                 CHECK_FAIL);
	assert_string_equal(e, "bsd-games 2.17, telnetd 0.17");
}

static void test_allowlist(void **state)
{
	char e[1024];

	(void)state;
	assert_int_equal(eval("{\"mode\":\"allowlist\",\"allow\":[\"bash\",\"lib*\"]}",
	                      PKG("bash", "5.2") PKG("libc6", "2.36"), e, sizeof(e)),
	                 CHECK_PASS);
	assert_int_equal(eval("{\"mode\":\"allowlist\",\"allow\":[\"bash\",\"lib*\"]}",
	                      PKG("bash", "5.2") PKG("libc6", "2.36") PKG("nmap", "7.93"), e, sizeof(e)),
	                 CHECK_FAIL);
	assert_string_equal(e, "nmap 7.93");
	/* deny wins over allow */
	assert_int_equal(eval("{\"mode\":\"allowlist\",\"allow\":[\"*\"],\"deny\":[\"nmap\"]}",
	                      PKG("bash", "5.2") PKG("nmap", "7.93"), e, sizeof(e)),
	                 CHECK_FAIL);
}

static void test_bad_settings(void **state)
{
	struct software_settings s;
	cJSON *j = cJSON_Parse("{\"mode\":\"whatever\"}");

	(void)state;
	assert_int_equal(software_settings_from_json(j, &s), -EINVAL);
	cJSON_Delete(j);
	j = cJSON_Parse("{\"deny\":[1]}");
	assert_int_equal(software_settings_from_json(j, &s), -EINVAL);
	cJSON_Delete(j);
}

static int track(const char *status)
{
	struct patch_pkglist l = {0};
	int r;

	write_status(status);
	assert_int_equal(patch_dpkg_read(statusp, &l, NULL), 0);
	r = software_track_changes(sd, &l, &ctx);
	patch_pkglist_free(&l);
	return r;
}

static void test_changes(void **state)
{
	(void)state;
	/* first inventory is the baseline: no event */
	assert_int_equal(track(PKG("bash", "5.2") PKG("vim", "9.0")), 0);
	assert_int_equal(n_events, 0);
	/* unchanged: no event */
	assert_int_equal(track(PKG("bash", "5.2") PKG("vim", "9.0")), 0);
	assert_int_equal(n_events, 0);
	/* nmap installed, vim removed, bash upgraded */
	assert_int_equal(track(PKG("bash", "5.2.1") PKG("nmap", "7.93")), 3);
	assert_int_equal(n_events, 1);
	assert_string_equal(last_type, "posture.changed");
	assert_non_null(
	        strstr(last_payload, "\"added\":[{\"name\":\"nmap\",\"arch\":\"amd64\",\"version\":\"7.93\"}]"));
	assert_non_null(strstr(last_payload, "\"removed\":[{\"name\":\"vim\""));
	assert_non_null(strstr(last_payload, "\"old_version\":\"5.2\""));
	/* the new list is the reference now */
	assert_int_equal(track(PKG("bash", "5.2.1") PKG("nmap", "7.93")), 0);
	assert_int_equal(n_events, 1);
}

static void test_emit_failure_retries(void **state)
{
	struct mamori_ctx noemit = {0}; /* emit NULL: -ENOTCONN */
	struct patch_pkglist l = {0};

	(void)state;
	assert_int_equal(track(PKG("bash", "5.2")), 0);
	write_status(PKG("bash", "5.2") PKG("nc", "1.0"));
	assert_int_equal(patch_dpkg_read(statusp, &l, NULL), 0);
	assert_int_equal(software_track_changes(sd, &l, &noemit), -ENOTCONN);
	patch_pkglist_free(&l);
	/* the change is reported at the next check */
	assert_int_equal(track(PKG("bash", "5.2") PKG("nc", "1.0")), 1);
	assert_int_equal(n_events, 1);
}

static void test_module_malformed_status(void **state)
{
	const struct mamori_module *m = &software_module;
	struct check_report rep = {0};
	void *st = NULL;

	(void)state;
	write_status("Package: x\nthis is not deb822\n");
	assert_int_equal(mamori_module_start(m, &ctx, &st), 0);
	assert_int_equal(m->check(st, &rep), 0);
	assert_int_equal(rep.n, 1);
	assert_int_equal(rep.results[0]->status, CHECK_ERROR);
	check_report_clear(&rep);
	mamori_module_stop(m, st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_denylist, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_allowlist, setup, teardown),
	        cmocka_unit_test(test_bad_settings),
	        cmocka_unit_test_setup_teardown(test_changes, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_emit_failure_retries, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_module_malformed_status, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
