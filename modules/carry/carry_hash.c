/* modules/carry/carry_hash.c — SHA-256 of medium files in one worker thread
 * (mamori-worker). See carry_hash.h. The digest is common/digest.h's
 * (libcrypto's SHA-256: several times the freestanding one's speed). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
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

/* The hashing itself, with the caller's context (ready for a new message,
 * and left so) and HASH_CHUNK buffer. */
static void hash_fd(int fd, uint64_t max, struct digest_sha256 *md, uint8_t *buf, struct carry_hash_result *ret)
{
	struct carry_hash_result res = {.status = CARRY_HASH_ERROR};
	uint8_t dig[32];
	bool fed = false;
	struct stat st;
	off_t off = 0;
	int r;

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
		fed = true;
		if ((r = digest_sha256_update(md, buf, (size_t)k)) < 0) {
			res.err = r;
			goto out;
		}
		off += k;
	}
	fed = false;
	if ((r = digest_sha256_final(md, dig)) < 0) {
		res.err = r;
		goto out;
	}
	hex_encode(dig, 32, res.sha256);
	res.size = off;
	res.status = CARRY_HASH_DONE;
out:
	/* a file given up half way: its part is thrown away, so that the
	 * context starts the next file clean (final restarts it) */
	if (fed)
		(void)digest_sha256_final(md, dig);
	*ret = res;
}

int carry_hash_fd(int fd, uint64_t max, struct carry_hash_result *ret)
{
	_cleanup_(digest_sha256_freep) struct digest_sha256 *md = NULL;
	_cleanup_free_ uint8_t *buf = malloc(HASH_CHUNK);
	int r;

	if (!buf)
		return -ENOMEM;
	if ((r = digest_sha256_new(&md)) < 0)
		return r;
	hash_fd(fd, max, md, buf, ret);
	return 0;
}

struct carry_hasher {
	pthread_t thread;
	bool started;
	int job_r, job_w;   /* loop → worker: job pointers */
	int done_r, done_w; /* worker → loop */
	size_t queue_max, in_flight;
	atomic_bool stop;
	/* results read from the done pipe in one read(), handed out one by one */
	struct carry_hash_job *got[64];
	size_t got_pos, got_len;
};

/* Jobs are taken and given back in batches (issue 23.1): one wake-up of
 * this thread and one of the loop for every job that waited together. */
#define HASH_BATCH 64

/* a job is in the pipe (the read would not wait) */
static bool job_waiting(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return poll(&p, 1, 0) > 0 && (p.revents & POLLIN);
}

static void *worker(void *arg)
{
	struct carry_hasher *h = arg;

	/* one context, digest and buffer for every job of the thread (issue
	 * 23.1: no allocation and no implicit digest fetch per file) */
	_cleanup_(digest_sha256_freep) struct digest_sha256 *md = NULL;
	_cleanup_free_ uint8_t *buf = malloc(HASH_CHUNK);

	(void)digest_sha256_new(&md); /* NULL: every job says -ENOMEM */

	for (;;) {
		struct carry_hash_job *jobs[HASH_BATCH];
		bool quit = false;
		size_t n = 0;

		/* take what waits, hash it, and take again while more waits: the
		 * results go back together, one wake-up of the loop and one
		 * journal transaction for their records (issue 23.1: a copy's
		 * jobs come one write at a time, and were given back in the
		 * pieces this thread happened to find) */
		do {
			ssize_t k = read(h->job_r, jobs + n, (HASH_BATCH - n) * sizeof(jobs[0]));
			size_t m;

			if (k < 0 && errno == EINTR)
				continue;
			/* pointers are written whole (one write each, < PIPE_BUF): a read returns whole ones */
			if (k <= 0 || k % (ssize_t)sizeof(jobs[0]) != 0) {
				quit = true; /* closed: stop, once what was taken is given back */
				break;
			}
			m = (size_t)k / sizeof(jobs[0]);
			for (size_t i = n; i < n + m; i++) {
				struct carry_hash_job *job = jobs[i];

				if (!job) { /* carry_hasher_free's wake-up: the jobs before it go back, then stop */
					m = i - n;
					quit = true;
					break;
				}
				if (atomic_load(&h->stop))
					job->res = (struct carry_hash_result){.status = CARRY_HASH_ERROR,
					                                      .err = -ECANCELED};
				else if (!md || !buf)
					job->res =
					        (struct carry_hash_result){.status = CARRY_HASH_ERROR, .err = -ENOMEM};
				else
					hash_fd(job->fd, job->max, md, buf, &job->res);
				if (job->fd >= 0)
					close(job->fd);
				job->fd = -1;
			}
			n += m;
		} while (!quit && n < HASH_BATCH && job_waiting(h->job_r));
		/* at most HASH_BATCH pointers (< PIPE_BUF: whole), and the pipe
		 * holds 8192 of them, more than ever in flight: never short */
		while (n && write(h->done_w, jobs, n * sizeof(jobs[0])) < 0 && errno == EINTR)
			;
		if (quit)
			break;
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
		carry_hasher_free(h, NULL, NULL);
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
	if (h->got_pos == h->got_len) {
		/* what the pipe holds, up to 64, in one read(): written whole,
		 * a multiple of the pointer size (see worker) */
		ssize_t k = read(h->done_r, h->got, sizeof(h->got));

		if (k <= 0 || k % (ssize_t)sizeof(job) != 0)
			return NULL;
		h->got_pos = 0;
		h->got_len = (size_t)k / sizeof(job);
	}
	job = h->got[h->got_pos++];
	h->in_flight--;
	return job;
}

void carry_hasher_free(struct carry_hasher *h, void (*done)(struct carry_hash_job *job, void *ud), void *ud)
{
	if (!h)
		return;
	atomic_store(&h->stop, true);
	/* a NULL job wakes the thread to stop: the end of the pipe is not
	 * enough, a child forked meanwhile (fork without exec) may hold a copy
	 * of the write end (the pipe has room: in_flight < its capacity) */
	if (h->job_w >= 0) {
		struct carry_hash_job *wake = NULL;
		while (write(h->job_w, &wake, sizeof(wake)) < 0 && errno == EINTR)
			;
		close(h->job_w);
	}
	h->job_w = -1;
	if (h->started)
		pthread_join(h->thread, NULL);
	for (struct carry_hash_job *j; (j = carry_hasher_next(h));)
		if (done)
			done(j, ud);
	close(h->job_r);
	close(h->done_r);
	close(h->done_w);
	free(h);
}
