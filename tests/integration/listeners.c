/* tests/integration/listeners.c — open listening sockets for the NET-1
 * ground-truth test (issue 21), inside the network namespace the test made:
 *   listeners N-LOOPBACK [tcp|udp|tcp6|udp6:ADDR:PORT …] (IPv6: [ADDR]) [range:tcp:ADDR:FIRST:COUNT]
 * prints "ready" when every socket is bound (and listening), then waits for
 * stdin to close (test program). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

static int open_one(const char *proto, const char *addr, int port)
{
	bool v6 = strchr(proto, '6') != NULL, udp = proto[0] == 'u';
	struct sockaddr_storage ss = {0};
	socklen_t sl;
	int fd, one = 1;

	fd = socket(v6 ? AF_INET6 : AF_INET, udp ? SOCK_DGRAM : SOCK_STREAM, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (v6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, addr, &a->sin6_addr) != 1)
			return -EINVAL;
		sl = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, addr, &a->sin_addr) != 1)
			return -EINVAL;
		sl = sizeof(*a);
	}
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || (!udp && listen(fd, 1) < 0))
		return -errno;
	return fd;
}

int main(int argc, char **argv)
{
	struct rlimit rl = {65536, 65536};
	char buf[64];
	long n;

	if (argc < 2)
		return 2;
	setrlimit(RLIMIT_NOFILE, &rl);
	n = strtol(argv[1], NULL, 10);
	for (long i = 0; i < n; i++)
		if (open_one("tcp", "127.0.0.1", (int)(30000 + i)) < 0) {
			perror("loopback listener");
			return 1;
		}
	for (int i = 2; i < argc; i++) {
		char proto[8], addr[64];
		int port, first, count;

		if (sscanf(argv[i], "range:%7[^:]:%63[^:]:%d:%d", proto, addr, &first, &count) == 4) {
			for (int k = 0; k < count; k++)
				if (open_one(proto, addr, first + k) < 0) {
					perror(argv[i]);
					return 1;
				}
			continue;
		}
		/* PROTO:ADDR:PORT, ADDR may hold colons (IPv6): the port is after the last */
		{
			char *c = strchr(argv[i], ':'), *last = strrchr(argv[i], ':');
			if (!c || c == last || (size_t)(c - argv[i]) >= sizeof(proto) ||
			    (size_t)(last - c - 1) >= sizeof(addr))
				return 2;
			memcpy(proto, argv[i], (size_t)(c - argv[i]));
			proto[c - argv[i]] = '\0';
			memcpy(addr, c + 1, (size_t)(last - c - 1));
			addr[last - c - 1] = '\0';
			port = (int)strtol(last + 1, NULL, 10);
			if (addr[0] == '[') { /* [v6]: the brackets only delimit */
				size_t al = strlen(addr);
				if (al < 2 || addr[al - 1] != ']')
					return 2;
				memmove(addr, addr + 1, al - 2);
				addr[al - 2] = '\0';
			}
		}
		if (open_one(proto, addr, port) < 0) {
			perror(argv[i]);
			return 1;
		}
	}
	puts("ready");
	fflush(stdout);
	while (fgets(buf, sizeof(buf), stdin))
		;
	return 0;
}
