/* modules/posture/integrity.h — tamper detection for important configuration
 * files, CONF-1 (mamori-worker; integrity_rebaseline() also in mamorictl).
 *
 * CONF-1 (M 6.1(1)⑥, M 7.5(1)④, T 第6 5(1)): security settings are not
 * changed without permission. A SHA-256 baseline of the files the policy
 * names (`integrity.files`) is kept in state_dir; inotify on each file's
 * parent directory (so replace-by-rename is seen) and a periodic re-check
 * compare the files with it. A difference is a `tamper.detected` event and a
 * failing result until an approved re-baseline (integrity_rebaseline(),
 * called by `mamorictl`). All paths go through the root prefix. */
#ifndef MAMORI_INTEGRITY_H
#define MAMORI_INTEGRITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "module.h"

#define INTEGRITY_MAX_FILES 64
#define INTEGRITY_PATH_MAX  256
#define INTEGRITY_BASELINE  "integrity-baseline.json" /* in state_dir */

/* The `integrity` policy section. Defaults when absent: the PAM files
 * (common-auth, common-password, common-account, login, sshd, gdm-password,
 * system-auth, password-auth), /etc/sudoers, /etc/ssh/sshd_config,
 * /etc/security/faillock.conf, /etc/security/pwquality.conf,
 * /etc/systemd/logind.conf, /etc/clamav/clamd.conf, /etc/clamav/freshclam.conf,
 * /etc/mamori/agent.conf, /etc/dconf/db/local; recheck_interval_seconds 3600. */
struct integrity_settings {
	char files[INTEGRITY_MAX_FILES][INTEGRITY_PATH_MAX]; /* absolute system paths */
	size_t n_files;
	int64_t recheck_interval_seconds;
};

void integrity_settings_default(struct integrity_settings *ret);
int integrity_settings_from_json(const cJSON *section, struct integrity_settings *ret);

/* What a file looks like now (or at baseline time). */
struct integrity_file {
	char path[INTEGRITY_PATH_MAX];
	bool exists;
	char sha256[65]; /* hex; "not-regular" / "too-large" / "unreadable" for files that cannot be hashed */
	int64_t size;
	int64_t mtime;
	/* CONF-1: a chmod or chown is a change too (stat(2) of the file);
	 * has_meta false only for a baseline entry written before they were kept */
	bool has_meta;
	uint32_t mode; /* permission bits and file type (st_mode) */
	uint32_t uid, gid;
};

/* Measure one system path (resolved under the root). Returns 0 (also for a
 * missing file: exists = false) or -ENOMEM. */
int integrity_measure(const char *path, struct integrity_file *ret);

/* Approved re-baseline: measure every file of s and write state_dir/
 * integrity-baseline.json atomically (state_dir is a system path, resolved
 * under the root). A running mamorid notices the new baseline. */
int integrity_rebaseline(const char *state_dir, const struct integrity_settings *s);

struct integrity_state;

/* Open the module's state with explicit settings (the module's open() uses
 * the policy section). Loads or creates the baseline, sets up inotify. */
int integrity_open(struct mamori_ctx *ctx, const struct integrity_settings *s, struct integrity_state **ret);
void integrity_close(struct integrity_state *st);

extern const struct mamori_module integrity_module;

#endif
