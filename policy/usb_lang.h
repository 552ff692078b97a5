/* policy/usb_lang.h — the USB rule language: every key of a rule's `match`
 * object and every set operator, in one table that both the policy schema
 * (policy/policy_schema.c, policy/usbguard.c) and the matcher
 * (modules/usb/usb_match.c, in mamorid) are built from. Part of the policy
 * format, so it lives with the policy (mamori-worker, mamorictl, mamorid). A key that is not in this table is
 * refused by the validator and by the matcher; a key in it is implemented by
 * the matcher (tests/unit/test_usb_match.c proves it key by key). MEDIA-1.
 *
 * Semantics are USBGuard's (usbguard-rules.conf(5)) where the languages
 * overlap. An attribute of a device has a list of values: one for every
 * attribute except `interfaces` (every interface descriptor, in descriptor
 * order). A rule gives an operator and a list of values:
 *   equals          same number of values, every rule value matches a device value
 *   one_of          some rule value matches some device value
 *   all_of          every rule value matches some device value
 *   none_of         no rule value matches any device value
 *   equals_ordered  same number, the i-th rule value matches the i-th device value
 *   match_all       every device value is matched by some rule value
 * `"KEY": value` is a one-value `equals` (for interfaces: `"interfaces": [..]`,
 * a set with `equals`, USBGuard's default). `"KEY_OP": [..]` names the
 * operator. Strings (serial, name, port, connect_type) are compared as bytes,
 * as the device gives them (trailing NUL, CR, LF, TAB, BS removed, as
 * USBGuard reads sysfs); a device without a serial has the serial "". */
#ifndef MAMORI_USB_LANG_H
#define MAMORI_USB_LANG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* X(ENUM, "key", plain form SCALAR|SET, value format, min length, max length, description)
 * The format names are policy_schema.h's POLICY_FORMAT_* without the prefix. */
#define USB_MATCH_ATTRS(X)                                                                                             \
	X(VENDOR, "vendor", SCALAR, USB_ID, 4, 4, "idVendor, 4 lower-case hex digits")                                 \
	X(PRODUCT, "product", SCALAR, USB_ID, 4, 4, "idProduct, 4 lower-case hex digits")                              \
	X(ID, "id", SCALAR, USB_DEVICE_ID, 3, 9, "vendor:product, product or both may be * (USBGuard id)")             \
	X(SERIAL, "serial", SCALAR, TEXT, 0, 255, "iSerialNumber bytes, exact; \"\" = no serial")                      \
	X(NAME, "name", SCALAR, TEXT, 0, 255, "iProduct bytes, exact")                                                 \
	X(HASH, "hash", SCALAR, SHA256, 64, 64, "mamori's SHA-256 of the device identity and descriptors")             \
	X(USBGUARD_HASH, "usbguard_hash", SCALAR, BASE64, 44, 44, "USBGuard's device hash (base64)")                   \
	X(PARENT_HASH, "parent_hash", SCALAR, BASE64, 44, 44, "USBGuard's hash of the parent device (base64)")         \
	X(CLASS, "class", SCALAR, USB_CLASS, 2, 2, "bDeviceClass, 2 lower-case hex digits")                            \
	X(PORT, "port", SCALAR, USB_PORT, 3, 64, "sysfs port name, e.g. 1-1.2 or usb1 (USBGuard via-port)")            \
	X(CONNECT_TYPE, "connect_type", SCALAR, TEXT, 0, 32,                                                           \
	  "port/connect_type as the kernel reports it (hotplug, hardwired, not used, unknown; \"\" if absent)")        \
	X(INTERFACES, "interfaces", SET, USB_IFACE, 5, 8, "interface descriptors cc:ss:pp, * per field")

/* X(ENUM, "key suffix", "USBGuard name") */
#define USB_MATCH_OPS(X)                                                                                               \
	X(EQUALS, "_equals", "equals")                                                                                 \
	X(ONE_OF, "_one_of", "one-of")                                                                                 \
	X(ALL_OF, "_all_of", "all-of")                                                                                 \
	X(NONE_OF, "_none_of", "none-of")                                                                              \
	X(EQUALS_ORDERED, "_equals_ordered", "equals-ordered")                                                         \
	X(MATCH_ALL, "_match_all", "match-all")

#define USB_MATCH_SET_MAX 32 /* values in one set */

enum usb_attr {
#define X_(e, k, plain, fmt, lo, hi, d) USB_ATTR_##e,
	USB_MATCH_ATTRS(X_)
#undef X_
	        _USB_ATTR_MAX,
	_USB_ATTR_INVALID = -1,
};

enum usb_setop {
#define X_(e, suffix, ug) USB_OP_##e,
	USB_MATCH_OPS(X_)
#undef X_
	        _USB_OP_MAX,
	_USB_OP_INVALID = -1,
};

/* One JSON member of `match`: "serial" (scalar, equals) or "serial_one_of" (array). */
struct usb_match_key {
	const char *key;
	enum usb_attr attr;
	enum usb_setop op;
	bool array; /* the value is an array of values; else one string */
};

/* Every key, ending with {.key = NULL}. */
extern const struct usb_match_key usb_match_keys[];

const struct usb_match_key *usb_match_key_find(const char *key);
const char *usb_attr_to_string(enum usb_attr a);
const char *usb_setop_to_usbguard(enum usb_setop op);
enum usb_setop usb_setop_from_usbguard(const char *s);

/* Is s a valid value of attribute a (the matcher's own check, independent of
 * the policy validator)? */
bool usb_match_value_valid(enum usb_attr a, const char *s);

/* USBGuard's hash: base64 of a SHA-256, with its padding */
#define USB_LANG_UGHASH_LEN 44

/* An interface pattern "cc:ss:pp"; -1 is "*". */
struct usb_class_pat {
	int16_t c, s, p;
};
/* Parse an interface pattern (ret may be NULL) / a USBGuard id "vvvv:pppp"
 * with "*" parts (-1). false when s is not one. */
bool usb_lang_parse_iface(const char *s, struct usb_class_pat *ret);
bool usb_lang_parse_devid(const char *s, int32_t *v, int32_t *p);

#endif
