/* tests/fuzz/fuzz_network_wifi.c — libFuzzer harness for the NET-2 Wi-Fi
 * profile parsers (modules/posture/network_wifi.c): NetworkManager keyfiles,
 * wpa_supplicant.conf, netplan YAML (two files merged), ifupdown interfaces
 * (fuzz program). The first byte picks the parser. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "posture/network_wifi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void no_include(void *ud, const char *kind, const char *arg)
{
	(void)ud;
	if (!kind || !arg || strlen(arg) > 1024 * 1024)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct network_facts f;
	char *buf;

	if (size < 1)
		return 0;
	buf = malloc(size);
	if (!buf)
		return 0;
	memcpy(buf, data + 1, size - 1);
	buf[size - 1] = '\0';
	memset(&f, 0, sizeof(f));
	switch (data[0] % 4) {
	case 0:
		network_wifi_parse_nm(&f, "/etc/NetworkManager/system-connections/x", buf);
		break;
	case 1:
		network_wifi_parse_wpa(&f, "wpa_supplicant", "/etc/wpa_supplicant/wpa_supplicant.conf", buf);
		break;
	case 2: {
		struct netplan_merge *m = network_wifi_netplan_new();
		if (m) {
			network_wifi_netplan_feed(m, "/etc/netplan/a.yaml", buf);
			network_wifi_netplan_feed(m, "/etc/netplan/b.yaml", buf);
			network_wifi_netplan_finish(m, &f);
			network_wifi_netplan_free(m);
		}
		break;
	}
	case 3:
		network_wifi_parse_ifupdown(&f, "/etc/network/interfaces", buf, no_include, NULL);
		break;
	}
	if (f.n_wifi > NETWORK_MAX_WIFI)
		__builtin_trap();
	for (size_t i = 0; i < f.n_wifi; i++)
		if (strnlen(f.wifi[i].key_mgmt, sizeof(f.wifi[i].key_mgmt)) >= sizeof(f.wifi[i].key_mgmt) ||
		    strnlen(f.wifi[i].id, sizeof(f.wifi[i].id)) >= sizeof(f.wifi[i].id))
			__builtin_trap();
	free(buf);
	return 0;
}
