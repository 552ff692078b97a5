/* tests/unit/test_ipc.c — messages between mamorid and mamori-worker
 * (protocol/ipc.h): round trip with a passed memfd, and hostile input: not JSON,
 * not an object, oversized, an unsealed memfd, a peer that is gone. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "ipc.h"
#include "json-util.h"

static int sv[2];

static int setup(void **state)
{
	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	close(sv[0]);
	close(sv[1]);
	return 0;
}

static void test_round_trip_with_memfd(void **state)
{
	_cleanup_json_ cJSON *m = cJSON_CreateObject();
	cJSON *in = NULL;
	char *buf = NULL;
	size_t len = 0;
	int fd, rfd = -1;

	(void)state;
	cJSON_AddStringToObject(m, "op", "policy");
	fd = ipc_memfd_from("{\"version\":7}", 13);
	assert_true(fd >= 0);
	/* sealed: nobody can change what was verified */
	assert_int_equal(write(fd, "x", 1), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(ipc_send(sv[0], m, fd), 0);
	close(fd);
	assert_int_equal(ipc_recv(sv[1], &in, &rfd), 0);
	assert_string_equal(ipc_op(in), "policy");
	assert_true(rfd >= 0);
	assert_int_equal(ipc_memfd_read(rfd, 1024, &buf, &len), 0);
	assert_int_equal(len, 13);
	assert_string_equal(buf, "{\"version\":7}");
	assert_int_equal(ipc_memfd_read(rfd, 5, &buf, &len) == -EFBIG, 1);
	free(buf);
	close(rfd);
	cJSON_Delete(in);
}

static void test_hostile_messages(void **state)
{
	static const char *const bad[] = {"not json", "[1,2]", "42", "{\"op\":", "\xff\xfe"};
	cJSON *in = NULL;
	int fd;

	(void)state;
	assert_int_equal(ipc_recv(sv[1], &in, NULL), -EAGAIN); /* nothing there: never blocks */
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(send(sv[0], bad[i], strlen(bad[i]), 0), (ssize_t)strlen(bad[i]));
		assert_int_equal(ipc_recv(sv[1], &in, NULL), -EBADMSG);
	}
	/* larger than a message may be: refused, not truncated into something else */
	{
		size_t n = IPC_MSG_MAX + 100;
		char *big = malloc(n);
		assert_non_null(big);
		memset(big, ' ', n);
		big[0] = '{';
		big[n - 1] = '}';
		if (send(sv[0], big, n, 0) == (ssize_t)n)
			assert_int_equal(ipc_recv(sv[1], &in, NULL), -EBADMSG);
		free(big);
	}
	/* ipc_op of a message without a string op */
	in = cJSON_Parse("{\"op\":5}");
	assert_string_equal(ipc_op(in), "");
	cJSON_Delete(in);
	/* an unsealed memfd is not accepted as a document */
	fd = memfd_create("x", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "{}", 2), 2);
	{
		char *buf = NULL;
		size_t len;
		assert_int_equal(ipc_memfd_read(fd, 100, &buf, &len), -EPERM);
	}
	close(fd);
}

static void test_peer_gone(void **state)
{
	_cleanup_json_ cJSON *m = cJSON_CreateObject();
	cJSON *in = NULL;

	(void)state;
	cJSON_AddStringToObject(m, "op", "ready");
	close(sv[0]);
	assert_int_equal(ipc_recv(sv[1], &in, NULL), -ECONNRESET);
	assert_int_equal(ipc_send(sv[1], m, -1), -ECONNRESET);
	sv[0] = open("/dev/null", O_RDONLY | O_CLOEXEC); /* for teardown */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_round_trip_with_memfd, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_hostile_messages, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_peer_gone, setup, teardown),
	};
	return cmocka_run_group_tests_name("ipc", tests, NULL, NULL);
}
