/* tests/unit/test_usb_local.c — the local USB exceptions as the gate takes
 * them (modules/usb/usb_local.c, issue 12.6): every element of the worker's
 * usb_local message is exact (a missing, unknown, mistyped or duplicate
 * field, a bad hash or an exception without an end refuses the whole set);
 * the look-up honours the agent's clock and the policy version; a block
 * wins over an allow; the control request table takes "args" only where its
 * row says so (agent/worker/control.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "control.h"
#include "json-util.h"
#include "usb/usb_local.h"

#define H1 "1111111111111111111111111111111111111111111111111111111111111111"
#define H2 "2222222222222222222222222222222222222222222222222222222222222222"

static int parse(const char *text, struct usb_local_set *set, const char **why)
{
	_cleanup_json_ cJSON *a = cJSON_Parse(text);

	*why = NULL;
	return usb_local_parse(a, set, why);
}

static void test_elements_are_exact(void **state)
{
	static const char *const bad[] = {
	        "{}",
	        "[1]",
	        "[{\"action\":\"allow\",\"hash\":\"" H1 "\",\"not_after\":10,\"policy_version\":0}]",
	        "[{\"id\":\"a\",\"hash\":\"" H1 "\",\"not_after\":10,\"policy_version\":0}]",
	        "[{\"id\":\"a\",\"action\":\"allow\",\"not_after\":10,\"policy_version\":0}]",
	        "[{\"id\":\"a\",\"action\":\"allow\",\"hash\":\"" H1 "\",\"policy_version\":0}]",
	        "[{\"id\":\"a\",\"action\":\"allow\",\"hash\":\"" H1 "\",\"not_after\":10}]",
	        "[{\"id\":\"a\",\"action\":\"allow\",\"hash\":\"" H1
	        "\",\"not_after\":10,\"policy_version\":0,\"x\":1}]",
	        "[{\"id\":\"a\",\"id\":\"b\",\"action\":\"allow\",\"hash\":\"" H1
	        "\",\"not_after\":10,\"policy_version\":0}]",
	        "[{\"id\":\"a\",\"action\":\"readonly\",\"hash\":\"" H1 "\",\"not_after\":10,\"policy_version\":0}]",
	        "[{\"id\":\"a\",\"action\":\"allow\",\"hash\":\"ABCD\",\"not_after\":10,\"policy_version\":0}]",
	        "[{\"id\":\"a\",\"action\":\"allow\",\"hash\":\"" H1 "\",\"not_after\":-1,\"policy_version\":0}]",
	        "[{\"id\":\"a\",\"action\":\"allow\",\"hash\":\"" H1 "\",\"not_after\":1.5,\"policy_version\":0}]",
	        "[{\"id\":\"a\",\"action\":\"allow\",\"hash\":\"" H1 "\",\"not_after\":\"10\",\"policy_version\":0}]",
	        /* never unbounded */
	        "[{\"id\":\"a\",\"action\":\"allow\",\"hash\":\"" H1 "\",\"not_after\":0,\"policy_version\":0}]",
	        "[{\"id\":\"a b\",\"action\":\"allow\",\"hash\":\"" H1 "\",\"not_after\":10,\"policy_version\":0}]",
	        /* one good, one bad: the whole set is refused */
	        "[{\"id\":\"a\",\"action\":\"allow\",\"hash\":\"" H1 "\",\"not_after\":10,\"policy_version\":0},"
	        "{\"id\":\"b\",\"action\":\"allow\",\"hash\":\"" H2 "\",\"not_after\":10}]",
	};
	struct usb_local_set set = {.n = 77};
	const char *why;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse(bad[i], &set, &why) != -EBADMSG || !why)
			fail_msg("accepted: %s", bad[i]);
		assert_int_equal(set.n, 77); /* untouched */
	}
	assert_int_equal(parse("[{\"id\":\"L1-1\",\"action\":\"block\",\"hash\":\"" H1
	                       "\",\"not_after\":0,\"policy_version\":3}]",
	                       &set, &why),
	                 0);
	assert_int_equal(set.n, 1);
	assert_int_equal(set.e[0].action, USB_LOCAL_BLOCK);
	assert_int_equal(set.e[0].policy_version, 3);
	/* an approval's access (issue 16): allow_ro and allow_rw, one table both ways */
	assert_int_equal(parse("[{\"id\":\"approval-1\",\"action\":\"allow_ro\",\"hash\":\"" H1
	                       "\",\"not_after\":10,\"policy_version\":0},{\"id\":\"approval-2\",\"action\":"
	                       "\"allow_rw\",\"hash\":\"" H2 "\",\"not_after\":10,\"policy_version\":0}]",
	                       &set, &why),
	                 0);
	assert_int_equal(set.e[0].action, USB_LOCAL_ALLOW_RO);
	assert_int_equal(set.e[1].action, USB_LOCAL_ALLOW_RW);
	assert_string_equal(usb_local_action_to_string(USB_LOCAL_ALLOW_RO), "allow_ro");
	assert_int_equal(usb_local_action_from_string("allow_rx"), -EINVAL);
}

static void test_find_and_prune(void **state)
{
	struct usb_local_set set;
	struct usb_local ended[4];
	const struct usb_local *e;
	const char *why;

	(void)state;
	assert_int_equal(
	        parse("["
	              "{\"id\":\"A\",\"action\":\"allow\",\"hash\":\"" H1 "\",\"not_after\":100,\"policy_version\":0},"
	              "{\"id\":\"B\",\"action\":\"block\",\"hash\":\"" H1 "\",\"not_after\":0,\"policy_version\":3},"
	              "{\"id\":\"C\",\"action\":\"allow\",\"hash\":\"" H2 "\",\"not_after\":50,\"policy_version\":0}]",
	              &set, &why),
	        0);
	/* a block wins over an allow of the same device */
	e = usb_local_find(&set, H1, 10, 3);
	assert_non_null(e);
	assert_string_equal(e->id, "B");
	/* under another policy version the permanent block is not in force */
	e = usb_local_find(&set, H1, 10, 4);
	assert_non_null(e);
	assert_string_equal(e->id, "A");
	/* by the clock: not_after is the end (exclusive) */
	assert_non_null(usb_local_find(&set, H2, 49, 3));
	assert_null(usb_local_find(&set, H2, 50, 3));
	assert_null(usb_local_find(&set, H1, 100, 4));
	assert_null(usb_local_find(&set, "", 10, 3));
	/* prune: C expired at 60, B ended with version 4 */
	assert_int_equal(usb_local_prune(&set, 60, 4, ended, 4), 2);
	assert_int_equal(set.n, 1);
	assert_string_equal(set.e[0].id, "A");
}

#define cp(s, c, w) control_request_parse((s), strlen(s), (c), (w))

static void test_control_args(void **state)
{
	enum control_cmd cmd;
	const char *why;

	(void)state;
	assert_int_equal(cp("{\"cmd\":\"usb_allow\",\"args\":{}}", &cmd, &why), 0);
	assert_int_equal(cmd, CONTROL_USB_ALLOW);
	assert_int_equal(cp("{\"args\":{},\"cmd\":\"usb_revoke\"}", &cmd, &why), 0);
	assert_int_equal(cmd, CONTROL_USB_REVOKE);
	/* a command whose row takes none refuses "args" */
	assert_int_equal(cp("{\"cmd\":\"status\",\"args\":{}}", &cmd, &why), -EBADMSG);
	assert_int_equal(cp("{\"cmd\":\"usb_watch\",\"args\":{}}", &cmd, &why), -EBADMSG);
	assert_int_equal(cp("{\"cmd\":\"usb_allow\",\"args\":[]}", &cmd, &why), -EBADMSG);
	assert_int_equal(cp("{\"cmd\":\"usb_allow\",\"args\":{},\"args\":{}}", &cmd, &why), -EBADMSG);
	assert_int_equal(cp("{\"cmd\":\"usb_watch\"}", &cmd, &why), 0);
	assert_int_equal(cmd, CONTROL_USB_WATCH);
	/* a member named twice inside args (the handler would read the first),
	 * also deeper, also among many */
	assert_int_equal(cp("{\"cmd\":\"request\",\"args\":{\"kind\":\"device\",\"kind\":\"carry-out\"}}", &cmd, &why),
	                 -EBADMSG);
	assert_string_equal(why, "a member named twice in one object");
	assert_int_equal(cp("{\"cmd\":\"usb_allow\",\"args\":{\"d\":{\"v\":\"1\",\"v\":\"2\"}}}", &cmd, &why),
	                 -EBADMSG);
	assert_int_equal(cp("{\"cmd\":\"usb_allow\",\"args\":{\"a\":1,\"b\":1,\"c\":1,\"d\":1,\"e\":1,\"f\":1,\"g\":1,"
	                    "\"h\":1,\"i\":1,\"j\":1,\"k\":1,\"l\":1,\"m\":1,\"n\":1,\"o\":1,\"p\":1,\"q\":1,\"c\":2}}",
	                    &cmd, &why),
	                 -EBADMSG);
	/* the same names in different objects are no duplicate */
	assert_int_equal(
	        cp("{\"cmd\":\"usb_allow\",\"args\":{\"a\":{\"v\":1},\"b\":{\"v\":1},\"c\":[{\"v\":1},{\"v\":2}]}}",
	           &cmd, &why),
	        0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_elements_are_exact),
	        cmocka_unit_test(test_find_and_prune),
	        cmocka_unit_test(test_control_args),
	};

	return cmocka_run_group_tests_name("usb_local", tests, NULL, NULL);
}
