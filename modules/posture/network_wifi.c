/* modules/posture/network_wifi.c — Wi-Fi profiles from NetworkManager,
 * wpa_supplicant, netplan, ifupdown and iwd, NET-2 (mamori-worker,
 * mamorictl check). See network_wifi.h for the sources and their rules. */
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc-util.h"
#include "fileio.h"
#include "network_wifi.h"
#include "rootpath.h"
#include "strutil.h"

#define WIFI_FILE_MAX  (256 * 1024)
#define NM_FILE_MAX    (64 * 1024)
#define INCLUDE_DEPTH  4
#define DIR_NAMES_MAX  64
#define NETPLAN_AP_MAX 64

static void escaped(char *dst, size_t sz, const char *s)
{
	_cleanup_free_ char *e = escape_untrusted(s, strlen(s), 80);

	strscpy(dst, sz, e ? e : "?");
}

struct network_wifi *network_wifi_add(struct network_facts *f, const char *source, const char *file)
{
	struct network_wifi *w;
	const char *base = strrchr(file, '/');

	if (f->n_wifi >= NETWORK_MAX_WIFI) {
		f->wifi_more = true;
		return NULL;
	}
	w = &f->wifi[f->n_wifi++];
	memset(w, 0, sizeof(*w));
	strscpy(w->source, sizeof(w->source), source);
	escaped(w->file, sizeof(w->file), base && base[1] ? base + 1 : file);
	return w;
}

static void add_error(struct network_facts *f, const char *source, const char *file, int err, const char *what)
{
	struct network_wifi *w = network_wifi_add(f, source, file);

	if (!w)
		return;
	w->err = err < 0 ? err : -EINVAL;
	strscpy(w->what, sizeof(w->what), err == -EFBIG ? "too large" : what);
}

/* the next line of *p (NUL-terminated copy in line, cut at sz-1) */
static bool next_line(const char **p, char *line, size_t sz)
{
	size_t ll;

	if (!**p)
		return false;
	ll = strcspn(*p, "\n");
	memcpy(line, *p, ll < sz ? ll : sz - 1);
	line[ll < sz ? ll : sz - 1] = '\0';
	*p += ll + ((*p)[ll] == '\n');
	return true;
}

/* ---- NetworkManager keyfiles --------------------------------------------- */

void network_wifi_parse_nm(struct network_facts *f, const char *file, const char *buf)
{
	enum { S_OTHER, S_CONN, S_SEC } sec = S_OTHER;
	bool is_wifi = false, has_sec = false, wep_key = false;
	char id[64] = "", km[48] = "", line[1024];
	struct network_wifi *w;

	while (next_line(&buf, line, sizeof(line))) {
		char *s = strstrip(line), *eq;

		if (*s == '[') {
			sec = !strcmp(s, "[connection]")                                                  ? S_CONN
			      : !strcmp(s, "[wifi-security]") || !strcmp(s, "[802-11-wireless-security]") ? S_SEC
			                                                                                  : S_OTHER;
			has_sec = has_sec || sec == S_SEC;
		} else if (*s && *s != '#' && (eq = strchr(s, '='))) {
			*eq = '\0';
			s = strstrip(s);
			eq = strstrip(eq + 1);
			if (sec == S_CONN && !strcmp(s, "type"))
				is_wifi = !strcmp(eq, "wifi") || !strcmp(eq, "802-11-wireless");
			else if (sec == S_CONN && !strcmp(s, "id"))
				escaped(id, sizeof(id), eq);
			else if (sec == S_SEC && !strcmp(s, "key-mgmt"))
				strscpy(km, sizeof(km), eq);
			else if (sec == S_SEC && startswith(s, "wep-key"))
				wep_key = true;
		}
	}
	if (!is_wifi || !(w = network_wifi_add(f, "NetworkManager", file)))
		return;
	strscpy(w->id, sizeof(w->id), id);
	if (!has_sec || !km[0]) {
		strscpy(w->key_mgmt, sizeof(w->key_mgmt), "none (open)");
	} else if (!strcmp(km, "none") || !strcmp(km, "ieee8021x")) {
		/* key-mgmt=none is static WEP in NetworkManager; ieee8021x is dynamic WEP */
		strscpy(w->key_mgmt, sizeof(w->key_mgmt), !strcmp(km, "none") ? "none (WEP)" : "ieee8021x (WEP)");
		(void)wep_key;
	} else {
		strscpy(w->key_mgmt, sizeof(w->key_mgmt), km);
		w->secure = !strcmp(km, "wpa-psk") || !strcmp(km, "sae") || !strcmp(km, "wpa-eap") ||
		            !strcmp(km, "wpa-eap-suite-b-192") || !strcmp(km, "owe");
	}
}

/* ---- wpa_supplicant ------------------------------------------------------ */

/* key_mgmt values that encrypt (wpa_supplicant.conf(5) and its parser) */
static const char *const wpa_secure[] = {
        "WPA-PSK",        "WPA-EAP", "WPA-PSK-SHA256",  "WPA-EAP-SHA256",      "SAE",
        "SAE-EXT-KEY",    "FT-PSK",  "FT-EAP",          "FT-EAP-SHA384",       "FT-SAE",
        "FT-SAE-EXT-KEY", "OWE",     "FILS-SHA256",     "FILS-SHA384",         "FT-FILS-SHA256",
        "FT-FILS-SHA384", "DPP",     "WPA-EAP-SUITE-B", "WPA-EAP-SUITE-B-192", "OSEN",
};

/* Judge a key_mgmt list: NONE (with or without WEP keys) and IEEE8021X
 * (dynamic WEP) are not encryption; a value wpa_supplicant does not know
 * makes it refuse the file: unknown, never secure. */
static void judge_wpa_km(struct network_wifi *w, const char *km, bool wep)
{
	char tmp[256], *save = NULL;
	bool secure = true, any = false;

	strscpy(tmp, sizeof(tmp), km);
	for (char *t = strtok_r(tmp, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
		bool ok = false;

		any = true;
		for (size_t i = 0; i < ELEMENTSOF(wpa_secure) && !ok; i++)
			ok = !strcmp(t, wpa_secure[i]);
		if (!ok)
			secure = false;
	}
	w->secure = any && secure;
	if (w->secure)
		escaped(w->key_mgmt, sizeof(w->key_mgmt), km);
	else if (strstr(km, "NONE"))
		strscpy(w->key_mgmt, sizeof(w->key_mgmt), wep ? "NONE (WEP)" : "NONE (open)");
	else if (strstr(km, "IEEE8021X"))
		strscpy(w->key_mgmt, sizeof(w->key_mgmt), "IEEE8021X (dynamic WEP)");
	else {
		char e[40];
		escaped(e, sizeof(e), km);
		xsnprintf(w->key_mgmt, sizeof(w->key_mgmt), "%s (unknown)", e);
	}
}

static void unquote(char *v)
{
	size_t l = strlen(v);

	if (l >= 2 && ((v[0] == '"' && v[l - 1] == '"') || (v[0] == '\'' && v[l - 1] == '\''))) {
		memmove(v, v + 1, l - 2);
		v[l - 2] = '\0';
	}
}

int network_wifi_parse_wpa(struct network_facts *f, const char *source, const char *file, const char *buf)
{
	char line[1024], ssid[64] = "", km[256] = "";
	bool in = false, wep = false;
	int lineno = 0;

	while (next_line(&buf, line, sizeof(line))) {
		char *s = strstrip(line), *eq;

		lineno++;
		if (!*s || *s == '#')
			continue;
		if (!in) {
			/* "network={" (wpa_supplicant accepts no other spelling) */
			if (!strcmp(s, "network={")) {
				in = true;
				ssid[0] = '\0';
				strscpy(km, sizeof(km), "WPA-PSK WPA-EAP"); /* wpa_supplicant's default */
				wep = false;
			}
			continue;
		}
		if (!strcmp(s, "}")) {
			struct network_wifi *w = network_wifi_add(f, source, file);
			if (w) {
				strscpy(w->id, sizeof(w->id), ssid[0] ? ssid : "?");
				judge_wpa_km(w, km, wep);
			}
			in = false;
			continue;
		}
		eq = strchr(s, '=');
		if (!eq)
			continue; /* wpa_supplicant refuses the line; the network is judged as written */
		*eq = '\0';
		if (!strcmp(s, "ssid")) {
			unquote(eq + 1);
			escaped(ssid, sizeof(ssid), eq + 1);
		} else if (!strcmp(s, "key_mgmt"))
			strscpy(km, sizeof(km), eq + 1);
		else if (!strncmp(s, "wep_key", 7) && s[7] >= '0' && s[7] <= '3' && !s[8])
			wep = true;
	}
	if (in) {
		char what[64];
		xsnprintf(what, sizeof(what), "network block not closed (line %d)", lineno);
		add_error(f, source, file, -EBADMSG, what);
		return -EBADMSG;
	}
	return 0;
}

/* ---- netplan --------------------------------------------------------------
 * A block-style YAML reader for network: wifis: IFACE: access-points: SSID:
 * {password, auth: {key-management, password}}. Netplan: no password and no
 * key-management is an open network; key-management none is open; 802.1x is
 * dynamic WEP. Flow collections, anchors, aliases, tags and block scalars
 * under `wifis` are not followed: an error entry, never a pass. */

struct netplan_ap {
	char iface[32], ssid[64], file[128];
	bool has_password, has_auth_password;
	char km[32];
	bool bad;
	char what[64];
};

struct netplan_merge {
	struct netplan_ap ap[NETPLAN_AP_MAX];
	size_t n;
	bool more;
	char err_file[128], err_what[64];
	int err;
};

struct netplan_merge *network_wifi_netplan_new(void)
{
	return calloc(1, sizeof(struct netplan_merge));
}

void network_wifi_netplan_free(struct netplan_merge *m)
{
	free(m);
}

static void netplan_fail(struct netplan_merge *m, const char *file, int lineno, const char *why);

/* the AP's record; netplan refuses an SSID defined again in another file
 * ("Duplicate access point SSID"): that is an error, not a merge */
static struct netplan_ap *netplan_ap(struct netplan_merge *m, const char *iface, const char *ssid, const char *file,
                                     int lineno)
{
	for (size_t i = 0; i < m->n; i++)
		if (!strcmp(m->ap[i].iface, iface) && !strcmp(m->ap[i].ssid, ssid)) {
			if (strcmp(m->ap[i].file, file) != 0) {
				netplan_fail(m, file, lineno, "access point defined again (netplan refuses)");
				return NULL;
			}
			return &m->ap[i];
		}
	if (m->n >= NETPLAN_AP_MAX) {
		m->more = true;
		return NULL;
	}
	memset(&m->ap[m->n], 0, sizeof(m->ap[0]));
	strscpy(m->ap[m->n].iface, sizeof(m->ap[0].iface), iface);
	strscpy(m->ap[m->n].ssid, sizeof(m->ap[0].ssid), ssid);
	strscpy(m->ap[m->n].file, sizeof(m->ap[0].file), file);
	return &m->ap[m->n++];
}

/* a YAML key: plain or quoted, ending at ": " or ":" at the end */
static bool yaml_key(char *s, char **ret_key, char **ret_val)
{
	char *colon;

	if (*s == '"' || *s == '\'') {
		char q = *s, *end = strchr(s + 1, q);
		if (!end || end[1] != ':')
			return false;
		*end = '\0';
		*ret_key = s + 1;
		colon = end + 1;
	} else {
		colon = s;
		for (;;) {
			colon = strchr(colon, ':');
			if (!colon)
				return false;
			if (colon[1] == '\0' || colon[1] == ' ' || colon[1] == '\t')
				break;
			colon++;
		}
		*ret_key = s;
	}
	*colon = '\0';
	*ret_key = strstrip(*ret_key);
	*ret_val = strstrip(colon + 1);
	if (**ret_val == '#')
		**ret_val = '\0';
	return true;
}

static void netplan_fail(struct netplan_merge *m, const char *file, int lineno, const char *why)
{
	if (m->err < 0)
		return;
	m->err = -EBADMSG;
	strscpy(m->err_file, sizeof(m->err_file), file);
	xsnprintf(m->err_what, sizeof(m->err_what), "line %d: %s", lineno, why);
}

int network_wifi_netplan_feed(struct netplan_merge *m, const char *file, const char *buf)
{
	struct {
		int indent;
		char key[64];
	} st[8];
	char line[1024];
	int depth = 0, lineno = 0, block_indent = -1;

	while (next_line(&buf, line, sizeof(line))) {
		char *s = line, *key, *val;
		int indent = 0;
		bool in_wifis;

		lineno++;
		while (*s == ' ')
			s++, indent++;
		if (block_indent >= 0) { /* the lines of a | or > scalar */
			if (!*s || indent > block_indent)
				continue;
			block_indent = -1;
		}
		if (!*s || *s == '#')
			continue;
		if (*s == '\t') {
			netplan_fail(m, file, lineno, "tab indentation");
			return -EBADMSG;
		}
		if (!strcmp(s, "---") || !strncmp(s, "--- ", 4) || !strcmp(s, "...") || *s == '%')
			continue;
		while (depth > 0 && st[depth - 1].indent >= indent)
			depth--;
		in_wifis = depth >= 2 && !strcmp(st[0].key, "network") && !strcmp(st[1].key, "wifis");
		if (*s == '-') { /* a sequence item: no Wi-Fi security lives in one */
			if (in_wifis && depth >= 4 && !strcmp(st[3].key, "access-points")) {
				netplan_fail(m, file, lineno, "a sequence under access-points");
				return -EBADMSG;
			}
			continue;
		}
		if (!yaml_key(s, &key, &val)) {
			if (in_wifis) {
				netplan_fail(m, file, lineno, "not a block mapping");
				return -EBADMSG;
			}
			continue;
		}
		if (depth >= (int)ELEMENTSOF(st))
			continue;
		st[depth].indent = indent;
		strscpy(st[depth].key, sizeof(st[0].key), key);
		depth++;
		if (*val == '|' || *val == '>')
			block_indent = indent;
		in_wifis = depth >= 2 && !strcmp(st[0].key, "network") && !strcmp(st[1].key, "wifis");
		if (!in_wifis)
			continue;
		if ((*key && strchr("&*!", *key)) || (*val && strchr("&*!", *val)) || !strcmp(key, "<<") ||
		    (*val == '[' || (*val == '{' && strcmp(val, "{}") != 0))) {
			/* under access-points these would hide what netplan reads */
			if (depth >= 4 && !strcmp(st[3].key, "access-points")) {
				netplan_fail(m, file, lineno, "YAML construct not followed (flow, anchor, alias, tag)");
				return -EBADMSG;
			}
			continue;
		}
		if (depth >= 5 && !strcmp(st[3].key, "access-points")) {
			struct netplan_ap *ap;
			char ssid[64];

			escaped(ssid, sizeof(ssid), st[4].key);
			ap = netplan_ap(m, st[2].key, ssid, file, lineno);
			if (!ap)
				continue;
			if (depth == 6 && !strcmp(key, "password"))
				ap->has_password = *val != '\0' && strcmp(val, "\"\"") != 0 && strcmp(val, "''") != 0;
			else if (depth == 7 && !strcmp(st[5].key, "auth") && !strcmp(key, "key-management")) {
				unquote(val);
				strscpy(ap->km, sizeof(ap->km), val);
			} else if (depth == 7 && !strcmp(st[5].key, "auth") && !strcmp(key, "password"))
				ap->has_auth_password = *val != '\0';
		}
	}
	return 0;
}

void network_wifi_netplan_finish(struct netplan_merge *m, struct network_facts *f)
{
	if (m->err < 0) {
		/* netplan refuses such a file or reads it differently: no AP of it can be judged */
		add_error(f, "netplan", m->err_file, m->err, m->err_what);
		return;
	}
	for (size_t i = 0; i < m->n; i++) {
		const struct netplan_ap *ap = &m->ap[i];
		struct network_wifi *w = network_wifi_add(f, "netplan", ap->file);

		if (!w)
			return;
		xsnprintf(w->id, sizeof(w->id), "%s@%s", ap->ssid, ap->iface);
		if (!ap->km[0]) {
			w->secure = ap->has_password || ap->has_auth_password;
			strscpy(w->key_mgmt, sizeof(w->key_mgmt), w->secure ? "psk (password)" : "none (open)");
		} else if (!strcasecmp(ap->km, "none")) {
			strscpy(w->key_mgmt, sizeof(w->key_mgmt), "none (open)");
		} else if (!strcasecmp(ap->km, "802.1x")) {
			strscpy(w->key_mgmt, sizeof(w->key_mgmt), "802.1x (dynamic WEP)");
		} else if (!strcasecmp(ap->km, "psk") || !strcasecmp(ap->km, "eap") || !strcasecmp(ap->km, "sae") ||
		           !strcasecmp(ap->km, "eap-sha256") || !strcasecmp(ap->km, "eap-suite-b-192")) {
			w->secure = true;
			escaped(w->key_mgmt, sizeof(w->key_mgmt), ap->km);
		} else {
			char e[40];
			escaped(e, sizeof(e), ap->km);
			xsnprintf(w->key_mgmt, sizeof(w->key_mgmt), "%s (unknown)", e);
		}
	}
	if (m->more)
		f->wifi_more = true;
}

/* ---- ifupdown -------------------------------------------------------------
 * interfaces(5): a stanza starts with iface, mapping, auto, allow-*, source,
 * source-directory or rename; an iface stanza's options follow. The
 * wpasupplicant package's ifupdown hook: wpa-conf/wpa-roam name a
 * wpa_supplicant file; wpa-ssid builds a network whose key_mgmt is
 * wpa-key-mgmt, else wpa_supplicant's default (WPA-PSK WPA-EAP); wpa-wep-key*
 * with NONE is WEP. wireless-tools: wireless-essid without a key is open,
 * with wireless-key* (not "off") WEP. */

struct ifu_stanza {
	bool active;
	char iface[32];
	char ssid[64], km[128];
	bool wpa_ssid, wep, essid, wkey;
};

static void ifu_flush(struct network_facts *f, const char *file, struct ifu_stanza *st)
{
	struct network_wifi *w;

	if (!st->active || (!st->wpa_ssid && !st->essid)) {
		st->active = false;
		return;
	}
	w = network_wifi_add(f, "ifupdown", file);
	if (w) {
		xsnprintf(w->id, sizeof(w->id), "%s@%s", st->ssid[0] ? st->ssid : "?", st->iface);
		if (st->wpa_ssid)
			judge_wpa_km(w, st->km[0] ? st->km : "WPA-PSK WPA-EAP", st->wep);
		else
			strscpy(w->key_mgmt, sizeof(w->key_mgmt),
			        st->wkey ? "wireless-key (WEP)" : "wireless-essid (open)");
	}
	st->active = false;
}

void network_wifi_parse_ifupdown(struct network_facts *f, const char *file, const char *buf,
                                 network_ifupdown_include include, void *ud)
{
	struct ifu_stanza st = {0};
	char line[1024];

	while (next_line(&buf, line, sizeof(line))) {
		char *s = strstrip(line), *arg;

		if (!*s || *s == '#')
			continue;
		arg = s + strcspn(s, " \t");
		if (*arg) {
			*arg++ = '\0';
			arg = strstrip(arg);
		}
		if (!strcmp(s, "iface") || !strcmp(s, "mapping") || !strcmp(s, "auto") || startswith(s, "allow-") ||
		    !strcmp(s, "source") || !strcmp(s, "source-directory") || !strcmp(s, "rename")) {
			ifu_flush(f, file, &st);
			if (!strcmp(s, "iface")) {
				memset(&st, 0, sizeof(st));
				st.active = true;
				arg[strcspn(arg, " \t")] = '\0';
				escaped(st.iface, sizeof(st.iface), arg);
			} else if ((!strcmp(s, "source") || !strcmp(s, "source-directory")) && include && *arg)
				include(ud, s, arg);
			continue;
		}
		if (!st.active)
			continue;
		if (!strcmp(s, "wpa-conf") || !strcmp(s, "wpa-roam")) {
			if (include && *arg)
				include(ud, "wpa-conf", arg);
		} else if (!strcmp(s, "wpa-ssid") || !strcmp(s, "wpa-essid")) { /* wpa-essid: an alias */
			st.wpa_ssid = true;
			unquote(arg);
			escaped(st.ssid, sizeof(st.ssid), arg);
		} else if (!strcmp(s, "wpa-key-mgmt"))
			strscpy(st.km, sizeof(st.km), arg);
		else if (startswith(s, "wpa-wep-key"))
			st.wep = true;
		else if (!strcmp(s, "wireless-essid")) {
			st.essid = true;
			if (!st.ssid[0])
				escaped(st.ssid, sizeof(st.ssid), arg);
		} else if (startswith(s, "wireless-key") && strcasecmp(arg, "off") != 0)
			st.wkey = true;
	}
	ifu_flush(f, file, &st);
}

/* ---- gathering under the root ------------------------------------------- */

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* sorted names in a system directory accepted by ok(); count returned */
static size_t dir_names(const char *dir, bool (*ok)(const char *name, const void *arg), const void *arg,
                        char (*names)[NAME_MAX + 1], size_t max)
{
	char p[PATH_MAX], *ptrs[DIR_NAMES_MAX];
	char(*tmp)[NAME_MAX + 1];
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	if (max > DIR_NAMES_MAX || root_path(p, sizeof(p), dir) < 0 || !(d = opendir(p)))
		return 0;
	tmp = calloc(max, sizeof(*tmp));
	if (!tmp) {
		closedir(d);
		return 0;
	}
	while ((de = readdir(d)) && n < max) {
		if (de->d_name[0] == '.' || !ok(de->d_name, arg))
			continue;
		strscpy(tmp[n], sizeof(tmp[n]), de->d_name);
		ptrs[n] = tmp[n];
		n++;
	}
	closedir(d);
	qsort(ptrs, n, sizeof(ptrs[0]), name_cmp);
	for (size_t i = 0; i < n; i++)
		strscpy(names[i], sizeof(names[i]), ptrs[i]);
	free(tmp);
	return n;
}

static bool has_suffix(const char *s, const char *suf)
{
	size_t l = strlen(s), sl = strlen(suf);

	return l > sl && strcmp(s + l - sl, suf) == 0;
}

static bool ok_suffix(const char *name, const void *arg)
{
	return has_suffix(name, arg);
}

/* NetworkManager's keyfile plugin ignores backup and package-manager files in /etc */
static bool ok_nm_etc(const char *name, const void *arg)
{
	static const char *const skip[] = {"~",         ".swp",    ".swpx",     ".bak",      ".orig",
	                                   ".rej",      ".tmp",    ".dpkg-new", ".dpkg-old", ".dpkg-dist",
	                                   ".dpkg-tmp", ".rpmnew", ".rpmsave"};
	(void)arg;
	for (size_t i = 0; i < ELEMENTSOF(skip); i++)
		if (has_suffix(name, skip[i]))
			return false;
	return true;
}

static bool ok_glob(const char *name, const void *arg)
{
	return fnmatch(arg, name, FNM_PERIOD) == 0;
}

/* run-parts names, what ifupdown's source-directory reads */
static bool ok_runparts(const char *name, const void *arg)
{
	(void)arg;
	return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == strlen(name);
}

static int read_sys_at(const char *path, bool nofollow, size_t max, char **ret)
{
	char p[PATH_MAX];
	struct stat st;
	int r;

	if ((r = nofollow ? root_path_nofollow(p, sizeof(p), path) : root_path(p, sizeof(p), path)) < 0)
		return r;
	if ((nofollow ? lstat(p, &st) : stat(p, &st)) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EISDIR;
	return read_file_capped(p, max, ret, NULL);
}

static int read_sys(const char *path, char **ret)
{
	return read_sys_at(path, false, WIFI_FILE_MAX, ret);
}

static void gather_nm(struct network_facts *f)
{
	static const char *const dirs[] = {"/etc/NetworkManager/system-connections",
	                                   "/run/NetworkManager/system-connections",
	                                   "/usr/lib/NetworkManager/system-connections"};
	char(*names)[NAME_MAX + 1] = calloc(DIR_NAMES_MAX, sizeof(*names));

	if (!names)
		return;
	for (size_t d = 0; d < ELEMENTSOF(dirs); d++) {
		/* in /run and /usr/lib only *.nmconnection files are profiles */
		size_t n = d == 0 ? dir_names(dirs[d], ok_nm_etc, NULL, names, DIR_NAMES_MAX)
		                  : dir_names(dirs[d], ok_suffix, ".nmconnection", names, DIR_NAMES_MAX);
		for (size_t i = 0; i < n; i++) {
			_cleanup_free_ char *buf = NULL;
			char path[PATH_MAX];
			int r;

			if (xsnprintf(path, sizeof(path), "%s/%s", dirs[d], names[i]) < 0)
				continue;
			/* NetworkManager reads regular files only, never a symlink */
			r = read_sys_at(path, true, NM_FILE_MAX, &buf);
			if (r == -EISDIR || r == -ENOENT)
				continue;
			if (r < 0) {
				add_error(f, "NetworkManager", path, r, strerror(-r));
				continue;
			}
			network_wifi_parse_nm(f, path, buf);
		}
	}
	free(names);
}

static void gather_wpa_file(struct network_facts *f, const char *source, const char *path)
{
	_cleanup_free_ char *buf = NULL;
	int r = read_sys(path, &buf);

	if (r == -ENOENT)
		return;
	if (r < 0) {
		add_error(f, source, path, r, strerror(-r));
		return;
	}
	network_wifi_parse_wpa(f, source, path, buf);
}

static bool ok_wpa_conf(const char *name, const void *arg)
{
	(void)arg;
	return startswith(name, "wpa_supplicant") && has_suffix(name, ".conf");
}

static void gather_wpa(struct network_facts *f)
{
	char(*names)[NAME_MAX + 1] = calloc(DIR_NAMES_MAX, sizeof(*names));
	size_t n;

	if (!names)
		return;
	/* wpa_supplicant.service (-c wpa_supplicant.conf) and
	 * wpa_supplicant@IFACE.service (wpa_supplicant-IFACE.conf) */
	n = dir_names("/etc/wpa_supplicant", ok_wpa_conf, NULL, names, DIR_NAMES_MAX);
	for (size_t i = 0; i < n; i++) {
		char path[PATH_MAX];
		if (xsnprintf(path, sizeof(path), "/etc/wpa_supplicant/%s", names[i]) == 0)
			gather_wpa_file(f, "wpa_supplicant", path);
	}
	free(names);
}

static void gather_netplan(struct network_facts *f)
{
	static const char *const dirs[] = {"/lib/netplan", "/etc/netplan", "/run/netplan"};
	char(*names)[NAME_MAX + 1] = calloc(3 * DIR_NAMES_MAX, sizeof(*names));
	char(*all)[NAME_MAX + 1];
	size_t n[3], nall = 0;
	struct netplan_merge *m;

	if (!names)
		return;
	all = names; /* reuse: all[] is filled after the three lists below */
	for (size_t d = 0; d < 3; d++)
		n[d] = dir_names(dirs[d], ok_suffix, ".yaml", names + d * DIR_NAMES_MAX, DIR_NAMES_MAX);
	m = network_wifi_netplan_new();
	if (!m) {
		free(names);
		return;
	}
	/* each name once, from the last directory holding it; in name order */
	{
		char(*uniq)[NAME_MAX + 1] = calloc(3 * DIR_NAMES_MAX, sizeof(*uniq));
		int *from = calloc(3 * DIR_NAMES_MAX, sizeof(*from));
		if (!uniq || !from) {
			free(uniq);
			free(from);
			network_wifi_netplan_free(m);
			free(names);
			return;
		}
		for (size_t d = 0; d < 3; d++)
			for (size_t i = 0; i < n[d]; i++) {
				size_t j;
				for (j = 0; j < nall && strcmp(uniq[j], all[d * DIR_NAMES_MAX + i]) != 0; j++)
					;
				if (j == nall)
					strscpy(uniq[nall++], NAME_MAX + 1, all[d * DIR_NAMES_MAX + i]);
				from[j] = (int)d;
			}
		for (size_t a = 0; a < nall; a++) /* insertion sort by name (few files) */
			for (size_t b = a + 1; b < nall; b++)
				if (strcmp(uniq[b], uniq[a]) < 0) {
					char t[NAME_MAX + 1];
					int tf = from[a];
					strscpy(t, sizeof(t), uniq[a]);
					strscpy(uniq[a], NAME_MAX + 1, uniq[b]);
					strscpy(uniq[b], NAME_MAX + 1, t);
					from[a] = from[b];
					from[b] = tf;
				}
		for (size_t i = 0; i < nall; i++) {
			_cleanup_free_ char *buf = NULL;
			char path[PATH_MAX];
			int r;

			if (xsnprintf(path, sizeof(path), "%s/%s", dirs[from[i]], uniq[i]) < 0)
				continue;
			r = read_sys(path, &buf);
			if (r == -EISDIR || r == -ENOENT)
				continue;
			if (r < 0) {
				add_error(f, "netplan", path, r, strerror(-r));
				continue;
			}
			network_wifi_netplan_feed(m, path, buf);
		}
		free(uniq);
		free(from);
	}
	network_wifi_netplan_finish(m, f);
	network_wifi_netplan_free(m);
	free(names);
}

struct ifu_ctx {
	struct network_facts *f;
	int depth;
	char seen[16][PATH_MAX];
	size_t nseen;
};

static void gather_ifupdown_file(struct ifu_ctx *c, const char *path);

static void ifu_include(void *ud, const char *kind, const char *arg)
{
	struct ifu_ctx *c = ud;
	char dir[PATH_MAX], *slash, path[PATH_MAX];
	char(*names)[NAME_MAX + 1];
	size_t n;

	if (!strcmp(kind, "wpa-conf")) {
		if (*arg == '/')
			gather_wpa_file(c->f, "ifupdown wpa-conf", arg);
		return;
	}
	/* relative paths are relative to /etc/network (interfaces(5)) */
	if (xsnprintf(dir, sizeof(dir), "%s%s", *arg == '/' ? "" : "/etc/network/", arg) < 0)
		return;
	names = calloc(DIR_NAMES_MAX, sizeof(*names));
	if (!names)
		return;
	if (!strcmp(kind, "source-directory")) {
		n = dir_names(dir, ok_runparts, NULL, names, DIR_NAMES_MAX);
		for (size_t i = 0; i < n; i++)
			if (xsnprintf(path, sizeof(path), "%s/%s", dir, names[i]) == 0)
				gather_ifupdown_file(c, path);
	} else if (!strpbrk(dir, "*?[")) {
		gather_ifupdown_file(c, dir);
	} else if ((slash = strrchr(dir, '/')) && !memchr(dir, '*', (size_t)(slash - dir)) &&
	           !memchr(dir, '?', (size_t)(slash - dir)) && !memchr(dir, '[', (size_t)(slash - dir))) {
		*slash = '\0';
		n = dir_names(dir[0] ? dir : "/", ok_glob, slash + 1, names, DIR_NAMES_MAX);
		for (size_t i = 0; i < n; i++)
			if (xsnprintf(path, sizeof(path), "%s/%s", dir, names[i]) == 0)
				gather_ifupdown_file(c, path);
	} else
		add_error(c->f, "ifupdown", dir, -EINVAL, "source glob with a wildcard directory");
	free(names);
}

static void gather_ifupdown_file(struct ifu_ctx *c, const char *path)
{
	_cleanup_free_ char *buf = NULL;
	int r;

	for (size_t i = 0; i < c->nseen; i++)
		if (!strcmp(c->seen[i], path))
			return;
	if (c->depth >= INCLUDE_DEPTH || c->nseen >= ELEMENTSOF(c->seen)) {
		add_error(c->f, "ifupdown", path, -ELOOP, "source nesting too deep");
		return;
	}
	strscpy(c->seen[c->nseen++], PATH_MAX, path);
	r = read_sys(path, &buf);
	if (r == -ENOENT || r == -EISDIR)
		return;
	if (r < 0) {
		add_error(c->f, "ifupdown", path, r, strerror(-r));
		return;
	}
	c->depth++;
	network_wifi_parse_ifupdown(c->f, path, buf, ifu_include, c);
	c->depth--;
}

static bool ok_iwd(const char *name, const void *arg)
{
	(void)arg;
	return has_suffix(name, ".open") || has_suffix(name, ".psk") || has_suffix(name, ".8021x");
}

/* iwd.network(5): the suffix is the security type (WEP does not exist in iwd) */
static void gather_iwd(struct network_facts *f)
{
	char(*names)[NAME_MAX + 1] = calloc(DIR_NAMES_MAX, sizeof(*names));
	size_t n;

	if (!names)
		return;
	n = dir_names("/var/lib/iwd", ok_iwd, NULL, names, DIR_NAMES_MAX);
	for (size_t i = 0; i < n; i++) {
		char path[PATH_MAX], id[NAME_MAX + 1];
		struct network_wifi *w;

		if (xsnprintf(path, sizeof(path), "/var/lib/iwd/%s", names[i]) < 0)
			continue;
		w = network_wifi_add(f, "iwd", path);
		if (!w)
			break;
		strscpy(id, sizeof(id), names[i]);
		*strrchr(id, '.') = '\0';
		escaped(w->id, sizeof(w->id), id);
		if (has_suffix(names[i], ".open"))
			strscpy(w->key_mgmt, sizeof(w->key_mgmt), "open");
		else {
			strscpy(w->key_mgmt, sizeof(w->key_mgmt), has_suffix(names[i], ".psk") ? "psk" : "8021x");
			w->secure = true;
		}
	}
	free(names);
}

void network_wifi_gather(struct network_facts *f)
{
	struct ifu_ctx *c = calloc(1, sizeof(*c));

	gather_nm(f);
	gather_wpa(f);
	gather_netplan(f);
	if (c) {
		c->f = f;
		gather_ifupdown_file(c, "/etc/network/interfaces");
		free(c);
	}
	gather_iwd(f);
}
