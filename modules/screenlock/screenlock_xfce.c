/* modules/screenlock/screenlock_xfce.c — a small, defensive reader of xfconf
 * channel XML for xfce4-screensaver (mamori-worker). Only <property> elements are
 * understood; anything malformed is an error, never a guess. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc-util.h"
#include "fileio.h"
#include "rootpath.h"
#include "screenlock_gnome.h"
#include "screenlock_xfce.h"
#include "strutil.h"

#define XFCE_FILE_MAX  (256 * 1024)
#define XFCE_DEPTH_MAX 16
#define XFCE_NAME_MAX  64

enum { X_SAVER, X_IDLE_ACT, X_IDLE_DELAY, X_LOCK, X_LOCK_ACT, X_LOCK_DELAY, _X_MAX };
static const char *const xfce_props[_X_MAX] = {
        "/saver/enabled", "/saver/idle-activation/enabled", "/saver/idle-activation/delay",
        "/lock/enabled",  "/lock/saver-activation/enabled", "/lock/saver-activation/delay",
};

struct xfce_val {
	bool set, locked;
	char v[32];
};

/* Copy attribute `name` of the tag in [s, e) into out. false if absent. */
static bool attr(const char *s, const char *e, const char *name, char *out, size_t outsz)
{
	size_t nl = strlen(name);

	for (const char *p = s; p + nl + 2 < e; p++) {
		const char *q, *end;
		char quote;

		if ((p != s && p[-1] != ' ' && p[-1] != '\t' && p[-1] != '\n') || strncmp(p, name, nl) != 0 ||
		    p[nl] != '=')
			continue;
		quote = p[nl + 1];
		if (quote != '"' && quote != '\'')
			return false;
		q = p + nl + 2;
		end = memchr(q, quote, (size_t)(e - q));
		if (!end || (size_t)(end - q) >= outsz)
			return false;
		memcpy(out, q, (size_t)(end - q));
		out[end - q] = '\0';
		return true;
	}
	return false;
}

static bool locked_for(const char *locked, const char *user)
{
	char buf[256], *save = NULL;

	if (strscpy(buf, sizeof(buf), locked) < 0)
		return false; /* an over-long list is not trusted to lock anything */
	for (char *t = strtok_r(buf, ";", &save); t; t = strtok_r(NULL, ";", &save)) {
		t = strstrip(t);
		if (strcmp(t, "*") == 0 || (user && *user && strcmp(t, user) == 0))
			return true;
	}
	return false;
}

static int xfce_apply(const char *const *props, size_t nprops, struct xfce_val *vals, const char *buf, bool system,
                      const char *user)
{
	char stack[XFCE_DEPTH_MAX][XFCE_NAME_MAX];
	size_t depth = 0;
	const char *p = buf;

	while ((p = strchr(p, '<'))) {
		const char *e;

		if (startswith(p, "<!--")) {
			e = strstr(p, "-->");
			if (!e)
				return -EINVAL;
			p = e + 3;
			continue;
		}
		e = strchr(p, '>');
		if (!e)
			return -EINVAL;
		if (startswith(p, "</property")) {
			if (depth == 0)
				return -EINVAL;
			depth--;
		} else if (startswith(p, "<property") && (p[9] == ' ' || p[9] == '\t' || p[9] == '\n')) {
			char name[XFCE_NAME_MAX], path[XFCE_DEPTH_MAX * XFCE_NAME_MAX + 2], value[32], locked[256];
			bool selfclose = e > p && e[-1] == '/';
			size_t o = 0;

			if (!attr(p + 9, e, "name", name, sizeof(name)) || !*name || strchr(name, '/'))
				return -EINVAL;
			path[0] = '\0';
			for (size_t i = 0; i < depth; i++) {
				if (xsnprintf(path + o, sizeof(path) - o, "/%s", stack[i]) < 0)
					return -EINVAL;
				o += strlen(path + o);
			}
			if (xsnprintf(path + o, sizeof(path) - o, "/%s", name) < 0)
				return -EINVAL;
			for (size_t i = 0; i < nprops; i++) {
				struct xfce_val *xv = &vals[i];

				if (strcmp(path, props[i]) != 0)
					continue;
				if (!xv->locked && attr(p + 9, e, "value", value, sizeof(value))) {
					xv->set = true;
					strscpy(xv->v, sizeof(xv->v), value);
				}
				if (system && attr(p + 9, e, "locked", locked, sizeof(locked)) &&
				    locked_for(locked, user))
					xv->locked = true;
			}
			if (!selfclose) {
				if (depth >= XFCE_DEPTH_MAX)
					return -E2BIG;
				strscpy(stack[depth++], sizeof(stack[0]), name);
			}
		}
		p = e + 1;
	}
	return depth == 0 ? 0 : -EINVAL;
}

static int xfce_read(const char *path, const char *const *props, size_t nprops, struct xfce_val *vals, bool system,
                     const char *user, struct screenlock_obs *obs)
{
	_cleanup_free_ char *buf = NULL;
	int r = read_file_capped(path, XFCE_FILE_MAX, &buf, NULL);

	if (r == -ENOENT)
		return 0;
	if (r == 0)
		r = xfce_apply(props, nprops, vals, buf, system, user);
	if (r < 0) {
		obs->err = r;
		xsnprintf(obs->err_what, sizeof(obs->err_what), "%s: %s", path,
		          r == -EFBIG                   ? "file too large"
		          : r == -EINVAL || r == -E2BIG ? "malformed XML"
		                                        : strerror(-r));
	}
	return r;
}

static bool xv_bool(const struct xfce_val *v, bool def)
{
	if (!v->set)
		return def;
	return strcmp(v->v, "true") == 0 ? true : strcmp(v->v, "false") == 0 ? false : def;
}

static int64_t xv_int(const struct xfce_val *v, int64_t def)
{
	int64_t n;

	if (!v->set || parse_int64(v->v, 0, 1000000, &n) < 0)
		return def;
	return n;
}

/* Which program locks an XFCE session, per distribution release (issue 21):
 * Debian 12's XFCE uses light-locker (xfce4-screensaver is not what its
 * task installs); Xubuntu uses xfce4-screensaver. A release not in this
 * table is unknown: a fail, never a guess. */
static const struct {
	const char *id, *version_id, *locker;
} xfce_lockers[] = {
        {"debian", "12", "light-locker"},
        {"ubuntu", "22.04", "xfce4-screensaver"},
        {"ubuntu", "24.04", "xfce4-screensaver"},
};

/* KEY=value of os-release, quotes removed */
static void os_release_get(const char *buf, const char *key, char *out, size_t sz)
{
	size_t kl = strlen(key);

	out[0] = '\0';
	for (const char *l = buf; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (!strncmp(l, key, kl) && l[kl] == '=') {
			const char *v = l + kl + 1;
			size_t n = strcspn(v, "\n");
			if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
				v++;
				n -= 2;
			}
			if (n < sz) {
				memcpy(out, v, n);
				out[n] = '\0';
			}
			return;
		}
}

/* "Status: install ok installed" (or another state with files on disk) for pkg in dpkg's status */
static bool dpkg_installed(const char *pkg)
{
	_cleanup_free_ char *buf = NULL;
	char p[PATH_MAX], want[128];
	const char *s;

	if (root_path(p, sizeof(p), "/var/lib/dpkg/status") < 0 ||
	    read_file_capped(p, 256LL * 1024 * 1024, &buf, NULL) < 0 ||
	    xsnprintf(want, sizeof(want), "Package: %s\n", pkg) < 0)
		return false;
	for (s = buf; (s = strstr(s, want)); s++) {
		const char *end = strstr(s, "\n\n"), *st = strstr(s, "\nStatus: ");
		if (s != buf && s[-1] != '\n')
			continue;
		if (st && (!end || st < end)) {
			size_t n = strcspn(st + 9, "\n");
			char line[96];
			if (n >= sizeof(line))
				return false;
			memcpy(line, st + 9, n);
			line[n] = '\0';
			return !strstr(line, " not-installed") && !strstr(line, " config-files");
		}
	}
	return false;
}

bool screenlock_xfce_installed(void)
{
	return dpkg_installed("xfce4-session");
}

/* ---- light-locker (Debian 12's XFCE) ---------------------------------- *
 * light-locker locks when the X screensaver activates (XScreenSaver
 * extension), lock-after-screensaver seconds later; with late-locking it
 * locks only when the screensaver ends, i.e. when somebody is back at the
 * screen, so an unattended screen is not locked. On XFCE the X screensaver
 * time is set by xfce4-power-manager (xfpm_update_blank_time:
 * XSetScreenSaver(blank-on-ac or blank-on-battery minutes * 60), 0 when
 * presentation-mode is on). LOCK-1, issue 21. */

enum { P_BLANK_AC, P_BLANK_BAT, P_PRESENTATION, _P_MAX };
static const char *const xfpm_props[_P_MAX] = {
        "/xfce4-power-manager/blank-on-ac",
        "/xfce4-power-manager/blank-on-battery",
        "/xfce4-power-manager/presentation-mode",
};

enum { G_LOCK_AFTER, G_LATE, _G_MAX };
static const char *const ll_keys[_G_MAX] = {
        "/apps/light-locker/lock-after-screensaver",
        "/apps/light-locker/late-locking",
};
/* apps.light-locker.gschema.xml of Debian 12's light-locker 1.8.0-3:
 * lock-after-screensaver type u, range 0..3600, default 5 (0 = "locking
 * after the screensaver is disabled"); late-locking type b, default false. */
#define LL_LOCK_AFTER_DEFAULT 5
#define LL_LOCK_AFTER_MAX     3600
#define LL_LATE_DEFAULT       false

static int light_locker_observe(const char *user, const char *home, struct screenlock_obs *obs)
{
	static const char rel[] = "xfce4/xfconf/xfce-perchannel-xml/xfce4-power-manager.xml";
	struct xfce_val v[_P_MAX];
	char p[PATH_MAX], why[160];
	char(*gv)[SL_DCONF_VAL_MAX] = NULL;
	bool gl[_G_MAX] = {false};
	int64_t ac, bat = -1, after = LL_LOCK_AFTER_DEFAULT, blank;
	bool late = LL_LATE_DEFAULT, presentation, ok = true;
	int r;

	memset(v, 0, sizeof(v));
	if (!dpkg_installed("xfce4-power-manager")) {
		obs->unknown = true;
		xsnprintf(obs->err_what, sizeof(obs->err_what),
		          "xfce4-power-manager is not installed: nothing known sets the X screensaver time "
		          "light-locker locks on");
		return 0;
	}
	if (root_pathf(p, sizeof(p), "/etc/xdg/%s", rel) < 0 ||
	    xfce_read(p, xfpm_props, _P_MAX, v, true, user, obs) < 0)
		return 0;
	if (home && (root_pathf(p, sizeof(p), "%s/.config/%s", home, rel) < 0 ||
	             xfce_read(p, xfpm_props, _P_MAX, v, false, user, obs) < 0))
		return 0;
	if (!v[P_BLANK_AC].set || parse_int64(v[P_BLANK_AC].v, 0, 32767, &ac) < 0) {
		/* unset: xfce4-power-manager's or the X server's built-in time, never below 10 minutes */
		obs->unknown = true;
		xsnprintf(obs->err_what, sizeof(obs->err_what),
		          "xfce4-power-manager %s is %s: the blank time light-locker locks on is not configured",
		          xfpm_props[P_BLANK_AC], v[P_BLANK_AC].set ? "not a number of minutes" : "not set");
		return 0;
	}
	if (v[P_BLANK_BAT].set && parse_int64(v[P_BLANK_BAT].v, 0, 32767, &bat) < 0)
		bat = 0; /* unparsable: judged as never */
	presentation = xv_bool(&v[P_PRESENTATION], false);

	gv = calloc(_G_MAX, sizeof(*gv));
	if (!gv)
		return -ENOMEM;
	r = screenlock_dconf_keys(home, ll_keys, _G_MAX, gv, gl, why, sizeof(why));
	if (r < 0) {
		obs->err = r;
		strscpy(obs->err_what, sizeof(obs->err_what), why);
		free(gv);
		return r == -ENOMEM ? r : 0;
	}
	/* GSettings ignores a value of the wrong type or out of the schema's range: the default applies */
	if (gv[G_LOCK_AFTER][0] && (!startswith(gv[G_LOCK_AFTER], "uint32 ") ||
	                            parse_int64(gv[G_LOCK_AFTER] + 7, 0, LL_LOCK_AFTER_MAX, &after) < 0))
		after = LL_LOCK_AFTER_DEFAULT;
	if (!strcmp(gv[G_LATE], "true"))
		late = true;
	else if (!strcmp(gv[G_LATE], "false"))
		late = false;

	blank = presentation || ac == 0 || bat == 0 ? 0 : (bat > ac ? bat : ac);
	if (after == 0 || late)
		ok = false; /* light-locker never locks while the screen is left alone */
	obs->lock_enabled = ok;
	obs->idle_seconds = blank == 0 ? 0 : blank * 60 + after;
	obs->idle_locked =
	        v[P_BLANK_AC].locked && v[P_BLANK_BAT].locked && v[P_PRESENTATION].locked && gl[G_LOCK_AFTER];
	obs->enabled_locked = gl[G_LOCK_AFTER] && gl[G_LATE];
	xsnprintf(obs->source, sizeof(obs->source),
	          "light-locker lock-after-screensaver=%llds%s%s late-locking=%s%s; xfce4-power-manager "
	          "blank-on-ac=%s min%s blank-on-battery=%s%s presentation-mode=%s%s",
	          (long long)after, gv[G_LOCK_AFTER][0] ? "" : " (schema default)", gl[G_LOCK_AFTER] ? " locked" : "",
	          late ? "true" : "false", gl[G_LATE] ? " locked" : "", v[P_BLANK_AC].v,
	          v[P_BLANK_AC].locked ? " locked" : "", v[P_BLANK_BAT].set ? v[P_BLANK_BAT].v : "(not set)",
	          v[P_BLANK_BAT].locked ? " locked" : "", presentation ? "true" : "false",
	          v[P_PRESENTATION].locked ? " locked" : "");
	free(gv);
	return 0;
}

int screenlock_xfce_observe(const char *user, const char *home, struct screenlock_obs *obs)
{
	static const char rel[] = "xfce4/xfconf/xfce-perchannel-xml/xfce4-screensaver.xml";
	_cleanup_free_ char *osr = NULL;
	struct xfce_val v[_X_MAX];
	char p[PATH_MAX], id[32] = "", ver[32] = "";
	const char *locker = NULL;
	int64_t idle, delay;

	memset(obs, 0, sizeof(*obs));
	memset(v, 0, sizeof(v));
	obs->desktop = SL_DESKTOP_XFCE;
	strscpy(obs->user, sizeof(obs->user), user ? user : "");
	if ((root_path(p, sizeof(p), "/etc/os-release") == 0 && read_file_capped(p, 64 * 1024, &osr, NULL) == 0) ||
	    (root_path(p, sizeof(p), "/usr/lib/os-release") == 0 && read_file_capped(p, 64 * 1024, &osr, NULL) == 0)) {
		os_release_get(osr, "ID", id, sizeof(id));
		os_release_get(osr, "VERSION_ID", ver, sizeof(ver));
	}
	for (size_t i = 0; i < ELEMENTSOF(xfce_lockers); i++)
		if (!strcmp(id, xfce_lockers[i].id) && !strcmp(ver, xfce_lockers[i].version_id))
			locker = xfce_lockers[i].locker;
	if (!locker) {
		obs->unknown = true;
		xsnprintf(obs->err_what, sizeof(obs->err_what), "XFCE on %s %s: which screen locker it uses is unknown",
		          id[0] ? id : "(no os-release ID)", ver[0] ? ver : "(no VERSION_ID)");
		return 0;
	}
	if (!dpkg_installed(locker)) {
		/* the release's locker is not installed: nothing locks the session */
		obs->lock_enabled = false;
		obs->enabled_locked = obs->idle_locked = true;
		xsnprintf(obs->source, sizeof(obs->source), "%s (the screen locker of XFCE on %s %s) is not installed",
		          locker, id, ver);
		return 0;
	}
	if (strcmp(locker, "light-locker") == 0)
		return light_locker_observe(user, home, obs);
	if (strcmp(locker, "xfce4-screensaver") != 0) {
		obs->unknown = true;
		xsnprintf(obs->err_what, sizeof(obs->err_what),
		          "XFCE on %s %s locks with %s, whose settings mamori does not read", id, ver, locker);
		return 0;
	}
	if (root_pathf(p, sizeof(p), "/etc/xdg/%s", rel) < 0 ||
	    xfce_read(p, xfce_props, _X_MAX, v, true, user, obs) < 0)
		return 0;
	if (home && (root_pathf(p, sizeof(p), "%s/.config/%s", home, rel) < 0 ||
	             xfce_read(p, xfce_props, _X_MAX, v, false, user, obs) < 0))
		return 0;
	idle = xv_int(&v[X_IDLE_DELAY], 5);
	delay = xv_int(&v[X_LOCK_DELAY], 0);
	obs->lock_enabled = xv_bool(&v[X_SAVER], true) && xv_bool(&v[X_IDLE_ACT], true) && xv_bool(&v[X_LOCK], true) &&
	                    xv_bool(&v[X_LOCK_ACT], true);
	obs->idle_seconds = idle == 0 ? 0 : (idle + delay) * 60;
	obs->enabled_locked = v[X_SAVER].locked && v[X_IDLE_ACT].locked && v[X_LOCK].locked && v[X_LOCK_ACT].locked;
	obs->idle_locked = v[X_IDLE_DELAY].locked && v[X_LOCK_DELAY].locked;
	xsnprintf(obs->source, sizeof(obs->source),
	          "xfce4-screensaver saver=%s idle-activation=%s delay=%s%s min lock=%s lock-delay=%s%s min",
	          v[X_SAVER].set ? v[X_SAVER].v : "(default)", v[X_IDLE_ACT].set ? v[X_IDLE_ACT].v : "(default)",
	          v[X_IDLE_DELAY].set ? v[X_IDLE_DELAY].v : "(default 5)", v[X_IDLE_DELAY].locked ? " locked" : "",
	          v[X_LOCK].set ? v[X_LOCK].v : "(default)", v[X_LOCK_DELAY].set ? v[X_LOCK_DELAY].v : "(default 0)",
	          v[X_LOCK_DELAY].locked ? " locked" : "");
	return 0;
}
