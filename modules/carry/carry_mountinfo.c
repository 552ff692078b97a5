/* modules/carry/carry_mountinfo.c — /proc/self/mountinfo parser (mamori-worker).
 * See carry_mountinfo.h. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "alloc-util.h"
#include "carry_mountinfo.h"
#include "strutil.h"

/* Next space-separated field of [*p, end). */
static bool next_field(const char **p, const char *end, const char **ret, size_t *ret_len)
{
	const char *s = *p, *e;

	while (s < end && *s == ' ')
		s++;
	if (s >= end)
		return false;
	e = s;
	while (e < end && *e != ' ')
		e++;
	*ret = s;
	*ret_len = (size_t)(e - s);
	*p = e;
	return true;
}

/* Decode the kernel's octal escapes (\ooo) of a field into out. */
static int unescape(const char *s, size_t n, char *out, size_t outsz)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c == '\\' && i + 3 < n && s[i + 1] >= '0' && s[i + 1] <= '3' && s[i + 2] >= '0' &&
		    s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
			c = (char)((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
			i += 3;
		}
		if (c == '\0')
			return -EINVAL;
		if (o + 1 >= outsz)
			return -ENAMETOOLONG;
		out[o++] = c;
	}
	out[o] = '\0';
	return 0;
}

static int field_int(const char *s, size_t n, int64_t max, int64_t *ret)
{
	char b[24];

	if (n == 0 || n >= sizeof(b))
		return -EINVAL;
	memcpy(b, s, n);
	b[n] = '\0';
	return parse_int64(b, 0, max, ret);
}

int carry_mountinfo_parse_line(const char *line, size_t len, struct carry_mount *ret)
{
	const char *p = line, *end = line + len, *f, *colon;
	size_t n;
	int64_t id, maj, min;
	struct carry_mount m = {0};
	bool sep = false;
	int r = -EINVAL;

	/* mnt_id parent_id major:minor root mountpoint options [optional...] - fstype source superoptions */
	if (!next_field(&p, end, &f, &n) || field_int(f, n, INT32_MAX, &id) < 0)
		return -EINVAL;
	if (!next_field(&p, end, &f, &n)) /* parent */
		return -EINVAL;
	if (!next_field(&p, end, &f, &n) || !(colon = memchr(f, ':', n)) ||
	    field_int(f, (size_t)(colon - f), 0xfff, &maj) < 0 ||
	    field_int(colon + 1, n - (size_t)(colon - f) - 1, 0xfffff, &min) < 0)
		return -EINVAL;
	if (!next_field(&p, end, &f, &n) || (r = unescape(f, n, m.root, sizeof(m.root))) < 0)
		return r < 0 && r != -EINVAL ? r : -EINVAL;
	if (!next_field(&p, end, &f, &n) || (r = unescape(f, n, m.mountpoint, sizeof(m.mountpoint))) < 0)
		return r < 0 && r != -EINVAL ? r : -EINVAL;
	if (!next_field(&p, end, &f, &n))
		return -EINVAL;
	m.readonly = (n == 2 && memcmp(f, "ro", 2) == 0) || (n > 2 && memcmp(f, "ro,", 3) == 0);
	while (next_field(&p, end, &f, &n))
		if (n == 1 && f[0] == '-') {
			sep = true;
			break;
		}
	if (!sep || !next_field(&p, end, &f, &n) || (r = unescape(f, n, m.fstype, sizeof(m.fstype))) < 0)
		return -EINVAL;
	if (!next_field(&p, end, &f, &n) || (r = unescape(f, n, m.source, sizeof(m.source))) < 0)
		return r == -ENAMETOOLONG ? r : -EINVAL;
	m.mnt_id = (int)id;
	m.dev = makedev((unsigned)maj, (unsigned)min);
	*ret = m;
	return 0;
}

int carry_mountinfo_parse(const char *buf, size_t len, carry_mount_keep_fn keep, void *userdata,
                          struct carry_mount **ret, size_t *ret_n, size_t *ret_skipped)
{
	_cleanup_free_ struct carry_mount *v = NULL;
	size_t n = 0, alloc = 0, skipped = 0;
	const char *p = buf, *end = buf + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
		struct carry_mount m;

		if (l > 0 && carry_mountinfo_parse_line(p, l, &m) == 0) {
			if (keep && !keep(&m, userdata)) {
				p += l + 1;
				continue;
			}
			if (n >= CARRY_MOUNTS_MAX)
				return -E2BIG;
			if (n == alloc) {
				size_t na = alloc ? alloc * 2 : 16;
				struct carry_mount *nv = realloc(v, na * sizeof(*nv));
				if (!nv)
					return -ENOMEM;
				v = nv;
				alloc = na;
			}
			v[n++] = m;
		} else if (l > 0)
			skipped++;
		p += l + 1;
	}
	*ret = TAKE_PTR(v);
	*ret_n = n;
	if (ret_skipped)
		*ret_skipped = skipped;
	return 0;
}

int carry_mountinfo_read_fd(int fd, char **ret, size_t *ret_len)
{
	_cleanup_free_ char *b = NULL;
	size_t len = 0, alloc = 0;

	if (lseek(fd, 0, SEEK_SET) < 0)
		return -errno;
	for (;;) {
		ssize_t k;

		if (len + 1 >= alloc) { /* room for at least one byte and the NUL */
			size_t na = alloc ? alloc * 2 : 16384;
			char *nb;

			if (na > CARRY_MOUNTINFO_MAX_BYTES + 1)
				na = CARRY_MOUNTINFO_MAX_BYTES + 1;
			if (na <= alloc) {
				char probe;

				/* exactly at the cap: fine only if nothing follows */
				do
					k = read(fd, &probe, 1);
				while (k < 0 && errno == EINTR);
				if (k < 0)
					return -errno;
				if (k > 0)
					return -E2BIG;
				break;
			}
			nb = realloc(b, na);
			if (!nb)
				return -ENOMEM;
			b = nb;
			alloc = na;
		}
		k = read(fd, b + len, alloc - len - 1);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (k == 0)
			break;
		len += (size_t)k;
	}
	b[len] = '\0';
	*ret = TAKE_PTR(b);
	*ret_len = len;
	return 0;
}
