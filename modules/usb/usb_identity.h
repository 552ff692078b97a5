/* modules/usb/usb_identity.h — who a USB device says it is, as read from
 * udev and sysfs (mamorid).
 *
 * Strings come from the device: they are read with a cap and kept twice:
 * escaped (escape_untrusted: control bytes, invalid UTF-8 and embedded NUL
 * become \xHH) for printing and JSON, and as the exact bytes (struct usb_str)
 * that rules compare with. A string longer than the cap is flagged, never cut
 * into a value that another device could have. */
#ifndef MAMORI_USB_IDENTITY_H
#define MAMORI_USB_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "usb_descriptors.h"

struct udev_device;

#define USB_STR_RAW_MAX 512 /* bytes read from a sysfs string attribute */
#define USB_STR_MAX     256 /* escaped form kept (cut with "…") */
#define USB_DESC_MAX    65536

enum usb_connect_type {
	USB_CONNECT_UNKNOWN,
	USB_CONNECT_HOTPLUG,
	USB_CONNECT_HARDWIRED,
	USB_CONNECT_NOT_USED,
	_USB_CONNECT_MAX,
	_USB_CONNECT_INVALID = -1,
};

/* Which fields usb_identity_read() fills; the decision path reads only
 * what the rules need and completes the rest after `authorized` is written. */
enum usb_id_field {
	USB_ID_DESC = 1u << 0,    /* descriptors: vendor, product, classes, interfaces */
	USB_ID_SERIAL = 1u << 1,  /* serial */
	USB_ID_NAMES = 1u << 2,   /* manufacturer, product name */
	USB_ID_CONNECT = 1u << 3, /* port/connect_type */
	USB_ID_HASH = 1u << 4,    /* descriptor hash (implies all of the above) */
	USB_ID_UGHASH = 1u << 5,  /* USBGuard's device and parent hashes (implies DESC, SERIAL, NAMES) */
	USB_ID_ALL = 0x3f,
};

/* A string attribute as the device gave it: bytes, without the sysfs
 * newline and without trailing NUL/CR/LF/TAB/BS (as USBGuard reads it).
 * too_long: the attribute had USB_STR_RAW_MAX bytes or more; b is then
 * empty and no rule on it can match. b is NUL-terminated after len. */
struct usb_str {
	size_t len;
	bool present, too_long;
	char b[USB_STR_RAW_MAX];
};

#define USB_UGHASH_LEN 44 /* base64 of a SHA-256 */

struct usb_identity {
	unsigned have; /* USB_ID_* read so far */
	uint16_t vendor, product, bcd_device;
	uint8_t dev_class, dev_sub, dev_proto;
	bool has_serial;
	char serial[USB_STR_MAX];
	char manufacturer[USB_STR_MAX];
	char name[USB_STR_MAX]; /* the product string */
	size_t n_ifaces;
	struct usb_desc_iface ifaces[USB_DESC_MAX_IFACES];
	bool ifaces_truncated, desc_malformed;
	char port[32]; /* kernel name: "1-1.4" (bus-port.port...) */
	enum usb_connect_type connect_type;
	uint8_t hash[32];
	char hash_hex[65];
	/* exact bytes, what rules compare (usb_match.c) */
	struct usb_str serial_raw, name_raw, connect_raw, manufacturer_raw;
	/* every interface descriptor (alternate settings too) in descriptor
	 * order, as USBGuard lists them: rules on `interfaces` use this list */
	size_t n_seq;
	uint8_t seq[USB_DESC_MAX_SEQ][3];
	bool seq_truncated;
	char ug_hash[USB_UGHASH_LEN + 1], ug_parent_hash[USB_UGHASH_LEN + 1];
};

const char *usb_connect_type_to_string(enum usb_connect_type t);
enum usb_connect_type usb_connect_type_from_string(const char *s);

/* Read (more of) a device's identity into *id (zeroed for a first read): the fields in `want` that are
 * not in id->have yet. syspath is udev's (e.g. from udev_device_get_syspath)
 * and is resolved under the root prefix. Fields a device does not provide
 * stay empty; returns 0, or -errno when the device directory is gone or the
 * descriptors are missing and no fallback exists. On error *id may be
 * partly filled (id->have says what). */
int usb_identity_read(const char *syspath, const char *sysname, unsigned want, struct usb_identity *id);

/* Compute the descriptor hash from the raw descriptors (buf, len) and the
 * identity strings: SHA-256 over length-prefixed vendor, product, serial,
 * manufacturer, product name, then the raw descriptors. Ports are not in it:
 * a pinned hash follows the device from port to port. */
/* The SHA-256 is common/sha256.c's, in the process that decides (mamorid). */

int usb_identity_hash(struct usb_identity *id, const uint8_t *desc, size_t len);

/* Fill a usb_str from raw attribute bytes (trimmed as USBGuard does). */
void usb_str_set(struct usb_str *dst, const char *raw, size_t n);

/* Set the serial (raw and escaped) of an identity built by hand (tests,
 * carry registry). */
void usb_identity_set_serial(struct usb_identity *id, const char *s, size_t n);

/* USBGuard's hash of a device: base64(SHA-256(product string, idVendor text,
 * idProduct text, serial, descriptors)), with common/sha256.c.
 * out gets USB_UGHASH_LEN + 1 bytes. */
int usb_ughash_compute(const struct usb_str *name, const char *vendor_txt, const char *product_txt,
                       const struct usb_str *serial, const uint8_t *desc, size_t len, char *out);

/* Fill the escaped-string field dst from untrusted raw bytes. */
void usb_identity_set_string(char *dst, size_t dstsz, const char *raw, size_t n);

#endif
