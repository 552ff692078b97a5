#!/usr/bin/env bash
# tests/integration/usb_media_layout.sh — partition layouts on real loop
# devices under "encryption required" (issue 12, MEDIA-3): empty GPT, MBR
# with a LUKS partition and free space, GPT with a plain and a LUKS
# partition, LUKS on the whole disk, GPT whose partitions are all LUKS, and a
# partition table written over a whole-disk LUKS medium after it was
# classified (what a change uevent re-checks). Root-only (loop devices).
set -euo pipefail
: "${MAMORI_BUILD:?}" "${MAMORI_SRC:?}"
if [[ $(id -u) -ne 0 ]]; then
	echo "usb_media_layout.sh: FAIL: must run as root (loop devices)" >&2
	exit 1
fi
bin=$MAMORI_SRC/$MAMORI_BUILD/itests/usb_media_layout
[[ $MAMORI_BUILD = /* ]] && bin=$MAMORI_BUILD/itests/usb_media_layout
tmp=$(mktemp -d /tmp/mamori-layout.XXXXXX)
loops=()
cleanup() {
	for l in "${loops[@]}"; do
		blockdev --setrw "$l" 2>/dev/null || true
		partx -d "$l" 2>/dev/null || true
		losetup -d "$l" 2>/dev/null || true
	done
	rm -rf --one-file-system "$tmp"
}
trap cleanup EXIT
printf 'test-passphrase' > "$tmp/key"
luks() { cryptsetup luksFormat -q --type luks1 --pbkdf-force-iterations 1000 --key-file "$tmp/key" "$1"; }
# attach IMG: sets $dev (not in a subshell, so that cleanup sees every loop)
attach() {
	dev=$(losetup -f -P --show "$1"); loops+=("$dev")
	blockdev --setrw "$dev" # BLKROSET outlives a detach: whatever the last user of this number left
	partx -a "$dev" 2>/dev/null || true # where losetup -P did not scan
}
# a partition's node: /dev's if udev made one, else a node of our own (mknod,
# in the temp dir) from the kernel's sysfs entry (containers have no udev)
part() {
	local n; n=$(basename "$1")p$2
	for _ in $(seq 50); do
		[[ -b /dev/$n ]] && { echo "/dev/$n"; return 0; }
		if [[ -r /sys/class/block/$n/dev ]]; then
			IFS=: read -r ma mi < "/sys/class/block/$n/dev"
			[[ -b $tmp/$n ]] || mknod "$tmp/$n" b "$ma" "$mi"
			echo "$tmp/$n"; return 0
		fi
		sleep 0.1
	done
	echo "usb_media_layout.sh: FAIL: no partition $n" >&2; return 1
}

# 1 empty GPT: the whole disk is free space
truncate -s 32M "$tmp/gpt-empty.img"
echo 'label: gpt' | sfdisk -q "$tmp/gpt-empty.img"
attach "$tmp/gpt-empty.img"; l1=$dev
# 2 MBR: one LUKS partition, 20 MiB left free
truncate -s 32M "$tmp/mbr-free.img"
printf 'label: dos\nstart=2048, size=16384, type=83\n' | sfdisk -q "$tmp/mbr-free.img"
attach "$tmp/mbr-free.img"; l2=$dev; luks "$(part "$l2" 1)"
# 3 GPT: a plain (ext4) and a LUKS partition
truncate -s 32M "$tmp/gpt-mixed.img"
printf 'label: gpt\nstart=2048, size=24576\nstart=26624\n' | sfdisk -q "$tmp/gpt-mixed.img"
attach "$tmp/gpt-mixed.img"; l3=$dev
mkfs.ext4 -q -F "$(part "$l3" 1)"; luks "$(part "$l3" 2)"
# 4 LUKS on the whole disk
truncate -s 16M "$tmp/luks.img"; luks "$tmp/luks.img"
attach "$tmp/luks.img"; l4=$dev
# 5 GPT: every partition LUKS, no free region (the one writable layout)
truncate -s 32M "$tmp/gpt-enc.img"
printf 'label: gpt\nstart=2048, size=24576\nstart=26624\n' | sfdisk -q "$tmp/gpt-enc.img"
attach "$tmp/gpt-enc.img"; l5=$dev
luks "$(part "$l5" 1)"; luks "$(part "$l5" 2)"
# 6 a table added after attach: LUKS on the whole disk (writable), then an
#   empty GPT over it, then re-classified as a change event makes the gate do
truncate -s 16M "$tmp/later.img"; luks "$tmp/later.img"
attach "$tmp/later.img"; l6=$dev
"$bin" "rw:$l6"
echo 'label: gpt' | sfdisk -q --wipe always "$l6"
blockdev --rereadpt "$l6" 2>/dev/null || true

export LD_PRELOAD="$(gcc -print-file-name=libasan.so)"
[[ -f $LD_PRELOAD ]] || unset LD_PRELOAD
export ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0"
"$bin" "ro:$l1" "ro:$l2" "ro:$l3" "rw:$l4" "rw:$l5" "ro:$l6"
