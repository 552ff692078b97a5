#!/usr/bin/env bash
# tests/integration/usb_gate.sh — runs usb_gate (umockdev testbed + real loop
# devices + a real LUKS2 header) under umockdev-wrapper with ASan first.
# Root-only: BLKROSET needs real block devices. Not root is a FAILURE.
set -euo pipefail
: "${MAMORI_BUILD:?}" "${MAMORI_SRC:?}"
if [[ $(id -u) -ne 0 ]]; then
	echo "usb_gate.sh: FAIL: must run as root (loop devices, BLKROSET)" >&2
	exit 1
fi
bin=$MAMORI_SRC/$MAMORI_BUILD/itests/usb_gate
[[ $MAMORI_BUILD = /* ]] && bin=$MAMORI_BUILD/itests/usb_gate
tmp=$(mktemp -d /tmp/mamori-usbgate.XXXXXX)
loops=()
cleanup() {
	for l in "${loops[@]}"; do blockdev --setrw "$l" 2>/dev/null || true; losetup -d "$l" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT
# plain ext4 (the negative) and LUKS2 (16 MiB header area: 20 MiB file, sparse)
truncate -s 8M "$tmp/plain.img"
mkfs.ext4 -q -F "$tmp/plain.img"
truncate -s 20M "$tmp/luks.img"
printf 'test-passphrase' > "$tmp/key"
cryptsetup luksFormat -q --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
	--key-file "$tmp/key" "$tmp/luks.img"
lp=$(losetup -f --show "$tmp/plain.img"); loops+=("$lp")
ll=$(losetup -f --show "$tmp/luks.img"); loops+=("$ll")
# BLKROSET outlives a loop device's detach: writable whatever the last user of these numbers left
blockdev --setrw "$lp" && blockdev --setrw "$ll"
[[ $(blkid -p -o value -s TYPE "$ll") == crypto_LUKS ]] || { echo "usb_gate.sh: FAIL: LUKS image not detected by blkid" >&2; exit 1; }
export MAMORI_LOOP_PLAIN=$lp MAMORI_LOOP_LUKS=$ll
export LD_PRELOAD="$(gcc -print-file-name=libasan.so)"
[[ -f $LD_PRELOAD ]] || unset LD_PRELOAD
export ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0"
umockdev-wrapper "$bin"
