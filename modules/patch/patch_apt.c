/* modules/patch/patch_apt.c — apt lists and Release files, streamed line by
 * line under the root prefix (mamori-worker, mamorictl check). */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "alloc-util.h"
#include "patch_apt.h"
#include "patch_version.h"
#include "patch_zlist.h"
#include "rootpath.h"
#include "strutil.h"

#define RELEASE_MAX_BYTES (16LL * 1024 * 1024)

int patch_apt_parse_date(const char *s, int64_t *ret)
{
	struct tm tm = {0};
	const char *end;
	long off = 0;

	/* the weekday is optional in RFC 2822 */
	end = strptime(s, "%a, %d %b %Y %H:%M:%S", &tm);
	if (!end) {
		memset(&tm, 0, sizeof(tm));
		end = strptime(s, "%d %b %Y %H:%M:%S", &tm);
	}
	if (!end)
		return -EINVAL;
	while (*end == ' ')
		end++;
	if (*end == '+' || *end == '-') {
		int h, m;
		if (sscanf(end + 1, "%2d%2d", &h, &m) != 2 || strlen(end) != 5)
			return -EINVAL;
		off = (h * 3600L + m * 60L) * (*end == '-' ? -1 : 1);
	} else if (*end && strcmp(end, "UTC") != 0 && strcmp(end, "GMT") != 0 && strcmp(end, "Z") != 0)
		return -EINVAL;
	*ret = (int64_t)timegm(&tm) - off;
	return 0;
}

bool patch_apt_release_is_security(const struct patch_release *r)
{
	size_t l = strlen(r->suite);

	return (l > 9 && strcmp(r->suite + l - 9, "-security") == 0) ||
	       (l > 8 && strcmp(r->suite + l - 8, "/updates") == 0) || strstr(r->label, "Security") != NULL ||
	       strstr(r->origin, "Security") != NULL;
}

static int release_cb(void *ud, const char *key, const char *value)
{
	struct patch_release *r = ud;
	char *dst = NULL;
	size_t sz = 0;

	if (!key)
		return 1; /* only the first stanza holds the header */
	if (!value)
		return 0;
	if (strcmp(key, "Origin") == 0)
		dst = r->origin, sz = sizeof(r->origin);
	else if (strcmp(key, "Label") == 0)
		dst = r->label, sz = sizeof(r->label);
	else if (strcmp(key, "Suite") == 0)
		dst = r->suite, sz = sizeof(r->suite);
	else if (strcmp(key, "Codename") == 0)
		dst = r->codename, sz = sizeof(r->codename);
	else if (strcmp(key, "Date") == 0)
		return patch_apt_parse_date(value, &r->date) < 0 ? -EBADMSG : 0;
	else if (strcmp(key, "Valid-Until") == 0)
		return patch_apt_parse_date(value, &r->valid_until) < 0 ? -EBADMSG : 0;
	else if (strcmp(key, "MD5Sum") == 0 || strcmp(key, "SHA256") == 0)
		return 1;
	if (dst) {
		_cleanup_free_ char *e = escape_untrusted(value, strlen(value), sz / 2);
		if (!e)
			return -ENOMEM;
		strscpy(dst, sz, e);
	}
	return 0;
}

struct list_ctx {
	struct patch_pkglist *pkgs;
	const struct patch_release *rel;
	char name[PATCH_NAME_MAX], arch[32], version[PATCH_VERSION_MAX + 1];
};

static int set_str(char **dst, const char *v)
{
	char *n = strdup(v);

	if (!n)
		return -ENOMEM;
	free(*dst);
	*dst = n;
	return 0;
}

static int list_cb(void *ud, const char *key, const char *value)
{
	struct list_ctx *c = ud;

	if (!key) {
		size_t it = 0;
		struct patch_pkg *p;
		int r;

		if (!c->name[0] || !c->version[0])
			return -EBADMSG;
		while ((p = patch_pkglist_find(c->pkgs, c->name, c->arch[0] ? c->arch : NULL, &it))) {
			if (patch_version_compare(c->version, p->version) <= 0)
				continue;
			if (!p->candidate || patch_version_compare(c->version, p->candidate) > 0) {
				r = set_str(&p->candidate, c->version);
				if (r < 0)
					return r;
			}
			if (c->rel && c->rel->security &&
			    (!p->security_candidate || patch_version_compare(c->version, p->security_candidate) > 0)) {
				r = set_str(&p->security_candidate, c->version);
				if (r >= 0)
					r = set_str(&p->security_origin, c->rel->suite);
				if (r < 0)
					return r;
			}
		}
		c->name[0] = c->arch[0] = c->version[0] = '\0';
		return 0;
	}
	if (strcmp(key, "Package") == 0) {
		if (!value || strscpy(c->name, sizeof(c->name), value) < 0)
			return -EBADMSG;
	} else if (strcmp(key, "Version") == 0) {
		if (!value || !patch_version_valid(value))
			return -EBADMSG;
		strscpy(c->version, sizeof(c->version), value);
	} else if (strcmp(key, "Architecture") == 0) {
		if (!value || strscpy(c->arch, sizeof(c->arch), value) < 0)
			return -EBADMSG;
	}
	return 0;
}

static bool has_suffix(const char *s, const char *suf)
{
	size_t l = strlen(s), sl = strlen(suf);

	return l >= sl && strcmp(s + l - sl, suf) == 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void note_bad(struct patch_apt_facts *f, const char *file, const struct patch_parse_error *e, int r)
{
	if (f->bad_list[0])
		return;
	if (r == -EBADMSG || r == -EFBIG)
		xsnprintf(f->bad_list, sizeof(f->bad_list), "%.120s:%u: %s", file, e->line, e->what);
	else
		xsnprintf(f->bad_list, sizeof(f->bad_list), "%.120s: %s", file, strerror(-r));
}

int patch_apt_read(struct patch_pkglist *pkgs, struct patch_apt_facts *facts)
{
	_cleanup_free_ struct patch_apt_facts *f = calloc(1, sizeof(*f));
	char dir[PATH_MAX], p[PATH_MAX];
	char *lists[PATCH_MAX_LISTS];
	size_t n_lists = 0, best_len;
	struct dirent *de;
	struct stat st;
	int bad = 0;
	DIR *d;

	if (!f)
		return -ENOMEM;
	if (root_path(p, sizeof(p), PATCH_APT_STAMP) == 0 && stat(p, &st) == 0)
		f->update_stamp = (int64_t)st.st_mtime;
	if (root_path(dir, sizeof(dir), PATCH_APT_LISTS) < 0)
		return -ENAMETOOLONG;
	d = opendir(dir);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		const char *n = de->d_name;
		struct patch_parse_error e = {0};
		int r;

		if (n[0] == '.')
			continue;
		{
			enum patch_zkind zk;
			if (patch_zlist_name(n, &zk)) {
				if (n_lists < PATCH_MAX_LISTS && (lists[n_lists] = strdup(n)))
					n_lists++;
				continue;
			}
		}
		if (!has_suffix(n, "_InRelease") && !has_suffix(n, "_Release"))
			continue;
		if (f->n_releases >= PATCH_MAX_RELEASES)
			continue;
		if (xsnprintf(p, sizeof(p), "%s/%s", dir, n) < 0)
			continue;
		{
			_cleanup_fclose_ FILE *rf = fopen(p, "re");
			struct patch_release *rel = &f->rel[f->n_releases];

			*rel = (struct patch_release){0};
			strscpy(rel->file, sizeof(rel->file), n);
			r = rf ? patch_deb822_parse(rf, RELEASE_MAX_BYTES, true, release_cb, rel, &e) : -errno;
			if (r < 0) {
				note_bad(f, n, &e, r);
				bad = r;
				continue;
			}
			if (rel->date == 0 && fstat(fileno(rf), &st) == 0)
				rel->date = (int64_t)st.st_mtime;
			rel->security = patch_apt_release_is_security(rel);
			f->n_releases++;
		}
	}
	closedir(d);
	/* deterministic order: the first malformed file reported is stable */
	qsort(lists, n_lists, sizeof(char *), name_cmp);
	for (size_t i = 0; i < n_lists; i++) {
		struct list_ctx c = {.pkgs = pkgs};
		struct patch_parse_error e = {0};
		_cleanup_fclose_ FILE *lf = NULL;
		int r;

		best_len = 0;
		for (size_t j = 0; j < f->n_releases; j++) {
			const char *rn = f->rel[j].file;
			size_t pl =
			        strlen(rn) - (has_suffix(rn, "_InRelease") ? strlen("InRelease") : strlen("Release"));

			if (strncmp(lists[i], rn, pl) == 0 && pl > best_len) {
				best_len = pl;
				c.rel = &f->rel[j];
			}
		}
		if (!c.rel)
			f->n_orphan_lists++;
		{
			enum patch_zkind zk = PATCH_Z_NONE;
			patch_zlist_name(lists[i], &zk);
			r = xsnprintf(p, sizeof(p), "%s/%s", dir, lists[i]);
			if (r == 0) {
				lf = patch_zlist_open(p, zk);
				r = lf ? patch_deb822_parse(lf, PATCH_LIST_MAX_BYTES, false, list_cb, &c, &e) : -errno;
			}
			if (r < 0) {
				/* unreadable, corrupt or in a compression not read here:
				 * its updates are unknown, so the check cannot pass */
				note_bad(f, lists[i], &e, r);
				bad = r;
			} else
				f->n_lists++;
		}
		free(lists[i]);
	}
	*facts = *f;
	return bad;
}
