/* agent/worker/lock.h — the terminal lock of the `lock` / `unlock` remote
 * commands and of the dead-man rule (MDM-1; docs/COMMANDS.md "lock /
 * unlock"). mamori-worker (root).
 *
 * Locked means: state_dir/lock.json exists (written first, fsync'd; it
 * survives restarts and is re-applied at every start until an unlock), and
 * the two files that mamori's PAM profile (installer/pam-configs/mamori-lock,
 * enabled by pam-auth-update) reads are in LOCK_PAM_DIR:
 *   nologin      the bilingual notice; while it exists pam_nologin refuses
 *                every account (auth and account stacks) and shows the text
 *   maintenance  the policy's terminal_lock.maintenance_account (one line,
 *                empty: nobody); pam_listfile lets that account skip the
 *                pam_nologin line
 * Locking also ends every user session through systemd-logind (D-Bus, sd-bus)
 * except the maintenance account's. Under a root prefix (tests, demo) only
 * the D-Bus system bus inside that root is used, never the machine's. */
#ifndef MAMORI_LOCK_H
#define MAMORI_LOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LOCK_STATE       "lock.json"            /* under state_dir */
#define LOCK_PAM_DIR     "/var/lib/mamori/lock" /* fixed (root-prefixed): the PAM profile names it */
#define LOCK_NOLOGIN     "nologin"
#define LOCK_MAINTENANCE "maintenance"
/* The offline unlock code (MDM-1, OPS-3): an emergency exception code
 * (policy/exception_code.h) for this scope, entered at the terminal with
 * `mamorictl exception enter CODE --scope check:mamori.unlock`, ends a lock
 * made before it was entered, within the code's window. */
#define LOCK_UNLOCK_SCOPE "check:mamori.unlock"
#define LOCK_LAST_CONTACT "last_contact" /* under state_dir: seconds since 1970 of the last successful check-in */

struct lock_info {
	char reason[16]; /* "command" or "offline" */
	char by[64];     /* the command id, or "offline_lock_days=N" */
	int64_t since;   /* seconds since 1970, UTC */
	char maint[33];  /* the maintenance account ("" = nobody) */
};

/* Lock: the record (when info->since is 0 it is set to now), the PAM
 * files, then every user session but the maintenance account's ended.
 * Also used at start to re-apply a recorded lock (same record). 0: done
 * (detail says what); negative: some step failed (detail says which) — the
 * record and the PAM files are kept as far as they were written. */
int lock_apply(const char *state_dir, struct lock_info *info, char *detail, size_t detailsz);
/* Unlock: the notice removed (logins possible again), then the record. */
int lock_release(const char *state_dir, char *detail, size_t detailsz);
/* The recorded lock; -ENOENT when not locked. */
int lock_read(const char *state_dir, struct lock_info *ret);
bool lock_active(const char *state_dir);

/* The dead-man rule's clock: the last successful contact with the server. */
int lock_contact_write(const char *state_dir, int64_t now);
/* -ENOENT when never recorded. */
int lock_contact_read(const char *state_dir, int64_t *ret);

#endif
