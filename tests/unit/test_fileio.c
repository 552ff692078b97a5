/* tests/unit/test_fileio.c — common/fileio.c's writer on every kind of
 * target (issue 19 item 6): a regular file is replaced atomically, a character
 * device (made with mknod in a temporary directory) or a FIFO is written in
 * place and stays what it was, a symlink, directory or block device is refused
 * and left alone. Before the fix, write_file_atomic renamed over whatever the
 * target was: `mamorictl policy sign --out /dev/null` replaced /dev/null. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cmocka.h>

#include "fileio.h"
#include "policy-test-util.h"

static char *dir;

static char *path(const char *name)
{
	static char buf[4][1024];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", dir, name);
	return buf[i];
}

static int setup(void **state)
{
	(void)state;
	dir = ptest_tmpdir();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ptest_rm_rf(dir);
	free(dir);
	return 0;
}

/* no leftover NAME.tmp.* next to the target */
static void assert_no_tmp(void)
{
	char pfx[64];
	FILE *p;
	char cmd[1200];

	snprintf(cmd, sizeof(cmd), "ls -A '%s' | grep -c '\\.tmp\\.' || true", dir);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_non_null(fgets(pfx, sizeof(pfx), p));
	pclose(p);
	assert_string_equal(pfx, "0\n");
}

static void test_regular_replaced(void **state)
{
	struct stat st;
	char *got;
	(void)state;

	assert_int_equal(write_target_kind(path("new")), WRITE_REPLACE);
	assert_int_equal(write_file_atomic(path("new"), "one\n", 4, 0640), 0);
	ptest_write(path("old"), "previous contents\n", 18);
	assert_int_equal(write_target_kind(path("old")), WRITE_REPLACE);
	assert_int_equal(write_file_atomic(path("old"), "two\n", 4, 0600), 0);
	got = ptest_read_file(path("old"), NULL);
	assert_string_equal(got, "two\n");
	free(got);
	assert_int_equal(stat(path("new"), &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_no_tmp();
}

/* the /dev/null case: a character device stays one, the bytes go to it */
static void test_char_device_in_place(void **state)
{
	struct stat st;
	mode_t before;
	(void)state;

	assert_int_equal(mknod(path("null"), S_IFCHR | 0666, makedev(1, 3)), 0);
	assert_int_equal(lstat(path("null"), &st), 0);
	before = st.st_mode;
	assert_int_equal(write_target_kind(path("null")), WRITE_IN_PLACE);
	assert_int_equal(write_file_atomic(path("null"), "signature\n", 10, 0644), 0);
	assert_int_equal(lstat(path("null"), &st), 0);
	assert_true(S_ISCHR(st.st_mode));
	assert_int_equal(st.st_rdev, makedev(1, 3));
	assert_int_equal(st.st_mode, before); /* no fchmod on a device */
	assert_no_tmp();
}

static void test_fifo_in_place(void **state)
{
	struct stat st;
	char buf[32] = {0};
	int rfd;
	(void)state;

	assert_int_equal(mkfifo(path("fifo"), 0600), 0);
	/* nobody reads: refused at once, never blocks */
	assert_int_equal(write_file_atomic(path("fifo"), "x", 1, 0600), -ENXIO);
	rfd = open(path("fifo"), O_RDONLY | O_NONBLOCK);
	assert_true(rfd >= 0);
	assert_int_equal(write_file_atomic(path("fifo"), "through\n", 8, 0600), 0);
	assert_int_equal(read(rfd, buf, sizeof(buf) - 1), 8);
	assert_string_equal(buf, "through\n");
	close(rfd);
	assert_int_equal(lstat(path("fifo"), &st), 0);
	assert_true(S_ISFIFO(st.st_mode));
	assert_no_tmp();
}

static void test_refused(void **state)
{
	struct stat st;
	char *got;
	char lnk[64];
	ssize_t n;
	(void)state;

	/* a symlink is neither followed nor replaced */
	ptest_write(path("real"), "kept\n", 5);
	assert_int_equal(symlink(path("real"), path("link")), 0);
	assert_int_equal(write_file_atomic(path("link"), "x", 1, 0600), -ELOOP);
	n = readlink(path("link"), lnk, sizeof(lnk) - 1);
	assert_true(n > 0);
	got = ptest_read_file(path("real"), NULL);
	assert_string_equal(got, "kept\n");
	free(got);
	/* a directory, a block device */
	assert_int_equal(mkdir(path("d"), 0700), 0);
	assert_int_equal(write_file_atomic(path("d"), "x", 1, 0600), -EISDIR);
	assert_int_equal(mknod(path("blk"), S_IFBLK | 0600, makedev(7, 200)), 0);
	assert_int_equal(write_file_atomic(path("blk"), "x", 1, 0600), -ENOTSUP);
	assert_int_equal(lstat(path("blk"), &st), 0);
	assert_true(S_ISBLK(st.st_mode));
	assert_no_tmp();
}

/* rename_replace: the second half of a download-then-install writer */
static void test_rename_replace(void **state)
{
	struct stat st;
	(void)state;

	ptest_write(path("t1"), "a", 1);
	assert_int_equal(rename_replace(path("t1"), path("dst")), 0);
	ptest_write(path("t2"), "b", 1);
	assert_int_equal(mknod(path("cdev"), S_IFCHR | 0666, makedev(1, 3)), 0);
	assert_int_equal(rename_replace(path("t2"), path("cdev")), -ENOTSUP);
	assert_int_equal(lstat(path("cdev"), &st), 0);
	assert_true(S_ISCHR(st.st_mode));
	assert_int_equal(lstat(path("t2"), &st), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_regular_replaced, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_char_device_in_place, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_fifo_in_place, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_rename_replace, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
