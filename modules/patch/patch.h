/* modules/patch/patch.h — patch level, PATCH-1 and PATCH-2 (mamori-worker).
 *
 * Owns the `patch` module: settings from the policy's `patch` section, the
 * facts (installed packages and their candidates from dpkg/apt, or dnf
 * security advisories; list freshness; reboot-required; the OS release),
 * the first-seen record of pending security updates in state_dir, and the
 * pure evaluation into results. Nothing here touches the network. */
#ifndef MAMORI_PATCH_H
#define MAMORI_PATCH_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "module.h"
#include "patch_apt.h"
#include "patch_dnf.h"
#include "patch_dpkg.h"

#define PATCH_EOL_MAX 64

struct patch_eol {
	char release[64]; /* "ID:VERSION_ID", e.g. "debian:12" */
	int64_t end;      /* first second after the last supported day (UTC) */
	char date[16];    /* as written in the policy */
};

struct patch_settings {
	int64_t max_pending_security;
	int64_t max_security_age_days;
	int64_t max_list_age_days;
	struct patch_eol eol[PATCH_EOL_MAX];
	size_t n_eol;
};

enum patch_backend {
	PATCH_BACKEND_NONE,
	PATCH_BACKEND_DPKG,
	PATCH_BACKEND_DNF,
	_PATCH_BACKEND_MAX,
	_PATCH_BACKEND_INVALID = -1,
};

struct patch_facts {
	/* /etc/os-release */
	int os_err;
	char os_id[64], os_version_id[64], os_pretty[128];
	enum patch_backend backend;
	/* dpkg + apt */
	int pkg_err;
	struct patch_parse_error pkg_perr;
	struct patch_pkglist pkgs;
	int64_t status_mtime; /* last change of the package database */
	int apt_err;
	struct patch_apt_facts apt;
	/* dnf */
	int dnf_err;
	struct patch_dnf_result dnf;
	/* reboot */
	bool reboot_required;
	char reboot_pkgs[512];
	/* from state: when the oldest pending security update was first seen */
	int64_t security_first_seen; /* 0: none pending */
};

void patch_settings_defaults(struct patch_settings *s);
/* Fill *ret from the `patch` section (NULL: defaults); -EINVAL on a type or
 * a date that does not fit, *ret untouched. */
int patch_settings_from_json(const cJSON *sec, struct patch_settings *ret);

/* Parse os-release text: ID, VERSION_ID, PRETTY_NAME (quotes removed). */
int patch_parse_os_release(const char *buf, struct patch_facts *f);

/* Read all facts under the root prefix. Findings (even unreadable files) go
 * into *f; release with patch_facts_done(). */
void patch_gather(struct patch_facts *f);
void patch_facts_done(struct patch_facts *f);

/* Update state_dir/patch/security-first-seen (already under the root): keep
 * the first time each pending security update (name + candidate or advisory)
 * was seen, forget applied ones; set f->security_first_seen. */
int patch_track_security(const char *state_dir, struct patch_facts *f, time_t now);

/* Results patch.security_updates, patch.updates, patch.lists, patch.reboot
 * (PATCH-1), patch.os_eol (PATCH-2). Pure. */
int patch_evaluate(const struct patch_settings *s, const struct patch_facts *f, time_t now, struct check_report *rep);

extern const struct mamori_module patch_module;

#endif
