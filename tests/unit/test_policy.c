/* tests/unit/test_policy.c — policy parser and validator (policy/policy.c,
 * policy/policy_schema.c, policy/policy_errors.c): the templates validate,
 * every error class is reported with its JSON path, all errors at once, and
 * failing any allocation gives a clean -ENOMEM without leaks (LeakSanitizer). */
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

/* Tests write JSON with single quotes for readability. */
static char *J(const char *s)
{
	char *d = strdup(s);

	assert_non_null(d);
	for (char *p = d; *p; p++)
		if (*p == '\'')
			*p = '"';
	return d;
}

#define HEAD "{'schema':1,'version':3,'segment':'lgwan'"

static int parse_str(const char *json, struct mamori_policy **ret, struct policy_errors *errs)
{
	char *d = J(json);
	int r;

	policy_errors_init(errs);
	r = policy_parse(d, strlen(d), ret, errs);
	free(d);
	return r;
}

/* Parse a document that must fail with exactly one error of code at path. */
static void expect_one(const char *json, enum policy_error_code code, const char *path)
{
	struct mamori_policy *p = NULL;
	struct policy_errors errs;
	int r = parse_str(json, &p, &errs);

	if (errs.n != 1 || errs.e[0].code != code || strcmp(errs.e[0].path, path) != 0) {
		fprintf(stderr, "for %s\nexpected %s at %s, got:\n", json, policy_error_code_to_string(code), path);
		policy_errors_print(&errs, stderr, "en");
	}
	assert_int_equal(r, -EINVAL);
	assert_null(p);
	assert_int_equal(errs.n, 1);
	assert_int_equal(errs.e[0].code, code);
	assert_string_equal(errs.e[0].path, path);
}

static void message_en(const char *json, const char *want)
{
	struct mamori_policy *p = NULL;
	struct policy_errors errs;
	char line[1024];

	assert_int_equal(parse_str(json, &p, &errs), -EINVAL);
	assert_int_equal(policy_error_format(&errs, 0, "en", line, sizeof(line)), 0);
	assert_string_equal(line, want);
}

static void test_templates_validate(void **state)
{
	static const char *const segs[] = {"mynumber", "lgwan", "internet"};
	(void)state;

	for (size_t i = 0; i < 3; i++) {
		char rel[64];
		size_t len;
		char *buf;
		struct mamori_policy *p = NULL;
		struct policy_errors errs;
		int r;

		snprintf(rel, sizeof(rel), "policy/templates/%s.json", segs[i]);
		buf = ptest_read_src(rel, &len);
		policy_errors_init(&errs);
		r = policy_parse(buf, len, &p, &errs);
		if (r < 0)
			policy_errors_print(&errs, stderr, "en");
		assert_int_equal(r, 0);
		assert_int_equal(errs.n, 0);
		assert_string_equal(policy_segment(p), segs[i]);
		assert_true(policy_version(p) >= 1);
		/* every module section is there and is an object */
		static const char *const sections[] = {"usb",      "carry",    "av",        "screenlock", "login",
		                                       "patch",    "software", "integrity", "network",    "reporting",
		                                       "timesync", "commands", "emergency"};
		for (size_t k = 0; k < sizeof(sections) / sizeof(sections[0]); k++)
			assert_true(cJSON_IsObject(policy_section(p, sections[k])));
		assert_true(cJSON_IsArray(policy_section(p, "exceptions")));
		assert_null(policy_section(p, "version"));
		assert_null(policy_section(p, "nosuch"));
		policy_free(p);
		free(buf);
	}
}

static void test_segment_defaults(void **state)
{
	/* The seeds' segment rules are in the templates: mynumber forbids writes
	 * without approval (MEDIA-2, T 第3 1(2)イ) and requires MFA (M 4(1)②(ア)). */
	size_t len;
	char *buf = ptest_read_src("policy/templates/mynumber.json", &len);
	_cleanup_policy_free_ struct mamori_policy *p = NULL;
	const cJSON *usb, *login, *net;
	(void)state;

	assert_int_equal(policy_parse(buf, len, &p, NULL), 0);
	usb = policy_section(p, "usb");
	login = policy_section(p, "login");
	net = policy_section(p, "network");
	assert_string_equal(cJSON_GetObjectItem(usb, "default")->valuestring, "block");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(usb, "write_requires_approval")));
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(usb, "encryption"), "required")));
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(login, "mfa_required")));
	assert_true(cJSON_GetArraySize(cJSON_GetObjectItem(net, "allowed_destinations")) > 0);
	free(buf);
}

static void test_minimal_valid(void **state)
{
	struct mamori_policy *p = NULL;
	struct policy_errors errs;
	(void)state;

	assert_int_equal(parse_str(HEAD "}", &p, &errs), 0);
	assert_int_equal(policy_version(p), 3);
	assert_string_equal(policy_segment(p), "lgwan");
	assert_null(policy_section(p, "usb"));
	policy_free(p);
	policy_free(NULL);
	/* trailing whitespace is fine, a buffer without NUL too */
	{
		const char *doc = "{\"schema\":1,\"version\":1,\"segment\":\"internet\"}\n\n  xyz";
		assert_int_equal(policy_parse(doc, strlen(doc) - 3, &p, NULL), 0);
		policy_free(p);
	}
}

static void test_type_error_path(void **state)
{
	(void)state;
	expect_one(HEAD ",'usb':{'default':'block','rules':["
	                "{'id':'a','action':'allow','match':{'vendor':'0781'},'requirements':['MEDIA-1']},"
	                "{'id':'b','action':'allow','match':{'vendor':'0781'},'requirements':['MEDIA-1']},"
	                "{'id':'c','action':'allow','match':{'vendor':'0781'},'requirements':['MEDIA-1']},"
	                "{'id':'d','action':'allow','match':{'serial':42},'requirements':['MEDIA-1']}]}}",
	           POLICY_ERROR_TYPE, "usb.rules[3].match.serial");
	message_en(HEAD ",'usb':{'default':'block','rules':["
	                "{'id':'d','action':'allow','match':{'serial':42},'requirements':['MEDIA-1']}]}}",
	           "usb.rules[0].match.serial: expected string");
	expect_one(HEAD ",'screenlock':{'max_idle_seconds':'300'}}", POLICY_ERROR_TYPE, "screenlock.max_idle_seconds");
	expect_one(HEAD ",'screenlock':{'max_idle_seconds':300.5}}", POLICY_ERROR_TYPE, "screenlock.max_idle_seconds");
	expect_one(HEAD ",'screenlock':{'locked':1}}", POLICY_ERROR_TYPE, "screenlock.locked");
	expect_one(HEAD ",'usb':[]}", POLICY_ERROR_TYPE, "usb");
	expect_one(HEAD ",'exceptions':{}}", POLICY_ERROR_TYPE, "exceptions");
	expect_one("[1,2]", POLICY_ERROR_TYPE, "");
	expect_one(HEAD ",'av':{'product':'generic','generic':{'version_command':5}}}", POLICY_ERROR_TYPE,
	           "av.generic.version_command");
}

static void test_unknown_duplicate_missing(void **state)
{
	(void)state;
	expect_one(HEAD ",'usb':{'default':'block','colour':'red'}}", POLICY_ERROR_UNKNOWN_KEY, "usb.colour");
	expect_one(HEAD ",'usb':{'default':'block','we ird\\n':1}}", POLICY_ERROR_UNKNOWN_KEY, "usb[\"we ird\\x0a\"]");
	expect_one(HEAD ",'usbb':{}}", POLICY_ERROR_UNKNOWN_KEY, "usbb");
	/* accepted and read by no code before (issue 21.7): refused now */
	expect_one(HEAD ",'timesync':{'required':true}}", POLICY_ERROR_UNKNOWN_KEY, "timesync.required");
	expect_one(HEAD ",'timesync':{'max_offset_ms':500}}", POLICY_ERROR_UNKNOWN_KEY, "timesync.max_offset_ms");
	expect_one(HEAD ",'screenlock':{'locked':true,'locked':false}}", POLICY_ERROR_DUPLICATE_KEY,
	           "screenlock.locked");
	expect_one("{'schema':1,'segment':'lgwan'}", POLICY_ERROR_MISSING, "version");
	expect_one(HEAD ",'usb':{}}", POLICY_ERROR_MISSING, "usb.default");
	expect_one(HEAD ",'usb':{'default':'block','rules':[{'id':'a','action':'allow','match':{'vendor':'0781'}}]}}",
	           POLICY_ERROR_MISSING, "usb.rules[0].requirements");
}

static void test_range_enum_length_count(void **state)
{
	(void)state;
	expect_one(HEAD ",'screenlock':{'max_idle_seconds':5}}", POLICY_ERROR_RANGE, "screenlock.max_idle_seconds");
	expect_one("{'schema':1,'version':0,'segment':'lgwan'}", POLICY_ERROR_RANGE, "version");
	expect_one("{'schema':1,'version':1e300,'segment':'lgwan'}", POLICY_ERROR_RANGE, "version");
	expect_one("{'schema':2,'version':1,'segment':'lgwan'}", POLICY_ERROR_RANGE, "schema");
	expect_one(HEAD ",'network':{'listen_allowed':[{'proto':'tcp','port':70000}]}}", POLICY_ERROR_RANGE,
	           "network.listen_allowed[0].port");
	message_en(HEAD ",'screenlock':{'max_idle_seconds':99999}}",
	           "screenlock.max_idle_seconds: value out of range (allowed 30..7200)");
	expect_one("{'schema':1,'version':1,'segment':'office'}", POLICY_ERROR_ENUM, "segment");
	message_en("{'schema':1,'version':1,'segment':'office'}", "segment: must be one of: mynumber, lgwan, internet");
	expect_one(HEAD ",'usb':{'default':'maybe'}}", POLICY_ERROR_ENUM, "usb.default");
	expect_one(HEAD ",'commands':{'accept':['selfdestruct']}}", POLICY_ERROR_ENUM, "commands.accept[0]");
	expect_one(
	        HEAD
	        ",'usb':{'default':'block','rules':[{'id':'a','action':'allow','match':{'vendor':'0781'},"
	        "'requirements':['MEDIA-1'],'comment':'" /* 1025 bytes */
	        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	        "xxxxxxxxxxxxxxxxxxxxxxxxx'}]}}",
	        POLICY_ERROR_LENGTH, "usb.rules[0].comment");
	expect_one(HEAD ",'usb':{'default':'block','rules':[{'id':'a','action':'allow','match':{'vendor':'0781'},"
	                "'requirements':[]}]}}",
	           POLICY_ERROR_COUNT, "usb.rules[0].requirements");
	expect_one(HEAD
	           ",'commands':{'accept':['lock','lock','lock','lock','lock','lock','lock','lock','lock','lock']}}",
	           POLICY_ERROR_COUNT, "commands.accept");
	expect_one(HEAD ",'usb':{'default':'block','rules':[{'id':'a','action':'allow','match':{},"
	                "'requirements':['MEDIA-1']}]}}",
	           POLICY_ERROR_EMPTY, "usb.rules[0].match");
}

static void test_formats(void **state)
{
	(void)state;
#define RULE(m)                                                                                                        \
	HEAD ",'usb':{'default':'block','rules':[{'id':'r1','action':'allow','match':" m                               \
	     ",'requirements':['MEDIA-1']}]}}"
	expect_one(RULE("{'vendor':'0781'}") "x", POLICY_ERROR_SYNTAX, "");
	expect_one(RULE("{'vendor':'07G1'}"), POLICY_ERROR_FORMAT, "usb.rules[0].match.vendor");
	expect_one(RULE("{'vendor':'ABCD'}"), POLICY_ERROR_FORMAT, "usb.rules[0].match.vendor");
	expect_one(RULE("{'hash':'zz'}"), POLICY_ERROR_FORMAT, "usb.rules[0].match.hash");
	/* serial "" is USBGuard's "no serial" and valid; an empty set is not */
	expect_one(RULE("{'serial_one_of':[]}"), POLICY_ERROR_COUNT, "usb.rules[0].match.serial_one_of");
	expect_one(RULE("{'interfaces_one_of':['*:*:*'],'serial_any':['x']}"), POLICY_ERROR_UNKNOWN_KEY,
	           "usb.rules[0].match.serial_any");
	expect_one(RULE("{'port':'1-1.2.3.4.5.6.7.8.9.10.11.12.13.14.15.16.17.18.19.20.21.22.23.24.25.26.27.28'}"),
	           POLICY_ERROR_LENGTH, "usb.rules[0].match.port");
	expect_one(RULE("{'interfaces':['08:06']}"), POLICY_ERROR_FORMAT, "usb.rules[0].match.interfaces[0]");
	expect_one(RULE("{'interfaces':['08:06:5x']}"), POLICY_ERROR_FORMAT, "usb.rules[0].match.interfaces[0]");
	expect_one(RULE("{'port':'1.1-1'}"), POLICY_ERROR_FORMAT, "usb.rules[0].match.port");
	expect_one(RULE("{'serial':'ab\\u0007c'}"), POLICY_ERROR_FORMAT, "usb.rules[0].match.serial");
	expect_one(RULE("{'usbguard_hash':'a b'}"), POLICY_ERROR_FORMAT, "usb.rules[0].match.usbguard_hash");
	expect_one(HEAD ",'usb':{'default':'block','rules':[{'id':'-bad','action':'allow','match':{'vendor':'0781'},"
	                "'requirements':['MEDIA-1']}]}}",
	           POLICY_ERROR_FORMAT, "usb.rules[0].id");
	expect_one(HEAD ",'integrity':{'files':['/etc/../shadow']}}", POLICY_ERROR_FORMAT, "integrity.files[0]");
	expect_one(HEAD ",'integrity':{'files':['etc/passwd']}}", POLICY_ERROR_FORMAT, "integrity.files[0]");
	expect_one(HEAD ",'network':{'allowed_destinations':[{'cidr':'10.0.0.0/33'}]}}", POLICY_ERROR_FORMAT,
	           "network.allowed_destinations[0].cidr");
	expect_one(HEAD ",'network':{'allowed_destinations':[{'cidr':'10.0.0.256'}]}}", POLICY_ERROR_FORMAT,
	           "network.allowed_destinations[0].cidr");
	expect_one(HEAD ",'patch':{'eol':{'debian 12':'2028-06-30'}}}", POLICY_ERROR_FORMAT,
	           "patch.eol[\"debian 12\"]");
	expect_one(HEAD ",'patch':{'eol':{'debian:12':'2028-02-30'}}}", POLICY_ERROR_FORMAT,
	           "patch.eol[\"debian:12\"]");
	expect_one(HEAD ",'software':{'mode':'denylist','deny':['Telnetd']}}", POLICY_ERROR_FORMAT, "software.deny[0]");
	expect_one(HEAD ",'exceptions':[{'id':'E1','scope':{'check':'Screen lock'},'reason':'r','requester':'a',"
	                "'approver':'b','not_after':'2026-01-01T00:00:00Z','requirements':['OPS-3']}]}",
	           POLICY_ERROR_FORMAT, "exceptions[0].scope.check");
	expect_one(HEAD ",'exceptions':[{'id':'E1','scope':{'check':'screenlock.idle'},'reason':'r','requester':'a',"
	                "'approver':'b','not_after':'2026-01-01 00:00:00','requirements':['OPS-3']}]}",
	           POLICY_ERROR_FORMAT, "exceptions[0].not_after");
	/* valid forms of the same formats */
	{
		struct mamori_policy *p = NULL;
		struct policy_errors errs;
		assert_int_equal(
		        parse_str(RULE("{'vendor':'0781','product':'5581','serial':'4C53 0001',"
		                       "'hash':'0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef',"
		                       "'usbguard_hash':'Z8Y2hTpSwPxR0oAtoxl7+FSSv9Ls6ZzBrGLmr8jq6/I=',"
		                       "'class':'00','interfaces':['08:06:50','03:*:*'],"
		                       "'interfaces_one_of':['*:*:*'],'port':'2-1.4.3','connect_type':'hotplug',"
		                       "'name':'SanDisk Ultra 日本語'}"),
		                  &p, &errs),
		        0);
		policy_free(p);
		assert_int_equal(parse_str(HEAD
		                           ",'network':{'allowed_destinations':[{'cidr':'fd00::/8'},"
		                           "{'cidr':'192.0.2.1'}]},'exceptions':[{'id':'E1','scope':{'check':'usb.*'},"
		                           "'reason':'r','requester':'a','approver':'b',"
		                           "'not_after':'2028-02-29T23:59:59Z','requirements':['OPS-3']}]}",
		                           &p, &errs),
		                 0);
		policy_free(p);
	}
#undef RULE
}

static void test_requirements_known(void **state)
{
	(void)state;
	expect_one(HEAD ",'usb':{'default':'block','requirements':['MEDIA-99']}}", POLICY_ERROR_UNKNOWN_REQUIREMENT,
	           "usb.requirements[0]");
	message_en(HEAD ",'usb':{'default':'block','requirements':['MEDIA-1','media-1']}}",
	           "usb.requirements[1]: unknown requirement ID \"media-1\"");
}

static void test_cross_field(void **state)
{
	(void)state;
	expect_one(HEAD ",'usb':{'default':'block','rules':["
	                "{'id':'a','action':'allow','match':{'vendor':'0781'},'requirements':['MEDIA-1']},"
	                "{'id':'a','action':'block','match':{'vendor':'0782'},'requirements':['MEDIA-1']}]}}",
	           POLICY_ERROR_DUPLICATE_ID, "usb.rules[1].id");
	/* OPS-4: requester and approver of an exception must differ */
	expect_one(HEAD ",'exceptions':[{'id':'E1','scope':{'check':'screenlock.idle'},'reason':'会議室','requester':"
	                "'sato','approver':'sato','not_after':'2026-01-01T00:00:00Z','requirements':['OPS-3']}]}",
	           POLICY_ERROR_SAME_PERSON, "exceptions[0].approver");
	/* ... and the person carrying out may not approve it */
	expect_one(HEAD
	           ",'carry':{'approvals':[{'id':'A1','person':'yamada','medium':{'vendor':'0781','product':'5581',"
	           "'serial':'X1'},'not_before':'2026-01-01T00:00:00Z','not_after':'2026-01-02T00:00:00Z',"
	           "'approver':'yamada','requirements':['CARRY-2']}]}}",
	           POLICY_ERROR_SAME_PERSON, "carry.approvals[0].approver");
	expect_one(HEAD ",'exceptions':[{'id':'E1','scope':{'check':'screenlock.idle'},'reason':'r','requester':"
	                "'a','approver':'b','not_before':'2026-01-02T00:00:00Z','not_after':'2026-01-01T00:00:00Z',"
	                "'requirements':['OPS-3']}]}",
	           POLICY_ERROR_TIME_ORDER, "exceptions[0].not_after");
}

static void test_document_level(void **state)
{
	struct mamori_policy *p = NULL;
	struct policy_errors errs;
	char *big;
	(void)state;

	expect_one("{'schema':1,", POLICY_ERROR_SYNTAX, "");
	expect_one("", POLICY_ERROR_SYNTAX, "");
	expect_one(HEAD "} {}", POLICY_ERROR_SYNTAX, "");
	/* invalid UTF-8 and embedded NUL */
	policy_errors_init(&errs);
	assert_int_equal(policy_parse("{\"name\":\"\xff\"}", 12, &p, &errs), -EINVAL);
	assert_int_equal(errs.e[0].code, POLICY_ERROR_ENCODING);
	policy_errors_init(&errs);
	assert_int_equal(policy_parse("{}\0{}", 5, &p, &errs), -EINVAL);
	assert_int_equal(errs.e[0].code, POLICY_ERROR_ENCODING);
	/* an escaped NUL ends the string where cJSON reads it: an allow rule
	 * for serial "AB\u0000CD" would allow the stick whose serial is "AB" */
	expect_one(HEAD
	           ",'usb':{'default':'block','rules':[{'id':'a','action':'allow','match':{'serial':'AB\\u0000CD'},"
	           "'requirements':['MEDIA-1']}]}}",
	           POLICY_ERROR_ENCODING, "");
	expect_one(HEAD ",'comment\\u0000x':1}", POLICY_ERROR_ENCODING, "");
	/* a backslash and "u0000" as text is not one; \u0001 is a control
	 * character, refused by the format (TEXT) at its path */
	assert_int_equal(parse_str(HEAD ",'usb':{'default':'block','rules':[{'id':'a','action':'allow','match':{"
	                                "'serial':'AB\\\\u0000CD'},'requirements':['MEDIA-1']}]}}",
	                           &p, &errs),
	                 0);
	policy_free(p);
	p = NULL;
	expect_one(HEAD
	           ",'usb':{'default':'block','rules':[{'id':'a','action':'allow','match':{'serial':'AB\\u0001CD'},"
	           "'requirements':['MEDIA-1']}]}}",
	           POLICY_ERROR_FORMAT, "usb.rules[0].match.serial");
	/* size cap */
	big = malloc(POLICY_SIZE_MAX + 2);
	assert_non_null(big);
	memset(big, ' ', POLICY_SIZE_MAX + 1);
	policy_errors_init(&errs);
	assert_int_equal(policy_parse(big, POLICY_SIZE_MAX + 1, &p, &errs), -EFBIG);
	assert_int_equal(errs.e[0].code, POLICY_ERROR_TOO_BIG);
	free(big);
	assert_null(p);
}

static void test_all_errors_at_once(void **state)
{
	struct mamori_policy *p = NULL;
	struct policy_errors errs;
	char line[1024];
	(void)state;

	assert_int_equal(parse_str("{'schema':1,'version':-1,'segment':'x','usb':{'default':'block','junk':1},"
	                           "'screenlock':{'max_idle_seconds':true},'login':{'password_minlen':4},"
	                           "'exceptions':[{'id':'E','scope':{'check':'a'},'reason':'r','requester':'q',"
	                           "'approver':'q','not_after':'2026-01-01T00:00:00Z','requirements':['OPS-9']}]}",
	                           &p, &errs),
	                 -EINVAL);
	assert_int_equal(errs.n, 7);
	assert_true(policy_errors_find(&errs, POLICY_ERROR_RANGE, "version"));
	assert_true(policy_errors_find(&errs, POLICY_ERROR_ENUM, "segment"));
	assert_true(policy_errors_find(&errs, POLICY_ERROR_UNKNOWN_KEY, "usb.junk"));
	assert_true(policy_errors_find(&errs, POLICY_ERROR_TYPE, "screenlock.max_idle_seconds"));
	assert_true(policy_errors_find(&errs, POLICY_ERROR_RANGE, "login.password_minlen"));
	assert_true(policy_errors_find(&errs, POLICY_ERROR_UNKNOWN_REQUIREMENT, "exceptions[0].requirements[0]"));
	assert_true(policy_errors_find(&errs, POLICY_ERROR_SAME_PERSON, "exceptions[0].approver"));
	/* Japanese is the default language */
	for (size_t i = 0; i < errs.n; i++) {
		assert_int_equal(policy_error_format(&errs, i, "ja", line, sizeof(line)), 0);
		if (errs.e[i].code == POLICY_ERROR_TYPE)
			assert_string_equal(line, "screenlock.max_idle_seconds: 整数である必要があります");
		if (errs.e[i].code == POLICY_ERROR_SAME_PERSON)
			assert_non_null(strstr(line, "兼務の禁止"));
	}
	assert_int_equal(policy_error_format(&errs, 99, "ja", line, sizeof(line)), -EINVAL);
}

static void test_many_errors_capped(void **state)
{
	/* 2000 unknown keys: the list holds POLICY_ERRORS_MAX, the rest is counted */
	char *buf = malloc(64 * 2000 + 100);
	struct policy_errors errs;
	struct mamori_policy *p = NULL;
	size_t o = 0;
	(void)state;

	assert_non_null(buf);
	o += (size_t)snprintf(buf, 100, "{\"schema\":1,\"version\":1,\"segment\":\"lgwan\"");
	for (int i = 0; i < 2000; i++)
		o += (size_t)snprintf(buf + o, 64, ",\"k%d\":%d", i, i);
	buf[o++] = '}';
	policy_errors_init(&errs);
	assert_int_equal(policy_parse(buf, o, &p, &errs), -EINVAL);
	assert_int_equal(errs.n, POLICY_ERRORS_MAX);
	assert_true(errs.dropped >= 2000 - POLICY_ERRORS_MAX);
	free(buf);
}

/* ---- allocation failure: fail the Nth allocation, expect -ENOMEM and no leak */

static long alloc_countdown = -1;
static long alloc_calls;

static void *failing_malloc(size_t n)
{
	alloc_calls++;
	if (alloc_countdown >= 0 && alloc_countdown-- == 0)
		return NULL;
	return malloc(n);
}

static void test_alloc_failure(void **state)
{
	size_t len;
	char *buf = ptest_read_src("policy/templates/mynumber.json", &len);
	long total, n;
	(void)state;

	policy_mem_set_hooks(failing_malloc, free);
	alloc_countdown = -1;
	alloc_calls = 0;
	{
		struct mamori_policy *p = NULL;
		assert_int_equal(policy_parse(buf, len, &p, NULL), 0);
		policy_free(p);
	}
	total = alloc_calls;
	assert_true(total > 100);
	for (n = 0; n < total; n++) {
		struct mamori_policy *p = NULL;
		struct policy_errors errs;
		int r;

		policy_errors_init(&errs);
		alloc_countdown = n;
		r = policy_parse(buf, len, &p, &errs);
		assert_int_equal(r, -ENOMEM);
		assert_null(p);
		assert_int_equal(errs.n, 1);
		assert_int_equal(errs.e[0].code, POLICY_ERROR_NOMEM);
	}
	alloc_countdown = -1;
	policy_mem_set_hooks(NULL, NULL);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_templates_validate),
	        cmocka_unit_test(test_segment_defaults),
	        cmocka_unit_test(test_minimal_valid),
	        cmocka_unit_test(test_type_error_path),
	        cmocka_unit_test(test_unknown_duplicate_missing),
	        cmocka_unit_test(test_range_enum_length_count),
	        cmocka_unit_test(test_formats),
	        cmocka_unit_test(test_requirements_known),
	        cmocka_unit_test(test_cross_field),
	        cmocka_unit_test(test_document_level),
	        cmocka_unit_test(test_all_errors_at_once),
	        cmocka_unit_test(test_many_errors_capped),
	        cmocka_unit_test(test_alloc_failure),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
