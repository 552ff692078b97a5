/* modules/screenlock/screenlock.h — screen lock posture and enforcement,
 * LOCK-1 (mamori-worker).
 *
 * LOCK-1 (M 6.1(1)⑦, T 第5 2(3)): the screen locks when the terminal is left,
 * after the idle time the policy sets, and staff cannot change that. The
 * check measures the *effective* setting per logged-in user and desktop
 * (GNOME through the real dconf databases, KDE kscreenlockerrc with kiosk
 * immutability, XFCE xfconf), and systemd-logind's IdleAction=lock, which
 * locks any desktop that listens to logind. Enforcement (GNOME) writes a
 * locked system dconf database. All paths go through the root prefix. */
#ifndef MAMORI_SCREENLOCK_H
#define MAMORI_SCREENLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "module.h"

/* The `screenlock` policy section. Defaults when the section is absent:
 * max_idle_seconds 300, lock_enabled true, locked true, enforce false. */
struct screenlock_settings {
	int64_t max_idle_seconds; /* the screen must lock after at most this much idle time */
	bool lock_enabled;        /* locking must be switched on */
	bool locked;              /* staff must not be able to change the setting */
	bool enforce;             /* write the GNOME system database (not in audit mode) */
};

void screenlock_settings_default(struct screenlock_settings *ret);

/* Fill settings from an (already validated) section; NULL gives the
 * defaults. Keys missing from the section keep their defaults. -EINVAL on a
 * value of the wrong type or out of range (then *ret is unchanged). */
int screenlock_settings_from_json(const cJSON *section, struct screenlock_settings *ret);

enum screenlock_desktop {
	SL_DESKTOP_GNOME,
	SL_DESKTOP_KDE,
	SL_DESKTOP_XFCE,
	_SL_DESKTOP_MAX,
	_SL_DESKTOP_INVALID = -1,
};

const char *screenlock_desktop_name(enum screenlock_desktop d);

/* What one desktop's configuration means for one user ("" = the system
 * defaults a new user gets). */
struct screenlock_obs {
	enum screenlock_desktop desktop;
	char user[64];
	int err;      /* < 0: the settings could not be read; err_what says why */
	bool unknown; /* which locker this desktop uses on this release is not known: fail (err_what) */
	char err_what[160];
	bool lock_enabled;    /* the idle timer locks the screen */
	int64_t idle_seconds; /* idle time until the screen is locked; 0 = never */
	bool enabled_locked;  /* staff cannot change lock_enabled */
	bool idle_locked;     /* staff cannot change the idle time */
	char source[256];     /* where the effective values came from (evidence) */
};

/* systemd-logind: IdleAction= / IdleActionSec= ([Login] in logind.conf(.d)). */
struct screenlock_logind {
	int err;              /* < 0: logind.conf unreadable or malformed */
	char idle_action[32]; /* "ignore" when unset */
	int64_t idle_action_sec;
	int64_t stop_idle_session_sec; /* StopIdleSessionSec=, 0 = off (used by LOCK-2 too) */
};

#define SCREENLOCK_MAX_OBS 32

struct screenlock_facts {
	struct screenlock_obs obs[SCREENLOCK_MAX_OBS];
	size_t n_obs;
	size_t n_sessions; /* graphical sessions found */
	struct screenlock_logind logind;
};

/* Gather the facts under the root prefix: logged-in users (logind's
 * /run/systemd/sessions), their desktops and homes (/etc/passwd), each
 * desktop's effective settings, and logind.conf. With no graphical session
 * the system defaults are observed instead. Returns 0 or negative errno
 * (problems with one user's settings are recorded in that obs). */
int screenlock_gather(struct screenlock_facts *ret);

/* Results: one `screenlock.idle` per observation (LOCK-1). Pure. */
int screenlock_evaluate(const struct screenlock_settings *s, const struct screenlock_facts *f,
                        struct check_report *rep);

extern const struct mamori_module screenlock_module;

#endif
