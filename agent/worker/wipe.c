/* agent/worker/wipe.c — crypto-erase, path removal and credential
 * destruction for the `wipe` remote command (agent/worker/wipe.h; MDM-1).
 * mamori-worker (root). libcryptsetup is called only here. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <libcryptsetup.h>
#include <linux/openat2.h>

#include "command_verify.h"
#include "strutil.h"
#include "transport.h"
#include "wipe.h"

int wipe_volume(const char *path, unsigned *ret_destroyed, char *err, size_t errsz)
{
	struct crypt_device *cd = NULL;
	const char *type;
	unsigned destroyed = 0;
	int r, max;

	r = crypt_init(&cd, path);
	if (r < 0) {
		snprintf(err, errsz, "%s: cannot open: %s", path, strerror(-r));
		return r;
	}
	r = crypt_load(cd, CRYPT_LUKS, NULL);
	if (r < 0) {
		snprintf(err, errsz, "%s: not a LUKS volume", path);
		crypt_free(cd);
		return -EINVAL;
	}
	type = crypt_get_type(cd);
	max = crypt_keyslot_max(type);
	for (int i = 0; i < max; i++) {
		crypt_keyslot_info st = crypt_keyslot_status(cd, i);

		if (st != CRYPT_SLOT_ACTIVE && st != CRYPT_SLOT_ACTIVE_LAST && st != CRYPT_SLOT_UNBOUND)
			continue;
		r = crypt_keyslot_destroy(cd, i);
		if (r < 0) {
			snprintf(err, errsz, "%s: keyslot %d: cannot destroy: %s", path, i, strerror(-r));
			crypt_free(cd);
			return r;
		}
		destroyed++;
	}
	/* checked, not assumed */
	for (int i = 0; i < max; i++) {
		crypt_keyslot_info st = crypt_keyslot_status(cd, i);

		if (st == CRYPT_SLOT_ACTIVE || st == CRYPT_SLOT_ACTIVE_LAST || st == CRYPT_SLOT_UNBOUND) {
			snprintf(err, errsz, "%s: keyslot %d is still active", path, i);
			crypt_free(cd);
			return -EIO;
		}
	}
	crypt_free(cd);
	*ret_destroyed = destroyed;
	return 0;
}

static int openat2_fd(int dirfd, const char *name, int flags, unsigned long long resolve)
{
	struct open_how how = {.flags = (unsigned long long)flags | O_CLOEXEC, .resolve = resolve};
	long fd = syscall(SYS_openat2, dirfd, name, &how, sizeof(how));

	return fd < 0 ? -errno : (int)fd;
}

#define BENEATH (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV)

/* Empty the directory dfd (on device dev), depth-first. */
static int empty_dir(int dfd, dev_t dev, unsigned depth, unsigned *removed, unsigned *skipped)
{
	DIR *d;
	struct dirent *de;
	int r = 0, dup_fd;

	if (depth > 256)
		return -ELOOP;
	dup_fd = fcntl(dfd, F_DUPFD_CLOEXEC, 0);
	if (dup_fd < 0)
		return -errno;
	d = fdopendir(dup_fd);
	if (!d) {
		close(dup_fd);
		return -errno;
	}
	while ((de = readdir(d))) {
		struct stat st;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			int sub;

			if (st.st_dev != dev) {
				(*skipped)++; /* a mount point: another file system is not ours to remove */
				continue;
			}
			sub = openat2_fd(dfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, BENEATH);
			if (sub < 0) {
				(*skipped)++;
				continue;
			}
			r = empty_dir(sub, dev, depth + 1, removed, skipped);
			close(sub);
			if (r < 0)
				break;
			if (unlinkat(dfd, de->d_name, AT_REMOVEDIR) == 0)
				(*removed)++;
			else
				(*skipped)++; /* not empty: something inside was left */
		} else if (unlinkat(dfd, de->d_name, 0) == 0) {
			(*removed)++; /* a symlink is removed as a link, its target untouched */
		} else {
			(*skipped)++;
		}
	}
	closedir(d);
	return r;
}

static bool ends(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && strcmp(s + n - k, suffix) == 0;
}

int wipe_path(const char *path, unsigned *ret_removed, unsigned *ret_skipped, char *err, size_t errsz)
{
	char parent[PATH_MAX], *slash;
	const char *base;
	unsigned removed = 0, skipped = 0;
	struct stat st;
	int pfd, fd, r;

	if (path[0] != '/' || strcmp(path, "/") == 0 || strstr(path, "/./") || strstr(path, "/../") ||
	    ends(path, "/.") || ends(path, "/..") || ends(path, "/") || strstr(path, "//")) {
		snprintf(err, errsz, "%s: not a canonical absolute path other than /", path);
		return -EINVAL;
	}
	if (strscpy(parent, sizeof(parent), path) < 0)
		return -ENAMETOOLONG;
	slash = strrchr(parent, '/');
	base = path + (slash - parent) + 1;
	if (slash == parent)
		parent[1] = '\0';
	else
		*slash = '\0';
	/* no symlink anywhere in the configured path: a link planted in it
	 * cannot send the wipe elsewhere */
	pfd = openat2_fd(AT_FDCWD, parent, O_RDONLY | O_DIRECTORY, RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
	if (pfd < 0) {
		snprintf(err, errsz, "%s: the parent cannot be opened without following a symlink: %s", path,
		         strerror(-pfd));
		return pfd;
	}
	if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		r = -errno;
		close(pfd);
		if (r != -ENOENT)
			snprintf(err, errsz, "%s: %s", path, strerror(-r));
		return r;
	}
	if (S_ISLNK(st.st_mode)) {
		close(pfd);
		snprintf(err, errsz, "%s is a symlink: not followed, not removed", path);
		return -ELOOP;
	}
	if (S_ISDIR(st.st_mode)) {
		struct stat pst;

		if (fstat(pfd, &pst) == 0 && pst.st_dev != st.st_dev) {
			close(pfd);
			snprintf(err, errsz, "%s is a mount point: its file system is not removed", path);
			return -EXDEV;
		}
		fd = openat2_fd(pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, BENEATH);
		if (fd < 0) {
			close(pfd);
			snprintf(err, errsz, "%s: %s", path, strerror(-fd));
			return fd;
		}
		r = empty_dir(fd, st.st_dev, 0, &removed, &skipped);
		close(fd);
		if (r == 0 && skipped == 0) {
			if (unlinkat(pfd, base, AT_REMOVEDIR) == 0)
				removed++;
			else
				r = -errno;
		}
	} else {
		r = unlinkat(pfd, base, 0) == 0 ? 0 : -errno;
		if (r == 0)
			removed++;
	}
	close(pfd);
	if (r < 0)
		snprintf(err, errsz, "%s: %s", path, strerror(-r));
	else if (skipped)
		snprintf(err, errsz, "%s: %u entries left (mount points or not removable)", path, skipped);
	*ret_removed = removed;
	*ret_skipped = skipped;
	return r;
}

int wipe_credentials(const char *state_dir)
{
	static const char *const files[] = {TRANSPORT_DEVICE_PEM, TRANSPORT_ENROLL_STATE, TRANSPORT_SERVER_CA,
	                                    COMMAND_KEY_FILE};
	char p[PATH_MAX];
	int n = 0;

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		if (xsnprintf(p, sizeof(p), "%s/%s", state_dir, files[i]) == 0 && unlink(p) == 0)
			n++;
	return n;
}
