/* tests/unit/test_carry_mountinfo.c — modules/carry/carry_mountinfo.c:
 * /proc/self/mountinfo lines with hostile mount points (a medium's label
 * becomes /media/USER/LABEL), malformed lines, caps, and reading the file
 * through a descriptor (unit test). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cmocka.h>

#include "carry/carry_mountinfo.h"

static int parse(const char *line, struct carry_mount *m)
{
	return carry_mountinfo_parse_line(line, strlen(line), m);
}

static void test_line_fields(void **s)
{
	struct carry_mount m;

	(void)s;
	/* the example of proc(5) */
	assert_int_equal(parse("36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue", &m),
	                 0);
	assert_int_equal(m.mnt_id, 36);
	assert_int_equal(major(m.dev), 98);
	assert_int_equal(minor(m.dev), 0);
	assert_string_equal(m.root, "/mnt1");
	assert_string_equal(m.mountpoint, "/mnt2");
	assert_string_equal(m.fstype, "ext3");
	assert_string_equal(m.source, "/dev/root");
	assert_false(m.readonly);
	/* per-mount ro; no optional fields; several optional fields */
	assert_int_equal(parse("41 1 8:17 / /media/tanaka/USB ro,nosuid - vfat /dev/sdb1 rw", &m), 0);
	assert_true(m.readonly);
	assert_int_equal(m.dev, makedev(8, 17));
	assert_int_equal(
	        parse("42 1 259:65536 / /m rw shared:1 master:2 propagate_from:3 unbindable - ext4 /dev/nvme0n1p1 rw",
	              &m),
	        0);
	assert_int_equal(m.dev, makedev(259, 65536));
	assert_false(m.readonly);
	/* "rox" is not "ro"; the superblock's ro (last field) is not the mount's */
	assert_int_equal(parse("43 1 8:1 / /m rox - ext4 /dev/sda1 ro", &m), 0);
	assert_false(m.readonly);
	/* a bind mount of a directory: root is not "/" */
	assert_int_equal(parse("44 1 8:1 /sub\\040dir /b rw - ext4 /dev/sda1 rw", &m), 0);
	assert_string_equal(m.root, "/sub dir");
}

static void test_hostile_mountpoints(void **s)
{
	struct carry_mount m;
	char line[PATH_MAX * 2];

	(void)s;
	/* the kernel's octal escapes decode to the exact bytes: space, newline, tab, backslash */
	assert_int_equal(parse("50 1 8:17 / /media/u/a\\040b\\012c\\011d\\134e rw - ext4 /dev/sdb1 rw", &m), 0);
	assert_string_equal(m.mountpoint, "/media/u/a b\nc\td\\e");
	/* an escaped backslash followed by digits stays a backslash and digits */
	assert_int_equal(parse("51 1 8:17 / /media/u/x\\134040 rw - ext4 /dev/sdb1 rw", &m), 0);
	assert_string_equal(m.mountpoint, "/media/u/x\\040");
	/* bytes the kernel does not escape (invalid UTF-8, escape sequences) are kept exactly */
	assert_int_equal(parse("52 1 8:17 / /media/u/\xff\xfe\x1b[2J\xe2\x80\xae rw - ext4 /dev/sdb1 rw", &m), 0);
	assert_string_equal(m.mountpoint, "/media/u/\xff\xfe\x1b[2J\xe2\x80\xae");
	/* a backslash that is not an octal escape passes through */
	assert_int_equal(parse("53 1 8:17 / /media/u/a\\9b\\4 rw - ext4 /dev/sdb1 rw", &m), 0);
	assert_string_equal(m.mountpoint, "/media/u/a\\9b\\4");
	/* an escaped NUL would cut the path: refused */
	assert_int_equal(parse("54 1 8:17 / /media/u/a\\000b rw - ext4 /dev/sdb1 rw", &m), -EINVAL);
	/* "\\400" is not an octal byte: kept as text */
	assert_int_equal(parse("55 1 8:17 / /m\\400 rw - ext4 /dev/sdb1 rw", &m), 0);
	assert_string_equal(m.mountpoint, "/m\\400");
	/* caps: a mount point of PATH_MAX bytes does not fit (NUL), PATH_MAX-1 does */
	{
		size_t pre = strlen("56 1 8:17 / /");
		memcpy(line, "56 1 8:17 / /", pre);
		memset(line + pre, 'a', PATH_MAX - 2);
		snprintf(line + pre + PATH_MAX - 2, sizeof(line) - pre - PATH_MAX + 2, " rw - ext4 /dev/sdb1 rw");
		assert_int_equal(parse(line, &m), 0);
		assert_int_equal(strlen(m.mountpoint), PATH_MAX - 1);
		memset(line + pre, 'a', PATH_MAX - 1);
		snprintf(line + pre + PATH_MAX - 1, sizeof(line) - pre - PATH_MAX + 1, " rw - ext4 /dev/sdb1 rw");
		assert_int_equal(parse(line, &m), -ENAMETOOLONG);
	}
	/* escapes count after decoding: PATH_MAX-1 decoded bytes written as \040 fit */
	{
		size_t pre = strlen("57 1 8:17 / "), o = pre;
		memcpy(line, "57 1 8:17 / ", pre);
		for (int i = 0; i < 1000; i++, o += 4)
			memcpy(line + o, "\\040", 4);
		snprintf(line + o, sizeof(line) - o, " rw - ext4 /dev/sdb1 rw");
		assert_int_equal(parse(line, &m), 0);
		assert_int_equal(strlen(m.mountpoint), 1000);
	}
	/* fstype beyond its cap */
	memset(line, 0, sizeof(line));
	snprintf(line, sizeof(line), "58 1 8:17 / /m rw - %0*d /dev/sdb1 rw", CARRY_FSTYPE_MAX, 0);
	assert_int_equal(parse(line, &m), -EINVAL);
}

static void test_malformed(void **s)
{
	static const char *const bad[] = {
	        "",
	        "36",
	        "36 35",
	        "36 35 98:0",
	        "36 35 98:0 / /m rw master:1 ext3 /dev/root rw", /* no separator */
	        "36 35 98:0 / /m rw -",                          /* nothing after it */
	        "36 35 98:0 / /m rw - ext4",                     /* no source */
	        "x 35 98:0 / /m rw - ext4 /dev/x rw",
	        "-1 35 98:0 / /m rw - ext4 /dev/x rw",
	        "36 35 980 / /m rw - ext4 /dev/x rw",
	        "36 35 :0 / /m rw - ext4 /dev/x rw",
	        "36 35 98: / /m rw - ext4 /dev/x rw",
	        "36 35 4096:0 / /m rw - ext4 /dev/x rw",    /* major beyond 12 bits */
	        "36 35 8:1048576 / /m rw - ext4 /dev/x rw", /* minor beyond 20 bits */
	        "36 35 8:1x / /m rw - ext4 /dev/x rw",
	        "99999999999 35 8:1 / /m rw - ext4 /dev/x rw", /* id beyond int */
	};
	struct carry_mount m = {.mnt_id = 7};

	(void)s;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = parse(bad[i], &m);
		if (r != -EINVAL)
			fail_msg("\"%s\": %d", bad[i], r);
		assert_int_equal(m.mnt_id, 7); /* ret untouched */
	}
	/* the length given is what is parsed, not up to a NUL */
	assert_int_equal(carry_mountinfo_parse_line("36 35 8:1 / /m rw - ext4 /dev/x rw", 20, &m), -EINVAL);
}

static bool keep_sdb(const struct carry_mount *m, void *userdata)
{
	(*(int *)userdata)++;
	return major(m->dev) == 8 && minor(m->dev) == 17;
}

static void test_buffer(void **s)
{
	static const char buf[] = "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n"
	                          "garbage line\n"
	                          "\n"
	                          "2 1 8:17 / /media/u/A rw - ext4 /dev/sdb1 rw\n"
	                          "3 1 0:5 / /proc rw - proc proc rw\n"
	                          "4 1 8:17 /x /media/u/B rw - ext4 /dev/sdb1 rw\n"
	                          "5 1 8:1 / /m rw"; /* truncated, no newline */
	struct carry_mount *m = NULL;
	size_t n = 0, skipped = 0;
	int calls = 0;

	(void)s;
	assert_int_equal(carry_mountinfo_parse(buf, strlen(buf), NULL, NULL, &m, &n, &skipped), 0);
	assert_int_equal(n, 4);
	assert_int_equal(skipped, 2);
	assert_string_equal(m[1].mountpoint, "/media/u/A");
	assert_string_equal(m[3].root, "/x");
	free(m);
	/* the caller keeps only the mounts it can use */
	m = NULL;
	assert_int_equal(carry_mountinfo_parse(buf, strlen(buf), keep_sdb, &calls, &m, &n, NULL), 0);
	assert_int_equal(calls, 4);
	assert_int_equal(n, 2);
	assert_int_equal(m[0].mnt_id, 2);
	assert_int_equal(m[1].mnt_id, 4);
	free(m);
	/* nothing: no array */
	m = (struct carry_mount *)0x1;
	assert_int_equal(carry_mountinfo_parse("", 0, NULL, NULL, &m, &n, NULL), 0);
	assert_null(m);
	assert_int_equal(n, 0);
}

static void test_too_many_mounts(void **s)
{
	size_t cap = (size_t)(CARRY_MOUNTS_MAX + 1) * 48, len = 0, n = 0;
	char *buf = malloc(cap);
	struct carry_mount *m = NULL;
	int calls = 0;

	(void)s;
	assert_non_null(buf);
	for (int i = 0; i <= CARRY_MOUNTS_MAX; i++)
		len += (size_t)snprintf(buf + len, cap - len, "%d 1 8:%d / /m%d rw - ext4 /dev/x rw\n", i + 1,
		                        i == 0 ? 17 : 1, i);
	/* kept ones count: one kept among 8193 is fine */
	assert_int_equal(carry_mountinfo_parse(buf, len, keep_sdb, &calls, &m, &n, NULL), 0);
	assert_int_equal(n, 1);
	free(m);
	m = NULL;
	assert_int_equal(carry_mountinfo_parse(buf, len, NULL, NULL, &m, &n, NULL), -E2BIG);
	assert_null(m);
	free(buf);
}

static int memfd_with(size_t size, char fill)
{
	int fd = memfd_create("mountinfo", MFD_CLOEXEC);
	char b[65536];

	assert_true(fd >= 0);
	memset(b, fill, sizeof(b));
	for (size_t done = 0; done < size;) {
		size_t k = size - done < sizeof(b) ? size - done : sizeof(b);
		assert_int_equal(write(fd, b, k), (ssize_t)k);
		done += k;
	}
	return fd;
}

static void test_read_fd(void **s)
{
	char *b = NULL;
	size_t len = 0;
	int fd;

	(void)s;
	/* from offset 0 whatever the position; NUL-terminated */
	fd = memfd_with(100000, 'm');
	assert_int_equal(carry_mountinfo_read_fd(fd, &b, &len), 0);
	assert_int_equal(len, 100000);
	assert_int_equal(b[len], '\0');
	free(b);
	assert_int_equal(carry_mountinfo_read_fd(fd, &b, &len), 0); /* again: rewinds */
	assert_int_equal(len, 100000);
	free(b);
	close(fd);
	/* exactly at the cap: read; one byte more: refused */
	fd = memfd_with(CARRY_MOUNTINFO_MAX_BYTES, 'm');
	assert_int_equal(carry_mountinfo_read_fd(fd, &b, &len), 0);
	assert_int_equal(len, CARRY_MOUNTINFO_MAX_BYTES);
	free(b);
	close(fd);
	fd = memfd_with(CARRY_MOUNTINFO_MAX_BYTES + 1, 'm');
	b = (char *)0x1;
	assert_int_equal(carry_mountinfo_read_fd(fd, &b, &len), -E2BIG);
	assert_ptr_equal(b, (char *)0x1);
	close(fd);
	/* the real file */
	fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(carry_mountinfo_read_fd(fd, &b, &len), 0);
	{
		struct carry_mount *m = NULL;
		size_t n = 0, skipped = 0;
		assert_int_equal(carry_mountinfo_parse(b, len, NULL, NULL, &m, &n, &skipped), 0);
		assert_true(n > 0);
		assert_int_equal(skipped, 0);
		free(m);
	}
	free(b);
	close(fd);
	assert_int_equal(carry_mountinfo_read_fd(-1, &b, &len), -EBADF);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_line_fields),     cmocka_unit_test(test_hostile_mountpoints),
	        cmocka_unit_test(test_malformed),       cmocka_unit_test(test_buffer),
	        cmocka_unit_test(test_too_many_mounts), cmocka_unit_test(test_read_fd),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
