#!/usr/bin/env bash
# tests/integration/groundtruth_wifi.sh — NET-2 Wi-Fi profiles against the
# real readers of each configuration source (issue 21.1). Per variant of the
# Debian 12 root (a wireless interface wlan0 in its sysfs, and one source
# configured), the real verdict comes from the component that reads it:
#   wpa_supplicant.conf    the real wpa_supplicant parses the file (wired
#                          driver on a veth of a network namespace this test
#                          creates) and `wpa_cli get_network N key_mgmt` says
#                          what each network uses
#   netplan                `netplan generate --root-dir` renders the root's
#                          YAML (merged as netplan merges it; what it
#                          refuses is an error for both) into
#                          wpa_supplicant files, judged as above
#   ifupdown wpa-*         the wpasupplicant package's own ifupdown code
#                          (functions.sh conf_wpa_supplicant, with the
#                          stanza's IF_WPA_* options) configures a running
#                          wpa_supplicant, judged as above
# A network whose key_mgmt is NONE (open or WEP) or IEEE8021X (dynamic WEP)
# fails; a wireless interface with no network at all fails (unknown); else
# pass. mamori's network.wireless (`mamorictl --root`) must agree.
# NetworkManager keyfiles and iwd files have no reader that runs here (the
# NetworkManager daemon would take over the machine's network; iwd needs
# wireless hardware): tests/unit/test_network.c covers them. Needs root.
cd "$(dirname "$0")/../.."
: "${MAMORI_SRC:=$PWD}"
source tests/groundtruth/lib.bash
gt_unpack
for b in wpa_supplicant wpa_cli netplan; do
	command -v "$b" >/dev/null || { echo "FAIL: $b is not installed (installer/deps.sh --check)"; exit 1; }
done
FUNCS=/etc/wpa_supplicant/functions.sh
[[ -r $FUNCS ]] || { echo "FAIL: $FUNCS missing (wpasupplicant)"; exit 1; }

# key_mgmt of every network of a running wpa_supplicant
wpa_networks() { # ctrl-dir
	local id
	for id in $(wpa_cli -p "$1" -i gt0 list_networks 2>/dev/null | awk 'NR > 1 && $1 ~ /^[0-9]+$/ {print $1}'); do
		echo "$(wpa_cli -p "$1" -i gt0 get_network "$id" ssid 2>/dev/null) $(wpa_cli -p "$1" -i gt0 get_network "$id" key_mgmt 2>/dev/null)"
	done
}
wait_ctrl() { for _ in $(seq 1 50); do [[ -S $1/gt0 ]] && return 0; sleep 0.1; done; return 1; }

# the oracle, inside a fresh network namespace (run by real_verdict)
oracle_ns() { # V D
	local V=$1 D=$2 f ctrl n=0 i stanza
	ip link add gt0 type veth peer name gt1 && ip link set gt0 up && ip link set gt1 up
	: >"$D/networks"
	# 1. wpa_supplicant's own files, and 2. what netplan renders
	netplan generate --root-dir "$V" >"$D/netplan.log" 2>&1 || echo "netplan-refused" >>"$D/networks"
	for f in "$V"/etc/wpa_supplicant/wpa_supplicant*.conf "$V"/run/netplan/wpa-*.conf; do
		[[ -f $f ]] || continue
		n=$((n + 1))
		ctrl=$D/ctrl$n
		{ echo "ctrl_interface=$ctrl"; grep -v '^ctrl_interface=' "$f"; } >"$D/wpa$n.conf"
		wpa_supplicant -B -D wired -i gt0 -c "$D/wpa$n.conf" -P "$D/wpa$n.pid" >"$D/wpa$n.log" 2>&1 ||
			{ echo "wpa_supplicant refused $(basename "$f")" >>"$D/networks"; continue; }
		wait_ctrl "$ctrl" && wpa_networks "$ctrl" >>"$D/networks"
		kill "$(cat "$D/wpa$n.pid")"
	done
	# 3. ifupdown: each iface stanza with wpa-* options, through the package's functions.sh
	i=0
	while IFS= read -r stanza; do
		i=$((i + 1))
		ctrl=$D/ifctrl$i
		wpa_supplicant -B -D wired -i gt0 -C "$ctrl" -P "$D/if$i.pid" >"$D/if$i.log" 2>&1 || continue
		wait_ctrl "$ctrl" || continue
		(
			eval "$stanza"
			export WPA_IFACE=gt0 IFACE=gt0 WPA_CTRL_DIR=$ctrl
			# shellcheck disable=SC1090
			. "$FUNCS"
			conf_wpa_supplicant
		) >"$D/if$i.conf.log" 2>&1
		wpa_networks "$ctrl" >>"$D/networks"
		kill "$(cat "$D/if$i.pid")"
	done < <(cat "$V/etc/network/interfaces" "$V"/etc/network/interfaces.d/* 2>/dev/null | awk '
		function flush() { if (env != "") print env; env = "" }
		$1 == "iface" { flush(); inif = 1; next }
		$1 ~ /^(auto|allow-.*|mapping|source|source-directory|rename)$/ { flush(); inif = 0; next }
		inif && $1 ~ /^wpa-/ { k = toupper($1); gsub("-", "_", k); v = $0; sub(/^[ \t]*[^ \t]+[ \t]+/, "", v)
			gsub("\047", "\047\\\047\047", v); env = env "IF_" k "=\047" v "\047; " }
		END { flush() }')
}
export -f oracle_ns wpa_networks wait_ctrl
export FUNCS

real_verdict() {
	local nets bad
	unshare -n bash -c 'oracle_ns "$@"' _ "$GT_V" "$GT_D"
	nets=$(grep -c . "$GT_D/networks" || true)
	bad=$(grep -cE ' (NONE|IEEE8021X)$|wpa_supplicant refused' "$GT_D/networks" || true)
	gt_detail "real: $(tr '\n' ';' <"$GT_D/networks") mamori: $(gt_evidence network.wireless unencrypted_profiles)"
	if grep -q '^netplan-refused' "$GT_D/networks"; then
		echo error # netplan refuses the configuration: nothing of it can be judged
	elif ((bad > 0 || nets == 0)); then echo fail; else echo pass; fi
}
gt_mamori() {
	"$CTL" --root "$GT_V" --json check --module network >"$GT_D/mamori.json" 2>"$GT_D/mamori.err" || true
	jq -r --arg id "$1" '.results[] | select(.id == $id) | .status' "$GT_D/mamori.json"
}

wlan() { mkdir -p "$GT_V/sys/class/net/wlan0/wireless"; echo up >"$GT_V/sys/class/net/wlan0/operstate"; }
wpa() { mkdir -p "$GT_V/etc/wpa_supplicant"; cat >"$GT_V/etc/wpa_supplicant/${2:-wpa_supplicant.conf}" <<<"$1"; }
plan() { mkdir -p "$GT_V/etc/netplan"; cat >"$GT_V/etc/netplan/${2:-50-wifi.yaml}" <<<"$1"; chmod 600 "$GT_V/etc/netplan/${2:-50-wifi.yaml}"; }
ifu() { mkdir -p "$GT_V/etc/network/interfaces.d"; cat >"$GT_V/etc/network/${2:-interfaces}" <<<"$1"; }

v_nothing() { wlan; }
v_wpa_psk() { wlan; wpa $'network={\n ssid="office"\n psk="correct horse battery"\n}'; }
v_wpa_default_km() { wlan; wpa $'network={\n ssid="office"\n psk="correct horse battery"\n}\nnetwork={\n ssid="eap"\n key_mgmt=WPA-EAP\n eap=PEAP\n identity="u"\n password="p"\n}'; }
v_wpa_open() { wlan; wpa $'network={\n ssid="cafe"\n key_mgmt=NONE\n}'; }
v_wpa_wep() { wlan; wpa $'network={\n ssid="old"\n key_mgmt=NONE\n wep_key0="abcde"\n wep_tx_keyidx=0\n}'; }
v_wpa_iface_file_open() { wlan; wpa $'network={\n ssid="cafe"\n key_mgmt=NONE\n}' wpa_supplicant-wlan0.conf; }
v_plan_psk() { wlan; plan $'network:\n  version: 2\n  wifis:\n    wlan0:\n      dhcp4: true\n      access-points:\n        "office":\n          password: "correct horse battery"'; }
v_plan_open() { wlan; plan $'network:\n  version: 2\n  wifis:\n    wlan0:\n      dhcp4: true\n      access-points:\n        "cafe": {}'; }
v_plan_km_none() { wlan; plan $'network:\n  version: 2\n  wifis:\n    wlan0:\n      access-points:\n        "guest":\n          auth:\n            key-management: none'; }
v_plan_duplicate_ssid() {
	wlan
	plan $'network:\n  version: 2\n  wifis:\n    wlan0:\n      access-points:\n        "office": {}' 10-a.yaml
	plan $'network:\n  version: 2\n  wifis:\n    wlan0:\n      access-points:\n        "office":\n          password: "correct horse battery"' 20-b.yaml
}
v_plan_second_file_open() {
	wlan
	plan $'network:\n  version: 2\n  wifis:\n    wlan0:\n      access-points:\n        "office":\n          password: "correct horse battery"' 10-a.yaml
	plan $'network:\n  version: 2\n  wifis:\n    wlan0:\n      access-points:\n        "cafe": {}' 20-b.yaml
}
v_plan_lib_open() { wlan; mkdir -p "$GT_V/lib/netplan"; printf 'network:\n  version: 2\n  wifis:\n    wlan0:\n      access-points:\n        "cafe": {}\n' >"$GT_V/lib/netplan/50-wifi.yaml"; chmod 600 "$GT_V/lib/netplan/50-wifi.yaml"; }
v_plan_etc_hides_lib() { v_plan_lib_open; v_plan_psk; }
v_plan_8021x() { wlan; plan $'network:\n  version: 2\n  wifis:\n    wlan0:\n      access-points:\n        "corp":\n          auth:\n            key-management: 802.1x\n            method: peap\n            identity: "u"\n            password: "p"'; }
v_ifu_psk() { wlan; ifu $'auto wlan0\niface wlan0 inet dhcp\n    wpa-ssid office\n    wpa-psk correcthorsebattery'; }
v_ifu_open() { wlan; ifu $'source /etc/network/interfaces.d/*\n'; ifu $'iface wlan0 inet dhcp\n    wpa-ssid cafe\n    wpa-key-mgmt NONE' interfaces.d/wlan0; }
v_ifu_wep() { wlan; ifu $'iface wlan0 inet dhcp\n    wpa-ssid old\n    wpa-key-mgmt NONE\n    wpa-wep-key0 abcde\n    wpa-wep-tx-keyidx 0'; }
v_ifu_wpa_conf() { wlan; ifu $'iface wlan0 inet dhcp\n    wpa-conf /etc/wpa_supplicant/wpa_supplicant.conf'; wpa $'network={\n ssid="cafe"\n key_mgmt=NONE\n}'; }

run_variant() { gt_run real_verdict network.wireless "$@"; }
run_variant wlan0-no-profile v_nothing
run_variant wpa_supplicant-psk v_wpa_psk
run_variant wpa_supplicant-default-key_mgmt v_wpa_default_km
run_variant wpa_supplicant-open v_wpa_open
run_variant wpa_supplicant-wep v_wpa_wep
run_variant wpa_supplicant-wlan0.conf-open v_wpa_iface_file_open
run_variant netplan-psk v_plan_psk
run_variant netplan-open v_plan_open
run_variant netplan-key-management-none v_plan_km_none
run_variant netplan-ssid-in-two-files-refused v_plan_duplicate_ssid
run_variant netplan-second-file-open v_plan_second_file_open
run_variant netplan-lib-open v_plan_lib_open
run_variant netplan-etc-hides-lib v_plan_etc_hides_lib
run_variant netplan-802.1x v_plan_8021x
run_variant ifupdown-psk v_ifu_psk
run_variant ifupdown-interfaces.d-open v_ifu_open
run_variant ifupdown-wep v_ifu_wep
run_variant ifupdown-wpa-conf-open v_ifu_wpa_conf
gt_report
