#!/usr/bin/env bash
# tests/demo.sh — `make demo`: mamori's main job, without touching this
# machine: (1) the posture of this machine against the LGWAN template, read
# only; (2) the USB gate (mamorid + mamori-worker) deciding devices on a
# umockdev testbed with a signed policy, and the tamper-evident journal.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${MAMORI_BUILD:-build}/bin
T=$(mktemp -d /tmp/mamori-demo.XXXXXX)
trap 'rm -rf "$T"' EXIT

echo "== 1. この端末の準拠状況 / this machine's compliance (lgwan template, read only)"
mkdir -p "$T/state"
printf 'language = ja\nmodules = all\nstate_dir = %s/state\n' "$T" > "$T/check.conf"
"$B/mamorictl" --config "$T/check.conf" check --policy policy/templates/lgwan.json || true
echo
"$B/mamorictl" --config "$T/check.conf" --lang en --json check --policy policy/templates/lgwan.json 2>/dev/null |
	tr -d '\t\n ' | grep -o '"summary":{"pass":[^}]*}' | tail -1 | sed 's/^/summary: /' || true

echo
echo "== 2. USB ゲート / the USB gate (umockdev testbed, signed policy)"
printf 'language = ja\nmodules = all\ncheck_interval = 3600\n' > "$T/agent.conf"
"$B/mamorictl" policy keygen --out "$T/city" >/dev/null
cp "$T/city.pub" "$T/policy.pub"
sed 's/"version": 1,/"version": 2,/' policy/templates/lgwan.json > "$T/lgwan.json"
# register one stick of the city (MEDIA-1): add a rule to the template's usb.rules
sed '0,/"rules": \[\]/s//"rules": [ { "id": "city-stick-0001", "action": "allow", "match": { "vendor": "0781", "product": "5581", "serial": "4C530001" }, "requirements": ["MEDIA-1"], "comment": "demo: registered medium" } ]/' \
	"$T/lgwan.json" > "$T/policy.json"
"$B/mamorictl" policy check "$T/policy.json" >/dev/null
"$B/mamorictl" policy sign --key "$T/city.key" "$T/policy.json" >/dev/null
echo "  policy: lgwan template v2 + one registered stick, signed (Ed25519)"
MAMORI_BIN=$PWD/$B MAMORI_PREP=$T umockdev-wrapper "${MAMORI_BUILD:-build}/demo/usb_demo"

echo
echo "== 3. 管理サーバーへの報告 / reporting to mamori-server over mutual TLS (127.0.0.1)"
bash server-api/demo.sh --build "${MAMORI_BUILD:-build}"
