/* agent/net/approval_verify.h — approval data on the terminal (issue 16,
 * OPS-3, OPS-4): the check of a delivered document and its files
 * state_dir/approvals.json (+ .sig). Used by the root part of `mamorictl
 * server sync` (install) and by mamori-worker (load, before it applies). */
#ifndef MAMORI_APPROVAL_VERIFY_H
#define MAMORI_APPROVAL_VERIFY_H

#include <stddef.h>

#include "approval.h"

#define APPROVAL_FILE "approvals.json"

/* state_dir: resolved already (under the root prefix). */

/* Verify (signature with the policy key at pubkey, exact format, this
 * terminal, a version not below the installed one) and install. 0 when
 * installed, 1 when it is the version installed already, negative when
 * refused (why: English). Root part only. */
int approval_install(const char *state_dir, const char *pubkey, const char *terminal_id, const char *doc, size_t len,
                     const char *sig, char *why, size_t whysz);

/* The installed document, verified again: 0 and *ret, -ENOENT when none,
 * another negative errno when it does not verify (why says so). */
int approval_load(const char *state_dir, const char *pubkey, const char *terminal_id, struct approval_doc *ret,
                  char *why, size_t whysz);

#endif
