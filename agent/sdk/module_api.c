/* agent/sdk/module_api.c — what a module calls on its context: emit an event,
 * read its policy section; the core-owned module state (settings, state,
 * start/reload/stop) (mamori-worker, mamorid, mamorictl check). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "alloc-util.h"
#include "config.h"
#include "event.h"
#include "module.h"
#include "policy.h"
#include "rootpath.h"

int mamori_emit(struct mamori_ctx *ctx, const char *type, enum event_severity sev, const char *reqs,
                const cJSON *payload)
{
	struct mamori_event ev = {.type = type, .severity = sev, .reqs = reqs, .payload = payload};

	if (!ctx || !ctx->emit)
		return -ENOTCONN;
	return ctx->emit(ctx, &ev, NULL);
}

static mamori_section_source_fn section_source;

void mamori_set_section_source(mamori_section_source_fn fn)
{
	section_source = fn;
}

const cJSON *mamori_policy_section(const struct mamori_ctx *ctx, const char *name)
{
	if (section_source)
		return section_source(ctx, name);
	if (!ctx || !ctx->policy)
		return NULL;
	return policy_section(ctx->policy, name);
}

/* Release a settings buffer: what the loader allocated, then the buffer. */
static void settings_free(const struct mamori_module *m, void *s)
{
	if (!s)
		return;
	if (m->settings_done)
		m->settings_done(s);
	free(s);
}

static bool core_owned(const struct mamori_module *m)
{
	return m->settings_load || m->settings_load_sections;
}

/* Run the module's loader on its sections of the policy, or on none (its
 * defaults). */
static int settings_load(const struct mamori_module *m, struct mamori_ctx *ctx, bool defaults, void *s)
{
	const cJSON *sec[MAMORI_MODULE_MAX_SECTIONS] = {0};
	size_t n;

	if (!defaults)
		sec[0] = mamori_policy_section(ctx, m->section);
	if (!m->settings_load_sections)
		return m->settings_load(sec[0], s);
	for (n = 1; m->more_sections && m->more_sections[n - 1]; n++) {
		if (n >= ELEMENTSOF(sec))
			return -E2BIG;
		if (!defaults)
			sec[n] = mamori_policy_section(ctx, m->more_sections[n - 1]);
	}
	return m->settings_load_sections(sec, s);
}

/* A fresh settings buffer from the module's sections, or negative errno;
 * at start, the loader's defaults for a module that starts on them. */
static int settings_new(const struct mamori_module *m, struct mamori_ctx *ctx, bool at_start, void **ret)
{
	void *s;
	int r;

	if (m->settings_size == 0 || !m->section)
		return -EINVAL; /* a module that names a loader names its section and size too */
	if (m->state_size &&
	    (m->settings_offset > m->state_size || m->settings_size > m->state_size - m->settings_offset))
		return -EINVAL; /* the settings lie inside the state */
	s = calloc(1, m->settings_size);
	if (!s)
		return -ENOMEM;
	r = settings_load(m, ctx, false, s);
	if (r < 0 && at_start && m->defaults_on_reject) {
		memset(s, 0, m->settings_size); /* a failed loader left nothing allocated */
		r = settings_load(m, ctx, true, s);
	}
	if (r < 0) {
		free(s);
		return r;
	}
	*ret = s;
	if (ctx->settings_loaded) /* the document may go now (module.h) */
		ctx->settings_loaded(ctx);
	return 0;
}

int mamori_state_dir(const struct mamori_ctx *ctx, char *buf, size_t bufsz)
{
	const char *sd = ctx && ctx->config && ctx->config->state_dir[0] ? ctx->config->state_dir : "/var/lib/mamori";

	return root_path(buf, bufsz, sd);
}

/* Start a module with core-owned state: state, settings in it, open(). */
static int state_new(const struct mamori_module *m, struct mamori_ctx *ctx, void **ret_state)
{
	void *s = NULL;
	char *st;
	int r;

	r = settings_new(m, ctx, true, &s);
	if (r < 0)
		return r;
	st = calloc(1, m->state_size);
	if (!st) {
		settings_free(m, s);
		return -ENOMEM;
	}
	memcpy(st + m->settings_offset, s, m->settings_size);
	free(s); /* moved into the state */
	r = m->open ? m->open(ctx, st) : 0;
	if (r < 0) {
		mamori_module_stop(m, st);
		return r;
	}
	*ret_state = st;
	return 0;
}

/* Start a module that keeps state but has no policy section. */
static int state_only_new(const struct mamori_module *m, struct mamori_ctx *ctx, void **ret_state)
{
	void *st = calloc(1, m->state_size);
	int r;

	if (!st)
		return -ENOMEM;
	r = m->open ? m->open(ctx, st) : 0;
	if (r < 0) {
		mamori_module_stop(m, st);
		return r;
	}
	*ret_state = st;
	return 0;
}

int mamori_module_start(const struct mamori_module *m, struct mamori_ctx *ctx, void **ret_state)
{
	*ret_state = NULL;
	if (core_owned(m) && m->state_size)
		return state_new(m, ctx, ret_state);
	if (core_owned(m))
		return settings_new(m, ctx, true, ret_state);
	if (m->state_size)
		return state_only_new(m, ctx, ret_state);
	return m->open || m->apply || m->close ? -EINVAL : 0; /* hooks without a state to hand them */
}

/* A policy change for a module with core-owned state: the new settings
 * move in; apply() failing moves the old ones back. */
static int state_reload(const struct mamori_module *m, struct mamori_ctx *ctx, char *st)
{
	_cleanup_free_ void *old = NULL;
	void *s = NULL;
	int r;

	r = settings_new(m, ctx, false, &s);
	if (r < 0)
		return r;
	old = malloc(m->settings_size);
	if (!old) {
		settings_free(m, s);
		return -ENOMEM;
	}
	memcpy(old, st + m->settings_offset, m->settings_size);
	memcpy(st + m->settings_offset, s, m->settings_size);
	r = m->apply ? m->apply(st) : 0;
	if (r < 0) {
		memcpy(st + m->settings_offset, old, m->settings_size);
		settings_free(m, s); /* s still holds the new settings' bytes */
		return r;
	}
	free(s); /* moved into the state */
	if (m->settings_done)
		m->settings_done(old);
	return 0;
}

int mamori_module_reload(const struct mamori_module *m, struct mamori_ctx *ctx, void **state)
{
	void *s = NULL;
	int r;

	if (!core_owned(m))
		return m->state_size && *state && m->apply ? m->apply(*state) : 0;
	if (m->state_size)
		return *state ? state_reload(m, ctx, *state) : -EINVAL;
	r = settings_new(m, ctx, false, &s);
	if (r < 0)
		return r;
	settings_free(m, *state);
	*state = s;
	return 0;
}

void mamori_module_stop(const struct mamori_module *m, void *state)
{
	if (m->state_size) {
		if (!state)
			return;
		if (m->close)
			m->close(state);
		if (core_owned(m) && m->settings_done)
			m->settings_done((char *)state + m->settings_offset);
		free(state);
	} else if (core_owned(m))
		settings_free(m, state);
}
