# tests/groundtruth/lib.bash — shared by the ground-truth suites (issue 21):
# a Debian 12 root unpacked once per run, one overlayfs per variant, mamori's
# verdict (`mamorictl --root V --json check`) next to the verdict of the
# root's own components, and the table of both. Sourced by
# tests/integration/groundtruth_*.sh (run as root).
set -euo pipefail
: "${MAMORI_BUILD:=build-san}"
CTL=${GT_CTL:-$PWD/$MAMORI_BUILD/bin/mamorictl} # GT_CTL: judge another build (e.g. the old code)
GT_WORK=$(mktemp -d /tmp/mamori-gt.XXXXXX)
GT_BASE=$GT_WORK/base

gt_cleanup() {
	local m
	for m in $(findmnt -rn -o TARGET | grep "^$GT_WORK" | sort -r); do umount -l "$m" 2>/dev/null || true; done
	if findmnt -rn -o TARGET | grep -q "^$GT_WORK"; then
		echo "groundtruth: mounts left under $GT_WORK, not removing it" >&2
		return
	fi
	rm -rf --one-file-system "$GT_WORK"
}
trap gt_cleanup EXIT

# The root, unpacked from the cached tarball (built on first use: ~3 min).
gt_unpack() {
	local t0=$SECONDS
	bash "$MAMORI_SRC/tests/groundtruth/root.sh" unpack "$GT_BASE"
	echo "groundtruth: root ready in $((SECONDS - t0)) s"
}

# A fresh overlay of the base for one variant, at $GT_V (GT_D: its own dir).
gt_variant_begin() { # name
	GT_D=$GT_WORK/var/$1
	GT_V=$GT_D/root
	mkdir -p "$GT_D/up" "$GT_D/wk" "$GT_V"
	mount -t overlay overlay -o "lowerdir=$GT_BASE,upperdir=$GT_D/up,workdir=$GT_D/wk" "$GT_V"
}

gt_variant_end() {
	umount "$GT_V"
	rm -rf --one-file-system "$GT_D"
}

# mamori's status for result ID on the current variant (also keeps the
# evidence in $GT_D/mamori.json).
gt_mamori() {
	local id=$1
	"$CTL" --root "$GT_V" --json check >"$GT_D/mamori.json" 2>"$GT_D/mamori.err" || true
	jq -r --arg id "$id" '.results[] | select(.id == $id) | .status' "$GT_D/mamori.json"
}

gt_evidence() { # id key
	jq -r --arg id "$1" --arg k "$2" '.results[] | select(.id == $id) | .evidence[$k] // ""' "$GT_D/mamori.json"
}

gt_detail() { echo "$*" >"$GT_D/detail"; }

# Run one variant in the background (at most GT_JOBS at once; most of the
# time is PAM's fail delay): VARIANT_FN rule name setup, where VARIANT_FN
# prints the real verdict after mamori ran. Rows are kept in start order.
GT_JOBS=${GT_JOBS:-6}
GT_SEQ=0
gt_run() { # real-fn rule name setup-fn
	local real_fn=$1 id=$2 name=$3 setup=$4 seq
	[[ -n ${GT_ONLY:-} && "$id $name" != *"$GT_ONLY"* ]] && return 0
	GT_SEQ=$((GT_SEQ + 1))
	seq=$(printf '%03d' $GT_SEQ)
	mkdir -p "$GT_WORK/rows"
	while (($(jobs -rp | wc -l) >= GT_JOBS)); do wait -n || true; done
	(
		set +e
		gt_variant_begin "$seq-$name"
		$setup
		m=$(gt_mamori "$id")
		real=$($real_fn "$id")
		detail=$(cat "$GT_D/detail" 2>/dev/null)
		[[ $real == "$m" ]] && ok=OK || ok=MISMATCH
		printf '%-26s %-32s real=%-5s mamori=%-5s %-8s %s\n' "$id" "$name" "$real" "${m:-none}" "$ok" \
			"$detail" >"$GT_WORK/rows/$seq"
		[[ $ok == OK ]] || cp "$GT_D/mamori.json" "$GT_WORK/rows/$seq.json"
		gt_variant_end
	) &
}

gt_report() {
	local n bad f
	wait
	echo "rule                       variant                          verdicts (real = the root's own component)"
	cat "$GT_WORK"/rows/[0-9][0-9][0-9] 2>/dev/null || true
	n=$(ls "$GT_WORK"/rows/ 2>/dev/null | grep -c '^[0-9]*$' || true)
	bad=$(cat "$GT_WORK"/rows/[0-9][0-9][0-9] 2>/dev/null | grep -c ' MISMATCH ' || true)
	for f in "$GT_WORK"/rows/*.json; do
		[[ -e $f ]] || continue
		echo "--- mamori's evidence for mismatch $(basename "$f" .json):"
		jq -c '.results[] | select(.status != "pass") | {id, status, evidence}' "$f" | head -n 20
	done
	echo "$n variants, $bad mismatches"
	((n > 0 && bad == 0))
}
