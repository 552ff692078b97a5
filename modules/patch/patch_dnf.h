/* modules/patch/patch_dnf.h — pending security advisories on RHEL-family
 * systems from `dnf updateinfo list --security` (mamori-worker).
 *
 * dnf runs with -C (cache only): the agent never triggers network access. */
#ifndef MAMORI_PATCH_DNF_H
#define MAMORI_PATCH_DNF_H

#include <stddef.h>

#define PATCH_DNF_PATH       "/usr/bin/dnf"
#define PATCH_DNF_OUTPUT_MAX (4 * 1024 * 1024)
#define PATCH_DNF_TIMEOUT_MS 60000

enum patch_dnf_severity {
	PATCH_DNF_CRITICAL,
	PATCH_DNF_IMPORTANT,
	PATCH_DNF_MODERATE,
	PATCH_DNF_LOW,
	PATCH_DNF_UNKNOWN,
	_PATCH_DNF_SEVERITY_MAX,
	_PATCH_DNF_SEVERITY_INVALID = -1,
};

struct patch_dnf_result {
	unsigned n_advisories; /* distinct advisory IDs */
	unsigned n_packages;   /* lines: one package per advisory line */
	unsigned by_severity[_PATCH_DNF_SEVERITY_MAX];
	char first[256];   /* first advisories, comma-separated, for evidence */
	unsigned bad_line; /* set with -EBADMSG */
};

/* Parse the output (len bytes): lines "ADVISORY  Severity/Sec.  NEVRA" (dnf 4)
 * or "ADVISORY  security  Severity  NEVRA  ..." (dnf 5); the "Last metadata
 * expiration check" line and a dnf 5 header line are skipped. -EBADMSG on a
 * line of another shape. */
int patch_dnf_parse(const char *out, size_t len, struct patch_dnf_result *ret);

/* Run dnf (under the root prefix) and parse. -ENOENT if dnf is absent. */
int patch_dnf_gather(struct patch_dnf_result *ret);

#endif
