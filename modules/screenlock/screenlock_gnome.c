/* modules/screenlock/screenlock_gnome.c — GNOME screen lock: effective dconf
 * values per user, and the locked system database of enforce mode (mamori-worker,
 * as root).
 *
 * Why the real dconf tool: the system databases are compiled GVDB files, and
 * dconf's own engine is the reference for "first database wins, a lock in a
 * system database wins over the user". We give it a profile made of file-db:
 * entries under the root prefix, so the same code reads a test fixture and
 * the real /etc. Whether staff can change a key is measured, not guessed: a
 * probe database with a sentinel value takes the place of the user database;
 * if the sentinel is what dconf reads, the key is not locked. */
#include <errno.h>
#include <stdbool.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "alloc-util.h"
#include "proc-util.h"
#include "fileio.h"
#include "rootpath.h"
#include "screenlock_gnome.h"
#include "strutil.h"

#define KEY_IDLE         "/org/gnome/desktop/session/idle-delay"
#define KEY_LOCK_ENABLED "/org/gnome/desktop/screensaver/lock-enabled"
#define KEY_LOCK_DELAY   "/org/gnome/desktop/screensaver/lock-delay"
/* false: the screensaver never starts on idle, so it never locks (issue 21) */
#define KEY_IDLE_ACT     "/org/gnome/desktop/screensaver/idle-activation-enabled"
#define PROBE_VALUE      "'mamori-probe'"
#define PROFILE_MAX_DBS  16
#define PROFILE_FILE_MAX (64 * 1024)
#define TOOL_OUT_MAX     4096
#define TOOL_TIMEOUT_MS  5000

/* GNOME schema defaults (gsettings-desktop-schemas), used when no database
 * has a key or its value has the wrong type (GSettings then ignores it). */
#define DEFAULT_IDLE_DELAY 300
#define DEFAULT_LOCK_DELAY 0

const char *screenlock_dconf_path = "/usr/bin/dconf";

static const char mamori_keyfile[] = "/etc/dconf/db/local.d/00-mamori-screenlock";
static const char mamori_lockfile[] = "/etc/dconf/db/local.d/locks/mamori-screenlock";

/* Run argv with a fixed small environment; stdout into out (NUL-terminated,
 * at most outsz-1 bytes: more is -EFBIG), stderr discarded, killed after
 * TOOL_TIMEOUT_MS (-ETIMEDOUT). *ret_exit gets the exit code. */
static int run_tool(char *const argv[], const char *dconf_profile, char *out, size_t outsz, int *ret_exit)
{
	char envprofile[PATH_MAX + 16];
	char *envp[] = {"PATH=/usr/bin:/bin", "HOME=/nonexistent", "LC_ALL=C", envprofile, NULL};
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	int r;

	if (outsz == 0)
		return -EINVAL;
	if (xsnprintf(envprofile, sizeof(envprofile), "DCONF_PROFILE=%s",
	              dconf_profile ? dconf_profile : "/nonexistent") < 0)
		return -ENAMETOOLONG;
	r = spawn_capture(argv, envp, TOOL_TIMEOUT_MS, outsz - 1, &buf, &len, ret_exit);
	if (r < 0)
		return r;
	memcpy(out, buf, len + 1);
	return 0;
}

struct dconf_db {
	char path[PATH_MAX]; /* resolved under the root */
	char label[80];      /* "user-db:user", "system-db:local" */
	bool user;
};

struct dconf_profile {
	bool exists;
	struct dconf_db dbs[PROFILE_MAX_DBS];
	size_t n;
};

static bool db_name_ok(const char *n)
{
	return *n && strlen(n) < 64 && !strchr(n, '/') && strcmp(n, ".") != 0 && strcmp(n, "..") != 0;
}

/* Parse /etc/dconf/profile/user. Missing profile = dconf's built-in default
 * (only user-db:user). -EINVAL on a line dconf would not accept. */
static int profile_load(const char *home, struct dconf_profile *pr, char *why, size_t whysz)
{
	_cleanup_free_ char *buf = NULL;
	char p[PATH_MAX];
	const char *s;
	int r;

	memset(pr, 0, sizeof(*pr));
	r = root_path(p, sizeof(p), "/etc/dconf/profile/user");
	if (r < 0)
		return r;
	r = read_file_capped(p, PROFILE_FILE_MAX, &buf, NULL);
	if (r == -ENOENT) {
		buf = strdup("user-db:user\n");
		if (!buf)
			return -ENOMEM;
	} else if (r < 0) {
		xsnprintf(why, whysz, "/etc/dconf/profile/user: %s", strerror(-r));
		return r;
	} else
		pr->exists = true;

	s = buf;
	while (*s) {
		size_t ll = strcspn(s, "\n");
		char line[512], *l, *c;
		struct dconf_db *db;

		if (ll >= sizeof(line)) {
			xsnprintf(why, whysz, "/etc/dconf/profile/user: line too long");
			return -EINVAL;
		}
		memcpy(line, s, ll);
		line[ll] = '\0';
		s += ll + (s[ll] == '\n');
		c = strchr(line, '#');
		if (c)
			*c = '\0';
		l = strstrip(line);
		if (!*l)
			continue;
		if (pr->n >= PROFILE_MAX_DBS) {
			xsnprintf(why, whysz, "/etc/dconf/profile/user: more than %d databases", PROFILE_MAX_DBS);
			return -E2BIG;
		}
		db = &pr->dbs[pr->n];
		if (startswith(l, "user-db:") && db_name_ok(l + 8)) {
			db->user = true;
			if (home)
				r = root_pathf(db->path, sizeof(db->path), "%s/.config/dconf/%s", home, l + 8);
			else
				r = xsnprintf(db->path, sizeof(db->path), "%s", ""); /* no user database */
		} else if (startswith(l, "system-db:") && db_name_ok(l + 10)) {
			r = root_pathf(db->path, sizeof(db->path), "/etc/dconf/db/%s", l + 10);
		} else if (startswith(l, "file-db:") && l[8] == '/') {
			r = root_path(db->path, sizeof(db->path), l + 8);
		} else if (startswith(l, "service-db:")) {
			continue; /* a D-Bus service database is not readable offline */
		} else {
			_cleanup_free_ char *e = escape_untrusted(l, strlen(l), 80);
			xsnprintf(why, whysz, "/etc/dconf/profile/user: unknown entry '%s'", e ? e : "?");
			return -EINVAL;
		}
		if (r < 0)
			return r;
		strscpy(db->label, sizeof(db->label), l);
		pr->n++;
	}
	return 0;
}

struct scratch {
	char dir[PATH_MAX];
};

static void scratch_cleanup(struct scratch *sc)
{
	static const char *const files[] = {"eff", "probe-profile", "probe", "probe.d/keys"};
	char p[PATH_MAX];

	if (!sc->dir[0])
		return;
	for (size_t i = 0; i < ELEMENTSOF(files); i++)
		if (xsnprintf(p, sizeof(p), "%s/%s", sc->dir, files[i]) == 0)
			unlink(p);
	if (xsnprintf(p, sizeof(p), "%s/probe.d", sc->dir) == 0)
		rmdir(p);
	rmdir(sc->dir);
	sc->dir[0] = '\0';
}

static int write_small(const char *dir, const char *name, const char *text)
{
	char p[PATH_MAX];
	int r = xsnprintf(p, sizeof(p), "%s/%s", dir, name);

	if (r < 0)
		return r;
	return write_file_atomic(p, text, strlen(text), 0600);
}

/* Write profiles: "eff" lists the databases that exist, in profile order;
 * "probe-profile" has the probe database in place of the user database. */
static int write_profiles(struct scratch *sc, const struct dconf_profile *pr, bool *ret_writable)
{
	char eff[PROFILE_MAX_DBS * (PATH_MAX + 10)], probe[PROFILE_MAX_DBS * (PATH_MAX + 10)];
	size_t oe = 0, op = 0;
	bool writable = pr->n > 0 && pr->dbs[0].user;
	int r;

	eff[0] = probe[0] = '\0';
	if (writable) {
		r = xsnprintf(probe, sizeof(probe), "file-db:%s/probe\n", sc->dir);
		if (r < 0)
			return r;
		op = strlen(probe);
	}
	for (size_t i = 0; i < pr->n; i++) {
		const struct dconf_db *db = &pr->dbs[i];

		if (!db->path[0] || access(db->path, R_OK) < 0)
			continue; /* dconf treats a missing database as empty */
		r = xsnprintf(eff + oe, sizeof(eff) - oe, "file-db:%s\n", db->path);
		if (r < 0)
			return r;
		oe += strlen(eff + oe);
		if (db->user)
			continue;
		r = xsnprintf(probe + op, sizeof(probe) - op, "file-db:%s\n", db->path);
		if (r < 0)
			return r;
		op += strlen(probe + op);
	}
	r = write_small(sc->dir, "eff", eff);
	if (r < 0)
		return r;
	r = write_small(sc->dir, "probe-profile", probe);
	if (r < 0)
		return r;
	*ret_writable = writable;
	return 0;
}

/* A keyfile that gives every key in keys ("/dir/name") the probe value; one
 * group per key (GKeyFile merges repeated groups). */
static int probe_keyfile(const char *const *keys, size_t n, char *out, size_t outsz)
{
	size_t o = 0;

	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		const char *slash = strrchr(keys[i], '/');

		if (keys[i][0] != '/' || !slash || slash == keys[i] || !slash[1])
			return -EINVAL;
		if (xsnprintf(out + o, outsz - o, "[%.*s]\n%s=" PROBE_VALUE "\n", (int)(slash - keys[i] - 1),
		              keys[i] + 1, slash + 1) < 0)
			return -ENAMETOOLONG;
		o += strlen(out + o);
	}
	return 0;
}

static int make_probe_db(struct scratch *sc, const char *const *keys, size_t n)
{
	char kd[PATH_MAX], db[PATH_MAX], out[TOOL_OUT_MAX], text[TOOL_OUT_MAX];
	int r, ex = -1;

	if (xsnprintf(kd, sizeof(kd), "%s/probe.d", sc->dir) < 0 || xsnprintf(db, sizeof(db), "%s/probe", sc->dir) < 0)
		return -ENAMETOOLONG;
	if (mkdir(kd, 0700) < 0)
		return -errno;
	r = probe_keyfile(keys, n, text, sizeof(text));
	if (r < 0)
		return r;
	r = write_small(kd, "keys", text);
	if (r < 0)
		return r;
	{
		char *argv[] = {(char *)screenlock_dconf_path, "compile", db, kd, NULL};
		r = run_tool(argv, NULL, out, sizeof(out), &ex);
	}
	if (r < 0)
		return r;
	return ex == 0 ? 0 : -EIO;
}

static int dconf_read(const char *profile, const char *key, char *out, size_t outsz)
{
	char *argv[] = {(char *)screenlock_dconf_path, "read", (char *)key, NULL};
	int r, ex = -1;

	r = run_tool(argv, profile, out, outsz, &ex);
	if (r < 0)
		return r;
	if (ex != 0)
		return -EIO;
	strstrip(out);
	return 0;
}

/* "uint32 300" -> 300. Anything else (another type: GSettings ignores it). */
static bool parse_u32(const char *v, int64_t *ret)
{
	if (!startswith(v, "uint32 "))
		return false;
	return parse_int64(v + 7, 0, UINT32_MAX, ret) == 0;
}

int screenlock_gnome_observe(const char *user, const char *home, struct screenlock_obs *obs)
{
	_cleanup_(scratch_cleanup) struct scratch sc = {{0}};
	struct dconf_profile pr;
	char effp[PATH_MAX], probep[PATH_MAX], v_idle[TOOL_OUT_MAX], v_en[TOOL_OUT_MAX], v_delay[TOOL_OUT_MAX];
	char p_idle[TOOL_OUT_MAX], p_en[TOOL_OUT_MAX], p_delay[TOOL_OUT_MAX], dbs[160];
	char v_act[TOOL_OUT_MAX], p_act[TOOL_OUT_MAX];
	const char *tmp = getenv("TMPDIR");
	int64_t idle = DEFAULT_IDLE_DELAY, delay = DEFAULT_LOCK_DELAY;
	bool writable = false, enabled = true, mismatch = false;
	size_t o = 0;
	int r;

	memset(obs, 0, sizeof(*obs));
	obs->desktop = SL_DESKTOP_GNOME;
	strscpy(obs->user, sizeof(obs->user), user ? user : "");

	if (access(screenlock_dconf_path, X_OK) < 0) {
		obs->err = -ENOENT;
		xsnprintf(obs->err_what, sizeof(obs->err_what), "%s is not installed (dconf-cli)",
		          screenlock_dconf_path);
		return 0;
	}
	r = profile_load(home, &pr, obs->err_what, sizeof(obs->err_what));
	if (r < 0) {
		obs->err = r;
		if (!obs->err_what[0])
			xsnprintf(obs->err_what, sizeof(obs->err_what), "dconf profile: %s", strerror(-r));
		return r == -ENOMEM ? r : 0;
	}
	dbs[0] = '\0';
	for (size_t i = 0; i < pr.n; i++) {
		if (xsnprintf(dbs + o, sizeof(dbs) - o, "%s%s", i ? "," : "", pr.dbs[i].label) < 0)
			break;
		o += strlen(dbs + o);
	}

	if (xsnprintf(sc.dir, sizeof(sc.dir), "%s/mamori-dconf.XXXXXX", tmp && *tmp == '/' ? tmp : "/tmp") < 0 ||
	    !mkdtemp(sc.dir)) {
		r = -errno;
		sc.dir[0] = '\0';
		goto fail;
	}
	r = write_profiles(&sc, &pr, &writable);
	if (r < 0)
		goto fail;
	if (writable) {
		static const char *const gkeys[] = {KEY_IDLE, KEY_LOCK_ENABLED, KEY_LOCK_DELAY, KEY_IDLE_ACT};
		r = make_probe_db(&sc, gkeys, ELEMENTSOF(gkeys));
		if (r < 0)
			goto fail;
	}
	if (xsnprintf(effp, sizeof(effp), "%s/eff", sc.dir) < 0 ||
	    xsnprintf(probep, sizeof(probep), "%s/probe-profile", sc.dir) < 0) {
		r = -ENAMETOOLONG;
		goto fail;
	}
	if ((r = dconf_read(effp, KEY_IDLE, v_idle, sizeof(v_idle))) < 0 ||
	    (r = dconf_read(effp, KEY_LOCK_ENABLED, v_en, sizeof(v_en))) < 0 ||
	    (r = dconf_read(effp, KEY_LOCK_DELAY, v_delay, sizeof(v_delay))) < 0 ||
	    (r = dconf_read(effp, KEY_IDLE_ACT, v_act, sizeof(v_act))) < 0)
		goto fail;
	if (writable) {
		if ((r = dconf_read(probep, KEY_IDLE, p_idle, sizeof(p_idle))) < 0 ||
		    (r = dconf_read(probep, KEY_LOCK_ENABLED, p_en, sizeof(p_en))) < 0 ||
		    (r = dconf_read(probep, KEY_LOCK_DELAY, p_delay, sizeof(p_delay))) < 0 ||
		    (r = dconf_read(probep, KEY_IDLE_ACT, p_act, sizeof(p_act))) < 0)
			goto fail;
		obs->idle_locked = strcmp(p_idle, PROBE_VALUE) != 0 && strcmp(p_delay, PROBE_VALUE) != 0;
		obs->enabled_locked = strcmp(p_en, PROBE_VALUE) != 0 && strcmp(p_act, PROBE_VALUE) != 0;
	} else {
		/* no user database first in the profile: nothing is writable */
		obs->idle_locked = obs->enabled_locked = true;
	}

	if (v_idle[0] && !parse_u32(v_idle, &idle)) {
		mismatch = true;
		idle = DEFAULT_IDLE_DELAY;
	}
	if (v_delay[0] && !parse_u32(v_delay, &delay)) {
		mismatch = true;
		delay = DEFAULT_LOCK_DELAY;
	}
	if (strcmp(v_en, "false") == 0)
		enabled = false;
	else if (v_en[0] && strcmp(v_en, "true") != 0)
		mismatch = true;
	if (strcmp(v_act, "false") == 0)
		enabled = false; /* idle never activates the screensaver: nothing locks */
	else if (v_act[0] && strcmp(v_act, "true") != 0)
		mismatch = true;
	obs->lock_enabled = enabled;
	obs->idle_seconds = idle == 0 ? 0 : idle + delay;
	xsnprintf(obs->source, sizeof(obs->source),
	          "profile=%s dbs=%s idle-delay=%s lock-delay=%s lock-enabled=%s idle-activation-enabled=%s%s",
	          pr.exists ? "/etc/dconf/profile/user" : "(none: user-db only)", dbs[0] ? dbs : "none",
	          v_idle[0] ? v_idle : "(default)", v_delay[0] ? v_delay : "(default)", v_en[0] ? v_en : "(default)",
	          v_act[0] ? v_act : "(default)", mismatch ? " (a value of the wrong type is ignored by GNOME)" : "");
	return 0;
fail:
	obs->err = r;
	xsnprintf(obs->err_what, sizeof(obs->err_what), "reading the dconf databases with %s failed: %s",
	          screenlock_dconf_path, strerror(-r));
	return r == -ENOMEM ? r : 0;
}

int screenlock_dconf_keys(const char *home, const char *const *keys, size_t n, char (*vals)[SL_DCONF_VAL_MAX],
                          bool *locked, char *why, size_t whysz)
{
	_cleanup_(scratch_cleanup) struct scratch sc = {{0}};
	struct dconf_profile pr;
	char effp[PATH_MAX], probep[PATH_MAX], pv[TOOL_OUT_MAX];
	const char *tmp = getenv("TMPDIR");
	bool writable = false;
	int r;

	why[0] = '\0';
	if (access(screenlock_dconf_path, X_OK) < 0) {
		xsnprintf(why, whysz, "%s is not installed (dconf-cli)", screenlock_dconf_path);
		return -ENOENT;
	}
	r = profile_load(home, &pr, why, whysz);
	if (r < 0) {
		if (!why[0])
			xsnprintf(why, whysz, "dconf profile: %s", strerror(-r));
		return r;
	}
	if (xsnprintf(sc.dir, sizeof(sc.dir), "%s/mamori-dconf.XXXXXX", tmp && *tmp == '/' ? tmp : "/tmp") < 0 ||
	    !mkdtemp(sc.dir)) {
		r = -errno;
		sc.dir[0] = '\0';
		goto fail;
	}
	if ((r = write_profiles(&sc, &pr, &writable)) < 0 || (writable && (r = make_probe_db(&sc, keys, n)) < 0))
		goto fail;
	if (xsnprintf(effp, sizeof(effp), "%s/eff", sc.dir) < 0 ||
	    xsnprintf(probep, sizeof(probep), "%s/probe-profile", sc.dir) < 0) {
		r = -ENAMETOOLONG;
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		if ((r = dconf_read(effp, keys[i], vals[i], SL_DCONF_VAL_MAX)) < 0)
			goto fail;
		/* the probe shows through where the user's database would win: not locked */
		if (writable && (r = dconf_read(probep, keys[i], pv, sizeof(pv))) < 0)
			goto fail;
		locked[i] = !writable || strcmp(pv, PROBE_VALUE) != 0;
	}
	return 0;
fail:
	xsnprintf(why, whysz, "reading the dconf databases with %s failed: %s", screenlock_dconf_path, strerror(-r));
	return r;
}

/* Make sure the profile lists user-db:user first and system-db:local. */
static int ensure_profile(void)
{
	_cleanup_free_ char *buf = NULL, *nbuf = NULL;
	char p[PATH_MAX], dir[PATH_MAX];
	struct dconf_profile pr;
	char why[160] = "";
	bool has_local = false;
	size_t len = 0;
	int r;

	r = root_path(p, sizeof(p), "/etc/dconf/profile/user");
	if (r < 0)
		return r;
	r = root_path(dir, sizeof(dir), "/etc/dconf/profile");
	if (r < 0)
		return r;
	r = profile_load(NULL, &pr, why, sizeof(why));
	if (r < 0)
		return r; /* a profile we do not understand is not rewritten blindly */
	for (size_t i = 0; i < pr.n; i++)
		if (strcmp(pr.dbs[i].label, "system-db:local") == 0)
			has_local = true;
	if (pr.exists && has_local)
		return 0;
	r = mkdir_p(dir, 0755);
	if (r < 0)
		return r;
	if (!pr.exists)
		return write_file_atomic(p, "user-db:user\nsystem-db:local\n", 29, 0644);
	r = read_file_capped(p, PROFILE_FILE_MAX, &buf, &len);
	if (r < 0)
		return r;
	nbuf = malloc(len + 32);
	if (!nbuf)
		return -ENOMEM;
	memcpy(nbuf, buf, len);
	if (len && buf[len - 1] != '\n')
		nbuf[len++] = '\n';
	memcpy(nbuf + len, "system-db:local\n", 16);
	return write_file_atomic(p, nbuf, len + 16, 0644);
}

/* Write data unless the file already holds exactly it: 1 written, 0 same. */
static int write_if_changed(const char *path, const char *data)
{
	_cleanup_free_ char *cur = NULL;
	size_t len = 0, n = strlen(data);
	int r;

	if (read_file_capped(path, n + 1, &cur, &len) == 0 && len == n && memcmp(cur, data, n) == 0)
		return 0;
	r = write_file_atomic(path, data, n, 0644);
	return r < 0 ? r : 1;
}

/* true if the compiled database is missing or older than a key file or a lock
 * file (someone edited local.d without `dconf update`). */
static bool db_stale(const char *db, const char *dir)
{
	struct stat dbst, st;
	char sub[PATH_MAX];
	DIR *d;
	struct dirent *de;
	bool stale = false;

	if (stat(db, &dbst) < 0)
		return true;
	for (int pass = 0; pass < 2 && !stale; pass++) {
		if (xsnprintf(sub, sizeof(sub), "%s%s", dir, pass ? "/locks" : "") < 0 || !(d = opendir(sub)))
			continue;
		while (!stale && (de = readdir(d))) {
			char f[PATH_MAX];

			if (de->d_name[0] == '.' || xsnprintf(f, sizeof(f), "%s/%s", sub, de->d_name) < 0)
				continue;
			if (stat(f, &st) == 0 && S_ISREG(st.st_mode) &&
			    (st.st_mtim.tv_sec > dbst.st_mtim.tv_sec ||
			     (st.st_mtim.tv_sec == dbst.st_mtim.tv_sec && st.st_mtim.tv_nsec > dbst.st_mtim.tv_nsec)))
				stale = true;
		}
		closedir(d);
	}
	return stale;
}

/* Idempotent: runs at every posture pass; writes and compiles only when the
 * files differ from the policy or the database is older than its sources. */
int screenlock_gnome_enforce(const struct screenlock_settings *s)
{
	char keys[512], p[PATH_MAX], dir[PATH_MAX], db[PATH_MAX], out[TOOL_OUT_MAX];
	static const char locks[] = "# Managed by mamori (LOCK-1): staff cannot change these keys.\n" KEY_IDLE
	                            "\n" KEY_LOCK_ENABLED "\n" KEY_LOCK_DELAY "\n" KEY_IDLE_ACT "\n";
	int r, ex = -1;
	bool changed;

	if (s->max_idle_seconds <= 0 || s->max_idle_seconds > UINT32_MAX)
		return -EINVAL;
	r = xsnprintf(keys, sizeof(keys),
	              "# Managed by mamori (LOCK-1); changes here are overwritten.\n"
	              "[org/gnome/desktop/session]\nidle-delay=uint32 %lld\n\n"
	              "[org/gnome/desktop/screensaver]\nlock-enabled=%s\nlock-delay=uint32 0\n"
	              "idle-activation-enabled=true\n",
	              (long long)s->max_idle_seconds, s->lock_enabled ? "true" : "false");
	if (r < 0)
		return r;
	if ((r = root_path(dir, sizeof(dir), "/etc/dconf/db/local.d/locks")) < 0 || (r = mkdir_p(dir, 0755)) < 0)
		return r;
	if ((r = root_path(p, sizeof(p), mamori_keyfile)) < 0 || (r = write_if_changed(p, keys)) < 0)
		return r;
	changed = r > 0;
	if ((r = root_path(p, sizeof(p), mamori_lockfile)) < 0 || (r = write_if_changed(p, locks)) < 0)
		return r;
	changed |= r > 0;
	r = ensure_profile();
	if (r < 0)
		return r;
	/* `dconf update` only knows the real /etc; compile works on any root */
	if ((r = root_path(db, sizeof(db), "/etc/dconf/db/local")) < 0 ||
	    (r = root_path(dir, sizeof(dir), "/etc/dconf/db/local.d")) < 0)
		return r;
	if (!changed && !db_stale(db, dir))
		return 0;
	{
		char *argv[] = {(char *)screenlock_dconf_path, "compile", db, dir, NULL};
		r = run_tool(argv, NULL, out, sizeof(out), &ex);
	}
	if (r < 0)
		return r;
	return ex == 0 ? 0 : -EIO;
}
