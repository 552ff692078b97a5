/* tests/integration/fairprobe.c — timing probe for tests/integration/posture_fair.sh
 * (test tool): how long mamori-worker takes to answer while a posture pass
 * runs (issue 11.5).
 *   fairprobe status SOCKET   one {"cmd":"status"} round trip on the control
 *                             socket; prints the milliseconds (or "timeout"
 *                             after 5 s, exit 1)
 *   fairprobe term PID [SOCKET]  SIGTERM to PID, wait until it has exited
 *                             (pidfd); prints the milliseconds (or "timeout"
 *                             after 5 s, exit 1). With SOCKET first the
 *                             milliseconds until the process stopped serving
 *                             it (connect refused: the signal was acted on),
 *                             then those until it exited. */
#include <errno.h>
#include <stdbool.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1000.0 + (double)t.tv_nsec / 1e6;
}

static int probe_status(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	static const char req[] = "{\"cmd\":\"status\"}\n";
	char buf[65536];
	size_t got = 0;
	double t0;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return 2;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	t0 = now_ms();
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof(req) - 1)) {
		perror("fairprobe: connect/send");
		return 1;
	}
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		double left = 5000 - (now_ms() - t0);
		ssize_t n;

		if (left <= 0 || poll(&p, 1, (int)left) <= 0) {
			printf("timeout\n");
			return 1;
		}
		n = read(fd, buf + got, sizeof(buf) - 1 - got);
		if (n < 0) {
			perror("fairprobe: read");
			return 1;
		}
		if (n == 0)
			break;
		got += (size_t)n;
		if (got == sizeof(buf) - 1)
			break;
	}
	buf[got] = '\0';
	if (!strstr(buf, "\"ok\":true")) {
		fprintf(stderr, "fairprobe: bad answer: %s\n", buf);
		return 1;
	}
	printf("%.1f\n", now_ms() - t0);
	return 0;
}

static bool serving(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok;

	memcpy(sa.sun_path, path, strlen(path) + 1);
	ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

static int probe_term(pid_t pid, const char *sock)
{
	int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
	struct pollfd p;
	double t0;

	if (pfd < 0) {
		perror("fairprobe: pidfd_open");
		return 1;
	}
	p = (struct pollfd){.fd = pfd, .events = POLLIN};
	t0 = now_ms();
	if (sock && (strlen(sock) >= sizeof(((struct sockaddr_un *)0)->sun_path) || !serving(sock))) {
		fprintf(stderr, "fairprobe: %s does not serve before the signal\n", sock);
		return 1;
	}
	if (kill(pid, SIGTERM) < 0) {
		perror("fairprobe: kill");
		return 1;
	}
	if (sock) {
		while (serving(sock)) {
			if (now_ms() - t0 > 5000) {
				printf("timeout\n");
				return 1;
			}
			usleep(500);
		}
		printf("%.1f ", now_ms() - t0);
	}
	if (poll(&p, 1, 5000) <= 0) {
		printf("timeout\n");
		return 1;
	}
	printf("%.1f\n", now_ms() - t0);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "status") == 0)
		return probe_status(argv[2]);
	if ((argc == 3 || argc == 4) && strcmp(argv[1], "term") == 0)
		return probe_term((pid_t)strtol(argv[2], NULL, 10), argc == 4 ? argv[3] : NULL);
	fprintf(stderr, "usage: fairprobe status SOCKET | term PID [SOCKET]\n");
	return 2;
}
