/* tests/demo/usb_demo.c — `make demo`: the USB gate deciding real uevents on
 * a umockdev testbed (no real USB is touched). demo.sh prepares the signed
 * policy and runs this under umockdev-wrapper; it starts mamorid with the
 * testbed as root prefix, plugs four devices in and shows what happened. */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <umockdev.h>

static UMockdevTestbed *tb;
static const char *tbroot;
static char *hub;
static int devnum = 2;

static const char *attr(const char *syspath, const char *a)
{
	static char path[4096], v[64];
	FILE *f;
	size_t n = 0;

	snprintf(path, sizeof(path), "%s%s/%s", tbroot, syspath, a);
	v[0] = '\0';
	if ((f = fopen(path, "re"))) {
		n = fread(v, 1, sizeof(v) - 1, f);
		fclose(f);
	}
	v[n] = '\0';
	v[strcspn(v, "\n")] = '\0';
	return v;
}

/* a device with one interface of class cls/sub/proto, as the kernel adds it */
static char *plug(int port, unsigned vid, unsigned pid, const char *serial, const char *product, unsigned cls,
                  unsigned sub, unsigned proto)
{
	unsigned char d[36] = {18,
	                       1,
	                       0,
	                       2,
	                       0,
	                       0,
	                       0,
	                       64,
	                       (unsigned char)vid,
	                       (unsigned char)(vid >> 8),
	                       (unsigned char)pid,
	                       (unsigned char)(pid >> 8),
	                       0,
	                       1,
	                       1,
	                       2,
	                       3,
	                       1,
	                       9,
	                       2,
	                       18,
	                       0,
	                       1,
	                       1,
	                       0,
	                       0x80,
	                       50,
	                       9,
	                       4,
	                       0,
	                       0,
	                       0,
	                       (unsigned char)cls,
	                       (unsigned char)sub,
	                       (unsigned char)proto,
	                       0};
	char name[16], v[8], p[8], dn[8];
	const char *init = strcmp(attr(hub, "authorized_default"), "0") == 0 ? "0" : "1";
	char *path;

	snprintf(name, sizeof(name), "1-%d", port);
	snprintf(v, sizeof(v), "%04x", vid);
	snprintf(p, sizeof(p), "%04x", pid);
	snprintf(dn, sizeof(dn), "%d", devnum++);
	path = umockdev_testbed_add_device(tb, "usb", name, hub, "idVendor", v, "idProduct", p, "bDeviceClass", "00",
	                                   "manufacturer", "Demo", "product", product, "authorized", init, "busnum",
	                                   "1", "devnum", dn, "port/connect_type", "hotplug", NULL, "DEVTYPE",
	                                   "usb_device", NULL);
	umockdev_testbed_set_attribute(tb, path, "serial", serial);
	umockdev_testbed_set_attribute_binary(tb, path, "descriptors", d, sizeof(d));
	umockdev_testbed_uevent(tb, path, "add");
	return path;
}

static void show(const char *path, const char *what_ja, const char *what_en)
{
	for (int i = 0; i < 100 && strcmp(attr(path, "authorized"), "1") != 0; i++)
		usleep(5000);
	bool on = strcmp(attr(path, "authorized"), "1") == 0;
	printf("  %-44s -> authorized=%s  %s\n", what_en, on ? "1" : "0", on ? "許可 / allowed" : "遮断 / blocked");
	printf("    (%s)\n", what_ja);
}

int main(void)
{
	const char *bin = getenv("MAMORI_BIN"), *prep = getenv("MAMORI_PREP");
	char cmd[4096];
	pid_t gate;
	int st;

	if (!bin || !prep)
		return 2;
	(void)umockdev_in_mock_environment(); /* cached before the testbed: we send uevents ourselves */
	tb = umockdev_testbed_new();
	tbroot = umockdev_testbed_get_root_dir(tb);
	char *pci = umockdev_testbed_add_device(tb, "pci", "0000:00:14.0", NULL, "vendor", "0x8086", NULL, NULL);
	hub = umockdev_testbed_add_device(tb, "usb", "usb1", pci, "idVendor", "1d6b", "idProduct", "0002", "authorized",
	                                  "1", "authorized_default", "1", "interface_authorized_default", "1", NULL,
	                                  "DEVTYPE", "usb_device", NULL);
	snprintf(cmd, sizeof(cmd),
	         "env -u LD_PRELOAD sh -c 'mkdir -p %s/etc/mamori %s/var/lib/mamori && cp %s/agent.conf %s/policy.pub "
	         "%s/etc/mamori/ && cp %s/policy.json %s/policy.json.sig %s/var/lib/mamori/'",
	         tbroot, tbroot, prep, prep, tbroot, prep, prep, tbroot);
	if (system(cmd) != 0)
		return 1;
	gate = fork();
	if (gate == 0) {
		snprintf(cmd, sizeof(cmd), "%s/mamorid", bin);
		execl(cmd, "mamorid", "--root", tbroot, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 200 && strcmp(attr(hub, "authorized_default"), "0") != 0; i++)
		usleep(10000);
	printf("\n  root hub usb1: authorized_default=%s  (新しい機器は判定まで無効 / new devices wait, fail "
	       "closed)\n\n",
	       attr(hub, "authorized_default"));
	usleep(300000);
	show(plug(3, 0x0781, 0x5581, "4C530001", "Registered USB stick", 8, 6, 0x50), "登録済みの USB メモリ (MEDIA-1)",
	     "registered USB stick 0781:5581 4C530001");
	show(plug(4, 0x0781, 0x5581, "PRIVATE99", "Personal USB stick", 8, 6, 0x50),
	     "私物の USB メモリ: 同じ型でもシリアルが違う (MEDIA-1)", "personal stick, same model, other serial");
	show(plug(5, 0x046d, 0xc31c, "KB1", "USB keyboard", 3, 1, 1), "キーボードは使える (MEDIA-5)",
	     "USB keyboard (HID)");
	show(plug(6, 0x0bda, 0x8153, "NIC1", "USB Ethernet adapter", 0xff, 0xff, 0),
	     "無許可の USB ネットワークアダプタ (MEDIA-5)", "USB network adapter");
	usleep(500000);
	kill(gate, SIGTERM);
	waitpid(gate, &st, 0);
	printf("\n== 記録 / journal (mamorictl journal show)\n");
	fflush(stdout);
	snprintf(cmd, sizeof(cmd), "env -u LD_PRELOAD %s/mamorictl --root %s journal show | cut -c1-200", bin, tbroot);
	if (system(cmd) != 0)
		return 1;
	snprintf(cmd, sizeof(cmd), "env -u LD_PRELOAD %s/mamorictl --root %s journal verify", bin, tbroot);
	if (system(cmd) != 0)
		return 1;
	g_free(hub);
	g_free(pci);
	g_object_unref(tb);
	return 0;
}
