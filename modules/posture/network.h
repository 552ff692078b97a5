/* modules/posture/network.h — network segment posture: routes against the
 * allowed destinations, Wi-Fi encryption; NET-2 (mamori-worker).
 *
 * NET-2 (M 7.1(19), M 7.1(13), T 第6 1(8)): the terminal connects only to the
 * networks it is meant for, and wireless is encrypted. Interfaces come from
 * /sys/class/net (operstate, wireless/ or phy80211). Routes are the
 * kernel's decision (network_route.c): with `network.allowed_destinations`
 * (set by the mynumber template), destinations outside them are chosen from
 * every route of every table and every ip rule, and RTM_GETROUTE (`ip route
 * get`, also with the rules' fwmarks and uids) must not route any of them
 * out, for IPv4 and IPv6. Wi-Fi profiles come from every source a
 * Debian or Ubuntu machine uses (network_wifi.h): open, WEP and dynamic WEP
 * fail when `network.wireless_encryption_required`, and so does a wireless
 * interface with no profile found (unknown). All paths go through the root
 * prefix. */
#ifndef MAMORI_NETWORK_H
#define MAMORI_NETWORK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "module.h"

#define NETWORK_MAX_DESTS  64
#define NETWORK_MAX_IFACES 32
#define NETWORK_MAX_ROUTES 256
#define NETWORK_MAX_WIFI   64

struct network_cidr {
	int family; /* AF_INET or AF_INET6 */
	uint8_t addr[16];
	int prefix;
};

/* Parse "10.0.0.0/8", "2001:db8::/32" (a bare address is a host route). */
int network_parse_cidr(const char *s, struct network_cidr *ret);

/* The `network` section. Defaults when absent: wireless_encryption_required
 * true, no allowed_destinations (the route check is not applicable). */
struct network_settings {
	bool wireless_encryption_required;
	bool have_destinations;
	struct network_cidr dests[NETWORK_MAX_DESTS];
	size_t n_dests;
};

int network_settings_from_json(const cJSON *section, struct network_settings *ret);

struct network_iface {
	char name[32];
	char operstate[16];
	bool wireless;
};

struct network_route {
	struct network_cidr dst;
	char iface[32];
	uint32_t table;
};

/* One question put to the kernel (RTM_GETROUTE, `ip route get` semantics):
 * would traffic to dst (with that firewall mark / uid / source / output
 * interface, as an ip rule may select) leave through an interface? */
struct network_probe {
	struct network_cidr dst; /* a host address outside every allowed CIDR */
	uint32_t mark, uid;
	bool has_mark, has_uid;
	char why[64]; /* where the address came from ("table 100 0.0.0.0/0", "rule to …") */
	bool out;     /* the kernel routes it out (unicast, not loopback) */
	char iface[32];
	uint32_t table;
	int err; /* the kernel's answer when it does not route it (-ENETUNREACH …) */
};

#define NETWORK_MAX_PROBES 256

struct network_wifi {
	char source[16]; /* NetworkManager, wpa_supplicant, netplan, ifupdown, iwd */
	char file[128];  /* escaped file name */
	char id[64];     /* escaped connection id / SSID */
	char key_mgmt[48];
	char what[64]; /* err < 0: what could not be judged */
	bool secure;
	int err; /* < 0: the file could not be read or judged */
};

struct network_facts {
	struct network_iface ifaces[NETWORK_MAX_IFACES];
	size_t n_ifaces;
	struct network_route routes[NETWORK_MAX_ROUTES]; /* every table but local */
	size_t n_routes;
	bool routes_more;
	struct network_probe probes[NETWORK_MAX_PROBES];
	size_t n_probes;
	bool probes_more;
	bool routes_host; /* a root prefix is set: the kernel's routing is this machine's */
	int routes_err;
	char routes_err_what[128];
	struct network_wifi wifi[NETWORK_MAX_WIFI];
	size_t n_wifi;
	bool wifi_more; /* more profiles than NETWORK_MAX_WIFI: never a pass */
};

/* Append a Wi-Fi profile (NULL when full: wifi_more is set). */
struct network_wifi *network_wifi_add(struct network_facts *f, const char *source, const char *file);

/* Interfaces and Wi-Fi profiles (under the root prefix). */
int network_gather(struct network_facts *ret);

/* The kernel's routing decision (netlink, network_route.c): every route of
 * every table and every ip rule's selector give candidate destinations
 * outside the allowed CIDRs, and RTM_GETROUTE says for each whether it
 * leaves. With a root prefix nothing is asked (routes_host). */
int network_gather_routes(const struct network_settings *s, struct network_facts *f);

/* A host address inside prefix c but outside every allowed CIDR (and not
 * loopback, multicast, link-local, unspecified or broadcast): 0, or
 * -ENOENT when the whole prefix is allowed or special. Pure. */
int network_route_candidate(const struct network_cidr *c, const struct network_settings *s, struct network_cidr *ret);

/* Results: network.routes and network.wireless (NET-2). Pure. */
int network_evaluate(const struct network_settings *s, const struct network_facts *f, struct check_report *rep);

extern const struct mamori_module network_module;

#endif
