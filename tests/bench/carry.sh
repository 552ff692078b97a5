#!/usr/bin/env bash
# tests/bench/carry.sh — the carry module's cost to a person copying onto a
# medium: 1,000 small files and one 200 MB file copied with cp onto a
# loop-mounted ext4, without and with the module, interleaved in one run;
# prints medians and ratios (target ≤ 1.10×). Root-only: not root is a
# FAILURE. Everything made here (image on /var/tmp, loop device, mount) is
# removed in the trap. BENCH_ROUNDS rounds (default 5).
set -euo pipefail
: "${MAMORI_BUILD:?}" "${MAMORI_SRC:?}"
if [[ $(id -u) -ne 0 ]]; then
	echo "carry.sh: FAIL: must run as root (fanotify, loop devices, mount)" >&2
	exit 1
fi
b=$MAMORI_BUILD
[[ $b == /* ]] || b=$MAMORI_SRC/$b
work=$(mktemp -d /var/tmp/mamori-bench-carry.XXXXXX)
loop=
cleanup() {
	while mountpoint -q "$work/mnt" 2>/dev/null; do umount "$work/mnt" || umount -l "$work/mnt" || break; done
	[[ -n $loop ]] && losetup -d "$loop" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/small" "$work/mnt"
# 1,000 small files of 1–16 KiB (a document folder), one 200 MB file
head -c $((1000 * 16384)) /dev/urandom >"$work/rand"
for i in $(seq 1 1000); do
	dd if="$work/rand" of="$work/small/doc$i.txt" bs=1024 count=$((1 + i % 16)) skip=$((i % 900)) status=none
done
rm -f "$work/rand"
head -c $((200 * 1000 * 1000)) /dev/urandom >"$work/big.bin"
truncate -s 1G "$work/medium.img"
mkfs.ext4 -q -F "$work/medium.img"
loop=$(losetup -f --show "$work/medium.img")
mount "$loop" "$work/mnt"
"$b/bench/bench_carry" "$work/small" "$work/big.bin" "$work/mnt" "$loop" "$work" "${BENCH_ROUNDS:-5}"
