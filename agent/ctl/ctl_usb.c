/* agent/ctl/ctl_usb.c — `mamorictl usb list | generate-policy | allow |
 * block | exceptions | revoke | watch` (mamorictl, run by an administrator
 * at the terminal; issue 12).
 *
 * Reads the devices present now from sysfs (through --root), with the same
 * identity code as the gate (modules/usb/usb_identity.c), so the hashes and
 * decisions shown are the ones the gate computes. `list` decides every device
 * with a policy file (default: the policy_file of agent.conf, read without
 * its signature: this only shows); `generate-policy` prints a policy document
 * whose usb.rules allow exactly the devices present now, ready for
 * `mamorictl policy check` and `policy sign`.
 *
 * allow/block/exceptions/revoke/watch talk to the running agent over its
 * control socket (agent/worker/control.h): the worker checks the policy
 * (usb.local_exceptions) and the caller (root, SO_PEERCRED), journals,
 * persists and hands the exception to mamorid, which applies it at once.
 * ID is a device present now (its port name from `usb list`, e.g. 1-3) or
 * the device's descriptor hash (64 hex digits, `usb list --json` "hash"):
 * the exception names the device by that hash, never by the port. */
#include <signal.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc-util.h"
#include "control.h"
#include "ctl.h"
#include "json-util.h"
#include "policy.h"
#include "rootpath.h"
#include "sha256.h"
#include "strutil.h"
#include "usb/usb_generate.h"
#include "usb/usb_identity.h"
#include "usb/usb_local.h"
#include "usb/usb_rules.h"

#define DEVS_MAX 128

struct present {
	char name[64];
	struct usb_identity id;
};

static int cmp_present(const void *a, const void *b)
{
	return strcmp(((const struct present *)a)->name, ((const struct present *)b)->name);
}

/* Every USB device (not interface) under /sys/bus/usb/devices. */
static int enumerate(struct present **ret, size_t *ret_n)
{
	char dir[PATH_MAX], rootp[PATH_MAX];
	_cleanup_free_ struct present *p = calloc(DEVS_MAX, sizeof(*p));
	DIR *d;
	struct dirent *de;
	size_t n = 0, rl;
	int r;

	if (!p)
		return -ENOMEM;
	r = root_path(dir, sizeof(dir), "/sys/bus/usb/devices");
	if (r < 0)
		return r;
	r = root_path(rootp, sizeof(rootp), "/");
	if (r < 0)
		return r;
	rl = strlen(rootp);
	while (rl > 0 && rootp[rl - 1] == '/')
		rl--;
	d = opendir(dir);
	if (!d)
		return -errno;
	while ((de = readdir(d)) && n < DEVS_MAX) {
		char link[PATH_MAX], real[PATH_MAX];
		const char *sys;

		if (de->d_name[0] == '.' || strchr(de->d_name, ':'))
			continue;
		if (xsnprintf(link, sizeof(link), "%s/%s", dir, de->d_name) < 0 || !realpath(link, real))
			continue;
		/* the syspath as the kernel names it: without the root prefix */
		sys = strncmp(real, rootp, rl) == 0 ? real + rl : real;
		if (strscpy(p[n].name, sizeof(p[n].name), de->d_name) < 0)
			continue;
		/* afresh: a read that failed part way left what it had in this slot */
		memset(&p[n].id, 0, sizeof(p[n].id));
		if (usb_identity_read(sys, de->d_name, USB_ID_ALL, &p[n].id) < 0)
			continue;
		n++;
	}
	closedir(d);
	qsort(p, n, sizeof(*p), cmp_present);
	*ret = TAKE_PTR(p);
	*ret_n = n;
	return 0;
}

static int cmd_list(struct ctl_env *env, const char *policy_path)
{
	_cleanup_free_ struct present *p = NULL;
	_cleanup_(cJSON_Deletep) cJSON *out = cJSON_CreateArray();
	struct mamori_policy *pol = NULL;
	struct usb_rules *rules = NULL;
	struct policy_errors errs;
	char err[256], path[PATH_MAX];
	size_t n = 0;
	int r;

	if (!policy_path) {
		policy_path = env->config.policy_file;
		if (root_path(path, sizeof(path), policy_path) == 0)
			policy_path = path;
	}
	policy_errors_init(&errs);
	if (policy_load_unsigned(policy_path, &pol, &errs) < 0) {
		fprintf(stderr, L(env, "%s: ポリシーを読めません\n", "%s: cannot read the policy\n"), policy_path);
		policy_errors_print(&errs, stderr, env->lang);
		return 1;
	}
	r = usb_rules_load(policy_section(pol, "usb"), &rules, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "%s: %s\n", policy_path, err);
		policy_free(pol);
		return 1;
	}
	r = enumerate(&p, &n);
	if (r < 0) {
		fprintf(stderr, L(env, "USB デバイスを列挙できません: %s\n", "cannot list USB devices: %s\n"),
		        strerror(-r));
		usb_rules_free(rules);
		policy_free(pol);
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		struct usb_decision d;
		const struct usb_identity *id = &p[i].id;
		cJSON *o = cJSON_CreateObject();

		usb_decide(rules, id, time(NULL), &d);
		if (env->json) {
			char v[16];

			snprintf(v, sizeof(v), "%04x:%04x", id->vendor, id->product);
			cJSON_AddStringToObject(o, "port", p[i].name);
			cJSON_AddStringToObject(o, "id", v);
			cJSON_AddStringToObject(o, "serial", id->serial);
			cJSON_AddStringToObject(o, "name", id->name);
			cJSON_AddStringToObject(o, "decision", usb_action_to_string(d.action));
			cJSON_AddStringToObject(o, "rule", d.rule_id);
			cJSON_AddStringToObject(o, "reason", d.reason);
			cJSON_AddStringToObject(o, "usbguard_hash", id->ug_hash);
			cJSON_AddStringToObject(o, "parent_hash", id->ug_parent_hash);
			cJSON_AddStringToObject(o, "hash", id->hash_hex);
			cJSON_AddItemToArray(out, o);
		} else {
			cJSON_Delete(o);
			printf("%-8s %04x:%04x %-8s %-10s %-20s serial \"%s\" name \"%s\"\n         usbguard_hash %s\n"
			       "         hash %s\n",
			       p[i].name, id->vendor, id->product, usb_action_to_string(d.action), d.reason, d.rule_id,
			       id->serial, id->name, id->ug_hash, id->hash_hex);
		}
	}
	if (env->json) {
		_cleanup_free_ char *t = cJSON_Print(out);
		printf("%s\n", t ? t : "[]");
	}
	usb_rules_free(rules);
	policy_free(pol);
	return 0;
}

static int cmd_generate(struct ctl_env *env)
{
	_cleanup_free_ struct present *p = NULL;
	_cleanup_(cJSON_Deletep) cJSON *doc = cJSON_CreateObject();
	_cleanup_free_ char *text = NULL;
	cJSON *usb, *rules, *reqs;
	struct mamori_policy *check = NULL;
	struct policy_errors errs;
	size_t n = 0;
	int r;

	r = enumerate(&p, &n);
	if (r < 0) {
		fprintf(stderr, L(env, "USB デバイスを列挙できません: %s\n", "cannot list USB devices: %s\n"),
		        strerror(-r));
		return 1;
	}
	if (!doc || !cJSON_AddNumberToObject(doc, "schema", 1) || !cJSON_AddNumberToObject(doc, "version", 1) ||
	    !cJSON_AddStringToObject(doc, "segment", "lgwan") || !(usb = cJSON_AddObjectToObject(doc, "usb")) ||
	    !cJSON_AddStringToObject(usb, "default", "block") ||
	    !(reqs = cJSON_AddArrayToObject(usb, "requirements")) ||
	    !cJSON_AddItemToArray(reqs, cJSON_CreateString("MEDIA-1")) ||
	    !(rules = cJSON_AddArrayToObject(usb, "rules")))
		return 1;
	for (size_t i = 0; i < n; i++) {
		bool twin = false;
		char rid[80];
		cJSON *rule = NULL;

		/* devices that hash alike (serial-less twins) are told apart by port */
		for (size_t j = 0; j < n; j++)
			if (j != i && strcmp(p[i].id.ug_hash, p[j].id.ug_hash) == 0 &&
			    strcmp(p[i].id.ug_parent_hash, p[j].id.ug_parent_hash) == 0)
				twin = true;
		snprintf(rid, sizeof(rid), "present-%s", p[i].name);
		r = usb_generate_rule(&p[i].id, rid, twin, &rule);
		if (r < 0) {
			fprintf(stderr, L(env, "%s: ルールを作れません: %s\n", "%s: no rule: %s\n"), p[i].name,
			        strerror(-r));
			continue;
		}
		cJSON_AddItemToArray(rules, rule);
	}
	text = cJSON_Print(doc);
	if (!text)
		return 1;
	/* what is printed must pass `policy check` */
	policy_errors_init(&errs);
	if (policy_parse(text, strlen(text), &check, &errs) < 0) {
		policy_errors_print(&errs, stderr, env->lang);
		return 1;
	}
	policy_free(check);
	printf("%s\n", text);
	return 0;
}

/* ---- local exceptions and the decision stream (issue 12.6) ---------------- */

static int socket_path(struct ctl_env *env, char *buf, size_t sz)
{
	return root_pathf(buf, sz, "%s/mamorid.sock", env->config.run_dir);
}

/* One request, its answer parsed (NULL and a message when there is none). */
cJSON *ctl_control_call(struct ctl_env *env, cJSON *req)
{
	char path[PATH_MAX];
	_cleanup_free_ char *text = cJSON_PrintUnformatted(req), *resp = NULL;
	cJSON *out;
	int r;

	if (!text || socket_path(env, path, sizeof(path)) < 0)
		return NULL;
	r = control_call(path, text, 10000, &resp);
	if (r < 0) {
		fprintf(stderr, L(env, "mamorid に接続できません (%s): %s\n", "cannot reach mamorid (%s): %s\n"), path,
		        strerror(-r));
		return NULL;
	}
	out = cJSON_Parse(resp);
	if (!out)
		fprintf(stderr, "%s", L(env, "mamorid の応答を読めません\n", "mamorid's answer does not parse\n"));
	return out;
}

/* "2026-12-05T09:00:00+09:00", "…Z": seconds since 1970, or -1 */
int64_t ctl_parse_time(const char *s)
{
	struct tm tm = {0};
	const char *e = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	int64_t t, off = 0;

	if (!e)
		return -1;
	if (strcmp(e, "Z") == 0)
		off = 0;
	else if ((e[0] == '+' || e[0] == '-') && strlen(e) == 6 && e[3] == ':') {
		int64_t h, m;
		char hh[3] = {e[1], e[2], 0}, mm[3] = {e[4], e[5], 0};
		if (parse_int64(hh, 0, 23, &h) < 0 || parse_int64(mm, 0, 59, &m) < 0)
			return -1;
		off = (h * 3600 + m * 60) * (e[0] == '-' ? -1 : 1);
	} else
		return -1;
	t = (int64_t)timegm(&tm);
	return t - off;
}

void ctl_format_time(int64_t t, char *buf, size_t bufsz)
{
	time_t tt = (time_t)t;
	struct tm tm;

	/* Japan time with its zone (people-facing times) */
	tt += 9 * 3600;
	if (!gmtime_r(&tt, &tm) || strftime(buf, bufsz, "%Y-%m-%d %H:%M:%S JST", &tm) == 0)
		snprintf(buf, bufsz, "%lld", (long long)t);
}

void ctl_print_time(int64_t t)
{
	char b[64];

	ctl_format_time(t, b, sizeof(b));
	printf("%s", b);
}

/* The device an ID names: a port name present now, or a descriptor hash
 * (present or not). */
static cJSON *device_of(struct ctl_env *env, const char *idarg)
{
	_cleanup_free_ struct present *p = NULL;
	size_t n = 0;
	cJSON *o = cJSON_CreateObject();

	if (!o)
		return NULL;
	if (enumerate(&p, &n) < 0)
		n = 0;
	for (size_t i = 0; i < n; i++) {
		const struct usb_identity *id = &p[i].id;
		char v[8];

		if (strcmp(p[i].name, idarg) != 0 && strcmp(id->hash_hex, idarg) != 0)
			continue;
		if (!(id->have & USB_ID_HASH))
			break;
		cJSON_AddStringToObject(o, "hash", id->hash_hex);
		snprintf(v, sizeof(v), "%04x", id->vendor);
		cJSON_AddStringToObject(o, "vendor", v);
		snprintf(v, sizeof(v), "%04x", id->product);
		cJSON_AddStringToObject(o, "product", v);
		/* the exact bytes as a JSON string (journaled exactly) */
		/* exact bytes where JSON can carry them as a string (the hash names the device) */
		if (id->serial_raw.present && !id->serial_raw.too_long &&
		    utf8_valid(id->serial_raw.b, id->serial_raw.len) && strlen(id->serial_raw.b) == id->serial_raw.len)
			cJSON_AddStringToObject(o, "serial", id->serial_raw.b);
		else
			cJSON_AddNullToObject(o, "serial");
		if (utf8_valid(id->name_raw.b, id->name_raw.len) && strlen(id->name_raw.b) == id->name_raw.len)
			cJSON_AddStringToObject(o, "name", id->name_raw.b);
		cJSON_AddStringToObject(o, "port", p[i].name);
		return o;
	}
	if (usb_local_is_hash(idarg)) {
		cJSON_AddStringToObject(o, "hash", idarg);
		return o;
	}
	cJSON_Delete(o);
	fprintf(stderr,
	        L(env, "%s: 接続中の機器のポート名 (usb list) か 64 桁のハッシュを指定してください\n",
	          "%s: not a present device's port name (usb list) nor a 64-digit descriptor hash\n"),
	        idarg);
	return NULL;
}

static int print_answer(struct ctl_env *env, cJSON *ans)
{
	const cJSON *ok = cJSON_GetObjectItemCaseSensitive(ans, "ok");

	if (env->json) {
		_cleanup_free_ char *t = cJSON_Print(ans);
		printf("%s\n", t ? t : "{}");
	}
	if (!cJSON_IsTrue(ok)) {
		const char *e = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ans, "error"));
		const char *rs = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ans, "reason"));
		fprintf(stderr, L(env, "拒否されました (%s): %s\n", "refused (%s): %s\n"), rs ? rs : "error",
		        e ? e : "?");
		return 1;
	}
	return 0;
}

static int cmd_exception(struct ctl_env *env, bool allow, int argc, char **argv)
{
	_cleanup_(cJSON_Deletep) cJSON *req = cJSON_CreateObject(), *ans = NULL;
	cJSON *args, *dev;
	const char *idarg = NULL, *reason = NULL, *until = NULL, *hours = NULL;
	bool permanent = false;

	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--reason") == 0 && i + 1 < argc)
			reason = argv[++i];
		else if (strcmp(argv[i], "--until") == 0 && i + 1 < argc)
			until = argv[++i];
		else if (strcmp(argv[i], "--hours") == 0 && i + 1 < argc)
			hours = argv[++i];
		else if (strcmp(argv[i], "--permanent") == 0)
			permanent = true;
		else if (strcmp(argv[i], "--json") == 0)
			env->json = true;
		else if (argv[i][0] != '-' && !idarg)
			idarg = argv[i];
		else
			goto usage;
	}
	if (!idarg || !reason || !reason[0] || (!!until + !!hours + permanent) > 1)
		goto usage;
	if (!req || !cJSON_AddStringToObject(req, "cmd", allow ? "usb_allow" : "usb_block") ||
	    !(args = cJSON_AddObjectToObject(req, "args")))
		return 1;
	dev = device_of(env, idarg);
	if (!dev)
		return 1;
	cJSON_AddItemToObject(args, "device", dev);
	cJSON_AddStringToObject(args, "reason", reason);
	if (permanent)
		cJSON_AddTrueToObject(args, "permanent");
	if (until) {
		int64_t t = ctl_parse_time(until);
		if (t < 0) {
			fprintf(stderr, "%s",
			        L(env, "--until: 2026-12-05T18:00:00+09:00 の形で指定してください\n",
			          "--until: give a time like 2026-12-05T18:00:00+09:00\n"));
			return 2;
		}
		cJSON_AddNumberToObject(args, "until", (double)t);
	}
	if (hours) {
		int64_t h;
		if (parse_int64(hours, 1, 100000, &h) < 0)
			goto usage;
		cJSON_AddNumberToObject(args, "hours", (double)h);
	}
	ans = ctl_control_call(env, req);
	if (!ans)
		return 2; /* the daemon could not be reached (mamorictl(8) EXIT STATUS) */
	if (print_answer(env, ans))
		return 1;
	if (!env->json) {
		const cJSON *na = cJSON_GetObjectItemCaseSensitive(ans, "not_after");
		printf("%s %s ", cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ans, "id")),
		       allow ? "allow" : "block");
		if (cJSON_IsNumber(na) && na->valuedouble > 0) {
			printf(L(env, "期限 ", "until "));
			ctl_print_time((int64_t)na->valuedouble);
		} else
			printf("%s", L(env, "次のポリシー版まで (または revoke)",
			               "until the next policy version (or revoke)"));
		printf("\n");
	}
	return 0;
usage:
	fprintf(stderr, "%s",
	        L(env,
	          "使い方: mamorictl usb allow|block ID --reason TEXT [--hours N | --until TIME | --permanent] "
	          "[--json]\n",
	          "usage: mamorictl usb allow|block ID --reason TEXT [--hours N | --until TIME | --permanent] "
	          "[--json]\n"));
	return 2;
}

static int cmd_exceptions(struct ctl_env *env)
{
	_cleanup_(cJSON_Deletep) cJSON *req = cJSON_CreateObject(), *ans = NULL;
	const cJSON *it;

	if (!req || !cJSON_AddStringToObject(req, "cmd", "usb_exceptions"))
		return 1;
	ans = ctl_control_call(env, req);
	if (!ans)
		return 2; /* the daemon could not be reached (mamorictl(8) EXIT STATUS) */
	if (print_answer(env, ans) || env->json)
		return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ans, "ok")) ? 0 : 1;
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(ans, "exceptions"))
	{
		const cJSON *dev = cJSON_GetObjectItemCaseSensitive(it, "device");
		const cJSON *na = cJSON_GetObjectItemCaseSensitive(it, "not_after");
		_cleanup_free_ char *why = NULL, *ser = NULL;
		const char *s;

		s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "reason"));
		why = s ? escape_untrusted(s, strlen(s), 4096) : NULL;
		s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(dev, "serial"));
		ser = s ? escape_untrusted(s, strlen(s), 4096) : NULL;
		printf("%s %s %s:%s serial %s%s%s ", cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "id")),
		       cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "action")),
		       cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(dev, "vendor")) ?: "?",
		       cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(dev, "product")) ?: "?", ser ? "\"" : "",
		       ser ? ser : "-", ser ? "\"" : "");
		if (cJSON_IsNumber(na) && na->valuedouble > 0) {
			printf("%s", L(env, "期限 ", "until "));
			ctl_print_time((int64_t)na->valuedouble);
		} else
			printf("%s", L(env, "次のポリシー版まで", "until the next policy version"));
		printf(" by %s: %s\n", cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "user")) ?: "?",
		       why ? why : "");
	}
	return 0;
}

static int cmd_revoke(struct ctl_env *env, int argc, char **argv)
{
	_cleanup_(cJSON_Deletep) cJSON *req = cJSON_CreateObject(), *ans = NULL;
	cJSON *args;
	const char *idarg = NULL, *reason = NULL;

	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--reason") == 0 && i + 1 < argc)
			reason = argv[++i];
		else if (strcmp(argv[i], "--json") == 0)
			env->json = true;
		else if (argv[i][0] != '-' && !idarg)
			idarg = argv[i];
		else
			idarg = NULL, argc = 0;
	}
	if (!idarg) {
		fprintf(stderr, "%s",
		        L(env, "使い方: mamorictl usb revoke ID [--reason TEXT]\n",
		          "usage: mamorictl usb revoke ID [--reason TEXT]\n"));
		return 2;
	}
	if (!req || !cJSON_AddStringToObject(req, "cmd", "usb_revoke") ||
	    !(args = cJSON_AddObjectToObject(req, "args")))
		return 1;
	cJSON_AddStringToObject(args, "id", idarg);
	if (reason)
		cJSON_AddStringToObject(args, "reason", reason);
	ans = ctl_control_call(env, req);
	if (!ans)
		return 2; /* the daemon could not be reached (mamorictl(8) EXIT STATUS) */
	if (print_answer(env, ans))
		return 1;
	if (!env->json)
		printf("%s revoked\n", idarg);
	return 0;
}

static volatile sig_atomic_t watch_stop;

static void on_stop_signal(int sig)
{
	(void)sig;
	watch_stop = 1;
}

static void watch_print(struct ctl_env *env, const char *line)
{
	_cleanup_(cJSON_Deletep) cJSON *o = NULL;
	const cJSON *p, *dev;
	_cleanup_free_ char *name = NULL, *ser = NULL;
	const char *s;

	if (env->json) {
		printf("%s\n", line);
		fflush(stdout);
		return;
	}
	o = cJSON_Parse(line);
	if (!o)
		return;
	p = cJSON_GetObjectItemCaseSensitive(o, "payload");
	dev = cJSON_GetObjectItemCaseSensitive(p, "device");
	if (!dev)
		dev = cJSON_GetObjectItemCaseSensitive(p, "identity");
	ctl_print_time((int64_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, "time")));
	printf(" %s %s", cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "severity")) ?: "?",
	       cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "type")) ?: "?");
	if (dev) {
		s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(dev, "serial"));
		ser = s ? escape_untrusted(s, strlen(s), 256) : NULL;
		s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(dev, "name"));
		name = s ? escape_untrusted(s, strlen(s), 256) : NULL;
		printf(" %s:%s port %s serial \"%s\" name \"%s\"",
		       cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(dev, "vendor")) ?: "?",
		       cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(dev, "product")) ?: "?",
		       cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(dev, "port")) ?: "?", ser ? ser : "",
		       name ? name : "");
	}
	if ((s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "rule"))))
		printf(" rule %s", s);
	if ((s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "reason")))) {
		_cleanup_free_ char *r = escape_untrusted(s, strlen(s), 256);
		printf(" reason %s", r ? r : "");
	}
	if ((s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "id"))))
		printf(" id %s", s);
	printf("\n");
	fflush(stdout);
}

/* Decisions as they happen: until SIGINT/SIGTERM (exit 0) or until the
 * agent closes the stream (it stopped: exit 0, said on stderr). */
static int cmd_watch(struct ctl_env *env)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct sigaction act = {.sa_handler = on_stop_signal};
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *buf = NULL;
	size_t len = 0, cap = 1 << 20;
	bool answered = false;
	char path[PATH_MAX];
	const char req[] = "{\"cmd\":\"usb_watch\"}\n";

	if (socket_path(env, path, sizeof(path)) < 0 || strscpy(sa.sun_path, sizeof(sa.sun_path), path) < 0)
		return 1;
	buf = malloc(cap + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (!buf || fd < 0)
		return 1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || send(fd, req, strlen(req), MSG_NOSIGNAL) < 0) {
		fprintf(stderr, L(env, "mamorid に接続できません (%s): %s\n", "cannot reach mamorid (%s): %s\n"), path,
		        strerror(errno));
		return 2;
	}
	sigaction(SIGINT, &act, NULL);
	sigaction(SIGTERM, &act, NULL);
	while (!watch_stop) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		ssize_t n;
		char *nl;

		if (poll(&pfd, 1, -1) < 0)
			continue; /* EINTR: the loop checks watch_stop */
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "%s",
			        L(env, "mamorid が停止しました: 監視を終わります\n",
			          "mamorid stopped: end of the stream\n"));
			return answered ? 0 : 1;
		}
		len += (size_t)n;
		while ((nl = memchr(buf, '\n', len))) {
			*nl = '\0';
			if (!answered) {
				_cleanup_(cJSON_Deletep) cJSON *a = cJSON_Parse(buf);
				if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(a, "ok")))
					return print_answer(env, a ? a : cJSON_CreateObject());
				answered = true;
				if (!env->json)
					fprintf(stderr, "%s",
					        L(env, "USB の判定を表示します (Ctrl-C で終了)\n",
					          "USB decisions as they happen (Ctrl-C ends)\n"));
			} else
				watch_print(env, buf);
			len -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, len);
		}
		if (len == cap)
			len = 0; /* a line longer than 1 MiB: dropped */
	}
	return 0;
}

int ctl_usb(struct ctl_env *env, int argc, char **argv)
{
	const char *policy = NULL;

	if (argc >= 2 && (strcmp(argv[1], "allow") == 0 || strcmp(argv[1], "block") == 0))
		return cmd_exception(env, strcmp(argv[1], "allow") == 0, argc, argv);
	if (argc >= 2 && strcmp(argv[1], "revoke") == 0)
		return cmd_revoke(env, argc, argv);
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--policy") == 0 && i + 1 < argc)
			policy = argv[++i];
		else if (strcmp(argv[i], "--json") == 0)
			env->json = true;
		else
			goto usage;
	}
	if (argc >= 2 && strcmp(argv[1], "list") == 0)
		return cmd_list(env, policy);
	if (argc >= 2 && strcmp(argv[1], "generate-policy") == 0 && !policy)
		return cmd_generate(env);
	if (argc >= 2 && strcmp(argv[1], "exceptions") == 0 && !policy)
		return cmd_exceptions(env);
	if (argc >= 2 && strcmp(argv[1], "watch") == 0 && !policy)
		return cmd_watch(env);
usage:
	fprintf(stderr, "%s",
	        L(env,
	          "使い方: mamorictl usb list [--policy FILE] [--json] | generate-policy\n"
	          "       | allow|block ID --reason TEXT [--hours N | --until TIME | --permanent]\n"
	          "       | exceptions [--json] | revoke ID [--reason TEXT] | watch [--json]\n",
	          "usage: mamorictl usb list [--policy FILE] [--json] | generate-policy\n"
	          "       | allow|block ID --reason TEXT [--hours N | --until TIME | --permanent]\n"
	          "       | exceptions [--json] | revoke ID [--reason TEXT] | watch [--json]\n"));
	return 2;
}
