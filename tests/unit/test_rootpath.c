/* tests/unit/test_rootpath.c — root_path() resolves inside the root (issue
 * 21): absolute symlinks start again at the root, ".." stops at it, loops
 * end, a mapped prefix goes to its host directory (test program). */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fileio.h"
#include "rootpath.h"
#include "strutil.h"

static char root[PATH_MAX];

static void mk(const char *rel)
{
	char p[PATH_MAX * 2];
	snprintf(p, sizeof(p), "%s%s", root, rel);
	assert_int_equal(mkdir_p(p, 0755), 0);
}

static void ln(const char *target, const char *rel)
{
	char p[PATH_MAX * 2];
	snprintf(p, sizeof(p), "%s%s", root, rel);
	assert_int_equal(symlink(target, p), 0);
}

static void expect(const char *path, const char *rel_result)
{
	char buf[PATH_MAX], want[PATH_MAX * 2];

	assert_int_equal(root_path(buf, sizeof(buf), path), 0);
	snprintf(want, sizeof(want), "%s%s", root, rel_result);
	assert_string_equal(buf, want);
}

static void test_resolve_in_root(void **state)
{
	char buf[PATH_MAX];
	(void)state;

	strscpy(root, sizeof(root), "/tmp/mamori-test-rootpath.XXXXXX");
	assert_non_null(mkdtemp(root));
	assert_int_equal(root_set(root), 0);
	mk("/run");
	mk("/var");
	mk("/etc/alternatives");
	ln("/run", "/var/run");                 /* Debian's absolute link */
	ln("../../../../../../etc", "/var/up"); /* ".." cannot leave the root */
	ln("/etc/alternatives/x", "/etc/x");    /* dangling inside the root */
	ln("loop2", "/etc/loop1");
	ln("loop1", "/etc/loop2");
	expect("/var/run/reboot-required", "/run/reboot-required");
	expect("/var/up/passwd", "/etc/passwd");
	expect("/var/../../../etc/shadow", "/etc/shadow");
	expect("/etc/x", "/etc/alternatives/x");
	expect("/nonexistent/a/../b", "/nonexistent/b"); /* nothing there to follow */
	expect("/", "/");
	assert_int_equal(root_path(buf, sizeof(buf), "/etc/loop1"), -ELOOP);
	assert_int_equal(root_path(buf, sizeof(buf), "etc/passwd"), -EINVAL);

	/* a mapped prefix: the state directory outside the evaluated root */
	assert_int_equal(root_map("/var/lib/mamori", "/tmp/elsewhere"), 0);
	assert_int_equal(root_path(buf, sizeof(buf), "/var/lib/mamori/patch/x"), 0);
	assert_string_equal(buf, "/tmp/elsewhere/patch/x");
	expect("/var/lib/mamorix", "/var/lib/mamorix");
	assert_int_equal(root_map(NULL, NULL), 0);
	expect("/var/lib/mamori", "/var/lib/mamori");

	/* no root: paths are the machine's own */
	assert_int_equal(root_set(""), 0);
	assert_int_equal(root_path(buf, sizeof(buf), "/var/run/x"), 0);
	assert_string_equal(buf, "/var/run/x");
	{
		char cmd[PATH_MAX + 32];
		snprintf(cmd, sizeof(cmd), "rm -rf --one-file-system '%s'", root);
		assert_int_equal(system(cmd), 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_resolve_in_root)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
