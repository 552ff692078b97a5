#!/usr/bin/env bash
# tests/integration/gate_config.sh — mamorid fails closed on its configuration
# (issue 11.1, MEDIA-1): runs gate_config.c on a umockdev testbed with a
# policy signed by a key made here.
set -euo pipefail
: "${MAMORI_BUILD:?}" "${MAMORI_SRC:?}"
source "$MAMORI_SRC/tests/integration/gate_lib.bash"
gate_sign <<'JSON'
{ "schema": 1, "version": 3, "segment": "lgwan", "requirements": ["OPS-1"],
  "usb": { "default": "block", "present_devices": "apply", "requirements": ["MEDIA-1"],
           "rules": [ { "id": "kiosk", "action": "allow", "requirements": ["MEDIA-1"],
                        "match": { "vendor": "0781", "product": "5581" } } ] } }
JSON
gate_run gate_config
