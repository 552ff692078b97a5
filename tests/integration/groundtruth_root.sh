#!/usr/bin/env bash
# tests/integration/groundtruth_root.sh — --root confinement (issue 21): in
# the Debian 12 root, /var/run is the absolute symlink /run. A flag file is
# planted on the host side (/run/reboot-required, in a private mount
# namespace over a tmpfs, so the machine's real /run is untouched) and, in a
# second variant, inside the root. The verdict of patch.reboot must be what a
# process in the root sees (`chroot ROOT test -e /var/run/reboot-required`),
# the kernel clock must be labelled host-global (not_applicable), and the
# check must write nothing into the root (its overlay's upper dir stays
# empty); the carry module, which follows the running machine's media, is
# not applicable under --root instead of a module error (issue 21.8). Needs
# root.
cd "$(dirname "$0")/../.."
: "${MAMORI_SRC:=$PWD}"
source tests/groundtruth/lib.bash
gt_unpack
[[ $(readlink "$GT_BASE/var/run") == /run ]] || { echo "expected /var/run -> /run in the root" >&2; exit 1; }

real_reboot() {
	chroot "$GT_V" test -e /var/run/reboot-required && echo fail || echo pass
}
# mamori, run in a mount namespace whose /run holds the host-side flag
mamori_ns() {
	unshare -m --propagation private bash -c '
		mount -t tmpfs gt-host-run /run && touch /run/reboot-required &&
		"$1" --root "$2" --json check >"$3" 2>/dev/null; true' _ "$CTL" "$GT_V" "$GT_D/mamori.json"
}
check_variant() { # name in-root-flag(yes|no)
	local name=$1 m real kern written carry
	gt_variant_begin "$name"
	[[ $2 == yes ]] && touch "$GT_V/run/reboot-required"
	find "$GT_D/up" -mindepth 1 | sort >"$GT_D/before"
	mamori_ns
	m=$(jq -r '.results[] | select(.id == "patch.reboot") | .status' "$GT_D/mamori.json")
	kern=$(jq -r '.results[] | select(.id == "timesync.kernel_sync") | .status' "$GT_D/mamori.json")
	real=$(real_reboot)
	carry=$(jq -r '[.results[] | select(.id == "carry" or (.id | startswith("carry."))) | "\(.id)=\(.status)"] | join(" ")' "$GT_D/mamori.json")
	written=$(find "$GT_D/up" -mindepth 1 | sort | comm -13 "$GT_D/before" - | tr '\n' ' ')
	printf '%-26s %-32s real=%-5s mamori=%-5s %s\n' patch.reboot "$name" "$real" "${m:-none}" \
		"$([[ $real == "$m" ]] && echo OK || echo MISMATCH)" | tee -a "$GT_WORK/table"
	printf '%-26s %-32s expected=not_applicable mamori=%s %s\n' timesync.kernel_sync "$name" "$kern" \
		"$([[ $kern == not_applicable ]] && echo OK || echo MISMATCH)" | tee -a "$GT_WORK/table"
	# issue 21.8: carry follows the running machine's media; under --root it
	# is judged not applicable (with the reason), never a module error
	printf '%-26s %-32s expected=carry.register=not_applicable mamori=%s %s\n' carry "$name" "${carry:-none}" \
		"$([[ $carry == carry.register=not_applicable ]] && echo OK || echo MISMATCH)" | tee -a "$GT_WORK/table"
	printf '%-26s %-32s written into the root: %s %s\n' "check (read-only)" "$name" "${written:-nothing}" \
		"$([[ -z $written ]] && echo OK || echo MISMATCH)" | tee -a "$GT_WORK/table"
	gt_variant_end
}
check_variant host-side-flag-only no
check_variant flag-inside-root yes
echo
cat "$GT_WORK/table"
! grep -q MISMATCH "$GT_WORK/table"
