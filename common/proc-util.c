/* common/proc-util.c — run a helper program with a deadline and capture its
 * standard output, capped (any process of the agent). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "alloc-util.h"
#include "proc-util.h"
#include "strutil.h"

extern char **environ;

static long ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

int spawn_capture(char *const argv[], char *const envp[], int timeout_ms, size_t cap, char **ret_out, size_t *ret_len,
                  int *ret_exit)
{
	_cleanup_free_ char *out = malloc(cap + 1);
	_cleanup_close_ int rfd = -1;
	posix_spawn_file_actions_t fa;
	struct timespec t0;
	size_t len = 0;
	int pfd[2], status = 0, r;
	pid_t pid;

	if (!out)
		return -ENOMEM;
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	if (posix_spawn_file_actions_init(&fa) != 0) {
		close(pfd[0]);
		close(pfd[1]);
		return -ENOMEM;
	}
	posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], STDOUT_FILENO);
	posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
	r = posix_spawn(&pid, argv[0], &fa, NULL, argv, envp ? envp : environ);
	posix_spawn_file_actions_destroy(&fa);
	close(pfd[1]);
	rfd = pfd[0];
	if (r != 0)
		return -r;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd p = {.fd = rfd, .events = POLLIN};
		long left = timeout_ms - ms_since(&t0);
		ssize_t n;

		if (left <= 0) {
			r = -ETIMEDOUT;
			break;
		}
		n = poll(&p, 1, (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : -ETIMEDOUT;
			break;
		}
		if (len >= cap) {
			r = -EFBIG;
			break;
		}
		n = read(rfd, out + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	/* stdout is closed: a child that lingers after it gets what is left of the deadline */
	for (;;) {
		pid_t w;

		if (r < 0)
			kill(pid, SIGKILL);
		w = waitpid(pid, &status, r < 0 ? 0 : WNOHANG);
		if (w == pid)
			break;
		if (w < 0 && errno != EINTR)
			return r < 0 ? r : -errno;
		if (w == 0) {
			if (ms_since(&t0) >= timeout_ms) {
				r = -ETIMEDOUT;
				continue;
			}
			usleep(1000);
		}
	}
	if (r < 0)
		return r;
	out[len] = '\0';
	if (ret_exit)
		*ret_exit = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	*ret_out = TAKE_PTR(out);
	if (ret_len)
		*ret_len = len;
	return 0;
}

int sibling_path(const char *exe, const char *name, char *buf, size_t sz)
{
	const char *slash = strrchr(exe, '/');

	if (!slash || !name[0] || strchr(name, '/'))
		return -EINVAL;
	if ((size_t)(slash - exe) > INT_MAX)
		return -ENAMETOOLONG;
	return xsnprintf(buf, sz, "%.*s/%s", (int)(slash - exe), exe, name);
}

int self_sibling_path(const char *name, char *buf, size_t sz)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n < 0)
		return -errno;
	self[n] = '\0';
	return sibling_path(self, name, buf, sz);
}
