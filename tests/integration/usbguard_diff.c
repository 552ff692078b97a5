/* tests/integration/usbguard_diff.c — differential test of mamori's USB rule
 * language against USBGuard itself (issue 12, MEDIA-1; run by
 * usbguard_diff.sh under umockdev-wrapper, as root).
 *
 * One umockdev testbed holds generated devices (a hub with children,
 * composites, serial-less twins, hostile strings, alternate settings).
 * Rule files: the groups of usbguard_corpus.conf (every attribute and set
 * operator) and what the real `usbguard generate-policy` writes for the
 * testbed (default, -H, -p, -X), whole and line by line. For each rule file
 * the real usbguard-daemon (Debian's) decides every present device
 * (`usbguard list-devices` reads its verdicts); mamori imports the same
 * file (policy/usbguard.c, --partial) and decides the same devices with
 * usb_decide() on identities read from the same testbed. Every pair must be
 * equal, or mamori stricter (block where USBGuard allows); one device that
 * mamori allows and USBGuard blocks fails the test. A stricter pair must be
 * explained too: by a line the importer refused (what mamori cannot express
 * is left out, never widened), or by the rule file being one of
 * known_stricter[] below, each with its reason. Any other stricter pair
 * fails: a change that over-blocks is a regression a city notices as
 * sticks refused, and a count that only had a ceiling on "wider" let it
 * through (126 stricter instead of 44 under a mutation). Files that
 * usbguard-rule-parser refuses (the bad corpus) must be refused by the
 * importer too. Prints the number of pairs and every difference. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <umockdev.h>

#include "ctl.h"
#include "rootpath.h"
#include "sha256.h"
#include "usb/usb_identity.h"
#include "usb/usb_rules.h"
#include "usbguard.h"
#include "usb_testbed.h"

#define DEV_MAX 24

static UMockdevTestbed *tb;
static const char *tbroot, *work;

static void drop_testbed(void)
{
	if (tb)
		g_object_unref(tb);
	tb = NULL;
}

struct dev {
	char *path, name[32];
	struct usb_identity id;
};
static struct dev devs[DEV_MAX];
static size_t n_devs;
static unsigned long pairs, equal, stricter, wider, files, bad_refused, unexplained;

/* Rule files where USBGuard allows and mamori blocks on purpose (the file's
 * whole text, as compare() gets it). */
static struct {
	const char *rules, *why;
	bool seen;
} known_stricter[] = {
        {"allow serial match-all { \"S1\" \"S2\" \"C1\" }\n",
         "USBGuard 1.1.2 matches every device under match-all on a one-valued attribute; mamori's match_all "
         "needs the device's value in the set (docs/POLICY.md)"},
        {"allow via-port match-all { \"1-4\" \"1-5\" }\n",
         "USBGuard 1.1.2 matches every device under match-all on a one-valued attribute; mamori's match_all "
         "needs the device's port in the set (docs/POLICY.md)"},
};

/* why a stricter pair of this file is expected, or NULL */
static const char *stricter_reason(const char *rules, unsigned refused)
{
	if (refused)
		return "line refused by the importer";
	for (size_t k = 0; k < sizeof(known_stricter) / sizeof(known_stricter[0]); k++)
		if (strcmp(known_stricter[k].rules, rules) == 0) {
			known_stricter[k].seen = true;
			return known_stricter[k].why;
		}
	return NULL;
}

#define ifd usbtb_if

static char *add_usb(const char *parent, const char *name, uint16_t vid, uint16_t pid, uint8_t cls, const char *product,
                     const char *serial, size_t serial_len, const char *connect, const struct ifd *ifs, size_t n)
{
	static int devnum = 2;
	char *path =
	        usbtb_add(tb, parent, name, devnum++, vid, pid, cls, "1", product, serial, serial_len, connect, ifs, n);

	if (!path) {
		fprintf(stderr, "usbguard_diff: FAIL: cannot add %s\n", name);
		exit(1);
	}
	if (n_devs < DEV_MAX) {
		devs[n_devs].path = path;
		snprintf(devs[n_devs].name, sizeof(devs[n_devs].name), "%s", name);
		n_devs++;
	}
	return path;
}

static void build_testbed(void)
{
	static const struct ifd hub_if[] = {{0, 0, 9, 0, 0}};
	static const struct ifd kbd[] = {{0, 0, 3, 1, 1}, {1, 0, 3, 0, 0}};
	static const struct ifd stor[] = {{0, 0, 8, 6, 0x50}};
	static const struct ifd combo[] = {{0, 0, 8, 6, 0x50}, {1, 0, 3, 1, 1}};
	static const struct ifd nic[] = {{0, 0, 0xff, 0xff, 0}, {1, 0, 2, 6, 0}, {2, 0, 0x0a, 0, 0}};
	static const struct ifd evil[] = {{0, 0, 3, 1, 1}, {1, 0, 0xe0, 1, 1}};
	static const struct ifd alts[] = {{0, 0, 0x0a, 0, 0}, {0, 1, 0x0a, 0, 0}, {1, 0, 3, 1, 1}};
	char *pci, *hub, *h2, longs[300];

	pci = umockdev_testbed_add_device(tb, "pci", "0000:00:14.0", NULL, "vendor", "0x8086", NULL, "PCI_CLASS",
	                                  "C0330", NULL);
	hub = add_usb(pci, "usb1", 0x1d6b, 0x0002, 9, "xHCI Host Controller", "0000:00:14.0", 12, NULL, hub_if, 1);
	umockdev_testbed_set_attribute(tb, hub, "authorized_default", "1");
	h2 = add_usb(hub, "1-1", 0x05e3, 0x0608, 9, "USB2.0 Hub", NULL, 0, "hotplug", hub_if, 1);
	add_usb(h2, "1-1.1", 0x046d, 0xc31c, 0, "USB Keyboard", NULL, 0, "hotplug", kbd, 2);
	add_usb(h2, "1-1.2", 0x0781, 0x5581, 0, "Ultra", "S1", 2, "hotplug", stor, 1);
	add_usb(hub, "1-2", 0x0781, 0x5581, 0, "Ultra", "S2", 2, "hotplug", stor, 1);
	add_usb(hub, "1-3", 0x1234, 0x5678, 0, "Combo", "C1", 2, "hotplug", combo, 2);
	add_usb(hub, "1-4", 0x0951, 0x1666, 0, "DataTraveler", NULL, 0, "hotplug", stor, 1);
	add_usb(hub, "1-5", 0x0951, 0x1666, 0, "DataTraveler", NULL, 0, "hotplug", stor, 1);
	add_usb(hub, "1-6", 0x0bda, 0x8153, 0, "USB 10/100/1000 LAN", "000001", 6, "hardwired", nic, 3);
	add_usb(hub, "1-7", 0x1234, 0x0001, 0, "Evil Stick\t", "a\"b\\c", 5, "hotplug", evil, 2);
	add_usb(hub, "1-8", 0x1234, 0x0002, 0, "Bytes", "\xff\xfe#x y", 7, "hotplug", stor, 1);
	memset(longs, 'L', sizeof(longs));
	add_usb(hub, "1-9", 0x1234, 0x0003, 0, "Long", longs, 250, "hotplug", stor, 1);
	longs[250] = 'Z';
	add_usb(hub, "1-10", 0x1234, 0x0003, 0, "Long", longs, 251, "hotplug", stor, 1);
	add_usb(hub, "1-11", 0x1234, 0x0004, 0, "Alt", "ALT", 3, NULL, alts, 3);
	g_free(pci);
}

/* ---- running programs ------------------------------------------------------- */

/* LD_PRELOAD for USBGuard: the umockdev preload only (not the sanitizer's). */
static void child_env(void)
{
	const char *lp = getenv("LD_PRELOAD");
	char keep[4096] = "";

	if (lp) {
		char *dup = strdup(lp), *save = NULL;

		for (char *t = strtok_r(dup, ": ", &save); t; t = strtok_r(NULL, ": ", &save))
			if (strstr(t, "umockdev"))
				snprintf(keep + strlen(keep), sizeof(keep) - strlen(keep), "%s%s", keep[0] ? ":" : "",
				         t);
		free(dup);
		setenv("LD_PRELOAD", keep, 1);
	}
	unsetenv("ASAN_OPTIONS");
}

/* Run argv with stdout into out (NUL-terminated, malloc'ed); exit status. */
static int run(char *const argv[], char **out, int timeout_ms)
{
	int p[2], st = 0;
	pid_t pid;
	size_t len = 0, cap = 65536;
	char *buf = malloc(cap);
	struct timespec t0;

	if (!buf || pipe(p) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		int nul = open("/dev/null", O_RDWR);
		dup2(p[1], 1);
		dup2(nul, 2);
		close(p[0]);
		child_env();
		execvp(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		ssize_t n;

		if (len + 1 >= cap && !(buf = realloc(buf, cap *= 2)))
			return -1;
		n = read(p[0], buf + len, cap - len - 1);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(p[0]);
	(void)timeout_ms;
	waitpid(pid, &st, 0);
	buf[len] = '\0';
	if (out)
		*out = buf;
	else
		free(buf);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static void write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0 || write(fd, s, strlen(s)) != (ssize_t)strlen(s)) {
		fprintf(stderr, "usbguard_diff: FAIL: write %s: %m\n", path);
		exit(1);
	}
	close(fd);
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

/* USBGuard's verdict per device (index into devs), 1 allow / 0 block. */
static int usbguard_decide(const char *rules, int *verdict)
{
	char conf[512], rpath[512], *out = NULL;
	char buf[2048];
	pid_t pid;
	int rc = -1;

	snprintf(rpath, sizeof(rpath), "%s/rules.conf", work);
	snprintf(conf, sizeof(conf), "%s/usbguard-daemon.conf", work);
	{
		/* reject removes the device (sysfs `remove`), which a testbed cannot
		 * show; the importer maps reject to block, USBGuard gets block too */
		char *copy = strdup(rules);

		for (char *l = copy; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
			if (strncmp(l, "reject", 6) == 0)
				memcpy(l, "block ", 6);
		write_file(rpath, copy);
		free(copy);
	}
	snprintf(buf, sizeof(buf),
	         "RuleFile=%s\nImplicitPolicyTarget=block\nPresentDevicePolicy=apply-policy\n"
	         "PresentControllerPolicy=apply-policy\nInsertedDevicePolicy=apply-policy\n"
	         "RestoreControllerDeviceState=false\nDeviceManagerBackend=uevent\nIPCAllowedUsers=root\n"
	         "IPCAllowedGroups=\nDeviceRulesWithPort=false\nAuditBackend=FileAudit\nAuditFilePath=%s/audit.log\n"
	         "HidePII=false\n",
	         rpath, work);
	write_file(conf, buf);
	for (size_t i = 0; i < n_devs; i++)
		umockdev_testbed_set_attribute(tb, devs[i].path, "authorized", "1");
	pid = fork();
	if (pid == 0) {
		int nul = open("/dev/null", O_RDWR);
		dup2(nul, 1);
		dup2(nul, 2);
		child_env();
		execlp("usbguard-daemon", "usbguard-daemon", "-k", "-c", conf, (char *)NULL);
		_exit(127);
	}
	/* ready when list-devices knows every device */
	for (int tries = 0; tries < 200; tries++) {
		char *const ld[] = {"usbguard", "list-devices", NULL};
		size_t seen = 0;
		int st;

		sleep_ms(25);
		if (waitpid(pid, &st, WNOHANG) == pid) {
			pid = 0;
			break;
		}
		free(out);
		out = NULL;
		if (run(ld, &out, 2000) != 0)
			continue;
		for (size_t i = 0; i < n_devs; i++)
			verdict[i] = -1;
		char *save = NULL;

		for (char *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
			char *c = strstr(l, ": "), *port = strstr(l, "via-port \"");

			if (!c || !port)
				continue;
			port += 10;
			for (size_t i = 0; i < n_devs; i++) {
				size_t nl = strlen(devs[i].name);

				if (strncmp(port, devs[i].name, nl) == 0 && port[nl] == '"' && verdict[i] < 0) {
					verdict[i] = strncmp(c + 2, "allow", 5) == 0 ? 1 : 0;
					seen++;
				}
			}
		}
		if (seen == n_devs) {
			rc = 0;
			break;
		}
	}
	free(out);
	if (pid > 0) {
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
	}
	return rc;
}

/* Run ctl_usb with stdout into WORK/file; its output (malloc'ed) or NULL. */
static char *capture_ctl(struct ctl_env *env, int argc, char **argv, const char *file, int *rc)
{
	char path[512], *text = NULL;
	size_t len = 0;
	int saved = dup(1), fd;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", work, file);
	fflush(stdout);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	dup2(fd, 1);
	*rc = ctl_usb(env, argc, argv);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	close(fd);
	f = fopen(path, "re");
	if (!f || getdelim(&text, &len, '\0', f) < 0) {
		free(text);
		text = NULL;
	}
	if (f)
		fclose(f);
	return text;
}

/* `mamorictl usb generate-policy` on the testbed: its rules allow every
 * present device, and each rule exactly the device it was made for. */
static int check_generate_policy(void)
{
	struct ctl_env env = {.root = tbroot, .lang = "en"};
	char path[512], *argv[] = {"usb", "generate-policy", NULL}, *text;
	int rc, bad = 0;
	cJSON *doc, *rules, *rule;

	snprintf(path, sizeof(path), "%s/generated.json", work);
	text = capture_ctl(&env, 2, argv, "generated.json", &rc);
	if (rc != 0 || !text) {
		fprintf(stderr, "usbguard_diff: FAIL: mamorictl usb generate-policy exited %d\n", rc);
		return 1;
	}
	doc = cJSON_Parse(text);
	rules = cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "usb"), "rules");
	if (cJSON_GetArraySize(rules) != (int)n_devs) {
		fprintf(stderr, "usbguard_diff: FAIL: generate-policy made %d rules for %zu devices\n%s\n",
		        cJSON_GetArraySize(rules), n_devs, text);
		return 1;
	}
	cJSON_ArrayForEach(rule, rules)
	{
		cJSON *one = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(one, "rules");
		const char *rid = cJSON_GetObjectItem(rule, "id")->valuestring;
		struct usb_rules *r = NULL;
		char err[256];

		cJSON_AddStringToObject(one, "default", "block");
		cJSON_AddItemReferenceToArray(arr, rule);
		if (usb_rules_load(one, &r, err, sizeof(err)) < 0) {
			fprintf(stderr, "usbguard_diff: FAIL: generated rule %s: %s\n", rid, err);
			return 1;
		}
		for (size_t i = 0; i < n_devs; i++) {
			struct usb_decision d;
			bool own = strcmp(rid + strlen("present-"), devs[i].name) == 0;

			usb_decide(r, &devs[i].id, time(NULL), &d);
			if ((d.action != USB_ACT_BLOCK) != own) {
				printf("generate-policy: rule %s %s %s\n", rid, own ? "does not allow" : "also allows",
				       devs[i].name);
				bad++;
			}
		}
		usb_rules_free(r);
		cJSON_Delete(one);
	}
	printf("mamorictl usb generate-policy: %d rules, each allows exactly its device: %s\n",
	       cJSON_GetArraySize(rules), bad ? "NO" : "yes");
	/* `mamorictl usb list --policy generated.json`: every device allowed by its rule */
	{
		char *largv[] = {"usb", "list", "--policy", path, "--json", NULL}, *ltext;
		cJSON *list, *e;
		int allowed = 0;

		ltext = capture_ctl(&env, 5, largv, "list.json", &rc);
		if (rc != 0 || !ltext) {
			fprintf(stderr, "usbguard_diff: FAIL: mamorictl usb list exited %d\n", rc);
			return 1;
		}
		list = cJSON_Parse(ltext);
		cJSON_ArrayForEach(e, list)
		{
			const char *port = cJSON_GetObjectItem(e, "port")->valuestring;
			const char *by = cJSON_GetObjectItem(e, "rule")->valuestring;

			if (strcmp(cJSON_GetObjectItem(e, "decision")->valuestring, "allow") == 0 &&
			    strncmp(by, "present-", 8) == 0 && strcmp(by + 8, port) == 0)
				allowed++;
			else
				printf("usb list: %s decided %s by %s\n", port,
				       cJSON_GetObjectItem(e, "decision")->valuestring, by);
		}
		printf("mamorictl usb list: %d of %zu devices allowed by their own rule\n", allowed, n_devs);
		if (allowed != (int)n_devs)
			bad++;
		cJSON_Delete(list);
		free(ltext);
	}
	cJSON_Delete(doc);
	free(text);
	return bad ? 1 : 0;
}

/* ---- mamori's side ------------------------------------------------------------ */

static int mamori_decide(const char *rules_text, int *verdict, unsigned *refused)
{
	cJSON *rules = NULL, *usb;
	struct usbguard_issues *is = calloc(1, sizeof(*is));
	struct usb_rules *r = NULL;
	char err[256];

	if (!is || usbguard_import(rules_text, strlen(rules_text), true, &rules, is) < 0) {
		free(is);
		return -1;
	}
	*refused = is->lines_refused;
	usb = cJSON_CreateObject();
	cJSON_AddStringToObject(usb, "default", "block");
	cJSON_AddItemToObject(usb, "rules", rules);
	if (usb_rules_load(usb, &r, err, sizeof(err)) < 0) {
		fprintf(stderr, "usbguard_diff: FAIL: imported rules do not load: %s\n%s\n", err, rules_text);
		exit(1);
	}
	for (size_t i = 0; i < n_devs; i++) {
		struct usb_decision d;

		usb_decide(r, &devs[i].id, time(NULL), &d);
		verdict[i] = d.action != USB_ACT_BLOCK;
	}
	usb_rules_free(r);
	cJSON_Delete(usb);
	free(is);
	return 0;
}

static bool parser_accepts(const char *rules)
{
	char path[512];
	char *const argv[] = {"usbguard-rule-parser", "-f", path, NULL};

	snprintf(path, sizeof(path), "%s/parse.conf", work);
	write_file(path, rules);
	return run(argv, NULL, 2000) == 0;
}

static void compare(const char *label, const char *rules)
{
	int ug[DEV_MAX], mm[DEV_MAX];
	unsigned refused = 0;

	files++;
	if (mamori_decide(rules, mm, &refused) < 0) {
		fprintf(stderr, "usbguard_diff: FAIL: import error on %s\n", label);
		exit(1);
	}
	if (!parser_accepts(rules)) {
		/* the bad corpus: USBGuard refuses the file; so must the importer */
		if (refused == 0) {
			fprintf(stderr,
			        "usbguard_diff: FAIL: %s: usbguard-rule-parser refuses, the importer accepts:\n%s\n",
			        label, rules);
			wider++;
		} else
			bad_refused++;
		return;
	}
	if (usbguard_decide(rules, ug) < 0) {
		fprintf(stderr, "usbguard_diff: FAIL: usbguard-daemon gave no verdicts for %s\n", label);
		exit(1);
	}
	for (size_t i = 0; i < n_devs; i++) {
		pairs++;
		if (ug[i] == mm[i]) {
			equal++;
			continue;
		}
		if (mm[i] && !ug[i]) {
			wider++;
			printf("WIDER    %-28s %-6s USBGuard block, mamori allow\n", label, devs[i].name);
		} else {
			const char *why = stricter_reason(rules, refused);

			stricter++;
			if (!why) {
				unexplained++;
				printf("STRICTER %-28s %-6s USBGuard allow, mamori block, unexplained:\n%s", label,
				       devs[i].name, rules);
			} else {
				printf("stricter %-28s %-6s USBGuard allow, mamori block (%s)\n", label, devs[i].name,
				       why);
			}
		}
	}
}

int main(int argc, char **argv)
{
	char *corpus = NULL, *gen[4] = {NULL};
	static const char *const gen_opts[4][2] = {{NULL, "default"}, {"-H", "-H"}, {"-p", "-p"}, {"-X", "-X"}};
	size_t len = 0;
	FILE *f;

	if (argc != 3) {
		fprintf(stderr, "usage: usbguard_diff CORPUS WORKDIR\n");
		return 2;
	}
	work = argv[2];
	f = fopen(argv[1], "re");
	if (!f || getdelim(&corpus, &len, '\0', f) < 0) {
		fprintf(stderr, "usbguard_diff: FAIL: cannot read %s\n", argv[1]);
		return 1;
	}
	fclose(f);
	(void)umockdev_in_mock_environment();
	tb = umockdev_testbed_new();
	/* the testbed's directory in /tmp goes with it, whatever way main ends
	 * (each make check left one behind) */
	atexit(drop_testbed);
	tbroot = umockdev_testbed_get_root_dir(tb);
	if (root_set(tbroot) < 0)
		return 1;

	build_testbed();
	for (size_t i = 0; i < n_devs; i++) {
		int r = usb_identity_read(devs[i].path, devs[i].name, USB_ID_ALL, &devs[i].id);
		if (r < 0) {
			fprintf(stderr, "usbguard_diff: FAIL: identity of %s: %s\n", devs[i].name, strerror(-r));
			return 1;
		}
	}
	fprintf(stderr, "testbed %s: %zu devices\n", tbroot, n_devs);
	for (size_t i = 0; i < n_devs; i++)
		fprintf(stderr, "  %-6s %s hash %s parent-hash %s\n", devs[i].name, devs[i].path, devs[i].id.ug_hash,
		        devs[i].id.ug_parent_hash);

	if (check_generate_policy() != 0)
		return 1;
	/* generate-policy output, whole and line by line */
	for (int g = 0; g < 4; g++) {
		char *const a0[] = {"usbguard", "generate-policy", NULL};
		char *const a1[] = {"usbguard", "generate-policy", (char *)gen_opts[g][0], NULL};
		struct usbguard_issues *is = calloc(1, sizeof(*is));
		cJSON *rules = NULL;
		char label[64];

		if (run(g == 0 ? a0 : a1, &gen[g], 5000) != 0 || !strstr(gen[g], "allow")) {
			fprintf(stderr, "usbguard_diff: FAIL: usbguard generate-policy %s failed\n", gen_opts[g][1]);
			return 1;
		}
		/* a generate-policy file imports completely, but for strings a JSON
		 * policy cannot hold (invalid UTF-8, control bytes): refused, with
		 * that reason (the testbed has one such device, 1-8) */
		if (!is || usbguard_import(gen[g], strlen(gen[g]), false, &rules, is) < 0 ||
		    is->lines_refused != is->n || is->n > 1 ||
		    (is->n == 1 && (is->e[0].code != USBGUARD_ISSUE_VALUE || !strstr(is->e[0].detail, "UTF-8")))) {
			usbguard_issues_print(is, "generate-policy", stderr, "en");
			fprintf(stderr, "usbguard_diff: FAIL: generate-policy %s does not import completely:\n%s\n",
			        gen_opts[g][1], gen[g]);
			return 1;
		}
		printf("generate-policy %-7s: %u of %u lines imported exactly, %u refused (string not valid UTF-8)\n",
		       gen_opts[g][1], is->lines_converted, is->lines_total, is->lines_refused);
		cJSON_Delete(rules);
		free(is);
		snprintf(label, sizeof(label), "generate-policy %s", gen_opts[g][1]);
		compare(label, gen[g]);
		{
			char *dup = strdup(gen[g]), *save = NULL;
			int ln = 0;

			for (char *l = strtok_r(dup, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
				snprintf(label, sizeof(label), "gen %s line %d", gen_opts[g][1], ++ln);
				compare(label, l);
			}
			free(dup);
		}
	}
	/* the corpus: groups separated by blank lines, each one rule file */
	{
		char *p = corpus;
		int grp = 0;

		while (*p) {
			char *end = strstr(p, "\n\n"), label[64], *text;
			size_t n = end ? (size_t)(end - p) + 1 : strlen(p);
			bool only_comments = true;

			text = strndup(p, n);
			p += n;
			while (*p == '\n')
				p++;
			for (char *q = text; *q; q = strchr(q, '\n') ? strchr(q, '\n') + 1 : q + strlen(q))
				if (*q != '#' && *q != '\n')
					only_comments = false;
			if (!only_comments) {
				snprintf(label, sizeof(label), "corpus group %d", ++grp);
				compare(label, text);
			}
			free(text);
		}
	}
	printf("usbguard_diff: %lu rule files, %lu device pairs compared: %lu equal, %lu mamori stricter (%lu "
	       "unexplained), %lu mamori wider; %lu bad files refused by both\n",
	       files, pairs, equal, stricter, unexplained, wider, bad_refused);
	for (size_t k = 0; k < sizeof(known_stricter) / sizeof(known_stricter[0]); k++)
		if (!known_stricter[k].seen)
			printf("note: no longer stricter than USBGuard (known_stricter[%zu] can go): %s", k,
			       known_stricter[k].rules);
	for (int g = 0; g < 4; g++)
		free(gen[g]);
	free(corpus);
	return wider || unexplained ? 1 : 0;
}
