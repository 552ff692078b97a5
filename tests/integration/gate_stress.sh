#!/usr/bin/env bash
# tests/integration/gate_stress.sh — the gate never stalls (issue 11.3/11.4,
# MEDIA-1, LOG-1): gate_stress.c on a umockdev testbed with a signed policy.
set -euo pipefail
: "${MAMORI_BUILD:?}" "${MAMORI_SRC:?}"
B=$MAMORI_SRC/$MAMORI_BUILD
prep=$(mktemp -d /tmp/mamori-gatestress.XXXXXX)
trap 'rm -rf --one-file-system "$prep"' EXIT
printf 'language = en\ncheck_interval = 3600\nmodules = timesync\n' > "$prep/agent.conf"
"$B/bin/mamorictl" --root "$prep" policy keygen --out "$prep/k" >/dev/null
cp "$prep/k.pub" "$prep/policy.pub"
cat > "$prep/policy.json" <<'JSON'
{ "schema": 1, "version": 3, "segment": "lgwan", "requirements": ["OPS-1"],
  "usb": { "default": "block", "present_devices": "apply", "requirements": ["MEDIA-1"],
           "rules": [ { "id": "kiosk", "action": "allow", "requirements": ["MEDIA-1"],
                        "match": { "vendor": "0781", "product": "5581" } } ] } }
JSON
"$B/bin/mamorictl" --root "$prep" policy sign --key "$prep/k.key" "$prep/policy.json" >/dev/null
export MAMORI_BIN=${MAMORI_GATE_BIN:-$B/bin} MAMORI_PREP=$prep
export LD_PRELOAD="$(gcc -print-file-name=libasan.so)"
[[ -f $LD_PRELOAD ]] || unset LD_PRELOAD
export ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0"
rc=0
umockdev-wrapper "$B/itests/gate_stress" || rc=$?
if ((rc)); then echo "--- gate.log"; grep -v '^event ' "$prep/gate.log" | tail -40; fi
if grep -q "AddressSanitizer\|runtime error" "$prep/gate.log"; then echo "sanitizer report in gate.log"; rc=1; fi
exit $rc
