/* tests/lib/testutil.c — helpers shared by the unit tests (test processes). */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fileio.h"
#include "policy_sign.h"
#include "strutil.h"
#include "testutil.h"

char *tu_mkdtemp(void)
{
	char tmpl[] = "/tmp/mamori-test.XXXXXX";
	char *d = mkdtemp(tmpl);

	assert_non_null(d);
	return strdup(d);
}

static void mkparent(const char *path)
{
	char p[PATH_MAX];
	char *slash;

	assert_int_equal(strscpy(p, sizeof(p), path), 0);
	slash = strrchr(p, '/');
	assert_non_null(slash);
	*slash = '\0';
	assert_int_equal(mkdir_p(p, 0755), 0);
}

void tu_write(const char *dir, const char *rel, const char *content)
{
	char p[PATH_MAX];
	FILE *f;

	assert_int_equal(xsnprintf(p, sizeof(p), "%s/%s", dir, rel), 0);
	mkparent(p);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs(content, f);
	assert_int_equal(fclose(f), 0);
}

void tu_symlink(const char *dir, const char *rel, const char *target)
{
	char p[PATH_MAX];

	assert_int_equal(xsnprintf(p, sizeof(p), "%s/%s", dir, rel), 0);
	mkparent(p);
	assert_int_equal(symlink(target, p), 0);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

void tu_rmtree(const char *dir)
{
	if (!dir || strncmp(dir, "/tmp/", 5) != 0)
		return;
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

struct tu_keys *tu_keys_new(void)
{
	struct tu_keys *k = calloc(1, sizeof(*k));
	char prefix[512];

	assert_non_null(k);
	k->dir = tu_mkdtemp();
	snprintf(prefix, sizeof(prefix), "%s/key", k->dir);
	assert_int_equal(policy_keygen(prefix), 0);
	snprintf(k->key, sizeof(k->key), "%s/key.key", k->dir);
	snprintf(k->pub, sizeof(k->pub), "%s/key.pub", k->dir);
	snprintf(prefix, sizeof(prefix), "%s/other", k->dir);
	assert_int_equal(policy_keygen(prefix), 0);
	snprintf(k->key2, sizeof(k->key2), "%s/other.key", k->dir);
	return k;
}

void tu_keys_free(struct tu_keys *k)
{
	if (!k)
		return;
	tu_rmtree(k->dir);
	free(k->dir);
	free(k);
}
