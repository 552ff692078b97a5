/* common/landlock.c — hiding files with Landlock (see landlock.h); used by
 * the web-facing process of mamori-server. Raw syscalls: glibc has no
 * wrappers. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/landlock.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "alloc-util.h"
#include "landlock.h"

#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14) /* ABI 3 (Linux 6.2); Debian 12's headers are 6.1 */
#endif

#define HIDDEN_MAX  16
#define BLOCKED_MAX (HIDDEN_MAX * 64)

static bool in_list(char *const *list, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i], s) == 0)
			return true;
	return false;
}

static void free_list(char **list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(list[i]);
}

/* One rule: the rights on this entry (and beneath it, for a directory). */
static int allow_entry(int ruleset, int dirfd, const char *name, uint64_t rights)
{
	struct landlock_path_beneath_attr pb = {.allowed_access = rights};
	_cleanup_close_ int fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;

	if (fd < 0)
		return errno == ENOENT ? 0 : -errno; /* gone meanwhile: nothing to allow */
	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISLNK(st.st_mode))
		return 0; /* what it names has (or has not) its own rule */
	pb.parent_fd = fd;
	if (syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &pb, 0) < 0)
		return -errno;
	return 0;
}

int landlock_hide_files(const char *const *hidden)
{
	char *blocked[BLOCKED_MAX], *files[HIDDEN_MAX];
	size_t nb = 0, nf = 0;
	struct landlock_ruleset_attr attr = {0};
	uint64_t rights = LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE;
	_cleanup_close_ int ruleset = -1;
	long abi;
	int r = 0;

	abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 1)
		return -EOPNOTSUPP;
	if (abi >= 3)
		rights |= LANDLOCK_ACCESS_FS_TRUNCATE;
	/* the hidden files (resolved) and every directory above them */
	for (size_t i = 0; hidden[i]; i++) {
		char *p, *slash;

		if (nf >= HIDDEN_MAX) {
			r = -E2BIG;
			goto out;
		}
		p = realpath(hidden[i], NULL);
		if (!p) {
			r = -errno;
			goto out;
		}
		files[nf++] = p;
		if (!in_list(blocked, nb, p)) {
			if (nb >= BLOCKED_MAX || !(blocked[nb] = strdup(p))) {
				r = nb >= BLOCKED_MAX ? -E2BIG : -ENOMEM;
				goto out;
			}
			nb++;
		}
		for (slash = strrchr(p, '/'); slash; slash = slash > p ? memrchr(p, '/', (size_t)(slash - p)) : NULL) {
			char *d = strndup(p, slash > p ? (size_t)(slash - p) : 1);

			if (!d) {
				r = -ENOMEM;
				goto out;
			}
			if (in_list(blocked, nb, d) || nb >= BLOCKED_MAX) {
				free(d);
				if (nb >= BLOCKED_MAX) {
					r = -E2BIG;
					goto out;
				}
				continue;
			}
			blocked[nb++] = d;
		}
	}
	attr.handled_access_fs = rights;
	ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
	if (ruleset < 0) {
		r = errno == ENOSYS || errno == EOPNOTSUPP ? -EOPNOTSUPP : -errno;
		goto out;
	}
	/* every entry of every blocked directory that is not itself blocked */
	for (size_t i = 0; i < nb && r == 0; i++) {
		DIR *dir;
		struct dirent *de;
		char path[PATH_MAX];

		dir = opendir(blocked[i]);
		if (!dir) {
			if (errno == ENOTDIR)
				continue; /* a hidden file itself */
			/* a directory we may pass but not list (/var/lib/private
			 * of DynamicUser=, a 0711 parent): its other entries get
			 * no rule — more refused, never less */
			if (errno == EACCES)
				continue;
			r = -errno;
			break;
		}
		while (r == 0 && (de = readdir(dir))) {
			int n;

			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			n = snprintf(path, sizeof(path), "%s%s%s", blocked[i], strcmp(blocked[i], "/") ? "/" : "",
			             de->d_name);
			if (n < 0 || (size_t)n >= sizeof(path)) {
				r = -ENAMETOOLONG;
				break;
			}
			if (in_list(blocked, nb, path))
				continue;
			r = allow_entry(ruleset, dirfd(dir), de->d_name, rights);
		}
		closedir(dir);
	}
	if (r < 0)
		goto out;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || syscall(SYS_landlock_restrict_self, ruleset, 0) < 0) {
		r = -errno;
		goto out;
	}
	/* fail closed: the kernel must now refuse every hidden file */
	for (size_t i = 0; i < nf; i++) {
		int fd = open(files[i], O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

		if (fd >= 0) {
			close(fd);
			r = -EPERM;
			goto out;
		}
		if (errno != EACCES) {
			r = -EPERM;
			goto out;
		}
	}
out:
	free_list(blocked, nb);
	free_list(files, nf);
	return r;
}
