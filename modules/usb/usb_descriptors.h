/* modules/usb/usb_descriptors.h — parser for the raw USB descriptors a
 * device hands to the kernel (sysfs `descriptors`), in mamorid.
 *
 * The bytes come from the device: every length is bounds-checked, the
 * number of interfaces kept is capped, and a malformed walk stops early
 * with a flag instead of failing the whole device. Pure: no I/O, no logs. */
#ifndef MAMORI_USB_DESCRIPTORS_H
#define MAMORI_USB_DESCRIPTORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define USB_DESC_MAX_IFACES 32
#define USB_DESC_MAX_SEQ    64 /* interface descriptors listed in order (USBGuard's with-interface) */

struct usb_desc_iface {
	uint8_t config; /* bConfigurationValue of the configuration it belongs to */
	uint8_t number; /* bInterfaceNumber */
	uint8_t cls, sub, proto;
};

struct usb_desc_info {
	uint16_t vendor, product, bcd_device;
	uint8_t dev_class, dev_sub, dev_proto;
	uint8_t num_configs;
	uint8_t i_manufacturer, i_product, i_serial;
	size_t n_ifaces; /* distinct (config, number, class triple), alternate setting 0 first */
	struct usb_desc_iface ifaces[USB_DESC_MAX_IFACES];
	bool truncated; /* the device declared more interfaces than USB_DESC_MAX_IFACES */
	size_t n_seq;   /* every interface descriptor, alternate settings included, in order */
	uint8_t seq[USB_DESC_MAX_SEQ][3];
	bool seq_truncated;
	bool malformed; /* a bad length or type stopped the walk before the end */
};

/* Parse len bytes of a `descriptors` attribute into *ret. Returns 0, or
 * -EBADMSG when there is not even a valid device descriptor (ret untouched).
 * Anything after the device descriptor that does not parse sets
 * ret->malformed and is ignored. */
int usb_descriptors_parse(const uint8_t *buf, size_t len, struct usb_desc_info *ret);

#endif
