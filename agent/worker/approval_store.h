/* agent/worker/approval_store.h — approval data in force on this terminal
 * (issue 16, OPS-3, OPS-4, MEDIA-1): what `mamorictl server sync` installed
 * (state_dir/approvals.json, verified again here with the policy key),
 * journaled once per approval (`approval.applied`) and handed to mamorid
 * with the local USB exceptions (protocol/ipc.h `usb_local`), so the gate's
 * own matcher decides the device — present ones at once — and ends each
 * approval at its not_after by the agent's clock. mamori-worker. */
#ifndef MAMORI_WORKER_APPROVAL_STORE_H
#define MAMORI_WORKER_APPROVAL_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

struct mamori_ctx;

/* Load and verify the installed approval data (state_dir, policy_key: the
 * agent.conf paths, under the root prefix); journal approval.applied for
 * each approval not journaled before, approval.refused when the data does
 * not verify (then none applies). Returns whether the set changed. */
bool approval_store_reload(struct mamori_ctx *ctx, const char *state_dir, const char *policy_key);

/* Append the approvals in force at now as usb_local elements {id, action
 * allow, hash, not_after, policy_version 0} to arr, at most max of them. */
void approval_store_exceptions(cJSON *arr, size_t max);

/* The carry-out approvals in force (CARRY-2, MEDIA-2), ended ones too, as
 * a new array of elements shaped like the policy's carry.approvals: {id
 * "request-<request id>", person, medium {vendor, product, serial},
 * not_before, not_after (RFC 3339 UTC)}. NULL on OOM. */
cJSON *approval_store_carry(void);

/* Approved exceptions of a requirement (kind exception, issue 16.3): each
 * failing or erring result of rep that implements a requirement with an
 * exception in force by the agent's clock (now < not_after) is reported as
 * excepted by "request-<request id>", with the evidence exception_until
 * (Japan time) and exception_clock_synchronised (LOG-2). An ended one no
 * longer applies, offline too. */
struct check_report;
void approval_store_apply_exceptions(struct check_report *rep);

#endif
