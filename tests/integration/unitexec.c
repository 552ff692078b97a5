/* tests/integration/unitexec.c — run a program under a unit file's
 * SystemCallFilter= (test tool for tests/integration/unit_privileges.sh,
 * issue 11.2; PID 1 here is not systemd, so the filter is applied like
 * systemd applies it, with libseccomp):
 *   unitexec ALLOW_FILE DENY_FILE ERRNO_NAME -- PROGRAM ARGS...
 * ALLOW_FILE: syscall names the unit allows (its groups already expanded
 * with `systemd-analyze syscall-filter`), one per line; DENY_FILE: names
 * its "~" lines remove again. Any other syscall fails with ERRNO_NAME
 * (SystemCallErrorNumber=, EPERM only here). As systemd does, a few calls
 * are always allowed (execve, exit, exit_group, getrlimit, rt_sigreturn,
 * sigreturn, time and sleep queries) and only the native architecture is
 * accepted (SystemCallArchitectures=native: another one kills). A name this
 * kernel's libseccomp does not know is skipped (systemd skips them too).
 * Needs no_new_privs (setpriv --no-new-privs, from the unit) before it. */
#include <errno.h>
#include <stdbool.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int read_names(const char *path, char ***ret, size_t *ret_n)
{
	FILE *f = fopen(path, "re");
	char line[256];
	char **v = NULL;
	size_t n = 0;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char **nv;

		line[strcspn(line, " \t\r\n")] = '\0';
		if (!line[0])
			continue;
		nv = realloc(v, (n + 1) * sizeof(*v));
		if (!nv || !(nv[n] = strdup(line))) {
			fclose(f);
			return -ENOMEM;
		}
		v = nv;
		n++;
	}
	fclose(f);
	*ret = v;
	*ret_n = n;
	return 0;
}

static const char *const always[] = {
        "execve",       "exit",          "exit_group",      "getrlimit",    "rt_sigreturn", "sigreturn",
        "clock_getres", "clock_gettime", "clock_nanosleep", "gettimeofday", "nanosleep",    "time",
};

int main(int argc, char **argv)
{
	char **allow = NULL, **deny = NULL;
	size_t n_allow = 0, n_deny = 0, added = 0;
	scmp_filter_ctx ctx;
	int r;

	if (argc < 6 || strcmp(argv[4], "--") != 0 || strcmp(argv[3], "EPERM") != 0) {
		fprintf(stderr, "usage: unitexec ALLOW_FILE DENY_FILE EPERM -- PROGRAM ARGS...\n");
		return 2;
	}
	if (read_names(argv[1], &allow, &n_allow) < 0 || read_names(argv[2], &deny, &n_deny) < 0) {
		fprintf(stderr, "unitexec: cannot read the syscall lists\n");
		return 2;
	}
	ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
	if (!ctx)
		return 2;
	/* a foreign architecture is not added: libseccomp kills on it (SCMP_ACT_KILL default for bad arch) */
	for (size_t i = 0; i < n_allow + sizeof(always) / sizeof(always[0]); i++) {
		const char *name = i < n_allow ? allow[i] : always[i - n_allow];
		bool denied = false;
		int nr;

		for (size_t j = 0; j < n_deny && i < n_allow; j++)
			if (strcmp(deny[j], name) == 0)
				denied = true;
		if (denied)
			continue;
		nr = seccomp_syscall_resolve_name(name);
		if (nr == __NR_SCMP_ERROR)
			continue;
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
		if (r < 0 && r != -EEXIST) {
			fprintf(stderr, "unitexec: %s: %s\n", name, strerror(-r));
			return 2;
		}
		added++;
	}
	r = seccomp_load(ctx);
	if (r < 0) {
		fprintf(stderr, "unitexec: seccomp_load: %s (no_new_privs set?)\n", strerror(-r));
		return 2;
	}
	seccomp_release(ctx);
	fprintf(stderr, "unitexec: %zu syscalls allowed, %zu removed by ~ lines, the rest EPERM\n", added, n_deny);
	execvp(argv[5], argv + 5);
	fprintf(stderr, "unitexec: %s: %s\n", argv[5], strerror(errno));
	return 127;
}
