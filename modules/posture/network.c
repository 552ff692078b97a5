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

#define REQ            "NET-2"
#define ROUTE_FILE_MAX (16 * 1024 * 1024)
#define RTF_REJECT_    0x0200

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

static int hexval(char c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	                              : -1;
}

static bool hex_bytes(const char *s, size_t n, uint8_t *out)
{
	if (strlen(s) != 2 * n)
		return false;
	for (size_t i = 0; i < n; i++) {
		int h = hexval(s[2 * i]), l = hexval(s[2 * i + 1]);
		if (h < 0 || l < 0)
			return false;
		out[i] = (uint8_t)(h * 16 + l);
	}
	return true;
}

static int route_fail(struct network_facts *f, const char *file, int line)
{
	f->routes_err = -EINVAL;
	xsnprintf(f->routes_err_what, sizeof(f->routes_err_what), "%s:%d: malformed line", file, line);
	return -EINVAL;
}

static int split(char *line, char **tok, size_t max)
{
	char *save = NULL;
	size_t n = 0;

	for (char *t = strtok_r(line, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
		if (n >= max)
			return -1;
		tok[n++] = t;
	}
	return (int)n;
}

/* Iface Destination Gateway Flags RefCnt Use Metric Mask MTU Window IRTT */
static int parse_route4(struct network_facts *f, const char *buf)
{
	int lineno = 0;

	while (*buf) {
		size_t ll = strcspn(buf, "\n");
		char line[512], *tok[16];
		uint8_t dst[4], mask[4];
		int nt, prefix = 0;
		bool contiguous = true;
		int64_t flags;

		lineno++;
		if (ll >= sizeof(line))
			return route_fail(f, "/proc/net/route", lineno);
		memcpy(line, buf, ll);
		line[ll] = '\0';
		buf += ll + (buf[ll] == '\n');
		nt = split(line, tok, ELEMENTSOF(tok));
		if (nt == 0)
			continue;
		if (lineno == 1) {
			if (nt < 8 || strcmp(tok[0], "Iface") != 0)
				return route_fail(f, "/proc/net/route", lineno);
			continue;
		}
		if (nt < 8 || !hex_bytes(tok[1], 4, dst) || !hex_bytes(tok[7], 4, mask) || strlen(tok[3]) == 0 ||
		    strlen(tok[3]) > 8 || strspn(tok[3], "0123456789abcdefABCDEF") != strlen(tok[3]))
			return route_fail(f, "/proc/net/route", lineno);
		flags = strtol(tok[3], NULL, 16);
		if (flags & RTF_REJECT_)
			continue;
		/* the kernel prints the u32 in host order: bytes come out reversed on little endian */
		{
			uint32_t d, m;
			uint8_t db[4], mb[4];
			d = (uint32_t)dst[0] << 24 | (uint32_t)dst[1] << 16 | (uint32_t)dst[2] << 8 | dst[3];
			m = (uint32_t)mask[0] << 24 | (uint32_t)mask[1] << 16 | (uint32_t)mask[2] << 8 | mask[3];
			memcpy(db, &d, 4);
			memcpy(mb, &m, 4);
			for (int i = 0; i < 32; i++) {
				bool bit = mb[i / 8] & (0x80 >> (i % 8));
				if (bit && !contiguous)
					return route_fail(f, "/proc/net/route", lineno);
				if (bit)
					prefix++;
				else
					contiguous = false;
			}
			if (strcmp(tok[0], "lo") == 0 || f->n_routes >= NETWORK_MAX_ROUTES)
				continue;
			f->routes[f->n_routes].dst.family = AF_INET;
			memset(f->routes[f->n_routes].dst.addr, 0, 16);
			memcpy(f->routes[f->n_routes].dst.addr, db, 4);
			f->routes[f->n_routes].dst.prefix = prefix;
			strscpy(f->routes[f->n_routes].iface, sizeof(f->routes[0].iface), tok[0]);
			f->n_routes++;
		}
	}
	return 0;
}

/* dest plen src plen nexthop metric refcnt use flags iface */
static int parse_route6(struct network_facts *f, const char *buf)
{
	int lineno = 0;

	while (*buf) {
		size_t ll = strcspn(buf, "\n");
		char line[512], *tok[12];
		uint8_t dst[16], plen, fl[4];
		uint32_t flags;
		int nt;

		lineno++;
		if (ll >= sizeof(line))
			return route_fail(f, "/proc/net/ipv6_route", lineno);
		memcpy(line, buf, ll);
		line[ll] = '\0';
		buf += ll + (buf[ll] == '\n');
		nt = split(line, tok, ELEMENTSOF(tok));
		if (nt == 0)
			continue;
		if (nt != 10 || !hex_bytes(tok[0], 16, dst) || !hex_bytes(tok[1], 1, &plen) || plen > 128 ||
		    !hex_bytes(tok[8], 4, fl))
			return route_fail(f, "/proc/net/ipv6_route", lineno);
		flags = (uint32_t)fl[0] << 24 | (uint32_t)fl[1] << 16 | (uint32_t)fl[2] << 8 | fl[3];
		if ((flags & RTF_REJECT_) || strcmp(tok[9], "lo") == 0)
			continue;
		if ((dst[0] == 0xfe && (dst[1] & 0xc0) == 0x80) || dst[0] == 0xff)
			continue; /* link-local and multicast never leave the segment */
		if (f->n_routes >= NETWORK_MAX_ROUTES)
			continue;
		f->routes[f->n_routes].dst.family = AF_INET6;
		memcpy(f->routes[f->n_routes].dst.addr, dst, 16);
		f->routes[f->n_routes].dst.prefix = plen;
		strscpy(f->routes[f->n_routes].iface, sizeof(f->routes[0].iface), tok[9]);
		f->n_routes++;
	}
	return 0;
}

static void gather_routes(struct network_facts *f)
{
	_cleanup_free_ char *b4 = NULL, *b6 = NULL;
	char p[PATH_MAX];
	int r;

	if (root_path(p, sizeof(p), "/proc/net/route") < 0)
		return;
	r = read_file_capped(p, ROUTE_FILE_MAX, &b4, NULL);
	if (r < 0) {
		f->routes_err = r;
		xsnprintf(f->routes_err_what, sizeof(f->routes_err_what), "/proc/net/route: %s", strerror(-r));
		return;
	}
	if (parse_route4(f, b4) < 0)
		return;
	if (root_path(p, sizeof(p), "/proc/net/ipv6_route") < 0)
		return;
	r = read_file_capped(p, ROUTE_FILE_MAX, &b6, NULL);
	if (r == -ENOENT)
		return;
	if (r < 0) {
		f->routes_err = r;
		xsnprintf(f->routes_err_what, sizeof(f->routes_err_what), "/proc/net/ipv6_route: %s", strerror(-r));
		return;
	}
	parse_route6(f, b6);
}

int network_gather(struct network_facts *f)
{
	memset(f, 0, sizeof(*f));
	gather_ifaces(f);
	gather_routes(f);
	network_wifi_gather(f);
	return 0;
}

/* ---- evaluation --------------------------------------------------------- */

static bool covered(const struct network_cidr *route, const struct network_cidr *allow)
{
	if (route->family != allow->family || route->prefix < allow->prefix)
		return false;
	for (int i = 0; i < allow->prefix; i++) {
		uint8_t m = (uint8_t)(0x80 >> (i % 8));
		if ((route->addr[i / 8] & m) != (allow->addr[i / 8] & m))
			return false;
	}
	return true;
}

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
	if (f->routes_err < 0) {
		check_result_evidence(r, "error", "%s", f->routes_err_what);
		check_result_set(r, CHECK_ERROR, "経路表を読めませんでした", "Could not read the routing table");
		check_result_remedy(r, "証跡 (error) の表を確認してください。",
		                    "Check the table named in the evidence.");
		return 0;
	}
	for (size_t i = 0; i < f->n_routes; i++) {
		char c[INET6_ADDRSTRLEN + 48];
		bool ok = false;

		cidr_str(&f->routes[i].dst, c, sizeof(c));
		size_t o = strlen(c);
		snprintf(c + o, sizeof(c) - o, " dev %s", f->routes[i].iface);
		append(all, sizeof(all), c);
		for (size_t j = 0; j < s->n_dests && !ok; j++)
			ok = covered(&f->routes[i].dst, &s->dests[j]);
		if (!ok) {
			append(bad, sizeof(bad), c);
			nbad++;
		}
	}
	check_result_evidence(r, "routes", "%s", all[0] ? all : "none");
	if (!s->have_destinations) {
		check_result_set(r, CHECK_NOT_APPLICABLE, "この区分では接続先の制限はありません",
		                 "This segment does not restrict destinations");
		return 0;
	}
	if (nbad) {
		check_result_evidence(r, "not_allowed", "%s", bad);
		check_result_set(r, CHECK_FAIL, "許可されていない宛先への経路があります (既定経路を含む)",
		                 "There are routes to destinations that are not allowed (the default route included)");
		check_result_remedy(r,
		                    "既定経路を削除し、許可された宛先 (allowed_destinations) への経路だけを設定して"
		                    "ください。",
		                    "Remove the default route and configure only routes to the allowed destinations "
		                    "(allowed_destinations).");
	} else {
		check_result_set(r, CHECK_PASS, "経路はすべて許可された宛先の範囲内です",
		                 "Every route stays within the allowed destinations");
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
