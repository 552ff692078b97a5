/* tests/unit/test_usbguard.c — USBGuard rules.conf import (policy/usbguard.c):
 * 26 rules of our own covering every supported construct and several
 * unsupported ones; every non-comment line is either converted or reported
 * with its line number, and the output validates as usb.rules. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "policy.h"
#include "usbguard.h"

static const char rules_conf[] =
        /* 1 */ "# USBGuard policy of the 会計課 terminals\n"
                /* 2 */ "\n"
                /* 3 */ "allow id 0781:5581 serial \"4C530001\" name \"Ultra\" with-interface 08:06:50\n"
                /* 4 */ "allow 0951:1666 serial \"ABC\\\"123\"\n"
                /* 5 */ "block id 1d6b:*\n"
                /* 6 */ "reject with-interface one-of { e0:*:* 02:*:* }\n"
                /* 7 */ "allow with-interface all-of { 03:01:01 03:01:02 }\n"
                /* 8 */ "allow hash \"Z8Y2hTpSwPxR0oAtoxl7+FSSv9Ls6ZzBrGLmr8jq6/I=\"\n"
                /* 9 */ "allow id 046d:c52b via-port \"1-1.2\"\n"
                /* 10 */ "allow id 046d:c52b via-port one-of { \"1-1\" \"1-2\" \"2-1\" }\n"
                /* 11 */ "allow id one-of { 0781:5581 0781:5583 } serial one-of { \"S1\" \"S2\" }\n"
                /* 12 */ "block with-interface none-of { 03:*:* 09:00:* }\n"
                /* 13 */ "allow with-interface equals { 08:06:50 }\n"
                /* 14 */ "allow id 0A5C:21E8 with-connect-type \"hardwired\"\n"
                /* 15 */ "allow id 0bda:8153 label \"docking station NIC\"\n"
                /* 16 */ "allow id 0781:5581 serial all-of { \"X1\" }\n"
                /* 17 */ "allow id 1234:5678 parent-hash \"abc=\"\n"
                /* 18 */ "allow id 1234:5678 if localtime(08:00-17:00)\n"
                /* 19 */ "allow with-interface equals-ordered { 08:06:50 03:01:01 }\n"
                /* 20 */ "allow\n"
                /* 21 */ "block *:*\n"
                /* 22 */ "permit id 1234:5678\n"
                /* 23 */ "allow id 1234:5678 serial \"unterminated\n"
                /* 24 */ "allow id 12345:678\n"
                /* 25 */ "allow id 1234:5678 serial \"A\" serial \"B\"\n"
                /* 26 */ "allow via-port \"usb1\"\n"
                /* 27 */ "allow id 1234:5678 serial none-of { \"bad\" }\n"
                /* 28 */ "  # indented comment\n"
                /* 29 */ "allow name \"日本語デバイス\" with-interface { 03:00:01 03:01:02 }";

static cJSON *rules;
static struct usbguard_issues issues;

static int setup(void **state)
{
	(void)state;
	return usbguard_import(rules_conf, sizeof(rules_conf) - 1, true, &rules, &issues);
}

static int teardown(void **state)
{
	(void)state;
	cJSON_Delete(rules);
	return 0;
}

static const cJSON *rule(const char *id)
{
	const cJSON *r;

	cJSON_ArrayForEach(r, rules)
	{
		if (strcmp(cJSON_GetObjectItem(r, "id")->valuestring, id) == 0)
			return r;
	}
	fail_msg("no rule %s", id);
	return NULL;
}

static const char *m(const char *id, const char *key)
{
	const cJSON *v = cJSON_GetObjectItem(cJSON_GetObjectItem(rule(id), "match"), key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static char *arr(const char *id, const char *key)
{
	return cJSON_PrintUnformatted(cJSON_GetObjectItem(cJSON_GetObjectItem(rule(id), "match"), key));
}

static void expect_arr(const char *id, const char *key, const char *want)
{
	char *s = arr(id, key);

	assert_non_null(s);
	assert_string_equal(s, want);
	free(s);
}

static bool has_issue(unsigned line, enum usbguard_issue_code code)
{
	for (size_t i = 0; i < issues.n; i++)
		if (issues.e[i].line == line && issues.e[i].code == code)
			return true;
	return false;
}

static void test_supported(void **state)
{
	(void)state;
	/* line 3: id, serial, name, single interface (a set of one, USBGuard equals) */
	assert_string_equal(cJSON_GetObjectItem(rule("usbguard-L3"), "action")->valuestring, "allow");
	assert_string_equal(m("usbguard-L3", "id"), "0781:5581");
	assert_string_equal(m("usbguard-L3", "serial"), "4C530001");
	assert_string_equal(m("usbguard-L3", "name"), "Ultra");
	expect_arr("usbguard-L3", "interfaces", "[\"08:06:50\"]");
	/* line 4: bare device id, escaped quote kept as the byte */
	assert_string_equal(m("usbguard-L4", "id"), "0951:1666");
	assert_string_equal(m("usbguard-L4", "serial"), "ABC\"123");
	assert_string_equal(m("usbguard-L5", "id"), "1d6b:*");
	assert_string_equal(cJSON_GetObjectItem(rule("usbguard-L5"), "action")->valuestring, "block");
	/* line 6: reject → block; with-interface one-of → interfaces_one_of */
	assert_string_equal(cJSON_GetObjectItem(rule("usbguard-L6"), "action")->valuestring, "block");
	assert_non_null(strstr(cJSON_GetObjectItem(rule("usbguard-L6"), "comment")->valuestring, "reject"));
	expect_arr("usbguard-L6", "interfaces_one_of", "[\"e0:*:*\",\"02:*:*\"]");
	expect_arr("usbguard-L7", "interfaces_all_of", "[\"03:01:01\",\"03:01:02\"]");
	/* line 8: USBGuard's hash, matched as USBGuard computes it */
	assert_string_equal(m("usbguard-L8", "usbguard_hash"), "Z8Y2hTpSwPxR0oAtoxl7+FSSv9Ls6ZzBrGLmr8jq6/I=");
	assert_null(m("usbguard-L8", "hash"));
	assert_string_equal(m("usbguard-L9", "port"), "1-1.2");
	/* sets keep their operator: one rule per line */
	expect_arr("usbguard-L10", "port_one_of", "[\"1-1\",\"1-2\",\"2-1\"]");
	expect_arr("usbguard-L11", "id_one_of", "[\"0781:5581\",\"0781:5583\"]");
	expect_arr("usbguard-L11", "serial_one_of", "[\"S1\",\"S2\"]");
	expect_arr("usbguard-L12", "interfaces_none_of", "[\"03:*:*\",\"09:00:*\"]");
	expect_arr("usbguard-L13", "interfaces_equals", "[\"08:06:50\"]");
	assert_non_null(strstr(cJSON_GetObjectItem(rule("usbguard-L15"), "comment")->valuestring,
	                       "label: docking station NIC"));
	expect_arr("usbguard-L16", "serial_all_of", "[\"X1\"]");
	expect_arr("usbguard-L19", "interfaces_equals_ordered", "[\"08:06:50\",\"03:01:01\"]");
	/* catch-all rules: every device */
	assert_string_equal(m("usbguard-L20", "id"), "*:*");
	assert_string_equal(m("usbguard-L21", "id"), "*:*");
	assert_string_equal(m("usbguard-L26", "port"), "usb1");
	expect_arr("usbguard-L27", "serial_none_of", "[\"bad\"]");
	assert_string_equal(m("usbguard-L29", "name"), "日本語デバイス");
	expect_arr("usbguard-L29", "interfaces", "[\"03:00:01\",\"03:01:02\"]");
}

static void test_unsupported_reported(void **state)
{
	(void)state;
	assert_true(has_issue(14, USBGUARD_ISSUE_VALUE));     /* upper-case id */
	assert_true(has_issue(17, USBGUARD_ISSUE_VALUE));     /* parent-hash "abc=" */
	assert_true(has_issue(18, USBGUARD_ISSUE_CONDITION)); /* if localtime() */
	assert_true(has_issue(22, USBGUARD_ISSUE_TARGET));    /* permit */
	assert_true(has_issue(23, USBGUARD_ISSUE_SYNTAX));    /* unterminated string */
	assert_true(has_issue(24, USBGUARD_ISSUE_SYNTAX));    /* 12345:678 */
	assert_true(has_issue(25, USBGUARD_ISSUE_DUPLICATE)); /* serial twice */
	assert_int_equal(issues.n, 7);
	/* nothing silently dropped: 26 rule lines = 19 converted + 7 refused */
	assert_int_equal(issues.lines_total, 26);
	assert_int_equal(issues.lines_converted, 19);
	assert_int_equal(issues.lines_refused, 7);
	assert_int_equal(issues.rules_broadened, 0); /* every refused line is an allow (or not a rule) */
	assert_int_equal(cJSON_GetArraySize(rules), 19);
	assert_int_equal(issues.rules_out, 19);
}

static void test_output_validates(void **state)
{
	cJSON *doc = cJSON_CreateObject(), *usb;
	struct mamori_policy *p = NULL;
	struct policy_errors errs;
	char *text;
	(void)state;

	cJSON_AddNumberToObject(doc, "schema", 1);
	cJSON_AddNumberToObject(doc, "version", 1);
	cJSON_AddStringToObject(doc, "segment", "lgwan");
	usb = cJSON_AddObjectToObject(doc, "usb");
	cJSON_AddStringToObject(usb, "default", "block");
	cJSON_AddItemReferenceToObject(usb, "rules", rules);
	text = cJSON_Print(doc);
	policy_errors_init(&errs);
	if (policy_parse(text, strlen(text), &p, &errs) < 0)
		policy_errors_print(&errs, stderr, "en");
	assert_non_null(p);
	policy_free(p);
	free(text);
	cJSON_Delete(doc);
}

static void test_messages(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	(void)state;

	usbguard_issues_print(&issues, "rules.conf", f, "en");
	usbguard_issues_print(&issues, "rules.conf", f, "ja");
	fclose(f);
	assert_non_null(
	        strstr(buf, "rules.conf:17: value outside mamori's format, line not converted: parent-hash \"abc=\""));
	assert_non_null(strstr(buf, "rules.conf:22: 未知のルール種別のため変換していません: permit"));
	free(buf);
}

static void test_limits(void **state)
{
	cJSON *out = NULL;
	struct usbguard_issues is;
	char *big = malloc(USBGUARD_LINE_MAX + 100);
	(void)state;

	/* a line over the cap is reported, the next one still converted */
	memset(big, 'a', USBGUARD_LINE_MAX + 10);
	memcpy(big + USBGUARD_LINE_MAX + 10, "\nblock id 1234:5678\n", 20);
	assert_int_equal(usbguard_import(big, USBGUARD_LINE_MAX + 30, false, &out, &is), 0);
	assert_int_equal(is.n, 1);
	assert_int_equal(is.e[0].code, USBGUARD_ISSUE_LINE_TOO_LONG);
	assert_int_equal(cJSON_GetArraySize(out), 1);
	cJSON_Delete(out);
	/* a set over USB_MATCH_SET_MAX values */
	{
		char l[1024] = "allow id one-of {";
		for (int k = 0; k < 33; k++)
			snprintf(l + strlen(l), sizeof(l) - strlen(l), " 0001:%04x", k);
		snprintf(l + strlen(l), sizeof(l) - strlen(l), " }");
		assert_int_equal(usbguard_import(l, strlen(l), false, &out, &is), 0);
		assert_int_equal(is.e[0].code, USBGUARD_ISSUE_TOO_MANY);
		assert_int_equal(cJSON_GetArraySize(out), 0);
		cJSON_Delete(out);
	}
	assert_int_equal(usbguard_import(big, USBGUARD_FILE_MAX + 1, false, &out, &is), -EFBIG);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_supported),        cmocka_unit_test(test_unsupported_reported),
	        cmocka_unit_test(test_output_validates), cmocka_unit_test(test_messages),
	        cmocka_unit_test(test_limits),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
