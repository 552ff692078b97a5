/* modules/patch/patch_dpkg.h — streaming deb822 parser and the dpkg
 * installed-package list (mamori-worker, mamorictl check).
 *
 * /var/lib/dpkg/status and the apt lists are read line by line with a fixed
 * line buffer, never whole: apt lists reach tens of MB, and a hostile or
 * damaged file must cost bounded memory. The software module reuses the
 * package list. */
#ifndef MAMORI_PATCH_DPKG_H
#define MAMORI_PATCH_DPKG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define PATCH_DPKG_STATUS      "/var/lib/dpkg/status"
#define PATCH_STATUS_MAX_BYTES (256LL * 1024 * 1024)
#define PATCH_LIST_MAX_BYTES   (1024LL * 1024 * 1024)
#define PATCH_LINE_MAX         (64 * 1024)
#define PATCH_MAX_PACKAGES     200000
#define PATCH_NAME_MAX         128

/* Where a file was found malformed. */
struct patch_parse_error {
	unsigned line;
	char what[128];
};

/* Called with each field's first line (value stripped; NULL when the line
 * exceeded PATCH_LINE_MAX) and with key == NULL at the end of each stanza.
 * Return 0 to go on, >0 to stop reading, <0 to fail with that error. */
typedef int (*patch_deb822_cb)(void *userdata, const char *key, const char *value);

/* Parse deb822 from f, at most max_bytes. pgp: skip a clear-signed
 * armour (InRelease) and stop at the signature. On malformed input returns
 * -EBADMSG and fills *err (which may be NULL). */
int patch_deb822_parse(FILE *f, int64_t max_bytes, bool pgp, patch_deb822_cb cb, void *userdata,
                       struct patch_parse_error *err);

struct patch_pkg {
	char *name, *arch, *version;
	/* filled from the apt lists: the highest version above the installed
	 * one, and the highest one from a security suite */
	char *candidate, *security_candidate;
	char *security_origin; /* suite of the security candidate */
	const char *state;     /* dpkg's state word ("installed", "unpacked", …); static */
};

struct patch_pkglist {
	struct patch_pkg *p; /* sorted by name, then arch */
	size_t n;
};

/* Read the installed packages ("Status: … installed") from a status file
 * (path under the root). */
int patch_dpkg_read(const char *path, struct patch_pkglist *ret, struct patch_parse_error *err);

/* Like patch_dpkg_read, but every package whose files may be on disk
 * (SOFT-1): dpkg's states installed, unpacked, half-configured,
 * half-installed, triggers-awaited and triggers-pending; not-installed and
 * config-files are left out. A state dpkg does not define is -EBADMSG. */
int patch_dpkg_read_present(const char *path, struct patch_pkglist *ret, struct patch_parse_error *err);

/* Find name (with arch, or any arch if arch is NULL); "all" matches any
 * arch on either side. */
struct patch_pkg *patch_pkglist_find(const struct patch_pkglist *l, const char *name, const char *arch, size_t *iter);

void patch_pkglist_free(struct patch_pkglist *l);

#endif
