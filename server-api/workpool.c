/* server-api/workpool.c — threads for slow work and the eventfd that brings
 * their results back to the libevent loop (mamori-server). */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <event2/event.h>

#include "workpool.h"

#define POOL_THREADS_MAX 16

struct job {
	struct job *next;
	void (*work)(void *ctx);
	void (*done)(void *ctx, int cancelled);
	void *ctx;
};

struct workpool {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct job *todo, **todo_tail; /* FIFO */
	struct job *finished;          /* LIFO; order does not matter */
	size_t pending;                /* todo + running + finished not yet delivered */
	unsigned queue_max, nthreads;
	bool stopping;
	int efd;
	struct event *ev;
	pthread_t threads[POOL_THREADS_MAX];
};

static void *worker_main(void *arg)
{
	struct workpool *p = arg;
	uint64_t one = 1;

	/* the loop thread serves terminals: it wins a contended core */
	(void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10);
	pthread_mutex_lock(&p->lock);
	for (;;) {
		struct job *j;

		while (!p->todo && !p->stopping)
			pthread_cond_wait(&p->cond, &p->lock);
		if (p->stopping)
			break;
		j = p->todo;
		p->todo = j->next;
		if (!p->todo)
			p->todo_tail = &p->todo;
		pthread_mutex_unlock(&p->lock);
		j->work(j->ctx);
		pthread_mutex_lock(&p->lock);
		j->next = p->finished;
		p->finished = j;
		/* eventfd write cannot block for a counter this small */
		(void)!write(p->efd, &one, sizeof(one));
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

static void deliver(evutil_socket_t fd, short what, void *arg)
{
	struct workpool *p = arg;
	struct job *list;
	uint64_t n;

	(void)what;
	(void)!read(fd, &n, sizeof(n));
	pthread_mutex_lock(&p->lock);
	list = p->finished;
	p->finished = NULL;
	pthread_mutex_unlock(&p->lock);
	while (list) {
		struct job *j = list;

		list = j->next;
		pthread_mutex_lock(&p->lock);
		p->pending--;
		pthread_mutex_unlock(&p->lock);
		j->done(j->ctx, 0);
		free(j);
	}
}

int workpool_new(struct event_base *base, unsigned threads, unsigned queue_max, struct workpool **ret)
{
	struct workpool *p;
	int r = 0;

	if (threads == 0 || threads > POOL_THREADS_MAX || queue_max < threads)
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	p->todo_tail = &p->todo;
	p->efd = -1;
	p->queue_max = queue_max;
	p->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (p->efd < 0) {
		r = -errno;
		goto fail;
	}
	p->ev = event_new(base, p->efd, EV_READ | EV_PERSIST, deliver, p);
	if (!p->ev || event_add(p->ev, NULL) < 0) {
		r = -ENOMEM;
		goto fail;
	}
	for (; p->nthreads < threads; p->nthreads++) {
		int e = pthread_create(&p->threads[p->nthreads], NULL, worker_main, p);

		if (e != 0) {
			r = -e;
			goto fail;
		}
	}
	*ret = p;
	return 0;
fail:
	workpool_free(p);
	return r;
}

void workpool_free(struct workpool *p)
{
	struct job *lists[2];

	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	lists[0] = p->todo;
	lists[1] = p->finished;
	for (size_t l = 0; l < 2; l++)
		while (lists[l]) {
			struct job *j = lists[l];

			lists[l] = j->next;
			/* finished work is delivered; work never run is cancelled */
			j->done(j->ctx, l == 0);
			free(j);
		}
	if (p->ev)
		event_free(p->ev);
	if (p->efd >= 0)
		close(p->efd);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

int workpool_submit(struct workpool *p, void (*work)(void *ctx), void (*done)(void *ctx, int cancelled), void *ctx)
{
	struct job *j;

	pthread_mutex_lock(&p->lock);
	if (p->pending >= p->queue_max) {
		pthread_mutex_unlock(&p->lock);
		return -EBUSY;
	}
	j = calloc(1, sizeof(*j));
	if (!j) {
		pthread_mutex_unlock(&p->lock);
		return -ENOMEM;
	}
	j->work = work, j->done = done, j->ctx = ctx;
	*p->todo_tail = j;
	p->todo_tail = &j->next;
	p->pending++;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
	return 0;
}

size_t workpool_pending(const struct workpool *p)
{
	return p->pending; /* read on the loop thread; an estimate is enough */
}
