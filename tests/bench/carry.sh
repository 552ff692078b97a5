#!/usr/bin/env bash
# tests/bench/carry.sh — the carry module's cost to a person copying onto a
# medium: 1,000 small files and one 200 MB file copied with cp onto a
# loop-mounted ext4, without and with the module, interleaved in one run;
# prints medians and ratios (target ≤ 1.10×); then the first open after a
# fresh mount, without the module and with the scan required (a real clamd
# started here with an EICAR signature, as tests/integration/carry.sh).
# Root-only: not root, or no clamd, is a FAILURE. Everything made here
# (image on /var/tmp, loop device, mount, clamd) is removed in the trap.
# BENCH_ROUNDS rounds (default 5).
set -euo pipefail
: "${MAMORI_BUILD:?}" "${MAMORI_SRC:?}"
if [[ $(id -u) -ne 0 ]]; then
	echo "carry.sh: FAIL: must run as root (fanotify, loop devices, mount)" >&2
	exit 1
fi
# In a PID namespace of its own: the approval medium's write gate judges the
# persons with processes on the terminal (CARRY-2), and this machine's other
# users must not be among them; clamd runs inside too (its SO_PEERCRED pid).
if [[ -z ${CARRY_PIDNS:-} ]]; then
	exec env CARRY_PIDNS=1 unshare --pid --fork --mount-proc --propagation private bash "$0" "$@"
fi
b=$MAMORI_BUILD
[[ $b == /* ]] || b=$MAMORI_SRC/$b
CLAMD=$(command -v clamd || true)
[[ -x $CLAMD ]] || CLAMD=/usr/sbin/clamd
[[ -x $CLAMD ]] || { echo "carry.sh: FAIL: clamd is not installed (apt-get install clamav-daemon)" >&2; exit 1; }
work=$(mktemp -d /var/tmp/mamori-bench-carry.XXXXXX)
loop= pid=
cleanup() {
	while mountpoint -q "$work/mnt" 2>/dev/null; do umount "$work/mnt" || umount -l "$work/mnt" || break; done
	[[ -n $loop ]] && { blockdev --setrw "$loop" 2>/dev/null || true; losetup -d "$loop" 2>/dev/null; }
	[[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/db"
eicar='X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*'
printf 'Mamori-Bench-EICAR:0:*:%s\n' "$(printf '%s' "$eicar" | od -An -tx1 | tr -d ' \n')" >"$work/db/mamori.ndb"
printf 'LocalSocket %s\nDatabaseDirectory %s\nForeground yes\nLogFile %s\nMaxThreads 2\n' \
	"$work/clamd.sock" "$work/db" "$work/clamd.log" >"$work/clamd.conf"
"$CLAMD" -c "$work/clamd.conf" >/dev/null 2>&1 &
pid=$!

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
blockdev --setrw "$loop" # BLKROSET outlives a detach: whatever the last user of this number left
mount "$loop" "$work/mnt"
for _ in $(seq 1 100); do [[ -S $work/clamd.sock ]] && break; sleep 0.1; done
[[ -S $work/clamd.sock ]] || { echo "carry.sh: FAIL: clamd did not start" >&2; exit 1; }
"$b/bench/bench_carry" "$work/small" "$work/big.bin" "$work/mnt" "$loop" "$work" "${BENCH_ROUNDS:-5}" "$work/clamd.sock"
