/* tests/unit/test_proc_util.c — the helper-program runner (common/proc-util.h):
 * output, exit status, deadline, output cap, a missing program. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "proc-util.h"

static void test_output_and_exit(void **state)
{
	char *argv[] = {"/bin/sh", "-c", "printf 'idle-delay\\n300'; echo err >&2; exit 3", NULL};
	char *env[] = {"LC_ALL=C", NULL};
	char *out = NULL;
	size_t len = 0;
	int ex = -1;

	(void)state;
	assert_int_equal(spawn_capture(argv, env, 5000, 4096, &out, &len, &ex), 0);
	assert_string_equal(out, "idle-delay\n300"); /* stderr is not mixed in */
	assert_int_equal(len, 14);
	assert_int_equal(ex, 3);
	free(out);
}

static void test_deadline_and_cap(void **state)
{
	char *slow[] = {"/bin/sh", "-c", "sleep 10", NULL};
	char *loud[] = {"/bin/sh", "-c", "while :; do echo xxxxxxxxxxxxxxxx; done", NULL};
	char *missing[] = {"/nonexistent/mdatp", NULL};
	char *out = NULL;
	struct timespec t0, t1;
	int ex;

	(void)state;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(spawn_capture(slow, NULL, 200, 4096, &out, NULL, &ex), -ETIMEDOUT);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true(t1.tv_sec - t0.tv_sec < 5); /* killed, not waited for */
	assert_null(out);
	assert_int_equal(spawn_capture(loud, NULL, 5000, 1000, &out, NULL, &ex), -EFBIG);
	assert_null(out);
	assert_int_equal(spawn_capture(missing, NULL, 1000, 100, &out, NULL, &ex), -ENOENT);
}

/* the program next to an executable; an executable path without a folder is
 * an error (mamorid dereferenced strrchr's NULL there, issue 19 item 6) */
static void test_sibling_path(void **state)
{
	char buf[64];

	(void)state;
	assert_int_equal(sibling_path("/usr/sbin/mamorid", "mamori-worker", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/usr/sbin/mamori-worker");
	assert_int_equal(sibling_path("/mamorid", "mamori-worker", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/mamori-worker");
	assert_int_equal(sibling_path("mamorid", "mamori-worker", buf, sizeof(buf)), -EINVAL);
	assert_int_equal(sibling_path("/usr/sbin/mamorid", "../x", buf, sizeof(buf)), -EINVAL);
	assert_int_equal(sibling_path("/a/very/long/folder/name/that/does/not/fit/into/sixty/four/bytes/mamorid",
	                              "mamori-worker", buf, sizeof(buf)),
	                 -ENAMETOOLONG);
	assert_int_equal(self_sibling_path("x", buf, sizeof(buf)), 0);
	assert_non_null(strstr(buf, "/x"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_output_and_exit),
	        cmocka_unit_test(test_deadline_and_cap),
	        cmocka_unit_test(test_sibling_path),
	};
	return cmocka_run_group_tests_name("proc-util", tests, NULL, NULL);
}
