/* tests/unit/test_module_settings.c — core-owned module settings
 * (agent/sdk/module.h, agent/sdk/module_api.c; issue 19): a module that only
 * names its policy section, the size of its settings and their conversion
 * gets them allocated, loaded at start, replaced on a policy change only when
 * the new ones load (the old stay in force otherwise) and freed — the same
 * path for the worker, the gate and `mamorictl check`. A module with more
 * state than its settings gets the state allocated and its settings moved
 * in and out of it the same way; one with state and no policy section gets
 * its state allocated, opened, applied, closed and freed by the core too
 * (the module interface has no init/reload/fini of its own any more), and
 * hooks with no state to hand them are refused. The login module,
 * converted to it, reads its real section of a real policy. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "module.h"
#include "rootpath.h"
#include "policy-test-util.h"
#include "policy.h"
#include "posture/login.h"

static struct mamori_policy *policy_with_minlen(int minlen)
{
	char *doc = ptest_read_src("policy/templates/lgwan.json", NULL);
	char *at = strstr(doc, "\"password_minlen\": 12");
	struct mamori_policy *p = NULL;
	struct policy_errors errs;

	assert_non_null(at);
	at[19] = (char)('0' + minlen / 10);
	at[20] = (char)('0' + minlen % 10);
	policy_errors_init(&errs);
	assert_int_equal(policy_parse(doc, strlen(doc), &p, &errs), 0);
	free(doc);
	return p;
}

static void test_login_reads_its_section(void **state)
{
	struct mamori_ctx ctx = {0};
	struct mamori_policy *p1 = policy_with_minlen(14), *p2 = policy_with_minlen(16);
	void *st = NULL, *before;
	(void)state;

	ctx.policy = p1;
	assert_int_equal(mamori_module_start(&login_module, &ctx, &st), 0);
	assert_int_equal(((const struct login_settings *)st)->password_minlen, 14);
	ctx.policy = p2;
	before = st;
	assert_int_equal(mamori_module_reload(&login_module, &ctx, &st), 0);
	assert_ptr_not_equal(st, before); /* a fresh buffer, swapped in */
	assert_int_equal(((const struct login_settings *)st)->password_minlen, 16);
	mamori_module_stop(&login_module, st);
	policy_free(p1);
	policy_free(p2);
}

/* A module that is its checks and nothing else; its loader fails on demand. */
struct fake_settings {
	int generation;
};
static int loads, fail_next;
static int fake_load(const cJSON *section, void *settings)
{
	if (fail_next)
		return -EINVAL;
	((struct fake_settings *)settings)->generation = ++loads + (section ? 100 : 0);
	return 0;
}
static const struct mamori_module fake_module = {
        .name = "fake",
        .caps = MAMORI_CAP_CHECK,
        .section = "login",
        .settings_size = sizeof(struct fake_settings),
        .settings_load = fake_load,
};

static void test_old_settings_stay_on_error(void **state)
{
	struct mamori_ctx ctx = {0};
	void *st = NULL, *before;
	(void)state;

	/* no policy: the loader gets NULL (defaults) */
	assert_int_equal(mamori_module_start(&fake_module, &ctx, &st), 0);
	assert_int_equal(((struct fake_settings *)st)->generation, 1);
	fail_next = 1;
	before = st;
	assert_int_equal(mamori_module_reload(&fake_module, &ctx, &st), -EINVAL);
	assert_ptr_equal(st, before);
	assert_int_equal(((struct fake_settings *)st)->generation, 1);
	fail_next = 0;
	assert_int_equal(mamori_module_reload(&fake_module, &ctx, &st), 0);
	assert_int_equal(((struct fake_settings *)st)->generation, 2);
	mamori_module_stop(&fake_module, st); /* freed by the core: LSan checks */
	/* a failing first load: no state, the error goes to the caller */
	fail_next = 1;
	st = (void *)1;
	assert_int_equal(mamori_module_start(&fake_module, &ctx, &st), -EINVAL);
	assert_null(st);
	fail_next = 0;
}

/* A module with state beyond its settings (as av, integrity, patch,
 * screenlock, software): the settings live inside the state, a resource is
 * opened and re-applied on a policy change, and what the loader allocated
 * is released by the core. */
struct fake2_settings {
	char *name; /* allocated by the loader */
	int generation;
};
struct fake2_state {
	struct mamori_ctx *ctx;
	int opened, applied, closed_before;
	struct fake2_settings settings;
};
static int fail_open, fail_apply, releases, closes;
static int fake2_load(const cJSON *section, void *settings)
{
	struct fake2_settings *s = settings;

	(void)section;
	if (fail_next)
		return -EINVAL;
	s->name = strdup("fake2");
	if (!s->name)
		return -ENOMEM;
	s->generation = ++loads;
	return 0;
}
static void fake2_done(void *settings)
{
	struct fake2_settings *s = settings;

	free(s->name);
	s->name = NULL;
	releases++;
}
static int fake2_open(struct mamori_ctx *ctx, void *state)
{
	struct fake2_state *st = state;

	st->ctx = ctx;
	st->opened++;
	return fail_open ? -EIO : 0;
}
static int fake2_apply(void *state)
{
	struct fake2_state *st = state;

	st->applied = st->settings.generation;
	return fail_apply ? -EIO : 0;
}
static void fake2_close(void *state)
{
	(void)state;
	closes++;
}
static const struct mamori_module fake2_module = {
        .name = "fake2",
        .caps = MAMORI_CAP_CHECK,
        .section = "login",
        .settings_size = sizeof(struct fake2_settings),
        .settings_load = fake2_load,
        .settings_done = fake2_done,
        .state_size = sizeof(struct fake2_state),
        .settings_offset = offsetof(struct fake2_state, settings),
        .open = fake2_open,
        .apply = fake2_apply,
        .close = fake2_close,
};

static void test_state_owned_by_core(void **state)
{
	struct mamori_ctx ctx = {0};
	struct fake2_state *st;
	void *p = NULL, *before;
	(void)state;

	loads = releases = closes = 0;
	fail_next = fail_open = fail_apply = 0;
	assert_int_equal(mamori_module_start(&fake2_module, &ctx, &p), 0);
	st = p;
	assert_ptr_equal(st->ctx, &ctx);
	assert_int_equal(st->opened, 1);
	assert_int_equal(st->settings.generation, 1);
	assert_string_equal(st->settings.name, "fake2");
	/* a new policy: the same state, new settings, applied; the old released */
	before = p;
	assert_int_equal(mamori_module_reload(&fake2_module, &ctx, &p), 0);
	assert_ptr_equal(p, before);
	assert_int_equal(st->settings.generation, 2);
	assert_int_equal(st->applied, 2);
	assert_int_equal(releases, 1);
	/* the loader refuses: nothing changes */
	fail_next = 1;
	assert_int_equal(mamori_module_reload(&fake2_module, &ctx, &p), -EINVAL);
	fail_next = 0;
	assert_int_equal(st->settings.generation, 2);
	/* apply() refuses: the old settings are back in force, the new released */
	fail_apply = 1;
	assert_int_equal(mamori_module_reload(&fake2_module, &ctx, &p), -EIO);
	fail_apply = 0;
	assert_int_equal(st->settings.generation, 2);
	assert_string_equal(st->settings.name, "fake2");
	assert_int_equal(releases, 2);
	mamori_module_stop(&fake2_module, p); /* LSan: name and state freed */
	assert_int_equal(closes, 1);
	assert_int_equal(releases, 3);
	/* open() fails: close() and release run, the caller gets the error */
	fail_open = 1;
	p = (void *)1;
	assert_int_equal(mamori_module_start(&fake2_module, &ctx, &p), -EIO);
	fail_open = 0;
	assert_null(p);
	assert_int_equal(closes, 2);
	assert_int_equal(releases, 4);
}

/* ctx->settings_loaded (issue 23: mamorid drops the policy's JSON tree
 * there): called once the settings are loaded and before open()/apply(), at
 * start and on reload; not when the loader refuses. */
static int hook_calls, hook_loads_seen, hook_opened_seen, hook_applied_seen;
static struct fake2_state *hook_st;
static void on_loaded(struct mamori_ctx *ctx)
{
	(void)ctx;
	hook_calls++;
	hook_loads_seen = loads;
	hook_opened_seen = hook_st ? hook_st->opened : -1;
	hook_applied_seen = hook_st ? hook_st->applied : -1;
}

static void test_settings_loaded_hook(void **state)
{
	struct mamori_ctx ctx = {.settings_loaded = on_loaded};
	void *p = NULL;
	(void)state;

	loads = releases = closes = hook_calls = 0;
	fail_next = fail_open = fail_apply = 0;
	hook_st = NULL;
	assert_int_equal(mamori_module_start(&fake2_module, &ctx, &p), 0);
	assert_int_equal(hook_calls, 1);
	assert_int_equal(hook_loads_seen, 1); /* after the load … */
	assert_int_equal(((struct fake2_state *)p)->opened, 1);
	hook_st = p;
	assert_int_equal(mamori_module_reload(&fake2_module, &ctx, &p), 0);
	assert_int_equal(hook_calls, 2);
	assert_int_equal(hook_loads_seen, 2);
	assert_int_equal(hook_applied_seen, 0); /* … before apply() of the new settings */
	assert_int_equal(hook_opened_seen, 1);
	fail_next = 1;
	assert_int_equal(mamori_module_reload(&fake2_module, &ctx, &p), -EINVAL);
	fail_next = 0;
	assert_int_equal(hook_calls, 2); /* a refused load keeps the document */
	mamori_module_stop(&fake2_module, p);
	hook_st = NULL;
}

/* State without a policy section: still allocated, opened, applied on a
 * policy change, closed and freed by the core. */
static const struct mamori_module fake3_module = {
        .name = "fake3",
        .caps = MAMORI_CAP_CHECK,
        .state_size = sizeof(struct fake2_state),
        .open = fake2_open,
        .apply = fake2_apply,
        .close = fake2_close,
};
static const struct mamori_module hooks_no_state = {.name = "hooks", .caps = MAMORI_CAP_CHECK, .open = fake2_open};
static const struct mamori_module checks_only = {.name = "checks", .caps = MAMORI_CAP_CHECK};

static void test_state_without_section(void **state)
{
	struct mamori_ctx ctx = {0};
	struct fake2_state *st;
	void *p = NULL, *before;
	(void)state;

	loads = releases = closes = 0;
	fail_next = fail_open = fail_apply = 0;
	assert_int_equal(mamori_module_start(&fake3_module, &ctx, &p), 0);
	st = p;
	assert_non_null(st);
	assert_ptr_equal(st->ctx, &ctx);
	assert_int_equal(st->opened, 1);
	assert_int_equal(loads, 0); /* no loader, no settings */
	before = p;
	st->settings.generation = 7;
	assert_int_equal(mamori_module_reload(&fake3_module, &ctx, &p), 0);
	assert_ptr_equal(p, before);
	assert_int_equal(st->applied, 7);
	fail_apply = 1;
	assert_int_equal(mamori_module_reload(&fake3_module, &ctx, &p), -EIO);
	fail_apply = 0;
	assert_ptr_equal(p, before);
	mamori_module_stop(&fake3_module, p); /* LSan: the state freed */
	assert_int_equal(closes, 1);
	assert_int_equal(releases, 0);
	fail_open = 1;
	p = (void *)1;
	assert_int_equal(mamori_module_start(&fake3_module, &ctx, &p), -EIO);
	fail_open = 0;
	assert_null(p);
	assert_int_equal(closes, 2);
	/* open() with no state to open: refused, never called with NULL */
	assert_int_equal(mamori_module_start(&hooks_no_state, &ctx, &p), -EINVAL);
	assert_null(p);
	/* checks only: state NULL, reload and stop are no-ops */
	assert_int_equal(mamori_module_start(&checks_only, &ctx, &p), 0);
	assert_null(p);
	assert_int_equal(mamori_module_reload(&checks_only, &ctx, &p), 0);
	mamori_module_stop(&checks_only, p);
}

/* The state directory a module keeps its baselines in. */
static void test_state_dir(void **state)
{
	struct agent_config cfg = {0};
	struct mamori_ctx ctx = {.config = &cfg};
	char buf[PATH_MAX];
	(void)state;

	root_set(NULL);
	assert_int_equal(mamori_state_dir(&ctx, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/var/lib/mamori");
	snprintf(cfg.state_dir, sizeof(cfg.state_dir), "/srv/state");
	assert_int_equal(mamori_state_dir(&ctx, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/srv/state");
	assert_int_equal(mamori_state_dir(&ctx, buf, 4), -ENAMETOOLONG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_login_reads_its_section), cmocka_unit_test(test_old_settings_stay_on_error),
	        cmocka_unit_test(test_state_owned_by_core),     cmocka_unit_test(test_settings_loaded_hook),
	        cmocka_unit_test(test_state_without_section),   cmocka_unit_test(test_state_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
