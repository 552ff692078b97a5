#!/usr/bin/env bash
# tests/integration/gate_config.sh — mamorid fails closed on its configuration
# (issue 11.1, MEDIA-1): runs gate_config.c on a umockdev testbed with a
# policy signed by a key made here.
set -euo pipefail
: "${MAMORI_BUILD:?}" "${MAMORI_SRC:?}"
B=$MAMORI_SRC/$MAMORI_BUILD
prep=$(mktemp -d /tmp/mamori-gatecfg.XXXXXX)
trap 'rm -rf --one-file-system "$prep"' EXIT
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
umockdev-wrapper "$B/itests/gate_config" || rc=$?
for l in "$prep"/gate-*.log; do
	[[ -f $l ]] || continue
	if ((rc)); then echo "--- $l"; tail -20 "$l"; fi
	if grep -q "AddressSanitizer\|runtime error" "$l"; then echo "sanitizer report in $l"; rc=1; fi
done
exit $rc
