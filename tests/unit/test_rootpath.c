/* tests/unit/test_rootpath.c — root_path() resolves inside the root (issue
 * 21): absolute symlinks start again at the root, ".." stops at it, loops
 * end, a mapped prefix goes to its host directory; root_openf() opens what
 * root_path() names, through openat2 and, where the kernel refuses it, the
 * walk (test program). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/filter.h>
#include <linux/seccomp.h>

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

/* a root in a new temporary directory, set as the process's */
static void make_tree(const char *template)
{
	strscpy(root, sizeof(root), template);
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
}

static void test_resolve_in_root(void **state)
{
	char buf[PATH_MAX];
	(void)state;

	make_tree("/tmp/mamori-test-rootpath.XXXXXX");
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

static void put(const char *rel, const char *content)
{
	char p[PATH_MAX * 2];
	snprintf(p, sizeof(p), "%s%s", root, rel);
	assert_int_equal(write_file_atomic(p, content, strlen(content), 0644), 0);
}

/* what root_openf(O_RDONLY, path) reads, or its error as "-errno" */
static const char *opened(const char *path)
{
	static char buf[64];
	int fd = root_openf(O_RDONLY, "%s", path);
	ssize_t n;

	if (fd < 0) {
		snprintf(buf, sizeof(buf), "%d", fd);
		return buf;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

/* the descriptor of dir this process holds, -1 if none */
static int fd_of(const char *dir)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int found = -1;

	assert_non_null(d);
	while ((de = readdir(d))) {
		char l[PATH_MAX + 32], t[PATH_MAX];
		ssize_t n;

		snprintf(l, sizeof(l), "/proc/self/fd/%s", de->d_name);
		n = readlink(l, t, sizeof(t) - 1);
		if (n > 0 && (t[n] = '\0', strcmp(t, dir) == 0))
			found = (int)strtol(de->d_name, NULL, 10);
	}
	closedir(d);
	return found;
}

static void root_openf_cases(void)
{
	char want[32];

	assert_string_equal(opened("/var/run/reboot-required"), "inside"); /* not the host's /run */
	assert_string_equal(opened("/var/up/passwd"), "root's etc");
	assert_string_equal(opened("/var/../../../etc/passwd"), "root's etc");
	snprintf(want, sizeof(want), "%d", -ENOENT);
	assert_string_equal(opened("/etc/x"), want); /* dangling inside the root */
	snprintf(want, sizeof(want), "%d", -ELOOP);
	assert_string_equal(opened("/etc/loop1"), want);
	snprintf(want, sizeof(want), "%d", -EINVAL);
	assert_string_equal(opened("etc/passwd"), want);
}

static void test_root_openf(void **state)
{
	char host[PATH_MAX * 2], p[PATH_MAX * 3];
	int fd, other;
	pid_t pid;
	int st;
	(void)state;

	make_tree("/tmp/mamori-test-rootopen.XXXXXX");
	put("/run/reboot-required", "inside");
	put("/etc/passwd", "root's etc");
	root_openf_cases();

	/* the root's descriptor closed and its number reused by another
	 * directory: never trusted, the root is opened again */
	fd = fd_of(root);
	assert_true(fd >= 0);
	other = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	assert_true(other >= 0);
	assert_int_equal(dup3(other, fd, O_CLOEXEC), fd);
	close(other);
	assert_string_equal(opened("/var/run/reboot-required"), "inside");
	assert_true(fd_of(root) >= 0);

	/* a mapped prefix goes to its host directory */
	snprintf(host, sizeof(host), "%s/host", root);
	assert_int_equal(mkdir(host, 0755), 0);
	snprintf(p, sizeof(p), "%s/state", host);
	assert_int_equal(write_file_atomic(p, "mapped", 6, 0644), 0);
	assert_int_equal(root_map("/var/lib/mamori", host), 0);
	assert_string_equal(opened("/var/lib/mamori/state"), "mapped");
	assert_int_equal(root_map(NULL, NULL), 0);

	/* where the kernel refuses openat2 (a seccomp filter, an older kernel):
	 * the same answers through root_path()'s walk */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct sock_filter f[] = {
		        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat2, 0, 1),
		        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
		        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		};
		struct sock_fprog prog = {.len = sizeof(f) / sizeof(f[0]), .filter = f};

		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
		    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0)
			_exit(2);
		if (syscall(SYS_openat2, AT_FDCWD, "/", NULL, 0) != -1 || errno != ENOSYS)
			_exit(3);                    /* the filter must really refuse it */
		assert_int_equal(root_set(root), 0); /* a fresh descriptor too */
		root_openf_cases();
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);

	/* no root: the machine's own paths */
	assert_int_equal(root_set(""), 0);
	fd = root_openf(O_RDONLY | O_DIRECTORY, "%s", root);
	assert_true(fd >= 0);
	close(fd);
	{
		char cmd[PATH_MAX + 32];
		snprintf(cmd, sizeof(cmd), "rm -rf --one-file-system '%s'", root);
		assert_int_equal(system(cmd), 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_resolve_in_root), cmocka_unit_test(test_root_openf)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
