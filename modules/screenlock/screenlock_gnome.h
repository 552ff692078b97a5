/* modules/screenlock/screenlock_gnome.h — GNOME screen lock through dconf
 * (mamori-worker).
 *
 * Reads the effective values of org/gnome/desktop/session/idle-delay and
 * org/gnome/desktop/screensaver/lock-enabled, lock-delay for one user the
 * way GSettings does: the dconf profile (/etc/dconf/profile/user) lists the
 * databases, the first that has a key wins, a lock in a system database
 * makes the system value win. The compiled GVDB files are read by the real
 * `dconf` tool (posix_spawn, timeout, capped output) with a generated
 * profile of file-db: entries under the root prefix. */
#ifndef MAMORI_SCREENLOCK_GNOME_H
#define MAMORI_SCREENLOCK_GNOME_H

#include "screenlock.h"

/* Path of the dconf tool; tests may point it elsewhere. Not owned. */
extern const char *screenlock_dconf_path;

/* Observe the settings for user (home is the system path of the home
 * directory, resolved under the root here; NULL = a user without a dconf
 * user database, i.e. the system defaults). Always fills *obs; read problems
 * are recorded in obs->err. Returns 0, or -ENOMEM. */
/* The effective value of each dconf key (GVariant text as `dconf read`
 * prints it, "" = unset: the schema default applies) and whether staff
 * cannot change it (a lock in a system database, or no user database first
 * in the profile), for the user whose home is home (NULL = system defaults).
 * Any desktop's GSettings keys (light-locker's apps.light-locker too).
 * Returns 0, or negative errno with why filled. */
#define SL_DCONF_VAL_MAX 4096
int screenlock_dconf_keys(const char *home, const char *const *keys, size_t n, char (*vals)[SL_DCONF_VAL_MAX],
                          bool *locked, char *why, size_t whysz);

int screenlock_gnome_observe(const char *user, const char *home, struct screenlock_obs *obs);

/* Enforce mode: write /etc/dconf/db/local.d/00-mamori-screenlock and
 * locks/mamori-screenlock, make sure /etc/dconf/profile/user has
 * system-db:local, and compile /etc/dconf/db/local with `dconf compile`
 * (all under the root). Returns 0 or negative errno. */
int screenlock_gnome_enforce(const struct screenlock_settings *s);

#endif
