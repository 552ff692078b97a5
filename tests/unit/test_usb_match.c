/* tests/unit/test_usb_match.c — modules/usb/usb_match.c, the rule language
 * table: every key and operator is implemented, the schema is the table, and
 * USBGuard's set semantics (unit test; MEDIA-1). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "policy_schema.h"
#include "strutil.h"
#include "usb/usb_match.h"
#include "usb/usb_rules.h"

#define UGH_A "Z8Y2hTpSwPxR0oAtoxl7+FSSv9Ls6ZzBrGLmr8jq6/I="
#define UGH_B "AAAAhTpSwPxR0oAtoxl7+FSSv9Ls6ZzBrGLmr8jq6/I="
#define UGH_C "BBBBhTpSwPxR0oAtoxl7+FSSv9Ls6ZzBrGLmr8jq6/I="
#define SHA_A "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define SHA_B "f123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* The reference device: a composite storage + keyboard stick with every
 * attribute the language knows. */
static struct usb_identity ref(void)
{
	struct usb_identity id = {.have = USB_ID_ALL, .vendor = 0x0781, .product = 0x5581, .dev_class = 0};
	static const uint8_t seq[2][3] = {{8, 6, 0x50}, {3, 1, 1}};

	usb_identity_set_serial(&id, "S1", 2);
	usb_str_set(&id.name_raw, "Ultra\n", 6);
	usb_str_set(&id.connect_raw, "hotplug\n", 8);
	strscpy(id.hash_hex, sizeof(id.hash_hex), SHA_A);
	strscpy(id.ug_hash, sizeof(id.ug_hash), UGH_A);
	strscpy(id.ug_parent_hash, sizeof(id.ug_parent_hash), UGH_A);
	strscpy(id.port, sizeof(id.port), "1-1");
	for (int i = 0; i < 2; i++) {
		id.ifaces[i] = (struct usb_desc_iface){
		        .number = (uint8_t)i, .cls = seq[i][0], .sub = seq[i][1], .proto = seq[i][2]};
		memcpy(id.seq[i], seq[i], 3);
	}
	id.n_ifaces = id.n_seq = 2;
	return id;
}

/* Per attribute: the reference device's value (as JSON text), another value
 * that the mutated device has, and how to mutate the device. */
struct attr_case {
	const char *d, *other;
	void (*mutate)(struct usb_identity *id);
};

static void m_vendor(struct usb_identity *id)
{
	id->vendor = 0x0951;
}
static void m_product(struct usb_identity *id)
{
	id->product = 0x1666;
}
static void m_serial(struct usb_identity *id)
{
	usb_identity_set_serial(id, "S2", 2);
}
static void m_name(struct usb_identity *id)
{
	usb_str_set(&id->name_raw, "Other", 5);
}
static void m_hash(struct usb_identity *id)
{
	strscpy(id->hash_hex, sizeof(id->hash_hex), SHA_B);
}
static void m_ughash(struct usb_identity *id)
{
	strscpy(id->ug_hash, sizeof(id->ug_hash), UGH_B);
}
static void m_parent(struct usb_identity *id)
{
	strscpy(id->ug_parent_hash, sizeof(id->ug_parent_hash), UGH_B);
}
static void m_class(struct usb_identity *id)
{
	id->dev_class = 0xef;
}
static void m_port(struct usb_identity *id)
{
	strscpy(id->port, sizeof(id->port), "1-2");
}
static void m_connect(struct usb_identity *id)
{
	usb_str_set(&id->connect_raw, "hardwired", 9);
}
static void m_ifaces(struct usb_identity *id)
{
	/* storage + network adapter instead of storage + keyboard */
	id->seq[1][0] = id->ifaces[1].cls = 0xe0;
	id->seq[1][1] = id->ifaces[1].sub = 1;
	id->seq[1][2] = id->ifaces[1].proto = 3;
}

static const struct attr_case *case_of(enum usb_attr a)
{
	static const struct attr_case c[_USB_ATTR_MAX] = {
	        [USB_ATTR_VENDOR] = {"\"0781\"", "\"0951\"", m_vendor},
	        [USB_ATTR_PRODUCT] = {"\"5581\"", "\"1666\"", m_product},
	        [USB_ATTR_ID] = {"\"0781:5581\"", "\"0951:*\"", m_vendor},
	        [USB_ATTR_SERIAL] = {"\"S1\"", "\"S2\"", m_serial},
	        [USB_ATTR_NAME] = {"\"Ultra\"", "\"Other\"", m_name},
	        [USB_ATTR_HASH] = {"\"" SHA_A "\"", "\"" SHA_B "\"", m_hash},
	        [USB_ATTR_USBGUARD_HASH] = {"\"" UGH_A "\"", "\"" UGH_B "\"", m_ughash},
	        [USB_ATTR_PARENT_HASH] = {"\"" UGH_A "\"", "\"" UGH_B "\"", m_parent},
	        [USB_ATTR_CLASS] = {"\"00\"", "\"ef\"", m_class},
	        [USB_ATTR_PORT] = {"\"1-1\"", "\"1-2\"", m_port},
	        [USB_ATTR_CONNECT_TYPE] = {"\"hotplug\"", "\"hardwired\"", m_connect},
	        /* interfaces: see set_for() */
	        [USB_ATTR_INTERFACES] = {"\"08:06:50\", \"03:01:01\"", "\"e0:01:03\"", m_ifaces},
	};
	if (a < 0 || a >= _USB_ATTR_MAX || !c[a].mutate)
		return NULL;
	return &c[a];
}

/* The value of key k that the reference device matches and the mutated one does not. */
static void value_for(const struct usb_match_key *k, const struct attr_case *c, char *buf, size_t sz)
{
	bool ifc = k->attr == USB_ATTR_INTERFACES;

	if (!k->array) {
		snprintf(buf, sz, "%s", c->d);
		return;
	}
	switch (k->op) {
	case USB_OP_ONE_OF:
		/* the device's value among others; for interfaces the one the mutation removes */
		snprintf(buf, sz, "[%s, %s]", ifc ? "\"03:01:01\"" : c->d, ifc ? "\"09:*:*\"" : "\"0000\"");
		if (!ifc && k->attr != USB_ATTR_VENDOR && k->attr != USB_ATTR_PRODUCT)
			snprintf(buf, sz, "[%s]", c->d);
		return;
	case USB_OP_NONE_OF:
		snprintf(buf, sz, "[%s]", c->other);
		return;
	default:
		snprintf(buf, sz, "[%s]", c->d);
		return;
	}
}

static struct usb_rules *load_rule(const char *action, const char *key, const char *value, bool validate)
{
	char json[1024], err[256];
	cJSON *j;
	struct usb_rules *r = NULL;

	snprintf(json, sizeof(json),
	         "{\"schema\":1,\"version\":3,\"segment\":\"lgwan\",\"usb\":{\"default\":\"block\",\"rules\":[{\"id\":"
	         "\"r\",\"action\":\"%s\",\"match\":{\"%s\":%s},"
	         "\"requirements\":[\"MEDIA-1\"]}]}}",
	         action, key, value);
	j = cJSON_Parse(json);
	if (!j)
		fail_msg("bad JSON %s", json);
	if (validate) {
		struct policy_errors errs;

		policy_errors_init(&errs);
		if (policy_schema_validate(j, &errs) < 0) {
			policy_errors_print(&errs, stderr, "en");
			fail_msg("schema refuses %s", json);
		}
	}
	if (usb_rules_load(cJSON_GetObjectItem(j, "usb"), &r, err, sizeof(err)) < 0)
		fail_msg("matcher refuses %s: %s", json, err);
	cJSON_Delete(j);
	return r;
}

/* (a) For every key and operator of the table: an allow rule carrying it
 * allows the device it describes and does not allow a device that differs
 * in that attribute alone. */
static void test_every_key_narrows(void **s)
{
	(void)s;
	size_t n = 0;

	for (const struct usb_match_key *k = usb_match_keys; k->key; k++) {
		const struct attr_case *c = case_of(k->attr);
		struct usb_identity yes = ref(), no = ref();
		struct usb_decision d;
		struct usb_rules *r;
		char v[512];

		if (!c)
			fail_msg("key %s: attribute %s has no test case", k->key, usb_attr_to_string(k->attr));
		c->mutate(&no);
		value_for(k, c, v, sizeof(v));
		r = load_rule("allow", k->key, v, true);
		usb_decide(r, &yes, 0, &d);
		if (d.action != USB_ACT_ALLOW || d.rule != 0)
			fail_msg("%s: %s does not match the device it describes", k->key, v);
		usb_decide(r, &no, 0, &d);
		if (d.action != USB_ACT_BLOCK || d.rule == 0)
			fail_msg("%s: %s allows a device that differs in %s", k->key, v, usb_attr_to_string(k->attr));
		/* and a block rule with the same key blocks only what it names */
		usb_rules_free(r);
		r = load_rule("block", k->key, v, true);
		usb_decide(r, &no, 0, &d);
		if (d.rule == 0)
			fail_msg("%s: block %s matches a device that differs", k->key, v);
		usb_rules_free(r);
		n++;
	}
	/* 12 attributes x (plain + 6 operators) */
	assert_int_equal(n, 12 * 7);
}

/* The schema's match members are exactly the table's keys, in both directions. */
static void test_schema_is_the_table(void **s)
{
	(void)s;
	const struct policy_schema_node *usb = NULL, *rules = NULL, *match = NULL;
	size_t ns = 0, nt = 0;

	for (const struct policy_schema_node *m = policy_schema_root.members; m->key; m++)
		if (strcmp(m->key, "usb") == 0)
			usb = m;
	assert_non_null(usb);
	for (const struct policy_schema_node *m = usb->members; m->key; m++)
		if (strcmp(m->key, "rules") == 0)
			rules = m;
	assert_non_null(rules);
	for (const struct policy_schema_node *m = rules->items->members; m->key; m++)
		if (strcmp(m->key, "match") == 0)
			match = m;
	assert_non_null(match);
	for (const struct policy_schema_node *m = match->members; m->key; m++, ns++) {
		const struct usb_match_key *k = usb_match_key_find(m->key);

		if (!k)
			fail_msg("schema key %s is not implemented by the matcher", m->key);
		assert_int_equal(k->array, m->type == POLICY_TYPE_ARRAY);
	}
	for (const struct usb_match_key *k = usb_match_keys; k->key; k++, nt++) {
		bool found = false;

		for (const struct policy_schema_node *m = match->members; m->key && !found; m++)
			found = strcmp(m->key, k->key) == 0;
		if (!found)
			fail_msg("matcher key %s is not in the schema", k->key);
	}
	assert_int_equal(ns, nt);
}

static void expect_load_error(const char *match, const char *needle)
{
	char json[512], err[256] = "";
	cJSON *j;
	struct usb_rules *r = NULL;

	snprintf(json, sizeof(json),
	         "{\"default\":\"block\",\"rules\":[{\"id\":\"r\",\"action\":\"allow\",\"match\":%s}]}", match);
	j = cJSON_Parse(json);
	assert_non_null(j);
	assert_int_equal(usb_rules_load(j, &r, err, sizeof(err)), -EINVAL);
	if (!strstr(err, needle))
		fail_msg("error \"%s\" does not mention \"%s\"", err, needle);
	cJSON_Delete(j);
}

/* The matcher refuses what it does not implement, even past the validator. */
static void test_unknown_refused(void **s)
{
	(void)s;
	expect_load_error("{\"interfaces_any\":[\"03:*:*\"]}", "unknown key");
	expect_load_error("{\"with-interface\":[\"03:*:*\"]}", "unknown key");
	expect_load_error("{\"serial_one_of\":[]}", "1 to");
	expect_load_error("{\"serial_one_of\":\"S1\"}", "array");
	expect_load_error("{\"id\":\"*:1234\"}", "bad value");
	expect_load_error("{\"usbguard_hash\":\"abc\"}", "bad value");
	expect_load_error("{\"interfaces\":[\"08:06\"]}", "bad value");
}

static enum usb_action decide1(const char *match, const struct usb_identity *id)
{
	char json[1024];
	cJSON *j;
	struct usb_rules *r = NULL;
	struct usb_decision d;
	char err[256];

	snprintf(json, sizeof(json),
	         "{\"default\":\"block\",\"rules\":[{\"id\":\"r\",\"action\":\"allow\",\"match\":%s}]}", match);
	j = cJSON_Parse(json);
	assert_non_null(j);
	if (usb_rules_load(j, &r, err, sizeof(err)) < 0)
		fail_msg("%s: %s", match, err);
	cJSON_Delete(j);
	usb_decide(r, id, 0, &d);
	usb_rules_free(r);
	return d.action;
}

/* (b) USBGuard's set semantics where they differ from "any of". */
static void test_usbguard_semantics(void **s)
{
	(void)s;
	struct usb_identity a = ref(), nos = ref(), lone = ref(), q = ref(), big = ref(), big2 = ref();
	char longs[400];

	/* a set without an operator is `equals`: never matches one serial */
	assert_int_equal(decide1("{\"serial_equals\":[\"S1\",\"S2\"]}", &a), USB_ACT_BLOCK);
	assert_int_equal(decide1("{\"serial_one_of\":[\"S1\",\"S2\"]}", &a), USB_ACT_ALLOW);
	/* serial "" is a device without serial */
	nos.serial_raw = (struct usb_str){0};
	nos.has_serial = false;
	nos.serial[0] = '\0';
	assert_int_equal(decide1("{\"serial\":\"\"}", &nos), USB_ACT_ALLOW);
	assert_int_equal(decide1("{\"serial\":\"\"}", &a), USB_ACT_BLOCK);
	/* interfaces (equals): {08, 03} is storage+keyboard only, not a lone keyboard */
	lone.n_seq = 1;
	lone.seq[0][0] = 3, lone.seq[0][1] = 1, lone.seq[0][2] = 1;
	assert_int_equal(decide1("{\"interfaces\":[\"08:*:*\",\"03:*:*\"]}", &a), USB_ACT_ALLOW);
	assert_int_equal(decide1("{\"interfaces\":[\"08:*:*\",\"03:*:*\"]}", &lone), USB_ACT_BLOCK);
	assert_int_equal(decide1("{\"interfaces_match_all\":[\"08:*:*\",\"03:*:*\"]}", &lone), USB_ACT_ALLOW);
	assert_int_equal(decide1("{\"interfaces_all_of\":[\"08:*:*\",\"03:*:*\"]}", &lone), USB_ACT_BLOCK);
	assert_int_equal(decide1("{\"interfaces_one_of\":[\"03:*:*\"]}", &lone), USB_ACT_ALLOW);
	assert_int_equal(decide1("{\"interfaces_none_of\":[\"03:*:*\"]}", &lone), USB_ACT_BLOCK);
	assert_int_equal(decide1("{\"interfaces_equals_ordered\":[\"03:*:*\",\"08:*:*\"]}", &a), USB_ACT_BLOCK);
	assert_int_equal(decide1("{\"interfaces_equals_ordered\":[\"08:*:*\",\"03:*:*\"]}", &a), USB_ACT_ALLOW);
	/* ids with wildcards */
	assert_int_equal(decide1("{\"id\":\"0781:*\"}", &a), USB_ACT_ALLOW);
	assert_int_equal(decide1("{\"id_one_of\":[\"0951:*\",\"*:*\"]}", &a), USB_ACT_ALLOW);
	assert_int_equal(decide1("{\"id_none_of\":[\"0781:*\"]}", &a), USB_ACT_BLOCK);
	/* strings are bytes: a serial with " and \ matches its own rule */
	usb_identity_set_serial(&q, "a\"b\\c", 5);
	assert_int_equal(decide1("{\"serial\":\"a\\\"b\\\\c\"}", &q), USB_ACT_ALLOW);
	assert_int_equal(decide1("{\"serial\":\"a\\\\\\\"b\\\\\\\\c\"}", &q), USB_ACT_BLOCK); /* the escaped form */
	/* no truncation: two long serials with the same prefix are different, and a
	 * serial longer than any USB string is not cut to a matching prefix */
	memset(longs, 'X', sizeof(longs));
	usb_identity_set_serial(&big, longs, 300);
	usb_identity_set_serial(&big2, longs, 253);
	{
		char m[600];
		snprintf(m, sizeof(m), "{\"serial\":\"%.253s\"}", longs);
		assert_int_equal(decide1(m, &big2), USB_ACT_ALLOW);
		assert_int_equal(decide1(m, &big), USB_ACT_BLOCK);
	}
	/* a serial too long to hold: an allow rule on it is passed over, a block
	 * rule on it blocks (identity_incomplete), a rule on other keys decides */
	big.serial_raw = (struct usb_str){.present = true, .too_long = true};
	assert_int_equal(decide1("{\"serial_none_of\":[\"S1\"]}", &big), USB_ACT_BLOCK);
	assert_int_equal(decide1("{\"id\":\"0781:5581\"}", &big), USB_ACT_ALLOW);
	{
		char json[] = "{\"default\":\"allow\",\"rules\":[{\"id\":\"b\",\"action\":\"block\",\"match\":"
		              "{\"serial_none_of\":[\"S1\"]}}]}";
		cJSON *j = cJSON_Parse(json);
		struct usb_rules *r = NULL;
		struct usb_decision d;
		char err[128];

		assert_int_equal(usb_rules_load(j, &r, err, sizeof(err)), 0);
		usb_decide(r, &big, 0, &d);
		assert_int_equal(d.action, USB_ACT_BLOCK);
		assert_string_equal(d.reason, "identity_incomplete");
		usb_decide(r, &a, 0, &d); /* S1: none_of says no for sure */
		assert_int_equal(d.action, USB_ACT_ALLOW);
		usb_rules_free(r);
		cJSON_Delete(j);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_every_key_narrows),
	        cmocka_unit_test(test_schema_is_the_table),
	        cmocka_unit_test(test_unknown_refused),
	        cmocka_unit_test(test_usbguard_semantics),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
