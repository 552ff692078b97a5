/* tests/unit/test_policy_exception.c — exceptions of the policy
 * (policy/policy_exception.c): scope matching and expiry by time alone
 * (OPS-3). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "policy_exception.h"
#include "policy_schema.h"

static const char doc[] =
        "{\"schema\":1,\"version\":1,\"segment\":\"lgwan\",\"exceptions\":["
        "{\"id\":\"EX-1\",\"scope\":{\"check\":\"screenlock.idle\"},\"reason\":\"窓口端末\",\"requester\":\"tanaka\","
        "\"approver\":\"sato\",\"not_before\":\"2026-11-01T00:00:00Z\",\"not_after\":\"2026-12-01T00:00:00Z\","
        "\"requirements\":[\"OPS-3\",\"LOCK-1\"]},"
        "{\"id\":\"EX-2\",\"scope\":{\"check\":\"usb.*\",\"device\":{\"vendor\":\"0781\",\"product\":\"5581\","
        "\"serial\":\"S1\"}},\"reason\":\"測定器\",\"requester\":\"tanaka\",\"approver\":\"sato\","
        "\"not_after\":\"2026-12-01T00:00:00Z\",\"requirements\":[\"OPS-3\"]},"
        "{\"id\":\"EX-3\",\"scope\":{\"check\":\"av.definitions\",\"person\":\"yamada\"},\"reason\":\"出張\","
        "\"requester\":\"yamada\",\"approver\":\"sato\",\"not_after\":\"2026-11-10T09:00:00Z\","
        "\"requirements\":[\"OPS-3\"]}]}";

static struct mamori_policy *P;

static int setup(void **state)
{
	(void)state;
	return policy_parse(doc, sizeof(doc) - 1, &P, NULL);
}

static int teardown(void **state)
{
	(void)state;
	policy_free(P);
	return 0;
}

static time_t T(const char *s)
{
	time_t t;

	assert_int_equal(policy_time_parse(s, &t), 0);
	return t;
}

static void test_window(void **state)
{
	const char *id = NULL;
	(void)state;

	assert_false(policy_exception_applies(P, "screenlock.idle", NULL, NULL, T("2026-10-31T23:59:59Z"), &id));
	assert_null(id);
	assert_true(policy_exception_applies(P, "screenlock.idle", NULL, NULL, T("2026-11-01T00:00:00Z"), &id));
	assert_string_equal(id, "EX-1");
	assert_true(policy_exception_applies(P, "screenlock.idle", NULL, NULL, T("2026-11-30T23:59:59Z"), NULL));
	/* expired exceptions stop applying by themselves: not_after is exclusive */
	id = NULL;
	assert_false(policy_exception_applies(P, "screenlock.idle", NULL, NULL, T("2026-12-01T00:00:00Z"), &id));
	assert_null(id);
	assert_false(policy_exception_applies(P, "screenlock.other", NULL, NULL, T("2026-11-15T00:00:00Z"), NULL));
}

static void test_device_scope(void **state)
{
	struct policy_device_id ok = {"0781", "5581", "S1"}, other = {"0781", "5581", "S2"},
	                        noserial = {"0781", "5581", NULL};
	time_t now = T("2026-11-15T00:00:00Z");
	const char *id = NULL;
	(void)state;

	assert_true(policy_exception_applies(P, "usb.storage", &ok, NULL, now, &id));
	assert_string_equal(id, "EX-2");
	assert_true(policy_exception_applies(P, "usb.write", &ok, "anyone", now, NULL));
	assert_false(policy_exception_applies(P, "usb.storage", &other, NULL, now, NULL));
	assert_false(policy_exception_applies(P, "usb.storage", &noserial, NULL, now, NULL));
	assert_false(policy_exception_applies(P, "usb.storage", NULL, NULL, now, NULL));
	assert_false(policy_exception_applies(P, "usb", &ok, NULL, now, NULL));
	assert_false(policy_exception_applies(P, "usbx.storage", &ok, NULL, now, NULL));
}

static void test_person_scope(void **state)
{
	time_t now = T("2026-11-09T00:00:00Z");
	(void)state;

	assert_true(policy_exception_applies(P, "av.definitions", NULL, "yamada", now, NULL));
	assert_false(policy_exception_applies(P, "av.definitions", NULL, "suzuki", now, NULL));
	assert_false(policy_exception_applies(P, "av.definitions", NULL, NULL, now, NULL));
	assert_false(policy_exception_applies(P, "av.definitions", NULL, "yamada", T("2026-11-10T09:00:00Z"), NULL));
	assert_false(policy_exception_applies(NULL, "av.definitions", NULL, "yamada", now, NULL));
	assert_false(policy_exception_applies(P, NULL, NULL, "yamada", now, NULL));
}

static void test_check_patterns(void **state)
{
	(void)state;
	assert_true(policy_check_id_matches("usb.*", "usb.write"));
	assert_false(policy_check_id_matches("usb.*", "usb."));
	assert_false(policy_check_id_matches("usb.*", "usb"));
	assert_true(policy_check_id_matches("a.b", "a.b"));
	assert_false(policy_check_id_matches("a.b", "a.bc"));
	assert_false(policy_check_id_matches(NULL, "a"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_window),
	        cmocka_unit_test(test_device_scope),
	        cmocka_unit_test(test_person_scope),
	        cmocka_unit_test(test_check_patterns),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
