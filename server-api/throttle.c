/* server-api/throttle.c — leaky-bucket login throttling with doubling locks
 * (mamori-server, loop thread only): one key's state; the store keeps it. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strutil.h"
#include "throttle.h"

static void state_drain(struct throttle_state *e, int64_t now_us)
{
	int64_t d = now_us - e->updated_us;

	if (d > 0) {
		e->level_us = d >= e->level_us ? 0 : e->level_us - d;
		e->updated_us = now_us;
	}
	if (e->level_us == 0 && now_us >= e->locked_until_us)
		e->over = 0;
}

void throttle_state_fail(const struct throttle_policy *p, struct throttle_state *e, int64_t now_us)
{
	int64_t cap = (int64_t)p->burst * p->leak_us;

	state_drain(e, now_us);
	e->level_us += p->leak_us;
	/* the burst-th failure within one leak interval of the others locks */
	if (e->level_us > cap - p->leak_us) {
		int64_t lock = p->lock_us;

		for (unsigned i = 0; i < e->over && lock < p->lock_max_us; i++)
			lock *= 2;
		if (lock > p->lock_max_us)
			lock = p->lock_max_us;
		e->locked_until_us = now_us + lock;
		e->over++;
		if (e->level_us > cap)
			e->level_us = cap; /* a full bucket, not an ever deeper one */
	}
}

int64_t throttle_state_wait(const struct throttle_state *e, int64_t now_us)
{
	return e->locked_until_us > now_us ? e->locked_until_us - now_us : 0;
}

void throttle_addr_key(const char *addr, char buf[64])
{
	struct in6_addr a6;

	if (strchr(addr, ':') && inet_pton(AF_INET6, addr, &a6) == 1 && !IN6_IS_ADDR_V4MAPPED(&a6)) {
		memset(a6.s6_addr + 8, 0, 8);
		if (inet_ntop(AF_INET6, &a6, buf, 64)) {
			size_t n = strlen(buf);

			if (n + 3 < 64)
				memcpy(buf + n, "/64", 4);
			return;
		}
	}
	(void)strscpy(buf, 64, addr);
}
