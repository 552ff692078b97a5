/* common/fileio.c — capped reads and atomic writes of small files (any process). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc-util.h"
#include "fileio.h"
#include "strutil.h"

int read_file_capped(const char *path, size_t cap, char **ret_buf, size_t *ret_len)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *buf = NULL;
	size_t len = 0, alloc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t n;

		if (alloc - len < 4096) {
			size_t na = alloc ? alloc * 2 : 4096;
			char *nb;

			if (na > cap + 2)
				na = cap + 2;
			if (na <= len)
				return -EFBIG;
			nb = realloc(buf, na);
			if (!nb)
				return -ENOMEM;
			buf = nb;
			alloc = na;
		}
		n = read(fd, buf + len, alloc - len - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > cap)
			return -EFBIG;
	}
	if (!buf) {
		buf = malloc(1);
		if (!buf)
			return -ENOMEM;
	}
	buf[len] = '\0';
	*ret_buf = TAKE_PTR(buf);
	if (ret_len)
		*ret_len = len;
	return 0;
}

int read_one_line_fd(int fd, char *buf, size_t bufsz)
{
	ssize_t n;
	char *nl;

	if (bufsz < 2)
		return -EINVAL;
	do
		n = read(fd, buf, bufsz - 1);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	nl = memchr(buf, '\n', (size_t)n);
	if (nl)
		*nl = '\0';
	return 0;
}

int read_one_line(const char *path, char *buf, size_t bufsz)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	return fd < 0 ? -errno : read_one_line_fd(fd, buf, bufsz);
}

static int fsync_parent(const char *path)
{
	char dir[PATH_MAX];
	_cleanup_close_ int fd = -1;
	char *slash;

	if (strscpy(dir, sizeof(dir), path) < 0)
		return -ENAMETOOLONG;
	slash = strrchr(dir, '/');
	if (!slash)
		strscpy(dir, sizeof(dir), ".");
	else if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	return fsync(fd) < 0 ? -errno : 0;
}

int write_target_kind(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? WRITE_REPLACE : -errno;
	if (S_ISREG(st.st_mode))
		return WRITE_REPLACE;
	if (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode))
		return WRITE_IN_PLACE;
	if (S_ISLNK(st.st_mode))
		return -ELOOP;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	return -ENOTSUP; /* block device, socket: never written by mamori */
}

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* A character device or FIFO is written in place, like a shell redirection:
 * renaming over /dev/null would replace the machine's device with a file. */
static int write_in_place(const char *path, const void *data, size_t len)
{
	_cleanup_close_ int fd = -1;
	struct stat st;
	int fl;

	/* O_NONBLOCK: a FIFO nobody reads is refused (ENXIO), never waited on */
	fd = open(path, O_WRONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* what was opened is still what lstat saw (no swap in between) */
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISCHR(st.st_mode) && !S_ISFIFO(st.st_mode))
		return -EAGAIN;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
		return -errno;
	return write_all(fd, data, len);
}

int rename_replace(const char *tmp, const char *path)
{
	int r = write_target_kind(path);

	if (r < 0)
		return r;
	if (r != WRITE_REPLACE)
		return -ENOTSUP;
	return rename(tmp, path) < 0 ? -errno : 0;
}

int write_file_atomic(const char *path, const void *data, size_t len, int mode)
{
	char tmp[PATH_MAX];
	_cleanup_close_ int fd = -1;
	int r;

	r = write_target_kind(path);
	if (r < 0)
		return r;
	if (r == WRITE_IN_PLACE)
		return write_in_place(path, data, len);
	if (xsnprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) < 0)
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return -errno;
	r = write_all(fd, data, len);
	if (r < 0)
		goto fail;
	if (fchmod(fd, (mode_t)mode) < 0 || fsync(fd) < 0) {
		r = -errno;
		goto fail;
	}
	/* checked again just before the rename: the target may have changed */
	r = rename_replace(tmp, path);
	if (r < 0)
		goto fail;
	return fsync_parent(path);
fail:
	unlink(tmp);
	return r;
}

int write_string_fd(int fd, const char *s)
{
	size_t len = strlen(s);
	ssize_t n;

	do
		n = write(fd, s, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

int write_string_file(const char *path, const char *s)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);

	return fd < 0 ? -errno : write_string_fd(fd, s);
}

int mkdir_p(const char *path, int mode)
{
	char buf[PATH_MAX];

	if (strscpy(buf, sizeof(buf), path) < 0)
		return -ENAMETOOLONG;
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, (mode_t)mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, (mode_t)mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* read_full and read_sysfs: through EINTR until n bytes or the end; with
 * sysfs, a short read that is not whole pages is the end */
static ssize_t read_loop(int fd, void *buf, size_t n, bool sysfs)
{
	size_t got = 0;

	while (got < n) {
		ssize_t k = read(fd, (char *)buf + got, n - got);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			break;
		got += (size_t)k;
		if (sysfs && got < n && k % 4096 != 0)
			break;
	}
	return (ssize_t)got;
}

ssize_t read_full(int fd, void *buf, size_t n)
{
	return read_loop(fd, buf, n, false);
}

ssize_t read_sysfs(int fd, void *buf, size_t n)
{
	return read_loop(fd, buf, n, true);
}
