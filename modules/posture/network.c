/* modules/posture/network.c — interfaces, routing table, NetworkManager Wi-Fi
 * profiles and the NET-2 checks (mamori-worker). */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc-util.h"
#include "fileio.h"
#include "network.h"
#include "network_wifi.h"
#include "rootpath.h"
#include "strutil.h"

#define REQ "NET-2"

int network_parse_cidr(const char *s, struct network_cidr *ret)
{
	struct network_cidr c = {0};
	char a[INET6_ADDRSTRLEN + 8];
	const char *slash = strchr(s, '/');
	size_t al = slash ? (size_t)(slash - s) : strlen(s);
	int64_t pfx;

	if (al >= sizeof(a))
		return -EINVAL;
	memcpy(a, s, al);
	a[al] = '\0';
	if (inet_pton(AF_INET, a, c.addr) == 1)
		c.family = AF_INET;
	else if (inet_pton(AF_INET6, a, c.addr) == 1)
		c.family = AF_INET6;
	else
		return -EINVAL;
	c.prefix = c.family == AF_INET ? 32 : 128;
	if (slash) {
		if (parse_int64(slash + 1, 0, c.prefix, &pfx) < 0)
			return -EINVAL;
		c.prefix = (int)pfx;
	}
	*ret = c;
	return 0;
}

int network_settings_from_json(const cJSON *sec, struct network_settings *ret)
{
	_cleanup_free_ struct network_settings *s = calloc(1, sizeof(*s));
	const cJSON *j, *e;

	if (!s)
		return -ENOMEM;
	s->wireless_encryption_required = true;
	if (sec) {
		if (!cJSON_IsObject(sec))
			return -EINVAL;
		j = cJSON_GetObjectItemCaseSensitive(sec, "wireless_encryption_required");
		if (j) {
			if (!cJSON_IsBool(j))
				return -EINVAL;
			s->wireless_encryption_required = cJSON_IsTrue(j);
		}
		j = cJSON_GetObjectItemCaseSensitive(sec, "allowed_destinations");
		if (j) {
			if (!cJSON_IsArray(j))
				return -EINVAL;
			s->have_destinations = true;
			cJSON_ArrayForEach(e, j)
			{
				const cJSON *c = cJSON_GetObjectItemCaseSensitive(e, "cidr");
				if (!cJSON_IsString(c) || s->n_dests >= NETWORK_MAX_DESTS ||
				    network_parse_cidr(c->valuestring, &s->dests[s->n_dests]) < 0)
					return -EINVAL;
				s->n_dests++;
			}
		}
	}
	*ret = *s;
	return 0;
}

/* ---- facts -------------------------------------------------------------- */

static void gather_ifaces(struct network_facts *f)
{
	char dir[PATH_MAX];
	struct dirent *de;
	DIR *d;

	if (root_path(dir, sizeof(dir), "/sys/class/net") < 0)
		return;
	d = opendir(dir);
	if (!d)
		return;
	while ((de = readdir(d)) && f->n_ifaces < NETWORK_MAX_IFACES) {
		struct network_iface *i = &f->ifaces[f->n_ifaces];
		char p[PATH_MAX];

		if (de->d_name[0] == '.' || strcmp(de->d_name, "lo") == 0 || strlen(de->d_name) >= sizeof(i->name))
			continue;
		memset(i, 0, sizeof(*i));
		strscpy(i->name, sizeof(i->name), de->d_name);
		if (xsnprintf(p, sizeof(p), "%s/%s/operstate", dir, de->d_name) < 0 ||
		    read_one_line(p, i->operstate, sizeof(i->operstate)) < 0)
			strscpy(i->operstate, sizeof(i->operstate), "unknown");
		if ((xsnprintf(p, sizeof(p), "%s/%s/wireless", dir, de->d_name) == 0 && access(p, F_OK) == 0) ||
		    (xsnprintf(p, sizeof(p), "%s/%s/phy80211", dir, de->d_name) == 0 && access(p, F_OK) == 0))
			i->wireless = true;
		f->n_ifaces++;
	}
	closedir(d);
}

int network_gather(struct network_facts *f)
{
	memset(f, 0, sizeof(*f));
	gather_ifaces(f);
	network_wifi_gather(f);
	return 0;
}

/* ---- evaluation --------------------------------------------------------- */

static void cidr_str(const struct network_cidr *c, char *buf, size_t sz)
{
	char a[INET6_ADDRSTRLEN];

	if (!inet_ntop(c->family, c->addr, a, sizeof(a)))
		strscpy(a, sizeof(a), "?");
	snprintf(buf, sz, "%s/%d", a, c->prefix);
}

static void append(char *buf, size_t sz, const char *s)
{
	size_t o = strlen(buf);

	if (o + 1 < sz)
		snprintf(buf + o, sz - o, "%s%s", o ? ", " : "", s);
}

static int eval_routes(const struct network_settings *s, const struct network_facts *f, struct check_report *rep)
{
	struct check_result *r = check_report_add(rep, "network", "network.routes", REQ);
	char all[CHECK_VALUE_MAX] = "", bad[CHECK_VALUE_MAX] = "", ifs[512] = "";
	size_t nbad = 0;

	if (!r)
		return -ENOMEM;
	for (size_t i = 0; i < f->n_ifaces; i++) {
		char one[96];
		snprintf(one, sizeof(one), "%s:%s%s", f->ifaces[i].name, f->ifaces[i].operstate,
		         f->ifaces[i].wireless ? "(wireless)" : "");
		append(ifs, sizeof(ifs), one);
	}
	check_result_evidence(r, "interfaces", "%s", ifs[0] ? ifs : "none");
	if (!s->have_destinations) {
		check_result_set(r, CHECK_NOT_APPLICABLE, "この区分では接続先の制限はありません",
		                 "This segment does not restrict destinations");
		return 0;
	}
	if (f->routes_host) {
		/* --root: the kernel's routing is the evaluating machine's (issue 21) */
		check_result_evidence(r, "scope", "host kernel, not the evaluated root");
		check_result_set(
		        r, CHECK_NOT_APPLICABLE,
		        "ルートを指定した点検では経路は対象外です (カーネルの経路はこのマシンのもののため)",
		        "Not judged with a root prefix: the kernel's routing is this machine's, not the root's");
		return 0;
	}
	if (f->routes_err < 0) {
		check_result_evidence(r, "error", "%s", f->routes_err_what);
		check_result_set(r, CHECK_ERROR, "経路を確認できませんでした", "Could not ask the kernel for routes");
		check_result_remedy(r, "証跡 (error) を確認してください。", "Check the error in the evidence.");
		return 0;
	}
	for (size_t i = 0; i < f->n_routes; i++) {
		char c[INET6_ADDRSTRLEN + 64];
		size_t o;

		cidr_str(&f->routes[i].dst, c, sizeof(c));
		o = strlen(c);
		snprintf(c + o, sizeof(c) - o, " dev %s table %u", f->routes[i].iface, f->routes[i].table);
		append(all, sizeof(all), c);
	}
	check_result_evidence(r, "routes", "%s%s", all[0] ? all : "none", f->routes_more ? " (more)" : "");
	for (size_t i = 0; i < f->n_probes; i++) {
		const struct network_probe *p = &f->probes[i];
		char a[INET6_ADDRSTRLEN] = "?", one[256];

		if (!p->out)
			continue;
		inet_ntop(p->dst.family, p->dst.addr, a, sizeof(a));
		snprintf(one, sizeof(one), "%s%s%s dev %s table %u (%s)", a, p->has_mark ? " mark" : "",
		         p->has_uid ? " uid" : "", p->iface, p->table, p->why);
		append(bad, sizeof(bad), one);
		nbad++;
	}
	check_result_evidence(r, "destinations_asked", "%zu%s", f->n_probes, f->probes_more ? " (more not asked)" : "");
	if (nbad) {
		check_result_evidence(r, "not_allowed", "%s", bad);
		check_result_set(r, CHECK_FAIL, "許可されていない宛先への通信が外に出ます (カーネルの経路判断)",
		                 "Traffic to destinations that are not allowed leaves the machine (the kernel's "
		                 "routing decision)");
		check_result_remedy(
		        r,
		        "既定経路と、許可された宛先 (allowed_destinations) 以外への経路・ip rule を削除して"
		        "ください (すべての経路表)。",
		        "Remove the default route and every route or ip rule (in any table) to destinations "
		        "other than the allowed ones (allowed_destinations).");
	} else if (f->probes_more) {
		check_result_set(r, CHECK_ERROR, "経路が多すぎて確認しきれませんでした",
		                 "Too many routes and rules to ask the kernel about every one");
	} else {
		check_result_set(r, CHECK_PASS,
		                 "許可された宛先以外への通信はどこにも出ていきません (カーネルの経路判断)",
		                 "Traffic to destinations outside the allowed ones goes nowhere (the kernel's routing "
		                 "decision)");
	}
	return 0;
}

static int eval_wireless(const struct network_settings *s, const struct network_facts *f, struct check_report *rep)
{
	struct check_result *r = check_report_add(rep, "network", "network.wireless", REQ);
	char bad[CHECK_VALUE_MAX] = "", good[CHECK_VALUE_MAX] = "", errs[512] = "", wl[256] = "";
	size_t nbad = 0, nerr = 0, ngood = 0, nwl = 0;

	if (!r)
		return -ENOMEM;
	for (size_t i = 0; i < f->n_ifaces; i++)
		if (f->ifaces[i].wireless) {
			append(wl, sizeof(wl), f->ifaces[i].name);
			nwl++;
		}
	check_result_evidence(r, "wireless_interfaces", "%s", wl[0] ? wl : "none");
	for (size_t i = 0; i < f->n_wifi; i++) {
		const struct network_wifi *w = &f->wifi[i];
		char one[320];

		if (w->err < 0) {
			snprintf(one, sizeof(one), "%s %s: %s", w->source, w->file,
			         w->what[0]         ? w->what
			         : w->err == -EFBIG ? "too large"
			                            : strerror(-w->err));
			append(errs, sizeof(errs), one);
			nerr++;
			continue;
		}
		snprintf(one, sizeof(one), "%s (%s %s): %s", w->id[0] ? w->id : "?", w->source, w->file, w->key_mgmt);
		if (w->secure) {
			append(good, sizeof(good), one);
			ngood++;
		} else {
			append(bad, sizeof(bad), one);
			nbad++;
		}
	}
	check_result_evidence(r, "profiles", "%zu%s", f->n_wifi, f->wifi_more ? " or more" : "");
	check_result_evidence(r, "encrypted_profiles", "%s", good[0] ? good : "none");
	if (!s->wireless_encryption_required) {
		check_result_set(r, CHECK_NOT_APPLICABLE, "無線の暗号化はポリシーで求められていません",
		                 "The policy does not require wireless encryption");
		return 0;
	}
	if (nbad) {
		check_result_evidence(r, "unencrypted_profiles", "%s", bad);
		check_result_set(r, CHECK_FAIL, "暗号化されていない (または WEP の) 無線接続設定があります",
		                 "There are open or WEP wireless connection profiles");
		check_result_remedy(
		        r,
		        "該当する接続設定 (NetworkManager, wpa_supplicant, netplan, ifupdown, iwd) を削除し、"
		        "WPA2/WPA3 の接続だけを使ってください。",
		        "Delete those profiles (NetworkManager, wpa_supplicant, netplan, ifupdown, iwd) and "
		        "use only WPA2/WPA3.");
	} else if (nerr || f->wifi_more) {
		check_result_evidence(r, "error", "%s%s", errs,
		                      f->wifi_more ? " (more profiles than can be judged)" : "");
		check_result_set(r, CHECK_ERROR, "無線接続設定を判定できませんでした",
		                 "Could not judge wireless profiles");
		check_result_remedy(r, "証跡 (error) のファイルを確認してください。",
		                    "Check the files in the evidence.");
	} else if (nwl && !ngood) {
		/* a wireless interface and no profile in any source mamori reads:
		 * how it connects is unknown, never a pass (issue 21) */
		check_result_set(r, CHECK_FAIL,
		                 "無線インタフェースがありますが接続設定が見つかりません (不明 — 設定の方法をポリシーで"
		                 "確認してください)",
		                 "A wireless interface exists but no profile was found (unknown — check how it is "
		                 "configured)");
		check_result_remedy(
		        r,
		        "無線を使わないなら無効にしてください (rfkill, BIOS)。使う場合は WPA2/WPA3 の接続設定を"
		        "NetworkManager などで作ってください。",
		        "If wireless is not used, disable it (rfkill, firmware setup); otherwise configure a "
		        "WPA2/WPA3 profile (NetworkManager or another supported source).");
	} else {
		check_result_set(r, CHECK_PASS,
		                 ngood ? "無線接続設定はすべて暗号化されています"
		                       : "無線インタフェースも無線接続設定もありません",
		                 ngood ? "Every wireless profile is encrypted"
		                       : "No wireless interface and no wireless profile");
	}
	return 0;
}

int network_evaluate(const struct network_settings *s, const struct network_facts *f, struct check_report *rep)
{
	int r = eval_routes(s, f, rep);

	return r < 0 ? r : eval_wireless(s, f, rep);
}

/* ---- the module --------------------------------------------------------- */

/* the core owns the settings (agent/sdk/module.h): state is a network_settings */
static int network_settings_load(const cJSON *section, void *settings)
{
	return network_settings_from_json(section, settings);
}

static int network_check(void *state, struct check_report *rep)
{
	const struct network_settings *settings = state;
	_cleanup_free_ struct network_facts *f = malloc(sizeof(*f));
	int r;

	if (!f)
		return -ENOMEM;
	r = network_gather(f);
	if (r >= 0)
		r = network_gather_routes(settings, f);
	if (r < 0)
		return r;
	return network_evaluate(settings, f, rep);
}

const struct mamori_module network_module = {
        .name = "network",
        .caps = MAMORI_CAP_CHECK,
        .section = "network",
        .settings_size = sizeof(struct network_settings),
        .settings_load = network_settings_load,
        .check = network_check,
};
