/* policy/exception_store.h — the terminal's record of emergency exceptions
 * entered with a code (state_dir/exceptions.json), shared by mamorictl
 * (adds) and mamori-worker (applies, journals `exception.applied`, marks reported).
 *
 * Every change is load → modify → write_file_atomic under an exclusive
 * flock on PATH.lock, so the daemon and mamorictl never lose each other's
 * update. An entry stays after its window ends until it has been reported
 * and a week has passed, which also keeps a used code from being entered a
 * second time (reuse). Paths are used as given (callers resolve them under
 * the root prefix). */
#ifndef MAMORI_EXCEPTION_STORE_H
#define MAMORI_EXCEPTION_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "exception_code.h"
#include "policy_exception.h"

#define EXCEPTION_STORE_PATH     "/var/lib/mamori/exceptions.json" /* default, under state_dir */
#define EXCEPTION_STORE_MAX      256
#define EXCEPTION_STORE_FILE_MAX (512 * 1024)
#define EXCEPTION_STORE_KEEP     (7 * 24 * 3600) /* reported entries are kept this long after expiry */

struct exception_entry {
	char id[32];                         /* "EMG-" + 12 hex digits of the code hash */
	char scope[EXCEPTION_SCOPE_MAX + 1]; /* exception_scope_parse() syntax */
	char code_sha256[65];                /* SHA-256 of the normalised code: detects reuse */
	int64_t not_before, not_after;       /* the code's window, [not_before, not_after) */
	int64_t entered_at;
	char person[129]; /* who entered it (login name), may be empty */
	bool reported;    /* the daemon journaled exception.applied */
};

struct exception_store {
	size_t n;
	struct exception_entry e[EXCEPTION_STORE_MAX];
};

/* Load the store; a missing file is an empty store. -EBADMSG if the file is
 * not a valid store (the daemon treats that as tampering). *ret is the
 * caller's (free()). */
int exception_store_load(const char *path, struct exception_store **ret);

/* Fill an entry for a verified code (id and hash from the code). */
int exception_entry_init(struct exception_entry *e, const char *code, const char *scope, time_t not_before,
                         time_t not_after, time_t now, const char *person);

/* Add e; -EALREADY if an entry with the same code hash exists (reuse),
 * -ENOSPC if the store is full of entries that cannot be pruned yet. */
int exception_store_add(const char *path, const struct exception_entry *e, time_t now);

/* Mark the entry reported. -ENOENT if there is none with this id. */
int exception_store_mark_reported(const char *path, const char *id);

/* true if an entry of s applies to check_id/dev/person at now (same rules as
 * policy_exception_applies); *ret_id points into s. */
bool exception_store_applies(const struct exception_store *s, const char *check_id, const struct policy_device_id *dev,
                             const char *person, time_t now, const char **ret_id);

#endif
