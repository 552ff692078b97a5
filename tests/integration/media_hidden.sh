#!/usr/bin/env bash
# tests/integration/media_hidden.sh — the shipped udev rule
# (installer/99-mamori-media.rules) judged by the real udevadm (systemd's
# rule engine, `udevadm test`) on a umockdev testbed's sysfs: a block device
# on USB is hidden from automounters (UDISKS_IGNORE=1, UDISKS_AUTO=0) until
# the carry module's confirmation file exists, a disk that is not on USB is
# left alone (CARRY-3, issue 22). In a private mount namespace whose
# /etc/udev/rules.d, /usr/lib/udev/rules.d and /run are empty tmpfs: the
# machine's own rules, its /run and its devices are never touched. That the
# worker writes the file is tests/integration/carry.c's
# test_media_hidden_until_marked. Root-only (mount namespace).
set -euo pipefail
: "${MAMORI_SRC:?}"
if [[ $(id -u) -ne 0 ]]; then
	echo "media_hidden.sh: FAIL: must run as root (mount namespace)" >&2
	exit 1
fi
command -v udevadm >/dev/null || { echo "media_hidden.sh: FAIL: udevadm missing (apt-get install udev)" >&2; exit 1; }
command -v umockdev-run >/dev/null || { echo "media_hidden.sh: FAIL: umockdev-run missing" >&2; exit 1; }
rules=$MAMORI_SRC/installer/99-mamori-media.rules
# a USB stick (disk sdz, partition sdz1) and a SATA disk (sdy), written by
# hand in umockdev-record's format (no real device recorded; it has no comments)
fixture=$MAMORI_SRC/tests/fixtures/udev/usb-stick.umockdev
[[ -f $rules ]] || { echo "media_hidden.sh: FAIL: $rules is missing" >&2; exit 1; }

# the rule and the worker agree on the file: agent.conf's run_dir + /media-visible
run_dir=$(sed -n 's/^run_dir *= *//p' "$MAMORI_SRC/installer/agent.conf")
grep -q "TEST==\"$run_dir/media-visible/\$major:\$minor\"" "$rules" ||
	{ echo "media_hidden.sh: FAIL: the rule does not test $run_dir/media-visible/MAJ:MIN" >&2; exit 1; }
grep -q '"%s/media-visible"' "$MAMORI_SRC/modules/carry/carry.c" ||
	{ echo "media_hidden.sh: FAIL: the carry module does not write run_dir/media-visible" >&2; exit 1; }

if [[ -z ${MEDIA_HIDDEN_INNER:-} ]]; then
	# umockdev-run's preload shows the testbed as /sys (and as sysfs to
	# systemd's sd-device); unshare gives the tmpfs mounts below their own namespace
	exec umockdev-run -d "$fixture" -- env MEDIA_HIDDEN_INNER=1 \
		unshare --mount --propagation private bash "$0" "$@"
fi

mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /etc/udev/rules.d
mount -t tmpfs tmpfs /usr/lib/udev/rules.d
cp "$rules" /usr/lib/udev/rules.d/

usb=/sys/devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1:1.0/host6/target6:0:0/6:0:0:0/block/sdz
sata=/sys/devices/pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0/block/sdy
fails=0
# the device's properties after the rules, one per line (udevadm test's list)
props() {
	local out
	out=$(udevadm test --action="$1" "$2" 2>&1) || { echo "udevadm test $2 failed: $out" >&2; return 1; }
	if grep -iE "invalid|unknown key|error|ignoring (line|rule)" <<<"$out" | grep -v 'container of PID 1'; then
		echo "media_hidden.sh: FAIL: udevadm complains about the rule" >&2
		return 1
	fi
	grep -E '^[A-Z_]+=' <<<"$out"
}
expect() { # NAME ACTION SYSPATH want-hidden(1|0)
	local p
	p=$(props "$2" "$3") || { fails=$((fails + 1)); return; }
	if [[ $4 == 1 ]]; then
		if grep -qx 'UDISKS_IGNORE=1' <<<"$p" && grep -qx 'UDISKS_AUTO=0' <<<"$p" && grep -qx 'MAMORI_MEDIA=hidden' <<<"$p"; then
			echo "ok: $1"
		else
			echo "FAIL: $1: not hidden"; echo "$p"; fails=$((fails + 1))
		fi
	else
		if ! grep -q '^UDISKS_IGNORE=' <<<"$p" && ! grep -q '^UDISKS_AUTO=' <<<"$p"; then
			echo "ok: $1"
		else
			echo "FAIL: $1: hidden"; echo "$p"; fails=$((fails + 1))
		fi
	fi
}

expect "USB partition, not confirmed: hidden" add "$usb/sdz1" 1
expect "USB disk, not confirmed: hidden" add "$usb" 1
expect "SATA disk: left alone" add "$sata" 0
mkdir -p /run/mamori/media-visible
touch /run/mamori/media-visible/65:160 # another device's confirmation (the disk's)
expect "USB partition, another device confirmed: still hidden" change "$usb/sdz1" 1
touch /run/mamori/media-visible/65:161
expect "USB partition, confirmed: visible" change "$usb/sdz1" 0
grep -qx 'MAMORI_MEDIA=visible' <<<"$(props change "$usb/sdz1")" || { echo "FAIL: MAMORI_MEDIA=visible missing"; fails=$((fails + 1)); }
rm /run/mamori/media-visible/65:161 # the worker stopped or the hold ended
expect "USB partition, confirmation withdrawn: hidden again" change "$usb/sdz1" 1
((fails == 0)) || { echo "media_hidden.sh: $fails FAILED" >&2; exit 1; }
echo "media_hidden.sh: all passed"
