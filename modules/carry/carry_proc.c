/* modules/carry/carry_proc.c — process facts for carry records (mamori-worker,
 * root). See carry_proc.h. */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "alloc-util.h"
#include "carry_proc.h"
#include "fileio.h"
#include "rootpath.h"
#include "strutil.h"

static int read_small(const char *path, char *buf, size_t bufsz)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	size_t len = 0;

	if (fd < 0)
		return -errno;
	while (len + 1 < bufsz) {
		ssize_t k = read(fd, buf + len, bufsz - len - 1);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (k == 0)
			break;
		len += (size_t)k;
	}
	buf[len] = '\0';
	return (int)len;
}

/* Value of "Key:\t..." in a /proc status text: first number. */
static int status_field(const char *status, const char *key, int64_t *ret)
{
	const char *p = status;
	size_t kl = strlen(key);

	while (p && *p) {
		if (strncmp(p, key, kl) == 0 && p[kl] == ':') {
			char num[24];
			size_t n = 0;

			p += kl + 1;
			while (*p == ' ' || *p == '\t')
				p++;
			while (p[n] >= '0' && p[n] <= '9' && n + 1 < sizeof(num)) {
				num[n] = p[n];
				n++;
			}
			num[n] = '\0';
			return parse_int64(num, 0, UINT32_MAX, ret);
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return -ENOENT;
}

static int read_status(pid_t id, char *buf, size_t bufsz)
{
	char path[PATH_MAX];
	int r = root_pathf(path, sizeof(path), "/proc/%d/status", (int)id);

	if (r < 0)
		return r;
	r = read_small(path, buf, bufsz);
	return r == -ENOENT ? -ESRCH : r;
}

int carry_proc_tgid(pid_t tid, pid_t *ret)
{
	char st[4096];
	int64_t v;
	int r = read_status(tid, st, sizeof(st));

	if (r < 0)
		return r;
	r = status_field(st, "Tgid", &v);
	if (r < 0)
		return r;
	*ret = (pid_t)v;
	return 0;
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The login name of a uid, looked up at most once per CARRY_PROC_USER_MS
 * (issue 23.1): getpwuid_r() reads and parses /etc/passwd (after asking
 * nscd) on every call, and a copy raises one record per file, all by the
 * same user. Per thread: no lock. */
static _Thread_local struct {
	uid_t uid;
	int64_t until_ms;
	char user[CARRY_USER_MAX];
} user_cache[CARRY_PROC_USERS];
static _Thread_local unsigned user_next;
static _Thread_local uint64_t user_lookups;

static void uid_user(uid_t uid, char *buf, size_t bufsz)
{
	int64_t now = mono_ms();
	struct passwd pw, *res = NULL;
	char b[4096];
	unsigned k;

	for (k = 0; k < CARRY_PROC_USERS; k++)
		if (user_cache[k].until_ms > now && user_cache[k].uid == uid) {
			(void)strscpy(buf, bufsz, user_cache[k].user);
			return;
		}
	user_lookups++;
	if (getpwuid_r(uid, &pw, b, sizeof(b), &res) == 0 && res && res->pw_name)
		(void)strscpy(buf, bufsz, res->pw_name);
	else
		(void)xsnprintf(buf, bufsz, "%u", (unsigned)uid);
	k = user_next++ % CARRY_PROC_USERS;
	user_cache[k].uid = uid;
	user_cache[k].until_ms = now + CARRY_PROC_USER_MS;
	(void)strscpy(user_cache[k].user, sizeof(user_cache[k].user), buf);
}

uint64_t carry_proc_user_lookups(void)
{
	return user_lookups;
}

int carry_proc_read(pid_t id, struct carry_proc *ret)
{
	struct carry_proc p = {.pid = id};
	char st[4096], path[PATH_MAX], rel[64];
	int64_t v;
	ssize_t n;
	int r = read_status(id, st, sizeof(st));

	if (r < 0)
		return r;
	if (status_field(st, "Tgid", &v) == 0)
		p.pid = (pid_t)v;
	if (status_field(st, "Uid", &v) == 0) {
		p.uid = (uid_t)v;
		p.have_uid = true;
		uid_user(p.uid, p.user, sizeof(p.user));
	}
	if (xsnprintf(rel, sizeof(rel), "/proc/%d/exe", (int)id) == 0 &&
	    root_path_nofollow(path, sizeof(path), rel) == 0 && (n = readlink(path, p.exe, sizeof(p.exe) - 1)) > 0) {
		p.exe[n] = '\0';
		p.have_exe = true;
	}
	if (!p.have_uid)
		return -ESRCH;
	*ret = p;
	return 0;
}

static bool flags_write(unsigned long long f)
{
	return (f & O_ACCMODE) != O_RDONLY || (f & (O_TRUNC | O_CREAT));
}

int carry_proc_syscall_write_intent(const char *text, pid_t tid,
                                    int (*how_flags_fn)(pid_t tid, unsigned long addr, unsigned long long *ret))
{
	unsigned long long a[6];
	long nr;
	int n = 0;

	if (!text)
		return -EINVAL;
	if (strncmp(text, "running", 7) == 0)
		return -EAGAIN;
	if (sscanf(text, "%ld %llx %llx %llx %llx %llx %llx%n", &nr, &a[0], &a[1], &a[2], &a[3], &a[4], &a[5], &n) != 7)
		return -EOPNOTSUPP; /* "-1 sp pc": not in a system call */
	switch (nr) {
#ifdef SYS_open
	case SYS_open:
		return flags_write(a[1]);
#endif
#ifdef SYS_creat
	case SYS_creat:
		return 1;
#endif
	case SYS_openat:
		return flags_write(a[2]);
	case SYS_open_by_handle_at:
		return flags_write(a[2]);
#ifdef SYS_openat2
	case SYS_openat2: {
		unsigned long long f;
		int r;

		if (!how_flags_fn)
			return -EOPNOTSUPP;
		r = how_flags_fn(tid, (unsigned long)a[2], &f);
		return r < 0 ? r : flags_write(f);
	}
#endif
	case SYS_execve:
	case SYS_execveat:
		return 0;
	default:
		return -EOPNOTSUPP;
	}
}

/* struct open_how starts with the u64 flags. */
static int how_flags(pid_t tid, unsigned long addr, unsigned long long *ret)
{
	unsigned long long f;
	struct iovec local = {.iov_base = &f, .iov_len = sizeof(f)};
	struct iovec remote = {.iov_base = (void *)addr, .iov_len = sizeof(f)};
	ssize_t n = process_vm_readv(tid, &local, 1, &remote, 1, 0);

	if (n != (ssize_t)sizeof(f))
		return n < 0 ? -errno : -EIO;
	*ret = f;
	return 0;
}

int carry_proc_open_for_write(pid_t tid)
{
	char path[PATH_MAX], text[512];
	int r = root_pathf(path, sizeof(path), "/proc/%d/syscall", (int)tid);

	if (r < 0)
		return r;
	r = read_small(path, text, sizeof(text));
	if (r < 0)
		return r;
	return carry_proc_syscall_write_intent(text, tid, how_flags);
}
