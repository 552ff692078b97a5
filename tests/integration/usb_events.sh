#!/usr/bin/env bash
# tests/integration/usb_events.sh — the usb.* records of the real mamorid on
# a umockdev testbed are what docs/EVENTS.md says (issue 12.6): every type
# the run writes (attached, allowed, readonly, blocked, detached) checked by
# events_doc.bash, descriptor strings exact (hostile ones too), `journal
# show` escaping them once, the CSV register's device column (usb_events.c).
set -euo pipefail
: "${MAMORI_BUILD:?}" "${MAMORI_SRC:?}"
source "$MAMORI_SRC/tests/integration/gate_lib.bash"
source "$MAMORI_SRC/tests/integration/events_doc.bash"
printf 'language = en\ncheck_interval = 3600\nmodules = usb, timesync\n' > "$prep/agent.conf"
gate_sign <<'JSON'
{ "schema": 1, "version": 3, "segment": "lgwan", "requirements": ["OPS-1"],
  "usb": { "default": "block", "present_devices": "apply", "requirements": ["MEDIA-1"],
           "rules": [ { "id": "archive", "action": "readonly", "requirements": ["MEDIA-4"],
                        "match": { "vendor": "0781", "product": "5581", "serial": "ARCH1" } },
                      { "id": "kiosk", "action": "allow", "requirements": ["MEDIA-1"],
                        "match": { "vendor": "0781", "product": "5581" } } ] } }
JSON
gate_run usb_events
jq -c 'select(.type | startswith("usb."))' "$prep/usb_events.jsonl" > "$prep/usb_only.jsonl"
types=$(jq -r .type "$prep/usb_only.jsonl" | sort -u | tr '\n' ' ')
for t in usb.attached usb.allowed usb.readonly usb.blocked usb.detached; do
	[[ " $types" == *" $t "* ]] || { echo "usb_events.sh: FAIL: no $t record (got: $types)"; exit 1; }
done
if ! events_doc_check "$prep/usb_only.jsonl"; then
	echo "usb_events.sh: FAIL: usb.* records differ from docs/EVENTS.md"
	exit 1
fi
echo "usb_events.sh: $(wc -l < "$prep/usb_only.jsonl") usb.* records ($types) match docs/EVENTS.md"
