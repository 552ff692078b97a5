/* common/sdnotify.c — the systemd notification protocol (mamorid; knows nothing of mamori). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "alloc-util.h"
#include "sdnotify.h"
#include "strutil.h"

int sd_notify_send(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	_cleanup_close_ int fd = -1;
	size_t plen;
	socklen_t salen;

	if (!path || !*path)
		return 0;
	plen = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || plen >= sizeof(sa.sun_path))
		return -EINVAL;
	memcpy(sa.sun_path, path, plen);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';
	salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen + (path[0] == '/' ? 1 : 0));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* never block: the USB gate's loop must not wait for systemd (or for
	 * anyone who stopped reading this socket); a lost WATCHDOG=1 is retried
	 * at the next tick (issue 11.3) */
	if (sendto(fd, state, strlen(state), MSG_NOSIGNAL | MSG_DONTWAIT, (struct sockaddr *)&sa, salen) < 0)
		return -errno;
	return 1;
}

uint64_t sd_watchdog_usec(void)
{
	const char *us = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
	int64_t v, p;

	if (!us || parse_int64(us, 1, INT64_MAX, &v) < 0)
		return 0;
	if (pid && (parse_int64(pid, 1, INT64_MAX, &p) < 0 || p != (int64_t)getpid()))
		return 0;
	return (uint64_t)v;
}
