/* agent/sdk/module_api.c — what a module calls on its context: emit an event,
 * read its policy section (mamori-worker, mamorid, mamorictl check). */
#include <errno.h>

#include "event.h"
#include "module.h"
#include "policy.h"

int mamori_emit(struct mamori_ctx *ctx, const char *type, enum event_severity sev, const char *reqs,
                const cJSON *payload)
{
	struct mamori_event ev = {.type = type, .severity = sev, .reqs = reqs, .payload = payload};

	if (!ctx || !ctx->emit)
		return -ENOTCONN;
	return ctx->emit(ctx, &ev, NULL);
}

const cJSON *mamori_policy_section(const struct mamori_ctx *ctx, const char *name)
{
	if (!ctx || !ctx->policy)
		return NULL;
	return policy_section(ctx->policy, name);
}
