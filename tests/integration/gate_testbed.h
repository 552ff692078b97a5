/* tests/integration/gate_testbed.h — what the gate's process tests share
 * (gate.c, gate_config.c, gate_stress.c): a umockdev testbed with one root hub,
 * devices plugged into it, sysfs reads, shell commands without the ASan
 * preload, the worker's control socket, the root installed and mamorid
 * started on it. Header-only: each test is one
 * program (test code, not product code). */
#ifndef MAMORI_GATE_TESTBED_H
#define MAMORI_GATE_TESTBED_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <umockdev.h>

#include "control.h"
#include "usb_testbed.h"
#include "json-util.h"

static UMockdevTestbed *tb;
static const char *tbroot, *bindir, *prep;
static char *hub;
static int auto_uevent, devnum = 2;
static pid_t gate;

static inline const char *attr(const char *syspath, const char *a)
{
	static char b[4096], v[256];

	snprintf(b, sizeof(b), "%s%s/%s", tbroot, syspath, a);
	usbtb_read_line(b, v, sizeof(v));
	return v;
}

static inline bool wait_attr(const char *syspath, const char *a, const char *want, int ms)
{
	for (int i = 0; i < ms / 10; i++) {
		if (strcmp(attr(syspath, a), want) == 0)
			return true;
		usleep(10000);
	}
	return strcmp(attr(syspath, a), want) == 0;
}

static inline char *insert_class(int port, const char *vid, const char *pid, const char *serial, uint8_t cls);

static inline char *insert(int port, const char *vid, const char *pid, const char *serial)
{
	return insert_class(port, vid, pid, serial, 8);
}

/* A device whose one interface has class cls (8: mass storage). */
static inline char *insert_class(int port, const char *vid, const char *pid, const char *serial, uint8_t cls)
{
	char name[16], dn[8], dn3[8], prod[32];
	/* device, configuration, one mass-storage interface */
	uint8_t desc[36] = {18, 1, 0,  2, 0, 0, 0, 64,   0,  0, 0, 0, 0, 1, 1, 2, 3,    1,
	                    9,  2, 18, 0, 1, 1, 0, 0x80, 50, 9, 4, 0, 0, 0, 8, 6, 0x50, 0};
	const char *init = strcmp(attr(hub, "authorized_default"), "0") == 0 ? "0" : "1";
	int d = devnum++;
	char *p;

	unsigned v = (unsigned)strtoul(vid, NULL, 16), pr = (unsigned)strtoul(pid, NULL, 16);

	desc[8] = (uint8_t)v, desc[9] = (uint8_t)(v >> 8), desc[10] = (uint8_t)pr, desc[11] = (uint8_t)(pr >> 8);
	desc[32] = cls;
	snprintf(name, sizeof(name), "1-%d", port);
	snprintf(dn, sizeof(dn), "%d", d);
	snprintf(dn3, sizeof(dn3), "%03d", d);
	snprintf(prod, sizeof(prod), "%s/%s/100", vid, pid);
	p = umockdev_testbed_add_device(tb, "usb", name, hub, "idVendor", vid, "idProduct", pid, "bDeviceClass", "00",
	                                "manufacturer", "ACME", "product", "Stick", "authorized", init, "busnum", "1",
	                                "devnum", dn, "port/connect_type", "hotplug", NULL, "DEVTYPE", "usb_device",
	                                "PRODUCT", prod, "TYPE", "0/0/0", "BUSNUM", "001", "DEVNUM", dn3, NULL);
	assert_non_null(p);
	umockdev_testbed_set_attribute(tb, p, "serial", serial);
	umockdev_testbed_set_attribute_binary(tb, p, "descriptors", desc, sizeof(desc));
	if (!auto_uevent)
		umockdev_testbed_uevent(tb, p, "add");
	return p;
}

/* One request to the worker's control socket (NULL if it does not answer). */
static inline cJSON *control(const char *req)
{
	char sock[4096];
	char *resp = NULL;
	cJSON *j;

	snprintf(sock, sizeof(sock), "%s/run/mamori/mamorid.sock", tbroot);
	if (control_call(sock, req, 2000, &resp) < 0)
		return NULL;
	j = cJSON_Parse(resp);
	free(resp);
	return j;
}

/* cmd by /bin/sh without the ASan preload: its exit status (-1: did not run) */
static inline int run_quiet(const char *cmd)
{
	pid_t p = fork();
	int st = 0;

	if (p == 0) {
		unsetenv("LD_PRELOAD");
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	if (p < 0 || waitpid(p, &st, 0) != p)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static inline int run(const char *cmd)
{
	int rc = run_quiet(cmd);

	if (rc != 0)
		fprintf(stderr, "command failed (%d): %s\n", rc, cmd);
	return rc;
}

/* A NOTIFY_SOCKET as systemd provides it (Type=notify). */
static int notify_fd = -1;
static char notify_path[100];

static inline void notify_listen(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	snprintf(notify_path, sizeof(notify_path), "%s/notify.sock", prep);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", notify_path);
	notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(notify_fd >= 0);
	assert_int_equal(bind(notify_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	setenv("NOTIFY_SOCKET", notify_path, 1);
}

/* true if a datagram containing want arrives (each within ms of the last) */
static inline bool notify_expect(const char *want, int ms)
{
	for (;;) {
		struct pollfd p = {.fd = notify_fd, .events = POLLIN};
		char buf[512];
		ssize_t n;

		if (poll(&p, 1, ms) <= 0)
			return false;
		n = recv(notify_fd, buf, sizeof(buf) - 1, 0);
		if (n <= 0)
			return false;
		buf[n] = '\0';
		if (strstr(buf, want))
			return true;
	}
}

/* Drop every datagram waiting. */
static inline void notify_drain(void)
{
	char buf[512];

	while (recv(notify_fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

/* The worker, once it is ready and knows this gate (its hello), or -1. */
static inline pid_t worker_pid(int wait_ms)
{
	for (int i = 0; i < wait_ms / 50; i++) {
		_cleanup_json_ cJSON *s = control("{\"cmd\":\"status\"}");
		const cJSON *pid = s ? cJSON_GetObjectItemCaseSensitive(s, "pid") : NULL;
		const cJSON *gp = s ? cJSON_GetObjectItemCaseSensitive(s, "gate_pid") : NULL;

		/* ready when the worker knows the gate (hello) */
		if (cJSON_IsNumber(pid) && cJSON_IsNumber(gp) && (pid_t)gp->valuedouble == gate)
			return (pid_t)pid->valuedouble;
		usleep(50000);
	}
	return -1;
}

/* The testbed: a PCI host controller and its root hub "usb1" with the given
 * authorized_default. MAMORI_BIN and MAMORI_PREP come from the .sh driver. */
static inline int testbed_setup(const char *name, const char *hub_default)
{
	char *pci;

	bindir = getenv("MAMORI_BIN");
	prep = getenv("MAMORI_PREP");
	if (!bindir || !prep) {
		fprintf(stderr, "%s: FAIL: run through %s.sh\n", name, name);
		return -1;
	}
	auto_uevent = umockdev_in_mock_environment();
	tb = umockdev_testbed_new();
	tbroot = umockdev_testbed_get_root_dir(tb);
	pci = umockdev_testbed_add_device(tb, "pci", "0000:00:14.0", NULL, "vendor", "0x8086", NULL, "PCI_CLASS",
	                                  "C0330", NULL);
	hub = umockdev_testbed_add_device(tb, "usb", "usb1", pci, "idVendor", "1d6b", "idProduct", "0002", "authorized",
	                                  "1", "authorized_default", hub_default, "interface_authorized_default",
	                                  hub_default, NULL, "DEVTYPE", "usb_device", NULL);
	g_free(pci);
	return 0;
}

/* The prepared agent.conf, policy key, policy and its signature (MAMORI_PREP)
 * into the testbed's root, as the package installs them. */
static inline int testbed_install_root(void)
{
	char cmd[8192];

	snprintf(cmd, sizeof(cmd),
	         "mkdir -p %s/etc/mamori %s/var/lib/mamori && cp %s/agent.conf %s/policy.pub %s/etc/mamori/ && "
	         "cp %s/policy.json %s/policy.json.sig %s/var/lib/mamori/",
	         tbroot, tbroot, prep, prep, tbroot, prep, prep, tbroot);
	return run(cmd);
}

/* mamorid on the testbed's root, its stderr into MAMORI_PREP/gate.log
 * (log_mode "w": a new log, "a": appended); the pid in `gate`. */
static inline pid_t testbed_start_gate(const char *log_mode)
{
	gate = fork();
	if (gate == 0) {
		char path[4096], log[4096];

		snprintf(path, sizeof(path), "%s/mamorid", bindir);
		snprintf(log, sizeof(log), "%s/gate.log", prep);
		if (!freopen(log, log_mode, stderr))
			_exit(126);
		execl(path, "mamorid", "--root", tbroot, "--foreground", "--log-level", "debug", (char *)NULL);
		_exit(127);
	}
	return gate;
}

/* mamorid --root tbroot (stderr to prep/logname), until its worker is ready */
static inline void gate_start(const char *logname)
{
	gate = fork();
	assert_true(gate >= 0);
	if (gate == 0) {
		char path[4096], log[4096];
		snprintf(path, sizeof(path), "%s/mamorid", bindir);
		snprintf(log, sizeof(log), "%s/%s", prep, logname);
		if (!freopen(log, "w", stderr))
			_exit(126);
		execl(path, "mamorid", "--root", tbroot, "--foreground", "--log-level", "debug", (char *)NULL);
		_exit(127);
	}
	assert_true(worker_pid(8000) > 0);
}

/* SIGTERM, and it exits 0 */
static inline void gate_stop(void)
{
	int st;

	assert_int_equal(kill(gate, SIGTERM), 0);
	assert_int_equal(waitpid(gate, &st, 0), gate);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	gate = 0;
}

/* The contents of prep/name (a static buffer; "" if unreadable) */
static inline const char *prep_read(const char *name)
{
	static char buf[1 << 20];
	char p[4096];
	FILE *f;
	size_t n;

	snprintf(p, sizeof(p), "%s/%s", prep, name);
	f = fopen(p, "re");
	buf[0] = '\0';
	if (!f)
		return buf;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* One step on the server's side of a request test (tests/integration/
 * usb_requests_steps.bash, run without the ASan preload): its exit status;
 * its stdout in prep/step.out, whose first line step_out() gives. */
static inline int __attribute__((format(printf, 1, 2))) step(const char *fmt, ...)
{
	char args[4096], cmd[8192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "bash %s/tests/integration/usb_requests_steps.bash %s > %s/step.out",
	         getenv("MAMORI_SRC"), args, prep);
	return run_quiet(cmd);
}

static inline const char *step_out(void)
{
	static char b[4096];
	const char *r = prep_read("step.out");
	size_t k = strcspn(r, "\n");

	if (k >= sizeof(b))
		k = sizeof(b) - 1;
	memcpy(b, r, k);
	b[k] = '\0';
	return b;
}

/* mamorictl on the testbed root with args (printf), stdout to prep/out.txt,
 * stderr to prep/err.txt (prep_read them): its exit status. */
static inline int __attribute__((format(printf, 1, 2))) testbed_ctl(const char *fmt, ...)
{
	char args[4096], cmd[16384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "%s/mamorictl --root %s --lang en %s > %s/out.txt 2> %s/err.txt", bindir, tbroot,
	         args, prep, prep);
	return run(cmd);
}

static inline void testbed_teardown(void)
{
	if (gate > 0 && kill(gate, 0) == 0) {
		kill(gate, SIGKILL);
		waitpid(gate, NULL, 0);
	}
	g_free(hub);
	g_object_unref(tb);
}

/* The main() of a testbed program: the testbed made (hub_default as in
 * testbed_setup), the cmocka group `name` run on it, the testbed removed.
 * Returns the exit status. */
static inline int testbed_run_n(const char *name, const char *hub_default, const struct CMUnitTest *tests, size_t n)
{
	int rc;

	if (testbed_setup(name, hub_default) < 0)
		return 1;
	rc = _cmocka_run_group_tests(name, tests, n, NULL, NULL);
	testbed_teardown();
	return rc;
}
#define testbed_run(name, hub_default, tests)                                                                          \
	testbed_run_n(name, hub_default, tests, sizeof(tests) / sizeof((tests)[0]))

#endif
