#!/usr/bin/env bash
# tests/integration/usbguard_diff.sh — mamori's decisions on imported rules
# against the real usbguard-daemon's on the same umockdev testbed (issue 12,
# MEDIA-1). Root-only (usbguard-daemon writes authorized and needs its IPC);
# not root, or USBGuard missing, is a FAILURE: installer/deps.sh --check
# installs it. Two USBGuard daemons cannot share an IPC name: this test runs
# its own in a network and mount namespace of its own (private /dev/shm).
set -euo pipefail
: "${MAMORI_BUILD:?}" "${MAMORI_SRC:?}"
if [[ $(id -u) -ne 0 ]]; then
	echo "usbguard_diff.sh: FAIL: must run as root" >&2
	exit 1
fi
for c in usbguard-daemon usbguard usbguard-rule-parser umockdev-wrapper; do
	command -v "$c" >/dev/null || { echo "usbguard_diff.sh: FAIL: $c missing (installer/deps.sh --check)" >&2; exit 1; }
done
# usbguard-daemon's IPC (libqb: abstract sockets and /dev/shm/qb-*) would
# clash with any other usbguard-daemon on this machine (another helper's
# benchmark, a real service): run in a network namespace of our own, with a
# private /dev/shm, so that nothing outside can see or take its IPC name.
if [[ -z ${MAMORI_UGDIFF_NS:-} ]]; then
	exec unshare --net --mount --propagation private -- env MAMORI_UGDIFF_NS=1 bash "$0" "$@"
fi
mount -t tmpfs -o size=64m,mode=1777 tmpfs /dev/shm
bin=$MAMORI_SRC/$MAMORI_BUILD/itests/usbguard_diff
[[ $MAMORI_BUILD = /* ]] && bin=$MAMORI_BUILD/itests/usbguard_diff
tmp=$(mktemp -d /tmp/mamori-ugdiff.XXXXXX)
trap 'rm -rf --one-file-system "$tmp"' EXIT
export LD_PRELOAD="$(gcc -print-file-name=libasan.so)"
[[ -f $LD_PRELOAD ]] || unset LD_PRELOAD
export ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0"
umockdev-wrapper "$bin" "$MAMORI_SRC/tests/integration/usbguard_corpus.conf" "$tmp"
