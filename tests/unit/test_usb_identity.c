/* tests/unit/test_usb_identity.c — modules/usb/usb_identity.c: the
 * descriptor hash (the `hash` rule key and the name of a local exception)
 * covers the exact bytes of a device's strings; two devices whose long
 * serials share a prefix never hash alike, and a string too long to read
 * whole gives no hash at all (issue 12, MEDIA-1; unit test, sysfs files in
 * a temporary directory; a FIFO stands in for the kernel's paged
 * reads of a binary attribute). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "usb/usb_identity.h"

static char dir[] = "/tmp/mamori-test-usbid.XXXXXX";

static void put(const char *dev, const char *attr, const void *b, size_t n)
{
	char p[512];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s/%s", dir, dev, attr);
	f = fopen(p, "we");
	assert_non_null(f);
	assert_int_equal(fwrite(b, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

/* a storage stick with serial (serial_len bytes of it) */
static void make_dev(const char *dev, const char *serial, size_t serial_len)
{
	static const uint8_t desc[] = {18, 1, 0,  2, 0, 0, 0, 64,   0x81, 0x07, 0x81, 0x55, 0, 1, 1, 2, 3,    1,
	                               9,  2, 18, 0, 1, 1, 0, 0x80, 50,   9,    4,    0,    0, 0, 8, 6, 0x50, 0};
	char p[512], *s = malloc(serial_len + 1);

	assert_non_null(s);
	snprintf(p, sizeof(p), "%s/%s", dir, dev);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/%s/port", dir, dev);
	assert_int_equal(mkdir(p, 0755), 0);
	put(dev, "descriptors", desc, sizeof(desc));
	put(dev, "manufacturer", "ACME\n", 5);
	put(dev, "product", "Stick\n", 6);
	put(dev, "port/connect_type", "hotplug\n", 8);
	memcpy(s, serial, serial_len);
	s[serial_len] = '\n';
	put(dev, "serial", s, serial_len + 1);
	free(s);
}

static struct usb_identity read_dev(const char *dev)
{
	struct usb_identity id = {0};
	char p[512];

	snprintf(p, sizeof(p), "%s/%s", dir, dev);
	assert_int_equal(usb_identity_read(p, dev, USB_ID_ALL, &id), 0);
	return id;
}

static void test_long_serials_sharing_a_prefix_differ(void **state)
{
	char a[400], b[400];
	struct usb_identity ia, ib;

	(void)state;
	memset(a, 'S', sizeof(a));
	memcpy(b, a, sizeof(b));
	b[sizeof(b) - 1] = 'T'; /* differs only in the last byte, far past any display cut */
	make_dev("1-1", a, sizeof(a));
	make_dev("1-2", b, sizeof(b));
	ia = read_dev("1-1");
	ib = read_dev("1-2");
	assert_true(ia.have & USB_ID_HASH);
	assert_true(ib.have & USB_ID_HASH);
	assert_string_not_equal(ia.hash_hex, ib.hash_hex);
}

static void test_same_device_same_hash(void **state)
{
	struct usb_identity ia, ib;

	(void)state;
	make_dev("1-3", "S1", 2);
	make_dev("1-4", "S1", 2);
	ia = read_dev("1-3");
	ib = read_dev("1-4");
	assert_true(ia.have & USB_ID_HASH);
	assert_string_equal(ia.hash_hex, ib.hash_hex);
}

static void test_escaping_does_not_merge(void **state)
{
	struct usb_identity ia, ib;

	(void)state;
	/* bytes that escape to the same text as another string would */
	make_dev("1-5", "a\\x22b", 6);
	make_dev("1-6", "a\"b", 3);
	ia = read_dev("1-5");
	ib = read_dev("1-6");
	assert_string_not_equal(ia.hash_hex, ib.hash_hex);
}

static void test_too_long_has_no_hash(void **state)
{
	char a[USB_STR_RAW_MAX + 10];
	struct usb_identity id;

	(void)state;
	memset(a, 'L', sizeof(a));
	make_dev("1-7", a, sizeof(a));
	id = read_dev("1-7");
	assert_false(id.have & USB_ID_HASH); /* no hash: no rule on it can match */
}

/* `descriptors` is a binary sysfs attribute: the kernel hands it out at most
 * a page per read() (kernfs), so a read of exactly 4096 bytes is not its
 * end. Here it comes through a FIFO the same way — 4096 bytes, and the rest
 * once those are taken — with a HID interface past the first page: it must
 * be seen (an identity cut at the page would hide it from the rules). */
static void test_descriptors_past_a_page(void **state)
{
	uint8_t d[18 + 9 + 9 + 17 * 255 + 9] = {18, 1, 0, 2, 0, 0, 0, 64, 0x81, 0x07, 0x81, 0x55, 0, 1, 1, 2, 3, 1};
	size_t pos = 18, total = sizeof(d) - 18;
	struct usb_identity id = {0};
	char p[512];
	pid_t pid;
	int st;

	(void)state;
	memcpy(d + pos, (uint8_t[]){9, 2, (uint8_t)total, (uint8_t)(total >> 8), 2, 1, 0, 0x80, 50}, 9), pos += 9;
	memcpy(d + pos, (uint8_t[]){9, 4, 0, 0, 0, 8, 6, 0x50, 0}, 9), pos += 9; /* storage */
	for (int i = 0; i < 17; i++, pos += 255) {
		d[pos] = 255, d[pos + 1] = 0x24; /* class-specific filler */
		memset(d + pos + 2, 0xaa, 253);
	}
	memcpy(d + pos, (uint8_t[]){9, 4, 1, 0, 1, 3, 1, 1, 0}, 9), pos += 9; /* keyboard, at byte 4371 */
	assert_int_equal(pos, sizeof(d));
	snprintf(p, sizeof(p), "%s/1-9", dir);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/1-9/descriptors", dir);
	assert_int_equal(mkfifo(p, 0600), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(p, O_WRONLY | O_CLOEXEC), n = 1;

		signal(SIGPIPE, SIG_IGN);
		if (fd < 0 || write(fd, d, 4096) != 4096)
			_exit(1);
		while (n > 0 && ioctl(fd, FIONREAD, &n) == 0) /* until the reader took the page */
			usleep(1000);
		usleep(50 * 1000);
		(void)!write(fd, d + 4096, sizeof(d) - 4096);
		_exit(0);
	}
	snprintf(p, sizeof(p), "%s/1-9", dir);
	assert_int_equal(usb_identity_read(p, "1-9", USB_ID_DESC, &id), 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_false(id.desc_malformed);
	assert_int_equal(id.n_ifaces, 2);
	assert_int_equal(id.ifaces[1].cls, 3);
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[256];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf --one-file-system '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_long_serials_sharing_a_prefix_differ),
	        cmocka_unit_test(test_same_device_same_hash),
	        cmocka_unit_test(test_escaping_does_not_merge),
	        cmocka_unit_test(test_too_long_has_no_hash),
	        cmocka_unit_test(test_descriptors_past_a_page),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
