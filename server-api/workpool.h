/* server-api/workpool.h — a small pool of threads for the server's slow work
 * (scrypt password hashing), whose results are handed back to the libevent
 * loop (mamori-server). The loop never waits for a hash: a failed-login flood
 * on the admin listener cannot stall the device listener (issue 17).
 *
 * work() runs on a pool thread and must touch nothing but its ctx; done()
 * runs later on the loop thread, exactly once per accepted job. The threads
 * run at a lower priority (nice +10) than the loop, so that the loop serving
 * terminals wins a contended core. */
#ifndef MAMORI_WORKPOOL_H
#define MAMORI_WORKPOOL_H

#include <stddef.h>

struct event_base;
struct workpool;

/* threads workers, at most queue_max jobs waiting or running. */
int workpool_new(struct event_base *base, unsigned threads, unsigned queue_max, struct workpool **ret);
/* Stops the threads after the running jobs; jobs not run are dropped after
 * done() was called for them with cancelled = 1. */
void workpool_free(struct workpool *p);

/* Queue a job. -EBUSY when queue_max jobs are in the pool (the caller
 * answers "busy": the queue never grows without bound), -ENOMEM. */
int workpool_submit(struct workpool *p, void (*work)(void *ctx), void (*done)(void *ctx, int cancelled), void *ctx);

/* Jobs waiting or running. */
size_t workpool_pending(const struct workpool *p);

#endif
