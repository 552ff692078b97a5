/* server-api/throttle.h — login throttling with lockout (mamori-server, loop
 * thread): one table per kind of key (the client's address, the account
 * name). A key's failures fill a bucket that drains at a steady rate; when
 * the bucket is full the key is locked for a time that doubles with every
 * further failure, up to a maximum. A success clears the key (used for
 * account names only: an address is never cleared by a success, or one
 * valid account would lift the limit for everything an attacker tries).
 *
 * The table has a fixed number of entries (memory cannot be driven up); when
 * full, the entry whose lock ends first is reused. IPv6 addresses are keyed by
 * their /64, as one host can own a whole /64. */
#ifndef MAMORI_THROTTLE_H
#define MAMORI_THROTTLE_H

#include <stddef.h>
#include <stdint.h>

struct throttle_policy {
	unsigned burst;      /* failures allowed before a lock */
	int64_t leak_us;     /* one failure forgotten per leak_us */
	int64_t lock_us;     /* the first lock; doubled per further failure */
	int64_t lock_max_us; /* the longest lock */
};

struct throttle;

int throttle_new(const struct throttle_policy *p, size_t entries, struct throttle **ret);
void throttle_free(struct throttle *t);

/* 0 if key may try now, else the microseconds until it may. */
int64_t throttle_check(struct throttle *t, const char *key, int64_t now_us);
void throttle_fail(struct throttle *t, const char *key, int64_t now_us);
void throttle_clear(struct throttle *t, const char *key);

/* The throttling key of a numeric address: itself, or its /64 for IPv6. */
void throttle_addr_key(const char *addr, char buf[64]);

#endif
