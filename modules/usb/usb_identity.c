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
#include "base64.h"
#include "fileio.h"
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
	_cleanup_close_ int fd = root_openf(O_RDONLY | O_NOCTTY, "%s/%s", dir, attr);

	if (fd < 0)
		return fd;
	return read_sysfs(fd, buf, cap);
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

void usb_str_set(struct usb_str *dst, const char *raw, size_t n)
{
	dst->present = true;
	dst->too_long = n >= USB_STR_RAW_MAX;
	dst->len = 0;
	dst->b[0] = '\0';
	if (dst->too_long)
		return;
	/* USBGuard's SysFSDevice::readAttribute trims these from the end */
	while (n > 0 && (raw[n - 1] == '\0' || raw[n - 1] == '\n' || raw[n - 1] == '\r' || raw[n - 1] == '\t' ||
	                 raw[n - 1] == '\b'))
		n--;
	memcpy(dst->b, raw, n);
	dst->b[n] = '\0';
	dst->len = n;
}

void usb_identity_set_serial(struct usb_identity *id, const char *s, size_t n)
{
	usb_str_set(&id->serial_raw, s, n);
	usb_identity_set_string(id->serial, sizeof(id->serial), s, n);
	id->has_serial = true;
}

/* raw: the exact bytes (may be NULL); dst: the escaped form for people */
static int read_string(const char *dir, const char *attr, char *dst, size_t dstsz, bool *present, struct usb_str *raw)
{
	char buf[USB_STR_RAW_MAX + 1];
	ssize_t n = read_attr(dir, attr, buf, sizeof(buf));

	if (n < 0) {
		dst[0] = '\0';
		if (present)
			*present = false;
		if (raw)
			*raw = (struct usb_str){0};
		return n == -ENOENT ? 0 : (int)n;
	}
	usb_identity_set_string(dst, dstsz, buf, (size_t)n < USB_STR_RAW_MAX ? (size_t)n : USB_STR_RAW_MAX);
	if (raw)
		usb_str_set(raw, buf, (size_t)n);
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
	const struct usb_str *ser = &id->serial_raw, *man = &id->manufacturer_raw, *nam = &id->name_raw;
	uint16_t vp[2] = {id->vendor, id->product};
	size_t need = 5 * sizeof(uint32_t) + sizeof(vp) + 3 * USB_STR_RAW_MAX + len;
	_cleanup_free_ uint8_t *buf = NULL;
	size_t off = 0;
	int r;

	/* The exact bytes of the strings, never the escaped and cut forms kept
	 * for display: two devices whose long strings share a prefix would
	 * otherwise hash alike, and a hash-pinned allow rule would allow both
	 * (issue 12). A string too long to read whole gives no hash: a rule on
	 * the hash cannot match it (fail closed). */
	if (ser->too_long || man->too_long || nam->too_long)
		return -E2BIG;
	buf = malloc(need);
	if (!buf)
		return -ENOMEM;
	put_field(buf, &off, vp, sizeof(vp));
	/* present (even empty) and absent serials differ: the NUL after the
	 * bytes is hashed when there is one */
	put_field(buf, &off, ser->present ? ser->b : "", ser->present ? ser->len + 1 : 0);
	put_field(buf, &off, man->b, man->present ? man->len : 0);
	put_field(buf, &off, nam->b, nam->present ? nam->len : 0);
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

int usb_ughash_compute(const struct usb_str *name, const char *vendor_txt, const char *product_txt,
                       const struct usb_str *serial, const uint8_t *desc, size_t len, char *out)
{
	size_t nv = strlen(vendor_txt), np = strlen(product_txt);
	_cleanup_free_ uint8_t *buf = NULL;
	uint8_t md[32];
	size_t off = 0;
	int r;

	if (name->too_long || serial->too_long || !nv || !np)
		return -E2BIG; /* USBGuard refuses such a device too */
	buf = malloc(name->len + nv + np + serial->len + len + 1);
	if (!buf)
		return -ENOMEM;
	memcpy(buf + off, name->b, name->len), off += name->len;
	memcpy(buf + off, vendor_txt, nv), off += nv;
	memcpy(buf + off, product_txt, np), off += np;
	memcpy(buf + off, serial->b, serial->len), off += serial->len;
	if (len) {
		size_t at = off;

		memcpy(buf + off, desc, len), off += len;
		/* USBGuard hashes a Linux root hub's (1d6b:0001..0003) device
		 * descriptor with bcdDevice 0, so that a kernel update keeps it */
		if (len >= 18 && desc[1] == 0x01 && desc[8] == 0x6b && desc[9] == 0x1d && desc[11] == 0 &&
		    desc[10] >= 1 && desc[10] <= 3)
			buf[at + 12] = buf[at + 13] = 0;
	}
	r = sha256_buf(buf, off, md);
	if (r < 0)
		return r;
	return base64_encode(md, sizeof(md), out, USB_UGHASH_LEN + 1);
}

/* USBGuard's hash of the device in directory dir (under the root prefix). */
static int ughash_of(const char *dir, char *out)
{
	struct usb_str name = {0}, serial = {0}, v = {0}, p = {0};
	_cleanup_free_ uint8_t *desc = malloc(USB_DESC_MAX);
	char tmp[USB_STR_RAW_MAX + 1];
	const char *attrs[] = {"product", "serial", "idVendor", "idProduct"};
	struct usb_str *dst[] = {&name, &serial, &v, &p};
	ssize_t n;

	if (!desc)
		return -ENOMEM;
	for (size_t i = 0; i < ELEMENTSOF(attrs); i++) {
		n = read_attr(dir, attrs[i], tmp, sizeof(tmp));
		if (n >= 0)
			usb_str_set(dst[i], tmp, (size_t)n);
		else if (n != -ENOENT)
			return (int)n;
	}
	n = read_attr(dir, "descriptors", desc, USB_DESC_MAX);
	if (n < 18)
		return n < 0 ? (int)n : -EBADMSG;
	if (v.too_long || p.too_long)
		return -E2BIG;
	return usb_ughash_compute(&name, v.b, p.b, &serial, desc, (size_t)n, out);
}

/* USBGuard's parent hash: the parent USB device's hash, or for a root hub
 * the hash of its parent's sysfs path (as USBGuard sees it: no root prefix). */
static int ugparent_of(const char *syspath, char *out)
{
	char parent[PATH_MAX], ue[4096];
	const char *slash = strrchr(syspath, '/');
	ssize_t n;
	struct usb_str path = {0};

	if (!slash || slash == syspath || (size_t)(slash - syspath) >= sizeof(parent))
		return -EINVAL;
	memcpy(parent, syspath, (size_t)(slash - syspath));
	parent[slash - syspath] = '\0';
	n = read_attr(parent, "uevent", ue, sizeof(ue) - 1);
	if (n >= 0) {
		ue[n] = '\0';
		if (strstr(ue, "DEVTYPE=usb_device\n") == ue || strstr(ue, "\nDEVTYPE=usb_device\n"))
			return ughash_of(parent, out);
	}
	/* hashString(path): SHA-256 of the path bytes alone, the path as
	 * USBGuard keeps it: relative to the sysfs mount ("/devices/...") */
	{
		const char *rel = strncmp(parent, "/sys/", 5) == 0 ? parent + 4 : parent;

		if (strlen(rel) >= USB_STR_RAW_MAX)
			return -E2BIG;
		usb_str_set(&path, rel, strlen(rel));
	}
	{
		uint8_t md[32];
		int r;

		r = sha256_buf(path.b, path.len, md);
		if (r < 0)
			return r;
		r = base64_encode(md, sizeof(md), out, USB_UGHASH_LEN + 1);
		if (r < 0)
			return r;
	}
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
	id->n_seq = d->n_seq;
	memcpy(id->seq, d->seq, sizeof(id->seq));
	id->seq_truncated = d->truncated || d->seq_truncated;
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
	if (want & USB_ID_UGHASH)
		want |= USB_ID_DESC | USB_ID_SERIAL | USB_ID_NAMES;
	want &= ~id->have;
	if (!want)
		return 0;
	if (sysname && !id->port[0])
		strscpy(id->port, sizeof(id->port), sysname);
	if (want & (USB_ID_DESC | USB_ID_HASH | USB_ID_UGHASH)) {
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
		r = read_string(syspath, "serial", id->serial, sizeof(id->serial), &id->has_serial, &id->serial_raw);
		if (r < 0)
			return r;
		id->have |= USB_ID_SERIAL;
	}
	if (want & USB_ID_NAMES) {
		r = read_string(syspath, "manufacturer", id->manufacturer, sizeof(id->manufacturer), NULL,
		                &id->manufacturer_raw);
		if (r < 0)
			return r;
		r = read_string(syspath, "product", id->name, sizeof(id->name), NULL, &id->name_raw);
		if (r < 0)
			return r;
		id->have |= USB_ID_NAMES;
	}
	if (want & USB_ID_CONNECT) {
		char ct[64];
		ssize_t n = read_attr(syspath, "port/connect_type", ct, sizeof(ct) - 1);

		id->connect_type = USB_CONNECT_UNKNOWN;
		id->connect_raw = (struct usb_str){0};
		if (n >= 0)
			usb_str_set(&id->connect_raw, ct, (size_t)n);
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
	if (want & USB_ID_UGHASH) {
		char v[16] = "", p[16] = "";
		ssize_t n;

		/* like the SHA-256 above: with strings USBGuard itself refuses
		 * there is no hash, and a rule on it cannot match */
		n = read_attr(syspath, "idVendor", v, sizeof(v) - 1);
		v[n > 0 ? strcspn(v, "\n") : 0] = '\0';
		n = read_attr(syspath, "idProduct", p, sizeof(p) - 1);
		p[n > 0 ? strcspn(p, "\n") : 0] = '\0';
		id->ug_hash[0] = id->ug_parent_hash[0] = '\0';
		r = usb_ughash_compute(&id->name_raw, v, p, &id->serial_raw, desc, dlen > 0 ? (size_t)dlen : 0,
		                       id->ug_hash);
		if (r == -ENOMEM)
			return r;
		if (r < 0)
			id->ug_hash[0] = '\0';
		r = ugparent_of(syspath, id->ug_parent_hash);
		if (r == -ENOMEM)
			return r;
		if (r < 0)
			id->ug_parent_hash[0] = '\0';
		id->have |= USB_ID_UGHASH;
	}
	return 0;
}
