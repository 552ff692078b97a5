/* agent/gate/spool.c — mamorid's spool of unacknowledged events (issue 13,
 * item 2; LOG-1): see spool.h. Runs in mamorid (root): the gate's thread
 * appends; the fdatasync runs in a second thread of its own (the syncer), so
 * that a slow disk never holds the gate's loop while a device waits for its
 * decision (issue 23.4: a 2–10 ms fdatasync every 200 ms in the loop was
 * the p99 of the USB decision). A spool line that cannot be parsed (torn last
 * write) is skipped and logged: the file is ours, only a crash in the middle
 * of a write makes one. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "alloc-util.h"
#include "fileio.h"
#include "log.h"
#include "spool.h"
#include "strutil.h"

#define SPOOL_MAX     (64 * 1024 * 1024) /* read back at most this much */
#define SPOOL_SYNC_MS 200                /* fdatasync at most this often from acks */

static int spool_fd = -1;
static bool dirty;
static int64_t last_sync_ms;

/* The syncer: the gate's thread sets `want` and signals; the syncer takes
 * it and runs fdatasync without holding the lock. It is started at the first
 * spool_sync() after spool_open(), so it inherits the gate's limited
 * capabilities (capset is per thread; gate.c limits them after
 * spool_open). It logs nothing itself: an error goes back through
 * sync_errno and the gate's thread logs it. */
static pthread_mutex_t sync_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sync_cv = PTHREAD_COND_INITIALIZER;
static pthread_t syncer;
static bool syncer_running, want_sync, syncer_stop, syncer_failed, opening;
/* Emptying the file (ftruncate, a journaled metadata change that can wait
 * for the file system's journal commit) is the syncer's too: the loop asks
 * with the count of appends it made so far, and the syncer truncates only if
 * no append came since; appends take sync_mu while the syncer runs. */
static bool want_trunc;
static uint64_t appends, trunc_at;
static atomic_int sync_errno;

static void *syncer_main(void *arg)
{
	sigset_t all;

	(void)arg;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	pthread_mutex_lock(&sync_mu);
	for (;;) {
		while (!want_sync && !want_trunc && !syncer_stop)
			pthread_cond_wait(&sync_cv, &sync_mu);
		if (want_trunc) {
			/* under the lock: no append can slip in between */
			if (trunc_at == appends && ftruncate(spool_fd, 0) < 0)
				atomic_store(&sync_errno, errno);
			want_trunc = false;
		}
		if (want_sync) {
			want_sync = false;
			pthread_mutex_unlock(&sync_mu);
			if (fdatasync(spool_fd) < 0)
				atomic_store(&sync_errno, errno);
			pthread_mutex_lock(&sync_mu);
			continue;
		}
		if (syncer_stop)
			break;
	}
	pthread_mutex_unlock(&sync_mu);
	return NULL;
}

/* Starts the syncer at the first request after spool_open; false: sync and
 * truncate in the calling thread (at start, or no thread could be made). */
static bool syncer_start(void)
{
	int r;

	if (opening || syncer_failed)
		return false;
	if (syncer_running)
		return true;
	r = pthread_create(&syncer, NULL, syncer_main, NULL);
	if (r != 0) {
		log_warning_errno(-r, "gate spool: no syncer thread: fdatasync in the gate's loop");
		syncer_failed = true;
		return false;
	}
	syncer_running = true;
	return true;
}

static void syncer_join(void)
{
	if (!syncer_running)
		return;
	pthread_mutex_lock(&sync_mu);
	syncer_stop = true;
	pthread_cond_signal(&sync_cv);
	pthread_mutex_unlock(&sync_mu);
	pthread_join(syncer, NULL);
	syncer_running = false;
	syncer_stop = false;
	want_sync = false;
	want_trunc = false;
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* iov written whole, partial writes resumed (iov is consumed) */
static int write_all_locked(struct iovec *iov, int n)
{
	while (n > 0) {
		ssize_t w = writev(spool_fd, iov, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		while (n > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++, n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	dirty = true;
	appends++;
	return 0;
}

static int write_all(struct iovec *iov, int n)
{
	bool locked = syncer_running; /* set and cleared by this thread only */
	int r;

	if (locked)
		pthread_mutex_lock(&sync_mu);
	r = write_all_locked(iov, n);
	if (locked)
		pthread_mutex_unlock(&sync_mu);
	return r;
}

int spool_open(const char *dir, void (*requeue)(cJSON *msg))
{
	char path[PATH_MAX];
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	cJSON **pending = NULL;
	size_t n = 0, cap = 0;
	uint64_t acked = 0;
	int r, count = 0;

	if (xsnprintf(path, sizeof(path), "%s/%s", dir, SPOOL_FILE) < 0)
		return -ENAMETOOLONG;
	r = mkdir_p(dir, 0700);
	if (r < 0)
		return r;
	r = read_file_capped(path, SPOOL_MAX, &buf, &len);
	if (r < 0 && r != -ENOENT)
		log_error_errno(r, "gate spool %s unreadable: its events are lost", path);
	/* first pass: the highest acknowledged id (acks come in order) */
	for (char *l = buf; buf && l && *l;) {
		char *nl = strchr(l, '\n');
		int64_t v;

		if (!nl)
			break; /* a torn last line */
		*nl = 0;
		if (l[0] == 'A' && l[1] == ' ' && parse_int64(l + 2, 0, INT64_MAX, &v) == 0 && (uint64_t)v > acked)
			acked = (uint64_t)v;
		*nl = '\n';
		l = nl + 1;
	}
	for (char *l = buf; buf && l && *l;) {
		char *nl = strchr(l, '\n'), *sp;
		int64_t id;
		cJSON *m;

		if (!nl)
			break;
		*nl = 0;
		sp = l[0] == 'E' && l[1] == ' ' ? strchr(l + 2, ' ') : NULL;
		if (sp) {
			*sp = 0;
			if (parse_int64(l + 2, 0, INT64_MAX, &id) == 0 && (uint64_t)id > acked) {
				m = cJSON_ParseWithLength(sp + 1, strlen(sp + 1));
				if (!cJSON_IsObject(m)) {
					log_warning("gate spool: a damaged line is skipped");
					cJSON_Delete(m);
				} else {
					if (n == cap) {
						cJSON **p = realloc(pending, (cap ? cap * 2 : 64) * sizeof(*p));

						if (!p) {
							cJSON_Delete(m);
							break;
						}
						pending = p;
						cap = cap ? cap * 2 : 64;
					}
					pending[n++] = m;
				}
			}
		}
		l = nl + 1;
	}
	spool_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (spool_fd < 0) {
		r = -errno;
		for (size_t i = 0; i < n; i++)
			cJSON_Delete(pending[i]);
		free(pending);
		return log_error_errno(r, "gate spool %s cannot be opened", path);
	}
	/* the pending ones go into the queue again (and so into the new file) */
	for (size_t i = 0; i < n; i++) {
		requeue(pending[i]);
		count++;
	}
	free(pending);
	if (count)
		log_warning("gate spool: %d event(s) the worker had not acknowledged are sent again", count);
	opening = true; /* at start, before the capabilities are limited: here, not in a thread */
	spool_sync();
	opening = false;
	return count;
}

void spool_append(uint64_t id, const char *json, size_t len)
{
	char head[32];
	struct iovec iov[3];
	int r;

	if (spool_fd < 0 || xsnprintf(head, sizeof(head), "E %" PRIu64 " ", id) < 0)
		return;
	/* one writev: the line is whole in the page cache or not there */
	iov[0] = (struct iovec){.iov_base = head, .iov_len = strlen(head)};
	iov[1] = (struct iovec){.iov_base = (void *)json, .iov_len = len};
	iov[2] = (struct iovec){.iov_base = (void *)"\n", .iov_len = 1};
	r = write_all(iov, 3);
	if (r < 0)
		log_warning_errno(r, "gate spool: cannot append; this event survives only in memory");
}

void spool_ack(uint64_t id, bool empty)
{
	char line[32];

	if (spool_fd < 0)
		return;
	if (empty && (opening || syncer_failed)) {
		/* nothing pending: start over (no fsync needed for an empty file:
		 * after a crash an older, longer one only sends acked events again) */
		if (ftruncate(spool_fd, 0) == 0)
			return;
	}
	if (xsnprintf(line, sizeof(line), "A %" PRIu64 "\n", id) == 0) {
		struct iovec iov = {.iov_base = line, .iov_len = strlen(line)};
		(void)write_all(&iov, 1);
	}
	if (empty && syncer_start()) {
		/* the same, by the syncer, unless an append comes first; the "A"
		 * line covers a crash before it */
		pthread_mutex_lock(&sync_mu);
		want_trunc = true;
		trunc_at = appends;
		pthread_cond_signal(&sync_cv);
		pthread_mutex_unlock(&sync_mu);
		return;
	}
	if (mono_ms() - last_sync_ms >= SPOOL_SYNC_MS)
		spool_sync();
}

/* fdatasync here, in the calling thread (start and stop, and when the
 * syncer cannot be started) */
static void sync_now(void)
{
	if (fdatasync(spool_fd) < 0)
		log_warning_errno(-errno, "gate spool: fdatasync");
}

void spool_sync(void)
{
	int e = atomic_exchange(&sync_errno, 0);

	if (e)
		log_warning_errno(-e, "gate spool: fdatasync or ftruncate in the syncer");
	if (spool_fd < 0 || !dirty)
		return;
	dirty = false;
	last_sync_ms = mono_ms();
	if (!syncer_start()) {
		sync_now();
		return;
	}
	/* one pending request covers every write before it: a request made
	 * while a fdatasync runs gets one more after it */
	pthread_mutex_lock(&sync_mu);
	want_sync = true;
	pthread_cond_signal(&sync_cv);
	pthread_mutex_unlock(&sync_mu);
}

void spool_close(void)
{
	syncer_join(); /* its last request done first */
	if (spool_fd >= 0) {
		if (dirty)
			sync_now();
		dirty = false;
		close(spool_fd);
	}
	spool_fd = -1;
}
