#!/usr/bin/env bash
# tests/integration/e2e_isolate.sh — `isolate` / `release` with real nftables
# (MDM-2, AV-5, OPS-4; docs/COMMANDS.md), only in network namespaces this
# test creates: "srv" (mamori-server on 10.77.0.1), "term" (the terminal:
# mamorid + mamori-worker started with `ip netns exec`, so its nft runs in
# that namespace), "other" (another host with a TCP listener on 10.78.0.1),
# joined by two veth pairs. The host's own firewall is never touched.
# Before: both reachable from the terminal. Isolated: only the server (the
# terminal keeps checking in), and a table that was there before is
# untouched. The isolation survives an agent restart (the table, deleted by
# hand as a reboot would, comes back at start). A release needs two persons;
# after it both are reachable again and mamori's table is gone.
set -uo pipefail
source "$(dirname "$0")/e2e_lib.bash"
source "$(dirname "$0")/events_doc.bash"
ns_begin pc-n

for _ in $(seq 50); do reach 10.78.0.1 8080 && break; sleep 0.1; done
check "before: the terminal reaches the other host" reach 10.78.0.1 8080
check "before: the terminal reaches the server" reach 10.77.0.1 "$DPORT_N"

printf 'language = en\nmodules = timesync\ncheck_interval = 3600\nisolate_dhcp_dns = no\n' >"$A/etc/mamori/agent.conf"
check "enroll from the terminal's namespace" ns_enroll "$A" pc-n
SA=$(state_dir "$A")
# someone else's table, which isolation must leave alone
in_term nft -f - <<'NFT'
table inet city_fw {
	chain input { type filter hook input priority 0; policy accept; tcp dport 9999 counter accept; }
}
NFT
agent_start() { ns_agent_start "$A"; }
agent_start
for _ in $(seq 100); do [[ -s $SA/upload.state ]] && break; sleep 0.2; done

iid=$(api POST /admin/v1/commands '{"terminal_id":"pc-n","type":"isolate"}' | jq -r .id)
kill -HUP "$APID"
check "isolate: executed, reported through the isolation" cmd_wait "$iid" executed
check "isolated: the other host is unreachable" unreach 10.78.0.1 8080
check "isolated: the server is reachable" reach 10.77.0.1 "$DPORT_N"
check "mamori's own table is there" in_term nft list table inet mamori_isolate
check "mamorictl status --json: isolated" test "$(ctl "$A" --json status 2>/dev/null | jq -c '[.isolated, .lock]')" = '[true,null]'
check "mamorictl status: NETWORK ISOLATED" bash -c "'$CTL' --root '$A' --lang en status 2>&1 | grep -q '^remote: *NETWORK ISOLATED'"
check "the city's table is untouched" bash -c "ip netns exec '$TERM_NS' nft list table inet city_fw | grep -q 'tcp dport 9999'"
# a check-in still works: a sync command goes and comes back
sid=$(api POST /admin/v1/commands '{"terminal_id":"pc-n","type":"sync"}' | jq -r .id)
kill -HUP "$APID"
check "isolated terminal still checks in: sync executed" cmd_wait "$sid" executed

# restart; the table lost as at a reboot; the agent puts it back
agent_stop
in_term nft delete table inet mamori_isolate
check "(table deleted by hand: reachable)" reach 10.78.0.1 8080
agent_start
for _ in $(seq 100); do in_term nft list table inet mamori_isolate >/dev/null 2>&1 && break; sleep 0.2; done
check "after an agent restart: isolated again" unreach 10.78.0.1 8080
check "... the server still reachable" reach 10.77.0.1 "$DPORT_N"

# release: two persons
rid=$(api POST /admin/v1/commands '{"terminal_id":"pc-n","type":"release"}' | jq -r .id)
check "release waits for a second person" test "$(cmd_status "$rid")" = pending_approval
api POST "/admin/v1/commands/$rid/approve" >/dev/null
check "the requester cannot approve it" test "$CODE" = 403
login shonin
api POST "/admin/v1/commands/$rid/approve" >/dev/null
TOKEN=$CISO_TOKEN
kill -HUP "$APID"
check "release: executed" cmd_wait "$rid" executed
check "released: the other host is reachable again" reach 10.78.0.1 8080
check "released: the server too" reach 10.77.0.1 "$DPORT_N"
check "mamorictl status --json: no longer isolated" test "$(ctl "$A" --json status 2>/dev/null | jq -c .isolated)" = false
check "mamori's table is gone" bash -c "! ip netns exec '$TERM_NS' nft list table inet mamori_isolate >/dev/null 2>&1"
check "the city's table is still there" in_term nft list table inet city_fw
agent_stop
agent_start
sleep 3
check "after a restart it stays released" reach 10.78.0.1 8080
agent_stop
"$CTL" --root "$A" --lang en journal export --format jsonl >"$T/j.jsonl" 2>/dev/null
check "journal: the isolation re-applied at start" \
	test "$(jq -r 'select(.type=="command.isolation_reapplied") | .payload.result' "$T/j.jsonl" | head -n1)" = done
check "every recorded event matches docs/EVENTS.md" events_doc_check "$T/j.jsonl"
if grep -qi "AddressSanitizer\|runtime error" "$T/agent.log" "$SRV_LOG"; then bad "sanitizer report"; fi
finish
