/* tests/unit/test_network.c — NET-2 routes against allowed destinations and
 * Wi-Fi encryption from NetworkManager keyfiles, on fixture trees under a
 * temporary root (sysfs, /proc/net/route, ipv6_route, system-connections). */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "alloc-util.h"
#include "fileio.h"
#include "posture/network.h"
#include "rootpath.h"
#include "strutil.h"

static char tmproot[PATH_MAX];

static void put(const char *rel, const char *text)
{
	char p[PATH_MAX], d[PATH_MAX];

	assert_int_equal(root_path(p, sizeof(p), rel), 0);
	assert_int_equal(strscpy(d, sizeof(d), p), 0);
	*strrchr(d, '/') = '\0';
	assert_int_equal(mkdir_p(d, 0755), 0);
	assert_int_equal(write_file_atomic(p, text, strlen(text), 0600), 0);
}

#define RH "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
static const char route_lan_only[] = RH "eth0\t0000A8C0\t00000000\t0001\t0\t0\t100\t0000FFFF\t0\t0\t0\n";
static const char route_default[] = RH "eth0\t00000000\t0102A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"
                                       "eth0\t0002A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n";
static const char route6_local[] = "fe800000000000000000000000000000 40 00000000000000000000000000000000 00 "
                                   "00000000000000000000000000000000 00000100 00000001 00000000 00000001 eth0\n"
                                   "00000000000000000000000000000001 80 00000000000000000000000000000000 00 "
                                   "00000000000000000000000000000000 00000000 00000002 00000000 80200001 lo\n"
                                   "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
                                   "00000000000000000000000000000000 ffffffff 00000001 00000000 00200200 lo\n";
static const char route6_default[] = "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
                                     "fe800000000000000000000000000001 00000400 00000001 00000000 00000003 eth0\n";

static int setup(void **state)
{
	(void)state;
	strscpy(tmproot, sizeof(tmproot), "/tmp/mamori-test-network.XXXXXX");
	if (!mkdtemp(tmproot))
		return -1;
	root_set(tmproot);
	put("/sys/class/net/lo/operstate", "unknown\n");
	put("/sys/class/net/eth0/operstate", "up\n");
	put("/sys/class/net/wlan0/operstate", "down\n");
	put("/sys/class/net/wlan0/wireless/.keep", "");
	put("/proc/net/route", route_lan_only);
	put("/proc/net/ipv6_route", route6_local);
	put("/etc/NetworkManager/system-connections/office.nmconnection",
	    "[connection]\nid=office\ntype=wifi\n[wifi]\nssid=LG-OFFICE\n[wifi-security]\nkey-mgmt=wpa-eap\n");
	put("/etc/NetworkManager/system-connections/wired.nmconnection", "[connection]\nid=wired\ntype=ethernet\n");
	return 0;
}

static int teardown(void **state)
{
	char cmd[PATH_MAX + 16];

	(void)state;
	root_set("");
	xsnprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmproot);
	return system(cmd) == 0 ? 0 : -1;
}

static const char *ev(const struct check_result *r, const char *key)
{
	for (size_t i = 0; i < r->n_evidence; i++)
		if (strcmp(r->evidence[i].key, key) == 0)
			return r->evidence[i].value;
	return NULL;
}

static struct check_report rep;

static struct check_result *run(const char *json, const char *id)
{
	_cleanup_free_ struct network_settings *s = malloc(sizeof(*s));
	_cleanup_free_ struct network_facts *f = malloc(sizeof(*f));
	cJSON *j = json ? cJSON_Parse(json) : NULL;

	assert_non_null(s);
	assert_non_null(f);
	check_report_clear(&rep);
	assert_int_equal(network_settings_from_json(j, s), 0);
	cJSON_Delete(j);
	assert_int_equal(network_gather(f), 0);
	assert_int_equal(network_evaluate(s, f, &rep), 0);
	assert_int_equal(rep.n, 2);
	return strcmp(rep.results[0]->id, id) == 0 ? rep.results[0] : rep.results[1];
}

static const char mynumber[] = "{\"wireless_encryption_required\": true, \"allowed_destinations\": "
                               "[{\"cidr\": \"192.168.0.0/16\", \"ports\": [443]}, {\"cidr\": \"10.1.0.0/16\"}]}";

static void test_routes(void **state)
{
	struct check_result *r;
	(void)state;

	r = run(mynumber, "network.routes");
	assert_string_equal(r->id, "network.routes");
	assert_int_equal(r->status, CHECK_PASS);
	assert_string_equal(ev(r, "routes"), "192.168.0.0/16 dev eth0");
	assert_non_null(strstr(ev(r, "interfaces"), "wlan0:down(wireless)"));
	assert_null(strstr(ev(r, "interfaces"), "lo:"));

	/* a default route leaves the segment */
	put("/proc/net/route", route_default);
	r = run(mynumber, "network.routes");
	assert_int_equal(r->status, CHECK_FAIL);
	assert_string_equal(ev(r, "not_allowed"), "0.0.0.0/0 dev eth0");

	/* so does an IPv6 default route */
	put("/proc/net/route", route_lan_only);
	put("/proc/net/ipv6_route", route6_default);
	r = run(mynumber, "network.routes");
	assert_int_equal(r->status, CHECK_FAIL);
	assert_string_equal(ev(r, "not_allowed"), "::/0 dev eth0");

	/* a segment without a destination list: not applicable */
	r = run("{}", "network.routes");
	assert_int_equal(r->status, CHECK_NOT_APPLICABLE);

	/* a wider route than the allowed CIDR is not covered */
	put("/proc/net/ipv6_route", route6_local);
	put("/proc/net/route", RH "eth0\t0000000A\t00000000\t0001\t0\t0\t100\t000000FF\t0\t0\t0\n");
	r = run(mynumber, "network.routes");
	assert_int_equal(r->status, CHECK_FAIL);
	assert_string_equal(ev(r, "not_allowed"), "10.0.0.0/8 dev eth0");
	check_report_clear(&rep);
}

static void test_routes_garbage(void **state)
{
	static const char *const bad[] = {
	        "garbage\n", RH "eth0\tZZZZZZZZ\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n", RH "eth0\t0000A8C0\n",
	        RH "eth0\t0000A8C0\t00000000\t0001\t0\t0\t100\t00FF00FF\t0\t0\t0\n", /* non-contiguous mask */
	};
	struct check_result *r;
	(void)state;

	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		put("/proc/net/route", bad[i]);
		r = run(mynumber, "network.routes");
		assert_int_equal(r->status, CHECK_ERROR);
		assert_non_null(strstr(ev(r, "error"), "/proc/net/route:"));
	}
	put("/proc/net/route", route_lan_only);
	put("/proc/net/ipv6_route", "0000 80 nonsense\n");
	r = run(mynumber, "network.routes");
	assert_int_equal(r->status, CHECK_ERROR);
	check_report_clear(&rep);
}

static void test_wifi(void **state)
{
	struct check_result *r;
	(void)state;

	r = run(mynumber, "network.wireless");
	assert_string_equal(r->id, "network.wireless");
	assert_int_equal(r->status, CHECK_PASS);
	assert_string_equal(ev(r, "wireless_interfaces"), "wlan0");
	assert_string_equal(ev(r, "encrypted_profiles"), "office (NetworkManager office.nmconnection): wpa-eap");

	/* open network: no security section */
	put("/etc/NetworkManager/system-connections/cafe.nmconnection",
	    "[connection]\nid=Free Cafe\ntype=wifi\n[wifi]\nssid=FREE\nmode=infrastructure\n");
	r = run(mynumber, "network.wireless");
	assert_int_equal(r->status, CHECK_FAIL);
	assert_string_equal(ev(r, "unencrypted_profiles"), "Free Cafe (NetworkManager cafe.nmconnection): none (open)");
	r = run("{\"wireless_encryption_required\": false}", "network.wireless");
	assert_int_equal(r->status, CHECK_NOT_APPLICABLE);
	check_report_clear(&rep);
}

/* NET-2 sources without a reader that can run on a build machine (issue 21):
 * NetworkManager's /run (netplan's output) and /usr/lib directories, where
 * only *.nmconnection files are profiles, and iwd's files, whose suffix is
 * the security type (iwd.network(5)); a wireless interface with no profile
 * anywhere is unknown: a fail. */
static void test_wifi_sources(void **state)
{
	struct check_result *r;
	char p[PATH_MAX];
	(void)state;

	put("/run/NetworkManager/system-connections/netplan-wlan0-cafe.nmconnection",
	    "[connection]\nid=netplan-wlan0-cafe\ntype=wifi\n[wifi]\nssid=cafe\n");
	r = run(mynumber, "network.wireless");
	assert_int_equal(r->status, CHECK_FAIL);
	assert_string_equal(ev(r, "unencrypted_profiles"),
	                    "netplan-wlan0-cafe (NetworkManager netplan-wlan0-cafe.nmconnection): none (open)");
	assert_int_equal(
	        root_path(p, sizeof(p), "/run/NetworkManager/system-connections/netplan-wlan0-cafe.nmconnection"), 0);
	assert_int_equal(unlink(p), 0);
	/* /usr/lib: *.nmconnection only */
	put("/usr/lib/NetworkManager/system-connections/vendor.conf", "[connection]\nid=ignored\ntype=wifi\n");
	put("/usr/lib/NetworkManager/system-connections/vendor.nmconnection",
	    "[connection]\nid=vendor\ntype=wifi\n[wifi-security]\nkey-mgmt=ieee8021x\n");
	r = run(mynumber, "network.wireless");
	assert_int_equal(r->status, CHECK_FAIL);
	assert_string_equal(ev(r, "unencrypted_profiles"),
	                    "vendor (NetworkManager vendor.nmconnection): ieee8021x (WEP)");
	assert_int_equal(root_path(p, sizeof(p), "/usr/lib/NetworkManager/system-connections/vendor.nmconnection"), 0);
	assert_int_equal(unlink(p), 0);
	/* iwd */
	put("/var/lib/iwd/office.psk", "[Security]\nPassphrase=correct horse\n");
	put("/var/lib/iwd/corp.8021x", "[Security]\nEAP-Method=PEAP\n");
	r = run(mynumber, "network.wireless");
	assert_int_equal(r->status, CHECK_PASS);
	put("/var/lib/iwd/Free Cafe.open", "");
	r = run(mynumber, "network.wireless");
	assert_int_equal(r->status, CHECK_FAIL);
	assert_string_equal(ev(r, "unencrypted_profiles"), "Free Cafe (iwd Free Cafe.open): open");
	check_report_clear(&rep);

	/* wlan0 and no profile in any source: unknown, never a pass */
	{
		const char *gone[] = {"/var/lib/iwd/office.psk", "/var/lib/iwd/corp.8021x",
		                      "/var/lib/iwd/Free Cafe.open",
		                      "/etc/NetworkManager/system-connections/office.nmconnection"};
		for (size_t i = 0; i < ELEMENTSOF(gone); i++) {
			assert_int_equal(root_path(p, sizeof(p), gone[i]), 0);
			assert_int_equal(unlink(p), 0);
		}
	}
	r = run(mynumber, "network.wireless");
	assert_int_equal(r->status, CHECK_FAIL);
	assert_string_equal(ev(r, "profiles"), "0");
	/* and without a wireless interface, nothing to judge: a pass */
	assert_int_equal(root_path(p, sizeof(p), "/sys/class/net/wlan0/wireless/.keep"), 0);
	assert_int_equal(unlink(p), 0);
	assert_int_equal(root_path(p, sizeof(p), "/sys/class/net/wlan0/wireless"), 0);
	assert_int_equal(rmdir(p), 0);
	r = run(mynumber, "network.wireless");
	assert_int_equal(r->status, CHECK_PASS);
	check_report_clear(&rep);
}

static void test_wifi_wep_and_hostile(void **state)
{
	struct check_result *r;
	char p[PATH_MAX], t[PATH_MAX];
	(void)state;

	put("/etc/NetworkManager/system-connections/old.nmconnection",
	    "[connection]\nid=old-ap\ntype=802-11-wireless\n[802-11-wireless-security]\nkey-mgmt=none\n"
	    "wep-key0=0123456789\n");
	r = run(mynumber, "network.wireless");
	assert_int_equal(r->status, CHECK_FAIL);
	assert_non_null(strstr(ev(r, "unencrypted_profiles"), "old-ap (NetworkManager old.nmconnection): none (WEP)"));

	/* hostile names: control characters are escaped in the evidence */
	put("/etc/NetworkManager/system-connections/old.nmconnection",
	    "[connection]\nid=x\ntype=wifi\n[wifi-security]\nkey-mgmt=sae\n");
	put("/etc/NetworkManager/system-connections/evil\n\x1b[31mname.nmconnection",
	    "[connection]\nid=evil\x1b]0;pwned\x07\ntype=wifi\n");
	r = run(mynumber, "network.wireless");
	assert_int_equal(r->status, CHECK_FAIL);
	assert_null(strchr(ev(r, "unencrypted_profiles"), '\n'));
	assert_null(strchr(ev(r, "unencrypted_profiles"), '\x1b'));
	assert_non_null(strstr(ev(r, "unencrypted_profiles"), "evil\\n\\x1b[31mname.nmconnection"));

	/* a symlink and a FIFO are ignored (NetworkManager does too); a huge file is an error */
	assert_int_equal(
	        root_path(p, sizeof(p), "/etc/NetworkManager/system-connections/evil\n\x1b[31mname.nmconnection"), 0);
	assert_int_equal(unlink(p), 0);
	assert_int_equal(root_path(t, sizeof(t), "/etc/NetworkManager/system-connections/link.nmconnection"), 0);
	assert_int_equal(symlink("/etc/shadow", t), 0);
	assert_int_equal(root_path(t, sizeof(t), "/etc/NetworkManager/system-connections/fifo.nmconnection"), 0);
	assert_int_equal(mkfifo(t, 0600), 0);
	{
		size_t n = 100 * 1024;
		_cleanup_free_ char *big = malloc(n + 1);
		assert_non_null(big);
		memset(big, '#', n);
		big[n] = '\0';
		put("/etc/NetworkManager/system-connections/big.nmconnection", big);
	}
	r = run(mynumber, "network.wireless");
	assert_int_equal(r->status, CHECK_ERROR);
	assert_string_equal(ev(r, "error"), "NetworkManager big.nmconnection: too large");
	check_report_clear(&rep);
}

static void test_settings(void **state)
{
	_cleanup_free_ struct network_settings *s = malloc(sizeof(*s));
	struct network_cidr c;
	cJSON *j;
	(void)state;

	assert_int_equal(network_parse_cidr("10.0.0.0/8", &c), 0);
	assert_int_equal(c.prefix, 8);
	assert_int_equal(network_parse_cidr("2001:db8::/32", &c), 0);
	assert_int_equal(network_parse_cidr("10.0.0.1", &c), 0);
	assert_int_equal(c.prefix, 32);
	assert_int_equal(network_parse_cidr("10.0.0.0/33", &c), -EINVAL);
	assert_int_equal(network_parse_cidr("example.org/8", &c), -EINVAL);
	j = cJSON_Parse("{\"allowed_destinations\": [{\"cidr\": \"bogus\"}]}");
	assert_int_equal(network_settings_from_json(j, s), -EINVAL);
	cJSON_Delete(j);
	assert_int_equal(network_settings_from_json(NULL, s), 0);
	assert_true(s->wireless_encryption_required);
	assert_false(s->have_destinations);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_routes, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_routes_garbage, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_wifi, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_wifi_wep_and_hostile, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_wifi_sources, setup, teardown),
	        cmocka_unit_test(test_settings),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
