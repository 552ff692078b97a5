/* tests/unit/test_digest.c — file digests through OpenSSL (common/digest.c,
 * issue 19): the known SHA-256 and MD5 of "abc", a file longer than one read
 * against the freestanding SHA-256, the cap, a failing read and bad
 * arguments, each leaving the output untouched; the streaming SHA-256 (one
 * context reused for many messages, as the journal's chain and carry's file
 * hashing use it) and the one-shot SHA-256(a ‖ b) against the freestanding
 * one. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "digest.h"
#include "sha256.h"
#include "strutil.h"

static int memfd_with(const void *p, size_t n)
{
	FILE *f = tmpfile();
	int fd;

	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, n, f), n);
	fflush(f);
	fd = dup(fileno(f));
	fclose(f);
	assert_true(fd >= 0);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	return fd;
}

static void test_vectors(void **state)
{
	char hex[65];
	int fd;
	(void)state;

	fd = memfd_with("abc", 3);
	assert_int_equal(digest_fd_hex(fd, DIGEST_SHA256, 0, hex, sizeof(hex)), 0);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_int_equal(digest_fd_hex(fd, DIGEST_MD5, 3, hex, 33), 0); /* exactly at the cap */
	assert_string_equal(hex, "900150983cd24fb0d6963f7d28e17f72");
	close(fd);
	fd = memfd_with("", 0);
	assert_int_equal(digest_fd_hex(fd, DIGEST_SHA256, 0, hex, sizeof(hex)), 0);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	close(fd);
}

/* more than one 64 KiB read: the same digest as the freestanding SHA-256 */
static void test_long_file(void **state)
{
	size_t n = 200 * 1024 + 7;
	uint8_t *p = malloc(n), md[32];
	char want[65], hex[65];
	int fd;
	(void)state;

	assert_non_null(p);
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 131 + 7);
	(void)sha256_buf(p, n, md);
	hex_encode(md, 32, want);
	fd = memfd_with(p, n);
	assert_int_equal(digest_fd_hex(fd, DIGEST_SHA256, n, hex, sizeof(hex)), 0);
	assert_string_equal(hex, want);
	/* one byte over the cap */
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	strscpy(hex, sizeof(hex), "untouched");
	assert_int_equal(digest_fd_hex(fd, DIGEST_SHA256, n - 1, hex, sizeof(hex)), -EFBIG);
	assert_string_equal(hex, "untouched");
	close(fd);
	free(p);
}

static void test_errors(void **state)
{
	char hex[65] = "untouched";
	int fd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	(void)state;

	assert_true(fd >= 0);
	assert_int_equal(digest_fd_hex(fd, DIGEST_SHA256, 0, hex, sizeof(hex)), -EISDIR);
	close(fd);
	fd = memfd_with("abc", 3);
	assert_int_equal(digest_fd_hex(fd, DIGEST_SHA256, 0, hex, 64), -EINVAL); /* no room for the NUL */
	assert_int_equal(digest_fd_hex(fd, DIGEST_MD5, 0, hex, 32), -EINVAL);
	assert_int_equal(digest_fd_hex(fd, _DIGEST_ALG_MAX, 0, hex, sizeof(hex)), -EINVAL);
	assert_int_equal(digest_fd_hex(fd, _DIGEST_ALG_INVALID, 0, hex, sizeof(hex)), -EINVAL);
	assert_string_equal(hex, "untouched");
	close(fd);
}

static void test_stream(void **state)
{
	uint8_t data[3000], got[32], want[32];
	struct sha256_ctx ref;
	struct digest_sha256 *d = NULL;
	(void)state;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 29 + 3);
	assert_int_equal(digest_sha256_new(&d), 0);
	/* the same context, many messages: each final starts the next clean */
	for (size_t len = 0; len <= sizeof(data); len += 37) {
		size_t cut = len / 3;

		(void)sha256_buf(data, len, want);
		for (size_t off = 0; off < len; off += 100)
			assert_int_equal(digest_sha256_update(d, data + off, len - off < 100 ? len - off : 100), 0);
		assert_int_equal(digest_sha256_final(d, got), 0);
		assert_memory_equal(got, want, 32);
		assert_int_equal(digest_sha256_2(d, data, cut, data + cut, len - cut, got), 0);
		assert_memory_equal(got, want, 32);
		memset(got, 0, sizeof(got));
		assert_int_equal(digest_sha256_once(data, cut, data + cut, len - cut, got), 0);
		assert_memory_equal(got, want, 32);
	}
	/* a chain step: SHA-256(prev ‖ record) */
	sha256_init(&ref);
	sha256_update(&ref, want, 32);
	sha256_update(&ref, "record", 6);
	sha256_final(&ref, data);
	assert_int_equal(digest_sha256_2(d, want, 32, "record", 6, got), 0);
	assert_memory_equal(got, data, 32);
	assert_null(digest_sha256_free(d));
	assert_null(digest_sha256_free(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_vectors),
	        cmocka_unit_test(test_long_file),
	        cmocka_unit_test(test_errors),
	        cmocka_unit_test(test_stream),
	};
	return cmocka_run_group_tests_name("digest", tests, NULL, NULL);
}
