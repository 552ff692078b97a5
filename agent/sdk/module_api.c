/* agent/sdk/module_api.c — what a module calls on its context: emit an event,
 * read its policy section (mamori-worker, mamorid, mamorictl check). */
#include <errno.h>
#include <stdlib.h>

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

/* A fresh settings buffer from the module's section, or negative errno. */
static int settings_new(const struct mamori_module *m, struct mamori_ctx *ctx, void **ret)
{
	void *s;
	int r;

	if (m->settings_size == 0 || !m->section)
		return -EINVAL; /* a module that names a loader names its section and size too */
	s = calloc(1, m->settings_size);
	if (!s)
		return -ENOMEM;
	r = m->settings_load(mamori_policy_section(ctx, m->section), s);
	if (r < 0) {
		free(s);
		return r;
	}
	*ret = s;
	return 0;
}

int mamori_module_start(const struct mamori_module *m, struct mamori_ctx *ctx, void **ret_state)
{
	*ret_state = NULL;
	if (m->settings_load)
		return settings_new(m, ctx, ret_state);
	return m->init ? m->init(ctx, ret_state) : 0;
}

int mamori_module_reload(const struct mamori_module *m, struct mamori_ctx *ctx, void **state)
{
	void *s = NULL;
	int r;

	if (!m->settings_load)
		return m->reload ? m->reload(*state) : 0;
	r = settings_new(m, ctx, &s);
	if (r < 0)
		return r;
	free(*state);
	*state = s;
	return 0;
}

void mamori_module_stop(const struct mamori_module *m, void *state)
{
	if (m->settings_load)
		free(state);
	else if (m->fini)
		m->fini(state);
}
