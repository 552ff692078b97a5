/* tests/integration/server_idle.c — many TCP connections that never send a
 * byte (test process; server_limits.sh): opens N connections from
 * 127.0.0.SRC to 127.0.0.1:PORT, keeps them for SECONDS, and prints how many
 * the server had closed by then ("closed N of M").
 *
 *   server_idle PORT N SECONDS SRC */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "strutil.h"

#define CONNS_MAX 1000

int main(int argc, char **argv)
{
	static struct pollfd p[CONNS_MAX];
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct sockaddr_in from = {.sin_family = AF_INET};
	int64_t port, n, seconds, src;
	size_t opened = 0, closed = 0;

	if (argc != 5 || parse_int64(argv[1], 1, 65535, &port) < 0 || parse_int64(argv[2], 1, CONNS_MAX, &n) < 0 ||
	    parse_int64(argv[3], 1, 600, &seconds) < 0 || parse_int64(argv[4], 2, 254, &src) < 0) {
		fprintf(stderr, "usage: server_idle PORT N SECONDS SRC\n");
		return 2;
	}
	to.sin_port = htons((uint16_t)port);
	from.sin_addr.s_addr = htonl(0x7f000000u | (uint32_t)src);
	for (int64_t i = 0; i < n; i++) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

		if (fd < 0 || bind(fd, (struct sockaddr *)&from, sizeof(from)) < 0 ||
		    (connect(fd, (struct sockaddr *)&to, sizeof(to)) < 0 && errno != EINPROGRESS)) {
			perror("server_idle: connect");
			if (fd >= 0)
				close(fd);
			break;
		}
		p[opened++] = (struct pollfd){.fd = fd, .events = POLLIN};
	}
	sleep((unsigned)seconds);
	(void)poll(p, opened, 0);
	for (size_t i = 0; i < opened; i++) {
		char c;

		if ((p[i].revents & (POLLIN | POLLHUP | POLLERR)) && read(p[i].fd, &c, 1) <= 0)
			closed++;
		close(p[i].fd);
	}
	printf("closed %zu of %zu\n", closed, opened);
	return 0;
}
