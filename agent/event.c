/* agent/event.c — event severities and the emit wrapper modules call (mamorid). */
#include <errno.h>
#include <string.h>

#include "event.h"
#include "module.h"
#include "policy.h"

static const char *const sev_names[_SEV_MAX] = {
        [SEV_DEBUG] = "debug",     [SEV_INFO] = "info",   [SEV_NOTICE] = "notice",
        [SEV_WARNING] = "warning", [SEV_ERROR] = "error", [SEV_CRITICAL] = "critical",
};

const char *event_severity_to_string(enum event_severity s)
{
	if (s < 0 || s >= _SEV_MAX)
		return NULL;
	return sev_names[s];
}

enum event_severity event_severity_from_string(const char *s)
{
	for (int i = 0; i < _SEV_MAX; i++)
		if (s && strcmp(s, sev_names[i]) == 0)
			return (enum event_severity)i;
	return _SEV_INVALID;
}

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
