/* agent/worker/daemon_policy.h — which policy the agent runs, and the exceptions it
 * honours (mamori-worker).
 *
 * Only a policy whose Ed25519 signature verifies against the configured key
 * and whose version is not lower than the running one is applied; the last
 * good one is kept in state_dir/policy.applied.json(.sig) so a restart never
 * falls back to no policy. A refused policy is recorded (policy.refused, and
 * tamper.detected when the signature or version is wrong) and the running
 * one stays. An unsigned policy is accepted only for `--policy FILE
 * --unsigned` audit runs. */
#ifndef MAMORI_DAEMON_POLICY_H
#define MAMORI_DAEMON_POLICY_H

#include <stdbool.h>

#include "module.h"

struct mamori_policy;
struct daemon_options;

struct policy_state {
	struct mamori_policy *current;
	char sha256[65]; /* of the applied document's bytes */
	bool unsigned_audit;
	bool readonly; /* mamorictl: verify and use, never write the cache */
};

/* Load or re-load. ret_changed (may be NULL) says whether ctx->policy must be
 * replaced by st->current. Emits policy.applied / policy.refused /
 * tamper.detected through ctx. Returns 0 when a policy runs (or none is
 * configured), negative when --unsigned FILE could not be read. */
int daemon_policy_load(struct policy_state *st, const struct daemon_options *o, struct mamori_ctx *ctx,
                       struct mamori_policy **ret_old, bool *ret_changed);
void daemon_policy_free(struct policy_state *st);

/* Mark every failing result an approved exception covers (policy
 * `exceptions` and emergency codes entered at the terminal), and journal
 * newly entered emergency exceptions as exception.applied (OPS-3). */
void daemon_policy_apply_exceptions(struct policy_state *st, struct mamori_ctx *ctx, struct check_report *rep);

#endif
