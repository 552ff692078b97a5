/* agent/ctl/ctl_usb.c — `mamorictl usb list | generate-policy` (mamorictl,
 * run by an administrator at the terminal; issue 12).
 *
 * Reads the devices present now from sysfs (through --root), with the same
 * identity code as the gate (modules/usb/usb_identity.c), so the hashes and
 * decisions shown are the ones the gate computes. `list` decides every device
 * with a policy file (default: the policy_file of agent.conf, read without
 * its signature: this only shows); `generate-policy` prints a policy document
 * whose usb.rules allow exactly the devices present now, ready for
 * `mamorictl policy check` and `policy sign`. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc-util.h"
#include "ctl.h"
#include "json-util.h"
#include "policy.h"
#include "rootpath.h"
#include "sha256.h"
#include "strutil.h"
#include "usb/usb_generate.h"
#include "usb/usb_identity.h"
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
			printf("%-8s %04x:%04x %-8s %-10s %-20s serial \"%s\" name \"%s\"\n         usbguard_hash %s\n",
			       p[i].name, id->vendor, id->product, usb_action_to_string(d.action), d.reason, d.rule_id,
			       id->serial, id->name, id->ug_hash);
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

int ctl_usb(struct ctl_env *env, int argc, char **argv)
{
	const char *policy = NULL;

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
usage:
	fprintf(stderr, "%s",
	        L(env, "使い方: mamorictl usb list [--policy FILE] [--json] | generate-policy\n",
	          "usage: mamorictl usb list [--policy FILE] [--json] | generate-policy\n"));
	return 2;
}
