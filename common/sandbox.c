/* common/sandbox.c — unprivileged user, no capabilities, seccomp denylist
 * (any process that forks a child for untrusted input: the network child of
 * `mamorictl server sync`). */
#include <errno.h>
#include <grp.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pwd.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
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

static int caps_clear_inheritable(void)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d) < 0)
		return -errno;
	d[0].inheritable = d[1].inheritable = 0;
	return syscall(SYS_capset, &h, d) < 0 ? -errno : 0;
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
	/* the uid change cleared permitted and effective, not the inheritable
	 * set, which holds the ambient capabilities we were started with (the
	 * unit's AmbientCapabilities=, the worker's WORKER_CAPS_AMBIENT) */
	if (caps_clear_inheritable() < 0)
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

/* x86_64 only for now: another architecture needs its AUDIT_ARCH and its
 * own syscall list (no legacy open/mknod/chmod ... there) */
#if defined(__x86_64__)
#define SANDBOX_AUDIT_ARCH AUDIT_ARCH_X86_64
#else
#error "sandbox.c: add this architecture's AUDIT_ARCH and syscall list"
#endif

/* Syscalls a network client never makes: each one kills the process. */
static const int denied[] = {
        SYS_execve,
        SYS_execveat,
        SYS_ptrace,
        SYS_process_vm_readv,
        SYS_process_vm_writev,
        SYS_mount,
        SYS_umount2,
        SYS_pivot_root,
        SYS_chroot,
        SYS_unshare,
        SYS_setns,
        SYS_setuid,
        SYS_setgid,
        SYS_setreuid,
        SYS_setregid,
        SYS_setresuid,
        SYS_setresgid,
        SYS_setgroups,
        SYS_setfsuid,
        SYS_setfsgid,
        SYS_capset,
        SYS_init_module,
        SYS_finit_module,
        SYS_delete_module,
        SYS_kexec_load,
        SYS_kexec_file_load,
        SYS_reboot,
        SYS_swapon,
        SYS_swapoff,
        SYS_bpf,
        SYS_perf_event_open,
        SYS_userfaultfd,
        SYS_keyctl,
        SYS_add_key,
        SYS_request_key,
        SYS_open_by_handle_at,
        SYS_name_to_handle_at,
        SYS_quotactl,
        SYS_acct,
        SYS_settimeofday,
        SYS_clock_settime,
        SYS_clock_adjtime,
        SYS_adjtimex,
        SYS_sethostname,
        SYS_setdomainname,
        SYS_iopl,
        SYS_ioperm,
        SYS_personality,
        SYS_mknod,
        SYS_mknodat,
        SYS_chmod,
        SYS_fchmod,
        SYS_fchmodat,
        SYS_chown,
        SYS_fchown,
        SYS_lchown,
        SYS_fchownat,
        SYS_unlink,
        SYS_unlinkat,
        SYS_rename,
        SYS_renameat,
        SYS_renameat2,
        SYS_link,
        SYS_linkat,
        SYS_symlink,
        SYS_symlinkat,
        SYS_mkdir,
        SYS_mkdirat,
        SYS_rmdir,
        SYS_truncate,
        SYS_kill,
        SYS_tkill,
        SYS_pidfd_open,
        SYS_pidfd_send_signal,
        SYS_pidfd_getfd,
        SYS_io_uring_setup,
        SYS_fanotify_init,
        SYS_lookup_dcookie,
        SYS_vhangup,
        SYS_fsopen,
        SYS_fsmount,
        SYS_open_tree,
        SYS_move_mount,
        SYS_mount_setattr,
        SYS_creat,
#ifdef SYS_uselib
        SYS_uselib,
#endif
};

int sandbox_seccomp_network_client(void)
{
	enum { N = sizeof(denied) / sizeof(denied[0]) };
	/* arch check (3) + x32 (2) + deny list (2 each) + open flags (6) + allow (1) */
	struct sock_filter f[3 + 2 + 2 * N + 8 + 1];
	struct sock_fprog prog;
	size_t k = 0;
	const uint32_t wr = O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND;

#define STMT(c, kk)       (f[k++] = (struct sock_filter)BPF_STMT((c), (kk)))
#define JUMP(c, kk, t, e) (f[k++] = (struct sock_filter)BPF_JUMP((c), (kk), (t), (e)))
	STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
	JUMP(BPF_JMP | BPF_JEQ | BPF_K, SANDBOX_AUDIT_ARCH, 1, 0);
	STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
	STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
#if defined(__x86_64__)
	JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000u /* __X32_SYSCALL_BIT */, 0, 1);
	STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
#endif
	for (size_t i = 0; i < N; i++) {
		JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)denied[i], 0, 1);
		STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
	}
	/* open/openat/creat for writing: EPERM (a library may probe; nothing is written) */
#ifdef SYS_open
	JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_open, 3, 0);
#endif
	JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat, 0, 5);
	STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[2])); /* openat: flags */
	JUMP(BPF_JMP | BPF_JA, 1, 0, 0);
	STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[1])); /* open: flags */
	JUMP(BPF_JMP | BPF_JSET | BPF_K, wr, 0, 1);
	STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA));
	STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
#undef STMT
#undef JUMP
	prog = (struct sock_fprog){.len = (unsigned short)k, .filter = f};
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

int sandbox_caps_limit(uint64_t effective, uint64_t keep, uint64_t ambient)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2];
	uint64_t prm;

	if (syscall(SYS_capget, &h, d) < 0)
		return -errno;
	prm = ((uint64_t)d[1].permitted << 32 | d[0].permitted) & keep;
	effective &= prm;
	ambient &= prm;
	/* the bounding set where CAP_SETPCAP allows (not under the unit) */
	for (int c = 0; c <= CAP_LAST_CAP; c++)
		if (!(keep & (UINT64_C(1) << c)))
			(void)prctl(PR_CAPBSET_DROP, c, 0, 0, 0);
	/* ambient first: a capability leaving permitted or inheritable leaves
	 * ambient anyway; the rest is cleared and raised again below */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return -errno;
	for (int i = 0; i < 2; i++) {
		d[i].permitted = (uint32_t)(prm >> (32 * i));
		d[i].inheritable = (uint32_t)(prm >> (32 * i));
		d[i].effective = (uint32_t)(effective >> (32 * i));
	}
	if (syscall(SYS_capset, &h, d) < 0)
		return -errno;
	for (int c = 0; c <= CAP_LAST_CAP; c++)
		if ((ambient & (UINT64_C(1) << c)) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0)
			return -errno;
	/* verify what the kernel says */
	if (syscall(SYS_capget, &h, d) < 0)
		return -errno;
	if (((uint64_t)d[1].permitted << 32 | d[0].permitted) != prm ||
	    ((uint64_t)d[1].effective << 32 | d[0].effective) != effective)
		return -EPERM;
	return 0;
}
