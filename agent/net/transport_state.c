/* agent/net/transport_state.c — the parts of the transport that need no
 * network library: the acknowledged sequence number on disk and the backoff
 * (mamori-worker, mamorictl). Kept apart from transport.c so that
 * mamori-worker, which only reads them, does not link libcurl. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"
#include "random-util.h"
#include "strutil.h"
#include "transport.h"

int transport_acked_read(const char *state_dir, uint64_t *ret)
{
	char path[PATH_MAX], line[64];
	int64_t v;
	int r;

	if (xsnprintf(path, sizeof(path), "%s/%s", state_dir, TRANSPORT_UPLOAD_STATE) < 0)
		return -ENAMETOOLONG;
	r = read_one_line(path, line, sizeof(line));
	if (r == -ENOENT) {
		*ret = 0;
		return 0;
	}
	if (r < 0)
		return r;
	if (parse_int64(line, 0, INT64_MAX, &v) < 0)
		return -EBADMSG;
	*ret = (uint64_t)v;
	return 0;
}

uint64_t transport_backoff_ms(unsigned failures, double r)
{
	uint64_t d = TRANSPORT_BACKOFF_MIN_S * 1000ULL;

	if (failures == 0)
		return 0;
	for (unsigned i = 1; i < failures && d < TRANSPORT_BACKOFF_MAX_S * 1000ULL; i++)
		d *= 2;
	if (d > TRANSPORT_BACKOFF_MAX_S * 1000ULL)
		d = TRANSPORT_BACKOFF_MAX_S * 1000ULL;
	if (r < 0 || r >= 1)
		r = 0;
	return d / 2 + (uint64_t)((double)(d - d / 2) * r);
}

uint64_t transport_retry_delay_ms(unsigned failures)
{
	uint32_t rnd = 0;

	if (random_bytes(&rnd, sizeof(rnd), true) < 0) {
		struct timespec ts;

		/* no entropy yet (early boot): at least differs per terminal and moment */
		clock_gettime(CLOCK_MONOTONIC, &ts);
		rnd = (uint32_t)getpid() ^ (uint32_t)ts.tv_nsec;
	}
	return transport_backoff_ms(failures, (double)rnd / 4294967296.0);
}
