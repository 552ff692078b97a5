/* modules/screenlock/screenlock_xfce.h — XFCE (xfce4-screensaver) settings
 * from xfconf XML (mamori-worker). Which locker XFCE uses is per release (a
 * table in screenlock_xfce.c: light-locker on Debian 12, xfce4-screensaver on
 * Xubuntu); an unknown release fails "unknown", a locker not installed fails.
 *
 * light-locker (Debian 12): locks lock-after-screensaver seconds (GSettings
 * apps.light-locker, through screenlock_dconf_keys) after the X screensaver
 * starts, which xfce4-power-manager sets from its channel's
 * /xfce4-power-manager/blank-on-ac|blank-on-battery (minutes, 0 or
 * presentation-mode = never); late-locking or lock-after-screensaver 0 =
 * no lock; blank time unset or no xfce4-power-manager = unknown.
 *
 * Channel xfce4-screensaver: /saver/enabled, /saver/idle-activation/enabled,
 * /saver/idle-activation/delay (minutes), /lock/enabled,
 * /lock/saver-activation/enabled, /lock/saver-activation/delay (minutes).
 * The system file /etc/xdg/xfce4/xfconf/xfce-perchannel-xml/ is overridden
 * by the user's ~/.config/xfce4/xfconf/xfce-perchannel-xml/ unless xfconfd's
 * `locked="*"` (or the user's name) is set on the property in the system
 * file. */
#ifndef MAMORI_SCREENLOCK_XFCE_H
#define MAMORI_SCREENLOCK_XFCE_H

#include "screenlock.h"

/* home NULL = system defaults only. Always fills *obs; returns 0. */
/* XFCE's session is installed (dpkg): its default is judged even with
 * nobody logged in and no xfconf file (Debian 12 with light-locker). */
bool screenlock_xfce_installed(void);

int screenlock_xfce_observe(const char *user, const char *home, struct screenlock_obs *obs);

#endif
