/* tests/unit/test_carry_proc.c — modules/carry/carry_proc.c: the
 * syscall-intent parser (is an open held by FAN_OPEN_PERM for writing?) on
 * /proc/PID/syscall texts, then on real children blocked in open(2),
 * openat(2) and openat2(2) on a FIFO (which blocks until a peer opens it),
 * and the process facts of a record (unit test; /proc/PID/syscall needs
 * ptrace access: root or the same user). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <linux/openat2.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "carry/carry_proc.h"
#include "rootpath.h"

static int fake_how(pid_t tid, unsigned long addr, unsigned long long *ret)
{
	(void)tid;
	if (addr == 0xdead)
		return -EFAULT;
	*ret = addr; /* the test passes the flags as the "address" */
	return 0;
}

static int intent(const char *fmt, long nr, unsigned long long flags_arg_pos, unsigned long long flags)
{
	char text[256];
	unsigned long long a[6] = {0x3, 0x7ffc0000, 0, 0, 0, 0};

	a[flags_arg_pos] = flags;
	snprintf(text, sizeof(text), fmt, nr, a[0], a[1], a[2], a[3], a[4], a[5]);
	return carry_proc_syscall_write_intent(text, 1, fake_how);
}

#define LINE "%ld 0x%llx 0x%llx 0x%llx 0x%llx 0x%llx 0x%llx 0x7ffd1234 0x7f0012345678\n"

static void test_intent_text(void **s)
{
	(void)s;
	/* openat(dirfd, path, flags, mode) */
	assert_int_equal(intent(LINE, SYS_openat, 2, O_RDONLY), 0);
	assert_int_equal(intent(LINE, SYS_openat, 2, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), 0);
	assert_int_equal(intent(LINE, SYS_openat, 2, O_WRONLY), 1);
	assert_int_equal(intent(LINE, SYS_openat, 2, O_RDWR), 1);
	assert_int_equal(intent(LINE, SYS_openat, 2, O_RDONLY | O_TRUNC), 1); /* truncating is writing */
	assert_int_equal(intent(LINE, SYS_openat, 2, O_RDONLY | O_CREAT), 1);
	assert_int_equal(intent(LINE, SYS_openat, 2, O_WRONLY | O_APPEND), 1);
	assert_int_equal(intent(LINE, SYS_openat, 2, 3), 1); /* O_ACCMODE 3: not read-only */
#ifdef SYS_open
	assert_int_equal(intent(LINE, SYS_open, 1, O_RDONLY), 0);
	assert_int_equal(intent(LINE, SYS_open, 1, O_WRONLY | O_CREAT), 1);
#endif
#ifdef SYS_creat
	assert_int_equal(intent(LINE, SYS_creat, 1, 0644), 1);
#endif
	assert_int_equal(intent(LINE, SYS_open_by_handle_at, 2, O_RDONLY), 0);
	assert_int_equal(intent(LINE, SYS_open_by_handle_at, 2, O_RDWR), 1);
	/* openat2: the flags are in user memory (struct open_how) */
	assert_int_equal(intent(LINE, SYS_openat2, 2, O_RDONLY), 0);
	assert_int_equal(intent(LINE, SYS_openat2, 2, O_WRONLY), 1);
	assert_int_equal(intent(LINE, SYS_openat2, 2, 0xdead), -EFAULT);
	assert_int_equal(carry_proc_syscall_write_intent("437 0x3 0x1 0x2 0x18 0x0 0x0 0x1 0x2", 1, NULL), -EOPNOTSUPP);
	/* executing a file reads it */
	assert_int_equal(intent(LINE, SYS_execve, 1, 0), 0);
	assert_int_equal(intent(LINE, SYS_execveat, 2, 0), 0);
	/* anything else cannot be classified: io_uring, read, … */
	assert_int_equal(intent(LINE, SYS_io_uring_enter, 2, 0), -EOPNOTSUPP);
	assert_int_equal(intent(LINE, SYS_read, 2, 0), -EOPNOTSUPP);
	/* not in a system call, running, or not the kernel's text */
	assert_int_equal(carry_proc_syscall_write_intent("-1 0x7ffd1234 0x7f0012345678\n", 1, NULL), -EOPNOTSUPP);
	assert_int_equal(carry_proc_syscall_write_intent("running\n", 1, NULL), -EAGAIN);
	assert_int_equal(carry_proc_syscall_write_intent("", 1, NULL), -EOPNOTSUPP);
	assert_int_equal(carry_proc_syscall_write_intent("257 0x3 0x1", 1, NULL), -EOPNOTSUPP);
	assert_int_equal(carry_proc_syscall_write_intent("257 zz 0x1 0x2 0x3 0x4 0x5", 1, NULL), -EOPNOTSUPP);
	assert_int_equal(carry_proc_syscall_write_intent(NULL, 1, NULL), -EINVAL);
}

/* ---- real processes blocked in an open ------------------------------------------- */

static char fifo[PATH_MAX];

enum how { VIA_OPEN, VIA_OPENAT, VIA_OPENAT2 };

/* A child blocked opening the FIFO (no peer yet). Returns its pid. */
static pid_t blocked_opener(enum how how, int flags)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		struct open_how oh = {.flags = (unsigned long long)flags};
		long fd;

		if (how == VIA_OPENAT2)
			fd = syscall(SYS_openat2, AT_FDCWD, fifo, &oh, sizeof(oh));
		else if (how == VIA_OPENAT)
			fd = openat(AT_FDCWD, fifo, flags);
		else
#ifdef SYS_open
			fd = syscall(SYS_open, fifo, flags);
#else
			fd = syscall(SYS_openat, AT_FDCWD, fifo, flags);
#endif
		_exit(fd >= 0 ? 0 : 1);
	}
	return pid;
}

/* Wait until the child sleeps in the kernel (its syscall file names a call). */
static int intent_of(pid_t pid)
{
	for (int i = 0; i < 400; i++) {
		int r = carry_proc_open_for_write(pid);
		if (r != -EAGAIN && r != -EOPNOTSUPP)
			return r;
		usleep(5000);
	}
	return -ETIMEDOUT;
}

static void test_intent_real(void **s)
{
	static const struct {
		enum how how;
		int flags, want;
	} cases[] = {
	        {VIA_OPENAT, O_RDONLY, 0}, {VIA_OPENAT, O_WRONLY, 1},  {VIA_OPEN, O_RDONLY, 0},
	        {VIA_OPEN, O_WRONLY, 1},   {VIA_OPENAT2, O_RDONLY, 0}, {VIA_OPENAT2, O_WRONLY, 1},
	};
	char dir[] = "/tmp/mamori-tcp.XXXXXX";

	(void)s;
	assert_non_null(mkdtemp(dir));
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pid_t pid = blocked_opener(cases[i].how, cases[i].flags);
		int r = intent_of(pid);
		int peer;

		if (r != cases[i].want) {
			kill(pid, SIGKILL);
			fail_msg("case %zu: intent %d, want %d", i, r, cases[i].want);
		}
		/* let the child's open complete, then reap it */
		peer = open(fifo, ((cases[i].flags & O_ACCMODE) == O_RDONLY ? O_WRONLY : O_RDONLY) | O_NONBLOCK);
		if (peer < 0) /* a writer's peer must be a reader, which O_NONBLOCK allows */
			peer = open(fifo, O_RDWR);
		assert_true(peer >= 0);
		{
			int st;
			assert_int_equal(waitpid(pid, &st, 0), pid);
			assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
		}
		close(peer);
	}
	/* a process that is gone */
	{
		pid_t pid = fork();
		if (pid == 0)
			_exit(0);
		waitpid(pid, NULL, 0);
		assert_true(carry_proc_open_for_write(pid) < 0);
	}
	unlink(fifo);
	rmdir(dir);
}

static void test_proc_read(void **s)
{
	struct carry_proc p;
	pid_t tg = 0;

	(void)s;
	assert_int_equal(carry_proc_read(getpid(), &p), 0);
	assert_int_equal(p.pid, getpid());
	assert_true(p.have_uid);
	assert_int_equal(p.uid, getuid());
	assert_true(p.have_exe);
	assert_non_null(strstr(p.exe, "test_carry_proc"));
	assert_true(p.user[0] != '\0');
	assert_int_equal(carry_proc_tgid(getpid(), &tg), 0);
	assert_int_equal(tg, getpid());
	/* a thread id names its thread group */
	assert_int_equal(carry_proc_tgid((pid_t)syscall(SYS_gettid), &tg), 0);
	assert_int_equal(tg, getpid());
	{
		pid_t pid = fork();
		if (pid == 0)
			_exit(0);
		waitpid(pid, NULL, 0);
		assert_int_equal(carry_proc_read(pid, &p), -ESRCH);
		assert_int_equal(carry_proc_tgid(pid, &tg), -ESRCH);
	}
}

/* issue 23.1: a copy raises one record per file by the same user; the
 * user database is asked once for all of them, and the name is the same */
static void test_proc_read_user_cached(void **s)
{
	struct carry_proc a, b;
	struct passwd *pw = getpwuid(getuid());
	uint64_t n0;

	(void)s;
	assert_int_equal(carry_proc_read(getpid(), &a), 0);
	n0 = carry_proc_user_lookups();
	for (int i = 0; i < 200; i++) {
		assert_int_equal(carry_proc_read(getpid(), &b), 0);
		assert_string_equal(a.user, b.user);
		assert_string_equal(a.exe, b.exe);
	}
	/* at most one more lookup, when the 1 s window ended during the loop */
	assert_true(carry_proc_user_lookups() - n0 <= 1);
	if (pw)
		assert_string_equal(a.user, pw->pw_name);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_intent_text),
	        cmocka_unit_test(test_intent_real),
	        cmocka_unit_test(test_proc_read),
	        cmocka_unit_test(test_proc_read_user_cached),
	};

	root_set("");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
