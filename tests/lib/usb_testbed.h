/* tests/lib/usb_testbed.h — USB devices on a umockdev testbed as the kernel
 * shows them (sysfs attributes with their trailing newline, binary
 * `descriptors`, the uevent properties udev sees), shared by the test and
 * benchmark programs that build testbeds (usbguard_diff, usb_gate, the gate
 * tests through gate_testbed.h, bench usb_latency).
 * Header-only test code; runs in the test process. */
#ifndef MAMORI_TEST_USB_TESTBED_H
#define MAMORI_TEST_USB_TESTBED_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <umockdev.h>

/* The first line of a (sysfs) file into buf, "" when it cannot be read. */
static inline void usbtb_read_line(const char *path, char *buf, size_t n)
{
	FILE *f = fopen(path, "re");
	size_t k = 0;

	buf[0] = '\0';
	if (f) {
		k = fread(buf, 1, n - 1, f);
		fclose(f);
	}
	buf[k] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
}

/* one interface descriptor: number, alternate setting, class/subclass/protocol */
struct usbtb_if {
	uint8_t num, alt, c, s, p;
};

/* Device + configuration + interface descriptors into b (at least
 * 27 + 9 * n bytes); returns the length. */
static inline size_t usbtb_desc(uint8_t *b, uint16_t vid, uint16_t pid, uint8_t cls, const struct usbtb_if *ifs,
                                size_t n)
{
	size_t o, tot = 9 + 9 * n;
	uint8_t nif = 0;
	const uint8_t dd[18] = {18,
	                        1,
	                        0x00,
	                        0x02,
	                        cls,
	                        0,
	                        0,
	                        64,
	                        (uint8_t)vid,
	                        (uint8_t)(vid >> 8),
	                        (uint8_t)pid,
	                        (uint8_t)(pid >> 8),
	                        0x00,
	                        0x01,
	                        1,
	                        2,
	                        3,
	                        1};

	for (size_t i = 0; i < n; i++)
		if (ifs[i].alt == 0)
			nif++;
	memcpy(b, dd, 18);
	o = 18;
	const uint8_t cd[9] = {9, 2, (uint8_t)tot, (uint8_t)(tot >> 8), nif, 1, 0, 0x80, 50};
	memcpy(b + o, cd, 9);
	o += 9;
	for (size_t i = 0; i < n; i++) {
		const uint8_t id[9] = {9, 4, ifs[i].num, ifs[i].alt, 0, ifs[i].c, ifs[i].s, ifs[i].p, 0};
		memcpy(b + o, id, 9);
		o += 9;
	}
	return o;
}

/* Add a USB device (hub when cls == 9) under parent. serial may be NULL
 * (none) and may hold any bytes (serial_len of them); connect NULL leaves
 * port/connect_type out; authorized is the value the kernel would start it
 * with. umockdev sends no "add" uevent as long as
 * umockdev_in_mock_environment() was false on its first call. NULL on
 * failure (g_free the result). */
static inline char *usbtb_add(UMockdevTestbed *tb, const char *parent, const char *name, int devnum, uint16_t vid,
                              uint16_t pid, uint8_t cls, const char *authorized, const char *product,
                              const char *serial, size_t serial_len, const char *connect, const struct usbtb_if *ifs,
                              size_t n)
{
	char v[8], p[8], dn[12], dn3[12], prod[32], devname[40], buf[600];
	uint8_t desc[1024];
	size_t l = strlen(product);
	char *path;

	if (n > (sizeof(desc) - 27) / 9 || l >= sizeof(buf) || serial_len >= sizeof(buf))
		return NULL;
	snprintf(v, sizeof(v), "%04x", vid);
	snprintf(p, sizeof(p), "%04x", pid);
	snprintf(dn, sizeof(dn), "%d", devnum);
	snprintf(dn3, sizeof(dn3), "%03d", devnum);
	snprintf(prod, sizeof(prod), "%x/%x/100", vid, pid);
	snprintf(devname, sizeof(devname), "bus/usb/001/%03d", devnum);
	path = umockdev_testbed_add_device(tb, "usb", name, parent, "idVendor", v, "idProduct", p, "bDeviceClass",
	                                   cls == 9 ? "09" : "00", "authorized", authorized, "busnum", "1", "devnum",
	                                   dn, NULL, "DEVTYPE", "usb_device", "PRODUCT", prod, "TYPE", "0/0/0",
	                                   "BUSNUM", "001", "DEVNUM", dn3, "DEVNAME", devname, NULL);
	if (!path)
		return NULL;
	/* sysfs string attributes end in a newline, as the kernel writes them */
	memcpy(buf, product, l);
	buf[l] = '\n';
	umockdev_testbed_set_attribute_binary(tb, path, "product", (guchar *)buf, (gssize)l + 1);
	if (serial) {
		memcpy(buf, serial, serial_len);
		buf[serial_len] = '\n';
		umockdev_testbed_set_attribute_binary(tb, path, "serial", (guchar *)buf, (gssize)serial_len + 1);
	}
	if (connect)
		umockdev_testbed_set_attribute(tb, path, "port/connect_type", connect);
	umockdev_testbed_set_attribute_binary(tb, path, "descriptors", desc,
	                                      (gssize)usbtb_desc(desc, vid, pid, cls, ifs, n));
	return path;
}

#endif
