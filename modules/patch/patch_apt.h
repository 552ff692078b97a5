/* modules/patch/patch_apt.h — candidates and freshness from apt's package
 * lists, without network access (mamori-worker, mamorictl check).
 *
 * Each `*_Packages` list in /var/lib/apt/lists belongs to the `*_InRelease`
 * (or `*_Release`) file whose name is the longest prefix of its own; the
 * Release header tells the list's origin, suite, Date and Valid-Until. A list
 * from a suite ending in `-security` (or `/updates`, or labelled Security)
 * supplies security candidates. Only entries of installed packages are kept. */
#ifndef MAMORI_PATCH_APT_H
#define MAMORI_PATCH_APT_H

#include <stdbool.h>
#include <stdint.h>

#include "patch_dpkg.h"

#define PATCH_APT_LISTS    "/var/lib/apt/lists"
#define PATCH_APT_STAMP    "/var/lib/apt/periodic/update-success-stamp"
#define PATCH_MAX_RELEASES 64
#define PATCH_MAX_LISTS    256

struct patch_release {
	char file[256];
	char origin[64], label[64], suite[64], codename[64];
	int64_t date;        /* Date: epoch s, 0 if absent */
	int64_t valid_until; /* Valid-Until: epoch s, 0 if absent */
	bool security;
};

struct patch_apt_facts {
	struct patch_release rel[PATCH_MAX_RELEASES];
	size_t n_releases;
	size_t n_lists;        /* Packages lists read */
	size_t n_orphan_lists; /* lists without a Release file */
	int64_t update_stamp;  /* mtime of update-success-stamp, 0 if none */
	char bad_list[256];    /* first malformed file, with the line */
};

/* Parse an RFC 2822 date of a Release file ("Sat, 10 Jun 2023 09:13:35 UTC")
 * into epoch seconds. -EINVAL if it is not one. */
int patch_apt_parse_date(const char *s, int64_t *ret);

/* true if a Release header names a security archive. */
bool patch_apt_release_is_security(const struct patch_release *r);

/* Read the Release files and the lists under the root prefix, set the
 * candidate fields of pkgs. A malformed file is -EBADMSG with *facts filled
 * up to it (bad_list names it): facts is always written. */
int patch_apt_read(struct patch_pkglist *pkgs, struct patch_apt_facts *facts);

#endif
