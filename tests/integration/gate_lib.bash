# tests/integration/gate_lib.bash — what gate.sh, gate_config.sh and
# gate_stress.sh share: a temporary prep dir with a key made here, a signed
# policy, and the run of a testbed program under umockdev-wrapper with ASan.
# Sourced (set -euo pipefail and MAMORI_BUILD/MAMORI_SRC from the caller).
B=$MAMORI_SRC/$MAMORI_BUILD
prep=$(mktemp -d /tmp/mamori-gatetest.XXXXXX)
trap 'rm -rf --one-file-system "$prep"' EXIT

# gate_sign: policy JSON on stdin → $prep/policy.json (+ .sig, policy.pub)
gate_sign() {
	"$B/bin/mamorictl" --root "$prep" policy keygen --out "$prep/k" >/dev/null
	cp "$prep/k.pub" "$prep/policy.pub"
	cat > "$prep/policy.json"
	"$B/bin/mamorictl" --root "$prep" policy check "$prep/policy.json" >/dev/null
	"$B/bin/mamorictl" --root "$prep" policy sign --key "$prep/k.key" "$prep/policy.json" >/dev/null
}

# gate_run NAME: itests/NAME under umockdev-wrapper; the gate's logs
# ($prep/gate*.log) shown on failure and checked for sanitizer reports.
# MAMORI_GATE_BIN runs other mamorid/mamori-worker binaries (the old code).
gate_run() {
	local rc=0 l asan
	# ASan's runtime first in the testbed program only (umockdev's preload
	# comes after it): the rest of the calling script runs without it
	local -a env=("ASAN_OPTIONS=${ASAN_OPTIONS:-}:verify_asan_link_order=0")
	export MAMORI_BIN=${MAMORI_GATE_BIN:-$B/bin} MAMORI_PREP=$prep
	asan=$(gcc -print-file-name=libasan.so)
	[[ -f $asan ]] && env+=("LD_PRELOAD=$asan")
	env "${env[@]}" umockdev-wrapper "$B/itests/$1" || rc=$?
	for l in "$prep"/gate*.log; do
		[[ -f $l ]] || continue
		if ((rc)); then echo "--- $l"; grep -v '^event ' "$l" | tail -40; fi
		if grep -q "AddressSanitizer\|runtime error" "$l"; then echo "sanitizer report in $l"; rc=1; fi
	done
	return $rc
}
