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

/* An absolute system path as a path on this machine, in buf. With a root
 * set, it is resolved inside the root: every symlink is followed with the
 * root as "/" (an absolute target starts again at the root, ".." stops at
 * it), as openat2(RESOLVE_IN_ROOT) would; a missing component and the rest
 * are joined as they are. Under a root_map()ped prefix, the host directory
 * instead. -ENAMETOOLONG when cut, -ELOOP after 40 links, -EINVAL when path
 * is not absolute. The result is checked at call time: the root must not be
 * changed while it is evaluated. */
int root_path(char *buf, size_t bufsz, const char *path);

/* Like root_path, but the last component is not followed (for lstat,
 * readlink, /proc/PID/exe): only the directories above it are resolved. */
int root_path_nofollow(char *buf, size_t bufsz, const char *path);

/* Paths under INROOT (in the root's namespace) go to the host directory
 * HOST instead, like a bind mount: `mamorictl --root R check` keeps its state
 * out of the root it evaluates. NULL or "" clears it. */
int root_map(const char *inroot, const char *host);

/* Like root_path, with a printf-style path. */
int root_pathf(char *buf, size_t bufsz, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* open(2) of the printf-style absolute system path fmt, resolved as
 * root_path() resolves it (O_CLOEXEC added). With a root set, the kernel
 * does the walk in one call: openat2(RESOLVE_IN_ROOT) on a descriptor of
 * the root (root_path()'s walk where openat2 is refused), opened at the
 * first call: the root is expected to stay the same directory until the
 * next root_set(). A descriptor, or -errno. */
int root_openf(int flags, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
