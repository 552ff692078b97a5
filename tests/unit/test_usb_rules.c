/* tests/unit/test_usb_rules.c — modules/usb/usb_rules.c: loading the usb and
 * carry sections and the pure decisions (unit test). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
