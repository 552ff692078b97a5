/* common/fileio.h — capped reads and atomic writes of small files (any process).
 * Utility code: never logs; returns negative errno. */
#ifndef MAMORI_FILEIO_H
#define MAMORI_FILEIO_H

#include <stddef.h>
#include <sys/types.h>

/* Read a whole file of at most `cap` bytes into a NUL-terminated buffer the
 * caller frees. -EFBIG if the file is larger than cap. */
int read_file_capped(const char *path, size_t cap, char **ret_buf, size_t *ret_len);

/* Read until n bytes or end of file, through EINTR: the count read (short
 * only at end of file) or -errno. */
ssize_t read_full(int fd, void *buf, size_t n);

/* Read a sysfs attribute at fd, up to n bytes, in as few read() calls as
 * tell its end (issue 23.4: on the USB decision path a system call is most
 * of the cost): a short read of a regular file or of a text attribute
 * (generated whole at its first read) is the end; a binary attribute
 * (`descriptors`) comes at most a page per read(), so a read of whole 4 KiB
 * blocks reads on. Not for procfs: a seq_file's reads end at records, not
 * pages. The count read or -errno. */
ssize_t read_sysfs(int fd, void *buf, size_t n);

/* Read the first line of a (sysfs/proc) file, newline stripped, at most
 * bufsz-1 bytes. */
int read_one_line(const char *path, char *buf, size_t bufsz);
/* The same from an open descriptor (one read). */
int read_one_line_fd(int fd, char *buf, size_t bufsz);

/* What a writer may do at path: WRITE_REPLACE (missing or a regular file:
 * temp file + rename), WRITE_IN_PLACE (a character device or FIFO, e.g.
 * /dev/null: written like a shell redirection, never renamed over), or
 * -ELOOP (symlink), -EISDIR, -ENOTSUP (block device, socket): refused. */
enum { WRITE_REPLACE = 0, WRITE_IN_PLACE = 1 };
int write_target_kind(const char *path);

/* rename(tmp, path) only if path is missing or a regular file; any other
 * target is refused (-ELOOP, -EISDIR, -ENOTSUP) and tmp is left alone. */
int rename_replace(const char *tmp, const char *path);

/* Write data to path: a regular (or missing) file through path.tmp → fsync →
 * rename → fsync(dir); a character device or FIFO in place; anything else
 * refused (write_target_kind). */
int write_file_atomic(const char *path, const void *data, size_t len, int mode);

/* Write a short string to an existing file (sysfs attributes): open O_WRONLY,
 * one write, close. */
int write_string_file(const char *path, const char *s);
/* The same on an open descriptor (one write). */
int write_string_fd(int fd, const char *s);

/* mkdir -p with mode for each created component. */
int mkdir_p(const char *path, int mode);

#endif
