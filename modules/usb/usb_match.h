/* modules/usb/usb_match.h — the USB rule language: every key of a rule's
 * `match` object and every set operator, in one table that both the policy
 * schema (policy/policy_schema.c) and the matcher (usb_match.c, used by
 * usb_rules.c in mamorid) are built from. A key that is not in this table is
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
#ifndef MAMORI_USB_MATCH_H
#define MAMORI_USB_MATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "usb_identity.h"

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

/* A compiled `match` object. */
struct usb_match;

/* Compile a match object (NULL: no conditions). 0, -EINVAL (err says why) or
 * -ENOMEM. needs gets the USB_ID_* fields the match reads. */
int usb_match_compile(const cJSON *o, struct usb_match **ret, unsigned *needs, char *err, size_t errsz);
struct usb_match *usb_match_free(struct usb_match *m);

/* Does the device match? 1 yes, 0 no, -1 unknown: an attribute the match
 * needs is missing from the identity (not read, a string too long to hold,
 * an interface list cut short or malformed, a hash not computed) and no
 * other term already says no. Never allocates. usb_decide treats an unknown
 * block rule as matching and skips an unknown allow rule: neither widens. */
int usb_match_eval(const struct usb_match *m, const struct usb_identity *id);

/* Which attributes the match uses (bit per enum usb_attr). */
unsigned usb_match_attrs(const struct usb_match *m);

#endif
