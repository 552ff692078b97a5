#!/usr/bin/env bash
# tests/integration/usbguard_diff.sh — mamori's decisions on imported rules
# against the real usbguard-daemon's on the same umockdev testbed (issue 12,
# MEDIA-1). Root-only (usbguard-daemon writes authorized and needs its IPC);
# not root, or USBGuard missing, is a FAILURE: installer/deps.sh --check
# installs it. Two USBGuard daemons cannot run at once (IPC name): this test
# takes a lock and fails if another usbguard-daemon is running.
set -euo pipefail
: "${MAMORI_BUILD:?}" "${MAMORI_SRC:?}"
if [[ $(id -u) -ne 0 ]]; then
	echo "usbguard_diff.sh: FAIL: must run as root" >&2
	exit 1
fi
for c in usbguard-daemon usbguard usbguard-rule-parser umockdev-wrapper; do
	command -v "$c" >/dev/null || { echo "usbguard_diff.sh: FAIL: $c missing (installer/deps.sh --check)" >&2; exit 1; }
done
bin=$MAMORI_SRC/$MAMORI_BUILD/itests/usbguard_diff
[[ $MAMORI_BUILD = /* ]] && bin=$MAMORI_BUILD/itests/usbguard_diff
tmp=$(mktemp -d /tmp/mamori-ugdiff.XXXXXX)
trap 'rm -rf --one-file-system "$tmp"' EXIT
exec 9>/tmp/mamori-usbguard-daemon.lock
flock -w 300 9
if pgrep -x usbguard-daemon >/dev/null; then
	echo "usbguard_diff.sh: FAIL: a usbguard-daemon is already running (its IPC name is taken)" >&2
	exit 1
fi
export LD_PRELOAD="$(gcc -print-file-name=libasan.so)"
[[ -f $LD_PRELOAD ]] || unset LD_PRELOAD
export ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0"
umockdev-wrapper "$bin" "$MAMORI_SRC/tests/integration/usbguard_corpus.conf" "$tmp"
