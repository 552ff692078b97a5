/* modules/screenlock/screenlock_logind.c — systemd-logind's idle action and
 * idle session stop, from logind.conf(.d) under the root (mamori-worker). */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "alloc-util.h"
#include "fileio.h"
#include "rootpath.h"
#include "screenlock_logind.h"
#include "strutil.h"

#define LOGIND_FILE_MAX    (256 * 1024)
#define LOGIND_MAX_DROPINS 64

int screenlock_parse_timespan(const char *s, int64_t *ret_sec)
{
	static const struct {
		const char *suffix;
		int64_t usec;
	} units[] = {
	        {"seconds", 1000000},
	        {"second", 1000000},
	        {"sec", 1000000},
	        {"s", 1000000},
	        {"minutes", 60000000},
	        {"minute", 60000000},
	        {"min", 60000000},
	        {"m", 60000000},
	        {"hours", 3600000000},
	        {"hour", 3600000000},
	        {"hr", 3600000000},
	        {"h", 3600000000},
	        {"days", 86400000000},
	        {"day", 86400000000},
	        {"d", 86400000000},
	        {"weeks", 604800000000},
	        {"week", 604800000000},
	        {"w", 604800000000},
	        {"msec", 1000},
	        {"ms", 1000},
	        {"usec", 1},
	        {"us", 1},
	};
	int64_t total = 0;
	bool any = false;

	if (!s)
		return -EINVAL;
	s += strspn(s, " \t");
	if (strcmp(s, "infinity") == 0) {
		*ret_sec = INT64_MAX;
		return 0;
	}
	while (*s) {
		char *end;
		unsigned long long v;
		int64_t mult = 1000000; /* a bare number is seconds */
		size_t ul;

		if (*s < '0' || *s > '9')
			return -EINVAL;
		errno = 0;
		v = strtoull(s, &end, 10);
		if (errno || v > 1000000000ULL)
			return -ERANGE;
		s = end + strspn(end, " \t");
		ul = strspn(s, "abcdefghijklmnopqrstuvwxyz");
		if (ul) {
			bool found = false;
			for (size_t i = 0; i < ELEMENTSOF(units); i++)
				if (strlen(units[i].suffix) == ul && strncmp(s, units[i].suffix, ul) == 0) {
					mult = units[i].usec;
					found = true;
					break;
				}
			if (!found)
				return -EINVAL;
			s += ul;
		}
		if ((int64_t)v > (INT64_MAX - total) / mult)
			return -ERANGE;
		total += (int64_t)v * mult;
		any = true;
		s += strspn(s, " \t");
	}
	if (!any)
		return -EINVAL;
	*ret_sec = total / 1000000;
	return 0;
}

static int parse_logind(struct screenlock_logind *l, const char *buf, const char *name)
{
	bool in_login = false;
	int lineno = 0;

	while (*buf) {
		size_t ll = strcspn(buf, "\n");
		char line[1024], *s, *eq;

		lineno++;
		if (ll >= sizeof(line))
			return -EINVAL;
		memcpy(line, buf, ll);
		line[ll] = '\0';
		buf += ll + (buf[ll] == '\n');
		s = strstrip(line);
		if (!*s || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			in_login = strcmp(s, "[Login]") == 0;
			continue;
		}
		if (!in_login)
			continue;
		eq = strchr(s, '=');
		if (!eq)
			continue; /* systemd warns and ignores such lines */
		*eq = '\0';
		s = strstrip(s);
		eq = strstrip(eq + 1);
		if (strcmp(s, "IdleAction") == 0) {
			strscpy(l->idle_action, sizeof(l->idle_action), *eq ? eq : "ignore");
		} else if (strcmp(s, "IdleActionSec") == 0 || strcmp(s, "StopIdleSessionSec") == 0) {
			int64_t v;
			if (screenlock_parse_timespan(eq, &v) < 0) {
				(void)name;
				return -EINVAL;
			}
			if (strcmp(s, "IdleActionSec") == 0)
				l->idle_action_sec = v;
			else
				l->stop_idle_session_sec = v == INT64_MAX ? 0 : v;
		}
	}
	return 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int screenlock_logind_read(struct screenlock_logind *l)
{
	char p[PATH_MAX];
	char *names[LOGIND_MAX_DROPINS];
	size_t n = 0;
	DIR *d;
	struct dirent *de;
	int r;

	memset(l, 0, sizeof(*l));
	strscpy(l->idle_action, sizeof(l->idle_action), "ignore");
	l->idle_action_sec = 30 * 60; /* systemd's default */
	if (root_path(p, sizeof(p), "/etc/systemd/logind.conf") == 0) {
		_cleanup_free_ char *buf = NULL;
		r = read_file_capped(p, LOGIND_FILE_MAX, &buf, NULL);
		if (r < 0 && r != -ENOENT) {
			l->err = r;
			return 0;
		}
		if (r == 0 && parse_logind(l, buf, p) < 0) {
			l->err = -EINVAL;
			return 0;
		}
	}
	if (root_path(p, sizeof(p), "/etc/systemd/logind.conf.d") < 0)
		return 0;
	d = opendir(p);
	if (!d)
		return 0;
	while ((de = readdir(d)) && n < LOGIND_MAX_DROPINS) {
		size_t len = strlen(de->d_name);
		if (len < 6 || strcmp(de->d_name + len - 5, ".conf") != 0)
			continue;
		names[n] = strdup(de->d_name);
		if (!names[n])
			break;
		n++;
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), name_cmp);
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *buf = NULL;
		char fp[PATH_MAX];

		if (!l->err && xsnprintf(fp, sizeof(fp), "%s/%s", p, names[i]) == 0) {
			r = read_file_capped(fp, LOGIND_FILE_MAX, &buf, NULL);
			if (r < 0)
				l->err = r;
			else if (parse_logind(l, buf, fp) < 0)
				l->err = -EINVAL;
		}
		free(names[i]);
	}
	return 0;
}
