#!/usr/bin/env bash
# tests/integration/gate.sh — mamorid + mamori-worker as processes on a
# umockdev testbed (gate.c), with a policy signed by a key made here.
set -euo pipefail
: "${MAMORI_BUILD:?}" "${MAMORI_SRC:?}"
B=$MAMORI_SRC/$MAMORI_BUILD
prep=$(mktemp -d /tmp/mamori-gate.XXXXXX)
trap 'rm -rf "$prep"' EXIT
printf 'language = en\ncheck_interval = 3600\nmodules = usb, timesync\n' > "$prep/agent.conf"
"$B/bin/mamorictl" --root "$prep" policy keygen --out "$prep/k" >/dev/null
cp "$prep/k.pub" "$prep/policy.pub"
cat > "$prep/policy.json" <<'JSON'
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
"$B/bin/mamorictl" --root "$prep" policy check "$prep/policy.json" >/dev/null
"$B/bin/mamorictl" --root "$prep" policy sign --key "$prep/k.key" "$prep/policy.json" >/dev/null
export MAMORI_BIN=${MAMORI_GATE_BIN:-$B/bin} MAMORI_PREP=$prep
export LD_PRELOAD="$(gcc -print-file-name=libasan.so)"
[[ -f $LD_PRELOAD ]] || unset LD_PRELOAD
export ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0"
rc=0
umockdev-wrapper "$B/itests/gate" || rc=$?
if ((rc)); then echo "--- gate.log"; tail -40 "$prep/gate.log"; fi
if grep -q "AddressSanitizer\|runtime error" "$prep/gate.log"; then echo "sanitizer report in gate.log"; rc=1; fi
exit $rc
