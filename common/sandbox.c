/* common/sandbox.c — unprivileged user, no capabilities, seccomp allowlist
 * (any process that forks a child for untrusted input: the network child of
 * `mamorictl server sync`). */
#include <errno.h>
#include <grp.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/netlink.h>
#include <linux/seccomp.h>
#include <pwd.h>
#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <fcntl.h>

#include "fileio.h"
#include "sandbox.h"
#include "strutil.h"

int sandbox_lookup_user(const char *name, uid_t *ret_uid, gid_t *ret_gid, bool *ret_dynamic)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	int r;

	r = getpwnam_r(name, &pw, buf, sizeof(buf), &res);
	if (r != 0 && r != ENOENT && r != ESRCH)
		return -r;
	if (res) {
		if (res->pw_uid == 0 || res->pw_gid == 0)
			return -EPERM; /* a "system user" that is root is no drop */
		*ret_uid = res->pw_uid;
		*ret_gid = res->pw_gid;
		*ret_dynamic = false;
		return 0;
	}
	/* No user: a dynamic id from the top of systemd's DynamicUser range,
	 * one per process so that two children never share one. It owns no
	 * file: the child can read only what is world-readable. */
	*ret_uid = *ret_gid = SANDBOX_DYNAMIC_ID_MAX -
	                      (uid_t)((unsigned)getpid() % (SANDBOX_DYNAMIC_ID_MAX - SANDBOX_DYNAMIC_ID_MIN));
	*ret_dynamic = true;
	return 0;
}

static int caps_empty(void)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d) < 0)
		return -errno;
	for (int i = 0; i < 2; i++)
		if (d[i].effective || d[i].permitted || d[i].inheritable)
			return -EPERM;
	return 0;
}

int sandbox_drop_privileges(uid_t uid, gid_t gid)
{
	uid_t ru, eu, su;

	if (uid == 0 || gid == 0)
		return -EINVAL;
	/* the bounding set too where we may (CAP_SETPCAP); under the unit's
	 * bounding set this fails and changes nothing: the uid change below
	 * clears every capability set anyway, and no exec can regain them */
	for (int c = 0; c <= CAP_LAST_CAP; c++)
		(void)prctl(PR_CAPBSET_DROP, c, 0, 0, 0);
	(void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
		return -errno;
	if (getresuid(&ru, &eu, &su) < 0 || ru != uid || eu != uid || su != uid)
		return -EPERM;
	/* fail closed: a capability left anywhere, or uid 0 regainable */
	if (caps_empty() < 0 || prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_SYS_ADMIN, 0, 0) == 1)
		return -EPERM;
	if (setresuid(0, 0, 0) == 0)
		return -EPERM;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	return 0;
}

/* The architectures the filter knows; a syscall of any other one (i386
 * through int 0x80, x32 numbers) kills. The syscall numbers come from the
 * target's own <sys/syscall.h>, so one list serves both; calls that only
 * x86_64 has (open, stat, poll, ...) are under #ifdef. */
#if defined(__x86_64__)
#define SANDBOX_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__) && defined(__AARCH64EL__)
#define SANDBOX_AUDIT_ARCH AUDIT_ARCH_AARCH64
#else
#error "sandbox.c: add this architecture's AUDIT_ARCH and check its syscall list"
#endif

/* What the network child makes (strace -f of `mamorictl server sync`
 * under ASan and in the release build: libcurl + OpenSSL over TCP, the
 * threaded resolver with glibc's files/dns/nscd, the journal broker's
 * socket, /proc/self/status) and nothing more. Anything else kills the
 * process (SIGSYS). Checked by argument, before this list: open/openat
 * (writing: EPERM), clone (threads only), clone3 (ENOSYS: glibc then uses
 * clone), socket (unix, inet, inet6, netlink route), ioctl (three
 * requests) and tgkill (own process only). */
static const int allowed[] = {
        /* memory */
        SYS_brk,
        SYS_mmap,
        SYS_munmap,
        SYS_mremap,
        SYS_mprotect,
        SYS_madvise,
        /* threads and their synchronisation */
        SYS_futex,
        SYS_set_robust_list,
        SYS_get_robust_list,
        SYS_set_tid_address,
        SYS_gettid,
        SYS_sched_yield,
        SYS_sched_getaffinity,
        SYS_exit,
        SYS_exit_group,
#ifdef SYS_rseq
        SYS_rseq,
#endif
        /* signals (to itself) */
        SYS_rt_sigaction,
        SYS_rt_sigprocmask,
        SYS_rt_sigreturn,
        SYS_sigaltstack,
        SYS_restart_syscall,
        /* time */
        SYS_clock_gettime,
        SYS_clock_getres,
        SYS_gettimeofday,
        SYS_nanosleep,
        SYS_clock_nanosleep,
#ifdef SYS_time
        SYS_time,
#endif
        /* descriptors: reading files (writing is refused at open), sockets */
        SYS_read,
        SYS_readv,
        SYS_pread64,
        SYS_write,
        SYS_writev,
        SYS_close,
        SYS_lseek,
        SYS_fcntl,
        SYS_dup,
        SYS_dup3,
        SYS_fstat,
        SYS_newfstatat,
        SYS_statx,
        SYS_getdents64,
        SYS_readlinkat,
        SYS_faccessat,
#ifdef SYS_faccessat2
        SYS_faccessat2,
#endif
#ifdef SYS_close_range
        SYS_close_range,
#endif
#ifdef SYS_stat
        SYS_stat,
        SYS_lstat,
        SYS_access,
        SYS_readlink,
        SYS_dup2,
        SYS_pipe,
#endif
        SYS_pipe2,
        SYS_eventfd2,
        SYS_getcwd,
        /* waiting for descriptors */
        SYS_ppoll,
        SYS_pselect6,
        SYS_epoll_create1,
        SYS_epoll_ctl,
        SYS_epoll_pwait,
#ifdef SYS_poll
        SYS_poll,
        SYS_select,
        SYS_epoll_wait,
#endif
        /* a network client's sockets (accepting connections is not) */
        SYS_socketpair,
        SYS_connect,
        SYS_bind,
        SYS_getsockname,
        SYS_getpeername,
        SYS_setsockopt,
        SYS_getsockopt,
        SYS_sendto,
        SYS_recvfrom,
        SYS_sendmsg,
        SYS_recvmsg,
        SYS_sendmmsg,
        SYS_recvmmsg,
        SYS_shutdown,
        /* who and where am I, randomness, limits */
        SYS_getpid,
        SYS_getppid,
        SYS_getuid,
        SYS_geteuid,
        SYS_getgid,
        SYS_getegid,
        SYS_getresuid,
        SYS_getresgid,
        SYS_getgroups,
        SYS_uname,
        SYS_sysinfo,
        SYS_getrandom,
        SYS_prlimit64,
        SYS_getrlimit,
        SYS_getrusage,
};

/* The filter, into f (SANDBOX_FILTER_MAX instructions); its length. `self`
 * is the pid of the process that installs it (tgkill). */
#define SANDBOX_FILTER_MAX 256

static size_t build_filter(struct sock_filter *f, uint32_t self)
{
	enum { N = sizeof(allowed) / sizeof(allowed[0]) };
	const uint32_t wr = O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND;
	const uint32_t ns = CLONE_NEWNS | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS |
	                    CLONE_NEWCGROUP;
	size_t k = 0;

	_Static_assert(N < 200, "the allow list's jumps must fit in 8 bits");
	_Static_assert(N + 64 < SANDBOX_FILTER_MAX, "the filter fits");
	/* Each block below starts with `nr == X ? continue : skip the block`,
	 * so the accumulator still holds nr after a block that did not match;
	 * the jump counts are instructions skipped. */
#define STMT(c, kk)       (f[k++] = (struct sock_filter)BPF_STMT((c), (kk)))
#define JUMP(c, kk, t, e) (f[k++] = (struct sock_filter)BPF_JUMP((c), (kk), (t), (e)))
#define IF_NR(x, len)     JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)(x), 0, (len))
#define JEQ(v, t, e)      JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)(v), (t), (e))
#define JSET(v, t, e)     JUMP(BPF_JMP | BPF_JSET | BPF_K, (uint32_t)(v), (t), (e))
#define LOAD(field)       STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, field))
#define RET(v)            STMT(BPF_RET | BPF_K, (v))
#define ERRNO(e)          (SECCOMP_RET_ERRNO | ((e)&SECCOMP_RET_DATA))
	LOAD(arch);
	JEQ(SANDBOX_AUDIT_ARCH, 1, 0);
	RET(SECCOMP_RET_KILL_PROCESS);
	LOAD(nr);
#if defined(__x86_64__)
	JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000u /* __X32_SYSCALL_BIT */, 0, 1);
	RET(SECCOMP_RET_KILL_PROCESS);
#endif
	/* open/openat for writing: EPERM (a library may probe; nothing is
	 * written); for reading: allowed. Flags: the low word of the argument. */
#ifdef SYS_open
	IF_NR(SYS_open, 4);
	LOAD(args[1]);
	JSET(wr, 0, 1);
	RET(ERRNO(EPERM));
	RET(SECCOMP_RET_ALLOW);
#endif
	IF_NR(SYS_openat, 4);
	LOAD(args[2]);
	JSET(wr, 0, 1);
	RET(ERRNO(EPERM));
	RET(SECCOMP_RET_ALLOW);
	/* clone: a thread of this process (libcurl's resolver), never a new
	 * process or namespace */
	IF_NR(SYS_clone, 5);
	LOAD(args[0]);
	JSET(ns, 1, 0);           /* a namespace: kill */
	JSET(CLONE_THREAD, 1, 0); /* a thread: allow */
	RET(SECCOMP_RET_KILL_PROCESS);
	RET(SECCOMP_RET_ALLOW);
#ifdef SYS_clone3
	/* its flags are in memory, out of a filter's reach: glibc falls back
	 * to clone on ENOSYS */
	IF_NR(SYS_clone3, 1);
	RET(ERRNO(ENOSYS));
#endif
	/* socket: unix (nscd, resolved, the broker's pair), inet, inet6 and
	 * netlink route (glibc's getaddrinfo); no other family exists here */
	IF_NR(SYS_socket, 9);
	LOAD(args[0]);
	JEQ(AF_UNIX, 6, 0);
	JEQ(AF_INET, 5, 0);
	JEQ(AF_INET6, 4, 0);
	JEQ(AF_NETLINK, 0, 2);
	LOAD(args[2]);
	JEQ(NETLINK_ROUTE, 1, 0);
	RET(ERRNO(EAFNOSUPPORT));
	RET(SECCOMP_RET_ALLOW);
	/* ioctl: bytes waiting, non-blocking, "is it a terminal"; any other
	 * request is not for a network client */
	IF_NR(SYS_ioctl, 6);
	LOAD(args[1]);
	JEQ(FIONREAD, 3, 0);
	JEQ(FIONBIO, 2, 0);
	JEQ(TCGETS, 1, 0);
	RET(ERRNO(ENOTTY));
	RET(SECCOMP_RET_ALLOW);
	/* tgkill: a signal to a thread of this process (abort()) */
	IF_NR(SYS_tgkill, 4);
	LOAD(args[0]);
	JEQ(self, 1, 0);
	RET(SECCOMP_RET_KILL_PROCESS);
	RET(SECCOMP_RET_ALLOW);
	/* the allow list; anything else kills */
	for (size_t i = 0; i < N; i++)
		JEQ(allowed[i], N - i, 0);
	RET(SECCOMP_RET_KILL_PROCESS);
	RET(SECCOMP_RET_ALLOW);
#undef STMT
#undef JUMP
#undef IF_NR
#undef JEQ
#undef JSET
#undef LOAD
#undef RET
#undef ERRNO
	return k;
}

int sandbox_seccomp_network_client(void)
{
	struct sock_filter f[SANDBOX_FILTER_MAX];
	struct sock_fprog prog = {.filter = f};

	prog.len = (unsigned short)build_filter(f, (uint32_t)getpid());
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog) == 0)
		return 0;
	/* seccomp(2) itself filtered (an outer filter): the prctl form, which
	 * covers this thread — the caller has no other thread yet */
	if ((errno == ENOSYS || errno == EPERM) && prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) == 0)
		return 0;
	return -errno;
}

int sandbox_describe_self(char *buf, size_t bufsz)
{
	static const char *const keys[] = {
	        "Uid:", "Gid:", "CapInh:", "CapPrm:", "CapEff:", "CapAmb:", "NoNewPrivs:", "Seccomp:"};
	char *st = NULL, *save = NULL;
	size_t len = 0, used = 0;
	int r;

	r = read_file_capped("/proc/self/status", 64 * 1024, &st, &len);
	if (r < 0)
		return r;
	buf[0] = '\0';
	for (char *line = strtok_r(st, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (strncmp(line, keys[i], strlen(keys[i])) == 0) {
				char *v = line + strlen(keys[i]);
				int n;

				while (*v == ' ' || *v == '\t')
					v++;
				for (char *p = v; *p; p++)
					if (*p == '\t')
						*p = ' ';
				n = snprintf(buf + used, bufsz - used, "%s%.*s=%s", used ? " " : "",
				             (int)strlen(keys[i]) - 1, keys[i], v);
				if (n < 0 || (size_t)n >= bufsz - used) {
					free(st);
					return -ENAMETOOLONG;
				}
				used += (size_t)n;
			}
	free(st);
	return 0;
}
