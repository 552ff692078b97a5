/* modules/carry/carry_hash.c — SHA-256 of medium files in one worker thread
 * (mamori-worker). See carry_hash.h. The digest is libcrypto's through
 * common/digest.h (bulk: SHA-NI where the CPU has it). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc-util.h"
#include "carry_hash.h"
#include "digest.h"
#include "strutil.h"

#define HASH_CHUNK (256 * 1024)

DEFINE_TRIVIAL_CLEANUP_FUNC(struct digest_sha256 *, digest_sha256_free)

const char *carry_hash_status_to_string(enum carry_hash_status s)
{
	static const char *const n[_CARRY_HASH_STATUS_MAX] = {
	        [CARRY_HASH_DONE] = "done",
	        [CARRY_HASH_SKIPPED_SIZE] = "skipped_size",
	        [CARRY_HASH_SKIPPED_BUSY] = "skipped_busy",
	        [CARRY_HASH_ERROR] = "error",
	};
	return s >= 0 && s < _CARRY_HASH_STATUS_MAX ? n[s] : "invalid";
}

int carry_hash_fd(int fd, uint64_t max, struct carry_hash_result *ret)
{
	_cleanup_(digest_sha256_freep) struct digest_sha256 *md = NULL;
	_cleanup_free_ uint8_t *buf = NULL;
	struct carry_hash_result res = {.status = CARRY_HASH_ERROR};
	uint8_t dig[32];
	int r;
	struct stat st;
	off_t off = 0;

	if (fstat(fd, &st) < 0) {
		res.err = -errno;
		goto out;
	}
	res.size = st.st_size;
	if (!S_ISREG(st.st_mode)) {
		res.err = -EINVAL;
		goto out;
	}
	if ((uint64_t)st.st_size > max) {
		res.status = CARRY_HASH_SKIPPED_SIZE;
		goto out;
	}
	buf = malloc(HASH_CHUNK);
	if (!buf)
		return -ENOMEM;
	r = digest_sha256_new(&md);
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		res.err = r;
		goto out;
	}
	for (;;) {
		ssize_t k = pread(fd, buf, HASH_CHUNK, off);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			res.err = -errno;
			goto out;
		}
		if (k == 0)
			break;
		/* the file may grow while we read: never beyond the cap */
		if ((uint64_t)off + (uint64_t)k > max) {
			res.status = CARRY_HASH_SKIPPED_SIZE;
			res.size = off + k;
			goto out;
		}
		r = digest_sha256_update(md, buf, (size_t)k);
		if (r < 0) {
			res.err = r;
			goto out;
		}
		off += k;
	}
	r = digest_sha256_final(md, dig);
	if (r < 0) {
		res.err = r;
		goto out;
	}
	hex_encode(dig, 32, res.sha256);
	res.size = off;
	res.status = CARRY_HASH_DONE;
out:
	*ret = res;
	return 0;
}

struct carry_hasher {
	pthread_t thread;
	bool started;
	int job_r, job_w;   /* loop → worker: job pointers */
	int done_r, done_w; /* worker → loop */
	size_t queue_max, in_flight;
	atomic_bool stop;
};

static void *worker(void *arg)
{
	struct carry_hasher *h = arg;

	for (;;) {
		struct carry_hash_job *job;
		ssize_t k = read(h->job_r, &job, sizeof(job));

		if (k < 0 && errno == EINTR)
			continue;
		if (k != (ssize_t)sizeof(job))
			break; /* closed: stop */
		if (atomic_load(&h->stop))
			job->res = (struct carry_hash_result){.status = CARRY_HASH_ERROR, .err = -ECANCELED};
		else if (carry_hash_fd(job->fd, job->max, &job->res) < 0)
			job->res = (struct carry_hash_result){.status = CARRY_HASH_ERROR, .err = -ENOMEM};
		if (job->fd >= 0)
			close(job->fd);
		job->fd = -1;
		while (write(h->done_w, &job, sizeof(job)) < 0 && errno == EINTR)
			;
	}
	return NULL;
}

int carry_hasher_new(size_t queue_max, struct carry_hasher **ret)
{
	struct carry_hasher *h = calloc(1, sizeof(*h));
	int a[2] = {-1, -1}, b[2] = {-1, -1};

	if (!h)
		return -ENOMEM;
	/* a pipe holds 8192 pointers: the done pipe never blocks the worker */
	if (queue_max == 0 || queue_max > 4096 || pipe2(a, O_CLOEXEC) < 0 || pipe2(b, O_CLOEXEC | O_NONBLOCK) < 0) {
		int r = queue_max == 0 || queue_max > 4096 ? -EINVAL : -errno;
		if (a[0] >= 0) {
			close(a[0]);
			close(a[1]);
		}
		free(h);
		return r;
	}
	h->job_r = a[0];
	h->job_w = a[1];
	h->done_r = b[0];
	h->done_w = b[1];
	h->queue_max = queue_max;
	if (pthread_create(&h->thread, NULL, worker, h) != 0) {
		carry_hasher_free(h, NULL);
		return -EAGAIN;
	}
	h->started = true;
	*ret = h;
	return 0;
}

int carry_hasher_submit(struct carry_hasher *h, struct carry_hash_job *job)
{
	if (!h || !job)
		return -EINVAL;
	if (h->in_flight >= h->queue_max)
		return -EAGAIN;
	/* in_flight < queue_max <= 4096 pointers: the pipe has room, write never blocks */
	if (write(h->job_w, &job, sizeof(job)) != (ssize_t)sizeof(job))
		return -EIO;
	h->in_flight++;
	return 0;
}

int carry_hasher_fd(const struct carry_hasher *h)
{
	return h ? h->done_r : -EBADF;
}

size_t carry_hasher_in_flight(const struct carry_hasher *h)
{
	return h ? h->in_flight : 0;
}

struct carry_hash_job *carry_hasher_next(struct carry_hasher *h)
{
	struct carry_hash_job *job;

	if (!h || h->in_flight == 0)
		return NULL;
	if (read(h->done_r, &job, sizeof(job)) != (ssize_t)sizeof(job))
		return NULL;
	h->in_flight--;
	return job;
}

void carry_hasher_free(struct carry_hasher *h, void (*free_job)(struct carry_hash_job *job))
{
	if (!h)
		return;
	atomic_store(&h->stop, true);
	if (h->job_w >= 0)
		close(h->job_w);
	h->job_w = -1;
	if (h->started)
		pthread_join(h->thread, NULL);
	for (struct carry_hash_job *j; (j = carry_hasher_next(h));)
		if (free_job)
			free_job(j);
	close(h->job_r);
	close(h->done_r);
	close(h->done_w);
	free(h);
}
