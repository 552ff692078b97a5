/* agent/worker/isolate.c — network isolation for the `isolate` / `release`
 * remote commands (agent/worker/isolate.h; MDM-2, AV-5). mamori-worker
 * (root). The only change to the firewall is one nftables table of mamori's
 * own, `inet mamori_isolate`, replaced atomically with `nft -f` and deleted on
 * release; every other table is left as it is. */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <stdbool.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "alloc-util.h"
#include "fileio.h"
#include "isolate.h"
#include "json-util.h"
#include "proc-util.h"
#include "strutil.h"

#define ISOLATE_STATE "isolation.json"
#define ISOLATE_RULES "isolation.nft"

static const char *nft_path(void)
{
	static const char *const c[] = {"/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft"};

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		if (access(c[i], X_OK) == 0)
			return c[i];
	return NULL;
}

static int run_nft(char *const argv[], char *err, size_t errsz)
{
	_cleanup_free_ char *out = NULL;
	size_t len;
	int ex = 0, r;

	/* nft needs CAP_NET_ADMIN. The worker holds it in its permitted and
	 * inheritable sets only; under the unit's noroot an exec'd program gets
	 * nothing but the ambient set, so it is ambient for this exec alone (as
	 * plain root, nft gets it from the bounding set anyway). */
	bool raised = prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_ADMIN, 0, 0) == 0;

	r = spawn_capture(argv, NULL, 10000, 64 * 1024, &out, &len, &ex);
	if (raised)
		(void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_LOWER, CAP_NET_ADMIN, 0, 0);
	if (r < 0) {
		snprintf(err, errsz, "nft: cannot run: %s", strerror(-r));
		return r;
	}
	if (ex != 0) {
		snprintf(err, errsz, "nft exited with status %d", ex);
		return -EIO;
	}
	return 0;
}

/* The host of an https:// URL, resolved to addresses (each "ip A" / "ip6 A"
 * appended to the two sets). */
static int server_addresses(const char *url, char *v4, size_t v4sz, char *v6, size_t v6sz, char *err, size_t errsz)
{
	char host[256];
	const char *h;
	size_t n;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
	size_t o4 = 0, o6 = 0;
	int r;

	if (!startswith(url, "https://")) {
		snprintf(err, errsz, "no https:// device URL to keep reachable");
		return -EINVAL;
	}
	h = url + 8;
	if (*h == '[') {
		h++;
		n = strcspn(h, "]");
	} else {
		n = strcspn(h, ":/");
	}
	if (n == 0 || n >= sizeof(host))
		return -EINVAL;
	memcpy(host, h, n);
	host[n] = '\0';
	r = getaddrinfo(host, NULL, &hints, &res);
	if (r != 0) {
		snprintf(err, errsz, "cannot resolve the server %s: %s", host, gai_strerror(r));
		return -EHOSTUNREACH;
	}
	v4[0] = v6[0] = '\0';
	for (struct addrinfo *a = res; a; a = a->ai_next) {
		char buf[INET6_ADDRSTRLEN];

		if (a->ai_family == AF_INET &&
		    inet_ntop(AF_INET, &((struct sockaddr_in *)a->ai_addr)->sin_addr, buf, sizeof(buf)) &&
		    !strstr(v4, buf))
			o4 += (size_t)snprintf(v4 + o4, o4 < v4sz ? v4sz - o4 : 0, "%s%s", o4 ? ", " : "", buf);
		else if (a->ai_family == AF_INET6 &&
		         inet_ntop(AF_INET6, &((struct sockaddr_in6 *)a->ai_addr)->sin6_addr, buf, sizeof(buf)) &&
		         !strstr(v6, buf))
			o6 += (size_t)snprintf(v6 + o6, o6 < v6sz ? v6sz - o6 : 0, "%s%s", o6 ? ", " : "", buf);
	}
	freeaddrinfo(res);
	if (o4 >= v4sz || o6 >= v6sz)
		return -E2BIG;
	if (!v4[0] && !v6[0]) {
		snprintf(err, errsz, "the server %s has no address", host);
		return -EHOSTUNREACH;
	}
	return 0;
}

static int write_rules(const char *path, const char *v4, const char *v6, bool dhcp_dns)
{
	char buf[8192];
	size_t o = 0;

#define P(...) (o += (size_t)snprintf(buf + o, o < sizeof(buf) ? sizeof(buf) - o : 0, __VA_ARGS__))
	/* add + delete + define: an atomic replacement whether the table exists or not */
	P("table inet mamori_isolate\ndelete table inet mamori_isolate\n");
	P("table inet mamori_isolate {\n");
	for (int dir = 0; dir < 2; dir++) {
		const char *peer = dir == 0 ? "saddr" : "daddr";

		P("\tchain %s {\n\t\ttype filter hook %s priority -300; policy drop;\n", dir == 0 ? "input" : "output",
		  dir == 0 ? "input" : "output");
		P("\t\t%s \"lo\" accept\n", dir == 0 ? "iif" : "oif");
		if (v4[0])
			P("\t\tip %s { %s } accept\n", peer, v4);
		if (v6[0])
			P("\t\tip6 %s { %s } accept\n", peer, v6);
		if (dhcp_dns) {
			if (dir == 0) {
				P("\t\tudp sport 67 udp dport 68 accept\n\t\tudp sport 53 accept\n\t\ttcp sport 53 "
				  "accept\n");
				P("\t\tudp sport 547 udp dport 546 accept\n\t\ticmpv6 type { nd-neighbor-solicit, "
				  "nd-neighbor-advert, nd-router-advert } accept\n");
			} else {
				P("\t\tudp sport 68 udp dport 67 accept\n\t\tudp dport 53 accept\n\t\ttcp dport 53 "
				  "accept\n");
				P("\t\tudp sport 546 udp dport 547 accept\n\t\ticmpv6 type { nd-neighbor-solicit, "
				  "nd-neighbor-advert, nd-router-solicit } accept\n");
			}
		}
		P("\t}\n");
	}
	P("\tchain forward {\n\t\ttype filter hook forward priority -300; policy drop;\n\t}\n}\n");
#undef P
	if (o >= sizeof(buf))
		return -E2BIG;
	return write_file_atomic(path, buf, o, 0600);
}

int isolate_apply(const char *state_dir, const char *device_url, bool dhcp_dns, const char *reason, char *err,
                  size_t errsz)
{
	char v4[1024], v6[2048], rules[PATH_MAX], state[PATH_MAX];
	const char *nft = nft_path();
	int r;

	if (!nft) {
		snprintf(err, errsz, "nft is not installed (Debian: nftables)");
		return -ENOENT;
	}
	if ((r = server_addresses(device_url, v4, sizeof(v4), v6, sizeof(v6), err, errsz)) < 0)
		return r;
	if (xsnprintf(rules, sizeof(rules), "%s/%s", state_dir, ISOLATE_RULES) < 0 ||
	    xsnprintf(state, sizeof(state), "%s/%s", state_dir, ISOLATE_STATE) < 0)
		return -ENAMETOOLONG;
	if ((r = write_rules(rules, v4, v6, dhcp_dns)) < 0) {
		snprintf(err, errsz, "cannot write %s: %s", rules, strerror(-r));
		return r;
	}
	{
		char *argv[] = {(char *)nft, (char *)"-f", rules, NULL};

		if ((r = run_nft(argv, err, errsz)) < 0)
			return r;
	}
	/* remembered: re-applied at every start until released */
	if (reason) {
		_cleanup_json_ cJSON *j = cJSON_CreateObject();
		_cleanup_free_ char *txt = NULL;

		if (!j || !cJSON_AddStringToObject(j, "reason", reason) ||
		    !cJSON_AddNumberToObject(j, "since", (double)time(NULL)) || !(txt = cJSON_PrintUnformatted(j)))
			return -ENOMEM;
		if ((r = write_file_atomic(state, txt, strlen(txt), 0600)) < 0) {
			snprintf(err, errsz, "cannot write %s: %s", state, strerror(-r));
			return r;
		}
	}
	snprintf(err, errsz, "isolated: only loopback%s and the server (%s%s%s) are reachable",
	         dhcp_dns ? ", DHCP, DNS" : "", v4, v4[0] && v6[0] ? ", " : "", v6);
	return 0;
}

int isolate_release(const char *state_dir, char *err, size_t errsz)
{
	char state[PATH_MAX];
	const char *nft = nft_path();
	int r;

	if (xsnprintf(state, sizeof(state), "%s/%s", state_dir, ISOLATE_STATE) < 0)
		return -ENAMETOOLONG;
	if (!nft) {
		snprintf(err, errsz, "nft is not installed (Debian: nftables)");
		return -ENOENT;
	}
	{
		/* "add" first: deleting a table that is not there is then not an error */
		char rules[PATH_MAX];

		if (xsnprintf(rules, sizeof(rules), "%s/%s", state_dir, ISOLATE_RULES) < 0)
			return -ENAMETOOLONG;
		static const char del[] = "table inet mamori_isolate\ndelete table inet mamori_isolate\n";

		r = write_file_atomic(rules, del, strlen(del), 0600);
		if (r < 0)
			return r;
		char *argv[] = {(char *)nft, (char *)"-f", rules, NULL};

		if ((r = run_nft(argv, err, errsz)) < 0)
			return r;
	}
	if (unlink(state) < 0 && errno != ENOENT)
		return -errno;
	snprintf(err, errsz, "released: the isolation table is removed");
	return 0;
}

bool isolate_active(const char *state_dir)
{
	char state[PATH_MAX];

	return xsnprintf(state, sizeof(state), "%s/%s", state_dir, ISOLATE_STATE) == 0 && access(state, F_OK) == 0;
}
