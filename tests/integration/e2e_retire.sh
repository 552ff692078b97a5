#!/usr/bin/env bash
# tests/integration/e2e_retire.sh — the `retire` remote command end to end on
# 127.0.0.1 (MDM-3, OPS-4; docs/COMMANDS.md): a real mamori-server (SQLite,
# OpenSSL mTLS) and a running mamorid + mamori-worker. A retire needs a second
# person (the requester's own approval is refused); approved by another one
# it reaches the agent, which marks itself retired (mamorid then blocks every
# USB device: its log says so at once and again after a restart — the
# device-level proof under umockdev is tests/integration/gate.c), uploads
# its journal (command.executed is on the server), reports, and destroys its
# credentials. The server revokes the certificate — judged by the real TLS
# check-in: a copy of the old key and certificate, put back, is refused —
# and shows the terminal as retired, with the step in the audit trail.
set -uo pipefail
source "$(dirname "$0")/e2e_lib.bash"
source "$(dirname "$0")/events_doc.bash"
trap 'agent_stop; cleanup' EXIT
D=$T/srv
A=$T/pc-r
mkdir -p "$A/etc/mamori" "$T/stolen"
command_server "$D"
check "enroll pc-r" enroll "$A" pc-r soumu >/dev/null
SA=$(state_dir "$A")
cp -a "$SA/device.pem" "$SA/enroll.json" "$SA/server-ca.pem" "$SA/command-key.pub" "$T/stolen/"
printf 'language = en\nmodules = timesync\ncheck_interval = 3600\n' >"$A/etc/mamori/agent.conf"
agent_start "$A"
for _ in $(seq 100); do [[ -s $SA/upload.state ]] && break; sleep 0.2; done
check "before: the terminal is active" test "$(api GET /admin/v1/terminals/pc-r | jq -r .status)" = active

r=$(cmd_request pc-r retire)
rid=$(jq -r .id <<<"$r")
check "retire requested: pending_approval (OPS-4)" test "$(jq -r .status <<<"$r")" = pending_approval
api POST "/admin/v1/commands/$rid/approve" >/dev/null
check "approver = requester: 403" test "$CODE" = 403
kill -HUP "$APID"
sleep 2
check "without a second approver nothing is delivered" test "$(cmd_status "$rid")" = pending_approval
check "... the terminal keeps its key" test -s "$SA/device.pem"
login shonin
api POST "/admin/v1/commands/$rid/approve" >/dev/null
check "another person approves: 200" test "$CODE" = 200
TOKEN=$CISO_TOKEN
kill -HUP "$APID"
check "the server shows the agent's result: executed" cmd_wait "$rid" executed
check "... with what was done" matches "$(api GET "/admin/v1/commands/$rid" | jq -r .result)" '*USB gate blocks every device*'
check "the server marks the terminal retired" test "$(api GET /admin/v1/terminals/pc-r | jq -r .status)" = retired
check "... in the audit trail" \
	test "$(api GET "/admin/v1/audit?limit=200" | jq -r '[.audit[] | select(.action=="terminal.retire" and .result=="ok")] | length')" = 1
ev=$(api GET "/admin/v1/events?terminal=pc-r&type=command.&limit=100")
check "the journal reached the server before the credentials went: command.executed" \
	test "$(jq --arg id "$rid" '[.events[] | select(.record.type=="command.executed" and .record.payload.command_id==$id)] | length' <<<"$ev")" = 1
for _ in $(seq 50); do [[ ! -e $SA/device.pem ]] && break; sleep 0.2; done
check "the terminal's key is destroyed" test ! -e "$SA/device.pem"
check "... and its enrollment" test ! -e "$SA/enroll.json"
check "the terminal is marked retired (state_dir/retired)" test -s "$SA/retired"
check "mamorid blocks every USB device from then on" grep -q "retired terminal (MDM-3): every USB device stays blocked" "$T/agent.log"
agent_stop
: >"$T/agent.log.1"
mv "$T/agent.log" "$T/agent.log.1"
agent_start "$A"
for _ in $(seq 100); do grep -q "every USB device stays blocked" "$T/agent.log" 2>/dev/null && break; sleep 0.2; done
check "... also after a restart" grep -q "retired terminal (MDM-3): every USB device stays blocked" "$T/agent.log"
agent_stop
# the revocation, judged by the server's mTLS check-in with the old credentials put back
cp -a "$T/stolen/." "$SA/"
ctl "$A" --json server sync >"$T/sync.json" 2>"$T/sync.err"
rc=$?
check "a check-in with the retired terminal's old key is refused (certificate revoked): exit 1" test "$rc" = 1
rm -f "$SA/device.pem" "$SA/enroll.json"
ctl "$A" journal export --format jsonl >"$T/j.jsonl" 2>/dev/null
check "journal: command.retired with the credentials removed" \
	test "$(jq -r 'select(.type=="command.retired") | .payload.credentials_removed' "$T/j.jsonl")" = 4
check "every recorded event matches docs/EVENTS.md" events_doc_check "$T/j.jsonl"
if grep -qi "AddressSanitizer\|runtime error" "$T/agent.log" "$T/agent.log.1" "$SRV_LOG"; then bad "sanitizer report"; fi
finish
