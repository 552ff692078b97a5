/* modules/carry/carry_hash.h — SHA-256 of files on media, off the loop
 * (mamori-worker: one hashing thread).
 *
 * The loop must stay free (it decides USB devices and answers fanotify
 * permission events, including those of the worker's own reads, should any
 * arise), so hashing runs in one bounded worker thread. Files are hashed
 * through the fd that fanotify handed over: no path is ever resolved, so no
 * link on a medium is followed (and the kernel's event fds do not raise
 * further fanotify events). The worker only reads the fd and fills the
 * job's result fields; everything else stays with the loop. */
#ifndef MAMORI_CARRY_HASH_H
#define MAMORI_CARRY_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum carry_hash_status {
	CARRY_HASH_DONE,
	CARRY_HASH_SKIPPED_SIZE, /* larger than carry.hash_max_bytes */
	CARRY_HASH_SKIPPED_BUSY, /* the worker's queue was full */
	CARRY_HASH_ERROR,        /* the file could not be read (error in `err`) */
	_CARRY_HASH_STATUS_MAX,
	_CARRY_HASH_STATUS_INVALID = -1,
};

struct carry_hash_result {
	enum carry_hash_status status;
	int64_t size; /* fstat size (bytes read when hashed) */
	int err;      /* negative errno for CARRY_HASH_ERROR */
	char sha256[65];
};

/* Hash fd (read from offset 0 with pread) if its size is <= max. Does not
 * close fd. 0 and *ret (status DONE, SKIPPED_SIZE or ERROR). */
int carry_hash_fd(int fd, uint64_t max, struct carry_hash_result *ret);

const char *carry_hash_status_to_string(enum carry_hash_status s);

struct carry_hash_job {
	int fd;       /* owned by the job: closed by the worker after hashing */
	uint64_t max; /* hash cap */
	void *data;   /* the loop's (e.g. the pending record) */
	struct carry_hash_result res;
};

struct carry_hasher;

/* Start the worker. queue_max bounds the jobs in flight. */
int carry_hasher_new(size_t queue_max, struct carry_hasher **ret);

/* Hand a job (allocated by the caller) to the worker: 0, or -EAGAIN when
 * queue_max jobs are in flight (the caller then records the hash as skipped
 * and keeps the job). */
int carry_hasher_submit(struct carry_hasher *h, struct carry_hash_job *job);

/* Readable when finished jobs are waiting. */
int carry_hasher_fd(const struct carry_hasher *h);

/* Next finished job (the caller owns it again), or NULL. */
struct carry_hash_job *carry_hasher_next(struct carry_hasher *h);

size_t carry_hasher_in_flight(const struct carry_hasher *h);

/* Stop the worker (jobs not yet hashed are returned unhashed, status ERROR
 * -ECANCELED) and call done(job, ud) on each job still in flight, which
 * owns it again (the carry module records it: nothing is dropped). NULL ok. */
void carry_hasher_free(struct carry_hasher *h, void (*done)(struct carry_hash_job *job, void *ud), void *ud);

#endif
