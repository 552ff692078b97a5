/* tests/unit/test_wipe.c — the removal of data paths by the `wipe` command
 * (agent/worker/wipe.c, MDM-1) in a temporary directory: a directory tree is
 * removed; a symlink inside is removed as a link and its target outside
 * survives; a configured path that is a symlink, or has one in a parent, is
 * refused and nothing is removed; "/", relative paths and "." / ".."
 * components are refused; a mount point inside (a tmpfs the test mounts,
 * when it may) is left with its files and counted. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"
#include "wipe.h"

static char *dir;

static int setup(void **state)
{
	(void)state;
	dir = tu_mkdtemp();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tu_rmtree(dir);
	free(dir);
	return 0;
}

static bool exists(const char *rel)
{
	char p[1024];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	return lstat(p, &st) == 0;
}

static void test_tree_and_symlinks(void **state)
{
	char p[1024], outside[1024], err[512];
	unsigned removed = 0, left = 0;

	(void)state;
	tu_write(dir, "outside/keep.txt", "keep");
	tu_write(dir, "data/a.txt", "a");
	tu_write(dir, "data/sub/deeper/b.txt", "b");
	snprintf(outside, sizeof(outside), "%s/outside", dir);
	tu_symlink(dir, "data/link-dir", outside);
	tu_symlink(dir, "data/sub/link-file", "../../outside/keep.txt");
	snprintf(p, sizeof(p), "%s/data", dir);
	assert_int_equal(wipe_path(p, &removed, &left, err, sizeof(err)), 0);
	assert_int_equal(left, 0);
	assert_int_equal(removed, 7); /* a.txt, b.txt, deeper, sub, link-file, link-dir, data */
	assert_false(exists("data"));
	assert_true(exists("outside/keep.txt"));
	/* gone already: -ENOENT, nothing else */
	assert_int_equal(wipe_path(p, &removed, &left, err, sizeof(err)), -ENOENT);
	/* a single file */
	tu_write(dir, "file.txt", "f");
	snprintf(p, sizeof(p), "%s/file.txt", dir);
	assert_int_equal(wipe_path(p, &removed, &left, err, sizeof(err)), 0);
	assert_false(exists("file.txt"));
}

static void test_symlinks_refused(void **state)
{
	char p[1024], outside[1024], err[512];
	unsigned removed = 0, left = 0;

	(void)state;
	tu_write(dir, "outside2/keep.txt", "keep");
	snprintf(outside, sizeof(outside), "%s/outside2", dir);
	tu_symlink(dir, "configured", outside);
	/* the configured path is a symlink */
	snprintf(p, sizeof(p), "%s/configured", dir);
	assert_int_equal(wipe_path(p, &removed, &left, err, sizeof(err)), -ELOOP);
	assert_non_null(strstr(err, "symlink"));
	/* a symlink in a parent of the configured path */
	snprintf(p, sizeof(p), "%s/configured/keep.txt", dir);
	assert_int_equal(wipe_path(p, &removed, &left, err, sizeof(err)), -ELOOP);
	assert_true(exists("outside2/keep.txt"));
	assert_true(exists("configured"));
}

static void test_bad_paths(void **state)
{
	char p[1024], err[512];
	unsigned removed = 0, left = 0;
	const char *const bad[] = {"/", "relative/path", "/tmp/../etc", "/tmp/./x", "/tmp/x/", "/tmp//x", "/tmp/.."};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(wipe_path(bad[i], &removed, &left, err, sizeof(err)), -EINVAL);
	snprintf(p, sizeof(p), "%s/..", dir);
	assert_int_equal(wipe_path(p, &removed, &left, err, sizeof(err)), -EINVAL);
}

static void test_mount_point_left(void **state)
{
	char p[1024], mnt[1024], err[512];
	unsigned removed = 0, left = 0;

	(void)state;
	tu_write(dir, "data3/a.txt", "a");
	tu_write(dir, "data3/mnt/.keep", "");
	snprintf(mnt, sizeof(mnt), "%s/data3/mnt", dir);
	if (mount("mamori-test", mnt, "tmpfs", 0, "size=1m") < 0)
		skip(); /* not allowed here: the file-system check is then not exercised */
	tu_write(dir, "data3/mnt/other-fs.txt", "x");
	snprintf(p, sizeof(p), "%s/data3", dir);
	assert_int_equal(wipe_path(p, &removed, &left, err, sizeof(err)), 0);
	assert_int_equal(left, 1);
	assert_true(exists("data3/mnt/other-fs.txt"));
	assert_false(exists("data3/a.txt"));
	/* the mount point itself given: refused */
	assert_int_equal(wipe_path(mnt, &removed, &left, err, sizeof(err)), -EXDEV);
	assert_true(exists("data3/mnt/other-fs.txt"));
	assert_int_equal(umount2(mnt, MNT_DETACH), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_tree_and_symlinks),
	        cmocka_unit_test(test_symlinks_refused),
	        cmocka_unit_test(test_bad_paths),
	        cmocka_unit_test(test_mount_point_left),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
