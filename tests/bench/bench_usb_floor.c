/* tests/bench/bench_usb_floor.c — the floor of the USB decision benchmark
 * (tests/bench/usb.sh, bench_usb.c): the least an allowlist agent can do on
 * a umockdev testbed — libudev's monitor ("udev" source, as mamorid), the
 * identity from the uevent, one sysfs read and one write per device, single-threaded, no policy, no
 * journal. Whatever an agent needs beyond this floor is its own cost.
 * Test code: runs as the agent under the benchmark driver.
 *   usage: bench_usb_floor ALLOWLIST   (lines "vid pid serial", hex ids) */
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libudev.h>

#define MAXA 4096
static struct {
	char vid[8], pid[8], serial[128];
} allow[MAXA];
static size_t n_allow;

static int write_attr(const char *syspath, const char *name, const char *v)
{
	char p[1024];
	int fd, r;

	snprintf(p, sizeof(p), "%s/%s", syspath, name);
	if ((fd = open(p, O_WRONLY | O_CLOEXEC)) < 0)
		return -1;
	r = write(fd, v, strlen(v)) == (ssize_t)strlen(v) ? 0 : -1;
	close(fd);
	return r;
}

/* serial attribute without its newline; NULL when the device has none */
static const char *read_serial(const char *syspath, char *buf, size_t n)
{
	char p[1024];
	ssize_t k;
	int fd;

	snprintf(p, sizeof(p), "%s/serial", syspath);
	if ((fd = open(p, O_RDONLY | O_CLOEXEC)) < 0)
		return NULL;
	k = read(fd, buf, n - 1);
	close(fd);
	if (k < 0)
		return NULL;
	buf[k] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return buf;
}

/* the identity from the uevent's PRODUCT (vid/pid/bcd, hex) and one sysfs
 * read (serial); one write (authorized) */
static void decide(struct udev_device *d)
{
	const char *t = udev_device_get_devtype(d), *prod = udev_device_get_property_value(d, "PRODUCT"), *s;
	unsigned v, p;
	char vid[8], pid[8], sb[256];
	bool ok = false;

	if (!t || strcmp(t, "usb_device") != 0 || !prod || sscanf(prod, "%x/%x/", &v, &p) != 2)
		return;
	snprintf(vid, sizeof(vid), "%04x", v & 0xffff);
	snprintf(pid, sizeof(pid), "%04x", p & 0xffff);
	if (strcmp(vid, "1d6b") == 0) { /* a root hub: new devices start unauthorized */
		write_attr(udev_device_get_syspath(d), "authorized_default", "0");
		return;
	}
	s = read_serial(udev_device_get_syspath(d), sb, sizeof(sb));
	for (size_t i = 0; i < n_allow && !ok; i++)
		ok = strcmp(allow[i].vid, vid) == 0 && strcmp(allow[i].pid, pid) == 0 &&
		     strcmp(allow[i].serial, s ? s : "-") == 0; /* "-": no serial */
	write_attr(udev_device_get_syspath(d), "authorized", ok ? "1" : "0");
}

int main(int argc, char **argv)
{
	struct udev *u = udev_new();
	struct udev_monitor *mon;
	struct udev_enumerate *e;
	struct udev_list_entry *l;
	FILE *f;

	if (argc != 2 || !u || !(f = fopen(argv[1], "re")))
		return 2;
	while (n_allow < MAXA && fscanf(f, "%7s %7s %127s", allow[n_allow].vid, allow[n_allow].pid,
	                                allow[n_allow].serial) == 3)
		n_allow++;
	fclose(f);
	mon = udev_monitor_new_from_netlink(u, "udev");
	if (!mon || udev_monitor_filter_add_match_subsystem_devtype(mon, "usb", "usb_device") < 0 ||
	    udev_monitor_enable_receiving(mon) < 0)
		return 1;
	e = udev_enumerate_new(u);
	udev_enumerate_add_match_subsystem(e, "usb");
	udev_enumerate_scan_devices(e);
	udev_list_entry_foreach(l, udev_enumerate_get_list_entry(e))
	{
		struct udev_device *d = udev_device_new_from_syspath(u, udev_list_entry_get_name(l));
		if (d) {
			decide(d);
			udev_device_unref(d);
		}
	}
	udev_enumerate_unref(e);
	for (;;) {
		struct pollfd pf = {.fd = udev_monitor_get_fd(mon), .events = POLLIN};
		struct udev_device *d;

		if (poll(&pf, 1, -1) < 0)
			continue;
		while ((d = udev_monitor_receive_device(mon))) {
			const char *a = udev_device_get_action(d);
			if (a && strcmp(a, "add") == 0)
				decide(d);
			udev_device_unref(d);
		}
	}
}
