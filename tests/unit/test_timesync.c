/* tests/unit/test_timesync.c — clock synchronisation check (LOG-2) on fixture
 * trees under the root prefix, and on the real kernel state (read only). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timex.h>

#include <cmocka.h>

#include "posture/timesync.h"
#include "rootpath.h"
#include "testutil.h"

static const struct check_result *find(const struct check_report *rep, const char *id)
{
	for (size_t i = 0; i < rep->n; i++)
		if (strcmp(rep->results[i]->id, id) == 0)
			return rep->results[i];
	fail_msg("no result %s", id);
	return NULL;
}

static const char *evidence(const struct check_result *r, const char *key)
{
	for (size_t i = 0; i < r->n_evidence; i++)
		if (strcmp(r->evidence[i].key, key) == 0)
			return r->evidence[i].value;
	return NULL;
}

static void gather_in(const char *dir, struct timesync_facts *f)
{
	assert_int_equal(root_set(dir), 0);
	assert_int_equal(timesync_gather(f), 0);
	assert_int_equal(root_set(""), 0);
}

static void test_chrony_configured_and_running(void **state)
{
	char *dir = tu_mkdtemp();
	struct timesync_facts f;
	struct check_report rep = {0};
	const struct check_result *r;

	(void)state;
	tu_write(dir, "etc/chrony/chrony.conf", "# office\npool ntp.lg.example iburst\nserver 10.0.0.1 iburst\n");
	tu_symlink(dir, "etc/systemd/system/multi-user.target.wants/chrony.service",
	           "/lib/systemd/system/chrony.service");
	tu_write(dir, "proc/412/comm", "chronyd\n");
	tu_write(dir, "proc/1/comm", "systemd\n");
	gather_in(dir, &f);
	assert_true(f.enabled[TSD_CHRONY]);
	assert_true(f.running[TSD_CHRONY]);
	assert_false(f.enabled[TSD_TIMESYNCD]);
	assert_int_equal(f.n_servers[TSD_CHRONY], 2);
	assert_string_equal(f.servers[TSD_CHRONY][0], "ntp.lg.example");
	/* gathered under a root: the kernel clock is the host's, not judged */
	assert_true(f.kernel_is_host);
	assert_int_equal(timesync_evaluate(&f, &rep), 0);
	r = find(&rep, "timesync.kernel_sync");
	assert_int_equal(r->status, CHECK_NOT_APPLICABLE);
	assert_string_equal(evidence(r, "scope"), "host kernel, not the evaluated root");
	check_report_clear(&rep);
	/* kernel facts of a synchronised clock */
	f.kernel_is_host = false;
	f.adjtimex_state = TIME_OK;
	f.adjtimex_status = 0;
	assert_int_equal(timesync_evaluate(&f, &rep), 0);
	r = find(&rep, "timesync.kernel_sync");
	assert_int_equal(r->status, CHECK_PASS);
	assert_string_equal(r->reqs[0], "LOG-2");
	r = find(&rep, "timesync.daemon");
	assert_int_equal(r->status, CHECK_PASS);
	assert_string_equal(evidence(r, "daemon"), "chrony");
	assert_string_equal(evidence(r, "servers"), "ntp.lg.example,10.0.0.1");
	check_report_clear(&rep);
	tu_rmtree(dir);
	free(dir);
}

static void test_two_daemons_conflict(void **state)
{
	char *dir = tu_mkdtemp();
	struct timesync_facts f;
	struct check_report rep = {0};
	const struct check_result *r;

	(void)state;
	tu_write(dir, "etc/chrony/chrony.conf", "server 10.0.0.1\n");
	tu_write(dir, "etc/systemd/timesyncd.conf", "[Time]\nNTP=10.0.0.2 10.0.0.3\n");
	tu_symlink(dir, "etc/systemd/system/multi-user.target.wants/chrony.service", "/x");
	tu_symlink(dir, "etc/systemd/system/sysinit.target.wants/systemd-timesyncd.service", "/y");
	gather_in(dir, &f);
	assert_int_equal(f.n_servers[TSD_TIMESYNCD], 2);
	assert_int_equal(timesync_evaluate(&f, &rep), 0);
	r = find(&rep, "timesync.daemon");
	assert_int_equal(r->status, CHECK_FAIL);
	assert_string_equal(evidence(r, "enabled"), "chrony,systemd-timesyncd");
	assert_non_null(r->remedy_ja);
	assert_non_null(r->remedy_en);
	check_report_clear(&rep);
	tu_rmtree(dir);
	free(dir);
}

static void test_none_enabled_and_masked(void **state)
{
	char *dir = tu_mkdtemp();
	struct timesync_facts f;
	struct check_report rep = {0};

	(void)state;
	/* masked beats an enablement link */
	tu_symlink(dir, "etc/systemd/system/systemd-timesyncd.service", "/dev/null");
	tu_symlink(dir, "etc/systemd/system/sysinit.target.wants/systemd-timesyncd.service", "/y");
	gather_in(dir, &f);
	assert_false(f.enabled[TSD_TIMESYNCD]);
	assert_int_equal(timesync_evaluate(&f, &rep), 0);
	assert_int_equal(find(&rep, "timesync.daemon")->status, CHECK_FAIL);
	check_report_clear(&rep);
	tu_rmtree(dir);
	free(dir);
}

static void test_enabled_not_running_no_servers(void **state)
{
	char *dir = tu_mkdtemp();
	struct timesync_facts f;
	struct check_report rep = {0};
	const struct check_result *r;

	(void)state;
	tu_write(dir, "etc/ntp.conf", "# nothing configured\ndriftfile /var/lib/ntp/drift\n");
	tu_symlink(dir, "etc/systemd/system/multi-user.target.wants/ntp.service", "/z");
	gather_in(dir, &f);
	assert_int_equal(timesync_evaluate(&f, &rep), 0);
	r = find(&rep, "timesync.daemon");
	assert_int_equal(r->status, CHECK_FAIL);
	assert_string_equal(evidence(r, "servers"), "none");
	check_report_clear(&rep);
	tu_rmtree(dir);
	free(dir);
}

static void test_kernel_unsync(void **state)
{
	struct timesync_facts f = {.adjtimex_state = TIME_ERROR, .adjtimex_status = STA_UNSYNC};
	struct check_report rep = {0};

	(void)state;
	assert_int_equal(timesync_evaluate(&f, &rep), 0);
	assert_int_equal(find(&rep, "timesync.kernel_sync")->status, CHECK_FAIL);
	check_report_clear(&rep);
	f.adjtimex_state = -EPERM;
	assert_int_equal(timesync_evaluate(&f, &rep), 0);
	assert_int_equal(find(&rep, "timesync.kernel_sync")->status, CHECK_ERROR);
	check_report_clear(&rep);
}

/* The real kernel state, read only: the result must agree with adjtimex(). */
static void test_real_kernel_agrees(void **state)
{
	struct timesync_facts f;
	struct timex tx = {.modes = 0};
	struct check_report rep = {0};
	int st;

	(void)state;
	assert_int_equal(timesync_gather(&f), 0);
	st = adjtimex(&tx);
	assert_int_equal(f.adjtimex_state, st);
	assert_int_equal(timesync_evaluate(&f, &rep), 0);
	assert_int_equal(find(&rep, "timesync.kernel_sync")->status,
	                 (st == TIME_ERROR || (tx.status & STA_UNSYNC)) ? CHECK_FAIL : CHECK_PASS);
	check_report_clear(&rep);
}

static void test_hostile_config(void **state)
{
	char *dir = tu_mkdtemp();
	struct timesync_facts f;
	char big[8192];

	(void)state;
	memset(big, 'A', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "server ", 7);
	tu_write(dir, "etc/chrony/chrony.conf", big);
	gather_in(dir, &f);
	assert_int_equal(f.n_servers[TSD_CHRONY], 1);
	assert_true(strlen(f.servers[TSD_CHRONY][0]) < sizeof(f.servers[0][0]));
	tu_rmtree(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_chrony_configured_and_running),
	        cmocka_unit_test(test_two_daemons_conflict),
	        cmocka_unit_test(test_none_enabled_and_masked),
	        cmocka_unit_test(test_enabled_not_running_no_servers),
	        cmocka_unit_test(test_kernel_unsync),
	        cmocka_unit_test(test_real_kernel_agrees),
	        cmocka_unit_test(test_hostile_config),
	};
	return cmocka_run_group_tests_name("timesync", tests, NULL, NULL);
}
