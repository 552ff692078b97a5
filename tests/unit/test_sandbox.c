/* tests/unit/test_sandbox.c — common/sandbox.c on the real kernel (test
 * process; run as root): a child that dropped to a dynamic uid has no
 * capability in any set, cannot become root again, cannot open a file for
 * writing, and dies of SIGSYS on any syscall off the allow list (execve,
 * ptrace, setresuid, mount, fork, inotify, kill, listen, the i386 ABI) while
 * sockets, reading, threads and name resolution still work. This is the
 * sandbox of the network child of `mamorictl server sync` (issue 19 item 4;
 * tests/integration/daemon_sync.sh checks that child itself). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netdb.h>
#include <pthread.h>
#include <sys/inotify.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "sandbox.h"

enum { DO_NOTHING, DO_EXECVE, DO_PTRACE, DO_SETUID, DO_MOUNT, DO_FORK, DO_INOTIFY, DO_KILL, DO_LISTEN, DO_I386 };

/* What libcurl's threaded resolver does: a thread resolves a name through
 * glibc (files: /etc/hosts). */
static void *resolve(void *arg)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
	int *ok = arg;

	*ok = getaddrinfo("localhost", "443", &hints, &ai) == 0;
	if (ai)
		freeaddrinfo(ai);
	return NULL;
}

/* Fork; the child sandboxes itself and runs `what`; returns the wait status. */
static int in_sandbox(int what, char *desc, size_t descsz)
{
	int fds[2], status = 0;
	uid_t uid;
	gid_t gid;
	bool dyn;
	pid_t pid;

	assert_int_equal(sandbox_lookup_user("mamori-test-no-such-user", &uid, &gid, &dyn), 0);
	assert_true(dyn);
	assert_true(uid >= SANDBOX_DYNAMIC_ID_MIN && uid <= SANDBOX_DYNAMIC_ID_MAX);
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char d[256] = "";
		int fd;

		close(fds[0]);
		if (sandbox_drop_privileges(uid, gid) < 0)
			_exit(10);
		if (sandbox_seccomp_network_client() < 0)
			_exit(11);
		if (sandbox_describe_self(d, sizeof(d)) < 0)
			_exit(12);
		if (write(fds[1], d, strlen(d)) < 0)
			_exit(13);
		close(fds[1]);
		/* allowed: reading, sockets */
		fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			_exit(14);
		close(fd);
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			_exit(15);
		close(fd);
		/* writing a file: refused with EPERM, the process lives on */
		fd = open("/tmp/mamori-sandbox-must-not-exist", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		if (fd >= 0 || errno != EPERM)
			_exit(16);
		/* a thread (clone with CLONE_THREAD; clone3 is refused with ENOSYS
		 * and glibc falls back to clone) that resolves a name */
		{
			pthread_t th;
			int ok = 0;

			if (pthread_create(&th, NULL, resolve, &ok) != 0 || pthread_join(th, NULL) != 0)
				_exit(17);
			if (!ok)
				_exit(18);
		}
		/* a socket family a network client has no use for: refused, alive */
		fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
		if (fd >= 0 || errno != EAFNOSUPPORT)
			_exit(19);
		switch (what) {
		case DO_FORK: {
			/* not on the allow list (the denylist let it through) */
			pid_t c = fork();
			if (c == 0)
				_exit(0);
			_exit(25);
		}
		case DO_INOTIFY:
			(void)inotify_init1(IN_CLOEXEC);
			_exit(26);
		case DO_KILL:
			(void)kill(getppid(), 0);
			_exit(27);
		case DO_LISTEN:
			fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
			(void)listen(fd, 1);
			_exit(28);
		case DO_I386:
#if defined(__x86_64__)
		{
			/* the i386 ABI's getpid: a foreign architecture */
			long ret = 20;
			__asm__ volatile("int $0x80" : "+a"(ret) : : "memory");
		}
#endif
			_exit(29);
		case DO_EXECVE: {
			char *argv[] = {"/bin/true", NULL};
			execve(argv[0], argv, argv + 1);
			_exit(20);
		}
		case DO_PTRACE:
			ptrace(PTRACE_TRACEME, 0, NULL, NULL);
			_exit(21);
		case DO_SETUID:
			if (setresuid(0, 0, 0) == 0)
				_exit(24);
			_exit(22);
		case DO_MOUNT:
			(void)mount("none", "/tmp", "tmpfs", 0, NULL);
			_exit(23);
		}
		_exit(0);
	}
	close(fds[1]);
	{
		ssize_t n = read(fds[0], desc, descsz - 1);
		desc[n > 0 ? n : 0] = '\0';
	}
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static void test_no_privileges_left(void **state)
{
	char d[256];
	int st;

	(void)state;
	st = in_sandbox(DO_NOTHING, d, sizeof(d));
	print_message("sandboxed child: %s\n", d);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_null(strstr(d, "Uid=0 "));
	assert_non_null(strstr(d, "CapInh=0000000000000000"));
	assert_non_null(strstr(d, "CapPrm=0000000000000000"));
	assert_non_null(strstr(d, "CapEff=0000000000000000"));
	assert_non_null(strstr(d, "CapAmb=0000000000000000"));
	assert_non_null(strstr(d, "NoNewPrivs=1"));
	assert_non_null(strstr(d, "Seccomp=2"));
	assert_true(access("/tmp/mamori-sandbox-must-not-exist", F_OK) < 0);
}

static void test_forbidden_syscalls_kill(void **state)
{
	static const int what[] = {
		DO_EXECVE,
		DO_PTRACE,
		DO_SETUID,
		DO_MOUNT,
		DO_FORK,
		DO_INOTIFY,
		DO_KILL,
		DO_LISTEN,
#if defined(__x86_64__)
		DO_I386
#endif
	};
	char d[256];

	(void)state;
	for (size_t i = 0; i < sizeof(what) / sizeof(what[0]); i++) {
		int st = in_sandbox(what[i], d, sizeof(d));

		if (!WIFSIGNALED(st))
			fail_msg("case %zu: exited %d instead of dying", i, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
		assert_int_equal(WTERMSIG(st), SIGSYS);
	}
}

static void test_root_refused(void **state)
{
	(void)state;
	assert_int_equal(sandbox_drop_privileges(0, 0), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_no_privileges_left),
	        cmocka_unit_test(test_forbidden_syscalls_kill),
	        cmocka_unit_test(test_root_refused),
	};

	if (geteuid() != 0) {
		fprintf(stderr, "test_sandbox: needs root (drops to another uid)\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
