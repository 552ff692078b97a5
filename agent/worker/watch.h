/* agent/worker/watch.h — what an epoll event of mamori-worker's loop points to
 * (mamori-worker). */
#ifndef MAMORI_WATCH_H
#define MAMORI_WATCH_H

struct module_slot;

enum watch_kind {
	W_SIGNAL,
	W_TIMER_CHECK,
	W_TIMER_WATCHDOG,
	W_CONTROL,
	W_MODULE,
	W_IPC,
	W_TIMER_SYNC,
	W_PASS,
	W_POLL,
	W_SANITIZE
};

struct watch {
	enum watch_kind kind;
	int fd;
	struct module_slot *slot; /* W_MODULE */
};

#endif
