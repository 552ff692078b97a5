#!/usr/bin/env bash
# tests/integration/e2e_sanitize.sh — the media register (台帳) and
# `mamorictl media sanitize` end to end (MEDIA-6, issue 16.5): a real
# mamori-server on 127.0.0.1 and a running mamorid + mamori-worker.
#
# The media are real loop devices made here (losetup -f on files in the temp
# dir), each with ext4 and a file holding a random marker. The terminal sees
# them through its root prefix: a device node made with mknod (the loop's
# major:minor) and a sysfs tree that describes it as a USB stick (idVendor,
# idProduct, serial, removable). That tree is the one fake: there is no USB
# bus on this machine; every block operation is on the real device.
#
# Judged by the device itself: before, grep finds the marker on the raw
# device; after `mamorictl media sanitize` (zero, discard, overwrite) it is
# found nowhere on the device nor in its backing file — a skipped or partial
# sanitisation fails here. Each refusal (not root, not a block device, not
# removable, another identity than named, mounted, a bad method) leaves the
# marker in place and is journaled. The journal holds media.sanitized with
# date, operator, method, identity and verification; the server's register
# (imported from CSV, strictly: an unknown column or a malformed row imports
# nothing) shows the media as sanitised, after the agent's upload.
# Root-only (loop devices, mount).
set -uo pipefail
source "$(dirname "$0")/e2e_lib.bash"
source "$(dirname "$0")/events_doc.bash"
[[ $(id -u) -eq 0 ]] || { echo "e2e_sanitize.sh: FAIL: must run as root (loop devices, mount)"; exit 1; }
APID=
loops=()
agent_stop() {
	[[ -n $APID ]] || return 0
	kill -TERM "$APID" 2>/dev/null
	wait "$APID" 2>/dev/null || bad "mamorid exit status $?"
	APID=
}
teardown() {
	agent_stop
	while mountpoint -q "$T/mnt" 2>/dev/null; do umount "$T/mnt" || umount -l "$T/mnt" || break; done
	for l in "${loops[@]}"; do blockdev --setrw "$l" 2>/dev/null || true; losetup -d "$l" 2>/dev/null || true; done
	cleanup
}
trap teardown EXIT

D=$T/srv
A=$T/pc-m
mkdir -p "$A/etc/mamori" "$A/dev" "$A/sys/dev/block" "$T/mnt"
start_server "$D" || { echo "FAIL  server did not start"; exit 1; }
bootstrap "$D" || { echo "FAIL  bootstrap"; exit 1; }

# medium NAME N SERIAL REMOVABLE: a loop device with ext4 and a marker file,
# shown under the root as /dev/NAME, a USB stick 0781:5567 with SERIAL
declare -A LOOP MARK SIZE
SIZE[sdz]=384M # long enough to ask the worker something while it is overwritten
medium() {
	local name=$1 n=$2 serial=$3 rem=$4 img=$T/$1.img l mm u b
	truncate -s "${SIZE[$name]:-16M}" "$img"
	mkfs.ext4 -q -F "$img" || return 1
	l=$(losetup -f --show "$img") || return 1
	loops+=("$l")
	blockdev --setrw "$l" || return 1 # BLKROSET outlives a detach: whatever the last user left
	LOOP[$name]=$l
	MARK[$name]="MAMORI-MARKER-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
	mount "$l" "$T/mnt" || return 1
	for _ in $(seq 64); do echo "${MARK[$name]}"; done >"$T/mnt/jumin.txt"
	umount "$T/mnt" || return 1
	mm=$(cat "/sys/class/block/$(basename "$l")/dev")
	u=$A/sys/devices/pci0000:00/0000:00:14.0/usb1/1-$n
	b=$u/1-$n:1.0/host$n/target$n:0:0/$n:0:0:0/block/$name
	mkdir -p "$b"
	echo 0781 >"$u/idVendor"
	echo 5567 >"$u/idProduct"
	echo "$serial" >"$u/serial"
	echo "$rem" >"$b/removable"
	echo "$mm" >"$b/dev"
	ln -s "../../devices/pci0000:00/0000:00:14.0/usb1/1-$n/1-$n:1.0/host$n/target$n:0:0/$n:0:0:0/block/$name" \
		"$A/sys/dev/block/$mm"
	mknod "$A/dev/$name" b "${mm%%:*}" "${mm##*:}"
}
on_device() { grep -qaF "${MARK[$1]}" "${LOOP[$1]}"; }
in_image() { grep -qaF "${MARK[$1]}" "$T/$1.img"; }
gone() { ! on_device "$1" && ! in_image "$1"; }
check "medium sdx (zero)" medium sdx 1 SX0001 1
check "medium sdy (discard)" medium sdy 2 SY0002 1
check "medium sdz (overwrite)" medium sdz 3 SZ0003 1
check "medium sdf (a fixed disk: removable 0)" medium sdf 4 SF0004 0
for m in sdx sdy sdz sdf; do check "before: grep finds $m's marker on the raw device" on_device $m; done

cat >"$A/etc/mamori/agent.conf" <<CONF
language = en
modules = timesync
check_interval = 3600
CONF
check "enroll pc-m" enroll "$A" pc-m soumu >/dev/null
SA=$(state_dir "$A")
"$SRC/$B/bin/mamorid" --root "$A" --foreground --log-level debug >>"$T/agent.log" 2>&1 &
APID=$!
for _ in $(seq 100); do [[ -S $A/run/mamori/mamorid.sock && -s $SA/upload.state ]] && break; sleep 0.2; done

# ---- the register: strict CSV import --------------------------------------------------------
csv() { # FILE → $CODE, body in $T/csv.out
	CODE=$(curl -sS -o "$T/csv.out" -w '%{http_code}' --cacert "$CA" -H "Authorization: Bearer $TOKEN" \
		-H 'Content-Type: text/csv' --data-binary "@$1" "https://$ADM/admin/v1/media/import") || CODE=000
}
count() { api GET /admin/v1/media | jq '.media | length'; }
printf '\xEF\xBB\xBF管理番号,所属,管理者,ベンダーID,製品ID,シリアル番号,色\r\nUSB-001,総務課,山田,0781,5567,SX0001,青\r\n' >"$T/unknown.csv"
csv "$T/unknown.csv"
check "import: an unknown column → 400" test "$CODE" = 400
check "... the error names it" matches "$(jq -r .detail "$T/csv.out")" '*unknown column*色*'
printf 'management_no,department,owner,vendor,product,serial\nUSB-001,総務課,山田,0781,5567,SX0001\nUSB-002,"総務課,山田,0781,5567,SY0002\n' >"$T/quote.csv"
csv "$T/quote.csv"
check "import: an unclosed quote in row 3 → 400, nothing imported (row 2 was valid)" \
	test "$CODE/$(count)" = 400/0
printf 'management_no,department,owner,vendor,product,serial\nUSB-001,総務課,山田,0781,5567,SX0001\nUSB-002,総務課,山田,0781,5567\n' >"$T/short.csv"
csv "$T/short.csv"
check "import: a row with too few cells → 400, nothing imported" test "$CODE/$(count)" = 400/0
check "... the error names the row" matches "$(jq -r .detail "$T/csv.out")" 'row 3:*'
printf 'management_no,department,owner,vendor,product,serial\nUSB-001,総務課,山田,0781,5567,=HYPERLINK("x")\n' >"$T/formula.csv"
csv "$T/formula.csv"
check "import: an unprotected spreadsheet formula → 400" test "$CODE/$(count)" = 400/0
printf 'management_no,department,owner,vendor,product,serial\nUSB-001,総務課,山田,0781,ZZZZ,SX0001\n' >"$T/vendor.csv"
csv "$T/vendor.csv"
check "import: a product ID that is not 4 hex → 400" test "$CODE/$(count)" = 400/0
CODE=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$CA" -H "Authorization: Bearer $TOKEN" \
	--data-binary "@$T/vendor.csv" "https://$ADM/admin/v1/media/import")
check "import: not text/csv → 415" test "$CODE" = 415
printf '\xEF\xBB\xBF管理番号,所属,管理者,ベンダーID,製品ID,シリアル番号,登録日\r\nUSB-001,総務課,"山田 ""一郎""",0781,5567,SX0001,2026-04-01\r\nUSB-002,総務課,山田,0781,5567,SY0002,\r\nUSB-003,税務課,佐藤,0781,5567,SZ0003,2026-04-02\r\n' >"$T/good.csv"
acct etsuran viewer 2001 "閲覧 次郎" >/dev/null
CISO_TOKEN=$TOKEN
login etsuran || bad "viewer login"
csv "$T/good.csv"
check "import by a viewer: 403" test "$CODE" = 403
TOKEN=$CISO_TOKEN
csv "$T/good.csv"
check "import: 200, 3 media" test "$CODE/$(jq .imported "$T/csv.out")" = 200/3
csv "$T/good.csv"
check "import again: 409 (numbers exist), nothing changed" test "$CODE/$(count)" = 409/3
api POST /admin/v1/media '{"management_no":"USB-004","department":"総務課","owner":"鈴木","identity":{"vendor":"0781","product":"5567","serial":"SX0001"}}' >/dev/null
check "add: an identity already registered (not retired) → 409" test "$CODE" = 409
api POST /admin/v1/media '{"management_no":"USB-009","department":"総務課","owner":"鈴木","identity":{"vendor":"0781","product":"5567","serial":"S9"},"colour":"red"}' >/dev/null
check "add: an unknown member → 400" test "$CODE" = 400
api POST /admin/v1/media '{"management_no":"USB-009","department":"総務課","owner":"鈴木","identity":{"vendor":"0781","product":"5567","serial":"S9"}}' >/dev/null
check "add: 201" test "$CODE" = 201
api POST /admin/v1/media/USB-009/retire '{"retired":"2030-01-01"}' >/dev/null
check "retire: 200" test "$CODE" = 200
api POST /admin/v1/media/USB-009/retire '{}' >/dev/null
check "retire again: 409" test "$CODE" = 409
api POST /admin/v1/media/USB-404/retire '{}' >/dev/null
check "retire an unknown number: 404" test "$CODE" = 404
check "registered: USB-002 got today's date (JST)" \
	test "$(api GET /admin/v1/media | jq -r '.media[] | select(.management_no=="USB-002") | .registered')" = "$(TZ=Asia/Tokyo date +%F)"
check "before: no medium is sanitised" test "$(api GET /admin/v1/media | jq '[.media[] | select(.sanitized != null)] | length')" = 0

# ---- refusals: the worker refuses, journals, and the marker stays ----------------------------
san() { ctl "$A" media sanitize "$@"; }
# not root: the CLI holds no privilege; the worker reads the peer (SO_PEERCRED)
chmod 711 "$T" "$A" "$A/run" "$A/run/mamori" && chmod 755 "$A/etc" "$A/etc/mamori" && chmod 644 "$A/etc/mamori/agent.conf"
chgrp 65534 "$A/run/mamori/mamorid.sock"
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$CTL" --root "$A" --lang en media sanitize /dev/sdx --method zero --identity 0781:5567:SX0001 2>&1)
check "not root: refused (not_root)" matches "$out" '*not_root*'
out=$(san /dev/sdx --method zero --identity 0781:5567:SX0002 2>&1)
check "another serial than the medium's: refused (not_the_named_medium)" matches "$out" '*not_the_named_medium*'
out=$(san /dev/sdf --method zero --identity 0781:5567:SF0004 2>&1)
check "a fixed disk (removable 0): refused (not_removable)" matches "$out" '*not_removable*'
: >"$A/dev/notblk"
out=$(san /dev/notblk --method zero --identity 0781:5567:SX0001 2>&1)
check "a regular file: refused (not_block_device)" matches "$out" '*not_block_device*'
mknod "$A/dev/null" c 1 3
out=$(san /dev/null --method zero --identity 0781:5567:SX0001 2>&1)
check "a character device: refused (not_block_device)" matches "$out" '*not_block_device*'
mount -o ro "${LOOP[sdx]}" "$T/mnt"
out=$(san /dev/sdx --method zero --identity 0781:5567:SX0001 2>&1)
check "mounted: refused (mounted)" matches "$out" '*mounted*'
umount "$T/mnt"
out=$(san /dev/sdx --method shred --identity 0781:5567:SX0001 2>&1)
check "an unknown method: refused (bad_request)" matches "$out" '*bad_request*'
for m in sdx sdy sdz sdf; do check "after the refusals: $m's marker is still there" on_device $m; done

# ---- sanitisation ---------------------------------------------------------------------------
out=$(san /dev/sdx --method zero --identity 0781:5567:SX0001 2>&1)
check "sanitize sdx --method zero: ok" matches "$out" '*sanitised with zero, verified*'
check "... the marker is nowhere on the device nor in its backing file" gone sdx
out=$(san /dev/sdy --method discard --identity 0781:5567:SY0002 2>&1)
check "sanitize sdy --method discard: ok" matches "$out" '*sanitised with discard, verified*'
check "... the marker is gone" gone sdy
# the overwrite runs in a child of the worker: meanwhile it answers other
# requests, and refuses a second sanitisation (busy, journaled)
ctl "$A" --json media sanitize /dev/sdz --method overwrite --identity 0781:5567:SZ0003 >"$T/sz.out" 2>&1 &
szpid=$!
for _ in $(seq 200); do grep -q "sanitising /dev/sdz" "$T/agent.log" && break; sleep 0.05; done
ctl "$A" --json status >"$T/st.out" 2>&1
st_rc=$?
kill -0 "$szpid" 2>/dev/null
running=$?
check "during the overwrite, another control request is answered (status)" test "$st_rc/$running" = 0/0
out=$(ctl "$A" --json media sanitize /dev/sdz --method overwrite --identity 0781:5567:SZ0003 2>/dev/null)
check "... and a second sanitize while it runs is refused (busy)" test "$(jq -r .reason <<<"$out")" = busy
wait "$szpid"
out=$(cat "$T/sz.out")
check "sanitize sdz --method overwrite: verified" test "$(jq -r .result <<<"$out")" = verified
check "... the marker is gone" gone sdz
check "... and no zeros: the device holds the random pattern" \
	test "$(head -c 1048576 "${LOOP[sdz]}" | tr -d '\0' | wc -c)" -gt 1000000
check "the fixed disk was never touched" on_device sdf

# ---- the server's register shows them, from the uploaded journal -----------------------------
kill -HUP "$APID"
n=0
for _ in $(seq 100); do
	n=$(api GET /admin/v1/media | jq '[.media[] | select(.sanitized != null)] | length')
	[[ $n == 3 ]] && break
	sleep 0.3
done
check "register: the three media are shown sanitised" test "$n" = 3
reg=$(api GET /admin/v1/media)
check "... USB-001 zero on pc-m by root" test "$(jq -r '.media[] | select(.management_no=="USB-001") | .sanitized | "\(.method) \(.terminal_id) \(.operator)"' <<<"$reg")" = "zero pc-m root"
check "... USB-002 discard" test "$(jq -r '.media[] | select(.management_no=="USB-002") | .sanitized.method' <<<"$reg")" = discard
check "... USB-003 overwrite" test "$(jq -r '.media[] | select(.management_no=="USB-003") | .sanitized.method' <<<"$reg")" = overwrite
check "... USB-009 (never sanitised) is not" test "$(jq -r '.media[] | select(.management_no=="USB-009") | .sanitized' <<<"$reg")" = null
curl -sS --cacert "$CA" -H "Authorization: Bearer $TOKEN" -D "$T/exp.h" -o "$T/export.csv" "https://$ADM/admin/v1/media/export"
check "export: UTF-8 with a BOM" test "$(head -c 3 "$T/export.csv" | od -An -tx1 | tr -d ' ')" = efbbbf
check "... text/csv" grep -qi '^content-type: text/csv; charset=utf-8' "$T/exp.h"
check "... USB-001's row names its sanitisation (JST)" grep -qaE '^"USB-001",.*"[0-9-]+ [0-9:]+ JST","zero","pc-m","root"' "$T/export.csv"
check "... the owner's quotes are kept" grep -qaF '"山田 ""一郎"""' "$T/export.csv"
check "audit: import, add, retire, export recorded" \
	test "$(api GET '/admin/v1/audit?limit=200' | jq '[.entries[]? // .audit[]? | select(.action|startswith("media."))] | length')" -ge 6

# ---- the journal ----------------------------------------------------------------------------
agent_stop
ctl "$A" journal export --format jsonl >"$T/j.jsonl" 2>/dev/null
check "journal: three media.sanitized, each verified with samples" \
	test "$(jq -s '[.[] | select(.type=="media.sanitized" and .payload.verified==true and .payload.samples > 2)] | length' "$T/j.jsonl")" = 3
check "... sdx: method, identity, operator (uid 0), date" \
	test "$(jq -r 'select(.type=="media.sanitized" and .payload.devnode=="/dev/sdx") | "\(.payload.method) \(.payload.device.vendor):\(.payload.device.product):\(.payload.device.serial) \(.payload.uid) \(.payload.started > 0)"' "$T/j.jsonl")" = "zero 0781:5567:SX0001 0 true"
check "journal: the refusals, with their reasons" \
	test "$(jq -r 'select(.type=="media.sanitize_refused") | .payload.reason' "$T/j.jsonl" | sort | tr '\n' ' ')" = \
	"bad_request busy mounted not_block_device not_block_device not_removable not_root not_the_named_medium "
check "every recorded event matches docs/EVENTS.md" events_doc_check "$T/j.jsonl"
if grep -qi "AddressSanitizer\|runtime error" "$T/agent.log" "$SRV_LOG"; then bad "sanitizer report"; fi
finish
