/* tests/integration/usb_gate.c — the usb module against real libudev on a
 * umockdev testbed, with real loop devices for BLKROSET and a real LUKS2
 * header for encryption detection (test program; runs as root under
 * umockdev-wrapper, started by usb_gate.sh).
 *
 * The module's ops are driven here the way mamorid drives them: init, then
 * poll on its fds and on_ready, then fini. A kernel would emit interface and
 * block-device events after `authorized` is written; the testbed does not,
 * so the tests emit them. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cmocka.h>
#include <linux/fs.h>
#include <umockdev.h>

#include "module.h"
#include "rootpath.h"
#include "sha256.h"
#include "usb/usb.h"
#include "usb/usb_identity.h"
#include "usb_testbed.h"

/* ---- recorded events ---------------------------------------------------- */
#define MAX_EVENTS 4096
struct rec {
	char type[32];
	char reqs[128];
	cJSON *payload;
};
static struct rec events[MAX_EVENTS];
static size_t n_events;
static atomic_size_t n_attached; /* written by the agent thread in the burst test */

static int record_emit(struct mamori_ctx *ctx, const struct mamori_event *ev, uint64_t *ret_seq)
{
	(void)ctx;
	if (n_events >= MAX_EVENTS)
		return -ENOSPC;
	snprintf(events[n_events].type, sizeof(events[0].type), "%s", ev->type);
	snprintf(events[n_events].reqs, sizeof(events[0].reqs), "%s", ev->reqs ? ev->reqs : "");
	events[n_events].payload = ev->payload ? cJSON_Duplicate(ev->payload, 1) : NULL;
	if (strcmp(ev->type, "usb.attached") == 0)
		atomic_fetch_add(&n_attached, 1);
	if (ret_seq)
		*ret_seq = n_events;
	n_events++;
	return 0;
}

static void clear_events(void)
{
	for (size_t i = 0; i < n_events; i++)
		cJSON_Delete(events[i].payload);
	n_events = 0;
}

static const char *pstr(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const char *id_str(const struct rec *e, const char *k)
{
	return pstr(cJSON_GetObjectItemCaseSensitive(e->payload, "device"), k);
}

/* last event of a type (or any decision type if type NULL) for a port */
static const struct rec *last_event(const char *type, const char *port)
{
	for (size_t i = n_events; i-- > 0;) {
		const struct rec *e = &events[i];
		const char *p = id_str(e, "port");
		if (type && strcmp(e->type, type) != 0)
			continue;
		if (!type && strcmp(e->type, "usb.allowed") && strcmp(e->type, "usb.blocked") &&
		    strcmp(e->type, "usb.readonly"))
			continue;
		if (p && strcmp(p, port) == 0)
			return e;
	}
	return NULL;
}

static size_t count_events(const char *type)
{
	size_t n = 0;
	for (size_t i = 0; i < n_events; i++)
		n += strcmp(events[i].type, type) == 0;
	return n;
}

/* ---- policy ------------------------------------------------------------- */
static cJSON *policy;
static const cJSON *section(const struct mamori_ctx *ctx, const char *name)
{
	(void)ctx;
	return policy ? cJSON_GetObjectItemCaseSensitive(policy, name) : NULL;
}

static void set_policy(const char *json)
{
	cJSON_Delete(policy);
	policy = cJSON_Parse(json);
	assert_non_null(policy);
}

/* ---- testbed ------------------------------------------------------------ */
static UMockdevTestbed *tb;
static const char *tbroot;
static char *hub;
static int auto_uevent;
static int devnum = 2;

static char *tbfile(const char *syspath, const char *attr)
{
	static char buf[4096];
	snprintf(buf, sizeof(buf), "%s%s/%s", tbroot, syspath, attr);
	return buf;
}

static char *attr(const char *syspath, const char *a)
{
	static char buf[256];
	FILE *f = fopen(tbfile(syspath, a), "re");
	size_t n = 0;
	buf[0] = '\0';
	if (f) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return buf;
}

static void set_attr(const char *syspath, const char *a, const char *v)
{
	umockdev_testbed_set_attribute(tb, syspath, a, v);
}

struct ifspec {
	uint8_t c, s, p;
};

static void uevent(const char *path, const char *action)
{
	umockdev_testbed_uevent(tb, path, action);
}

/* Add a device (no uevent unless umockdev sends one by itself; see add()). */
static char *add_dev_raw(int port, uint16_t vid, uint16_t pid, const char *serial, const struct ifspec *ifs, size_t n)
{
	char name[32], v[8], p[8], dn[8], dn3[8], prod[32], devname[32];
	uint8_t desc[1024];
	struct usbtb_if tif[16];
	int d = devnum++;
	if (devnum > 120)
		devnum = 2;
	snprintf(name, sizeof(name), "1-%d", port);
	snprintf(v, sizeof(v), "%04x", vid);
	snprintf(p, sizeof(p), "%04x", pid);
	snprintf(dn, sizeof(dn), "%d", d);
	snprintf(dn3, sizeof(dn3), "%03d", d);
	snprintf(prod, sizeof(prod), "%x/%x/100", vid, pid);
	snprintf(devname, sizeof(devname), "bus/usb/001/%03d", d);
	/* a new device starts as the kernel would create it: from the hub's default */
	const char *init = strcmp(attr(hub, "authorized_default"), "0") == 0 ? "0" : "1";
	char *path = umockdev_testbed_add_device(tb, "usb", name, hub, "idVendor", v, "idProduct", p, "bDeviceClass",
	                                         "00", "manufacturer", "ACME", "product", "Test Stick", "authorized",
	                                         init, "busnum", "1", "devnum", dn, "port/connect_type", "hotplug",
	                                         NULL, "DEVTYPE", "usb_device", "PRODUCT", prod, "TYPE", "0/0/0",
	                                         "BUSNUM", "001", "DEVNUM", dn3, "DEVNAME", devname, NULL);
	assert_non_null(path);
	if (serial)
		set_attr(path, "serial", serial);
	assert_true(n <= sizeof(tif) / sizeof(tif[0]));
	for (size_t i = 0; i < n; i++)
		tif[i] = (struct usbtb_if){(uint8_t)i, 0, ifs[i].c, ifs[i].s, ifs[i].p};
	umockdev_testbed_set_attribute_binary(tb, path, "descriptors", desc, usbtb_desc(desc, vid, pid, 0, tif, n));
	return path;
}

static struct mamori_ctx ctx = {.lang = "en", .emit = record_emit};
static void *state;

static void pump(void)
{
	int fds[MAMORI_MODULE_MAX_FDS];
	int n = usb_module.fds(state, fds, MAMORI_MODULE_MAX_FDS);
	assert_true(n >= 1);
	/* until the module's socket has been quiet for 30 ms */
	for (;;) {
		struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
		int r = poll(&pfd, 1, 30);
		assert_true(r >= 0);
		if (r == 0)
			break;
		assert_int_equal(usb_module.on_ready(state, fds[0], POLLIN), 0);
	}
}

static char *add(int port, uint16_t vid, uint16_t pid, const char *serial, const struct ifspec *ifs, size_t n)
{
	char *path = add_dev_raw(port, vid, pid, serial, ifs, n);
	if (!auto_uevent)
		uevent(path, "add");
	pump();
	return path;
}

static void del(char *path)
{
	uevent(path, "remove");
	umockdev_testbed_remove_device(tb, path);
	pump();
	g_free(path);
}

static char *add_child(const char *parent, const char *subsystem, const char *name, const char *const *props,
                       const char *a1, const char *v1)
{
	char *p = umockdev_testbed_add_device(tb, subsystem, name, parent, a1, v1, NULL, props[0], props[1], props[2],
	                                      props[3], props[4], props[5], NULL);
	assert_non_null(p);
	if (!auto_uevent)
		uevent(p, "add");
	pump();
	return p;
}

static const struct ifspec STORAGE[] = {{0x08, 0x06, 0x50}};
static const struct ifspec KBD_STORAGE[] = {{0x08, 0x06, 0x50}, {0x03, 0x01, 0x01}};

#define BASE_POLICY                                                                                                    \
	"{\"usb\":{\"default\":\"block\",\"present_devices\":\"apply\",\"rules\":["                                    \
	"{\"id\":\"kiosk-stick-1\",\"action\":\"allow\",\"match\":{\"vendor\":\"0781\",\"product\":\"5581\","          \
	"\"serial\":\"4C530001\"},\"requirements\":[\"MEDIA-1\"]},"                                                    \
	"{\"id\":\"twin-port\",\"action\":\"allow\",\"match\":{\"vendor\":\"abcd\",\"product\":\"0001\","              \
	"\"port\":\"1-4\"}}"                                                                                           \
	"],\"interfaces\":[{\"class\":\"03:*:*\",\"action\":\"allow\",\"requirements\":[\"MEDIA-5\"]},"                \
	"{\"class\":\"09:*:*\",\"action\":\"allow\"}]}}"

static int setup(void **s)
{
	(void)s;
	clear_events();
	set_policy(BASE_POLICY);
	assert_int_equal(mamori_module_start(&usb_module, &ctx, &state), 0);
	return 0;
}

static int teardown(void **s)
{
	(void)s;
	mamori_module_stop(&usb_module, state);
	state = NULL;
	return 0;
}

/* ---- tests --------------------------------------------------------------- */

static void test_hub_fail_closed(void **s)
{
	(void)s;
	assert_string_equal(attr(hub, "authorized_default"), "0");
	assert_string_equal(attr(hub, "interface_authorized_default"), "0");
}

/* "internal ports only": the kernel authorizes hard-wired (internal) ports by
 * itself, everything on an external port waits for the policy (MEDIA-1) */
static void test_hub_internal_only(void **s)
{
	void *st2 = NULL;

	(void)s;
	mamori_module_stop(&usb_module, state);
	state = NULL;
	set_policy("{\"usb\":{\"default\":\"block\",\"ports\":\"internal_only\"}}");
	assert_int_equal(mamori_module_start(&usb_module, &ctx, &st2), 0);
	assert_string_equal(attr(hub, "authorized_default"), "2");
	assert_string_equal(attr(hub, "interface_authorized_default"), "0");
	mamori_module_stop(&usb_module, st2);
	/* back to the common setup for the teardown */
	set_policy(BASE_POLICY);
	assert_int_equal(mamori_module_start(&usb_module, &ctx, &state), 0);
	assert_string_equal(attr(hub, "authorized_default"), "0");
}

/* A policy rejected at start leaves the gate on its built-in fail-closed
 * rules (the core's defaults_on_reject, issue 19.5): the module starts and
 * the stick the base policy would allow stays blocked (MEDIA-1). A policy
 * rejected later keeps the rules in force. */
static void test_rejected_policy(void **s)
{
	(void)s;
	mamori_module_stop(&usb_module, state);
	state = NULL;
	set_policy("{\"usb\":{\"default\":\"allow-everything\"}}");
	assert_int_equal(mamori_module_start(&usb_module, &ctx, &state), 0);
	char *a = add(30, 0x0781, 0x5581, "4C530001", STORAGE, 1);
	assert_string_equal(attr(a, "authorized"), "0");
	del(a);
	mamori_module_stop(&usb_module, state);
	state = NULL;
	/* carry.approvals rejected: the same */
	set_policy("{\"usb\":{\"default\":\"allow\"},\"carry\":{\"approvals\":7}}");
	assert_int_equal(mamori_module_start(&usb_module, &ctx, &state), 0);
	a = add(31, 0x0781, 0x5581, "4C530001", STORAGE, 1);
	assert_string_equal(attr(a, "authorized"), "0");
	del(a);
	mamori_module_stop(&usb_module, state);
	state = NULL;
	/* running on the base policy, a rejected one changes nothing */
	set_policy(BASE_POLICY);
	assert_int_equal(mamori_module_start(&usb_module, &ctx, &state), 0);
	set_policy("{\"usb\":{\"default\":\"allow-everything\"}}");
	assert_true(mamori_module_reload(&usb_module, &ctx, &state) < 0);
	a = add(32, 0x0781, 0x5581, "4C530001", STORAGE, 1);
	assert_string_equal(attr(a, "authorized"), "1");
	del(a);
}

static void test_allowed_and_unknown(void **s)
{
	(void)s;
	char *a = add(1, 0x0781, 0x5581, "4C530001", STORAGE, 1);
	char *b = add(2, 0x0781, 0x5581, "DEADBEEF", STORAGE, 1);
	assert_string_equal(attr(a, "authorized"), "1");
	assert_string_equal(attr(b, "authorized"), "0");
	const struct rec *ea = last_event(NULL, "1-1"), *eb = last_event(NULL, "1-2");
	assert_non_null(ea);
	assert_non_null(eb);
	assert_string_equal(ea->type, "usb.allowed");
	assert_string_equal(pstr(ea->payload, "rule"), "kiosk-stick-1");
	assert_non_null(strstr(ea->reqs, "MEDIA-1"));
	assert_string_equal(eb->type, "usb.blocked");
	assert_string_equal(pstr(eb->payload, "reason"), "default");
	assert_string_equal(id_str(eb, "serial"), "DEADBEEF");
	assert_int_equal(strlen(id_str(eb, "hash")), 64);
	assert_non_null(last_event("usb.attached", "1-2"));
	del(a);
	del(b);
}

static void test_composite_only_permitted_interface(void **s)
{
	(void)s;
	char probe[4096];
	snprintf(probe, sizeof(probe), "%s/sys/bus/usb", tbroot);
	g_mkdir_with_parents(probe, 0755);
	strncat(probe, "/drivers_probe", sizeof(probe) - strlen(probe) - 1);
	FILE *f = fopen(probe, "we");
	assert_non_null(f);
	fclose(f);

	char *d = add(3, 0x1234, 0x0042, "COMBO1", KBD_STORAGE, 2);
	/* unknown device, but its keyboard is allowed by the interface rules */
	assert_string_equal(attr(d, "authorized"), "1");
	const struct rec *e = last_event("usb.allowed", "1-3");
	assert_non_null(e);
	assert_string_equal(pstr(e->payload, "reason"), "interfaces");
	assert_non_null(strstr(e->reqs, "MEDIA-5"));

	const char *pst[] = {"DEVTYPE", "usb_interface", "INTERFACE", "8/6/80", "PRODUCT", "1234/42/100"};
	const char *pkb[] = {"DEVTYPE", "usb_interface", "INTERFACE", "3/1/1", "PRODUCT", "1234/42/100"};
	char *st = add_child(d, "usb", "1-3:1.0", pst, "authorized", "0");
	char *kb = add_child(d, "usb", "1-3:1.1", pkb, "authorized", "0");
	assert_string_equal(attr(st, "authorized"), "0");
	assert_string_equal(attr(kb, "authorized"), "1");
	/* the keyboard was re-probed so that its driver binds */
	char buf[64] = "";
	f = fopen(probe, "re");
	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	assert_string_equal(buf, "1-3:1.1");
	const struct rec *b = last_event("usb.blocked", "1-3");
	assert_non_null(b);
	assert_string_equal(pstr(b->payload, "interface"), "08:06:50");
	g_free(st);
	g_free(kb);
	del(d);
}

static void test_twins_by_port_and_hash(void **s)
{
	(void)s;
	char *a = add(4, 0xabcd, 0x0001, NULL, STORAGE, 1);
	char *b = add(5, 0xabcd, 0x0001, NULL, STORAGE, 1);
	assert_string_equal(attr(a, "authorized"), "1");
	assert_string_equal(attr(b, "authorized"), "0");
	const struct rec *ea = last_event(NULL, "1-4"), *eb = last_event(NULL, "1-5");
	/* serial-less twins have the same hash: only the port tells them apart */
	assert_string_equal(id_str(ea, "hash"), id_str(eb, "hash"));
	char hash_twin[65];
	snprintf(hash_twin, sizeof(hash_twin), "%s", id_str(ea, "hash"));
	del(a);
	del(b);

	/* with serials, two sticks of one model have different hashes; pin one */
	char *c = add(6, 0x0951, 0x1666, "SER-A", STORAGE, 1);
	char *d = add(7, 0x0951, 0x1666, "SER-B", STORAGE, 1);
	char ha[65];
	snprintf(ha, sizeof(ha), "%s", id_str(last_event(NULL, "1-6"), "hash"));
	assert_string_not_equal(ha, id_str(last_event(NULL, "1-7"), "hash"));
	assert_string_not_equal(ha, hash_twin);
	del(c);
	del(d);
	char pol[2048];
	snprintf(pol, sizeof(pol),
	         "{\"usb\":{\"default\":\"block\",\"rules\":[{\"id\":\"pinned\",\"action\":\"allow\","
	         "\"match\":{\"hash\":\"%s\"}}]}}",
	         ha);
	set_policy(pol);
	assert_int_equal(mamori_module_reload(&usb_module, &ctx, &state), 0);
	c = add(6, 0x0951, 0x1666, "SER-A", STORAGE, 1);
	d = add(7, 0x0951, 0x1666, "SER-B", STORAGE, 1);
	assert_string_equal(attr(c, "authorized"), "1");
	assert_string_equal(attr(d, "authorized"), "0");
	assert_string_equal(pstr(last_event(NULL, "1-6")->payload, "rule"), "pinned");
	del(c);
	del(d);
}

static void test_removal(void **s)
{
	(void)s;
	size_t before = usb_module_tracked(state);
	char *a = add(8, 0x0781, 0x5581, "4C530001", STORAGE, 1);
	assert_int_equal(usb_module_tracked(state), before + 1);
	size_t det = count_events("usb.detached");
	del(a);
	assert_int_equal(usb_module_tracked(state), before);
	assert_int_equal(count_events("usb.detached"), det + 1);
	/* the same port again: decided afresh */
	a = add(8, 0x0781, 0x5581, "OTHER", STORAGE, 1);
	assert_string_equal(attr(a, "authorized"), "0");
	del(a);
}

static atomic_bool burst_done;

/* the agent side of the burst: mamorid's loop reads while devices arrive
 * (umockdev's emulated socket holds only ~10 datagrams, like a slow reader) */
static void *agent_thread(void *arg)
{
	(void)arg;
	int fds[MAMORI_MODULE_MAX_FDS];
	int n = usb_module.fds(state, fds, MAMORI_MODULE_MAX_FDS);
	if (n < 1)
		return (void *)1;
	for (;;) {
		struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
		int r = poll(&pfd, 1, 30);
		if (r < 0)
			return (void *)1;
		if (r == 0 && atomic_load(&burst_done))
			return NULL;
		if (r > 0 && usb_module.on_ready(state, fds[0], POLLIN) < 0)
			return (void *)1;
	}
}

static void test_burst_100(void **s)
{
	(void)s;
	char *paths[100];
	char serial[32];
	pthread_t t;
	void *tr = NULL;
	for (int i = 0; i < 100; i++) {
		snprintf(serial, sizeof(serial), "B%03d", i);
		paths[i] = add_dev_raw(10 + i, 0x0781, 0x5581, i % 2 ? serial : "4C530001", STORAGE, 1);
	}
	atomic_store(&burst_done, false);
	assert_int_equal(pthread_create(&t, NULL, agent_thread, NULL), 0);
	size_t base = atomic_load(&n_attached);
	if (!auto_uevent)
		for (int i = 0; i < 100; i++) {
			/* never more than 8 unanswered: umockdev aborts on a full socket */
			for (int w = 0; w < 5000 && (size_t)i - (atomic_load(&n_attached) - base) >= 8; w++)
				usleep(200);
			uevent(paths[i], "add");
		}
	atomic_store(&burst_done, true);
	assert_int_equal(pthread_join(t, &tr), 0);
	assert_null(tr);
	pump();
	for (int i = 0; i < 100; i++) {
		char port[16];
		snprintf(port, sizeof(port), "1-%d", 10 + i);
		assert_string_equal(attr(paths[i], "authorized"), i % 2 ? "0" : "1");
		assert_non_null(last_event(i % 2 ? "usb.blocked" : "usb.allowed", port));
	}
	for (int i = 0; i < 100; i++) {
		uevent(paths[i], "remove");
		umockdev_testbed_remove_device(tb, paths[i]);
		g_free(paths[i]);
		if (i % 8 == 7)
			pump();
	}
	pump();
}

static void test_restart_with_devices_present(void **s)
{
	(void)s;
	char *a = add(1, 0x0781, 0x5581, "4C530001", STORAGE, 1);
	char *b = add(2, 0x0781, 0x5581, "NOPE", STORAGE, 1);
	mamori_module_stop(&usb_module, state);
	state = NULL;
	/* while the agent was down someone flipped both */
	set_attr(a, "authorized", "0");
	set_attr(b, "authorized", "1");
	set_attr(hub, "authorized_default", "1");
	clear_events();
	assert_int_equal(mamori_module_start(&usb_module, &ctx, &state), 0);
	assert_string_equal(attr(hub, "authorized_default"), "0");
	assert_string_equal(attr(a, "authorized"), "1");
	assert_string_equal(attr(b, "authorized"), "0");
	const struct rec *e = last_event("usb.blocked", "1-2");
	assert_non_null(e);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e->payload, "present")));

	/* "keep": present devices are recorded, not changed */
	mamori_module_stop(&usb_module, state);
	state = NULL;
	set_attr(b, "authorized", "1");
	set_policy("{\"usb\":{\"default\":\"block\",\"present_devices\":\"keep\"}}");
	assert_int_equal(mamori_module_start(&usb_module, &ctx, &state), 0);
	assert_string_equal(attr(b, "authorized"), "1");
	set_attr(b, "authorized", "0");
	del(a);
	del(b);
}

/* A hostile device: strings with invalid UTF-8, control bytes, embedded NUL,
 * 4 KiB length; descriptors with absurd lengths and 255 interfaces. */
static void test_hostile_device(void **s)
{
	(void)s;
	char *p = add_dev_raw(9, 0x0781, 0x5581, NULL, STORAGE, 1);
	char big[4096];
	memset(big, 'A', sizeof(big));
	big[10] = '\0';
	big[11] = '\x1b';
	big[12] = (char)0xff;
	big[13] = (char)0xc0;
	umockdev_testbed_set_attribute_binary(tb, p, "serial", (guint8 *)big, sizeof(big));
	static guint8 prod[] = "\xe3\x81\n\x07\x00x";
	umockdev_testbed_set_attribute_binary(tb, p, "product", prod, 6);
	/* device descriptor, a config claiming 60000 bytes, 255 interface
	 * descriptors, then a 0-length descriptor */
	static uint8_t d[18 + 9 + 255 * 9 + 2];
	size_t o = 18;
	uint8_t dd[18] = {18, 1, 0, 2, 0, 0, 0, 64, 0x81, 0x07, 0x81, 0x55, 0, 1, 1, 2, 3, 1};
	memcpy(d, dd, 18);
	uint8_t cd[9] = {9, 2, 0x60, 0xea, 255, 1, 0, 0x80, 50};
	memcpy(d + o, cd, 9);
	o += 9;
	for (int i = 0; i < 255; i++) {
		uint8_t id[9] = {9, 4, (uint8_t)i, 0, 0, (uint8_t)(i % 2 ? 0x08 : 0xff), 6, 0x50, 0};
		memcpy(d + o, id, 9);
		o += 9;
	}
	d[o++] = 0;
	d[o++] = 4;
	umockdev_testbed_set_attribute_binary(tb, p, "descriptors", d, o);
	if (!auto_uevent)
		uevent(p, "add");
	pump();
	const struct rec *e = last_event(NULL, "1-9");
	assert_non_null(e);
	assert_string_equal(e->type, "usb.blocked");
	assert_string_equal(attr(p, "authorized"), "0");
	/* descriptor strings are journaled exactly (docs/EVENTS.md, issue 12.6):
	 * a 4 KiB serial was not read whole: null, named in too_long; bytes
	 * that are not UTF-8 without NUL as {"$bytes": base64}, never escaped */
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(e->payload, "device");
	assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(id, "serial")));
	assert_string_equal(
	        cJSON_GetStringValue(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(id, "too_long"), 0)),
	        "serial");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
	                            cJSON_GetObjectItemCaseSensitive(id, "name"), "$bytes")),
	                    "44EKBwB4");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(id, "descriptors_malformed")));
	assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(id, "interfaces_truncated")));
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(id, "interfaces")), 32);
	/* everything printed must be valid UTF-8 JSON */
	char *txt = cJSON_PrintUnformatted(e->payload);
	assert_non_null(txt);
	cJSON *back = cJSON_Parse(txt);
	assert_non_null(back);
	cJSON_Delete(back);
	free(txt);
	/* no descriptors at all: still decided */
	char *q = add_dev_raw(11, 0x0781, 0x5581, "4C530001", STORAGE, 1);
	static guint8 one[] = {0x12};
	umockdev_testbed_set_attribute_binary(tb, q, "descriptors", one, 1);
	if (!auto_uevent)
		uevent(q, "add");
	pump();
	assert_string_equal(attr(q, "authorized"), "0");
	del(p);
	del(q);
}

/* ---- media: real loop devices behind the testbed's /dev nodes ----------- */

/* umockdev's preload answers ENOTTY to ioctls on fds opened through "/dev/…"
 * paths; the test reaches the real loop device through its own node */
static const char *realnode(const char *dev)
{
	static char buf[2][4096];
	static int k;
	struct stat st;
	char *b = buf[k++ % 2];
	assert_int_equal(stat(dev, &st), 0);
	assert_true(S_ISBLK(st.st_mode));
	snprintf(b, 4096, "%s/realdev-%u-%u", tbroot, major(st.st_rdev), minor(st.st_rdev));
	if (access(b, F_OK) != 0)
		assert_int_equal(mknod(b, S_IFBLK | 0600, st.st_rdev), 0);
	return b;
}

static int loop_ro(const char *dev)
{
	int fd = open(realnode(dev), O_RDONLY | O_CLOEXEC), ro = -1;
	assert_true(fd >= 0);
	assert_int_equal(ioctl(fd, BLKROGET, &ro), 0);
	close(fd);
	return ro;
}

static void loop_set_rw(const char *dev)
{
	int fd = open(realnode(dev), O_RDONLY | O_CLOEXEC), zero = 0;
	assert_true(fd >= 0);
	assert_int_equal(ioctl(fd, BLKROSET, &zero), 0);
	close(fd);
}

/* stick on port, its storage interface, and a disk whose testbed node is a
 * symlink to the real loop device `loop` */
static char *add_stick_with_disk(int port, const char *serial, const char *disk, const char *loop, char **ret_intf,
                                 char **ret_blk)
{
	char name[32], devname[32], node[4096];
	char *d = add(port, 0x0781, 0x5581, serial, STORAGE, 1);
	snprintf(name, sizeof(name), "1-%d:1.0", port);
	const char *pi[] = {"DEVTYPE", "usb_interface", "INTERFACE", "8/6/80", "PRODUCT", "781/5581/100"};
	*ret_intf = add_child(d, "usb", name, pi, "authorized", "0");
	snprintf(devname, sizeof(devname), "/dev/%s", disk);
	char *b = umockdev_testbed_add_device(tb, "block", disk, *ret_intf, "ro", "0", NULL, "DEVTYPE", "disk",
	                                      "DEVNAME", devname, NULL);
	assert_non_null(b);
	snprintf(node, sizeof(node), "%s/dev", tbroot);
	g_mkdir_with_parents(node, 0755);
	snprintf(node, sizeof(node), "%s/dev/%s", tbroot, disk);
	unlink(node);
	/* the link's target is named inside the root: root_path() resolves
	 * absolute links within the testbed root, as a chroot would */
	if (symlink(realnode(loop) + strlen(tbroot), node) != 0)
		fail_msg("symlink %s: %s", node, strerror(errno));
	if (!auto_uevent)
		uevent(b, "add");
	pump();
	*ret_blk = b;
	return d;
}

static const char *loop_plain, *loop_luks;

static void media_cleanup(char *d, char *i, char *b, const char *disk)
{
	char node[4096];
	uevent(b, "remove");
	umockdev_testbed_remove_device(tb, b);
	snprintf(node, sizeof(node), "%s/dev/%s", tbroot, disk);
	unlink(node);
	g_free(b);
	g_free(i);
	del(d);
}

static void test_encryption_required(void **s)
{
	(void)s;
	char *i, *b, *d;
	set_policy("{\"usb\":{\"default\":\"block\",\"rules\":[{\"id\":\"staff-sticks\",\"action\":\"allow\","
	           "\"match\":{\"vendor\":\"0781\",\"product\":\"5581\"}}],"
	           "\"encryption\":{\"required\":true,\"plain_action\":\"readonly\"}}}");
	assert_int_equal(mamori_module_reload(&usb_module, &ctx, &state), 0);
	loop_set_rw(loop_plain);
	loop_set_rw(loop_luks);

	/* LUKS2 (real header from cryptsetup): stays writable */
	d = add_stick_with_disk(20, "LUKS1", "sdx", loop_luks, &i, &b);
	assert_string_equal(attr(d, "authorized"), "1");
	const struct rec *e = last_event("usb.allowed", "1-20");
	assert_non_null(e);
	assert_string_equal(pstr(e->payload, "encryption"), "luks");
	assert_int_equal(loop_ro(loop_luks), 0);
	media_cleanup(d, i, b, "sdx");

	/* plain ext4: read-only, verified with BLKROGET, reason in the event */
	d = add_stick_with_disk(21, "PLAIN1", "sdy", loop_plain, &i, &b);
	e = last_event("usb.readonly", "1-21");
	assert_non_null(e);
	assert_string_equal(pstr(e->payload, "reason"), "plain_media");
	assert_string_equal(pstr(e->payload, "encryption"), "plain");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e->payload, "readonly_verified")));
	assert_non_null(strstr(e->reqs, "MEDIA-3"));
	assert_int_equal(loop_ro(loop_plain), 1);
	/* someone (or a kernel re-probe) makes it writable: the change event re-applies */
	loop_set_rw(loop_plain);
	uevent(b, "change");
	pump();
	assert_int_equal(loop_ro(loop_plain), 1);
	assert_true(cJSON_IsTrue(
	        cJSON_GetObjectItemCaseSensitive(last_event("usb.readonly", "1-21")->payload, "reapplied")));
	media_cleanup(d, i, b, "sdy");
	loop_set_rw(loop_plain);

	/* plain_action block: the storage interface is deauthorized */
	set_policy("{\"usb\":{\"default\":\"block\",\"rules\":[{\"id\":\"enc-only\",\"action\":\"allow_if_encrypted\","
	           "\"match\":{\"vendor\":\"0781\"}}],\"encryption\":{\"required\":true,\"plain_action\":\"block\"}}}");
	assert_int_equal(mamori_module_reload(&usb_module, &ctx, &state), 0);
	d = add_stick_with_disk(22, "PLAIN2", "sdz", loop_plain, &i, &b);
	e = last_event("usb.blocked", "1-22");
	assert_non_null(e);
	assert_string_equal(pstr(e->payload, "reason"), "plain_media");
	assert_string_equal(attr(i, "authorized"), "0");
	assert_int_equal(loop_ro(loop_plain), 0);
	media_cleanup(d, i, b, "sdz");
}

static void test_readonly_and_approval(void **s)
{
	(void)s;
	char *i, *b, *d, pol[2048];
	time_t now = time(NULL);
	char nb[32], na[32], old[32];
	strftime(nb, sizeof(nb), "%Y-%m-%dT%H:%M:%SZ", gmtime(&(time_t){now - 3600}));
	strftime(na, sizeof(na), "%Y-%m-%dT%H:%M:%SZ", gmtime(&(time_t){now + 3600}));
	strftime(old, sizeof(old), "%Y-%m-%dT%H:%M:%SZ", gmtime(&(time_t){now - 60}));
	snprintf(pol, sizeof(pol),
	         "{\"usb\":{\"default\":\"block\",\"write_requires_approval\":true,\"rules\":["
	         "{\"id\":\"archive\",\"action\":\"readonly\",\"match\":{\"serial\":\"ARCHIVE\"}},"
	         "{\"id\":\"sticks\",\"action\":\"allow\",\"match\":{\"vendor\":\"0781\"}}]},"
	         "\"carry\":{\"approvals\":[{\"id\":\"A-1\",\"person\":\"yamada\",\"medium\":{\"vendor\":\"0781\","
	         "\"product\":\"5581\",\"serial\":\"OK1\"},\"not_before\":\"%s\",\"not_after\":\"%s\"},"
	         "{\"id\":\"A-old\",\"person\":\"yamada\",\"medium\":{\"vendor\":\"0781\",\"product\":\"5581\","
	         "\"serial\":\"OLD1\"},\"not_before\":\"%s\",\"not_after\":\"%s\"}]}}",
	         nb, na, nb, old);
	set_policy(pol);
	assert_int_equal(mamori_module_reload(&usb_module, &ctx, &state), 0);
	loop_set_rw(loop_luks);

	/* MEDIA-4: archive medium read-only */
	d = add_stick_with_disk(23, "ARCHIVE", "sdv", loop_luks, &i, &b);
	const struct rec *e = last_event("usb.readonly", "1-23");
	assert_non_null(e);
	assert_non_null(strstr(e->reqs, "MEDIA-4"));
	assert_int_equal(loop_ro(loop_luks), 1);
	media_cleanup(d, i, b, "sdv");
	loop_set_rw(loop_luks);

	/* MEDIA-2, CARRY-2: even with a valid approval the gate holds it
	 * read-only; the carry module's write gate (mamori-worker) opens it
	 * for the approved person, within the window. The record names the
	 * approval. */
	d = add_stick_with_disk(24, "OK1", "sdw", loop_luks, &i, &b);
	e = last_event("usb.readonly", "1-24");
	assert_non_null(e);
	assert_string_equal(pstr(e->payload, "reason"), "write_requires_approval");
	assert_string_equal(pstr(e->payload, "approval"), "A-1");
	assert_int_equal(loop_ro(loop_luks), 1);
	media_cleanup(d, i, b, "sdw");
	loop_set_rw(loop_luks);

	/* expired approval: read-only */
	d = add_stick_with_disk(25, "OLD1", "sdu", loop_luks, &i, &b);
	e = last_event("usb.readonly", "1-25");
	assert_non_null(e);
	assert_string_equal(pstr(e->payload, "reason"), "write_requires_approval");
	assert_non_null(strstr(e->reqs, "MEDIA-2"));
	assert_int_equal(loop_ro(loop_luks), 1);
	media_cleanup(d, i, b, "sdu");
	loop_set_rw(loop_luks);
}

int main(void)
{
	if (geteuid() != 0) {
		fprintf(stderr, "usb_gate: FAIL: must run as root (BLKROSET on loop devices)\n");
		return 1;
	}
	/* as in mamori-worker; mamorid asks the worker for the same digest */
	loop_plain = getenv("MAMORI_LOOP_PLAIN");
	loop_luks = getenv("MAMORI_LOOP_LUKS");
	if (!loop_plain || !loop_luks) {
		fprintf(stderr, "usb_gate: FAIL: MAMORI_LOOP_PLAIN / MAMORI_LOOP_LUKS not set (run usb_gate.sh)\n");
		return 1;
	}
	/* ask before the testbed exists, so that add_device() does not send
	 * "add" by itself (TESTING.md); the tests adapt either way */
	auto_uevent = umockdev_in_mock_environment();
	tb = umockdev_testbed_new();
	tbroot = umockdev_testbed_get_root_dir(tb);
	/* the module sees the testbed through its root prefix (sysfs reads and
	 * writes, /dev nodes); libudev sees it through the umockdev preload */
	assert_int_equal(root_set(tbroot), 0);
	char *pci = umockdev_testbed_add_device(tb, "pci", "0000:00:14.0", NULL, "vendor", "0x8086", NULL, "PCI_CLASS",
	                                        "C0330", NULL);
	hub = umockdev_testbed_add_device(tb, "usb", "usb1", pci, "idVendor", "1d6b", "idProduct", "0002", "authorized",
	                                  "1", "authorized_default", "1", "interface_authorized_default", "1", NULL,
	                                  "DEVTYPE", "usb_device", NULL);
	g_free(pci);
	mamori_set_section_source(section);
	fprintf(stderr, "testbed %s, add_device sends uevents: %d\n", tbroot, auto_uevent);

	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_hub_fail_closed, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_hub_internal_only, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_rejected_policy, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_allowed_and_unknown, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_composite_only_permitted_interface, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_twins_by_port_and_hash, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_removal, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_burst_100, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_restart_with_devices_present, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_hostile_device, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_encryption_required, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_readonly_and_approval, setup, teardown),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	clear_events();
	cJSON_Delete(policy);
	g_free(hub);
	g_object_unref(tb);
	return rc;
}
