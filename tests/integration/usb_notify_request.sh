#!/usr/bin/env bash
# tests/integration/usb_notify_request.sh — the blocked device's notification
# with "申請する / Request" (issue 16.1; OPS-4, MEDIA-1): usb_notify_request.c
# on a umockdev testbed with the real mamorid + mamori-worker, a real
# dbus-daemon as the session user's bus and a fake notification server on
# it (tests/integration/fake_notifyd.c says why it is a fake); then the
# control socket's per-uid bounds on the same worker (connections, requests
# waiting to be sent). The request.*, usb.* and control.* records are
# checked against docs/EVENTS.md.
set -euo pipefail
: "${MAMORI_BUILD:?}" "${MAMORI_SRC:?}"
source "$MAMORI_SRC/tests/integration/gate_lib.bash"
source "$MAMORI_SRC/tests/integration/events_doc.bash"
command -v dbus-daemon >/dev/null || { echo "usb_notify_request.sh: FAIL: dbus-daemon missing (installer/deps.sh --check)"; exit 1; }
# the session bus and the notification server the program starts, even when it fails
trap 'for p in "$prep"/bus.pid "$prep"/notifyd.pid; do [[ -s $p ]] && kill "$(cat "$p")" 2>/dev/null || true; done; rm -rf --one-file-system "$prep"' EXIT
printf 'language = en\ncheck_interval = 3600\nmodules = usb\n' > "$prep/agent.conf"
gate_sign <<'JSON'
{ "schema": 1, "version": 1, "segment": "lgwan", "requirements": ["OPS-1"],
  "usb": { "default": "block", "present_devices": "apply", "requirements": ["MEDIA-1"], "rules": [] } }
JSON
gate_run usb_notify_request
jq -c 'select(.type | test("^(request|usb|control)\\."))' "$prep/notify.jsonl" > "$prep/checked.jsonl"
if ! events_doc_check "$prep/checked.jsonl"; then
	echo "usb_notify_request.sh: FAIL: request.*/usb.*/control.* records differ from docs/EVENTS.md"
	exit 1
fi
echo "usb_notify_request.sh: $(wc -l < "$prep/checked.jsonl") request.*/usb.*/control.* records match docs/EVENTS.md"
