/* tests/unit/test_carry_hash.c — modules/carry/carry_hash.c: the hashing
 * thread's jobs come back hashed (SHA-256 checked against libcrypto's
 * one-shot digest), and stopping it returns even while a child forked
 * without exec holds a copy of its job pipe (the worker's stop hung on
 * that: a person's process forked by a test, a pass or sanitize child). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "carry/carry_hash.h"
#include "digest.h"
#include "strutil.h"

static int temp_file(const char *content)
{
	char path[] = "/tmp/mamori-test-hash.XXXXXX";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	return fd;
}

static void on_alarm(int sig)
{
	(void)sig;
	static const char m[] = "test_carry_hash: carry_hasher_free did not return\n";
	(void)!write(2, m, sizeof(m) - 1);
	_exit(3);
}

static void test_jobs_and_stop_with_forked_child(void **s)
{
	struct carry_hasher *h = NULL;
	struct carry_hash_job job = {.max = 1 << 20}, *back = NULL;
	uint8_t want[32];
	char hex[65];
	int go[2], st = 0;
	pid_t child;

	(void)s;
	assert_int_equal(carry_hasher_new(16, &h), 0);
	job.fd = temp_file("carried out\n");
	assert_int_equal(carry_hasher_submit(h, &job), 0);
	for (int i = 0; i < 500 && !(back = carry_hasher_next(h)); i++)
		usleep(2000);
	assert_ptr_equal(back, &job);
	assert_int_equal(job.res.status, CARRY_HASH_DONE);
	assert_int_equal(job.res.size, 12);
	assert_int_equal(digest_sha256_once("carried out\n", 12, NULL, 0, want), 0);
	hex_encode(want, 32, hex);
	assert_string_equal(job.res.sha256, hex);
	assert_int_equal(job.fd, -1); /* the thread closed it */

	/* a child forked now holds every fd of this process, the job pipe's
	 * write end included, until it is told to go */
	assert_int_equal(pipe(go), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		char c;
		close(go[1]);
		(void)!read(go[0], &c, 1);
		_exit(0);
	}
	close(go[0]);
	signal(SIGALRM, on_alarm);
	alarm(20);
	carry_hasher_free(h, NULL, NULL);
	alarm(0);
	close(go[1]);
	assert_int_equal(waitpid(child, &st, 0), child);
}

/* Many jobs at once (more than one batch of 64 each way): every one comes
 * back exactly once, hashed, whatever pieces the thread and the reader take
 * them in; and the ones still in the thread when it is stopped come back too
 * (done callback), never lost. */
static void count_done(struct carry_hash_job *j, void *ud)
{
	(void)j;
	(*(int *)ud)++;
}

static void test_many_jobs_all_back(void **s)
{
	enum { N = 300 };
	static struct carry_hash_job jobs[N];
	static bool seen[N];
	struct carry_hasher *h = NULL;
	char text[N][24], hex[65];
	uint8_t want[32];
	int got = 0, late = 0;

	(void)s;
	assert_int_equal(carry_hasher_new(4096, &h), 0);
	for (int i = 0; i < N; i++) {
		snprintf(text[i], sizeof(text[i]), "file %d\n", i);
		jobs[i] = (struct carry_hash_job){.max = 1 << 20, .fd = temp_file(text[i])};
		assert_int_equal(carry_hasher_submit(h, &jobs[i]), 0);
		if (i % 7 == 0)
			usleep(200); /* jobs arrive in pieces, as a copy's closes do */
	}
	for (int spin = 0; got < N && spin < 5000; spin++) {
		struct carry_hash_job *j = carry_hasher_next(h);

		if (!j) {
			usleep(1000);
			continue;
		}
		assert_true(j >= jobs && j < jobs + N);
		assert_false(seen[j - jobs]);
		seen[j - jobs] = true;
		got++;
	}
	assert_int_equal(got, N);
	assert_int_equal(carry_hasher_in_flight(h), 0);
	for (int i = 0; i < N; i++) {
		assert_int_equal(jobs[i].res.status, CARRY_HASH_DONE);
		assert_int_equal(digest_sha256_once(text[i], strlen(text[i]), NULL, 0, want), 0);
		hex_encode(want, 32, hex);
		assert_string_equal(jobs[i].res.sha256, hex);
	}
	/* stopped with jobs in flight: each comes back through done */
	for (int i = 0; i < 100; i++) {
		jobs[i] = (struct carry_hash_job){.max = 1 << 20, .fd = temp_file(text[i])};
		assert_int_equal(carry_hasher_submit(h, &jobs[i]), 0);
	}
	carry_hasher_free(h, count_done, &late);
	assert_int_equal(late, 100);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_jobs_and_stop_with_forked_child),
	        cmocka_unit_test(test_many_jobs_all_back),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
