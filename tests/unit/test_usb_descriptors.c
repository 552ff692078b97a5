/* tests/unit/test_usb_descriptors.c — modules/usb/usb_descriptors.c and the
 * string escaping of usb_identity.c (unit test). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "strutil.h"
#include "usb/usb_descriptors.h"
#include "usb/usb_identity.h"

static size_t build(uint8_t *b, int n_if, const uint8_t (*cls)[3])
{
	size_t tot = 9 + 9 * (size_t)n_if + 7;
	uint8_t dd[18] = {18, 1, 0, 2, 0, 0, 0, 64, 0x81, 0x07, 0x81, 0x55, 0x00, 0x01, 1, 2, 3, 1};
	uint8_t cd[9] = {9, 2, (uint8_t)tot, (uint8_t)(tot >> 8), (uint8_t)n_if, 1, 0, 0x80, 50};
	size_t o = 0;

	memcpy(b, dd, 18);
	o = 18;
	memcpy(b + o, cd, 9);
	o += 9;
	for (int i = 0; i < n_if; i++) {
		uint8_t id[9] = {9, 4, (uint8_t)i, 0, 2, cls[i][0], cls[i][1], cls[i][2], 0};
		memcpy(b + o, id, 9);
		o += 9;
	}
	uint8_t ep[7] = {7, 5, 0x81, 2, 0, 2, 0};
	memcpy(b + o, ep, 7);
	return o + 7;
}

static void test_parse_composite(void **s)
{
	(void)s;
	uint8_t b[256];
	const uint8_t cls[2][3] = {{0x08, 0x06, 0x50}, {0x03, 0x01, 0x01}};
	struct usb_desc_info d;

	assert_int_equal(usb_descriptors_parse(b, build(b, 2, cls), &d), 0);
	assert_int_equal(d.vendor, 0x0781);
	assert_int_equal(d.product, 0x5581);
	assert_int_equal(d.n_ifaces, 2);
	assert_int_equal(d.ifaces[0].cls, 0x08);
	assert_int_equal(d.ifaces[0].proto, 0x50);
	assert_int_equal(d.ifaces[1].cls, 0x03);
	assert_int_equal(d.ifaces[1].config, 1);
	assert_false(d.malformed);
	assert_false(d.truncated);
}

static void test_reject_no_device_descriptor(void **s)
{
	(void)s;
	uint8_t b[18] = {18, 2};
	struct usb_desc_info d = {.vendor = 0x1111};

	assert_int_equal(usb_descriptors_parse(b, sizeof(b), &d), -EBADMSG);
	assert_int_equal(d.vendor, 0x1111); /* untouched on error */
	assert_int_equal(usb_descriptors_parse(b, 5, &d), -EBADMSG);
	assert_int_equal(usb_descriptors_parse(NULL, 0, &d), -EBADMSG);
	b[0] = 17;
	b[1] = 1;
	assert_int_equal(usb_descriptors_parse(b, sizeof(b), &d), -EBADMSG);
}

static void test_zero_and_overlong_lengths(void **s)
{
	(void)s;
	uint8_t b[256];
	const uint8_t cls[1][3] = {{0x08, 0x06, 0x50}};
	struct usb_desc_info d;
	size_t n = build(b, 1, cls);

	/* a 0-length descriptor after the interface: stop, keep what was found */
	b[n] = 0;
	b[n + 1] = 4;
	assert_int_equal(usb_descriptors_parse(b, n + 2, &d), 0);
	assert_true(d.malformed);
	assert_int_equal(d.n_ifaces, 1);
	/* an interface descriptor claiming more bytes than remain */
	n = build(b, 1, cls);
	b[27] = 200;
	assert_int_equal(usb_descriptors_parse(b, n, &d), 0);
	assert_true(d.malformed);
	assert_int_equal(d.n_ifaces, 0);
	/* a short interface descriptor (bLength 3) */
	n = build(b, 1, cls);
	b[27] = 3;
	assert_int_equal(usb_descriptors_parse(b, n, &d), 0);
	assert_true(d.malformed);
	/* every truncation of a valid buffer parses without reading past it */
	n = build(b, 1, cls);
	for (size_t cut = 18; cut < n; cut++)
		assert_int_equal(usb_descriptors_parse(b, cut, &d), 0);
}

static void test_255_interfaces_capped(void **s)
{
	(void)s;
	static uint8_t b[18 + 9 + 255 * 9 + 7];
	static uint8_t cls[255][3];
	struct usb_desc_info d;

	for (int i = 0; i < 255; i++) {
		cls[i][0] = (uint8_t)i;
		cls[i][1] = 1;
		cls[i][2] = 2;
	}
	assert_int_equal(usb_descriptors_parse(b, build(b, 255, (const uint8_t(*)[3])cls), &d), 0);
	assert_int_equal(d.n_ifaces, USB_DESC_MAX_IFACES);
	assert_true(d.truncated);
	/* duplicates (same interface listed twice) are kept once */
	uint8_t b2[256];
	const uint8_t two[2][3] = {{0x08, 6, 0x50}, {0x08, 6, 0x50}};
	size_t n = build(b2, 2, two);
	b2[18 + 9 + 9 + 2] = 0; /* second interface gets number 0 too */
	assert_int_equal(usb_descriptors_parse(b2, n, &d), 0);
	assert_int_equal(d.n_ifaces, 1);
}

static void test_strings_escaped_and_capped(void **s)
{
	(void)s;
	char out[USB_STR_MAX];
	char big[4096];

	usb_identity_set_string(out, sizeof(out), "SanDisk\n", 8);
	assert_string_equal(out, "SanDisk");
	usb_identity_set_string(out, sizeof(out), "a\0b\x1b\xff", 5);
	assert_string_equal(out, "a\\x00b\\x1b\\xff");
	memset(big, 'Z', sizeof(big));
	usb_identity_set_string(out, sizeof(out), big, sizeof(big));
	assert_true(strlen(out) < sizeof(out));
	assert_true(utf8_valid(out, strlen(out)));
	/* 4 KiB of 3-byte UTF-8 characters: cut on a character boundary */
	for (size_t i = 0; i + 3 <= sizeof(big); i += 3)
		memcpy(big + i, "\xe5\xae\x88", 3);
	usb_identity_set_string(out, sizeof(out), big, sizeof(big) - sizeof(big) % 3);
	assert_true(strlen(out) < sizeof(out));
	assert_true(utf8_valid(out, strlen(out)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_parse_composite),
	        cmocka_unit_test(test_reject_no_device_descriptor),
	        cmocka_unit_test(test_zero_and_overlong_lengths),
	        cmocka_unit_test(test_255_interfaces_capped),
	        cmocka_unit_test(test_strings_escaped_and_capped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
