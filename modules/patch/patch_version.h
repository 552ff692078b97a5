/* modules/patch/patch_version.h — Debian version comparison per
 * deb-version(7) (mamori-worker, mamorictl check): [epoch:]upstream[-revision], digits
 * compared numerically, letters before other characters, `~` before
 * everything including the end of the string. Pure. */
#ifndef MAMORI_PATCH_VERSION_H
#define MAMORI_PATCH_VERSION_H

#include <stdbool.h>

#define PATCH_VERSION_MAX 256

/* true if v is a syntactically valid Debian version no longer than
 * PATCH_VERSION_MAX (what dpkg would accept as a package version). */
bool patch_version_valid(const char *v);

/* <0, 0, >0 as a sorts before, equal to, after b. Invalid input compares
 * by the same rules on a best-effort basis; callers validate first. */
int patch_version_compare(const char *a, const char *b);

#endif
