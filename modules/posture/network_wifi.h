/* modules/posture/network_wifi.h — Wi-Fi profiles from every configuration
 * source of a Debian or Ubuntu machine, NET-2 (mamori-worker, mamorictl
 * check).
 *
 * A profile is open or WEP (fail) or encrypted, judged with the semantics of
 * the component that reads it (issue 21):
 *   NetworkManager keyfiles  /etc, /run (where netplan writes them) and
 *                            /usr/lib .../NetworkManager/system-connections
 *   wpa_supplicant           /etc/wpa_supplicant/wpa_supplicant*.conf and the
 *                            files ifupdown's wpa-conf / wpa-roam name
 *                            (key_mgmt defaults to "WPA-PSK WPA-EAP")
 *   netplan                  /lib, /etc, /run/netplan/ *.yaml (a name in a
 *                            later directory hides it in an earlier one; an
 *                            access point defined in two files is refused,
 *                            as netplan refuses it)
 *   ifupdown                 /etc/network/interfaces with its source and
 *                            source-directory lines: wpa-* and wireless-*
 *   iwd                      /var/lib/iwd/ *.open, *.psk, *.8021x
 * Every path goes through the root prefix. The parsers take a buffer (they
 * are fuzzed: tests/fuzz/fuzz_posture_parsers.c) and append to the facts. */
#ifndef MAMORI_NETWORK_WIFI_H
#define MAMORI_NETWORK_WIFI_H

#include <stddef.h>

#include "network.h"

/* Gather every source under the root into f->wifi (f->n_wifi, f->wifi_more). */
void network_wifi_gather(struct network_facts *f);

/* One NetworkManager keyfile: appended when it is a Wi-Fi profile. */
void network_wifi_parse_nm(struct network_facts *f, const char *file, const char *buf);

/* One wpa_supplicant configuration: one profile per network={} block;
 * -EBADMSG (and an error entry) for a block wpa_supplicant would refuse. */
int network_wifi_parse_wpa(struct network_facts *f, const char *source, const char *file, const char *buf);

/* Netplan: feed every file (in the order netplan merges them), then finish
 * once. A YAML construct this reader does not follow inside `wifis` is an
 * error entry (never a pass). */
struct netplan_merge;
struct netplan_merge *network_wifi_netplan_new(void);
int network_wifi_netplan_feed(struct netplan_merge *m, const char *file, const char *buf);
void network_wifi_netplan_finish(struct netplan_merge *m, struct network_facts *f);
void network_wifi_netplan_free(struct netplan_merge *m);

/* One ifupdown interfaces file: wpa-ssid/wireless-essid stanzas are
 * appended; each `source`/`source-directory` argument and wpa-conf/wpa-roam
 * file is handed to include(kind, arg) ("source", "source-directory",
 * "wpa-conf"). */
typedef void (*network_ifupdown_include)(void *ud, const char *kind, const char *arg);
void network_wifi_parse_ifupdown(struct network_facts *f, const char *file, const char *buf,
                                 network_ifupdown_include include, void *ud);

#endif
