/* modules/patch/patch.c — the `patch` module (mamori-worker): gathers dpkg/apt or
 * dnf facts, the OS release and reboot-required under the root prefix,
 * tracks since when security updates are pending (state_dir) and evaluates
 * PATCH-1 and PATCH-2. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alloc-util.h"
#include "config.h"
#include "fileio.h"
#include "log.h"
#include "patch.h"
#include "patch_version.h"
#include "rootpath.h"
#include "strutil.h"

#define SEC_STATE_FILE     "patch/security-first-seen"
#define SEC_STATE_MAX      (8 * 1024 * 1024)
#define OS_RELEASE_MAX     (64 * 1024)
#define EVIDENCE_NAMES_MAX 20

void patch_settings_defaults(struct patch_settings *s)
{
	memset(s, 0, sizeof(*s));
	s->max_pending_security = 0;
	s->max_security_age_days = 14;
	s->max_list_age_days = 7;
}

static int json_int(const cJSON *o, const char *key, int64_t min, int64_t max, int64_t *ret)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!v)
		return 0;
	if (!cJSON_IsNumber(v) || v->valuedouble < (double)min || v->valuedouble > (double)max ||
	    v->valuedouble != (double)(int64_t)v->valuedouble)
		return -EINVAL;
	*ret = (int64_t)v->valuedouble;
	return 0;
}

static int parse_day(const char *s, int64_t *ret_end)
{
	struct tm tm = {0};
	const char *e;

	if (strlen(s) != 10)
		return -EINVAL;
	e = strptime(s, "%Y-%m-%d", &tm);
	if (!e || *e)
		return -EINVAL;
	*ret_end = (int64_t)timegm(&tm) + 86400; /* support covers the whole day */
	return 0;
}

int patch_settings_from_json(const cJSON *sec, struct patch_settings *ret)
{
	struct patch_settings s;
	const cJSON *eol, *v;

	patch_settings_defaults(&s);
	if (!sec) {
		*ret = s;
		return 0;
	}
	if (!cJSON_IsObject(sec))
		return -EINVAL;
	if (json_int(sec, "max_pending_security", 0, 100000, &s.max_pending_security) < 0 ||
	    json_int(sec, "max_security_age_days", 0, 365, &s.max_security_age_days) < 0 ||
	    json_int(sec, "max_list_age_days", 1, 365, &s.max_list_age_days) < 0)
		return -EINVAL;
	eol = cJSON_GetObjectItemCaseSensitive(sec, "eol");
	if (eol) {
		if (!cJSON_IsObject(eol))
			return -EINVAL;
		cJSON_ArrayForEach(v, eol)
		{
			struct patch_eol *e;

			if (s.n_eol >= PATCH_EOL_MAX || !cJSON_IsString(v))
				return -EINVAL;
			e = &s.eol[s.n_eol];
			if (strscpy(e->release, sizeof(e->release), v->string) < 0 ||
			    strscpy(e->date, sizeof(e->date), v->valuestring) < 0 || parse_day(e->date, &e->end) < 0)
				return -EINVAL;
			s.n_eol++;
		}
	}
	*ret = s;
	return 0;
}

static void unquote(char *v, char *out, size_t sz)
{
	size_t l = strlen(v);

	if (l >= 2 && (v[0] == '"' || v[0] == '\'') && v[l - 1] == v[0]) {
		v[l - 1] = '\0';
		v++;
	}
	strscpy(out, sz, v);
}

int patch_parse_os_release(const char *buf, struct patch_facts *f)
{
	const char *p = buf;

	f->os_id[0] = f->os_version_id[0] = f->os_pretty[0] = '\0';
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t ll = nl ? (size_t)(nl - p) : strlen(p);
		char line[512], *s, *eq;

		if (ll >= sizeof(line))
			ll = sizeof(line) - 1;
		memcpy(line, p, ll);
		line[ll] = '\0';
		p = nl ? nl + 1 : p + strlen(p);
		s = strstrip(line);
		if (*s == '#' || !(eq = strchr(s, '=')))
			continue;
		*eq = '\0';
		if (strcmp(s, "ID") == 0)
			unquote(eq + 1, f->os_id, sizeof(f->os_id));
		else if (strcmp(s, "VERSION_ID") == 0)
			unquote(eq + 1, f->os_version_id, sizeof(f->os_version_id));
		else if (strcmp(s, "PRETTY_NAME") == 0)
			unquote(eq + 1, f->os_pretty, sizeof(f->os_pretty));
	}
	return f->os_id[0] ? 0 : -EBADMSG;
}

static void gather_os(struct patch_facts *f)
{
	static const char *const files[] = {"/etc/os-release", "/usr/lib/os-release"};
	char p[PATH_MAX];

	f->os_err = -ENOENT;
	for (size_t i = 0; i < ELEMENTSOF(files); i++) {
		_cleanup_free_ char *buf = NULL;
		int r;

		if (root_path(p, sizeof(p), files[i]) < 0)
			continue;
		r = read_file_capped(p, OS_RELEASE_MAX, &buf, NULL);
		if (r == -ENOENT)
			continue;
		f->os_err = r < 0 ? r : patch_parse_os_release(buf, f);
		return;
	}
}

static void gather_reboot(struct patch_facts *f)
{
	static const char *const flags[] = {"/run/reboot-required", "/var/run/reboot-required"};
	char p[PATH_MAX];

	for (size_t i = 0; i < ELEMENTSOF(flags); i++) {
		_cleanup_free_ char *pkgs = NULL;
		size_t len;

		if (root_path(p, sizeof(p), flags[i]) < 0 || access(p, F_OK) < 0)
			continue;
		f->reboot_required = true;
		if (root_pathf(p, sizeof(p), "%s.pkgs", flags[i]) == 0 &&
		    read_file_capped(p, 64 * 1024, &pkgs, &len) == 0) {
			_cleanup_free_ char *e = NULL;

			for (char *c = pkgs; *c; c++)
				if (*c == '\n')
					*c = ' ';
			e = escape_untrusted(strstrip(pkgs), strlen(strstrip(pkgs)), sizeof(f->reboot_pkgs) / 2);
			if (e)
				strscpy(f->reboot_pkgs, sizeof(f->reboot_pkgs), e);
		}
		return;
	}
}

void patch_gather(struct patch_facts *f)
{
	char p[PATH_MAX], dnf[PATH_MAX];
	struct stat st;

	memset(f, 0, sizeof(*f));
	gather_os(f);
	gather_reboot(f);
	if (root_path(p, sizeof(p), PATCH_DPKG_STATUS) == 0 && stat(p, &st) == 0) {
		f->backend = PATCH_BACKEND_DPKG;
		f->status_mtime = (int64_t)st.st_mtime;
		f->pkg_err = patch_dpkg_read(p, &f->pkgs, &f->pkg_perr);
		if (f->pkg_err == 0)
			f->apt_err = patch_apt_read(&f->pkgs, &f->apt);
	} else if (root_path(dnf, sizeof(dnf), PATCH_DNF_PATH) == 0 && access(dnf, X_OK) == 0) {
		f->backend = PATCH_BACKEND_DNF;
		f->dnf_err = patch_dnf_gather(&f->dnf);
	}
}

void patch_facts_done(struct patch_facts *f)
{
	patch_pkglist_free(&f->pkgs);
}

/* ---- since when are security updates pending ---------------------------- */

static int64_t lookup_seen(const char *state, const char *key)
{
	size_t kl = strlen(key);

	for (const char *p = state; p && *p;) {
		const char *nl = strchr(p, '\n');
		int64_t v;
		char num[24];
		size_t vl;

		if (strncmp(p, key, kl) == 0 && p[kl] == '\t') {
			vl = nl ? (size_t)(nl - p - kl - 1) : strlen(p + kl + 1);
			if (vl < sizeof(num)) {
				memcpy(num, p + kl + 1, vl);
				num[vl] = '\0';
				if (parse_int64(num, 1, INT64_MAX, &v) == 0)
					return v;
			}
		}
		p = nl ? nl + 1 : NULL;
	}
	return 0;
}

int patch_track_security(const char *state_dir, struct patch_facts *f, time_t now)
{
	_cleanup_free_ char *old = NULL, *out = NULL;
	char p[PATH_MAX], dir[PATH_MAX];
	size_t olen = 0, ol = 0, oa = 0;
	int64_t oldest = 0;
	int r;

	if (xsnprintf(p, sizeof(p), "%s/%s", state_dir, SEC_STATE_FILE) < 0 ||
	    xsnprintf(dir, sizeof(dir), "%s/patch", state_dir) < 0)
		return -ENAMETOOLONG;
	r = read_file_capped(p, SEC_STATE_MAX, &old, &olen);
	if (r < 0 && r != -ENOENT && r != -EFBIG)
		return r;
	for (size_t i = 0;; i++) {
		char key[PATCH_NAME_MAX + 32 + PATCH_VERSION_MAX + 4];
		int64_t first;
		int n;

		if (f->backend == PATCH_BACKEND_DPKG) {
			if (i >= f->pkgs.n)
				break;
			if (!f->pkgs.p[i].security_candidate)
				continue;
			if (xsnprintf(key, sizeof(key), "%s:%s=%s", f->pkgs.p[i].name, f->pkgs.p[i].arch,
			              f->pkgs.p[i].security_candidate) < 0)
				continue;
		} else if (f->backend == PATCH_BACKEND_DNF && i == 0 && f->dnf_err == 0 && f->dnf.n_advisories) {
			strscpy(key, sizeof(key), "dnf-security-pending");
		} else
			break;
		first = lookup_seen(old, key);
		if (first <= 0 || first > (int64_t)now)
			first = (int64_t)now;
		if (!oldest || first < oldest)
			oldest = first;
		if (ol + sizeof(key) + 32 > oa) {
			size_t na = oa ? oa * 2 : 8192;
			char *nb = realloc(out, na);
			if (!nb)
				return -ENOMEM;
			out = nb;
			oa = na;
		}
		n = snprintf(out + ol, oa - ol, "%s\t%lld\n", key, (long long)first);
		if (n < 0 || (size_t)n >= oa - ol)
			return -ENOMEM;
		ol += (size_t)n;
	}
	f->security_first_seen = oldest;
	r = mkdir_p(dir, 0700);
	if (r < 0)
		return r;
	return write_file_atomic(p, out ? out : "", ol, 0600);
}

/* ---- evaluation ---------------------------------------------------------- */

/* "a 1.0→1.1, b 2→3" of the first entries, for evidence */
static void list_pending(const struct patch_pkglist *l, bool security, char *buf, size_t sz, size_t *ret_n)
{
	size_t o = 0, n = 0, shown = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < l->n; i++) {
		const char *c = security ? l->p[i].security_candidate : l->p[i].candidate;
		int w;

		if (!c)
			continue;
		n++;
		if (shown >= EVIDENCE_NAMES_MAX || o >= sz)
			continue;
		w = snprintf(buf + o, sz - o, "%s%s %s→%s", o ? ", " : "", l->p[i].name, l->p[i].version, c);
		if (w < 0 || (size_t)w >= sz - o) {
			buf[o] = '\0';
			o = sz;
			continue;
		}
		o += (size_t)w;
		shown++;
	}
	if (n > shown && o < sz)
		snprintf(buf + o, sz - o, ", …");
	*ret_n = n;
}

static void eval_security(const struct patch_settings *s, const struct patch_facts *f, time_t now,
                          struct check_result *r)
{
	char list[900];
	size_t n = 0;
	int64_t age_days = 0;

	check_result_evidence(r, "max_pending_security", "%lld", (long long)s->max_pending_security);
	check_result_evidence(r, "max_security_age_days", "%lld", (long long)s->max_security_age_days);
	if (f->backend == PATCH_BACKEND_DPKG) {
		if (f->pkg_err < 0 || f->apt_err < 0) {
			check_result_evidence(
			        r, "error", "%s",
			        f->pkg_err < 0 ? (f->pkg_err == -EBADMSG ? f->pkg_perr.what : strerror(-f->pkg_err))
			                       : f->apt.bad_list);
			if (f->pkg_err == -EBADMSG)
				check_result_evidence(r, "status_line", "%u", f->pkg_perr.line);
			check_result_set(
			        r, CHECK_ERROR,
			        "パッケージ情報 (dpkg status / apt リスト) を読み取れず、未適用の更新を判定できません",
			        "The package database (dpkg status / apt lists) could not be read; pending "
			        "updates are unknown");
			check_result_remedy(
			        r, "dpkg --audit と apt-get update を実行し、壊れたファイルを修復してください。",
			        "Run dpkg --audit and apt-get update to repair the damaged files.");
			return;
		}
		list_pending(&f->pkgs, true, list, sizeof(list), &n);
		check_result_evidence(r, "pending_security", "%zu", n);
		if (n)
			check_result_evidence(r, "packages", "%s", list);
	} else if (f->backend == PATCH_BACKEND_DNF) {
		if (f->dnf_err < 0) {
			check_result_evidence(r, "error", "%s", strerror(-f->dnf_err));
			if (f->dnf_err == -EBADMSG)
				check_result_evidence(r, "dnf_line", "%u", f->dnf.bad_line);
			check_result_set(r, CHECK_ERROR, "dnf のセキュリティ更新情報を取得できませんでした",
			                 "Could not read dnf's security advisories");
			check_result_remedy(r, "dnf makecache を実行してから再確認してください。",
			                    "Run dnf makecache and check again.");
			return;
		}
		n = f->dnf.n_advisories;
		check_result_evidence(r, "pending_security", "%zu", n);
		check_result_evidence(r, "critical", "%u", f->dnf.by_severity[PATCH_DNF_CRITICAL]);
		check_result_evidence(r, "important", "%u", f->dnf.by_severity[PATCH_DNF_IMPORTANT]);
		if (n)
			check_result_evidence(r, "advisories", "%s", f->dnf.first);
	} else {
		check_result_set(r, CHECK_NOT_APPLICABLE, "対応するパッケージ管理 (dpkg/dnf) が見つかりません",
		                 "No supported package manager (dpkg/dnf) was found");
		return;
	}
	if (n && f->security_first_seen > 0) {
		age_days = ((int64_t)now - f->security_first_seen) / 86400;
		check_result_evidence(r, "oldest_pending_days", "%lld", (long long)age_days);
	}
	if ((int64_t)n > s->max_pending_security || (n && age_days > s->max_security_age_days)) {
		check_result_set(r, CHECK_FAIL, "未適用のセキュリティ更新があります", "Security updates are pending");
		check_result_remedy(r,
		                    "セキュリティ更新を適用してください (apt-get upgrade / dnf upgrade --security)。"
		                    "適用後に再起動が必要な場合があります。",
		                    "Apply the security updates (apt-get upgrade / dnf upgrade --security). A "
		                    "reboot may be needed afterwards.");
	} else if (n) {
		check_result_set(r, CHECK_PASS, "セキュリティ更新はポリシーの許容範囲内です",
		                 "Pending security updates are within the policy's limits");
	} else {
		check_result_set(r, CHECK_PASS, "未適用のセキュリティ更新はありません",
		                 "No security updates are pending");
	}
}

static void eval_updates(const struct patch_facts *f, time_t now, struct check_result *r)
{
	char list[900];
	size_t n = 0;

	if (f->backend != PATCH_BACKEND_DPKG) {
		check_result_set(r, CHECK_NOT_APPLICABLE, "この環境では通常の更新の有無を確認しません",
		                 "Pending non-security updates are not checked on this system");
		return;
	}
	if (f->status_mtime)
		check_result_evidence(r, "days_since_last_package_change", "%lld",
		                      (long long)(((int64_t)now - f->status_mtime) / 86400));
	if (f->pkg_err == 0)
		check_result_evidence(r, "installed", "%zu", f->pkgs.n);
	if (f->pkg_err < 0 || f->apt_err < 0) {
		check_result_set(r, CHECK_ERROR, "パッケージ情報を読み取れませんでした",
		                 "The package database could not be read");
		check_result_remedy(r, "dpkg --audit と apt-get update を実行してください。",
		                    "Run dpkg --audit and apt-get update.");
		return;
	}
	list_pending(&f->pkgs, false, list, sizeof(list), &n);
	check_result_evidence(r, "pending", "%zu", n);
	if (n) {
		check_result_evidence(r, "packages", "%s", list);
		check_result_set(r, CHECK_FAIL, "未適用の更新があります", "Updates are pending");
		check_result_remedy(r, "更新を適用してください (apt-get upgrade)。",
		                    "Apply the updates (apt-get upgrade).");
	} else {
		check_result_set(r, CHECK_PASS, "すべてのパッケージが最新です", "All packages are up to date");
	}
}

static void eval_lists(const struct patch_settings *s, const struct patch_facts *f, time_t now, struct check_result *r)
{
	int64_t max = s->max_list_age_days * 86400, newest = f->apt.update_stamp;
	char stale[600];
	size_t o = 0, n_stale = 0, n_sec = 0;

	if (f->backend != PATCH_BACKEND_DPKG) {
		check_result_set(r, CHECK_NOT_APPLICABLE, "apt を使わない環境です", "This system does not use apt");
		return;
	}
	check_result_evidence(r, "max_list_age_days", "%lld", (long long)s->max_list_age_days);
	check_result_evidence(r, "releases", "%zu", f->apt.n_releases);
	check_result_evidence(r, "lists", "%zu", f->apt.n_lists);
	if (f->apt_err < 0 && f->apt_err != -EBADMSG && f->apt_err != -EFBIG) {
		check_result_evidence(r, "error", "%s", strerror(-f->apt_err));
		check_result_set(r, CHECK_ERROR, "apt のパッケージリストを読み取れませんでした",
		                 "The apt package lists could not be read");
		check_result_remedy(r, "apt-get update を実行してください。", "Run apt-get update.");
		return;
	}
	if (f->apt.bad_list[0])
		check_result_evidence(r, "malformed", "%s", f->apt.bad_list);
	stale[0] = '\0';
	for (size_t i = 0; i < f->apt.n_releases; i++) {
		const struct patch_release *rel = &f->apt.rel[i];
		bool is_stale = (rel->valid_until && rel->valid_until < (int64_t)now) ||
		                (rel->security && (int64_t)now - rel->date > max);

		if (rel->date > newest)
			newest = rel->date;
		n_sec += rel->security;
		if (!is_stale)
			continue;
		n_stale++;
		if (o < sizeof(stale)) {
			int w = snprintf(stale + o, sizeof(stale) - o, "%s%s (%lldd)", o ? ", " : "",
			                 rel->suite[0] ? rel->suite : rel->file,
			                 (long long)(((int64_t)now - rel->date) / 86400));
			o = (w < 0 || (size_t)w >= sizeof(stale) - o) ? sizeof(stale) : o + (size_t)w;
		}
	}
	check_result_evidence(r, "security_lists", "%zu", n_sec);
	if (newest)
		check_result_evidence(r, "days_since_last_update", "%lld",
		                      (long long)(((int64_t)now - newest) / 86400));
	if (n_stale)
		check_result_evidence(r, "stale", "%s", stale);
	if (f->apt.n_releases == 0 || f->apt.n_lists == 0) {
		check_result_set(r, CHECK_FAIL, "apt のパッケージリストがありません (apt-get update 未実行)",
		                 "There are no apt package lists (apt-get update never ran)");
	} else if (n_stale || (int64_t)now - newest > max) {
		check_result_set(r, CHECK_FAIL, "apt のパッケージリストが古く、未適用の更新を正しく判定できません",
		                 "The apt package lists are stale; pending updates cannot be judged");
	} else if (n_sec == 0) {
		check_result_set(r, CHECK_FAIL, "セキュリティ更新の配布元 (-security) が apt に設定されていません",
		                 "No security archive (-security) is configured in apt");
		check_result_remedy(r,
		                    "sources.list にディストリビューションの security リポジトリを追加してください。",
		                    "Add the distribution's security repository to sources.list.");
		return;
	} else if (f->apt.bad_list[0]) {
		check_result_set(r, CHECK_ERROR, "apt のパッケージリストが壊れています",
		                 "An apt package list is damaged");
	} else {
		check_result_set(r, CHECK_PASS, "apt のパッケージリストは新しい状態です",
		                 "The apt package lists are fresh");
		return;
	}
	check_result_remedy(r,
	                    "apt-get update を実行してください。更新サーバ (ミラー) に届かない場合はネットワーク担当に"
	                    "連絡してください。",
	                    "Run apt-get update. If the (mirror) server is unreachable, contact the network team.");
}

static void eval_reboot(const struct patch_facts *f, struct check_result *r)
{
	if (f->reboot_required) {
		if (f->reboot_pkgs[0])
			check_result_evidence(r, "packages", "%s", f->reboot_pkgs);
		check_result_set(r, CHECK_FAIL, "更新を有効にするには再起動が必要です",
		                 "A reboot is required for updates to take effect");
		check_result_remedy(r, "作業を保存して端末を再起動してください。",
		                    "Save your work and reboot the terminal.");
	} else {
		check_result_set(r, CHECK_PASS, "再起動待ちの更新はありません", "No reboot is pending");
	}
}

static void eval_eol(const struct patch_settings *s, const struct patch_facts *f, time_t now, struct check_result *r)
{
	char key[160], major[160];
	const struct patch_eol *hit = NULL;

	if (f->os_err < 0) {
		check_result_evidence(r, "error", "%s", strerror(-f->os_err));
		check_result_set(r, CHECK_ERROR, "OS のリリース情報 (/etc/os-release) を読み取れませんでした",
		                 "Could not read the OS release (/etc/os-release)");
		check_result_remedy(r, "/etc/os-release を確認してください。", "Check /etc/os-release.");
		return;
	}
	xsnprintf(key, sizeof(key), "%s:%s", f->os_id, f->os_version_id);
	check_result_evidence(r, "release", "%s", key);
	if (f->os_pretty[0])
		check_result_evidence(r, "pretty_name", "%s", f->os_pretty);
	/* the exact release, else its major version: RHEL's VERSION_ID 9.4 is
	 * the policy's rhel:9 */
	xsnprintf(major, sizeof(major), "%s:%.*s", f->os_id, (int)strcspn(f->os_version_id, "."), f->os_version_id);
	for (size_t i = 0; i < s->n_eol && !hit; i++)
		if (!strcmp(s->eol[i].release, key))
			hit = &s->eol[i];
	for (size_t i = 0; i < s->n_eol && !hit; i++)
		if (strchr(f->os_version_id, '.') && !strcmp(s->eol[i].release, major))
			hit = &s->eol[i];
	if (hit) {
		int64_t left;

		if (strcmp(hit->release, key) != 0)
			check_result_evidence(r, "policy_entry", "%s", hit->release);
		left = hit->end - (int64_t)now;
		check_result_evidence(r, "end_of_support", "%s", hit->date);
		check_result_evidence(r, "days_left", "%lld",
		                      (long long)(left >= 0 ? left / 86400 : -((-left + 86399) / 86400)));
		if (left <= 0) {
			check_result_set(r, CHECK_FAIL, "OS のサポートが終了しています",
			                 "The OS is past its end of support");
			check_result_remedy(r, "サポート中の OS リリースへ移行してください。",
			                    "Upgrade to a supported OS release.");
		} else {
			check_result_set(r, CHECK_PASS, "OS はサポート期間内です",
			                 "The OS is within its support period");
		}
		return;
	}
	check_result_evidence(r, "known_releases", "%zu", s->n_eol);
	if (s->n_eol == 0) {
		check_result_set(r, CHECK_NOT_APPLICABLE, "ポリシーに OS のサポート終了日の表がありません",
		                 "The policy has no end-of-support table");
		return;
	}
	/* fail closed: a release the table does not know is not "not applicable"
	 * (Debian 10, Ubuntu 20.04, Debian 13 passed that way: issue 21) */
	check_result_set(r, CHECK_FAIL, "この OS リリースは不明です — ポリシーの eol 表に追加してください",
	                 "Unknown OS release — add it to the policy's eol table");
	check_result_remedy(r,
	                    "証跡 (release) の OS リリースとそのサポート終了日をポリシーの patch.eol に追加してく"
	                    "ださい。",
	                    "Add the release in the evidence (release) with its end-of-support date to the policy's "
	                    "patch.eol.");
}

int patch_evaluate(const struct patch_settings *s, const struct patch_facts *f, time_t now, struct check_report *rep)
{
	struct check_result *r;

	if (!(r = check_report_add(rep, "patch", "patch.security_updates", "PATCH-1")))
		return -ENOMEM;
	eval_security(s, f, now, r);
	if (!(r = check_report_add(rep, "patch", "patch.updates", "PATCH-1")))
		return -ENOMEM;
	eval_updates(f, now, r);
	if (!(r = check_report_add(rep, "patch", "patch.lists", "PATCH-1")))
		return -ENOMEM;
	eval_lists(s, f, now, r);
	if (!(r = check_report_add(rep, "patch", "patch.reboot", "PATCH-1")))
		return -ENOMEM;
	eval_reboot(f, r);
	if (!(r = check_report_add(rep, "patch", "patch.os_eol", "PATCH-2")))
		return -ENOMEM;
	eval_eol(s, f, now, r);
	return 0;
}

/* ---- the module ---------------------------------------------------------- */

struct patch_state {
	struct mamori_ctx *ctx;
	struct patch_settings settings;
	char state_dir[PATH_MAX];
};

static int patch_load(const cJSON *section, void *settings)
{
	int r = patch_settings_from_json(section, settings);

	return r < 0 ? log_error_errno(r, "patch: bad policy section") : 0;
}

static int patch_open(struct mamori_ctx *ctx, void *state)
{
	struct patch_state *st = state;

	st->ctx = ctx;
	return mamori_state_dir(ctx, st->state_dir, sizeof(st->state_dir));
}

static int patch_check(void *state, struct check_report *rep)
{
	struct patch_state *st = state;
	_cleanup_free_ struct patch_facts *f = malloc(sizeof(*f));
	time_t now = time(NULL);
	int r;

	if (!f)
		return -ENOMEM;
	patch_gather(f);
	r = patch_track_security(st->state_dir, f, now);
	if (r < 0)
		log_warning_errno(r, "patch: cannot record pending security updates");
	r = patch_evaluate(&st->settings, f, now, rep);
	patch_facts_done(f);
	return r;
}

const struct mamori_module patch_module = {
        .name = "patch",
        .caps = MAMORI_CAP_CHECK,
        .section = "patch",
        .settings_size = sizeof(struct patch_settings),
        .settings_load = patch_load,
        .state_size = sizeof(struct patch_state),
        .settings_offset = offsetof(struct patch_state, settings),
        .open = patch_open,
        .check = patch_check,
};
