/* tests/unit/test_control_expire.c — the control socket's idle timeout
 * (agent/worker/control.c, mamori-worker; issue 19.6, OPS-1): the worker's
 * loop calls control_server_expire() right after epoll_wait, while the batch
 * it got may still hold an event of the client that timed out. The client
 * must survive until its own dispatch (ASan reports the use after free the
 * first version had), and then be gone; a client that only idles is shut
 * down and gone after one more round. Real sockets and epoll. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "control.h"
#include "strutil.h"
#include "testutil.h"
#include "watch.h"

static char *dir, path[256];
static struct control_server *srv;
static struct watch lw;
static int epfd = -1;

/* One round of the worker's loop: wait, expire, dispatch the batch. */
static int round_trip(int timeout_ms)
{
	struct epoll_event evs[8];
	int n = epoll_wait(epfd, evs, 8, timeout_ms);

	assert_true(n >= 0);
	control_server_expire(srv, epfd);
	for (int i = 0; i < n; i++)
		control_server_dispatch(srv, epfd, evs[i].data.ptr, evs[i].events);
	return n;
}

static int connect_client(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	strscpy(sa.sun_path, sizeof(sa.sun_path), path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(round_trip(1000), 1); /* accepted */
	assert_true(control_server_has_clients(srv));
	return fd;
}

static void sleep_past_timeout(void)
{
	struct timespec ts = {.tv_sec = CONTROL_CLIENT_TIMEOUT_MS / 1000 + 1, .tv_nsec = 0};

	nanosleep(&ts, NULL);
}

static int setup(void **state)
{
	(void)state;
	dir = tu_mkdtemp();
	snprintf(path, sizeof(path), "%s/control.sock", dir);
	assert_int_equal(control_server_new(NULL, path, &srv), 0);
	epfd = epoll_create1(EPOLL_CLOEXEC);
	assert_true(epfd >= 0);
	lw = (struct watch){.kind = W_CONTROL, .fd = control_server_fd(srv)};
	assert_int_equal(
	        epoll_ctl(epfd, EPOLL_CTL_ADD, lw.fd, &(struct epoll_event){.events = EPOLLIN, .data.ptr = &lw}), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	control_server_free(srv);
	close(epfd);
	tu_rmtree(dir);
	free(dir);
	return 0;
}

/* the client times out and hangs up: its hang-up is in the same batch as the expiry */
static void test_expired_with_pending_event(void **state)
{
	int fd;
	(void)state;

	fd = connect_client();
	sleep_past_timeout();
	close(fd);
	assert_int_equal(round_trip(1000), 1); /* old code: heap-use-after-free here */
	assert_false(control_server_has_clients(srv));
}

/* the client only idles: shut down at the expiry, freed by its next dispatch */
static void test_expired_idle(void **state)
{
	char b[8];
	int fd;
	(void)state;

	fd = connect_client();
	sleep_past_timeout();
	assert_int_equal(round_trip(0), 0);          /* nothing pending; expiry shuts it down */
	assert_int_equal(read(fd, b, sizeof(b)), 0); /* the client sees the end */
	assert_int_equal(round_trip(1000), 1);
	assert_false(control_server_has_clients(srv));
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_expired_with_pending_event, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_expired_idle, setup, teardown),
	};
	return cmocka_run_group_tests_name("control_expire", tests, NULL, NULL);
}
