/* common/rootpath.c — resolve system paths under the agent's root prefix,
 * inside the root (any process).
 *
 * With a root set, a path is resolved component by component the way the
 * kernel would inside a chroot (openat2's RESOLVE_IN_ROOT): an absolute
 * symlink starts again at the root, ".." never climbs above it. Joining
 * strings instead let Debian's /var/run -> /run read the host's
 * /run/reboot-required (issue 21). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/openat2.h>

#include "rootpath.h"
#include "strutil.h"

#define ROOT_MAX_LINKS 40 /* the kernel's MAXSYMLINKS */

static char root_prefix[PATH_MAX];
static char map_from[PATH_MAX], map_to[PATH_MAX];
/* the root directory, for openat2(RESOLVE_IN_ROOT) in root_openf: opened at
 * the first use, and checked against the root's inode at every use (a
 * descriptor number the process closed and reused is never trusted) */
static int root_fd = -1;
static dev_t root_dev;
static ino_t root_ino;

/* root_fd is still the directory root_dirfd() opened */
static bool root_fd_valid(void)
{
	struct stat st;

	return fstat(root_fd, &st) == 0 && S_ISDIR(st.st_mode) && st.st_dev == root_dev && st.st_ino == root_ino;
}

int root_set(const char *root)
{
	size_t n;
	int r;

	if (root_fd >= 0 && root_fd_valid())
		close(root_fd); /* only our own: a number closed elsewhere may be reused */
	root_fd = -1;
	r = strscpy(root_prefix, sizeof(root_prefix) - 256, root ? root : "");
	if (r < 0) {
		root_prefix[0] = '\0';
		return r;
	}
	n = strlen(root_prefix);
	while (n > 0 && root_prefix[n - 1] == '/')
		root_prefix[--n] = '\0';
	return 0;
}

const char *root_get(void)
{
	return root_prefix;
}

int root_map(const char *inroot, const char *host)
{
	size_t n;

	if (!inroot || !host || !host[0]) {
		map_from[0] = map_to[0] = '\0';
		return 0;
	}
	if (inroot[0] != '/' || host[0] != '/')
		return -EINVAL;
	if (strscpy(map_from, sizeof(map_from), inroot) < 0 || strscpy(map_to, sizeof(map_to), host) < 0) {
		map_from[0] = map_to[0] = '\0';
		return -ENAMETOOLONG;
	}
	n = strlen(map_from);
	while (n > 1 && map_from[n - 1] == '/')
		map_from[--n] = '\0';
	return 0;
}

static const char *mapped(const char *path)
{
	size_t n = strlen(map_from);

	if (!map_from[0] || strncmp(path, map_from, n) != 0 || (path[n] != '\0' && path[n] != '/'))
		return NULL;
	return path + n;
}

/* path (absolute, in the root) resolved inside the root into buf. */
static int resolve_in_root(char *buf, size_t bufsz, const char *path)
{
	/* "" only in done[0]: an initialiser would clear all 4 KB at every call
	 * (stack pages that stay resident in mamorid: issue 23, VmHWM) */
	char todo[PATH_MAX], done[PATH_MAX], host[PATH_MAX], target[PATH_MAX], next[PATH_MAX];
	size_t dl = 0;
	int links = 0;
	const char *p;

	done[0] = '\0';
	if (strscpy(todo, sizeof(todo), path) < 0)
		return -ENAMETOOLONG;
	p = todo;
	for (;;) {
		char comp[NAME_MAX + 1];
		struct stat st;
		size_t cl;
		ssize_t n;

		p += strspn(p, "/");
		if (!*p)
			break;
		cl = strcspn(p, "/");
		if (cl > NAME_MAX)
			return -ENAMETOOLONG;
		memcpy(comp, p, cl);
		comp[cl] = '\0';
		p += cl;
		if (!strcmp(comp, "."))
			continue;
		if (!strcmp(comp, "..")) {
			char *s = strrchr(done, '/');
			if (s)
				*s = '\0'; /* never above the root */
			dl = strlen(done);
			continue;
		}
		if (xsnprintf(host, sizeof(host), "%s%s/%s", root_prefix, done, comp) < 0)
			return -ENAMETOOLONG;
		if (lstat(host, &st) == 0 && S_ISLNK(st.st_mode)) {
			if (++links > ROOT_MAX_LINKS)
				return -ELOOP;
			n = readlink(host, target, sizeof(target) - 1);
			if (n < 0)
				return -errno;
			target[n] = '\0';
			if (target[0] == '/') { /* absolute: from the root, not the host's / */
				done[0] = '\0';
				dl = 0;
			}
			if (xsnprintf(next, sizeof(next), "%s%s", target, p) < 0)
				return -ENAMETOOLONG;
			memcpy(todo, next, strlen(next) + 1);
			p = todo;
			continue;
		}
		/* a missing component: the rest is joined as is (nothing below it
		 * exists to be followed) */
		if (dl + 1 + cl >= sizeof(done))
			return -ENAMETOOLONG;
		done[dl++] = '/';
		memcpy(done + dl, comp, cl + 1);
		dl += cl;
	}
	return xsnprintf(buf, bufsz, "%s%s", root_prefix, dl ? done : "/");
}

int root_path(char *buf, size_t bufsz, const char *path)
{
	const char *rest;

	if (!path || path[0] != '/')
		return -EINVAL;
	rest = mapped(path);
	if (rest)
		return xsnprintf(buf, bufsz, "%s%s", map_to, rest);
	if (!root_prefix[0])
		return xsnprintf(buf, bufsz, "%s", path);
	return resolve_in_root(buf, bufsz, path);
}

int root_path_nofollow(char *buf, size_t bufsz, const char *path)
{
	char dir[PATH_MAX], res[PATH_MAX];
	const char *name;
	size_t dl, bo;
	int r;

	if (!path || path[0] != '/')
		return -EINVAL;
	if (!root_prefix[0] || mapped(path))
		return root_path(buf, bufsz, path);
	if (strscpy(dir, sizeof(dir), path) < 0)
		return -ENAMETOOLONG;
	dl = strlen(dir);
	while (dl > 1 && dir[dl - 1] == '/')
		dir[--dl] = '\0';
	bo = (size_t)(strrchr(dir, '/') - dir) + 1; /* where the last name starts */
	name = path + bo;
	if (!dir[bo] || !strcmp(dir + bo, ".") || !strcmp(dir + bo, ".."))
		return root_path(buf, bufsz, path);
	dir[bo > 1 ? bo - 1 : 1] = '\0';
	r = resolve_in_root(res, sizeof(res), dir);
	if (r < 0)
		return r;
	dl = strlen(res);
	return xsnprintf(buf, bufsz, "%s%s%s", res, dl && res[dl - 1] == '/' ? "" : "/", name);
}

/* The printf-style path of root_pathf and root_openf into rel. */
static int format_path(char rel[static PATH_MAX], const char *fmt, va_list ap)
{
	int r = vsnprintf(rel, PATH_MAX, fmt, ap);

	if (r < 0)
		return -EINVAL;
	return r >= PATH_MAX ? -ENAMETOOLONG : 0;
}

int root_pathf(char *buf, size_t bufsz, const char *fmt, ...)
{
	char rel[PATH_MAX];
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = format_path(rel, fmt, ap);
	va_end(ap);
	return r < 0 ? r : root_path(buf, bufsz, rel);
}

/* The root's descriptor, (re)opened when it is not the root's directory. */
static int root_dirfd(void)
{
	struct stat st;

	if (root_fd >= 0 && root_fd_valid())
		return root_fd;
	root_fd = open(root_prefix, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root_fd < 0)
		return -errno;
	if (fstat(root_fd, &st) < 0) {
		int r = -errno;

		close(root_fd);
		return root_fd = -1, r;
	}
	root_dev = st.st_dev;
	root_ino = st.st_ino;
	return root_fd;
}

int root_openf(int flags, const char *fmt, ...)
{
	char rel[PATH_MAX], host[PATH_MAX];
	va_list ap;
	int r, fd;

	va_start(ap, fmt);
	r = format_path(rel, fmt, ap);
	va_end(ap);
	if (r < 0)
		return r;
	if (rel[0] != '/')
		return -EINVAL;
	if (root_prefix[0] && !mapped(rel) && (fd = root_dirfd()) >= 0) {
		/* the kernel walks the path inside the root, in one call (the
		 * walk of resolve_in_root is an lstat a component) */
		struct open_how how = {.flags = (unsigned long long)(flags | O_CLOEXEC), .resolve = RESOLVE_IN_ROOT};
		long k = syscall(SYS_openat2, fd, rel + 1, &how, sizeof(how));

		if (k >= 0)
			return (int)k;
		/* no openat2 here (an older kernel, a seccomp filter) or a rename in
		 * the root during the walk (EAGAIN, EXDEV): root_path()'s walk; any
		 * other error is what open(2) of root_path() would say */
		if (errno != ENOSYS && errno != EPERM && errno != EINVAL && errno != E2BIG && errno != EAGAIN &&
		    errno != EXDEV)
			return -errno;
	}
	r = root_path(host, sizeof(host), rel);
	if (r < 0)
		return r;
	fd = open(host, flags | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}
