/* modules/usb/usb_identity.c — reads a USB device's identity from sysfs
 * (through the root prefix) and computes its descriptor hash (mamorid).
 *
 * Lean on purpose: this runs between the uevent and the `authorized` write.
 * One read of `descriptors` gives vendor, product, classes and interfaces;
 * string attributes are read only when asked for. Every read is capped. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc-util.h"
#include "rootpath.h"
#include "strutil.h"
#include "sha256.h"
#include "usb_identity.h"

static const char *const connect_names[_USB_CONNECT_MAX] = {
        [USB_CONNECT_UNKNOWN] = "unknown",
        [USB_CONNECT_HOTPLUG] = "hotplug",
        [USB_CONNECT_HARDWIRED] = "hardwired",
        [USB_CONNECT_NOT_USED] = "not used",
};

const char *usb_connect_type_to_string(enum usb_connect_type t)
{
	return t >= 0 && t < _USB_CONNECT_MAX ? connect_names[t] : NULL;
}

enum usb_connect_type usb_connect_type_from_string(const char *s)
{
	for (int i = 0; s && i < _USB_CONNECT_MAX; i++)
		if (strcmp(s, connect_names[i]) == 0)
			return (enum usb_connect_type)i;
	return _USB_CONNECT_INVALID;
}

/* Read at most cap bytes of dir/attr into buf. Returns the length or -errno. */
static ssize_t read_attr(const char *dir, const char *attr, void *buf, size_t cap)
{
	char p[PATH_MAX];
	_cleanup_close_ int fd = -1;
	size_t len = 0;
	int r;

	r = root_pathf(p, sizeof(p), "%s/%s", dir, attr);
	if (r < 0)
		return r;
	fd = open(p, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	while (len < cap) {
		ssize_t n = read(fd, (char *)buf + len, cap - len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	return (ssize_t)len;
}

void usb_identity_set_string(char *dst, size_t dstsz, const char *raw, size_t n)
{
	_cleanup_free_ char *e = NULL;

	if (dstsz == 0)
		return;
	/* sysfs ends string attributes with one newline: not part of the string */
	if (n > 0 && raw[n - 1] == '\n')
		n--;
	e = escape_untrusted(raw, n, dstsz - 4);
	if (!e) {
		dst[0] = '\0';
		return;
	}
	/* cut on a UTF-8 boundary if the escaped form is still too long */
	if (strscpy(dst, dstsz, e) < 0) {
		size_t l = strlen(dst);
		while (l > 0 && ((unsigned char)dst[l - 1] & 0xc0) == 0x80)
			l--;
		if (l > 0 && ((unsigned char)dst[l - 1] & 0x80))
			l--;
		dst[l] = '\0';
	}
}

static int read_string(const char *dir, const char *attr, char *dst, size_t dstsz, bool *present)
{
	char raw[USB_STR_RAW_MAX];
	ssize_t n = read_attr(dir, attr, raw, sizeof(raw));

	if (n < 0) {
		dst[0] = '\0';
		if (present)
			*present = false;
		return n == -ENOENT ? 0 : (int)n;
	}
	usb_identity_set_string(dst, dstsz, raw, (size_t)n);
	if (present)
		*present = true;
	return 0;
}

/* length-prefixed fields, so that no two identities share a byte string */
static void put_field(uint8_t *buf, size_t *off, const void *p, size_t n)
{
	uint32_t l = (uint32_t)n;

	memcpy(buf + *off, &l, sizeof(l));
	*off += sizeof(l);
	if (n)
		memcpy(buf + *off, p, n);
	*off += n;
}

int usb_identity_hash(struct usb_identity *id, const uint8_t *desc, size_t len)
{
	uint16_t vp[2] = {id->vendor, id->product};
	size_t need = 5 * sizeof(uint32_t) + sizeof(vp) + sizeof(id->serial) + sizeof(id->manufacturer) +
	              sizeof(id->name) + len;
	_cleanup_free_ uint8_t *buf = NULL;
	size_t off = 0;
	int r;

	buf = malloc(need);
	if (!buf)
		return -ENOMEM;
	put_field(buf, &off, vp, sizeof(vp));
	put_field(buf, &off, id->has_serial ? id->serial : "", id->has_serial ? strlen(id->serial) + 1 : 0);
	put_field(buf, &off, id->manufacturer, strlen(id->manufacturer));
	put_field(buf, &off, id->name, strlen(id->name));
	put_field(buf, &off, desc ? desc : (const uint8_t *)"", desc ? len : 0);
	/* common/sha256.c: no libcrypto and no round trip to the worker in the
	 * decision path, so a hash-pinned rule matches while the worker is down
	 * (issue 19.2) */
	r = sha256_buf(buf, off, id->hash);
	if (r < 0)
		return r;
	hex_encode(id->hash, 32, id->hash_hex);
	id->have |= USB_ID_HASH;
	return 0;
}

static void take_desc(struct usb_identity *id, const struct usb_desc_info *d)
{
	id->vendor = d->vendor;
	id->product = d->product;
	id->bcd_device = d->bcd_device;
	id->dev_class = d->dev_class;
	id->dev_sub = d->dev_sub;
	id->dev_proto = d->dev_proto;
	id->n_ifaces = d->n_ifaces;
	memcpy(id->ifaces, d->ifaces, d->n_ifaces * sizeof(d->ifaces[0]));
	id->ifaces_truncated = d->truncated;
	id->desc_malformed = d->malformed;
}

int usb_identity_read(const char *syspath, const char *sysname, unsigned want, struct usb_identity *id)
{
	_cleanup_free_ uint8_t *desc = NULL;
	ssize_t dlen = 0;
	int r;

	if (!syspath || !id)
		return -EINVAL;
	if (want & USB_ID_HASH)
		want = USB_ID_ALL;
	want &= ~id->have;
	if (!want)
		return 0;
	if (sysname && !id->port[0])
		strscpy(id->port, sizeof(id->port), sysname);
	if (want & (USB_ID_DESC | USB_ID_HASH)) {
		desc = malloc(USB_DESC_MAX);
		if (!desc)
			return -ENOMEM;
		dlen = read_attr(syspath, "descriptors", desc, USB_DESC_MAX);
		if (dlen < 0)
			return (int)dlen;
		if (want & USB_ID_DESC) {
			struct usb_desc_info d;

			r = usb_descriptors_parse(desc, (size_t)dlen, &d);
			if (r < 0) {
				/* no usable device descriptor: nothing to decide on but
				 * "unknown"; keep zeros, flag it, let the policy block */
				id->desc_malformed = true;
				id->n_ifaces = 0;
			} else
				take_desc(id, &d);
			id->have |= USB_ID_DESC;
		}
	}
	if (want & USB_ID_SERIAL) {
		r = read_string(syspath, "serial", id->serial, sizeof(id->serial), &id->has_serial);
		if (r < 0)
			return r;
		id->have |= USB_ID_SERIAL;
	}
	if (want & USB_ID_NAMES) {
		r = read_string(syspath, "manufacturer", id->manufacturer, sizeof(id->manufacturer), NULL);
		if (r < 0)
			return r;
		r = read_string(syspath, "product", id->name, sizeof(id->name), NULL);
		if (r < 0)
			return r;
		id->have |= USB_ID_NAMES;
	}
	if (want & USB_ID_CONNECT) {
		char ct[32];
		ssize_t n = read_attr(syspath, "port/connect_type", ct, sizeof(ct) - 1);

		id->connect_type = USB_CONNECT_UNKNOWN;
		if (n > 0) {
			ct[n] = '\0';
			ct[strcspn(ct, "\n")] = '\0';
			enum usb_connect_type t = usb_connect_type_from_string(ct);
			if (t != _USB_CONNECT_INVALID)
				id->connect_type = t;
		}
		id->have |= USB_ID_CONNECT;
	}
	if (want & USB_ID_HASH) {
		r = usb_identity_hash(id, desc, (size_t)dlen);
		if (r == -ENOMEM)
			return r;
	}
	return 0;
}
