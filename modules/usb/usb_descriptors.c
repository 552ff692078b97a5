/* modules/usb/usb_descriptors.c — bounds-checked walk over the raw USB
 * descriptors of a device (sysfs `descriptors`), in mamorid.
 *
 * The layout is the kernel's: the 18-byte device descriptor, then for each
 * configuration its full wTotalLength bytes (configuration, interface,
 * endpoint and class-specific descriptors, each starting with bLength and
 * bDescriptorType). A device controls every byte, so each descriptor's
 * length is checked against what is left, zero or one byte lengths end the
 * walk (they would loop forever), and at most USB_DESC_MAX_IFACES interfaces
 * are kept. */
#include <errno.h>
#include <string.h>

#include "usb_descriptors.h"

#define DT_DEVICE    0x01
#define DT_CONFIG    0x02
#define DT_INTERFACE 0x04

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static void add_iface(struct usb_desc_info *d, uint8_t config, const uint8_t *p)
{
	struct usb_desc_iface n = {.config = config, .number = p[2], .cls = p[5], .sub = p[6], .proto = p[7]};

	for (size_t i = 0; i < d->n_ifaces; i++) {
		const struct usb_desc_iface *o = &d->ifaces[i];

		if (o->config == n.config && o->number == n.number && o->cls == n.cls && o->sub == n.sub &&
		    o->proto == n.proto)
			return;
	}
	if (d->n_ifaces >= USB_DESC_MAX_IFACES) {
		d->truncated = true;
		return;
	}
	d->ifaces[d->n_ifaces++] = n;
}

int usb_descriptors_parse(const uint8_t *buf, size_t len, struct usb_desc_info *ret)
{
	struct usb_desc_info d;
	size_t pos, cfg_end = 0;
	uint8_t config = 0;

	if (!buf || len < 18 || buf[0] < 18 || buf[1] != DT_DEVICE)
		return -EBADMSG;
	memset(&d, 0, sizeof(d));
	d.dev_class = buf[4];
	d.dev_sub = buf[5];
	d.dev_proto = buf[6];
	d.vendor = le16(buf + 8);
	d.product = le16(buf + 10);
	d.bcd_device = le16(buf + 12);
	d.i_manufacturer = buf[14];
	d.i_product = buf[15];
	d.i_serial = buf[16];
	d.num_configs = buf[17];

	pos = buf[0] <= len ? buf[0] : len;
	while (pos < len) {
		size_t left = len - pos;
		uint8_t bl, type;

		if (left < 2) {
			d.malformed = true;
			break;
		}
		bl = buf[pos];
		type = buf[pos + 1];
		if (bl < 2 || bl > left) {
			d.malformed = true;
			break;
		}
		if (type == DT_CONFIG) {
			uint16_t total;

			if (bl < 9) {
				d.malformed = true;
				break;
			}
			total = le16(buf + pos + 2);
			/* a configuration claims wTotalLength bytes; never more than there are */
			if (total < bl || total > left)
				d.malformed = true;
			cfg_end = pos + (total < bl ? bl : (total > left ? left : total));
			config = buf[pos + 5];
		} else if (type == DT_INTERFACE) {
			if (bl < 9) {
				d.malformed = true;
				break;
			}
			if (cfg_end == 0 || pos >= cfg_end)
				d.malformed = true; /* an interface outside any configuration: keep it, flag it */
			add_iface(&d, config, buf + pos);
			if (d.n_seq < USB_DESC_MAX_SEQ) {
				d.seq[d.n_seq][0] = buf[pos + 5];
				d.seq[d.n_seq][1] = buf[pos + 6];
				d.seq[d.n_seq][2] = buf[pos + 7];
				d.n_seq++;
			} else
				d.seq_truncated = true;
		}
		pos += bl;
	}
	*ret = d;
	return 0;
}
