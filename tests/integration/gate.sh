#!/usr/bin/env bash
# tests/integration/gate.sh — mamorid + mamori-worker as processes on a
# umockdev testbed (gate.c; GATE_TEST=gate_spool runs gate_spool.c), with a
# policy signed by a key made here.
set -euo pipefail
: "${MAMORI_BUILD:?}" "${MAMORI_SRC:?}"
source "$MAMORI_SRC/tests/integration/gate_lib.bash"
printf 'language = en\ncheck_interval = 3600\nmodules = usb, timesync\n' > "$prep/agent.conf"
gate_sign <<'JSON'
{ "schema": 1, "version": 3, "segment": "lgwan", "requirements": ["OPS-1"],
  "usb": { "default": "block", "present_devices": "apply", "requirements": ["MEDIA-1"],
           "rules": [ { "id": "kiosk", "action": "allow", "requirements": ["MEDIA-1"],
                        "match": { "vendor": "0781", "product": "5581" } } ] },
  "exceptions": [
    { "id": "EX-USB-1", "reason": "業務委託先の測定器 (measuring device of a contractor)",
      "requester": "tanaka", "approver": "sato", "requirements": ["OPS-3"],
      "scope": { "check": "usb.device", "device": { "vendor": "dead", "product": "beef", "serial": "EXCEPT1" } },
      "not_before": "2020-01-01T00:00:00Z", "not_after": "2099-01-01T00:00:00Z" },
    { "id": "EX-USB-OLD", "reason": "expired", "requester": "tanaka", "approver": "sato", "requirements": ["OPS-3"],
      "scope": { "check": "usb.device", "device": { "vendor": "dead", "product": "beef", "serial": "EXPIRED1" } },
      "not_before": "2020-01-01T00:00:00Z", "not_after": "2021-01-01T00:00:00Z" } ] }
JSON
gate_run "${GATE_TEST:-gate}"
