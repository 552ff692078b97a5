/* modules/patch/patch_dpkg.c — deb822 streaming parser and the installed
 * package list from dpkg's status file (mamori-worker, mamorictl check). */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/types.h>
#include <string.h>

#include "alloc-util.h"
#include "patch_dpkg.h"
#include "patch_version.h"
#include "strutil.h"

static void set_err(struct patch_parse_error *err, unsigned line, const char *what)
{
	if (!err)
		return;
	err->line = line;
	strscpy(err->what, sizeof(err->what), what);
}

/* Read one line (without '\n') into buf. Returns its length, -1 at EOF,
 * -EBADMSG on a NUL byte, -EFBIG past max bytes. *overlong is set when the line was cut at bufsz-1
 * bytes (the rest is consumed). *total counts every byte read. */
static ssize_t read_line(FILE *f, char *buf, size_t bufsz, bool *overlong, int64_t *total, int64_t max)
{
	size_t l = 0;
	int c;

	*overlong = false;
	while ((c = getc_unlocked(f)) != EOF) {
		if (++(*total) > max)
			return -EFBIG;
		if (c == '\n')
			break;
		if (c == '\0')
			return -EBADMSG;
		if (l < bufsz - 1)
			buf[l++] = (char)c;
		else
			*overlong = true;
	}
	if (c == EOF && l == 0 && !*overlong)
		return -1;
	buf[l] = '\0';
	return (ssize_t)l;
}

int patch_deb822_parse(FILE *f, int64_t max_bytes, bool pgp, patch_deb822_cb cb, void *userdata,
                       struct patch_parse_error *err)
{
	_cleanup_free_ char *buf = malloc(PATCH_LINE_MAX);
	bool in_stanza = false, armour_header = false;
	int64_t total = 0;
	unsigned line = 0;
	int r;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		bool overlong;
		ssize_t n = read_line(f, buf, PATCH_LINE_MAX, &overlong, &total, max_bytes);
		size_t l;
		char *colon, *key;

		if (n == -1)
			break;
		line++;
		if (n == -EFBIG) {
			set_err(err, line, "file larger than the cap");
			return -EFBIG;
		}
		if (n < 0) {
			set_err(err, line, "NUL byte");
			return -EBADMSG;
		}
		l = (size_t)n;
		if (l > 0 && buf[l - 1] == '\r')
			buf[--l] = '\0';
		if (pgp) {
			if (startswith(buf, "-----BEGIN PGP SIGNED MESSAGE-----")) {
				armour_header = true;
				continue;
			}
			if (armour_header) {
				armour_header = l != 0; /* "Hash:" lines end at a blank line */
				continue;
			}
			if (startswith(buf, "-----BEGIN PGP SIGNATURE-----"))
				break;
		}
		if (l == 0) {
			if (in_stanza) {
				in_stanza = false;
				r = cb(userdata, NULL, NULL);
				if (r != 0)
					return r < 0 ? r : 0;
			}
			continue;
		}
		if (buf[0] == ' ' || buf[0] == '\t') {
			if (!in_stanza) {
				set_err(err, line, "continuation line outside a stanza");
				return -EBADMSG;
			}
			continue;
		}
		if (buf[0] == '#')
			continue;
		colon = strchr(buf, ':');
		if (!colon || colon == buf) {
			set_err(err, line, overlong ? "line too long" : "line is not 'Field: value'");
			return -EBADMSG;
		}
		*colon = '\0';
		key = buf;
		for (char *c = key; *c; c++)
			if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f) {
				set_err(err, line, "bad field name");
				return -EBADMSG;
			}
		in_stanza = true;
		r = cb(userdata, key, overlong ? NULL : strstrip(colon + 1));
		if (r != 0) {
			if (r < 0)
				set_err(err, line, "bad value");
			return r < 0 ? r : 0;
		}
	}
	if (ferror(f))
		return -EIO;
	if (in_stanza) {
		r = cb(userdata, NULL, NULL);
		if (r < 0)
			set_err(err, line, "bad value");
		if (r < 0)
			return r;
	}
	return 0;
}

void patch_pkglist_free(struct patch_pkglist *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++) {
		free(l->p[i].name);
		free(l->p[i].arch);
		free(l->p[i].version);
		free(l->p[i].candidate);
		free(l->p[i].security_candidate);
		free(l->p[i].security_origin);
	}
	free(l->p);
	l->p = NULL;
	l->n = 0;
}

struct status_ctx {
	struct patch_pkglist list;
	size_t alloc;
	char name[PATCH_NAME_MAX], arch[32], version[PATCH_VERSION_MAX + 1];
	bool installed, bad;
	bool present_too; /* patch_dpkg_read_present: files on disk count */
	bool journal;     /* an updates/ file: every stanza is kept, state says */
	const char *state;
};

/* dpkg's package states (dpkg(1), "Package states"): whether the package's
 * files may be on disk. One table for both readers. */
static const struct {
	const char *name;
	bool on_disk;
} dpkg_states[] = {
        {"not-installed", false},  {"config-files", false},    {"half-installed", true},   {"unpacked", true},
        {"half-configured", true}, {"triggers-awaited", true}, {"triggers-pending", true}, {"installed", true},
};

static bool valid_name(const char *s)
{
	size_t l = strlen(s);

	if (l < 1 || l >= PATCH_NAME_MAX)
		return false;
	for (const char *c = s; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || strchr("+-.", *c)))
			return false;
	return true;
}

static int status_cb(void *ud, const char *key, const char *value)
{
	struct status_ctx *c = ud;

	if (!key) {
		struct patch_pkg *p;

		if (!c->name[0]) {
			c->bad = true;
			return -EBADMSG; /* a stanza without Package */
		}
		if (c->installed || (c->journal && c->state)) {
			if (!c->version[0] && c->installed)
				return -EBADMSG;
			if (c->list.n >= PATCH_MAX_PACKAGES)
				return -E2BIG;
			if (c->list.n == c->alloc) {
				size_t na = c->alloc ? c->alloc * 2 : 256;
				struct patch_pkg *np = reallocarray(c->list.p, na, sizeof(*np));
				if (!np)
					return -ENOMEM;
				c->list.p = np;
				c->alloc = na;
			}
			p = &c->list.p[c->list.n];
			*p = (struct patch_pkg){0};
			p->name = strdup(c->name);
			p->arch = strdup(c->arch[0] ? c->arch : "all");
			p->version = strdup(c->version[0] ? c->version : "0");
			p->state = c->installed ? c->state : NULL; /* journal: NULL = the package is gone */
			c->list.n++;
			if (!p->name || !p->arch || !p->version)
				return -ENOMEM;
		}
		c->name[0] = c->arch[0] = c->version[0] = '\0';
		c->installed = false;
		c->state = NULL;
		return 0;
	}
	if (strcmp(key, "Package") == 0) {
		if (!value || !valid_name(value))
			return -EBADMSG;
		strscpy(c->name, sizeof(c->name), value);
	} else if (strcmp(key, "Version") == 0) {
		if (!value || !patch_version_valid(value))
			return -EBADMSG;
		strscpy(c->version, sizeof(c->version), value);
	} else if (strcmp(key, "Architecture") == 0) {
		if (!value || strscpy(c->arch, sizeof(c->arch), value) < 0)
			return -EBADMSG;
	} else if (strcmp(key, "Status") == 0) {
		const char *last;

		if (!value)
			return -EBADMSG;
		/* "want flag state": patch_dpkg_read counts state "installed"
		 * only; patch_dpkg_read_present every state with files on disk */
		last = strrchr(value, ' ');
		if (!last)
			return -EBADMSG;
		c->state = NULL;
		for (size_t i = 0; i < ELEMENTSOF(dpkg_states); i++)
			if (strcmp(last + 1, dpkg_states[i].name) == 0) {
				c->state = dpkg_states[i].name;
				c->installed = c->present_too ? dpkg_states[i].on_disk
				                              : strcmp(dpkg_states[i].name, "installed") == 0;
			}
		if (!c->state)
			return -EBADMSG; /* a state dpkg does not define */
	}
	return 0;
}

static int pkg_cmp(const void *a, const void *b)
{
	const struct patch_pkg *x = a, *y = b;
	int r = strcmp(x->name, y->name);

	return r ? r : strcmp(x->arch, y->arch);
}

static int parse_one(const char *path, struct status_ctx *c, struct patch_parse_error *err)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	int r;

	if (!f)
		return -errno;
	r = patch_deb822_parse(f, PATCH_STATUS_MAX_BYTES, false, status_cb, c, err);
	if (r < 0)
		patch_pkglist_free(&c->list);
	return r;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* dpkg's database is the status file plus its journal: updates/NNNN files
 * (left by a dpkg run that did not finish), applied in order, each stanza
 * replacing the package's record (dpkg's modstatdb). */
static int apply_journal(const char *status_path, struct status_ctx *c, struct patch_parse_error *err)
{
	char dir[PATH_MAX], *slash, *names[1024];
	struct dirent *de;
	size_t n = 0;
	DIR *d;
	int r = 0;

	if (strscpy(dir, sizeof(dir), status_path) < 0 || !(slash = strrchr(dir, '/')) ||
	    xsnprintf(slash, sizeof(dir) - (size_t)(slash - dir), "/updates") < 0)
		return -ENAMETOOLONG;
	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		if (!de->d_name[0] || strspn(de->d_name, "0123456789") != strlen(de->d_name))
			continue; /* tmp.i and others are not journal entries */
		if (n >= ELEMENTSOF(names) || !(names[n] = strdup(de->d_name))) {
			r = n >= ELEMENTSOF(names) ? -E2BIG : -ENOMEM;
			break;
		}
		n++;
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), name_cmp); /* same width: text order is numeric order */
	for (size_t i = 0; i < n && r >= 0; i++) {
		struct status_ctx j = {.present_too = c->present_too, .journal = true};
		char p[PATH_MAX];

		r = xsnprintf(p, sizeof(p), "%s/%s", dir, names[i]);
		if (r >= 0)
			r = parse_one(p, &j, err);
		if (r == -ENOENT)
			r = 0; /* merged by a dpkg run meanwhile */
		for (size_t k = 0; r >= 0 && k < j.list.n; k++) {
			struct patch_pkg *u = &j.list.p[k];
			/* drop the package's old record(s), then add the new one if it counts */
			for (size_t m = 0; m < c->list.n;)
				if (!strcmp(c->list.p[m].name, u->name) &&
				    (!strcmp(c->list.p[m].arch, u->arch) || !strcmp(u->arch, "all"))) {
					free(c->list.p[m].name);
					free(c->list.p[m].arch);
					free(c->list.p[m].version);
					c->list.p[m] = c->list.p[--c->list.n];
				} else
					m++;
			if (!u->state)
				continue;
			if (c->list.n == c->alloc) {
				size_t na = c->alloc ? c->alloc * 2 : 256;
				struct patch_pkg *np = reallocarray(c->list.p, na, sizeof(*np));
				if (!np) {
					r = -ENOMEM;
					break;
				}
				c->list.p = np;
				c->alloc = na;
			}
			c->list.p[c->list.n++] = *u;
			*u = (struct patch_pkg){0};
		}
		patch_pkglist_free(&j.list);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	return r < 0 ? r : 0;
}

static int dpkg_read(const char *path, bool present_too, struct patch_pkglist *ret, struct patch_parse_error *err)
{
	struct status_ctx c = {.present_too = present_too};
	int r;

	r = parse_one(path, &c, err);
	if (r < 0)
		return r;
	r = apply_journal(path, &c, err);
	if (r < 0) {
		patch_pkglist_free(&c.list);
		return r;
	}
	if (c.list.n)
		qsort(c.list.p, c.list.n, sizeof(*c.list.p), pkg_cmp);
	*ret = c.list;
	return 0;
}

int patch_dpkg_read(const char *path, struct patch_pkglist *ret, struct patch_parse_error *err)
{
	return dpkg_read(path, false, ret, err);
}

int patch_dpkg_read_present(const char *path, struct patch_pkglist *ret, struct patch_parse_error *err)
{
	return dpkg_read(path, true, ret, err);
}

static bool arch_match(const char *a, const char *b)
{
	return !a || !b || strcmp(a, b) == 0 || strcmp(a, "all") == 0 || strcmp(b, "all") == 0;
}

struct patch_pkg *patch_pkglist_find(const struct patch_pkglist *l, const char *name, const char *arch, size_t *iter)
{
	size_t lo = 0, hi = l->n;

	/* lower bound of name, then walk the entries of that name */
	if (!iter || *iter == 0) {
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (strcmp(l->p[mid].name, name) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
	} else
		lo = *iter;
	for (; lo < l->n && strcmp(l->p[lo].name, name) == 0; lo++)
		if (arch_match(l->p[lo].arch, arch)) {
			if (iter)
				*iter = lo + 1;
			return &l->p[lo];
		}
	return NULL;
}
