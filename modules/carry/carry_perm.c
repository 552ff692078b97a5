/* modules/carry/carry_perm.c — the carry module's permission-event thread
 * (mamori-worker): reads the fanotify content group, answers opens the
 * loop's verdicts already cover, hands everything else to the loop in
 * order (carry_perm.h). One mutex guards the queue, the media table and the
 * verdict cache; it is never held across a syscall that can wait. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "carry_perm.h"
#include "log.h"

#define CARRY_PERM_VOLUMES 64
#define CARRY_PERM_BUF     (64 * 1024)
/* Closes are handed to the loop in batches (issue 23.1): the loop is woken
 * at once for anything it must answer (an open, an overflow), for closes
 * only when CARRY_PERM_SIGNAL_BATCH of them wait or the oldest has waited
 * CARRY_PERM_LINGER_MS. The closes come from a group of their own
 * (close_fd), which the thread reads at most every CARRY_PERM_LINGER_MS, so
 * that a copy of many files wakes it once per batch for its closes, also
 * while the opens of an approval medium wake it for each file (issue 23.2).
 * Without that group (close_fd -1: the closes come with the opens), while no
 * followed medium has permission events (CARRY_PERM_ALLOW everywhere:
 * recording only), the thread waits CARRY_PERM_LINGER_MS after a read before
 * the next one instead; an open on a medium it does not know yet waits at
 * most that long. */
#define CARRY_PERM_LINGER_MS    4
#define CARRY_PERM_SIGNAL_BATCH 256

struct carry_perm {
	int fan_fd, close_fd, ready_fd, stop_fd;
	pid_t self;
	pthread_t thread;
	bool started;
	pthread_mutex_t lock;
	pthread_cond_t space;
	bool stopping;
	/* under lock */
	struct carry_perm_event *q; /* ring of CARRY_PERM_QUEUE */
	size_t head, n;
	struct carry_perm_volume vols[CARRY_PERM_VOLUMES];
	size_t n_vols;
	uint64_t rules_gen, fast;
	struct carry_perm_entry cache[CARRY_PERM_CACHE];
	/* the thread's */
	char *buf;
	/* what the thread had read but not handed over when it was told to
	 * stop: buf[rest_off, rest_end), for carry_perm_free's drop */
	size_t rest_off, rest_end;
	size_t unsignalled;     /* closes queued since the loop was last woken */
	int64_t unsignalled_ms; /* when the first of them was queued */
	int64_t close_rest_ms;  /* close_fd is not polled before then */
};

int64_t carry_perm_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void carry_perm_respond(int fan_fd, int fd, bool allow)
{
	struct fanotify_response resp = {.fd = fd, .response = allow ? FAN_ALLOW : FAN_DENY};

	if (write(fan_fd, &resp, sizeof(resp)) != (ssize_t)sizeof(resp))
		log_warning_errno(-errno, "carry: cannot answer a permission event");
	close(fd);
}

/* May the thread allow this open? Only what the loop would allow too. */
static bool fast_allow(struct carry_perm *p, int fd, pid_t tid)
{
	const struct carry_perm_entry *c = &p->cache[(unsigned)tid % CARRY_PERM_CACHE];
	struct stat s;
	bool allow = false, live;

	if (tid == p->self)
		return true; /* the worker's own open: the loop allows it too */
	if (fstat(fd, &s) < 0)
		return false;
	pthread_mutex_lock(&p->lock);
	live = c->tid == tid && carry_perm_now_ms() < c->until_ms;
	if (live && c->tgid == p->self)
		allow = true; /* another thread of the worker */
	for (size_t i = 0; !allow && i < p->n_vols; i++) {
		if (p->vols[i].dev != s.st_dev)
			continue;
		if (p->vols[i].mode == CARRY_PERM_ALLOW)
			allow = true;
		else if (p->vols[i].mode == CARRY_PERM_APPROVAL &&
		         (live && c->approved_dev == s.st_dev && c->rules_gen == p->rules_gen)) {
			allow = true;
			p->fast++;
		}
		break;
	}
	pthread_mutex_unlock(&p->lock);
	return allow;
}

static void signal_loop(struct carry_perm *p)
{
	uint64_t one = 1;

	p->unsignalled = 0;
	(void)!write(p->ready_fd, &one, sizeof(one));
}

/* Hand an event to the loop; waits while the queue is full (the loop
 * woken first). An event the loop must answer wakes it at once; a close
 * only in a batch (signal_due). false when stopping (the caller still owns
 * the event). */
static bool forward(struct carry_perm *p, const struct carry_perm_event *e)
{
	bool urgent = e->fd < 0 || (e->mask & FAN_OPEN_PERM);

	pthread_mutex_lock(&p->lock);
	if (p->n == CARRY_PERM_QUEUE && !p->stopping && p->unsignalled)
		signal_loop(p);
	while (p->n == CARRY_PERM_QUEUE && !p->stopping)
		pthread_cond_wait(&p->space, &p->lock);
	if (p->stopping) {
		pthread_mutex_unlock(&p->lock);
		return false;
	}
	p->q[(p->head + p->n) % CARRY_PERM_QUEUE] = *e;
	p->n++;
	pthread_mutex_unlock(&p->lock);
	if (p->unsignalled++ == 0)
		p->unsignalled_ms = carry_perm_now_ms();
	if (urgent || p->unsignalled >= CARRY_PERM_SIGNAL_BATCH)
		signal_loop(p);
	return true;
}

/* Milliseconds until the waiting closes are due to the loop (0: now; -1:
 * none waits). */
static int signal_due(const struct carry_perm *p)
{
	int64_t left;

	if (!p->unsignalled)
		return -1;
	left = p->unsignalled_ms + CARRY_PERM_LINGER_MS - carry_perm_now_ms();
	return left <= 0 ? 0 : (int)left;
}

/* No followed medium has permission events: reads may wait (recording only). */
static bool may_linger(struct carry_perm *p)
{
	bool r = true;

	pthread_mutex_lock(&p->lock);
	for (size_t i = 0; r && i < p->n_vols; i++)
		r = p->vols[i].mode == CARRY_PERM_ALLOW;
	pthread_mutex_unlock(&p->lock);
	return r;
}

/* The next event of buf[*off, n) into *md (copied: info records align
 * events to 4 bytes only); false at the end or at a malformed length. */
static bool next_metadata(const char *buf, size_t n, size_t *off, struct fanotify_event_metadata *md)
{
	if (n - *off < FAN_EVENT_METADATA_LEN)
		return false;
	memcpy(md, buf + *off, sizeof(*md));
	if (md->event_len < FAN_EVENT_METADATA_LEN || md->event_len > n - *off)
		return false;
	*off += md->event_len;
	return true;
}

/* Read one buffer of group fd and hand its events over (opens the cache
 * covers answered here). false when stopping: the rest of the buffer is
 * left for carry_perm_free's drop. *ret_perm: a permission event was read. */
static bool read_group(struct carry_perm *p, int fd, bool *ret_perm)
{
	struct fanotify_event_metadata md;
	size_t off = 0;
	ssize_t n = read(fd, p->buf, CARRY_PERM_BUF);

	while (n > 0 && next_metadata(p->buf, (size_t)n, &off, &md)) {
		struct carry_perm_event e;

		if (md.vers != FANOTIFY_METADATA_VERSION) {
			if (md.fd >= 0)
				close(md.fd);
			continue;
		}
		if (md.fd < 0 && !(md.mask & FAN_Q_OVERFLOW))
			continue;
		if (md.mask & FAN_OPEN_PERM)
			*ret_perm = true;
		if (md.fd >= 0 && (md.mask & FAN_OPEN_PERM) && fast_allow(p, md.fd, md.pid)) {
			carry_perm_respond(p->fan_fd, md.fd, true);
			continue;
		}
		e = (struct carry_perm_event){.fd = md.fd, .pid = md.pid, .mask = md.mask};
		if (!forward(p, &e)) {
			/* stopping: this event and the rest of the buffer go to
			 * carry_perm_free's drop (a close is still recorded, an
			 * open denied): nothing read is let go unrecorded */
			p->rest_off = off - md.event_len;
			p->rest_end = (size_t)n;
			return false;
		}
	}
	return true;
}

static void *thread_main(void *arg)
{
	struct carry_perm *p = arg;
	bool linger = false;

	for (;;) {
		int64_t now = carry_perm_now_ms();
		bool closes = p->close_fd >= 0 && now >= p->close_rest_ms;
		struct pollfd pf[3] = {{.fd = p->fan_fd, .events = POLLIN},
		                       {.fd = p->stop_fd, .events = POLLIN},
		                       {.fd = closes ? p->close_fd : -1, .events = POLLIN}};
		bool perm = false;
		int due = signal_due(p), k;

		if (p->close_fd >= 0 && !closes) {
			int rest = (int)(p->close_rest_ms - now);

			due = due < 0 || rest < due ? rest : due;
		}
		if (linger) {
			/* recording only: let a copy's closes gather (the stop fd is still heard) */
			k = poll(&pf[1], 1, CARRY_PERM_LINGER_MS);
			if (k > 0)
				break;
			due = signal_due(p);
		}
		k = poll(pf, 3, due);
		if (k < 0 && errno != EINTR)
			break;
		if (k > 0 && pf[1].revents)
			break;
		if (signal_due(p) == 0)
			signal_loop(p);
		linger = false;
		if (k <= 0)
			continue;
		if ((pf[0].revents & POLLIN) && !read_group(p, p->fan_fd, &perm))
			return NULL;
		if (pf[2].revents & POLLIN) {
			if (!read_group(p, p->close_fd, &perm))
				return NULL;
			p->close_rest_ms = carry_perm_now_ms() + CARRY_PERM_LINGER_MS;
		}
		linger = p->close_fd < 0 && (pf[0].revents & POLLIN) && !perm && may_linger(p);
	}
	return NULL;
}

int carry_perm_new(int fan_fd, int close_fd, pid_t self, struct carry_perm **ret)
{
	struct carry_perm *p = calloc(1, sizeof(*p));
	int r;

	if (!p)
		return -ENOMEM;
	p->fan_fd = fan_fd;
	p->close_fd = close_fd;
	p->self = self;
	p->ready_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	p->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	p->q = calloc(CARRY_PERM_QUEUE, sizeof(*p->q));
	p->buf = malloc(CARRY_PERM_BUF);
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->space, NULL);
	if (p->ready_fd < 0 || p->stop_fd < 0 || !p->q || !p->buf) {
		r = p->q && p->buf ? -errno : -ENOMEM;
		carry_perm_free(p, NULL, NULL);
		return r;
	}
	r = -pthread_create(&p->thread, NULL, thread_main, p);
	if (r < 0) {
		carry_perm_free(p, NULL, NULL);
		return r;
	}
	p->started = true;
	*ret = p;
	return 0;
}

static void drop_one(struct carry_perm *p, const struct carry_perm_event *e,
                     void (*drop)(const struct carry_perm_event *e, void *ud), void *ud)
{
	if (drop)
		drop(e, ud);
	else if (e->fd >= 0 && (e->mask & FAN_OPEN_PERM))
		carry_perm_respond(p->fan_fd, e->fd, false);
	else if (e->fd >= 0)
		close(e->fd);
}

void carry_perm_free(struct carry_perm *p, void (*drop)(const struct carry_perm_event *e, void *ud), void *ud)
{
	struct fanotify_event_metadata md;
	struct carry_perm_event e;
	uint64_t one = 1;

	if (!p)
		return;
	if (p->started) {
		pthread_mutex_lock(&p->lock);
		p->stopping = true;
		pthread_cond_broadcast(&p->space);
		pthread_mutex_unlock(&p->lock);
		(void)!write(p->stop_fd, &one, sizeof(one));
		pthread_join(p->thread, NULL);
	}
	while (p->q && carry_perm_next(p, &e))
		drop_one(p, &e, drop, ud);
	/* then, in the kernel's order, what the thread read after them */
	for (size_t off = p->rest_off; p->buf && next_metadata(p->buf, p->rest_end, &off, &md);) {
		if (md.vers != FANOTIFY_METADATA_VERSION) {
			if (md.fd >= 0)
				close(md.fd);
		} else if (md.fd >= 0 || (md.mask & FAN_Q_OVERFLOW))
			drop_one(p, &(struct carry_perm_event){.fd = md.fd, .pid = md.pid, .mask = md.mask}, drop, ud);
	}
	pthread_cond_destroy(&p->space);
	pthread_mutex_destroy(&p->lock);
	if (p->ready_fd >= 0)
		close(p->ready_fd);
	if (p->stop_fd >= 0)
		close(p->stop_fd);
	free(p->q);
	free(p->buf);
	free(p);
}

int carry_perm_fd(const struct carry_perm *p)
{
	return p->ready_fd;
}

bool carry_perm_next(struct carry_perm *p, struct carry_perm_event *ret)
{
	uint64_t x;
	bool got = false, more;

	pthread_mutex_lock(&p->lock);
	if (p->n > 0) {
		*ret = p->q[p->head];
		p->head = (p->head + 1) % CARRY_PERM_QUEUE;
		p->n--;
		got = true;
		pthread_cond_signal(&p->space);
	}
	more = p->n > 0;
	/* the eventfd says "something waits" exactly while it does: drained
	 * with the last one (a push after this unlock writes it again) */
	if (!more)
		(void)!read(p->ready_fd, &x, sizeof(x));
	pthread_mutex_unlock(&p->lock);
	return got;
}

void carry_perm_set_volumes(struct carry_perm *p, const struct carry_perm_volume *v, size_t n)
{
	pthread_mutex_lock(&p->lock);
	p->n_vols = n < CARRY_PERM_VOLUMES ? n : CARRY_PERM_VOLUMES;
	if (p->n_vols)
		memcpy(p->vols, v, p->n_vols * sizeof(*v));
	pthread_mutex_unlock(&p->lock);
}

void carry_perm_set_rules_gen(struct carry_perm *p, uint64_t gen)
{
	pthread_mutex_lock(&p->lock);
	p->rules_gen = gen;
	pthread_mutex_unlock(&p->lock);
}

struct carry_perm_entry carry_perm_cache_get(struct carry_perm *p, pid_t tid)
{
	struct carry_perm_entry e;

	pthread_mutex_lock(&p->lock);
	e = p->cache[(unsigned)tid % CARRY_PERM_CACHE];
	pthread_mutex_unlock(&p->lock);
	return e;
}

void carry_perm_cache_put(struct carry_perm *p, const struct carry_perm_entry *e)
{
	pthread_mutex_lock(&p->lock);
	p->cache[(unsigned)e->tid % CARRY_PERM_CACHE] = *e;
	pthread_mutex_unlock(&p->lock);
}

uint64_t carry_perm_fast(struct carry_perm *p)
{
	uint64_t n;

	pthread_mutex_lock(&p->lock);
	n = p->fast;
	pthread_mutex_unlock(&p->lock);
	return n;
}
