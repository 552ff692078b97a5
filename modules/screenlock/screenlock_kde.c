/* modules/screenlock/screenlock_kde.c — KDE kscreenlockerrc cascade with kiosk
 * immutability (mamori-worker). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "alloc-util.h"
#include "fileio.h"
#include "rootpath.h"
#include "screenlock_kde.h"
#include "strutil.h"

#define KDE_FILE_MAX (256 * 1024)
#define KDE_LINE_MAX 4096

enum { K_AUTOLOCK, K_TIMEOUT, K_GRACE, K_RESUME, _K_MAX };
static const char *const kde_keys[_K_MAX] = {"Autolock", "Timeout", "LockGrace", "LockOnResume"};

struct kde_val {
	bool set, immutable;
	char v[64];
};

struct kde_state {
	struct kde_val k[_K_MAX];
	bool file_immutable;
};

/* Apply one file; `system` files may make keys immutable for later files. */
static int kde_apply(struct kde_state *st, const char *buf, bool system)
{
	bool in_daemon = false, group_immutable = false, seen_group = false, file_immutable = false;
	bool mark[_K_MAX] = {false}; /* immutability takes effect for the files after this one */

	while (*buf) {
		size_t ll = strcspn(buf, "\n");
		char line[KDE_LINE_MAX], *s, *eq, *key;
		bool key_immutable = false;

		if (ll >= sizeof(line))
			return -EINVAL;
		memcpy(line, buf, ll);
		line[ll] = '\0';
		buf += ll + (buf[ll] == '\n');
		s = strstrip(line);
		if (!*s || *s == '#')
			continue;
		if (*s == '[') {
			if (strcmp(s, "[$i]") == 0 && !seen_group) {
				file_immutable = true;
				continue;
			}
			seen_group = true;
			in_daemon = startswith(s, "[Daemon]");
			if (in_daemon && strcmp(s, "[Daemon][$i]") == 0)
				group_immutable = true;
			continue;
		}
		if (!in_daemon)
			continue;
		eq = strchr(s, '=');
		if (!eq)
			continue; /* KConfig ignores such lines */
		*eq = '\0';
		key = strstrip(s);
		{
			char *br = strchr(key, '[');
			if (br) {
				if (strcmp(br, "[$i]") == 0)
					key_immutable = true;
				else
					continue; /* localised or expanded variants are not ours */
				*br = '\0';
			}
		}
		for (int i = 0; i < _K_MAX; i++) {
			struct kde_val *kv = &st->k[i];

			if (strcmp(key, kde_keys[i]) != 0)
				continue;
			if (kv->immutable)
				break; /* an earlier system file said: not changeable */
			kv->set = true;
			strscpy(kv->v, sizeof(kv->v), strstrip(eq + 1));
			if (key_immutable)
				mark[i] = true;
			break;
		}
	}
	if (!system)
		return 0; /* the user's own [$i] does not stop the user */
	for (int i = 0; i < _K_MAX; i++)
		if (mark[i] || group_immutable || file_immutable)
			st->k[i].immutable = true;
	st->file_immutable = st->file_immutable || file_immutable;
	return 0;
}

static bool kde_bool(const struct kde_val *kv, bool def)
{
	if (!kv->set)
		return def;
	if (!strcmp(kv->v, "true") || !strcmp(kv->v, "1") || !strcmp(kv->v, "on") || !strcmp(kv->v, "yes"))
		return true;
	if (!strcmp(kv->v, "false") || !strcmp(kv->v, "0") || !strcmp(kv->v, "off") || !strcmp(kv->v, "no"))
		return false;
	return def;
}

static int64_t kde_int(const struct kde_val *kv, int64_t def, int64_t max)
{
	int64_t v;

	if (!kv->set || parse_int64(kv->v, 0, max, &v) < 0)
		return def;
	return v;
}

static int kde_read(const char *path, struct kde_state *st, bool system, struct screenlock_obs *obs)
{
	_cleanup_free_ char *buf = NULL;
	int r = read_file_capped(path, KDE_FILE_MAX, &buf, NULL);

	if (r == -ENOENT)
		return 0;
	if (r == 0)
		r = kde_apply(st, buf, system);
	if (r < 0) {
		obs->err = r;
		xsnprintf(obs->err_what, sizeof(obs->err_what), "%s: %s", path,
		          r == -EFBIG    ? "file too large"
		          : r == -EINVAL ? "line too long"
		                         : strerror(-r));
	}
	return r;
}

int screenlock_kde_observe(const char *user, const char *home, struct screenlock_obs *obs)
{
	struct kde_state st;
	char p[PATH_MAX];
	int64_t timeout, grace;

	memset(obs, 0, sizeof(*obs));
	memset(&st, 0, sizeof(st));
	obs->desktop = SL_DESKTOP_KDE;
	strscpy(obs->user, sizeof(obs->user), user ? user : "");
	if (root_path(p, sizeof(p), "/etc/xdg/kscreenlockerrc") < 0 || kde_read(p, &st, true, obs) < 0)
		return 0;
	if (home &&
	    (root_pathf(p, sizeof(p), "%s/.config/kscreenlockerrc", home) < 0 || kde_read(p, &st, false, obs) < 0))
		return 0;
	timeout = kde_int(&st.k[K_TIMEOUT], 5, 100000);
	grace = kde_int(&st.k[K_GRACE], 5, 100000000);
	obs->lock_enabled = kde_bool(&st.k[K_AUTOLOCK], true);
	obs->idle_seconds = timeout == 0 ? 0 : timeout * 60 + grace;
	obs->enabled_locked = st.k[K_AUTOLOCK].immutable;
	obs->idle_locked = st.k[K_TIMEOUT].immutable && st.k[K_GRACE].immutable;
	xsnprintf(obs->source, sizeof(obs->source),
	          "kscreenlockerrc Autolock=%s%s Timeout=%s%s min LockGrace=%s%s s LockOnResume=%s",
	          st.k[K_AUTOLOCK].set ? st.k[K_AUTOLOCK].v : "(default true)",
	          st.k[K_AUTOLOCK].immutable ? "[$i]" : "", st.k[K_TIMEOUT].set ? st.k[K_TIMEOUT].v : "(default 5)",
	          st.k[K_TIMEOUT].immutable ? "[$i]" : "", st.k[K_GRACE].set ? st.k[K_GRACE].v : "(default 5)",
	          st.k[K_GRACE].immutable ? "[$i]" : "", st.k[K_RESUME].set ? st.k[K_RESUME].v : "(default true)");
	return 0;
}
