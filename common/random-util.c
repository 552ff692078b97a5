/* common/random-util.c — getrandom(2) until n bytes are filled (every
 * process; see random-util.h). */
#include <errno.h>
#include <stdint.h>
#include <sys/random.h>

#include "random-util.h"

int random_bytes(void *buf, size_t n, bool nonblock)
{
	uint8_t *p = buf;

	while (n > 0) {
		/* a single call returns at most 32 MiB - 1 and may be cut
		 * short by a signal: loop */
		ssize_t k = getrandom(p, n, nonblock ? GRND_NONBLOCK : 0);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			return -EIO;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}
