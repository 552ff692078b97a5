#!/usr/bin/env bash
# tests/integration/carry_out.sh — a carry-out end to end in one run
# (CARRY-2, MEDIA-2, OPS-4; issue 16 point 4): a real mamori-server on
# 127.0.0.1 (SQLite, OpenSSL mTLS) with a CISO and an approver "shonin",
# then carry_out.c — the real mamorid + mamori-worker (usb, carry) on a
# umockdev testbed whose stick's disk is a real loop device with ext4
# made here — and afterwards the real filesystem as the judge: debugfs
# reads the image once nothing holds it: the file written within the
# approval's window is there with its content, the files tried before
# and after it — and after a second approval was revoked within its
# window (a lost stick) — are not. The journal's records are checked against
# docs/EVENTS.md, and the server's copy of the carry.out against the
# request it was approved under.
#
# In a PID and mount namespace of its own: the carry module's write gate
# judges the persons with processes on the terminal, and this machine's
# other users (other test runs) must not be among them. In that namespace
# /etc/passwd is a copy with the person "kakari" (uid 61001) added; the
# machine's own files are never changed. Without a "mamori" user (none
# here) the sync's and the command poll's network child runs as a dynamic
# uid (61184–65519, common/sandbox.h), which is no person: the medium must
# still open for the approved one. Root-only (loop devices, mount,
# namespaces).
set -uo pipefail
: "${MAMORI_BUILD:?}" "${MAMORI_SRC:?}"
[[ $(id -u) -eq 0 ]] || { echo "carry_out.sh: FAIL: must run as root (loop devices, mount, namespaces)"; exit 1; }
if [[ -z ${CARRY_OUT_NS:-} ]]; then
	exec env CARRY_OUT_NS=1 unshare --pid --fork --mount-proc --propagation private bash "$0" "$@"
fi
source "$MAMORI_SRC/tests/integration/e2e_lib.bash"
source "$MAMORI_SRC/tests/integration/events_doc.bash"
command -v debugfs >/dev/null || { echo "carry_out.sh: FAIL: debugfs missing (e2fsprogs)"; exit 1; }
prep=$T/prep
mkdir -p "$prep"
CO_LOOP=
teardown() {
	while mountpoint -q "$prep/mnt" 2>/dev/null; do umount "$prep/mnt" || umount -l "$prep/mnt" || break; done
	[[ -n $CO_LOOP ]] && { blockdev --setrw "$CO_LOOP" 2>/dev/null; losetup -d "$CO_LOOP" 2>/dev/null || true; }
	mountpoint -q /etc/passwd && umount /etc/passwd
	findmnt -R "$T" >/dev/null 2>&1 && { echo "carry_out.sh: $T still has mounts: not removed"; return; }
	cleanup
}
trap teardown EXIT

# the person, in this namespace only
cp /etc/passwd "$T/passwd"
echo 'kakari:x:61001:61001:係員 一郎:/nonexistent:/usr/sbin/nologin' >>"$T/passwd"
mount --bind "$T/passwd" /etc/passwd || { echo "FAIL  cannot bind the namespace's passwd"; exit 1; }
[[ $(getent passwd 61001 | cut -d: -f1) == kakari ]] || { echo "FAIL  the person has no name in this namespace"; exit 1; }

# the medium: ext4 whose root the person owns, on a loop device
truncate -s 16M "$T/co.img"
mkfs.ext4 -q -F -E root_owner=61001:61001 "$T/co.img" || { echo "FAIL  mkfs.ext4"; exit 1; }
CO_LOOP=$(losetup -f --show "$T/co.img") || { echo "FAIL  losetup"; exit 1; }
blockdev --setrw "$CO_LOOP" # BLKROSET outlives a detach: whatever the last user of this number left
chmod 711 "$T" "$prep" # the person reaches the mount point below them

D=$T/srv
start_server "$D" || { echo "FAIL  server did not start"; exit 1; }
bootstrap "$D" || { echo "FAIL  bootstrap"; exit 1; }
RQ_TOK_CISO=$TOKEN
acct shonin approver 1002 "承認 花子" 総務課 >/dev/null
approve_console shonin || bad "approver account shonin"
login shonin || bad "login shonin"
RQ_TOK_SHONIN=$TOKEN
TOKEN=$RQ_TOK_CISO

# the city's register (台帳) knows the stick
api POST /admin/v1/media '{"management_no":"USB-001","department":"総務課","owner":"係員 一郎","identity":{"vendor":"0781","product":"5567","serial":"CO1"}}' >/dev/null
[[ $CODE == 201 ]] || bad "register the medium: $CODE"

# a mynumber policy: storage only by its identity, writing only with an approval (MEDIA-2)
printf 'language = en\ncheck_interval = 3600\nmodules = usb, carry\n' >"$prep/agent.conf"
cp "$D/policy-signing.pub" "$prep/policy.pub"
cat >"$prep/policy.json" <<JSON
{ "schema": 1, "version": 1, "segment": "mynumber", "requirements": ["OPS-1"],
  "usb": { "default": "block", "present_devices": "apply", "requirements": ["MEDIA-1", "MEDIA-2"],
           "write_requires_approval": true,
           "rules": [ { "id": "USB-001", "action": "allow", "requirements": ["MEDIA-1"],
                        "match": { "vendor": "0781", "product": "5567", "serial": "CO1" } } ] },
  "carry": { "record": true, "scan_on_mount": false, "approvals": [],
             "requirements": ["CARRY-1", "CARRY-2"] } }
JSON
"$CTL" --root "$prep" policy check "$prep/policy.json" >/dev/null || bad "policy check"
"$CTL" --root "$prep" policy sign --key "$D/policy-signing.key" "$prep/policy.json" >/dev/null || bad "policy sign"

export RQ_T=$T RQ_ADM=$ADM RQ_CA=$CA RQ_FPR=$FPR RQ_TOK_CISO RQ_TOK_SHONIN RQ_TOK_NOBODY= RQ_TOK_KAIKEI=
export MAMORI_BIN=$SRC/$B/bin MAMORI_PREP=$prep CO_LOOP
rc=0
(
	export LD_PRELOAD="$(gcc -print-file-name=libasan.so)"
	[[ -f $LD_PRELOAD ]] || unset LD_PRELOAD
	export ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0"
	umockdev-wrapper "$SRC/$B/itests/carry_out"
) || rc=$?
if ((rc)); then
	bad "carry_out (testbed program, exit $rc)"
	echo "--- gate.log"; grep -v '^event \|pong\|network part ran' "$prep/gate.log" | tail -40
	echo "--- carry"; grep -i 'carry\|media\|sdq' "$prep/gate.log" | tail -40
fi
if grep -q "AddressSanitizer\|runtime error" "$prep/gate.log" 2>/dev/null; then bad "sanitizer report in gate.log"; fi
while mountpoint -q "$prep/mnt" 2>/dev/null; do umount "$prep/mnt" || break; done

# the real filesystem judges, once nothing holds it any more
fs() { debugfs -R "$1" "$T/co.img" 2>/dev/null; }
rid=$(cat "$prep/rid" 2>/dev/null)
check "the medium holds the file written within the window, with its content" \
	test "$(fs 'cat /approved.txt')" = "CARRY-OUT-$rid"
check "... not the one tried before the approval" bash -c "! debugfs -R 'stat /before.txt' '$T/co.img' 2>&1 | grep -q 'Inode:'"
check "... nor the one tried after the window" bash -c "! debugfs -R 'stat /after.txt' '$T/co.img' 2>&1 | grep -q 'Inode:'"
check "... nor the one tried after a second approval was revoked" bash -c "! debugfs -R 'stat /revoked.txt' '$T/co.img' 2>&1 | grep -q 'Inode:'"

J=$prep/carry_out.jsonl
if [[ -s $J ]]; then
	jq -c 'select(.type | test("^(request|approval|usb|carry)\\."))' "$J" >"$prep/checked.jsonl"
	check "the journal's request/approval/usb/carry records match docs/EVENTS.md" events_doc_check "$prep/checked.jsonl"
	check "exactly one carry.out, and it names the approval (request-<request id>)" \
		test "$(jq -rs '[.[] | select(.type=="carry.out")] | map(.payload.approval) | join(",")' "$J")" = "request-$rid"
else
	bad "no journal export"
fi
# the server's carry-out register: the record joined with the request it was approved under
api GET "/admin/v1/carry-outs?terminal=pc-co" >"$T/co.json"
check "carry-outs: 200" test "$CODE" = 200
row=$(jq -c '[.carry_outs[] | select(.path == "/approved.txt")]' "$T/co.json")
check "... one row for the approved write, by kakari, on USB-001" \
	test "$(jq -r 'map("\(.user) \(.medium.management_no) \(.approval)") | join(",")' <<<"$row")" = "kakari USB-001 request-$rid"
check "... it names the request: requester, approver (another account), purpose" \
	test "$(jq -r '.[0].request | "\(.request_id) \(.requester) \(.approved_by) \(.purpose)"' <<<"$row")" = \
	"$rid kakari shonin council minutes"
check "... and its window (RFC 3339 UTC): the end at most 40 s after the approval" \
	bash -c 'w=$(jq -r ".[0].request.window | \"\(.not_before)|\(.not_after)\"" <<<"$1"); a=${w%%|*}; b=${w##*|};
		(( $(date -d "$b" +%s) - $(date -d "$a" +%s) > 0 && $(date -d "$b" +%s) - $(date -d "$a" +%s) <= 41 ))' - "$row"
finish
