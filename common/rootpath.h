/* common/rootpath.h — resolve system paths under the agent's root prefix
 * (any process).
 *
 * Every path the agent touches on the system (sysfs, /dev, /proc, /etc, /var,
 * mount points, wipe targets) goes through root_path(), so that tests and the
 * demo point the whole agent at a temporary tree or a umockdev testbed and
 * never touch the real machine. Utility code: never logs. */
#ifndef MAMORI_ROOTPATH_H
#define MAMORI_ROOTPATH_H

#include <stddef.h>

/* Set the process-wide root ("/" or "" mean the real root). The string is
 * copied; a trailing '/' is dropped. -ENAMETOOLONG if too long. */
int root_set(const char *root);

/* The root prefix without a trailing slash ("" for the real root). */
const char *root_get(void);

/* Join root and an absolute system path into buf. -ENAMETOOLONG when cut,
 * -EINVAL when path is not absolute. */
int root_path(char *buf, size_t bufsz, const char *path);

/* Like root_path, with a printf-style path. */
int root_pathf(char *buf, size_t bufsz, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
