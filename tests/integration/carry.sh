#!/usr/bin/env bash
# tests/integration/carry.sh — the carry module on real loop-mounted ext4
# volumes (made here, in /tmp) with real fanotify and a real clamd on a
# socket in a temporary directory, with an EICAR signature written here.
# Root-only; not root, or no clamd, is a FAILURE. Everything this script or
# the test program mounts or attaches is unmounted/detached in the trap.
set -euo pipefail
: "${MAMORI_BUILD:?}" "${MAMORI_SRC:?}"
if [[ $(id -u) -ne 0 ]]; then
	echo "carry.sh: FAIL: must run as root (fanotify, loop devices, mount)" >&2
	exit 1
fi
# In a PID namespace of its own (and so a mount namespace): the write gate
# judges the persons with processes on the terminal (CARRY-2), and this
# machine's other users (other test runs) must not be among them; clamd
# runs inside too, so that its pid (SO_PEERCRED) is one the module sees.
if [[ -z ${CARRY_PIDNS:-} ]]; then
	exec env CARRY_PIDNS=1 unshare --pid --fork --mount-proc --propagation private bash "$0" "$@"
fi
CLAMD=$(command -v clamd || true)
[[ -x $CLAMD ]] || CLAMD=/usr/sbin/clamd
[[ -x $CLAMD ]] || { echo "carry.sh: FAIL: clamd is not installed (apt-get install clamav-daemon)" >&2; exit 1; }
bin=$MAMORI_SRC/$MAMORI_BUILD/itests/carry
[[ $MAMORI_BUILD = /* ]] && bin=$MAMORI_BUILD/itests/carry
tmp=$(mktemp -d /tmp/mamori-carry.XXXXXX)
loops=() pid=
cleanup() {
	# a failed test may leave its mounts (stacked): take every one off
	while mountpoint -q "$tmp/mnt" 2>/dev/null; do umount "$tmp/mnt" || umount -l "$tmp/mnt" || break; done
	# read-only holds of the module outlive the detach (BLKROSET): not left
	# to the next user of these loop numbers
	for l in "${loops[@]}"; do blockdev --setrw "$l" 2>/dev/null || true; losetup -d "$l" 2>/dev/null || true; done
	[[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

mkdir -p "$tmp/db" "$tmp/clean" "$tmp/eicar" "$tmp/rw"
eicar='X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*'
printf 'Mamori-Carry-EICAR:0:*:%s\n' "$(printf '%s' "$eicar" | od -An -tx1 | tr -d ' \n')" >"$tmp/db/mamori.ndb"
cat >"$tmp/clamd.conf" <<CONF
LocalSocket $tmp/clamd.sock
DatabaseDirectory $tmp/db
Foreground yes
LogFile $tmp/clamd.log
MaxThreads 2
CONF
"$CLAMD" -c "$tmp/clamd.conf" >/dev/null 2>&1 &
pid=$!

# media: files placed by mkfs.ext4 -d, never by mounting on this side
echo "hello from the medium" >"$tmp/clean/readme.txt"
for i in $(seq 1 20); do echo "file $i" >"$tmp/clean/f$i.txt"; done
echo "hello from the medium" >"$tmp/eicar/readme.txt"
printf '%s' "$eicar" >"$tmp/eicar/eicar.com"
echo "hello from the medium" >"$tmp/rw/readme.txt"
# the rw medium: a shared folder (1777) and a file of the test person (uid 61001):
# what the kernel itself allows them, only the carry module may refuse
chmod 1777 "$tmp/rw"; chown 61001:61001 "$tmp/rw/readme.txt"
chmod 711 "$tmp" # the person reaches the mount point below it
for m in clean eicar rw; do
	truncate -s 16M "$tmp/$m.img"
	mkfs.ext4 -q -F -E root_owner=$([[ $m = rw ]] && echo 61001:61001 || echo 0:0) -d "$tmp/$m" "$tmp/$m.img"
	l=$(losetup -f --show "$tmp/$m.img"); loops+=("$l")
	blockdev --setrw "$l" # BLKROSET outlives a detach: whatever the last user of this number left
	printf -v "CARRY_LOOP_${m^^}" '%s' "$l"
	export "CARRY_LOOP_${m^^}"
done
# a medium whose content is no filesystem the module mounts (a swap area):
# it cannot be held, so it stays hidden from automounters (carry.hidden)
truncate -s 4M "$tmp/swap.img"; mkswap -q "$tmp/swap.img" >/dev/null
CARRY_LOOP_SWAP=$(losetup -f --show "$tmp/swap.img"); loops+=("$CARRY_LOOP_SWAP"); export CARRY_LOOP_SWAP
blockdev --setrw "$CARRY_LOOP_SWAP"
export CARRY_UUID_CLEAN=$(blkid -p -o value -s UUID "$CARRY_LOOP_CLEAN")
export CARRY_TMP=$tmp CARRY_EICAR_SIG=Mamori-Carry-EICAR.UNOFFICIAL
for _ in $(seq 1 100); do [[ -S $tmp/clamd.sock ]] && break; sleep 0.1; done
[[ -S $tmp/clamd.sock ]] || { echo "carry.sh: FAIL: clamd did not start" >&2; cat "$tmp/clamd.log" 2>/dev/null; exit 1; }
${CARRY_WRAP:-} "$bin"
