/* tests/integration/sockclient.c — send stdin's bytes, raw, to a unix stream
 * socket and print what comes back (test tool for hostile control clients).
 *   sockclient SOCKET [--no-newline] [--hold MS]   */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char buf[65536];
	ssize_t n;
	int fd, hold = 0;

	if (argc < 2 || strlen(argv[1]) >= sizeof(sa.sun_path))
		return 2;
	for (int i = 2; i < argc; i++)
		if (strcmp(argv[i], "--hold") == 0 && i + 1 < argc)
			hold = (int)strtol(argv[++i], NULL, 10);
	memcpy(sa.sun_path, argv[1], strlen(argv[1]) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("connect");
		return 1;
	}
	while ((n = read(0, buf, sizeof(buf))) > 0)
		if (send(fd, buf, (size_t)n, MSG_NOSIGNAL) < 0)
			break;
	if (hold) {
		/* a slow client: send a partial request and stay silent */
		struct pollfd p = {.fd = fd, .events = POLLIN};
		poll(&p, 1, hold);
	}
	for (;;) {
		/* the server must answer or hang up within 10 s: a hang here is a failure */
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 10000) <= 0) {
			fprintf(stderr, "sockclient: no answer and no hang-up within 10 s\n");
			return 3;
		}
		n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			break;
		fwrite(buf, 1, (size_t)n, stdout);
	}
	close(fd);
	return 0;
}
