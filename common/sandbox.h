/* common/sandbox.h — dropping to an unprivileged user with no capabilities
 * and a seccomp filter (any process that forks a child for untrusted
 * input; today the network child of `mamorictl server sync`). Utility code:
 * never logs; returns negative errno. */
#ifndef MAMORI_SANDBOX_H
#define MAMORI_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Lowest uid/gid of the dynamic range used when no user `name` exists
 * (systemd's DynamicUser= range, 61184-65519). */
#define SANDBOX_DYNAMIC_ID_MIN 61184u
#define SANDBOX_DYNAMIC_ID_MAX 65519u

/* The uid/gid of system user `name` (its primary group); when no such user
 * exists, a uid=gid in the dynamic range that owns no file and no process
 * (*ret_dynamic = true). Call before forking (NSS reads files). */
int sandbox_lookup_user(const char *name, uid_t *ret_uid, gid_t *ret_gid, bool *ret_dynamic);

/* In the child, in this order: no supplementary groups, gid, uid (real,
 * effective, saved), then verifies that no capability is left in any set
 * (permitted, effective, inheritable, ambient) and that uid 0 cannot be
 * regained; PR_SET_NO_NEW_PRIVS. -EPERM when any check fails (the caller
 * must _exit: fail closed). */
int sandbox_drop_privileges(uid_t uid, gid_t gid);

/* The seccomp filter of a network client (raw BPF, no libseccomp), an
 * allowlist: memory, threads (clone with CLONE_THREAD only), signals to
 * itself, time, reading files, unix/inet/inet6/netlink-route sockets as a
 * client, poll, identity getters, getrandom. Any other syscall — execve,
 * fork, ptrace, mount, setuid, kill, inotify, listen, ... —, a foreign
 * architecture and x32 numbers kill the process (SIGSYS); opening a file
 * for writing fails with EPERM, clone3 with ENOSYS (glibc then uses clone),
 * another socket family with EAFNOSUPPORT, another ioctl with ENOTTY.
 * x86_64 and aarch64 (docs/ARCHITECTURE.md). Needs PR_SET_NO_NEW_PRIVS
 * (sandbox_drop_privileges) or CAP_SYS_ADMIN. */
int sandbox_seccomp_network_client(void);

/* "Uid:", "CapEff:", "CapPrm:", "NoNewPrivs:" and "Seccomp:" of
 * /proc/self/status on one line (what the kernel says this process is). */
int sandbox_describe_self(char *buf, size_t bufsz);

#endif
