/* modules/screenlock/screenlock.c — the screenlock module: settings from the
 * policy, who is logged in, evaluation per user and desktop, and GNOME
 * enforcement (mamori-worker, as root). LOCK-1. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "alloc-util.h"
#include "fileio.h"
#include "log.h"
#include "rootpath.h"
#include "screenlock.h"
#include "screenlock_gnome.h"
#include "screenlock_kde.h"
#include "screenlock_logind.h"
#include "screenlock_xfce.h"
#include "strutil.h"

#define REQ              "LOCK-1"
#define SESSION_FILE_MAX (64 * 1024)
#define PASSWD_FILE_MAX  (4 * 1024 * 1024)
#define MAX_SESSIONS     64

static const char *const desktop_names[_SL_DESKTOP_MAX] = {
        [SL_DESKTOP_GNOME] = "gnome",
        [SL_DESKTOP_KDE] = "kde",
        [SL_DESKTOP_XFCE] = "xfce",
};

const char *screenlock_desktop_name(enum screenlock_desktop d)
{
	if (d < 0 || d >= _SL_DESKTOP_MAX)
		return NULL;
	return desktop_names[d];
}

void screenlock_settings_default(struct screenlock_settings *ret)
{
	*ret = (struct screenlock_settings){
	        .max_idle_seconds = 300,
	        .lock_enabled = true,
	        .locked = true,
	        .enforce = false,
	};
}

static int json_bool(const cJSON *sec, const char *key, bool *v)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(sec, key);

	if (!j)
		return 0;
	if (!cJSON_IsBool(j))
		return -EINVAL;
	*v = cJSON_IsTrue(j);
	return 0;
}

int screenlock_settings_from_json(const cJSON *section, struct screenlock_settings *ret)
{
	struct screenlock_settings s;
	const cJSON *j;

	screenlock_settings_default(&s);
	if (section) {
		if (!cJSON_IsObject(section))
			return -EINVAL;
		j = cJSON_GetObjectItemCaseSensitive(section, "max_idle_seconds");
		if (j) {
			if (!cJSON_IsNumber(j) || j->valuedouble < 1 || j->valuedouble > 86400 ||
			    j->valuedouble != (double)(int64_t)j->valuedouble)
				return -EINVAL;
			s.max_idle_seconds = (int64_t)j->valuedouble;
		}
		if (json_bool(section, "lock_enabled", &s.lock_enabled) < 0 ||
		    json_bool(section, "locked", &s.locked) < 0 || json_bool(section, "enforce", &s.enforce) < 0)
			return -EINVAL;
	}
	*ret = s;
	return 0;
}

/* ---- who is logged in ------------------------------------------------- */

/* Value of `key=` in a logind state file (one key=value per line). */
static bool state_get(const char *buf, const char *key, char *out, size_t outsz)
{
	size_t kl = strlen(key);

	for (const char *p = buf; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (strncmp(p, key, kl) == 0 && p[kl] == '=') {
			size_t vl = strcspn(p + kl + 1, "\n");
			if (vl >= outsz)
				return false;
			memcpy(out, p + kl + 1, vl);
			out[vl] = '\0';
			return true;
		}
	}
	return false;
}

static bool user_name_ok(const char *u)
{
	if (!*u || strlen(u) >= 64 || u[0] == '-' || u[0] == '.')
		return false;
	for (const char *c = u; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_' ||
		      *c == '-' || *c == '.' || *c == '$' || *c == '@'))
			return false;
	return true;
}

/* Home directory (system path) of user from /etc/passwd under the root. */
static int passwd_home(const char *user, char *home, size_t homesz)
{
	_cleanup_free_ char *buf = NULL;
	char p[PATH_MAX];
	size_t ul = strlen(user);
	int r;

	r = root_path(p, sizeof(p), "/etc/passwd");
	if (r < 0)
		return r;
	r = read_file_capped(p, PASSWD_FILE_MAX, &buf, NULL);
	if (r < 0)
		return r;
	for (const char *l = buf; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		const char *f = l;
		size_t len;

		if (strncmp(l, user, ul) != 0 || l[ul] != ':')
			continue;
		for (int i = 0; i < 5; i++) { /* name:pw:uid:gid:gecos:HOME:shell */
			f = strpbrk(f, ":\n");
			if (!f || *f == '\n')
				return -EINVAL;
			f++;
		}
		len = strcspn(f, ":\n");
		if (len == 0 || f[0] != '/' || len >= homesz)
			return -EINVAL;
		memcpy(home, f, len);
		home[len] = '\0';
		return 0;
	}
	return -ESRCH;
}

static enum screenlock_desktop desktop_from_session(const char *d)
{
	char low[64];
	size_t i;

	for (i = 0; d[i] && i < sizeof(low) - 1; i++)
		low[i] = (char)(d[i] >= 'A' && d[i] <= 'Z' ? d[i] - 'A' + 'a' : d[i]);
	low[i] = '\0';
	if (strstr(low, "kde") || strstr(low, "plasma"))
		return SL_DESKTOP_KDE;
	if (strstr(low, "xfce"))
		return SL_DESKTOP_XFCE;
	return SL_DESKTOP_GNOME; /* GNOME, ubuntu, and unknown: the Debian default desktop */
}

static bool obs_seen(const struct screenlock_facts *f, const char *user, enum screenlock_desktop d)
{
	for (size_t i = 0; i < f->n_obs; i++)
		if (f->obs[i].desktop == d && strcmp(f->obs[i].user, user) == 0)
			return true;
	return false;
}

static int observe(struct screenlock_facts *f, const char *user, const char *home, enum screenlock_desktop d)
{
	struct screenlock_obs *o;

	if (f->n_obs >= SCREENLOCK_MAX_OBS || obs_seen(f, user ? user : "", d))
		return 0;
	o = &f->obs[f->n_obs++];
	switch (d) {
	case SL_DESKTOP_GNOME:
		return screenlock_gnome_observe(user, home, o);
	case SL_DESKTOP_KDE:
		return screenlock_kde_observe(user, home, o);
	default:
		return screenlock_xfce_observe(user, home, o);
	}
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int gather_sessions(struct screenlock_facts *f)
{
	char dir[PATH_MAX];
	char *names[MAX_SESSIONS];
	size_t n = 0;
	struct dirent *de;
	DIR *d;
	int r = 0;

	if (root_path(dir, sizeof(dir), "/run/systemd/sessions") < 0)
		return -ENAMETOOLONG;
	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d)) && n < MAX_SESSIONS) {
		/* session ids are [A-Za-z0-9]; "N.ref" are FIFOs that would block a read */
		if (de->d_name[0] == '.' || strchr(de->d_name, '.') || strlen(de->d_name) > 32)
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
		char p[PATH_MAX], user[64] = "", type[32] = "", cls[32] = "", desk[64] = "", uid[16] = "",
		                  home[PATH_MAX];
		struct stat st;

		if (r < 0 || xsnprintf(p, sizeof(p), "%s/%s", dir, names[i]) < 0 || lstat(p, &st) < 0 ||
		    !S_ISREG(st.st_mode) || read_file_capped(p, SESSION_FILE_MAX, &buf, NULL) < 0)
			goto next;
		state_get(buf, "TYPE", type, sizeof(type));
		state_get(buf, "CLASS", cls, sizeof(cls));
		if (strcmp(cls, "user") != 0 ||
		    (strcmp(type, "x11") != 0 && strcmp(type, "wayland") != 0 && strcmp(type, "mir") != 0))
			goto next; /* greeters and text sessions: LOCK-2's TMOUT covers those */
		if (!state_get(buf, "USER", user, sizeof(user)) && state_get(buf, "UID", uid, sizeof(uid))) {
			_cleanup_free_ char *ub = NULL;
			char up[PATH_MAX];
			if (root_pathf(up, sizeof(up), "/run/systemd/users/%s", uid) == 0 &&
			    read_file_capped(up, SESSION_FILE_MAX, &ub, NULL) == 0)
				state_get(ub, "NAME", user, sizeof(user));
		}
		if (!user_name_ok(user))
			goto next;
		state_get(buf, "DESKTOP", desk, sizeof(desk));
		f->n_sessions++;
		if (passwd_home(user, home, sizeof(home)) < 0) {
			if (f->n_obs < SCREENLOCK_MAX_OBS) {
				struct screenlock_obs *o = &f->obs[f->n_obs++];
				memset(o, 0, sizeof(*o));
				o->desktop = desktop_from_session(desk);
				strscpy(o->user, sizeof(o->user), user);
				o->err = -ESRCH;
				xsnprintf(o->err_what, sizeof(o->err_what), "user %s has no home in /etc/passwd", user);
			}
			goto next;
		}
		r = observe(f, user, home, desktop_from_session(desk));
	next:
		free(names[i]);
	}
	return r;
}

int screenlock_gather(struct screenlock_facts *f)
{
	char p[PATH_MAX];
	int r;

	memset(f, 0, sizeof(*f));
	screenlock_logind_read(&f->logind);
	r = gather_sessions(f);
	if (r < 0)
		return r;
	if (f->n_sessions > 0)
		return 0;
	/* nobody logged in graphically: what a user gets by default */
	r = observe(f, NULL, NULL, SL_DESKTOP_GNOME);
	if (r < 0)
		return r;
	if (root_path(p, sizeof(p), "/etc/xdg/kscreenlockerrc") == 0 && access(p, F_OK) == 0)
		r = observe(f, NULL, NULL, SL_DESKTOP_KDE);
	if (r >= 0 &&
	    ((root_path(p, sizeof(p), "/etc/xdg/xfce4/xfconf/xfce-perchannel-xml/xfce4-screensaver.xml") == 0 &&
	      access(p, F_OK) == 0) ||
	     screenlock_xfce_installed()))
		r = observe(f, NULL, NULL, SL_DESKTOP_XFCE);
	return r;
}

/* ---- evaluation --------------------------------------------------------- */

static const char *const remedy_ja[_SL_DESKTOP_MAX] = {
        [SL_DESKTOP_GNOME] = "ポリシーの screenlock.enforce を有効にするか、/etc/dconf/db/local.d/ に idle-delay と "
                             "lock-enabled を設定し locks/ でロックして dconf update を実行してください。",
        [SL_DESKTOP_KDE] = "/etc/xdg/kscreenlockerrc の [Daemon][$i] に Autolock=true と Timeout (分) と LockGrace "
                           "を設定し、利用者が変更できないようにしてください。",
        [SL_DESKTOP_XFCE] =
                "/etc/xdg/xfce4/xfconf/xfce-perchannel-xml/ で待機時間とロックを設定し、locked=\"*\" で固定して"
                "ください (Debian 12: xfce4-power-manager.xml の blank-on-ac/blank-on-battery と dconf の "
                "apps/light-locker lock-after-screensaver をロック付きで、Xubuntu: xfce4-screensaver.xml)。",
};
static const char *const remedy_en[_SL_DESKTOP_MAX] = {
        [SL_DESKTOP_GNOME] = "Turn on screenlock.enforce in the policy, or set idle-delay and lock-enabled in "
                             "/etc/dconf/db/local.d/, lock them in locks/ and run dconf update.",
        [SL_DESKTOP_KDE] = "Set Autolock=true, Timeout (minutes) and LockGrace under [Daemon][$i] in "
                           "/etc/xdg/kscreenlockerrc so that staff cannot change them.",
        [SL_DESKTOP_XFCE] = "Set the idle delay and locking in /etc/xdg/xfce4/xfconf/xfce-perchannel-xml/ and fix them "
                            "with locked=\"*\" (Debian 12: blank-on-ac/blank-on-battery in xfce4-power-manager.xml "
                            "and a locked dconf apps/light-locker lock-after-screensaver; Xubuntu: "
                            "xfce4-screensaver.xml).",
};

static bool logind_locks(const struct screenlock_settings *s, const struct screenlock_logind *l)
{
	return !l->err && strcmp(l->idle_action, "lock") == 0 && l->idle_action_sec > 0 &&
	       l->idle_action_sec <= s->max_idle_seconds;
}

static int evaluate_one(const struct screenlock_settings *s, const struct screenlock_logind *l,
                        const struct screenlock_obs *o, struct check_report *rep)
{
	struct check_result *r = check_report_add(rep, "screenlock", "screenlock.idle", REQ);
	const char *dn = screenlock_desktop_name(o->desktop);
	char ja[512], en[512];
	bool idle_ok, enabled_ok, locked_ok, by_logind;

	if (!r)
		return -ENOMEM;
	check_result_evidence(r, "user", "%s", o->user[0] ? o->user : "(system default)");
	check_result_evidence(r, "desktop", "%s", dn ? dn : "?");
	check_result_evidence(r, "max_idle_seconds", "%lld", (long long)s->max_idle_seconds);
	check_result_evidence(r, "logind_idle_action", "%s after %llds%s", l->idle_action,
	                      (long long)l->idle_action_sec, l->err ? " (logind.conf unreadable)" : "");
	if (o->unknown) {
		/* fail closed (issue 21): a desktop/release pair the table does not know */
		check_result_evidence(r, "unknown", "%s", o->err_what);
		xsnprintf(ja, sizeof(ja), "%s (%s) の画面ロックの仕組みが不明です — ポリシーに追加してください",
		          o->user[0] ? o->user : "既定値", dn ? dn : "?");
		xsnprintf(en, sizeof(en), "How %s (%s) locks the screen is unknown — add it to the policy",
		          o->user[0] ? o->user : "the default desktop", dn ? dn : "?");
		check_result_set(r, CHECK_FAIL, ja, en);
		check_result_remedy(
		        r, "証跡 (unknown) のデスクトップと OS リリースの画面ロックを確認し、表に追加してください。",
		        "Check how that desktop locks on that release and add it to the table.");
		return 0;
	}
	if (o->err < 0) {
		check_result_evidence(r, "error", "%s", o->err_what);
		xsnprintf(ja, sizeof(ja), "%s の画面ロック設定を読めませんでした (%s)", o->user[0] ? o->user : "既定値",
		          dn ? dn : "?");
		xsnprintf(en, sizeof(en), "Could not read the screen lock settings of %s (%s)",
		          o->user[0] ? o->user : "the defaults", dn ? dn : "?");
		check_result_set(r, CHECK_ERROR, ja, en);
		check_result_remedy(r, "証跡 (error) に示された設定ファイルまたはツールを確認してください。",
		                    "Check the file or tool named in the evidence (error).");
		return 0;
	}
	check_result_evidence(r, "idle_seconds", "%lld%s", (long long)o->idle_seconds,
	                      o->idle_seconds == 0 ? " (never)" : "");
	check_result_evidence(r, "lock_enabled", "%s", o->lock_enabled ? "yes" : "no");
	check_result_evidence(r, "staff_can_change", "%s",
	                      o->idle_locked && o->enabled_locked ? "no"
	                      : o->idle_locked                    ? "lock_enabled"
	                      : o->enabled_locked                 ? "idle_time"
	                                                          : "idle_time,lock_enabled");
	check_result_evidence(r, "source", "%s", o->source);

	by_logind = logind_locks(s, l);
	idle_ok = o->idle_seconds > 0 && o->idle_seconds <= s->max_idle_seconds;
	enabled_ok = !s->lock_enabled || o->lock_enabled;
	locked_ok = !s->locked || (o->idle_locked && o->enabled_locked);
	if (idle_ok && enabled_ok && locked_ok) {
		check_result_set(r, CHECK_PASS, "一定時間操作がないと画面がロックされ、利用者は変更できません",
		                 "The screen locks after the idle time and staff cannot change it");
		return 0;
	}
	if (by_logind) {
		/* logind.conf is root's: staff cannot change it, and it locks every session */
		check_result_set(r, CHECK_PASS, "systemd-logind の IdleAction=lock により画面がロックされます",
		                 "systemd-logind's IdleAction=lock locks the screen");
		return 0;
	}
	if (!enabled_ok || !idle_ok) {
		xsnprintf(ja, sizeof(ja), "%s の画面ロックが%s (%s, 許容 %lld 秒)", o->user[0] ? o->user : "既定値",
		          !enabled_ok || o->idle_seconds == 0 ? "無効です" : "遅すぎます", dn ? dn : "?",
		          (long long)s->max_idle_seconds);
		xsnprintf(en, sizeof(en), "Screen lock of %s is %s (%s, at most %llds allowed)",
		          o->user[0] ? o->user : "the defaults",
		          !enabled_ok || o->idle_seconds == 0 ? "off" : "too late", dn ? dn : "?",
		          (long long)s->max_idle_seconds);
	} else {
		xsnprintf(ja, sizeof(ja), "%s の画面ロック設定を利用者が変更できます (%s)",
		          o->user[0] ? o->user : "既定値", dn ? dn : "?");
		xsnprintf(en, sizeof(en), "Staff can change the screen lock setting of %s (%s)",
		          o->user[0] ? o->user : "the defaults", dn ? dn : "?");
	}
	check_result_set(r, CHECK_FAIL, ja, en);
	check_result_remedy(r, remedy_ja[o->desktop], remedy_en[o->desktop]);
	return 0;
}

int screenlock_evaluate(const struct screenlock_settings *s, const struct screenlock_facts *f, struct check_report *rep)
{
	for (size_t i = 0; i < f->n_obs; i++) {
		int r = evaluate_one(s, &f->logind, &f->obs[i], rep);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- the module --------------------------------------------------------- */

struct screenlock_state {
	struct mamori_ctx *ctx;
	struct screenlock_settings settings;
	bool enforced;                /* enforce() ran at least once */
	int enforce_err;              /* its outcome */
	struct screenlock_obs verify; /* the system defaults re-read after enforce() */
};

static int screenlock_load(const cJSON *section, void *settings)
{
	return screenlock_settings_from_json(section, settings);
}

static int screenlock_open(struct mamori_ctx *ctx, void *state)
{
	((struct screenlock_state *)state)->ctx = ctx;
	return 0;
}

static int screenlock_enforce(void *state)
{
	struct screenlock_state *st = state;

	if (!st->settings.enforce || (st->ctx && st->ctx->audit_only))
		return 0;
	st->enforced = true;
	st->enforce_err = screenlock_gnome_enforce(&st->settings);
	if (st->enforce_err < 0)
		return log_error_errno(st->enforce_err, "screenlock: writing the dconf lock database failed");
	/* re-check: what does a user get now? */
	screenlock_gnome_observe(NULL, NULL, &st->verify);
	if (st->verify.err < 0 || !st->verify.idle_locked || !st->verify.enabled_locked ||
	    st->verify.idle_seconds != st->settings.max_idle_seconds ||
	    st->verify.lock_enabled != st->settings.lock_enabled)
		st->enforce_err = -EPROTO;
	if (st->enforce_err < 0)
		return log_error_errno(st->enforce_err, "screenlock: dconf does not report the enforced values");
	return 0;
}

static int screenlock_check(void *state, struct check_report *rep)
{
	struct screenlock_state *st = state;
	_cleanup_free_ struct screenlock_facts *f = malloc(sizeof(*f));
	int r;

	if (!f)
		return -ENOMEM;
	r = screenlock_gather(f);
	if (r < 0)
		return r;
	r = screenlock_evaluate(&st->settings, f, rep);
	if (r < 0)
		return r;
	if (st->enforced) {
		struct check_result *res = check_report_add(rep, "screenlock", "screenlock.enforce", REQ);
		if (!res)
			return -ENOMEM;
		check_result_evidence(res, "database", "/etc/dconf/db/local");
		if (st->verify.source[0])
			check_result_evidence(res, "after", "%s", st->verify.source);
		if (st->enforce_err < 0) {
			check_result_evidence(res, "error", "%s", strerror(-st->enforce_err));
			check_result_set(res, CHECK_ERROR, "画面ロック設定 (dconf) を書き込めませんでした",
			                 "Could not write the screen lock settings (dconf)");
			check_result_remedy(res, "mamorid のログを確認してください。", "Check the mamorid log.");
		} else {
			check_result_set(res, CHECK_PASS, "画面ロック設定を dconf に書き込み、ロックしました",
			                 "The screen lock settings were written to dconf and locked");
		}
	}
	return 0;
}

const struct mamori_module screenlock_module = {
        .name = "screenlock",
        .caps = MAMORI_CAP_CHECK | MAMORI_CAP_ENFORCE,
        .section = "screenlock",
        .settings_size = sizeof(struct screenlock_settings),
        .settings_load = screenlock_load,
        .state_size = sizeof(struct screenlock_state),
        .settings_offset = offsetof(struct screenlock_state, settings),
        .open = screenlock_open,
        .check = screenlock_check,
        .enforce = screenlock_enforce,
};
