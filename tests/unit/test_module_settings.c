/* tests/unit/test_module_settings.c — core-owned module settings
 * (agent/sdk/module.h, agent/sdk/module_api.c; issue 19): a module that only
 * names its policy section, the size of its settings and their conversion
 * gets them allocated, loaded at start, replaced on a policy change only when
 * the new ones load (the old stay in force otherwise) and freed — the same
 * path for the worker, the gate and `mamorictl check`. The login module,
 * converted to it, reads its real section of a real policy. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "module.h"
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

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_login_reads_its_section),
	        cmocka_unit_test(test_old_settings_stay_on_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
