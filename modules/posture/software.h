/* modules/posture/software.h — installed software against the policy, SOFT-1
 * (mamori-worker).
 *
 * Owns the `software` module: the inventory from dpkg's status file, the
 * allow/deny evaluation (fnmatch globs), and the change record: the last
 * inventory is kept in state_dir/software/packages (name, arch, version per
 * line, written atomically) and differences become one `posture.changed`
 * event per check. */
#ifndef MAMORI_SOFTWARE_H
#define MAMORI_SOFTWARE_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "module.h"
#include "patch/patch_dpkg.h"

#define SOFTWARE_PATTERNS_MAX 256
#define SOFTWARE_EVENT_MAX    500 /* names per list in one event; more is marked truncated */

enum software_mode {
	SOFTWARE_DENYLIST,
	SOFTWARE_ALLOWLIST,
	_SOFTWARE_MODE_MAX,
	_SOFTWARE_MODE_INVALID = -1,
};

struct software_settings {
	enum software_mode mode;
	char *deny[SOFTWARE_PATTERNS_MAX];
	size_t n_deny;
	char *allow[SOFTWARE_PATTERNS_MAX];
	size_t n_allow;
};

/* Fill *ret from the `software` section (NULL: denylist, empty lists).
 * -EINVAL on wrong types. Release with software_settings_done(). */
int software_settings_from_json(const cJSON *sec, struct software_settings *ret);
void software_settings_done(struct software_settings *s);

/* software.policy (SOFT-1) from an installed-package list. Pure. */
int software_evaluate(const struct software_settings *s, const struct patch_pkglist *pkgs, struct check_report *rep);

/* Compare pkgs with the inventory stored in state_dir (under the root),
 * emit posture.changed (payload: added, removed, changed) when they differ
 * and a previous inventory exists, then store pkgs. Returns the number of
 * differences, or negative errno. */
int software_track_changes(const char *state_dir, const struct patch_pkglist *pkgs, struct mamori_ctx *ctx);

extern const struct mamori_module software_module;

#endif
