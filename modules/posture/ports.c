/* modules/posture/ports.c — /proc/net/{tcp,tcp6,udp,udp6} listeners and the
 * NET-1 check (mamori-worker). */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc-util.h"
#include "fileio.h"
#include "ports.h"
#include "rootpath.h"
#include "strutil.h"

#define REQ            "NET-1"
#define PROC_TABLE_MAX (16 * 1024 * 1024)

int ports_settings_from_json(const cJSON *sec, struct ports_settings *ret)
{
	struct ports_settings s = {.allow_loopback = true};
	const cJSON *arr, *e;

	if (sec) {
		if (!cJSON_IsObject(sec))
			return -EINVAL;
		arr = cJSON_GetObjectItemCaseSensitive(sec, "listen_allowed");
		if (arr && !cJSON_IsArray(arr))
			return -EINVAL;
		cJSON_ArrayForEach(e, arr)
		{
			const cJSON *pr = cJSON_GetObjectItemCaseSensitive(e, "proto"),
			            *po = cJSON_GetObjectItemCaseSensitive(e, "port");
			if (s.n_allow >= PORTS_MAX_ALLOW || !cJSON_IsString(pr) || !cJSON_IsNumber(po) ||
			    (strcmp(pr->valuestring, "tcp") != 0 && strcmp(pr->valuestring, "udp") != 0) ||
			    po->valuedouble < 1 || po->valuedouble > 65535 || po->valuedouble != (int)po->valuedouble)
				return -EINVAL;
			strscpy(s.allow[s.n_allow].proto, sizeof(s.allow[0].proto), pr->valuestring);
			s.allow[s.n_allow].port = (int)po->valuedouble;
			s.n_allow++;
		}
	}
	*ret = s;
	return 0;
}

/* n hex digits (either case) into a u32 (n <= 8); -1 on a non-hex digit */
static int64_t hexnum(const char *s, size_t n)
{
	uint32_t v;

	return hex_u32(s, n, false, &v) < 0 ? -1 : (int64_t)v;
}

/* "0100007F:0016" (v4) or 32 hex + ":PPPP" (v6) -> address bytes and port */
static int parse_endpoint(const char *tok, bool v6, uint8_t addr[16], int *ret_port)
{
	size_t alen = v6 ? 32 : 8;
	int64_t port;

	if (strlen(tok) != alen + 5 || tok[alen] != ':')
		return -EINVAL;
	for (size_t w = 0; w < alen / 8; w++) {
		int64_t v = hexnum(tok + w * 8, 8);
		uint32_t u;
		if (v < 0)
			return -EINVAL;
		u = (uint32_t)v; /* the kernel prints each 32-bit word in host order */
		memcpy(addr + w * 4, &u, 4);
	}
	port = hexnum(tok + alen + 1, 4);
	if (port < 0)
		return -EINVAL;
	*ret_port = (int)port;
	return 0;
}

static bool is_loopback(const uint8_t *a, bool v6)
{
	static const uint8_t lo6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	if (!v6)
		return a[0] == 127;
	return memcmp(a, lo6, 16) == 0 || (memcmp(a, mapped, 12) == 0 && a[12] == 127);
}

int ports_parse_table(const char *buf, const char *proto, struct ports_facts *f)
{
	bool v6 = strchr(proto, '6') != NULL, udp = proto[0] == 'u';
	int lineno = 0;

	while (*buf) {
		size_t ll = strcspn(buf, "\n");
		char line[512], *tok[6], *save = NULL, *t;
		size_t nt = 0;
		uint8_t la[16] = {0}, ra[16] = {0};
		int lport, rport;
		int64_t st;

		lineno++;
		if (ll >= sizeof(line))
			goto bad;
		memcpy(line, buf, ll);
		line[ll] = '\0';
		buf += ll + (buf[ll] == '\n');
		if (lineno == 1) {
			if (!strstr(line, "local_address"))
				goto bad;
			continue;
		}
		for (t = strtok_r(line, " \t", &save); t && nt < ELEMENTSOF(tok); t = strtok_r(NULL, " \t", &save))
			tok[nt++] = t;
		if (nt == 0)
			continue;
		if (nt < 4 || tok[0][strlen(tok[0]) - 1] != ':' || parse_endpoint(tok[1], v6, la, &lport) < 0 ||
		    parse_endpoint(tok[2], v6, ra, &rport) < 0 || strlen(tok[3]) != 2 || (st = hexnum(tok[3], 2)) < 0)
			goto bad;
		if (udp ? (st != 0x07 || rport != 0) : st != 0x0A)
			continue; /* not listening */
		{
			struct ports_listener *l, cand = {0};
			char a[INET6_ADDRSTRLEN];
			bool dup = false;
			size_t slot = f->n;

			if (!inet_ntop(v6 ? AF_INET6 : AF_INET, la, a, sizeof(a)))
				goto bad;
			strscpy(cand.proto, sizeof(cand.proto), proto);
			strscpy(cand.addr, sizeof(cand.addr), a);
			cand.port = lport;
			cand.loopback = is_loopback(la, v6);
			/* SO_REUSEPORT groups show one line per socket */
			for (size_t i = 0; i < f->n && !dup; i++)
				dup = f->l[i].port == cand.port && !strcmp(f->l[i].proto, cand.proto) &&
				      !strcmp(f->l[i].addr, cand.addr);
			if (dup)
				continue;
			/* NET-1: the cap must never hide a listener that decides the
			 * verdict. Loopback ones beyond it are only counted; a
			 * non-loopback one takes a loopback one's place; only more
			 * non-loopback listeners than the cap make f->truncated. */
			if (f->n >= PORTS_MAX_LISTENERS) {
				if (cand.loopback) {
					f->n_loopback_over++;
					continue;
				}
				slot = SIZE_MAX;
				for (size_t i = f->n; i > 0 && slot == SIZE_MAX; i--)
					if (f->l[i - 1].loopback)
						slot = i - 1;
				if (slot == SIZE_MAX) {
					f->truncated = true;
					continue;
				}
				f->n_loopback_over++;
			}
			l = &f->l[slot];
			*l = cand;
			if (slot == f->n)
				f->n++;
		}
	}
	return 0;
bad:
	f->err = -EINVAL;
	xsnprintf(f->err_what, sizeof(f->err_what), "/proc/net/%s:%d: malformed line", proto, lineno);
	return -EINVAL;
}

int ports_gather(struct ports_facts *f)
{
	static const char *const tables[] = {"tcp", "tcp6", "udp", "udp6"};

	memset(f, 0, sizeof(*f));
	for (size_t i = 0; i < ELEMENTSOF(tables); i++) {
		_cleanup_free_ char *buf = NULL;
		char p[PATH_MAX];
		int r;

		if (root_pathf(p, sizeof(p), "/proc/net/%s", tables[i]) < 0)
			return -ENAMETOOLONG;
		r = read_file_capped(p, PROC_TABLE_MAX, &buf, NULL);
		if (r == -ENOENT && strchr(tables[i], '6'))
			continue; /* IPv6 switched off */
		if (r < 0) {
			f->err = r;
			xsnprintf(f->err_what, sizeof(f->err_what), "/proc/net/%s: %s", tables[i], strerror(-r));
			return 0;
		}
		if (ports_parse_table(buf, tables[i], f) < 0)
			return 0;
	}
	return 0;
}

static void list_add(char *buf, size_t sz, const struct ports_listener *l)
{
	size_t o = strlen(buf);
	bool v6 = strchr(l->proto, '6') != NULL;

	if (o + 1 >= sz)
		return;
	snprintf(buf + o, sz - o, "%s%.3s/%s%s%s:%d", o ? ", " : "", l->proto, v6 ? "[" : "", l->addr, v6 ? "]" : "",
	         l->port);
}

int ports_evaluate(const struct ports_settings *s, const struct ports_facts *f, struct check_report *rep)
{
	struct check_result *r = check_report_add(rep, "ports", "ports.listen", REQ);
	char bad[CHECK_VALUE_MAX] = "", lo[CHECK_VALUE_MAX] = "", ok[CHECK_VALUE_MAX] = "", allowed[512] = "";
	size_t nbad = 0;

	if (!r)
		return -ENOMEM;
	for (size_t i = 0; i < s->n_allow; i++) {
		size_t o = strlen(allowed);
		snprintf(allowed + o, sizeof(allowed) - o, "%s%s/%d", o ? ", " : "", s->allow[i].proto,
		         s->allow[i].port);
	}
	check_result_evidence(r, "allowed", "%s", allowed[0] ? allowed : "none");
	if (f->err < 0) {
		check_result_evidence(r, "error", "%s", f->err_what);
		check_result_set(r, CHECK_ERROR, "待ち受けポートの一覧を読めませんでした",
		                 "Could not read the list of listening ports");
		check_result_remedy(r, "証跡 (error) の /proc/net の表を確認してください。",
		                    "Check the /proc/net table named in the evidence (error).");
		return 0;
	}
	for (size_t i = 0; i < f->n; i++) {
		const struct ports_listener *l = &f->l[i];
		bool allowed_port = false;

		if (l->loopback && s->allow_loopback) {
			list_add(lo, sizeof(lo), l);
			continue;
		}
		for (size_t j = 0; j < s->n_allow && !allowed_port; j++)
			allowed_port = strncmp(l->proto, s->allow[j].proto, 3) == 0 && l->port == s->allow[j].port;
		if (allowed_port)
			list_add(ok, sizeof(ok), l);
		else {
			list_add(bad, sizeof(bad), l);
			nbad++;
		}
	}
	check_result_evidence(r, "loopback_only", "%s", lo[0] ? lo : "none");
	check_result_evidence(r, "expected", "%s", ok[0] ? ok : "none");
	if (f->n_loopback_over)
		check_result_evidence(r, "loopback_not_listed", "%zu", f->n_loopback_over);
	if (f->truncated)
		check_result_evidence(r, "truncated", "more than %d non-loopback listeners", PORTS_MAX_LISTENERS);
	if (!s->allow_loopback && f->n_loopback_over)
		nbad++; /* loopback ones that were only counted are not allowed here */
	check_result_evidence(r, "unexpected_count", "%zu%s", nbad, f->truncated ? " or more" : "");
	if (f->truncated) {
		/* listeners not looked at: never a pass (issue 21, NET-1) */
		if (bad[0])
			check_result_evidence(r, "unexpected", "%s", bad);
		check_result_set(r, CHECK_FAIL,
		                 "待ち受けポートが多すぎて全部を判定できません (許可外のものを含む可能性)",
		                 "Too many listening ports to judge them all (unexpected ones may be among them)");
		check_result_remedy(r, "ss -ltnup で待ち受けを確認し、不要なサービスを停止してください。",
		                    "Check the listeners with ss -ltnup and stop the services that are not needed.");
		return 0;
	}
	if (nbad) {
		check_result_evidence(r, "unexpected", "%s", bad);
		check_result_set(r, CHECK_FAIL, "ポリシーで許可されていないポートが待ち受けています",
		                 "Ports not allowed by the policy are listening");
		check_result_remedy(r, "不要なサービスを停止・無効化 (systemctl disable --now) してください。",
		                    "Stop and disable the services that are not needed (systemctl disable --now).");
	} else {
		check_result_set(r, CHECK_PASS, "待ち受けているのは許可されたポートだけです",
		                 "Only allowed ports are listening");
	}
	return 0;
}

/* the core owns the settings (agent/sdk/module.h): state is a ports_settings */
static int ports_settings_load(const cJSON *section, void *settings)
{
	return ports_settings_from_json(section, settings);
}

static int ports_check(void *state, struct check_report *rep)
{
	const struct ports_settings *settings = state;
	_cleanup_free_ struct ports_facts *f = malloc(sizeof(*f));
	int r;

	if (!f)
		return -ENOMEM;
	r = ports_gather(f);
	if (r < 0)
		return r;
	return ports_evaluate(settings, f, rep);
}

const struct mamori_module ports_module = {
        .name = "ports",
        .caps = MAMORI_CAP_CHECK,
        .section = "network",
        .settings_size = sizeof(struct ports_settings),
        .settings_load = ports_settings_load,
        .check = ports_check,
};
