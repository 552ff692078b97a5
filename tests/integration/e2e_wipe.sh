#!/usr/bin/env bash
# tests/integration/e2e_wipe.sh — the `wipe` remote command end to end on
# 127.0.0.1 (MDM-1, OPS-4; docs/COMMANDS.md): a real mamori-server and a
# running mamorid + mamori-worker. The terminal's configuration lists a real
# LUKS2 volume file (made here with cryptsetup luksFormat, two keyslots) and a
# data directory holding a symlink to a directory outside it. A wipe needs a
# second person (the requester's own approval is refused); approved by
# another one it is delivered, executed with libcryptsetup, and judged by
# cryptsetup itself: luksDump lists no keyslot and open --test-passphrase
# with either old passphrase fails. The data directory is gone, the
# symlink's target untouched; the server shows the agent's result and holds
# the journal records made before the credentials were destroyed (last);
# the terminal's key is gone. wipe_power_off = no: the power-off step is
# skipped (it would run `systemctl poweroff`).
set -uo pipefail
source "$(dirname "$0")/e2e_lib.bash"
source "$(dirname "$0")/events_doc.bash"
e2e_begin pc-w
mkdir -p "$A/var/lib/secure" "$A/home/shokuin/data/sub" "$T/outside"
command_server "$D"

# the volume: a LUKS2 file with two passphrases
img=$A/var/lib/secure/home.img
truncate -s 20M "$img"
printf 'first-passphrase' | cryptsetup luksFormat --type luks2 -q --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
	--key-file - "$img" || bad "luksFormat"
printf 'second-passphrase' >"$T/k2"
printf 'first-passphrase' | cryptsetup luksAddKey -q --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
	--key-file - "$img" "$T/k2" || bad "luksAddKey"
slots() { cryptsetup luksDump "$img" | sed -n '/^Keyslots:/,/^Tokens:/p' | grep -cE '^ +[0-9]+: luks2'; }
opens() { printf '%s' "$1" | cryptsetup open --test-passphrase --key-file - "$img" 2>/dev/null; }
check "before: two keyslots" test "$(slots)" = 2
check "before: the first passphrase opens the volume" opens first-passphrase
# the data, and what must survive
echo "住民データ" >"$A/home/shokuin/data/jumin.csv"
echo x >"$A/home/shokuin/data/sub/y.txt"
echo keep >"$T/outside/keep.txt"
ln -s "$T/outside" "$A/home/shokuin/data/link-out"
ln -s "$T/outside/keep.txt" "$A/home/shokuin/data/link-file"

cat >"$A/etc/mamori/agent.conf" <<CONF
language = en
modules = timesync
check_interval = 3600
wipe_volumes = /var/lib/secure/home.img
wipe_paths = /home/shokuin/data
wipe_power_off = no
CONF
check "enroll pc-w" enroll "$A" pc-w soumu >/dev/null
SA=$(state_dir "$A")
"$SRC/$B/bin/mamorid" --root "$A" --foreground --log-level debug >>"$T/agent.log" 2>&1 &
APID=$!
for _ in $(seq 100); do [[ -s $SA/upload.state ]] && break; sleep 0.2; done

w=$(api POST /admin/v1/commands '{"terminal_id":"pc-w","type":"wipe"}')
wid=$(jq -r .id <<<"$w")
check "wipe requested: pending_approval (OPS-4)" test "$(jq -r .status <<<"$w")" = pending_approval
kill -HUP "$APID"; sleep 2
check "without a second approver nothing is delivered" test "$(cmd_status "$wid")" = pending_approval
check "... the volume is untouched" test "$(slots)" = 2
api POST "/admin/v1/commands/$wid/approve" >/dev/null
check "approver = requester: 403" test "$CODE" = 403
login shonin
api POST "/admin/v1/commands/$wid/approve" >/dev/null
check "another person approves: 200" test "$CODE" = 200
TOKEN=$CISO_TOKEN
kill -HUP "$APID"
st=
for _ in $(seq 150); do st=$(cmd_status "$wid"); [[ $st == executed || $st == failed ]] && break; sleep 0.2; done
check "the server shows the agent's final result: executed" test "$st" = executed
res=$(api GET "/admin/v1/commands/$wid" | jq -r .result)
check "... with what was done" matches "$res" '*1 volume(s) crypto-erased (2 keyslots destroyed), 1 data path(s) removed, 0 problem(s)*'
check "cryptsetup luksDump: no keyslot left" test "$(slots)" = 0
not_opens() { ! opens "$1"; }
check "cryptsetup open --test-passphrase: the first passphrase fails" not_opens first-passphrase
check "... and the second" not_opens second-passphrase
check "the data directory is removed" test ! -e "$A/home/shokuin/data"
check "the symlinks' target outside is untouched" test "$(cat "$T/outside/keep.txt")" = keep
check "the terminal's key is destroyed (last)" test ! -e "$SA/device.pem"
check "... and its enrollment" test ! -e "$SA/enroll.json"
ev=$(api GET "/admin/v1/events?terminal=pc-w&type=command.&limit=100")
check "the server holds command.executed, uploaded before the credentials went" \
	test "$(jq '[.events[] | select(.record.type=="command.executed")] | length' <<<"$ev")" = 1
check "... and the wipe steps" \
	test "$(jq '[.events[] | select(.record.type=="command.wipe_step")] | length' <<<"$ev")" = 2
agent_stop
ctl "$A" journal export --format jsonl >"$T/j.jsonl" 2>/dev/null
check "journal: the credentials step after the upload" \
	test "$(jq -r 'select(.type=="command.wipe_step" and .payload.step=="credentials") | .payload.removed' "$T/j.jsonl")" = 4
check "every recorded event matches docs/EVENTS.md" events_doc_check "$T/j.jsonl"
if grep -qi "AddressSanitizer\|runtime error" "$T/agent.log" "$SRV_LOG"; then bad "sanitizer report"; fi
finish
