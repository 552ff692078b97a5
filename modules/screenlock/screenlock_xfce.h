/* modules/screenlock/screenlock_xfce.h — XFCE (xfce4-screensaver) settings
 * from xfconf XML (mamori-worker).
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
int screenlock_xfce_observe(const char *user, const char *home, struct screenlock_obs *obs);

#endif
