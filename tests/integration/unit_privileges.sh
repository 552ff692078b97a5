#!/usr/bin/env bash
# tests/integration/unit_privileges.sh — the shipped unit's privileges are
# enough for what the code does, and each process keeps only its share
# (issue 11.2). PID 1 here is not systemd (no systemd-nspawn, no manager for
# systemd-run), so the unit's settings are PARSED from
# installer/mamorid.service (unit_privileges.bash) and applied as systemd
# would: capability sets, secure bits and no_new_privs with setpriv(1), the
# SystemCallFilter= (groups expanded with `systemd-analyze syscall-filter`)
# as a seccomp filter by itests/unitexec (libseccomp). Under exactly those
# settings, on loop devices this test creates:
#  1. the real mamorid starts with its worker; the carry module (fanotify
#     with permission events) and a posture pass (in its child) work; each
#     process holds only its share (docs/ARCHITECTURE.md "Who runs as whom",
#     read from /proc/PID/status): gate, worker, posture pass child;
#  2. every bounded capability is effective after exec (as root under noroot);
#  3. BLKROSET makes a loop device read-only (read-only media, MEDIA-2);
#  4. sysfs writes and the notification path (unit_gate.c on a umockdev
#     testbed): the gate writes the hub's authorized_default and devices'
#     `authorized` as the signed policy says, and the worker's notify child
#     (setpriv to the session user, gdbus) puts a Notify call on a real
#     session bus run here, judged by dbus-monitor;
#  5. the carry module records writes through fanotify on a loop-mounted
#     ext4 medium (carry.sh run under the same settings, CARRY-3);
#  6. `mamorictl media sanitize` (MEDIA-6, issue 16.5): the worker, under
#     the unit's settings, zeroes (BLKZEROOUT), discards (BLKDISCARD) and
#     overwrites a loop device made here (shown under the root as a USB
#     stick: mknod + a sysfs tree), judged by grep on the raw device.
# Root-only.
set -euo pipefail
: "${MAMORI_BUILD:?}" "${MAMORI_SRC:?}"
[[ $(id -u) -eq 0 ]] || { echo "unit_privileges.sh: FAIL: must run as root" >&2; exit 1; }
B=$MAMORI_SRC/$MAMORI_BUILD
BIN=${MAMORI_GATE_BIN:-$B/bin} # the old code: another build's mamorid + mamori-worker
UNIT=${UNIT_FILE:-$MAMORI_SRC/installer/mamorid.service}
# shellcheck source=tests/integration/unit_privileges.bash
source "$MAMORI_SRC/tests/integration/unit_privileges.bash"
tmp=$(mktemp -d /tmp/mamori-unitpriv.XXXXXX)
loop=
sloop=
apid=
cleanup() {
	if [[ -n $apid ]]; then kill -9 "$apid" 2>/dev/null || true; fi
	if [[ -p $tmp/root/var/lib/dpkg/status ]]; then timeout 1 bash -c ": >'$tmp/root/var/lib/dpkg/status'" 2>/dev/null || true; fi
	[[ -n $loop ]] && { blockdev --setrw "$loop" 2>/dev/null; losetup -d "$loop" 2>/dev/null || true; }
	[[ -n $sloop ]] && { blockdev --setrw "$sloop" 2>/dev/null || true; losetup -d "$sloop" 2>/dev/null || true; }
	if mountpoint -q "$tmp/root/proc" 2>/dev/null; then umount -l "$tmp/root/proc" || true; fi
	findmnt -R "$tmp" >/dev/null 2>&1 && { echo "unit_privileges.sh: $tmp still has mounts: not removed" >&2; return; }
	rm -rf --one-file-system "$tmp"
}
trap cleanup EXIT
fail() { echo "unit_privileges.sh: FAIL: $*" >&2; [[ -f $tmp/agent.log ]] && grep -v '^event \|worker pong' "$tmp/agent.log" | tail -20 >&2; exit 1; }
args=$(unit_setpriv_args "$UNIT") || fail "$UNIT cannot be applied"
mapfile -t SP <<<"$args"
unit_syscall_lists "$UNIT" "$tmp/allow" "$tmp/deny" || fail "$UNIT: SystemCallFilter= cannot be applied"
RUN=(setpriv "${SP[@]}" -- "$B/itests/unitexec" "$tmp/allow" "$tmp/deny" EPERM --)
echo "unit_privileges.sh: setpriv ${SP[*]}; seccomp: $(wc -l <"$tmp/allow") syscalls allowed, $(wc -l <"$tmp/deny") removed"
capmask() { # "CAP_A CAP_B" -> decimal mask from linux/capability.h
	local m=0 c n
	for c in $1; do
		n=$(grep -m1 -w "define ${c}" /usr/include/linux/capability.h | awk '{print $3}')
		[[ $n =~ ^[0-9]+$ ]] || fail "capability $c unknown to linux/capability.h"
		m=$((m | (1 << n)))
	done
	echo $m
}
field() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
expect_caps() { # who pid eff prm amb
	local who=$1 p=$2 e p_ a
	e=$((0x$(field "$p" CapEff))) p_=$((0x$(field "$p" CapPrm))) a=$((0x$(field "$p" CapAmb)))
	echo "unit_privileges.sh: $who (pid $p): CapEff 0x$(printf %x $e) CapPrm 0x$(printf %x $p_) CapAmb 0x$(printf %x $a) NoNewPrivs $(field "$p" NoNewPrivs) Seccomp $(field "$p" Seccomp)"
	((e == $3)) || fail "$who: CapEff 0x$(printf %x $e), expected 0x$(printf %x $3)"
	((p_ == $4)) || fail "$who: CapPrm 0x$(printf %x $p_), expected 0x$(printf %x $4)"
	((a == $5)) || fail "$who: CapAmb 0x$(printf %x $a), expected 0x$(printf %x $5)"
	[[ $(field "$p" NoNewPrivs) == 1 ]] || fail "$who: no_new_privs not set"
	[[ $(field "$p" Seccomp) == 2 ]] || fail "$who: no seccomp filter"
}

# 1. the real mamorid + worker under the unit's settings
R=$tmp/root
mkdir -p "$R/etc/mamori" "$R/var/lib/dpkg"
printf 'language = en\ncheck_interval = 3600\nmodules = carry, software\n' >"$R/etc/mamori/agent.conf"
mkfifo "$R/var/lib/dpkg/status" # the first pass waits in it: its child can be inspected
# the carry module follows /proc/self/mountinfo (a procfs file: epoll needs it)
mkdir -p "$R/proc" && mount --bind /proc "$R/proc"
ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" "${RUN[@]}" "$BIN/mamorid" --root "$R" --foreground --log-level debug \
	>"$tmp/agent.log" 2>&1 &
apid=$!
for _ in $(seq 150); do
	grep -q 'mamori-worker .* ready' "$tmp/agent.log" && break
	kill -0 "$apid" 2>/dev/null || fail "mamorid exited under the unit's settings"
	sleep 0.1
done
grep -q 'mamori-worker .* ready' "$tmp/agent.log" || fail "the worker did not become ready under the unit's settings"
st=$("$BIN/mamorictl" --root "$R" --json status) || fail "no status"
for m in carry software; do
	[[ $(jq -r --arg m $m '.modules[] | select(.name == $m) | .state' <<<"$st") == active ]] ||
		fail "module $m not active under the unit's settings: $(jq -c .modules <<<"$st")"
done
wpid=$(jq -r .pid <<<"$st")
[[ $wpid =~ ^[0-9]+$ && $wpid != "$apid" ]] || fail "no worker pid"
GATE_EFF=$(capmask "CAP_SYS_ADMIN")
KEEP=$(capmask "CAP_SYS_ADMIN CAP_DAC_READ_SEARCH CAP_DAC_OVERRIDE CAP_SETUID CAP_SETGID CAP_NET_ADMIN")
WORKER_EFF=$(capmask "CAP_SYS_ADMIN CAP_DAC_READ_SEARCH CAP_DAC_OVERRIDE")
WORKER_AMB=$(capmask "CAP_SETUID CAP_SETGID")
CHILD=$(capmask "CAP_DAC_READ_SEARCH")
expect_caps "mamorid (gate)" "$apid" "$GATE_EFF" "$KEEP" "$KEEP"
expect_caps "mamori-worker" "$wpid" "$WORKER_EFF" "$KEEP" "$WORKER_AMB"
child=
for _ in $(seq 100); do
	child=$(grep -o 'posture pass: child [0-9]* started' "$tmp/agent.log" | tail -1 | awk '{print $4}' || true)
	[[ -n $child ]] && break
	sleep 0.1
done
[[ -n $child && -d /proc/$child ]] || fail "no posture pass child"
expect_caps "posture pass child" "$child" "$CHILD" "$CHILD" "$CHILD"
printf 'Package: bash\nStatus: install ok installed\nArchitecture: amd64\nVersion: 5.2.15-2\n\n' >"$R/var/lib/dpkg/status"
for _ in $(seq 100); do
	st=$("$BIN/mamorictl" --root "$R" --json status)
	[[ $(jq -r .posture_pass.running <<<"$st") == false ]] && break
	sleep 0.1
done
[[ $(jq -c '[.posture_pass.running, .posture_pass.failures]' <<<"$st") == '[false,0]' ]] ||
	fail "the posture pass did not succeed under the unit's settings: $(jq -c .posture_pass <<<"$st")"
rep=$("$BIN/mamorictl" --root "$R" --json report)
[[ $(jq -r '.results[] | select(.id == "carry.register") | .evidence.permission_events' <<<"$rep") == yes ]] ||
	fail "the worker's carry module has no fanotify permission events under the unit's settings"
[[ $(jq -r '[.results[] | select(.module == "software") | .status] | unique | .[0]' <<<"$rep") == pass ]] ||
	fail "the software check did not pass under the unit's settings"
# 6. sanitising a medium in the worker under the unit's settings
truncate -s 8M "$tmp/san.img"
sloop=$(losetup -f --show "$tmp/san.img")
blockdev --setrw "$sloop" # BLKROSET outlives a detach: whatever the last user of this number left
mm=$(cat "/sys/class/block/$(basename "$sloop")/dev")
u=$R/sys/devices/pci0000:00/0000:00:14.0/usb1/1-1
mkdir -p "$u/1-1:1.0/host1/target1:0:0/1:0:0:0/block/sdu" "$R/sys/dev/block" "$R/dev"
printf '0781\n' >"$u/idVendor"
printf '5567\n' >"$u/idProduct"
printf 'UNIT0001\n' >"$u/serial"
printf '1\n' >"$u/1-1:1.0/host1/target1:0:0/1:0:0:0/block/sdu/removable"
ln -s "../../devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1:1.0/host1/target1:0:0/1:0:0:0/block/sdu" "$R/sys/dev/block/$mm"
mknod "$R/dev/sdu" b "${mm%%:*}" "${mm##*:}"
for method in zero discard overwrite; do
	marker="MAMORI-UNIT-$method-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
	printf '%s' "$marker" | dd of="$sloop" bs=1 seek=$((3 * 1024 * 1024 + 17)) conv=notrunc,fsync status=none
	grep -qaF "$marker" "$sloop" || fail "the marker was not written to $sloop"
	out=$("$BIN/mamorictl" --root "$R" --json media sanitize /dev/sdu --method $method --identity 0781:5567:UNIT0001 2>&1) ||
		fail "media sanitize --method $method under the unit's settings: $out"
	[[ $(jq -r .result <<<"$out") == verified ]] || fail "media sanitize --method $method: $out"
	grep -qaF "$marker" "$sloop" && fail "media sanitize --method $method under the unit's settings left the marker on $sloop"
done
echo "unit_privileges.sh: the worker sanitised $sloop (zero, discard, overwrite) under the unit's settings"
kill -TERM "$apid"
for _ in $(seq 50); do kill -0 "$apid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$apid" 2>/dev/null && fail "mamorid did not stop on SIGTERM"
apid=
grep -q 'seccomp\|Operation not permitted' "$tmp/agent.log" && { grep 'seccomp\|Operation not permitted' "$tmp/agent.log" | head -5; fail "a call was refused under the unit's settings"; }
echo "unit_privileges.sh: mamorid, its worker and the pass child ran under the unit's settings, each with its share"

# 2. every capability of the bounding set is effective in the exec'd root process
bnd=$(unit_value "$UNIT" CapabilityBoundingSet)
want=0
for c in $bnd; do
	n=$(grep -m1 -w "define ${c}" /usr/include/linux/capability.h | awk '{print $3}')
	[[ $n =~ ^[0-9]+$ ]] || fail "capability $c unknown to linux/capability.h"
	want=$((want | (1 << n)))
done
eff=$("${RUN[@]}" grep '^CapEff:' /proc/self/status | cut -f2)
(((0x$eff & want) == want)) || fail "effective capabilities 0x$eff lack some of the bounding set 0x$(printf %x $want)"
echo "unit_privileges.sh: CapEff 0x$eff covers the bounding set 0x$(printf %x $want)"

# 3. BLKROSET on a loop device (blockdev --setro is the BLKROSET ioctl)
truncate -s 8M "$tmp/ro.img"
loop=$(losetup -f --show "$tmp/ro.img")
blockdev --setrw "$loop" # not read-only before the test's own BLKROSET (it outlives a detach)
"${RUN[@]}" blockdev --setro "$loop" || fail "BLKROSET on $loop refused under the unit's privileges"
[[ $(blockdev --getro "$loop") = 1 ]] || fail "$loop is not read-only after BLKROSET"
echo "unit_privileges.sh: BLKROSET on $loop ok"

# 4. sysfs `authorized` writes and the notification path, on a umockdev
# testbed (unit_gate.c under umockdev-wrapper: its preload survives setpriv
# and unitexec — neither execs secure: no capability is gained at exec)
P=$tmp/prep
mkdir -p "$P"
printf 'language = en\ncheck_interval = 3600\nmodules = usb\n' >"$P/agent.conf"
"$B/bin/mamorictl" --root "$P" policy keygen --out "$P/k" >/dev/null
cp "$P/k.pub" "$P/policy.pub"
cat >"$P/policy.json" <<'JSON'
{ "schema": 1, "version": 1, "segment": "lgwan", "requirements": ["OPS-1"],
  "usb": { "default": "block", "present_devices": "apply", "requirements": ["MEDIA-1"],
           "rules": [ { "id": "kiosk", "action": "allow", "requirements": ["MEDIA-1"],
                        "match": { "vendor": "0781", "product": "5581" } } ] } }
JSON
"$B/bin/mamorictl" --root "$P" policy sign --key "$P/k.key" "$P/policy.json" >/dev/null
{
	printf '#!/bin/sh\nexec'
	printf ' %q' "${RUN[@]}"
	printf ' "$@"\n'
} >"$tmp/unitrun"
chmod 755 "$tmp/unitrun"
rc=0
(
	export MAMORI_BIN=$BIN MAMORI_PREP=$P MAMORI_UNIT_RUN=$tmp/unitrun
	LD_PRELOAD="$(gcc -print-file-name=libasan.so)"
	[[ -f $LD_PRELOAD ]] && export LD_PRELOAD || unset LD_PRELOAD
	export ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0:detect_leaks=0"
	umockdev-wrapper "$B/itests/unit_gate"
) >"$tmp/unit_gate.log" 2>&1 || rc=$?
if ((rc)) || grep -q "AddressSanitizer\|runtime error" "$P/gate.log"; then
	tail -30 "$tmp/unit_gate.log" >&2
	grep -v '^event ' "$P/gate.log" | tail -30 >&2
	fail "sysfs writes or the notification failed under the unit's settings"
fi
echo "unit_privileges.sh: sysfs authorized writes and the Notify call on the session bus ok under the unit's settings"
# 5. fanotify recording by the carry module on a loop-mounted ext4 medium
# (LeakSanitizer needs ptrace, which the unit's filter refuses: leaks are
# checked by carry.sh's own run)
CARRY_WRAP="env ASAN_OPTIONS=${ASAN_OPTIONS:-}:detect_leaks=0 ${RUN[*]}" bash "$MAMORI_SRC/tests/integration/carry.sh" >"$tmp/carry.log" 2>&1 || {
	{ grep -E '^\[  (ERROR|FAILED) |^\[   LINE |among:$|^carry: |Sanitizer|^    #' "$tmp/carry.log" | grep -v de-authorized | head -60
	  echo "--- carry.sh's whole output, repeated records left out:"
	  grep -v de-authorized "$tmp/carry.log" | tail -400; } >&2
	fail "the carry module (fanotify) fails under the unit's privileges"
}
echo "unit_privileges.sh: carry (fanotify) ok under the unit's privileges"
# 6. the unit's own consistency: under noroot only ambient capabilities reach the code
amb=$(unit_value "$UNIT" AmbientCapabilities)
[[ $(tr ' ' '\n' <<<"$amb" | sort -u | xargs) = $(tr ' ' '\n' <<<"$bnd" | sort -u | xargs) ]] ||
	fail "AmbientCapabilities ($amb) differs from CapabilityBoundingSet ($bnd)"
echo "unit_privileges.sh: PASS"
