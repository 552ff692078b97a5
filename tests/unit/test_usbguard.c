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
	return usbguard_import(rules_conf, sizeof(rules_conf) - 1, &rules, &issues);
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
	/* line 3: id, serial, name, single interface (USBGuard equals) */
	assert_string_equal(cJSON_GetObjectItem(rule("usbguard-L3"), "action")->valuestring, "allow");
	assert_string_equal(m("usbguard-L3", "vendor"), "0781");
	assert_string_equal(m("usbguard-L3", "product"), "5581");
	assert_string_equal(m("usbguard-L3", "serial"), "4C530001");
	assert_string_equal(m("usbguard-L3", "name"), "Ultra");
	expect_arr("usbguard-L3", "interfaces", "[\"08:06:50\"]");
	/* line 4: bare device id, escaped quote */
	assert_string_equal(m("usbguard-L4", "vendor"), "0951");
	assert_string_equal(m("usbguard-L4", "serial"), "ABC\"123");
	/* line 5: vendor wildcard product */
	assert_string_equal(m("usbguard-L5", "vendor"), "1d6b");
	assert_null(m("usbguard-L5", "product"));
	assert_string_equal(cJSON_GetObjectItem(rule("usbguard-L5"), "action")->valuestring, "block");
	/* line 6: reject → block; interface one-of → interfaces_any; MEDIA-5 cited */
	assert_string_equal(cJSON_GetObjectItem(rule("usbguard-L6"), "action")->valuestring, "block");
	assert_non_null(strstr(cJSON_GetObjectItem(rule("usbguard-L6"), "comment")->valuestring, "reject"));
	expect_arr("usbguard-L6", "interfaces_any", "[\"e0:*:*\",\"02:*:*\"]");
	{
		char *reqs = cJSON_PrintUnformatted(cJSON_GetObjectItem(rule("usbguard-L6"), "requirements"));
		assert_string_equal(reqs, "[\"MEDIA-1\",\"MEDIA-5\"]");
		free(reqs);
	}
	expect_arr("usbguard-L7", "interfaces_all", "[\"03:01:01\",\"03:01:02\"]");
	/* line 8: USBGuard's hash is kept as such, not as our SHA-256 */
	assert_string_equal(m("usbguard-L8", "usbguard_hash"), "Z8Y2hTpSwPxR0oAtoxl7+FSSv9Ls6ZzBrGLmr8jq6/I=");
	assert_null(m("usbguard-L8", "hash"));
	assert_string_equal(m("usbguard-L9", "port"), "1-1.2");
	/* line 10: one-of on a single-valued attribute → one rule per value */
	assert_string_equal(m("usbguard-L10-1", "port"), "1-1");
	assert_string_equal(m("usbguard-L10-2", "port"), "1-2");
	assert_string_equal(m("usbguard-L10-3", "port"), "2-1");
	assert_string_equal(m("usbguard-L10-3", "vendor"), "046d");
	/* line 11: 2 ids × 2 serials = 4 rules */
	assert_string_equal(m("usbguard-L11-1", "product"), "5581");
	assert_string_equal(m("usbguard-L11-1", "serial"), "S1");
	assert_string_equal(m("usbguard-L11-4", "product"), "5583");
	assert_string_equal(m("usbguard-L11-4", "serial"), "S2");
	expect_arr("usbguard-L12", "interfaces_none", "[\"03:*:*\",\"09:00:*\"]");
	expect_arr("usbguard-L13", "interfaces", "[\"08:06:50\"]");
	/* line 14: upper-case hex is normalised; connect type */
	assert_string_equal(m("usbguard-L14", "vendor"), "0a5c");
	assert_string_equal(m("usbguard-L14", "product"), "21e8");
	assert_string_equal(m("usbguard-L14", "connect_type"), "hardwired");
	assert_non_null(strstr(cJSON_GetObjectItem(rule("usbguard-L15"), "comment")->valuestring,
	                       "label: docking station NIC"));
	assert_string_equal(m("usbguard-L16", "serial"), "X1");
	assert_string_equal(m("usbguard-L29", "name"), "日本語デバイス");
	expect_arr("usbguard-L29", "interfaces", "[\"03:00:01\",\"03:01:02\"]");
}

static void test_unsupported_reported(void **state)
{
	(void)state;
	assert_true(has_issue(17, USBGUARD_ISSUE_ATTRIBUTE)); /* parent-hash */
	assert_true(has_issue(18, USBGUARD_ISSUE_ATTRIBUTE)); /* if */
	assert_true(has_issue(19, USBGUARD_ISSUE_OPERATOR));  /* equals-ordered */
	assert_true(has_issue(20, USBGUARD_ISSUE_CATCH_ALL)); /* allow */
	assert_true(has_issue(21, USBGUARD_ISSUE_CATCH_ALL)); /* block *:* */
	assert_true(has_issue(22, USBGUARD_ISSUE_TARGET));    /* permit */
	assert_true(has_issue(23, USBGUARD_ISSUE_SYNTAX));    /* unterminated string */
	assert_true(has_issue(24, USBGUARD_ISSUE_VALUE));     /* 12345:678 */
	assert_true(has_issue(25, USBGUARD_ISSUE_DUPLICATE)); /* serial twice */
	assert_true(has_issue(26, USBGUARD_ISSUE_VALUE));     /* via-port "usb1" */
	assert_true(has_issue(27, USBGUARD_ISSUE_OPERATOR));  /* none-of on serial */
	assert_int_equal(issues.n, 11);
	/* nothing silently dropped: 26 rule lines = 15 converted + 11 reported */
	assert_int_equal(issues.lines_converted, 15);
	assert_int_equal(issues.lines_converted + issues.n, 26);
	/* 15 lines → 15 + (3-1) + (4-1) = 20 rules */
	assert_int_equal(cJSON_GetArraySize(rules), 20);
	assert_int_equal(issues.rules_out, 20);
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
	        strstr(buf, "rules.conf:17: attribute has no mamori equivalent, line not converted: parent-hash"));
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
	assert_int_equal(usbguard_import(big, USBGUARD_LINE_MAX + 30, &out, &is), 0);
	assert_int_equal(is.n, 1);
	assert_int_equal(is.e[0].code, USBGUARD_ISSUE_LINE_TOO_LONG);
	assert_int_equal(cJSON_GetArraySize(out), 1);
	cJSON_Delete(out);
	/* 8 × 8 + ... expansion over the cap */
	{
		const char *l =
		        "allow id one-of { 0001:0001 0001:0002 0001:0003 0001:0004 0001:0005 0001:0006 0001:0007 "
		        "0001:0008 0001:0009 } serial one-of { \"1\" \"2\" \"3\" \"4\" \"5\" \"6\" \"7\" \"8\" }";
		assert_int_equal(usbguard_import(l, strlen(l), &out, &is), 0);
		assert_int_equal(is.e[0].code, USBGUARD_ISSUE_TOO_MANY);
		assert_int_equal(cJSON_GetArraySize(out), 0);
		cJSON_Delete(out);
	}
	assert_int_equal(usbguard_import(big, USBGUARD_FILE_MAX + 1, &out, &is), -EFBIG);
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
