/* tests/bench/bench_usb.c — `make bench` (tests/bench/usb.sh): the USB
 * decision latency, memory and CPU of a USB allowlist agent on a umockdev
 * testbed, for mamori (mamorid + mamori-worker, every module), mamori with
 * its worker stopped (SIGSTOP: the gate must not wait for it), USBGuard from
 * Debian (the reference) and a minimal agent (bench_usb_floor, the floor).
 * MEDIA-1; issue 23.6: the benchmark runs from a clone alone. Test code.
 *
 * The testbed: a PCI xHCI controller, root hub usb1 (authorized_default=1 as
 * the kernel leaves it), one allowed and one blocked device present. The
 * plan repeats four insertions: an allowed stick (0781:5581, listed serial),
 * the same model with an unlisted serial, another allowed stick, another
 * model; ports 1-3…1-6 in turn. One insertion: the device appears in sysfs
 * (no uevent yet; `authorized` starts at what the kernel would write given
 * the root hub's authorized_default), an inotify watch goes on its
 * `authorized`, t0 is taken and the "add" uevent sent. The decision instant
 * is the agent's write (IN_MODIFY). Two latencies: from the uevent call, and
 * from the sendmsg() that hands the message to the agent's socket
 * (`from_emit`: this file defines sendmsg, which libumockdev calls through
 * the PLT; building the message is umockdev's cost, the same for every
 * agent). Then "remove", the device goes, GAP ms pass.
 * Burst (-b ROUNDS): a 7-port hub with 7 sticks, all announced back to back;
 * the time until the last of the 8 is decided, and correctness. With -g 0
 * the insertions go back to back (issue 23.4): insertions_last_decided_us
 * is the time from the first uevent to the last decision. Every decision is
 * checked against the allowlist the agent was given (policy_allows), never
 * against the agent's own records. -d FILE: one line per decision (wall
 * clock, latencies), to find a slow one in an strace -tt or perf trace.
 * The agent runs on CPU 0, this driver on CPU 1 (a wake-up of the agent no
 * longer preempts the driver inside sendmsg()).
 * Output: one "key value" line per figure.
 *   usage: bench_usb -a mamori|mamori-stopped|usbguard|floor -B BINDIR
 *                    [-n N] [-g GAP_MS] [-b ROUNDS] [-w WORKDIR] [-d FILE]
 *   env UGB_SMAPS=FILE: the agent's /proc/PID/smaps at the end of the run. */

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <umockdev.h>

#include "usb_testbed.h"

static UMockdevTestbed *tb;
static const char *root, *agent = "", *bindir, *work;
static char benchdir[1024]; /* where this program, the floor and the shim are */
static char hub[512];
static int devnum = 2;
static double emit_ns; /* first sendmsg() after the current t0 */
static FILE *dump;     /* -d FILE: one line per decision, for finding the slow ones */

static double now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

/* wall clock (s), to find a decision in an strace -tt of the agent */
static double real_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* libumockdev sends every emulated uevent with sendmsg(): time the first. */
ssize_t sendmsg(int fd, const struct msghdr *m, int flags)
{
	static ssize_t (*real)(int, const struct msghdr *, int);

	if (!real)
		real = (ssize_t(*)(int, const struct msghdr *, int))dlsym(RTLD_NEXT, "sendmsg");
	if (emit_ns == 0)
		emit_ns = now_ns();
	/* a full socket queue (a burst faster than the agent reads) waits
	 * instead of failing: umockdev aborts on a failed send */
	for (int tries = 0;; tries++) {
		ssize_t n = real(fd, m, flags);
		struct pollfd pf = {.fd = fd, .events = POLLOUT};

		if (n >= 0 || errno != EAGAIN || tries >= 50)
			return n;
		poll(&pf, 1, 100);
	}
}

static void die(const char *what)
{
	fprintf(stderr, "bench_usb: %s: %s\n", agent, what);
	exit(1);
}

static const char *attr(const char *syspath, const char *a)
{
	static char p[1024], v[256];

	snprintf(p, sizeof(p), "%s%s/%s", root, syspath, a);
	usbtb_read_line(p, v, sizeof(v));
	return v;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");

	if (!f || fputs(text, f) < 0 || fclose(f) != 0)
		die(path);
}

/* ---- the plan ---------------------------------------------------------------- */

struct plug {
	uint16_t vid, pid;
	char serial[24];
	bool allow;
};

static void plan_at(size_t i, struct plug *p)
{
	static const uint16_t other[][2] = {{0x0951, 0x1666}, {0x046d, 0xc52b}, {0x0bda, 0x8153}};

	switch (i % 4) {
	case 0:
	case 2:
		*p = (struct plug){0x0781, 0x5581, "", true};
		snprintf(p->serial, sizeof(p->serial), "A%06zu", i);
		break;
	case 1:
		*p = (struct plug){0x0781, 0x5581, "", false};
		snprintf(p->serial, sizeof(p->serial), "B%06zu", i);
		break;
	default:
		*p = (struct plug){other[(i / 4) % 3][0], other[(i / 4) % 3][1], "", false};
		snprintf(p->serial, sizeof(p->serial), "C%06zu", i);
	}
}

/* burst round r, stick k (1..7): allowed when k is odd */
static void burst_at(size_t r, int k, struct plug *p)
{
	*p = (struct plug){0x0781, 0x5581, "", k % 2 == 1};
	snprintf(p->serial, sizeof(p->serial), "%c%02zu%d", p->allow ? 'H' : 'X', r % 100, k);
}

/* ---- the oracle ------------------------------------------------------------------- */

/* Every (vendor, product, serial) the agent's rules allow, collected while
 * the rules are written (each_allowed): a decision is checked against what
 * the policy says, not against the plan's allow flag or the agent's own
 * record of what it did. The hub is allowed by vendor and product alone. */
static struct plug *allowed;
static size_t n_allowed, cap_allowed;

static void oracle_add(const struct plug *p)
{
	if (n_allowed == cap_allowed) {
		size_t c = cap_allowed ? cap_allowed * 2 : 256;
		struct plug *a = realloc(allowed, c * sizeof(*a));

		if (!a)
			exit(1);
		allowed = a, cap_allowed = c;
	}
	allowed[n_allowed++] = *p;
}

static bool policy_allows(const struct plug *p)
{
	if (p->vid == 0x05e3 && p->pid == 0x0608)
		return true; /* the rule of the burst's hub (configure) */
	for (size_t i = 0; i < n_allowed; i++)
		if (allowed[i].vid == p->vid && allowed[i].pid == p->pid && strcmp(allowed[i].serial, p->serial) == 0)
			return true;
	return false;
}

/* ---- agent configuration ------------------------------------------------------ */

static void each_allowed(size_t n, size_t rounds, void (*fn)(FILE *, const struct plug *, bool), FILE *f)
{
	struct plug p = {0x0781, 0x5581, "P00001", true};
	bool first = true;

	n_allowed = 0;
	fn(f, &p, first);
	oracle_add(&p);
	first = false;
	for (size_t i = 0; i < n; i++) {
		plan_at(i, &p);
		if (p.allow)
			fn(f, &p, false), oracle_add(&p);
	}
	for (size_t r = 0; r < rounds; r++)
		for (int k = 1; k <= 7; k++) {
			burst_at(r, k, &p);
			if (p.allow)
				fn(f, &p, false), oracle_add(&p);
		}
}

static void rule_mamori(FILE *f, const struct plug *p, bool first)
{
	static int id;

	fprintf(f,
	        "%s{\"id\":\"bench-%d\",\"action\":\"allow\",\"match\":{\"vendor\":\"%04x\",\"product\":\"%04x\","
	        "\"serial\":\"%s\"},\"requirements\":[\"MEDIA-1\"]}",
	        first ? "" : ",", ++id, p->vid, p->pid, p->serial);
}

static void rule_usbguard(FILE *f, const struct plug *p, bool first)
{
	(void)first;
	fprintf(f, "allow id %04x:%04x serial \"%s\"\n", p->vid, p->pid, p->serial);
}

static void rule_floor(FILE *f, const struct plug *p, bool first)
{
	(void)first;
	fprintf(f, "%04x %04x %s\n", p->vid, p->pid, p->serial);
}

static int run_quiet(const char *cmd)
{
	pid_t c = fork();
	int st = 0;

	if (c == 0) {
		unsetenv("LD_PRELOAD");
		int nul = open("/dev/null", O_WRONLY);
		dup2(nul, 1);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	if (c < 0 || waitpid(c, &st, 0) != c)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Writes the agent's rules; returns its argv (static). */
static char **configure(size_t n, size_t rounds, char *preload, size_t pl)
{
	static char a0[1100], a1[1024], a2[1024], a3[1024];
	static char *argv[6];
	char path[1024], cmd[4096];
	FILE *f;

	if (strncmp(agent, "mamori", 6) == 0) {
		snprintf(path, sizeof(path), "%s/etc", root);
		mkdir(path, 0755);
		snprintf(path, sizeof(path), "%s/etc/mamori", root);
		mkdir(path, 0755);
		snprintf(path, sizeof(path), "%s/var", root);
		mkdir(path, 0755);
		snprintf(path, sizeof(path), "%s/var/lib", root);
		mkdir(path, 0755);
		snprintf(path, sizeof(path), "%s/var/lib/mamori", root);
		mkdir(path, 0700);
		snprintf(path, sizeof(path), "%s/etc/mamori/agent.conf", root);
		write_file(path, "language = en\nmodules = all\ncheck_interval = 3600\n");
		snprintf(path, sizeof(path), "%s/var/lib/mamori/policy.json", root);
		if (!(f = fopen(path, "we")))
			die(path);
		fputs("{\"schema\":1,\"version\":1,\"segment\":\"lgwan\",\"requirements\":[\"OPS-1\"],\"usb\":{"
		      "\"default\":"
		      "\"block\",\"present_devices\":\"apply\",\"requirements\":[\"MEDIA-1\"],\"rules\":[",
		      f);
		each_allowed(n, rounds, rule_mamori, f);
		/* the burst's hub: vendor and product (a hub has no serial) */
		fputs(",{\"id\":\"bench-hub\",\"action\":\"allow\",\"match\":{\"vendor\":\"05e3\",\"product\":\"0608\"}"
		      ","
		      "\"requirements\":[\"MEDIA-1\"]}]}}\n",
		      f);
		if (fclose(f) != 0)
			die(path);
		snprintf(cmd, sizeof(cmd),
		         "rm -f '%s/city.key' '%s/city.pub' && '%s/mamorictl' policy keygen --out '%s/city' && cp "
		         "'%s/city.pub' '%s/etc/mamori/policy.pub' && "
		         "'%s/mamorictl' policy sign --key '%s/city.key' '%s'",
		         work, work, bindir, work, work, root, bindir, work, path);
		if (run_quiet(cmd) != 0)
			die("policy keygen/sign failed");
		snprintf(a0, sizeof(a0), "%s/mamorid", bindir);
		snprintf(a1, sizeof(a1), "--root");
		snprintf(a2, sizeof(a2), "%s", root);
		snprintf(a3, sizeof(a3), "--foreground");
		argv[0] = a0, argv[1] = a1, argv[2] = a2, argv[3] = a3, argv[4] = NULL;
		snprintf(preload, pl, "libumockdev-preload.so.0");
	} else if (strcmp(agent, "usbguard") == 0) {
		char rules[1024];

		snprintf(rules, sizeof(rules), "%s/rules.conf", work);
		if (!(f = fopen(rules, "we")))
			die(rules);
		each_allowed(n, rounds, rule_usbguard, f);
		fputs("allow id 05e3:0608\n", f);
		if (fclose(f) != 0)
			die(rules);
		chmod(rules, 0600);
		snprintf(path, sizeof(path), "%s/usbguard-daemon.conf", work);
		snprintf(cmd, sizeof(cmd),
		         "RuleFile=%s\nImplicitPolicyTarget=block\nPresentDevicePolicy=apply-policy\n"
		         "PresentControllerPolicy=keep\nInsertedDevicePolicy=apply-policy\n"
		         "RestoreControllerDeviceState=false\nDeviceManagerBackend=uevent\nIPCAllowedUsers=root\n"
		         "IPCAllowedGroups=\nDeviceRulesWithPort=false\nAuditBackend=FileAudit\n"
		         "AuditFilePath=%s/audit.log\nHidePII=false\n",
		         rules, work);
		write_file(path, cmd);
		chmod(path, 0600);
		snprintf(a0, sizeof(a0), "usbguard-daemon");
		snprintf(a1, sizeof(a1), "-k");
		snprintf(a2, sizeof(a2), "-c");
		snprintf(a3, sizeof(a3), "%s", path);
		argv[0] = a0, argv[1] = a1, argv[2] = a2, argv[3] = a3, argv[4] = NULL;
		snprintf(preload, pl, "%s/uevent_kernel.so:libumockdev-preload.so.0", benchdir);
	} else if (strcmp(agent, "floor") == 0) {
		snprintf(path, sizeof(path), "%s/allow.txt", work);
		if (!(f = fopen(path, "we")))
			die(path);
		each_allowed(n, rounds, rule_floor, f);
		fputs("05e3 0608 -\n", f);
		if (fclose(f) != 0)
			die(path);
		snprintf(a0, sizeof(a0), "%s/bench_usb_floor", benchdir);
		snprintf(a1, sizeof(a1), "%s", path);
		argv[0] = a0, argv[1] = a1, argv[2] = NULL;
		snprintf(preload, pl, "libumockdev-preload.so.0");
	} else {
		die("unknown agent (mamori, mamori-stopped, usbguard, floor)");
	}
	return argv;
}

/* ---- process figures ---------------------------------------------------------- */

static long status_kb(pid_t pid, const char *key)
{
	char p[64], line[256];
	FILE *f;
	long v = -1;

	snprintf(p, sizeof(p), "/proc/%d/status", (int)pid);
	if (!(f = fopen(p, "re")))
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, strlen(key)) == 0 && line[strlen(key)] == ':')
			v = strtol(line + strlen(key) + 1, NULL, 10);
	fclose(f);
	return v;
}

/* CPU time of every thread (ns), from schedstat */
static double cpu_ns(pid_t pid)
{
	char p[64], f[384], b[128];
	double sum = 0;
	DIR *d;
	struct dirent *e;

	snprintf(p, sizeof(p), "/proc/%d/task", (int)pid);
	if (!(d = opendir(p)))
		return 0;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.') {
			snprintf(f, sizeof(f), "%s/%s/schedstat", p, e->d_name);
			usbtb_read_line(f, b, sizeof(b));
			sum += strtod(b, NULL);
		}
	closedir(d);
	return sum;
}

static pid_t child_named(pid_t parent, const char *comm)
{
	char p[96], b[512], c[64];
	char *s, *save = NULL;

	snprintf(p, sizeof(p), "/proc/%d/task/%d/children", (int)parent, (int)parent);
	usbtb_read_line(p, b, sizeof(b));
	for (s = strtok_r(b, " ", &save); s; s = strtok_r(NULL, " ", &save)) {
		snprintf(p, sizeof(p), "/proc/%s/comm", s);
		usbtb_read_line(p, c, sizeof(c));
		if (strcmp(c, comm) == 0)
			return (pid_t)strtol(s, NULL, 10);
	}
	return -1;
}

/* ---- devices ------------------------------------------------------------------ */

static const struct usbtb_if stor[] = {{0, 0, 8, 6, 0x50}};
static const struct usbtb_if hub_if[] = {{0, 0, 9, 0, 0}};

static char *plug_in(const char *parent, const char *port, const struct plug *p, uint8_t cls)
{
	const char *init = strcmp(attr(hub, "authorized_default"), "1") == 0 ? "1" : "0";
	char *path = usbtb_add(tb, parent, port, devnum++, p->vid, p->pid, cls, init, cls == 9 ? "USB2.0 Hub" : "Stick",
	                       cls == 9 ? NULL : p->serial, strlen(p->serial), "hotplug", cls == 9 ? hub_if : stor, 1);

	if (!path)
		die("cannot add a device to the testbed");
	return path;
}

static int watch_authorized(int ino, const char *syspath)
{
	char p[1024];

	snprintf(p, sizeof(p), "%s%s/authorized", root, syspath);
	return inotify_add_watch(ino, p, IN_MODIFY);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void print_dist(const char *key, double *v, size_t n)
{
	if (n == 0) {
		printf("%s_median_us -\n%s_p99_us -\n%s_max_us -\n", key, key, key);
		return;
	}
	qsort(v, n, sizeof(*v), cmp_double);
	size_t k99 = (size_t)((double)n * 0.99 + 0.999999);
	printf("%s_min_us %.0f\n%s_median_us %.0f\n%s_p99_us %.0f\n%s_max_us %.0f\n", key, v[0] / 1e3, key,
	       (n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2) / 1e3, key, v[(k99 ? k99 : 1) - 1] / 1e3, key,
	       v[n - 1] / 1e3);
}

/* Wait for IN_MODIFY on any of the watches; returns the wd or -1 on
 * time-out. One read may hold several events: the rest wait in pend[]. */
static int pend[64], npend;

static int wait_modify(int ino, int ms)
{
	struct pollfd pf = {.fd = ino, .events = POLLIN};
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;

	if (npend == 0) {
		if (poll(&pf, 1, ms) <= 0)
			return -1;
		n = read(ino, buf, sizeof(buf));
		for (ssize_t o = 0; o + (ssize_t)sizeof(struct inotify_event) <= n;) {
			const struct inotify_event *e = (const struct inotify_event *)(buf + o);
			if ((e->mask & IN_MODIFY) && npend < 64)
				pend[npend++] = e->wd;
			o += (ssize_t)sizeof(*e) + e->len;
		}
		if (npend == 0)
			return -1;
	}
	int wd = pend[0];
	memmove(pend, pend + 1, (size_t)--npend * sizeof(pend[0]));
	return wd;
}

int main(int argc, char **argv)
{
	size_t n = 200, rounds = 0;
	int gap = 5, o, ino, timeouts = 0, consecutive = 0;
	char wbuf[] = "/tmp/mamori-bench-usb.XXXXXX", preload[2048];
	char **cmd;
	pid_t pid, worker = -1;
	cpu_set_t cpus;
	double t_start, *lat, *lat_emit, *lat_allow, *lat_block;
	size_t nl = 0, ne = 0, na = 0, nb = 0, correct = 0;
	double first_t0 = 0, last_t1 = 0;

	while ((o = getopt(argc, argv, "a:B:n:g:b:w:d:")) != -1)
		switch (o) {
		case 'a':
			agent = optarg;
			break;
		case 'B':
			bindir = optarg;
			break;
		case 'n':
			n = strtoul(optarg, NULL, 10);
			break;
		case 'g':
			gap = (int)strtol(optarg, NULL, 10);
			break;
		case 'b':
			rounds = strtoul(optarg, NULL, 10);
			break;
		case 'w':
			work = optarg;
			break;
		case 'd':
			if (!(dump = fopen(optarg, "we")))
				die(optarg);
			break;
		default:
			return 2;
		}
	if (!bindir || !*agent || n == 0 || n > 100000 || rounds > 1000 || gap < 0)
		die("usage: bench_usb -a AGENT -B BINDIR [-n N] [-g GAP_MS] [-b ROUNDS] [-w WORKDIR] [-d FILE]");
	{
		ssize_t l = readlink("/proc/self/exe", benchdir, sizeof(benchdir) - 1);
		char *slash;

		if (l <= 0 || (benchdir[l] = '\0', !(slash = strrchr(benchdir, '/'))))
			die("/proc/self/exe");
		*slash = '\0';
	}
	if (!work && !(work = mkdtemp(wbuf)))
		die("mkdtemp");
	if (mkdir(work, 0700) < 0 && errno != EEXIST)
		die(work);
	lat = calloc(n, sizeof(double)), lat_emit = calloc(n, sizeof(double));
	lat_allow = calloc(n, sizeof(double)), lat_block = calloc(n, sizeof(double));
	if (!lat || !lat_emit || !lat_allow || !lat_block)
		die("out of memory");

	/* Run under umockdev's preload (tests/bench/usb.sh). Its first answer is
	 * cached: false while UMOCKDEV_DIR is unset, so add_device() sends no
	 * uevent of its own and the driver sends it, timed. */
	if (umockdev_in_mock_environment())
		die("start with UMOCKDEV_DIR unset (the testbed is this program's own)");
	tb = umockdev_testbed_new();
	root = umockdev_testbed_get_root_dir(tb);
	{
		char *pci = umockdev_testbed_add_device(tb, "pci", "0000:00:14.0", NULL, "vendor", "0x8086", NULL,
		                                        "PCI_CLASS", "C0330", NULL);
		struct plug rh = {0x1d6b, 0x0002, "0000:00:14.0", true};
		struct plug a = {0x0781, 0x5581, "P00001", true}, b = {0x0951, 0x1666, "P00002", false};
		char *h = usbtb_add(tb, pci, "usb1", 1, rh.vid, rh.pid, 9, "1", "xHCI Host Controller", rh.serial,
		                    strlen(rh.serial), NULL, hub_if, 1);
		if (!h)
			die("testbed");
		snprintf(hub, sizeof(hub), "%s", h);
		umockdev_testbed_set_attribute(tb, hub, "authorized_default", "1");
		char *ap = plug_in(hub, "1-1", &a, 0), *bp = plug_in(hub, "1-2", &b, 0);
		cmd = configure(n, rounds, preload, sizeof(preload));
		pid = fork();
		if (pid == 0) {
			int nul = open("/dev/null", O_RDWR);
			char log[1024];

			prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the driver */

			snprintf(log, sizeof(log), "%s/agent.log", work);
			int lf = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
			dup2(nul, 0);
			dup2(lf >= 0 ? lf : nul, 1);
			dup2(lf >= 0 ? lf : nul, 2);
			CPU_ZERO(&cpus);
			CPU_SET(0, &cpus);
			sched_setaffinity(0, sizeof(cpus), &cpus);
			setenv("UMOCKDEV_DIR", root, 1);
			setenv("LD_PRELOAD", preload, 1);
			execvp(cmd[0], cmd);
			_exit(127);
		}
		if (pid < 0)
			die("fork");
		CPU_ZERO(&cpus);
		CPU_SET(sysconf(_SC_NPROCESSORS_ONLN) > 1 ? 1 : 0, &cpus);
		sched_setaffinity(0, sizeof(cpus), &cpus);
		t_start = now_ns();
		/* ready: the root hub closed, the blocked present device deauthorized,
		 * a uevent listener socket in the testbed */
		for (;;) {
			bool sock = false;
			DIR *d = opendir(root);
			struct dirent *e;
			int st;

			while (d && (e = readdir(d)))
				sock |= strncmp(e->d_name, "event", 5) == 0;
			if (d)
				closedir(d);
			if (sock && strcmp(attr(hub, "authorized_default"), "1") != 0 &&
			    strcmp(attr(bp, "authorized"), "0") == 0)
				break;
			if (waitpid(pid, &st, WNOHANG) == pid)
				die("the agent exited before it was ready (see agent.log in the work directory)");
			if (now_ns() - t_start > 30e9) {
				kill(pid, SIGKILL);
				die("not ready within 30 s");
			}
			usleep(1000);
		}
		printf("startup_ms %.1f\n", (now_ns() - t_start) / 1e6);
		printf("present_correct %d\n",
		       (strcmp(attr(bp, "authorized"), "0") == 0) + (strcmp(attr(ap, "authorized"), "1") == 0));
		g_free(ap);
		g_free(bp);
		g_free(pci);
	}
	usleep(300000);
	if (strncmp(agent, "mamori", 6) == 0)
		worker = child_named(pid, "mamori-worker");
	if (strcmp(agent, "mamori-stopped") == 0) {
		if (worker < 0 || kill(worker, SIGSTOP) != 0)
			die("no mamori-worker to stop");
		usleep(100000);
	}
	long rss0 = status_kb(pid, "VmRSS"), hwm0 = status_kb(pid, "VmHWM");
	double cpu0 = cpu_ns(pid);

	ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (ino < 0)
		die("inotify");
	for (size_t i = 0; i < n && consecutive < 5; i++) {
		struct plug p;
		char port[16];
		double t0, t1;
		int wd;

		plan_at(i, &p);
		snprintf(port, sizeof(port), "1-%zu", 3 + i % 4);
		char *path = plug_in(hub, port, &p, 0);
		wd = watch_authorized(ino, path);
		emit_ns = 0;
		t0 = now_ns();
		if (i == 0)
			first_t0 = t0;
		umockdev_testbed_uevent(tb, path, "add");
		if (wait_modify(ino, 2000) != wd) {
			timeouts++, consecutive++;
		} else {
			t1 = now_ns();
			last_t1 = t1;
			consecutive = 0;
			lat[nl++] = t1 - t0;
			if (emit_ns > 0)
				lat_emit[ne++] = t1 - emit_ns;
			if (dump)
				fprintf(dump, "insert %zu %.6f %.0f %.0f %s\n", i, real_s(), (t1 - t0) / 1e3,
				        emit_ns > 0 ? (t1 - emit_ns) / 1e3 : -1.0, p.allow ? "allow" : "block");
			if (p.allow)
				lat_allow[na++] = t1 - t0;
			else
				lat_block[nb++] = t1 - t0;
			/* the value may land a moment after the modify event */
			bool want = policy_allows(&p);
			for (int k = 0; k < 100 && strcmp(attr(path, "authorized"), want ? "1" : "0") != 0; k++)
				usleep(100);
			correct += strcmp(attr(path, "authorized"), want ? "1" : "0") == 0;
		}
		inotify_rm_watch(ino, wd);
		umockdev_testbed_uevent(tb, path, "remove");
		umockdev_testbed_remove_device(tb, path);
		g_free(path);
		while (wait_modify(ino, 0) >= 0)
			;
		if (gap)
			usleep((useconds_t)gap * 1000);
	}
	usleep(300000);
	double cpu1 = cpu_ns(pid);
	printf("insertions %zu\ndecided %zu\ncorrect %zu\ntimeouts %d\n", n, nl, correct, timeouts);
	/* with -g 0, the insertions back to back: the time until the last is decided */
	printf("insertions_last_decided_us %.0f\n", last_t1 > first_t0 ? (last_t1 - first_t0) / 1e3 : 0.0);
	print_dist("latency", lat, nl);
	print_dist("latency_from_emit", lat_emit, ne);
	print_dist("latency_allowed", lat_allow, na);
	print_dist("latency_blocked", lat_block, nb);

	/* burst: a 7-port hub with 7 sticks announced back to back */
	if (rounds) {
		double *last = calloc(rounds, sizeof(double)), *each = calloc(rounds * 8, sizeof(double));
		size_t nlast = 0, neach = 0, bcorrect = 0, bdecided = 0;

		if (!last || !each)
			die("out of memory");
		for (size_t r = 0; r < rounds; r++) {
			struct plug hp = {0x05e3, 0x0608, "", true}, sp[8];
			char *paths[8], port[16];
			int wds[8], wd0[8], left = 8;
			double t0, tl = 0;

			paths[0] = plug_in(hub, "1-7", &hp, 9);
			for (int k = 1; k <= 7; k++) {
				burst_at(r, k, &sp[k]);
				snprintf(port, sizeof(port), "1-7.%d", k);
				paths[k] = plug_in(paths[0], port, &sp[k], 0);
			}
			sp[0] = hp;
			for (int k = 0; k < 8; k++)
				wd0[k] = wds[k] = watch_authorized(ino, paths[k]);
			t0 = now_ns();
			for (int k = 0; k < 8; k++)
				umockdev_testbed_uevent(tb, paths[k], "add");
			while (left > 0) {
				int wd = wait_modify(ino, 2000);
				if (wd < 0)
					break;
				for (int k = 0; k < 8; k++)
					if (wds[k] == wd) {
						wds[k] = -2;
						tl = now_ns();
						each[neach++] = tl - t0;
						left--;
					}
			}
			if (left == 0)
				last[nlast++] = tl - t0;
			usleep(2000);
			for (int k = 0; k < 8; k++) {
				bdecided += wds[k] == -2;
				bcorrect += wds[k] == -2 && strcmp(attr(paths[k], "authorized"),
				                                   policy_allows(&sp[k]) ? "1" : "0") == 0;
			}
			for (int k = 7; k >= 0; k--) {
				umockdev_testbed_uevent(tb, paths[k], "remove");
				umockdev_testbed_remove_device(tb, paths[k]);
				g_free(paths[k]);
			}
			for (int k = 0; k < 8; k++)
				inotify_rm_watch(ino, wd0[k]);
			while (wait_modify(ino, 20) >= 0)
				;
			usleep((useconds_t)gap * 1000 + 10000);
		}
		printf("burst_rounds %zu\nburst_devices %zu\nburst_decided %zu\nburst_correct %zu\n", rounds,
		       rounds * 8, bdecided, bcorrect);
		if (bdecided != rounds * 8 || bcorrect != bdecided)
			timeouts++; /* a wrong or missing burst decision fails the run */
		print_dist("burst_last", last, nlast);
		print_dist("burst_each", each, neach);
		free(last);
		free(each);
	}

	if (getenv("UGB_SMAPS")) { /* where the gate's memory is, at the end of the run */
		char sm[64], buf[4096];
		int in, out;
		ssize_t k;

		snprintf(sm, sizeof(sm), "/proc/%d/smaps", (int)pid);
		in = open(sm, O_RDONLY | O_CLOEXEC);
		out = open(getenv("UGB_SMAPS"), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		while (in >= 0 && out >= 0 && (k = read(in, buf, sizeof(buf))) > 0)
			if (write(out, buf, (size_t)k) != k)
				break;
		if (in < 0 || out < 0)
			fprintf(stderr, "UGB_SMAPS: cannot copy %s\n", sm);
		if (in >= 0)
			close(in);
		if (out >= 0)
			close(out);
	}
	printf("vmrss_start_kb %ld\nvmhwm_start_kb %ld\nvmrss_end_kb %ld\nvmhwm_kb %ld\n", rss0, hwm0,
	       status_kb(pid, "VmRSS"), status_kb(pid, "VmHWM"));
	if (worker > 0)
		printf("worker_vmrss_kb %ld\nagent_total_vmrss_kb %ld\n", status_kb(worker, "VmRSS"),
		       status_kb(pid, "VmRSS") + status_kb(worker, "VmRSS"));
	printf("cpu_us_per_insertion %.0f\n", nl ? (cpu1 - cpu0) / 1e3 / (double)nl : 0.0);
	if (worker > 0 && strcmp(agent, "mamori-stopped") == 0)
		kill(worker, SIGCONT);
	kill(pid, SIGTERM);
	for (int k = 0; k < 500; k++) {
		if (waitpid(pid, NULL, WNOHANG) == pid) {
			pid = -1;
			break;
		}
		usleep(10000);
	}
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	g_object_unref(tb);
	return timeouts > 0 || correct != nl ? 3 : 0;
}
