/* tests/unit/test_policy_schema.c — policy/schema.json is what the C schema
 * table generates (`mamorictl policy schema`), so the published JSON Schema
 * cannot drift from what the agent enforces; and the generator survives
 * allocation failure. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "policy-test-util.h"
#include "policy.h"
#include "policy_schema.h"

static void test_schema_json_matches_table(void **state)
{
	cJSON *gen = NULL, *file, *reparsed;
	char *text, *buf;
	size_t len;
	(void)state;

	assert_int_equal(policy_schema_to_json(&gen), 0);
	text = cJSON_Print(gen);
	reparsed = cJSON_Parse(text);
	buf = ptest_read_src("policy/schema.json", &len);
	file = cJSON_ParseWithLength(buf, len);
	assert_non_null(file);
	if (!cJSON_Compare(reparsed, file, true))
		fail_msg("policy/schema.json differs from the table: regenerate with `mamorictl policy schema`");
	/* spot checks that the schema says what the validator does */
	{
		const cJSON *props = cJSON_GetObjectItem(file, "properties");
		const cJSON *usb = cJSON_GetObjectItem(props, "usb");
		const cJSON *seg = cJSON_GetObjectItem(cJSON_GetObjectItem(props, "segment"), "enum");

		assert_true(cJSON_IsFalse(cJSON_GetObjectItem(usb, "additionalProperties")));
		assert_int_equal(cJSON_GetArraySize(seg), 3);
		assert_non_null(strstr(text, "\"MEDIA-1\""));
		assert_non_null(strstr(text, "9007199254740991"));
	}
	cJSON_Delete(gen);
	cJSON_Delete(reparsed);
	cJSON_Delete(file);
	free(text);
	free(buf);
}

static long countdown = -1, calls;

static void *failing_malloc(size_t n)
{
	calls++;
	if (countdown >= 0 && countdown-- == 0)
		return NULL;
	return malloc(n);
}

static void test_generator_alloc_failure(void **state)
{
	cJSON *s = NULL;
	long total;
	(void)state;

	policy_mem_set_hooks(failing_malloc, free);
	calls = 0;
	assert_int_equal(policy_schema_to_json(&s), 0);
	cJSON_Delete(s);
	total = calls;
	for (long n = 0; n < total; n += 7) {
		s = NULL;
		countdown = n;
		assert_int_equal(policy_schema_to_json(&s), -ENOMEM);
		assert_null(s);
	}
	countdown = -1;
	policy_mem_set_hooks(NULL, NULL);
}

static void test_formats_table(void **state)
{
	(void)state;
	for (int f = 0; f < _POLICY_FORMAT_MAX; f++)
		assert_non_null(policy_format_to_string((enum policy_format)f));
	assert_null(policy_format_to_string(_POLICY_FORMAT_MAX));
	assert_true(policy_format_valid(POLICY_FORMAT_USB_PORT, "1-1"));
	assert_true(policy_format_valid(POLICY_FORMAT_USB_PORT, "12-3.4.5"));
	assert_false(policy_format_valid(POLICY_FORMAT_USB_PORT, "1-"));
	assert_false(policy_format_valid(POLICY_FORMAT_USB_PORT, "-1"));
	assert_false(policy_format_valid(POLICY_FORMAT_USB_PORT, "1.1"));
	assert_false(policy_format_valid(POLICY_FORMAT_USB_PORT, "1-1..2"));
	assert_true(policy_format_valid(POLICY_FORMAT_CHECK_ID, "screenlock.idle"));
	assert_false(policy_format_valid(POLICY_FORMAT_CHECK_ID, "*"));
	assert_false(policy_format_valid(POLICY_FORMAT_CHECK_ID, "a..b"));
	assert_false(policy_format_valid(POLICY_FORMAT_CHECK_ID, "a.*.b"));
	assert_true(policy_format_valid(POLICY_FORMAT_BASE64, "ab=="));
	assert_false(policy_format_valid(POLICY_FORMAT_BASE64, "==="));
	assert_false(policy_format_valid(POLICY_FORMAT_BASE64, ""));
	assert_true(policy_format_valid(POLICY_FORMAT_ABS_PATH, "/a/..b"));
	assert_false(policy_format_valid(POLICY_FORMAT_ABS_PATH, "/a/.."));
	assert_true(policy_format_valid(POLICY_FORMAT_OS_ID, "ubuntu:24.04"));
	assert_false(policy_format_valid(POLICY_FORMAT_OS_ID, "ubuntu:"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_schema_json_matches_table),
	        cmocka_unit_test(test_generator_alloc_failure),
	        cmocka_unit_test(test_formats_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
