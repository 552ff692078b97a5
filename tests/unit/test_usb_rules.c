/* tests/unit/test_usb_rules.c — modules/usb/usb_rules.c: loading the usb and
 * carry sections and the pure decisions (unit test). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "alloc-util.h"
#include "strutil.h"
#include "usb/usb_match.h"
#include "usb/usb_rules.h"

static struct usb_rules *load(const char *json)
{
	cJSON *j = cJSON_Parse(json);
	struct usb_rules *r = NULL;
	char err[256];

	assert_non_null(j);
	if (usb_rules_load(cJSON_GetObjectItem(j, "usb"), &r, err, sizeof(err)) < 0)
		fail_msg("load: %s", err);
	if (usb_rules_load_approvals(r, cJSON_GetObjectItem(j, "carry"), err, sizeof(err)) < 0)
		fail_msg("approvals: %s", err);
	cJSON_Delete(j);
	return r;
}

static void expect_error(const char *json, const char *needle)
{
	cJSON *j = cJSON_Parse(json);
	struct usb_rules *r = (struct usb_rules *)0x1;
	char err[256] = "";

	assert_non_null(j);
	assert_int_equal(usb_rules_load(cJSON_GetObjectItem(j, "usb"), &r, err, sizeof(err)), -EINVAL);
	assert_ptr_equal(r, (struct usb_rules *)0x1); /* ret_ untouched on error */
	if (!strstr(err, needle))
		fail_msg("error \"%s\" does not mention \"%s\"", err, needle);
	cJSON_Delete(j);
}

static struct usb_identity stick(uint16_t v, uint16_t p, const char *serial, int n, const uint8_t (*cls)[3])
{
	struct usb_identity id = {.have = USB_ID_DESC | USB_ID_SERIAL, .vendor = v, .product = p};

	if (serial)
		usb_identity_set_serial(&id, serial, strlen(serial));
	for (int i = 0; i < n; i++) {
		id.ifaces[i].number = (uint8_t)i;
		id.ifaces[i].cls = cls[i][0];
		id.ifaces[i].sub = cls[i][1];
		id.ifaces[i].proto = cls[i][2];
	}
	id.n_ifaces = (size_t)n;
	strncpy(id.port, "1-1", sizeof(id.port) - 1);
	return id;
}

static const uint8_t STOR[1][3] = {{8, 6, 0x50}};
static const uint8_t KBD_STOR[2][3] = {{8, 6, 0x50}, {3, 1, 1}};
static const uint8_t NIC[1][3] = {{0xe0, 1, 3}};

#define POL                                                                                                            \
	"{\"usb\":{\"default\":\"block\",\"rules\":["                                                                  \
	"{\"id\":\"r1\",\"action\":\"allow\",\"match\":{\"vendor\":\"0781\",\"product\":\"5581\",\"serial\":\"S1\"},"  \
	"\"requirements\":[\"MEDIA-1\"]},"                                                                             \
	"{\"id\":\"bad\",\"action\":\"block\",\"match\":{\"vendor\":\"dead\"}},"                                       \
	"{\"id\":\"combo\",\"action\":\"allow\",\"match\":{\"vendor\":\"1234\"},\"interfaces\":[\"03:*:*\"]},"         \
	"{\"id\":\"ro\",\"action\":\"readonly\",\"match\":{\"serial\":\"ARCH\"}},"                                     \
	"{\"id\":\"enc\",\"action\":\"allow_if_encrypted\",\"match\":{\"vendor\":\"0951\"}}],"                         \
	"\"interfaces\":[{\"class\":\"03:*:*\",\"action\":\"allow\"},{\"class\":\"e0\",\"action\":\"block\"}],"        \
	"\"encryption\":{\"required\":false,\"plain_action\":\"readonly\","                                            \
	"\"hardware_encrypted\":[{\"vendor\":\"0951\",\"product\":\"1666\"}]}}}"

static void test_allow_block_default(void **s)
{
	(void)s;
	struct usb_rules *r = load(POL);
	struct usb_identity a = stick(0x0781, 0x5581, "S1", 1, STOR), b = stick(0x0781, 0x5581, "S2", 1, STOR);
	struct usb_identity nic = stick(0xdead, 1, NULL, 1, NIC), n2 = stick(0x0bda, 0x8153, NULL, 1, NIC);
	struct usb_decision d;

	usb_decide(r, &a, 0, &d);
	assert_int_equal(d.action, USB_ACT_ALLOW);
	assert_string_equal(d.rule_id, "r1");
	assert_string_equal(d.reqs, "MEDIA-1");
	assert_int_equal(d.media, USB_MEDIA_RW);
	usb_decide(r, &b, 0, &d);
	assert_int_equal(d.action, USB_ACT_BLOCK);
	assert_string_equal(d.reason, "default");
	usb_decide(r, &nic, 0, &d);
	assert_int_equal(d.action, USB_ACT_BLOCK);
	assert_string_equal(d.rule_id, "bad");
	usb_decide(r, &n2, 0, &d); /* unknown NIC: MEDIA-5 */
	assert_int_equal(d.action, USB_ACT_BLOCK);
	assert_int_equal(usb_rules_count(r), 5);
	usb_rules_free(r);
}

static void test_per_interface(void **s)
{
	(void)s;
	struct usb_rules *r = load(POL);
	struct usb_identity c = stick(0x1234, 1, NULL, 2, KBD_STOR), u = stick(0x4321, 1, NULL, 2, KBD_STOR);
	struct usb_decision d;

	usb_decide(r, &c, 0, &d); /* rule lists only 03: storage is not authorized */
	assert_int_equal(d.action, USB_ACT_ALLOW);
	assert_true(d.partial);
	assert_int_equal(d.iface_allowed, 2);
	assert_false(usb_decide_interface(r, &d, 8, 6, 0x50));
	assert_true(usb_decide_interface(r, &d, 3, 1, 1));
	usb_decide(r, &u, 0, &d); /* unknown composite: keyboard via interface rules */
	assert_int_equal(d.action, USB_ACT_ALLOW);
	assert_string_equal(d.reason, "interfaces");
	assert_int_equal(d.iface_allowed, 2);
	assert_false(usb_decide_interface(r, &d, 8, 6, 0x50));
	assert_false(usb_decide_interface(r, &d, 0xe0, 1, 3));
	usb_rules_free(r);
}

static void test_media(void **s)
{
	(void)s;
	struct usb_rules *r = load(POL);
	struct usb_identity ro = stick(1, 2, "ARCH", 1, STOR), enc = stick(0x0951, 0x1111, "E", 1, STOR);
	struct usb_identity hw = stick(0x0951, 0x1666, "H", 1, STOR);
	struct usb_decision d;
	const char *why;

	usb_decide(r, &ro, 0, &d);
	assert_int_equal(d.action, USB_ACT_READONLY);
	assert_int_equal(usb_decide_media(&d, USB_CRYPT_LUKS, &why), USB_MEDIA_RO);
	usb_decide(r, &enc, 0, &d);
	assert_int_equal(d.media, USB_MEDIA_CHECK_CRYPT);
	assert_int_equal(usb_decide_media(&d, USB_CRYPT_LUKS, &why), USB_MEDIA_RW);
	assert_string_equal(why, "encrypted");
	assert_int_equal(usb_decide_media(&d, USB_CRYPT_BITLOCKER, &why), USB_MEDIA_RW);
	assert_int_equal(usb_decide_media(&d, USB_CRYPT_PLAIN, &why), USB_MEDIA_RO);
	assert_string_equal(why, "plain_media");
	usb_decide(r, &hw, 0, &d);
	assert_int_equal(d.media, USB_MEDIA_RW);
	assert_string_equal(d.reason, "hardware_encrypted");
	usb_rules_free(r);
}

static void test_approvals_window(void **s)
{
	(void)s;
	struct usb_rules *r =
	        load("{\"usb\":{\"default\":\"allow\",\"write_requires_approval\":true},"
	             "\"carry\":{\"approvals\":[{\"id\":\"A-1\",\"person\":\"p\",\"medium\":{\"vendor\":\"0781\","
	             "\"serial\":\"S1\"},\"not_before\":\"2026-01-01T00:00:00Z\",\"not_after\":\"2026-01-02T00:00:"
	             "00Z\"}]}}");
	struct usb_identity a = stick(0x0781, 0x5581, "S1", 1, STOR), b = stick(0x0781, 0x5581, "S9", 1, STOR);
	struct usb_decision d;
	time_t in, out;
	const char *why;

	assert_int_equal(usb_parse_time("2026-01-01T12:00:00Z", &in), 0);
	assert_int_equal(usb_parse_time("2026-01-03T00:00:00.5Z", &out), 0);
	/* the gate never opens it itself (MEDIA-2, CARRY-2): held read-only
	 * and published as "approval" for the carry module's write gate,
	 * which judges the person too; the approval in force is named */
	usb_decide(r, &a, in, &d);
	assert_false(d.write_approved);
	assert_string_equal(d.approval_id, "A-1");
	assert_int_equal(usb_decide_media(&d, USB_CRYPT_PLAIN, &why), USB_MEDIA_RO);
	assert_string_equal(why, "write_requires_approval");
	assert_string_equal(usb_media_decision(USB_MEDIA_RO, why), "approval");
	usb_decide(r, &a, out, &d);
	assert_false(d.write_approved);
	assert_null(d.approval_id);
	assert_int_equal(d.media, USB_MEDIA_RO);
	assert_string_equal(d.reason, "write_requires_approval");
	usb_decide(r, &b, in, &d);
	assert_int_equal(d.media, USB_MEDIA_RO);
	/* read-only for good, and writable, are told apart */
	assert_string_equal(usb_media_decision(USB_MEDIA_RO, "readonly_rule"), "ro");
	assert_string_equal(usb_media_decision(USB_MEDIA_RO, "plain_media"), "ro");
	assert_string_equal(usb_media_decision(USB_MEDIA_RW, "allowed"), "rw");
	usb_rules_free(r);
}

/* The verdicts the carry module turns into carry.refused reasons (CARRY-2):
 * for each medium, person and time, the closest approval and why it does
 * not apply. */
static void test_approval_verdicts(void **s)
{
	(void)s;
	struct usb_rules *r = load(
	        "{\"usb\":{\"default\":\"allow\",\"write_requires_approval\":true},\"carry\":{\"approvals\":["
	        "{\"id\":\"OLD\",\"person\":\"tanaka\",\"medium\":{\"vendor\":\"0781\",\"product\":\"5567\","
	        "\"serial\":\"S1\"},\"not_before\":\"2025-01-01T00:00:00Z\",\"not_after\":\"2025-01-31T00:00:00Z\","
	        "\"approver\":\"ciso\",\"requirements\":[\"CARRY-2\"]},"
	        "{\"id\":\"NOW\",\"person\":\"tanaka\",\"medium\":{\"vendor\":\"0781\",\"product\":\"5567\","
	        "\"serial\":\"S1\"},\"not_before\":\"2026-01-01T00:00:00Z\",\"not_after\":\"2026-01-02T00:00:00Z\","
	        "\"max_classification\":2,\"approver\":\"ciso\",\"requirements\":[\"CARRY-2\"]},"
	        "{\"id\":\"LATER\",\"person\":\"suzuki\",\"medium\":{\"vendor\":\"0781\",\"product\":\"5567\","
	        "\"serial\":\"S2\"},\"not_before\":\"2027-01-01T00:00:00Z\",\"not_after\":\"2027-01-02T00:00:00Z\","
	        "\"approver\":\"ciso\",\"requirements\":[\"CARRY-2\"]}]}}");
	struct usb_identity s1 = stick(0x0781, 0x5567, "S1", 1, STOR), s2 = stick(0x0781, 0x5567, "S2", 1, STOR),
	                    s3 = stick(0x0781, 0x5567, "S3", 1, STOR), other = stick(0x0781, 0x5568, "S1", 1, STOR),
	                    noser = stick(0x0781, 0x5567, NULL, 1, STOR);
	struct usb_approval_match m;
	time_t in, start, end, after, before, t2025;

	assert_true(usb_rules_write_requires_approval(r));
	assert_int_equal(usb_parse_time("2026-01-01T12:00:00Z", &in), 0);
	assert_int_equal(usb_parse_time("2026-01-01T00:00:00Z", &start), 0);
	assert_int_equal(usb_parse_time("2026-01-02T00:00:00Z", &end), 0);
	assert_int_equal(usb_parse_time("2026-06-01T00:00:00Z", &after), 0);
	assert_int_equal(usb_parse_time("2024-06-01T00:00:00Z", &before), 0);
	assert_int_equal(usb_parse_time("2025-01-15T00:00:00Z", &t2025), 0);

	/* valid: person, medium, window (both ends included) */
	m = (struct usb_approval_match){0};
	assert_int_equal(usb_rules_approval_check(r, &s1, "tanaka", in, &m), USB_APPROVAL_OK);
	assert_string_equal(m.id, "NOW");
	assert_int_equal(m.max_classification, 2);
	assert_int_equal(usb_rules_approval_check(r, &s1, "tanaka", start, &m), USB_APPROVAL_OK);
	assert_int_equal(usb_rules_approval_check(r, &s1, "tanaka", end, &m), USB_APPROVAL_OK);
	assert_int_equal(usb_rules_approval_check(r, &s1, "tanaka", t2025, &m), USB_APPROVAL_OK);
	assert_string_equal(m.id, "OLD");
	assert_int_equal(m.max_classification, 0);
	/* expired: every window for this medium has closed */
	m = (struct usb_approval_match){0};
	assert_int_equal(usb_rules_approval_check(r, &s1, "tanaka", end + 1, &m), USB_APPROVAL_EXPIRED);
	assert_non_null(m.id);
	assert_int_equal(usb_rules_approval_check(r, &s1, "tanaka", after, NULL), USB_APPROVAL_EXPIRED);
	/* not yet valid */
	m = (struct usb_approval_match){0};
	assert_int_equal(usb_rules_approval_check(r, &s2, "suzuki", in, &m), USB_APPROVAL_NOT_YET);
	assert_string_equal(m.id, "LATER");
	/* the window is open, but for someone else; the closest miss wins over a closed window */
	m = (struct usb_approval_match){0};
	assert_int_equal(usb_rules_approval_check(r, &s1, "suzuki", in, &m), USB_APPROVAL_WRONG_PERSON);
	assert_string_equal(m.id, "NOW"); /* the approval behind the verdict, not the last one looked at */
	/* an unknown person (process gone, no passwd entry) is nobody's approval */
	assert_int_equal(usb_rules_approval_check(r, &s1, NULL, in, &m), USB_APPROVAL_WRONG_PERSON);
	assert_int_equal(usb_rules_approval_check(r, &s1, "", in, &m), USB_APPROVAL_WRONG_PERSON);
	/* a person's name is compared exactly */
	assert_int_equal(usb_rules_approval_check(r, &s1, "Tanaka", in, &m), USB_APPROVAL_WRONG_PERSON);
	assert_int_equal(usb_rules_approval_check(r, &s1, "tanaka ", in, &m), USB_APPROVAL_WRONG_PERSON);
	/* another medium: serial, product, or none at all */
	m = (struct usb_approval_match){0};
	assert_int_equal(usb_rules_approval_check(r, &s3, "tanaka", in, &m), USB_APPROVAL_NONE);
	assert_null(m.id);
	assert_int_equal(usb_rules_approval_check(r, &other, "tanaka", in, &m), USB_APPROVAL_NONE);
	assert_int_equal(usb_rules_approval_check(r, &noser, "tanaka", in, &m), USB_APPROVAL_NONE);
	assert_int_equal(usb_rules_approval_check(r, &s1, "tanaka", before, &m), USB_APPROVAL_NOT_YET);
	assert_int_equal(usb_rules_approval_check(NULL, &s1, "tanaka", in, &m), USB_APPROVAL_NONE);
	/* the reasons carry.refused records */
	assert_string_equal(usb_approval_verdict_to_string(USB_APPROVAL_OK), "approved");
	assert_string_equal(usb_approval_verdict_to_string(USB_APPROVAL_NONE), "no_approval");
	assert_string_equal(usb_approval_verdict_to_string(USB_APPROVAL_EXPIRED), "approval_expired");
	assert_string_equal(usb_approval_verdict_to_string(USB_APPROVAL_NOT_YET), "approval_not_yet_valid");
	assert_string_equal(usb_approval_verdict_to_string(USB_APPROVAL_WRONG_PERSON), "approval_wrong_person");
	assert_string_equal(usb_approval_verdict_to_string(_USB_APPROVAL_INVALID), "invalid");
	assert_string_equal(usb_approval_verdict_to_string(_USB_APPROVAL_MAX), "invalid");
	usb_rules_free(r);
}

static void test_builtin_defaults(void **s)
{
	(void)s;
	struct usb_rules *r = NULL;
	struct usb_identity kb, st = stick(1, 2, NULL, 1, STOR);
	const uint8_t K[1][3] = {{3, 1, 1}};
	struct usb_decision d;
	char err[64];

	kb = stick(1, 3, NULL, 1, K);
	assert_int_equal(usb_rules_load(NULL, &r, err, sizeof(err)), 0);
	usb_decide(r, &kb, 0, &d);
	assert_int_equal(d.action, USB_ACT_ALLOW);
	usb_decide(r, &st, 0, &d);
	assert_int_equal(d.action, USB_ACT_BLOCK);
	usb_rules_free(r);
}

static void test_bad_sections(void **s)
{
	(void)s;
	expect_error("{\"usb\":{\"default\":\"maybe\"}}", "usb.default");
	expect_error("{\"usb\":{\"rules\":[{\"id\":\"x\",\"action\":\"allow\",\"match\":{\"vendor\":\"78\"}}]}}",
	             "match");
	expect_error("{\"usb\":{\"rules\":[{\"action\":\"allow\"}]}}", ".id");
	expect_error("{\"usb\":{\"rules\":[{\"id\":\"x\",\"action\":\"allow\",\"interfaces\":[\"08:06\"]}]}}",
	             "interfaces");
	expect_error("{\"usb\":{\"interfaces\":[{\"class\":\"zz:*:*\",\"action\":\"allow\"}]}}", "class");
	expect_error("{\"usb\":{\"encryption\":{\"plain_action\":\"allow\"}}}", "plain_action");
	expect_error("{\"usb\":{\"rules\":[{\"id\":\"x\",\"action\":\"allow\",\"match\":{\"hash\":\"abc\"}}]}}",
	             "hash");
	expect_error("{\"usb\":{\"requirements\":[\"lower-1\"]}}", "requirements");
	expect_error("{\"usb\":[]}", "not an object");

	struct usb_rules *r = NULL;
	char err[256] = "";
	cJSON *j = cJSON_Parse("{\"approvals\":[{\"id\":\"A\",\"medium\":{\"vendor\":\"0781\"},"
	                       "\"not_before\":\"2026-02-01T00:00:00Z\",\"not_after\":\"2026-01-01T00:00:00Z\"}]}");
	assert_int_equal(usb_rules_load(NULL, &r, err, sizeof(err)), 0);
	assert_int_equal(usb_rules_load_approvals(r, j, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "carry.approvals[0]"));
	cJSON_Delete(j);
	usb_rules_free(r);
}

/* ---- the rule index against a plain first-match scan (issue 23.4) ---------------- */

static uint32_t rng_state = 0x2545f491u;

static unsigned rnd(unsigned n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state % n;
}

#define PICK(a) ((a)[rnd(sizeof(a) / sizeof((a)[0]))])

static const char *const SERIALS[] = {"A1", "B2", ""};
static const char *const HASHES[] = {"1111111111111111111111111111111111111111111111111111111111111111",
                                     "2222222222222222222222222222222222222222222222222222222222222222"};
static const char *const UGHASHES[] = {"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
                                       "ERERERERERERERERERERERERERERERERERERERERERE="};

/* One random `match` member: every attribute, keyed operators and not. An
 * array key gets one value (two for serial_one_of). "serial_equals" is left
 * out: with "serial" it is the same term given twice. */
static const struct {
	const char *key;
	bool array;
	const char *v[5];
} TERMS[] = {
        {"serial", false, {"A1", "B2", ""}},
        {"serial", false, {"A1", "B2", ""}},
        {"serial_one_of", true, {"A1", "B2", ""}},
        {"serial_none_of", true, {"A1", "B2", ""}},
        {"serial_all_of", true, {"A1", "B2", ""}},
        {"serial_equals_ordered", true, {"A1", "B2", ""}},
        {"serial_match_all", true, {"A1", "B2", ""}},
        {"vendor", false, {"0781", "05e3"}},
        {"vendor_one_of", true, {"0781", "05e3"}},
        {"product", false, {"5581", "0608"}},
        {"id", false, {"0781:5581", "05e3:0608", "0781:*", "*:*", "0781:0608"}},
        {"id_one_of", true, {"0781:5581", "0781:*"}},
        {"id_match_all", true, {"0781:5581", "0781:*"}},
        {"id_none_of", true, {"0781:5581", "0781:*"}},
        {"name", false, {"Cruzer", "Hub"}},
        {"port", false, {"1-1", "1-2"}},
        {"connect_type", false, {"hotplug", "hardwired"}},
        {"class", false, {"00", "09"}},
        {"hash",
         false,
         {"1111111111111111111111111111111111111111111111111111111111111111",
          "2222222222222222222222222222222222222222222222222222222222222222"}},
        {"usbguard_hash",
         false,
         {"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "ERERERERERERERERERERERERERERERERERERERERERE="}},
        {"parent_hash",
         false,
         {"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "ERERERERERERERERERERERERERERERERERERERERERE="}},
        {"interfaces_one_of", true, {"08:*:*", "03:*:*"}},
};

static const char *term_value(size_t t)
{
	size_t n = 0;

	while (n < 5 && TERMS[t].v[n])
		n++;
	return TERMS[t].v[rnd((unsigned)n)];
}

static void random_term(char *o, size_t sz)
{
	size_t t = rnd(ELEMENTSOF(TERMS));

	if (!TERMS[t].array)
		snprintf(o, sz, "\"%s\":\"%s\"", TERMS[t].key, term_value(t));
	else if (strcmp(TERMS[t].key, "serial_one_of") == 0)
		snprintf(o, sz, "\"%s\":[\"%s\",\"%s\"]", TERMS[t].key, term_value(t), term_value(t));
	else
		snprintf(o, sz, "\"%s\":[\"%s\"]", TERMS[t].key, term_value(t));
}

static void random_identity(struct usb_identity *id)
{
	static const char long_serial[600] = {[0 ... 598] = 'x'};

	memset(id, 0, sizeof(*id));
	id->have = (rnd(12) ? USB_ID_DESC : 0) | (rnd(8) ? USB_ID_SERIAL : 0) | (rnd(3) ? USB_ID_NAMES : 0) |
	           (rnd(3) ? USB_ID_CONNECT : 0) | (rnd(3) ? USB_ID_HASH : 0) | (rnd(3) ? USB_ID_UGHASH : 0);
	id->vendor = rnd(2) ? 0x0781 : 0x05e3;
	id->product = rnd(2) ? 0x5581 : 0x0608;
	id->dev_class = rnd(2) ? 0 : 9;
	if (rnd(10)) {
		const char *serial = PICK(SERIALS);

		usb_identity_set_serial(id, serial, strlen(serial));
	} else
		usb_identity_set_serial(id, long_serial, sizeof(long_serial) - 1); /* too long: not known */
	{
		const char *name = rnd(2) ? "Cruzer" : "Hub", *ct = rnd(2) ? "hotplug" : "hardwired";

		usb_str_set(&id->name_raw, name, strlen(name));
		usb_str_set(&id->connect_raw, ct, strlen(ct));
	}
	strscpy(id->hash_hex, sizeof(id->hash_hex), PICK(HASHES));
	if (rnd(6))
		strscpy(id->ug_hash, sizeof(id->ug_hash), PICK(UGHASHES));
	if (rnd(6))
		strscpy(id->ug_parent_hash, sizeof(id->ug_parent_hash), PICK(UGHASHES));
	if (rnd(6))
		strscpy(id->port, sizeof(id->port), rnd(2) ? "1-1" : "1-2");
	id->n_ifaces = 1;
	id->ifaces[0].cls = rnd(2) ? 8 : 3;
	id->n_seq = 1;
	id->seq[0][0] = id->ifaces[0].cls;
}

/* The index (usb_match_key, first_rule) must pick the same rule as
 * evaluating every rule in order — the policy's first match, with an
 * unknown block rule blocking (docs/policy-shape.md) — on random rule lists
 * over every attribute and operator and on identities missing attributes.
 * The reference scans usb_match_eval itself; whether usb_match_eval agrees
 * with USBGuard is tests/integration/usbguard_diff's question. */
static void test_index_is_first_match(void **s)
{
	unsigned keyed_hits = 0, incomplete = 0, defaults = 0;

	(void)s;
	for (int set = 0; set < 1500; set++) {
		size_t n = 1 + rnd(40), cap = 64 + n * 700;
		char *json = malloc(cap);
		struct usb_match *m[40];
		int act[40];
		size_t o;
		cJSON *j;
		struct usb_rules *r = NULL;
		char err[256];

		assert_non_null(json);
		o = (size_t)snprintf(json, cap, "{\"default\":\"%s\",\"rules\":[", rnd(2) ? "block" : "allow");
		for (size_t i = 0; i < n; i++) {
			char mt[1024] = "";
			size_t mo = 0;
			unsigned nt = rnd(20) ? 1 + rnd(3) : 0; /* an empty match matches all */

			for (unsigned t = 0; t < nt; t++) {
				char term[256];

				random_term(term, sizeof(term));
				*strchr(term, ':') = '\0';
				if (strstr(mt, term)) /* a key once per match */
					continue;
				term[strlen(term)] = ':';
				mo += (size_t)snprintf(mt + mo, sizeof(mt) - mo, "%s%s", mo ? "," : "", term);
			}
			act[i] = (int)rnd(3);
			o += (size_t)snprintf(json + o, cap - o, "%s{\"id\":\"r%zu\",\"action\":\"%s\",\"match\":{%s}}",
			                      i ? "," : "", i, (const char *[]){"allow", "block", "readonly"}[act[i]],
			                      mt);
		}
		snprintf(json + o, cap - o, "]}");
		j = cJSON_Parse(json);
		assert_non_null(j);
		if (usb_rules_load(j, &r, err, sizeof(err)) < 0)
			fail_msg("load: %s in %s", err, json);
		{
			const cJSON *it;
			size_t i = 0;

			cJSON_ArrayForEach(it, cJSON_GetObjectItem(j, "rules"))
			{
				assert_int_equal(usb_match_compile(cJSON_GetObjectItem(it, "match"), &m[i], NULL, err,
				                                   sizeof(err)),
				                 0);
				i++;
			}
		}
		for (int k = 0; k < 20; k++) {
			struct usb_identity id;
			struct usb_decision d;
			int want = -1, wm = 0;

			random_identity(&id);
			for (size_t i = 0; i < n && want < 0; i++) {
				int v = usb_match_eval(m[i], &id);

				if (v > 0 || (v < 0 && act[i] == 1))
					want = (int)i, wm = v;
			}
			usb_decide(r, &id, 0, &d);
			if (d.rule != want)
				fail_msg("rule %d, the first match is %d: %s", d.rule, want, json);
			assert_int_equal(strcmp(d.reason, "identity_incomplete") == 0, want >= 0 && wm < 0);
			keyed_hits += want >= 0 && wm > 0;
			incomplete += want >= 0 && wm < 0;
			defaults += want < 0;
		}
		for (size_t i = 0; i < n; i++)
			usb_match_free(m[i]);
		usb_rules_free(r);
		cJSON_Delete(j);
		free(json);
	}
	/* every outcome was reached many times (not a vacuous comparison) */
	print_message("index: %u matches, %u unknown block rules, %u defaults\n", keyed_hits, incomplete, defaults);
	assert_true(keyed_hits > 1000 && incomplete > 1000 && defaults > 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_allow_block_default),
	        cmocka_unit_test(test_per_interface),
	        cmocka_unit_test(test_media),
	        cmocka_unit_test(test_approvals_window),
	        cmocka_unit_test(test_approval_verdicts),
	        cmocka_unit_test(test_builtin_defaults),
	        cmocka_unit_test(test_bad_sections),
	        cmocka_unit_test(test_index_is_first_match),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
