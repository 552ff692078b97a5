#!/usr/bin/env bash
# tests/integration/gate_stress.sh — the gate never stalls (issue 11.3/11.4,
# MEDIA-1, LOG-1): gate_stress.c on a umockdev testbed with a signed policy.
set -euo pipefail
: "${MAMORI_BUILD:?}" "${MAMORI_SRC:?}"
source "$MAMORI_SRC/tests/integration/gate_lib.bash"
printf 'language = en\ncheck_interval = 3600\nmodules = timesync\n' > "$prep/agent.conf"
gate_sign <<'JSON'
{ "schema": 1, "version": 3, "segment": "lgwan", "requirements": ["OPS-1"],
  "usb": { "default": "block", "present_devices": "apply", "requirements": ["MEDIA-1"],
           "rules": [ { "id": "kiosk", "action": "allow", "requirements": ["MEDIA-1"],
                        "match": { "vendor": "0781", "product": "5581" } } ] } }
JSON
gate_run gate_stress
