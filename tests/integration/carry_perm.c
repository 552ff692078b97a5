/* tests/integration/carry_perm.c — the carry module's permission-event
 * thread (modules/carry/carry_perm.c) on a real fanotify content group
 * (root: carry_perm.sh) watching a directory of this test.
 *
 * Stopping must lose nothing the thread has already read from the kernel
 * (issue 23.1 / LOG-1): the closes it had read but not yet handed to the
 * loop go to carry_perm_free's drop like the queued ones. The test makes
 * that state certain, not likely: more closes than the thread's queue
 * holds (CARRY_PERM_QUEUE), the loop never taking any, so that the thread
 * waits in its hand-over with the rest of its last read in its buffer once
 * the kernel holds fewer than the closes beyond the queue (FIONREAD).
 * Both ways the module gives the thread its closes: with the permission
 * events (one content group), and in a group of their own (close_fd, read
 * in batches; issue 23.2). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "carry/carry_perm.h"

#define EXTRA 500 /* closes beyond what the queue holds */

struct seen {
	size_t closes, opens, bad_fd;
	int fan_fd;
};

static void drop(const struct carry_perm_event *e, void *ud)
{
	struct seen *s = ud;

	if (e->fd < 0 || fcntl(e->fd, F_GETFD) < 0) {
		s->bad_fd++;
		return;
	}
	if (e->mask & FAN_OPEN_PERM) {
		s->opens++;
		carry_perm_respond(s->fan_fd, e->fd, false);
		return;
	}
	if (e->mask & FAN_CLOSE_WRITE)
		s->closes++;
	close(e->fd);
}

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static void stop_keeps_what_was_read(bool own_group)
{
	const char *tmp = getenv("CARRY_PERM_TMP");
	struct rlimit rl = {.rlim_cur = 16384, .rlim_max = 16384};
	struct seen s = {0};
	struct carry_perm *p = NULL;
	const size_t files = CARRY_PERM_QUEUE + EXTRA;
	char path[PATH_MAX];
	int fan, closes, pending = -1;

	assert_non_null(tmp);
	/* every event read holds an fd until it is dropped */
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	fan = fanotify_init(FAN_CLASS_CONTENT | FAN_CLOEXEC | FAN_NONBLOCK | FAN_REPORT_TID | FAN_UNLIMITED_QUEUE,
	                    O_RDONLY | O_LARGEFILE | O_CLOEXEC);
	assert_true(fan >= 0);
	s.fan_fd = fan;
	closes = own_group ? fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK | FAN_REPORT_TID |
	                                           FAN_UNLIMITED_QUEUE,
	                                   O_RDONLY | O_LARGEFILE | O_CLOEXEC)
	                   : fan;
	assert_true(closes >= 0);
	assert_int_equal(fanotify_mark(closes, FAN_MARK_ADD, FAN_CLOSE_WRITE | FAN_EVENT_ON_CHILD, AT_FDCWD, tmp), 0);
	/* the thread belongs to another "worker": our writes are not its own */
	assert_int_equal(carry_perm_new(fan, own_group ? closes : -1, getpid() + 1000000, &p), 0);
	for (size_t i = 0; i < files; i++) {
		int fd;

		assert_true(snprintf(path, sizeof(path), "%s/%c%05zu", tmp, own_group ? 'g' : 'f', i) <
		            (int)sizeof(path));
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		assert_true(fd >= 0);
		assert_int_equal(write(fd, "x", 1), 1);
		close(fd);
	}
	/* the thread has read more than its queue holds (at most the kernel's
	 * rest is unread: events of bare metadata): the one after the queue's
	 * last is in its buffer, and no loop takes any */
	for (int i = 0; i < 4000; i++) {
		assert_int_equal(ioctl(closes, FIONREAD, &pending), 0);
		if ((size_t)pending <= (files - CARRY_PERM_QUEUE - 1) * FAN_EVENT_METADATA_LEN)
			break;
		sleep_ms(5);
	}
	assert_true((size_t)pending <= (files - CARRY_PERM_QUEUE - 1) * FAN_EVENT_METADATA_LEN);
	carry_perm_free(p, drop, &s);
	assert_int_equal(s.bad_fd, 0);
	assert_int_equal(s.opens, 0);
	assert_true(s.closes > CARRY_PERM_QUEUE);
	/* what it had not read is still the kernel's (the module drains it) */
	for (;;) {
		char buf[4096];
		ssize_t n = read(closes, buf, sizeof(buf));
		struct fanotify_event_metadata *md = (struct fanotify_event_metadata *)buf;

		if (n < 0 && errno == EAGAIN)
			break;
		assert_true(n > 0);
		for (; FAN_EVENT_OK(md, n); md = FAN_EVENT_NEXT(md, n))
			if (md->fd >= 0) {
				s.closes += (md->mask & FAN_CLOSE_WRITE) != 0;
				close(md->fd);
			}
	}
	assert_int_equal(s.closes, files);
	if (own_group)
		close(closes);
	close(fan);
}

static void test_stop_keeps_what_was_read(void **unused)
{
	(void)unused;
	stop_keeps_what_was_read(false);
}

static void test_stop_keeps_what_was_read_own_group(void **unused)
{
	(void)unused;
	stop_keeps_what_was_read(true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_stop_keeps_what_was_read),
	        cmocka_unit_test(test_stop_keeps_what_was_read_own_group),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
