/* modules/posture/software.c — software inventory and allow/deny policy,
 * SOFT-1 (mamori-worker). Reads dpkg's status under the root prefix through the
 * patch module's streaming parser; keeps the last inventory in state_dir. */
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "alloc-util.h"
#include "config.h"
#include "fileio.h"
#include "log.h"
#include "rootpath.h"
#include "software.h"
#include "strutil.h"
#include "json-util.h"

#define INVENTORY_FILE "software/packages"
#define INVENTORY_MAX  (64 * 1024 * 1024)

void software_settings_done(struct software_settings *s)
{
	for (size_t i = 0; i < s->n_deny; i++)
		free(s->deny[i]);
	for (size_t i = 0; i < s->n_allow; i++)
		free(s->allow[i]);
	s->n_deny = s->n_allow = 0;
}

static int patterns(const cJSON *sec, const char *key, char **out, size_t *n)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(sec, key), *v;

	if (!a)
		return 0;
	if (!cJSON_IsArray(a))
		return -EINVAL;
	cJSON_ArrayForEach(v, a)
	{
		if (*n >= SOFTWARE_PATTERNS_MAX || !cJSON_IsString(v) || !v->valuestring[0] ||
		    strlen(v->valuestring) > 256)
			return -EINVAL;
		out[*n] = strdup(v->valuestring);
		if (!out[*n])
			return -ENOMEM;
		(*n)++;
	}
	return 0;
}

int software_settings_from_json(const cJSON *sec, struct software_settings *ret)
{
	struct software_settings s = {.mode = SOFTWARE_DENYLIST};
	const cJSON *m;
	int r;

	if (!sec) {
		*ret = s;
		return 0;
	}
	if (!cJSON_IsObject(sec))
		return -EINVAL;
	m = cJSON_GetObjectItemCaseSensitive(sec, "mode");
	if (m) {
		if (cJSON_IsString(m) && strcmp(m->valuestring, "denylist") == 0)
			s.mode = SOFTWARE_DENYLIST;
		else if (cJSON_IsString(m) && strcmp(m->valuestring, "allowlist") == 0)
			s.mode = SOFTWARE_ALLOWLIST;
		else
			return -EINVAL;
	}
	r = patterns(sec, "deny", s.deny, &s.n_deny);
	if (r >= 0)
		r = patterns(sec, "allow", s.allow, &s.n_allow);
	if (r < 0) {
		software_settings_done(&s);
		return r;
	}
	*ret = s;
	return 0;
}

static const char *match_any(char *const *pat, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (fnmatch(pat[i], name, 0) == 0)
			return pat[i];
	return NULL;
}

int software_evaluate(const struct software_settings *s, const struct patch_pkglist *pkgs, struct check_report *rep)
{
	struct check_result *r = check_report_add(rep, "software", "software.policy", "SOFT-1");
	char list[900];
	size_t o = 0, bad = 0;

	if (!r)
		return -ENOMEM;
	list[0] = '\0';
	check_result_evidence(r, "mode", "%s", s->mode == SOFTWARE_ALLOWLIST ? "allowlist" : "denylist");
	check_result_evidence(r, "installed", "%zu", pkgs->n);
	for (size_t i = 0; i < pkgs->n; i++) {
		const char *name = pkgs->p[i].name;
		bool violates;

		/* an explicit deny wins in both modes */
		violates = match_any(s->deny, s->n_deny, name) != NULL;
		if (!violates && s->mode == SOFTWARE_ALLOWLIST)
			violates = match_any(s->allow, s->n_allow, name) == NULL;
		if (!violates || (i > 0 && strcmp(pkgs->p[i - 1].name, name) == 0))
			continue;
		bad++;
		if (o < sizeof(list)) {
			const char *stt = pkgs->p[i].state;
			bool note = stt && strcmp(stt, "installed") != 0;
			int w = snprintf(list + o, sizeof(list) - o, "%s%s %s%s%s%s", o ? ", " : "", name,
			                 pkgs->p[i].version, note ? " (" : "", note ? stt : "", note ? ")" : "");
			o = (w < 0 || (size_t)w >= sizeof(list) - o) ? sizeof(list) : o + (size_t)w;
		}
	}
	check_result_evidence(r, "violations", "%zu", bad);
	if (bad) {
		check_result_evidence(r, "packages", "%s", list);
		check_result_set(r, CHECK_FAIL, "許可されていないソフトウェアがインストールされています",
		                 "Software that the policy does not permit is installed");
		check_result_remedy(r,
		                    "該当パッケージを削除するか、必要なものは情報セキュリティ管理者の承認を得て"
		                    "ポリシーに追加してください。",
		                    "Remove the packages, or have the information security manager approve them and "
		                    "add them to the policy.");
	} else {
		check_result_set(r, CHECK_PASS, "インストール済みソフトウェアはポリシーに適合しています",
		                 "Installed software complies with the policy");
	}
	return 0;
}

/* ---- change tracking ----------------------------------------------------- */

struct inv_line {
	const char *name, *arch, *version; /* point into the loaded buffer */
};

static int inv_cmp(const struct inv_line *a, const struct patch_pkg *b)
{
	int r = strcmp(a->name, b->name);

	return r ? r : strcmp(a->arch, b->arch);
}

/* Split "name\tarch\tversion\n" lines in place (sorted as written). */
static int inv_parse(char *buf, struct inv_line **ret, size_t *ret_n)
{
	_cleanup_free_ struct inv_line *v = NULL;
	size_t n = 0, a = 0;

	for (char *p = buf; *p;) {
		char *nl = strchr(p, '\n'), *t1, *t2;

		if (nl)
			*nl = '\0';
		t1 = strchr(p, '\t');
		t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
		if (!t2)
			return -EBADMSG;
		*t1 = *t2 = '\0';
		if (n == a) {
			size_t na = a ? a * 2 : 256;
			struct inv_line *nv = reallocarray(v, na, sizeof(*nv));
			if (!nv)
				return -ENOMEM;
			v = nv;
			a = na;
		}
		v[n++] = (struct inv_line){p, t1 + 1, t2 + 1};
		p = nl ? nl + 1 : p + strlen(p);
	}
	*ret = TAKE_PTR(v);
	*ret_n = n;
	return 0;
}

static int add_entry(cJSON *arr, size_t *count, const char *name, const char *arch, const char *ver, const char *old)
{
	cJSON *o;

	if ((*count)++ >= SOFTWARE_EVENT_MAX)
		return 0;
	o = cJSON_CreateObject();
	if (!o || !cJSON_AddStringToObject(o, "name", name) || !cJSON_AddStringToObject(o, "arch", arch) ||
	    !cJSON_AddStringToObject(o, "version", ver) || (old && !cJSON_AddStringToObject(o, "old_version", old))) {
		cJSON_Delete(o);
		return -ENOMEM;
	}
	cJSON_AddItemToArray(arr, o);
	return 0;
}

static int store(const char *path, const char *dir, const struct patch_pkglist *pkgs)
{
	_cleanup_free_ char *out = NULL;
	size_t len = 0, cap = 0;
	int r;

	for (size_t i = 0; i < pkgs->n; i++) {
		size_t need = strlen(pkgs->p[i].name) + strlen(pkgs->p[i].arch) + strlen(pkgs->p[i].version) + 4;
		if (len + need >= cap) {
			size_t nc = cap ? cap * 2 : 65536;
			char *nb;
			while (nc < len + need + 1)
				nc *= 2;
			nb = realloc(out, nc);
			if (!nb)
				return -ENOMEM;
			out = nb;
			cap = nc;
		}
		r = xsnprintf(out + len, cap - len, "%s\t%s\t%s\n", pkgs->p[i].name, pkgs->p[i].arch,
		              pkgs->p[i].version);
		if (r < 0)
			return r;
		len += need - 1;
	}
	r = mkdir_p(dir, 0700);
	if (r < 0)
		return r;
	return write_file_atomic(path, out ? out : "", len, 0600);
}

int software_track_changes(const char *state_dir, const struct patch_pkglist *pkgs, struct mamori_ctx *ctx)
{
	_cleanup_(cJSON_Deletep) cJSON *pl = NULL;
	_cleanup_free_ struct inv_line *old = NULL;
	_cleanup_free_ char *buf = NULL;
	char path[PATH_MAX], dir[PATH_MAX];
	size_t n_old = 0, i = 0, j = 0, n_add = 0, n_rm = 0, n_ch = 0;
	cJSON *added, *removed, *changed;
	int r;

	if (xsnprintf(path, sizeof(path), "%s/%s", state_dir, INVENTORY_FILE) < 0 ||
	    xsnprintf(dir, sizeof(dir), "%s/software", state_dir) < 0)
		return -ENAMETOOLONG;
	r = read_file_capped(path, INVENTORY_MAX, &buf, NULL);
	if (r == -ENOENT)
		return store(path, dir, pkgs); /* first inventory: the baseline */
	if (r < 0 || inv_parse(buf, &old, &n_old) < 0) {
		/* a damaged record is replaced; it is not evidence of a change */
		int s = store(path, dir, pkgs);
		return s < 0 ? s : 0;
	}
	pl = cJSON_CreateObject();
	if (!pl || !(added = cJSON_AddArrayToObject(pl, "added")) ||
	    !(removed = cJSON_AddArrayToObject(pl, "removed")) || !(changed = cJSON_AddArrayToObject(pl, "changed")))
		return -ENOMEM;
	/* both lists are sorted by name, arch: one merge pass */
	while (i < n_old || j < pkgs->n) {
		int c = i >= n_old ? 1 : j >= pkgs->n ? -1 : inv_cmp(&old[i], &pkgs->p[j]);

		if (c < 0) {
			r = add_entry(removed, &n_rm, old[i].name, old[i].arch, old[i].version, NULL);
			i++;
		} else if (c > 0) {
			r = add_entry(added, &n_add, pkgs->p[j].name, pkgs->p[j].arch, pkgs->p[j].version, NULL);
			j++;
		} else {
			r = 0;
			if (strcmp(old[i].version, pkgs->p[j].version) != 0)
				r = add_entry(changed, &n_ch, pkgs->p[j].name, pkgs->p[j].arch, pkgs->p[j].version,
				              old[i].version);
			i++;
			j++;
		}
		if (r < 0)
			return r;
	}
	if (n_add + n_rm + n_ch == 0)
		return 0;
	if (n_add > SOFTWARE_EVENT_MAX || n_rm > SOFTWARE_EVENT_MAX || n_ch > SOFTWARE_EVENT_MAX)
		cJSON_AddTrueToObject(pl, "truncated");
	cJSON_AddNumberToObject(pl, "n_added", (double)n_add);
	cJSON_AddNumberToObject(pl, "n_removed", (double)n_rm);
	cJSON_AddNumberToObject(pl, "n_changed", (double)n_ch);
	/* store only after the event is durable, so a lost event is retried */
	r = mamori_emit(ctx, "posture.changed", SEV_NOTICE, "SOFT-1", pl);
	if (r < 0)
		return r;
	r = store(path, dir, pkgs);
	if (r < 0)
		return r;
	return (int)(n_add + n_rm + n_ch);
}

/* ---- the module ---------------------------------------------------------- */

struct software_state {
	struct mamori_ctx *ctx;
	struct software_settings settings;
	char state_dir[PATH_MAX];
};

static int software_load(const cJSON *section, void *settings)
{
	int r = software_settings_from_json(section, settings);

	return r < 0 ? log_error_errno(r, "software: bad policy section") : 0;
}

static void software_release(void *settings)
{
	software_settings_done(settings);
}

static int software_open(struct mamori_ctx *ctx, void *state)
{
	struct software_state *st = state;

	st->ctx = ctx;
	return mamori_state_dir(ctx, st->state_dir, sizeof(st->state_dir));
}

static int software_check(void *state, struct check_report *rep)
{
	struct software_state *st = state;
	struct patch_pkglist pkgs = {0};
	struct patch_parse_error e = {0};
	char p[PATH_MAX];
	int r;

	r = root_path(p, sizeof(p), PATCH_DPKG_STATUS);
	if (r < 0)
		return r;
	/* SOFT-1: unpacked, half-configured, triggers-pending… count: the
	 * package's files are on disk (issue 21) */
	r = patch_dpkg_read_present(p, &pkgs, &e);
	if (r == -ENOENT) {
		struct check_result *res = check_report_add(rep, "software", "software.policy", "SOFT-1");
		if (!res)
			return -ENOMEM;
		check_result_set(res, CHECK_NOT_APPLICABLE, "dpkg のパッケージ情報がありません (未対応の OS)",
		                 "No dpkg package database (unsupported OS)");
		return 0;
	}
	if (r < 0) {
		struct check_result *res = check_report_add(rep, "software", "software.policy", "SOFT-1");
		if (!res)
			return -ENOMEM;
		check_result_evidence(res, "error", "%s", r == -EBADMSG ? e.what : strerror(-r));
		if (r == -EBADMSG)
			check_result_evidence(res, "line", "%u", e.line);
		check_result_set(res, CHECK_ERROR, "dpkg のパッケージ情報を読み取れませんでした",
		                 "The dpkg package database could not be read");
		check_result_remedy(res, "dpkg --audit を実行してパッケージ情報を修復してください。",
		                    "Run dpkg --audit to repair the package database.");
		return 0;
	}
	r = software_track_changes(st->state_dir, &pkgs, st->ctx);
	if (r < 0)
		log_warning_errno(r, "software: cannot record inventory changes");
	r = software_evaluate(&st->settings, &pkgs, rep);
	patch_pkglist_free(&pkgs);
	return r;
}

const struct mamori_module software_module = {
        .name = "software",
        .caps = MAMORI_CAP_CHECK,
        .section = "software",
        .settings_size = sizeof(struct software_settings),
        .settings_load = software_load,
        .settings_done = software_release,
        .state_size = sizeof(struct software_state),
        .settings_offset = offsetof(struct software_state, settings),
        .open = software_open,
        .check = software_check,
};
