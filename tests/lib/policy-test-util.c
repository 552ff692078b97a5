/* tests/lib/policy-test-util.c — helpers for the policy, exception and
 * USBGuard unit tests (test processes only). */
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "policy-test-util.h"
#include "strutil.h"

char *ptest_read_file(const char *path, size_t *ret_len)
{
	char *buf = NULL;
	size_t len = 0;

	if (read_file_capped(path, 16 * 1024 * 1024, &buf, &len) < 0)
		return NULL;
	if (ret_len)
		*ret_len = len;
	return buf;
}

char *ptest_read_src(const char *rel, size_t *ret_len)
{
	const char *src = getenv("MAMORI_SRC");
	char path[4096];
	char *buf;

	if (xsnprintf(path, sizeof(path), "%s/%s", src && *src ? src : ".", rel) < 0)
		abort();
	buf = ptest_read_file(path, ret_len);
	if (!buf) {
		fprintf(stderr, "cannot read %s (set MAMORI_SRC to the source tree)\n", path);
		abort();
	}
	return buf;
}

char *ptest_tmpdir(void)
{
	const char *t = getenv("TMPDIR");
	char *d = NULL;

	if (asprintf(&d, "%s/mamori-ptest.XXXXXX", t && *t ? t : "/tmp") < 0)
		abort();
	if (!mkdtemp(d))
		abort();
	return d;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

void ptest_rm_rf(const char *dir)
{
	if (dir)
		(void)nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void ptest_write(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0)
		abort();
}

static char *slurp_fd(int fd)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	char chunk[4096];
	ssize_t n;

	if (!f)
		abort();
	(void)lseek(fd, 0, SEEK_SET);
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		fwrite(chunk, 1, (size_t)n, f);
	fclose(f);
	return buf;
}

int ptest_capture(int (*fn)(void *arg), void *arg, char **ret_out, char **ret_err)
{
	FILE *fo = tmpfile(), *fe = tmpfile();
	int saved_out = dup(STDOUT_FILENO), saved_err = dup(STDERR_FILENO);
	int r;

	if (!fo || !fe || saved_out < 0 || saved_err < 0)
		abort();
	fflush(stdout);
	fflush(stderr);
	dup2(fileno(fo), STDOUT_FILENO);
	dup2(fileno(fe), STDERR_FILENO);
	r = fn(arg);
	fflush(stdout);
	fflush(stderr);
	dup2(saved_out, STDOUT_FILENO);
	dup2(saved_err, STDERR_FILENO);
	close(saved_out);
	close(saved_err);
	*ret_out = slurp_fd(fileno(fo));
	*ret_err = slurp_fd(fileno(fe));
	fclose(fo);
	fclose(fe);
	return r;
}
