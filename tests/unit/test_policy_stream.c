/* tests/unit/test_policy_stream.c — mamorid's policy parse, usb.rules a rule
 * at a time (policy_parse_usb_streamed, issue 23: the gate's VmHWM), against
 * policy_parse(), the parse every other part of mamori uses and the oracle
 * here: for every document — valid ones of up to 1,024 rules, and documents
 * broken inside, around and beside usb.rules in the ways a streamed reader
 * could get wrong (a byte-order mark between rules, a trailing comma, a
 * duplicate id two rules apart, 1,025 rules, a second "usb" or "rules",
 * keys written with escapes, a "usb" nested in another section) — both give
 * the same verdict and the same errors, and for a valid document the usb
 * module compiles rules from both that decide every device alike (MEDIA-1).
 * And a valid allowlist does take the streamed way: its usb.rules is the
 * raw text, never a tree. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "policy.h"
#include "usb/usb_rules.h"

#define HEAD "{\"schema\":1,\"version\":7,\"segment\":\"lgwan\",\"requirements\":[\"OPS-1\"],"

/* n rules of several shapes (serial, vendor+product, id wildcard, block,
 * interfaces); rule k of the bench's kind allows vendor 0781 serial S<k> */
static const char *const shapes[5] = {
        "%s{\"id\":\"r%zu\",\"action\":\"allow\",\"match\":{\"vendor\":\"0781\",\"serial\":\"S%zu\"},"
        "\"requirements\":[\"MEDIA-1\"]}",
        "%s{\"id\":\"r%zu\",\"action\":\"allow\",\"match\":{\"vendor\":\"0781\",\"serial\":\"S%zu\"},"
        "\"requirements\":[\"MEDIA-1\"]}",
        "%s{\"id\":\"r%zu\",\"action\":\"block\",\"match\":{\"vendor\":\"%04zx\",\"product\":\"0001\"},"
        "\"requirements\":[\"MEDIA-1\"],\"comment\":\"\\u30d6\"}",
        "%s{\"id\":\"r%zu\",\"action\":\"readonly\",\"match\":{\"id_one_of\":[\"1234:*\",\"%04zx:5678\"]},"
        "\"requirements\":[\"MEDIA-1\"]}",
        "%s{\"id\":\"r%zu\",\"action\":\"allow\",\"match\":{\"serial\":\"S%zu\"},\"interfaces\":[\"08:06:50\"],"
        "\"requirements\":[\"MEDIA-1\",\"MEDIA-5\"]}",
};

static char *allowlist(size_t n, const char *before_rules, const char *after_rules)
{
	size_t cap = 256 + n * 256 + strlen(before_rules) + strlen(after_rules), o = 0;
	char *b = malloc(cap);

	assert_non_null(b);
	o += (size_t)snprintf(b + o, cap - o, HEAD "\"usb\":{\"default\":\"block\",%s\"rules\": [ ", before_rules);
	for (size_t k = 0; k < n; k++) {
		o += (size_t)snprintf(b + o, cap - o, shapes[k % 5], k ? " ,\n" : "", k, k);
		assert_true(o < cap);
	}
	o += (size_t)snprintf(b + o, cap - o, " ]%s},\"carry\":{\"approvals\":[]}}\n", after_rules);
	assert_true(o < cap);
	return b;
}

static void same_errors(const struct policy_errors *a, const struct policy_errors *b, const char *doc)
{
	if (a->n != b->n || a->dropped != b->dropped)
		fail_msg("%zu/%zu errors against %zu/%zu for: %.300s", a->n, a->dropped, b->n, b->dropped, doc);
	for (size_t i = 0; i < a->n; i++) {
		assert_int_equal(a->e[i].code, b->e[i].code);
		assert_string_equal(a->e[i].path, b->e[i].path);
		assert_string_equal(a->e[i].arg, b->e[i].arg);
	}
}

/* Both parses of doc; returns the verdict; *ret_streamed: the usb.rules of
 * the streamed policy is raw text */
static int both(const char *doc, size_t len, bool *ret_streamed)
{
	static struct policy_errors e1, e2;
	struct mamori_policy *p1 = NULL, *p2 = NULL;
	int r1, r2;

	policy_errors_init(&e1);
	policy_errors_init(&e2);
	r1 = policy_parse(doc, len, &p1, &e1);
	r2 = policy_parse_usb_streamed(doc, len, &p2, &e2);
	if (r1 != r2)
		fail_msg("policy_parse %d, streamed %d: %.300s", r1, r2, doc);
	same_errors(&e1, &e2, doc);
	*ret_streamed = false;
	if (r1 == 0) {
		const cJSON *u1 = policy_section(p1, "usb"), *u2 = policy_section(p2, "usb");
		struct usb_rules *c1 = NULL, *c2 = NULL;
		char err[256];

		assert_int_equal(policy_version(p1), policy_version(p2));
		assert_string_equal(policy_segment(p1), policy_segment(p2));
		*ret_streamed = cJSON_IsRaw(cJSON_GetObjectItemCaseSensitive(u2, "rules"));
		assert_false(cJSON_IsRaw(cJSON_GetObjectItemCaseSensitive(u1, "rules")));
		assert_int_equal(usb_rules_load(u1, &c1, err, sizeof(err)), 0);
		if (usb_rules_load(u2, &c2, err, sizeof(err)) != 0)
			fail_msg("the streamed rules do not compile: %s", err);
		assert_int_equal(usb_rules_count(c1), usb_rules_count(c2));
		/* every rule's device, and devices no rule names */
		for (size_t k = 0; k < usb_rules_count(c1) + 3; k++) {
			struct usb_identity id = {.have = USB_ID_DESC | USB_ID_SERIAL,
			                          .vendor = k % 3 ? 0x0781 : (uint16_t)k,
			                          .product = k % 4 ? 0x0001 : 0x5678};
			struct usb_decision d1, d2;
			char serial[32];

			snprintf(serial, sizeof(serial), "S%zu", k);
			usb_identity_set_serial(&id, serial, strlen(serial));
			id.n_ifaces = 1;
			id.ifaces[0].cls = 8;
			id.ifaces[0].sub = 6;
			id.ifaces[0].proto = 0x50;
			usb_decide(c1, &id, time(NULL), &d1);
			usb_decide(c2, &id, time(NULL), &d2);
			assert_int_equal(d1.action, d2.action);
			assert_int_equal(d1.rule, d2.rule);
			assert_string_equal(d1.rule_id, d2.rule_id);
		}
		usb_rules_free(c1);
		usb_rules_free(c2);
	}
	policy_free(p1);
	policy_free(p2);
	return r1;
}

static void test_valid_allowlists_stream(void **state)
{
	static const size_t sizes[] = {0, 1, 2, 5, 97, 1024};
	(void)state;

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		/* rules first, last and between the other members of usb */
		const char *before[] = {"", "\"present_devices\":\"apply\",", ""};
		const char *after[] = {"", "", ",\"ports\":\"all\",\"requirements\":[\"MEDIA-1\"]"};

		for (size_t v = 0; v < 3; v++) {
			char *doc = allowlist(sizes[i], before[v], after[v]);
			bool streamed;

			assert_int_equal(both(doc, strlen(doc), &streamed), 0);
			assert_true(streamed);
			free(doc);
		}
	}
}

/* s with the first occurrence of `what` replaced by `with` */
static char *edit(const char *s, const char *what, const char *with)
{
	const char *at = strstr(s, what);
	size_t n = strlen(s) - strlen(what) + strlen(with) + 1;
	char *b = malloc(n);

	if (!at)
		fail_msg("\"%s\" is not in the document", what);
	assert_non_null(b);
	snprintf(b, n, "%.*s%s%s", (int)(at - s), s, with, at + strlen(what));
	return b;
}

static void test_broken_documents_same_errors(void **state)
{
	static const struct {
		const char *what, *with;
	} edits[] = {
	        {",\n{\"id\":\"r1\"", ",\xEF\xBB\xBF{\"id\":\"r1\""},            /* a BOM between rules */
	        {"\"]} ]", "\"]},]"},                                            /* a trailing comma */
	        {"\"id\":\"r2\"", "\"id\":\"r0\""},                              /* a duplicate id */
	        {"\"id\":\"r4\"", "\"id\":\"r4\",\"id\":\"r44\""},               /* a duplicate key in a rule */
	        {"\"action\":\"readonly\"", "\"action\":\"readonly \""},         /* enum */
	        {"\"serial\":\"S1\"", "\"serial\":1"},                           /* type */
	        {"\"vendor\":\"0781\",\"serial\":\"S5\"", "\"vendr\":\"0781\""}, /* unknown key */
	        {",\n{\"id\":\"r3\"", ",[1]"},                                   /* not an object */
	        {",\n{\"id\":\"r3\"", ",\"r3\""},
	        {"\"rules\": [ ", "\"rules\": [ [[[[[[[[]]]]]]]]], \"x\": [ "}, /* rules not objects, then more */
	        {"\"rules\": [ ", "\"rules\":{},\"rules\": [ "},                /* "rules" twice */
	        {"\"usb\":{", "\"usb\":{\"rules\":[]},\"usb\":{"},              /* "usb" twice */
	        {"\"usb\":{", "\"u\\u0073b\":{"},                               /* an escaped key */
	        {"\"rules\": [ ", "\"rul\\u0065s\": [ "},
	        {"\"requirements\":[\"OPS-1\"],", "\"requirements\":[\"OPS-1\"],\"carry\":{\"usb\":{\"rules\":[1]}},"},
	        {"\"default\":\"block\",", "\"default\":\"bloc\","}, /* an error outside the rules */
	        {"\"version\":7", "\"version\":\"7\""},
	        {"}}\n", "}} x"},                              /* text after the document */
	        {"}}\n", "}"},                                 /* the document cut short */
	        {"\"serial\":\"S0\"", "\"serial\":\"S\xC3\""}, /* not UTF-8 */
	        {"\"serial\":\"S0\"", "\"serial\":\"S\\u0000\""},
	        {"\"rules\": [ ", "\"rules\": \xEF\xBB\xBF[ "},
	        {"{\"schema\"", "\xEF\xBB\xBF{\"schema\""}, /* a BOM before the document */
	        {"\"rules\": [ ", "\"rules\": [ {\"id\":\"z\",\"action\":\"allow\",\"match\":{}},"}, /* empty match */
	        {" ,\n{\"id\":\"r1\"", " \n{\"id\":\"r1\""},    /* no comma between two rules */
	        {" ,\n{\"id\":\"r1\"", " ,,{\"id\":\"r1\""},    /* two commas */
	        {"\"rules\": [ ", "\"rules\": [ ,"},            /* a comma first */
	        {"\"]} ]", "\"]} "},                            /* no closing bracket */
	        {" ,\n{\"id\":\"r1\"", " ,\x01{\"id\":\"r1\""}, /* a control byte cJSON skips as space */
	};
	char *base = allowlist(12, "", "");
	bool streamed;
	(void)state;

	assert_int_equal(both(base, strlen(base), &streamed), 0);
	for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		char *doc = edit(base, edits[i].what, edits[i].with);
		int r = both(doc, strlen(doc), &streamed);

		/* valid: the escaped keys (12, 13), a byte-order mark before
		 * the document (cJSON skips it, 22) and a control byte between
		 * two rules (cJSON skips every byte up to 32 as space, 28) — in
		 * both parses; the streamed one leaves the last two to
		 * policy_parse. "\u0000" (20) is refused by both. */
		if (r == 0 && i != 12 && i != 13 && i != 22 && i != 28)
			fail_msg("edit %zu is valid: %s", i, doc);
		free(doc);
	}
	free(base);
	{
		/* one rule too many, and a duplicate 1,000 rules apart */
		char *big = allowlist(1025, "", ""), *dup = allowlist(1024, "", ""), *d2;

		assert_int_equal(both(big, strlen(big), &streamed), -EINVAL);
		d2 = edit(dup, "\"id\":\"r1020\"", "\"id\":\"r20\"");
		assert_int_equal(both(d2, strlen(d2), &streamed), -EINVAL);
		free(big);
		free(dup);
		free(d2);
	}
}

/* escaped keys are the keys cJSON reads: still streamed when valid */
static void test_escaped_keys_stream(void **state)
{
	char *base = allowlist(3, "", ""), *a = edit(base, "\"usb\":{", "\"u\\u0073b\":{"),
	     *b = edit(base, "\"rules\": [ ", "\"rul\\u0065s\" :\n[ ");
	bool streamed;
	(void)state;

	assert_int_equal(both(a, strlen(a), &streamed), 0);
	assert_true(streamed);
	assert_int_equal(both(b, strlen(b), &streamed), 0);
	assert_true(streamed);
	free(base);
	free(a);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_valid_allowlists_stream),
	        cmocka_unit_test(test_broken_documents_same_errors),
	        cmocka_unit_test(test_escaped_keys_stream),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
