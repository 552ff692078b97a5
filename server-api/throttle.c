/* server-api/throttle.c — leaky-bucket login throttling with doubling locks
 * (mamori-server, loop thread only). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strutil.h"
#include "throttle.h"

#define KEY_MAX 136

struct entry {
	char key[KEY_MAX]; /* "" = free */
	int64_t level_us;  /* the bucket, in microseconds of draining left */
	int64_t updated_us;
	int64_t locked_until_us;
	unsigned over; /* failures while full: the lock doubles with each */
};

struct throttle {
	struct throttle_policy p;
	size_t n;
	struct entry e[];
};

int throttle_new(const struct throttle_policy *p, size_t entries, struct throttle **ret)
{
	struct throttle *t;

	if (p->burst == 0 || p->leak_us <= 0 || p->lock_us <= 0 || p->lock_max_us < p->lock_us || entries == 0)
		return -EINVAL;
	t = calloc(1, sizeof(*t) + entries * sizeof(struct entry));
	if (!t)
		return -ENOMEM;
	t->p = *p;
	t->n = entries;
	*ret = t;
	return 0;
}

void throttle_free(struct throttle *t)
{
	free(t);
}

static void drain(const struct throttle *t, struct entry *e, int64_t now_us)
{
	int64_t d = now_us - e->updated_us;

	if (d > 0) {
		e->level_us = d >= e->level_us ? 0 : e->level_us - d;
		e->updated_us = now_us;
	}
	if (e->level_us == 0 && now_us >= e->locked_until_us)
		e->over = 0;
	(void)t;
}

static struct entry *find(struct throttle *t, const char *key, int64_t now_us, bool create)
{
	struct entry *victim = NULL;

	for (size_t i = 0; i < t->n; i++) {
		struct entry *e = &t->e[i];

		if (e->key[0] && strcmp(e->key, key) == 0) {
			drain(t, e, now_us);
			return e;
		}
	}
	if (!create)
		return NULL;
	for (size_t i = 0; i < t->n; i++) {
		struct entry *e = &t->e[i];

		if (!e->key[0]) {
			victim = e;
			break;
		}
		drain(t, e, now_us);
		/* reuse what matters least: no lock and an empty bucket first,
		 * then the lock that ends first */
		if (!victim || (e->locked_until_us < victim->locked_until_us) ||
		    (e->locked_until_us == victim->locked_until_us && e->level_us < victim->level_us))
			victim = e;
	}
	memset(victim, 0, sizeof(*victim));
	(void)strscpy(victim->key, sizeof(victim->key), key); /* truncation only merges keys */
	victim->updated_us = now_us;
	return victim;
}

int64_t throttle_check(struct throttle *t, const char *key, int64_t now_us)
{
	struct entry *e = find(t, key, now_us, false);

	return e && e->locked_until_us > now_us ? e->locked_until_us - now_us : 0;
}

void throttle_fail(struct throttle *t, const char *key, int64_t now_us)
{
	struct entry *e = find(t, key, now_us, true);
	int64_t cap = (int64_t)t->p.burst * t->p.leak_us;

	e->level_us += t->p.leak_us;
	/* the burst-th failure within one leak interval of the others locks */
	if (e->level_us > cap - t->p.leak_us) {
		int64_t lock = t->p.lock_us;

		for (unsigned i = 0; i < e->over && lock < t->p.lock_max_us; i++)
			lock *= 2;
		if (lock > t->p.lock_max_us)
			lock = t->p.lock_max_us;
		e->locked_until_us = now_us + lock;
		e->over++;
		if (e->level_us > cap)
			e->level_us = cap; /* a full bucket, not an ever deeper one */
	}
}

void throttle_clear(struct throttle *t, const char *key)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->e[i].key[0] && strcmp(t->e[i].key, key) == 0)
			memset(&t->e[i], 0, sizeof(t->e[i]));
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
