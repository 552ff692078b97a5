/* common/rootpath.c — resolve system paths under the agent's root prefix
 * (any process). */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "rootpath.h"
#include "strutil.h"

static char root_prefix[PATH_MAX];

int root_set(const char *root)
{
	size_t n;
	int r;

	r = strscpy(root_prefix, sizeof(root_prefix) - 256, root ? root : "");
	if (r < 0) {
		root_prefix[0] = '\0';
		return r;
	}
	n = strlen(root_prefix);
	while (n > 0 && root_prefix[n - 1] == '/')
		root_prefix[--n] = '\0';
	return 0;
}

const char *root_get(void)
{
	return root_prefix;
}

int root_path(char *buf, size_t bufsz, const char *path)
{
	if (!path || path[0] != '/')
		return -EINVAL;
	return xsnprintf(buf, bufsz, "%s%s", root_prefix, path);
}

int root_pathf(char *buf, size_t bufsz, const char *fmt, ...)
{
	char rel[PATH_MAX];
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vsnprintf(rel, sizeof(rel), fmt, ap);
	va_end(ap);
	if (r < 0)
		return -EINVAL;
	if ((size_t)r >= sizeof(rel))
		return -ENAMETOOLONG;
	return root_path(buf, bufsz, rel);
}
