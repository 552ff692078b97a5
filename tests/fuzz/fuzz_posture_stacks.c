/* tests/fuzz/fuzz_posture_stacks.c — libFuzzer harness for the posture
 * parsers added by issue 21: a PAM service file (loaded as libpam builds its
 * chain, then pam_authenticate() simulated in every scenario) and a
 * compressed apt list (gz, xz, lz4 streams) (fuzz program). The first byte
 * picks the parser. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "patch/patch_zlist.h"
#include "posture/login.h"
#include "rootpath.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char root[64];

/* the directory made for the PAM files goes at exit (each replay in make
 * check left one in /tmp) */
static void drop_root(void)
{
	static const char *const parts[] = {"/etc/pam.d/fuzz", "/etc/pam.d", "/etc", ""};
	char p[256];

	for (size_t i = 0; root[0] && i < sizeof(parts) / sizeof(parts[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", root, parts[i]);
		(void)(i == 0 ? unlink(p) : rmdir(p));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char p[256];

	if (size < 1)
		return 0;
	if (!root[0]) {
		snprintf(root, sizeof(root), "/tmp/mamori-fuzz-stacks.XXXXXX");
		if (!mkdtemp(root))
			abort();
		atexit(drop_root);
		snprintf(p, sizeof(p), "%s/etc/pam.d", root);
		if (mkdir_p(p, 0755) < 0)
			abort();
	}
	if (data[0] & 1) {
		static struct login_pam_stack st;
		struct login_pam_verdict v;
		int fd;

		snprintf(p, sizeof(p), "%s/etc/pam.d/fuzz", root);
		fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0 || write(fd, data + 1, size - 1) != (ssize_t)(size - 1))
			abort();
		close(fd);
		root_set(root);
		login_pam_load("fuzz", &st);
		for (int sc = LOGIN_PAM_WRONG; sc <= LOGIN_PAM_COUNT; sc++) {
			login_pam_simulate(&st, (enum login_pam_scenario)sc, &v);
			if (strnlen(v.path, sizeof(v.path)) >= sizeof(v.path))
				__builtin_trap();
		}
		root_set("");
	} else {
		static const enum patch_zkind kinds[] = {PATCH_Z_GZ, PATCH_Z_XZ, PATCH_Z_LZ4};
		char buf[4096];
		int fd = memfd_create("list", MFD_CLOEXEC);
		FILE *f;

		if (fd < 0 || write(fd, data + 1, size - 1) != (ssize_t)(size - 1))
			abort();
		snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
		f = patch_zlist_open(p, kinds[(data[0] >> 1) % 3]);
		if (f) {
			size_t total = 0, n;
			while ((n = fread(buf, 1, sizeof(buf), f)) > 0 && total < (64u << 20))
				total += n;
			fclose(f);
		}
		close(fd);
	}
	return 0;
}
