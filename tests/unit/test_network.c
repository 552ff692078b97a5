/* tests/unit/test_network.c — NET-2: the evaluation of the kernel's routing
 * answers and the destinations asked, and Wi-Fi profiles of every source on
 * fixture trees under a temporary root (sysfs, NetworkManager, iwd). */
#include <arpa/inet.h>
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

/* network.routes judges the kernel's answers (RTM_GETROUTE, network_route.c;
 * tests/integration/groundtruth_routes.sh asks a real kernel in a network
 * namespace): here the evaluation of those answers and the choice of the
 * destinations asked. */
static struct check_result *eval_probes(const char *json, struct network_facts *f)
{
	_cleanup_free_ struct network_settings *s = malloc(sizeof(*s));
	cJSON *j = cJSON_Parse(json);

	assert_non_null(s);
	check_report_clear(&rep);
	assert_int_equal(network_settings_from_json(j, s), 0);
	cJSON_Delete(j);
	assert_int_equal(network_evaluate(s, f, &rep), 0);
	return strcmp(rep.results[0]->id, "network.routes") == 0 ? rep.results[0] : rep.results[1];
}

static void test_routes(void **state)
{
	_cleanup_free_ struct network_facts *f = calloc(1, sizeof(*f));
	_cleanup_free_ struct network_settings *s = malloc(sizeof(*s));
	struct network_cidr c, out;
	struct check_result *r;
	char a[INET6_ADDRSTRLEN];
	cJSON *j;
	(void)state;

	assert_non_null(f);
	r = eval_probes(mynumber, f);
	assert_int_equal(r->status, CHECK_PASS);
	/* the kernel routes one asked destination out: fail, with where it goes */
	f->n_probes = 2;
	assert_int_equal(network_parse_cidr("128.0.0.0", &f->probes[0].dst), 0);
	f->probes[0].out = true;
	strscpy(f->probes[0].iface, sizeof(f->probes[0].iface), "eth0");
	f->probes[0].table = 100;
	strscpy(f->probes[0].why, sizeof(f->probes[0].why), "any destination 0.0.0.0/0");
	assert_int_equal(network_parse_cidr("8000::", &f->probes[1].dst), 0);
	f->probes[1].err = -ENETUNREACH;
	r = eval_probes(mynumber, f);
	assert_int_equal(r->status, CHECK_FAIL);
	assert_string_equal(ev(r, "not_allowed"), "128.0.0.0 dev eth0 table 100 (any destination 0.0.0.0/0)");
	/* a segment without a destination list: not applicable */
	r = eval_probes("{}", f);
	assert_int_equal(r->status, CHECK_NOT_APPLICABLE);
	/* under --root the kernel is the host's: labelled, not judged */
	f->routes_host = true;
	r = eval_probes(mynumber, f);
	assert_int_equal(r->status, CHECK_NOT_APPLICABLE);
	assert_string_equal(ev(r, "scope"), "host kernel, not the evaluated root");
	f->routes_host = false;
	/* more than could be asked, none out: never a pass */
	f->probes[0].out = false;
	f->probes_more = true;
	r = eval_probes(mynumber, f);
	assert_int_equal(r->status, CHECK_ERROR);
	f->probes_more = false;
	f->routes_err = -EPERM;
	strscpy(f->routes_err_what, sizeof(f->routes_err_what), "rtnetlink: Operation not permitted");
	r = eval_probes(mynumber, f);
	assert_int_equal(r->status, CHECK_ERROR);
	check_report_clear(&rep);

	/* the destinations asked: inside the route's prefix, outside every
	 * allowed CIDR, never special */
	j = cJSON_Parse(mynumber);
	assert_int_equal(network_settings_from_json(j, s), 0);
	cJSON_Delete(j);
	{
		static const struct {
			const char *prefix, *want;
		} t[] = {
		        {"0.0.0.0/0", "128.0.0.0"}, {"10.0.0.0/8", "10.0.0.0"},
		        {"10.1.0.0/16", NULL},      {"192.168.0.0/15", "192.169.0.0"},
		        {"::/0", "8000::"},         {"127.0.0.0/8", NULL},
		        {"224.0.0.0/4", NULL},      {"10.1.0.0/15", "10.0.0.0"},
		};
		for (size_t i = 0; i < ELEMENTSOF(t); i++) {
			assert_int_equal(network_parse_cidr(t[i].prefix, &c), 0);
			if (!t[i].want) {
				assert_int_equal(network_route_candidate(&c, s, &out), -ENOENT);
				continue;
			}
			assert_int_equal(network_route_candidate(&c, s, &out), 0);
			assert_non_null(inet_ntop(out.family, out.addr, a, sizeof(a)));
			assert_string_equal(a, t[i].want);
		}
	}
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
	        cmocka_unit_test_setup_teardown(test_wifi, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_wifi_wep_and_hostile, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_wifi_sources, setup, teardown),
	        cmocka_unit_test(test_settings),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
