/* modules/screenlock/screenlock_kde.h — KDE Plasma screen locker settings
 * (mamori-worker).
 *
 * kscreenlockerrc, group [Daemon]: Autolock (default true), Timeout in
 * minutes (default 5, 0 = never), LockGrace in seconds (default 5),
 * LockOnResume. The system file /etc/xdg/kscreenlockerrc is read first, the
 * user's ~/.config/kscreenlockerrc overrides it unless the system file makes
 * the file ([$i] before any group), the group ([Daemon][$i]) or the key
 * (Key[$i]=) immutable — KDE's kiosk mechanism; only then staff cannot
 * change it. */
#ifndef MAMORI_SCREENLOCK_KDE_H
#define MAMORI_SCREENLOCK_KDE_H

#include "screenlock.h"

/* home: system path of the user's home (under the root here), NULL = system
 * defaults only. Always fills *obs; returns 0. */
int screenlock_kde_observe(const char *user, const char *home, struct screenlock_obs *obs);

#endif
