#!/usr/bin/env bash
# tests/integration/usb_local.sh — `mamorictl usb allow|block|exceptions|
# revoke|watch` against the real mamorid + mamori-worker on a umockdev
# testbed (usb_local.c; issue 12.6, OPS-3, MEDIA-1): two policies signed by
# one key made here — v3 permits local exceptions, v4 (the mynumber stance)
# forbids local allow exceptions. Then every usb.* record the run journaled
# is checked against docs/EVENTS.md (events_doc.bash).
set -euo pipefail
: "${MAMORI_BUILD:?}" "${MAMORI_SRC:?}"
source "$MAMORI_SRC/tests/integration/gate_lib.bash"
source "$MAMORI_SRC/tests/integration/events_doc.bash"
printf 'language = en\ncheck_interval = 3600\nmodules = usb, timesync\n' > "$prep/agent.conf"
"$B/bin/mamorictl" --root "$prep" policy keygen --out "$prep/k" >/dev/null
cp "$prep/k.pub" "$prep/policy.pub"
policy() { # version allow → $prep/policyV.json (+ .sig)
	cat > "$prep/policy$1.json" <<JSON
{ "schema": 1, "version": $1, "segment": "lgwan", "requirements": ["OPS-1"],
  "usb": { "default": "block", "present_devices": "apply", "requirements": ["MEDIA-1"],
           "local_exceptions": { "allow": $2, "default_hours": 8, "max_hours": 24, "permanent": true },
           "rules": [ { "id": "kiosk", "action": "allow", "requirements": ["MEDIA-1"],
                        "match": { "vendor": "0781", "product": "5581" } } ] } }
JSON
	"$B/bin/mamorictl" --root "$prep" policy check "$prep/policy$1.json" >/dev/null
	"$B/bin/mamorictl" --root "$prep" policy sign --key "$prep/k.key" "$prep/policy$1.json" >/dev/null
}
policy 3 true
policy 4 false
cp "$prep/policy3.json" "$prep/policy.json"
cp "$prep/policy3.json.sig" "$prep/policy.json.sig"
gate_run usb_local
# every usb.* record the run wrote is what docs/EVENTS.md says
jq -c 'select(.type | startswith("usb."))' "$prep/usb_local.jsonl" > "$prep/usb_only.jsonl"
[[ -s $prep/usb_only.jsonl ]] || { echo "usb_local.sh: FAIL: no usb.* records"; exit 1; }
if ! events_doc_check "$prep/usb_only.jsonl"; then
	echo "usb_local.sh: FAIL: usb.* records differ from docs/EVENTS.md"
	exit 1
fi
echo "usb_local.sh: $(wc -l < "$prep/usb_only.jsonl") usb.* records match docs/EVENTS.md"
