/* server-api/throttle.h — login throttling with lockout (mamori-server, loop
 * thread): the rule for one key of a kind (the client's address, the
 * account name). A key's failures fill a bucket that drains at a steady
 * rate; when the bucket is full the key is locked for a time that doubles
 * with every further failure, up to a maximum. A success clears the key
 * (used for account names only: an address is never cleared by a success,
 * or one valid account would lift the limit for everything an attacker
 * tries).
 *
 * The state of every key lives in the store (store.h throttle_*), shared by
 * every mamori-server instance on it (issue 18.3: an attacker alternating
 * between instances behind a load balancer gets no more attempts); keys
 * that no longer matter are purged every 10 s (mamori-server.c). IPv6
 * addresses are keyed by their /64, as one host can own a whole /64. */
#ifndef MAMORI_THROTTLE_H
#define MAMORI_THROTTLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct throttle_policy {
	unsigned burst;      /* failures allowed before a lock */
	int64_t leak_us;     /* one failure forgotten per leak_us */
	int64_t lock_us;     /* the first lock; doubled per further failure */
	int64_t lock_max_us; /* the longest lock */
};

/* One key's state, as the store keeps it. */
struct throttle_state {
	int64_t level_us; /* the bucket, in microseconds of draining left */
	int64_t updated_us;
	int64_t locked_until_us;
	unsigned over; /* failures while full: the lock doubles with each */
};

/* Drain st to now_us, then count one failure (locking when full). */
void throttle_state_fail(const struct throttle_policy *p, struct throttle_state *st, int64_t now_us);
/* 0 if the key may try now, else the microseconds until it may. */
int64_t throttle_state_wait(const struct throttle_state *st, int64_t now_us);

/* The throttling key of a numeric address: itself, or its /64 for IPv6. */
void throttle_addr_key(const char *addr, char buf[64]);

#endif
