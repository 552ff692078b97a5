/* tests/unit/test_landlock.c — common/landlock.c on the real kernel (test
 * process; the kernel judges): in a child that hid a "key" in a directory
 * (issue 18.3: the signing keys of mamori-server's data directory), opening
 * it for reading or writing, truncating it, or opening a hard link to it in
 * the same directory fails with EACCES, while its neighbours (already there)
 * stay readable and writable, a file elsewhere (another temporary
 * directory) can still be made and read, and the parent — outside the
 * child's Landlock domain — still reads the key. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "fileio.h"
#include "landlock.h"
#include "strutil.h"

static char dir[64], other[64], key[128], neighbour[128], link_path[128], elsewhere[128];

static int setup(void **state)
{
	(void)state;
	(void)strscpy(dir, sizeof(dir), "/tmp/test-landlock.XXXXXX");
	(void)strscpy(other, sizeof(other), "/tmp/test-landlock-other.XXXXXX");
	if (!mkdtemp(dir) || !mkdtemp(other))
		return -1;
	if (xsnprintf(key, sizeof(key), "%s/ca.key", dir) < 0 ||
	    xsnprintf(neighbour, sizeof(neighbour), "%s/server.db", dir) < 0 ||
	    xsnprintf(link_path, sizeof(link_path), "%s/copy", dir) < 0 ||
	    xsnprintf(elsewhere, sizeof(elsewhere), "%s/new", other) < 0)
		return -1;
	if (write_file_atomic(key, "SECRET", 6, 0600) < 0 || write_file_atomic(neighbour, "db", 2, 0600) < 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	(void)unlink(key);
	(void)unlink(neighbour);
	(void)unlink(link_path);
	(void)unlink(elsewhere);
	(void)rmdir(dir);
	(void)rmdir(other);
	return 0;
}

/* the child's verdicts, as its exit status: 0 all as expected, else which */
static int child(void)
{
	const char *const hidden[] = {key, NULL};
	char *buf = NULL;
	size_t n = 0;
	int fd, r = landlock_hide_files(hidden);

	if (r < 0)
		return 10;
	fd = open(key, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 || errno != EACCES)
		return 11;
	fd = open(key, O_WRONLY | O_CLOEXEC);
	if (fd >= 0 || errno != EACCES)
		return 12;
	if (truncate(key, 0) == 0 || errno != EACCES)
		return 13;
	/* another name for the same inode, in the same directory */
	if (link(key, link_path) == 0) {
		fd = open(link_path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0 || errno != EACCES)
			return 14;
	}
	if (read_file_capped(neighbour, 64, &buf, &n) < 0 || n != 2)
		return 15;
	free(buf);
	buf = NULL;
	fd = open(neighbour, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0 || write(fd, "x", 1) != 1)
		return 16;
	close(fd);
	if (write_file_atomic(elsewhere, "new", 3, 0600) < 0 || read_file_capped(elsewhere, 64, &buf, &n) < 0 || n != 3)
		return 17;
	free(buf);
	return 0;
}

static void test_key_hidden_rest_usable(void **state)
{
	char *buf = NULL;
	size_t n = 0;
	pid_t pid;
	int st;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(child());
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	/* the parent is not in the child's domain */
	assert_int_equal(read_file_capped(key, 64, &buf, &n), 0);
	assert_int_equal(n, 6);
	assert_memory_equal(buf, "SECRET", 6);
	free(buf);
}

static void test_missing_file_refused(void **state)
{
	pid_t pid;
	int st;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		const char *const hidden[] = {"/nonexistent/ca.key", NULL};

		_exit(landlock_hide_files(hidden) == -ENOENT ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_key_hidden_rest_usable),
	        cmocka_unit_test(test_missing_file_refused),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
