/* modules/carry/carry_proc.h — who touched a file on a medium: process,
 * executable, user, and whether a pending open is for writing (mamori-worker, root).
 *
 * Everything is read from /proc (under the root prefix) of a process that
 * the kernel names in a fanotify event. The process may be gone by then:
 * callers record what could be read. Utility code: never logs. */
#ifndef MAMORI_CARRY_PROC_H
#define MAMORI_CARRY_PROC_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define CARRY_USER_MAX     256
#define CARRY_PROC_USERS   8    /* uid -> login name, kept per thread */
#define CARRY_PROC_USER_MS 1000 /* how long one is trusted (a renamed account) */

struct carry_proc {
	pid_t pid; /* thread group id */
	bool have_exe, have_uid;
	char exe[PATH_MAX];        /* exact bytes of /proc/PID/exe (" (deleted)" kept) */
	uid_t uid;                 /* real uid */
	char user[CARRY_USER_MAX]; /* login name, or the uid in decimal when unknown */
};

/* Fill *ret for the process (or thread) id. 0 when at least the uid was
 * read; -ESRCH when the process is gone. Uid and exe are read from /proc
 * every time (setuid(2) and execve(2) change them under the same pid); the
 * login name of a uid is looked up at most once per CARRY_PROC_USER_MS. */
int carry_proc_read(pid_t id, struct carry_proc *ret);

/* How many times this thread asked the user database (for tests). */
uint64_t carry_proc_user_lookups(void);

/* Thread group of a thread id: 0 and *ret, or -errno. */
int carry_proc_tgid(pid_t tid, pid_t *ret);

/* Is thread `tid`, blocked in an open that raised FAN_OPEN_PERM, opening for
 * writing? Decided from /proc/TID/syscall (open, openat, openat2 via
 * process_vm_readv, creat, open_by_handle_at, execve). 1 write, 0 read,
 * -EOPNOTSUPP when the syscall is not one of those (io_uring, compat),
 * other -errno when it cannot be read. */
int carry_proc_open_for_write(pid_t tid);

/* Pure part, for tests: decide from the text of /proc/TID/syscall. The
 * openat2 `how` flags must be supplied by the caller (how_flags_fn). */
int carry_proc_syscall_write_intent(const char *text, pid_t tid,
                                    int (*how_flags_fn)(pid_t tid, unsigned long addr, unsigned long long *ret));

#endif
