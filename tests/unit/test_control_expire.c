/* tests/unit/test_control_expire.c — the control socket's idle timeout
 * (agent/worker/control.c, mamori-worker; issue 19.6, OPS-1): the worker's
 * loop calls control_server_expire() right after epoll_wait, while the batch
 * it got may still hold an event of the client that timed out. The client
 * must survive until its own dispatch (ASan reports the use after free the
 * first version had), and then be gone; a client that only idles is shut
 * down and gone after one more round. Real sockets and epoll.
 *
 * And its per-uid bound (issue 16, OPS-4): the socket is 0666 so that
 * anybody can ask the approver; one uid other than root holds at most
 * CONTROL_MAX_CLIENTS_PER_UID connections. One more gets a refusal in both
 * languages as the answer to its request and is closed — counted —, the
 * ones it holds keep being served; root is not bound by it, and past
 * CONTROL_MAX_CLIENTS in all everybody gets the "busy" refusal instead of a
 * silent close. The per-uid case runs a child as uid 65534 (the test runs
 * as root; without root it is skipped). */
#include <errno.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <poll.h>
#include <grp.h>
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

#include "alloc-util.h"
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

static int dial(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	strscpy(sa.sun_path, sizeof(sa.sun_path), path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* what the server sent on fd until EOF (at most n-1 bytes, ms each read) */
static ssize_t read_all(int fd, char *buf, size_t n, int ms)
{
	size_t len = 0;

	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t r;

		if (poll(&p, 1, ms) <= 0)
			return -1;
		r = read(fd, buf + len, n - 1 - len);
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		len += (size_t)r;
	}
	buf[len] = '\0';
	return (ssize_t)len;
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
	chmod(dir, 0755); /* test_per_uid's child (uid 65534) connects */
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

/* the child, as uid 65534: 1 + CONTROL_MAX_CLIENTS_PER_UID connections;
 * the last refused with the message, the first still answered */
static int child(int ready, int go)
{
	int fds[CONTROL_MAX_CLIENTS_PER_UID + 1];
	char buf[4096], c;
	static const char req[] = "{\"cmd\":\"status\"}\n";

	if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
		return 10;
	for (size_t i = 0; i < ELEMENTSOF(fds); i++)
		if ((fds[i] = dial()) < 0)
			return 11;
	if (write(ready, "r", 1) != 1 || read(go, &c, 1) != 1)
		return 12;
	/* as mamorictl does: the request, then the answer */
	if (write(fds[CONTROL_MAX_CLIENTS_PER_UID], req, sizeof(req) - 1) != (ssize_t)sizeof(req) - 1)
		return 17;
	if (read_all(fds[CONTROL_MAX_CLIENTS_PER_UID], buf, sizeof(buf), 3000) < 0)
		return 13;
	if (!strstr(buf, "\"reason\":\"too_many_connections\"") || !strstr(buf, "too many connections of this user") ||
	    !strstr(buf, "同時接続が多すぎます"))
		return 14;
	/* the connections it holds are served as before */
	if (write(fds[0], req, sizeof(req) - 1) != (ssize_t)sizeof(req) - 1)
		return 15;
	if (read_all(fds[0], buf, sizeof(buf), 3000) < 0 || !strstr(buf, "permission denied"))
		return 16;
	return 0;
}

static void test_per_uid(void **state)
{
	int ready[2], go[2], st;
	char c;
	pid_t p;

	(void)state;
	if (geteuid() != 0)
		skip();
	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(go), 0);
	p = fork();
	assert_true(p >= 0);
	if (p == 0)
		_exit(child(ready[1], go[0]));
	assert_int_equal(read(ready[0], &c, 1), 1);
	round_trip(1000); /* accepts all waiting: CONTROL_MAX_CLIENTS_PER_UID kept, one refused */
	assert_int_equal(control_server_refused(srv), 1);
	assert_int_equal(write(go[1], "g", 1), 1);
	for (int i = 0; i < 100 && waitpid(p, &st, WNOHANG) == 0; i++)
		round_trip(50);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_int_equal(control_server_refused(srv), 1);
	close(ready[0]);
	close(ready[1]);
	close(go[0]);
	close(go[1]);
}

/* root (the administrators' tools, mamorid's own) is not bound per uid;
 * past the total every connection gets the busy refusal, never a crash */
static void test_root_and_total(void **state)
{
	int fds[CONTROL_MAX_CLIENTS + 1];
	char buf[4096];

	(void)state;
	if (geteuid() != 0)
		skip();
	for (size_t i = 0; i < CONTROL_MAX_CLIENTS; i++) {
		fds[i] = dial();
		assert_true(fds[i] >= 0);
	}
	round_trip(1000);
	assert_int_equal(control_server_refused(srv), 0);
	fds[CONTROL_MAX_CLIENTS] = dial();
	assert_true(fds[CONTROL_MAX_CLIENTS] >= 0);
	round_trip(1000);
	assert_int_equal(control_server_refused(srv), 1);
	assert_int_equal(write(fds[CONTROL_MAX_CLIENTS], "{\"cmd\":\"status\"}\n", 17), 17);
	for (int i = 0; i < 5; i++)
		round_trip(100); /* read, answered, closed */
	assert_true(read_all(fds[CONTROL_MAX_CLIENTS], buf, sizeof(buf), 3000) >= 0);
	assert_non_null(strstr(buf, "mamorid is busy"));
	for (size_t i = 0; i < ELEMENTSOF(fds); i++)
		close(fds[i]);
	for (int i = 0; i < 10 && control_server_has_clients(srv); i++)
		round_trip(50);
	assert_false(control_server_has_clients(srv));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_expired_with_pending_event, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_expired_idle, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_per_uid, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_root_and_total, setup, teardown),
	};
	return cmocka_run_group_tests_name("control_expire", tests, NULL, NULL);
}
